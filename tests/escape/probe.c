/* SPDX-License-Identifier: MIT */
/*
 * probe: the attacker the escape tests run inside a sandbox. One subcommand per attack, each a
 * real attempt that detects real success, judged by exit code (nsjail's idiom): 0 the attack
 * was blocked, 1 it ESCAPED, 77 not applicable here, 2 the probe itself failed.
 *
 *   probe [--inside] list | facts | all | ATTACK [ARGS...]
 *
 * `all` runs every attack in its own child and prints BLOCKED/ESCAPED/SKIP/ERROR lines; it
 * exits 1 when anything escaped. Every attack is bounded by alarm(); no attack may hang.
 *
 * Safety: run unsandboxed (as root, to prove each detector detects), the probe must not harm
 * the host. Privileged calls are made with arguments the kernel rejects right after its
 * capability check (reboot with a bad magic, kexec with too many segments, swapon of a missing
 * file, umount2(MNT_EXPIRE) of "/"), so a success or any errno other than EPERM proves the
 * check was passed without changing anything. What cannot be made harmless (fork bomb, memory
 * hog, disk filler, kill(-1, SIGKILL), real signals and PTRACE_ATTACH to pid 1, unmounting
 * /proc) runs only with --inside or SBX_PROBE_INSIDE=1. Files it creates carry its pid in their
 * name and are removed again.
 *
 * Static and self-contained on purpose: nothing to resolve inside a minimal root. This file holds
 * the verdict helpers, the small utilities, the table and main; each family of attacks lives in
 * its own probe-<family>.c and exports its table (probe.h). The Makefile links every
 * tests/escape/probe*.c into one static binary.
 */
#include "probe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

struct probe_shared *probe_sh;
bool probe_arg_inside;
int probe_start_fds[256];
size_t probe_n_start_fds;
char probe_dir[PATH_MAX] = "/probe";

/* ---- verdict helpers ---------------------------------------------------------------- */

static void vnote(const char *fmt, va_list ap)
{
	size_t len = strlen(probe_sh->detail);

	if (len + 8 >= sizeof(probe_sh->detail))
		return;
	if (len)
		len +=
		    (size_t)snprintf(probe_sh->detail + len, sizeof(probe_sh->detail) - len, "; ");
	(void)vsnprintf(probe_sh->detail + len, sizeof(probe_sh->detail) - len, fmt, ap);
}

__attribute__((format(printf, 1, 2))) void probe_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
}

/* Records that the attack worked; the attack goes on to find further holes. */
__attribute__((format(printf, 1, 2))) void probe_esc(const char *fmt, ...)
{
	va_list ap;

	probe_sh->escaped = 1;
	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 1, 2))) int probe_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
	return R_SKIP;
}

__attribute__((format(printf, 1, 2))) int probe_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
	return R_ERROR;
}

int probe_verdict(void)
{
	return probe_sh->escaped ? R_ESCAPED : R_BLOCKED;
}

/* The call must not succeed. */
bool probe_must_fail(long r, const char *what)
{
	if (r >= 0) {
		probe_esc("%s succeeded", what);
		return false;
	}
	return true;
}

/* The call must be refused by a permission check (or the seccomp filter): any other errno
 * means the kernel got past its capability check and only then tripped on our harmless
 * arguments. */
bool probe_must_be_denied_e(long r, int e, const char *what)
{
	if (r >= 0) {
		probe_esc("%s succeeded", what);
		return false;
	}
	if (e != EPERM && e != EACCES && e != ENOSYS) {
		probe_esc("%s passed the permission check (%s)", what, strerrorname_np(e) ?: "?");
		return false;
	}
	return true;
}

/* Same, reading errno of the call just made (arguments are evaluated before the call, so the
 * errno read here is the attacked syscall's). */
bool probe_must_be_denied(long r, const char *what)
{
	return probe_must_be_denied_e(r, errno, what);
}

const char *probe_ename(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

/* ---- small utilities ---------------------------------------------------------------- */

ssize_t probe_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off + 1 < len) {
		ssize_t n = read(fd, buf + off, len - off - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			(void)close(fd);
			return -e;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	(void)close(fd);
	return (ssize_t)off;
}

/* Value of "Name:" in /proc/<pid>/status, trimmed, or "" when absent. */
void probe_status_field(const char *pid, const char *name, char *out, size_t len)
{
	char path[64], buf[8192];
	size_t nl = strlen(name);

	out[0] = '\0';
	(void)snprintf(path, sizeof(path), "/proc/%s/status", pid);
	if (probe_read_file(path, buf, sizeof(buf)) < 0)
		return;
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		if (strncmp(l, name, nl) == 0 && l[nl] == ':') {
			char *v = l + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			(void)snprintf(out, len, "%s", v);
			return;
		}
	}
}

