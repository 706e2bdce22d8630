/* SPDX-License-Identifier: MIT */
/*
 * Load and soak (issue 8, item 5): SBX_SOAK_TASKS `/bin/true` tasks (default 2,000; `make soak`
 * runs 20,000) from 32 concurrent clients against the real sbxd, then:
 *   - every request got exactly one exit event, and every task id is distinct: nothing lost,
 *     nothing reported twice (a late duplicate would be left over on its connection);
 *   - the audit log has exactly one task.started and one task.exited per task id, no other,
 *     and `sbxctl audit verify` (from the first key) accepts the chain;
 *   - no uid lease is held (the pool's lock files, in this daemon's own runtime_dir) and no
 *     task cgroup or process is left, while sbxd still runs;
 *   - sbxd's RSS at the end is within 10 % of its RSS after the first 1,000 tasks.
 * It prints tasks/s, p50/p99 latency (request sent to exit event) and both RSS figures.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/file.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "tests/integration/harness.h"
#include "tests/integration/sbxd-fixture.h"

#define CLIENTS	      32
#define RSS_MARK      1000
#define TASK_TIMEOUT  60000
#define DEFAULT_TASKS 2000

/* ASan holds freed memory in its quarantine (256 MiB) and valgrind adds its own: RSS says
 * something about sbxd only in a plain build. */
#if defined(__SANITIZE_ADDRESS__)
#	define RSS_MEANINGFUL() false
#else
#	define RSS_MEANINGFUL() (sbx_fixture_slow() == 1)
#endif

static struct sbx_fixture fx;
static char *state; /* runtime_dir and the like, outside the fixture's directory */

static struct {
	long n;
	atomic_long next, done;
	atomic_long rss_mark; /* sbxd's RSS (kB) when done reached RSS_MARK, 0 before */
	char (*task)[64];     /* per request: the task id from its accepted event */
	double *lat_ms;	      /* per request: sent to exit event */
} soak;

struct client {
	pthread_t thread;
	struct sbx_client_test *c;
	char error[256]; /* first failure, "" when none */
};

static void setup(void)
{
	sbx_test_require_root();
	sbx_test_require_file(sbx_test_build_path("sbxd"));
}

static void teardown(void)
{
	sbx_fixture_cleanup(&fx);
	if (state) {
		(void)sbx_test_rm_rf(state);
		free(state);
		state = NULL;
	}
	free(soak.task);
	free(soak.lat_ms);
}

TestSuite(soak, .init = setup, .fini = teardown, .timeout = 3600);

static double now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long tasks_wanted(void)
{
	const char *v = getenv("SBX_SOAK_TASKS");
	long n = v ? strtol(v, NULL, 10) : DEFAULT_TASKS;

	return n > 0 ? n : DEFAULT_TASKS;
}

/* One task, start to exit. Returns 0, or -1 with why filled. */
static int one_task(struct client *cl, long i)
{
	struct sbx_client_test_task t;
	char id[32];
	double t0 = now_ms();
	int r;

	(void)snprintf(id, sizeof(id), "s%ld", i);
	r = sbx_client_test_run(cl->c,
				json_pack("{s:s, s:s, s:s, s:[s]}", "id", id, "op", "run", "policy",
					  "default", "argv", "/bin/true"),
				TASK_TIMEOUT * sbx_fixture_slow(), &t);
	if (r < 0 || !t.exit || t.code != 0 || !t.accepted || !t.task[0] || t.bad_events)
		(void)snprintf(cl->error, sizeof(cl->error),
			       "%s: r=%d exit=%s code=%d accepted=%d error=%s bad_events=%zu", id,
			       r, t.reason ? t.reason : "-", t.code, t.accepted,
			       t.error_code ? t.error_code : "-", t.bad_events);
	else {
		soak.lat_ms[i] = now_ms() - t0;
		(void)snprintf(soak.task[i], sizeof(soak.task[i]), "%s", t.task);
	}
	sbx_client_test_task_done(&t);
	if (cl->error[0])
		return -1;
	if (atomic_fetch_add(&soak.done, 1) + 1 == RSS_MARK)
		atomic_store(&soak.rss_mark, sbx_fixture_rss_kb(&fx));
	return 0;
}

