/* SPDX-License-Identifier: MIT */
/*
 * Faults around the real sbxd (issue 8, item 3): a keyring replaced by garbage and a policy
 * directory removed before SIGHUP (the running keys and policies stay, the fault is logged and
 * audited), file descriptors running out while clients connect (the connections sbxd has keep
 * running tasks, the rest get one `busy` line, and it recovers), and sandboxes that misbehave:
 * memory beyond their cgroup limit, 10,000 forks, a full /tmp, output without end, stdout closed
 * while running on. Each test starts its own daemon and stops it at the end (exit 0, no stray
 * process, no leftover cgroup); sbxd killed outright and a full audit disk are covered in
 * test-audit-sbxd.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>

#include "tests/integration/harness.h"
#include "tests/integration/sbxd-fixture.h"

static struct sbx_fixture fx;

static void setup(void)
{
	sbx_test_require_root();
	sbx_test_require_file(sbx_test_build_path("sbxd"));
}

static void teardown(void)
{
	sbx_fixture_cleanup(&fx);
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ---- */

static void start(const struct sbx_fixture_opts *o)
{
	cr_assert(eq(int, sbx_fixture_start(&fx, o), 0), "sbxd did not start");
}

static void stop(void)
{
	cr_assert(eq(int, sbx_fixture_stop(&fx, 20000), 0), "sbxd did not stop cleanly");
}

static struct sbx_client_test *conn(void)
{
	struct sbx_client_test *c = NULL;

	cr_assert(eq(int, sbx_client_test_connect(fx.sock, &c), 0));
	return c;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static char *read_text(const char *path)
{
	struct sbx_test_run r;
	char *text;

	cr_assert(eq(int, sbx_test_runv(&r, 10000, "/bin/cat", path, NULL), 0));
	text = strdup(r.out);
	sbx_test_run_done(&r);
	cr_assert(T(text != NULL));
	return text;
}

static char *audit_text(void)
{
	char path[4200];

	(void)snprintf(path, sizeof(path), "%s/audit.jsonl", fx.dir);
	return read_text(path);
}

/* policy/default.json with one substring replaced, as fx.policies/NAME.json. */
static void write_policy(const char *name, const char *from, const char *to)
{
	char src[4096], path[4300], *text, *at, *out;

	(void)snprintf(src, sizeof(src), "%s/policy/default.json", SBX_SOURCE_DIR);
	text = read_text(src);
	at = from ? strstr(text, from) : NULL;
	cr_assert(T(!from || at), "'%s' not in %s", from, src);
	if (at)
		cr_assert(T(
		    asprintf(&out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from)) > 0));
	else
		out = strdup(text);
	(void)snprintf(path, sizeof(path), "%s/%s.json", fx.policies, name);
	cr_assert(eq(int, sbx_test_write_file(path, out), 0));
	free(out);
	free(text);
}

static size_t count_in_log(const char *needle)
{
	char *log = sbx_fixture_read_log(&fx, NULL);
	size_t n = count_of(log, needle);

	free(log);
	return n;
}

/* SIGHUP, then wait for one more needle in the log than there was before. */
static void reload_and_wait(const char *needle)
{
	const size_t before = count_in_log(needle);

	cr_assert(eq(int, sbx_fixture_signal(&fx, SIGHUP), 0));
	for (int i = 0; i < 250 && count_in_log(needle) == before; i++)
		(void)usleep(20000);
	cr_assert(T(count_in_log(needle) > before), "no new '%s' in sbxd's log", needle);
}

static json_t *run_req(const char *id, const char *policy, const char *script, int timeout_ms)
{
	json_t *req = json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "id", id, "op", "run", "policy",
				policy, "argv", "/bin/sh", "-c", script);

	if (timeout_ms > 0)
		(void)json_object_set_new(req, "timeout_ms", json_integer(timeout_ms));
	return req;
}

