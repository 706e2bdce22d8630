/* SPDX-License-Identifier: MIT */
/*
 * The real sbxd under test (see sbxd-fixture.h; its client is client-test.c). The daemon
 * is a child of the test process, so its exit status is ours to check; its task cgroups are
 * named sbxd-<pid>-<n>, which is how leftovers of exactly this daemon are found.
 */
#include "tests/integration/sbxd-fixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "common/macro.h"
#include "tests/integration/harness.h"

static long long now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	const struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	(void)nanosleep(&ts, NULL);
}

/* ---- a wrapper around the daemon (make valgrind) ---- */

/* SBX_SBXD_WRAPPER: words put before sbxd's command line (split at spaces, no quoting), e.g.
 * "valgrind --leak-check=full ...". Under valgrind every deadline of this file grows
 * sbx_fixture_slow() times, each daemon writes BASE/valgrind.PID.log, and a stop fails
 * unless that log reports no error, no definite or indirect leak and no fd left open. */
static const char *wrapper(void)
{
	const char *w = getenv("SBX_SBXD_WRAPPER");

	return w && *w ? w : NULL;
}

static bool under_valgrind(void)
{
	return wrapper() && strstr(wrapper(), "valgrind");
}

int sbx_fixture_slow(void)
{
	return under_valgrind() ? 8 : 1;
}

/* argv for execv: the wrapper's words, valgrind's --log-file, then sbxd's own. Returns the
 * number of words, or -ENOMEM/-E2BIG. */
static int build_argv(const struct sbx_fixture *f, char *words, char *logopt, size_t loglen,
		      char **argv, size_t max)
{
	size_t n = 0;

	if (wrapper()) {
		(void)snprintf(words, 4096, "%s", wrapper());
		for (char *save = NULL, *w = strtok_r(words, " ", &save); w;
		     w = strtok_r(NULL, " ", &save)) {
			if (n + 8 > max)
				return -E2BIG;
			argv[n++] = w;
			if (strcmp(w, "valgrind") == 0 || sbx_test_contains(w, "/valgrind")) {
				(void)snprintf(logopt, loglen, "--log-file=%s/valgrind.%%p.log",
					       f->base);
				argv[n++] = logopt;
			}
		}
	}
	return (int)n;
}

/* Whether the valgrind log of pid is clean; says what is not on stderr. */
static int check_valgrind_log(const struct sbx_fixture *f, pid_t pid)
{
	char path[4096], *log;
	size_t len;
	int r = 0;
	FILE *fp;

	(void)snprintf(path, sizeof(path), "%s/valgrind.%d.log", f->base, (int)pid);
	fp = fopen(path, "re");
	if (!fp) {
		(void)fprintf(stderr, "no valgrind log %s\n", path);
		return -ENOENT;
	}
	log = calloc(1, 1 << 22);
	len = log ? fread(log, 1, (1 << 22) - 1, fp) : 0;
	(void)fclose(fp);
	if (!log)
		return -ENOMEM;
	log[len] = '\0';
	if (!strstr(log, "ERROR SUMMARY: 0 errors"))
		r = -EPROTO;
	/* Leaks of kinds shown count as errors (--errors-for-leak-kinds), but say so plainly. */
	if (strstr(log, "definitely lost: ") && !strstr(log, "definitely lost: 0 bytes"))
		r = -EPROTO;
	if (strstr(log, "indirectly lost: ") && !strstr(log, "indirectly lost: 0 bytes"))
		r = -EPROTO;
	/* --track-fds: at exit sbxd holds only what it inherited. valgrind writes each fd as
	 * "Open file descriptor N: what" and on the next line where it came from. */
	for (const char *p = log; (p = strstr(p, "Open file descriptor ")); p++) {
		const char *next = strchr(p, '\n'), *end;
		if (!next)
			break;
		end = strchr(next + 1, '\n');
		if (!end || !memmem(next, (size_t)(end - next), "<inherited from parent>", 23))
			r = -EPROTO;
	}
	if (r < 0)
		(void)fprintf(stderr, "---- valgrind found problems in sbxd %d (%s) ----\n%s----\n",
			      (int)pid, path, log);
	free(log);
	return r;
}

/* ---- the daemon ---- */