bool probe_is_pid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Runs fn in a child under its own alarm; returns the wait status, or -1. */
int probe_in_child(int (*fn)(void *), void *arg, unsigned timeout_s)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		(void)alarm(timeout_s);
		_exit(fn(arg));
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

/* A child that only waits to be killed: a target for ptrace and friends. */
pid_t probe_spawn_sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		(void)alarm(ATTACK_TIMEOUT);
		for (;;)
			(void)pause();
	}
	return pid;
}

void probe_kill_wait(pid_t pid)
{
	if (pid <= 0)
		return;
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
}

const char *probe_tmp_dir(void)
{
	static const char *cands[] = {"/tmp", "/var/tmp", "/dev/shm", "."};

	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
		if (access(cands[i], W_OK) == 0)
			return cands[i];
	return NULL;
}

/* Count and names of the processes this /proc shows. */
int probe_scan_pids(char *names, size_t len, int *ret_count)
{
	DIR *d = opendir("/proc");
	int count = 0;

	if (!d)
		return -errno;
	if (names && len)
		names[0] = '\0';
	for (struct dirent *de; (de = readdir(d));) {
		if (!probe_is_pid_name(de->d_name))
			continue;
		count++;
		if (names) {
			char path[300], comm[64];
			(void)snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
			if (probe_read_file(path, comm, sizeof(comm)) <= 0)
				continue;
			comm[strcspn(comm, "\n")] = '\0';
			size_t l = strlen(names);
			if (l + strlen(comm) + 16 < len)
				(void)snprintf(names + l, len - l, "%s%s=%s", l ? "," : "",
					       de->d_name, comm);
		}
	}
	(void)closedir(d);
	*ret_count = count;
	return 0;
}

unsigned long long probe_hexval(const char *s)
{
	return strtoull(s, NULL, 16);
}

const char *probe_arg_or_env(int argc, char **argv, int i, const char *env)
{
	if (argc > i)
		return argv[i];
	return getenv(env);
}

