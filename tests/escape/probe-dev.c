/* SPDX-License-Identifier: MIT */
/*
 * probe: devices, terminals and foreign syscall ABIs. No device may be created or opened beyond
 * the few harmless ones, no input may be pushed into a terminal (TIOCSTI, TIOCLINUX), and x32
 * or int $0x80 syscalls, personality flags and fanotify must not get past the filter.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "probe.h"

/* ---- devices and terminals ---------------------------------------------------------- */

static int a_mknod(int argc, char **argv)
{
	const char *dirs[] = {probe_tmp_dir(), "/", "/dev"};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (!dirs[i])
			continue;
		char p[PATH_MAX];
		(void)snprintf(p, sizeof(p), "%s/.sbx-probe-node-%d", dirs[i], getpid());
		if (mknod(p, S_IFCHR | 0600, makedev(1, 3)) == 0) {
			probe_esc("mknod(char 1:3) in %s", dirs[i]);
			(void)unlink(p);
		}
		if (mknod(p, S_IFBLK | 0600, makedev(7, 0)) == 0) {
			probe_esc("mknod(block 7:0) in %s", dirs[i]);
			(void)unlink(p);
		}
	}
	return probe_verdict();
}

static int a_dev_nodes(int argc, char **argv)
{
	static const char *const allowed[] = {".",	 "..", "null",	"zero",	  "full",  "random",
					      "urandom", "fd", "stdin", "stdout", "stderr"};
	DIR *d = opendir("/dev");

	(void)argc, (void)argv;
	if (!d)
		return probe_fail("opendir /dev: %s", probe_ename(errno));
	for (struct dirent *de; (de = readdir(d));) {
		bool ok = false;
		for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
			ok |= strcmp(de->d_name, allowed[i]) == 0;
		if (!ok)
			probe_esc("/dev/%s exists", de->d_name);
	}
	(void)closedir(d);
	return probe_verdict();
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
		if (probe_open_read(devs[i], O_RDONLY, false) >= 0)
			probe_esc("opened %s", devs[i]);
	return probe_verdict();
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
			probe_esc("TIOCSTI into our own pty");
		(void)close(s);
		(void)close(m);
	}
	if (!probe_arg_inside)
		return probe_verdict();
	/* Inside, the fds and /dev/tty could be the operator's terminal: the real target. */
	for (int fd = 0; fd <= 2; fd++)
		if (ioctl(fd, TIOCSTI, &c) == 0)
			probe_esc("TIOCSTI into fd %d", fd);
	int t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (t >= 0) {
		probe_esc("opened /dev/tty (a controlling terminal is reachable)");
		if (ioctl(t, TIOCSTI, &c) == 0)
			probe_esc("TIOCSTI into /dev/tty");
		(void)close(t);
	}
	return probe_verdict();
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
		probe_esc("%s succeeded", what);
	else if (e != EPERM)
		probe_esc("%s reached the kernel (%s): not refused by the seccomp filter", what,
			  probe_ename(e));
	(void)close(p[0]);
	(void)close(p[1]);
}

static int a_tiocsti_filter(int argc, char **argv)
{
	(void)argc, (void)argv;
	ioctl_filtered(TIOCSTI, "ioctl(TIOCSTI)");
	return probe_verdict();
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
			probe_esc("high-bit TIOCSTI into our own pty");
		(void)close(s);
		(void)close(m);
	}
	return probe_verdict();
}

static int a_tioclinux(int argc, char **argv)
{
	(void)argc, (void)argv;
	ioctl_filtered(TIOCLINUX, "ioctl(TIOCLINUX)");
	ioctl_filtered(0xdead00000000UL | TIOCLINUX, "ioctl(0xdead00000000|TIOCLINUX)");
	return probe_verdict();
}

/* ---- foreign syscall ABIs ----------------------------------------------------------- */

static int x32_child(void *arg)
{
	(void)arg;
	long r = syscall(0x40000000L | 39 /* x32 getpid */);
	probe_note("x32 getpid returned %ld (%s)", r, r < 0 ? probe_ename(errno) : "ok");
	return 0;
}

static int int80_child(void *arg)
{
	long r;

	(void)arg;
	/* i386 getpid (20) through the 32-bit entry point. */
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory", "rcx", "r11");
	probe_note("int $0x80 getpid returned %ld", r);
	return 0;
}

static int judge_abi(int (*fn)(void *), const char *what)
{
	int st = probe_in_child(fn, NULL, ATTACK_TIMEOUT);

	if (st < 0)
		return probe_fail("fork: %s", probe_ename(errno));
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		return probe_verdict();
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) {
		probe_note("%s: SIGSEGV (the kernel has no such ABI)", what);
		return probe_verdict();
	}
	if (WIFEXITED(st))
		probe_esc("%s ran instead of killing the process", what);
	else
		probe_esc("%s: child died by %s, not SIGSYS", what,
			  sigabbrev_np(WTERMSIG(st)) ?: "?");
	return probe_verdict();
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
		probe_esc("personality(READ_IMPLIES_EXEC)");
	if (personality(ADDR_NO_RANDOMIZE) != -1)
		probe_esc("personality(ADDR_NO_RANDOMIZE)");
	if (personality(PER_LINUX32 | ADDR_COMPAT_LAYOUT) != -1)
		probe_esc("personality(PER_LINUX32|ADDR_COMPAT_LAYOUT)");
	return 0;
}

static int a_personality(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)probe_in_child(personality_child, NULL, ATTACK_TIMEOUT);
	return probe_verdict();
}

static int a_fanotify(int argc, char **argv)
{
	(void)argc, (void)argv;
	int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY);
	if (!probe_must_fail(fd, "fanotify_init"))
		(void)close(fd);
	return probe_verdict();
}

static const struct attack attacks[] = {
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
};

const struct probe_table probe_dev_table = PROBE_TABLE(attacks);