/* Runs script under policy and waits for its end (or error reply). */
static void run(struct sbx_client_test *c, const char *id, const char *policy, const char *script,
		int timeout_ms, struct sbx_client_test_task *t)
{
	cr_assert(
	    eq(int,
	       sbx_client_test_run(c, run_req(id, policy, script, timeout_ms), T_TASK + 30000, t),
	       0),
	    "task %s did not end", id);
	cr_assert(eq(sz, t->bad_events, 0));
}

static void expect_true_runs(struct sbx_client_test *c, const char *id, const char *policy)
{
	struct sbx_client_test_task t;

	run(c, id, policy, "exit 0", 0, &t);
	cr_assert(T(t.exit != NULL), "task %s: error %s", id, t.error_code ? t.error_code : "?");
	cr_assert(eq(str, (char *)t.reason, "exited"));
	cr_assert(eq(int, t.code, 0));
	sbx_client_test_task_done(&t);
}

static json_t *call(struct sbx_client_test *c, json_t *req)
{
	json_t *reply = NULL;

	cr_assert(eq(int, sbx_client_test_call(c, req, T_REPLY, &reply), 0), "no reply");
	return reply;
}

/* Seals NAME=value under context; returns the blob (malloc'd) and its key id. */
static char *seal(struct sbx_client_test *c, const char *value, const char *context,
		  json_int_t *ret_key)
{
	json_t *r = call(c, json_pack("{s:s, s:s, s:s, s:{s:s}}", "id", "seal", "op", "seal",
				      "context", context, "secrets", "FAULT_API_KEY", value));
	const char *blob = json_string_value(json_object_get(r, "sealed"));
	char *copy;

	cr_assert(T(json_is_true(json_object_get(r, "ok")) && blob), "seal failed");
	copy = strdup(blob);
	*ret_key = json_integer_value(json_object_get(r, "key_id"));
	json_decref(r);
	return copy;
}

/* The payload compares the secret itself: its value never travels back to the test. */
static void expect_blob_opens(struct sbx_client_test *c, const char *id, const char *blob,
			      const char *context, const char *value)
{
	struct sbx_client_test_task t;
	char script[256];
	json_t *req;

	(void)snprintf(script, sizeof(script), "test \"$FAULT_API_KEY\" = '%s'", value);
	req = run_req(id, "default", script, 0);
	(void)json_object_set_new(req, "sealed", json_string(blob));
	(void)json_object_set_new(req, "context", json_string(context));
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	cr_assert(T(t.exit != NULL), "task %s: error %s", id, t.error_code ? t.error_code : "?");
	cr_assert(eq(int, t.code, 0), "the secret did not reach the payload");
	sbx_client_test_task_done(&t);
}

/* ---- reload faults ---- */

Test(faults, sighup_with_a_garbage_keyring_keeps_the_old_keys)
{
	struct sbx_client_test *c;
	char value[64], needle[4200], *log, *audit;
	json_int_t key_before, key_after;
	char *blob, *blob2;
	int fd;

	(void)snprintf(value, sizeof(value), "canary-%d-%ld", (int)getpid(), (long)random());
	start(NULL);
	c = conn();
	blob = seal(c, value, "tenant:1/task:1", &key_before);

	/* Garbage over the keyring, same owner and mode: only the content is wrong. */
	fd = open(fx.keyring, O_WRONLY | O_TRUNC | O_CLOEXEC);
	cr_assert(fd >= 0);
	for (int i = 0; i < 64; i++)
		cr_assert(eq(int, (int)write(fd, "\x93garbage\x00{\"keys\":[", 17), 17));
	(void)close(fd);
	(void)snprintf(needle, sizeof(needle), "keyring '%s'", fx.keyring);
	reload_and_wait(needle);
	cr_assert(T(sbx_fixture_wait_log(&fx, "reload: keyring is broken", 2000)));

	/* The old keys are still in use: the old blob opens, a new seal uses the same key. */
	expect_blob_opens(c, "after-garbage", blob, "tenant:1/task:1", value);
	blob2 = seal(c, value, "tenant:1/task:2", &key_after);
	cr_assert(eq(i64, key_after, key_before));
	expect_blob_opens(c, "new-blob", blob2, "tenant:1/task:2", value);
	sbx_client_test_free(c);
	stop();

	audit = audit_text();
	cr_assert(eq(sz, count_of(audit, "\"event\":\"daemon.reloaded\""), 1));
	cr_assert(T(sbx_test_contains(audit, "\"ok\":false,\"failed\":\"keyring\"")));
	log = sbx_fixture_read_log(&fx, NULL);
	cr_assert(T(log && !strstr(log, value) && !strstr(audit, value)),
		  "the secret value reached the log or the audit log");
	free(log);
	free(audit);
	free(blob);
	free(blob2);
}

