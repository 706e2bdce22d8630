/* SPDX-License-Identifier: MIT */
/* Secret memory: locking, wiping, fork behaviour, the jansson arena, passphrase rules. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/wait.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>

#include "keys/internal.h"
#include "keys/secret.h"

static void setup(void)
{
	cr_assert(eq(int, sbx_secret_init(false), 0));
}

TestSuite(secret, .init = setup, .timeout = 30);

Test(secret, new_is_zeroed_and_locked)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *s = NULL;
	unsigned char zero[100] = {0};

	cr_assert(eq(int, sbx_secret_new(100, &s), 0));
	cr_assert(eq(sz, sbx_secret_len(s), 100));
	cr_assert(memcmp(sbx_secret_data(s), zero, 100) == 0);
	/* Locked pages count in VmLck. */
	{
		FILE *f = fopen("/proc/self/status", "re");
		char line[256];
		long kb = -1;
		cr_assert(f != NULL);
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "VmLck: %ld", &kb) == 1)
				break;
		(void)fclose(f);
		cr_assert(gt(long, kb, 0));
	}
}

Test(secret, wiped_in_forked_child)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *s = NULL, *inh = NULL;
	pid_t pid;
	int status = 0;

	cr_assert(eq(int, sbx_secret_new(32, &s), 0));
	cr_assert(eq(int, sbx_secret_new_inheritable(32, &inh), 0));
	memset(sbx_secret_data(s), 0x5a, 32);
	memset(sbx_secret_data(inh), 0x5a, 32);
	pid = fork();
	cr_assert(ge(int, pid, 0));
	if (pid == 0) {
		/* MADV_WIPEONFORK: the child sees zeros; the inheritable buffer is intact. */
		int bad = sbx_secret_data(s)[0] != 0 || sbx_secret_data(inh)[0] != 0x5a;
		_exit(bad);
	}
	cr_assert(eq(int, waitpid(pid, &status, 0), pid));
	cr_assert(eq(int, status, 0));
	cr_assert(eq(int, sbx_secret_data(s)[0], 0x5a), "the parent keeps its copy");
}

Test(secret, equal_and_truncate)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *a = NULL, *b = NULL;

	cr_assert(eq(int, sbx_secret_new(8, &a), 0));
	cr_assert(eq(int, sbx_secret_new(8, &b), 0));
	cr_assert(sbx_secret_equal(a, b));
	sbx_secret_data(b)[7] = 1;
	cr_assert(not(sbx_secret_equal(a, b)));
	sbx_secret_truncate(b, 7);
	cr_assert(eq(sz, sbx_secret_len(b), 7));
	cr_assert(eq(int, sbx_secret_data(b)[7], 0), "the tail is wiped");
	cr_assert(not(sbx_secret_equal(a, b)));
}

Test(secret, erase_on_return)
{
	unsigned char *seen;

	{
		unsigned char buf[16];
		SBX_ERASE_ON_RETURN(buf);
		memset(buf, 0x77, sizeof(buf));
		seen = buf;
		(void)seen;
	}
	/* Cannot portably read a dead stack slot; the attribute compiles and runs. */
	cr_assert(true);
}

Test(secret, json_arena)
{
	const char *doc = "{\"A_TOKEN\":\"value-in-the-arena\"}";
	json_t *j;

	cr_assert(eq(int, sbx_secret_arena_begin(4096), 0));
	cr_assert(eq(int, sbx_secret_arena_begin(4096), -EBUSY));
	j = json_loads(doc, 0, NULL);
	cr_assert(j != NULL);
	cr_assert(eq(str, (char *)json_string_value(json_object_get(j, "A_TOKEN")),
		     "value-in-the-arena"));
	json_decref(j);
	sbx_secret_arena_end();
	/* A document too large for its arena fails cleanly instead of spilling to the heap. */
	cr_assert(eq(int, sbx_secret_arena_begin(64), 0));
	j = json_loads(doc, 0, NULL);
	cr_assert(j == NULL);
	sbx_secret_arena_end();
	/* Outside an arena jansson still works (heap, wiped on free). */
	j = json_loads(doc, 0, NULL);
	cr_assert(j != NULL);
	json_decref(j);
}

static int passfile(const char *content, struct sbx_secret **ret)
{
	char path[] = "/tmp/sbx-test-pass-XXXXXX";
	int fd = mkstemp(path), r;

	cr_assert(ge(int, fd, 0));
	cr_assert(eq(int, (int)write(fd, content, strlen(content)), (int)strlen(content)));
	(void)close(fd);
	r = sbx_secret_read_passphrase_file(path, ret);
	(void)unlink(path);
	return r;
}

Test(secret, passphrase_rules)
{
	struct sbx_secret *p = NULL;

	cr_assert(eq(int, passfile("", &p), -EINVAL));
	cr_assert(eq(int, passfile("\n", &p), -EINVAL));
	cr_assert(eq(int, passfile("elevenchars\n", &p), -ERANGE));
	cr_assert(p == NULL);
	cr_assert(eq(int, passfile("twelve chars\r\nsecond line ignored\n", &p), 0));
	cr_assert(eq(sz, sbx_secret_len(p), 12));
	p = sbx_secret_free(p);
	cr_assert(eq(int, sbx_secret_read_passphrase_file("/nonexistent/x", &p), -ENOENT));
}

Test(secret, set_rules)
{
	_cleanup_(sbx_secret_set_freep) struct sbx_secret_set *set = NULL;
	char *const *envp = NULL;

	cr_assert(eq(int, sbx_secret_set_new(&set), 0));
	cr_assert(eq(int, sbx_secret_set_add(set, "lower", "x", 1), -EINVAL));
	cr_assert(eq(int, sbx_secret_set_add(set, "A", "x", 1), 0));
	cr_assert(eq(int, sbx_secret_set_add(set, "A", "y", 1), -EEXIST));
	for (int i = 0; i < 300; i++) {
		char name[16];
		(void)snprintf(name, sizeof(name), "N%d", i);
		int r = sbx_secret_set_add(set, name, "v", 1);
		cr_assert(r == 0 || r == -E2BIG);
	}
	cr_assert(eq(sz, sbx_secret_set_count(set), SBX_SECRET_SET_MAX));
	cr_assert(eq(int, sbx_secret_set_envp(set, &envp), 0));
	cr_assert(eq(str, envp[0], "A=x"));
	cr_assert(envp[SBX_SECRET_SET_MAX] == NULL);
}
