/* SPDX-License-Identifier: MIT */
/*
 * The payload's environment for `sbxctl exec`, built from scratch: nothing of sbxctl's own
 * environment leaks in (DESIGN.md). A fixed base (PATH, HOME, USER, LOGNAME, LANG) plus the
 * --env entries whose names the policy's "env" list accepts.
 */
#pragma once

#include <stddef.h>

#include "policy/policy.h"

#define SBX_EXEC_ENV_MAX 256

struct sbx_exec_env {
	char *extra[SBX_EXEC_ENV_MAX]; /* "NAME=VALUE" from --env, owned */
	size_t n_extra;
	char **envp; /* built by sbx_exec_env_build: NULL-terminated, owned (the array) */
};

/* Adds one "NAME=VALUE" (validated shape; -EINVAL and a logged message otherwise). */
int sbx_exec_env_add(struct sbx_exec_env *e, const char *assignment);
/* Checks every name against the policy and builds envp: base, --env entries, then the
 * "NAME=value" strings of secrets (NULL-terminated, may be NULL; borrowed, not copied: they
 * stay in the caller's locked memory). -EPERM with a message naming the refused variable. */
int sbx_exec_env_build(struct sbx_exec_env *e, const struct sbx_policy *p, char *const *secrets);
void sbx_exec_env_done(struct sbx_exec_env *e);
