/* SPDX-License-Identifier: MIT */
/*
 * pid 1 of the sandbox, and the last steps of its payload.
 *
 * init forks the payload, then reaps every process that ends up orphaned in the namespace,
 * forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the payload, and leaves with the
 * payload's status as soon as the payload ends (its own exit then makes the kernel kill
 * whatever is left in the namespace). It reports to the supervisor over the report pipe:
 * a setup error of the payload, the successful execve, and the payload's wait status.
 *
 * init is not attackable by its payload: it stays non-dumpable (no ptrace, no /proc/1/mem,
 * environ, root or fd access for other uids), runs as another uid than the payload with only
 * CAP_KILL, holds no secret (the payload's environment strings are wiped after the fork) and
 * keeps only two fds (the report pipe and the uid lease).
 *
 * The payload's steps follow DESIGN.md: stdio, close every other fd, rlimits, drop the
 * bounding set, switch to the pool uid/gid with no groups, clear all capability sets,
 * no_new_privs, seccomp last, execve. Only syscalls here: this runs between clone and execve.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "sandbox/internal.h"
#include "sandbox/seccomp.h"

static void report(int fd, const struct sbx_report *rep)
{
	(void)!write(fd, rep, sizeof(*rep));
}

_Noreturn void sbx_child_fail(int report_fd, const char *step, int err)
{
	struct sbx_report rep = {.kind = SBX_REPORT_ERROR, .err = err > 0 ? err : EIO};
	size_t n = strlen(step);

	if (n >= sizeof(rep.step))
		n = sizeof(rep.step) - 1;
	memcpy(rep.step, step, n);
	report(report_fd, &rep);
	_exit(125);
}

/* execve, or execvpe's search of PATH (glibc's would read the supervisor's PATH). */
static _Noreturn void do_exec(const struct sbx_exec_plan *x, int fail_fd)
{
	const char *name = x->argv[0];
	char buf[4096];
	bool eacces = false;

	if (strchr(name, '/')) {
		(void)execve(name, x->argv, x->envp);
		sbx_child_fail(fail_fd, "execve", errno);
	}
	for (const char *p = x->path; *p;) {
		const char *e = strchrnul(p, ':');
		size_t dlen = (size_t)(e - p), nlen = strlen(name);
		if (dlen + nlen + 2 <= sizeof(buf) && dlen > 0) {
			memcpy(buf, p, dlen);
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, name, nlen + 1);
			(void)execve(buf, x->argv, x->envp);
			if (errno == EACCES)
				eacces = true;
			else if (errno != ENOENT && errno != ENOTDIR)
				sbx_child_fail(fail_fd, "execve", errno);
		}
		p = *e ? e + 1 : e;
	}
	sbx_child_fail(fail_fd, "execve", eacces ? EACCES : ENOENT);
}

/* Moves the wanted stdio onto 0, 1, 2 (via high fds, so no source is clobbered). */
static void setup_stdio(const struct sbx_exec_plan *x, int fail_fd)
{
	int tmp[3];

	for (int i = 0; i < 3; i++) {
		int src = x->stdio[i];
		if (src < 0) {
			src = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (src < 0)
				sbx_child_fail(fail_fd, "stdio", errno);
		}
		tmp[i] = fcntl(src, F_DUPFD_CLOEXEC, 10);
		if (tmp[i] < 0)
			sbx_child_fail(fail_fd, "stdio", errno);
	}
	for (int i = 0; i < 3; i++)
		if (dup2(tmp[i], i) < 0)
			sbx_child_fail(fail_fd, "stdio", errno);
}

