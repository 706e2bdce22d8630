/* SPDX-License-Identifier: MIT */
/*
 * sbxd over its real socket, as root: peers of other uids (a child as uid 65534). A uid no rule
 * names is refused, client rules limit ops and policies and grant runs, and --dev under sudo
 * serves the invoking user. Suite `sbxd` (helpers in sbxd-tests.c); each test starts and stops
 * its own daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>

#include "tests/integration/harness.h"
#include "tests/integration/sbxd-fixture.h"
#include "tests/integration/sbxd-tests.h"

TestSuite(sbxd, .init = sbxt_setup, .fini = sbxt_teardown, .timeout = 60);

/* ---- authorization ---- */

/* Runs fn as uid/gid 65534 with the supplementary groups given (n may be 0) in a child;
 * returns what it wrote (malloc'd). */
static char *as_nobody_in(const gid_t *groups, size_t n_groups, void (*fn)(int out, void *arg),
			  void *arg)
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
		if (setgroups(n_groups, groups) < 0 || setresgid(65534, 65534, 65534) < 0 ||
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

static char *as_nobody(void (*fn)(int out, void *arg), void *arg)
{
	return as_nobody_in(NULL, 0, fn, arg);
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
	e = sbx_client_test_connect(sbxt_fx.sock, &c);
	if (e < 0) {
		say(out, "connect: %s", strerror(-e));
		return;
	}
	(void)sbx_client_test_sendf(c, "{s:s, s:s}", "id", "n1", "op", "hello");
	e = sbx_client_test_next(c, T_REPLY, &r);
	say(out, "%s", e < 0 ? strerror(-e) : sbxt_dump(r));
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
	cr_assert(eq(int, chmod(sbxt_fx.base, 0711), 0));
	cr_assert(eq(int, chmod(sbxt_fx.dir, 0711), 0));
	cr_assert(eq(int, chmod(sbxt_fx.sock, 0666), 0));
}

Test(sbxd, a_uid_no_rule_names_is_refused)
{
	char *got;

	sbxt_start(NULL);
	open_up_socket();
	got = as_nobody(nobody_first_line, NULL);
	cr_assert(T(sbx_test_contains(got, "\"code\":\"unauthorized\"")), "got %s", got);
	cr_assert(T(sbx_test_contains(got, "|closed")), "the connection stays open: %s", got);
	free(got);
	cr_assert(T(sbx_fixture_wait_log(&sbxt_fx, "refused connection of uid 65534", 2000)));
	sbxt_stop();
}

/* As uid 65534 under rules: hello, then run, stats and list. */
static void nobody_ops(int out, void *arg)
{
	const char *policy = arg ? arg : "default";
	struct sbx_client_test *c = NULL;
	json_t *r = NULL;
	int e;

	e = sbx_client_test_connect(sbxt_fx.sock, &c);
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
			say(out, "%s:ok%s;", ids[i],
			    i == 0 ? sbxt_dump(json_object_get(r, "ops")) : "");
		else if (json_object_get(r, "event"))
			say(out, "%s:%s;", ids[i], json_string_value(json_object_get(r, "event")));
		else
			say(out, "%s:%s;", ids[i], sbxt_error_code(r));
		json_decref(r);
	}
	sbx_client_test_free(c);
}

/* A rule naming a group matches a peer that holds it only as a supplementary group: read
 * from the socket (SO_PEERGROUPS) as the kernel recorded it at connect. */
Test(sbxd, a_supplementary_group_matches_a_group_rule)
{
	const struct sbx_fixture_opts o = {
	    .clients = "[{\"groups\": [\"users\"], \"ops\": [\"hello\", \"list\"]}]",
	};
	const gid_t users = 100, other = 4242;
	char *got;

	if (!getgrnam("users") || getgrnam("users")->gr_gid != users)
		cr_skip_test("no group 'users' with gid 100 here");
	sbxt_start(&o);
	open_up_socket();
	got = as_nobody_in(&users, 1, nobody_ops, NULL);
	cr_assert(T(sbx_test_contains(got, "h:ok[\"hello\",\"list\"];")), "got %s", got);
	cr_assert(T(sbx_test_contains(got, "l:ok;")), "got %s", got);
	free(got);
	got = as_nobody_in(&other, 1, nobody_first_line, NULL);
	cr_assert(T(sbx_test_contains(got, "\"code\":\"unauthorized\"")), "got %s", got);
	free(got);
	sbxt_stop();
}

Test(sbxd, client_rules_limit_ops_and_policies)
{
	const struct sbx_fixture_opts o = {
	    .clients = "[{\"uids\": [65534], \"ops\": [\"hello\", \"list\", \"stats\"]}]",
	};
	char *got;

	sbxt_start(&o);
	open_up_socket();
	got = as_nobody(nobody_ops, NULL);
	/* stats stays root's even when a rule names it. */
	cr_assert(eq(str, got,
		     "h:ok[\"hello\",\"list\"];r:unauthorized;s:unauthorized;k:unauthorized;l:ok;"),
		  "got %s", got);
	free(got);
	sbxt_stop();
}

Test(sbxd, client_rule_policies_limit_run)
{
	const struct sbx_fixture_opts o = {
	    .clients = "[{\"uids\": [65534], \"ops\": [\"hello\", \"run\", \"seal\"], "
		       "\"policies\": [\"other\"]}]",
	};
	char *got;

	sbxt_start(&o);
	open_up_socket();
	got = as_nobody(nobody_ops, NULL);
	cr_assert(eq(str, got,
		     "h:ok[\"hello\",\"seal\",\"run\"];r:unauthorized;s:unauthorized;k:ok;"
		     "l:unauthorized;"),
		  "got %s", got);
	free(got);
	sbxt_stop();
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
	(void)snprintf(path, sizeof(path), "%s/%s.json", sbxt_fx.policies, name);
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

	sbxt_start(&o);
	write_policy("open", "{\"uids\": [65534]}");
	sbxt_reload("reloaded");
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
	sbxt_stop();
}

/* --dev for a user (sudo): that user may use the socket and run the shipped default policy. */
Test(sbxd, dev_mode_serves_the_invoking_user)
{
	const struct sbx_fixture_opts o = {.sudo_uid = "65534"};
	struct stat st;
	char *got;

	sbxt_start(&o);
	cr_assert(eq(int, stat(sbxt_fx.sock, &st), 0));
	cr_assert(eq(u32, (unsigned)st.st_uid, 65534), "socket owner");
	cr_assert(eq(u32, (unsigned)(st.st_mode & 0777), 0600), "socket mode");
	cr_assert(eq(int, chmod(sbxt_fx.base, 0711), 0));
	cr_assert(eq(int, chmod(sbxt_fx.dir, 0711), 0));
	got = as_nobody(nobody_ops, NULL);
	cr_expect(eq(str, got,
		     "h:ok[\"hello\",\"seal\",\"rewrap\",\"run\",\"cancel\",\"list\"];"
		     "r:accepted;s:unauthorized;k:ok;l:ok;"),
		  "got %s", got);
	free(got);
	sbxt_stop();
}
