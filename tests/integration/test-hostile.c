/* SPDX-License-Identifier: MIT */
/*
 * Hostile clients against one real sbxd, all at once (issue 8, item 4): 1,000 idle
 * connections, a 100 MiB line without a newline, a slowloris sending a byte every 100 ms, a
 * client that sends a run and hangs up in a loop as fast as it can (a process of uid 65534,
 * held to 20 task starts a second by its client rule's run_rate), and thousands of invalid
 * requests. Meanwhile
 * a well-behaved client runs /bin/true: its median latency under attack must stay within twice
 * the unloaded median plus 5 ms (slack for a 2-core VM, where the attackers' own CPU use and the
 * sandboxes they start compete with the good client). Afterwards sbxd holds as many fds as
 * before, runs no task, stayed small (no 100 MiB buffered) and stops cleanly.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>

#include "tests/integration/harness.h"
#include "tests/integration/sbxd-fixture.h"

#define IDLE	  1000
#define GOOD_RUNS 40
#define INVALID	  4000
/* ms, sbxd's limits.idle_timeout here: the good client's runs under attack must end before
 * sbxd closes the 1,000 idle clients, which takes longer under ASan (and on a loaded CI host:
 * a CI run once missed a 4 s window). */
#if defined(__SANITIZE_ADDRESS__)
#	define IDLE_TIMEOUT 12000
#else
#	define IDLE_TIMEOUT 6000
#endif
#define NOBODY 65534
/* uid 65534 may run tasks under policy "open" (the shipped default narrows itself to group
 * sbx), at most 20 a second. */
#define NOBODY_RULE                                                                      \
	"[{\"uids\": [65534], \"ops\": [\"hello\", \"run\"], \"policies\": [\"open\"], " \
	"\"run_rate\": \"20/s\"}]"

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

/* What the hang-up attacker saw, written back by its process at the end. */
struct hangup_result {
	int rounds, replies, accepted, busy, busy_named, other;
	char other_code[64];
};

static json_t *open_run(const char *id, const char *script)
{
	return json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "id", id, "op", "run", "policy", "open",
			 "argv", "/bin/sh", "-c", script);
}

/* Runs in a child as uid 65534 (credentials are per process: a thread would be root): sends a
 * run and hangs up, unpaced, until stop is readable; every other round it first reads the
 * reply (accepted, or busy beyond its rate). */
static void hangup_loop(int stop, int out)
{
	struct hangup_result r = {0};
	struct pollfd p = {.fd = stop, .events = POLLIN};

	while (poll(&p, 1, 0) == 0) {
		struct sbx_client_test *c = NULL;
		json_t *ev = NULL;
		if (sbx_client_test_connect(fx.sock, &c) < 0)
			break;
		c->keep_transcript = false;
		(void)sbx_client_test_send_take(c, open_run("h", "sleep 600"));
		if (r.rounds % 2 && sbx_client_test_next(c, 5000, &ev) == 0) {
			const char *code = json_string_value(
			    json_object_get(json_object_get(ev, "error"), "code"));
			const char *msg = json_string_value(
			    json_object_get(json_object_get(ev, "error"), "message"));
			r.replies++;
			if (json_object_get(ev, "event"))
				r.accepted++;
			else if (code && strcmp(code, "busy") == 0) {
				r.busy++;
				r.busy_named += msg && strstr(msg, "run rate of uid 65534 exceeded "
								   "(20/s, burst 40)") != NULL;
			} else if (!r.other++)
				(void)snprintf(r.other_code, sizeof(r.other_code), "%s",
					       code ? code : "no code");
			json_decref(ev);
		}
		sbx_client_test_free(c);
		r.rounds++;
	}
	(void)!write(out, &r, sizeof(r));
}

static pid_t as_nobody(void (*fn)(int in, int out), int *ret_in, int *ret_out)
{
	int in[2], out[2];
	pid_t pid;

	cr_assert(eq(int, pipe2(in, O_CLOEXEC), 0));
	cr_assert(eq(int, pipe2(out, O_CLOEXEC), 0));
	pid = fork();
	cr_assert(T(pid >= 0));
	if (pid == 0) {
		(void)close(in[1]);
		(void)close(out[0]);
		(void)setpriority(PRIO_PROCESS, 0, 19);
		if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(3);
		fn(in[0], out[1]);
		_exit(0);
	}
	(void)close(in[0]);
	(void)close(out[1]);
	*ret_in = in[1];
	*ret_out = out[0];
	return pid;
}