static int write_config(struct sbx_fixture *f, const struct sbx_fixture_opts *o)
{
	char *text = NULL;
	int r;

	if (asprintf(
		&text,
		"{\n"
		"  \"socket\": {\"path\": \"%s\", \"mode\": \"0660\"},\n"
		"  \"keyring\": \"%s\",\n"
		"  \"policy_dir\": \"%s\",\n"
		"  \"audit\": {\"path\": \"%s/audit.jsonl\", \"state_dir\": \"%s\"}%s%s%s%s%s%s\n"
		"}\n",
		f->sock, f->keyring, f->policies, f->dir, f->dir,
		o->limits ? ",\n  \"limits\": " : "", o->limits ? o->limits : "",
		o->clients ? ",\n  \"clients\": " : "", o->clients ? o->clients : "",
		o->extra ? ",\n  " : "", o->extra ? o->extra : "") < 0)
		return -ENOMEM;
	r = sbx_test_write_file(f->config, text);
	free(text);
	return r;
}

/* Config mode: a keyring made by sbxctl, an empty policy directory (sbxd adds the shipped
 * default) and the file itself. */
static int prepare_config(struct sbx_fixture *f, const struct sbx_fixture_opts *o)
{
	struct sbx_test_run run;
	char sbxctl[4096];
	int r;

	if (mkdir(f->dir, 0700) < 0 || mkdir(f->policies, 0700) < 0)
		return -errno;
	sbx_test_build_path_r("sbxctl", sbxctl, sizeof(sbxctl));
	r = sbx_test_runv(&run, 20000, sbxctl, "keys", "init", "--keyring", f->keyring, NULL);
	if (r < 0 || run.code != 0) {
		sbx_test_run_dump("sbxctl keys init", &run);
		sbx_test_run_done(&run);
		return r < 0 ? r : -EIO;
	}
	sbx_test_run_done(&run);
	/* The audit log must exist before sbxd runs outside --dev; the first key goes to a
	 * file here (a test has no off-host place to keep it). */
	r = sbx_test_runv(&run, 20000, sbxctl, "audit", "init", "--dir", f->dir, "--key-out",
			  f->audit_key, NULL);
	if (r < 0 || run.code != 0) {
		sbx_test_run_dump("sbxctl audit init", &run);
		sbx_test_run_done(&run);
		return r < 0 ? r : -EIO;
	}
	sbx_test_run_done(&run);
	return write_config(f, o);
}

static int try_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, r = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = -errno;
	(void)close(fd);
	return r;
}

int sbx_fixture_wait_accepting(const char *sock, pid_t pid, int timeout_ms, int *ret_status)
{
	long long deadline = now_ms() + (long long)timeout_ms * sbx_fixture_slow();

	for (;;) {
		int st = 0;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			if (ret_status)
				*ret_status = st;
			return -ECHILD;
		}
		if (try_connect(sock) == 0)
			return 0;
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		sleep_ms(10);
	}
}

static void dump_log(const struct sbx_fixture *f)
{
	size_t n;
	char *log = sbx_fixture_read_log(f, &n);

	(void)fprintf(stderr, "---- sbxd log (%s) ----\n%s---- end of log ----\n", f->log,
		      log ? log : "(unreadable)\n");
	free(log);
}

/* Moves the calling process into the cgroup directory dir. */
static int join_cgroup(const char *dir)
{
	char path[4096];
	int fd, r = 0;

	(void)snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1)
		r = -errno;
	if (fd >= 0)
		(void)close(fd);
	return r;
}

