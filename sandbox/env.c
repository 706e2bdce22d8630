/* SPDX-License-Identifier: MIT */
/*
 * The payload's environment, built from scratch (nothing of the caller's own environment
 * leaks in): a fixed base, the request's variables, then the secrets. Base and request strings
 * are copied into the same allocation as the pointer array, so one free() releases them and
 * the sandbox's init can wipe them in its copy of memory; secret strings are only referenced:
 * they stay in the caller's locked memory. In network mode proxy the proxy variables come
 * after the request's and win over any of the same name (a policy cannot let a request set
 * them anyway: they are reserved names).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/sandbox.h"

static const char *const base_env[] = {
    "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "USER=sbx", "LOGNAME=sbx", "LANG=C.UTF-8",
};
#define N_BASE (sizeof(base_env) / sizeof(base_env[0]))

/* curl, wget, git, Python requests, Node's undici and Go read one spelling or the other. */
#define PROXY_URL "http://127.0.0.1:3128"
static const char *const proxy_env[] = {
    "HTTPS_PROXY=" PROXY_URL, "HTTP_PROXY=" PROXY_URL, "https_proxy=" PROXY_URL,
    "http_proxy=" PROXY_URL,  "NO_PROXY=localhost",    "no_proxy=localhost",
};
#define N_PROXY (sizeof(proxy_env) / sizeof(proxy_env[0]))

static bool is_proxy_name(const char *s)
{
	for (size_t i = 0; i < N_PROXY; i++) {
		size_t k = strcspn(proxy_env[i], "=") + 1;
		if (strncmp(s, proxy_env[i], k) == 0)
			return true;
	}
	return false;
}

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
	return sbx_sandbox_envp_net(SBX_NET_NONE, extra, n_extra, secrets, ret);
}

int sbx_sandbox_envp_net(enum sbx_net_mode net, char *const *extra, size_t n_extra,
			 char *const *secrets, char ***ret)
{
	const size_t n_proxy = net == SBX_NET_PROXY ? N_PROXY : 0;
	const size_t n_plain = N_BASE + n_extra + n_proxy;
	size_t n_secrets = 0, bytes = 0, n = 0;
	char **envp, *p;

	while (secrets && secrets[n_secrets])
		n_secrets++;
	for (size_t i = 0; i < N_BASE; i++)
		bytes += strlen(base_env[i]) + 1;
	for (size_t i = 0; i < n_extra; i++)
		bytes += strlen(extra[i]) + 1;
	for (size_t i = 0; i < n_proxy; i++)
		bytes += strlen(proxy_env[i]) + 1;
	envp = malloc((n_plain + n_secrets + 1) * sizeof(char *) + bytes);
	if (!envp)
		return -ENOMEM;
	p = (char *)(envp + n_plain + n_secrets + 1);
	for (size_t i = 0; i < n_plain; i++) {
		const char *s = i < N_BASE	       ? base_env[i]
				: i < N_BASE + n_extra ? extra[i - N_BASE]
						       : proxy_env[i - N_BASE - n_extra];
		size_t len = strlen(s) + 1;
		if (i < N_BASE && overridden(s, extra, n_extra))
			continue;
		if (n_proxy && i >= N_BASE && i < N_BASE + n_extra && is_proxy_name(s))
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
