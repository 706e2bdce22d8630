/* SPDX-License-Identifier: MIT */
/*
 * probe: the pid namespace and signals. The attacker must see only its own few processes, none
 * of the host's, and must reach nobody with a signal. kill-all runs in the probe process itself
 * (F_SELF) and only signals for real with --inside.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/syscall.h>
#include <sys/wait.h>

#include "probe.h"

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
	if (probe_scan_pids(names, sizeof(names), &count) < 0)
		return probe_fail("cannot list /proc: %s", probe_ename(errno));
	if (count > 16)
		probe_esc("/proc shows %d processes (a fresh pid namespace holds a handful)",
			  count);
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
				probe_esc("host process visible: %s", p);
				break;
			}
		if (!next)
			break;
		p = next + 1;
	}
	char ppid[32];
	probe_status_field("1", "PPid", ppid, sizeof(ppid));
	if (ppid[0] && strcmp(ppid, "0") != 0)
		probe_esc("pid 1 has a visible parent (PPid %s)", ppid);
	return probe_verdict();
}

/* kill(-1, sig) reaches every process the caller may signal except pid 1 and its own thread
 * group. Run from the only non-init process of the sandbox it must find nobody (ESRCH). */
static int a_kill_all(int argc, char **argv)
{
	DIR *d = opendir("/proc");
	char self[32];

	(void)argc, (void)argv;
	(void)snprintf(self, sizeof(self), "%d", getpid());
	if (d && probe_arg_inside) {
		/* Leftovers of earlier attacks are ours and visible; they are not what we look for.
		 */
		char myuid[64];
		probe_status_field("self", "Uid", myuid, sizeof(myuid));
		for (struct dirent *de; (de = readdir(d));) {
			if (!probe_is_pid_name(de->d_name) || !strcmp(de->d_name, "1") ||
			    !strcmp(de->d_name, self))
				continue;
			char uid[64];
			probe_status_field(de->d_name, "Uid", uid, sizeof(uid));
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
		(void)probe_scan_pids(names, sizeof(names), &n);
		probe_esc("kill(-1, 0) reaches other processes (visible: %s)", names);
		return probe_verdict();
	}
	if (errno != ESRCH)
		probe_note("kill(-1, 0): %s", probe_ename(errno));
	if (probe_arg_inside && kill(-1, SIGKILL) == 0)
		probe_esc("kill(-1, SIGKILL) killed some process");
	return probe_verdict();
}

static int a_signal_init(int argc, char **argv)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGSTOP, SIGKILL};

	(void)argc, (void)argv;
	if (kill(1, 0) == 0)
		probe_esc("kill(1, 0) succeeded: pid 1 is ours to signal");
	else if (errno != EPERM)
		probe_note("kill(1, 0): %s", probe_ename(errno));
	if (probe_arg_inside) {
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			if (kill(1, sigs[i]) == 0)
				probe_esc("kill(1, %s) delivered", sigabbrev_np(sigs[i]));
		usleep(50000);
		if (access("/proc/1", F_OK) != 0)
			probe_esc("pid 1 is gone after our signals");
		(void)kill(1, SIGCONT);
	}
	int pfd = (int)syscall(SYS_pidfd_open, 1, 0);
	if (pfd >= 0) {
		if (syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0) == 0)
			probe_esc("pidfd_send_signal(pid 1, 0) succeeded");
		(void)close(pfd);
	}
	return probe_verdict();
}

static const struct attack attacks[] = {
    {"pid-ns", a_pid_ns, 0, "/proc shows only a handful of pids, none of the host's"},
    {"signal-init", a_signal_init, 0, "signal pid 1 (real signals only --inside)"},
};

const struct probe_table probe_pid_table = PROBE_TABLE(attacks);

/* Runs in the probe process itself (F_SELF), so it is listed last, after every family. */
static const struct attack last_attacks[] = {
    {"kill-all", a_kill_all, F_SELF, "kill(-1) reaches nobody (SIGKILL only --inside)"},
};

const struct probe_table probe_pid_last_table = PROBE_TABLE(last_attacks);
