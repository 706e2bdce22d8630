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
 * Static and self-contained on purpose: nothing to resolve inside a minimal root. One file, as
 * the Makefile builds it; it is longer than STYLE.md's ~600 lines because the attacks are a flat
 * list that reads best in one place.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/sched.h>
#include <linux/vm_sockets.h>
#include <sys/fanotify.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>

/* <sys/mount.h> and <linux/mount.h> clash; the few constants needed are spelled out. */
#define MS_RDONLY_	 1UL
#define MS_NOSUID_	 2UL
#define MS_NODEV_	 4UL
#define MS_NOEXEC_	 8UL
#define MS_REMOUNT_	 32UL
#define MS_NOATIME_	 1024UL
#define MS_NODIRATIME_	 2048UL
#define MS_BIND_	 4096UL
#define MS_RELATIME_	 (1UL << 21)
#define MNT_DETACH_	 2
#define MNT_EXPIRE_	 4
#define OPEN_TREE_CLONE_ 1U

enum {
	R_BLOCKED = 0,
	R_ESCAPED = 1,
	R_ERROR = 2,
	R_SKIP = 77
};

#define F_DANGER 1U /* refuses to run without --inside */
#define F_SELF	 2U /* runs in the probe process itself, last in `all` */
#define F_NOALL	 4U /* not part of `all` */
#define F_LONG	 8U /* a resource attack: long timeout */

#define ATTACK_TIMEOUT 20
#define LONG_TIMEOUT   150

#define UID_POOL_LO 200000UL
#define UID_POOL_HI 265535UL

/* Shared with the attack's child in `all`, so its verdict detail survives its exit. */
struct shared {
	int escaped;
	char detail[4000];
};

static struct shared *sh;
static bool arg_inside;
static int start_fds[256];
static size_t n_start_fds;
static char probe_dir[PATH_MAX] = "/probe";

struct attack {
	const char *name;
	int (*fn)(int argc, char **argv);
	unsigned flags;
	const char *help;
};

/* ---- verdict helpers ---------------------------------------------------------------- */

static void vnote(const char *fmt, va_list ap)
{
	size_t len = strlen(sh->detail);

	if (len + 8 >= sizeof(sh->detail))
		return;
	if (len)
		len += (size_t)snprintf(sh->detail + len, sizeof(sh->detail) - len, "; ");
	(void)vsnprintf(sh->detail + len, sizeof(sh->detail) - len, fmt, ap);
}

__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
}

/* Records that the attack worked; the attack goes on to find further holes. */
__attribute__((format(printf, 1, 2))) static void esc(const char *fmt, ...)
{
	va_list ap;

	sh->escaped = 1;
	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 1, 2))) static int skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
	return R_SKIP;
}

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
	return R_ERROR;
}

static int verdict(void)
{
	return sh->escaped ? R_ESCAPED : R_BLOCKED;
}

/* The call must not succeed. */
static bool must_fail(long r, const char *what)
{
	if (r >= 0) {
		esc("%s succeeded", what);
		return false;
	}
	return true;
}

/* The call must be refused by a permission check (or the seccomp filter): any other errno
 * means the kernel got past its capability check and only then tripped on our harmless
 * arguments. */
static bool must_be_denied_e(long r, int e, const char *what)
{
	if (r >= 0) {
		esc("%s succeeded", what);
		return false;
	}
	if (e != EPERM && e != EACCES && e != ENOSYS) {
		esc("%s passed the permission check (%s)", what, strerrorname_np(e) ?: "?");
		return false;
	}
	return true;
}

/* Same, reading errno of the call just made (arguments are evaluated before the call, so the
 * errno read here is the attacked syscall's). */
static bool must_be_denied(long r, const char *what)
{
	return must_be_denied_e(r, errno, what);
}

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

/* ---- small utilities ---------------------------------------------------------------- */

static ssize_t read_file(const char *path, char *buf, size_t len)
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
static void status_field(const char *pid, const char *name, char *out, size_t len)
{
	char path[64], buf[8192];
	size_t nl = strlen(name);

	out[0] = '\0';
	(void)snprintf(path, sizeof(path), "/proc/%s/status", pid);
	if (read_file(path, buf, sizeof(buf)) < 0)
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

static bool is_pid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Runs fn in a child under its own alarm; returns the wait status, or -1. */
static int in_child(int (*fn)(void *), void *arg, unsigned timeout_s)
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
static pid_t spawn_sleeper(void)
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

static void kill_wait(pid_t pid)
{
	if (pid <= 0)
		return;
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
}

static const char *tmp_dir(void)
{
	static const char *cands[] = {"/tmp", "/var/tmp", "/dev/shm", "."};

	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
		if (access(cands[i], W_OK) == 0)
			return cands[i];
	return NULL;
}

/* Count and names of the processes this /proc shows. */
static int scan_pids(char *names, size_t len, int *ret_count)
{
	DIR *d = opendir("/proc");
	int count = 0;

	if (!d)
		return -errno;
	if (names && len)
		names[0] = '\0';
	for (struct dirent *de; (de = readdir(d));) {
		if (!is_pid_name(de->d_name))
			continue;
		count++;
		if (names) {
			char path[300], comm[64];
			(void)snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
			if (read_file(path, comm, sizeof(comm)) <= 0)
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

static unsigned long long hexval(const char *s)
{
	return strtoull(s, NULL, 16);
}

/* ---- pid namespace and signals ------------------------------------------------------ */

/* Names that only a host (or a container runtime) would run; kernel threads are never visible
 * from a child pid namespace. */
static const char *const host_comms[] = {
    "kthreadd", "ksoftirqd", "kworker",	 "rcu_",   "migration",	  "systemd", "sshd", "containerd",
    "dockerd",	"cron",	     "rsyslogd", "agetty", "dbus-daemon", "udevd",   "sbxd",
};

static int a_pid_ns(int argc, char **argv)
{
	char names[8192];
	int count = 0;

	(void)argc, (void)argv;
	if (scan_pids(names, sizeof(names), &count) < 0)
		return fail("cannot list /proc: %s", ename(errno));
	if (count > 16)
		esc("/proc shows %d processes (a fresh pid namespace holds a handful)", count);
	for (char *p = names; *p;) {
		char *next = strchr(p, ',');
		if (next)
			*next = '\0';
		const char *comm = strchr(p, '=');
		comm = comm ? comm + 1 : p;
		if (strncmp(p, "1=", 2) == 0) { /* the namespace's own init, whatever its name */
			p = next ? next + 1 : p + strlen(p);
			continue;
		}
		for (size_t i = 0; i < sizeof(host_comms) / sizeof(host_comms[0]); i++)
			if (strncmp(comm, host_comms[i], strlen(host_comms[i])) == 0) {
				esc("host process visible: %s", p);
				break;
			}
		if (!next)
			break;
		p = next + 1;
	}
	char ppid[32];
	status_field("1", "PPid", ppid, sizeof(ppid));
	if (ppid[0] && strcmp(ppid, "0") != 0)
		esc("pid 1 has a visible parent (PPid %s)", ppid);
	return verdict();
}

/* kill(-1, sig) reaches every process the caller may signal except pid 1 and its own thread
 * group. Run from the only non-init process of the sandbox it must find nobody (ESRCH). */
static int a_kill_all(int argc, char **argv)
{
	DIR *d = opendir("/proc");
	char self[32];

	(void)argc, (void)argv;
	(void)snprintf(self, sizeof(self), "%d", getpid());
	if (d && arg_inside) {
		/* Leftovers of earlier attacks are ours and visible; they are not what we look for.
		 */
		char myuid[64];
		status_field("self", "Uid", myuid, sizeof(myuid));
		for (struct dirent *de; (de = readdir(d));) {
			if (!is_pid_name(de->d_name) || !strcmp(de->d_name, "1") ||
			    !strcmp(de->d_name, self))
				continue;
			char uid[64];
			status_field(de->d_name, "Uid", uid, sizeof(uid));
			if (uid[0] && !strcmp(uid, myuid)) {
				pid_t p = (pid_t)atoi(de->d_name);
				(void)kill(p, SIGKILL);
				(void)waitpid(p, NULL, WNOHANG);
			}
		}
		usleep(100000);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	if (d)
		(void)closedir(d);

	if (kill(-1, 0) == 0) {
		int n = 0;
		char names[2048];
		(void)scan_pids(names, sizeof(names), &n);
		esc("kill(-1, 0) reaches other processes (visible: %s)", names);
		return verdict();
	}
	if (errno != ESRCH)
		note("kill(-1, 0): %s", ename(errno));
	if (arg_inside && kill(-1, SIGKILL) == 0)
		esc("kill(-1, SIGKILL) killed some process");
	return verdict();
}

static int a_signal_init(int argc, char **argv)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGSTOP, SIGKILL};

	(void)argc, (void)argv;
	if (kill(1, 0) == 0)
		esc("kill(1, 0) succeeded: pid 1 is ours to signal");
	else if (errno != EPERM)
		note("kill(1, 0): %s", ename(errno));
	if (arg_inside) {
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			if (kill(1, sigs[i]) == 0)
				esc("kill(1, %s) delivered", sigabbrev_np(sigs[i]));
		usleep(50000);
		if (access("/proc/1", F_OK) != 0)
			esc("pid 1 is gone after our signals");
		(void)kill(1, SIGCONT);
	}
	int pfd = (int)syscall(SYS_pidfd_open, 1, 0);
	if (pfd >= 0) {
		if (syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0) == 0)
			esc("pidfd_send_signal(pid 1, 0) succeeded");
		(void)close(pfd);
	}
	return verdict();
}

/* ---- network ------------------------------------------------------------------------ */

static int a_net_ifaces(int argc, char **argv)
{
	char buf[8192];

	(void)argc, (void)argv;
	if (read_file("/proc/net/dev", buf, sizeof(buf)) < 0)
		return fail("cannot read /proc/net/dev: %s", ename(errno));
	int line = 0;
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		if (line++ < 2)
			continue;
		char *colon = strchr(l, ':');
		if (!colon)
			continue;
		*colon = '\0';
		while (*l == ' ')
			l++;
		if (strcmp(l, "lo") != 0)
			esc("interface '%s' visible", l);
	}
	return verdict();
}

/* connect() with a deadline; returns 0 or -errno. */
static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len, int ms)
{
	int fl = fcntl(fd, F_GETFL);

	(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int n = poll(&p, 1, ms);
	if (n == 0)
		return -ETIMEDOUT;
	if (n < 0)
		return -errno;
	int err = 0;
	socklen_t el = sizeof(err);
	(void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	return -err;
}

static const char *arg_or_env(int argc, char **argv, int i, const char *env)
{
	if (argc > i)
		return argv[i];
	return getenv(env);
}

static int a_tcp_host(int argc, char **argv)
{
	const char *port_s = arg_or_env(argc, argv, 1, "SBX_PROBE_TCP_PORT");

	if (!port_s)
		return skip("no port given (probe tcp-host PORT or SBX_PROBE_TCP_PORT)");
	int port = atoi(port_s);
	if (port <= 0 || port > 65535)
		return fail("bad port '%s'", port_s);

	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail("socket: %s", ename(errno));
	int r = connect_timeout(fd, (struct sockaddr *)&a4, sizeof(a4), 2000);
	if (r == 0) {
		char b[64];
		ssize_t n = read(fd, b, sizeof(b) - 1);
		esc("connected to 127.0.0.1:%d%s", port,
		    n > 0 ? " and read the host's banner" : "");
	} else {
		note("127.0.0.1:%d: %s", port, ename(-r));
	}
	(void)close(fd);

	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
	a6.sin6_addr = in6addr_loopback;
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		if (connect_timeout(fd, (struct sockaddr *)&a6, sizeof(a6), 2000) == 0)
			esc("connected to [::1]:%d", port);
		(void)close(fd);
	}
	return verdict();
}

/* A UDP connect() sends nothing; it succeeds only when a route exists. */
static int a_net_external(int argc, char **argv)
{
	static const char *const v4[] = {"1.1.1.1", "8.8.8.8", "192.0.2.1", "10.0.0.1",
					 "172.17.0.1"};
	static const char *const v6[] = {"2606:4700:4700::1111", "2001:4860:4860::8888"};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
		(void)inet_pton(AF_INET, v4[i], &a.sin_addr);
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			esc("route to %s exists", v4[i]);
		(void)close(fd);
	}
	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(53)};
		(void)inet_pton(AF_INET6, v6[i], &a.sin6_addr);
		int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			esc("route to %s exists", v6[i]);
		(void)close(fd);
	}
	return verdict();
}