static void as_nobody_wait(pid_t pid)
{
	int st = 0;

	cr_assert(eq(int, waitpid(pid, &st, 0), pid));
	cr_assert(T(WIFEXITED(st) && WEXITSTATUS(st) == 0), "uid 65534's process: status 0x%x", st);
}

/* Policy "open": the shipped default with "clients" naming uid 65534; sbxd reloads it and the
 * socket is opened up so that uid 65534 can reach it. */
static void open_to_nobody(void)
{
	struct sbx_test_run run;
	char src[4096], path[8192], *text, *at, *end;
	size_t reloads = 0;

	(void)snprintf(src, sizeof(src), "%s/policy/default.json", SBX_SOURCE_DIR);
	cr_assert(eq(int, sbx_test_runv(&run, 5000, "/bin/cat", src, NULL), 0));
	at = strstr(run.out, "\"clients\"");
	end = at ? strchr(at, '}') : NULL;
	cr_assert(T(at && end), "no clients in %s", src);
	cr_assert(T(asprintf(&text, "%.*s\"clients\": {\"uids\": [65534]}%s", (int)(at - run.out),
			     run.out, end + 1) > 0));
	(void)snprintf(path, sizeof(path), "%s/open.json", fx.policies);
	cr_assert(eq(int, sbx_test_write_file(path, text), 0));
	free(text);
	sbx_test_run_done(&run);
	cr_assert(eq(int, sbx_fixture_signal(&fx, SIGHUP), 0));
	for (int i = 0; i < 250 && !reloads; i++) {
		char *log = sbx_fixture_read_log(&fx, NULL);
		reloads = log && strstr(log, "reloaded: 2 policies");
		free(log);
		(void)usleep(20000);
	}
	cr_assert(T(reloads), "sbxd did not reload policy 'open'");
	cr_assert(eq(int, chmod(fx.base, 0711), 0));
	cr_assert(eq(int, chmod(fx.dir, 0711), 0));
	cr_assert(eq(int, chmod(fx.sock, 0666), 0));
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
	char limits[128];
	const struct sbx_fixture_opts o = {.limits = limits, .clients = NOBODY_RULE};
	struct hangup_result h = {0};
	pid_t hangup_pid = 0;
	int hangup_stop = -1, hangup_out = -1;
	const struct rlimit rl = {8192, 8192};
	static struct sbx_client_test *idle[IDLE];
	/* Static, as the attacker threads use it: a failed assertion ends the test while they
	 * still run, and they must not touch a stack frame that is gone. */
	static struct attack a;
	pthread_t th[4] = {0};
	struct sbx_client_test *good = NULL;
	double unloaded, attacked, t0;
	long rss0, peak = 0, peak_unloaded = 0;
	int fds0, fds1 = -1;
	long clients;
	double window;

	memset(&a, 0, sizeof(a));
	(void)snprintf(limits, sizeof(limits),
		       "{\"max_connections\": 2000, \"idle_timeout\": \"%dms\"}", IDLE_TIMEOUT);
	/* The test's 1,000 sockets, and sbxd's (it inherits the limit). */
	cr_assert(eq(int, setrlimit(RLIMIT_NOFILE, &rl), 0));
	cr_assert(eq(int, sbx_fixture_start(&fx, &o), 0));
	open_to_nobody();
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
		/* The forked attacker first, while this process has no attacker threads yet: a
		 * fork while another thread holds the allocator's lock (ASan's, or glibc's)
		 * leaves the child deadlocked at its first malloc. */
		if (strchr(only, 'h'))
			hangup_pid = as_nobody(hangup_loop, &hangup_stop, &hangup_out);
		cr_assert(eq(
		    int, pthread_create(&th[0], NULL, strchr(only, 'b') ? big_line : noop, &a), 0));
		cr_assert(eq(int,
			     pthread_create(&th[1], NULL, strchr(only, 's') ? slowloris : noop, &a),
			     0));
		cr_assert(eq(
		    int, pthread_create(&th[3], NULL, strchr(only, 'i') ? invalid : noop, &a), 0));
	}
	/* sbxd takes a few new connections per loop turn (ACCEPT_BURST in server.c). */
	for (int i = 0; i < 500 && stats_field(good, "clients") < IDLE; i++)
		(void)usleep(10000);
	clients = stats_field(good, "clients");
	attacked = true_median(good, GOOD_RUNS, &peak);
	window = now_ms() - t0;
	cr_log_info("good client /bin/true median: %.2f ms unloaded, %.2f ms under attack "
		    "(%.0f ms into it); sbxd RSS %ld KiB before, peak %ld KiB",
		    unloaded, attacked, window, rss0, peak);
	(void)pthread_join(th[0], NULL);
	(void)pthread_join(th[1], NULL);
	(void)pthread_join(th[3], NULL);
	a.stop = true;
	/* Judged once the attacker threads are done. */
	cr_assert(T(clients >= IDLE), "sbxd took %ld of 1,000 idle clients", clients);
	cr_assert(T(window < IDLE_TIMEOUT),
		  "measured after the idle clients were closed (%.0f ms, idle_timeout %d ms)",
		  window, IDLE_TIMEOUT);
