/* SPDX-License-Identifier: MIT */
/*
 * Where a value sits in a JSON text. jansson keeps no positions for values, so a semantic
 * error ("binds[2].target overlaps binds[0].target") would otherwise have no line. This is a
 * second, tiny scanner over text that jansson has already accepted: it never judges syntax,
 * never allocates, and only walks as far as the path it looks for. Lines and columns are
 * 1-based and count characters (UTF-8 continuation bytes do not move the column), like
 * jansson's own error positions, so syntax and semantic errors read alike.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "policy/internal.h"

struct scan {
	const unsigned char *p, *end;
	int line, col;
};

static int peek(const struct scan *s)
{
	return s->p < s->end ? *s->p : -1;
}

static void advance(struct scan *s)
{
	if (s->p >= s->end)
		return;
	if (*s->p == '\n') {
		s->line++;
		s->col = 1;
	} else if ((*s->p & 0xC0) != 0x80) {
		s->col++;
	}
	s->p++;
}

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		advance(s);
}

static int hex4(const unsigned char *p, const unsigned char *end)
{
	int v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int c = p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static size_t utf8_encode(uint32_t cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xC0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xE0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (unsigned char)(0xF0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* One escape after the backslash, decoded into out; returns its length and moves s on. */
static size_t unescape(struct scan *s, unsigned char out[4])
{
	int c = peek(s), hi, lo;
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *k;

	if (c < 0)
		return 0;
	advance(s);
	if (c != 'u') {
		k = strchr(from, c);
		out[0] = (unsigned char)(k ? to[k - from] : c);
		return 1;
	}
	hi = hex4(s->p, s->end);
	if (hi < 0)
		return 0;
	for (int i = 0; i < 4; i++)
		advance(s);
	if (hi >= 0xD800 && hi < 0xDC00 && s->end - s->p >= 6 && s->p[0] == '\\' &&
	    s->p[1] == 'u' && (lo = hex4(s->p + 2, s->end)) >= 0xDC00 && lo < 0xE000) {
		for (int i = 0; i < 6; i++)
			advance(s);
		return utf8_encode(
		    0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00), out);
	}
	return utf8_encode((uint32_t)hi, out);
}

/* Consumes a string token (s at its opening quote); true when its decoded text is want
 * (want NULL: just skip it). */
static bool string_is(struct scan *s, const char *want)
{
	size_t wlen = want ? strlen(want) : 0, at = 0;
	bool same = want != NULL;
	unsigned char buf[4];

	advance(s); /* opening quote */
	while (s->p < s->end && *s->p != '"') {
		size_t n = 1;
		if (*s->p == '\\') {
			advance(s);
			n = unescape(s, buf);
		} else {
			buf[0] = *s->p;
			advance(s);
		}
		if (same && want && (at + n > wlen || memcmp(want + at, buf, n) != 0))
			same = false;
		at += n;
	}
	advance(s); /* closing quote */
	return same && at == wlen;
}

static void skip_value(struct scan *s)
{
	int depth = 0;

	for (;;) {
		int c = peek(s);
		if (c < 0)
			return;
		if (c == '"') {
			(void)string_is(s, NULL);
			if (depth == 0)
				return;
			continue;
		}
		if (c == '}' || c == ']') {
			if (depth == 0)
				return;
			advance(s);
			if (--depth == 0)
				return;
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (depth == 0 &&
			 (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'))
			return; /* the end of a number or literal */
		advance(s);
	}
}

/* In the object at s, finds key; leaves s at its value. kline/kcol get the key's position. */
static bool find_key(struct scan *s, const char *key, int *kline, int *kcol)
{
	if (peek(s) != '{')
		return false;
	advance(s);
	for (;;) {
		bool hit;
		skip_ws(s);
		if (peek(s) != '"')
			return false; /* '}' (not there) or end of text */
		*kline = s->line;
		*kcol = s->col;
		hit = string_is(s, key);
		skip_ws(s);
		advance(s); /* ':' */
		skip_ws(s);
		if (hit)
			return true;
		skip_value(s);
		skip_ws(s);
		if (peek(s) != ',')
			return false;
		advance(s);
	}
}

static bool find_index(struct scan *s, size_t index)
{
	if (peek(s) != '[')
		return false;
	advance(s);
	for (size_t i = 0;; i++) {
		skip_ws(s);
		if (peek(s) < 0 || peek(s) == ']')
			return false;
		if (i == index)
			return true;
		skip_value(s);
		skip_ws(s);
		if (peek(s) != ',')
			return false;
		advance(s);
	}
}

int sbx_jsonpos_find(const char *text, size_t len, const struct sbx_jpath_seg *path, size_t n,
		     bool at_key, struct sbx_jpos *ret)
{
	struct scan s = {(const unsigned char *)text, (const unsigned char *)text + len, 1, 1};
	int line, col, kline = 0, kcol = 0;

	skip_ws(&s);
	line = s.line;
	col = s.col;
	for (size_t i = 0; i < n; i++) {
		struct scan at = s;
		bool found = path[i].key ? find_key(&at, path[i].key, &kline, &kcol)
					 : find_index(&at, path[i].index);
		if (!found) {
			ret->line = line;
			ret->col = col;
			return -ENOENT;
		}
		s = at;
		if (at_key && i + 1 == n && path[i].key) {
			ret->line = kline;
			ret->col = kcol;
			return 0;
		}
		line = s.line;
		col = s.col;
	}
	ret->line = line;
	ret->col = col;
	return 0;
}
