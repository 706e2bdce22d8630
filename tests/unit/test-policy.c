/* SPDX-License-Identifier: MIT */
/* Policy files (policy/policy.c and friends): syntax and type errors with their exact
 * file:line:col and key, every error of a file reported, the shipped default, defaults of
 * absent keys, name resolution, and the questions the engine asks of a loaded policy. The
 * checks of values (paths, binds, limits, names, network): test-policy-validate.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "common/fd-util.h"
#include "policy/policy.h"
#include "tests/unit/policy-tests.h"

TestSuite(policy, .timeout = 30);

Test(policy, default_policy_loads)
{
	cr_assert(eq(int, sbx_policy_resolve("default", NULL, &pol, &diags), 0));
	cr_assert(eq(str, pol->name, "default"));
	cr_assert(eq(str, pol->path, "<embedded>/default.json"));
	cr_assert(eq(str, pol->binds[0].source, "/usr"));
	cr_assert(eq(str, pol->binds[0].target, "/usr"));
	cr_assert(not(pol->binds[0].rw));
	for (size_t i = 0; i < pol->n_binds; i++) {
		cr_assert(strcmp(pol->binds[i].target, "/etc/passwd") != 0);
		cr_assert(strcmp(pol->binds[i].target, "/etc/group") != 0);
		cr_assert(not(pol->binds[i].rw));
	}
	cr_assert(eq(sz, pol->n_tmpfs, 1));
	cr_assert(eq(str, pol->tmpfs[0].target, "/tmp"));
	cr_assert(eq(u64, pol->tmpfs[0].size, 64 << 20));
	cr_assert(eq(u32, pol->tmpfs[0].mode, 01777));
	cr_assert(eq(int, pol->net, SBX_NET_NONE));
	cr_assert(eq(str, pol->seccomp, "default"));
	cr_assert(eq(u64, pol->memory_max, 512 << 20));
	cr_assert(eq(u64, pol->pids_max, 128));
	cr_assert(eq(u32, pol->cpu_millis, 1000));
	cr_assert(eq(u64, pol->rlimits[SBX_RLIMIT_NOFILE], 1024));
	cr_assert(eq(u64, pol->rlimits[SBX_RLIMIT_FSIZE], 256 << 20));
	cr_assert(eq(u64, pol->rlimits[SBX_RLIMIT_NPROC], SBX_LIMIT_UNSET));
	cr_assert(eq(u64, pol->timeout_default_ms, 60000));
	cr_assert(eq(u64, pol->timeout_max_ms, 3600000));
	cr_assert(eq(u64, pol->output_max, 16 << 20));
	cr_assert(pol->redact);
	cr_assert(eq(sz, pol->n_uids, 0));
	cr_assert(eq(sz, pol->n_groups, 1));
	cr_assert(eq(str, pol->groups[0], "sbx"));
	cr_assert(sbx_policy_accepts_secret(pol, "ANTHROPIC_API_KEY"));
	cr_assert(sbx_policy_accepts_secret(pol, "OPENAI_API_KEY"));
	cr_assert(sbx_policy_accepts_secret(pol, "GITHUB_TOKEN"));
	cr_assert(sbx_policy_accepts_secret(pol, "MISTRAL_API_KEY"));
	cr_assert(sbx_policy_accepts_secret(pol, "GITLAB_TOKEN"));
	cr_assert(not(sbx_policy_accepts_secret(pol, "DATABASE_URL")));
	done();
}

Test(policy, shipped_file_equals_embedded)
{
	char path[4096];

	(void)snprintf(path, sizeof(path), "%s/policy/default.json", SBX_SOURCE_DIR);
	cr_assert(eq(int, sbx_policy_load_file(path, NULL, &pol, &diags), 0));
	cr_assert(eq(str, pol->name, "default"));
	done();
}

Test(policy, empty_object_gives_safe_defaults)
{
	cr_assert(eq(int, load("{}"), 0));
	cr_assert(eq(int, pol->net, SBX_NET_NONE));
	cr_assert(pol->redact);
	cr_assert(eq(str, pol->hostname, "sbx"));
	cr_assert(eq(str, pol->cwd, "/"));
	cr_assert(eq(str, pol->seccomp, "default"));
	cr_assert(not(pol->user_namespace));
	for (int i = 0; i < _SBX_RLIMIT_MAX; i++)
		cr_assert(eq(u64, pol->rlimits[i], SBX_LIMIT_UNSET));
	cr_assert(eq(u64, pol->memory_max, 512 << 20));
	cr_assert(eq(u64, pol->pids_max, 128));
	cr_assert(eq(u64, pol->timeout_default_ms, 60000));
	cr_assert(eq(sz, pol->n_binds, 0));
	cr_assert(eq(sz, pol->n_secrets, 0));
	cr_assert(eq(sz, pol->n_env, 0));
	done();
}

Test(policy, every_key_is_read)
{
	cr_assert(eq(int, load_fixture("valid.json"), 0), "valid.json refused");
	cr_assert(eq(str, pol->name, "valid"));
	cr_assert(eq(str, pol->binds[1].target, "/data"));
	cr_assert(pol->binds[1].rw);
	cr_assert(eq(u32, pol->tmpfs[0].mode, 0700));
	cr_assert(eq(u64, pol->tmpfs[0].size, 1 << 20));
	cr_assert(eq(int, pol->net, SBX_NET_PROXY));
	cr_assert(eq(sz, pol->n_net_allow, 4));
	cr_assert(eq(str, pol->hostname, "task.sbx"));
	cr_assert(eq(str, pol->cwd, "/data"));
	cr_assert(eq(u64, pol->rlimits[SBX_RLIMIT_CPU], 300));
	cr_assert(eq(u64, pol->rlimits[SBX_RLIMIT_AS], 2ULL << 30));
	cr_assert(eq(u64, pol->rlimits[SBX_RLIMIT_MEMLOCK], 0));
	cr_assert(eq(u64, pol->memory_max, 0));
	cr_assert(eq(u32, pol->cpu_millis, 250));
	cr_assert(eq(u64, pol->timeout_max_ms, 600000));
	cr_assert(eq(u64, pol->timeout_default_ms, 60000));
	cr_assert(eq(sz, pol->n_uids, 2));
	cr_assert(eq(u64, pol->output_max, 1 << 20));
	cr_assert(not(pol->redact));
	done();
}

Test(policy, syntax_error_has_position)
{
	cr_assert(eq(int, load_fixture("syntax.json"), -EINVAL));
	dump();
	cr_assert(eq(sz, diags.n, 1));
	cr_assert(eq(int, diags.v[0].line, 4));
	cr_assert(eq(int, diags.v[0].col, 3));
	cr_assert(strstr(diags.v[0].file, "syntax.json") != NULL);
	done();
}

Test(policy, duplicate_key_is_an_error)
{
	cr_assert(eq(int, load_fixture("duplicate.json"), -EINVAL));
	dump();
	cr_assert(eq(int, diags.v[0].line, 3));
	cr_assert(strstr(diags.v[0].msg, "duplicate") != NULL);
	done();
}

Test(policy, not_an_object)
{
	cr_assert(eq(int, load("[1, 2]"), -EINVAL));
	cr_assert(eq(int, diags.v[0].line, 1));
	cr_assert(eq(int, diags.v[0].col, 1));
	done();
}

Test(policy, unknown_key)
{
	cr_assert(eq(int, load("{\n  \"cgroup\": {\"memroy\": \"1G\"}\n}"), -EINVAL));
	expect_at("cgroup.memroy", 2, 14, "did you mean 'memory'");
	cr_assert(eq(int, load("{\"binds\": [{\"source\": \"/x\", \"ro\": true}]}"), -EINVAL));
	expect_at("binds[0].ro", 1, 29, "unknown key 'ro'");
	done();
}

Test(policy, wrong_types)
{
	expect_value_error("user_namespace", "\"yes\"", "true or false");
	expect_value_error("binds", "{}", "must be an array");
	expect_value_error("hostname", "7", "must be a string");
	expect_value_error("secrets", "\"GITHUB_TOKEN\"", "array of strings");
	expect_value_error("rlimits", "[]", "must be an object");
	expect_value_error("network", "true", "\"none\"");
	done();
}

Test(policy, every_error_of_a_file_is_reported)
{
	static const struct {
		const char *key;
		int line, col;
	} want[] = {
	    {"binds[1].source", 5, 16}, {"binds[2].source", 6, 16},  {"binds[3].target", 7, 39},
	    {"tmpfs[0].size", 9, 40},	{"network", 10, 14},	     {"rlimits.nofile", 11, 25},
	    {"rlimits.core", 11, 36},	{"cgroup.memory", 12, 24},   {"cgroup.pids", 12, 39},
	    {"cgroup.cpu", 12, 49},	{"timeout.default", 13, 26}, {"secrets[0]", 14, 15},
	    {"env[0]", 15, 11},		{"colour", 16, 3},
	};

	cr_assert(eq(int, load_fixture("many-errors.json"), -EINVAL));
	dump();
	cr_assert(eq(sz, diags.n, sizeof(want) / sizeof(want[0])));
	for (size_t i = 0; i < diags.n; i++) {
		cr_expect(eq(str, diags.v[i].key, (char *)want[i].key));
		cr_expect(eq(int, diags.v[i].line, want[i].line), "%s", want[i].key);
		cr_expect(eq(int, diags.v[i].col, want[i].col), "%s", want[i].key);
		cr_expect(strstr(diags.v[i].file, "many-errors.json") != NULL);
	}
	done();
}

Test(policy, columns_count_characters)
{
	cr_assert(eq(int, load_fixture("unicode.json"), -EINVAL));
	expect_at("hostname", 2, 73, "labels");
	done();
}

Test(policy, policy_name_rules)
{
	cr_assert(
	    eq(int, sbx_policy_load_data("{}", 2, "x.json", "Bad Name", &pol, &diags), -EINVAL));
	cr_assert(strstr(diags.v[0].msg, "[a-z0-9]") != NULL);
	done();
	cr_assert(eq(int, sbx_policy_resolve("Default", NULL, &pol, &diags), -ENOENT));
	done();
}

Test(policy, resolve_by_name)
{
	char dir[] = "/tmp/sbx-test-policy-XXXXXX", path[4096];
	FILE *f;

	cr_assert(mkdtemp(dir) != NULL);
	/* Not in the directory: the embedded one. */
	cr_assert(eq(int, sbx_policy_resolve("default", dir, &pol, &diags), 0));
	cr_assert(eq(str, pol->path, "<embedded>/default.json"));
	done();
	/* In the directory: that file wins. */
	(void)snprintf(path, sizeof(path), "%s/default.json", dir);
	f = fopen(path, "w");
	cr_assert(f != NULL);
	(void)fputs("{\"hostname\": \"override\"}", f);
	(void)fclose(f);
	cr_assert(eq(int, sbx_policy_resolve("default", dir, &pol, &diags), 0));
	cr_assert(eq(str, pol->hostname, "override"));
	cr_assert(eq(str, pol->path, path));
	done();
	/* By path. */
	cr_assert(eq(int, sbx_policy_resolve(path, NULL, &pol, &diags), 0));
	done();
	cr_assert(eq(int, sbx_policy_resolve("nope", dir, &pol, &diags), -ENOENT));
	cr_assert(eq(sz, diags.n, 1));
	cr_assert(strstr(diags.v[0].msg, "unknown policy 'nope'") != NULL);
	done();
	cr_assert(
	    eq(int, sbx_policy_load_file("/nonexistent/x.json", NULL, &pol, &diags), -ENOENT));
	cr_assert(eq(sz, diags.n, 1));
	done();
	(void)unlink(path);
	(void)rmdir(dir);
}