static int a_net_raw(int argc, char **argv)
{
	(void)argc, (void)argv;
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (must_fail(fd, "socket(AF_INET, SOCK_RAW)") == false)
		(void)close(fd);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (must_fail(fd, "socket(AF_PACKET, SOCK_RAW)") == false)
		(void)close(fd);
	return verdict();
}

/* SIOCSIFFLAGS with lo's current flags changes nothing, but needs CAP_NET_ADMIN. */
static int a_net_admin(int argc, char **argv)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	(void)argc, (void)argv;
	if (fd < 0)
		return fail("socket: %s", ename(errno));
	(void)snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		(void)close(fd);
		return skip("SIOCGIFFLAGS lo: %s", ename(errno));
	}
	long r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	(void)must_be_denied(r, "SIOCSIFFLAGS on lo");
	(void)close(fd);
	return verdict();
}

static int a_net_bind_low(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(1)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)argc, (void)argv;
	if (fd < 0)
		return fail("socket: %s", ename(errno));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)must_fail(bind(fd, (struct sockaddr *)&a, sizeof(a)), "bind to 127.0.0.1:1");
	(void)close(fd);
	return verdict();
}

static int unix_connect(const char *name, bool abstract)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (n + 2 > sizeof(a.sun_path)) {
		(void)close(fd);
		return -ENAMETOOLONG;
	}
	memcpy(a.sun_path + (abstract ? 1 : 0), name, n);
	socklen_t len =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (abstract ? 1 : 0));
	int r = connect_timeout(fd, (struct sockaddr *)&a, len, 2000);
	(void)close(fd);
	return r;
}

static int a_abstract_host(int argc, char **argv)
{
	const char *name = arg_or_env(argc, argv, 1, "SBX_PROBE_ABSTRACT");

	if (!name)
		return skip("no name given (probe abstract-host NAME or SBX_PROBE_ABSTRACT)");
	int r = unix_connect(name, true);
	if (r == 0)
		esc("connected to the host's abstract socket @%s", name);
	else
		note("@%s: %s", name, ename(-r));
	return verdict();
}

static int a_unix_connect(int argc, char **argv)
{
	static const char *const defaults[] = {
	    "/run/sbx/sbxd.sock",
	    "/var/run/sbx/sbxd.sock",
	    "/run/dbus/system_bus_socket",
	    "/var/run/docker.sock",
	    "/run/containerd/containerd.sock",
	    "/run/systemd/private",
	    "/run/systemd/journal/socket",
	    "/run/systemd/notify",
	    "/dev/log",
	    "/tmp/.X11-unix/X0",
	};

	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (unix_connect(defaults[i], false) == 0)
			esc("connected to %s", defaults[i]);
	for (int i = 1; i < argc; i++)
		if (unix_connect(argv[i], false) == 0)
			esc("connected to %s", argv[i]);
	return verdict();
}

/* AF_VSOCK is not network-namespaced: in a VM it is a channel to the hypervisor host, which
 * the filter must refuse (Docker's profile does). Only connects when given a port, so a plain
 * run never talks to whatever listens on the VM host. */
static int a_vsock(int argc, char **argv)
{
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		if (errno != EPERM && errno != EACCES)
			note("socket(AF_VSOCK): %s", ename(errno));
		return verdict();
	}
	esc("socket(AF_VSOCK) succeeded: vsock is not namespaced");
	if (argc > 1) {
		int port = atoi(argv[1]);
		struct sockaddr_vm a = {
		    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = (unsigned)port};
		int r = connect_timeout(fd, (struct sockaddr *)&a, sizeof(a), 2000);
		if (r == 0 || r == -ECONNREFUSED || r == -ECONNRESET)
			esc("the VM host answers over vsock port %d (%s)", port,
			    r ? ename(-r) : "connected");
	}
	(void)close(fd);
	return verdict();
}

/* ---- credentials and capabilities --------------------------------------------------- */

static int a_caps(int argc, char **argv)
{
	static const char *const sets[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		char v[64];
		status_field("self", sets[i], v, sizeof(v));
		if (!v[0])
			return fail("no %s in /proc/self/status", sets[i]);
		if (hexval(v) != 0)
			esc("%s=%s", sets[i], v);
	}
	for (int c = 0; c <= 63; c++)
		if (prctl(PR_CAPBSET_READ, c) == 1) {
			esc("capability %d is in the bounding set", c);
			break;
		}
	return verdict();
}

static int a_no_new_privs(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		esc("no_new_privs is not set");
	return verdict();
}

static int a_seccomp_mode(int argc, char **argv)
{
	char v[32];

	(void)argc, (void)argv;
	status_field("self", "Seccomp", v, sizeof(v));
	if (strcmp(v, "2") != 0)
		esc("Seccomp: %s (want 2, a filter)", v[0] ? v : "?");
	return verdict();
}

static int a_uid_pool(int argc, char **argv)
{
	unsigned long lo = argc > 2 ? strtoul(argv[1], NULL, 10) : UID_POOL_LO;
	unsigned long hi = argc > 2 ? strtoul(argv[2], NULL, 10) : UID_POOL_HI;
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return fail("getresuid: %s", ename(errno));
	const unsigned long ids[] = {r,
				     e,
				     s,
				     rg,
				     eg,
				     sg,
				     (unsigned long)setfsuid((uid_t)-1),
				     (unsigned long)setfsgid((gid_t)-1)};
	static const char *const names[] = {"uid",  "euid", "suid",  "gid",
					    "egid", "sgid", "fsuid", "fsgid"};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		if (ids[i] == 0 || ids[i] < lo || ids[i] > hi)
			esc("%s=%lu is outside the pool %lu-%lu", names[i], ids[i], lo, hi);
	return verdict();
}

static int a_groups(int argc, char **argv)
{
	gid_t g[256];
	int n = getgroups(256, g);

	(void)argc, (void)argv;
	if (n < 0)
		return fail("getgroups: %s", ename(errno));
	for (int i = 0; i < n; i++)
		if (g[i] == 0 || g[i] != getegid())
			esc("supplementary group %u", (unsigned)g[i]);
	return verdict();
}

static int setuid_child(void *arg)
{
	(void)arg;
	uid_t me = getuid();
	/* Raw syscalls: glibc's set*id broadcast would hide nothing, but keeps this obvious. */
	if (syscall(SYS_setuid, 0) == 0)
		esc("setuid(0)");
	if (syscall(SYS_setgid, 0) == 0)
		esc("setgid(0)");
	if (syscall(SYS_setresuid, 0, 0, 0) == 0)
		esc("setresuid(0,0,0)");
	if (syscall(SYS_setreuid, 0, 0) == 0)
		esc("setreuid(0,0)");
	gid_t zero = 0;
	if (syscall(SYS_setgroups, 1, &zero) == 0)
		esc("setgroups([0])");
	(void)syscall(SYS_setfsuid, 0);
	if (syscall(SYS_setfsuid, -1) == 0 && me != 0)
		esc("setfsuid(0)");
	if (me != 0 && syscall(SYS_setuid, me + 1) == 0)
		esc("setuid(%u) (another pool uid)", (unsigned)me + 1);
	return 0;
}

static int a_setuid_root(int argc, char **argv)
{
	(void)argc, (void)argv;
	int st = in_child(setuid_child, NULL, ATTACK_TIMEOUT);
	if (st < 0 || !WIFEXITED(st))
		return fail("child failed (status %d)", st);
	return verdict();
}

static int capset_child(void *arg)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];

	(void)arg;
	memset(d, 0xff, sizeof(d));
	if (syscall(SYS_capset, &h, d) == 0)
		esc("capset(all caps)");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0) == 0)
		esc("PR_CAP_AMBIENT_RAISE(CAP_NET_RAW)");
	if (prctl(PR_SET_SECUREBITS, 0, 0, 0, 0) == 0)
		esc("PR_SET_SECUREBITS");
	return 0;
}

static int a_capset(int argc, char **argv)
{
	(void)argc, (void)argv;
	int st = in_child(capset_child, NULL, ATTACK_TIMEOUT);
	if (st < 0 || !WIFEXITED(st))
		return fail("child failed (status %d)", st);
	return verdict();
}

static int a_chown_root(int argc, char **argv)
{
	const char *t = tmp_dir();
	char f[PATH_MAX];

	(void)argc, (void)argv;
	if (!t)
		return skip("no writable directory");
	(void)snprintf(f, sizeof(f), "%s/.sbx-probe-chown-%d", t, getpid());
	int fd = open(f, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0755);
	if (fd < 0)
		return skip("cannot create %s: %s", f, ename(errno));
	(void)close(fd);
	(void)must_fail(chown(f, 0, 0), "chown(file, 0, 0)");
	if (getuid() != 0)
		(void)must_fail(chown(f, getuid() + 1, (gid_t)-1), "chown to another uid");
	if (chmod(f, 04755) == 0) {
		struct stat st;
		if (stat(f, &st) == 0 && st.st_uid == 0 && (st.st_mode & S_ISUID))
			esc("made a setuid-root file");
	}
	/* File capabilities need CAP_SETFCAP. */
	struct vfs_cap_data cd = {.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE};
	cd.data[0].permitted = 1U << CAP_NET_RAW;
	(void)must_fail(setxattr(f, "security.capability", &cd, sizeof(cd), 0),
			"setxattr(security.capability)");
	(void)unlink(f);
	return verdict();
}

static int nice_child(void *arg)
{
	(void)arg;
	(void)must_fail(setpriority(PRIO_PROCESS, 0, -10), "setpriority(-10)");
	struct sched_param sp = {.sched_priority = 1};
	(void)must_fail(sched_setscheduler(0, SCHED_FIFO, &sp), "sched_setscheduler(SCHED_FIFO)");
	return 0;
}

static int a_nice_raise(int argc, char **argv)
{
	(void)argc, (void)argv;
	int st = in_child(nice_child, NULL, ATTACK_TIMEOUT);
	if (st < 0 || !WIFEXITED(st))
		return fail("child failed (status %d)", st);
	return verdict();
}

