/* SPDX-License-Identifier: MIT */
/*
 * Private to sandbox/: the plan the parent prepares before clone (every path, string and
 * number the child will need, so the child makes syscalls only), the report messages the
 * child and init send back, and the per-concern step functions child.c calls in order.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <sys/resource.h>
#include <sys/types.h>

#include "sandbox/sandbox.h"

/* ---- report channel: child/init -> parent, one fixed-size message each. A SOCK_SEQPACKET
 * socketpair (not a pipe) so the proxy listener can travel with SCM_RIGHTS, in order before
 * SBX_REPORT_EXEC. ---- */
enum sbx_report_kind {
	SBX_REPORT_ERROR = 1,	 /* setup failed at step with err */
	SBX_REPORT_EXEC = 2,	 /* the payload has called execve successfully */
	SBX_REPORT_EXIT = 3,	 /* the payload ended: status is a wait status */
	SBX_REPORT_LISTENER = 4, /* carries the proxy listener (network mode proxy) */
};

struct sbx_report {
	uint32_t kind;
	int32_t err;
	int32_t status;
	int32_t pad;
	uint64_t cpu_us;
	uint64_t maxrss_kb;
	char step[32];
};

/* Reports a failed step and leaves: the only way out of a failed setup. */
_Noreturn void sbx_child_fail(int report_fd, const char *step, int err);

/* ---- mounts.c ---- */
enum sbx_mount_kind {
	SBX_MNT_BIND,	 /* bind source on target (ro unless rw) */
	SBX_MNT_SYMLINK, /* create target as a symlink with text `source` */
	SBX_MNT_TMPFS,	 /* tmpfs on target with `options` */
	SBX_MNT_FILE,	 /* write `content` to target (mode 0644) */
};

struct sbx_mount {
	enum sbx_mount_kind kind;
	bool rw;
	bool is_dir;	     /* BIND: source is a directory */
	char *source;	     /* BIND: "/oldroot/usr"; SYMLINK: link text */
	char *target;	     /* relative to the new root, no leading '/' */
	char *options;	     /* TMPFS: size in bytes, as text for fsconfig */
	uint32_t mode;	     /* TMPFS: mode of its root */
	const char *content; /* FILE */
	size_t content_len;
};

struct sbx_mount_plan {
	struct sbx_mount *v;
	size_t n;
	char *passwd; /* generated /etc/passwd and /etc/group */
	char *group;
};

/* Resolves the policy's binds on the host (missing optional sources are skipped, a missing
 * required one is -ENOENT with reterr naming it) into a plan. */
int sbx_mounts_plan(const struct sbx_policy *p, uid_t uid, gid_t gid, struct sbx_mount_plan *ret,
		    struct sbx_sandbox_error *reterr);
void sbx_mounts_plan_done(struct sbx_mount_plan *plan);
/* Child: builds the new root and pivots into it. Fails the child on error. */
void sbx_mounts_apply(const struct sbx_mount_plan *plan, int report_fd);

/* ---- ids.c: the uid/gid pool, leased with flock so concurrent processes never share ---- */
struct sbx_ids_lease {
	uid_t uid; /* gid == uid */
	int lock_fd;
};
int sbx_ids_lease(const char *runtime_dir, uint32_t base, uint32_t count,
		  struct sbx_ids_lease *ret);
void sbx_ids_release(struct sbx_ids_lease *lease);

/* ---- caps.c ---- */
/* Payload: drops the bounding set, sets securebits, switches to uid/gid with no groups,
 * clears every capability set and checks that they are empty. */
void sbx_caps_drop_to(uid_t uid, gid_t gid, int report_fd);
/* User-namespace child: becomes the pool uid (the only mapped one) keeping its namespace
 * capabilities, so the mounts it makes have a mapped owner. */
void sbx_caps_enter_userns(uid_t uid, gid_t gid, int report_fd);
/* Init: keeps only CAP_KILL (to forward signals to the payload's uid). */
void sbx_caps_init_minimal(int report_fd);

/* ---- rlimits.c ---- */
struct sbx_rlimits {
	struct {
		int resource;
		struct rlimit lim;
	} v[_SBX_RLIMIT_MAX + 1];
	size_t n;
};
void sbx_rlimits_plan(const struct sbx_policy *p, struct sbx_rlimits *ret);
void sbx_rlimits_apply(const struct sbx_rlimits *r, int report_fd);

/* ---- cgroup.c: v2 where the controllers are available, v1 where they are not ---- */
struct sbx_cgroup;
int sbx_cgroup_create(const char *task_id, const struct sbx_policy *p, struct sbx_cgroup **ret,
		      struct sbx_sandbox_error *reterr);
/* The v2 group's fd for clone3's CLONE_INTO_CGROUP, or -1 (no v2 group). */
int sbx_cgroup_clone_fd(const struct sbx_cgroup *cg);
/* Child: joins the v1 groups (current thread only: no global lock). */
void sbx_cgroup_join_v1(const struct sbx_cgroup *cg, int report_fd);
/* Child, when clone(2) replaced clone3: moves itself into the v2 group. */
void sbx_cgroup_join_v2(const struct sbx_cgroup *cg, int report_fd);
/* Did the OOM killer fire inside? */
bool sbx_cgroup_oom_killed(struct sbx_cgroup *cg);
/* Kills whatever is left and removes the groups. NULL-safe; returns NULL. */
struct sbx_cgroup *sbx_cgroup_destroy(struct sbx_cgroup *cg);

void sbx_cgroup_prune_exec(void);
int sbx_cgroup_delegate(char *ret_dir, size_t len);

/* ---- net.c ---- */
void sbx_net_lo_up(int report_fd);
/* Child, after lo is up: listens on 127.0.0.1:SBX_PROXY_PORT in the new namespace, sends the
 * socket to the parent over the report channel and closes its own copy. */
void sbx_net_proxy_listener(int report_fd);

/* ---- init.c: pid 1 of the sandbox ---- */
struct sbx_exec_plan {
	char *const *argv;
	char *const *envp;
	const char *path; /* PATH value searched for a bare argv[0] */
	const char *cwd;
	int stdio[3];
	int report_fd;
	int lock_fd;
	int init_lock_fd; /* -1 unless a user namespace needs init's own uid */
	uid_t init_uid;
	uid_t uid;
	gid_t gid;
	const struct sbx_rlimits *rlimits;
	const struct sbx_seccomp_prog *seccomp;
	bool wipe_envp;
};
_Noreturn void sbx_init_run(const struct sbx_exec_plan *x);
