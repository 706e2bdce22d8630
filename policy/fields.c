/* SPDX-License-Identifier: MIT */
/*
 * The keys of a policy file (docs/policy.md), one handler each, walking jansson's tree into a
 * struct sbx_policy. Strict: an unknown key, a value of the wrong type or out of range is an
 * error at its key path, and the walk goes on so every error of a file is reported. The
 * rules for one value's text live in validate.c; positions come from jsonpos.c. Never logs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/parse.h"
#include "policy/internal.h"

#define MIB	      ((uint64_t)1 << 20)
#define PID_MAX_LIMIT 4194304 /* the kernel's ceiling for pid_max */
#define CPU_MAX_CORES 1024

/* ---------------------------------------------------------------------------- binds */

static void bind_source(struct sbx_pctx *c, json_t *v, void *t)
{
	(void)sbx_values_checked(c, v, sbx_validate_bind_source, &((struct sbx_bind *)t)->source);
}
static void bind_target(struct sbx_pctx *c, json_t *v, void *t)
{
	(void)sbx_values_checked(c, v, sbx_validate_mount_target, &((struct sbx_bind *)t)->target);
}
static void bind_rw(struct sbx_pctx *c, json_t *v, void *t)
{
	sbx_values_bool(c, v, &((struct sbx_bind *)t)->rw);
}
static void bind_optional(struct sbx_pctx *c, json_t *v, void *t)
{
	sbx_values_bool(c, v, &((struct sbx_bind *)t)->optional);
}

static void parse_binds(struct sbx_pctx *c, json_t *v, void *t)
{
	static const struct sbx_field fields[] = {
	    {"source", bind_source},
	    {"target", bind_target},
	    {"rw", bind_rw},
	    {"optional", bind_optional},
	};
	struct sbx_policy *p = t;
	json_t *e;
	size_t i;

	if (!json_is_array(v)) {
		sbx_diag_here(c, false,
			      "must be an array of {\"source\", \"target\", ...} objects");
		return;
	}
	p->binds = calloc(json_array_size(v) + 1, sizeof(*p->binds));
	if (!p->binds) {
		c->oom = true;
		return;
	}
	json_array_foreach(v, i, e)
	{
		struct sbx_bind *b = &p->binds[p->n_binds++];
		sbx_diag_push_index(c, i);
		if (sbx_values_walk(c, e, fields, ARRAY_SIZE(fields), b) &&
		    !json_object_get(e, "source")) {
			sbx_diag_push_key(c, "source");
			sbx_diag_here(c, false, "missing: every bind needs a source");
			sbx_diag_pop(c);
		}
		/* A target that failed its check stays NULL: it is reported already. */
		if (b->source && !b->target && !json_object_get(e, "target")) {
			const char *err = sbx_validate_mount_target(b->source);
			sbx_diag_push_key(c, "source");
			if (err)
				sbx_diag_here(c, false,
					      "'%s' %s (as the target, which defaults "
					      "to the source)",
					      b->source, err);
			else
				b->target = sbx_values_strdup(c, b->source);
			sbx_diag_pop(c);
		}
		/* An incomplete entry stays (with NULLs) so indices match the file's; it is
		 * reported already, so this policy is never returned. */
		sbx_diag_pop(c);
	}
}

/* ---------------------------------------------------------------------------- tmpfs */

static void tmpfs_target(struct sbx_pctx *c, json_t *v, void *t)
{
	(void)sbx_values_checked(c, v, sbx_validate_mount_target, &((struct sbx_tmpfs *)t)->target);
}
static void tmpfs_size(struct sbx_pctx *c, json_t *v, void *t)
{
	(void)sbx_values_size(c, v, 1, &((struct sbx_tmpfs *)t)->size);
}
static void tmpfs_mode(struct sbx_pctx *c, json_t *v, void *t)
{
	const char *s = json_string_value(v);
	char *end = NULL;
	unsigned long m;

	/* JSON has no octal numbers: 1777 would silently mean 03361. */
	if (!s || !*s || strlen(s) > 4 || strspn(s, "01234567") != strlen(s)) {
		sbx_diag_here(c, false, "must be an octal string like \"1777\" or \"0755\"");
		return;
	}
	m = strtoul(s, &end, 8);
	((struct sbx_tmpfs *)t)->mode = (uint32_t)m;
}

