/* SPDX-License-Identifier: MIT */
/*
 * `sbxctl exec` end to end, as root: exit statuses, stdio, timeouts, signals, bad input,
 * limits, binds, environment, and what is left behind. Each test runs real sandboxes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "tests/integration/harness.h"

static char sbxctl[4096];
static char *tmp;

static void setup(void)
{
	sbx_test_require_root();
	sbx_test_build_path_r("sbxctl", sbxctl, sizeof(sbxctl));
	sbx_test_require_file(sbxctl);
	tmp = sbx_test_mkdtemp("exec");
	cr_assert(tmp != NULL);
}

static void teardown(void)
{
	if (tmp) {
		(void)sbx_test_rm_rf(tmp);
		free(tmp);
		tmp = NULL;
	}
}

TestSuite(exec, .init = setup, .fini = teardown, .timeout = 60);

static size_t slen(const char *s)
{
	return s ? strlen(s) : 0;
}

/* Runs `sbxctl exec ARGS...` with stdin in (may be NULL). */
#define EXEC(r, in, ...)                                                                  \
	do {                                                                              \
		char *argv_[] = {sbxctl, "exec", __VA_ARGS__, NULL};                      \
		cr_assert(eq(int, sbx_test_run(argv_, NULL, in, slen(in), 30000, r), 0)); \
	} while (0)

static void expect_code(struct sbx_test_run *r, int code)
{
	if (r->code != code)
		sbx_test_run_dump("sbxctl exec", r);
	cr_assert(eq(int, r->code, code));
}

/* A policy file: the default policy with one key replaced (a JSON fragment). */
static char *policy_file(const char *name, const char *body)
{
	char *path;

	cr_assert(asprintf(&path, "%s/%s.json", tmp, name) > 0);
	cr_assert(eq(int, sbx_test_write_file(path, body), 0));
	return path;
}

#define BASE_POLICY                                                                            \
	"\"binds\": [{\"source\": \"/usr\"}, {\"source\": \"/bin\", \"optional\": true},"      \
	" {\"source\": \"/lib\", \"optional\": true}, {\"source\": \"/lib64\", \"optional\": " \
	"true},"                                                                               \
	" {\"source\": \"/sbin\", \"optional\": true}],"                                       \
	" \"tmpfs\": [{\"target\": \"/tmp\", \"size\": \"16M\"}]"

Test(exec, exit_code_passes_through)
{
	struct sbx_test_run r;

	EXEC(&r, NULL, "--", "/bin/sh", "-c", "exit 42");
	expect_code(&r, 42);
	sbx_test_run_done(&r);
}

Test(exec, stdio_passes_through)
{
	struct sbx_test_run r;

	EXEC(&r, "hello from stdin", "--", "/bin/sh", "-c", "cat; echo to-stderr >&2");
	expect_code(&r, 0);
	cr_assert(eq(str, r.out, "hello from stdin"));
	cr_assert(sbx_test_contains(r.err, "to-stderr"));
	sbx_test_run_done(&r);
}

Test(exec, program_found_on_the_sandbox_path)
{
	struct sbx_test_run r;

	EXEC(&r, NULL, "--", "echo", "found");
	expect_code(&r, 0);
	cr_assert(eq(str, r.out, "found\n"));
	sbx_test_run_done(&r);
}

Test(exec, signal_gives_128_plus_n)
{
	struct sbx_test_run r;

	EXEC(&r, NULL, "--", "/bin/sh", "-c", "kill -TERM $$");
	expect_code(&r, 128 + SIGTERM);
	sbx_test_run_done(&r);
}

Test(exec, timeout_gives_124_and_kills_the_tree)
{
	struct sbx_test_run r;

	EXEC(&r, NULL, "--timeout", "1", "--", "/bin/sh", "-c", "sleep 30 & sleep 30; wait");
	expect_code(&r, 124);
	cr_assert(r.elapsed_ms < 5000, "took %.0f ms", r.elapsed_ms);
	cr_assert(sbx_test_contains(r.err, "timeout"));
	sbx_test_run_done(&r);
}

