/* SPDX-License-Identifier: MIT */
/*
 * sbxd over its real socket, as root: every op and error code of protocol v1 (DESIGN.md
 * "Wire protocol", docs/protocol.md), bad frames, peers of other uids, many tasks at once, a
 * client that never reads, disconnect/timeout/cancel killing the whole tree, SIGHUP with a
 * broken policy, SIGTERM draining, and a canary secret that must be nowhere in sbxd's memory,
 * log or replies once its tasks ended. Each test starts its own daemon (sbxd-fixture.c) and
 * stops it at the end: exit 0, no stray process, no leftover cgroup.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>
#include <sodium.h>

#include "tests/integration/harness.h"
#include "tests/integration/sbxd-fixture.h"

#define T_REPLY 5000  /* ms to wait for a reply line */
#define T_TASK	20000 /* ms to wait for a short task's end */

static struct sbx_fixture fx;

/* Criterion's cr_assert pastes its first token: a plain truth value goes through this. */
static inline bool T(bool b)
{
	return b;
}

static void setup(void)
{
	sbx_test_require_root();
	sbx_test_require_file(sbx_test_build_path("sbxd"));
	sbx_test_require_file(sbx_test_build_path("sbxctl"));
}

static void teardown(void)
{
	sbx_fixture_cleanup(&fx);
}

TestSuite(sbxd, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ---- */

static double now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
	const struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	(void)nanosleep(&ts, NULL);
}

static void start(const struct sbx_fixture_opts *o)
{
	cr_assert(eq(int, sbx_fixture_start(&fx, o), 0), "sbxd did not start");
}

/* SIGTERM, exit 0, nothing left behind. */
static void stop(void)
{
	cr_assert(eq(int, sbx_fixture_stop(&fx, 15000), 0), "sbxd did not stop cleanly");
}

static struct sbx_client_test *conn(void)
{
	struct sbx_client_test *c = NULL;

	cr_assert(eq(int, sbx_client_test_connect(fx.sock, &c), 0), "connecting to %s", fx.sock);
	return c;
}

static char *dump(json_t *o)
{
	static char buf[4096];
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	(void)snprintf(buf, sizeof(buf), "%s", s ? s : "(none)");
	free(s);
	return buf;
}

/* Sends req (stolen) and returns its first reply (owned by the caller). */
static json_t *call(struct sbx_client_test *c, json_t *req)
{
	json_t *reply = NULL;

	cr_assert(T(req != NULL), "json_pack failed");
	cr_assert(eq(int, sbx_client_test_call(c, req, T_REPLY, &reply), 0), "no reply");
	return reply;
}

static const char *error_code(json_t *reply)
{
	return json_string_value(json_object_get(json_object_get(reply, "error"), "code"));
}

/* Asserts reply is {"id":..,"ok":false,"error":{"code":code,"message":"..."}} and frees it. */
static void expect_error(json_t *reply, const char *code)
{
	json_t *e = json_object_get(reply, "error");

	cr_assert(T(json_is_false(json_object_get(reply, "ok"))), "expected %s, got %s", code,
		  dump(reply));
	cr_assert(T(json_is_string(json_object_get(e, "message"))), "no message: %s", dump(reply));
	cr_assert(eq(str, (char *)(error_code(reply) ?: "(none)"), (char *)code), "reply %s",
		  dump(reply));
	json_decref(reply);
}

static void expect_ok(json_t *reply)
{
	cr_assert(T(json_is_true(json_object_get(reply, "ok"))), "expected ok, got %s",
		  dump(reply));
}

static void expect_exited(const struct sbx_client_test_task *t, int code)
{
	cr_assert(T(t->exit != NULL), "no exit event (error %s, stderr '%s')", dump(t->error),
		  t->err);
	cr_assert(eq(str, (char *)(t->reason ?: "(null)"), "exited"), "exit %s", dump(t->exit));
	cr_assert(eq(int, t->code, code), "exit %s, stderr '%s'", dump(t->exit), t->err);
}

static void run_sh(struct sbx_client_test *c, const char *id, const char *script,
		   struct sbx_client_test_task *t)
{
	cr_assert(eq(int, sbx_client_test_run(c, sbx_client_test_sh(id, script), T_TASK, t), 0),
		  "run '%s' did not end", script);
}

/* Seals {name: value} under context; returns the blob (malloc'd). */
static char *seal(struct sbx_client_test *c, const char *name, const char *value,
		  const char *context)
{
	json_t *r = call(c, json_pack("{s:s, s:s, s:s, s:{s:s}}", "id", "seal", "op", "seal",
				      "context", context, "secrets", name, value));
	const char *blob = json_string_value(json_object_get(r, "sealed"));
	char *copy;

	expect_ok(r);
	cr_assert(T(blob && strncmp(blob, "sbx1:", 5) == 0), "seal reply %s", dump(r));
	copy = strdup(blob);
	json_decref(r);
	return copy;
}

/* A run with a sealed blob: {"argv":[sh,-c,script],"sealed":..,"context":..}. */
static json_t *sealed_sh(const char *id, const char *script, const char *blob, const char *context)
{
	json_t *req = sbx_client_test_sh(id, script);

	(void)json_object_set_new(req, "sealed", json_string(blob));
	(void)json_object_set_new(req, "context", json_string(context));
	return req;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static size_t count_in_log(const char *needle)
{
	char *log = sbx_fixture_read_log(&fx, NULL);
	size_t n = 0;

	for (const char *p = log; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(log);
	return n;
}

/* SIGHUP, then wait until the log has one more `needle` line than before. */
static void reload(const char *needle)
{
	size_t before = count_in_log(needle);
	double deadline = now_ms() + 5000.0 * sbx_fixture_slow();

	cr_assert(eq(int, sbx_fixture_signal(&fx, SIGHUP), 0));
	while (count_in_log(needle) <= before) {
		if (now_ms() > deadline) {
			char *log = sbx_fixture_read_log(&fx, NULL);
			cr_assert(T(false), "no '%s' in the log after SIGHUP; log:\n%s", needle,
				  log);
		}
		sleep_ms(20);
	}
}

static void random_hex(char *buf, size_t bytes)
{
	unsigned char raw[64];

	cr_assert(T(bytes <= sizeof(raw)));
	randombytes_buf(raw, bytes);
	for (size_t i = 0; i < bytes; i++)
		(void)sprintf(buf + 2 * i, "%02x", raw[i]);
}

/* A unique argument for a sleeper, found later in /proc: "3600.<12 hex digits in digits>". */
static void unique_sleep_arg(char *buf, size_t len)
{
	(void)snprintf(buf, len, "3%03u.%u%06u", (unsigned)(randombytes_random() % 1000),
		       (unsigned)getpid(), (unsigned)(randombytes_random() % 1000000));
}

/* Waits until a process with arg exists (the sandbox started it). */
static void wait_process(const char *arg)
{
	double deadline = now_ms() + 10000;

	while (sbx_fixture_find_process(arg) == 0) {
		cr_assert(T(now_ms() < deadline), "the payload's sleeper '%s' never appeared", arg);
		sleep_ms(20);
	}
}

/* ---- every op ---- */

Test(sbxd, hello_names_the_peer_and_its_ops)
{
	struct sbx_client_test *c;
	json_t *r, *ops;

	start(NULL);
	c = conn();
	r = call(c, json_pack("{s:s, s:s}", "id", "h1", "op", "hello"));
	expect_ok(r);
	cr_assert(eq(str, (char *)json_string_value(json_object_get(r, "id")), "h1"));
	cr_assert(eq(int, (int)json_integer_value(json_object_get(r, "protocol")), 1), "%s",
		  dump(r));
	cr_assert(T(json_is_string(json_object_get(r, "version"))), "%s", dump(r));
	cr_assert(eq(
	    int, (int)json_integer_value(json_object_get(json_object_get(r, "peer"), "uid")), 0));
	cr_assert(eq(int,
		     (int)json_integer_value(json_object_get(json_object_get(r, "peer"), "pid")),
		     (int)getpid()));
	ops = json_object_get(r, "ops");
	cr_assert(eq(sz, json_array_size(ops), 7), "root may use every op: %s", dump(r));
	json_decref(r);
	sbx_client_test_free(c);
	stop();
}

Test(sbxd, run_reports_accepted_started_output_exit_in_order)
{
	struct sbx_client_test *c;
	const char *seq[4] = {"accepted", "started", "output", "exit"};
	char task[64] = "";
	int step = 0;

	start(NULL);
	c = conn();
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("r1", "echo hi")), 0));
	while (step < 4) {
		json_t *o = NULL;
		const char *ev;
		cr_assert(eq(int, sbx_client_test_next_for(c, "r1", T_TASK, &o), 0));
		ev = json_string_value(json_object_get(o, "event"));
		cr_assert(T(ev != NULL), "not an event: %s", dump(o));
		cr_assert(eq(str, (char *)ev, (char *)seq[step]), "event %d: %s", step, dump(o));
		if (step == 0)
			(void)snprintf(task, sizeof(task), "%s",
				       json_string_value(json_object_get(o, "task")));
		cr_assert(eq(str, (char *)json_string_value(json_object_get(o, "task")), task),
			  "every event names the task: %s", dump(o));
		if (step == 1)
			cr_assert(T(json_integer_value(json_object_get(o, "pid")) > 0), "%s",
				  dump(o));
		if (step == 2) {
			cr_assert(eq(str, (char *)json_string_value(json_object_get(o, "stream")),
				     "stdout"));
			cr_assert(
			    eq(str, (char *)json_string_value(json_object_get(o, "data")), "aGkK"),
			    "base64 of 'hi\\n': %s", dump(o));
		}
		if (step == 3) {
			cr_assert(eq(int, (int)json_integer_value(json_object_get(o, "code")), 0));
			cr_assert(T(json_is_null(json_object_get(o, "signal"))), "%s", dump(o));
			cr_assert(eq(str, (char *)json_string_value(json_object_get(o, "reason")),
				     "exited"));
			cr_assert(T(json_is_integer(json_object_get(o, "duration_ms"))), "%s",
				  dump(o));
			cr_assert(T(json_is_integer(json_object_get(o, "cpu_ms"))), "%s", dump(o));
			cr_assert(T(json_is_integer(json_object_get(o, "max_rss_kb"))), "%s",
				  dump(o));
		}
		json_decref(o);
		step++;
	}
	cr_assert(T(strncmp(task, "sbxd-", 5) == 0), "task id '%s'", task);
	sbx_client_test_free(c);
	stop();
}

