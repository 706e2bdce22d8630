/* SPDX-License-Identifier: MIT */
/* Policy files (policy/policy.c and friends): every kind of error with its exact
 * file:line:col and key, every error of a file reported, the shipped default, defaults of
 * absent keys, name resolution, and the questions the engine asks of a loaded policy. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "common/fd-util.h"
#include "policy/policy.h"

TestSuite(policy, .timeout = 30);

static struct sbx_diags diags;
static struct sbx_policy *pol;

static void done(void)
{
	sbx_diags_clear(&diags);
	pol = sbx_policy_free(pol);
}

static void dump(void)
{
	char buf[1024];

	for (size_t i = 0; i < diags.n; i++) {
		(void)sbx_diag_format(&diags.v[i], buf, sizeof(buf));
		cr_log_info("%s", buf);
	}
}

static int load(const char *json)
{
	done();
	return sbx_policy_load_data(json, strlen(json), "t.json", "t", &pol, &diags);
}

static int load_fixture(const char *name)
{
	char path[4096];

	done();
	(void)snprintf(path, sizeof(path), "%s/tests/unit/data/policies/%s", SBX_SOURCE_DIR, name);
	return sbx_policy_load_file(path, NULL, &pol, &diags);
}

static const struct sbx_diag *find(const char *key)
{
	for (size_t i = 0; i < diags.n; i++)
		if (strcmp(diags.v[i].key, key) == 0)
			return &diags.v[i];
	return NULL;
}

/* The load failed with a diag on key at line:col whose message contains msg. */
static void expect_at(const char *key, int line, int col, const char *msg)
{
	const struct sbx_diag *d = find(key);

	dump();
	cr_assert(pol == NULL, "a policy with errors was returned");
	cr_assert(d != NULL, "no diag for key '%s'", key);
	cr_expect(eq(int, d->line, line), "%s: line", key);
	cr_expect(eq(int, d->col, col), "%s: col", key);
	cr_expect(strstr(d->msg, msg) != NULL, "%s: message '%s' lacks '%s'", key, d->msg, msg);
}

/* A one-line file {"K": V}: the value sits at column 6 + strlen(K). */
static void expect_value_error(const char *key, const char *value, const char *msg)
{
	char json[512];

	(void)snprintf(json, sizeof(json), "{\"%s\": %s}", key, value);
	cr_assert(eq(int, load(json), -EINVAL), "%s accepted", json);
	expect_at(key, 1, 6 + (int)strlen(key), msg);
}

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

Test(policy, relative_target)
{
	cr_assert(eq(int, load_fixture("relative-target.json"), -EINVAL));
	expect_at("binds[0].target", 5, 17, "absolute");
	cr_assert(eq(sz, diags.n, 1));
	done();
}

Test(policy, non_normalised_paths)
{
	static const char *const bad[][2] = {
	    {"/usr/../etc", "'..'"}, {"/usr//lib", "'//'"}, {"/usr/", "trailing"},
	    {"/usr/./lib", "'.'"},   {"/a/..", "'..'"},
	};
	char json[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(json, sizeof(json), "{\"binds\": [{\"source\": \"%s\"}]}",
			       bad[i][0]);
		cr_assert(eq(int, load(json), -EINVAL), "%s accepted", bad[i][0]);
		expect_at("binds[0].source", 1, 23, bad[i][1]);
	}
	cr_assert(eq(int, load("{\"binds\": [{\"source\": \"/usr/..lib\"}]}"), 0));
	done();
}

Test(policy, overlapping_targets)
{
	cr_assert(eq(int, load_fixture("overlap.json"), -EINVAL));
	expect_at("binds[1].target", 4, 40, "under the target of binds[0]");
	expect_at("tmpfs[1].target", 6, 44, "the same target as tmpfs[0]");
	cr_assert(eq(sz, diags.n, 2));
	/* A bind without a target mounts at its source: the error points there. */
	cr_assert(eq(int, load("{\"binds\": [{\"source\": \"/usr/lib\"}, {\"source\": \"/usr\"}]}"),
		     -EINVAL));
	expect_at("binds[1].source", 1, 47, "above the target of binds[0]");
	cr_assert(
	    eq(int, load("{\"binds\": [{\"source\": \"/usr\"}, {\"source\": \"/usr2\"}]}"), 0));
	done();
}

