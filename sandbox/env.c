/* SPDX-License-Identifier: MIT */
/*
 * The payload's environment, built from scratch (nothing of the caller's own environment
 * leaks in): a fixed base, the request's variables, then the secrets. Base and request strings
 * are copied into the same allocation as the pointer array, so one free() releases them and
 * the sandbox's init can wipe them in its copy of memory; secret strings are only referenced:
 * they stay in the caller's locked memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/sandbox.h"

static const char *const base_env[] = {
    "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "USER=sbx", "LOGNAME=sbx", "LANG=C.UTF-8",
};
#define N_BASE (sizeof(base_env) / sizeof(base_env[0]))

static bool overridden(const char *base, char *const *extra, size_t n_extra)
{
	size_t k = strcspn(base, "=") + 1;

	for (size_t j = 0; j < n_extra; j++)
		if (strncmp(extra[j], base, k) == 0)
			return true;
	return false;
}

int sbx_sandbox_envp(char *const *extra, size_t n_extra, char *const *secrets, char ***ret)
{
	size_t n_secrets = 0, bytes = 0, n = 0;
	char **envp, *p;

	while (secrets && secrets[n_secrets])
		n_secrets++;
	for (size_t i = 0; i < N_BASE; i++)
		bytes += strlen(base_env[i]) + 1;
	for (size_t i = 0; i < n_extra; i++)
		bytes += strlen(extra[i]) + 1;
	envp = malloc((N_BASE + n_extra + n_secrets + 1) * sizeof(char *) + bytes);
	if (!envp)
		return -ENOMEM;
	p = (char *)(envp + N_BASE + n_extra + n_secrets + 1);
	for (size_t i = 0; i < N_BASE + n_extra; i++) {
		const char *s = i < N_BASE ? base_env[i] : extra[i - N_BASE];
		size_t len = strlen(s) + 1;
		if (i < N_BASE && overridden(s, extra, n_extra))
			continue;
		memcpy(p, s, len);
		envp[n++] = p;
		p += len;
	}
	for (size_t i = 0; i < n_secrets; i++)
		envp[n++] = secrets[i];
	envp[n] = NULL;
	*ret = envp;
	return 0;
}
