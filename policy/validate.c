/* SPDX-License-Identifier: MIT */
/*
 * The rules a policy's values must follow, apart from the JSON walk (policy.c): path shapes,
 * mount targets that never overlap or cover /proc and /dev, names of policies, hosts,
 * secrets and env variables, and the checks that need several keys at once. Pure functions of
 * their input except nr_open, read from /proc. Never logs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/envnames.h"
#include "common/fd-util.h"
#include "common/parse.h"
#include "policy/internal.h"

#define NAME_MAX_LEN 128
#define PATH_MAX_LEN 4095

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

const char *sbx_validate_path(const char *s)
{
	size_t n = strlen(s), comp = 0;

	if (s[0] != '/')
		return "must be an absolute path";
	if (n > PATH_MAX_LEN)
		return "path too long";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f)
			return "must not contain control characters";
		if (ch != '/') {
			if (++comp > 255)
				return "has a component longer than 255 bytes";
			continue;
		}
		comp = 0;
		if (s[i + 1] == '/')
			return "must be normalised (no '//')";
		if (s[i + 1] == '\0' && i > 0)
			return "must be normalised (no trailing '/')";
		if (s[i + 1] == '.' && (s[i + 2] == '/' || s[i + 2] == '\0'))
			return "must be normalised (no '.' component)";
		if (s[i + 1] == '.' && s[i + 2] == '.' && (s[i + 3] == '/' || s[i + 3] == '\0'))
			return "must be normalised (no '..' component)";
	}
	return NULL;
}

bool sbx_validate_path_covers(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (strcmp(a, "/") == 0)
		return true;
	return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

const char *sbx_validate_mount_target(const char *s)
{
	const char *e = sbx_validate_path(s);

	if (e)
		return e;
	if (strcmp(s, "/") == 0)
		return "must not be '/' (the root is sbx's own tmpfs)";
	if (sbx_validate_path_covers("/proc", s))
		return "must not be at or under /proc (sbx mounts a fresh one)";
	if (sbx_validate_path_covers("/dev", s))
		return "must not be at or under /dev (sbx builds a minimal one)";
	return NULL;
}

const char *sbx_validate_bind_source(const char *s)
{
	const char *e = sbx_validate_path(s);

	if (e)
		return e;
	if (strcmp(s, "/") == 0)
		return "must not be '/' (the whole host)";
	/* The host's /proc holds every host process's root, cwd and fds. */
	if (sbx_validate_path_covers("/proc", s))
		return "must not be at or under /proc (host processes)";
	return NULL;
}

const char *sbx_validate_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')) ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != n)
		return "must match [a-z0-9][a-z0-9_.-]{0,63}";
	return NULL;
}

const char *sbx_validate_hostname(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 64)
		return "must be 1 to 64 characters";
	for (size_t i = 0; i <= n; i++) {
		char ch = s[i];
		if (ch == '.' || ch == '\0') {
			if (label == 0 || s[i - 1] == '-')
				return "must be dot-separated labels of letters, digits and '-' "
				       "(not at "
				       "either end)";
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || (ch == '-' && label > 0)))
			return "must be dot-separated labels of letters, digits and '-' (not at "
			       "either "
			       "end)";
		label++;
	}
	return NULL;
}

bool sbx_validate_secret_reserved(const char *name)
{
	return sbx_envnames_reserved(name);
}

static bool upper_name(const char *s, bool first_letter)
{
	if (!*s || (first_letter && !(*s >= 'A' && *s <= 'Z')))
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == strlen(s);
}

const char *sbx_validate_secret(const char *s)
{
	static _Thread_local char msg[160];
	const char *suffix = s + 1, *r;
	unsigned flags;

	if (strlen(s) > NAME_MAX_LEN)
		return "too long (at most 128 characters)";
	if (s[0] != '*') {
		if (!upper_name(s, true))
			return "must match [A-Z][A-Z0-9_]* (SCREAMING_SNAKE_CASE) or be "
			       "\"*_SUFFIX\"";
		if (sbx_validate_secret_reserved(s))
			return "is reserved: the environment must not carry it from a secret";
		return NULL;
	}
	if (suffix[0] != '_' || !upper_name(suffix, false) || strspn(suffix, "_") == strlen(suffix))
		return "a pattern must be \"*_SUFFIX\" with SUFFIX of [A-Z0-9_]";
	for (size_t i = 0; (r = sbx_envnames_at(i, &flags)); i++) {
		if (!(flags & SBX_ENVNAME_PREFIX) && strlen(r) > strlen(suffix) &&
		    has_suffix(r, suffix)) {
			(void)snprintf(msg, sizeof(msg), "would match the reserved name '%s'", r);
			return msg;
		}
	}
	return NULL;
}