Test(policy, accepts_secret)
{
	cr_assert(eq(int, load("{\"secrets\": [\"GITHUB_TOKEN\", \"*_API_KEY\"]}"), 0));
	cr_assert(sbx_policy_accepts_secret(pol, "GITHUB_TOKEN"));
	cr_assert(sbx_policy_accepts_secret(pol, "X_API_KEY"));
	cr_assert(not(sbx_policy_accepts_secret(pol, "_API_KEY")));
	cr_assert(not(sbx_policy_accepts_secret(pol, "API_KEY")));
	cr_assert(not(sbx_policy_accepts_secret(pol, "GITLAB_TOKEN")));
	cr_assert(not(sbx_policy_accepts_secret(pol, "github_token")));
	cr_assert(not(sbx_policy_accepts_secret(pol, "LD_API_KEY"))); /* reserved prefix */
	cr_assert(not(sbx_policy_accepts_secret(pol, "*_API_KEY")));
	done();
}

Test(policy, accepts_env)
{
	cr_assert(eq(int, load("{\"env\": [\"LANG\", \"APP_*\"], \"secrets\": [\"*_TOKEN\"]}"), 0));
	cr_assert(sbx_policy_accepts_env(pol, "LANG"));
	cr_assert(sbx_policy_accepts_env(pol, "APP_MODE"));
	cr_assert(not(sbx_policy_accepts_env(pol, "APP_")));
	cr_assert(not(sbx_policy_accepts_env(pol, "APP_TOKEN"))); /* a secret's name */
	cr_assert(not(sbx_policy_accepts_env(pol, "LC_ALL")));
	cr_assert(not(sbx_policy_accepts_env(pol, "PATH")));
	cr_assert(not(sbx_policy_accepts_env(pol, "LD_PRELOAD")));
	cr_assert(not(sbx_policy_accepts_env(pol, "APP_*")));
	cr_assert(not(sbx_policy_accepts_env(pol, "")));
	done();
	cr_assert(eq(int, sbx_policy_resolve("default", NULL, &pol, &diags), 0));
	cr_assert(sbx_policy_accepts_env(pol, "LC_ALL"));
	cr_assert(sbx_policy_accepts_env(pol, "SBX_TASK_NAME"));
	cr_assert(not(sbx_policy_accepts_env(pol, "LD_PRELOAD")));
	cr_assert(not(sbx_policy_accepts_env(pol, "NOT_IN_THE_LIST")));
	done();
}