Test(exec, timeout_above_policy_max_is_refused)
{
	struct sbx_test_run r;

	EXEC(&r, NULL, "--timeout", "100h", "--", "/bin/true");
	expect_code(&r, 125);
	cr_assert(sbx_test_contains(r.err, "maximum"));
	sbx_test_run_done(&r);
}

Test(exec, missing_program_is_127)
{
	struct sbx_test_run r;

	EXEC(&r, NULL, "--", "/no/such/program");
	expect_code(&r, 127);
	cr_assert(sbx_test_contains(r.err, "/no/such/program"));
	sbx_test_run_done(&r);
	EXEC(&r, NULL, "--", "no-such-program-on-path");
	expect_code(&r, 127);
	sbx_test_run_done(&r);
}

Test(exec, not_executable_is_126)
{
	struct sbx_test_run r;

	EXEC(&r, NULL, "--", "/etc/hosts");
	expect_code(&r, 126);
	sbx_test_run_done(&r);
}

Test(exec, unknown_policy_is_125_and_named)
{
	struct sbx_test_run r;

	EXEC(&r, NULL, "--policy", "no-such-policy", "--", "/bin/true");
	expect_code(&r, 125);
	cr_assert(sbx_test_contains(r.err, "no-such-policy"));
	sbx_test_run_done(&r);
}

Test(exec, broken_policy_is_125_with_position)
{
	struct sbx_test_run r;
	char *p = policy_file("broken", "{\n  \"binds\": [ {\"source\": \"relative/path\"} ]\n}\n");

	EXEC(&r, NULL, "--policy", p, "--", "/bin/true");
	expect_code(&r, 125);
	cr_assert(sbx_test_contains(r.err, "broken.json:2:"), "no file:line in: %s", r.err);
	sbx_test_run_done(&r);
	free(p);
}

Test(exec, missing_bind_source_is_125_and_named)
{
	struct sbx_test_run r;

	EXEC(&r, NULL, "--ro-bind", "/nonexistent-sbx-source", "/data", "--", "/bin/true");
	expect_code(&r, 125);
	cr_assert(sbx_test_contains(r.err, "/nonexistent-sbx-source"));
	sbx_test_run_done(&r);
}

Test(exec, non_root_caller_is_125)
{
	struct sbx_test_run r;

	/* The test runs as root; drop to nobody for this one call. */
	cr_assert(eq(int,
		     sbx_test_runv(&r, 10000, "setpriv", "--reuid=65534", "--regid=65534",
				   "--clear-groups", sbxctl, "exec", "--", "/bin/true", NULL),
		     0));
	expect_code(&r, 125);
	cr_assert(sbx_test_contains(r.err, "root"));
	sbx_test_run_done(&r);
}

Test(exec, environment_is_built_from_scratch)
{
	struct sbx_test_run r;
	char *argv[] = {sbxctl, "exec", "--env", "LANG=C", "--", "/usr/bin/env", NULL};
	char *envp[] = {"SBX_TEST_LEAK=leaked", "PATH=/usr/bin:/bin", NULL};

	cr_assert(eq(int, sbx_test_run(argv, envp, NULL, 0, 20000, &r), 0));
	expect_code(&r, 0);
	cr_assert(not(sbx_test_contains(r.out, "SBX_TEST_LEAK")));
	cr_assert(sbx_test_contains(r.out, "LANG=C\n"));
	cr_assert(sbx_test_contains(r.out, "HOME=/tmp\n"));
	sbx_test_run_done(&r);
}