#ifndef __SANITIZE_ADDRESS__
	/* The bound holds for the plain build; under ASan (2–3x slower, and the attackers'
	 * instrumented loops compete for the same 2 cores) the figures are printed above and
	 * the pass is about memory errors, not time. */
	cr_assert(T(attacked <= 2 * unloaded + 5.0),
		  "median under attack %.2f ms > 2 x %.2f ms + 5 ms", attacked, unloaded);
#endif
	if (hangup_pid > 0) {
		(void)close(hangup_stop);
		cr_assert(eq(int, (int)read(hangup_out, &h, sizeof(h)), (int)sizeof(h)));
		(void)close(hangup_out);
		as_nobody_wait(hangup_pid);
	}

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
	if (hangup_pid > 0) {
		cr_assert(T(h.rounds >= 10), "only %d request-and-hang-up rounds", h.rounds);
		cr_assert(T(h.accepted > 0), "no run of uid 65534 was accepted (%d replies)",
			  h.replies);
		cr_assert(T(h.busy > 0), "uid 65534 was never refused (%d accepted)", h.accepted);
		cr_assert(eq(int, h.busy_named, h.busy), "a busy reply did not name the rate");
		cr_assert(eq(int, h.other, 0), "uid 65534 got %d other replies, the first %s",
			  h.other, h.other_code);
	}
	cr_log_info("attack: %d hang-ups (%d replies read: %d accepted, %d busy), %d invalid "
		    "requests, slowloris closed after %.0f ms",
		    h.rounds, h.replies, h.accepted, h.busy, a.invalid_replies,
		    a.slow_closed_after_ms);

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

/* uid 65534 over its rate while root, held to the same rate by its own rule, still runs. */
static void nobody_runs(int in, int out)
{
	struct sbx_client_test *c = NULL;
	char buf[2048] = "";
	size_t len = 0;

	(void)in;
	if (sbx_client_test_connect(fx.sock, &c) < 0) {
		(void)!write(out, "connect failed", 14);
		return;
	}
	/* Three refused for another reason first: they give their tokens back. */
	for (int i = 0; i < 3; i++)
		(void)sbx_client_test_sendf(c, "{s:s, s:s, s:s, s:[s]}", "id", "u", "op", "run",
					    "policy", "nope", "argv", "/bin/true");
	for (int i = 0; i < 5; i++) {
		char id[16];
		(void)snprintf(id, sizeof(id), "r%d", i);
		(void)sbx_client_test_sendf(c, "{s:s, s:s, s:s, s:[s]}", "id", id, "op", "run",
					    "policy", "open", "argv", "/bin/true");
	}
	for (int i = 0; i < 3; i++) {
		json_t *r = NULL;
		if (sbx_client_test_next_for(c, "u", 5000, &r) == 0)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "u:%s;",
						json_string_value(json_object_get(
						    json_object_get(r, "error"), "code")));
		json_decref(r);
	}
	for (int i = 0; i < 5 && len < sizeof(buf) - 256; i++) {
		struct sbx_client_test_task t;
		char id[16];
		(void)snprintf(id, sizeof(id), "r%d", i);
		if (sbx_client_test_wait(c, id, 10000, &t) < 0)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s:timeout;", id);
		else if (t.exit)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s:exit %d;", id,
						t.code);
		else
			len += (size_t)snprintf(
			    buf + len, sizeof(buf) - len, "%s:%s %s;", id, t.error_code,
			    json_string_value(json_object_get(t.error, "message")));
		sbx_client_test_task_done(&t);
	}
	sbx_client_test_free(c);
	(void)!write(out, buf, len);
}