Test(sbxd, exit_code_and_signal)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;

	start(NULL);
	c = conn();
	run_sh(c, "e42", "exit 42", &t);
	expect_exited(&t, 42);
	cr_assert(T(json_is_null(json_object_get(t.exit, "signal"))));
	sbx_client_test_task_done(&t);
	run_sh(c, "k9", "kill -KILL $$", &t);
	cr_assert(T(t.exit != NULL), "%s", dump(t.error));
	cr_assert(eq(str, (char *)t.reason, "signaled"), "%s", dump(t.exit));
	cr_assert(eq(int, t.signal, SIGKILL));
	cr_assert(T(json_is_null(json_object_get(t.exit, "code"))), "%s", dump(t.exit));
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c);
	stop();
}

Test(sbxd, stdin_passes_through)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	const size_t big = 300000;
	char *raw = malloc(big), *b64 = malloc(big * 2), want[32];
	json_t *req;

	cr_assert(T(raw && b64));
	start(NULL);
	c = conn();
	req = json_pack("{s:s, s:s, s:s, s:[s], s:s}", "id", "in", "op", "run", "policy", "default",
			"argv", "/bin/cat", "stdin", "aGVsbG8gc3RkaW4K");
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "hello stdin\n"));
	sbx_client_test_task_done(&t);

	/* More than a pipe holds: written as the payload reads. */
	for (size_t i = 0; i < big; i++)
		raw[i] = (char)('a' + i % 26);
	sodium_bin2base64(b64, big * 2, (unsigned char *)raw, big, sodium_base64_VARIANT_ORIGINAL);
	req = json_pack("{s:s, s:s, s:s, s:[s, s], s:s}", "id", "in2", "op", "run", "policy",
			"default", "argv", "/usr/bin/wc", "-c", "stdin", b64);
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	expect_exited(&t, 0);
	(void)snprintf(want, sizeof(want), "%zu\n", big);
	cr_assert(eq(str, t.out, want));
	sbx_client_test_task_done(&t);

	/* No stdin: the payload reads EOF at once rather than hanging. */
	run_sh(c, "noin", "cat; echo eof", &t);
	expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "eof\n"));
	sbx_client_test_task_done(&t);
	free(raw);
	free(b64);
	sbx_client_test_free(c);
	stop();
}

Test(sbxd, output_streams_apart)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;

	start(NULL);
	c = conn();
	run_sh(c, "st", "echo out1; echo err1 >&2; echo out2; echo err2 >&2", &t);
	expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "out1\nout2\n"));
	cr_assert(eq(str, t.err, "err1\nerr2\n"));
	cr_assert(eq(sz, t.bad_events, 0));
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c);
	stop();
}

Test(sbxd, env_the_policy_allows_reaches_the_payload)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	json_t *req =
	    sbx_client_test_sh("env", "echo \"$APP_MODE|$LANG|$HOME\"; env | grep -c SBXD_");

	start(NULL);
	c = conn();
	(void)json_object_set_new(req, "env", json_pack("{s:s}", "APP_MODE", "fast"));
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	/* grep -c prints 0 and exits 1: nothing of sbxd's environment leaks in. */
	expect_exited(&t, 1);
	cr_assert(eq(str, t.out, "fast|C.UTF-8|/tmp\n0\n"));
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c);
	stop();
}

Test(sbxd, list_stats_and_cancel)
{
	struct sbx_client_test *c, *other;
	struct sbx_client_test_task t;
	json_t *r, *tasks, *first;
	char arg[64], script[256];

	start(NULL);
	c = conn();
	other = conn();
	r = call(c, json_pack("{s:s, s:s}", "id", "l0", "op", "list"));
	expect_ok(r);
	cr_assert(eq(sz, json_array_size(json_object_get(r, "tasks")), 0), "%s", dump(r));
	json_decref(r);

	unique_sleep_arg(arg, sizeof(arg));
	(void)snprintf(script, sizeof(script), "sleep %s & sleep %s; wait", arg, arg);
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("long", script)), 0));
	wait_process(arg);

	r = call(other, json_pack("{s:s, s:s}", "id", "l1", "op", "list"));
	expect_ok(r);
	tasks = json_object_get(r, "tasks");
	cr_assert(eq(sz, json_array_size(tasks), 1), "root sees every task: %s", dump(r));
	first = json_array_get(tasks, 0);
	cr_assert(eq(str, (char *)json_string_value(json_object_get(first, "state")), "running"));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(first, "policy")), "default"));

	r = call(other, json_pack("{s:s, s:s}", "id", "s1", "op", "stats"));
	expect_ok(r);
	cr_assert(eq(int, (int)json_integer_value(json_object_get(r, "running")), 1), "%s",
		  dump(r));
	cr_assert(T(json_integer_value(json_object_get(r, "tasks_run")) >= 1), "%s", dump(r));
	cr_assert(T(json_is_object(json_object_get(r, "errors"))), "%s", dump(r));
	json_decref(r);

	/* An unknown task is refused; the real one is cancelled and its tree killed. */
	expect_error(call(other, json_pack("{s:s, s:s, s:s}", "id", "cx", "op", "cancel", "task",
					   "sbxd-0-0")),
		     "bad_request");
	r = call(other, json_pack("{s:s, s:s, s:s}", "id", "c1", "op", "cancel", "task",
				  json_string_value(json_object_get(first, "task"))));
	expect_ok(r);
	json_decref(r);
	cr_assert(eq(int, sbx_client_test_wait(c, "long", T_TASK, &t), 0));
	cr_assert(eq(str, (char *)(t.reason ?: "(none)"), "cancelled"), "%s", dump(t.exit));
	cr_assert(T(sbx_fixture_wait_gone(arg, 3000)), "a sleeper survived the cancel");
	sbx_client_test_task_done(&t);

	r = call(c, json_pack("{s:s, s:s}", "id", "s2", "op", "stats"));
	expect_ok(r);
	cr_assert(eq(int, (int)json_integer_value(json_object_get(r, "running")), 0), "%s",
		  dump(r));
	cr_assert(eq(int,
		     (int)json_integer_value(
			 json_object_get(json_object_get(r, "errors"), "bad_request")),
		     1),
		  "%s", dump(r));
	json_decref(r);
	sbx_client_test_free(c);
	sbx_client_test_free(other);
	stop();
}

/* ---- bad frames ---- */

static void raw_expect(struct sbx_client_test *c, const char *line, size_t len, const char *id,
		       const char *code)
{
	json_t *r = NULL;

	cr_assert(eq(int, sbx_client_test_send_raw(c, line, len), 0));
	cr_assert(eq(int, sbx_client_test_next(c, T_REPLY, &r), 0), "no reply to '%.*s'", (int)len,
		  line);
	if (id)
		cr_assert(eq(str, (char *)(json_string_value(json_object_get(r, "id")) ?: "(null)"),
			     (char *)id),
			  "%s", dump(r));
	else
		cr_assert(T(json_is_null(json_object_get(r, "id"))), "%s", dump(r));
	expect_error(r, code);
}

#define RAW(c, s, id, code) raw_expect(c, s, sizeof(s) - 1, id, code)

static void expect_hello_works(struct sbx_client_test *c, const char *id)
{
	json_t *r = call(c, json_pack("{s:s, s:s}", "id", id, "op", "hello"));

	expect_ok(r);
	json_decref(r);
}