static int rlimit_child(void *arg)
{
	struct rlimit rl;

	(void)arg;
	struct rlimit core = {.rlim_cur = 1 << 20, .rlim_max = 1 << 20};
	if (getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_max < core.rlim_max)
		(void)must_fail(setrlimit(RLIMIT_CORE, &core), "raising RLIMIT_CORE");
	static const int res[] = {RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_AS, RLIMIT_FSIZE};
	static const char *const names[] = {"NOFILE", "NPROC", "AS", "FSIZE"};
	for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
		if (getrlimit(res[i], &rl) < 0 || rl.rlim_max == RLIM_INFINITY)
			continue;
		rl.rlim_max += 1;
		if (setrlimit(res[i], &rl) == 0)
			esc("raised the hard RLIMIT_%s", names[i]);
	}
	return 0;
}

static int a_rlimits(int argc, char **argv)
{
	struct rlimit rl;

	(void)argc, (void)argv;
	if (getrlimit(RLIMIT_CORE, &rl) < 0)
		return fail("getrlimit: %s", ename(errno));
	if (rl.rlim_cur != 0 || rl.rlim_max != 0)
		esc("RLIMIT_CORE is %llu/%llu, not 0", (unsigned long long)rl.rlim_cur,
		    (unsigned long long)rl.rlim_max);
	int st = in_child(rlimit_child, NULL, ATTACK_TIMEOUT);
	if (st < 0 || !WIFEXITED(st))
		return fail("child failed (status %d)", st);
	return verdict();
}

/* Init must be neither ours nor dumpable: then its /proc files belong to root and ptrace,
 * /proc/1/mem and friends are refused. */
static int a_dumpable(int argc, char **argv)
{
	struct stat st;

	(void)argc, (void)argv;
	if (stat("/proc/1/status", &st) < 0)
		return fail("stat /proc/1/status: %s", ename(errno));
	if (st.st_uid == getuid())
		esc("pid 1's /proc files belong to our uid %u (same uid and dumpable)",
		    (unsigned)st.st_uid);
	char uid[64];
	status_field("1", "Uid", uid, sizeof(uid));
	if ((unsigned long)getuid() == strtoul(uid, NULL, 10))
		esc("pid 1 runs as our uid (%s)", uid);
	note("payload dumpable=%d", prctl(PR_GET_DUMPABLE));
	return verdict();
}

/* ---- mounts ------------------------------------------------------------------------- */

/* A fresh directory to mount on, or an existing one when nothing is writable. */
static void mount_target(char *buf, size_t len, bool *made)
{
	const char *t = tmp_dir();

	*made = false;
	if (t) {
		(void)snprintf(buf, len, "%s/.sbx-probe-mnt-XXXXXX", t);
		if (mkdtemp(buf)) {
			*made = true;
			return;
		}
	}
	(void)snprintf(buf, len, "%s", access("/tmp", F_OK) == 0 ? "/tmp" : "/");
}

static void mount_target_done(const char *path, bool made)
{
	if (made)
		(void)rmdir(path);
}

static int try_mount(const char *src, const char *fstype, unsigned long flags, const char *data,
		     const char *what)
{
	char dir[PATH_MAX];
	bool made;

	mount_target(dir, sizeof(dir), &made);
	long r = syscall(SYS_mount, src, dir, fstype, flags, data);
	int e = errno;
	if (r == 0) {
		esc("%s on %s", what, dir);
		(void)syscall(SYS_umount2, dir, MNT_DETACH_);
	} else {
		(void)must_be_denied_e(r, e, what);
	}
	mount_target_done(dir, made);
	return verdict();
}

static int a_mount_tmpfs(int argc, char **argv)
{
	(void)argc, (void)argv;
	return try_mount("none", "tmpfs", 0, "size=1m", "mount(tmpfs)");
}

static int a_mount_bind(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)try_mount("/", NULL, MS_BIND_, NULL, "mount(MS_BIND of /)");
	return try_mount("/proc", NULL, MS_BIND_, NULL, "mount(MS_BIND of /proc)");
}

static int a_mount_proc(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)try_mount("proc", "proc", 0, NULL, "mount(proc)");
	(void)try_mount("sysfs", "sysfs", 0, NULL, "mount(sysfs)");
	(void)try_mount("cgroup2", "cgroup2", 0, NULL, "mount(cgroup2)");
	return try_mount("cgroup", "cgroup", 0, "pids", "mount(cgroup v1 pids)");
}

static int a_mount_api(int argc, char **argv)
{
	(void)argc, (void)argv;
	int fd = (int)syscall(SYS_fsopen, "tmpfs", 0);
	if (!must_be_denied(fd, "fsopen(tmpfs)"))
		(void)close(fd);
	fd = (int)syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE_);
	if (!must_be_denied(fd, "open_tree(/, OPEN_TREE_CLONE)"))
		(void)close(fd);
	fd = (int)syscall(SYS_fspick, AT_FDCWD, "/", 0);
	if (!must_be_denied(fd, "fspick(/)"))
		(void)close(fd);
	return verdict();
}

static unsigned long ms_flags_of(const struct statvfs *sv)
{
	unsigned long f = 0;

	if (sv->f_flag & ST_NOSUID)
		f |= MS_NOSUID_;
	if (sv->f_flag & ST_NODEV)
		f |= MS_NODEV_;
	if (sv->f_flag & ST_NOEXEC)
		f |= MS_NOEXEC_;
	if (sv->f_flag & ST_NOATIME)
		f |= MS_NOATIME_;
	if (sv->f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME_;
	if (sv->f_flag & ST_RELATIME)
		f |= MS_RELATIME_;
	return f;
}

/* Make a read-only mount writable again. Only read-only targets are attacked, so the host is
 * never touched when they are not. */
static int a_remount_rw(int argc, char **argv)
{
	const char *defaults[] = {"/", "/usr", "/etc", "/bin", "/lib", probe_dir};
	const char **targets = defaults;
	size_t n = sizeof(defaults) / sizeof(defaults[0]), tried = 0;

	if (argc > 1) {
		targets = (const char **)argv + 1;
		n = (size_t)argc - 1;
	}
	for (size_t i = 0; i < n; i++) {
		struct statvfs sv;
		if (statvfs(targets[i], &sv) < 0 || !(sv.f_flag & ST_RDONLY))
			continue;
		tried++;
		unsigned long fl = ms_flags_of(&sv);
		long r =
		    syscall(SYS_mount, NULL, targets[i], NULL, MS_REMOUNT_ | MS_BIND_ | fl, NULL);
		int e = errno;
		char what[PATH_MAX + 64];
		(void)snprintf(what, sizeof(what), "remount %s read-write (bind)", targets[i]);
		if (!must_be_denied_e(r, e, what))
			(void)syscall(SYS_mount, NULL, targets[i], NULL,
				      MS_REMOUNT_ | MS_BIND_ | MS_RDONLY_ | fl, NULL);
		r = syscall(SYS_mount, NULL, targets[i], NULL, MS_REMOUNT_ | fl, NULL);
		e = errno;
		(void)snprintf(what, sizeof(what), "remount %s read-write (superblock)",
			       targets[i]);
		if (!must_be_denied_e(r, e, what))
			(void)syscall(SYS_mount, NULL, targets[i], NULL,
				      MS_REMOUNT_ | MS_RDONLY_ | fl, NULL);
	}
	if (!tried)
		return skip("no read-only mount to attack");
	return verdict();
}

static int a_umount(int argc, char **argv)
{
	(void)argc, (void)argv;
	/* MNT_EXPIRE on our own root is refused with EINVAL, but only after the capability check.
	 */
	(void)must_be_denied(syscall(SYS_umount2, "/", MNT_EXPIRE_), "umount2(/, MNT_EXPIRE)");
	if (arg_inside) {
		(void)must_fail(syscall(SYS_umount2, "/proc", MNT_DETACH_), "umount2(/proc)");
		(void)must_fail(syscall(SYS_umount2, probe_dir, MNT_DETACH_), "umount2(probe dir)");
		(void)must_fail(syscall(SYS_umount2, "/tmp", MNT_DETACH_), "umount2(/tmp)");
	}
	return verdict();
}

static int a_pivot_root(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)must_be_denied(syscall(SYS_pivot_root, "/.sbx-probe-none", "/.sbx-probe-none"),
			     "pivot_root(missing dirs)");
	if (arg_inside && chdir("/") == 0)
		(void)must_fail(syscall(SYS_pivot_root, ".", "."), "pivot_root(., .)");
	return verdict();
}

static int chroot_child(void *arg)
{
	(void)arg;
	const char *t = tmp_dir();
	(void)must_fail(chroot(t ? t : "/"), "chroot");
	return 0;
}

static int a_chroot(int argc, char **argv)
{
	(void)argc, (void)argv;
	int st = in_child(chroot_child, NULL, ATTACK_TIMEOUT);
	if (st < 0 || !WIFEXITED(st))
		return fail("child failed (status %d)", st);
	return verdict();
}

/* Every mount must be nosuid; every mount outside /dev nodev. */
static int a_mount_flags(int argc, char **argv)
{
	static char buf[65536];

	(void)argc, (void)argv;
	if (read_file("/proc/self/mountinfo", buf, sizeof(buf)) < 0)
		return fail("cannot read mountinfo: %s", ename(errno));
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		char mp[PATH_MAX], opts[512];
		if (sscanf(l, "%*s %*s %*s %*s %4095s %511s", mp, opts) != 2)
			continue;
		bool nosuid = strstr(opts, "nosuid") != NULL;
		bool nodev = strstr(opts, "nodev") != NULL;
		bool in_dev = strncmp(mp, "/dev", 4) == 0 && (mp[4] == '/' || !mp[4]);
		if (!nosuid)
			esc("%s is mounted without nosuid", mp);
		if (!nodev && !in_dev)
			esc("%s is mounted without nodev", mp);
	}
	return verdict();
}

/* ---- namespaces --------------------------------------------------------------------- */

struct ns_flag {
	const char *name;
	int flag;
	const char *flag_name;
};

#define NS(n, f)         \
	{                \
		n, f, #f \
	}
static const struct ns_flag ns_flags[] = {
    NS("user", CLONE_NEWUSER),	   NS("mnt", CLONE_NEWNS),    NS("pid", CLONE_NEWPID),
    NS("net", CLONE_NEWNET),	   NS("uts", CLONE_NEWUTS),   NS("ipc", CLONE_NEWIPC),
    NS("cgroup", CLONE_NEWCGROUP), NS("time", CLONE_NEWTIME),
};

static int unshare_child(void *arg)
{
	const struct ns_flag *f = arg;

	(void)must_fail(unshare(f->flag), f->name);
	return 0;
}

static int do_unshare(const char *ns)
{
	for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
		if (strcmp(ns_flags[i].name, ns) != 0)
			continue;
		int st = in_child(unshare_child, (void *)&ns_flags[i], ATTACK_TIMEOUT);
		if (st < 0 || !WIFEXITED(st))
			return fail("child failed (status %d)", st);
		if (sh->escaped)
			(void)snprintf(sh->detail, sizeof(sh->detail), "unshare(%s) succeeded",
				       ns_flags[i].flag_name);
		return verdict();
	}
	return fail("unknown namespace %s", ns);
}

