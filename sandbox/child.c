/* SPDX-License-Identifier: MIT */
/*
 * The sandbox child's ordered list of setup steps (nsjail style), from DESIGN.md
 * "Sandbox construction". Each step lives in the file of its concern; this file only fixes
 * their order. Everything runs between clone3 and execve, in a copy of a process that may
 * have had other threads: no malloc, no stdio, no logging, only syscalls. A failed step
 * reports {step, errno} on the report pipe and exits 125 (sbx_child_fail).
 */
#include "sandbox/child.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <sys/prctl.h>

/* Handlers are inherited from the supervisor (libuv's signal pipe, for one): none may run
 * here. Signals stay blocked from before clone until the payload's execve. */
static void reset_signal_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
}

_Noreturn void sbx_child_main(const struct sbx_child *c)
{
	const int rfd = c->exec.report_fd;
	char go;
	ssize_t n;

	reset_signal_handlers();
	/* Non-dumpable until execve: no ptrace or /proc/PID/mem of the setup child, by anyone
	 * but root of the host (bubblewrap's ptrace escalations). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		sbx_child_fail(rfd, "dumpable", errno);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		sbx_child_fail(rfd, "pdeathsig", errno);
	/* v2 placed us at clone time (unless clone3 was missing); v1 groups we join ourselves,
	 * before anything runs. */
	if (c->join_v2)
		sbx_cgroup_join_v2(c->cgroup, rfd);
	sbx_cgroup_join_v1(c->cgroup, rfd);
	/* Wait for the parent (id maps of a user namespace). EOF instead of the byte means
	 * the parent died before PDEATHSIG was armed: leave. */
	do
		n = read(c->sync_fd, &go, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(125);
	(void)close(c->sync_fd);

	if (c->userns)
		sbx_caps_enter_userns(c->exec.init_uid, c->exec.init_uid, rfd);
	if (setsid() < 0)
		sbx_child_fail(rfd, "setsid", errno);
	/* After the cgroup move, so the namespace's root is the task's own group. */
	if (unshare(CLONE_NEWCGROUP) < 0)
		sbx_child_fail(rfd, "cgroup_namespace", errno);
	sbx_mounts_apply(c->mounts, rfd);
	if (sethostname(c->hostname, strlen(c->hostname)) < 0)
		sbx_child_fail(rfd, "sethostname", errno);
	if (c->own_net)
		sbx_net_lo_up(rfd);
	/* Made here, as root of the new namespace before any privilege drops; the parent owns
	 * it from now on and the payload never holds it (it can only connect). */
	if (c->proxy)
		sbx_net_proxy_listener(rfd);
	sbx_init_run(&c->exec);
}