static void parse_tmpfs(struct sbx_pctx *c, json_t *v, void *t)
{
	static const struct sbx_field fields[] = {
	    {"target", tmpfs_target},
	    {"size", tmpfs_size},
	    {"mode", tmpfs_mode},
	};
	struct sbx_policy *p = t;
	json_t *e;
	size_t i;

	if (!json_is_array(v)) {
		sbx_diag_here(c, false,
			      "must be an array of {\"target\", \"size\", \"mode\"} objects");
		return;
	}
	p->tmpfs = calloc(json_array_size(v) + 1, sizeof(*p->tmpfs));
	if (!p->tmpfs) {
		c->oom = true;
		return;
	}
	json_array_foreach(v, i, e)
	{
		struct sbx_tmpfs *m = &p->tmpfs[p->n_tmpfs++];
		m->size = 64 * MIB;
		m->mode = 01777;
		sbx_diag_push_index(c, i);
		if (sbx_values_walk(c, e, fields, ARRAY_SIZE(fields), m) &&
		    !json_object_get(e, "target")) {
			sbx_diag_push_key(c, "target");
			sbx_diag_here(c, false, "missing: every tmpfs needs a target");
			sbx_diag_pop(c);
		}
		sbx_diag_pop(c);
	}
}

/* -------------------------------------------------------------------------- network */

static bool net_mode(struct sbx_pctx *c, json_t *v, enum sbx_net_mode *ret)
{
	static const char *const modes[] = {
	    [SBX_NET_NONE] = "none", [SBX_NET_HOST] = "host", [SBX_NET_PROXY] = "proxy"};

	for (size_t i = 0; json_is_string(v) && i < ARRAY_SIZE(modes); i++)
		if (strcmp(json_string_value(v), modes[i]) == 0) {
			*ret = (enum sbx_net_mode)i;
			return true;
		}
	sbx_diag_here(c, false, "must be \"none\", \"host\" or \"proxy\"");
	return false;
}

static void network_mode(struct sbx_pctx *c, json_t *v, void *t)
{
	(void)net_mode(c, v, &((struct sbx_policy *)t)->net);
}
static void network_allow(struct sbx_pctx *c, json_t *v, void *t)
{
	struct sbx_policy *p = t;
	sbx_values_list(c, v, sbx_validate_allow, &p->net_allow, &p->n_net_allow);
}

static void network_max_connections(struct sbx_pctx *c, json_t *v, void *t)
{
	(void)sbx_values_count(c, v, 1, 4096, &((struct sbx_policy *)t)->net_max_connections);
}
static void network_max_bytes(struct sbx_pctx *c, json_t *v, void *t)
{
	(void)sbx_values_size(c, v, 1, &((struct sbx_policy *)t)->net_max_bytes);
}
static void network_idle_timeout(struct sbx_pctx *c, json_t *v, void *t)
{
	(void)sbx_values_duration(c, v, &((struct sbx_policy *)t)->net_idle_ms);
}

/* The proxy's limits are only meaningful with mode "proxy". */
static void check_proxy_only(struct sbx_pctx *c, json_t *v, const struct sbx_policy *p)
{
	static const char *const keys[] = {"max_connections", "max_bytes", "idle_timeout"};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (p->net == SBX_NET_PROXY || !json_object_get(v, keys[i]))
			continue;
		sbx_diag_push_key(c, keys[i]);
		sbx_diag_here(c, true, "only with mode \"proxy\"");
		sbx_diag_pop(c);
	}
}