int probe_open_read(const char *path, int flags, bool need_data)
{
	int fd = open(path, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (need_data) {
		char b[64];
		ssize_t n = read(fd, b, sizeof(b));
		int e = errno;
		(void)close(fd);
		return n > 0 ? 1 : (n == 0 ? 0 : -e);
	}
	(void)close(fd);
	return 1;
}

/* What was open when the probe started: anything above 2 was inherited. */
static void record_start_fds(void)
{
	DIR *d = opendir("/proc/self/fd");

	if (!d)
		return;
	int self = dirfd(d);
	for (struct dirent *de; (de = readdir(d));) {
		if (!probe_is_pid_name(de->d_name))
			continue;
		int fd = atoi(de->d_name);
		if (fd != self &&
		    probe_n_start_fds < sizeof(probe_start_fds) / sizeof(probe_start_fds[0]))
			probe_start_fds[probe_n_start_fds++] = fd;
	}
	(void)closedir(d);
}

/* ---- the table ---------------------------------------------------------------------- */

/* The families in the order `list` shows them and `all` runs them; kill-all (F_SELF) and
 * linger (F_NOALL) come after every family. */
static const struct probe_table *const tables[] = {
    &probe_pid_table,	   &probe_net_table,	 &probe_creds_table, &probe_mounts_table,
    &probe_proc_table,	   &probe_kernel_table,	 &probe_dev_table,   &probe_fs_table,
    &probe_pid_last_table, &probe_fs_last_table,
};

#define MAX_ATTACKS 256

static struct attack attacks[MAX_ATTACKS];
static size_t n_attacks;

/* Concatenates the family tables into attacks[]; false when they outgrow it. */
static bool collect_attacks(void)
{
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (size_t i = 0; i < tables[t]->n; i++) {
			if (n_attacks == MAX_ATTACKS)
				return false;
			attacks[n_attacks++] = tables[t]->attacks[i];
		}
	return true;
}

static const struct attack *find_attack(const char *name)
{
	for (size_t i = 0; i < n_attacks; i++)
		if (strcmp(attacks[i].name, name) == 0)
			return &attacks[i];
	return NULL;
}

static const char *label(int r)
{
	switch (r) {
	case R_BLOCKED:
		return "BLOCKED";
	case R_ESCAPED:
		return "ESCAPED";
	case R_SKIP:
		return "SKIP";
	default:
		return "ERROR";
	}
}

/* Runs one attack in a child (or here, for F_SELF) and prints its line. */
static int run_attack(const struct attack *a, int argc, char **argv)
{
	int r;

	probe_sh->escaped = 0;
	probe_sh->detail[0] = '\0';
	if ((a->flags & F_DANGER) && !probe_arg_inside) {
		r = probe_fail(
		    "refusing to run '%s' outside a sandbox: pass --inside or SBX_PROBE_INSIDE=1",
		    a->name);
	} else if (a->flags & F_SELF) {
		(void)alarm(ATTACK_TIMEOUT);
		r = a->fn(argc, argv);
		(void)alarm(0);
	} else {
		(void)fflush(stdout);
		pid_t pid = fork();
		if (pid < 0)
			return probe_fail("fork: %s", probe_ename(errno));
		if (pid == 0) {
			(void)alarm(a->flags & F_LONG ? LONG_TIMEOUT : ATTACK_TIMEOUT);
			_exit(a->fn(argc, argv));
		}
		int st;
		while (waitpid(pid, &st, 0) < 0)
			if (errno != EINTR)
				return probe_fail("waitpid: %s", probe_ename(errno));
		if (WIFEXITED(st)) {
			r = WEXITSTATUS(st);
			if (r != R_BLOCKED && r != R_ESCAPED && r != R_SKIP)
				r = R_ERROR;
		} else if (WTERMSIG(st) == SIGALRM) {
			r = probe_fail("timed out");
		} else if (WTERMSIG(st) == SIGSYS) {
			/* The filter killed the attacker: as blocked as it gets. */
			probe_note("killed by SIGSYS");
			r = probe_sh->escaped ? R_ESCAPED : R_BLOCKED;
		} else if (WTERMSIG(st) == SIGKILL && (a->flags & F_LONG)) {
			probe_note("killed by SIGKILL (a limit)");
			r = probe_sh->escaped ? R_ESCAPED : R_BLOCKED;
		} else {
			r = probe_fail("attack died by %s", sigabbrev_np(WTERMSIG(st)) ?: "?");
		}
	}
	if (r == R_BLOCKED && probe_sh->escaped)
		r = R_ESCAPED;
	if (probe_sh->detail[0])
		(void)printf("%s %s: %s\n", label(r), a->name, probe_sh->detail);
	else
		(void)printf("%s %s\n", label(r), a->name);
	(void)fflush(stdout);
	return r;
}

static int run_all(void)
{
	int escaped = 0, errors = 0;
	char *none[] = {NULL, NULL};

	/* Attacks run last-in-their-process (kill-all) go after every child is reaped. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n_attacks; i++) {
			const struct attack *a = &attacks[i];
			if ((a->flags & F_NOALL) || !!(a->flags & F_SELF) != (pass == 1))
				continue;
			if ((a->flags & F_DANGER) && !probe_arg_inside) {
				(void)printf("SKIP %s: dangerous, only with --inside\n", a->name);
				continue;
			}
			none[0] = (char *)a->name;
			int r = run_attack(a, 1, none);
			escaped += r == R_ESCAPED;
			errors += r == R_ERROR;
		}
	(void)printf("%d escaped, %d errors, %zu attacks\n", escaped, errors, n_attacks);
	return escaped ? R_ESCAPED : errors ? R_ERROR : R_BLOCKED;
}

static void usage(FILE *f)
{
	(void)fprintf(
	    f, "usage: probe [--inside] list | facts | all | ATTACK [ARGS...]\n"
	       "exit: 0 blocked, 1 ESCAPED, 77 not applicable, 2 probe error\n"
	       "--inside (or SBX_PROBE_INSIDE=1) allows the attacks that would harm a host\n");
}

int main(int argc, char **argv)
{
	record_start_fds();
	(void)setvbuf(stdout, NULL, _IOLBF, 0);
	if (!collect_attacks()) {
		(void)fprintf(stderr, "probe: more than %d attacks\n", MAX_ATTACKS);
		return R_ERROR;
	}

	probe_sh = mmap(NULL, sizeof(*probe_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			-1, 0);
	if (probe_sh == MAP_FAILED) {
		perror("probe: mmap");
		return R_ERROR;
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash && slash != self) {
			*slash = '\0';
			(void)snprintf(probe_dir, sizeof(probe_dir), "%s", self);
		}
	}
	const char *env = getenv("SBX_PROBE_INSIDE");
	probe_arg_inside = env && strcmp(env, "1") == 0;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--inside"))
			probe_arg_inside = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return R_ERROR;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return R_ERROR;
	}
	const char *cmd = argv[i];
	if (!strcmp(cmd, "list")) {
		for (size_t k = 0; k < n_attacks; k++)
			(void)printf("%-18s %s%s\n", attacks[k].name, attacks[k].help,
				     attacks[k].flags & F_DANGER ? " [--inside only]" : "");
		return 0;
	}
	if (!strcmp(cmd, "facts"))
		return probe_facts();
	if (!strcmp(cmd, "all"))
		return run_all();
	const struct attack *a = find_attack(cmd);
	if (!a) {
		(void)fprintf(stderr, "probe: unknown attack '%s' (probe list)\n", cmd);
		return R_ERROR;
	}
	return run_attack(a, argc - i, argv + i);
}