#define UNSHARE_ATTACK(n)                               \
	static int a_unshare_##n(int argc, char **argv) \
	{                                               \
		(void)argc, (void)argv;                 \
		return do_unshare(#n);                  \
	}
UNSHARE_ATTACK(user)
UNSHARE_ATTACK(mnt)
UNSHARE_ATTACK(pid)
UNSHARE_ATTACK(net)
UNSHARE_ATTACK(uts)
UNSHARE_ATTACK(ipc)
UNSHARE_ATTACK(cgroup)
UNSHARE_ATTACK(time)

static int setns_child(void *arg)
{
	const char *pid = arg;

	for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
		char path[64];
		(void)snprintf(path, sizeof(path), "/proc/%s/ns/%s", pid, ns_flags[i].name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (strcmp(pid, "1") == 0)
			esc("opened %s", path);
		if (setns(fd, 0) == 0)
			esc("setns(%s)", path);
		(void)close(fd);
	}
	if (strcmp(pid, "1") == 0) {
		int pfd = (int)syscall(SYS_pidfd_open, 1, 0);
		if (pfd >= 0) {
			if (setns(pfd, CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC) ==
			    0)
				esc("setns(pidfd of pid 1)");
			(void)close(pfd);
		}
	}
	return 0;
}

static int a_setns_self(int argc, char **argv)
{
	(void)argc, (void)argv;
	int st = in_child(setns_child, "self", ATTACK_TIMEOUT);
	if (st < 0 || !WIFEXITED(st))
		return fail("child failed (status %d)", st);
	return verdict();
}

static int a_setns_init(int argc, char **argv)
{
	(void)argc, (void)argv;
	int st = in_child(setns_child, "1", ATTACK_TIMEOUT);
	if (st < 0 || !WIFEXITED(st))
		return fail("child failed (status %d)", st);
	return verdict();
}

static int raw_clone(unsigned long flags, const char *what)
{
	long r = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);

	if (r == 0)
		_exit(0);
	if (r > 0) {
		(void)waitpid((pid_t)r, NULL, 0);
		esc("%s succeeded", what);
	}
	return verdict();
}

static int a_clone_newuser(int argc, char **argv)
{
	(void)argc, (void)argv;
	return raw_clone(CLONE_NEWUSER, "clone(CLONE_NEWUSER)");
}

static int a_clone_newns(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)raw_clone(CLONE_NEWNS, "clone(CLONE_NEWNS)");
	(void)raw_clone(CLONE_NEWNET | CLONE_NEWPID, "clone(CLONE_NEWNET|CLONE_NEWPID)");
	return verdict();
}

/* clone3's flags live in memory seccomp cannot read: it must get ENOSYS (so libc falls back
 * to clone, whose flags the filter checks), never EPERM and never success. */
static int a_clone3(int argc, char **argv)
{
	static const unsigned long long flagsets[] = {0, CLONE_NEWUSER, CLONE_NEWNS | CLONE_NEWPID};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(flagsets) / sizeof(flagsets[0]); i++) {
		struct clone_args ca = {.flags = flagsets[i], .exit_signal = SIGCHLD};
		long r = syscall(SYS_clone3, &ca, sizeof(ca));
		if (r == 0)
			_exit(0);
		if (r > 0) {
			(void)waitpid((pid_t)r, NULL, 0);
			esc("clone3(flags 0x%llx) succeeded", flagsets[i]);
		} else if (errno != ENOSYS) {
			esc("clone3(flags 0x%llx) gave %s, not ENOSYS", flagsets[i], ename(errno));
		}
	}
	return verdict();
}

/* ---- ptrace and /proc/1 ------------------------------------------------------------- */

static int a_ptrace_init(int argc, char **argv)
{
	(void)argc, (void)argv;
	/* Runs in a child: when it exits, the kernel detaches any tracee (exit_ptrace). */
	if (ptrace(PTRACE_SEIZE, 1, NULL, NULL) == 0)
		esc("PTRACE_SEIZE on pid 1");
	if (arg_inside && ptrace(PTRACE_ATTACH, 1, NULL, NULL) == 0) {
		esc("PTRACE_ATTACH on pid 1");
		(void)waitpid(1, NULL, __WALL);
		(void)ptrace(PTRACE_DETACH, 1, NULL, NULL);
	}
	return verdict();
}

static int traceme_child(void *arg)
{
	(void)arg;
	(void)must_fail(ptrace(PTRACE_TRACEME, 0, NULL, NULL), "PTRACE_TRACEME");
	return 0;
}

static int a_ptrace_child(int argc, char **argv)
{
	(void)argc, (void)argv;
	pid_t c = spawn_sleeper();
	if (c < 0)
		return fail("fork: %s", ename(errno));
	if (ptrace(PTRACE_ATTACH, c, NULL, NULL) == 0) {
		esc("PTRACE_ATTACH on our own child");
		(void)ptrace(PTRACE_DETACH, c, NULL, NULL);
	}
	if (ptrace(PTRACE_SEIZE, c, NULL, NULL) == 0)
		esc("PTRACE_SEIZE on our own child");
	kill_wait(c);
	(void)in_child(traceme_child, NULL, ATTACK_TIMEOUT);
	return verdict();
}

static volatile uint64_t vm_canary = 0x5b5b5b5b5b5b5b5bULL;

static int a_process_vm(int argc, char **argv)
{
	uint64_t v = 0;
	struct iovec local = {.iov_base = &v, .iov_len = sizeof(v)};
	struct iovec remote = {.iov_base = (void *)&vm_canary, .iov_len = sizeof(v)};

	(void)argc, (void)argv;
	pid_t c = spawn_sleeper();
	if (c < 0)
		return fail("fork: %s", ename(errno));
	long r = process_vm_readv(c, &local, 1, &remote, 1, 0);
	(void)must_fail(r, "process_vm_readv(own child)");
	r = process_vm_writev(c, &local, 1, &remote, 1, 0);
	(void)must_fail(r, "process_vm_writev(own child)");
	kill_wait(c);
	/* EFAULT would mean the access check on pid 1 passed and only our address was wrong. */
	r = process_vm_readv(1, &local, 1, &remote, 1, 0);
	if (r >= 0 || errno == EFAULT)
		esc("process_vm_readv(pid 1) got past the access check (%s)",
		    r >= 0 ? "read" : "EFAULT");
	return verdict();
}

static int open_read(const char *path, int flags, bool need_data)
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

static int a_proc_init_environ(int argc, char **argv)
{
	(void)argc, (void)argv;
	int r = open_read("/proc/1/environ", O_RDONLY, false);
	if (r >= 0)
		esc("opened /proc/1/environ");
	return verdict();
}

static int a_proc_init_mem(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (open_read("/proc/1/mem", O_RDONLY, false) >= 0)
		esc("opened /proc/1/mem");
	if (open_read("/proc/1/mem", O_RDWR, false) >= 0)
		esc("opened /proc/1/mem read-write");
	return verdict();
}

static int a_proc_init_maps(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (open_read("/proc/1/maps", O_RDONLY, true) == 1)
		esc("read /proc/1/maps");
	if (open_read("/proc/1/smaps", O_RDONLY, true) == 1)
		esc("read /proc/1/smaps");
	if (open_read("/proc/1/pagemap", O_RDONLY, false) >= 0)
		esc("opened /proc/1/pagemap");
	return verdict();
}

static int a_proc_init_links(int argc, char **argv)
{
	static const char *const links[] = {"/proc/1/root", "/proc/1/cwd", "/proc/1/exe"};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		char t[PATH_MAX];
		ssize_t n = readlink(links[i], t, sizeof(t) - 1);
		if (n >= 0) {
			t[n] = '\0';
			esc("readlink %s = %s", links[i], t);
		}
	}
	DIR *d = opendir("/proc/1/root/");
	if (d) {
		esc("opened /proc/1/root/");
		(void)closedir(d);
	}
	if (open_read("/proc/1/exe", O_RDONLY, false) >= 0)
		esc("opened /proc/1/exe (the host binary init runs)");
	if (open_read("/proc/1/exe", O_WRONLY, false) >= 0)
		esc("opened /proc/1/exe for writing (CVE-2019-5736)");
	return verdict();
}

static int a_proc_init_fd(int argc, char **argv)
{
	(void)argc, (void)argv;
	DIR *d = opendir("/proc/1/fd");
	if (d) {
		int n = 0;
		for (struct dirent *de; (de = readdir(d));)
			n += de->d_name[0] != '.';
		if (n > 0)
			esc("listed %d fds of pid 1", n);
		(void)closedir(d);
	}
	for (int i = 0; i < 16; i++) {
		char p[64];
		(void)snprintf(p, sizeof(p), "/proc/1/fd/%d", i);
		if (open_read(p, O_RDONLY, false) >= 0)
			esc("opened %s", p);
		(void)snprintf(p, sizeof(p), "/proc/1/fdinfo/%d", i);
		if (open_read(p, O_RDONLY, true) == 1)
			esc("read %s", p);
	}
	int pfd = (int)syscall(SYS_pidfd_open, 1, 0);
	if (pfd >= 0) {
		for (int i = 0; i < 16; i++) {
			int fd = (int)syscall(SYS_pidfd_getfd, pfd, i, 0);
			if (fd >= 0) {
				esc("pidfd_getfd took fd %d of pid 1", i);
				(void)close(fd);
				break;
			}
		}
		(void)close(pfd);
	}
	return verdict();
}

static int a_proc_init_misc(int argc, char **argv)
{
	static const char *const files[] = {"/proc/1/auxv",    "/proc/1/stack",
					    "/proc/1/syscall", "/proc/1/personality",
					    "/proc/1/io",      "/proc/1/timers"};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (open_read(files[i], O_RDONLY, true) == 1)
			esc("read %s", files[i]);
	return verdict();
}

/* ---- kernel interfaces -------------------------------------------------------------- */

static int a_proc_kernel(int argc, char **argv)
{
	char buf[4096];

	(void)argc, (void)argv;
	/* Masking binds /dev/null over it: only real data counts. */
	if (open_read("/proc/kcore", O_RDONLY, true) == 1)
		esc("read /proc/kcore");
	if (read_file("/proc/kallsyms", buf, sizeof(buf)) > 0) {
		for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
			if (strtoull(l, NULL, 16) != 0) {
				esc("/proc/kallsyms shows kernel addresses");
				break;
			}
	}
	if (open_read("/proc/sysrq-trigger", O_WRONLY, false) >= 0)
		esc("opened /proc/sysrq-trigger for writing");
	return verdict();
}

static int a_dmesg(int argc, char **argv)
{
	char buf[256];

	(void)argc, (void)argv;
	(void)must_fail(klogctl(3 /* READ_ALL */, buf, sizeof(buf)), "syslog(READ_ALL)");
	if (open_read("/dev/kmsg", O_RDONLY, false) >= 0)
		esc("opened /dev/kmsg");
	if (open_read("/proc/kmsg", O_RDONLY, false) >= 0)
		esc("opened /proc/kmsg");
	return verdict();
}

static int a_proc_sys_write(int argc, char **argv)
{
	static const char *const files[] = {
	    "/proc/sys/kernel/hostname",   "/proc/sys/kernel/core_pattern",
	    "/proc/sys/kernel/modprobe",   "/proc/sys/kernel/ns_last_pid",
	    "/proc/sys/vm/drop_caches",	   "/proc/sys/net/ipv4/ip_forward",
	    "/proc/sys/kernel/sysrq",	   "/proc/sys/fs/suid_dumpable",
	    "/proc/sys/kernel/domainname", "/proc/sys/kernel/randomize_va_space",
	};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (open_read(files[i], O_WRONLY, false) >= 0)
			esc("opened %s for writing", files[i]);
	/* A real write of the value already there: harmless anywhere, an escape if it works. */
	char cur[256];
	if (read_file("/proc/sys/kernel/hostname", cur, sizeof(cur)) > 0) {
		int fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, cur, strlen(cur)) > 0)
				esc("wrote /proc/sys/kernel/hostname");
			(void)close(fd);
		}
	}
	return verdict();
}

