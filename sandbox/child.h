/* SPDX-License-Identifier: MIT */
/* The child's ordered setup (child.c), called by spawn.c right after clone3 (or clone). */
#pragma once

#include "sandbox/internal.h"

struct sbx_child {
	const struct sbx_mount_plan *mounts;
	const struct sbx_cgroup *cgroup;
	const char *hostname;
	bool own_net;
	bool proxy; /* hand a listener on 127.0.0.1:3128 to the parent */
	bool userns;
	bool join_v2; /* clone3 was unavailable: join the v2 group (no CLONE_INTO_CGROUP) */
	int sync_fd;  /* read end: one byte when the parent is done with us */
	struct sbx_exec_plan exec;
};

_Noreturn void sbx_child_main(const struct sbx_child *c);