Test(policy, forbidden_targets)
{
	static const char *const bad[] = {"/", "/proc", "/proc/sys", "/dev", "/dev/shm"};
	char json[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(json, sizeof(json), "{\"tmpfs\": [{\"target\": \"%s\"}]}", bad[i]);
		cr_assert(eq(int, load(json), -EINVAL), "%s accepted", bad[i]);
		expect_at("tmpfs[0].target", 1, 23, "must not");
	}
	cr_assert(
	    eq(int, load("{\"binds\": [{\"source\": \"/\", \"target\": \"/host\"}]}"), -EINVAL));
	expect_at("binds[0].source", 1, 23, "the whole host");
	cr_assert(
	    eq(int, load("{\"binds\": [{\"source\": \"/proc/1\", \"target\": \"/p\"}]}"), -EINVAL));
	expect_at("binds[0].source", 1, 23, "/proc");
	cr_assert(
	    eq(int, load("{\"tmpfs\": [{\"target\": \"/procfs\"}, {\"target\": \"/devel\"}]}"), 0));
	done();
}

Test(policy, impossible_limits)
{
	char nofile[64], *nr_open = NULL;
	size_t len;

	cr_assert(eq(int, load("{\"cgroup\": {\"memory\": \"512K\"}}"), -EINVAL));
	expect_at("cgroup.memory", 1, 23, "at least 1M");
	cr_assert(eq(int, load("{\"cgroup\": {\"pids\": 0}}"), -EINVAL));
	expect_at("cgroup.pids", 1, 21, "out of range");
	cr_assert(eq(int, load("{\"cgroup\": {\"cpu\": 0}}"), -EINVAL));
	expect_at("cgroup.cpu", 1, 20, "out of range");
	cr_assert(eq(int, load("{\"cgroup\": {\"cpu\": 1024.5}}"), -EINVAL));
	expect_at("cgroup.cpu", 1, 20, "out of range");
	cr_assert(eq(int, load("{\"timeout\": {\"default\": \"2h\", \"max\": \"1h\"}}"), -EINVAL));
	expect_at("timeout.default", 1, 25, "2h is above timeout.max (1h)");
	cr_assert(eq(int, load("{\"timeout\": {\"default\": 0}}"), -EINVAL));
	expect_at("timeout.default", 1, 25, "more than 0");
	cr_assert(eq(int, load("{\"tmpfs\": [{\"target\": \"/tmp\", \"size\": 0}]}"), -EINVAL));
	expect_at("tmpfs[0].size", 1, 39, "more than 0");
	cr_assert(eq(int, load("{\"rlimits\": {\"nofile\": 0}}"), -EINVAL));
	expect_at("rlimits.nofile", 1, 24, "out of range");
	cr_assert(eq(int, load("{\"rlimits\": {\"core\": 1}}"), -EINVAL));
	expect_at("rlimits.core", 1, 22, "may only be 0");
	cr_assert(eq(int, load("{\"rlimits\": {\"fsize\": \"64X\"}}"), -EINVAL));
	expect_at("rlimits.fsize", 1, 23, "must be a size");
	cr_assert(eq(int, load("{\"timeout\": {\"max\": \"soon\"}}"), -EINVAL));
	expect_at("timeout.max", 1, 21, "must be a duration");

	cr_assert(eq(int, sbx_fd_read_file("/proc/sys/fs/nr_open", 64, &nr_open, &len), 0));
	(void)snprintf(nofile, sizeof(nofile), "{\"rlimits\": {\"nofile\": %llu}}",
		       strtoull(nr_open, NULL, 10) + 1);
	free(nr_open);
	cr_assert(eq(int, load(nofile), -EINVAL));
	expect_at("rlimits.nofile", 1, 24, "nr_open");
	done();
}