static int a_sys_write(int argc, char **argv)
{
	static const char *const files[] = {
	    "/sys/kernel/uevent_helper",
	    "/sys/fs/cgroup/cgroup.procs",
	    "/sys/fs/cgroup/release_agent",
	    "/sys/fs/cgroup/memory/release_agent",
	    "/sys/fs/cgroup/pids/release_agent",
	    "/sys/fs/cgroup/memory/cgroup.procs",
	    "/sys/fs/cgroup/pids/cgroup.procs",
	    "/sys/fs/cgroup/unified/cgroup.procs",
	    "/sys/power/state",
	    "/sys/kernel/mm/transparent_hugepage/enabled",
	    "/sys/module/kernel/parameters/panic",
	};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (open_read(files[i], O_WRONLY, false) >= 0)
			esc("opened %s for writing", files[i]);
	struct statvfs sv;
	if (statvfs("/sys", &sv) == 0 && !(sv.f_flag & ST_RDONLY) &&
	    access("/sys/kernel", F_OK) == 0)
		note("/sys is mounted read-write");
	return verdict();
}

static int keyctl_child(void *arg)
{
	(void)arg;
	long r = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL);
	(void)must_fail(r, "keyctl(JOIN_SESSION_KEYRING)");
	r = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0);
	(void)must_fail(r, "keyctl(GET_KEYRING_ID, user)");
	return 0;
}

static int a_keyctl(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)in_child(keyctl_child, NULL, ATTACK_TIMEOUT);
	return verdict();
}

static int a_add_key(int argc, char **argv)
{
	(void)argc, (void)argv;
	long r = syscall(SYS_add_key, "user", "sbx-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING);
	(void)must_fail(r, "add_key(user)");
	return verdict();
}

static int a_request_key(int argc, char **argv)
{
	(void)argc, (void)argv;
	/* No callout info: the kernel never runs /sbin/request-key for this. */
	long r = syscall(SYS_request_key, "user", "sbx-probe-none", NULL, 0);
	(void)must_be_denied(r, "request_key(user)");
	return verdict();
}

static int a_bpf(int argc, char **argv)
{
	union bpf_attr at;

	(void)argc, (void)argv;
	memset(&at, 0, sizeof(at));
	at.map_type = BPF_MAP_TYPE_ARRAY;
	at.key_size = 4;
	at.value_size = 4;
	at.max_entries = 1;
	long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &at, sizeof(at));
	if (!must_fail(fd, "bpf(BPF_MAP_CREATE)"))
		(void)close((int)fd);

	struct bpf_insn prog[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	memset(&at, 0, sizeof(at));
	at.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	at.insns = (uint64_t)(uintptr_t)prog;
	at.insn_cnt = 2;
	at.license = (uint64_t)(uintptr_t) "GPL";
	fd = syscall(SYS_bpf, BPF_PROG_LOAD, &at, sizeof(at));
	if (!must_fail(fd, "bpf(BPF_PROG_LOAD)"))
		(void)close((int)fd);
	return verdict();
}

static int a_perf_event_open(int argc, char **argv)
{
	struct perf_event_attr pe;

	(void)argc, (void)argv;
	memset(&pe, 0, sizeof(pe));
	pe.type = PERF_TYPE_SOFTWARE;
	pe.size = sizeof(pe);
	pe.config = PERF_COUNT_SW_CPU_CLOCK;
	pe.disabled = 1;
	pe.exclude_kernel = 1;
	pe.exclude_hv = 1;
	long fd = syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0);
	if (!must_fail(fd, "perf_event_open(self, sw clock)"))
		(void)close((int)fd);
	return verdict();
}

static int a_io_uring(int argc, char **argv)
{
	struct io_uring_params p;

	(void)argc, (void)argv;
	memset(&p, 0, sizeof(p));
	long fd = syscall(SYS_io_uring_setup, 4, &p);
	if (!must_fail(fd, "io_uring_setup"))
		(void)close((int)fd);
	return verdict();
}

static int a_userfaultfd(int argc, char **argv)
{
	(void)argc, (void)argv;
	long fd = syscall(SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */);
	if (!must_fail(fd, "userfaultfd"))
		(void)close((int)fd);
	if (open_read("/dev/userfaultfd", O_RDWR, false) >= 0)
		esc("opened /dev/userfaultfd");
	return verdict();
}

struct fh {
	unsigned int handle_bytes;
	int handle_type;
	unsigned char f_handle[128];
};

static int a_name_to_handle(int argc, char **argv)
{
	struct fh h = {.handle_bytes = 128};
	int mnt;

	(void)argc, (void)argv;
	long r = syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &h, &mnt, 0);
	(void)must_fail(r, "name_to_handle_at(/)");
	return verdict();
}

/* The "shocker" escape: forge a handle for inode 2 (an ext4/xfs root) and open it through
 * any fd on that filesystem, e.g. a read-only bind. Needs CAP_DAC_READ_SEARCH. */
static int a_open_by_handle(int argc, char **argv)
{
	static const char *const mounts[] = {"/usr", "/etc", "/", "/proc"};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		int mfd = open(mounts[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (mfd < 0)
			continue;
		struct fh h = {.handle_bytes = 8, .handle_type = 1 /* FILEID_INO32_GEN */};
		uint32_t ino = 2, gen = 0;
		memcpy(h.f_handle, &ino, 4);
		memcpy(h.f_handle + 4, &gen, 4);
		long fd = syscall(SYS_open_by_handle_at, mfd, &h, O_RDONLY | O_CLOEXEC);
		int e = errno;
		char what[128];
		(void)snprintf(what, sizeof(what), "open_by_handle_at(inode 2 via %s)", mounts[i]);
		if (!must_be_denied_e(fd, e, what) && fd >= 0)
			(void)close((int)fd);
		struct fh real = {.handle_bytes = 128};
		int mid;
		if (syscall(SYS_name_to_handle_at, mfd, "", &real, &mid, AT_EMPTY_PATH) == 0) {
			fd = syscall(SYS_open_by_handle_at, mfd, &real, O_RDONLY | O_CLOEXEC);
			(void)snprintf(what, sizeof(what), "open_by_handle_at(real handle of %s)",
				       mounts[i]);
			if (!must_fail(fd, what))
				(void)close((int)fd);
		}
		(void)close(mfd);
	}
	return verdict();
}

static int a_kernel_modules(int argc, char **argv)
{
	static const char junk[64];

	(void)argc, (void)argv;
	(void)must_be_denied(syscall(SYS_init_module, junk, sizeof(junk), ""), "init_module");
	(void)must_be_denied(syscall(SYS_finit_module, -1, "", 0), "finit_module");
	(void)must_be_denied(syscall(SYS_delete_module, "sbx_probe_none", O_NONBLOCK),
			     "delete_module");
	return verdict();
}

static int a_kexec(int argc, char **argv)
{
	(void)argc, (void)argv;
	/* 17 segments is one more than KEXEC_SEGMENT_MAX: EINVAL, right after the CAP_SYS_BOOT
	 * check, and nothing is loaded or unloaded. */
	(void)must_be_denied(syscall(SYS_kexec_load, 0UL, 17UL, NULL, 0UL), "kexec_load");
	(void)must_be_denied(syscall(SYS_kexec_file_load, -1, -1, 0UL, "", 0UL), "kexec_file_load");
	return verdict();
}

static int a_reboot(int argc, char **argv)
{
	(void)argc, (void)argv;
	/* Bad magic numbers: refused with EINVAL after the CAP_SYS_BOOT check, never a reboot. */
	(void)must_be_denied(syscall(SYS_reboot, 0, 0, LINUX_REBOOT_CMD_CAD_OFF, NULL),
			     "reboot(bad magic)");
	return verdict();
}

static int a_swap(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)must_be_denied(swapon("/.sbx-probe-none", 0), "swapon");
	(void)must_be_denied(swapoff("/.sbx-probe-none"), "swapoff");
	return verdict();
}

static int a_acct(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)must_be_denied(acct("/.sbx-probe-none/acct"), "acct");
	return verdict();
}

static int iopl_child(void *arg)
{
	(void)arg;
	(void)must_fail(syscall(SYS_iopl, 3), "iopl(3)");
	(void)must_fail(syscall(SYS_ioperm, 0x80, 1, 1), "ioperm(0x80)");
	return 0;
}

static int a_iopl(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)in_child(iopl_child, NULL, ATTACK_TIMEOUT);
	return verdict();
}

static int a_settime(int argc, char **argv)
{
	struct timex tx = {.modes = ADJ_TICK, .tick = 1};

	(void)argc, (void)argv;
	/* tick=1 is out of range: EINVAL, but only after the CAP_SYS_TIME check. */
	(void)must_be_denied(adjtimex(&tx), "adjtimex(ADJ_TICK)");
	struct timespec ts;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	if (arg_inside)
		(void)must_fail(clock_settime(CLOCK_REALTIME, &ts), "clock_settime");
	return verdict();
}

static int a_sethostname(int argc, char **argv)
{
	char cur[HOST_NAME_MAX + 1], dom[256];

	(void)argc, (void)argv;
	if (gethostname(cur, sizeof(cur)) < 0)
		return fail("gethostname: %s", ename(errno));
	(void)must_fail(sethostname(cur, strlen(cur)), "sethostname(same name)");
	if (getdomainname(dom, sizeof(dom)) == 0)
		(void)must_fail(setdomainname(dom, strlen(dom)), "setdomainname(same name)");
	return verdict();
}

static int a_hostname(int argc, char **argv)
{
	char cur[HOST_NAME_MAX + 1];
	const char *host = arg_or_env(argc, argv, 1, "SBX_PROBE_HOST_HOSTNAME");

	if (gethostname(cur, sizeof(cur)) < 0)
		return fail("gethostname: %s", ename(errno));
	if (host && strcmp(cur, host) == 0)
		esc("hostname is the host's ('%s')", cur);
	if (!host && strcmp(cur, "sbx") != 0)
		esc("hostname is '%s', not the sandbox's 'sbx'", cur);
	return verdict();
}

/* ---- devices and terminals ---------------------------------------------------------- */

static int a_mknod(int argc, char **argv)
{
	const char *dirs[] = {tmp_dir(), "/", "/dev"};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (!dirs[i])
			continue;
		char p[PATH_MAX];
		(void)snprintf(p, sizeof(p), "%s/.sbx-probe-node-%d", dirs[i], getpid());
		if (mknod(p, S_IFCHR | 0600, makedev(1, 3)) == 0) {
			esc("mknod(char 1:3) in %s", dirs[i]);
			(void)unlink(p);
		}
		if (mknod(p, S_IFBLK | 0600, makedev(7, 0)) == 0) {
			esc("mknod(block 7:0) in %s", dirs[i]);
			(void)unlink(p);
		}
	}
	return verdict();
}

static int a_dev_nodes(int argc, char **argv)
{
	static const char *const allowed[] = {".",	 "..", "null",	"zero",	  "full",  "random",
					      "urandom", "fd", "stdin", "stdout", "stderr"};
	DIR *d = opendir("/dev");

	(void)argc, (void)argv;
	if (!d)
		return fail("opendir /dev: %s", ename(errno));
	for (struct dirent *de; (de = readdir(d));) {
		bool ok = false;
		for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
			ok |= strcmp(de->d_name, allowed[i]) == 0;
		if (!ok)
			esc("/dev/%s exists", de->d_name);
	}
	(void)closedir(d);
	return verdict();
}

