/* SPDX-License-Identifier: MIT */
/*
 * sbxd in a delegated cgroup v2 subtree, as systemd's Delegate=yes gives it: the daemon moves
 * itself into the leaf "<own>/supervisor" and makes each task's group a sibling of that leaf,
 * inside its own subtree, instead of "/sbx" at the unified root. Without the delegation mark
 * (the xattr trusted.delegate=1) it leaves its group alone.
 *
 * The subtree is a fresh directory of the host's unified hierarchy made by the test and
 * removed after it; the machine's cgroup mounts are not touched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>
#include <sys/xattr.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "tests/integration/harness.h"
#include "tests/integration/sbxd-fixture.h"

static struct sbx_fixture f;

static char group[PATH_MAX];

/* snprintf whose truncation fails the test. */
#define PATHF(buf, len, ...) \
	cr_assert(snprintf(buf, len, __VA_ARGS__) < (int)(len), "path too long")

/* The unified hierarchy's mount point, or "" without one. */
static void v2_mount(char *buf, size_t len)
{
	FILE *m = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	buf[0] = '\0';
	cr_assert(m != NULL);
	while (fgets(line, sizeof(line), m)) {
		char mnt[PATH_MAX];
		const char *dash = strstr(line, " - cgroup2 ");
		if (dash && sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1) {
			PATHF(buf, len, "%s", mnt);
			break;
		}
	}
	(void)fclose(m);
}

static void setup(void)
{
	char mnt[PATH_MAX];

	sbx_test_require_root();
	v2_mount(mnt, sizeof(mnt));
	if (!mnt[0])
		cr_skip_test("no cgroup2 mount on this host");
	PATHF(group, sizeof(group), "%s/sbx-test-delegate-%d", mnt, (int)getpid());
	cr_assert(eq(int, mkdir(group, 0755), 0), "mkdir %s: %s", group, strerror(errno));
}

/* rmdir every child group, then the group (each must be empty of processes by now). */
static void remove_groups(void)
{
	DIR *d;
	struct dirent *de;
	char path[PATH_MAX + 300];

	if (!group[0])
		return;
	d = opendir(group);
	while (d && (de = readdir(d)))
		if (de->d_type == DT_DIR && de->d_name[0] != '.') {
			PATHF(path, sizeof(path), "%s/%s", group, de->d_name);
			(void)rmdir(path);
		}
	if (d)
		(void)closedir(d);
	(void)rmdir(group);
	group[0] = '\0';
}

static void teardown(void)
{
	sbx_fixture_cleanup(&f);
	remove_groups();
}

TestSuite(cgroup, .init = setup, .fini = teardown, .timeout = 60);

/* Does the group's cgroup.procs list pid? */
static bool lists(const char *dir, pid_t pid)
{
	char path[PATH_MAX + 32], line[32];
	bool found = false;
	FILE *p;

	PATHF(path, sizeof(path), "%s/cgroup.procs", dir);
	p = fopen(path, "re");
	if (!p)
		return false;
	while (!found && fgets(line, sizeof(line), p))
		found = atoi(line) == (int)pid;
	(void)fclose(p);
	return found;
}

/* The child groups of the test's group whose name starts with prefix. */
static int count_children(const char *prefix, char *first, size_t len)
{
	DIR *d = opendir(group);
	struct dirent *de;
	int n = 0;

	cr_assert(d != NULL);
	while ((de = readdir(d)))
		if (de->d_type == DT_DIR && strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			if (n++ == 0 && first)
				PATHF(first, len, "%s/%s", group, de->d_name);
		}
	(void)closedir(d);
	return n;
}

static void start_sleeper(struct sbx_client_test **ret)
{
	struct sbx_client_test *c;
	json_t *ev;

	cr_assert(eq(int, sbx_client_test_connect(f.sock, &c), 0));
	cr_assert(eq(int, sbx_client_test_send_take(c, sbx_client_test_sh("s", "sleep 600")), 0));
	for (;;) {
		const char *name;
		bool started;
		cr_assert(eq(int, sbx_client_test_next_for(c, "s", T_TASK, &ev), 0));
		name = json_string_value(json_object_get(ev, "event"));
		cr_assert(name != NULL, "no event in a reply to the run");
		started = strcmp(name, "started") == 0;
		json_decref(ev);
		if (started)
			break;
	}
	*ret = c;
}

Test(cgroup, delegated_subtree_holds_the_supervisor_leaf_and_the_task_groups)
{
	const struct sbx_fixture_opts opts = {.cgroup = group};
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	char leaf[PATH_MAX + 16], prefix[64], task[PATH_MAX + 300];

	if (setxattr(group, "trusted.delegate", "1", 1, 0) < 0)
		cr_skip_test("cgroupfs here takes no trusted.* xattr: %s", strerror(errno));
	cr_assert(eq(int, sbx_fixture_start(&f, &opts), 0));
	PATHF(leaf, sizeof(leaf), "%s/supervisor", group);
	cr_assert(T(lists(leaf, f.pid)), "sbxd (pid %d) is not in the leaf %s", (int)f.pid, leaf);
	cr_assert(T(!lists(group, f.pid)), "sbxd stayed in its delegated group");
	cr_assert(T(sbx_fixture_wait_log(&f, "below the delegated subtree", 1000)),
		  "sbxd did not say where task groups go");

	start_sleeper(&c);
	PATHF(prefix, sizeof(prefix), "sbxd-%d-", (int)f.pid);
	cr_assert(eq(int, count_children(prefix, task, sizeof(task)), 1),
		  "the running task has no group of its own below %s", group);
	{
		char procs[PATH_MAX + 320];
		_cleanup_free_ char *text = NULL;
		PATHF(procs, sizeof(procs), "%s/cgroup.procs", task);
		cr_assert(eq(int, sbx_fd_read_file(procs, 1 << 16, &text, NULL), 0));
		cr_assert(T(text[0] != '\0'), "the task's group %s holds no process", task);
	}

	/* Cancelled by the hangup: its group goes, the leaf stays with sbxd. */
	cr_assert(
	    eq(int,
	       sbx_client_test_send_take(c, json_pack("{s:s, s:s, s:s}", "id", "c", "op", "cancel",
						      "task", strrchr(task, '/') + 1)),
	       0));
	cr_assert(eq(int, sbx_client_test_wait(c, "s", T_TASK, &t), 0));
	sbx_client_test_task_done(&t);
	sbx_client_test_free(c);
	for (int i = 0; i < 200 && count_children(prefix, NULL, 0) > 0; i++)
		(void)nanosleep(&(struct timespec){0, 10000000}, NULL);
	cr_assert(eq(int, count_children(prefix, NULL, 0), 0), "a task group outlived its task");
	cr_assert(eq(int, sbx_fixture_stop(&f, 10000), 0));
}

Test(cgroup, an_unmarked_group_is_left_alone)
{
	const struct sbx_fixture_opts opts = {.cgroup = group};
	char leaf[PATH_MAX + 16];
	struct stat st;

	cr_assert(eq(int, sbx_fixture_start(&f, &opts), 0));
	cr_assert(T(lists(group, f.pid)), "sbxd left a group that was not delegated to it");
	PATHF(leaf, sizeof(leaf), "%s/supervisor", group);
	cr_assert(T(stat(leaf, &st) < 0 && errno == ENOENT), "sbxd made %s", leaf);
	cr_assert(eq(int, sbx_fixture_stop(&f, 10000), 0));
}
