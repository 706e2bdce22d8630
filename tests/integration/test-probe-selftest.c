/* SPDX-License-Identifier: MIT */
/*
 * The escape probe tested on its own: run outside any sandbox as root, with every capability,
 * each attack must report ESCAPED (exit 1). That shows each detector detects, so a BLOCKED
 * inside a sandbox means something. Only the attacks that are harmless on a host run here
 * (the probe refuses the others without --inside), and none that touches the host's pid 1.
 * Under bwrap with comparable isolation the namespace attacks must turn to BLOCKED, which
 * shows the detectors do not cry wolf either.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <criterion/criterion.h>

#include "harness.h"

#define PROBE_TIMEOUT_MS 60000

static const char *probe_path(void)
{
	static char buf[4096];

	return sbx_test_build_path_r("tests/probe", buf, sizeof(buf));
}

static void require_probe(void)
{
	sbx_test_require_root();
	sbx_test_require_file(probe_path());
}

/* Runs the probe unsandboxed with argv (NULL-terminated) and the given environment. */
static void run_probe(struct sbx_test_run *r, char *const *args, char *const *envp)
{
	char *argv[16];
	size_t n = 0;

	argv[n++] = (char *)probe_path();
	for (; args[n - 1] && n < 15; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	cr_assert(sbx_test_run(argv, envp, NULL, 0, PROBE_TIMEOUT_MS, r) == 0, "cannot run %s",
		  argv[0]);
}

static void assert_escaped(const char *attack, char *const *extra, char *const *envp)
{
	char *args[8] = {(char *)attack};
	size_t n = 1;

	for (; extra && extra[n - 1] && n < 7; n++)
		args[n] = extra[n - 1];
	args[n] = NULL;
	struct sbx_test_run r;
	run_probe(&r, args, envp);
	if (r.code != 1)
		sbx_test_run_dump(attack, &r);
	cr_expect(r.code == 1, "probe %s unsandboxed as root: exit %d, want 1 (ESCAPED)", attack,
		  r.code);
	char want[128];
	(void)snprintf(want, sizeof(want), "ESCAPED %s:", attack);
	cr_expect(sbx_test_contains(r.out, want), "no '%s' line in: %s", want, r.out);
	sbx_test_run_done(&r);
}

/* Attacks whose detector must fire on a root shell of this host without extra setup. */
static const char *const host_escapes[] = {
    "pid-ns",
    "net-ifaces",
    "net-external",
    "net-raw",
    "net-admin",
    "net-bind-low",
    "vsock",
    "caps",
    "no-new-privs",
    "seccomp-mode",
    "uid-pool",
    "setuid-root",
    "capset",
    "chown-root",
    "nice-raise",
    "rlimits",
    "mount-tmpfs",
    "mount-bind",
    "mount-proc",
    "mount-api",
    "umount",
    "pivot-root",
    "chroot",
    "mount-flags",
    "unshare-user",
    "unshare-mnt",
    "unshare-pid",
    "unshare-net",
    "unshare-uts",
    "unshare-ipc",
    "unshare-cgroup",
    "unshare-time",
    "setns-self",
    "clone-newuser",
    "clone-newns",
    "clone3",
    "ptrace-child",
    "process-vm",
    "proc-kernel",
    "dmesg",
    "proc-sys-write",
    "sys-write",
    "keyctl",
    "add-key",
    "request-key",
    "bpf",
    "perf-event-open",
    "io-uring",
    "userfaultfd",
    "name-to-handle",
    "open-by-handle",
    "reboot",
    "swap",
    "acct",
    "settime",
    "sethostname",
    "hostname",
    "mknod",
    "dev-nodes",
    "dev-open",
    "tiocsti",
    "tiocsti-filter",
    "tiocsti-highbits",
    "tioclinux",
    "x32",
    "int80",
    "personality",
    "fanotify",
    "ro-binds",
    "root-writable",
    "link-ro",
    "kill-all",
};

Test(probe, detectors_fire_unsandboxed, .timeout = 600)
{
	require_probe();
	size_t n = sizeof(host_escapes) / sizeof(host_escapes[0]);
	for (size_t i = 0; i < n; i++)
		assert_escaped(host_escapes[i], NULL, NULL);
}

Test(probe, fd_leak_detected, .timeout = 60)
{
	require_probe();
	int fd = open("/dev/null", O_RDONLY); /* deliberately inherited */
	cr_assert(fd > 2);
	assert_escaped("fd-leak", NULL, NULL);
	(void)close(fd);
}

Test(probe, env_leak_detected, .timeout = 60)
{
	char *envp[] = {"PATH=/usr/bin:/bin", "SBX_TEST_HOST_CANARY=leaked", NULL};

	require_probe();
	assert_escaped("env-leak", NULL, envp);
}

Test(probe, ipc_ns_detected, .timeout = 60)
{
	require_probe();
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	cr_assert(id >= 0, "shmget: %s", strerror(errno));
	assert_escaped("ipc-ns", NULL, NULL);
	(void)shmctl(id, IPC_RMID, NULL);
}

static int tcp_listener(int *ret_port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*ret_port = ntohs(a.sin_port);
	return fd;
}

Test(probe, tcp_host_detected, .timeout = 60)
{
	int port;
	char ps[16];

	require_probe();
	int fd = tcp_listener(&port);
	cr_assert(fd >= 0);
	(void)snprintf(ps, sizeof(ps), "%d", port);
	char *extra[] = {ps, NULL};
	assert_escaped("tcp-host", extra, NULL);
	(void)close(fd);
}

static int unix_listener(const char *name, bool abstract)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || n + 2 > sizeof(a.sun_path))
		return -1;
	memcpy(a.sun_path + (abstract ? 1 : 0), name, n);
	socklen_t len =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (abstract ? 1 : 0));
	if (bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, 16) < 0)
		return -1;
	return fd;
}

