/* SPDX-License-Identifier: MIT */
/*
 * Shared by the audit unit tests (test-audit.c, test-audit-verify.c): a fresh directory with
 * an initialised audit state and key per test, logs of task records, verification and line
 * surgery. Each unit test binary is a single translation unit (Makefile UNIT_RULE), so these
 * are static (inline, so that a binary need not use them all).
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mount.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "audit/audit.h"
#include "audit/internal.h"
#include "audit/verify.h"
#include "common/log.h"

static char dir[] = "/tmp/sbx-test-audit-XXXXXX";
static char log_path[256], state_path[256], key_path[256];

static inline void setup(void)
{
	cr_assert(mkdtemp(dir) != NULL);
	(void)snprintf(log_path, sizeof(log_path), "%s/audit.jsonl", dir);
	(void)snprintf(state_path, sizeof(state_path), "%s/audit.state", dir);
	(void)snprintf(key_path, sizeof(key_path), "%s/audit.key", dir);
	sbx_log_set_max_level(LOG_ERR - 1); /* quiet: outages are provoked on purpose */
	cr_assert(eq(int, sbx_audit_state_init(state_path, key_path, -1, NULL), 0));
}

/* Strings the tests allocate (lines read back, paths), freed after each test (LSan). */
static char *owned[8192];
static size_t n_owned;

static inline char *keep(char *p)
{
	cr_assert(p != NULL);
	cr_assert(n_owned < sizeof(owned) / sizeof(owned[0]));
	owned[n_owned++] = p;
	return p;
}

static inline void teardown(void)
{
	char cmd[300];

	while (n_owned > 0)
		free(owned[--n_owned]);

	(void)umount2(dir, MNT_DETACH);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

static inline struct sbx_audit_config config(void)
{
	return (struct sbx_audit_config){.path = log_path, .state_path = state_path};
}

static inline struct sbx_audit *open_cfg(const struct sbx_audit_config *cfg)
{
	struct sbx_audit *a = NULL;

	cr_assert(eq(int, sbx_audit_open(cfg, &a), 0));
	return a;
}

static inline int append_task(struct sbx_audit *a, int i)
{
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
	struct sbx_audit_peer peer = {1000, 1000, 4242};
	const char *names[] = {"ANTHROPIC_API_KEY", "DB_URL"};
	char task[32];
	int r;

	(void)snprintf(task, sizeof(task), "t-%d", i);
	sbx_audit_fields_str(&f, "policy", "default");
	sbx_audit_fields_uint(&f, "pool_uid", 100000 + (unsigned)i);
	sbx_audit_fields_int(&f, "pid", 7000 + i);
	sbx_audit_fields_strv(&f, "names", names, 2);
	r = sbx_audit_append(a, "task.started", &peer, task, &f);
	sbx_audit_fields_done(&f);
	return r;
}

/* A log of 1 audit.opened + n task records. */
static inline void make_log(int n)
{
	struct sbx_audit_config cfg = config();
	struct sbx_audit *a = open_cfg(&cfg);

	for (int i = 0; i < n; i++)
		cr_assert(eq(int, append_task(a, i), 0));
	cr_assert(eq(int, sbx_audit_commit(a), 0));
	sbx_audit_close(a);
}

static inline struct sbx_audit_verify_result verify_with(const char *key, const char *anchor,
							 char *const *paths, size_t n)
{
	struct sbx_audit_verify_result res;
	struct sbx_audit_verify *v = NULL;

	cr_assert(eq(int, sbx_audit_verify_new(key, &v), 0));
	if (anchor)
		cr_assert(eq(int, sbx_audit_verify_add_anchor(v, anchor), 0));
	cr_assert(eq(int, sbx_audit_verify_files(v, paths, n), 0));
	sbx_audit_verify_finish(v, &res);
	sbx_audit_verify_free(v);
	return res;
}

static inline struct sbx_audit_verify_result verify_log(void)
{
	char *paths[] = {log_path};

	return verify_with(key_path, NULL, paths, 1);
}

static inline void expect(enum sbx_audit_verify_reason reason, uint64_t seq)
{
	struct sbx_audit_verify_result res = verify_log();

	cr_expect(eq(str, (char *)sbx_audit_verify_reason_name(res.reason),
		     (char *)sbx_audit_verify_reason_name(reason)),
		  "detail: %s", res.detail);
	cr_expect(eq(u64, res.bad_seq, seq), "detail: %s", res.detail);
}

/* The log as an array of lines (with their newlines). */
struct lines {
	char *v[4096];
	size_t n;
};

static inline void read_lines(const char *path, struct lines *l)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0;
	char *line = NULL;

	cr_assert(f != NULL);
	l->n = 0;
	while (getline(&line, &cap, f) > 0 && l->n < 4096) {
		l->v[l->n++] = keep(line);
		line = NULL;
		cap = 0;
	}
	free(line);
	(void)fclose(f);
}

static inline void write_lines(const char *path, const struct lines *l)
{
	FILE *f = fopen(path, "we");

	cr_assert(f != NULL);
	for (size_t i = 0; i < l->n; i++)
		(void)fputs(l->v[i], f);
	cr_assert(eq(int, fclose(f), 0));
}