int sbx_fixture_start(struct sbx_fixture *f, const struct sbx_fixture_opts *opts)
{
	static const struct sbx_fixture_opts dev = {0};
	const struct sbx_fixture_opts *o = opts ? opts : &dev;
	const bool config = o->config || o->limits || o->clients || o->extra;
	char sbxd[4096], words[4096], logopt[4200];
	char *argv[64];
	int logfd, r, n, st = 0;

	memset(f, 0, sizeof(*f));
	f->base = sbx_test_mkdtemp("sbxd");
	if (!f->base)
		return -errno;
	(void)snprintf(f->log, sizeof(f->log), "%s/sbxd.log", f->base);
	if (asprintf(&f->dir, "%s/d", f->base) < 0)
		return -ENOMEM;
	(void)snprintf(f->sock, sizeof(f->sock), "%s/sbxd.sock", f->dir);
	(void)snprintf(f->keyring, sizeof(f->keyring), "%s/keyring", f->dir);
	(void)snprintf(f->policies, sizeof(f->policies), "%s/policies", f->dir);
	(void)snprintf(f->audit_key, sizeof(f->audit_key), "%s/audit.key", f->base);
	if (config) {
		(void)snprintf(f->config, sizeof(f->config), "%s/sbxd.json", f->base);
		r = prepare_config(f, o);
		if (r < 0)
			return r;
	}
	sbx_test_build_path_r("sbxd", sbxd, sizeof(sbxd));
	n = build_argv(f, words, logopt, sizeof(logopt), argv, ARRAY_SIZE(argv));
	if (n < 0)
		return n;
	argv[n++] = sbxd;
	argv[n++] = config ? "--config" : "--dev";
	argv[n++] = config ? f->config : f->dir;
	argv[n] = NULL;
	logfd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (logfd < 0)
		return -errno;
	f->pid = fork();
	if (f->pid < 0) {
		r = -errno;
		(void)close(logfd);
		f->pid = 0;
		return r;
	}
	if (f->pid == 0) {
		int null = open("/dev/null", O_RDWR);
		(void)dup2(null, 0);
		(void)dup2(null, 1);
		(void)dup2(logfd, 2);
		if (o->sudo_uid)
			(void)setenv("SUDO_UID", o->sudo_uid, 1);
		else
			(void)unsetenv("SUDO_UID");
		(void)unsetenv("NOTIFY_SOCKET");
		(void)unsetenv("LISTEN_FDS");
		if (o->cgroup && join_cgroup(o->cgroup) < 0)
			_exit(126);
		if (o->nofile) {
			struct rlimit rl;
			if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
				_exit(126);
			rl.rlim_cur = o->nofile;
			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				_exit(126);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	(void)close(logfd);
	r = sbx_fixture_wait_accepting(f->sock, f->pid, 10000, &st);
	if (r == -ECHILD) {
		(void)fprintf(stderr, "sbxd exited at start (status 0x%x)\n", st);
		f->pid = 0;
		dump_log(f);
	} else if (r < 0) {
		(void)fprintf(stderr, "sbxd did not accept on %s within %d s\n", f->sock,
			      10 * sbx_fixture_slow());
		dump_log(f);
		(void)kill(f->pid, SIGKILL);
		(void)waitpid(f->pid, NULL, 0);
		f->pid = 0;
	}
	return r;
}

int sbx_fixture_signal(struct sbx_fixture *f, int sig)
{
	if (f->pid <= 0)
		return -ESRCH;
	return kill(f->pid, sig) < 0 ? -errno : 0;
}

/* Does any line of /proc/P/cgroup name a group sbxd-<pid>-*? */
static bool in_task_cgroup(const char *procpid, const char *prefix)
{
	char path[64], buf[8192];
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "/proc/%s/cgroup", procpid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, prefix) != NULL;
}

static int count_stray(const char *prefix, bool report)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' &&
		    in_task_cgroup(de->d_name, prefix)) {
			if (report)
				(void)fprintf(stderr, "stray process %s in a cgroup '%s*'\n",
					      de->d_name, prefix);
			n++;
		}
	(void)closedir(d);
	return n;
}

/* Leftover directories named prefix* below dir, depth-limited. */
static int count_cgroup_dirs(const char *dir, const char *prefix, int depth, bool report)
{
	DIR *d;
	struct dirent *de;
	int n = 0;

	if (depth < 0 || !(d = opendir(dir)))
		return 0;
	while ((de = readdir(d))) {
		char sub[4096];
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		(void)snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			if (report)
				(void)fprintf(stderr, "leftover cgroup %s\n", sub);
			n++;
			continue;
		}
		n += count_cgroup_dirs(sub, prefix, depth - 1, report);
	}
	(void)closedir(d);
	return n;
}

int sbx_fixture_check_clean(pid_t pid)
{
	char prefix[64];
	long long deadline = now_ms() + 3000;
	int stray, dirs;

	(void)snprintf(prefix, sizeof(prefix), "sbxd-%d-", (int)pid);
	/* Exiting processes and their groups take a moment to go; poll briefly. */
	for (;;) {
		bool last = now_ms() > deadline;
		stray = count_stray(prefix, last);
		/* /sys/fs/cgroup/<controller>[/<own path>...]/sbx/sbxd-PID-N */
		dirs = count_cgroup_dirs("/sys/fs/cgroup", prefix, 5, last);
		if ((stray == 0 && dirs == 0) || last)
			break;
		sleep_ms(50);
	}
	if (stray > 0)
		return -EBUSY;
	return dirs > 0 ? -ENOTEMPTY : 0;
}

