/* SPDX-License-Identifier: MIT */
/*
 * Hostile clients against one real sbxd, all at once (issue 8, item 4): 1,000 idle
 * connections, a 100 MiB line without a newline, a slowloris sending a byte every 100 ms, a
 * client that sends a run and hangs up in a loop, and thousands of invalid requests. Meanwhile
 * a well-behaved client runs /bin/true: its median latency under attack must stay within twice
 * the unloaded median plus 5 ms (slack for a 2-core VM, where the attackers' own CPU use and the
 * sandboxes they start compete with the good client). Afterwards sbxd holds as many fds as
 * before, runs no task, stayed small (no 100 MiB buffered) and stops cleanly.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/socket.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>

#include "tests/integration/harness.h"
#include "tests/integration/sbxd-fixture.h"

#define IDLE		1000
#define GOOD_RUNS	20
#define INVALID		4000
#define IDLE_TIMEOUT	4000 /* ms, sbxd's limits.idle_timeout here */
#define HANGUP_PAUSE_US 20000

static struct sbx_fixture fx;

static inline bool T(bool b)
{
	return b;
}

static void setup(void)
{
	sbx_test_require_root();
	sbx_test_require_file(sbx_test_build_path("sbxd"));
}

static void teardown(void)
{
	sbx_fixture_cleanup(&fx);
}

TestSuite(hostile, .init = setup, .fini = teardown, .timeout = 120);

static double now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int count_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	int n = 0;

	(void)snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	for (struct dirent *de; (de = readdir(d));)
		n += de->d_name[0] != '.';
	(void)closedir(d);
	return n;
}

/* Median latency of n runs of /bin/true; tracks sbxd's peak RSS. */
static double true_median(struct sbx_client_test *c, int n, long *peak_rss)
{
	double v[GOOD_RUNS];

	for (int i = 0; i < n; i++) {
		struct sbx_client_test_task t;
		double t0 = now_ms();
		long rss;
		cr_assert(eq(
		    int,
		    sbx_client_test_run(c,
					json_pack("{s:s, s:s, s:s, s:[s]}", "id", "good", "op",
						  "run", "policy", "default", "argv", "/bin/true"),
					20000, &t),
		    0));
		v[i] = now_ms() - t0;
		cr_assert(T(t.exit && t.code == 0), "the good client's task failed: %s",
			  t.error ? json_dumps(t.error, 0) : "?");
		sbx_client_test_task_done(&t);
		rss = sbx_fixture_rss_kb(&fx);
		if (rss > *peak_rss)
			*peak_rss = rss;
	}
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the attackers (threads: they record, the test thread asserts) ---- */

/* Attackers run at nice 19: on a 2-core VM their own CPU use would otherwise be what slows
 * the good client, and the test is about what sbxd does with their traffic. */
static void lower_priority(void)
{
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
}

struct attack {
	atomic_bool stop;
	/* 100 MiB line */
	bool big_too_large;
	size_t big_sent;
	/* slowloris */
	int slow_sent;
	double slow_closed_after_ms;
	/* request and hang up */
	int hangups;
	/* invalid requests */
	int invalid_replies, invalid_wrong;
	char invalid_detail[256];
};

static void *big_line(void *arg)
{
	struct attack *a = arg;
	struct sbx_client_test *c = NULL;
	static char chunk[1 << 16];
	json_t *reply = NULL;

	memset(chunk, 'x', sizeof(chunk));
	if (sbx_client_test_connect(fx.sock, &c) < 0)
		return NULL;
	static const char head[] = "{\"id\":\"big\",\"op\":\"hello\",\"pad\":\"";
	(void)sbx_client_test_send_raw(c, head, sizeof(head) - 1);
	while (a->big_sent < (100U << 20) && !a->stop) {
		if (sbx_client_test_send_raw(c, chunk, sizeof(chunk)) < 0)
			break;
		a->big_sent += sizeof(chunk);
		/* Read what came back as we go: a client that never reads would be throttled. */
		while (!a->big_too_large && sbx_client_test_next(c, 0, &reply) == 0) {
			const char *code = json_string_value(
			    json_object_get(json_object_get(reply, "error"), "code"));
			a->big_too_large = code && strcmp(code, "too_large") == 0;
			json_decref(reply);
		}
	}
	if (!a->big_too_large && sbx_client_test_next(c, 2000, &reply) == 0) {
		const char *code =
		    json_string_value(json_object_get(json_object_get(reply, "error"), "code"));
		a->big_too_large = code && strcmp(code, "too_large") == 0;
		json_decref(reply);
	}
	sbx_client_test_free(c);
	return NULL;
}

static void *slowloris(void *arg)
{
	struct attack *a = arg;
	static const char req[] = "{\"id\":\"slow\",\"op\":\"hello\",\"pad\":\"";
	struct sbx_client_test *c = NULL;
	double t0 = now_ms();

	lower_priority();
	if (sbx_client_test_connect(fx.sock, &c) < 0)
		return NULL;
	for (int i = 0;; i++) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		const char *b = i < (int)sizeof(req) - 1 ? req + i : "y";
		if (sbx_client_test_send_raw(c, b, 1) < 0 || poll(&p, 1, 100) != 0 ||
		    now_ms() - t0 > 3.0 * IDLE_TIMEOUT)
			break; /* closed by sbxd (readable EOF or a failed send), or given up */
		a->slow_sent++;
	}
	a->slow_closed_after_ms = now_ms() - t0;
	sbx_client_test_free(c);
	return NULL;
}

