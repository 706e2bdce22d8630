/* SPDX-License-Identifier: MIT */
/*
 * sbxd over its real socket, as root: the basic ops of protocol v1 (DESIGN.md "Wire protocol",
 * docs/protocol.md): hello, a run's events in order, exit codes and signals, stdin, stdout and
 * stderr apart, the environment; unknown policies, policy violations and a failed sandbox
 * setup; and the daemon's lifecycle: SIGHUP with a broken policy, SIGTERM draining and killing
 * what outlives the grace, idle connections closed. The other areas of the same suite `sbxd`
 * are test-sbxd-{ops,wire,authz,keys}.c, with the helpers of sbxd-tests.c. Each test starts its
 * own daemon (sbxd-fixture.c) and stops it at the end: exit 0, no stray process, no leftover
 * cgroup.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>
#include <sodium.h>

#include "tests/integration/harness.h"
#include "tests/integration/sbxd-fixture.h"
#include "tests/integration/sbxd-tests.h"

TestSuite(sbxd, .init = sbxt_setup, .fini = sbxt_teardown, .timeout = 60);

/* ---- hello and run ---- */

Test(sbxd, hello_names_the_peer_and_its_ops)
{
	struct sbx_client_test *c;
	json_t *r, *ops;

	sbxt_start(NULL);
	c = sbxt_conn();
	r = sbxt_call(c, json_pack("{s:s, s:s}", "id", "h1", "op", "hello"));
	sbxt_expect_ok(r);
	cr_assert(eq(str, (char *)json_string_value(json_object_get(r, "id")), "h1"));
	cr_assert(eq(int, (int)json_integer_value(json_object_get(r, "protocol")), 1), "%s",
		  sbxt_dump(r));
	cr_assert(T(json_is_string(json_object_get(r, "version"))), "%s", sbxt_dump(r));
	cr_assert(eq(
	    int, (int)json_integer_value(json_object_get(json_object_get(r, "peer"), "uid")), 0));
	cr_assert(eq(int,
		     (int)json_integer_value(json_object_get(json_object_get(r, "peer"), "pid")),
		     (int)getpid()));
	ops = json_object_get(r, "ops");
	cr_assert(eq(sz, json_array_size(ops), 7), "root may use every op: %s", sbxt_dump(r));
	json_decref(r);
	sbx_client_test_free(c);
	sbxt_stop();
}

Test(sbxd, run_reports_accepted_started_output_exit_in_order)
{
	struct sbx_client_test *c;
	const char *seq[4] = {"accepted", "started", "output", "exit"};
	char task[64] = "";
	int step = 0;

	sbxt_start(NULL);
	c = sbxt_conn();
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("r1", "echo hi")), 0));
	while (step < 4) {
		json_t *o = NULL;
		const char *ev;
		cr_assert(eq(int, sbx_client_test_next_for(c, "r1", T_TASK, &o), 0));
		ev = json_string_value(json_object_get(o, "event"));
		cr_assert(T(ev != NULL), "not an event: %s", sbxt_dump(o));
		cr_assert(eq(str, (char *)ev, (char *)seq[step]), "event %d: %s", step,
			  sbxt_dump(o));
		if (step == 0)
			(void)snprintf(task, sizeof(task), "%s",
				       json_string_value(json_object_get(o, "task")));
		cr_assert(eq(str, (char *)json_string_value(json_object_get(o, "task")), task),
			  "every event names the task: %s", sbxt_dump(o));
		if (step == 1)
			cr_assert(T(json_integer_value(json_object_get(o, "pid")) > 0), "%s",
				  sbxt_dump(o));
		if (step == 2) {
			cr_assert(eq(str, (char *)json_string_value(json_object_get(o, "stream")),
				     "stdout"));
			cr_assert(
			    eq(str, (char *)json_string_value(json_object_get(o, "data")), "aGkK"),
			    "base64 of 'hi\\n': %s", sbxt_dump(o));
		}
		if (step == 3) {
			cr_assert(eq(int, (int)json_integer_value(json_object_get(o, "code")), 0));
			cr_assert(T(json_is_null(json_object_get(o, "signal"))), "%s",
				  sbxt_dump(o));
			cr_assert(eq(str, (char *)json_string_value(json_object_get(o, "reason")),
				     "exited"));
			cr_assert(T(json_is_integer(json_object_get(o, "duration_ms"))), "%s",
				  sbxt_dump(o));
			cr_assert(T(json_is_integer(json_object_get(o, "cpu_ms"))), "%s",
				  sbxt_dump(o));
			cr_assert(T(json_is_integer(json_object_get(o, "max_rss_kb"))), "%s",
				  sbxt_dump(o));
		}
		json_decref(o);
		step++;
	}
	cr_assert(T(strncmp(task, "sbxd-", 5) == 0), "task id '%s'", task);
	sbx_client_test_free(c);
	sbxt_stop();
}

