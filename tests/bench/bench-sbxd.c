/* SPDX-License-Identifier: MIT */
/*
 * sbxd through its socket against bwrap, in the same run (issue 4, "Benchmark"):
 *   - /bin/true through sbxd with 1, 8 and 32 concurrent clients (one connection each, one
 *     request in flight per connection): p50 and p99 from sending `run` to reading `exit`,
 *     and tasks per second;
 *   - sbxd's RSS idle and with 100 running tasks (sleep payloads);
 *   - bwrap with sbx's isolation and seccomp filters (as tests/bench/bench.sh builds it),
 *     sequential and 8 wide, from fork to reaped exit;
 * and the ratios against the goals: p50 <= 0.8x a bwrap spawn, throughput at 8
 * clients >= 1.5x bwrap 8 wide, RSS <= 16 MiB with 100 tasks. Prints what it measures, met or
 * not; exits non-zero only when it cannot measure.
 *
 *   bench-sbxd            (as root; BENCH_N runs per configuration, default 300)
 *
 * It starts its own build/sbxd (next to build/bench/) with --config in a temporary directory:
 * max_tasks is raised to 128 so that 100 tasks run at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#define MAX_CLIENTS 32

static char build_dir[PATH_MAX], tmp[256], sock_path[108];
static pid_t sbxd_pid;
static int n_runs = 300;

static double now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
	(void)fprintf(stderr, "bench-sbxd: %s: %s\n", what, strerror(errno));
	if (sbxd_pid > 0)
		(void)kill(sbxd_pid, SIGKILL);
	exit(1);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);

	return v[i < n ? i : n - 1];
}

/* ---- the daemon ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		die(path);
}

static int connect_sock(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, sock_path, sizeof(sock_path));
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		(void)close(fd);
		return r;
	}
	return fd;
}

static int run_quiet(char *const argv[])
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		(void)dup2(null, 1);
		(void)dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void start_sbxd(void)
{
	char sbxd[PATH_MAX + 8], sbxctl[PATH_MAX + 8], keyring[PATH_MAX + 16], cfg[PATH_MAX + 16],
	    pol[PATH_MAX + 16], text[16384], log[PATH_MAX + 16];
	char audit_key[PATH_MAX + 16];
	char *keys_argv[] = {sbxctl, "keys", "init", "--keyring", keyring, NULL};
	char *audit_argv[] = {sbxctl, "audit", "init", "--dir", tmp, "--key-out", audit_key, NULL};
	double deadline;
	int fd;

	(void)snprintf(sbxd, sizeof(sbxd), "%s/sbxd", build_dir);
	(void)snprintf(sbxctl, sizeof(sbxctl), "%s/sbxctl", build_dir);
	(void)snprintf(keyring, sizeof(keyring), "%s/keyring", tmp);
	(void)snprintf(pol, sizeof(pol), "%s/policies", tmp);
	(void)snprintf(cfg, sizeof(cfg), "%s/sbxd.json", tmp);
	(void)snprintf(log, sizeof(log), "%s/sbxd.log", tmp);
	(void)snprintf(audit_key, sizeof(audit_key), "%s/audit.key", tmp);
	if ((size_t)snprintf(sock_path, sizeof(sock_path), "%.90s/sbxd.sock", tmp) >=
	    sizeof(sock_path))
		die("socket path");
	if (mkdir(pol, 0700) < 0)
		die(pol);
	if (run_quiet(keys_argv) != 0)
		die("sbxctl keys init");
	if (run_quiet(audit_argv) != 0)
		die("sbxctl audit init");
	(void)snprintf(text, sizeof(text),
		       "{\"socket\": {\"path\": \"%s\", \"mode\": \"0600\"}, \"keyring\": \"%s\",\n"
		       " \"policy_dir\": \"%s\", \"audit\": {\"path\": \"%s/audit.jsonl\", "
		       "\"state_dir\": \"%s\"},\n"
		       " \"limits\": {\"max_tasks\": 128, \"max_queued\": 256}}\n",
		       sock_path, keyring, pol, tmp, tmp);
	write_file(cfg, text);
	sbxd_pid = fork();
	if (sbxd_pid < 0)
		die("fork");
	if (sbxd_pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		(void)dup2(fd, 2);
		execl(sbxd, sbxd, "--config", cfg, (char *)NULL);
		_exit(127);
	}
	deadline = now_ms() + 10000;
	while ((fd = connect_sock()) < 0) {
		if (now_ms() > deadline || waitpid(sbxd_pid, NULL, WNOHANG) == sbxd_pid) {
			(void)fprintf(stderr, "bench-sbxd: sbxd did not start; see %s\n", log);
			errno = ETIMEDOUT;
			die("sbxd");
		}
		(void)usleep(10000);
	}
	(void)close(fd);
}

static long rss_kb(void)
{
	char path[64], buf[4096];
	const char *p;
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)sbxd_pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "VmRSS:");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

/* ---- a minimal client: one request in flight, lines scanned as text ---- */