Test(exec, env_names_the_policy_refuses_are_125)
{
	struct sbx_test_run r;

	EXEC(&r, NULL, "--env", "LD_PRELOAD=/tmp/x.so", "--", "/bin/true");
	expect_code(&r, 125);
	cr_assert(sbx_test_contains(r.err, "LD_PRELOAD"));
	sbx_test_run_done(&r);
	EXEC(&r, NULL, "--env", "NOT_IN_THE_LIST=1", "--", "/bin/true");
	expect_code(&r, 125);
	sbx_test_run_done(&r);
	EXEC(&r, NULL, "--env", "no-equals-sign", "--", "/bin/true");
	expect_code(&r, 125);
	sbx_test_run_done(&r);
}

Test(exec, rw_and_ro_binds)
{
	struct sbx_test_run r;
	char path[4096];
	struct stat st;

	cr_assert(eq(int, chmod(tmp, 01777), 0)); /* the pool uid must be able to write */
	EXEC(&r, NULL, "--bind", tmp, "/data", "--", "/bin/sh", "-c", "echo x > /data/written");
	expect_code(&r, 0);
	sbx_test_run_done(&r);
	(void)snprintf(path, sizeof(path), "%s/written", tmp);
	cr_assert(eq(int, stat(path, &st), 0), "rw bind did not write through");

	EXEC(&r, NULL, "--ro-bind", tmp, "/data", "--", "/bin/sh", "-c", "echo x > /data/nope");
	cr_assert(ne(int, r.code, 0));
	cr_assert(sbx_test_contains(r.err, "Read-only file system"));
	sbx_test_run_done(&r);
}

Test(exec, memory_limit_kill_is_reported)
{
	struct sbx_test_run r;
	char body[1024];
	char *p;

	(void)snprintf(body, sizeof(body), "{ %s, \"cgroup\": {\"memory\": \"32M\"} }\n",
		       BASE_POLICY);
	p = policy_file("smallmem", body);
	/* tail keeps its whole current line in memory, and /dev/zero has no newline. */
	EXEC(&r, NULL, "--policy", p, "--", "/usr/bin/tail", "/dev/zero");
	expect_code(&r, 128 + SIGKILL);
	cr_assert(sbx_test_contains(r.err, "memory limit"), "stderr: %s", r.err);
	sbx_test_run_done(&r);
	free(p);
}

Test(exec, user_namespace_policy_runs)
{
	struct sbx_test_run r;
	char body[1024];
	char *p;

	(void)snprintf(body, sizeof(body), "{ %s, \"user_namespace\": true }\n", BASE_POLICY);
	p = policy_file("userns", body);
	EXEC(&r, NULL, "--policy", p, "--", "/bin/sh", "-c",
	     "id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status");
	expect_code(&r, 0);
	cr_assert(sbx_test_contains(r.out, "CapEff:\t0000000000000000"));
	cr_assert(sbx_test_contains(r.out, "NoNewPrivs:\t1"));
	sbx_test_run_done(&r);
	free(p);
}

/* Two sandboxes alive at once never share a uid, even from separate sbxctl processes. */
Test(exec, concurrent_sandboxes_get_distinct_uids)
{
	struct sbx_test_run r;
	char script[8192];
	char *lines[16], *save = NULL;
	int n = 0;

	(void)snprintf(script, sizeof(script),
		       "for i in 1 2 3 4 5 6 7 8; do %s exec -- /bin/sh -c 'id -u; sleep 1' & done;"
		       " wait",
		       sbxctl);
	cr_assert(eq(int, sbx_test_runv(&r, 30000, "/bin/sh", "-c", script, NULL), 0));
	expect_code(&r, 0);
	for (char *s = strtok_r(r.out, "\n", &save); s && n < 16; s = strtok_r(NULL, "\n", &save))
		lines[n++] = s;
	cr_assert(eq(int, n, 8));
	for (int i = 0; i < n; i++) {
		long uid = strtol(lines[i], NULL, 10);
		cr_assert(uid >= 200000 && uid < 265536, "uid %ld outside the pool", uid);
		for (int j = 0; j < i; j++)
			cr_assert(ne(str, lines[i], lines[j]), "uid %s used twice", lines[i]);
	}
	sbx_test_run_done(&r);
}

