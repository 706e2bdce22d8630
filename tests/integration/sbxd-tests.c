/* SPDX-License-Identifier: MIT */
/*
 * The helpers of the sbxd suite (test-sbxd*.c): the daemon every test starts (sbxt_fx), the
 * suite's .init and .fini, and requests with their expected replies. Unlike sbxd-fixture.c
 * these assert (Criterion): they are for test bodies.
 */
#include "tests/integration/sbxd-tests.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>
#include <sodium.h>

#include "tests/integration/harness.h"
#include "tests/integration/sbxd-fixture.h"

struct sbx_fixture sbxt_fx;

void sbxt_setup(void)
{
	sbx_test_require_root();
	sbx_test_require_file(sbx_test_build_path("sbxd"));
	sbx_test_require_file(sbx_test_build_path("sbxctl"));
}

void sbxt_teardown(void)
{
	sbx_fixture_cleanup(&sbxt_fx);
}

double sbxt_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void sbxt_sleep_ms(int ms)
{
	const struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	(void)nanosleep(&ts, NULL);
}

void sbxt_start(const struct sbx_fixture_opts *o)
{
	cr_assert(eq(int, sbx_fixture_start(&sbxt_fx, o), 0), "sbxd did not start");
}

/* SIGTERM, exit 0, nothing left behind. */
void sbxt_stop(void)
{
	cr_assert(eq(int, sbx_fixture_stop(&sbxt_fx, 15000), 0), "sbxd did not stop cleanly");
}

struct sbx_client_test *sbxt_conn(void)
{
	struct sbx_client_test *c = NULL;

	cr_assert(eq(int, sbx_client_test_connect(sbxt_fx.sock, &c), 0), "connecting to %s",
		  sbxt_fx.sock);
	return c;
}

char *sbxt_dump(json_t *o)
{
	static char buf[4096];
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	(void)snprintf(buf, sizeof(buf), "%s", s ? s : "(none)");
	free(s);
	return buf;
}

/* Sends req (stolen) and returns its first reply (owned by the caller). */
json_t *sbxt_call(struct sbx_client_test *c, json_t *req)
{
	json_t *reply = NULL;

	cr_assert(T(req != NULL), "json_pack failed");
	cr_assert(eq(int, sbx_client_test_call(c, req, T_REPLY, &reply), 0), "no reply");
	return reply;
}

const char *sbxt_error_code(json_t *reply)
{
	return json_string_value(json_object_get(json_object_get(reply, "error"), "code"));
}

/* Asserts reply is {"id":..,"ok":false,"error":{"code":code,"message":"..."}} and frees it. */
void sbxt_expect_error(json_t *reply, const char *code)
{
	json_t *e = json_object_get(reply, "error");

	cr_assert(T(json_is_false(json_object_get(reply, "ok"))), "expected %s, got %s", code,
		  sbxt_dump(reply));
	cr_assert(T(json_is_string(json_object_get(e, "message"))), "no message: %s",
		  sbxt_dump(reply));
	cr_assert(eq(str, (char *)(sbxt_error_code(reply) ?: "(none)"), (char *)code), "reply %s",
		  sbxt_dump(reply));
	json_decref(reply);
}

void sbxt_expect_ok(json_t *reply)
{
	cr_assert(T(json_is_true(json_object_get(reply, "ok"))), "expected ok, got %s",
		  sbxt_dump(reply));
}

void sbxt_expect_exited(const struct sbx_client_test_task *t, int code)
{
	cr_assert(T(t->exit != NULL), "no exit event (error %s, stderr '%s')", sbxt_dump(t->error),
		  t->err);
	cr_assert(eq(str, (char *)(t->reason ?: "(null)"), "exited"), "exit %s",
		  sbxt_dump(t->exit));
	cr_assert(eq(int, t->code, code), "exit %s, stderr '%s'", sbxt_dump(t->exit), t->err);
}

void sbxt_run_sh(struct sbx_client_test *c, const char *id, const char *script,
		 struct sbx_client_test_task *t)
{
	cr_assert(eq(int, sbx_client_test_run(c, sbx_client_test_sh(id, script), T_TASK, t), 0),
		  "run '%s' did not end", script);
}

/* Seals {name: value} under context; returns the blob (malloc'd). */
char *sbxt_seal(struct sbx_client_test *c, const char *name, const char *value, const char *context)
{
	json_t *r = sbxt_call(c, json_pack("{s:s, s:s, s:s, s:{s:s}}", "id", "seal", "op", "seal",
					   "context", context, "secrets", name, value));
	const char *blob = json_string_value(json_object_get(r, "sealed"));
	char *copy;

	sbxt_expect_ok(r);
	cr_assert(T(blob && strncmp(blob, "sbx1:", 5) == 0), "seal reply %s", sbxt_dump(r));
	copy = strdup(blob);
	json_decref(r);
	return copy;
}

static size_t count_in_log(const char *needle)
{
	char *log = sbx_fixture_read_log(&sbxt_fx, NULL);
	size_t n = 0;

	for (const char *p = log; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(log);
	return n;
}

/* SIGHUP, then wait until the log has one more `needle` line than before. */
void sbxt_reload(const char *needle)
{
	size_t before = count_in_log(needle);
	double deadline = sbxt_now_ms() + 5000.0 * sbx_fixture_slow();

	cr_assert(eq(int, sbx_fixture_signal(&sbxt_fx, SIGHUP), 0));
	while (count_in_log(needle) <= before) {
		if (sbxt_now_ms() > deadline) {
			char *log = sbx_fixture_read_log(&sbxt_fx, NULL);
			cr_assert(T(false), "no '%s' in the log after SIGHUP; log:\n%s", needle,
				  log);
		}
		sbxt_sleep_ms(20);
	}
}

/* A unique argument for a sleeper, found later in /proc: "3600.<12 hex digits in digits>". */
void sbxt_unique_sleep_arg(char *buf, size_t len)
{
	(void)snprintf(buf, len, "3%03u.%u%06u", (unsigned)(randombytes_random() % 1000),
		       (unsigned)getpid(), (unsigned)(randombytes_random() % 1000000));
}

/* Waits until a process with arg exists (the sandbox started it). */
void sbxt_wait_process(const char *arg)
{
	double deadline = sbxt_now_ms() + 10000.0 * sbx_fixture_slow();

	while (sbx_fixture_find_process(arg) == 0) {
		cr_assert(T(sbxt_now_ms() < deadline), "the payload's sleeper '%s' never appeared",
			  arg);
		sbxt_sleep_ms(20);
	}
}

void sbxt_expect_hello_works(struct sbx_client_test *c, const char *id)
{
	json_t *r = sbxt_call(c, json_pack("{s:s, s:s}", "id", id, "op", "hello"));

	sbxt_expect_ok(r);
	json_decref(r);
}