Test(hostile, a_uid_over_its_run_rate_is_busy_another_is_not)
{
	const struct sbx_fixture_opts o = {
	    .clients = "[{\"uids\": [65534], \"ops\": [\"hello\", \"run\"], \"policies\": "
		       "[\"open\"], \"run_rate\": {\"per_second\": 1, \"burst\": 3}},"
		       "{\"uids\": [0], \"run_rate\": {\"per_second\": 1, \"burst\": 3}}]"};
	struct sbx_client_test *root = NULL;
	char got[2048] = "", path[8192], *audit;
	struct sbx_test_run run;
	int stop, out, n = 0, refused = 0;
	ssize_t len;
	pid_t pid;

	cr_assert(eq(int, sbx_fixture_start(&fx, &o), 0));
	open_to_nobody();
	pid = as_nobody(nobody_runs, &stop, &out);
	cr_assert(eq(int, sbx_client_test_connect(fx.sock, &root), 0));
	/* At the same time: root's own three. */
	for (int i = 0; i < 3; i++) {
		struct sbx_client_test_task t;
		cr_assert(eq(
		    int,
		    sbx_client_test_run(root,
					json_pack("{s:s, s:s, s:s, s:[s]}", "id", "g", "op", "run",
						  "policy", "default", "argv", "/bin/true"),
					10000, &t),
		    0));
		cr_assert(T(t.exit && t.code == 0), "root's run %d: %s", i,
			  t.error_code ? t.error_code : "?");
		sbx_client_test_task_done(&t);
	}
	while ((len = read(out, got + n, sizeof(got) - 1 - (size_t)n)) > 0)
		n += (int)len;
	got[n] = '\0';
	(void)close(out);
	(void)close(stop);
	as_nobody_wait(pid);
	cr_assert(
	    eq(str, got,
	       "u:policy_unknown;u:policy_unknown;u:policy_unknown;r0:exit 0;r1:exit 0;r2:exit "
	       "0;r3:busy run rate of uid 65534 exceeded (1/s, burst 3);r4:busy run rate of "
	       "uid 65534 exceeded (1/s, burst 3);"),
	    "got %s", got);
	/* Root's fourth within the second is over its own rate. */
	{
		json_t *r = NULL;
		cr_assert(eq(
		    int,
		    sbx_client_test_call(root,
					 json_pack("{s:s, s:s, s:s, s:[s]}", "id", "g4", "op",
						   "run", "policy", "default", "argv", "/bin/true"),
					 5000, &r),
		    0));
		cr_assert(T(sbx_test_contains(json_string_value(json_object_get(
						  json_object_get(r, "error"), "message")),
					      "run rate of uid 0 exceeded (1/s, burst 3)")),
			  "root's fourth run was not refused");
		json_decref(r);
	}
	sbx_client_test_free(root);
	/* At most one task.refused record per uid and second. */
	(void)snprintf(path, sizeof(path), "%s/audit.jsonl", fx.dir);
	cr_assert(eq(int, sbx_test_runv(&run, 5000, "/bin/cat", path, NULL), 0));
	audit = run.out;
	for (const char *p = audit; (p = strstr(p, "\"reason\":\"run_rate\"")); p++)
		refused++;
	cr_assert(T(refused >= 2 && refused <= 3), "%d run_rate records:\n%s", refused, audit);
	sbx_test_run_done(&run);
	cr_assert(eq(int, sbx_fixture_stop(&fx, 20000), 0));
}