static bool process_with_arg_exists(const char *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	bool found = false;

	while (d && (de = readdir(d)) && !found) {
		char path[300], buf[4096];
		ssize_t n;
		int fd;
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		(void)close(fd);
		for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
			buf[n] = '\0';
			if (strcmp(buf + i, arg) == 0)
				found = true;
		}
	}
	if (d)
		(void)closedir(d);
	return found;
}

/* Starts `sbxctl exec -- ARGV` with stdout on a pipe; returns the pid. */
static pid_t start_exec(char *const argv[], int *ret_out)
{
	int p[2];
	pid_t pid;

	cr_assert(eq(int, pipe2(p, O_CLOEXEC), 0));
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		(void)dup2(p[1], STDOUT_FILENO);
		execv(sbxctl, argv);
		_exit(127);
	}
	(void)close(p[1]);
	*ret_out = p[0];
	return pid;
}

static void wait_line(int fd, const char *what)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	cr_assert(n > 0, "no '%s' from the payload", what);
	buf[n] = '\0';
	cr_assert(sbx_test_contains(buf, what));
}

Test(exec, sigkill_of_sbxctl_leaves_nothing_running)
{
	char *argv[] = {sbxctl,	   "exec", "--",
			"/bin/sh", "-c",   "sleep 987.25 & echo started; sleep 987.25",
			NULL};
	int out, st;
	pid_t pid = start_exec(argv, &out);

	wait_line(out, "started");
	/* "started" is printed as the background sleep is forked, maybe before its exec. */
	for (int i = 0; i < 100 && !process_with_arg_exists("987.25"); i++)
		(void)usleep(20000);
	cr_assert(process_with_arg_exists("987.25"));
	cr_assert(eq(int, kill(pid, SIGKILL), 0));
	cr_assert(eq(int, waitpid(pid, &st, 0), pid));
	(void)usleep(1000 * 1000);
	cr_assert(not(process_with_arg_exists("987.25")), "sandbox survived its sbxctl");
	(void)close(out);
}

Test(exec, sigterm_is_forwarded_to_the_payload)
{
	char *argv[] = {sbxctl, "exec",
			"--",	"/bin/sh",
			"-c",	"trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done",
			NULL};
	int out, st;
	pid_t pid = start_exec(argv, &out);

	wait_line(out, "ready");
	cr_assert(eq(int, kill(pid, SIGTERM), 0));
	cr_assert(eq(int, waitpid(pid, &st, 0), pid));
	int exited = WIFEXITED(st), code = WEXITSTATUS(st);
	cr_assert(exited, "sbxctl did not exit normally");
	cr_assert(eq(int, code, 7));
	(void)close(out);
}

/* After the runs above, no cgroup of a finished `sbxctl exec` may remain. */
Test(exec, no_cgroup_left_behind)
{
	static const char *const dirs[] = {"/sys/fs/cgroup/unified/sbx", "/sys/fs/cgroup/sbx",
					   "/sys/fs/cgroup/pids/sbx"};
	struct sbx_test_run r;

	EXEC(&r, NULL, "--", "/bin/true"); /* also prunes groups of killed runs */
	expect_code(&r, 0);
	sbx_test_run_done(&r);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			long pid;
			if (strncmp(de->d_name, "exec-", 5) != 0)
				continue;
			pid = strtol(de->d_name + 5, NULL, 10);
			cr_assert(kill((pid_t)pid, 0) == 0, "stale cgroup %s/%s", dirs[i],
				  de->d_name);
		}
		if (d)
			(void)closedir(d);
	}
}

/* --sealed: the secrets reach the payload's environment (seen by length and hash only),
 * and every blob fault stops the task with its stable code. */
