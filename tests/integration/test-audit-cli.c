/* SPDX-License-Identifier: MIT */
/* `sbxctl audit` against logs written by the audit library: init shows the key once, verify's
 * exit codes (0 ok, 1 tampered, 2 usage or I/O), show's filters, stats and key-usage. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>

#include "audit/audit.h"
#include "common/log.h"
#include "tests/integration/harness.h"

static char *dir;
static char log_path[512], state_path[512], key_path[512], sbxctl[512];
#define CANARY "sk-canary-7f3e9b1d"

static void append(struct sbx_audit *a, const char *event, uid_t uid, const char *task,
		   const char *policy, const char *code, int key_id)
{
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
	struct sbx_audit_peer peer = {uid, uid, 100};
	const char *names[] = {"API_KEY"};

	if (policy)
		sbx_audit_fields_str(&f, "policy", policy);
	if (code)
		sbx_audit_fields_str(&f, "code", code);
	if (key_id) {
		sbx_audit_fields_uint(&f, "key_id", (uint64_t)key_id);
		sbx_audit_fields_strv(&f, "names", names, 1);
	}
	cr_assert(eq(int, sbx_audit_append(a, event, &peer, task, &f), 0));
	sbx_audit_fields_done(&f);
}

/* A --dev style directory: audit.key, audit.state, audit.jsonl with 12 task records. */
static void setup(void)
{
	struct sbx_audit_config cfg = {0};
	struct sbx_audit *a = NULL;

	dir = sbx_test_mkdtemp("audit-cli");
	cr_assert(dir != NULL);
	(void)snprintf(log_path, sizeof(log_path), "%s/audit.jsonl", dir);
	(void)snprintf(state_path, sizeof(state_path), "%s/audit.state", dir);
	(void)snprintf(key_path, sizeof(key_path), "%s/audit.key", dir);
	sbx_test_build_path_r("sbxctl", sbxctl, sizeof(sbxctl));
	sbx_test_require_file(sbxctl);
	sbx_log_set_max_level(LOG_ERR);
	cr_assert(eq(int, sbx_audit_state_init(state_path, key_path, -1, NULL), 0));
	cfg.path = log_path;
	cfg.state_path = state_path;
	cr_assert(eq(int, sbx_audit_open(&cfg, &a), 0));
	append(a, "task.requested", 1000, "t-1", "default", NULL, 0);
	append(a, "secrets.opened", 1000, "t-1", NULL, NULL, 2);
	append(a, "task.started", 1000, "t-1", "default", NULL, 0);
	append(a, "task.requested", 1001, "t-2", "build", NULL, 0);
	append(a, "secrets.refused", 1001, "t-2", NULL, "key_retired", 0);
	append(a, "task.refused", 1001, "t-2", "build", "key_retired", 0);
	append(a, "task.requested", 1000, "t-3", "default", NULL, 0);
	append(a, "secrets.opened", 1000, "t-3", NULL, NULL, 3);
	append(a, "task.started", 1000, "t-3", "default", NULL, 0);
	append(a, "task.exited", 1000, "t-1", NULL, NULL, 0);
	append(a, "task.exited", 1000, "t-3", NULL, NULL, 0);
	append(a, "client.refused", 4242, NULL, NULL, "unauthorized", 0);
	cr_assert(eq(int, sbx_audit_commit(a), 0));
	sbx_audit_close(a);
}

static void teardown(void)
{
	if (dir)
		(void)sbx_test_rm_rf(dir);
	free(dir);
}

TestSuite(audit_cli, .init = setup, .fini = teardown, .timeout = 30);

/* sbxctl audit ARGS... (up to 8, NULL-terminated). */
static struct sbx_test_run run_(const char *first, ...)
{
	char *argv[12] = {sbxctl, "audit"};
	struct sbx_test_run r;
	size_t n = 2;
	va_list ap;