Test(sbxd, bad_requests_get_bad_request_and_the_connection_lives_on)
{
	struct sbx_client_test *c;
	char longid[300];

	start(NULL);
	c = conn();
	RAW(c, "not json\n", NULL, "bad_request");
	RAW(c, "{\"id\":\"x\",\"op\":\"hello\"\n", NULL, "bad_request"); /* unterminated */
	RAW(c, "[1,2]\n", NULL, "bad_request");
	RAW(c, "{\"op\":\"hello\"}\n", NULL, "bad_request");	      /* no id */
	RAW(c, "{\"id\":7,\"op\":\"hello\"}\n", NULL, "bad_request"); /* id not a string */
	RAW(c, "{\"id\":\"a\",\"id\":\"b\",\"op\":\"hello\"}\n", NULL, "bad_request"); /* dup */
	RAW(c, "{\"id\":\"u\",\"op\":\"hello\",\"extra\":1}\n", "u", "bad_request");
	RAW(c, "{\"id\":\"o\"}\n", "o", "bad_request"); /* no op */
	RAW(c, "{\"id\":\"bad\xff\xfe\",\"op\":\"hello\"}\n", NULL, "bad_request");
	RAW(c, "{\"id\":\"v\",\"op\":\"hello\",\"x\":\"\xc3\x28\"}\n", NULL, "bad_request");
	RAW(c, "{\"id\":\"z\",\"op\":\"he\0llo\"}\n", NULL, "bad_request");
	memset(longid, 'i', sizeof(longid));
	(void)memcpy(longid, "{\"id\":\"", 7);
	(void)memcpy(longid + 7 + 200, "\",\"op\":\"hello\"}\n", 16);
	raw_expect(c, longid, 7 + 200 + 16, NULL, "bad_request"); /* id over 128 bytes */
	/* run's own fields */
	RAW(c, "{\"id\":\"r1\",\"op\":\"run\",\"argv\":[\"/bin/true\"]}\n", "r1", "bad_request");
	RAW(c, "{\"id\":\"r2\",\"op\":\"run\",\"policy\":\"default\",\"argv\":[]}\n", "r2",
	    "bad_request");
	RAW(c, "{\"id\":\"r3\",\"op\":\"run\",\"policy\":\"default\",\"argv\":[\"/bin/true\",1]}\n",
	    "r3", "bad_request");
	RAW(c,
	    "{\"id\":\"r4\",\"op\":\"run\",\"policy\":\"default\",\"argv\":[\"/bin/true\"],"
	    "\"sealed\":\"sbx1:AAAA\"}\n",
	    "r4", "bad_request"); /* sealed without context */
	RAW(c,
	    "{\"id\":\"r5\",\"op\":\"run\",\"policy\":\"default\",\"argv\":[\"/bin/true\"],"
	    "\"timeout_ms\":-5}\n",
	    "r5", "bad_request");
	RAW(c,
	    "{\"id\":\"r6\",\"op\":\"run\",\"policy\":\"default\",\"argv\":[\"/bin/true\"],"
	    "\"stdin\":\"!!notbase64\"}\n",
	    "r6", "bad_request");
	RAW(c,
	    "{\"id\":\"r7\",\"op\":\"run\",\"policy\":\"default\",\"argv\":[\"/bin/true\"],"
	    "\"cwd\":\"relative\"}\n",
	    "r7", "bad_request");
	RAW(c,
	    "{\"id\":\"r8\",\"op\":\"run\",\"policy\":\"default\",\"argv\":[\"/bin/true\"],"
	    "\"env\":{\"APP_X\":1}}\n",
	    "r8", "bad_request");
	RAW(c, "{\"id\":\"c1\",\"op\":\"cancel\"}\n", "c1", "bad_request");
	RAW(c, "{\"id\":\"s1\",\"op\":\"seal\",\"secrets\":{\"A_TOKEN\":\"v\"}}\n", "s1",
	    "bad_request");
	RAW(c, "{\"id\":\"s2\",\"op\":\"seal\",\"context\":\"t\",\"secrets\":{}}\n", "s2",
	    "bad_request");
	RAW(c, "{\"id\":\"s3\",\"op\":\"seal\",\"context\":\"t\",\"secrets\":{\"PATH\":\"x\"}}\n",
	    "s3", "bad_request"); /* reserved name */
	RAW(c,
	    "{\"id\":\"s4\",\"op\":\"seal\",\"context\":\"t\",\"secrets\":{\"a-b\":\"x\","
	    "\"A_B\":\"y\"}}\n",
	    "s4", "bad_request"); /* two names that normalise alike */
	RAW(c, "{\"id\":\"w1\",\"op\":\"rewrap\",\"context\":\"t\"}\n", "w1", "bad_request");
	/* An empty line is not a request either; then the connection still works. */
	RAW(c, "\n", NULL, "bad_request");
	expect_hello_works(c, "after");
	sbx_client_test_free(c);
	stop();
}

Test(sbxd, unknown_op)
{
	struct sbx_client_test *c;

	start(NULL);
	c = conn();
	RAW(c, "{\"id\":\"q\",\"op\":\"format_disk\"}\n", "q", "unknown_op");
	RAW(c, "{\"id\":\"q2\",\"op\":\"HELLO\"}\n", "q2", "unknown_op");
	expect_hello_works(c, "after");
	sbx_client_test_free(c);
	stop();
}

/* A hello line padded with spaces to exactly len bytes before its newline. */
static char *padded_hello(size_t len)
{
	static const char head[] = "{\"id\":\"big\",\"op\":\"hello\"";
	char *s = malloc(len + 2);

	cr_assert(T(s != NULL));
	memset(s, ' ', len);
	memcpy(s, head, sizeof(head) - 1);
	s[len - 1] = '}';
	s[len] = '\n';
	s[len + 1] = '\0';
	return s;
}

Test(sbxd, line_over_max_frame_is_too_large_and_the_next_line_works)
{
	const size_t max_frame = 1U << 20; /* the default */
	struct sbx_client_test *c;
	char *line;
	json_t *r = NULL;

	start(NULL);
	c = conn();
	/* Exactly max_frame bytes is allowed. */
	line = padded_hello(max_frame);
	r = call(c, json_loads("{\"id\":\"small\",\"op\":\"hello\"}", 0, NULL));
	json_decref(r);
	cr_assert(eq(int, sbx_client_test_send_raw(c, line, max_frame + 1), 0));
	cr_assert(eq(int, sbx_client_test_next(c, T_REPLY, &r), 0));
	cr_assert(eq(str, (char *)(json_string_value(json_object_get(r, "id")) ?: "(null)"), "big"),
		  "%s", dump(r));
	expect_ok(r);
	json_decref(r);
	free(line);
	/* One byte more is too_large, answered once, and the rest of the line is skipped. */
	line = padded_hello(max_frame + 1);
	cr_assert(eq(int, sbx_client_test_send_raw(c, line, max_frame + 2), 0));
	free(line);
	line = padded_hello(3 * max_frame);
	cr_assert(eq(int, sbx_client_test_send_raw(c, line, 3 * max_frame + 1), 0));
	free(line);
	expect_error(({
			     cr_assert(eq(int, sbx_client_test_next(c, T_REPLY, &r), 0));
			     r;
		     }),
		     "too_large");
	expect_error(({
			     cr_assert(eq(int, sbx_client_test_next(c, T_REPLY, &r), 0));
			     r;
		     }),
		     "too_large");
	expect_hello_works(c, "after");
	cr_assert(eq(int, sbx_client_test_next(c, 300, &r), -ETIMEDOUT), "extra line %s", dump(r));
	sbx_client_test_free(c);
	stop();
}

Test(sbxd, half_line_then_hangup)
{
	struct sbx_client_test *c;
	char arg[64], script[256];
	json_t *r = NULL;

	start(NULL);
	c = conn();
	cr_assert(eq(int, sbx_client_test_send_raw(c, "{\"id\":\"h\",\"op\":\"hel", 19), 0));
	c = sbx_client_test_free(c);
	/* The same with a task running on the connection: the task dies with it. */
	c = conn();
	unique_sleep_arg(arg, sizeof(arg));
	(void)snprintf(script, sizeof(script), "sleep %s", arg);
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("t", script)), 0));
	wait_process(arg);
	cr_assert(
	    eq(int, sbx_client_test_send_raw(c, "{\"id\":\"x\",\"op\":\"run\",\"pol", 26), 0));
	cr_assert(eq(int, shutdown(c->fd, SHUT_WR), 0));
	/* EOF after a half line: the daemon drops the half line and closes. */
	while (sbx_client_test_next(c, T_REPLY, &r) == 0) {
		cr_assert(T(json_object_get(r, "event") != NULL), "a reply to a half line: %s",
			  dump(r));
		json_decref(r);
	}
	cr_assert(T(sbx_fixture_wait_gone(arg, 5000)), "the task outlived its connection");
	c = sbx_client_test_free(c);
	c = conn();
	expect_hello_works(c, "alive");
	sbx_client_test_free(c);
	stop();
}

/* ---- authorization ---- */