Test(faults, sighup_with_the_policy_directory_removed_keeps_the_policies)
{
	struct sbx_client_test *c;
	char needle[4200], *audit;

	start(NULL);
	write_policy("extra", "\"hostname\": \"sbx\"", "\"hostname\": \"extra\"");
	reload_and_wait("reloaded: 2 policies");
	c = conn();
	expect_true_runs(c, "extra-before", "extra");

	cr_assert(eq(int, sbx_test_rm_rf(fx.policies), 0));
	(void)snprintf(needle, sizeof(needle), "policy directory '%s'", fx.policies);
	reload_and_wait(needle);
	expect_true_runs(c, "extra-after", "extra");
	expect_true_runs(c, "default-after", "default");

	/* Once the directory is back, reloads work again. */
	cr_assert(eq(int, mkdir(fx.policies, 0700), 0));
	write_policy("other", NULL, NULL);
	reload_and_wait("reloaded: 2 policies");
	expect_true_runs(c, "other", "other");
	sbx_client_test_free(c);
	stop();
	audit = audit_text();
	cr_assert(eq(sz, count_of(audit, "\"ok\":false,\"failed\":\"policies\""), 1));
	cr_assert(eq(sz, count_of(audit, "\"event\":\"daemon.reloaded\""), 3));
	free(audit);
}

/* ---- file descriptors ---- */

/* Connects and says hello: 1 when served, 0 when refused with busy and closed. */
static int try_client(struct sbx_client_test **ret)
{
	struct sbx_client_test *c = conn();
	json_t *reply = NULL;
	const char *code;
	int r;

	/* May fail when sbxd refused first: its busy line is still there to read. */
	(void)sbx_client_test_send_take(c, json_pack("{s:s, s:s}", "id", "h", "op", "hello"));
	r = sbx_client_test_next(c, T_REPLY, &reply);
	cr_assert(eq(int, r, 0), "no reply to hello or refusal (%d)", r);
	if (json_is_true(json_object_get(reply, "ok"))) {
		json_decref(reply);
		*ret = c;
		return 1;
	}
	code = json_string_value(json_object_get(json_object_get(reply, "error"), "code"));
	cr_assert(eq(str, (char *)(code ? code : "?"), "busy"));
	cr_assert(T(json_is_null(json_object_get(reply, "id"))));
	json_decref(reply);
	r = sbx_client_test_next(c, T_REPLY, &reply);
	/* EOF, or a reset for the hello sbxd never read. */
	cr_assert(T(r == -EPIPE || r == -ECONNRESET), "a refused connection stayed open (%d)", r);
	sbx_client_test_free(c);
	*ret = NULL;
	return 0;
}