static void parse_network(struct sbx_pctx *c, json_t *v, void *t)
{
	static const struct sbx_field fields[] = {
	    {"mode", network_mode},
	    {"allow", network_allow},
	    {"max_connections", network_max_connections},
	    {"max_bytes", network_max_bytes},
	    {"idle_timeout", network_idle_timeout},
	};
	struct sbx_policy *p = t;
	json_t *allow;

	if (json_is_string(v)) {
		(void)net_mode(c, v, &p->net);
		return;
	}
	if (!json_is_object(v)) {
		sbx_diag_here(c, false,
			      "must be \"none\", \"host\", \"proxy\" or {\"mode\", \"allow\"}");
		return;
	}
	(void)sbx_values_walk(c, v, fields, ARRAY_SIZE(fields), p);
	allow = json_object_get(v, "allow");
	sbx_diag_push_key(c, "allow");
	if (p->net != SBX_NET_PROXY && allow)
		sbx_diag_here(c, true, "only with mode \"proxy\"");
	else if (p->net == SBX_NET_PROXY && json_array_size(allow) == 0)
		sbx_diag_here(c, false, "mode \"proxy\" needs a non-empty list of \"host:port\"");
	sbx_diag_pop(c);
	check_proxy_only(c, v, p);
}

/* ------------------------------------------------------------------ rlimits, cgroup */

static void rlimit(struct sbx_pctx *c, json_t *v, uint64_t *lim, enum sbx_rlimit_kind k)
{
	switch (k) {
	case SBX_RLIMIT_NOFILE:
		(void)sbx_values_count(c, v, 1, UINT32_MAX, &lim[k]);
		break;
	case SBX_RLIMIT_NPROC:
		(void)sbx_values_count(c, v, 1, PID_MAX_LIMIT, &lim[k]);
		break;
	case SBX_RLIMIT_CPU: {
		uint64_t ms;
		if (sbx_values_duration(c, v, &ms))
			lim[k] = json_is_integer(v) ? ms : (ms + 999) / 1000;
		break;
	}
	case SBX_RLIMIT_AS:
		(void)sbx_values_size(c, v, 16 * MIB, &lim[k]);
		break;
	case SBX_RLIMIT_STACK:
		(void)sbx_values_size(c, v, (uint64_t)64 * 1024, &lim[k]);
		break;
	default: /* FSIZE, MEMLOCK: 0 is a real limit (no file growth, nothing locked) */
		(void)sbx_values_size(c, v, 0, &lim[k]);
		break;
	}
}

#define RLIMIT_FIELD(fn, kind)                                         \
	static void fn(struct sbx_pctx *c, json_t *v, void *t)         \
	{                                                              \
		rlimit(c, v, ((struct sbx_policy *)t)->rlimits, kind); \
	}
RLIMIT_FIELD(rl_nofile, SBX_RLIMIT_NOFILE)
RLIMIT_FIELD(rl_nproc, SBX_RLIMIT_NPROC)
RLIMIT_FIELD(rl_fsize, SBX_RLIMIT_FSIZE)
RLIMIT_FIELD(rl_cpu, SBX_RLIMIT_CPU)
RLIMIT_FIELD(rl_as, SBX_RLIMIT_AS)
RLIMIT_FIELD(rl_stack, SBX_RLIMIT_STACK)
RLIMIT_FIELD(rl_memlock, SBX_RLIMIT_MEMLOCK)

static void rl_core(struct sbx_pctx *c, json_t *v, void *t)
{
	(void)t;
	if (!json_is_integer(v) || json_integer_value(v) != 0)
		sbx_diag_here(c, false, "may only be 0: a sandbox never writes core dumps");
}

static void parse_rlimits(struct sbx_pctx *c, json_t *v, void *t)
{
	static const struct sbx_field fields[] = {
	    {"nofile", rl_nofile}, {"nproc", rl_nproc}, {"fsize", rl_fsize},	 {"cpu", rl_cpu},
	    {"as", rl_as},	   {"stack", rl_stack}, {"memlock", rl_memlock}, {"core", rl_core},
	};
	(void)sbx_values_walk(c, v, fields, ARRAY_SIZE(fields), t);
}