static void *client_main(void *arg)
{
	struct client *cl = arg;

	for (;;) {
		long i = atomic_fetch_add(&soak.next, 1);
		if (i >= soak.n || one_task(cl, i) < 0)
			break;
	}
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Lock files of the uid pool that someone still holds; -1 when the pool has no file at all
 * (then the daemon did not use this directory and the check would prove nothing). */
static int held_leases(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int files = 0, held = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		int fd;
		if (!strstr(de->d_name, ".lock"))
			continue;
		files++;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
			(void)fprintf(stderr, "uid lease %s/%s still held\n", dir, de->d_name);
			held++;
		}
		(void)close(fd);
	}
	(void)closedir(d);
	return files ? held : -1;
}

/* Per task id, how often the log has task.started and task.exited. */
static void count_audit(const char *path, json_t *started, json_t *exited)
{
	FILE *fp = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;

	cr_assert(fp != NULL, "%s", path);
	while (getline(&line, &cap, fp) > 0) {
		json_t *o = json_loads(line, 0, NULL), *map = NULL;
		const char *ev, *task;
		cr_assert(o != NULL, "an audit line is not JSON");
		ev = json_string_value(json_object_get(o, "event"));
		task = json_string_value(json_object_get(o, "task"));
		if (ev && strcmp(ev, "task.started") == 0)
			map = started;
		else if (ev && strcmp(ev, "task.exited") == 0)
			map = exited;
		if (map) {
			cr_assert(task != NULL, "a %s record without a task", ev);
			(void)json_object_set_new(
			    map, task,
			    json_integer(json_integer_value(json_object_get(map, task)) + 1));
		}
		json_decref(o);
	}
	free(line);
	(void)fclose(fp);
}

static void check_audit(void)
{
	json_t *started = json_object(), *exited = json_object();
	struct sbx_test_run r;
	char path[4200];

	(void)snprintf(path, sizeof(path), "%s/audit.jsonl", fx.dir);
	count_audit(path, started, exited);
	cr_assert(eq(sz, json_object_size(started), (size_t)soak.n), "task ids with task.started");
	cr_assert(eq(sz, json_object_size(exited), (size_t)soak.n), "task ids with task.exited");
	for (long i = 0; i < soak.n; i++) {
		cr_assert(eq(i64, json_integer_value(json_object_get(started, soak.task[i])), 1),
			  "task.started records of %s", soak.task[i]);
		cr_assert(eq(i64, json_integer_value(json_object_get(exited, soak.task[i])), 1),
			  "task.exited records of %s", soak.task[i]);
	}
	json_decref(started);
	json_decref(exited);
	cr_assert(eq(int,
		     sbx_test_runv(&r, 300000, sbx_test_build_path("sbxctl"), "audit", "verify",
				   "--key-file", fx.audit_key, path, NULL),
		     0));
	if (r.code != 0)
		sbx_test_run_dump("sbxctl audit verify", &r);
	cr_assert(eq(int, r.code, 0), "sbxctl audit verify");
	sbx_test_run_done(&r);
}

static void print_figures(double secs, long rss_end)
{
	double p50, p99;

	qsort(soak.lat_ms, (size_t)soak.n, sizeof(double), cmp_double);
	p50 = soak.lat_ms[soak.n / 2];
	p99 = soak.lat_ms[(soak.n * 99) / 100];
	(void)fprintf(
	    stderr,
	    "soak: %ld tasks from %d clients in %.1f s: %.0f tasks/s, latency p50 %.1f ms "
	    "p99 %.1f ms; sbxd RSS %ld kB after %d tasks, %ld kB at the end (%+.1f %%)\n",
	    soak.n, CLIENTS, secs, (double)soak.n / secs, p50, p99, atomic_load(&soak.rss_mark),
	    RSS_MARK, rss_end,
	    100.0 * (double)(rss_end - atomic_load(&soak.rss_mark)) /
		(double)atomic_load(&soak.rss_mark));
}