/* Runs fn as uid/gid 65534 in a child; returns what it wrote (malloc'd). */
static char *as_nobody(void (*fn)(int out, void *arg), void *arg)
{
	int p[2];
	pid_t pid;
	char buf[8192];
	size_t len = 0;
	ssize_t n;
	int st;

	cr_assert(eq(int, pipe2(p, O_CLOEXEC), 0));
	pid = fork();
	cr_assert(T(pid >= 0));
	if (pid == 0) {
		(void)close(p[0]);
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(3);
		fn(p[1], arg);
		_exit(0);
	}
	(void)close(p[1]);
	while ((n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	(void)close(p[0]);
	cr_assert(eq(int, waitpid(pid, &st, 0), pid));
	cr_assert(T(WIFEXITED(st) && WEXITSTATUS(st) == 0), "child status 0x%x: %s", st, buf);
	return strdup(buf);
}

static void say(int out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int out, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)!write(out, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Connects and writes the first line the daemon sends (or the failure). */
static void nobody_first_line(int out, void *arg)
{
	struct sbx_client_test *c = NULL;
	json_t *r = NULL;
	int e;

	(void)arg;
	e = sbx_client_test_connect(fx.sock, &c);
	if (e < 0) {
		say(out, "connect: %s", strerror(-e));
		return;
	}
	(void)sbx_client_test_sendf(c, "{s:s, s:s}", "id", "n1", "op", "hello");
	e = sbx_client_test_next(c, T_REPLY, &r);
	say(out, "%s", e < 0 ? strerror(-e) : dump(r));
	/* ... and then the daemon hangs up. */
	json_decref(r);
	r = NULL;
	e = sbx_client_test_next(c, T_REPLY, &r);
	say(out, "|%s", e == -EPIPE || e == -ECONNRESET ? "closed" : "open");
	sbx_client_test_free(c);
}

/* The dev socket and its directories opened up so that uid 65534 can reach it at all. */
static void open_up_socket(void)
{
	cr_assert(eq(int, chmod(fx.base, 0711), 0));
	cr_assert(eq(int, chmod(fx.dir, 0711), 0));
	cr_assert(eq(int, chmod(fx.sock, 0666), 0));
}

Test(sbxd, a_uid_no_rule_names_is_refused)
{
	char *got;

	start(NULL);
	open_up_socket();
	got = as_nobody(nobody_first_line, NULL);
	cr_assert(T(sbx_test_contains(got, "\"code\":\"unauthorized\"")), "got %s", got);
	cr_assert(T(sbx_test_contains(got, "|closed")), "the connection stays open: %s", got);
	free(got);
	cr_assert(T(sbx_fixture_wait_log(&fx, "refused connection of uid 65534", 2000)));
	stop();
}

/* As uid 65534 under rules: hello, then run, stats and list. */
static void nobody_ops(int out, void *arg)
{
	const char *policy = arg ? arg : "default";
	struct sbx_client_test *c = NULL;
	json_t *r = NULL;
	int e;

	e = sbx_client_test_connect(fx.sock, &c);
	if (e < 0) {
		say(out, "connect: %s", strerror(-e));
		return;
	}
	(void)sbx_client_test_sendf(c, "{s:s, s:s}", "id", "h", "op", "hello");
	(void)sbx_client_test_sendf(c, "{s:s, s:s, s:s, s:[s]}", "id", "r", "op", "run", "policy",
				    policy, "argv", "/bin/true");
	(void)sbx_client_test_sendf(c, "{s:s, s:s}", "id", "s", "op", "stats");
	(void)sbx_client_test_sendf(c, "{s:s, s:s, s:s, s:{s:s}}", "id", "k", "op", "seal",
				    "context", "c", "secrets", "A_TOKEN", "v");
	(void)sbx_client_test_sendf(c, "{s:s, s:s}", "id", "l", "op", "list");
	for (int i = 0; i < 5; i++) {
		const char *ids[] = {"h", "r", "s", "k", "l"};
		e = sbx_client_test_next_for(c, ids[i], T_REPLY, &r);
		if (e < 0) {
			say(out, "%s:%s;", ids[i], strerror(-e));
			continue;
		}
		if (json_is_true(json_object_get(r, "ok")))
			say(out, "%s:ok%s;", ids[i], i == 0 ? dump(json_object_get(r, "ops")) : "");
		else if (json_object_get(r, "event"))
			say(out, "%s:%s;", ids[i], json_string_value(json_object_get(r, "event")));
		else
			say(out, "%s:%s;", ids[i], error_code(r));
		json_decref(r);
	}
	sbx_client_test_free(c);
}

Test(sbxd, client_rules_limit_ops_and_policies)
{
	const struct sbx_fixture_opts o = {
	    .clients = "[{\"uids\": [65534], \"ops\": [\"hello\", \"list\", \"stats\"]}]",
	};
	char *got;

	start(&o);
	open_up_socket();
	got = as_nobody(nobody_ops, NULL);
	/* stats stays root's even when a rule names it. */
	cr_assert(eq(str, got,
		     "h:ok[\"hello\",\"list\"];r:unauthorized;s:unauthorized;k:unauthorized;l:ok;"),
		  "got %s", got);
	free(got);
	stop();
}

Test(sbxd, client_rule_policies_limit_run)
{
	const struct sbx_fixture_opts o = {
	    .clients = "[{\"uids\": [65534], \"ops\": [\"hello\", \"run\", \"seal\"], "
		       "\"policies\": [\"other\"]}]",
	};
	char *got;

	start(&o);
	open_up_socket();
	got = as_nobody(nobody_ops, NULL);
	cr_assert(eq(str, got,
		     "h:ok[\"hello\",\"seal\",\"run\"];r:unauthorized;s:unauthorized;k:ok;"
		     "l:unauthorized;"),
		  "got %s", got);
	free(got);
	stop();
}

/* The shipped default with its "clients" replaced (a JSON fragment), as policies/NAME.json. */
static void write_policy(const char *name, const char *clients)
{
	struct sbx_test_run run;
	char src[4096], path[8192], *text, *at, *end;

	(void)snprintf(src, sizeof(src), "%s/policy/default.json", SBX_SOURCE_DIR);
	cr_assert(eq(int, sbx_test_runv(&run, 5000, "/bin/cat", src, NULL), 0));
	cr_assert(eq(int, run.code, 0));
	at = strstr(run.out, "\"clients\"");
	cr_assert(T(at != NULL), "no clients in %s", src);
	end = strchr(at, '}');
	cr_assert(T(end != NULL));
	cr_assert(T(asprintf(&text, "%.*s\"clients\": %s%s", (int)(at - run.out), run.out, clients,
			     end + 1) > 0));
	(void)snprintf(path, sizeof(path), "%s/%s.json", fx.policies, name);
	cr_assert(eq(int, sbx_test_write_file(path, text), 0));
	free(text);
	sbx_test_run_done(&run);
}

Test(sbxd, client_rule_grants_run)
{
	const struct sbx_fixture_opts o = {
	    .clients = "[{\"uids\": [65534], \"ops\": [\"hello\", \"run\", \"list\"], "
		       "\"policies\": [\"open\", \"default\"]}]",
	};
	char *got;

	start(&o);
	write_policy("open", "{\"uids\": [65534]}");
	reload("reloaded");
	open_up_socket();
	got = as_nobody(nobody_ops, "open");
	/* The run's first line is its accepted event. */
	cr_assert(eq(str, got,
		     "h:ok[\"hello\",\"run\",\"list\"];r:accepted;s:unauthorized;k:unauthorized;"
		     "l:ok;"),
		  "got %s", got);
	free(got);
	/* The shipped default narrows itself to group sbx: the rule alone is not enough. */
	got = as_nobody(nobody_ops, "default");
	cr_assert(sbx_test_contains(got, "r:unauthorized;"), "got %s", got);
	free(got);
	stop();
}

/* --dev for a user (sudo): that user may use the socket and run the shipped default policy. */
Test(sbxd, dev_mode_serves_the_invoking_user)
{
	const struct sbx_fixture_opts o = {.sudo_uid = "65534"};
	struct stat st;
	char *got;

	start(&o);
	cr_assert(eq(int, stat(fx.sock, &st), 0));
	cr_assert(eq(u32, (unsigned)st.st_uid, 65534), "socket owner");
	cr_assert(eq(u32, (unsigned)(st.st_mode & 0777), 0600), "socket mode");
	cr_assert(eq(int, chmod(fx.base, 0711), 0));
	cr_assert(eq(int, chmod(fx.dir, 0711), 0));
	got = as_nobody(nobody_ops, NULL);
	cr_expect(eq(str, got,
		     "h:ok[\"hello\",\"seal\",\"rewrap\",\"run\",\"cancel\",\"list\"];"
		     "r:accepted;s:unauthorized;k:ok;l:ok;"),
		  "got %s", got);
	free(got);
	stop();
}

/* ---- policy and secret errors ---- */

Test(sbxd, policy_unknown_and_policy_violation)
{
	struct sbx_client_test *c;
	json_t *req;

	start(NULL);
	c = conn();
	expect_error(call(c, json_pack("{s:s, s:s, s:s, s:[s]}", "id", "p1", "op", "run", "policy",
				       "no-such-policy", "argv", "/bin/true")),
		     "policy_unknown");
	expect_error(call(c, json_pack("{s:s, s:s, s:s, s:[s]}", "id", "p2", "op", "run", "policy",
				       "../default", "argv", "/bin/true")),
		     "policy_unknown");
	req = sbx_client_test_sh("v1", "true");
	(void)json_object_set_new(req, "env", json_pack("{s:s}", "FOO", "bar"));
	expect_error(call(c, req), "policy_violation");
	req = sbx_client_test_sh("v2", "true");
	(void)json_object_set_new(req, "env", json_pack("{s:s}", "LD_PRELOAD", "/tmp/x.so"));
	expect_error(call(c, req), "policy_violation");
	req = sbx_client_test_sh("v3", "true");
	(void)json_object_set_new(req, "timeout_ms", json_integer(7200000)); /* 2 h */
	expect_error(call(c, req), "policy_violation");
	/* Nothing ran. */
	req = call(c, json_pack("{s:s, s:s}", "id", "s", "op", "stats"));
	cr_assert(eq(int, (int)json_integer_value(json_object_get(req, "tasks_run")), 0), "%s",
		  dump(req));
	json_decref(req);
	sbx_client_test_free(c);
	stop();
}

Test(sbxd, sealed_blob_errors)
{
	struct sbx_client_test *c;
	char *blob, *forged;
	unsigned char raw[4096];
	size_t raw_len = 0;

	start(NULL);
	c = conn();
	/* A name the default policy does not accept: sealed fine, refused at run. */
	blob = seal(c, "FOO", "foo-value", "tenant:1");
	expect_error(call(c, sealed_sh("na", "true", blob, "tenant:1")), "secret_not_allowed");
	free(blob);

	blob = seal(c, "APP_API_KEY", "k-123", "tenant:1");
	expect_error(call(c, sealed_sh("ctx", "true", blob, "tenant:2")), "decrypt_failed");
	expect_error(call(c, json_pack("{s:s, s:s, s:s, s:s}", "id", "rw", "op", "rewrap",
				       "context", "tenant:2", "sealed", blob)),
		     "decrypt_failed");
	expect_error(call(c, sealed_sh("m1", "true", "sbx1:AAAA", "tenant:1")), "sealed_malformed");
	expect_error(call(c, sealed_sh("m2", "true", "not a blob", "tenant:1")),
		     "sealed_malformed");
	expect_error(call(c, json_pack("{s:s, s:s, s:s, s:s}", "id", "rw2", "op", "rewrap",
				       "context", "tenant:1", "sealed", "sbx1:!!")),
		     "sealed_malformed");

	/* The same blob claiming key 99, which the keyring never had. */
	cr_assert(eq(int,
		     sodium_base642bin(raw, sizeof(raw), blob + 5, strlen(blob + 5), NULL, &raw_len,
				       NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
		     0));
	cr_assert(T(raw_len > 5 && raw[0] == 1));
	raw[1] = 0, raw[2] = 0, raw[3] = 0, raw[4] = 99;
	forged = malloc(
	    5 + sodium_base64_ENCODED_LEN(raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING));
	memcpy(forged, "sbx1:", 5);
	sodium_bin2base64(
	    forged + 5,
	    sodium_base64_ENCODED_LEN(raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING), raw,
	    raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	expect_error(call(c, sealed_sh("ku", "true", forged, "tenant:1")), "key_unknown");
	/* One flipped ciphertext byte: the tag does not verify. */
	raw[1] = 0, raw[4] = 1;
	raw[raw_len - 1] ^= 1;
	sodium_bin2base64(
	    forged + 5,
	    sodium_base64_ENCODED_LEN(raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING), raw,
	    raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	expect_error(call(c, sealed_sh("tamper", "true", forged, "tenant:1")), "decrypt_failed");
	free(forged);
	free(blob);
	sbx_client_test_free(c);
	stop();
}

Test(sbxd, rotate_rewrap_retire_through_sighup, .timeout = 90)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	struct sbx_test_run run;
	char sbxctl[4096], *old, *fresh;
	json_t *r;

	sbx_test_build_path_r("sbxctl", sbxctl, sizeof(sbxctl));
	start(NULL);
	c = conn();
	old = seal(c, "APP_API_KEY", "value-1", "tenant:7");
	r = call(c, json_pack("{s:s, s:s, s:s, s:s}", "id", "rw0", "op", "rewrap", "context",
			      "tenant:7", "sealed", old));
	expect_ok(r);
	cr_assert(T(json_is_false(json_object_get(r, "rewrapped"))),
		  "already under the primary: %s", dump(r));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(r, "sealed")), old));
	json_decref(r);

	cr_assert(
	    eq(int,
	       sbx_test_runv(&run, 20000, sbxctl, "keys", "rotate", "--keyring", fx.keyring, NULL),
	       0));
	cr_assert(eq(int, run.code, 0), "rotate: %s", run.err);
	sbx_test_run_done(&run);
	reload("reloaded");
	r = call(c, json_pack("{s:s, s:s, s:s, s:s}", "id", "rw1", "op", "rewrap", "context",
			      "tenant:7", "sealed", old));
	expect_ok(r);
	cr_assert(T(json_is_true(json_object_get(r, "rewrapped"))), "%s", dump(r));
	cr_assert(eq(int, (int)json_integer_value(json_object_get(r, "key_id")), 2), "%s", dump(r));
	fresh = strdup(json_string_value(json_object_get(r, "sealed")));
	json_decref(r);
	/* The old key is still active: the old blob still runs. */
	cr_assert(eq(int,
		     sbx_client_test_run(
			 c, sealed_sh("o1", "echo ${#APP_API_KEY}", old, "tenant:7"), T_TASK, &t),
		     0));
	expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "7\n"));
	sbx_client_test_task_done(&t);

	cr_assert(eq(int,
		     sbx_test_runv(&run, 20000, sbxctl, "keys", "retire", "1", "--keyring",
				   fx.keyring, NULL),
		     0));
	cr_assert(eq(int, run.code, 0), "retire: %s", run.err);
	sbx_test_run_done(&run);
	reload("reloaded");
	expect_error(call(c, sealed_sh("o2", "true", old, "tenant:7")), "key_retired");
	expect_error(call(c, json_pack("{s:s, s:s, s:s, s:s}", "id", "rw2", "op", "rewrap",
				       "context", "tenant:7", "sealed", old)),
		     "key_retired");
	cr_assert(eq(int,
		     sbx_client_test_run(
			 c, sealed_sh("n1", "echo ${#APP_API_KEY}", fresh, "tenant:7"), T_TASK, &t),
		     0));
	expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "7\n"));
	sbx_client_test_task_done(&t);
	free(old);
	free(fresh);
	sbx_client_test_free(c);
	stop();
}