Test(policy, add_bind)
{
	cr_assert(eq(int, sbx_policy_resolve("default", NULL, &pol, &diags), 0));
	size_t n = pol->n_binds;
	cr_assert(eq(int, sbx_policy_add_bind(pol, "/srv/probe", "/probe", false, &diags), 0));
	cr_assert(eq(sz, pol->n_binds, n + 1));
	cr_assert(eq(str, pol->binds[n].target, "/probe"));
	cr_assert(not(pol->binds[n].rw));
	cr_assert(eq(int, sbx_policy_add_bind(pol, "/srv/data", NULL, true, &diags), 0));
	cr_assert(eq(str, pol->binds[n + 1].target, "/srv/data"));
	cr_assert(pol->binds[n + 1].rw);
	cr_assert(eq(sz, diags.n, 0));

	cr_assert(
	    eq(int, sbx_policy_add_bind(pol, "/srv/x", "/usr/local", false, &diags), -EINVAL));
	cr_assert(eq(str, diags.v[0].key, "--ro-bind"));
	cr_assert(strstr(diags.v[0].msg, "'/usr'") != NULL);
	cr_assert(eq(int, sbx_policy_add_bind(pol, "/srv/x", "/probe", true, &diags), -EINVAL));
	cr_assert(eq(str, diags.v[1].key, "--bind"));
	cr_assert(eq(int, sbx_policy_add_bind(pol, "/srv/x", "/proc/x", false, &diags), -EINVAL));
	cr_assert(eq(int, sbx_policy_add_bind(pol, "srv", "/x", false, &diags), -EINVAL));
	cr_assert(eq(int, sbx_policy_add_bind(pol, "/srv/x", "/tmp", false, &diags), -EINVAL));
	cr_assert(eq(int, sbx_policy_add_bind(pol, "/srv/x", "/", false, &diags), -EINVAL));
	cr_assert(eq(sz, pol->n_binds, n + 2));
	done();
}

Test(policy, diag_format)
{
	struct sbx_diag d = {.file = "a.json",
			     .line = 3,
			     .col = 7,
			     .key = "binds[0].target",
			     .msg = "must be an absolute path"};
	char buf[512];

	cr_assert(sbx_diag_format(&d, buf, sizeof(buf)) > 0);
	cr_assert(eq(str, buf, "a.json:3:7: binds[0].target: must be an absolute path"));
	d.line = 0;
	d.key[0] = '\0';
	cr_assert(sbx_diag_format(&d, buf, sizeof(buf)) > 0);
	cr_assert(eq(str, buf, "a.json: must be an absolute path"));
	cr_assert(eq(int, sbx_diag_format(&d, buf, 4), -ENOBUFS));
}