struct conn {
	int fd;
	char buf[65536];
	size_t len;
};

/* The next line (NUL-terminated in c->buf, consumed by the next call). */
static char *next_line(struct conn *c, size_t *consumed)
{
	char *nl;

	if (*consumed) {
		memmove(c->buf, c->buf + *consumed, c->len - *consumed);
		c->len -= *consumed;
		*consumed = 0;
	}
	while (!(nl = memchr(c->buf, '\n', c->len))) {
		ssize_t n;
		if (c->len == sizeof(c->buf) - 1)
			return NULL;
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (n <= 0)
			return NULL;
		c->len += (size_t)n;
	}
	*nl = '\0';
	*consumed = (size_t)(nl - c->buf) + 1;
	return c->buf;
}

static int send_line(struct conn *c, const char *line)
{
	size_t len = strlen(line);

	return write(c->fd, line, len) == (ssize_t)len ? 0 : -EIO;
}

/* Runs /bin/true once; returns the latency in ms, or < 0. */
static double run_true(struct conn *c, int seq)
{
	char req[256];
	size_t used = 0;
	double t0 = now_ms();
	char *line;

	(void)snprintf(
	    req, sizeof(req),
	    "{\"id\":\"%d\",\"op\":\"run\",\"policy\":\"default\",\"argv\":[\"/bin/true\"]}\n",
	    seq);
	if (send_line(c, req) < 0)
		return -1;
	while ((line = next_line(c, &used))) {
		if (strstr(line, "\"ok\":false"))
			return (void)fprintf(stderr, "bench-sbxd: %s\n", line), -1;
		if (strstr(line, "\"event\":\"exit\""))
			return strstr(line, "\"code\":0,") ? now_ms() - t0 : -1;
	}
	return -1;
}

struct client {
	pthread_t th;
	int n;
	double *lat;
	int failed;
};

static void *client_main(void *arg)
{
	struct client *cl = arg;
	struct conn *c = calloc(1, sizeof(*c));

	if (!c || (c->fd = connect_sock()) < 0) {
		cl->failed = cl->n;
		free(c);
		return NULL;
	}
	for (int i = 0; i < cl->n; i++) {
		cl->lat[i] = run_true(c, i);
		if (cl->lat[i] < 0)
			cl->failed++;
	}
	(void)close(c->fd);
	free(c);
	return NULL;
}

struct result {
	double p50, p99, per_s;
	int failed;
};

static struct result sbxd_true(int clients, int total)
{
	struct client cl[MAX_CLIENTS];
	double *all = calloc((size_t)total, sizeof(double)), t0;
	struct result r = {0};
	int per = total / clients, n = 0;

	if (!all)
		die("calloc");
	t0 = now_ms();
	for (int i = 0; i < clients; i++) {
		cl[i] = (struct client){.n = per, .lat = all + i * per};
		if (pthread_create(&cl[i].th, NULL, client_main, &cl[i]) != 0)
			die("pthread_create");
	}
	for (int i = 0; i < clients; i++) {
		(void)pthread_join(cl[i].th, NULL);
		r.failed += cl[i].failed;
	}
	r.per_s = per * clients / ((now_ms() - t0) / 1e3);
	for (int i = 0; i < per * clients; i++)
		if (all[i] >= 0)
			all[n++] = all[i];
	qsort(all, (size_t)n, sizeof(double), cmp);
	r.p50 = n ? pct(all, n, 0.5) : 0;
	r.p99 = n ? pct(all, n, 0.99) : 0;
	free(all);
	return r;
}

/* 100 tasks running at once: RSS while they run. */
static long rss_with_running(int n)
{
	struct conn *c = calloc(1, sizeof(*c));
	size_t used = 0;
	int started = 0;
	long rss;
	char *line;

	if (!c || (c->fd = connect_sock()) < 0)
		die("connect");
	for (int i = 0; i < n; i++) {
		char req[256];
		(void)snprintf(req, sizeof(req),
			       "{\"id\":\"s%d\",\"op\":\"run\",\"policy\":\"default\","
			       "\"argv\":[\"/bin/sleep\",\"30\"]}\n",
			       i);
		if (send_line(c, req) < 0)
			die("send");
	}
	while (started < n && (line = next_line(c, &used))) {
		if (strstr(line, "\"event\":\"started\""))
			started++;
		else if (strstr(line, "\"ok\":false"))
			(void)fprintf(stderr, "bench-sbxd: %s\n", line);
	}
	if (started < n) {
		errno = EPROTO;
		die("not every sleep task started");
	}
	(void)usleep(200000);
	rss = rss_kb();
	(void)close(c->fd); /* the tasks die with the connection */
	free(c);
	return rss;
}