Test(sbxd, sandbox_setup_failed_names_step_and_errno)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	json_t *req = json_pack("{s:s, s:s, s:s, s:[s]}", "id", "nx", "op", "run", "policy",
				"default", "argv", "/no/such/program");

	start(NULL);
	c = conn();
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	cr_assert(T(t.accepted), "accepted first");
	cr_assert(T(t.exit == NULL), "no exit event as well: %s", dump(t.exit));
	cr_assert(eq(str, (char *)(t.error_code ?: "(none)"), "sandbox_setup_failed"), "%s",
		  dump(t.error));
	cr_assert(eq(str, (char *)(json_string_value(json_object_get(t.error, "step")) ?: "(none)"),
		     "execve"),
		  "%s", dump(t.error));
	cr_assert(eq(int, (int)json_integer_value(json_object_get(t.error, "errno")), ENOENT), "%s",
		  dump(t.error));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(t.error, "task")), t.task));
	sbx_client_test_task_done(&t);
	/* A cwd that does not exist in the sandbox fails at its own step, not as exit 127. */
	req = sbx_client_test_sh("cwd", "true");
	(void)json_object_set_new(req, "cwd", json_string("/no/such/dir"));
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	cr_assert(eq(str, (char *)(t.error_code ?: "(none)"), "sandbox_setup_failed"),
		  "exit %s error %s", dump(t.exit), dump(t.error));
	cr_assert(eq(int, (int)json_integer_value(json_object_get(t.error, "errno")), ENOENT), "%s",
		  dump(t.error));
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c);
	stop();
}

Test(sbxd, busy_beyond_max_tasks_and_max_queued, .timeout = 90)
{
	const struct sbx_fixture_opts o = {
	    .limits = "{\"max_tasks\": 1, \"max_queued\": 1, \"max_connections\": 3}",
	};
	struct sbx_client_test *c, *c2, *c3, *c4;
	struct sbx_client_test_task t;
	json_t *r, *tasks;
	char arg[64], script[256];

	start(&o);
	c = conn();
	unique_sleep_arg(arg, sizeof(arg));
	(void)snprintf(script, sizeof(script), "sleep %s", arg);
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("a", script)), 0));
	wait_process(arg);
	cr_assert(
	    eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("b", "echo queued-ran")), 0));
	r = NULL;
	cr_assert(eq(int, sbx_client_test_next_for(c, "b", T_REPLY, &r), 0));
	cr_assert(eq(str, (char *)(json_string_value(json_object_get(r, "event")) ?: "(none)"),
		     "accepted"),
		  "%s", dump(r));
	json_decref(r);
	expect_error(call(c, sbx_client_test_sh("c", "true")), "busy");
	r = call(c, json_pack("{s:s, s:s}", "id", "l", "op", "list"));
	tasks = json_object_get(r, "tasks");
	cr_assert(eq(sz, json_array_size(tasks), 2), "%s", dump(r));
	cr_assert(eq(str,
		     (char *)json_string_value(json_object_get(json_array_get(tasks, 1), "state")),
		     "queued"),
		  "%s", dump(r));
	json_decref(r);
	/* The fourth connection is over max_connections: one busy line, then closed. */
	c2 = conn();
	c3 = conn();
	c4 = conn();
	r = NULL;
	cr_assert(eq(int, sbx_client_test_next(c4, T_REPLY, &r), 0), "no busy line");
	expect_error(r, "busy");
	cr_assert(eq(int, sbx_client_test_next(c4, T_REPLY, &r), -EPIPE));
	expect_hello_works(c3, "c3");
	sbx_client_test_free(c2);
	sbx_client_test_free(c3);
	sbx_client_test_free(c4);
	/* The running task ends (cancelled): the queued one starts and runs to its end. */
	tasks = call(c, json_pack("{s:s, s:s}", "id", "l2", "op", "list"));
	r = call(c, json_pack("{s:s, s:s, s:s}", "id", "x", "op", "cancel", "task",
			      json_string_value(json_object_get(
				  json_array_get(json_object_get(tasks, "tasks"), 0), "task"))));
	json_decref(tasks);
	expect_ok(r);
	json_decref(r);
	cr_assert(eq(int, sbx_client_test_wait(c, "a", T_TASK, &t), 0));
	cr_assert(eq(str, (char *)(t.reason ?: "(none)"), "cancelled"));
	sbx_client_test_task_done(&t);
	cr_assert(eq(int, sbx_client_test_wait(c, "b", T_TASK, &t), 0));
	expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "queued-ran\n"));
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c);
	stop();
}

