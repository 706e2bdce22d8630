/* SPDX-License-Identifier: MIT */
/*
 * The sandbox engine's only public header. It turns a validated policy into a running,
 * isolated process tree (DESIGN.md "Sandbox construction") and reports how it ended.
 * It knows nothing of sockets, JSON or secrets: the caller hands it a ready envp.
 *
 * Life of a sandbox: sbx_sandbox_spawn() -> the caller watches sbx_sandbox_pidfd() (readable
 * when init has exited) and sbx_sandbox_report_fd() (setup errors, exec, exit status), may
 * sbx_sandbox_kill() it, then sbx_sandbox_reap() and sbx_sandbox_free().
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <sys/types.h>

#include "policy/policy.h"

struct sbx_seccomp_prog;

/* Where uid leases and other per-host state live; override for tests. */
#define SBX_RUNTIME_DIR_DEFAULT "/run/sbx"
#define SBX_UID_POOL_BASE	200000U
#define SBX_UID_POOL_SIZE	65536U
/* Network mode proxy: where the payload finds the supervisor's proxy (127.0.0.1, inside). */
#define SBX_PROXY_PORT	  3128
#define SBX_PROXY_BACKLOG 64

struct sbx_sandbox_params {
	const struct sbx_policy *policy;
	const struct sbx_seccomp_prog *seccomp; /* compiled from policy->seccomp */
	char *const *argv;	 /* argv[0]: absolute path, or a name found on PATH */
	char *const *envp;	 /* the payload's whole environment */
	const char *cwd;	 /* NULL: policy->cwd */
	int stdio[3];		 /* payload's 0,1,2; -1: /dev/null */
	const char *task_id;	 /* names the cgroup; [A-Za-z0-9_.-]{1,64} */
	const char *runtime_dir; /* NULL: SBX_RUNTIME_DIR_DEFAULT */
	uint32_t uid_base;	 /* 0: SBX_UID_POOL_BASE */
	uint32_t uid_count;	 /* 0: SBX_UID_POOL_SIZE */
	bool wipe_envp;		 /* init zeroes envp strings once the payload has them */
	bool hold;		 /* the child waits for sbx_sandbox_release() */
};

/* Which setup step failed, and why; filled on -errno returns and in results. */
struct sbx_sandbox_error {
	char step[32];	  /* "pivot_root", "execve", ... ; "" when none */
	int err;	  /* positive errno */
	char detail[256]; /* what the step was working on ("bind source '/srv'"); may be "" */
};

enum sbx_sandbox_end {
	SBX_END_RUNNING,
	SBX_END_EXITED,	      /* code valid */
	SBX_END_SIGNALED,     /* signal valid */
	SBX_END_SETUP_FAILED, /* error valid: nothing of the payload ran */
};

struct sbx_sandbox_result {
	enum sbx_sandbox_end end;
	int code;
	int signal;
	bool oom; /* the memory limit's OOM killer fired in this sandbox */
	struct sbx_sandbox_error error;
	uint64_t cpu_ms;
	uint64_t max_rss_kb;
	uid_t uid;
};

struct sbx_sandbox;

/* Starts the sandbox. Returns 0 and the handle, or -errno with reterr naming the step;
 * on failure nothing is left behind (no process, cgroup, mount or uid lease). */
int sbx_sandbox_spawn(const struct sbx_sandbox_params *params, struct sbx_sandbox **ret,
		      struct sbx_sandbox_error *reterr);
/* Lets a sandbox spawned with `hold` go on (after the caller recorded its start). */
int sbx_sandbox_release(struct sbx_sandbox *sb);
/* pidfd of the sandbox's init; POLLIN once it has exited. Owned by the sandbox. */
int sbx_sandbox_pidfd(const struct sbx_sandbox *sb);
pid_t sbx_sandbox_pid(const struct sbx_sandbox *sb);
uid_t sbx_sandbox_uid(const struct sbx_sandbox *sb);
/* Report pipe from init: readable on setup error, exec and exit. Owned by the sandbox. */
int sbx_sandbox_report_fd(const struct sbx_sandbox *sb);
/* Reads what init reported so far (non-blocking). Returns 1 once the payload has exec'd,
 * 0 otherwise, -errno on failure. */
int sbx_sandbox_read_report(struct sbx_sandbox *sb);
/* Network mode proxy: the listening socket the child made on 127.0.0.1:3128 in its namespace
 * (CLOEXEC, blocking), which arrives before the exec report. Hands over ownership: returns
 * the fd once, then -ENOENT; -ENOENT also while it has not arrived (call after
 * sbx_sandbox_read_report() returned 1). */
int sbx_sandbox_take_listener(struct sbx_sandbox *sb);
/* Forwards a signal to the payload through init (SIGTERM, SIGINT, SIGHUP). */
int sbx_sandbox_signal(struct sbx_sandbox *sb, int sig);
/* Kills the whole tree now (SIGKILL to init, whose death takes its namespace along). */
int sbx_sandbox_kill(struct sbx_sandbox *sb);
/* Collects the end state once init has exited; blocks until it has when block is true.
 * -EAGAIN when not ended and !block. */
int sbx_sandbox_reap(struct sbx_sandbox *sb, bool block, struct sbx_sandbox_result *ret);
/* Kills if still running, reaps, removes the cgroup and releases the uid. Returns NULL. */
struct sbx_sandbox *sbx_sandbox_free(struct sbx_sandbox *sb);
static inline void sbx_sandbox_freep(struct sbx_sandbox **sb)
{
	*sb = sbx_sandbox_free(*sb);
}

/* The payload's environment from scratch: PATH, HOME=/tmp, USER, LOGNAME, LANG=C.UTF-8, then
 * extra "NAME=value" entries (one replaces a base variable of its name), then the secrets'
 * "NAME=value" strings (NULL-terminated, may be NULL; referenced, not copied). One malloc
 * block: free() it. -ENOMEM. */
int sbx_sandbox_envp(char *const *extra, size_t n_extra, char *const *secrets, char ***ret);
/* The same for a network mode: SBX_NET_PROXY adds HTTPS_PROXY, HTTP_PROXY, https_proxy,
 * http_proxy (http://127.0.0.1:3128), NO_PROXY and no_proxy (localhost: 127.0.0.1 goes through the
 * proxy) after the extra entries, replacing any of those names there. */
int sbx_sandbox_envp_net(enum sbx_net_mode net, char *const *extra, size_t n_extra,
			 char *const *secrets, char ***ret);

/* Removes the task cgroups of an `sbxctl exec` or sbxd that was killed outright (its pid is
 * gone), killing what still runs in them first and waiting up to ~1 s per group. */
void sbx_sandbox_prune_exec(void);

/* For a supervisor given a delegated cgroup v2 subtree (its own group carries the xattr
 * trusted.delegate=1 or user.delegate=1, as systemd's Delegate=yes sets): moves the calling
 * process into the leaf "<own>/supervisor", enables the memory/pids/cpu controllers the
 * subtree offers for its children, and makes every later sandbox's v2 group a child of
 * "<own>". Call once, early, before any sandbox. Returns 1 with the subtree's path in ret_dir
 * (may be NULL), 0 when there is no delegated subtree (groups stay under "/sbx" of the unified
 * hierarchy), or -errno (nothing is changed unless the move into the leaf succeeded). */
int sbx_sandbox_delegate_cgroup(char *ret_dir, size_t len);

/* "pivot_root: Invalid argument" */
const char *sbx_sandbox_strerror(const struct sbx_sandbox_error *e, char *buf, size_t len);