Test(sbxd, exit_code_and_signal)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;

	sbxt_start(NULL);
	c = sbxt_conn();
	sbxt_run_sh(c, "e42", "exit 42", &t);
	sbxt_expect_exited(&t, 42);
	cr_assert(T(json_is_null(json_object_get(t.exit, "signal"))));
	sbx_client_test_task_done(&t);
	sbxt_run_sh(c, "k9", "kill -KILL $$", &t);
	cr_assert(T(t.exit != NULL), "%s", sbxt_dump(t.error));
	cr_assert(eq(str, (char *)t.reason, "signaled"), "%s", sbxt_dump(t.exit));
	cr_assert(eq(int, t.signal, SIGKILL));
	cr_assert(T(json_is_null(json_object_get(t.exit, "code"))), "%s", sbxt_dump(t.exit));
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c);
	sbxt_stop();
}

Test(sbxd, stdin_passes_through)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	const size_t big = 300000;
	char *raw = malloc(big), *b64 = malloc(big * 2), want[32];
	json_t *req;

	cr_assert(T(raw && b64));
	sbxt_start(NULL);
	c = sbxt_conn();
	req = json_pack("{s:s, s:s, s:s, s:[s], s:s}", "id", "in", "op", "run", "policy", "default",
			"argv", "/bin/cat", "stdin", "aGVsbG8gc3RkaW4K");
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	sbxt_expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "hello stdin\n"));
	sbx_client_test_task_done(&t);

	/* More than a pipe holds: written as the payload reads. */
	for (size_t i = 0; i < big; i++)
		raw[i] = (char)('a' + i % 26);
	sodium_bin2base64(b64, big * 2, (unsigned char *)raw, big, sodium_base64_VARIANT_ORIGINAL);
	req = json_pack("{s:s, s:s, s:s, s:[s, s], s:s}", "id", "in2", "op", "run", "policy",
			"default", "argv", "/usr/bin/wc", "-c", "stdin", b64);
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	sbxt_expect_exited(&t, 0);
	(void)snprintf(want, sizeof(want), "%zu\n", big);
	cr_assert(eq(str, t.out, want));
	sbx_client_test_task_done(&t);

	/* No stdin: the payload reads EOF at once rather than hanging. */
	sbxt_run_sh(c, "noin", "cat; echo eof", &t);
	sbxt_expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "eof\n"));
	sbx_client_test_task_done(&t);
	free(raw);
	free(b64);
	sbx_client_test_free(c);
	sbxt_stop();
}

Test(sbxd, output_streams_apart)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;

	sbxt_start(NULL);
	c = sbxt_conn();
	sbxt_run_sh(c, "st", "echo out1; echo err1 >&2; echo out2; echo err2 >&2", &t);
	sbxt_expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "out1\nout2\n"));
	cr_assert(eq(str, t.err, "err1\nerr2\n"));
	cr_assert(eq(sz, t.bad_events, 0));
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c);
	sbxt_stop();
}

Test(sbxd, env_the_policy_allows_reaches_the_payload)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	json_t *req =
	    sbx_client_test_sh("env", "echo \"$APP_MODE|$LANG|$HOME\"; env | grep -c SBXD_");

	sbxt_start(NULL);
	c = sbxt_conn();
	(void)json_object_set_new(req, "env", json_pack("{s:s}", "APP_MODE", "fast"));
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	/* grep -c prints 0 and exits 1: nothing of sbxd's environment leaks in. */
	sbxt_expect_exited(&t, 1);
	cr_assert(eq(str, t.out, "fast|C.UTF-8|/tmp\n0\n"));
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c);
	sbxt_stop();
}

/* ---- policy and sandbox errors ---- */