int sbx_fixture_stop(struct sbx_fixture *f, int deadline_ms)
{
	if (f->pid <= 0)
		return -ESRCH;
	if (kill(f->pid, SIGTERM) < 0)
		return -errno;
	return sbx_fixture_wait_exit(f, deadline_ms);
}

int sbx_fixture_wait_exit(struct sbx_fixture *f, int deadline_ms)
{
	long long deadline = now_ms() + (long long)deadline_ms * sbx_fixture_slow();
	pid_t pid = f->pid;
	int st = 0, r;

	if (pid <= 0)
		return -ESRCH;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (w < 0)
			return -errno;
		if (now_ms() > deadline) {
			(void)fprintf(stderr, "sbxd %d did not exit within %d ms\n", (int)pid,
				      deadline_ms * sbx_fixture_slow());
			dump_log(f);
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, &st, 0);
			f->pid = 0;
			f->status = st;
			return -ETIMEDOUT;
		}
		sleep_ms(10);
	}
	f->pid = 0;
	f->status = st;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		(void)fprintf(stderr, "sbxd %d ended with status 0x%x (exit %d, signal %d)\n",
			      (int)pid, st, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
			      WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		dump_log(f);
		r = sbx_fixture_check_clean(pid);
		if (under_valgrind())
			(void)check_valgrind_log(f, pid);
		return -ECHILD;
	}
	r = sbx_fixture_check_clean(pid);
	if (r < 0)
		dump_log(f);
	if (r == 0 && under_valgrind())
		r = check_valgrind_log(f, pid);
	return r;
}

void sbx_fixture_cleanup(struct sbx_fixture *f)
{
	if (f->pid > 0) {
		(void)kill(f->pid, SIGKILL);
		(void)waitpid(f->pid, NULL, 0);
		f->pid = 0;
	}
	if (f->base) {
		(void)sbx_test_rm_rf(f->base);
		free(f->base);
		f->base = NULL;
	}
	free(f->dir);
	f->dir = NULL;
}

char *sbx_fixture_read_log(const struct sbx_fixture *f, size_t *ret_len)
{
	FILE *fp = fopen(f->log, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!fp)
		return NULL;
	do {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536 + 1);
			if (!nb) {
				free(buf);
				(void)fclose(fp);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
	} while (n > 0);
	(void)fclose(fp);
	if (!buf)
		buf = calloc(1, 1);
	else
		buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return buf;
}

bool sbx_fixture_wait_log(const struct sbx_fixture *f, const char *needle, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		char *log = sbx_fixture_read_log(f, NULL);
		bool found = log && strstr(log, needle);
		free(log);
		if (found)
			return true;
		if (now_ms() > deadline)
			return false;
		sleep_ms(20);
	}
}

long sbx_fixture_rss_kb(const struct sbx_fixture *f)
{
	char path[64], buf[4096];
	const char *p;
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)f->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	p = strstr(buf, "VmRSS:");
	return p ? strtol(p + 6, NULL, 10) : -ENOENT;
}

static bool cmdline_has(const char *procpid, const char *arg)
{
	char path[64], buf[8192];
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "/proc/%s/cmdline", procpid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (char *p = buf; p < buf + n; p += strlen(p) + 1)
		if (strcmp(p, arg) == 0)
			return true;
	return false;
}

pid_t sbx_fixture_find_process(const char *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	if (!d)
		return 0;
	while (!found && (de = readdir(d)))
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && cmdline_has(de->d_name, arg))
			found = (pid_t)atoi(de->d_name);
	(void)closedir(d);
	return found;
}

bool sbx_fixture_wait_gone(const char *arg, int timeout_ms)
{
	long long deadline = now_ms() + (long long)timeout_ms * sbx_fixture_slow();

	while (sbx_fixture_find_process(arg) != 0) {
		if (now_ms() > deadline)
			return false;
		sleep_ms(20);
	}
	return true;
}