Test(probe, abstract_host_detected, .timeout = 60)
{
	char name[64];

	require_probe();
	(void)snprintf(name, sizeof(name), "sbx-test-probe-%d", getpid());
	int fd = unix_listener(name, true);
	cr_assert(fd >= 0);
	char *extra[] = {name, NULL};
	assert_escaped("abstract-host", extra, NULL);
	(void)close(fd);
}

Test(probe, unix_connect_detected, .timeout = 60)
{
	require_probe();
	char *dir = sbx_test_mkdtemp("probe-sock");
	cr_assert(dir);
	char path[256];
	(void)snprintf(path, sizeof(path), "%s/sbxd.sock", dir);
	int fd = unix_listener(path, false);
	cr_assert(fd >= 0);
	char *extra[] = {path, NULL};
	assert_escaped("unix-connect", extra, NULL);
	(void)close(fd);
	(void)sbx_test_rm_rf(dir);
	free(dir);
}

/* A read-only bind mount of our own, which the probe must manage to make writable. */
Test(probe, remount_rw_detected, .timeout = 60)
{
	require_probe();
	char *dir = sbx_test_mkdtemp("probe-ro");
	cr_assert(dir);
	cr_assert(mount(dir, dir, NULL, MS_BIND, NULL) == 0, "bind: %s", strerror(errno));
	cr_assert(mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0);
	char *extra[] = {dir, NULL};
	assert_escaped("remount-rw", extra, NULL);
	(void)umount2(dir, MNT_DETACH);
	(void)sbx_test_rm_rf(dir);
	free(dir);
}

/* The detectors must not fire where nothing is wrong. */
Test(probe, sane_host_checks_pass, .timeout = 60)
{
	static const char *const fine[] = {"cwd", "root-dotdot"};

	require_probe();
	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
		char *args[] = {(char *)fine[i], NULL};
		struct sbx_test_run r;
		run_probe(&r, args, NULL);
		if (r.code != 0)
			sbx_test_run_dump(fine[i], &r);
		cr_expect(r.code == 0, "probe %s on the host: exit %d, want 0", fine[i], r.code);
		sbx_test_run_done(&r);
	}
}

Test(probe, dangerous_attacks_refuse_outside, .timeout = 60)
{
	static const char *const danger[] = {"forkbomb", "memhog", "diskfill", "linger"};

	require_probe();
	for (size_t i = 0; i < sizeof(danger) / sizeof(danger[0]); i++) {
		char *args[] = {(char *)danger[i], "x", NULL};
		struct sbx_test_run r;
		run_probe(&r, args, NULL);
		cr_expect(r.code == 2, "probe %s without --inside: exit %d, want 2", danger[i],
			  r.code);
		cr_expect(sbx_test_contains(r.out, "refusing"), "no refusal in: %s", r.out);
		sbx_test_run_done(&r);
	}
}

