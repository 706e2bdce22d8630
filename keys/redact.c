/* SPDX-License-Identifier: MIT */
/*
 * Redaction. The secret values and any held-back tail live in sodium_malloc memory (locked,
 * WIPEONFORK); the output buffer gets only bytes that cannot be part of a value. Matching is
 * a plain scan, longest value first, with a first-byte filter: values are few and chunks are
 * at most a pipe read, so this is cheap next to the base64 and the socket write.
 */
#include "keys/redact.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/internal.h"

struct pattern {
	char name[SBX_SECRET_NAME_MAX + 1];
	size_t off; /* into values */
	size_t len;
};

struct sbx_redactor {
	struct sbx_secret *values; /* all values back to back */
	struct pattern *p;	   /* longest first */
	size_t n;
	size_t maxlen;
	struct sbx_secret *held; /* maxlen bytes of capacity */
	size_t held_len;
	size_t count;
	unsigned char first[256]; /* first[b]: some value starts with byte b */
};

static int cmp_len(const void *a, const void *b)
{
	const struct pattern *x = a, *y = b;
	return (x->len < y->len) - (x->len > y->len);
}

int sbx_redact_new(struct sbx_secret_set *set, struct sbx_redactor **ret)
{
	struct sbx_redactor *r = calloc(1, sizeof(*r));
	char *const *envp = NULL;
	size_t total = 0, n = set ? sbx_secret_set_count(set) : 0;
	int k;

	if (!r)
		return -ENOMEM;
	if (n > 0 && (k = sbx_secret_set_envp(set, &envp)) < 0) {
		free(r);
		return k;
	}
	r->p = calloc(n ? n : 1, sizeof(*r->p));
	if (!r->p) {
		free(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(envp[i], '=');
		total += eq ? strlen(eq + 1) : 0;
	}
	if ((k = sbx_secret_new(total, &r->values)) < 0)
		goto fail;
	for (size_t i = 0, off = 0; i < n; i++) {
		const char *eq = strchr(envp[i], '=');
		size_t nl = eq ? (size_t)(eq - envp[i]) : 0, vl = eq ? strlen(eq + 1) : 0;
		if (!eq || vl == 0 || nl > SBX_SECRET_NAME_MAX)
			continue;
		memcpy(r->p[r->n].name, envp[i], nl);
		memcpy(sbx_secret_data(r->values) + off, eq + 1, vl);
		r->p[r->n].off = off;
		r->p[r->n].len = vl;
		r->first[(unsigned char)eq[1]] = 1;
		if (vl > r->maxlen)
			r->maxlen = vl;
		off += vl;
		r->n++;
	}
	qsort(r->p, r->n, sizeof(*r->p), cmp_len);
	if ((k = sbx_secret_new(r->maxlen ? r->maxlen : 1, &r->held)) < 0)
		goto fail;
	*ret = r;
	return 0;
fail:
	(void)sbx_redact_free(r);
	return k;
}

/* Byte i of held + in, without copying them together. */
static inline unsigned char at(const struct sbx_redactor *r, const unsigned char *in, size_t i)
{
	return i < r->held_len ? sbx_secret_data(r->held)[i] : in[i - r->held_len];
}

static bool equal_at(const struct sbx_redactor *r, const unsigned char *in, size_t i,
		     const struct pattern *p, size_t len)
{
	const unsigned char *v = sbx_secret_data(r->values) + p->off;

	for (size_t j = 0; j < len; j++)
		if (at(r, in, i + j) != v[j])
			return false;
	return true;
}

static int append(char **out, size_t *out_len, size_t *cap, const void *s, size_t n)
{
	if (!*out || *out_len + n + 1 > *cap) {
		size_t ncap = (*out_len + n + 1) * 2;
		char *b = realloc(*out, ncap);
		if (!b)
			return -ENOMEM;
		*out = b;
		*cap = ncap;
	}
	memcpy(*out + *out_len, s, n);
	*out_len += n;
	return 0;
}

/*
 * The first pattern (in order) whose whole value matches at i, or NULL. Sets *hold instead,
 * and stops, when before eof a value is cut off by the end of the input but matches so far:
 * the rest may still become this value.
 */
static const struct pattern *match_at(const struct sbx_redactor *r, const unsigned char *in,
				      size_t i, size_t total, bool eof, bool *hold)
{
	for (size_t k = 0; k < r->n; k++) {
		const struct pattern *p = &r->p[k];
		if (total - i >= p->len) {
			if (equal_at(r, in, i, p, p->len))
				return p;
		} else if (!eof && equal_at(r, in, i, p, total - i)) {
			*hold = true;
			return NULL;
		}
	}
	return NULL;
}

int sbx_redact_feed(struct sbx_redactor *r, const void *in_, size_t len, bool eof, char **out,
		    size_t *out_len)
{
	const unsigned char *in = in_;
	const size_t total = r->held_len + len;
	size_t i = 0, cap = *out ? *out_len + 1 : 0, start = *out_len;
	char tag[SBX_SECRET_NAME_MAX + 16];

	while (i < total) {
		unsigned char b = at(r, in, i);
		bool hold = false;
		const struct pattern *p =
		    r->first[b] ? match_at(r, in, i, total, eof, &hold) : NULL;
		if (hold)
			break;
		if (p) {
			int m = snprintf(tag, sizeof(tag), "[REDACTED:%s]", p->name);
			if (append(out, out_len, &cap, tag, (size_t)m) < 0)
				goto oom;
			i += p->len;
			r->count++;
		} else {
			if (append(out, out_len, &cap, &b, 1) < 0)
				goto oom;
			i++;
		}
	}
	/* Keep the undecided tail; it may overlap the current held bytes, so move carefully. */
	{
		size_t keep = total - i;
		unsigned char *h = sbx_secret_data(r->held);
		if (i < r->held_len) {
			size_t from_held = r->held_len - i;
			memmove(h, h + i, from_held);
			memcpy(h + from_held, in, len);
		} else {
			memcpy(h, in + (i - r->held_len), keep);
		}
		sbx_erase(h + keep, r->held_len > keep ? r->held_len - keep : 0);
		r->held_len = keep;
	}
	return 0;
oom:
	*out_len = start;
	return -ENOMEM;
}

size_t sbx_redact_count(const struct sbx_redactor *r)
{
	return r->count;
}

struct sbx_redactor *sbx_redact_free(struct sbx_redactor *r)
{
	if (!r)
		return NULL;
	r->values = sbx_secret_free(r->values);
	r->held = sbx_secret_free(r->held);
	free(r->p);
	free(r);
	return NULL;
}
