/* SPDX-License-Identifier: MIT */
/*
 * Shared by the policy unit tests (test-policy.c, test-policy-validate.c): load a policy from
 * text or a fixture file into one global result and check its diagnostics. Each unit test
 * binary is a single translation unit (Makefile UNIT_RULE), so these are static (inline, so
 * that a binary need not use them all).
 */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "policy/policy.h"

static struct sbx_diags diags;
static struct sbx_policy *pol;

static inline void done(void)
{
	sbx_diags_clear(&diags);
	pol = sbx_policy_free(pol);
}

static inline void dump(void)
{
	char buf[1024];

	for (size_t i = 0; i < diags.n; i++) {
		(void)sbx_diag_format(&diags.v[i], buf, sizeof(buf));
		cr_log_info("%s", buf);
	}
}

static inline int load(const char *json)
{
	done();
	return sbx_policy_load_data(json, strlen(json), "t.json", "t", &pol, &diags);
}

static inline int load_fixture(const char *name)
{
	char path[4096];

	done();
	(void)snprintf(path, sizeof(path), "%s/tests/unit/data/policies/%s", SBX_SOURCE_DIR, name);
	return sbx_policy_load_file(path, NULL, &pol, &diags);
}

static inline const struct sbx_diag *find(const char *key)
{
	for (size_t i = 0; i < diags.n; i++)
		if (strcmp(diags.v[i].key, key) == 0)
			return &diags.v[i];
	return NULL;
}

/* The load failed with a diag on key at line:col whose message contains msg. */
static inline void expect_at(const char *key, int line, int col, const char *msg)
{
	const struct sbx_diag *d = find(key);

	dump();
	cr_assert(pol == NULL, "a policy with errors was returned");
	cr_assert(d != NULL, "no diag for key '%s'", key);
	cr_expect(eq(int, d->line, line), "%s: line", key);
	cr_expect(eq(int, d->col, col), "%s: col", key);
	cr_expect(strstr(d->msg, msg) != NULL, "%s: message '%s' lacks '%s'", key, d->msg, msg);
}

/* A one-line file {"K": V}: the value sits at column 6 + strlen(K). */
static inline void expect_value_error(const char *key, const char *value, const char *msg)
{
	char json[512];

	(void)snprintf(json, sizeof(json), "{\"%s\": %s}", key, value);
	cr_assert(eq(int, load(json), -EINVAL), "%s accepted", json);
	expect_at(key, 1, 6 + (int)strlen(key), msg);
}