static int a_dev_open(int argc, char **argv)
{
	static const char *const devs[] = {
	    "/dev/mem",
	    "/dev/kmem",
	    "/dev/port",
	    "/dev/kmsg",
	    "/dev/sda",
	    "/dev/vda",
	    "/dev/xvda",
	    "/dev/nvme0n1",
	    "/dev/loop0",
	    "/dev/loop-control",
	    "/dev/fuse",
	    "/dev/kvm",
	    "/dev/net/tun",
	    "/dev/console",
	    "/dev/tty0",
	    "/dev/tty1",
	    "/dev/hwrng",
	    "/dev/cpu/0/msr",
	    "/dev/btrfs-control",
	    "/dev/autofs",
	    "/dev/vhost-net",
	    "/dev/vsock",
	    "/dev/mapper/control",
	    "/dev/dri/card0",
	    "/dev/input/event0",
	    "/dev/snapshot",
	    "/dev/cpu_dma_latency",
	};

	(void)argc, (void)argv;
	/* Opened only, never read or written; /dev/watchdog is left out on purpose (opening it
	 * arms the timer). */
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
		if (open_read(devs[i], O_RDONLY, false) >= 0)
			esc("opened %s", devs[i]);
	return verdict();
}

/* Our own pty when /dev/ptmx exists: the injection target that is harmless to use. */
static int own_pty_slave(int *ret_master)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (m < 0)
		return -1;
	if (grantpt(m) < 0 || unlockpt(m) < 0) {
		(void)close(m);
		return -1;
	}
	const char *n = ptsname(m);
	int s = n ? open(n, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
	if (s < 0) {
		(void)close(m);
		return -1;
	}
	*ret_master = m;
	return s;
}

static int a_tiocsti(int argc, char **argv)
{
	char c = '\0';

	(void)argc, (void)argv;
	int m, s = own_pty_slave(&m);
	if (s >= 0) {
		if (ioctl(s, TIOCSTI, &c) == 0)
			esc("TIOCSTI into our own pty");
		(void)close(s);
		(void)close(m);
	}
	if (!arg_inside)
		return verdict();
	/* Inside, the fds and /dev/tty could be the operator's terminal: the real target. */
	for (int fd = 0; fd <= 2; fd++)
		if (ioctl(fd, TIOCSTI, &c) == 0)
			esc("TIOCSTI into fd %d", fd);
	int t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (t >= 0) {
		esc("opened /dev/tty (a controlling terminal is reachable)");
		if (ioctl(t, TIOCSTI, &c) == 0)
			esc("TIOCSTI into /dev/tty");
		(void)close(t);
	}
	return verdict();
}

/* The filter itself must refuse: on a pipe the kernel would say ENOTTY, the filter EPERM. */
static void ioctl_filtered(unsigned long req, const char *what)
{
	int p[2];
	int arg = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	long r = syscall(SYS_ioctl, p[0], req, &arg);
	int e = errno;
	if (r == 0)
		esc("%s succeeded", what);
	else if (e != EPERM)
		esc("%s reached the kernel (%s): not refused by the seccomp filter", what,
		    ename(e));
	(void)close(p[0]);
	(void)close(p[1]);
}

static int a_tiocsti_filter(int argc, char **argv)
{
	(void)argc, (void)argv;
	ioctl_filtered(TIOCSTI, "ioctl(TIOCSTI)");
	return verdict();
}

/* CVE-2019-10063: the kernel truncates the request to 32 bits, a filter comparing 64 did not. */
static int a_tiocsti_highbits(int argc, char **argv)
{
	(void)argc, (void)argv;
	ioctl_filtered(0xdead00000000UL | TIOCSTI, "ioctl(0xdead00000000|TIOCSTI)");
	ioctl_filtered(0xffffffff00000000UL | TIOCSTI, "ioctl(0xffffffff00000000|TIOCSTI)");
	int m, s = own_pty_slave(&m);
	if (s >= 0) {
		char c = '\0';
		if (syscall(SYS_ioctl, s, 0xdead00000000UL | TIOCSTI, &c) == 0)
			esc("high-bit TIOCSTI into our own pty");
		(void)close(s);
		(void)close(m);
	}
	return verdict();
}

static int a_tioclinux(int argc, char **argv)
{
	(void)argc, (void)argv;
	ioctl_filtered(TIOCLINUX, "ioctl(TIOCLINUX)");
	ioctl_filtered(0xdead00000000UL | TIOCLINUX, "ioctl(0xdead00000000|TIOCLINUX)");
	return verdict();
}

/* ---- foreign syscall ABIs ----------------------------------------------------------- */

static int x32_child(void *arg)
{
	(void)arg;
	long r = syscall(0x40000000L | 39 /* x32 getpid */);
	note("x32 getpid returned %ld (%s)", r, r < 0 ? ename(errno) : "ok");
	return 0;
}

static int int80_child(void *arg)
{
	long r;

	(void)arg;
	/* i386 getpid (20) through the 32-bit entry point. */
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory", "rcx", "r11");
	note("int $0x80 getpid returned %ld", r);
	return 0;
}

static int judge_abi(int (*fn)(void *), const char *what)
{
	int st = in_child(fn, NULL, ATTACK_TIMEOUT);

	if (st < 0)
		return fail("fork: %s", ename(errno));
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		return verdict();
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) {
		note("%s: SIGSEGV (the kernel has no such ABI)", what);
		return verdict();
	}
	if (WIFEXITED(st))
		esc("%s ran instead of killing the process", what);
	else
		esc("%s: child died by %s, not SIGSYS", what, sigabbrev_np(WTERMSIG(st)) ?: "?");
	return verdict();
}

static int a_x32(int argc, char **argv)
{
	(void)argc, (void)argv;
	return judge_abi(x32_child, "x32 syscall");
}

static int a_int80(int argc, char **argv)
{
	(void)argc, (void)argv;
	return judge_abi(int80_child, "int $0x80");
}

static int personality_child(void *arg)
{
	(void)arg;
	if (personality(READ_IMPLIES_EXEC) != -1)
		esc("personality(READ_IMPLIES_EXEC)");
	if (personality(ADDR_NO_RANDOMIZE) != -1)
		esc("personality(ADDR_NO_RANDOMIZE)");
	if (personality(PER_LINUX32 | ADDR_COMPAT_LAYOUT) != -1)
		esc("personality(PER_LINUX32|ADDR_COMPAT_LAYOUT)");
	return 0;
}

static int a_personality(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)in_child(personality_child, NULL, ATTACK_TIMEOUT);
	return verdict();
}

static int a_fanotify(int argc, char **argv)
{
	(void)argc, (void)argv;
	int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY);
	if (!must_fail(fd, "fanotify_init"))
		(void)close(fd);
	return verdict();
}

/* ---- the file system ---------------------------------------------------------------- */

static bool is_refusal(int e)
{
	return e == EROFS || e == EACCES || e == EPERM;
}

/* Creates and removes a file and a directory in dir; records an escape when either works. */
static void try_write_dir(const char *dir)
{
	char p[PATH_MAX];

	(void)snprintf(p, sizeof(p), "%s/.sbx-probe-%d", dir, getpid());
	int fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd >= 0) {
		(void)close(fd);
		(void)unlink(p);
		esc("created a file in %s", dir);
	} else if (!is_refusal(errno) && errno != ENOENT) {
		note("create in %s: %s", dir, ename(errno));
	}
	if (mkdir(p, 0700) == 0) {
		(void)rmdir(p);
		esc("created a directory in %s", dir);
	}
}

static int a_ro_binds(int argc, char **argv)
{
	const char *dirs[] = {"/usr", "/usr/bin", "/usr/lib", "/etc",	"/bin",
			      "/lib", "/lib64",	  "/sbin",    probe_dir};
	static const char *const files[] = {"/etc/hosts", "/etc/passwd", "/usr/bin/env", "/bin/sh"};
	size_t tried = 0;

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (access(dirs[i], F_OK) != 0)
			continue;
		tried++;
		try_write_dir(dirs[i]);
	}
	for (int i = 1; i < argc; i++)
		try_write_dir(argv[i]);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct stat st;
		if (stat(files[i], &st) < 0)
			continue;
		tried++;
		if (open_read(files[i], O_WRONLY, false) >= 0)
			esc("opened %s for writing", files[i]);
		if (chmod(files[i], st.st_mode & 07777) == 0)
			esc("chmod %s", files[i]);
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		int fd = open(self, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			esc("opened our own binary %s for writing", self);
			(void)close(fd);
		}
	}
	if (!tried)
		return skip("no read-only bind found");
	return verdict();
}

static int a_root_writable(int argc, char **argv)
{
	(void)argc, (void)argv;
	try_write_dir("/");
	return verdict();
}

static int a_link_ro(int argc, char **argv)
{
	static const char *const files[] = {"/usr/bin/env", "/etc/hosts", "/bin/sh"};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (access(files[i], F_OK) != 0)
			continue;
		char dir[PATH_MAX], l[PATH_MAX + 64];
		(void)snprintf(dir, sizeof(dir), "%s", files[i]);
		*strrchr(dir, '/') = '\0';
		(void)snprintf(l, sizeof(l), "%s/.sbx-probe-link-%d", dir, getpid());
		if (link(files[i], l) == 0) {
			esc("hard link to %s inside its read-only mount", files[i]);
			(void)unlink(l);
		}
		if (symlink("/", l) == 0) {
			esc("symlink in %s", dir);
			(void)unlink(l);
		}
		const char *t = tmp_dir();
		if (t) {
			(void)snprintf(l, sizeof(l), "%s/.sbx-probe-link-%d", t, getpid());
			if (link(files[i], l) == 0) {
				/* Across mounts this cannot work; if it does, the file is no longer
				 * protected by the read-only mount. */
				esc("hard link to %s in %s", files[i], t);
				(void)unlink(l);
			}
		}
	}
	return verdict();
}

/* runc CVE-2024-21626: a cwd or fd that resolves outside the root. */
static int a_cwd(int argc, char **argv)
{
	char buf[PATH_MAX];
	struct stat root, cur, prev = {0};

	(void)argc, (void)argv;
	if (!getcwd(buf, sizeof(buf)))
		esc("getcwd failed (%s): cwd is outside the root", ename(errno));
	else if (buf[0] != '/')
		esc("cwd is '%s', outside the root", buf);
	if (stat("/", &root) < 0)
		return fail("stat /: %s", ename(errno));
	int fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return verdict();
	bool reached = false;
	for (int i = 0; i < 256; i++) {
		if (fstat(fd, &cur) < 0)
			break;
		if (cur.st_dev == root.st_dev && cur.st_ino == root.st_ino) {
			reached = true;
			break;
		}
		if (i > 0 && cur.st_dev == prev.st_dev && cur.st_ino == prev.st_ino)
			break; /* a fixed point that is not our root: outside it */
		prev = cur;
		int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		(void)close(fd);
		fd = up;
		if (fd < 0)
			break;
	}
	if (fd >= 0)
		(void)close(fd);
	if (!reached)
		esc("walking '..' up from the cwd never reaches our root");
	return verdict();
}

static int a_root_dotdot(int argc, char **argv)
{
	struct stat root, up;

	(void)argc, (void)argv;
	if (stat("/", &root) < 0 || chdir("/") < 0 || chdir("..") < 0 || chdir("../..") < 0)
		return fail("chdir: %s", ename(errno));
	if (stat(".", &up) < 0)
		return fail("stat: %s", ename(errno));
	if (up.st_dev != root.st_dev || up.st_ino != root.st_ino)
		esc("'..' from / leads somewhere else");
	if (stat("/..", &up) == 0 && (up.st_dev != root.st_dev || up.st_ino != root.st_ino))
		esc("'/..' is not '/'");
	return verdict();
}