Test(faults, fd_exhaustion_keeps_serving_refuses_clearly_and_recovers)
{
	const struct sbx_fixture_opts o = {.nofile = 64};
	struct sbx_client_test *cl[64] = {0};
	size_t n = 0, refused = 0;
	char *log;

	start(&o);
	while (n < 64 && refused < 5) {
		struct sbx_client_test *c;
		if (try_client(&c))
			cl[n++] = c;
		else
			refused++;
	}
	cr_assert(eq(sz, refused, 5), "64 connections with RLIMIT_NOFILE 64 and none refused");
	cr_assert(T(n >= 8), "only %zu connections served", n);
	/* The connections sbxd has still run tasks, two at once (the fds it keeps free). */
	for (size_t i = 0; i < n; i += n - 1)
		cr_assert(eq(
		    int, sbx_client_test_send_take(cl[i], run_req("held", "default", "exit 0", 0)),
		    0));
	for (size_t i = 0; i < n; i += n - 1) {
		struct sbx_client_test_task t;
		cr_assert(eq(int, sbx_client_test_wait(cl[i], "held", T_TASK, &t), 0));
		cr_assert(T(t.exit != NULL), "connection %zu: error %s", i,
			  t.error_code ? t.error_code : "?");
		cr_assert(eq(str, (char *)t.reason, "exited"));
		sbx_client_test_task_done(&t);
	}
	log = sbx_fixture_read_log(&fx, NULL);
	cr_assert(eq(sz, count_of(log, "refusing connections"), 1), "not one line per burst");
	free(log);

	/* Clients go away: new ones are served again, and that is said once. */
	for (size_t i = 0; i < n; i++)
		cl[i] = sbx_client_test_free(cl[i]);
	{
		struct sbx_client_test *c = NULL;
		for (int i = 0; i < 50 && !try_client(&c); i++)
			(void)usleep(20000);
		cr_assert(T(c != NULL), "no connection served after the clients left");
		expect_true_runs(c, "after", "default");
		sbx_client_test_free(c);
	}
	cr_assert(T(sbx_fixture_wait_log(&fx, "accepting connections again", 2000)));
	stop();
}

/* ---- sandboxes that misbehave ---- */

Test(faults, memory_beyond_the_cgroup_limit_is_oom)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;

	start(NULL);
	write_policy("small", "\"memory\": \"512M\"", "\"memory\": \"32M\"");
	reload_and_wait("reloaded: 2 policies");
	c = conn();
	/* tail keeps the current line in memory, and /dev/zero has no newline. */
	run(c, "hog", "small", "exec tail /dev/zero", 0, &t);
	cr_assert(T(t.exit != NULL), "error %s", t.error_code ? t.error_code : "?");
	cr_assert(eq(str, (char *)t.reason, "oom"));
	cr_assert(eq(int, t.signal, 9));
	cr_assert(T(json_integer_value(json_object_get(t.exit, "max_rss_kb")) <= 48 * 1024),
		  "max_rss_kb beyond the 32M limit");
	sbx_client_test_task_done(&t);
	expect_true_runs(c, "after", "default");
	sbx_client_test_free(c);
	stop();
	{
		char *audit = audit_text();
		cr_assert(T(sbx_test_contains(audit, "\"reason\":\"oom\"")));
		free(audit);
	}
}

Test(faults, ten_thousand_forks_stop_at_the_pids_limit)
{
	static const char script[] = "exec python3 -c '\n"
				     "import os, time\n"
				     "ok = failed = 0\n"
				     "for i in range(10000):\n"
				     "    try:\n"
				     "        pid = os.fork()\n"
				     "    except OSError:\n"
				     "        failed += 1\n"
				     "        continue\n"
				     "    if pid == 0:\n"
				     "        time.sleep(60)\n"
				     "        os._exit(0)\n"
				     "    ok += 1\n"
				     "print(ok, failed, flush=True)\n"
				     "'";
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	int ok = -1, failed = -1;

	cr_assert(T(access("/usr/bin/python3", X_OK) == 0), "the test needs /usr/bin/python3");
	start(NULL);
	c = conn();
	/* It ends by itself; its sleeping children die with the sandbox's pid namespace. */
	run(c, "forks", "default", script, 30000, &t);
	cr_assert(T(t.exit != NULL), "error %s", t.error_code ? t.error_code : "?");
	cr_assert(eq(str, (char *)t.reason, "exited"), "out %.200s err %.300s", t.out, t.err);
	cr_assert(eq(int, t.code, 0));
	cr_assert(eq(int, sscanf(t.out, "%d %d", &ok, &failed), 2), "stdout: %.200s", t.out);
	cr_assert(eq(int, ok + failed, 10000));
	cr_assert(T(ok > 0 && ok < 128), "%d forks succeeded under pids 128", ok);
	sbx_client_test_task_done(&t);
	expect_true_runs(c, "after", "default");
	sbx_client_test_free(c);
	stop(); /* no process left in a task cgroup */
}