static void keys_cmd(const char *keyring, const char *in, const char *a1, const char *a2,
		     struct sbx_test_run *r)
{
	char *argv[] = {sbxctl,		 (char *)a1, (char *)a2, "--keyring",
			(char *)keyring, NULL,	     NULL,	 NULL};

	if (strcmp(a1, "seal") == 0) {
		argv[2] = "--context";
		argv[3] = (char *)a2;
		argv[4] = "--keyring";
		argv[5] = (char *)keyring;
	}
	cr_assert(eq(int, sbx_test_run(argv, NULL, in, slen(in), 20000, r), 0));
}

Test(exec, sealed_secrets_reach_the_payload)
{
	struct sbx_test_run r;
	char keyring[4096], blob[4096], blob2[4096];

	(void)snprintf(keyring, sizeof(keyring), "%s/keyring", tmp);
	(void)snprintf(blob, sizeof(blob), "%s/blob", tmp);
	(void)snprintf(blob2, sizeof(blob2), "%s/blob2", tmp);
	keys_cmd(keyring, NULL, "keys", "init", &r);
	expect_code(&r, 0);
	sbx_test_run_done(&r);
	keys_cmd(keyring, "ANTHROPIC_API_KEY=sk-exec-canary-0001\n", "seal", "tenant:7", &r);
	expect_code(&r, 0);
	cr_assert(eq(int, sbx_test_write_file(blob, r.out), 0));
	sbx_test_run_done(&r);

	EXEC(&r, NULL, "--sealed", blob, "--context", "tenant:7", "--keyring", keyring, "--",
	     "/bin/sh", "-c", "printf %s \"$ANTHROPIC_API_KEY\" | wc -c");
	expect_code(&r, 0);
	cr_assert(eq(str, r.out, "19\n"));
	cr_assert(not(sbx_test_contains(r.err, "canary")));
	sbx_test_run_done(&r);

	/* another context */
	EXEC(&r, NULL, "--sealed", blob, "--context", "tenant:8", "--keyring", keyring, "--",
	     "/bin/true");
	expect_code(&r, 125);
	cr_assert(sbx_test_contains(r.err, "decrypt_failed"));
	sbx_test_run_done(&r);

	/* a name the default policy does not accept */
	keys_cmd(keyring, "NOT_ACCEPTED=x\n", "seal", "tenant:7", &r);
	cr_assert(eq(int, sbx_test_write_file(blob2, r.out), 0));
	sbx_test_run_done(&r);
	EXEC(&r, NULL, "--sealed", blob2, "--context", "tenant:7", "--keyring", keyring, "--",
	     "/bin/true");
	expect_code(&r, 125);
	cr_assert(sbx_test_contains(r.err, "secret_not_allowed"));
	sbx_test_run_done(&r);

	/* garbage */
	cr_assert(eq(int, sbx_test_write_file(blob2, "sbx1:AAAA\n"), 0));
	EXEC(&r, NULL, "--sealed", blob2, "--context", "tenant:7", "--keyring", keyring, "--",
	     "/bin/true");
	expect_code(&r, 125);
	cr_assert(sbx_test_contains(r.err, "sealed_malformed"));
	sbx_test_run_done(&r);

	/* the key retired after a rotation */
	keys_cmd(keyring, NULL, "keys", "rotate", &r);
	expect_code(&r, 0);
	sbx_test_run_done(&r);
	{
		char *argv[] = {sbxctl, "keys", "retire", "1", "--keyring", keyring, NULL};
		cr_assert(eq(int, sbx_test_run(argv, NULL, NULL, 0, 20000, &r), 0));
		expect_code(&r, 0);
		sbx_test_run_done(&r);
	}
	EXEC(&r, NULL, "--sealed", blob, "--context", "tenant:7", "--keyring", keyring, "--",
	     "/bin/true");
	expect_code(&r, 125);
	cr_assert(sbx_test_contains(r.err, "key_retired"));
	sbx_test_run_done(&r);
}
