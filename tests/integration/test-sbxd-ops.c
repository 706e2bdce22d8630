/* SPDX-License-Identifier: MIT */
/*
 * sbxd over its real socket, as root: tasks in numbers. list, stats and cancel, busy beyond
 * max_tasks and max_queued, cancelling a queued task, 200 tasks from 20 connections, a client
 * that never reads not slowing another, and disconnect, timeout and cancel killing the whole
 * tree. Suite `sbxd` (helpers in sbxd-tests.c); each test starts and stops its own daemon.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>
#include <sodium.h>

#include "tests/integration/sbxd-fixture.h"
#include "tests/integration/sbxd-tests.h"

TestSuite(sbxd, .init = sbxt_setup, .fini = sbxt_teardown, .timeout = 60);

/* ---- list, stats and cancel ---- */

Test(sbxd, list_stats_and_cancel)
{
	struct sbx_client_test *c, *other;
	struct sbx_client_test_task t;
	json_t *r, *list, *tasks, *first;
	char arg[64], script[256];

	sbxt_start(NULL);
	c = sbxt_conn();
	other = sbxt_conn();
	r = sbxt_call(c, json_pack("{s:s, s:s}", "id", "l0", "op", "list"));
	sbxt_expect_ok(r);
	cr_assert(eq(sz, json_array_size(json_object_get(r, "tasks")), 0), "%s", sbxt_dump(r));
	json_decref(r);

	sbxt_unique_sleep_arg(arg, sizeof(arg));
	(void)snprintf(script, sizeof(script), "sleep %s & sleep %s; wait", arg, arg);
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("long", script)), 0));
	sbxt_wait_process(arg);

	list = sbxt_call(other, json_pack("{s:s, s:s}", "id", "l1", "op", "list"));
	sbxt_expect_ok(list);
	tasks = json_object_get(list, "tasks");
	cr_assert(eq(sz, json_array_size(tasks), 1), "root sees every task: %s", sbxt_dump(list));
	first = json_array_get(tasks, 0);
	cr_assert(eq(str, (char *)json_string_value(json_object_get(first, "state")), "running"));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(first, "policy")), "default"));

	r = sbxt_call(other, json_pack("{s:s, s:s}", "id", "s1", "op", "stats"));
	sbxt_expect_ok(r);
	cr_assert(eq(int, (int)json_integer_value(json_object_get(r, "running")), 1), "%s",
		  sbxt_dump(r));
	cr_assert(T(json_integer_value(json_object_get(r, "tasks_run")) >= 1), "%s", sbxt_dump(r));
	cr_assert(T(json_is_object(json_object_get(r, "errors"))), "%s", sbxt_dump(r));
	json_decref(r);

	/* An unknown task is refused; the real one is cancelled and its tree killed. */
	sbxt_expect_error(sbxt_call(other, json_pack("{s:s, s:s, s:s}", "id", "cx", "op", "cancel",
						     "task", "sbxd-0-0")),
			  "bad_request");
	r = sbxt_call(other, json_pack("{s:s, s:s, s:s}", "id", "c1", "op", "cancel", "task",
				       json_string_value(json_object_get(first, "task"))));
	sbxt_expect_ok(r);
	json_decref(r);
	json_decref(list);
	cr_assert(eq(int, sbx_client_test_wait(c, "long", T_TASK, &t), 0));
	cr_assert(eq(str, (char *)(t.reason ?: "(none)"), "cancelled"), "%s", sbxt_dump(t.exit));
	cr_assert(T(sbx_fixture_wait_gone(arg, 3000)), "a sleeper survived the cancel");
	sbx_client_test_task_done(&t);

	r = sbxt_call(c, json_pack("{s:s, s:s}", "id", "s2", "op", "stats"));
	sbxt_expect_ok(r);
	cr_assert(eq(int, (int)json_integer_value(json_object_get(r, "running")), 0), "%s",
		  sbxt_dump(r));
	cr_assert(eq(int,
		     (int)json_integer_value(
			 json_object_get(json_object_get(r, "errors"), "bad_request")),
		     1),
		  "%s", sbxt_dump(r));
	json_decref(r);
	sbx_client_test_free(c);
	sbx_client_test_free(other);
	sbxt_stop();
}

/* ---- max_tasks and the queue ---- */

