/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's set of policies: every *.json of the policy directory (plus the shipped
 * embedded ones not overridden there), each with its seccomp profile compiled once, so the
 * spawn path does no parsing. A set is loaded whole or not at all (SIGHUP keeps the old set
 * when the new one has any error). Tasks hold a reference to the entry they run under.
 */
#pragma once

#include <stddef.h>

#include "policy/policy.h"
#include "sandbox/seccomp.h"

struct sbx_policy_entry {
	unsigned refs;
	struct sbx_policy *policy;
	struct sbx_seccomp_prog *seccomp;
};

struct sbx_policy_set {
	struct sbx_policy_entry **v;
	size_t n;
};

/* Loads dir; prints every problem (file:line:col: key: message) and returns -EINVAL when
 * any file is broken. */
int sbx_policies_load(const char *dir, const char *profile_dir, struct sbx_policy_set **ret);
struct sbx_policy_entry *sbx_policies_get(struct sbx_policy_set *set, const char *name);
struct sbx_policy_entry *sbx_policy_entry_ref(struct sbx_policy_entry *e);
void sbx_policy_entry_unref(struct sbx_policy_entry *e);
/* Drops the set's references; entries in use by tasks live on until unref'd. */
void sbx_policies_free(struct sbx_policy_set *set);