Test(faults, a_full_tmp_is_enospc_inside_only)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;

	start(NULL);
	c = conn();
	run(c, "fill", "default",
	    "dd if=/dev/zero of=/tmp/fill bs=1M count=100 2>&1; echo dd=$?; "
	    "echo more >/tmp/more || echo write=failed",
	    0, &t);
	cr_assert(T(t.exit != NULL), "error %s", t.error_code ? t.error_code : "?");
	cr_assert(eq(str, (char *)t.reason, "exited"));
	cr_assert(T(sbx_test_contains(t.out, "No space left on device")), "out: %.300s", t.out);
	cr_assert(T(sbx_test_contains(t.out, "dd=1")));
	cr_assert(T(sbx_test_contains(t.out, "write=failed")));
	sbx_client_test_task_done(&t);
	/* A fresh /tmp for the next task, and sbxd (whose state dir is on the host) is fine. */
	run(c, "next", "default", "test ! -e /tmp/fill && echo fresh", 0, &t);
	cr_assert(T(sbx_test_contains(t.out, "fresh")));
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c);
	stop();
}

Test(faults, endless_output_is_capped_and_sbxd_stays_small)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	long rss_before, rss_after;

	start(NULL);
	write_policy("capped", "\"max\": \"16M\"", "\"max\": \"1M\"");
	reload_and_wait("reloaded: 2 policies");
	c = conn();
	c->keep_transcript = false; /* the test's own memory is not the point */
	expect_true_runs(c, "warm", "default");
	rss_before = sbx_fixture_rss_kb(&fx);
	run(c, "yes", "capped", "exec yes an-endless-line", 3000, &t);
	rss_after = sbx_fixture_rss_kb(&fx);
	cr_assert(T(t.exit != NULL), "error %s", t.error_code ? t.error_code : "?");
	cr_assert(eq(str, (char *)t.reason, "timeout"));
	cr_assert(T(json_is_true(json_object_get(t.exit, "output_truncated"))));
	cr_assert(eq(sz, t.out_len, (size_t)1 << 20), "stdout not cut at the policy's cap");
	cr_assert(T(rss_after - rss_before < 8 * 1024), "sbxd grew from %ld to %ld KiB", rss_before,
		  rss_after);
	cr_log_info("endless output: sbxd RSS %ld -> %ld KiB", rss_before, rss_after);
	sbx_client_test_task_done(&t);
	expect_true_runs(c, "after", "default");
	sbx_client_test_free(c);
	stop();
}

Test(faults, closed_stdout_still_times_out_and_ends_once)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	json_t *extra = NULL;
	char *audit;

	start(NULL);
	c = conn();
	run(c, "mute", "default", "echo before; exec >&- 2>&-; exec sleep 600", 1500, &t);
	cr_assert(T(t.exit != NULL), "error %s", t.error_code ? t.error_code : "?");
	cr_assert(eq(str, (char *)t.reason, "timeout"));
	cr_assert(eq(str, t.out, "before\n"));
	cr_assert(T(json_integer_value(json_object_get(t.exit, "duration_ms")) >= 1500));
	sbx_client_test_task_done(&t);
	/* Nothing more arrives for that request. */
	cr_assert(eq(int, sbx_client_test_next_for(c, "mute", 500, &extra), -ETIMEDOUT));
	expect_true_runs(c, "after", "default");
	sbx_client_test_free(c);
	stop();
	audit = audit_text();
	cr_assert(eq(sz, count_of(audit, "\"event\":\"task.exited\""), 2));
	cr_assert(eq(sz, count_of(audit, "\"reason\":\"timeout\""), 1));
	free(audit);
}
