/* SPDX-License-Identifier: MIT */
/* The uid pool (sandbox/ids.c): leases are exclusive across processes and released on exit. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "sandbox/internal.h"

static char dir[] = "/tmp/sbx-test-ids-XXXXXX";

static void setup(void)
{
	cr_assert(mkdtemp(dir) != NULL);
}

static void teardown(void)
{
	char cmd[128];
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
	memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
}

TestSuite(ids, .init = setup, .fini = teardown, .timeout = 30);

Test(ids, lease_in_range_and_distinct)
{
	struct sbx_ids_lease a, b;

	cr_assert(eq(int, sbx_ids_lease(dir, 300000, 2, &a), 0));
	cr_assert(eq(int, sbx_ids_lease(dir, 300000, 2, &b), 0));
	cr_assert(a.uid >= 300000 && a.uid < 300002);
	cr_assert(b.uid >= 300000 && b.uid < 300002);
	cr_assert(ne(u32, a.uid, b.uid));
	sbx_ids_release(&a);
	sbx_ids_release(&b);
	cr_assert(eq(int, a.lock_fd, -1));
}

Test(ids, exhausted_pool_is_eusers_and_release_frees)
{
	struct sbx_ids_lease a, b;

	cr_assert(eq(int, sbx_ids_lease(dir, 300000, 1, &a), 0));
	cr_assert(eq(int, sbx_ids_lease(dir, 300000, 1, &b), -EUSERS));
	sbx_ids_release(&a);
	cr_assert(eq(int, sbx_ids_lease(dir, 300000, 1, &b), 0));
	cr_assert(eq(u32, b.uid, 300000));
	sbx_ids_release(&b);
}

Test(ids, bad_arguments)
{
	struct sbx_ids_lease a;

	cr_assert(eq(int, sbx_ids_lease(dir, 300000, 0, &a), -EINVAL));
	cr_assert(eq(int, sbx_ids_lease(dir, 0, 10, &a), -EINVAL));
	cr_assert(eq(int, sbx_ids_lease(dir, UINT32_MAX - 1, 10, &a), -EINVAL));
}

Test(ids, refuses_a_planted_directory)
{
	struct sbx_ids_lease a;

	cr_assert(eq(int, chmod(dir, 0777), 0));
	cr_assert(eq(int, sbx_ids_lease(dir, 300000, 4, &a), -EPERM));
}

/* 16 processes lease at once from a pool of 16 and hold their lease until all have one:
 * every uid must be different (a shared uid would be a cross-sandbox channel). */
Test(ids, concurrent_processes_never_share)
{
	enum {
		N = 16
	};
	int go[2], hold[2], res[2];
	uid_t seen[N];
	pid_t kids[N];

	cr_assert(eq(int, pipe(go), 0));
	cr_assert(eq(int, pipe(hold), 0));
	cr_assert(eq(int, pipe(res), 0));
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		cr_assert(kids[i] >= 0);
		if (kids[i] == 0) {
			struct sbx_ids_lease l;
			char c;
			(void)close(go[1]);
			(void)close(hold[1]);
			(void)!read(go[0], &c, 1); /* start together */
			if (sbx_ids_lease(dir, 310000, N, &l) < 0)
				_exit(1);
			(void)!write(res[1], &l.uid, sizeof(l.uid));
			(void)!read(hold[0], &c,
				    1); /* hold the lease until the parent closes hold */
			_exit(0);
		}
	}
	(void)close(go[0]);
	(void)close(hold[0]);
	(void)close(res[1]);
	for (int i = 0; i < N; i++)
		(void)!write(go[1], "g", 1);
	for (int i = 0; i < N; i++)
		cr_assert(eq(sz, read(res[0], &seen[i], sizeof(uid_t)), sizeof(uid_t)));
	(void)close(go[1]);
	(void)close(hold[1]);
	for (int i = 0; i < N; i++) {
		int st;
		cr_assert(eq(int, waitpid(kids[i], &st, 0), kids[i]));
		bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
		cr_assert(ok, "child %d failed to lease", i);
		for (int j = 0; j < i; j++)
			cr_assert(ne(u32, seen[i], seen[j]), "uid %u leased twice", seen[i]);
	}
}

/* A lease dies with its holder, even one killed with SIGKILL. */
Test(ids, lease_released_when_holder_dies)
{
	struct sbx_ids_lease a;
	int st, ready[2];
	char c = 0;
	pid_t pid;

	cr_assert(eq(int, pipe(ready), 0));
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct sbx_ids_lease l;
		if (sbx_ids_lease(dir, 320000, 1, &l) < 0)
			_exit(1);
		(void)!write(ready[1], "r", 1);
		pause();
		_exit(0);
	}
	(void)close(ready[1]);
	cr_assert(eq(int, (int)read(ready[0], &c, 1), 1), "the child could not lease");
	cr_assert(eq(int, sbx_ids_lease(dir, 320000, 1, &a), -EUSERS));
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, &st, 0);
	cr_assert(eq(int, sbx_ids_lease(dir, 320000, 1, &a), 0));
	sbx_ids_release(&a);
}