/* Waits until sbxd runs no task (those of closed connections are being killed). */
static void wait_idle(void)
{
	struct conn *c = calloc(1, sizeof(*c));
	double deadline = now_ms() + 10000;
	size_t used = 0;
	char *line;

	if (!c || (c->fd = connect_sock()) < 0)
		die("connect");
	for (;;) {
		if (send_line(c, "{\"id\":\"l\",\"op\":\"list\"}\n") < 0 ||
		    !(line = next_line(c, &used)))
			die("list");
		if (strstr(line, "\"tasks\":[]"))
			break;
		if (now_ms() > deadline) {
			(void)fprintf(stderr, "bench-sbxd: tasks still listed after 10 s: %.300s\n",
				      line);
			break;
		}
		(void)usleep(50000);
	}
	(void)close(c->fd);
	free(c);
}

/* ---- bwrap ---- */

static int n_filters;
static char filter_base[PATH_MAX + 16];

static void export_filters(void)
{
	char cmd[3 * PATH_MAX];
	FILE *p;
	int insns;

	(void)snprintf(filter_base, sizeof(filter_base), "%s/filter", tmp);
	(void)snprintf(cmd, sizeof(cmd), "'%s/bench/bpf-export' default '%s'", build_dir,
		       filter_base);
	p = popen(cmd, "r");
	if (!p || fscanf(p, "%d %d", &n_filters, &insns) != 2 || pclose(p) != 0)
		die("bpf-export");
}

