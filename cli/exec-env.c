/* SPDX-License-Identifier: MIT */
#include "cli/exec-env.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static const char *const base_env[] = {
    "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "USER=sbx", "LOGNAME=sbx", "LANG=C.UTF-8",
};
#define N_BASE (sizeof(base_env) / sizeof(base_env[0]))

static size_t name_len(const char *assignment)
{
	const char *eq = strchr(assignment, '=');
	return eq ? (size_t)(eq - assignment) : 0;
}

static bool valid_name(const char *s, size_t n)
{
	if (n == 0 || n > 128 ||
	    !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

int sbx_exec_env_add(struct sbx_exec_env *e, const char *assignment)
{
	size_t n = name_len(assignment);

	if (!valid_name(assignment, n))
		return log_error("--env: expected NAME=VALUE with NAME of letters, digits and '_', "
				 "got '%.*s...'",
				 (int)(n ? n : strcspn(assignment, "=")), assignment),
		       -EINVAL;
	for (size_t i = 0; i < e->n_extra; i++)
		if (name_len(e->extra[i]) == n && strncmp(e->extra[i], assignment, n) == 0)
			return log_error("--env: '%.*s' given twice", (int)n, assignment), -EINVAL;
	if (e->n_extra >= SBX_EXEC_ENV_MAX)
		return log_error("--env: too many variables (at most %d)", SBX_EXEC_ENV_MAX),
		       -E2BIG;
	e->extra[e->n_extra] = strdup(assignment);
	if (!e->extra[e->n_extra])
		return -ENOMEM;
	e->n_extra++;
	return 0;
}

int sbx_exec_env_build(struct sbx_exec_env *e, const struct sbx_policy *p, char *const *secrets)
{
	size_t n_secrets = 0;
	char name[129];
	size_t k = 0;

	while (secrets && secrets[n_secrets])
		n_secrets++;
	for (size_t i = 0; i < e->n_extra; i++) {
		size_t n = name_len(e->extra[i]);
		memcpy(name, e->extra[i], n);
		name[n] = '\0';
		if (!sbx_policy_accepts_env(p, name))
			return log_error("--env: policy '%s' does not let a request set '%s' (see "
					 "its \"env\" list)",
					 p->name, name),
			       -EPERM;
	}
	free(e->envp);
	e->envp = calloc(N_BASE + e->n_extra + n_secrets + 1, sizeof(char *));
	if (!e->envp)
		return log_error("out of memory"), -ENOMEM;
	for (size_t i = 0; i < N_BASE; i++) {
		/* A policy-approved --env LANG=... replaces the base value. */
		bool replaced = false;
		for (size_t j = 0; j < e->n_extra; j++)
			if (name_len(e->extra[j]) == name_len(base_env[i]) &&
			    strncmp(e->extra[j], base_env[i], name_len(base_env[i])) == 0)
				replaced = true;
		/* Copies: the sandbox's init wipes every envp string of its memory. */
		if (!replaced && !(e->base[e->n_base++] = strdup(base_env[i])))
			return log_error("out of memory"), -ENOMEM;
		if (!replaced)
			e->envp[k++] = e->base[e->n_base - 1];
	}
	for (size_t i = 0; i < e->n_extra; i++)
		e->envp[k++] = e->extra[i];
	for (size_t i = 0; i < n_secrets; i++)
		e->envp[k++] = secrets[i];
	e->envp[k] = NULL;
	return 0;
}

void sbx_exec_env_done(struct sbx_exec_env *e)
{
	for (size_t i = 0; i < e->n_extra; i++)
		free(e->extra[i]);
	for (size_t i = 0; i < e->n_base; i++)
		free(e->base[i]);
	free(e->envp);
	*e = (struct sbx_exec_env){0};
}