Test(policy, bad_secret_names)
{
	static const char *const bad[][2] = {
	    {"github_token", "SCREAMING_SNAKE_CASE"},
	    {"1TOKEN", "SCREAMING"},
	    {"PATH", "reserved"},
	    {"LD_PRELOAD", "reserved"},
	    {"LANG", "reserved"},	       /* a request may set it; a secret may not */
	    {"GIT_CONFIG_GLOBAL", "reserved"}, /* the GIT_CONFIG_* prefix */
	    {"SBX_TOKEN", "reserved"},
	    {"http_proxy", "SCREAMING"},
	    {"*TOKEN", "*_SUFFIX"},
	    {"*_", "*_SUFFIX"},
	    {"*_PATH", "GCONV_PATH"},
	    {"TOKEN_*", "SCREAMING"},
	};
	char json[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(json, sizeof(json), "{\"secrets\": [\"A_KEY\", \"%s\"]}", bad[i][0]);
		cr_assert(eq(int, load(json), -EINVAL), "%s accepted", bad[i][0]);
		expect_at("secrets[1]", 1, 23, bad[i][1]);
	}
	cr_assert(eq(int, load("{\"secrets\": [\"A_KEY\", \"A_KEY\"]}"), -EINVAL));
	expect_at("secrets[1]", 1, 23, "twice");
	done();
}

Test(policy, forbidden_env_names)
{
	static const char *const bad[] = {"PATH",
					  "HOME",
					  "LD_PRELOAD",
					  "LD_*",
					  "GCONV_PATH",
					  "LOCPATH",
					  "MALLOC_CHECK_",
					  "MALLOC_*",
					  "GLIBC_TUNABLES",
					  "BASH_ENV",
					  "GCONV_*",
					  "IFS",
					  "9LIVES",
					  "A-B",
					  "APP*",
					  "NODE_OPTIONS",
					  "https_proxy",
					  "GIT_CONFIG_*",
					  "GIT_CONFIG_COUNT",
					  "_JAVA_OPTIONS",
					  "LD_PRELOAD_*",
					  "LISTEN_FDNAMES",
					  "PYTHON*"};
	char json[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(json, sizeof(json), "{\"env\": [\"%s\"]}", bad[i]);
		cr_assert(eq(int, load(json), -EINVAL), "%s accepted", bad[i]);
		expect_at("env[0]", 1, 10, "");
	}
	cr_assert(eq(int, load("{\"env\": [\"GITHUB_TOKEN\"], \"secrets\": [\"GITHUB_TOKEN\"]}"),
		     -EINVAL));
	expect_at("env[0]", 1, 10, "also in \"secrets\"");
	done();
}

Test(policy, network_forms)
{
	cr_assert(eq(int, load("{\"network\": \"host\"}"), 0));
	cr_assert(eq(int, pol->net, SBX_NET_HOST));
	cr_assert(eq(int, load("{\"network\": {\"mode\": \"none\"}}"), 0));
	cr_assert(eq(int, pol->net, SBX_NET_NONE));
	cr_assert(eq(int, load("{\"network\": \"internet\"}"), -EINVAL));
	expect_at("network", 1, 13, "\"none\"");
	cr_assert(eq(int, load("{\"network\": {\"mode\": \"proxy\"}}"), -EINVAL));
	expect_at("network.allow", 1, 13, "non-empty");
	cr_assert(
	    eq(int, load("{\"network\": {\"mode\": \"none\", \"allow\": [\"a.b:1\"]}}"), -EINVAL));
	expect_at("network.allow", 1, 30, "only with mode \"proxy\"");
	cr_assert(eq(int,
		     load("{\"network\": {\"mode\": \"proxy\", \"allow\": [\"a.b:0\", \"x\", "
			  "\"::1:80\", \"-a.b:1\"]}}"),
		     -EINVAL));
	expect_at("network.allow[0]", 1, 41, "port");
	expect_at("network.allow[1]", 1, 50, "host:port");
	expect_at("network.allow[2]", 1, 55, "brackets");
	expect_at("network.allow[3]", 1, 65, "DNS name");
	done();
}

/* An allow entry means what it reads as: IPv4 only as a dotted quad, IPv6 in brackets. */
static void expect_allow(const char *entry, const char *msg)
{
	char json[512];

	(void)snprintf(json, sizeof(json),
		       "{\"network\": {\"mode\": \"proxy\", \"allow\": [\"%s\"]}}", entry);
	if (!msg) {
		cr_assert(eq(int, load(json), 0), "%s refused", entry);
		return;
	}
	cr_assert(eq(int, load(json), -EINVAL), "%s accepted", entry);
	cr_assert(eq(sz, diags.n, 1));
	cr_assert(ne(ptr, strstr(diags.v[0].msg, msg), NULL), "%s: %s", entry, diags.v[0].msg);
}