static void *hangups(void *arg)
{
	struct attack *a = arg;

	lower_priority();
	while (!a->stop) {
		struct sbx_client_test *c = NULL;
		if (sbx_client_test_connect(fx.sock, &c) < 0)
			break;
		(void)sbx_client_test_send_take(c, sbx_client_test_sh("h", "sleep 600"));
		/* Every other time after the task is accepted, else right away. */
		if (a->hangups % 2) {
			json_t *ev = NULL;
			if (sbx_client_test_next(c, 5000, &ev) == 0)
				json_decref(ev);
		}
		sbx_client_test_free(c);
		a->hangups++;
		/* At most ~50 a second: every round costs a sandbox start and kill (~4 ms of CPU
		 * here), and sbxd has no per-client start rate limit yet, so an unpaced loop
		 * saturates a 2-core VM (docs/testing.md has the figures). */
		(void)usleep(HANGUP_PAUSE_US);
	}
	return NULL;
}

/* Each kind of bad line and the code it must always get. */
static const struct {
	const char *line, *code;
} bad[] = {
    {"not json at all\n", "bad_request"},
    {"{}\n", "bad_request"},
    {"[1,2,3]\n", "bad_request"},
    {"{\"id\":\"b\",\"op\":\"nope\"}\n", "unknown_op"},
    {"{\"id\":\"b\",\"op\":\"run\"}\n", "bad_request"},
    {"{\"id\":\"b\",\"op\":\"hello\",\"x\":1}\n", "bad_request"},
    {"{\"id\":\"b\",\"op\":\"run\",\"policy\":\"nope\",\"argv\":[\"/bin/true\"]}\n",
     "policy_unknown"},
    {"{\"id\":\"\xff\xfe\",\"op\":\"hello\"}\n", "bad_request"},
};

static void *invalid(void *arg)
{
	struct attack *a = arg;
	struct sbx_client_test *c = NULL;
	const int kinds = (int)(sizeof(bad) / sizeof(bad[0]));

	lower_priority();
	if (sbx_client_test_connect(fx.sock, &c) < 0)
		return NULL;
	c->keep_transcript = false;
	for (int sent = 0; sent < INVALID && !a->stop; sent += 100) {
		for (int i = sent; i < sent + 100; i++)
			if (sbx_client_test_send_raw(c, bad[i % kinds].line,
						     strlen(bad[i % kinds].line)) < 0)
				goto out;
		/* Replies come in request order on one connection. */
		for (int i = sent; i < sent + 100; i++) {
			json_t *reply = NULL;
			const char *code;
			if (sbx_client_test_next(c, 10000, &reply) < 0)
				goto out;
			code = json_string_value(
			    json_object_get(json_object_get(reply, "error"), "code"));
			a->invalid_replies++;
			if (!json_is_false(json_object_get(reply, "ok")) || !code ||
			    strcmp(code, bad[i % kinds].code) != 0) {
				if (!a->invalid_wrong++)
					(void)snprintf(a->invalid_detail, sizeof(a->invalid_detail),
						       "kind %d got %s", i % kinds,
						       code ? code : "no code");
			}
			json_decref(reply);
		}
	}
out:
	sbx_client_test_free(c);
	return NULL;
}

static void *noop(void *arg)
{
	(void)arg;
	return NULL;
}
static long stats_field(struct sbx_client_test *c, const char *key)
{
	json_t *reply = NULL;
	long v;

	cr_assert(eq(int,
		     sbx_client_test_call(c, json_pack("{s:s, s:s}", "id", "st", "op", "stats"),
					  5000, &reply),
		     0));
	v = (long)json_integer_value(json_object_get(reply, key));
	json_decref(reply);
	return v;
}