Test(probe, list_and_usage, .timeout = 60)
{
	struct sbx_test_run r;

	sbx_test_require_file(probe_path());
	char *list[] = {"list", NULL};
	run_probe(&r, list, NULL);
	cr_assert(r.code == 0);
	size_t lines = 0;
	for (const char *c = r.out; *c; c++)
		lines += *c == '\n';
	cr_expect(lines >= 90, "only %zu attacks listed", lines);
	sbx_test_run_done(&r);

	char *bogus[] = {"no-such-attack", NULL};
	run_probe(&r, bogus, NULL);
	cr_expect(r.code == 2);
	sbx_test_run_done(&r);

	char *facts[] = {"facts", NULL};
	run_probe(&r, facts, NULL);
	cr_expect(r.code == 0);
	cr_expect(sbx_test_contains(r.out, "seccomp"), "facts: %s", r.out);
	sbx_test_run_done(&r);
}

/* Under bwrap (namespaces, pool-like uid, no caps, but no seccomp filter) the isolation
 * attacks must read BLOCKED: the detectors see isolation when there is some. */
Test(probe, bwrap_isolation_reads_blocked, .timeout = 300)
{
	static const char *const isolated[] = {
	    "pid-ns",	   "net-ifaces",  "net-external", "net-raw",	 "caps",
	    "mount-tmpfs", "mount-bind",  "ro-binds",	  "link-ro",	 "hostname",
	    "setuid-root", "chroot",	  "dev-open",	  "sethostname", "kill-all",
	    "cwd",	   "root-dotdot", "session",	  "env-leak",	 "unix-connect",
	};
	char dir[4096];

	require_probe();
	sbx_test_require_file("/usr/bin/bwrap");
	(void)snprintf(dir, sizeof(dir), "%s", probe_path());
	*strrchr(dir, '/') = '\0';
	int port, tfd = tcp_listener(&port);
	cr_assert(tfd >= 0);
	char ps[16], name[64];
	(void)snprintf(ps, sizeof(ps), "%d", port);
	(void)snprintf(name, sizeof(name), "sbx-test-bwrap-%d", getpid());
	int afd = unix_listener(name, true);
	cr_assert(afd >= 0);

	for (size_t i = 0; i < sizeof(isolated) / sizeof(isolated[0]) + 2; i++) {
		const char *attack = i < sizeof(isolated) / sizeof(isolated[0]) ? isolated[i]
				     : i == sizeof(isolated) / sizeof(isolated[0])
					 ? "tcp-host"
					 : "abstract-host";
		const char *arg = !strcmp(attack, "tcp-host")	     ? ps
				  : !strcmp(attack, "abstract-host") ? name
								     : NULL;
		char *argv[] = {"/usr/bin/bwrap",
				"--unshare-all",
				"--die-with-parent",
				"--new-session",
				"--ro-bind",
				"/usr",
				"/usr",
				"--symlink",
				"usr/lib",
				"/lib",
				"--symlink",
				"usr/lib64",
				"/lib64",
				"--symlink",
				"usr/bin",
				"/bin",
				"--proc",
				"/proc",
				"--dev",
				"/dev",
				"--tmpfs",
				"/tmp",
				"--ro-bind",
				dir,
				"/probe",
				"--uid",
				"200123",
				"--gid",
				"200123",
				"--cap-drop",
				"ALL",
				"--hostname",
				"sbx",
				"--chdir",
				"/",
				"/probe/probe",
				(char *)attack,
				(char *)arg,
				NULL};
		struct sbx_test_run r;
		cr_assert(sbx_test_run(argv, NULL, NULL, 0, PROBE_TIMEOUT_MS, &r) == 0);
		if (r.code != 0)
			sbx_test_run_dump(attack, &r);
		cr_expect(r.code == 0, "probe %s under bwrap: exit %d, want 0 (BLOCKED)", attack,
			  r.code);
		sbx_test_run_done(&r);
	}
	(void)close(tfd);
	(void)close(afd);
}