Test(sbxd, cancel_a_queued_task)
{
	const struct sbx_fixture_opts o = {.limits = "{\"max_tasks\": 1, \"max_queued\": 4}"};
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	json_t *r = NULL;
	char arg[64], script[256], task[64];

	start(&o);
	c = conn();
	unique_sleep_arg(arg, sizeof(arg));
	(void)snprintf(script, sizeof(script), "sleep %s", arg);
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("a", script)), 0));
	wait_process(arg);
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("q", "echo never")), 0));
	cr_assert(eq(int, sbx_client_test_next_for(c, "q", T_REPLY, &r), 0));
	(void)snprintf(task, sizeof(task), "%s", json_string_value(json_object_get(r, "task")));
	json_decref(r);
	r = call(c, json_pack("{s:s, s:s, s:s}", "id", "x", "op", "cancel", "task", task));
	expect_ok(r);
	json_decref(r);
	cr_assert(eq(int, sbx_client_test_wait(c, "q", T_TASK, &t), 0));
	cr_assert(eq(str, (char *)(t.reason ?: "(none)"), "cancelled"), "%s", dump(t.exit));
	cr_assert(T(!t.started && t.out_len == 0), "a cancelled queued task never starts");
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c); /* disconnect kills the sleeper */
	cr_assert(T(sbx_fixture_wait_gone(arg, 5000)));
	stop();
}

/* ---- redaction ---- */

Test(sbxd, output_is_redacted)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	char value[40], *blob;

	start(NULL);
	c = conn();
	memcpy(value, "tok-", 4);
	random_hex(value + 4, 16);
	blob = seal(c, "test-token", value, "tenant:r");
	cr_assert(
	    eq(int,
	       sbx_client_test_run(c,
				   sealed_sh("r",
					     "echo \"a $TEST_TOKEN b $TEST_TOKEN\"; "
					     "printf %s \"$TEST_TOKEN\" >&2; echo ${#TEST_TOKEN}",
					     blob, "tenant:r"),
				   T_TASK, &t),
	       0));
	expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "a [REDACTED:TEST_TOKEN] b [REDACTED:TEST_TOKEN]\n36\n"));
	cr_assert(eq(str, t.err, "[REDACTED:TEST_TOKEN]"));
	sbx_client_test_task_done(&t);
	cr_assert(T(!sbx_test_contains(c->transcript, value)));
	free(blob);
	sbx_client_test_free(c);
	stop();
}

Test(sbxd, a_secret_straddling_two_writes_is_redacted)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	char value[48], *blob;
	/* Each value in two writes 200 ms apart (two reads of the pipe), split at k. */
	const char *script = "for k in 1 5 12 23; do "
			     "printf %s \"$TEST_TOKEN\" | head -c $k; sleep 0.2; "
			     "printf %s \"$TEST_TOKEN\" | tail -c +$((k + 1)); echo '|'; done; "
			     "printf %s \"$TEST_TOKEN\" | head -c 10 >&2; sleep 0.2; echo tail >&2";

	start(NULL);
	c = conn();
	memcpy(value, "tok-", 4);
	random_hex(value + 4, 10);
	blob = seal(c, "TEST_TOKEN", value, "tenant:s");
	cr_assert(eq(
	    int, sbx_client_test_run(c, sealed_sh("s", script, blob, "tenant:s"), T_TASK, &t), 0));
	expect_exited(&t, 0);
	cr_assert(eq(str, t.out,
		     "[REDACTED:TEST_TOKEN]|\n[REDACTED:TEST_TOKEN]|\n[REDACTED:TEST_TOKEN]|\n"
		     "[REDACTED:TEST_TOKEN]|\n"));
	/* A prefix that never completes is passed on, not swallowed. */
	cr_assert(T(strncmp(t.err, value, 10) == 0 && strcmp(t.err + 10, "tail\n") == 0),
		  "stderr '%s'", t.err);
	cr_assert(T(t.n_output >= 2), "%zu output events", t.n_output);
	sbx_client_test_task_done(&t);
	free(blob);
	sbx_client_test_free(c);
	stop();
}

/* ---- many tasks ---- */

#define N_CONNS	   20
#define N_PER_CONN 10

struct worker {
	int index;
	int err;
	int exits[N_PER_CONN];
	int wrong_output;
	int not_exited;
	int extra_lines;
	int errors;
	char first_problem[512];
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct sbx_client_test *c = NULL;
	char want[N_PER_CONN][64];
	size_t got_len[N_PER_CONN] = {0};
	char got[N_PER_CONN][64];
	int ended = 0;
	json_t *o = NULL;

	memset(got, 0, sizeof(got));
	w->err = sbx_client_test_connect(fx.sock, &c);
	if (w->err < 0)
		return NULL;
	c->keep_transcript = false;
	for (int i = 0; i < N_PER_CONN; i++) {
		char id[32], arg1[48];
		(void)snprintf(id, sizeof(id), "%d", i);
		(void)snprintf(arg1, sizeof(arg1), "conn-%d-task-%d", w->index, i);
		(void)snprintf(want[i], sizeof(want[i]), "%s\n", arg1);
		w->err =
		    sbx_client_test_sendf(c, "{s:s, s:s, s:s, s:[s, s]}", "id", id, "op", "run",
					  "policy", "default", "argv", "/bin/echo", arg1);
		if (w->err < 0)
			goto out;
	}
	while (ended < N_PER_CONN) {
		const char *id, *ev;
		int i;
		w->err = sbx_client_test_next(c, 90000, &o);
		if (w->err < 0)
			goto out;
		id = json_string_value(json_object_get(o, "id"));
		ev = json_string_value(json_object_get(o, "event"));
		i = id ? atoi(id) : -1;
		if (i < 0 || i >= N_PER_CONN || !ev) {
			w->errors++;
			if (!w->first_problem[0])
				(void)snprintf(w->first_problem, sizeof(w->first_problem), "%.500s",
					       dump(o));
			if (i >= 0 && i < N_PER_CONN && !ev) {
				ended++;
				w->exits[i]++;
			}
		} else if (strcmp(ev, "output") == 0) {
			unsigned char dec[64];
			size_t n = 0;
			const char *d = json_string_value(json_object_get(o, "data"));
			if (d &&
			    sodium_base642bin(dec, sizeof(dec), d, strlen(d), NULL, &n, NULL,
					      sodium_base64_VARIANT_ORIGINAL) == 0 &&
			    got_len[i] + n < sizeof(got[i])) {
				memcpy(got[i] + got_len[i], dec, n);
				got_len[i] += n;
			}
		} else if (strcmp(ev, "exit") == 0) {
			if (w->exits[i]++ == 0)
				ended++;
			if (strcmp(json_string_value(json_object_get(o, "reason")) ?: "", "exited"))
				w->not_exited++;
		}
		json_decref(o);
		o = NULL;
	}
	/* Nothing more may come: every task's exit was its last line. */
	while (sbx_client_test_next(c, 500, &o) == 0) {
		const char *id = json_string_value(json_object_get(o, "id"));
		int i = id ? atoi(id) : -1;
		w->extra_lines++;
		if (i >= 0 && i < N_PER_CONN && json_object_get(o, "event") &&
		    strcmp(json_string_value(json_object_get(o, "event")), "exit") == 0)
			w->exits[i]++;
		json_decref(o);
		o = NULL;
	}
	w->err = 0;
	for (int i = 0; i < N_PER_CONN; i++)
		if (strcmp(got[i], want[i]) != 0)
			w->wrong_output++;
out:
	json_decref(o);
	sbx_client_test_free(c);
	return NULL;
}

Test(sbxd, two_hundred_tasks_from_twenty_connections, .timeout = 180)
{
	pthread_t th[N_CONNS];
	struct worker w[N_CONNS];
	double t0;
	json_t *r;
	struct sbx_client_test *c;

	start(NULL);
	t0 = now_ms();
	for (int i = 0; i < N_CONNS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].index = i;
		cr_assert(eq(int, pthread_create(&th[i], NULL, worker_run, &w[i]), 0));
	}
	for (int i = 0; i < N_CONNS; i++)
		(void)pthread_join(th[i], NULL);
	cr_log_info("200 tasks from 20 connections in %.0f ms", now_ms() - t0);
	for (int i = 0; i < N_CONNS; i++) {
		cr_expect(eq(int, w[i].err, 0), "connection %d: %s", i, strerror(-w[i].err));
		cr_expect(eq(int, w[i].errors, 0), "connection %d: %d error replies, first %s", i,
			  w[i].errors, w[i].first_problem);
		cr_expect(eq(int, w[i].wrong_output, 0), "connection %d", i);
		cr_expect(eq(int, w[i].not_exited, 0), "connection %d", i);
		cr_expect(eq(int, w[i].extra_lines, 0), "connection %d", i);
		for (int j = 0; j < N_PER_CONN; j++)
			cr_expect(eq(int, w[i].exits[j], 1), "connection %d task %d: %d exits", i,
				  j, w[i].exits[j]);
	}
	c = conn();
	r = call(c, json_pack("{s:s, s:s}", "id", "s", "op", "stats"));
	cr_expect(eq(int, (int)json_integer_value(json_object_get(r, "tasks_run")), 200), "%s",
		  dump(r));
	cr_expect(eq(int, (int)json_integer_value(json_object_get(r, "running")), 0), "%s",
		  dump(r));
	json_decref(r);
	sbx_client_test_free(c);
	stop();
}