Test(hostile, all_at_once_while_a_good_client_runs_tasks)
{
	static const char limits[] = "{\"max_connections\": 2000, \"idle_timeout\": \"4s\"}";
	const struct sbx_fixture_opts o = {.limits = limits};
	const struct rlimit rl = {8192, 8192};
	static struct sbx_client_test *idle[IDLE];
	struct attack a = {0};
	pthread_t th[4];
	struct sbx_client_test *good = NULL;
	double unloaded, attacked, t0;
	long rss0, peak = 0, peak_unloaded = 0;
	int fds0, fds1 = -1;

	/* The test's 1,000 sockets, and sbxd's (it inherits the limit). */
	cr_assert(eq(int, setrlimit(RLIMIT_NOFILE, &rl), 0));
	cr_assert(eq(int, sbx_fixture_start(&fx, &o), 0));
	cr_assert(eq(int, sbx_client_test_connect(fx.sock, &good), 0));
	(void)true_median(good, 5, &peak_unloaded); /* warm up */
	unloaded = true_median(good, GOOD_RUNS, &peak_unloaded);
	rss0 = sbx_fixture_rss_kb(&fx);
	(void)usleep(200000); /* the last task's handles close */
	fds0 = count_fds(fx.pid);

	t0 = now_ms();
	for (int i = 0; i < IDLE; i++)
		cr_assert(eq(int, sbx_client_test_connect(fx.sock, &idle[i]), 0), "idle %d", i);
	{
		/* SBX_HOSTILE_ONLY=bshi picks attackers (big line, slowloris, hang-ups,
		 * invalid) when looking for which one costs what. */
		const char *only = getenv("SBX_HOSTILE_ONLY") ?: "bshi";
		cr_assert(eq(
		    int, pthread_create(&th[0], NULL, strchr(only, 'b') ? big_line : noop, &a), 0));
		cr_assert(eq(int,
			     pthread_create(&th[1], NULL, strchr(only, 's') ? slowloris : noop, &a),
			     0));
		cr_assert(eq(
		    int, pthread_create(&th[2], NULL, strchr(only, 'h') ? hangups : noop, &a), 0));
		cr_assert(eq(
		    int, pthread_create(&th[3], NULL, strchr(only, 'i') ? invalid : noop, &a), 0));
	}
	cr_assert(T(stats_field(good, "clients") >= IDLE), "sbxd did not take 1,000 clients");
	attacked = true_median(good, GOOD_RUNS, &peak);
	cr_assert(T(now_ms() - t0 < IDLE_TIMEOUT), "measured after the idle clients were closed");
	cr_log_info("good client /bin/true median: %.2f ms unloaded, %.2f ms under attack; "
		    "sbxd RSS %ld KiB before, peak %ld KiB",
		    unloaded, attacked, rss0, peak);
	cr_assert(T(attacked <= 2 * unloaded + 5.0),
		  "median under attack %.2f ms > 2 x %.2f ms + 5 ms", attacked, unloaded);

	(void)pthread_join(th[0], NULL);
	(void)pthread_join(th[1], NULL);
	(void)pthread_join(th[3], NULL);
	a.stop = true;
	(void)pthread_join(th[2], NULL);

	cr_assert(T(a.big_too_large), "no too_large for a 100 MiB line (%zu bytes sent)",
		  a.big_sent);
	/* ASan keeps freed memory in quarantine (256 MiB): only a plain build's RSS is tight. */
	cr_assert(T(peak < rss0 + (strstr(SBX_BUILD_DIR, "asan") ? 160 : 32) * 1024),
		  "sbxd grew from %ld to %ld KiB", rss0, peak);
	cr_assert(T(a.slow_sent > 0 && a.slow_closed_after_ms < 2.0 * IDLE_TIMEOUT),
		  "slowloris held its connection for %.0f ms (%d bytes)", a.slow_closed_after_ms,
		  a.slow_sent);
	cr_assert(eq(int, a.invalid_replies, INVALID));
	cr_assert(eq(int, a.invalid_wrong, 0), "unstable error codes: %s", a.invalid_detail);
	cr_assert(T(a.hangups >= 10), "only %d request-and-hang-up rounds", a.hangups);
	cr_log_info("attack: %d hang-ups, %d invalid requests, slowloris closed after %.0f ms",
		    a.hangups, a.invalid_replies, a.slow_closed_after_ms);

	/* The idle ones are closed by the idle timer; nothing is left behind. */
	for (int i = 0; i < IDLE; i++) {
		json_t *none = NULL;
		cr_assert(
		    eq(int, sbx_client_test_next(idle[i], IDLE_TIMEOUT + 3000, &none), -EPIPE),
		    "idle connection %d was not closed", i);
		idle[i] = sbx_client_test_free(idle[i]);
	}
	/* The good client was idle as long: sbxd closed it too. A new one checks. */
	sbx_client_test_free(good);
	cr_assert(eq(int, sbx_client_test_connect(fx.sock, &good), 0));
	for (int i = 0; i < 100; i++) {
		const long running = stats_field(good, "running"); /* also keeps it busy */
		fds1 = count_fds(fx.pid);
		if (fds1 <= fds0 && running == 0)
			break;
		(void)usleep(50000);
	}
	cr_assert(eq(int, stats_field(good, "running"), 0), "tasks of hung-up clients still run");
	cr_assert(T(fds1 <= fds0), "sbxd holds %d fds, %d before the attack", fds1, fds0);
	sbx_client_test_free(good);
	cr_assert(eq(int, sbx_fixture_stop(&fx, 20000), 0));
}
