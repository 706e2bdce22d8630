/* SPDX-License-Identifier: MIT */
#include "cli/exec-env.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "sandbox/sandbox.h"

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
	char name[129];

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
	e->envp = NULL;
	if (sbx_sandbox_envp_net(p->net, e->extra, e->n_extra, secrets, &e->envp) < 0)
		return log_error("out of memory"), -ENOMEM;
	return 0;
}

void sbx_exec_env_done(struct sbx_exec_env *e)
{
	for (size_t i = 0; i < e->n_extra; i++)
		free(e->extra[i]);
	free(e->envp);
	*e = (struct sbx_exec_env){0};
}