	va_start(ap, first);
	for (const char *a = first; a && n < 11; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	cr_assert(eq(int, sbx_test_run(argv, NULL, NULL, 0, 10000, &r), 0));
	return r;
}
#define run(...) run_(__VA_ARGS__, NULL)

Test(audit_cli, verify_ok_with_the_dev_key_and_with_key_file)
{
	struct sbx_test_run r = run("verify", log_path);

	cr_expect(eq(int, r.code, 0));
	cr_expect(strncmp(r.out, "ok 13 records, tip 13:", 22) == 0, "%s", r.out);
	sbx_test_run_done(&r);
	r = run("verify", "--key-file", key_path, log_path);
	cr_expect(eq(int, r.code, 0));
	sbx_test_run_done(&r);
}

Test(audit_cli, verify_tampered_exits_1_naming_the_seq)
{
	char cmd[1200];
	struct sbx_test_run r;

	(void)snprintf(cmd, sizeof(cmd),
		       "sed -i 's/\"code\":\"key_retired\"/\"code\":\"key_unknown\"/' '%s'",
		       log_path);
	cr_assert(eq(int, system(cmd), 0));
	r = run("verify", log_path);
	cr_expect(eq(int, r.code, 1));
	cr_expect(eq(str, r.out, "FAIL seq 6: mac_mismatch\n"));
	sbx_test_run_done(&r);
	(void)snprintf(cmd, sizeof(cmd), "sed -i '3d' '%s'", log_path);
	cr_assert(eq(int, system(cmd), 0));
	r = run("verify", log_path);
	cr_expect(eq(int, r.code, 1));
	cr_expect(eq(str, r.out, "FAIL seq 3: seq_gap\n"));
	sbx_test_run_done(&r);
}

Test(audit_cli, verify_anchors)
{
	struct sbx_test_run r = run("verify", log_path);
	char anchor[128], bad[128];

	cr_assert(eq(int, r.code, 0));
	(void)snprintf(anchor, sizeof(anchor), "%.*s", (int)strcspn(r.out + 19, "\n"), r.out + 19);
	sbx_test_run_done(&r);
	r = run("verify", "--anchor", anchor, log_path);
	cr_expect(eq(int, r.code, 0), "%s", anchor);
	sbx_test_run_done(&r);
	(void)snprintf(bad, sizeof(bad), "5:%s", anchor + 3);
	r = run("verify", "--anchor", bad, log_path);
	cr_expect(eq(int, r.code, 1));
	cr_expect(eq(str, r.out, "FAIL seq 5: anchor_mismatch\n"));
	sbx_test_run_done(&r);
	(void)snprintf(bad, sizeof(bad), "99:%s", anchor + 3);
	r = run("verify", "--anchor", bad, log_path);
	cr_expect(eq(int, r.code, 1));
	cr_expect(eq(str, r.out, "FAIL seq 14: truncated\n"));
	sbx_test_run_done(&r);
}

Test(audit_cli, verify_usage_and_io_errors_exit_2)
{
	char other[600];
	struct sbx_test_run r = run("verify");

	cr_expect(eq(int, r.code, 2));
	sbx_test_run_done(&r);
	r = run("verify", "--anchor", "nonsense", log_path);
	cr_expect(eq(int, r.code, 2));
	sbx_test_run_done(&r);
	(void)snprintf(other, sizeof(other), "%s/missing.jsonl", dir);
	r = run("verify", "--key-file", key_path, other);
	cr_expect(eq(int, r.code, 2));
	sbx_test_run_done(&r);
	cr_assert(eq(int, unlink(key_path), 0));
	r = run("verify", log_path); /* no key anywhere */
	cr_expect(eq(int, r.code, 2));
	sbx_test_run_done(&r);
	r = run("frobnicate");
	cr_expect(eq(int, r.code, 2));
	sbx_test_run_done(&r);
}

Test(audit_cli, init_shows_the_key_once)
{
	char d[600];
	struct sbx_test_run r;

	(void)snprintf(d, sizeof(d), "%s/new", dir);
	r = run("init", "--dir", d);
	cr_expect(eq(int, r.code, 0));
	cr_expect(eq(sz, r.out_len, 65));
	cr_expect(eq(sz, strspn(r.out, "0123456789abcdef"), 64));
	cr_expect(sbx_test_contains(r.err, "off this host"));
	cr_expect(not(sbx_test_contains(r.err, r.out)));
	sbx_test_run_done(&r);
	r = run("init", "--dir", d);
	cr_expect(eq(int, r.code, 2));
	cr_expect(eq(sz, r.out_len, 0));
	sbx_test_run_done(&r);
}

Test(audit_cli, show_filters)
{
	struct sbx_test_run r = run("show", "--task", "t-3", log_path);
	size_t lines = 0;

	cr_expect(eq(int, r.code, 0));
	for (char *p = r.out; (p = strchr(p, '\n')); p++)
		lines++;
	cr_expect(eq(sz, lines, 1 + 4), "%s", r.out); /* header + 4 records of t-3 */
	cr_expect(not(sbx_test_contains(r.out, "t-1")));
	sbx_test_run_done(&r);

	r = run("show", "--json", "--event", "*.refused", log_path);
	cr_expect(eq(int, r.code, 0));
	lines = 0;
	for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
		json_t *o = json_loads(line, 0, NULL);
		cr_expect(o != NULL);
		cr_expect(
		    sbx_test_contains(json_string_value(json_object_get(o, "event")), ".refused"));
		json_decref(o);
		lines++;
	}
	cr_expect(eq(sz, lines, 3));
	sbx_test_run_done(&r);

	r = run("show", "--uid", "1001", "--policy", "build", log_path);
	cr_expect(sbx_test_contains(r.out, "task.refused"));
	cr_expect(not(sbx_test_contains(r.out, "t-1")));
	sbx_test_run_done(&r);

	r = run("show", "--since", "1h", "--until", "2999-01-01", log_path);
	cr_expect(sbx_test_contains(r.out, "client.refused"));
	sbx_test_run_done(&r);
	r = run("show", "--since", "2999-01-01T00:00:00Z", log_path);
	cr_expect(not(sbx_test_contains(r.out, "task.")));
	sbx_test_run_done(&r);
	r = run("show", "--since", "yesterday-ish", log_path);
	cr_expect(eq(int, r.code, 2));
	sbx_test_run_done(&r);
}

Test(audit_cli, stats_and_key_usage)
{
	struct sbx_test_run r = run("stats", log_path);

	cr_expect(eq(int, r.code, 0));
	cr_expect(sbx_test_contains(r.out, "task.requested"));
	cr_expect(sbx_test_contains(r.out, "task.refused key_retired"));
	cr_expect(sbx_test_contains(r.out, "client.refused unauthorized"));
	cr_expect(sbx_test_contains(r.out, "uid 1000"));
	sbx_test_run_done(&r);
	r = run("key-usage", log_path);
	cr_expect(eq(int, r.code, 0));
	cr_expect(sbx_test_contains(r.out, "\n2 "));
	cr_expect(sbx_test_contains(r.out, "\n3 "));
	sbx_test_run_done(&r);
	r = run("key-usage", "--since", "2999-01-01", log_path);
	cr_expect(sbx_test_contains(r.out, "no secrets.opened"));
	sbx_test_run_done(&r);
}