Test(soak, tasks_are_reported_and_audited_once_and_leave_nothing)
{
	static struct client cl[CLIENTS];
	char extra[4400], uids[4400];
	struct sbx_fixture_opts o = {0};
	double t0, secs;
	long rss_end;

	soak.n = tasks_wanted();
	cr_assert(soak.n >= RSS_MARK, "SBX_SOAK_TASKS must be at least %d", RSS_MARK);
	soak.task = calloc((size_t)soak.n, sizeof(*soak.task));
	soak.lat_ms = calloc((size_t)soak.n, sizeof(double));
	cr_assert(soak.task && soak.lat_ms);
	state = sbx_test_mkdtemp("soak");
	cr_assert(state != NULL);
	/* Its own uid pool directory: other sbxd or sbxctl exec on this host lease from
	 * /run/sbx, and their leases must not count here. */
	(void)snprintf(extra, sizeof(extra), "\"runtime_dir\": \"%s/run\"", state);
	(void)snprintf(uids, sizeof(uids), "%s/run/uids", state);
	o.extra = extra;
	o.limits = "{\"max_tasks\": 64, \"max_queued\": 256}";
	cr_assert(eq(int, sbx_fixture_start(&fx, &o), 0));

	for (int k = 0; k < CLIENTS; k++) {
		cr_assert(eq(int, sbx_client_test_connect(fx.sock, &cl[k].c), 0));
		cl[k].c->keep_transcript = false;
	}
	t0 = now_ms();
	for (int k = 0; k < CLIENTS; k++)
		cr_assert(eq(int, pthread_create(&cl[k].thread, NULL, client_main, &cl[k]), 0));
	for (int k = 0; k < CLIENTS; k++)
		(void)pthread_join(cl[k].thread, NULL);
	secs = (now_ms() - t0) / 1e3;
	for (int k = 0; k < CLIENTS; k++)
		cr_assert(eq(str, cl[k].error, ""), "client %d", k);
	cr_assert(eq(i64, atomic_load(&soak.done), soak.n));

	/* Nothing more arrives on any connection: no duplicate or stray event. */
	for (int k = 0; k < CLIENTS; k++) {
		json_t *late = NULL;
		int r = sbx_client_test_next(cl[k].c, 300, &late);
		cr_assert(eq(int, r, -ETIMEDOUT), "client %d got a line after all its exits: %s", k,
			  late ? json_dumps(late, JSON_COMPACT) : "(none)");
		cl[k].c = sbx_client_test_free(cl[k].c);
	}
	/* Distinct task ids: no two requests reported under one task. */
	{
		char(*sorted)[64] = malloc((size_t)soak.n * sizeof(*sorted));
		cr_assert(sorted != NULL);
		memcpy(sorted, soak.task, (size_t)soak.n * sizeof(*sorted));
		qsort(sorted, (size_t)soak.n, sizeof(*sorted), cmp_str);
		for (long i = 1; i < soak.n; i++)
			cr_assert(ne(str, sorted[i - 1], sorted[i]), "task id reported twice");
		free(sorted);
	}

	rss_end = sbx_fixture_rss_kb(&fx);
	print_figures(secs, rss_end);
	cr_assert(eq(int, held_leases(uids), 0), "uid leases left in %s (-1: none ever made)",
		  uids);
	cr_assert(eq(int, sbx_fixture_check_clean(fx.pid), 0), "task cgroups or processes left");
	/* Memory use is flat: no per-task leak. */
	if (RSS_MEANINGFUL())
		cr_assert(le(i64, rss_end, atomic_load(&soak.rss_mark) * 110 / 100),
			  "sbxd RSS grew from %ld kB after %d tasks to %ld kB",
			  atomic_load(&soak.rss_mark), RSS_MARK, rss_end);

	cr_assert(eq(int, sbx_fixture_stop(&fx, 30000), 0), "sbxd did not stop cleanly");
	check_audit();
}