Test(sbxd, busy_beyond_max_tasks_and_max_queued, .timeout = 90)
{
	const struct sbx_fixture_opts o = {
	    .limits = "{\"max_tasks\": 1, \"max_queued\": 1, \"max_connections\": 3}",
	};
	struct sbx_client_test *c, *c2, *c3, *c4;
	struct sbx_client_test_task t;
	json_t *r, *tasks;
	char arg[64], script[256];

	sbxt_start(&o);
	c = sbxt_conn();
	sbxt_unique_sleep_arg(arg, sizeof(arg));
	(void)snprintf(script, sizeof(script), "sleep %s", arg);
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("a", script)), 0));
	sbxt_wait_process(arg);
	cr_assert(
	    eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("b", "echo queued-ran")), 0));
	r = NULL;
	cr_assert(eq(int, sbx_client_test_next_for(c, "b", T_REPLY, &r), 0));
	cr_assert(eq(str, (char *)(json_string_value(json_object_get(r, "event")) ?: "(none)"),
		     "accepted"),
		  "%s", sbxt_dump(r));
	json_decref(r);
	sbxt_expect_error(sbxt_call(c, sbx_client_test_sh("c", "true")), "busy");
	r = sbxt_call(c, json_pack("{s:s, s:s}", "id", "l", "op", "list"));
	tasks = json_object_get(r, "tasks");
	cr_assert(eq(sz, json_array_size(tasks), 2), "%s", sbxt_dump(r));
	cr_assert(eq(str,
		     (char *)json_string_value(json_object_get(json_array_get(tasks, 1), "state")),
		     "queued"),
		  "%s", sbxt_dump(r));
	json_decref(r);
	/* The fourth connection is over max_connections: one busy line, then closed. */
	c2 = sbxt_conn();
	c3 = sbxt_conn();
	c4 = sbxt_conn();
	r = NULL;
	cr_assert(eq(int, sbx_client_test_next(c4, T_REPLY, &r), 0), "no busy line");
	sbxt_expect_error(r, "busy");
	cr_assert(eq(int, sbx_client_test_next(c4, T_REPLY, &r), -EPIPE));
	sbxt_expect_hello_works(c3, "c3");
	sbx_client_test_free(c2);
	sbx_client_test_free(c3);
	sbx_client_test_free(c4);
	/* The running task ends (cancelled): the queued one starts and runs to its end. */
	tasks = sbxt_call(c, json_pack("{s:s, s:s}", "id", "l2", "op", "list"));
	r = sbxt_call(c,
		      json_pack("{s:s, s:s, s:s}", "id", "x", "op", "cancel", "task",
				json_string_value(json_object_get(
				    json_array_get(json_object_get(tasks, "tasks"), 0), "task"))));
	json_decref(tasks);
	sbxt_expect_ok(r);
	json_decref(r);
	cr_assert(eq(int, sbx_client_test_wait(c, "a", T_TASK, &t), 0));
	cr_assert(eq(str, (char *)(t.reason ?: "(none)"), "cancelled"));
	sbx_client_test_task_done(&t);
	cr_assert(eq(int, sbx_client_test_wait(c, "b", T_TASK, &t), 0));
	sbxt_expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "queued-ran\n"));
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c);
	sbxt_stop();
}