static pid_t bwrap_start(void)
{
	/* As tests/bench/bench.sh: every namespace sbx uses, the same binds, a non-root uid,
	 * no capabilities, a new session, death with the parent, sbx's seccomp filters. */
	char *argv[96] = {"bwrap",
			  "--unshare-user",
			  "--unshare-pid",
			  "--unshare-net",
			  "--unshare-ipc",
			  "--unshare-uts",
			  "--unshare-cgroup",
			  "--die-with-parent",
			  "--new-session",
			  "--hostname",
			  "sbx",
			  "--ro-bind",
			  "/usr",
			  "/usr",
			  "--symlink",
			  "usr/bin",
			  "/bin",
			  "--symlink",
			  "usr/lib",
			  "/lib",
			  "--symlink",
			  "usr/lib64",
			  "/lib64",
			  "--symlink",
			  "usr/sbin",
			  "/sbin",
			  "--ro-bind",
			  "/etc/hosts",
			  "/etc/hosts",
			  "--ro-bind",
			  "/etc/resolv.conf",
			  "/etc/resolv.conf",
			  "--ro-bind-try",
			  "/etc/ssl",
			  "/etc/ssl",
			  "--ro-bind-try",
			  "/etc/nsswitch.conf",
			  "/etc/nsswitch.conf",
			  "--ro-bind-try",
			  "/etc/ld.so.cache",
			  "/etc/ld.so.cache",
			  "--ro-bind-try",
			  "/etc/localtime",
			  "/etc/localtime",
			  "--proc",
			  "/proc",
			  "--dev",
			  "/dev",
			  "--tmpfs",
			  "/tmp",
			  "--uid",
			  "200000",
			  "--gid",
			  "200000",
			  "--cap-drop",
			  "ALL"};
	static char fdnum[8][8];
	int n = 0;
	pid_t pid;

	while (argv[n])
		n++;
	for (int i = 0; i < n_filters && i < 8; i++) {
		(void)snprintf(fdnum[i], sizeof(fdnum[i]), "%d", 3 + i);
		argv[n++] = "--add-seccomp-fd";
		argv[n++] = fdnum[i];
	}
	argv[n++] = "/bin/true";
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		(void)dup2(null, 0);
		(void)dup2(null, 1);
		(void)dup2(null, 2);
		for (int i = 0; i < n_filters; i++) {
			char path[PATH_MAX + 32];
			int fd;
			(void)snprintf(path, sizeof(path), "%s.%d", filter_base, i);
			fd = open(path, O_RDONLY);
			if (fd < 0 || dup2(fd, 3 + i) < 0)
				_exit(126);
			if (fd != 3 + i && fd >= 3 + n_filters)
				(void)close(fd);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static struct result bwrap_true(int jobs, int total)
{
	struct {
		pid_t pid;
		double t;
	} run[MAX_CLIENTS] = {{0}};
	double *lat = calloc((size_t)total, sizeof(double)), t0;
	struct result r = {0};
	int started = 0, done = 0;

	if (!lat)
		die("calloc");
	t0 = now_ms();
	while (done < total) {
		int st;
		pid_t pid;
		for (int i = 0; i < jobs && started < total; i++)
			if (!run[i].pid) {
				run[i].t = now_ms();
				run[i].pid = bwrap_start();
				started++;
			}
		pid = wait(&st);
		if (pid < 0)
			die("wait");
		for (int i = 0; i < jobs; i++)
			if (run[i].pid == pid) {
				lat[done++] = now_ms() - run[i].t;
				run[i].pid = 0;
				if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
					r.failed++;
			}
	}
	r.per_s = total / ((now_ms() - t0) / 1e3);
	qsort(lat, (size_t)total, sizeof(double), cmp);
	r.p50 = pct(lat, total, 0.5);
	r.p99 = pct(lat, total, 0.99);
	free(lat);
	return r;
}

static void cleanup(void)
{
	char cmd[PATH_MAX + 16];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		(void)fprintf(stderr, "bench-sbxd: could not remove %s\n", tmp);
}

int main(int argc, char **argv)
{
	static const int widths[] = {1, 8, 32};
	struct result s[3], b1, b8;
	char self[PATH_MAX];
	long idle, busy, idle2, busy2;
	ssize_t n;
	int st;

	(void)argc;
	(void)argv;
	if (getenv("BENCH_N"))
		n_runs = atoi(getenv("BENCH_N"));
	if (n_runs < 32)
		n_runs = 32;
	if (geteuid() != 0) {
		(void)fprintf(stderr, "bench-sbxd: must run as root\n");
		return 1;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		die("/proc/self/exe");
	self[n] = '\0';
	/* build/bench/bench-sbxd -> build */
	(void)snprintf(build_dir, sizeof(build_dir), "%s", dirname(dirname(self)));
	(void)snprintf(tmp, sizeof(tmp), "/tmp/bench-sbxd-XXXXXX");
	if (!mkdtemp(tmp))
		die("mkdtemp");
	(void)signal(SIGPIPE, SIG_IGN);

	start_sbxd();
	export_filters();
	(void)sbxd_true(1, 20); /* warm up */
	idle = rss_kb();
	busy = rss_with_running(100);
	wait_idle();
	for (int i = 0; i < 3; i++)
		s[i] = sbxd_true(widths[i], n_runs - n_runs % widths[i]);
	wait_idle();
	idle2 = rss_kb();
	busy2 = rss_with_running(100);
	(void)bwrap_true(1, 10); /* warm up */
	b1 = bwrap_true(1, n_runs);
	b8 = bwrap_true(8, n_runs - n_runs % 8);

	(void)printf("/bin/true, %d runs per line; latency = request sent to exit event read\n",
		     n_runs);
	for (int i = 0; i < 3; i++)
		(void)printf("sbxd  %2d client(s): p50=%.2f ms p99=%.2f ms tasks/s=%.1f%s\n",
			     widths[i], s[i].p50, s[i].p99, s[i].per_s,
			     s[i].failed ? " (some runs failed)" : "");
	(void)printf("bwrap sequential:    p50=%.2f ms p99=%.2f ms runs/s=%.1f%s\n", b1.p50, b1.p99,
		     b1.per_s, b1.failed ? " (some runs failed)" : "");
	(void)printf("bwrap 8 wide:        p50=%.2f ms p99=%.2f ms runs/s=%.1f%s\n", b8.p50, b8.p99,
		     b8.per_s, b8.failed ? " (some runs failed)" : "");
	(void)printf("sbxd RSS (fresh daemon): idle %ld kB, with 100 running tasks %ld kB\n", idle,
		     busy);
	(void)printf(
	    "sbxd RSS (after the runs above): idle %ld kB, with 100 running tasks %ld kB\n", idle2,
	    busy2);
	(void)printf("goal p50 sbxd/bwrap <= 0.80: %.2f %s\n", s[0].p50 / b1.p50,
		     s[0].p50 / b1.p50 <= 0.8 ? "met" : "NOT MET");
	(void)printf("goal tasks/s at 8 clients / bwrap 8 wide >= 1.50: %.2f %s\n",
		     s[1].per_s / b8.per_s, s[1].per_s / b8.per_s >= 1.5 ? "met" : "NOT MET");
	(void)printf("goal RSS with 100 tasks <= 16384 kB: %ld kB fresh %s, %ld kB after load %s\n",
		     busy, busy >= 0 && busy <= 16384 ? "met" : "NOT MET", busy2,
		     busy2 >= 0 && busy2 <= 16384 ? "met" : "NOT MET");

	(void)kill(sbxd_pid, SIGTERM);
	if (waitpid(sbxd_pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		(void)fprintf(stderr, "bench-sbxd: sbxd did not exit 0 (status 0x%x)\n", st);
	cleanup();
	return s[0].failed + s[1].failed + s[2].failed ? 1 : 0;
}