static void cg_memory(struct sbx_pctx *c, json_t *v, void *t)
{
	struct sbx_policy *p = t;
	if (sbx_values_is_max(v))
		p->memory_max = 0;
	else
		(void)sbx_values_size(c, v, MIB, &p->memory_max);
}
static void cg_pids(struct sbx_pctx *c, json_t *v, void *t)
{
	struct sbx_policy *p = t;
	if (sbx_values_is_max(v))
		p->pids_max = 0;
	else
		(void)sbx_values_count(c, v, 1, PID_MAX_LIMIT, &p->pids_max);
}
static void cg_cpu(struct sbx_pctx *c, json_t *v, void *t)
{
	struct sbx_policy *p = t;
	double cores = json_number_value(v);

	if (sbx_values_is_max(v)) {
		p->cpu_millis = 0;
	} else if (!json_is_number(v)) {
		sbx_diag_here(c, false, "must be a number of cores (like 1.0 or 0.5) or \"max\"");
	} else if (!(cores >= 0.001) || cores > CPU_MAX_CORES) {
		sbx_diag_here(c, false, "%g cores is out of range (0.001 to %d)", cores,
			      CPU_MAX_CORES);
	} else {
		p->cpu_millis = (uint32_t)(cores * 1000.0 + 0.5); /* no libm */
	}
}

static void parse_cgroup(struct sbx_pctx *c, json_t *v, void *t)
{
	static const struct sbx_field fields[] = {
	    {"memory", cg_memory}, {"pids", cg_pids}, {"cpu", cg_cpu}};
	(void)sbx_values_walk(c, v, fields, ARRAY_SIZE(fields), t);
}

/* ------------------------------------------------------------------ everything else */

static void timeout_default(struct sbx_pctx *c, json_t *v, void *t)
{
	(void)sbx_values_duration(c, v, &((struct sbx_policy *)t)->timeout_default_ms);
}
static void timeout_max(struct sbx_pctx *c, json_t *v, void *t)
{
	(void)sbx_values_duration(c, v, &((struct sbx_policy *)t)->timeout_max_ms);
}

static void parse_timeout(struct sbx_pctx *c, json_t *v, void *t)
{
	static const struct sbx_field fields[] = {{"default", timeout_default},
						  {"max", timeout_max}};
	struct sbx_policy *p = t;

	if (!sbx_values_walk(c, v, fields, ARRAY_SIZE(fields), t))
		return;
	/* One of the two given: the other follows it (default at most 60 s, max at least 1 h). */
	if (!json_object_get(v, "default"))
		p->timeout_default_ms = p->timeout_max_ms < 60000 ? p->timeout_max_ms : 60000;
	if (!json_object_get(v, "max"))
		p->timeout_max_ms =
		    p->timeout_default_ms > 3600000 ? p->timeout_default_ms : 3600000;
}

static void clients_uids(struct sbx_pctx *c, json_t *v, void *t)
{
	struct sbx_policy *p = t;
	json_t *e;
	size_t i;

	if (!json_is_array(v)) {
		sbx_diag_here(c, false, "must be an array of uids");
		return;
	}
	free(p->uids);
	p->n_uids = 0;
	p->uids = calloc(json_array_size(v) + 1, sizeof(uid_t));
	if (!p->uids) {
		c->oom = true;
		return;
	}
	json_array_foreach(v, i, e)
	{
		uint64_t u;
		sbx_diag_push_index(c, i);
		if (sbx_values_count(c, e, 0, UINT32_MAX - 1, &u)) {
			bool twice = false;
			for (size_t k = 0; k < p->n_uids; k++)
				twice = twice || p->uids[k] == (uid_t)u;
			if (twice)
				sbx_diag_here(c, false, "uid %llu is listed twice",
					      (unsigned long long)u);
			else
				p->uids[p->n_uids++] = (uid_t)u;
		}
		sbx_diag_pop(c);
	}
}
static void clients_groups(struct sbx_pctx *c, json_t *v, void *t)
{
	struct sbx_policy *p = t;
	sbx_values_list(c, v, sbx_validate_group, &p->groups, &p->n_groups);
}