Test(sbxd, cancel_a_queued_task)
{
	const struct sbx_fixture_opts o = {.limits = "{\"max_tasks\": 1, \"max_queued\": 4}"};
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	json_t *r = NULL;
	char arg[64], script[256], task[64];

	sbxt_start(&o);
	c = sbxt_conn();
	sbxt_unique_sleep_arg(arg, sizeof(arg));
	(void)snprintf(script, sizeof(script), "sleep %s", arg);
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("a", script)), 0));
	sbxt_wait_process(arg);
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("q", "echo never")), 0));
	cr_assert(eq(int, sbx_client_test_next_for(c, "q", T_REPLY, &r), 0));
	(void)snprintf(task, sizeof(task), "%s", json_string_value(json_object_get(r, "task")));
	json_decref(r);
	r = sbxt_call(c, json_pack("{s:s, s:s, s:s}", "id", "x", "op", "cancel", "task", task));
	sbxt_expect_ok(r);
	json_decref(r);
	cr_assert(eq(int, sbx_client_test_wait(c, "q", T_TASK, &t), 0));
	cr_assert(eq(str, (char *)(t.reason ?: "(none)"), "cancelled"), "%s", sbxt_dump(t.exit));
	cr_assert(T(!t.started && t.out_len == 0), "a cancelled queued task never starts");
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c); /* disconnect kills the sleeper */
	cr_assert(T(sbx_fixture_wait_gone(arg, 5000)));
	sbxt_stop();
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
	w->err = sbx_client_test_connect(sbxt_fx.sock, &c);
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
					       sbxt_dump(o));
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

	sbxt_start(NULL);
	t0 = sbxt_now_ms();
	for (int i = 0; i < N_CONNS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].index = i;
		cr_assert(eq(int, pthread_create(&th[i], NULL, worker_run, &w[i]), 0));
	}
	for (int i = 0; i < N_CONNS; i++)
		(void)pthread_join(th[i], NULL);
	cr_log_info("200 tasks from 20 connections in %.0f ms", sbxt_now_ms() - t0);
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
	c = sbxt_conn();
	r = sbxt_call(c, json_pack("{s:s, s:s}", "id", "s", "op", "stats"));
	cr_expect(eq(int, (int)json_integer_value(json_object_get(r, "tasks_run")), 200), "%s",
		  sbxt_dump(r));
	cr_expect(eq(int, (int)json_integer_value(json_object_get(r, "running")), 0), "%s",
		  sbxt_dump(r));
	json_decref(r);
	sbx_client_test_free(c);
	sbxt_stop();
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
		double t0 = sbxt_now_ms();
		cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
		lat[i] = sbxt_now_ms() - t0;
		sbxt_expect_exited(&t, 0);
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

	sbxt_start(NULL);
	quiet = sbxt_conn();
	quiet->keep_transcript = false;
	(void)true_p50(quiet, 5); /* warm up */
	base = true_p50(quiet, 21);
	rss0 = sbx_fixture_rss_kb(&sbxt_fx);
	/* Three tasks that write as fast as they can, to a client that never reads. */
	hog = sbxt_conn();
	for (int i = 0; i < 3; i++) {
		char id[16];
		(void)snprintf(id, sizeof(id), "h%d", i);
		cr_assert(
		    eq(int, sbx_client_test_send_take(hog, sbx_client_test_sh(id, "cat /dev/zero")),
		       0));
	}
	sbxt_sleep_ms(1500); /* the daemon's write queue for hog fills and throttles */
	rss1 = sbx_fixture_rss_kb(&sbxt_fx);
	during = true_p50(quiet, 21);
	rss2 = sbx_fixture_rss_kb(&sbxt_fx);
	cr_log_info("p50 /bin/true: %.1f ms alone, %.1f ms while another client does not read; "
		    "sbxd RSS %ld kB before, %ld / %ld kB during",
		    base, during, rss0, rss1, rss2);
	(void)fprintf(stderr,
		      "backpressure: p50 %.1f ms alone, %.1f ms beside a non-reader; RSS %ld -> "
		      "%ld/%ld kB\n",
		      base, during, rss0, rss1, rss2);
	/* Under valgrind (sbx_fixture_slow() > 1) sbxd runs on one simulated CPU at a fraction
	 * of its speed and its RSS is valgrind's: the figures are printed, not judged. */
	if (sbx_fixture_slow() == 1) {
		cr_expect(T(during <= base * 2 + 15),
			  "p50 %.1f ms beside a non-reader vs %.1f ms alone", during, base);
		/* Bounded: one write_buffer (1 MiB) plus slack, not the gigabytes written. */
		cr_expect(T(rss2 - rss0 < 32 * 1024), "sbxd grew by %ld kB", rss2 - rss0);
	}
	/* The hog reads a little: its tasks are alive, paused, and resume. */
	cr_assert(eq(int, sbx_client_test_next(hog, T_REPLY, &r), 0));
	json_decref(r);
	hog = sbx_client_test_free(hog); /* its tasks die with the connection */
	r = sbxt_call(quiet, json_pack("{s:s, s:s}", "id", "l", "op", "list"));
	for (int i = 0;
	     i < 50 * sbx_fixture_slow() && json_array_size(json_object_get(r, "tasks")) > 0; i++) {
		json_decref(r);
		sbxt_sleep_ms(100);
		r = sbxt_call(quiet, json_pack("{s:s, s:s}", "id", "l", "op", "list"));
	}
	/* The hog's tasks were killed: they must end (and free their slots) although their
	 * pipes were paused when the connection went away. */
	cr_expect(eq(sz, json_array_size(json_object_get(r, "tasks")), 0),
		  "tasks of a closed, throttled connection never end: %s", sbxt_dump(r));
	json_decref(r);
	sbx_client_test_free(quiet);
	sbxt_stop();
}

