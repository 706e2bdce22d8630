/* SPDX-License-Identifier: MIT */
/*
 * Policies (DESIGN.md "Policy", docs/policy.md): loading a file whole or not at all, finding
 * a policy by name (the policy directory, then the shipped set compiled in), and the
 * questions the engine and the supervisor ask of a loaded one. A file with any error yields
 * no policy and every error with its file:line:col; absent keys take safe defaults (no
 * network, redaction on, core dumps off, the shipped default's cgroup limits and timeouts).
 * Never logs: callers print the diags.
 */
#include "policy/policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/fd-util.h"
#include "policy/embedded.h"
#include "policy/internal.h"

#define POLICY_MAX_SIZE ((size_t)1024 * 1024)

static void jsonp(json_t **j)
{
	json_decref(*j);
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

struct sbx_policy *sbx_policy_free(struct sbx_policy *p)
{
	if (!p)
		return NULL;
	free(p->name);
	free(p->path);
	free(p->description);
	for (size_t i = 0; i < p->n_binds; i++) {
		free(p->binds[i].source);
		free(p->binds[i].target);
	}
	free(p->binds);
	for (size_t i = 0; i < p->n_tmpfs; i++)
		free(p->tmpfs[i].target);
	free(p->tmpfs);
	free_strv(p->net_allow, p->n_net_allow);
	free(p->seccomp);
	free(p->hostname);
	free(p->cwd);
	free_strv(p->secrets, p->n_secrets);
	free_strv(p->env, p->n_env);
	free(p->uids);
	free_strv(p->groups, p->n_groups);
	free(p);
	return NULL;
}

/* A policy holding every default (docs/policy.md): what an empty file "{}" gives. */
static struct sbx_policy *policy_new(void)
{
	struct sbx_policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->net = SBX_NET_NONE;
	p->net_max_connections = 32;
	p->net_max_bytes = (uint64_t)1 << 30;
	p->net_idle_ms = 60000;
	p->seccomp = strdup("default");
	p->hostname = strdup("sbx");
	p->cwd = strdup("/");
	for (size_t i = 0; i < _SBX_RLIMIT_MAX; i++)
		p->rlimits[i] = SBX_LIMIT_UNSET;
	p->memory_max = (uint64_t)512 << 20;
	p->pids_max = 128;
	p->cpu_millis = 1000;
	p->timeout_default_ms = 60000;
	p->timeout_max_ms = 3600000;
	p->redact = true;
	if (!p->seccomp || !p->hostname || !p->cwd)
		return sbx_policy_free(p);
	return p;
}

/* "dir/name.json" -> "name"; NULL when out of memory. */
static char *name_from_path(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".json") == 0)
		n -= 5;
	return strndup(base, n);
}

int sbx_policy_load_data(const char *data, size_t len, const char *path, const char *name,
			 struct sbx_policy **ret_policy, struct sbx_diags *diags)
{
	_cleanup_(sbx_policy_freep) struct sbx_policy *p = NULL;
	_cleanup_(jsonp) json_t *root = NULL;
	struct sbx_pctx c = {
	    .file = path ? path : "<policy>", .text = data, .len = len, .diags = diags};
	size_t first = diags ? diags->n : 0;
	json_error_t err;
	const char *e;

	if (len > POLICY_MAX_SIZE) {
		sbx_diag_add(diags, NULL, c.file, "", "larger than %zu bytes", POLICY_MAX_SIZE);
		return -EFBIG;
	}
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		struct sbx_diag x = {.line = err.line > 0 ? err.line : 0,
				     .col = err.column > 0 ? err.column : 0};
		(void)snprintf(x.file, sizeof(x.file), "%s", c.file);
		(void)snprintf(x.msg, sizeof(x.msg), "%s", err.text);
		sbx_diag_append(diags, NULL, &x);
		return -EINVAL;
	}
	p = policy_new();
	if (p)
		p->name = name ? strdup(name) : name_from_path(c.file);
	if (p && p->name)
		p->path = strdup(c.file);
	if (!p || !p->name || !p->path) {
		sbx_diag_add(diags, NULL, c.file, "", "out of memory");
		return -ENOMEM;
	}
	e = sbx_validate_name(p->name);
	if (e)
		sbx_diag_add(diags, &c.n_err, c.file, "",
			     "policy name '%s' (from the file name unless given) %s", p->name, e);
	if (!json_is_object(root))
		sbx_diag_here(&c, false, "a policy must be a JSON object");
	else
		sbx_fields_parse(&c, root, p);
	if (c.oom)
		return -ENOMEM;
	/* Cross-key checks run even after errors: they skip entries that failed their own. */
	sbx_validate_policy(&c, p);
	sbx_diag_sort(diags, first);
	if (c.n_err > 0)
		return -EINVAL;
	*ret_policy = TAKE_PTR(p);
	return 0;
}

