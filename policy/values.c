/* SPDX-License-Identifier: MIT */
/*
 * Typed reads of JSON values for the policy walk (fields.c): each checks the type and range
 * and, when the value is wrong, adds one diag at the current key path and leaves the target
 * as it was, so the walk goes on and a file's every error is found. Never logs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/parse.h"
#include "policy/internal.h"

char *sbx_values_strdup(struct sbx_pctx *c, const char *s)
{
	char *d = strdup(s);

	if (!d && !c->oom) {
		c->oom = true;
		sbx_diag_here(c, false, "out of memory");
	}
	return d;
}

/* The closest known key, for "did you mean" (edit distance at most 2). */
static const char *suggest(const char *key, const struct sbx_field *f, size_t n)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; i < n; i++) {
		size_t a = strlen(key), b = strlen(f[i].key), row[64];
		if (a >= 63 || b >= 63)
			continue;
		for (size_t j = 0; j <= b; j++)
			row[j] = j;
		for (size_t x = 1; x <= a; x++) {
			size_t prev = row[0]++;
			for (size_t y = 1; y <= b; y++) {
				size_t cur = row[y], sub = prev + (key[x - 1] != f[i].key[y - 1]);
				row[y] = cur + 1 < row[y - 1] + 1 ? cur + 1 : row[y - 1] + 1;
				if (sub < row[y])
					row[y] = sub;
				prev = cur;
			}
		}
		if (row[b] < best_d) {
			best_d = row[b];
			best = f[i].key;
		}
	}
	return best;
}

bool sbx_values_walk(struct sbx_pctx *c, json_t *obj, const struct sbx_field *f, size_t n,
		     void *target)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj)) {
		sbx_diag_here(c, false, "must be an object");
		return false;
	}
	json_object_foreach(obj, key, v)
	{
		size_t i = 0;
		while (i < n && strcmp(f[i].key, key) != 0)
			i++;
		sbx_diag_push_key(c, key);
		if (i < n) {
			f[i].fn(c, v, target);
		} else {
			const char *s = suggest(key, f, n);
			sbx_diag_here(c, true, "unknown key '%s'%s%s%s", key,
				      s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
		}
		sbx_diag_pop(c);
	}
	return true;
}

bool sbx_values_string(struct sbx_pctx *c, json_t *v, char **ret)
{
	char *s;

	if (!json_is_string(v)) {
		sbx_diag_here(c, false, "must be a string");
		return false;
	}
	s = sbx_values_strdup(c, json_string_value(v));
	if (!s)
		return false;
	free(*ret);
	*ret = s;
	return true;
}

/* A string that must pass a rule (validate.c); *ret is replaced only when it does. */
bool sbx_values_checked(struct sbx_pctx *c, json_t *v, const char *(*rule)(const char *),
			char **ret)
{
	const char *e;

	if (!json_is_string(v)) {
		sbx_diag_here(c, false, "must be a string");
		return false;
	}
	e = rule(json_string_value(v));
	if (e) {
		sbx_diag_here(c, false, "'%s' %s", json_string_value(v), e);
		return false;
	}
	return sbx_values_string(c, v, ret);
}

void sbx_values_bool(struct sbx_pctx *c, json_t *v, bool *ret)
{
	if (!json_is_boolean(v))
		sbx_diag_here(c, false, "must be true or false");
	else
		*ret = json_is_true(v);
}

bool sbx_values_count(struct sbx_pctx *c, json_t *v, uint64_t min, uint64_t max, uint64_t *ret)
{
	json_int_t i;

	if (!json_is_integer(v)) {
		sbx_diag_here(c, false, "must be an integer");
		return false;
	}
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max) {
		sbx_diag_here(c, false, "%lld is out of range (%llu to %llu)", (long long)i,
			      (unsigned long long)min, (unsigned long long)max);
		return false;
	}
	*ret = (uint64_t)i;
	return true;
}

/* Bytes, as an integer or a string ("64M", "1G"); at least min. */
bool sbx_values_size(struct sbx_pctx *c, json_t *v, uint64_t min, uint64_t *ret)
{
	uint64_t x;

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		x = (uint64_t)json_integer_value(v);
	} else if (!json_is_string(v) || sbx_parse_size(json_string_value(v), &x) < 0) {
		sbx_diag_here(c, false,
			      "must be a size: bytes, or a string like \"64M\" or \"1G\"");
		return false;
	}
	if (x == 0 && min == 1) {
		sbx_diag_here(c, false, "must be more than 0");
		return false;
	}
	if (x < min) {
		char a[32], b[32];
		sbx_diag_here(c, false, "%s is too small (at least %s)", sbx_diag_size(x, a),
			      sbx_diag_size(min, b));
		return false;
	}
	*ret = x;
	return true;
}

/* Milliseconds, as an integer or a string ("30s", "5m"); more than 0. */
bool sbx_values_duration(struct sbx_pctx *c, json_t *v, uint64_t *ret_ms)
{
	uint64_t x;

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		x = (uint64_t)json_integer_value(v);
	} else if (!json_is_string(v) || sbx_parse_duration_ms(json_string_value(v), &x) < 0) {
		sbx_diag_here(
		    c, false,
		    "must be a duration: milliseconds, or a string like \"30s\" or \"5m\"");
		return false;
	}
	if (x == 0) {
		sbx_diag_here(c, false, "must be more than 0");
		return false;
	}
	*ret_ms = x;
	return true;
}

bool sbx_values_is_max(json_t *v)
{
	return json_is_string(v) && strcmp(json_string_value(v), "max") == 0;
}

/* An array of strings, each passing rule, none twice. */
void sbx_values_list(struct sbx_pctx *c, json_t *v, const char *(*rule)(const char *), char ***ret,
		     size_t *ret_n)
{
	json_t *e;
	size_t i;

	if (!json_is_array(v)) {
		sbx_diag_here(c, false, "must be an array of strings");
		return;
	}
	for (size_t k = 0; k < *ret_n; k++)
		free((*ret)[k]);
	free(*ret);
	*ret_n = 0;
	*ret = calloc(json_array_size(v) + 1, sizeof(char *));
	if (!*ret) {
		c->oom = true;
		sbx_diag_here(c, false, "out of memory");
		return;
	}
	json_array_foreach(v, i, e)
	{
		char *s = NULL;
		sbx_diag_push_index(c, i);
		if (sbx_values_checked(c, e, rule, &s)) {
			for (size_t k = 0; k < *ret_n && s; k++)
				if (strcmp((*ret)[k], s) == 0) {
					sbx_diag_here(c, false, "'%s' is listed twice", s);
					free(s);
					s = NULL;
				}
			if (s)
				(*ret)[(*ret_n)++] = s;
		}
		sbx_diag_pop(c);
	}
}