/* What was open when the probe started: anything above 2 was inherited. */
static void record_start_fds(void)
{
	DIR *d = opendir("/proc/self/fd");

	if (!d)
		return;
	int self = dirfd(d);
	for (struct dirent *de; (de = readdir(d));) {
		if (!is_pid_name(de->d_name))
			continue;
		int fd = atoi(de->d_name);
		if (fd != self && n_start_fds < sizeof(start_fds) / sizeof(start_fds[0]))
			start_fds[n_start_fds++] = fd;
	}
	(void)closedir(d);
}

static int a_fd_leak(int argc, char **argv)
{
	(void)argc, (void)argv;
	for (size_t i = 0; i < n_start_fds; i++) {
		int fd = start_fds[i];
		char p[64], t[PATH_MAX];
		(void)snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(p, t, sizeof(t) - 1);
		t[n > 0 ? n : 0] = '\0';
		struct stat st;
		bool dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
		if (fd > 2)
			esc("fd %d inherited (%s)", fd, n > 0 ? t : "?");
		else if (dir)
			esc("fd %d is a directory (%s): openat(fd, \"..\") leaves the root", fd, t);
	}
	return verdict();
}

static int a_env_leak(int argc, char **argv)
{
	static const char *const names[] = {
	    "SBX_TEST_HOST_CANARY",
	    "SSH_AUTH_SOCK",
	    "SSH_CONNECTION",
	    "SSH_CLIENT",
	    "SUDO_USER",
	    "SUDO_COMMAND",
	    "DBUS_SESSION_BUS_ADDRESS",
	    "XDG_RUNTIME_DIR",
	    "LD_PRELOAD",
	    "LD_LIBRARY_PATH",
	    "INVOCATION_ID",
	    "NOTIFY_SOCKET",
	    "LISTEN_FDS",
	    "CREDENTIALS_DIRECTORY",
	    "SBX_MASTER_KEY",
	    "SBX_KEYRING",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (getenv(names[i]))
			esc("%s is set", names[i]);
	for (int i = 1; i < argc; i++)
		if (getenv(argv[i]))
			esc("%s is set", argv[i]);
	return verdict();
}

static int a_session(int argc, char **argv)
{
	(void)argc, (void)argv;
	pid_t sid = getsid(0);
	if (sid == 0)
		esc("our session leader is outside the pid namespace (no setsid)");
	int t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (t >= 0) {
		esc("/dev/tty opens: a controlling terminal is reachable");
		(void)close(t);
	}
	return verdict();
}

static int a_ipc_ns(int argc, char **argv)
{
	static const char *const files[] = {"/proc/sysvipc/shm", "/proc/sysvipc/msg",
					    "/proc/sysvipc/sem"};
	char buf[8192];

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (read_file(files[i], buf, sizeof(buf)) <= 0)
			continue;
		char *nl = strchr(buf, '\n');
		if (nl && nl[1])
			esc("%s lists objects we did not create", files[i]);
	}
	return verdict();
}

/* ---- resource limits ---------------------------------------------------------------- */

#define FORKBOMB_MAX	 10000
#define MEMHOG_MAX_MIB	 2048
#define DISKFILL_MAX_MIB 1024