/* ---- the whole tree dies ---- */

Test(sbxd, disconnect_kills_the_tree)
{
	struct sbx_client_test *c;
	char arg[64], script[256];

	sbxt_start(NULL);
	c = sbxt_conn();
	sbxt_unique_sleep_arg(arg, sizeof(arg));
	/* A grandchild in its own session, detached from the payload. */
	(void)snprintf(script, sizeof(script),
		       "setsid sleep %s </dev/null >/dev/null 2>&1 & sleep %s & wait", arg, arg);
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("d", script)), 0));
	sbxt_wait_process(arg);
	c = sbx_client_test_free(c);
	cr_assert(T(sbx_fixture_wait_gone(arg, 5000)), "a sleeper outlived the disconnect");
	sbxt_stop();
}

Test(sbxd, timeout_kills_the_tree)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	char arg[64], script[256];
	json_t *req;
	double t0;

	sbxt_start(NULL);
	c = sbxt_conn();
	sbxt_unique_sleep_arg(arg, sizeof(arg));
	(void)snprintf(script, sizeof(script),
		       "setsid sleep %s </dev/null >/dev/null 2>&1 & sleep %s & wait", arg, arg);
	req = sbx_client_test_sh("t", script);
	(void)json_object_set_new(req, "timeout_ms", json_integer(700));
	t0 = sbxt_now_ms();
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	cr_assert(T(t.exit != NULL), "%s", sbxt_dump(t.error));
	cr_assert(eq(str, (char *)t.reason, "timeout"), "%s", sbxt_dump(t.exit));
	cr_assert(T(sbxt_now_ms() - t0 < 5000.0 * sbx_fixture_slow()), "took %.0f ms",
		  sbxt_now_ms() - t0);
	/* Never before its whole timeout, however long the start took (libuv's clock may be
	 * a millisecond behind CLOCK_MONOTONIC, which duration_ms uses). */
	cr_assert(T(json_integer_value(json_object_get(t.exit, "duration_ms")) >= 699), "%s",
		  sbxt_dump(t.exit));
	cr_assert(T(sbx_fixture_wait_gone(arg, 3000)), "a sleeper outlived the timeout");
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c);
	sbxt_stop();
}

Test(sbxd, cancel_kills_the_tree)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	char arg[64], script[256];
	json_t *r = NULL;
	char task[64];

	sbxt_start(NULL);
	c = sbxt_conn();
	sbxt_unique_sleep_arg(arg, sizeof(arg));
	(void)snprintf(script, sizeof(script),
		       "setsid sleep %s </dev/null >/dev/null 2>&1 & sleep %s & wait", arg, arg);
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("k", script)), 0));
	cr_assert(eq(int, sbx_client_test_next_for(c, "k", T_REPLY, &r), 0));
	(void)snprintf(task, sizeof(task), "%s", json_string_value(json_object_get(r, "task")));
	json_decref(r);
	sbxt_wait_process(arg);
	r = sbxt_call(c, json_pack("{s:s, s:s, s:s}", "id", "x", "op", "cancel", "task", task));
	sbxt_expect_ok(r);
	json_decref(r);
	cr_assert(eq(int, sbx_client_test_wait(c, "k", T_TASK, &t), 0));
	cr_assert(eq(str, (char *)(t.reason ?: "(none)"), "cancelled"), "%s", sbxt_dump(t.exit));
	cr_assert(T(sbx_fixture_wait_gone(arg, 3000)), "a sleeper outlived the cancel");
	sbx_client_test_task_done(&t);
	/* Cancelling it again: it is gone. */
	sbxt_expect_error(
	    sbxt_call(c, json_pack("{s:s, s:s, s:s}", "id", "x2", "op", "cancel", "task", task)),
	    "bad_request");
	sbx_client_test_free(c);
	sbxt_stop();
}
