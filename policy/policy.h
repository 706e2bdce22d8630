/* SPDX-License-Identifier: MIT */
/*
 * A policy: the plain-data description of one kind of sandbox (DESIGN.md "Policy";
 * docs/policy.md is the reference of every key). Loaded from JSON, validated whole, then
 * read-only: the sandbox engine and the supervisor only ever read a struct sbx_policy.
 * No jansson type appears here.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

/* One problem in a file, with its position (1-based; 0 when unknown). */
struct sbx_diag {
	char file[256];
	int line;
	int col;
	char key[128]; /* "binds[2].target"; "" for syntax errors */
	char msg[256];
};

/* Every problem found in one load; a load fails when n > 0. */
struct sbx_diags {
	struct sbx_diag *v;
	size_t n;
};
void sbx_diags_clear(struct sbx_diags *d);
/* "file:line:col: key: msg" */
int sbx_diag_format(const struct sbx_diag *d, char *buf, size_t len);

enum sbx_net_mode {
	SBX_NET_NONE,  /* own netns, only lo */
	SBX_NET_HOST,  /* the host's network namespace */
	SBX_NET_PROXY, /* own netns, egress only through the supervisor's proxy */
};

struct sbx_bind {
	char *source;  /* absolute host path */
	char *target;  /* absolute path inside the sandbox */
	bool rw;       /* default false: read-only, always nosuid,nodev */
	bool optional; /* skip silently when the source does not exist on this host */
};

struct sbx_tmpfs {
	char *target;
	uint64_t size; /* bytes, > 0 */
	uint32_t mode; /* default 01777 */
};

/* Resources sbx sets on the payload; RLIMIT_CORE is always 0 whatever the policy says. */
enum sbx_rlimit_kind {
	SBX_RLIMIT_NOFILE,
	SBX_RLIMIT_NPROC,
	SBX_RLIMIT_FSIZE,
	SBX_RLIMIT_CPU, /* seconds */
	SBX_RLIMIT_AS,
	SBX_RLIMIT_STACK,
	SBX_RLIMIT_MEMLOCK,
	_SBX_RLIMIT_MAX,
};
#define SBX_LIMIT_UNSET UINT64_MAX

struct sbx_policy {
	char *name;	   /* file name without .json, or the embedded name */
	char *path;	   /* where it was loaded from ("<embedded>/default.json") */
	char *description; /* may be NULL */

	struct sbx_bind *binds;
	size_t n_binds;
	struct sbx_tmpfs *tmpfs;
	size_t n_tmpfs;

	enum sbx_net_mode net;
	char **net_allow; /* "host:port" entries for SBX_NET_PROXY */
	size_t n_net_allow;
	uint64_t net_max_connections; /* proxy: concurrent connections per task (default 32) */
	uint64_t net_max_bytes;	      /* proxy: bytes both ways per task (default 1 GiB) */
	uint64_t net_idle_ms;	      /* proxy: a connection with no traffic closes (60 s) */

	char *seccomp;	     /* profile name ("default") or absolute path */
	bool user_namespace; /* also a new user namespace */
	char *hostname;	     /* default "sbx" */
	char *cwd;	     /* payload's working directory, default "/" */

	uint64_t rlimits[_SBX_RLIMIT_MAX]; /* SBX_LIMIT_UNSET: inherit */

	uint64_t memory_max; /* bytes; 0: no limit */
	uint64_t pids_max;   /* 0: no limit */
	uint32_t cpu_millis; /* 1000 = one core; 0: no limit */

	uint64_t timeout_default_ms; /* 0: none */
	uint64_t timeout_max_ms;     /* 0: none; else >= default */

	char **secrets; /* accepted names: exact ("GITHUB_TOKEN") or "*_SUFFIX" */
	size_t n_secrets;
	char **env; /* names a request may set */
	size_t n_env;

	uid_t *uids; /* who may use it through sbxd (root always may) */
	size_t n_uids;
	char **groups;
	size_t n_groups;

	uint64_t output_max; /* bytes per stream per task; 0: no cap */
	bool redact;	     /* default true */
};

/* Parses and validates one policy file. name: the policy name (NULL: from the file name).
 * On failure returns -EINVAL with every problem appended to diags (or another -errno when
 * the file cannot be read, also with one diag). *ret_policy is untouched on failure. */
int sbx_policy_load_file(const char *path, const char *name, struct sbx_policy **ret_policy,
			 struct sbx_diags *diags);
/* Same, from memory; path is used only for messages. */
int sbx_policy_load_data(const char *data, size_t len, const char *path, const char *name,
			 struct sbx_policy **ret_policy, struct sbx_diags *diags);
/* Resolves "NAME" (in dir, then the embedded shipped set) or a path (contains '/').
 * -ENOENT with a diag when no such policy exists. */
int sbx_policy_resolve(const char *name_or_path, const char *dir, struct sbx_policy **ret_policy,
		       struct sbx_diags *diags);
struct sbx_policy *sbx_policy_free(struct sbx_policy *p);
static inline void sbx_policy_freep(struct sbx_policy **p)
{
	*p = sbx_policy_free(*p);
}

/* Does the policy accept this (already normalised) secret name? */
bool sbx_policy_accepts_secret(const struct sbx_policy *p, const char *name);
/* May a request set this env name? */
bool sbx_policy_accepts_env(const struct sbx_policy *p, const char *name);
/* Adds a bind (for `sbxctl exec --bind`), validated like a file's; -EINVAL + diag. */
int sbx_policy_add_bind(struct sbx_policy *p, const char *source, const char *target, bool rw,
			struct sbx_diags *diags);

/* Default policy directory: SBX_SYSCONFDIR "/sbx/policies". */
#define SBX_POLICY_DIR SBX_SYSCONFDIR "/sbx/policies"