static void output_max(struct sbx_pctx *c, json_t *v, void *t)
{
	(void)sbx_values_size(c, v, 1024, &((struct sbx_policy *)t)->output_max);
}
static void output_redact(struct sbx_pctx *c, json_t *v, void *t)
{
	sbx_values_bool(c, v, &((struct sbx_policy *)t)->redact);
}

static void parse_clients(struct sbx_pctx *c, json_t *v, void *t)
{
	static const struct sbx_field fields[] = {{"uids", clients_uids},
						  {"groups", clients_groups}};
	(void)sbx_values_walk(c, v, fields, ARRAY_SIZE(fields), t);
}
static void parse_output(struct sbx_pctx *c, json_t *v, void *t)
{
	static const struct sbx_field fields[] = {{"max", output_max}, {"redact", output_redact}};
	(void)sbx_values_walk(c, v, fields, ARRAY_SIZE(fields), t);
}

static const char *any_text(const char *s)
{
	return strlen(s) > 4096 ? "is too long (at most 4096 bytes)" : NULL;
}
static const char *seccomp_ref(const char *s)
{
	if (s[0] == '/')
		return sbx_validate_path(s);
	return sbx_validate_name(s) ? "must be a profile name ([a-z0-9][a-z0-9_.-]{0,63}) or an "
				      "absolute path"
				    : NULL;
}
static const char *cwd_path(const char *s)
{
	const char *e = sbx_validate_path(s);
	/* runc CVE-2024-21626: a cwd through /proc/self/fd reaches the host. */
	if (!e && sbx_validate_path_covers("/proc", s))
		return "must not be at or under /proc";
	return e;
}

#define STRING_FIELD(fn, member, rule)                                                   \
	static void fn(struct sbx_pctx *c, json_t *v, void *t)                           \
	{                                                                                \
		(void)sbx_values_checked(c, v, rule, &((struct sbx_policy *)t)->member); \
	}
STRING_FIELD(parse_description, description, any_text)
STRING_FIELD(parse_seccomp, seccomp, seccomp_ref)
STRING_FIELD(parse_hostname, hostname, sbx_validate_hostname)
STRING_FIELD(parse_cwd, cwd, cwd_path)

static void parse_userns(struct sbx_pctx *c, json_t *v, void *t)
{
	sbx_values_bool(c, v, &((struct sbx_policy *)t)->user_namespace);
}
static void parse_secrets(struct sbx_pctx *c, json_t *v, void *t)
{
	struct sbx_policy *p = t;
	sbx_values_list(c, v, sbx_validate_secret, &p->secrets, &p->n_secrets);
}
static void parse_env(struct sbx_pctx *c, json_t *v, void *t)
{
	struct sbx_policy *p = t;
	sbx_values_list(c, v, sbx_validate_env, &p->env, &p->n_env);
}

static const struct sbx_field top_fields[] = {
    {"description", parse_description},
    {"binds", parse_binds},
    {"tmpfs", parse_tmpfs},
    {"network", parse_network},
    {"seccomp", parse_seccomp},
    {"user_namespace", parse_userns},
    {"hostname", parse_hostname},
    {"cwd", parse_cwd},
    {"rlimits", parse_rlimits},
    {"cgroup", parse_cgroup},
    {"timeout", parse_timeout},
    {"secrets", parse_secrets},
    {"env", parse_env},
    {"clients", parse_clients},
    {"output", parse_output},
};

void sbx_fields_parse(struct sbx_pctx *c, struct json_t *root, struct sbx_policy *p)
{
	(void)sbx_values_walk(c, root, top_fields, ARRAY_SIZE(top_fields), p);
}