bool sbx_validate_env_forbidden(const char *name)
{
	return sbx_envnames_forbidden(name);
}

static bool env_name(const char *s, size_t n)
{
	static const char rest[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";

	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(rest, s[i]))
			return false;
	return true;
}

const char *sbx_validate_env(const char *s)
{
	static _Thread_local char msg[160];
	size_t n = strlen(s);
	unsigned flags;
	const char *f;

	if (n > NAME_MAX_LEN)
		return "too long (at most 128 characters)";
	if (n >= 2 && s[n - 1] == '*') {
		if (s[n - 2] != '_' || !env_name(s, n - 1))
			return "a pattern must be \"PREFIX_*\" with PREFIX of letters, digits and "
			       "'_'";
		for (size_t i = 0; (f = sbx_envnames_at(i, &flags)); i++) {
			if (!(flags & SBX_ENVNAME_CODE))
				continue;
			/* "GCONV_*" would match "GCONV_PATH"; "LD_PRELOAD_*" lies inside "LD_*". */
			if (strncmp(f, s, n - 1) == 0 ||
			    ((flags & SBX_ENVNAME_PREFIX) && has_prefix(s, f))) {
				(void)snprintf(msg, sizeof(msg),
					       "would match the forbidden name%s '%s%s'",
					       flags & SBX_ENVNAME_PREFIX ? "s" : "", f,
					       flags & SBX_ENVNAME_PREFIX ? "*" : "");
				return msg;
			}
		}
		return NULL;
	}
	if (!env_name(s, n))
		return "must be a variable name (letters, digits, '_'; not starting with a digit) "
		       "or \"PREFIX_*\"";
	if (sbx_validate_env_forbidden(s))
		return "may never be set by a request (it changes what code runs or where data "
		       "goes)";
	return NULL;
}

static const char *validate_host(const char *h, size_t n)
{
	char buf[256];
	unsigned char addr[16];
	const char *last;
	bool wildcard = false;
	size_t label = 0;

	if (n == 0 || n >= sizeof(buf))
		return "host must be 1 to 253 characters";
	memcpy(buf, h, n);
	buf[n] = '\0';
	if (buf[0] == '[') {
		if (buf[n - 1] != ']')
			return "an IPv6 host must be in brackets: \"[::1]:443\"";
		buf[n - 1] = '\0';
		return inet_pton(AF_INET6, buf + 1, addr) == 1 ? NULL : "not an IPv6 address";
	}
	if (has_prefix(buf, "*.")) {
		memmove(buf, buf + 2, n - 1);
		n -= 2;
		wildcard = true;
	}
	for (size_t i = 0; i <= n; i++) {
		char ch = buf[i];
		if (ch == '.' || ch == '\0') {
			if (label == 0 || label > 63 || buf[i - 1] == '-')
				return "host must be a DNS name (\"*.\" may start it) or an IP "
				       "address";
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || (ch == '-' && label > 0)))
			return "host must be a DNS name (\"*.\" may start it) or an IP address";
		label++;
	}
	/* No top-level domain is all digits: such a host is an IPv4 address, and only the
	 * dotted-quad form is one (inet_aton's "127.1", "2130706433" or "0x7f.1" are refused, so
	 * an entry always means what it reads as). */
	last = strrchr(buf, '.');
	last = last ? last + 1 : buf;
	if (strspn(last, "0123456789") == strlen(last)) {
		if (wildcard)
			return "\"*.\" cannot start an IP address";
		if (inet_pton(AF_INET, buf, addr) != 1)
			return "an IPv4 address must be four decimal numbers: \"192.0.2.1\"";
	}
	return NULL;
}

const char *sbx_validate_allow(const char *s)
{
	const char *colon = strrchr(s, ':');
	uint64_t port;

	if (!colon || colon == s)
		return "must be \"host:port\"";
	if (sbx_parse_u64(colon + 1, &port) < 0 || port == 0 || port > 65535)
		return "port must be 1 to 65535";
	if (memchr(s, ':', (size_t)(colon - s)) && s[0] != '[')
		return "an IPv6 host must be in brackets: \"[::1]:443\"";
	return validate_host(s, (size_t)(colon - s));
}

const char *sbx_validate_group(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_') ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
		return "must be a group name ([a-z_][a-z0-9_-]*, at most 32 characters)";
	return NULL;
}