Test(policy, network_allow_forms)
{
	expect_allow("api.anthropic.com:443", NULL);
	expect_allow("*.example.org:443", NULL);
	expect_allow("127.0.0.1:8080", NULL);
	expect_allow("[::1]:80", NULL);
	expect_allow("[2001:db8::1]:443", NULL);
	expect_allow("a-1.example:65535", NULL);
	expect_allow("example.org", "host:port");
	expect_allow("example.org:", "port");
	expect_allow("example.org:65536", "port");
	expect_allow("example.org:*", "port");
	expect_allow("127.1:80", "four decimal numbers");
	expect_allow("2130706433:80", "four decimal numbers");
	expect_allow("0x7f.1:80", "four decimal numbers");
	expect_allow("127.0.0.01:80", "four decimal numbers");
	expect_allow("1.2.3.4.5:80", "four decimal numbers");
	expect_allow("*.1.2.3.4:80", "cannot start an IP");
	expect_allow("*.*.example.org:80", "DNS name");
	expect_allow("a.*.example.org:80", "DNS name");
	expect_allow("example.org.:80", "DNS name");
	expect_allow("[fe80::1%eth0]:80", "IPv6");
	expect_allow("[127.0.0.1]:80", "IPv6");
	expect_allow("ex ample.org:80", "DNS name");
	done();
}

Test(policy, network_proxy_limits)
{
	cr_assert(eq(int, load("{\"network\": {\"mode\": \"proxy\", \"allow\": [\"a.b:1\"]}}"), 0));
	cr_assert(eq(u64, pol->net_max_connections, 32));
	cr_assert(eq(u64, pol->net_max_bytes, (uint64_t)1 << 30));
	cr_assert(eq(u64, pol->net_idle_ms, 60000));
	cr_assert(
	    eq(int,
	       load("{\"network\": {\"mode\": \"proxy\", \"allow\": [\"a.b:1\"], "
		    "\"max_connections\": 4, \"max_bytes\": \"10M\", \"idle_timeout\": \"5s\"}}"),
	       0));
	cr_assert(eq(u64, pol->net_max_connections, 4));
	cr_assert(eq(u64, pol->net_max_bytes, 10 << 20));
	cr_assert(eq(u64, pol->net_idle_ms, 5000));
	cr_assert(eq(int,
		     load("{\"network\": {\"mode\": \"proxy\", \"allow\": [\"a.b:1\"], "
			  "\"max_connections\": 0, \"max_bytes\": 0, \"idle_timeout\": 0}}"),
		     -EINVAL));
	cr_assert(eq(sz, diags.n, 3));
	cr_assert(
	    eq(int, load("{\"network\": {\"mode\": \"none\", \"max_connections\": 4}}"), -EINVAL));
	expect_at("network.max_connections", 1, 30, "only with mode \"proxy\"");
	done();
}

Test(policy, other_bad_values)
{
	expect_value_error("hostname", "\"-sbx\"", "labels");
	expect_value_error("hostname", "\"a_b\"", "labels");
	expect_value_error("cwd", "\"tmp\"", "absolute");
	expect_value_error("cwd", "\"/proc/self/fd/3\"", "/proc");
	expect_value_error("seccomp", "\"../x\"", "profile name");
	expect_value_error("seccomp", "\"/etc//x.json\"", "'//'");
	cr_assert(eq(int, load("{\"tmpfs\": [{\"target\": \"/t\", \"mode\": 1777}]}"), -EINVAL));
	expect_at("tmpfs[0].mode", 1, 37, "octal string");
	cr_assert(eq(int, load("{\"tmpfs\": [{\"size\": \"1M\"}]}"), -EINVAL));
	expect_at("tmpfs[0].target", 1, 12, "missing");
	cr_assert(eq(int, load("{\"clients\": {\"uids\": [-1, 5, 5], \"groups\": [\"Wheel\"]}}"),
		     -EINVAL));
	expect_at("clients.uids[0]", 1, 23, "out of range");
	expect_at("clients.uids[2]", 1, 30, "twice");
	expect_at("clients.groups[0]", 1, 45, "group name");
	cr_assert(eq(int, load("{\"output\": {\"max\": 100}}"), -EINVAL));
	expect_at("output.max", 1, 20, "at least 1K");
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