/* ---- backpressure ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median latency of n sequential /bin/true runs on c. */
static double true_p50(struct sbx_client_test *c, int n)
{
	double lat[64];

	cr_assert(T(n <= 64));
	for (int i = 0; i < n; i++) {
		struct sbx_client_test_task t;
		json_t *req = json_pack("{s:s, s:s, s:s, s:[s]}", "id", "t", "op", "run", "policy",
					"default", "argv", "/bin/true");
		double t0 = now_ms();
		cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
		lat[i] = now_ms() - t0;
		expect_exited(&t, 0);
		sbx_client_test_task_done(&t);
	}
	qsort(lat, (size_t)n, sizeof(double), cmp_double);
	return lat[n / 2];
}

Test(sbxd, a_client_that_never_reads_does_not_slow_another, .timeout = 120)
{
	struct sbx_client_test *quiet, *hog;
	double base, during;
	long rss0, rss1, rss2;
	json_t *r = NULL;

	start(NULL);
	quiet = conn();
	quiet->keep_transcript = false;
	(void)true_p50(quiet, 5); /* warm up */
	base = true_p50(quiet, 21);
	rss0 = sbx_fixture_rss_kb(&fx);
	/* Three tasks that write as fast as they can, to a client that never reads. */
	hog = conn();
	for (int i = 0; i < 3; i++) {
		char id[16];
		(void)snprintf(id, sizeof(id), "h%d", i);
		cr_assert(
		    eq(int, sbx_client_test_send_take(hog, sbx_client_test_sh(id, "cat /dev/zero")),
		       0));
	}
	sleep_ms(1500); /* the daemon's write queue for hog fills and throttles */
	rss1 = sbx_fixture_rss_kb(&fx);
	during = true_p50(quiet, 21);
	rss2 = sbx_fixture_rss_kb(&fx);
	cr_log_info("p50 /bin/true: %.1f ms alone, %.1f ms while another client does not read; "
		    "sbxd RSS %ld kB before, %ld / %ld kB during",
		    base, during, rss0, rss1, rss2);
	(void)fprintf(stderr,
		      "backpressure: p50 %.1f ms alone, %.1f ms beside a non-reader; RSS %ld -> "
		      "%ld/%ld kB\n",
		      base, during, rss0, rss1, rss2);
	cr_expect(T(during <= base * 2 + 15), "p50 %.1f ms beside a non-reader vs %.1f ms alone",
		  during, base);
	/* Bounded: one write_buffer (1 MiB) plus slack, not the gigabytes written. */
	cr_expect(T(rss2 - rss0 < 32 * 1024), "sbxd grew by %ld kB", rss2 - rss0);
	/* The hog reads a little: its tasks are alive, paused, and resume. */
	cr_assert(eq(int, sbx_client_test_next(hog, T_REPLY, &r), 0));
	json_decref(r);
	hog = sbx_client_test_free(hog); /* its tasks die with the connection */
	r = call(quiet, json_pack("{s:s, s:s}", "id", "l", "op", "list"));
	for (int i = 0; i < 50 && json_array_size(json_object_get(r, "tasks")) > 0; i++) {
		json_decref(r);
		sleep_ms(100);
		r = call(quiet, json_pack("{s:s, s:s}", "id", "l", "op", "list"));
	}
	/* The hog's tasks were killed: they must end (and free their slots) although their
	 * pipes were paused when the connection went away. */
	cr_expect(eq(sz, json_array_size(json_object_get(r, "tasks")), 0),
		  "tasks of a closed, throttled connection never end: %s", dump(r));
	json_decref(r);
	sbx_client_test_free(quiet);
	stop();
}

/* ---- the whole tree dies ---- */

Test(sbxd, disconnect_kills_the_tree)
{
	struct sbx_client_test *c;
	char arg[64], script[256];

	start(NULL);
	c = conn();
	unique_sleep_arg(arg, sizeof(arg));
	/* A grandchild in its own session, detached from the payload. */
	(void)snprintf(script, sizeof(script),
		       "setsid sleep %s </dev/null >/dev/null 2>&1 & sleep %s & wait", arg, arg);
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("d", script)), 0));
	wait_process(arg);
	c = sbx_client_test_free(c);
	cr_assert(T(sbx_fixture_wait_gone(arg, 5000)), "a sleeper outlived the disconnect");
	stop();
}

Test(sbxd, timeout_kills_the_tree)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	char arg[64], script[256];
	json_t *req;
	double t0;

	start(NULL);
	c = conn();
	unique_sleep_arg(arg, sizeof(arg));
	(void)snprintf(script, sizeof(script),
		       "setsid sleep %s </dev/null >/dev/null 2>&1 & sleep %s & wait", arg, arg);
	req = sbx_client_test_sh("t", script);
	(void)json_object_set_new(req, "timeout_ms", json_integer(700));
	t0 = now_ms();
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	cr_assert(T(t.exit != NULL), "%s", dump(t.error));
	cr_assert(eq(str, (char *)t.reason, "timeout"), "%s", dump(t.exit));
	cr_assert(T(now_ms() - t0 < 5000), "took %.0f ms", now_ms() - t0);
	cr_assert(T(json_integer_value(json_object_get(t.exit, "duration_ms")) >= 690), "%s",
		  dump(t.exit));
	cr_assert(T(sbx_fixture_wait_gone(arg, 3000)), "a sleeper outlived the timeout");
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c);
	stop();
}

Test(sbxd, cancel_kills_the_tree)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	char arg[64], script[256];
	json_t *r = NULL;
	char task[64];

	start(NULL);
	c = conn();
	unique_sleep_arg(arg, sizeof(arg));
	(void)snprintf(script, sizeof(script),
		       "setsid sleep %s </dev/null >/dev/null 2>&1 & sleep %s & wait", arg, arg);
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("k", script)), 0));
	cr_assert(eq(int, sbx_client_test_next_for(c, "k", T_REPLY, &r), 0));
	(void)snprintf(task, sizeof(task), "%s", json_string_value(json_object_get(r, "task")));
	json_decref(r);
	wait_process(arg);
	r = call(c, json_pack("{s:s, s:s, s:s}", "id", "x", "op", "cancel", "task", task));
	expect_ok(r);
	json_decref(r);
	cr_assert(eq(int, sbx_client_test_wait(c, "k", T_TASK, &t), 0));
	cr_assert(eq(str, (char *)(t.reason ?: "(none)"), "cancelled"), "%s", dump(t.exit));
	cr_assert(T(sbx_fixture_wait_gone(arg, 3000)), "a sleeper outlived the cancel");
	sbx_client_test_task_done(&t);
	/* Cancelling it again: it is gone. */
	expect_error(
	    call(c, json_pack("{s:s, s:s, s:s}", "id", "x2", "op", "cancel", "task", task)),
	    "bad_request");
	sbx_client_test_free(c);
	stop();
}

/* ---- lifecycle ---- */

Test(sbxd, sighup_with_a_broken_policy_keeps_the_old_set, .timeout = 90)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	char path[8192], def[8192], *text;
	json_t *req;

	start(NULL);
	c = conn();
	(void)snprintf(def, sizeof(def), "%s/default.json", fx.policies);
	(void)snprintf(path, sizeof(path), "%s/extra.json", fx.policies);
	{
		struct sbx_test_run run;
		cr_assert(eq(int, sbx_test_runv(&run, 5000, "/bin/cat", def, NULL), 0));
		cr_assert(eq(int, run.code, 0));
		text = strdup(run.out);
		sbx_test_run_done(&run);
	}
	cr_assert(eq(int, sbx_test_write_file(path, text), 0));
	reload("reloaded");
	req = json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "id", "e1", "op", "run", "policy", "extra",
			"argv", "/bin/sh", "-c", "echo extra");
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	expect_exited(&t, 0);
	sbx_client_test_task_done(&t);

	/* A task running across the reload is untouched. */
	req = json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "id", "long", "op", "run", "policy",
			"extra", "argv", "/bin/sh", "-c", "sleep 1; echo survived");
	cr_assert(eq(int, sbx_client_test_send_take(c, req), 0));
	cr_assert(eq(int, sbx_test_write_file(path, "{\"binds\": [ this is not json"), 0));
	reload("policies are broken");
	req = json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "id", "e2", "op", "run", "policy", "extra",
			"argv", "/bin/sh", "-c", "echo still");
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "still\n"));
	sbx_client_test_task_done(&t);
	cr_assert(eq(int, sbx_client_test_wait(c, "long", T_TASK, &t), 0));
	expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "survived\n"));
	sbx_client_test_task_done(&t);
	/* A policy with an unknown key is broken too (nothing half-loaded). */
	cr_assert(eq(int, unlink(path), 0));
	(void)snprintf(path, sizeof(path), "%s/typo.json", fx.policies);
	cr_assert(eq(int, sbx_test_write_file(path, "{\"timeuot\": {\"default\": \"1s\"}}"), 0));
	reload("policies are broken");
	req = json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "id", "e3", "op", "run", "policy", "extra",
			"argv", "/bin/sh", "-c", "echo kept");
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	expect_exited(&t, 0);
	sbx_client_test_task_done(&t);
	expect_error(call(c, json_pack("{s:s, s:s, s:s, s:[s]}", "id", "e4", "op", "run", "policy",
				       "typo", "argv", "/bin/true")),
		     "policy_unknown");
	free(text);
	sbx_client_test_free(c);
	stop();
}