/* The target of mount i (binds first, then tmpfs), and where its key is. */
static const char *mount_target(const struct sbx_policy *p, size_t i)
{
	return i < p->n_binds ? p->binds[i].target : p->tmpfs[i - p->n_binds].target;
}

static void mount_name(const struct sbx_policy *p, size_t i, char *buf, size_t size)
{
	if (i < p->n_binds)
		(void)snprintf(buf, size, "binds[%zu]", i);
	else
		(void)snprintf(buf, size, "tmpfs[%zu]", i - p->n_binds);
}

const char *sbx_validate_target_free(const struct sbx_policy *p, const char *target,
				     const char **ret_other)
{
	for (size_t i = 0; i < p->n_binds + p->n_tmpfs; i++) {
		const char *o = mount_target(p, i);
		*ret_other = o;
		if (!o)
			continue;
		if (strcmp(o, target) == 0)
			return "is already a mount target";
		if (sbx_validate_path_covers(o, target))
			return "is under another mount target";
		if (sbx_validate_path_covers(target, o))
			return "would cover another mount target";
	}
	return NULL;
}

static void check_overlaps(struct sbx_pctx *c, const struct sbx_policy *p)
{
	for (size_t i = 1; i < p->n_binds + p->n_tmpfs; i++) {
		const char *t = mount_target(p, i);
		for (size_t j = 0; j < i && t; j++) {
			const char *o = mount_target(p, j), *what;
			char other[32];
			struct sbx_jpos pos;
			if (!o)
				continue;
			if (strcmp(t, o) == 0)
				what = "the same target as";
			else if (sbx_validate_path_covers(o, t))
				what = "under the target of";
			else if (sbx_validate_path_covers(t, o))
				what = "above the target of";
			else
				continue;
			mount_name(p, j, other, sizeof(other));
			sbx_diag_push_key(c, i < p->n_binds ? "binds" : "tmpfs");
			sbx_diag_push_index(c, i < p->n_binds ? i : i - p->n_binds);
			/* A bind without "target" mounts at its source: point there. */
			sbx_diag_push_key(c, "target");
			if (c->text && i < p->n_binds &&
			    sbx_jsonpos_find(c->text, c->len, c->path, c->depth, false, &pos) < 0)
				c->path[c->depth - 1].key = "source";
			sbx_diag_here(c, false, "'%s' is %s %s ('%s'): mounts must not overlap", t,
				      what, other, o);
			c->depth -= 3;
			break;
		}
	}
}

static void check_nofile(struct sbx_pctx *c, const struct sbx_policy *p)
{
	_cleanup_free_ char *s = NULL;
	uint64_t nr_open;
	size_t len;

	if (p->rlimits[SBX_RLIMIT_NOFILE] == SBX_LIMIT_UNSET)
		return;
	if (sbx_fd_read_file("/proc/sys/fs/nr_open", 64, &s, &len) < 0)
		return;
	s[strcspn(s, "\n")] = '\0';
	if (sbx_parse_u64(s, &nr_open) < 0 || p->rlimits[SBX_RLIMIT_NOFILE] <= nr_open)
		return;
	sbx_diag_push_key(c, "rlimits");
	sbx_diag_push_key(c, "nofile");
	sbx_diag_here(c, false, "%llu is above this host's maximum (/proc/sys/fs/nr_open: %llu)",
		      (unsigned long long)p->rlimits[SBX_RLIMIT_NOFILE],
		      (unsigned long long)nr_open);
	c->depth -= 2;
}

void sbx_validate_policy(struct sbx_pctx *c, const struct sbx_policy *p)
{
	check_overlaps(c, p);
	check_nofile(c, p);
	if (p->timeout_max_ms && p->timeout_default_ms > p->timeout_max_ms) {
		char a[32], b[32];
		sbx_diag_push_key(c, "timeout");
		sbx_diag_push_key(c, "default");
		sbx_diag_here(c, false, "%s is above timeout.max (%s)",
			      sbx_diag_ms(p->timeout_default_ms, a),
			      sbx_diag_ms(p->timeout_max_ms, b));
		c->depth -= 2;
	}
	for (size_t i = 0; i < p->n_env; i++)
		for (size_t j = 0; j < p->n_secrets; j++) {
			if (strcmp(p->env[i], p->secrets[j]) != 0)
				continue;
			sbx_diag_push_key(c, "env");
			sbx_diag_push_index(c, i);
			sbx_diag_here(
			    c, false,
			    "'%s' is also in \"secrets\": a request could replace the secret",
			    p->env[i]);
			c->depth -= 2;
		}
}
