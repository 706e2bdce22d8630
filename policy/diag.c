/* SPDX-License-Identifier: MIT */
/*
 * Error lists for policy files: every problem of a file is collected (an operator fixes a
 * file in one pass, not one error per run), each with file:line:col and the key path. Never
 * logs: callers print the list (sbxctl on stderr, sbxd through its log).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"

void sbx_diags_clear(struct sbx_diags *d)
{
	if (!d)
		return;
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

int sbx_diag_format(const struct sbx_diag *d, char *buf, size_t len)
{
	char pos[32] = "";
	int n;

	if (d->line > 0)
		(void)snprintf(pos, sizeof(pos), ":%d:%d", d->line, d->col);
	if (d->key[0])
		n = snprintf(buf, len, "%s%s: %s: %s", d->file, pos, d->key, d->msg);
	else
		n = snprintf(buf, len, "%s%s: %s", d->file, pos, d->msg);
	if (n < 0)
		return -EINVAL;
	return (size_t)n >= len ? -ENOBUFS : n;
}

void sbx_diag_append(struct sbx_diags *d, unsigned *n_err, const struct sbx_diag *x)
{
	struct sbx_diag *v;

	if (n_err)
		(*n_err)++;
	if (!d)
		return;
	v = reallocarray(d->v, d->n + 1, sizeof(*v));
	if (!v)
		return; /* the load fails anyway: the error was counted */
	d->v = v;
	v[d->n++] = *x;
}

static void set_str(char *dst, size_t size, const char *s)
{
	(void)snprintf(dst, size, "%s", s ? s : "");
}

static void set_msg(struct sbx_diag *x, const char *fmt, va_list ap) _printf_(2, 0);
static void set_msg(struct sbx_diag *x, const char *fmt, va_list ap)
{
	(void)vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
}

void sbx_diag_add(struct sbx_diags *d, unsigned *n_err, const char *file, const char *key,
		  const char *fmt, ...)
{
	struct sbx_diag x = {0};
	va_list ap;

	va_start(ap, fmt);
	set_msg(&x, fmt, ap);
	va_end(ap);
	set_str(x.file, sizeof(x.file), file ? file : "<policy>");
	set_str(x.key, sizeof(x.key), key);
	sbx_diag_append(d, n_err, &x);
}

void sbx_diag_sort(struct sbx_diags *d, size_t from)
{
	if (!d)
		return;
	for (size_t i = from + 1; i < d->n; i++) {
		struct sbx_diag x = d->v[i];
		size_t j = i;
		while (j > from && (d->v[j - 1].line > x.line ||
				    (d->v[j - 1].line == x.line && d->v[j - 1].col > x.col))) {
			d->v[j] = d->v[j - 1];
			j--;
		}
		d->v[j] = x;
	}
}

static const char *scaled(uint64_t v, const uint64_t *mult, const char *const *unit, size_t n,
			  const char *plain, char buf[32])
{
	for (size_t i = 0; i < n; i++)
		if (v && v % mult[i] == 0) {
			(void)snprintf(buf, 32, "%llu%s", (unsigned long long)(v / mult[i]),
				       unit[i]);
			return buf;
		}
	(void)snprintf(buf, 32, "%llu%s", (unsigned long long)v, plain);
	return buf;
}

const char *sbx_diag_size(uint64_t bytes, char buf[32])
{
	static const uint64_t mult[] = {1ULL << 40, 1ULL << 30, 1ULL << 20, 1ULL << 10};
	static const char *const unit[] = {"T", "G", "M", "K"};

	return scaled(bytes, mult, unit, ARRAY_SIZE(mult), " bytes", buf);
}

const char *sbx_diag_ms(uint64_t ms, char buf[32])
{
	static const uint64_t mult[] = {3600000, 60000, 1000};
	static const char *const unit[] = {"h", "m", "s"};

	return scaled(ms, mult, unit, ARRAY_SIZE(mult), "ms", buf);
}

void sbx_diag_key(const struct sbx_jpath_seg *path, size_t n, char *buf, size_t size)
{
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && at < size; i++) {
		int k;
		if (path[i].key)
			k = snprintf(buf + at, size - at, "%s%s", i ? "." : "", path[i].key);
		else
			k = snprintf(buf + at, size - at, "[%zu]", path[i].index);
		if (k < 0)
			return;
		at += (size_t)k;
	}
}

void sbx_diag_push_key(struct sbx_pctx *c, const char *key)
{
	if (c->depth < SBX_JPATH_MAX)
		c->path[c->depth] = (struct sbx_jpath_seg){.key = key};
	c->depth++;
}

void sbx_diag_push_index(struct sbx_pctx *c, size_t index)
{
	if (c->depth < SBX_JPATH_MAX)
		c->path[c->depth] = (struct sbx_jpath_seg){.index = index};
	c->depth++;
}

void sbx_diag_pop(struct sbx_pctx *c)
{
	if (c->depth > 0)
		c->depth--;
}

void sbx_diag_here(struct sbx_pctx *c, bool at_key, const char *fmt, ...)
{
	size_t n = c->depth < SBX_JPATH_MAX ? c->depth : SBX_JPATH_MAX;
	struct sbx_diag x = {0};
	struct sbx_jpos pos = {0, 0};
	va_list ap;

	va_start(ap, fmt);
	set_msg(&x, fmt, ap);
	va_end(ap);
	set_str(x.file, sizeof(x.file), c->file ? c->file : "<policy>");
	sbx_diag_key(c->path, n, x.key, sizeof(x.key));
	if (c->text)
		(void)sbx_jsonpos_find(c->text, c->len, c->path, n, at_key, &pos);
	x.line = pos.line;
	x.col = pos.col;
	sbx_diag_append(c->diags, &c->n_err, &x);
}
