/* SPDX-License-Identifier: MIT */
/*
 * sbxd over its real socket, as root: bad frames. Malformed requests get bad_request and the
 * connection lives on, an unknown op, a line over max_frame is too_large and the next line
 * works, half a line then a hangup. Suite `sbxd` (helpers in sbxd-tests.c); each test starts
 * and stops its own daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>

#include "tests/integration/sbxd-fixture.h"
#include "tests/integration/sbxd-tests.h"

TestSuite(sbxd, .init = sbxt_setup, .fini = sbxt_teardown, .timeout = 60);

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
			  "%s", sbxt_dump(r));
	else
		cr_assert(T(json_is_null(json_object_get(r, "id"))), "%s", sbxt_dump(r));
	sbxt_expect_error(r, code);
}

#define RAW(c, s, id, code) raw_expect(c, s, sizeof(s) - 1, id, code)

Test(sbxd, bad_requests_get_bad_request_and_the_connection_lives_on)
{
	struct sbx_client_test *c;
	char longid[300];

	sbxt_start(NULL);
	c = sbxt_conn();
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
	sbxt_expect_hello_works(c, "after");
	sbx_client_test_free(c);
	sbxt_stop();
}

Test(sbxd, unknown_op)
{
	struct sbx_client_test *c;

	sbxt_start(NULL);
	c = sbxt_conn();
	RAW(c, "{\"id\":\"q\",\"op\":\"format_disk\"}\n", "q", "unknown_op");
	RAW(c, "{\"id\":\"q2\",\"op\":\"HELLO\"}\n", "q2", "unknown_op");
	sbxt_expect_hello_works(c, "after");
	sbx_client_test_free(c);
	sbxt_stop();
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

	sbxt_start(NULL);
	c = sbxt_conn();
	/* Exactly max_frame bytes is allowed. */
	line = padded_hello(max_frame);
	r = sbxt_call(c, json_loads("{\"id\":\"small\",\"op\":\"hello\"}", 0, NULL));
	json_decref(r);
	cr_assert(eq(int, sbx_client_test_send_raw(c, line, max_frame + 1), 0));
	cr_assert(eq(int, sbx_client_test_next(c, T_REPLY, &r), 0));
	cr_assert(eq(str, (char *)(json_string_value(json_object_get(r, "id")) ?: "(null)"), "big"),
		  "%s", sbxt_dump(r));
	sbxt_expect_ok(r);
	json_decref(r);
	free(line);
	/* One byte more is too_large, answered once, and the rest of the line is skipped. */
	line = padded_hello(max_frame + 1);
	cr_assert(eq(int, sbx_client_test_send_raw(c, line, max_frame + 2), 0));
	free(line);
	line = padded_hello(3 * max_frame);
	cr_assert(eq(int, sbx_client_test_send_raw(c, line, 3 * max_frame + 1), 0));
	free(line);
	sbxt_expect_error(({
				  cr_assert(eq(int, sbx_client_test_next(c, T_REPLY, &r), 0));
				  r;
			  }),
			  "too_large");
	sbxt_expect_error(({
				  cr_assert(eq(int, sbx_client_test_next(c, T_REPLY, &r), 0));
				  r;
			  }),
			  "too_large");
	sbxt_expect_hello_works(c, "after");
	cr_assert(eq(int, sbx_client_test_next(c, 300, &r), -ETIMEDOUT), "extra line %s",
		  sbxt_dump(r));
	sbx_client_test_free(c);
	sbxt_stop();
}

Test(sbxd, half_line_then_hangup)
{
	struct sbx_client_test *c;
	char arg[64], script[256];
	json_t *r = NULL;

	sbxt_start(NULL);
	c = sbxt_conn();
	cr_assert(eq(int, sbx_client_test_send_raw(c, "{\"id\":\"h\",\"op\":\"hel", 19), 0));
	c = sbx_client_test_free(c);
	/* The same with a task running on the connection: the task dies with it. */
	c = sbxt_conn();
	sbxt_unique_sleep_arg(arg, sizeof(arg));
	(void)snprintf(script, sizeof(script), "sleep %s", arg);
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("t", script)), 0));
	sbxt_wait_process(arg);
	cr_assert(
	    eq(int, sbx_client_test_send_raw(c, "{\"id\":\"x\",\"op\":\"run\",\"pol", 26), 0));
	cr_assert(eq(int, shutdown(c->fd, SHUT_WR), 0));
	/* EOF after a half line: the daemon drops the half line and closes. */
	while (sbx_client_test_next(c, T_REPLY, &r) == 0) {
		cr_assert(T(json_object_get(r, "event") != NULL), "a reply to a half line: %s",
			  sbxt_dump(r));
		json_decref(r);
	}
	cr_assert(T(sbx_fixture_wait_gone(arg, 5000)), "the task outlived its connection");
	c = sbx_client_test_free(c);
	c = sbxt_conn();
	sbxt_expect_hello_works(c, "alive");
	sbx_client_test_free(c);
	sbxt_stop();
}
