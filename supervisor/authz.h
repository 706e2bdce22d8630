/* SPDX-License-Identifier: MIT */
/*
 * Who may do what: the peer's credentials (SO_PEERCRED, read once at accept) against the
 * client rules of the configuration. Root may do everything. A peer no rule names is
 * refused at connect time; an op or policy its rules do not grant is refused per request.
 */
#pragma once

#include <stdbool.h>

#include <sys/types.h>

#include "policy/policy.h"
#include "supervisor/config.h"
#include "supervisor/protocol.h"

struct sbx_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	gid_t groups[64]; /* supplementary groups at connect time (SO_PEERGROUPS) */
	int n_groups;
};

/* Reads SO_PEERCRED of fd and the peer's supplementary groups. */
int sbx_authz_peer(int fd, struct sbx_peer *ret);
/* Bit mask of the ops the peer may use (0: none, refuse the connection). */
unsigned sbx_authz_ops(const struct sbx_config *cfg, const struct sbx_peer *peer);
/* May the peer run tasks under this policy (config rules and the policy's own clients)? */
bool sbx_authz_policy(const struct sbx_config *cfg, const struct sbx_peer *peer,
		      const struct sbx_policy *p);
/* The rate of task starts for the peer: the run_rate of the first client rule that names it
 * and sets one, else limits.run_rate; root only by a rule (it is exempt by default). */
struct sbx_rate sbx_authz_run_rate(const struct sbx_config *cfg, const struct sbx_peer *peer);
