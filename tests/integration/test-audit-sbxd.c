/* SPDX-License-Identifier: MIT */
/*
 * No task runs unaudited: 1,000 tasks through the real sbxd from 10 connections give exactly
 * 1,000 task.started and 1,000 task.exited records, one per task, the chain verifies, and a
 * canary secret used by some of them appears nowhere in the log. And fail closed: when the
 * log's file system is full, sbxd refuses new tasks with audit_unavailable, and resumes by
 * itself when space is freed, the chain recording the outage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/file.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "tests/integration/harness.h"
#include "tests/integration/sbxd-fixture.h"

#define CONNS 10
#define PER   100
#define WAVE  20

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

TestSuite(audit_sbxd, .init = setup, .fini = teardown, .timeout = 300);

static size_t count(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

Test(audit_sbxd, every_task_is_started_and_exited_once_in_the_log)
{
	struct sbx_client_test *c[CONNS] = {0};
	const struct sbx_fixture_opts o = {0};
	char canary[64], id[32], path[4200], *log;
	struct sbx_test_run r;
	const char *blob;
	json_t *reply;
	size_t len;

	cr_assert(eq(int, sbx_fixture_start(&fx, &o), 0));
	(void)snprintf(canary, sizeof(canary), "sk-audit-canary-%d-%ld", (int)getpid(), random());
	cr_assert(eq(int, sbx_client_test_connect(fx.sock, &c[0]), 0));
	cr_assert(eq(
	    int,
	    sbx_client_test_call(c[0],
				 json_pack("{s:s, s:s, s:s, s:{s:s}}", "id", "seal", "op", "seal",
					   "context", "audit:1", "secrets", "AUDIT_TOKEN", canary),
				 10000, &reply),
	    0));
	blob = json_string_value(json_object_get(reply, "sealed"));
	cr_assert(blob != NULL);
	for (int k = 1; k < CONNS; k++)
		cr_assert(eq(int, sbx_client_test_connect(fx.sock, &c[k]), 0));
	/* Waves of 200 (beyond max_tasks, within max_queued, so some queue); every tenth task
	 * uses the canary. */
	for (int w = 0; w < PER; w += WAVE) {
		for (int i = w; i < w + WAVE; i++)
			for (int k = 0; k < CONNS; k++) {
				json_t *req;
				(void)snprintf(id, sizeof(id), "c%d-%d", k, i);
				req = json_pack("{s:s, s:s, s:s, s:[s]}", "id", id, "op", "run",
						"policy", "default", "argv", "/bin/true");
				if (i % 10 == 0) {
					(void)json_object_set_new(req, "sealed", json_string(blob));
					(void)json_object_set_new(req, "context",
								  json_string("audit:1"));
				}
				cr_assert(eq(int, sbx_client_test_send_take(c[k], req), 0));
			}
		for (int i = w; i < w + WAVE; i++)
			for (int k = 0; k < CONNS; k++) {
				struct sbx_client_test_task t;
				(void)snprintf(id, sizeof(id), "c%d-%d", k, i);
				cr_assert(eq(int, sbx_client_test_wait(c[k], id, 120000, &t), 0),
					  "%s", id);
				cr_assert(t.exit != NULL, "%s ended without exit (%s)", id,
					  t.error_code ? t.error_code : "-");
				cr_assert(eq(int, t.code, 0));
				sbx_client_test_task_done(&t);
			}
	}
	json_decref(reply);
	for (int k = 0; k < CONNS; k++)
		c[k] = sbx_client_test_free(c[k]);
	cr_assert(eq(int, sbx_fixture_stop(&fx, 30000), 0));

	(void)snprintf(path, sizeof(path), "%s/audit.jsonl", fx.dir);
	cr_assert(eq(int, sbx_test_runv(&r, 20000, "/bin/cat", path, NULL), 0));
	log = r.out;
	len = r.out_len;
	cr_assert(len > 0);
	cr_assert(eq(sz, count(log, "\"event\":\"task.started\""), CONNS * PER));
	cr_assert(eq(sz, count(log, "\"event\":\"task.exited\""), CONNS * PER));
	cr_assert(eq(sz, count(log, "\"event\":\"task.requested\""), CONNS * PER));
	cr_assert(eq(sz, count(log, "\"event\":\"secrets.opened\""), CONNS * PER / 10));
	cr_assert(eq(sz, count(log, "\"event\":\"daemon.stopped\""), 1));
	cr_assert(eq(ptr, strstr(log, canary), NULL), "the canary is in the audit log");
	sbx_test_run_done(&r);

	cr_assert(eq(
	    int,
	    sbx_test_runv(&r, 60000, sbx_test_build_path("sbxctl"), "audit", "verify", path, NULL),
	    0));
	if (r.code != 0)
		sbx_test_run_dump("sbxctl audit verify", &r);
	cr_assert(eq(int, r.code, 0));
	cr_assert(sbx_test_contains(r.out, "ok "));
	sbx_test_run_done(&r);
}

