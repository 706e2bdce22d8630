/* SPDX-License-Identifier: MIT */
/*
 * The real sbxd for integration tests (its client is in client-test.h, included here for the
 * tests that use both).
 *
 * sbx_fixture_*: starts build/sbxd (`--dev DIR`, or `--config FILE` when a test needs limits or
 * client rules) in a fresh temporary directory with its stderr in a log file, waits until its
 * socket accepts, and stops it again: SIGTERM, exit status 0 within a deadline, no process left
 * in one of its task cgroups and no leftover `sbxd-<pid>-*` cgroup directory.
 *
 * Nothing here asserts (also usable from threads); functions return 0 or -errno and say on
 * stderr what went wrong.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <sys/types.h>

#include <jansson.h>

#include "tests/integration/client-test.h"

struct sbx_fixture_opts {
	/* Any of these makes the daemon run with --config FILE instead of --dev DIR. */
	const char *limits;   /* JSON object text for "limits", or NULL */
	const char *clients;  /* JSON array text for "clients", or NULL */
	const char *extra;    /* more top-level members ("\"runtime_dir\": \"/x\""), or NULL */
	bool config;	      /* --config even without limits or clients */
	const char *sudo_uid; /* --dev: SUDO_UID for the daemon (the invoking user), or NULL */
	const char *cgroup;   /* a cgroup directory the daemon is started in, or NULL */
	unsigned long nofile; /* when not 0: the daemon's soft RLIMIT_NOFILE (hard unchanged) */
};

struct sbx_fixture {
	pid_t pid;	      /* 0 when not running */
	char *base;	      /* temporary directory (mode 0700) holding everything below */
	char *dir;	      /* --dev DIR, or the config mode's state directory */
	char sock[108];	      /* the daemon's socket */
	char log[4096];	      /* its stderr */
	char keyring[4096];   /* its keyring */
	char policies[4096];  /* its policy directory */
	char config[4096];    /* --config FILE, "" in --dev mode */
	char audit_key[4096]; /* config mode: the audit log's first key (sbxctl audit init) */
	int status;	      /* wait status once stopped */
};

/* How many times slower the daemon runs than normal: 8 under valgrind (SBX_SBXD_WRAPPER
 * names valgrind), else 1. The fixture's own deadlines are multiplied by it; tests multiply
 * their reply timeouts by it (T_REPLY, T_TASK below). */
int sbx_fixture_slow(void);

/* Upper bounds for tests, never expected durations: they grow with the daemon's slowness. */
#define T_REPLY (5000 * sbx_fixture_slow())  /* ms to wait for a reply line */
#define T_TASK	(20000 * sbx_fixture_slow()) /* ms to wait for a short task's end */

/* Starts sbxd (opts may be NULL: --dev). Waits up to 10 s for the socket to accept a
 * connection. Returns 0, or -errno with the daemon killed and its log on stderr. */
int sbx_fixture_start(struct sbx_fixture *f, const struct sbx_fixture_opts *opts);

/* Sends SIGTERM and waits up to deadline_ms for the exit, then checks that no process is left
 * in a cgroup of this daemon and that no `sbxd-<pid>-*` cgroup directory remains. Returns 0
 * when all holds (exit status 0 included), -ETIMEDOUT when it did not exit in time (it is
 * killed), -ECHILD for a non-zero exit, -EBUSY for a stray process, -ENOTEMPTY for a leftover
 * cgroup, -EPROTO when valgrind (SBX_SBXD_WRAPPER) reported an error, a leak or an fd left
 * open. Says which on stderr. */
int sbx_fixture_stop(struct sbx_fixture *f, int deadline_ms);

/* sbx_fixture_stop without the SIGTERM: for a daemon already told to stop. */
int sbx_fixture_wait_exit(struct sbx_fixture *f, int deadline_ms);

/* Only the post-exit checks of sbx_fixture_stop (stray processes and cgroups of pid). */
int sbx_fixture_check_clean(pid_t pid);

/* SIGKILLs a daemon still running (for .fini after a failed test) and removes f->base. */
void sbx_fixture_cleanup(struct sbx_fixture *f);

/* Sends a signal to the daemon. Returns 0 or -errno. */
int sbx_fixture_signal(struct sbx_fixture *f, int sig);

/* Reads the whole log so far (malloc'd, NUL-terminated; NULL on error). */
char *sbx_fixture_read_log(const struct sbx_fixture *f, size_t *ret_len);

/* Waits up to timeout_ms for needle to appear in the log. Returns true when it did. */
bool sbx_fixture_wait_log(const struct sbx_fixture *f, const char *needle, int timeout_ms);

/* Resident set size of the daemon in KiB (VmRSS), or -errno. */
long sbx_fixture_rss_kb(const struct sbx_fixture *f);

/* Pid of a process whose command line (NUL-separated arguments) contains needle as one
 * whole argument, or 0 when there is none. */
pid_t sbx_fixture_find_process(const char *arg);

/* Waits up to timeout_ms (times sbx_fixture_slow()) until a connect to sock succeeds: the
 * socket file alone says nothing (it exists between bind and listen, and a killed daemon
 * leaves its own behind). Returns 0, -ETIMEDOUT, or -ECHILD when child pid exited (it is
 * reaped; its wait status goes to *ret_status when not NULL). */
int sbx_fixture_wait_accepting(const char *sock, pid_t pid, int timeout_ms, int *ret_status);

/* Waits up to timeout_ms (times sbx_fixture_slow()) until no process has arg as an argument.
 * Returns true when none is left. */
bool sbx_fixture_wait_gone(const char *arg, int timeout_ms);