Test(sbxd, sigterm_drains, .timeout = 60)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	struct sbx_client_test *late = NULL;
	json_t *r = NULL;

	start(NULL);
	c = conn();
	cr_assert(eq(
	    int, sbx_client_test_send_take(c, sbx_client_test_sh("d", "sleep 1.5; echo done")), 0));
	cr_assert(eq(int, sbx_client_test_next_for(c, "d", T_REPLY, &r), 0)); /* accepted */
	json_decref(r);
	cr_assert(eq(int, sbx_client_test_next_for(c, "d", T_REPLY, &r), 0)); /* started */
	json_decref(r);
	cr_assert(eq(int, sbx_fixture_signal(&fx, SIGTERM), 0));
	cr_assert(T(sbx_fixture_wait_log(&fx, "stopping", 3000)));
	/* New connections are refused, new tasks on old connections too. */
	cr_assert(T(sbx_client_test_connect(fx.sock, &late) < 0), "connected while draining");
	expect_error(call(c, sbx_client_test_sh("new", "true")), "busy");
	/* The running task finishes normally. */
	cr_assert(eq(int, sbx_client_test_wait(c, "d", T_TASK, &t), 0));
	expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "done\n"));
	sbx_client_test_task_done(&t);
	cr_assert(eq(int, sbx_fixture_wait_exit(&fx, 5000), 0), "sbxd did not exit 0 cleanly");
	sbx_client_test_free(c);
}

Test(sbxd, sigterm_kills_what_outlives_the_grace, .timeout = 60)
{
	const struct sbx_fixture_opts o = {.limits = "{\"shutdown_grace\": \"1s\"}"};
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	char arg[64], script[256];
	double t0;

	start(&o);
	c = conn();
	unique_sleep_arg(arg, sizeof(arg));
	(void)snprintf(script, sizeof(script), "sleep %s & sleep %s; wait", arg, arg);
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("g", script)), 0));
	wait_process(arg);
	t0 = now_ms();
	cr_assert(eq(int, sbx_fixture_signal(&fx, SIGTERM), 0));
	cr_assert(eq(int, sbx_client_test_wait(c, "g", T_TASK, &t), 0));
	cr_assert(eq(str, (char *)(t.reason ?: "(none)"), "shutdown"), "%s", dump(t.exit));
	cr_assert(T(now_ms() - t0 >= 900 && now_ms() - t0 < 5000), "after %.0f ms", now_ms() - t0);
	sbx_client_test_task_done(&t);
	cr_assert(T(sbx_fixture_wait_gone(arg, 3000)));
	cr_assert(eq(int, sbx_fixture_wait_exit(&fx, 5000), 0));
	sbx_client_test_free(c);
}

Test(sbxd, idle_connections_are_closed)
{
	const struct sbx_fixture_opts o = {.limits = "{\"idle_timeout\": \"400ms\"}"};
	struct sbx_client_test *idle, *busy;
	struct sbx_client_test_task t;
	json_t *r = NULL;

	start(&o);
	idle = conn();
	busy = conn();
	/* A connection with a task running is not idle. */
	run_sh(busy, "b", "sleep 1; echo ok", &t);
	expect_exited(&t, 0);
	sbx_client_test_task_done(&t);
	cr_assert(eq(int, sbx_client_test_next(idle, 2000, &r), -EPIPE), "idle connection open");
	sbx_client_test_free(idle);
	sbx_client_test_free(busy);
	stop();
}

/* ---- the canary ---- */

/* Where needle occurs in pid's readable memory: count of hits, and the first address. */
static size_t scan_memory(pid_t pid, const char *needle, size_t nlen, unsigned long *first,
			  size_t *scanned)
{
	char path[64], line[512];
	FILE *maps;
	int mem;
	size_t hits = 0;
	const size_t chunk = 1 << 20;
	char *buf = malloc(chunk + 256);

	cr_assert(T(buf != NULL));
	(void)snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "re");
	cr_assert(T(maps != NULL), "%s: %s", path, strerror(errno));
	(void)snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert(T(mem >= 0), "%s: %s", path, strerror(errno));
	*scanned = 0;
	while (fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r')
			continue;
		/* Mappings over 1 GiB are sanitizer shadow and allocator reservations (an ASan
		 * sbxd maps terabytes of them); the daemon's own heap, stacks and locked pages
		 * are far smaller. */
		if (hi - lo > (1UL << 30))
			continue;
		for (unsigned long a = lo; a < hi; a += chunk) {
			size_t want = hi - a < chunk + nlen ? hi - a : chunk + nlen;
			ssize_t n = pread(mem, buf, want, (off_t)a);
			if (n <= 0)
				break; /* unreadable (e.g. [vvar], guard pages): skip the range */
			*scanned += (size_t)n;
			for (const char *p = buf;
			     (p = memmem(p, (size_t)n - (size_t)(p - buf), needle, nlen)); p++) {
				if ((size_t)(p - buf) >= chunk)
					break; /* in the overlap: found in the next chunk */
				if (hits++ == 0)
					*first = a + (unsigned long)(p - buf);
			}
		}
	}
	(void)fclose(maps);
	(void)close(mem);
	free(buf);
	return hits;
}

Test(sbxd, canary_is_nowhere_after_its_tasks_end, .timeout = 120)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	char canary[80], *blob, *log;
	const char *scripts[] = {
	    "echo \"canary: $CANARY_TOKEN\"",
	    "printf %s \"$CANARY_TOKEN\" | head -c 20; sleep 0.2; "
	    "printf %s \"$CANARY_TOKEN\" | tail -c +21; echo",
	    "printf '%s\\n' \"$CANARY_TOKEN\" >&2; printf %s \"$CANARY_TOKEN\" | od -c | head -1",
	    "test -n \"$CANARY_TOKEN\" && echo has-it",
	    "yes \"$CANARY_TOKEN\" | head -n 2000",
	};
	size_t log_len, scanned = 0, hits;
	unsigned long first = 0;

	start(NULL);
	memcpy(canary, "sbxcanary", 9);
	random_hex(canary + 9, 24);
	c = conn();
	blob = seal(c, "CANARY_TOKEN", canary, "tenant:canary");
	/* Several tasks, some at once. */
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
			char id[16];
			(void)snprintf(id, sizeof(id), "c%d-%zu", round, i);
			cr_assert(eq(int,
				     sbx_client_test_send(
					 c, sealed_sh(id, scripts[i], blob, "tenant:canary")),
				     0));
		}
		for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
			char id[16];
			(void)snprintf(id, sizeof(id), "c%d-%zu", round, i);
			cr_assert(eq(int, sbx_client_test_wait(c, id, T_TASK, &t), 0));
			expect_exited(&t, 0);
			cr_assert(T(!memmem(t.out, t.out_len, canary, strlen(canary))),
				  "canary in stdout of %s", id);
			cr_assert(T(!memmem(t.err, t.err_len, canary, strlen(canary))),
				  "canary in stderr of %s", id);
			if (i == 0)
				cr_assert(eq(str, t.out, "canary: [REDACTED:CANARY_TOKEN]\n"));
			if (i == 3)
				cr_assert(eq(str, t.out, "has-it\n"));
			sbx_client_test_task_done(&t);
		}
	}
	/* Every task has ended (and list says so). */
	{
		json_t *r = call(c, json_pack("{s:s, s:s}", "id", "l", "op", "list"));
		cr_assert(eq(sz, json_array_size(json_object_get(r, "tasks")), 0), "%s", dump(r));
		json_decref(r);
	}
	sleep_ms(200);
	hits = scan_memory(fx.pid, canary, strlen(canary), &first, &scanned);
	(void)fprintf(stderr, "canary: scanned %zu bytes of sbxd %d's memory, %zu hit(s)\n",
		      scanned, (int)fx.pid, hits);
	cr_assert(T(scanned > 1024 * 1024), "only %zu bytes of memory were readable", scanned);
	cr_expect(eq(sz, hits, 0), "the canary is in sbxd's memory %zu time(s), first at 0x%lx",
		  hits, first);
	cr_expect(T(!memmem(c->transcript, c->transcript_len, canary, strlen(canary))),
		  "the canary is in a reply");
	log = sbx_fixture_read_log(&fx, &log_len);
	cr_assert(T(log != NULL));
	cr_expect(T(!memmem(log, log_len, canary, strlen(canary))), "the canary is in sbxd's log");
	free(log);
	/* The audit log: every task recorded, the secret's name at most, never its value. */
	{
		char path[8192];
		struct sbx_test_run run;
		(void)snprintf(path, sizeof(path), "%s/audit.jsonl", fx.dir);
		cr_assert(eq(int, sbx_test_runv(&run, 5000, "/bin/cat", path, NULL), 0));
		cr_assert(eq(int, run.code, 0), "no audit log at %s", path);
		cr_expect(T(!memmem(run.out, run.out_len, canary, strlen(canary))),
			  "the canary is in the audit log");
		cr_expect(T(count_of(run.out, "\"event\":\"task.started\"") >= 10),
			  "10 tasks, %zu task.started records",
			  count_of(run.out, "\"event\":\"task.started\""));
		cr_expect(T(count_of(run.out, "\"event\":\"task.exited\"") >= 10),
			  "10 tasks, %zu task.exited records",
			  count_of(run.out, "\"event\":\"task.exited\""));
		sbx_test_run_done(&run);
	}
	free(blob);
	sbx_client_test_free(c);
	stop();
	/* And nothing of it in the log written while stopping. */
	log = sbx_fixture_read_log(&fx, &log_len);
	cr_assert(T(!memmem(log, log_len, canary, strlen(canary))), "the canary is in sbxd's log");
	free(log);
}