static _Noreturn void payload(const struct sbx_exec_plan *x, int fail_fd)
{
	sigset_t none;
	int keep;

	fail_fd = fcntl(fail_fd, F_DUPFD_CLOEXEC, 10);
	if (fail_fd < 0)
		_exit(125);
	setup_stdio(x, fail_fd);
	/* Nothing of the supervisor's crosses: not the report pipe, not the uid lease, not any
	 * inherited fd (runc CVE-2024-21626). Only the CLOEXEC failure pipe stays until exec. */
	keep = fail_fd;
	if (sbx_fd_close_from(3, &keep, 1) < 0)
		sbx_child_fail(fail_fd, "close_fds", errno);
	/* After the fd shuffle: a supervisor with many clients has its free fds above the
	 * policy's RLIMIT_NOFILE, where the F_DUPFD of setup_stdio would fail with EMFILE.
	 * Still before the capabilities go (raising a limit needs CAP_SYS_RESOURCE). */
	sbx_rlimits_apply(x->rlimits, fail_fd);
	sbx_caps_drop_to(x->uid, x->gid, fail_fd);
	if (chdir(x->cwd) < 0)
		sbx_child_fail(fail_fd, "chdir", errno);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		sbx_child_fail(fail_fd, "no_new_privs", errno);
	/* Last: from here on only the profile's syscalls work. */
	if (sbx_seccomp_install(x->seccomp) < 0)
		sbx_child_fail(fail_fd, "seccomp", errno);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		sbx_child_fail(fail_fd, "sigmask", errno);
	do_exec(x, fail_fd);
}

static void wipe_envp(char *const *envp)
{
	for (char *const *e = envp; *e; e++)
		explicit_bzero(*e, strlen(*e));
}

static _Noreturn void finish(const struct sbx_exec_plan *x, int status)
{
	struct sbx_report rep = {.kind = SBX_REPORT_EXIT, .status = status};
	struct rusage ru;

	/* Every descendant init reaped counts, not only the payload. */
	if (getrusage(RUSAGE_CHILDREN, &ru) == 0) {
		rep.cpu_us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
			     (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
		rep.maxrss_kb = (uint64_t)ru.ru_maxrss;
	}
	report(x->report_fd, &rep);
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	_exit(128 + WTERMSIG(status));
}

_Noreturn void sbx_init_run(const struct sbx_exec_plan *x)
{
	struct sbx_report rep;
	int execpipe[2], keep[3];
	sigset_t set;
	pid_t pid;
	ssize_t n;

	if (pipe2(execpipe, O_CLOEXEC) < 0)
		sbx_child_fail(x->report_fd, "exec_pipe", errno);
	/* Raw clone: glibc's fork() would run atfork handlers of the supervisor's libraries. */
	pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	if (pid < 0)
		sbx_child_fail(x->report_fd, "fork_payload", errno);
	if (pid == 0) {
		(void)close(execpipe[0]);
		payload(x, execpipe[1]);
	}
	(void)close(execpipe[1]);

	/* EOF: execve succeeded (the pipe was close-on-exec); a record: a step failed. */
	do
		n = read(execpipe[0], &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(rep))
		report(x->report_fd, &rep);
	else {
		rep = (struct sbx_report){.kind = SBX_REPORT_EXEC};
		report(x->report_fd, &rep);
	}
	(void)close(execpipe[0]);

	if (x->wipe_envp)
		wipe_envp(x->envp);
	keep[0] = x->report_fd;
	keep[1] = x->lock_fd;
	keep[2] = x->init_lock_fd;
	if (sbx_fd_close_from(0, keep, 3) < 0)
		sbx_child_fail(x->report_fd, "close_fds", errno);
	sbx_caps_init_minimal(x->report_fd);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		sbx_child_fail(x->report_fd, "no_new_privs", errno);

	/* Every signal stays blocked (spawn blocked them before clone): sigwaitinfo takes
	 * them one at a time, so no handler ever runs in pid 1. */
	sigfillset(&set);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			/* Only the supervisor, outside the pid namespace (si_pid 0 here), may
			 * have a signal forwarded; from inside, pid 1 is deaf. */
			if (si.si_pid == 0 && (sig == SIGTERM || sig == SIGINT || sig == SIGHUP ||
					       sig == SIGQUIT || sig == SIGUSR1 || sig == SIGUSR2))
				(void)kill(pid, sig);
			continue;
		}
		for (;;) {
			int status;
			pid_t w = waitpid(-1, &status, WNOHANG);
			if (w <= 0)
				break;
			if (w == pid)
				finish(x, status);
		}
	}
}
