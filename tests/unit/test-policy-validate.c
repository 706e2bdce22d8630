/* SPDX-License-Identifier: MIT */
/* Policy values (policy/validate.c and the value checks of policy/policy.c; suite policy,
 * helpers in policy-tests.h): bind targets and paths, overlapping and forbidden targets,
 * impossible limits, secret and env names, the network forms and allow list, and other bad
 * values, each with its exact file:line:col and key. */
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
