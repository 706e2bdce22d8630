/* SPDX-License-Identifier: MIT */
/*
 * probe: ptrace and /proc/1. The sandbox's pid 1 must be neither traceable nor readable through
 * /proc (environ, mem, maps, links, fds, ...), and process_vm_readv/writev must fail. A real
 * PTRACE_ATTACH to pid 1 runs only with --inside.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "probe.h"

static int a_ptrace_init(int argc, char **argv)
{
	(void)argc, (void)argv;
	/* Runs in a child: when it exits, the kernel detaches any tracee (exit_ptrace). */
	if (ptrace(PTRACE_SEIZE, 1, NULL, NULL) == 0)
		probe_esc("PTRACE_SEIZE on pid 1");
	if (probe_arg_inside && ptrace(PTRACE_ATTACH, 1, NULL, NULL) == 0) {
		probe_esc("PTRACE_ATTACH on pid 1");
		(void)waitpid(1, NULL, __WALL);
		(void)ptrace(PTRACE_DETACH, 1, NULL, NULL);
	}
	return probe_verdict();
}

static int traceme_child(void *arg)
{
	(void)arg;
	(void)probe_must_fail(ptrace(PTRACE_TRACEME, 0, NULL, NULL), "PTRACE_TRACEME");
	return 0;
}

static int a_ptrace_child(int argc, char **argv)
{
	(void)argc, (void)argv;
	pid_t c = probe_spawn_sleeper();
	if (c < 0)
		return probe_fail("fork: %s", probe_ename(errno));
	if (ptrace(PTRACE_ATTACH, c, NULL, NULL) == 0) {
		probe_esc("PTRACE_ATTACH on our own child");
		(void)ptrace(PTRACE_DETACH, c, NULL, NULL);
	}
	if (ptrace(PTRACE_SEIZE, c, NULL, NULL) == 0)
		probe_esc("PTRACE_SEIZE on our own child");
	probe_kill_wait(c);
	(void)probe_in_child(traceme_child, NULL, ATTACK_TIMEOUT);
	return probe_verdict();
}

static volatile uint64_t vm_canary = 0x5b5b5b5b5b5b5b5bULL;

static int a_process_vm(int argc, char **argv)
{
	uint64_t v = 0;
	struct iovec local = {.iov_base = &v, .iov_len = sizeof(v)};
	struct iovec remote = {.iov_base = (void *)&vm_canary, .iov_len = sizeof(v)};

	(void)argc, (void)argv;
	pid_t c = probe_spawn_sleeper();
	if (c < 0)
		return probe_fail("fork: %s", probe_ename(errno));
	long r = process_vm_readv(c, &local, 1, &remote, 1, 0);
	(void)probe_must_fail(r, "process_vm_readv(own child)");
	r = process_vm_writev(c, &local, 1, &remote, 1, 0);
	(void)probe_must_fail(r, "process_vm_writev(own child)");
	probe_kill_wait(c);
	/* EFAULT would mean the access check on pid 1 passed and only our address was wrong. */
	r = process_vm_readv(1, &local, 1, &remote, 1, 0);
	if (r >= 0 || errno == EFAULT)
		probe_esc("process_vm_readv(pid 1) got past the access check (%s)",
			  r >= 0 ? "read" : "EFAULT");
	return probe_verdict();
}

static int a_proc_init_environ(int argc, char **argv)
{
	(void)argc, (void)argv;
	int r = probe_open_read("/proc/1/environ", O_RDONLY, false);
	if (r >= 0)
		probe_esc("opened /proc/1/environ");
	return probe_verdict();
}

static int a_proc_init_mem(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (probe_open_read("/proc/1/mem", O_RDONLY, false) >= 0)
		probe_esc("opened /proc/1/mem");
	if (probe_open_read("/proc/1/mem", O_RDWR, false) >= 0)
		probe_esc("opened /proc/1/mem read-write");
	return probe_verdict();
}

static int a_proc_init_maps(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (probe_open_read("/proc/1/maps", O_RDONLY, true) == 1)
		probe_esc("read /proc/1/maps");
	if (probe_open_read("/proc/1/smaps", O_RDONLY, true) == 1)
		probe_esc("read /proc/1/smaps");
	if (probe_open_read("/proc/1/pagemap", O_RDONLY, false) >= 0)
		probe_esc("opened /proc/1/pagemap");
	return probe_verdict();
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
			probe_esc("readlink %s = %s", links[i], t);
		}
	}
	DIR *d = opendir("/proc/1/root/");
	if (d) {
		probe_esc("opened /proc/1/root/");
		(void)closedir(d);
	}
	if (probe_open_read("/proc/1/exe", O_RDONLY, false) >= 0)
		probe_esc("opened /proc/1/exe (the host binary init runs)");
	if (probe_open_read("/proc/1/exe", O_WRONLY, false) >= 0)
		probe_esc("opened /proc/1/exe for writing (CVE-2019-5736)");
	return probe_verdict();
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
			probe_esc("listed %d fds of pid 1", n);
		(void)closedir(d);
	}
	for (int i = 0; i < 16; i++) {
		char p[64];
		(void)snprintf(p, sizeof(p), "/proc/1/fd/%d", i);
		if (probe_open_read(p, O_RDONLY, false) >= 0)
			probe_esc("opened %s", p);
		(void)snprintf(p, sizeof(p), "/proc/1/fdinfo/%d", i);
		if (probe_open_read(p, O_RDONLY, true) == 1)
			probe_esc("read %s", p);
	}
	int pfd = (int)syscall(SYS_pidfd_open, 1, 0);
	if (pfd >= 0) {
		for (int i = 0; i < 16; i++) {
			int fd = (int)syscall(SYS_pidfd_getfd, pfd, i, 0);
			if (fd >= 0) {
				probe_esc("pidfd_getfd took fd %d of pid 1", i);
				(void)close(fd);
				break;
			}
		}
		(void)close(pfd);
	}
	return probe_verdict();
}

static int a_proc_init_misc(int argc, char **argv)
{
	static const char *const files[] = {"/proc/1/auxv",    "/proc/1/stack",
					    "/proc/1/syscall", "/proc/1/personality",
					    "/proc/1/io",      "/proc/1/timers"};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (probe_open_read(files[i], O_RDONLY, true) == 1)
			probe_esc("read %s", files[i]);
	return probe_verdict();
}

static const struct attack attacks[] = {
    {"ptrace-init", a_ptrace_init, 0, "PTRACE_SEIZE (and --inside ATTACH) pid 1"},
    {"ptrace-child", a_ptrace_child, 0, "ptrace our own child, PTRACE_TRACEME"},
    {"process-vm", a_process_vm, 0, "process_vm_readv/writev on a child and pid 1"},
    {"proc-init-environ", a_proc_init_environ, 0, "open /proc/1/environ"},
    {"proc-init-mem", a_proc_init_mem, 0, "open /proc/1/mem"},
    {"proc-init-maps", a_proc_init_maps, 0, "read /proc/1/maps, smaps, pagemap"},
    {"proc-init-links", a_proc_init_links, 0, "readlink /proc/1/root, cwd, exe"},
    {"proc-init-fd", a_proc_init_fd, 0, "/proc/1/fd/*, pidfd_getfd"},
    {"proc-init-misc", a_proc_init_misc, 0, "/proc/1/auxv, stack, syscall, ..."},
};

const struct probe_table probe_proc_table = PROBE_TABLE(attacks);