Test(sbxd, policy_unknown_and_policy_violation)
{
	struct sbx_client_test *c;
	json_t *req;

	sbxt_start(NULL);
	c = sbxt_conn();
	sbxt_expect_error(sbxt_call(c, json_pack("{s:s, s:s, s:s, s:[s]}", "id", "p1", "op", "run",
						 "policy", "no-such-policy", "argv", "/bin/true")),
			  "policy_unknown");
	sbxt_expect_error(sbxt_call(c, json_pack("{s:s, s:s, s:s, s:[s]}", "id", "p2", "op", "run",
						 "policy", "../default", "argv", "/bin/true")),
			  "policy_unknown");
	req = sbx_client_test_sh("v1", "true");
	(void)json_object_set_new(req, "env", json_pack("{s:s}", "FOO", "bar"));
	sbxt_expect_error(sbxt_call(c, req), "policy_violation");
	req = sbx_client_test_sh("v2", "true");
	(void)json_object_set_new(req, "env", json_pack("{s:s}", "LD_PRELOAD", "/tmp/x.so"));
	sbxt_expect_error(sbxt_call(c, req), "policy_violation");
	req = sbx_client_test_sh("v3", "true");
	(void)json_object_set_new(req, "timeout_ms", json_integer(7200000)); /* 2 h */
	sbxt_expect_error(sbxt_call(c, req), "policy_violation");
	/* Nothing ran. */
	req = sbxt_call(c, json_pack("{s:s, s:s}", "id", "s", "op", "stats"));
	cr_assert(eq(int, (int)json_integer_value(json_object_get(req, "tasks_run")), 0), "%s",
		  sbxt_dump(req));
	json_decref(req);
	sbx_client_test_free(c);
	sbxt_stop();
}

Test(sbxd, sandbox_setup_failed_names_step_and_errno)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	json_t *req = json_pack("{s:s, s:s, s:s, s:[s]}", "id", "nx", "op", "run", "policy",
				"default", "argv", "/no/such/program");

	sbxt_start(NULL);
	c = sbxt_conn();
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	cr_assert(T(t.accepted), "accepted first");
	cr_assert(T(t.exit == NULL), "no exit event as well: %s", sbxt_dump(t.exit));
	cr_assert(eq(str, (char *)(t.error_code ?: "(none)"), "sandbox_setup_failed"), "%s",
		  sbxt_dump(t.error));
	cr_assert(eq(str, (char *)(json_string_value(json_object_get(t.error, "step")) ?: "(none)"),
		     "execve"),
		  "%s", sbxt_dump(t.error));
	cr_assert(eq(int, (int)json_integer_value(json_object_get(t.error, "errno")), ENOENT), "%s",
		  sbxt_dump(t.error));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(t.error, "task")), t.task));
	sbx_client_test_task_done(&t);
	/* A cwd that does not exist in the sandbox fails at its own step, not as exit 127. */
	req = sbx_client_test_sh("cwd", "true");
	(void)json_object_set_new(req, "cwd", json_string("/no/such/dir"));
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	cr_assert(eq(str, (char *)(t.error_code ?: "(none)"), "sandbox_setup_failed"),
		  "exit %s error %s", sbxt_dump(t.exit), sbxt_dump(t.error));
	cr_assert(eq(int, (int)json_integer_value(json_object_get(t.error, "errno")), ENOENT), "%s",
		  sbxt_dump(t.error));
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c);
	sbxt_stop();
}

/* ---- lifecycle ---- */

Test(sbxd, sighup_with_a_broken_policy_keeps_the_old_set, .timeout = 90)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	char path[8192], def[8192], *text;
	json_t *req;

	sbxt_start(NULL);
	c = sbxt_conn();
	(void)snprintf(def, sizeof(def), "%s/default.json", sbxt_fx.policies);
	(void)snprintf(path, sizeof(path), "%s/extra.json", sbxt_fx.policies);
	{
		struct sbx_test_run run;
		cr_assert(eq(int, sbx_test_runv(&run, 5000, "/bin/cat", def, NULL), 0));
		cr_assert(eq(int, run.code, 0));
		text = strdup(run.out);
		sbx_test_run_done(&run);
	}
	cr_assert(eq(int, sbx_test_write_file(path, text), 0));
	sbxt_reload("reloaded");
	req = json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "id", "e1", "op", "run", "policy", "extra",
			"argv", "/bin/sh", "-c", "echo extra");
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	sbxt_expect_exited(&t, 0);
	sbx_client_test_task_done(&t);

	/* A task running across the reload is untouched. */
	req = json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "id", "long", "op", "run", "policy",
			"extra", "argv", "/bin/sh", "-c", "sleep 1; echo survived");
	cr_assert(eq(int, sbx_client_test_send_take(c, req), 0));
	cr_assert(eq(int, sbx_test_write_file(path, "{\"binds\": [ this is not json"), 0));
	sbxt_reload("policies are broken");
	req = json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "id", "e2", "op", "run", "policy", "extra",
			"argv", "/bin/sh", "-c", "echo still");
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	sbxt_expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "still\n"));
	sbx_client_test_task_done(&t);
	cr_assert(eq(int, sbx_client_test_wait(c, "long", T_TASK, &t), 0));
	sbxt_expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "survived\n"));
	sbx_client_test_task_done(&t);
	/* A policy with an unknown key is broken too (nothing half-loaded). */
	cr_assert(eq(int, unlink(path), 0));
	(void)snprintf(path, sizeof(path), "%s/typo.json", sbxt_fx.policies);
	cr_assert(eq(int, sbx_test_write_file(path, "{\"timeuot\": {\"default\": \"1s\"}}"), 0));
	sbxt_reload("policies are broken");
	req = json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "id", "e3", "op", "run", "policy", "extra",
			"argv", "/bin/sh", "-c", "echo kept");
	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0));
	sbxt_expect_exited(&t, 0);
	sbx_client_test_task_done(&t);
	sbxt_expect_error(sbxt_call(c, json_pack("{s:s, s:s, s:s, s:[s]}", "id", "e4", "op", "run",
						 "policy", "typo", "argv", "/bin/true")),
			  "policy_unknown");
	free(text);
	sbx_client_test_free(c);
	sbxt_stop();
}

