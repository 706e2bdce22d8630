/* SPDX-License-Identifier: MIT */
/*
 * The audit record fields builder: turns typed values into the `"k":v,...` fragment that the
 * writer puts between `task` and `mac`. It owns JSON escaping for the whole audit log, so no
 * caller ever hand-writes JSON: every control byte, quote and backslash is escaped, and bytes
 * that are not valid UTF-8 become U+FFFD (jansson, which the verifier uses, rejects them).
 * It never sees a secret value: callers pass names, ids and figures only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid (overlong, surrogate,
 * past U+10FFFF, truncated). */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1fU;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0fU;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07U;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0U) != 0x80U)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fU);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

long sbx_audit_fields_quote(const char *s, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

#define PUT(str, n)                          \
	do {                                 \
		if (o + (n) >= outlen)       \
			return -E2BIG;       \
		memcpy(out + o, (str), (n)); \
		o += (n);                    \
	} while (0)

	PUT("\"", 1);
	while (*p) {
		char esc[8];
		size_t n;

		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			PUT(esc, 2);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			(void)snprintf(esc, sizeof(esc), "\\u%04x", *p);
			PUT(esc, 6);
			p++;
		} else if ((n = utf8_len(p)) == 0) {
			PUT("\xef\xbf\xbd", 3); /* U+FFFD */
			p++;
		} else {
			PUT(p, n);
			p += n;
		}
	}
	PUT("\"", 1);
#undef PUT
	out[o] = '\0';
	return (long)o;
}

static bool key_ok(const char *key)
{
	size_t n = 0;

	if (!key || !*key)
		return false;
	for (const char *c = key; *c; c++, n++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
	/* The writer owns these names: a field must not shadow them. */
	return n <= 63 && strcmp(key, "seq") != 0 && strcmp(key, "ts") != 0 &&
	       strcmp(key, "event") != 0 && strcmp(key, "peer") != 0 && strcmp(key, "task") != 0 &&
	       strcmp(key, "mac") != 0;
}

static bool reserve(struct sbx_audit_fields *f, size_t more)
{
	size_t want;
	char *p;

	if (f->error)
		return false;
	if (f->len + more + 1 > SBX_AUDIT_LINE_MAX) {
		f->error = -E2BIG;
		return false;
	}
	if (f->len + more + 1 <= f->cap)
		return true;
	want = f->cap ? f->cap : 256;
	while (want < f->len + more + 1)
		want *= 2;
	p = realloc(f->buf, want);
	if (!p) {
		f->error = -ENOMEM;
		return false;
	}
	f->buf = p;
	f->cap = want;
	return true;
}

static void append_raw(struct sbx_audit_fields *f, const char *s, size_t n)
{
	if (!reserve(f, n))
		return;
	memcpy(f->buf + f->len, s, n);
	f->len += n;
	f->buf[f->len] = '\0';
}

/* `,"key":` (no comma for the first field). */
static void begin(struct sbx_audit_fields *f, const char *key)
{
	if (!key_ok(key)) {
		if (!f->error)
			f->error = -EINVAL;
		return;
	}
	if (f->len > 0)
		append_raw(f, ",", 1);
	append_raw(f, "\"", 1);
	append_raw(f, key, strlen(key));
	append_raw(f, "\":", 2);
}

static void append_quoted(struct sbx_audit_fields *f, const char *value)
{
	size_t worst;
	long n;

	if (!value) {
		append_raw(f, "null", 4);
		return;
	}
	worst = strlen(value) * 6 + 3;
	if (worst >= SBX_AUDIT_LINE_MAX) {
		if (!f->error)
			f->error = -E2BIG;
		return;
	}
	if (!reserve(f, worst))
		return;
	n = sbx_audit_fields_quote(value, f->buf + f->len, f->cap - f->len);
	if (n < 0) {
		f->error = (int)n;
		return;
	}
	f->len += (size_t)n;
}

void sbx_audit_fields_str(struct sbx_audit_fields *f, const char *key, const char *value)
{
	begin(f, key);
	append_quoted(f, value);
}

void sbx_audit_fields_int(struct sbx_audit_fields *f, const char *key, int64_t value)
{
	char num[32];

	begin(f, key);
	append_raw(f, num, (size_t)snprintf(num, sizeof(num), "%" PRId64, value));
}

void sbx_audit_fields_uint(struct sbx_audit_fields *f, const char *key, uint64_t value)
{
	char num[32];

	begin(f, key);
	append_raw(f, num, (size_t)snprintf(num, sizeof(num), "%" PRIu64, value));
}

void sbx_audit_fields_bool(struct sbx_audit_fields *f, const char *key, bool value)
{
	begin(f, key);
	append_raw(f, value ? "true" : "false", value ? 4 : 5);
}

void sbx_audit_fields_strv(struct sbx_audit_fields *f, const char *key, const char *const *v,
			   size_t n)
{
	begin(f, key);
	append_raw(f, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			append_raw(f, ",", 1);
		append_quoted(f, v[i]);
	}
	append_raw(f, "]", 1);
}

const char *sbx_audit_fields_get(const struct sbx_audit_fields *f)
{
	if (f->error)
		return NULL;
	return f->buf ? f->buf : "";
}

int sbx_audit_fields_error(const struct sbx_audit_fields *f)
{
	return f->error;
}

void sbx_audit_fields_done(struct sbx_audit_fields *f)
{
	free(f->buf);
	*f = (struct sbx_audit_fields)SBX_AUDIT_FIELDS_INIT;
}