/* ---- fail closed: the audit disk fills while sbxd runs ---- */

static pid_t start_dev(const char *dir, const char *log)
{
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		(void)dup2(fd, STDERR_FILENO);
		execl(sbx_test_build_path("sbxd"), "sbxd", "--dev", dir, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static const char *run_true(const char *sock, const char *id)
{
	static char code[64];
	struct sbx_client_test *c = NULL;
	struct sbx_client_test_task t;

	cr_assert(eq(int, sbx_client_test_connect(sock, &c), 0));
	cr_assert(eq(int,
		     sbx_client_test_run(c,
					 json_pack("{s:s, s:s, s:s, s:[s]}", "id", id, "op", "run",
						   "policy", "default", "argv", "/bin/true"),
					 30000, &t),
		     0));
	(void)snprintf(code, sizeof(code), "%s",
		       t.exit	      ? "exit"
		       : t.error_code ? t.error_code
				      : "?");
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c);
	return code;
}

Test(audit_sbxd, full_audit_disk_refuses_new_work_and_recovers)
{
	char *base = sbx_test_mkdtemp("auditfull");
	char dir[4200], sock[4300], log[4300], filler[4300], path[4300];
	const char *got = "";
	struct sbx_test_run r;
	int st, fd;
	pid_t pid;

	cr_assert(base != NULL);
	cr_assert(eq(int, mount("sbx-test", base, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m"), 0));
	(void)snprintf(dir, sizeof(dir), "%s/dev", base);
	(void)snprintf(sock, sizeof(sock), "%s/sbxd.sock", dir);
	(void)snprintf(log, sizeof(log), "/tmp/sbx-auditfull-%d.log", (int)getpid());
	(void)snprintf(filler, sizeof(filler), "%s/filler", base);
	(void)snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	pid = start_dev(dir, log);
	cr_assert(eq(int, sbx_fixture_wait_accepting(sock, pid, 5000, NULL), 0), "see %s", log);
	cr_assert(eq(str, (char *)run_true(sock, "before"), "exit"));

	/* Fill the file system that holds the log. */
	fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	cr_assert(fd >= 0);
	{
		char block[4096];
		memset(block, 'f', sizeof(block));
		while (write(fd, block, sizeof(block)) > 0)
			;
	}
	(void)close(fd);
	for (int i = 0; i < 5 && strcmp(got, "audit_unavailable") != 0; i++)
		got = run_true(sock, "full");
	cr_assert(eq(str, (char *)got, "audit_unavailable"), "a task ran while the log was full");

	/* Space again: sbxd resumes by itself (its audit timer ticks every second). */
	cr_assert(eq(int, unlink(filler), 0));
	got = "";
	for (int i = 0; i < 50 && strcmp(got, "exit") != 0; i++) {
		(void)usleep(200000);
		got = run_true(sock, "after");
	}
	cr_assert(eq(str, (char *)got, "exit"), "sbxd did not resume after space was freed");

	cr_assert(eq(int, kill(pid, SIGTERM), 0));
	cr_assert(eq(int, waitpid(pid, &st, 0), pid));
	cr_assert(eq(
	    int,
	    sbx_test_runv(&r, 30000, sbx_test_build_path("sbxctl"), "audit", "verify", path, NULL),
	    0));
	if (r.code != 0)
		sbx_test_run_dump("sbxctl audit verify", &r);
	cr_assert(eq(int, r.code, 0));
	sbx_test_run_done(&r);
	cr_assert(eq(int, sbx_test_runv(&r, 30000, "/bin/cat", path, NULL), 0));
	cr_assert(sbx_test_contains(r.out, "\"event\":\"audit.unavailable\""));
	cr_assert(sbx_test_contains(r.out, "\"event\":\"audit.recovered\""));
	cr_assert(sbx_test_contains(r.out, "\"task\":\"sbxd-"));
	sbx_test_run_done(&r);
	(void)umount2(base, MNT_DETACH);
	(void)sbx_test_rm_rf(base);
	(void)unlink(log);
	free(base);
}

/* ---- sbxd killed outright while tasks run ---- */

static int count_cgroups(const char *prefix)
{
	static const char *const dirs[] = {"/sys/fs/cgroup/unified/sbx", "/sys/fs/cgroup/sbx",
					   "/sys/fs/cgroup/pids/sbx"};
	char want[64];
	int n = 0;

	(void)snprintf(want, sizeof(want), "%s", prefix);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;
		while (d && (de = readdir(d)))
			if (strncmp(de->d_name, want, strlen(want)) == 0)
				n++;
		if (d)
			(void)closedir(d);
	}
	return n;
}

/* Is the uid's lease (an flock on /run/sbx/uids/UID.lock) free? Waits up to 3 s: another
 * sbxd on the machine may lease the same uid for a moment once it is free. */
static bool lease_free(int uid)
{
	char path[64];

	(void)snprintf(path, sizeof(path), "/run/sbx/uids/%d.lock", uid);
	for (int i = 0; i < 60; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		bool got;
		if (fd < 0)
			return errno == ENOENT;
		got = flock(fd, LOCK_EX | LOCK_NB) == 0;
		(void)close(fd);
		if (got)
			return true;
		(void)usleep(50000);
	}
	return false;
}

/* Number of processes whose real uid is one of uids. */
static int procs_of(const int *uids, size_t n)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int found = 0;

	while (d && (de = readdir(d))) {
		char path[300], buf[4096], *p;
		ssize_t len;
		int fd;
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		(void)close(fd);
		buf[len > 0 ? len : 0] = '\0';
		p = strstr(buf, "\nUid:");
		for (size_t i = 0; p && i < n; i++)
			if (atoi(p + 5) == uids[i])
				found++;
	}
	if (d)
		(void)closedir(d);
	return found;
}

Test(audit_sbxd, sigkill_of_sbxd_leaves_no_sandbox_and_restart_is_clean)
{
	int uids[50];
	size_t n_uids = 0;
	char *base = sbx_test_mkdtemp("sbxdkill");
	char dir[4200], sock[4300], log[4300], path[4300], prefix[64];
	struct sbx_client_test *c = NULL;
	struct sbx_test_run r;
	int st;
	pid_t pid;

	cr_assert(base != NULL);
	(void)snprintf(dir, sizeof(dir), "%s/dev", base);
	(void)snprintf(sock, sizeof(sock), "%s/sbxd.sock", dir);
	(void)snprintf(log, sizeof(log), "%s/sbxd.log", base);
	(void)snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	pid = start_dev(dir, log);
	cr_assert(eq(int, sbx_fixture_wait_accepting(sock, pid, 5000, NULL), 0), "see %s", log);
	cr_assert(eq(int, sbx_client_test_connect(sock, &c), 0));
	for (int i = 0; i < 50; i++) {
		char id[16];
		(void)snprintf(id, sizeof(id), "k%d", i);
		cr_assert(eq(
		    int, sbx_client_test_send_take(c, sbx_client_test_sh(id, "sleep 876.5")), 0));
	}
	/* All 50 run at once (max_tasks 64); each reports its pool uid. */
	while (n_uids < 50) {
		json_t *ev = NULL;
		const char *name;
		cr_assert(eq(int, sbx_client_test_next(c, 20000, &ev), 0), "%zu of 50 started",
			  n_uids);
		name = json_string_value(json_object_get(ev, "event"));
		cr_assert(name != NULL, "a task failed instead of starting");
		if (strcmp(name, "started") == 0)
			uids[n_uids++] = (int)json_integer_value(json_object_get(ev, "uid"));
		json_decref(ev);
	}
	cr_assert(sbx_fixture_find_process("876.5") > 0, "no task started");
	(void)snprintf(prefix, sizeof(prefix), "sbxd-%d-", (int)pid);
	cr_assert(count_cgroups(prefix) > 0);

	cr_assert(eq(int, kill(pid, SIGKILL), 0));
	cr_assert(eq(int, waitpid(pid, &st, 0), pid));
	cr_assert(sbx_fixture_wait_gone("876.5", 1000), "a sandbox survived sbxd's SIGKILL");
	for (int i = 0; i < 40 && procs_of(uids, n_uids) > 0; i++)
		(void)usleep(50000);
	cr_assert(eq(int, procs_of(uids, n_uids), 0), "a process of a task's uid survived");
	for (size_t i = 0; i < n_uids; i++)
		cr_assert(lease_free(uids[i]), "the lease of uid %d is still held", uids[i]);
	c = sbx_client_test_free(c);

	/* Restart on the same directory: stale groups are removed, the chain continues. */
	pid = start_dev(dir, log);
	cr_assert(eq(int, sbx_fixture_wait_accepting(sock, pid, 5000, NULL), 0), "see %s", log);
	for (int i = 0; i < 100 && count_cgroups(prefix) > 0; i++)
		(void)usleep(50000);
	cr_assert(eq(int, count_cgroups(prefix), 0), "stale cgroups of the killed sbxd remain");
	cr_assert(eq(str, (char *)run_true(sock, "after-restart"), "exit"));
	cr_assert(eq(int, kill(pid, SIGTERM), 0));
	cr_assert(eq(int, waitpid(pid, &st, 0), pid));
	cr_assert(eq(
	    int,
	    sbx_test_runv(&r, 30000, sbx_test_build_path("sbxctl"), "audit", "verify", path, NULL),
	    0));
	if (r.code != 0)
		sbx_test_run_dump("sbxctl audit verify", &r);
	cr_assert(eq(int, r.code, 0));
	sbx_test_run_done(&r);
	/* The restart says once that the log was left by a killed sbxd. */
	cr_assert(eq(int, sbx_test_runv(&r, 30000, "/bin/cat", path, NULL), 0));
	cr_assert(eq(sz, count(r.out, "\"event\":\"audit.recovered\""), 1));
	cr_assert(eq(sz, count(r.out, "\"reason\":\"unclean_stop\""), 1));
	cr_assert(eq(sz, count(r.out, "\"event\":\"task.started\""), 51));
	sbx_test_run_done(&r);
	(void)sbx_test_rm_rf(base);
	free(base);
}

/* Keys rotated and retired offline with sbxctl are recorded when sbxd takes them in (SIGHUP). */
Test(audit_sbxd, keyring_rotation_and_retirement_are_recorded_on_reload)
{
	char *base = sbx_test_mkdtemp("keyrec");
	char dir[4200], sock[4300], log[4300], path[4300], keyring[4300];
	struct sbx_test_run r;
	int st;
	pid_t pid;

	cr_assert(base != NULL);
	(void)snprintf(dir, sizeof(dir), "%s/dev", base);
	(void)snprintf(sock, sizeof(sock), "%s/sbxd.sock", dir);
	(void)snprintf(log, sizeof(log), "%s/sbxd.log", base);
	(void)snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	(void)snprintf(keyring, sizeof(keyring), "%s/keyring", dir);
	pid = start_dev(dir, log);
	cr_assert(eq(int, sbx_fixture_wait_accepting(sock, pid, 5000, NULL), 0), "see %s", log);
	cr_assert(eq(int,
		     sbx_test_runv(&r, 20000, sbx_test_build_path("sbxctl"), "keys", "rotate",
				   "--keyring", keyring, NULL),
		     0));
	cr_assert(eq(int, r.code, 0));
	sbx_test_run_done(&r);
	cr_assert(eq(int,
		     sbx_test_runv(&r, 20000, sbx_test_build_path("sbxctl"), "keys", "retire", "1",
				   "--keyring", keyring, NULL),
		     0));
	cr_assert(eq(int, r.code, 0));
	sbx_test_run_done(&r);
	cr_assert(eq(int, kill(pid, SIGHUP), 0));
	(void)usleep(300000);
	cr_assert(eq(str, (char *)run_true(sock, "after-reload"), "exit"));
	cr_assert(eq(int, kill(pid, SIGTERM), 0));
	cr_assert(eq(int, waitpid(pid, &st, 0), pid));
	cr_assert(eq(int, sbx_test_runv(&r, 20000, "/bin/cat", path, NULL), 0));
	cr_assert(sbx_test_contains(r.out, "\"event\":\"keyring.rotated\""));
	cr_assert(sbx_test_contains(r.out, "\"from\":1,\"to\":2"));
	cr_assert(sbx_test_contains(r.out, "\"event\":\"keyring.retired\""));
	cr_assert(sbx_test_contains(r.out, "\"event\":\"daemon.reloaded\""));
	sbx_test_run_done(&r);
	(void)sbx_test_rm_rf(base);
	free(base);
}