Test(sbxd, sigterm_drains, .timeout = 60)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	struct sbx_client_test *late = NULL;
	json_t *r = NULL;

	sbxt_start(NULL);
	c = sbxt_conn();
	cr_assert(eq(
	    int, sbx_client_test_send_take(c, sbx_client_test_sh("d", "sleep 1.5; echo done")), 0));
	cr_assert(eq(int, sbx_client_test_next_for(c, "d", T_REPLY, &r), 0)); /* accepted */
	json_decref(r);
	cr_assert(eq(int, sbx_client_test_next_for(c, "d", T_REPLY, &r), 0)); /* started */
	json_decref(r);
	cr_assert(eq(int, sbx_fixture_signal(&sbxt_fx, SIGTERM), 0));
	cr_assert(T(sbx_fixture_wait_log(&sbxt_fx, "stopping", 3000)));
	/* New connections are refused, new tasks on old connections too. */
	cr_assert(T(sbx_client_test_connect(sbxt_fx.sock, &late) < 0), "connected while draining");
	sbxt_expect_error(sbxt_call(c, sbx_client_test_sh("new", "true")), "busy");
	/* The running task finishes normally. */
	cr_assert(eq(int, sbx_client_test_wait(c, "d", T_TASK, &t), 0));
	sbxt_expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "done\n"));
	sbx_client_test_task_done(&t);
	cr_assert(eq(int, sbx_fixture_wait_exit(&sbxt_fx, 5000), 0), "sbxd did not exit 0 cleanly");
	sbx_client_test_free(c);
}

Test(sbxd, sigterm_kills_what_outlives_the_grace, .timeout = 60)
{
	const struct sbx_fixture_opts o = {.limits = "{\"shutdown_grace\": \"1s\"}"};
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	char arg[64], script[256];
	double t0;

	sbxt_start(&o);
	c = sbxt_conn();
	sbxt_unique_sleep_arg(arg, sizeof(arg));
	(void)snprintf(script, sizeof(script), "sleep %s & sleep %s; wait", arg, arg);
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("g", script)), 0));
	sbxt_wait_process(arg);
	t0 = sbxt_now_ms();
	cr_assert(eq(int, sbx_fixture_signal(&sbxt_fx, SIGTERM), 0));
	cr_assert(eq(int, sbx_client_test_wait(c, "g", T_TASK, &t), 0));
	cr_assert(eq(str, (char *)(t.reason ?: "(none)"), "shutdown"), "%s", sbxt_dump(t.exit));
	cr_assert(T(sbxt_now_ms() - t0 >= 900 && sbxt_now_ms() - t0 < 5000.0 * sbx_fixture_slow()),
		  "after %.0f ms", sbxt_now_ms() - t0);
	sbx_client_test_task_done(&t);
	cr_assert(T(sbx_fixture_wait_gone(arg, 3000)));
	cr_assert(eq(int, sbx_fixture_wait_exit(&sbxt_fx, 5000), 0));
	sbx_client_test_free(c);
}

Test(sbxd, idle_connections_are_closed)
{
	const struct sbx_fixture_opts o = {.limits = "{\"idle_timeout\": \"400ms\"}"};
	struct sbx_client_test *idle, *busy;
	struct sbx_client_test_task t;
	json_t *r = NULL;

	sbxt_start(&o);
	idle = sbxt_conn();
	busy = sbxt_conn();
	/* A connection with a task running is not idle. */
	sbxt_run_sh(busy, "b", "sleep 1; echo ok", &t);
	sbxt_expect_exited(&t, 0);
	sbx_client_test_task_done(&t);
	cr_assert(eq(int, sbx_client_test_next(idle, 2000, &r), -EPIPE), "idle connection open");
	sbx_client_test_free(idle);
	sbx_client_test_free(busy);
	sbxt_stop();
}