static int a_forkbomb(int argc, char **argv)
{
	int max = argc > 1 ? atoi(argv[1]) : FORKBOMB_MAX;
	pid_t *pids = calloc((size_t)max, sizeof(pid_t));
	int n = 0, err = 0;

	if (!pids)
		return fail("calloc");
	for (; n < max; n++) {
		pid_t p = fork();
		if (p == 0) {
			(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
			(void)alarm(LONG_TIMEOUT);
			for (;;)
				(void)pause();
		}
		if (p < 0) {
			err = errno;
			break;
		}
		pids[n] = p;
	}
	for (int i = 0; i < n; i++)
		(void)kill(pids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		(void)waitpid(pids[i], NULL, 0);
	free(pids);
	if (n >= max)
		esc("forked %d processes without hitting a limit", n);
	else
		note("fork failed after %d processes: %s", n, ename(err));
	return verdict();
}

static int a_memhog(int argc, char **argv)
{
	long max = argc > 1 ? atol(argv[1]) : MEMHOG_MAX_MIB;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return fail("pipe: %s", ename(errno));
	pid_t c = fork();
	if (c < 0)
		return fail("fork: %s", ename(errno));
	if (c == 0) {
		(void)close(p[0]);
		for (long mib = 0; mib < max; mib += 16) {
			char *m = mmap(NULL, 16UL << 20, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m == MAP_FAILED)
				_exit(3);
			for (size_t off = 0; off < (16UL << 20); off += 4096)
				m[off] = (char)(off | 1);
			long done = mib + 16;
			(void)write(p[1], &done, sizeof(done));
		}
		_exit(0);
	}
	(void)close(p[1]);
	long got = 0, v;
	while (read(p[0], &v, sizeof(v)) == (ssize_t)sizeof(v))
		got = v;
	(void)close(p[0]);
	int st;
	(void)waitpid(c, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		esc("touched %ld MiB without being stopped", got);
	else if (WIFSIGNALED(st))
		note("hog killed by %s after %ld MiB", sigabbrev_np(WTERMSIG(st)) ?: "?", got);
	else
		note("allocation failed after %ld MiB", got);
	return verdict();
}

static int a_diskfill(int argc, char **argv)
{
	long max = argc > 1 ? atol(argv[1]) : DISKFILL_MAX_MIB;
	const char *t = tmp_dir();
	static char buf[1 << 20];
	char p[PATH_MAX];

	if (!t)
		return skip("no writable directory");
	(void)signal(SIGXFSZ, SIG_IGN);
	memset(buf, 'x', sizeof(buf));
	(void)snprintf(p, sizeof(p), "%s/.sbx-probe-fill-%d", t, getpid());
	int fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return skip("cannot create %s: %s", p, ename(errno));
	long mib = 0;
	int err = 0;
	while (mib < max) {
		ssize_t n = write(fd, buf, sizeof(buf));
		if (n < 0) {
			err = errno;
			break;
		}
		if (n < (ssize_t)sizeof(buf)) {
			err = ENOSPC;
			break;
		}
		mib++;
	}
	(void)close(fd);
	(void)unlink(p);
	if (mib >= max)
		esc("wrote %ld MiB to %s without hitting a limit", mib, t);
	else
		note("stopped after %ld MiB in %s: %s", mib, t, ename(err));
	return verdict();
}

/* Not an attack by itself: a payload that tries to outlive its sandbox (detached, in its own
 * session, deaf to the polite signals). The host test kills the supervisor and then looks for
 * any process whose command line carries TOKEN. */
static int a_linger(int argc, char **argv)
{
	int secs = argc > 2 ? atoi(argv[2]) : 60;

	if (argc < 2)
		return fail("usage: probe linger TOKEN [SECONDS]");
	(void)signal(SIGTERM, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGINT, SIG_IGN);
	pid_t c = fork();
	if (c == 0) {
		(void)setsid();
		if (fork() == 0) {
			(void)prctl(PR_SET_PDEATHSIG, 0);
			(void)alarm((unsigned)secs);
			for (;;)
				(void)pause();
		}
		_exit(0);
	}
	(void)waitpid(c, NULL, 0);
	(void)printf("lingering %s\n", argv[1]);
	(void)fflush(stdout);
	(void)alarm((unsigned)secs);
	for (;;)
		(void)pause();
}

/* ---- facts -------------------------------------------------------------------------- */

static int count_lines(const char *path)
{
	static char buf[65536];
	int n = 0;

	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	for (char *c = buf; *c; c++)
		n += *c == '\n';
	return n;
}

static int facts(void)
{
	char v[256], host[HOST_NAME_MAX + 1] = "?";
	uid_t r, e, s;
	gid_t rg, eg, sg, g[64];

	(void)getresuid(&r, &e, &s);
	(void)getresgid(&rg, &eg, &sg);
	int ng = getgroups(64, g);
	(void)gethostname(host, sizeof(host));
	(void)printf("pid        %d (parent %d)\n", getpid(), getppid());
	(void)printf("uid        %u/%u/%u  gid %u/%u/%u  groups", r, e, s, rg, eg, sg);
	for (int i = 0; i < ng; i++)
		(void)printf(" %u", g[i]);
	(void)printf(ng > 0 ? "\n" : " none\n");
	(void)printf("caps      ");
	static const char *const sets[] = {"CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"};
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		status_field("self", sets[i], v, sizeof(v));
		(void)printf(" %s=%llx", sets[i] + 3, hexval(v));
	}
	(void)printf("\n");
	status_field("self", "NoNewPrivs", v, sizeof(v));
	(void)printf("nnp        %s", v);
	status_field("self", "Seccomp", v, sizeof(v));
	(void)printf("  seccomp %s (0 off, 2 filter)\n", v);
	(void)printf("hostname   %s\n", host);

	char dev[8192];
	(void)printf("net       ");
	if (read_file("/proc/net/dev", dev, sizeof(dev)) > 0) {
		int line = 0;
		for (char *l = strtok(dev, "\n"); l; l = strtok(NULL, "\n")) {
			char *colon = strchr(l, ':');
			if (line++ < 2 || !colon)
				continue;
			*colon = '\0';
			while (*l == ' ')
				l++;
			(void)printf(" %s", l);
		}
	}
	(void)printf("\n");
	int npids = 0;
	(void)scan_pids(NULL, 0, &npids);
	(void)printf("processes  %d visible in /proc\n", npids);
	(void)printf("mounts     %d\n", count_lines("/proc/self/mounts"));
	(void)printf("open fds  ");
	for (size_t i = 0; i < n_start_fds; i++)
		(void)printf(" %d", start_fds[i]);
	(void)printf("\n");
	struct rlimit rl;
	if (getrlimit(RLIMIT_CORE, &rl) == 0)
		(void)printf("core limit %llu\n", (unsigned long long)rl.rlim_cur);
	if (getcwd(v, sizeof(v)))
		(void)printf("cwd        %s\n", v);
	return 0;
}

/* ---- the table ---------------------------------------------------------------------- */

static const struct attack attacks[] = {
    {"pid-ns", a_pid_ns, 0, "/proc shows only a handful of pids, none of the host's"},
    {"signal-init", a_signal_init, 0, "signal pid 1 (real signals only --inside)"},
    {"net-ifaces", a_net_ifaces, 0, "only lo in /proc/net/dev"},
    {"tcp-host", a_tcp_host, 0, "connect to the host's 127.0.0.1:PORT (arg or SBX_PROBE_TCP_PORT)"},
    {"abstract-host", a_abstract_host, 0, "connect to the host's abstract socket @NAME"},
    {"unix-connect", a_unix_connect, 0, "connect to /run/sbx/sbxd.sock, dbus, docker, [PATH...]"},
    {"net-external", a_net_external, 0, "a route to any outside address"},
    {"net-raw", a_net_raw, 0, "raw and packet sockets"},
    {"net-admin", a_net_admin, 0, "SIOCSIFFLAGS on lo"},
    {"net-bind-low", a_net_bind_low, 0, "bind a privileged port"},
    {"vsock", a_vsock, 0, "AF_VSOCK sockets refused [PORT: also connect to the VM host]"},
    {"caps", a_caps, 0, "all five capability sets empty"},
    {"no-new-privs", a_no_new_privs, 0, "no_new_privs set"},
    {"seccomp-mode", a_seccomp_mode, 0, "a seccomp filter is loaded"},
    {"uid-pool", a_uid_pool, 0, "uids and gids inside the pool [LO HI]"},
    {"groups", a_groups, 0, "no supplementary groups"},
    {"setuid-root", a_setuid_root, 0, "setuid/setgid/setgroups to root or another uid"},
    {"capset", a_capset, 0, "capset, ambient raise, securebits"},
    {"chown-root", a_chown_root, 0, "chown to root, setuid bit, file capabilities"},
    {"nice-raise", a_nice_raise, 0, "negative nice, SCHED_FIFO"},
    {"rlimits", a_rlimits, 0, "RLIMIT_CORE 0, hard limits cannot be raised"},
    {"dumpable", a_dumpable, 0, "init is not ours to inspect"},
    {"mount-tmpfs", a_mount_tmpfs, 0, "mount a tmpfs"},
    {"mount-bind", a_mount_bind, 0, "bind-mount / and /proc"},
    {"mount-proc", a_mount_proc, 0, "mount proc, sysfs, cgroup"},
    {"mount-api", a_mount_api, 0, "fsopen, open_tree, fspick"},
    {"remount-rw", a_remount_rw, 0, "make a read-only mount writable [PATH...]"},
    {"umount", a_umount, 0, "umount2 (real unmounts only --inside)"},
    {"pivot-root", a_pivot_root, 0, "pivot_root"},
    {"chroot", a_chroot, 0, "chroot"},
    {"mount-flags", a_mount_flags, 0, "every mount nosuid, nodev outside /dev"},
    {"unshare-user", a_unshare_user, 0, "unshare(CLONE_NEWUSER)"},
    {"unshare-mnt", a_unshare_mnt, 0, "unshare(CLONE_NEWNS)"},
    {"unshare-pid", a_unshare_pid, 0, "unshare(CLONE_NEWPID)"},
    {"unshare-net", a_unshare_net, 0, "unshare(CLONE_NEWNET)"},
    {"unshare-uts", a_unshare_uts, 0, "unshare(CLONE_NEWUTS)"},
    {"unshare-ipc", a_unshare_ipc, 0, "unshare(CLONE_NEWIPC)"},
    {"unshare-cgroup", a_unshare_cgroup, 0, "unshare(CLONE_NEWCGROUP)"},
    {"unshare-time", a_unshare_time, 0, "unshare(CLONE_NEWTIME)"},
    {"setns-self", a_setns_self, 0, "setns on /proc/self/ns/*"},
    {"setns-init", a_setns_init, 0, "open /proc/1/ns/*, setns, pidfd setns"},
    {"clone-newuser", a_clone_newuser, 0, "clone(CLONE_NEWUSER)"},
    {"clone-newns", a_clone_newns, 0, "clone(CLONE_NEWNS), clone(NEWNET|NEWPID)"},
    {"clone3", a_clone3, 0, "clone3 must give ENOSYS"},
    {"ptrace-init", a_ptrace_init, 0, "PTRACE_SEIZE (and --inside ATTACH) pid 1"},
    {"ptrace-child", a_ptrace_child, 0, "ptrace our own child, PTRACE_TRACEME"},
    {"process-vm", a_process_vm, 0, "process_vm_readv/writev on a child and pid 1"},
    {"proc-init-environ", a_proc_init_environ, 0, "open /proc/1/environ"},
    {"proc-init-mem", a_proc_init_mem, 0, "open /proc/1/mem"},
    {"proc-init-maps", a_proc_init_maps, 0, "read /proc/1/maps, smaps, pagemap"},
    {"proc-init-links", a_proc_init_links, 0, "readlink /proc/1/root, cwd, exe"},
    {"proc-init-fd", a_proc_init_fd, 0, "/proc/1/fd/*, pidfd_getfd"},
    {"proc-init-misc", a_proc_init_misc, 0, "/proc/1/auxv, stack, syscall, ..."},
    {"proc-kernel", a_proc_kernel, 0, "/proc/kcore, kallsyms addresses, sysrq-trigger"},
    {"dmesg", a_dmesg, 0, "syslog(2), /dev/kmsg, /proc/kmsg"},
    {"proc-sys-write", a_proc_sys_write, 0, "open /proc/sys files for writing"},
    {"sys-write", a_sys_write, 0, "open /sys files for writing (uevent_helper, release_agent)"},
    {"keyctl", a_keyctl, 0, "keyctl"},
    {"add-key", a_add_key, 0, "add_key"},
    {"request-key", a_request_key, 0, "request_key"},
    {"bpf", a_bpf, 0, "bpf map and program"},
    {"perf-event-open", a_perf_event_open, 0, "perf_event_open on ourselves"},
    {"io-uring", a_io_uring, 0, "io_uring_setup"},
    {"userfaultfd", a_userfaultfd, 0, "userfaultfd, /dev/userfaultfd"},
    {"name-to-handle", a_name_to_handle, 0, "name_to_handle_at"},
    {"open-by-handle", a_open_by_handle, 0, "open_by_handle_at (shocker)"},
    {"kernel-modules", a_kernel_modules, 0, "init_module, finit_module, delete_module"},
    {"kexec", a_kexec, 0, "kexec_load, kexec_file_load"},
    {"reboot", a_reboot, 0, "reboot"},
    {"swap", a_swap, 0, "swapon, swapoff"},
    {"acct", a_acct, 0, "acct"},
    {"iopl", a_iopl, 0, "iopl, ioperm"},
    {"settime", a_settime, 0, "adjtimex, clock_settime"},
    {"sethostname", a_sethostname, 0, "sethostname, setdomainname"},
    {"hostname", a_hostname, 0, "hostname is not the host's [HOST]"},
    {"mknod", a_mknod, 0, "mknod a device"},
    {"dev-nodes", a_dev_nodes, 0, "/dev holds only null zero full random urandom"},
    {"dev-open", a_dev_open, 0, "open /dev/mem, kmsg, disks, ..."},
    {"tiocsti", a_tiocsti, 0, "TIOCSTI into a terminal (fds 0-2 and /dev/tty --inside)"},
    {"tiocsti-filter", a_tiocsti_filter, 0, "the filter refuses TIOCSTI"},
    {"tiocsti-highbits", a_tiocsti_highbits, 0, "TIOCSTI with high bits set (CVE-2019-10063)"},
    {"tioclinux", a_tioclinux, 0, "the filter refuses TIOCLINUX"},
    {"x32", a_x32, 0, "an x32 syscall kills the process"},
    {"int80", a_int80, 0, "an i386 int $0x80 syscall kills the process"},
    {"personality", a_personality, 0, "personality(READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE)"},
    {"fanotify", a_fanotify, 0, "fanotify_init"},
    {"ro-binds", a_ro_binds, 0, "write under /usr, /etc, /bin, the probe's dir [DIR...]"},
    {"root-writable", a_root_writable, 0, "write in /"},
    {"link-ro", a_link_ro, 0, "hard and symbolic links in read-only binds"},
    {"cwd", a_cwd, 0, "the cwd is inside the root (CVE-2024-21626)"},
    {"root-dotdot", a_root_dotdot, 0, "'..' from / stays /"},
    {"fd-leak", a_fd_leak, 0, "no inherited fd above 2, no directory fd"},
    {"env-leak", a_env_leak, 0, "no host environment [NAME...]"},
    {"session", a_session, 0, "own session, no controlling terminal"},
    {"ipc-ns", a_ipc_ns, 0, "no foreign SysV IPC objects"},
    {"forkbomb", a_forkbomb, F_DANGER | F_LONG, "fork until refused [MAX]"},
    {"memhog", a_memhog, F_DANGER | F_LONG, "touch memory until stopped [MAX_MIB]"},
    {"diskfill", a_diskfill, F_DANGER | F_LONG, "write /tmp until stopped [MAX_MIB]"},
    {"kill-all", a_kill_all, F_SELF, "kill(-1) reaches nobody (SIGKILL only --inside)"},
    {"linger", a_linger, F_DANGER | F_NOALL, "outlive the sandbox: TOKEN [SECONDS]"},
};

#define N_ATTACKS (sizeof(attacks) / sizeof(attacks[0]))

static const struct attack *find_attack(const char *name)
{
	for (size_t i = 0; i < N_ATTACKS; i++)
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

	sh->escaped = 0;
	sh->detail[0] = '\0';
	if ((a->flags & F_DANGER) && !arg_inside) {
		r = fail(
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
			return fail("fork: %s", ename(errno));
		if (pid == 0) {
			(void)alarm(a->flags & F_LONG ? LONG_TIMEOUT : ATTACK_TIMEOUT);
			_exit(a->fn(argc, argv));
		}
		int st;
		while (waitpid(pid, &st, 0) < 0)
			if (errno != EINTR)
				return fail("waitpid: %s", ename(errno));
		if (WIFEXITED(st)) {
			r = WEXITSTATUS(st);
			if (r != R_BLOCKED && r != R_ESCAPED && r != R_SKIP)
				r = R_ERROR;
		} else if (WTERMSIG(st) == SIGALRM) {
			r = fail("timed out");
		} else if (WTERMSIG(st) == SIGSYS) {
			/* The filter killed the attacker: as blocked as it gets. */
			note("killed by SIGSYS");
			r = sh->escaped ? R_ESCAPED : R_BLOCKED;
		} else if (WTERMSIG(st) == SIGKILL && (a->flags & F_LONG)) {
			note("killed by SIGKILL (a limit)");
			r = sh->escaped ? R_ESCAPED : R_BLOCKED;
		} else {
			r = fail("attack died by %s", sigabbrev_np(WTERMSIG(st)) ?: "?");
		}
	}
	if (r == R_BLOCKED && sh->escaped)
		r = R_ESCAPED;
	if (sh->detail[0])
		(void)printf("%s %s: %s\n", label(r), a->name, sh->detail);
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
		for (size_t i = 0; i < N_ATTACKS; i++) {
			const struct attack *a = &attacks[i];
			if ((a->flags & F_NOALL) || !!(a->flags & F_SELF) != (pass == 1))
				continue;
			if ((a->flags & F_DANGER) && !arg_inside) {
				(void)printf("SKIP %s: dangerous, only with --inside\n", a->name);
				continue;
			}
			none[0] = (char *)a->name;
			int r = run_attack(a, 1, none);
			escaped += r == R_ESCAPED;
			errors += r == R_ERROR;
		}
	(void)printf("%d escaped, %d errors, %zu attacks\n", escaped, errors, N_ATTACKS);
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

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
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
	arg_inside = env && strcmp(env, "1") == 0;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--inside"))
			arg_inside = true;
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
		for (size_t k = 0; k < N_ATTACKS; k++)
			(void)printf("%-18s %s%s\n", attacks[k].name, attacks[k].help,
				     attacks[k].flags & F_DANGER ? " [--inside only]" : "");
		return 0;
	}
	if (!strcmp(cmd, "facts"))
		return facts();
	if (!strcmp(cmd, "all"))
		return run_all();
	const struct attack *a = find_attack(cmd);
	if (!a) {
		(void)fprintf(stderr, "probe: unknown attack '%s' (probe list)\n", cmd);
		return R_ERROR;
	}
	return run_attack(a, argc - i, argv + i);
}
