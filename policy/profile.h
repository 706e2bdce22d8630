/* SPDX-License-Identifier: MIT */
/*
 * A seccomp profile as plain data (docs/policy.md "Seccomp profiles"): the JSON file parsed
 * and checked, without libseccomp. sandbox/seccomp.c compiles it to BPF.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

enum sbx_sc_action {
	SBX_SC_ALLOW,
	SBX_SC_ERRNO, /* fail with errno_ret */
	SBX_SC_KILL,  /* kill the process */
	SBX_SC_LOG,   /* allow and log (for building profiles) */
};

enum sbx_sc_op {
	SBX_SC_EQ,
	SBX_SC_NE,
	SBX_SC_LT,
	SBX_SC_LE,
	SBX_SC_GT,
	SBX_SC_GE,
	SBX_SC_MASKED_EQ, /* (arg & mask) == value */
};

struct sbx_sc_arg {
	unsigned index; /* 0..5 */
	enum sbx_sc_op op;
	uint64_t value;
	uint64_t mask; /* SBX_SC_MASKED_EQ only */
};

/* One rule: the action applies when every arg comparison holds (AND). */
struct sbx_sc_rule {
	char *syscall; /* x86_64 name (policy/syscall-names.h) */
	int nr;	       /* its x86_64 number, resolved by the parser */
	enum sbx_sc_action action;
	int errno_ret;
	struct sbx_sc_arg args[6];
	size_t n_args;
};

struct sbx_profile {
	char *name;
	char *path;
	enum sbx_sc_action default_action; /* for syscalls no rule names */
	int default_errno;
	struct sbx_sc_rule *rules;
	size_t n_rules;
};

/* Parses and checks a profile file (unknown keys, unknown syscall names are errors).
 * -EINVAL with diags on failure; *ret untouched. */
int sbx_profile_load_data(const char *data, size_t len, const char *path, const char *name,
			  struct sbx_profile **ret, struct sbx_diags *diags);
int sbx_profile_load_file(const char *path, struct sbx_profile **ret, struct sbx_diags *diags);
/* "default" and other names: dir/NAME.json, then the embedded set; a path if it has '/'. */
int sbx_profile_resolve(const char *name_or_path, const char *dir, struct sbx_profile **ret,
			struct sbx_diags *diags);
struct sbx_profile *sbx_profile_free(struct sbx_profile *p);
/* The x86_64 number of a syscall name, or -ENOENT. */
int sbx_profile_syscall_nr(const char *name);
static inline void sbx_profile_freep(struct sbx_profile **p)
{
	*p = sbx_profile_free(*p);
}

#define SBX_PROFILE_DIR SBX_SYSCONFDIR "/sbx/profiles"