int sbx_policy_load_file(const char *path, const char *name, struct sbx_policy **ret_policy,
			 struct sbx_diags *diags)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r;

	r = sbx_fd_read_file(path, POLICY_MAX_SIZE, &data, &len);
	if (r < 0) {
		if (r == -EFBIG)
			sbx_diag_add(diags, NULL, path, "", "larger than %zu bytes",
				     POLICY_MAX_SIZE);
		else
			sbx_diag_add(diags, NULL, path, "", "cannot read: %s", strerror(-r));
		return r;
	}
	return sbx_policy_load_data(data, len, path, name, ret_policy, diags);
}

int sbx_policy_resolve(const char *name_or_path, const char *dir, struct sbx_policy **ret_policy,
		       struct sbx_diags *diags)
{
	const struct sbx_embedded_file *f;
	char path[4096];
	int r;

	if (strchr(name_or_path, '/'))
		return sbx_policy_load_file(name_or_path, NULL, ret_policy, diags);
	if (sbx_validate_name(name_or_path)) {
		sbx_diag_add(diags, NULL, name_or_path, "",
			     "unknown policy '%s' (a name must match [a-z0-9][a-z0-9_.-]{0,63}; "
			     "a path must contain '/')",
			     name_or_path);
		return -ENOENT;
	}
	r = sbx_embedded_locate(name_or_path, dir, "", path, sizeof(path), &f);
	if (r == -ENAMETOOLONG) {
		sbx_diag_add(diags, NULL, dir, "", "policy directory path too long");
		return r;
	}
	if (r == 0 && !f)
		return sbx_policy_load_file(path, name_or_path, ret_policy, diags);
	if (r == 0)
		return sbx_policy_load_data(f->data, f->size, path, name_or_path, ret_policy,
					    diags);
	sbx_diag_add(diags, NULL, name_or_path, "", "unknown policy '%s' (not in %s, not built in)",
		     name_or_path, dir ? dir : "any directory");
	return -ENOENT;
}

bool sbx_policy_accepts_secret(const struct sbx_policy *p, const char *name)
{
	size_t n;

	if (!name || name[0] == '*' || sbx_validate_secret(name))
		return false; /* not a name, or reserved */
	n = strlen(name);
	for (size_t i = 0; i < p->n_secrets; i++) {
		const char *s = p->secrets[i];
		size_t k = strlen(s);
		if (s[0] != '*' && strcmp(s, name) == 0)
			return true;
		/* "*_TOKEN" needs at least one character before "_TOKEN". */
		if (s[0] == '*' && n > k - 1 && strcmp(name + n - (k - 1), s + 1) == 0)
			return true;
	}
	return false;
}

bool sbx_policy_accepts_env(const struct sbx_policy *p, const char *name)
{
	size_t n;

	if (!name || strchr(name, '*') || sbx_validate_env(name))
		return false; /* not a name, or one a request may never set */
	/* A secret's name comes from the sealed blob only, never from a request. */
	if (sbx_policy_accepts_secret(p, name))
		return false;
	n = strlen(name);
	for (size_t i = 0; i < p->n_env; i++) {
		const char *s = p->env[i];
		size_t k = strlen(s);
		if (s[k - 1] != '*' && strcmp(s, name) == 0)
			return true;
		/* "APP_*" needs at least one character after "APP_". */
		if (s[k - 1] == '*' && n > k - 1 && strncmp(name, s, k - 1) == 0)
			return true;
	}
	return false;
}

int sbx_policy_add_bind(struct sbx_policy *p, const char *source, const char *target, bool rw,
			struct sbx_diags *diags)
{
	const char *opt = rw ? "--bind" : "--ro-bind", *other = NULL, *e;
	struct sbx_bind *v;

	if (!target)
		target = source;
	e = sbx_validate_bind_source(source);
	if (e) {
		sbx_diag_add(diags, NULL, "<command line>", opt, "source '%s' %s", source, e);
		return -EINVAL;
	}
	e = sbx_validate_mount_target(target);
	if (!e)
		e = sbx_validate_target_free(p, target, &other);
	if (e) {
		sbx_diag_add(diags, NULL, "<command line>", opt, "target '%s' %s%s%s%s", target, e,
			     other ? " ('" : "", other ? other : "", other ? "')" : "");
		return -EINVAL;
	}
	v = reallocarray(p->binds, p->n_binds + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	p->binds = v;
	v[p->n_binds] =
	    (struct sbx_bind){.source = strdup(source), .target = strdup(target), .rw = rw};
	if (!v[p->n_binds].source || !v[p->n_binds].target) {
		free(v[p->n_binds].source);
		free(v[p->n_binds].target);
		return -ENOMEM;
	}
	p->n_binds++;
	return 0;
}
