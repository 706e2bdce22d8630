/* SPDX-License-Identifier: MIT */
/* Seccomp profile files (policy/profile.c): every kind of error names its key; the shipped
 * default and strict profiles load, and the default holds what DESIGN.md asks of it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "policy/profile.h"

TestSuite(profile, .timeout = 30);

static void diags_free(struct sbx_diags *d)
{
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

static bool has_key(const struct sbx_diags *d, const char *key)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i].key, key) == 0)
			return true;
	return false;
}

static void dump(const struct sbx_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		cr_log_info("%s:%d:%d: %s: %s", d->v[i].file, d->v[i].line, d->v[i].col,
			    d->v[i].key, d->v[i].msg);
}

/* The JSON must fail with a diag on exactly this key. */
static void expect_error(const char *json, const char *key)
{
	struct sbx_diags d = {0};
	struct sbx_profile *p = (struct sbx_profile *)0x1;
	int r = sbx_profile_load_data(json, strlen(json), "t.json", NULL, &p, &d);

	dump(&d);
	cr_assert(eq(int, r, -EINVAL), "%s", json);
	cr_assert(eq(ptr, p, (struct sbx_profile *)0x1), "ret changed on failure");
	cr_assert(has_key(&d, key), "no diag for key '%s' in %s", key, json);
	cr_assert(eq(str, d.v[0].file, "t.json"));
	diags_free(&d);
}

#define DEF "\"default\": {\"action\": \"errno\", \"errno\": \"EPERM\"}"

Test(profile, rejects_syntax_error_with_position)
{
	struct sbx_diags d = {0};
	struct sbx_profile *p = NULL;
	const char *j = "{\n \"default\": {\"action\": \"allow\"},\n \"allow\": [\"read\",]\n}";

	cr_assert(eq(int, sbx_profile_load_data(j, strlen(j), "t.json", NULL, &p, &d), -EINVAL));
	cr_assert(eq(sz, d.n, 1));
	cr_assert(eq(int, d.v[0].line, 3));
	cr_assert(d.v[0].col > 0);
	diags_free(&d);
}

Test(profile, rejects_duplicate_json_key)
{
	expect_error("{" DEF ", " DEF "}", "");
}

Test(profile, rejects_unknown_keys)
{
	expect_error("{" DEF ", \"bogus\": 1}", "bogus");
	expect_error("{\"default\": {\"action\": \"allow\", \"x\": 1}}", "default.x");
	expect_error("{" DEF ", \"rules\": [{\"syscall\": \"read\", \"action\": \"allow\", "
		     "\"foo\": 1}]}",
		     "rules[0].foo");
	expect_error("{" DEF ", \"rules\": [{\"syscall\": \"ioctl\", \"action\": \"allow\", "
		     "\"args\": [{\"index\": 1, \"op\": \"eq\", \"value\": 1, \"bar\": 2}]}]}",
		     "rules[0].args[0].bar");
}

Test(profile, rejects_missing_or_bad_default)
{
	expect_error("{\"allow\": [\"read\"]}", "default");
	expect_error("{\"default\": \"errno\"}", "default");
	expect_error("{\"default\": {\"errno\": \"EPERM\"}}", "default.action");
	expect_error("{\"default\": {\"action\": \"deny\"}}", "default.action");
	expect_error("[]", "");
}

Test(profile, rejects_unknown_syscalls)
{
	expect_error("{" DEF ", \"allow\": [\"read\", \"no_such_call\"]}", "allow[1]");
	expect_error("{" DEF ", \"allow\": [\"read\", 3]}", "allow[1]");
	/* i386-only names are not x86_64 syscalls */
	expect_error("{" DEF ", \"allow\": [\"chown32\"]}", "allow[0]");
	expect_error("{" DEF ", \"rules\": [{\"syscall\": \"bogus\", \"action\": \"allow\"}]}",
		     "rules[0].syscall");
	expect_error("{" DEF ", \"rules\": [{\"action\": \"allow\"}]}", "rules[0].syscall");
}

Test(profile, rejects_errno_mistakes)
{
	expect_error("{\"default\": {\"action\": \"errno\", \"errno\": \"EPRM\"}}",
		     "default.errno");
	expect_error("{\"default\": {\"action\": \"errno\"}}", "default.errno");
	expect_error("{\"default\": {\"action\": \"errno\", \"errno\": 1}}", "default.errno");
	expect_error("{\"default\": {\"action\": \"kill\", \"errno\": \"EPERM\"}}",
		     "default.errno");
	expect_error("{" DEF ", \"rules\": [{\"syscall\": \"clone3\", \"action\": \"errno\", "
		     "\"errno\": \"ENOSUCH\"}]}",
		     "rules[0].errno");
}

Test(profile, rejects_bad_args)
{
	static const struct {
		const char *arg;
		const char *key;
	} cases[] = {
	    {"{\"index\": 6, \"op\": \"eq\", \"value\": 0}", "rules[3].args[0].index"},
	    {"{\"index\": -1, \"op\": \"eq\", \"value\": 0}", "rules[3].args[0].index"},
	    {"{\"op\": \"eq\", \"value\": 0}", "rules[3].args[0].index"},
	    {"{\"index\": 0, \"op\": \"and\", \"value\": 0}", "rules[3].args[0].op"},
	    {"{\"index\": 0, \"value\": 0}", "rules[3].args[0].op"},
	    {"{\"index\": 0, \"op\": \"eq\"}", "rules[3].args[0].value"},
	    {"{\"index\": 0, \"op\": \"eq\", \"value\": -1}", "rules[3].args[0].value"},
	    {"{\"index\": 0, \"op\": \"eq\", \"value\": 1.5}", "rules[3].args[0].value"},
	    {"{\"index\": 0, \"op\": \"eq\", \"value\": \"0xzz\"}", "rules[3].args[0].value"},
	    {"{\"index\": 0, \"op\": \"eq\", \"value\": \"0x10000000000000000\"}",
	     "rules[3].args[0].value"},
	    {"{\"index\": 0, \"op\": \"eq\", \"value\": \"18446744073709551616\"}",
	     "rules[3].args[0].value"},
	    {"{\"index\": 0, \"op\": \"eq\", \"value\": \" 1\"}", "rules[3].args[0].value"},
	    {"{\"index\": 0, \"op\": \"masked_eq\", \"value\": 1}", "rules[3].args[0].mask"},
	    {"{\"index\": 0, \"op\": \"eq\", \"mask\": 1, \"value\": 1}", "rules[3].args[0].mask"},
	    {"{\"index\": 0, \"op\": \"masked_eq\", \"mask\": \"0xff\", \"value\": \"0x100\"}",
	     "rules[3].args[0].value"},
	    {"7", "rules[3].args[0]"},
	};
	char json[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		(void)snprintf(json, sizeof(json),
			       "{" DEF ", \"rules\": ["
			       "{\"syscall\": \"read\", \"action\": \"allow\"},"
			       "{\"syscall\": \"write\", \"action\": \"allow\"},"
			       "{\"syscall\": \"close\", \"action\": \"allow\"},"
			       "{\"syscall\": \"ioctl\", \"action\": \"allow\", \"args\": [%s]}]}",
			       cases[i].arg);
		expect_error(json, cases[i].key);
	}
	expect_error("{" DEF ", \"rules\": [{\"syscall\": \"ioctl\", \"action\": \"allow\", "
		     "\"args\": [{\"index\": 1, \"op\": \"eq\", \"value\": 1},"
		     "{\"index\": 1, \"op\": \"ne\", \"value\": 2}]}]}",
		     "rules[0].args[1]");
	expect_error("{" DEF ", \"rules\": [{\"syscall\": \"ioctl\", \"action\": \"allow\", "
		     "\"args\": {}}]}",
		     "rules[0].args");
}

Test(profile, rejects_shadowed_or_duplicate_entries)
{
	/* twice in allow */
	expect_error("{" DEF ", \"allow\": [\"read\", \"write\", \"read\"]}", "allow[2]");
	/* unconditional rule for an allowed syscall */
	expect_error("{" DEF ", \"allow\": [\"clone3\"], \"rules\": [{\"syscall\": \"clone3\", "
		     "\"action\": \"errno\", \"errno\": \"ENOSYS\"}]}",
		     "rules[0]");
	/* two unconditional rules */
	expect_error("{" DEF ", \"rules\": [{\"syscall\": \"clone3\", \"action\": \"errno\", "
		     "\"errno\": \"ENOSYS\"}, {\"syscall\": \"clone3\", \"action\": \"kill\"}]}",
		     "rules[1]");
	/* a condition on an always-allowed syscall changes nothing */
	expect_error("{" DEF ", \"allow\": [\"socket\"], \"rules\": [{\"syscall\": \"socket\", "
		     "\"action\": \"allow\", \"args\": [{\"index\": 0, \"op\": \"eq\", "
		     "\"value\": 1}]}]}",
		     "rules[0]");
	/* the default's own action */
	expect_error("{" DEF ", \"rules\": [{\"syscall\": \"mount\", \"action\": \"errno\", "
		     "\"errno\": \"EPERM\"}]}",
		     "rules[0]");
	expect_error("{\"default\": {\"action\": \"allow\"}, \"allow\": [\"read\"]}", "allow[0]");
}

Test(profile, reports_every_error)
{
	struct sbx_diags d = {0};
	struct sbx_profile *p = NULL;
	const char *j = "{\"default\": {\"action\": \"errno\", \"errno\": \"EPERM\"}, \"x\": 1, "
			"\"allow\": [\"nope\"], \"rules\": [{\"syscall\": \"read\", \"action\": "
			"\"maybe\"}]}";

	cr_assert(eq(int, sbx_profile_load_data(j, strlen(j), "t.json", NULL, &p, &d), -EINVAL));
	cr_assert(eq(sz, d.n, 3));
	cr_assert(has_key(&d, "x") && has_key(&d, "allow[0]") && has_key(&d, "rules[0].action"));
	diags_free(&d);
}

Test(profile, accepts_numbers_and_comments)
{
	struct sbx_diags d = {0};
	struct sbx_profile *p = NULL;
	const char *j =
	    "{\"description\": \"t\", \"default\": {\"action\": \"kill\"}, "
	    "\"allow\": [\"read\"], \"rules\": ["
	    "{\"syscall\": \"ioctl\", \"action\": \"log\", \"comment\": \"c\", \"args\": "
	    "[{\"index\": 1, \"op\": \"masked_eq\", \"mask\": \"0xFFFFFFFFFFFFFFFF\", "
	    "\"value\": \"21522\"}, {\"index\": 5, \"op\": \"ge\", \"value\": 7}]}]}";

	cr_assert(eq(int, sbx_profile_load_data(j, strlen(j), "x/t.json", NULL, &p, &d), 0));
	cr_assert(eq(str, p->name, "t"));
	cr_assert(eq(int, p->default_action, SBX_SC_KILL));
	cr_assert(eq(sz, p->n_rules, 2));
	cr_assert(eq(str, p->rules[0].syscall, "read"));
	cr_assert(eq(int, p->rules[0].nr, 0));
	cr_assert(eq(int, p->rules[1].action, SBX_SC_LOG));
	cr_assert(eq(sz, p->rules[1].n_args, 2));
	cr_assert(eq(u64, p->rules[1].args[0].mask, UINT64_MAX));
	cr_assert(eq(u64, p->rules[1].args[0].value, 0x5412));
	cr_assert(eq(int, p->rules[1].args[1].index, 5));
	sbx_profile_free(p);
}

Test(profile, syscall_names)
{
	cr_assert(eq(int, sbx_profile_syscall_nr("read"), 0));
	cr_assert(eq(int, sbx_profile_syscall_nr("ioctl"), 16));
	cr_assert(eq(int, sbx_profile_syscall_nr("clone3"), 435));
	cr_assert(eq(int, sbx_profile_syscall_nr("fchmodat2"), 452));
	cr_assert(eq(int, sbx_profile_syscall_nr("_sysctl"), 156));
	cr_assert(eq(int, sbx_profile_syscall_nr("socketcall"), -ENOENT));
	cr_assert(eq(int, sbx_profile_syscall_nr(""), -ENOENT));
}

static struct sbx_profile *load_shipped(const char *name)
{
	struct sbx_diags d = {0};
	struct sbx_profile *p = NULL;

	/* no directory: the embedded copy of policy/profiles/NAME.json */
	cr_assert(eq(int, sbx_profile_resolve(name, NULL, &p, &d), 0));
	dump(&d);
	cr_assert(eq(sz, d.n, 0));
	cr_assert(strcmp(p->name, name) == 0);
	return p;
}

static const struct sbx_sc_rule *find(const struct sbx_profile *p, const char *name, size_t from)
{
	for (size_t i = from; i < p->n_rules; i++)
		if (strcmp(p->rules[i].syscall, name) == 0)
			return &p->rules[i];
	return NULL;
}

static bool allows(const struct sbx_profile *p, const char *name)
{
	for (size_t i = 0; i < p->n_rules; i++)
		if (strcmp(p->rules[i].syscall, name) == 0 &&
		    (p->rules[i].action == SBX_SC_ALLOW || p->rules[i].action == SBX_SC_LOG))
			return true;
	return false;
}

static bool allowed_always(const struct sbx_profile *p, const char *name)
{
	const struct sbx_sc_rule *r = find(p, name, 0);
	return r && r->action == SBX_SC_ALLOW && r->n_args == 0;
}

static const char *const forbidden[] = {
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "perf_event_open",
    "name_to_handle_at",
    "open_by_handle_at",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "userfaultfd",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "fsopen",
    "fsmount",
    "fsconfig",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "unshare",
    "setns",
    "clone3",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "quotactl_fd",
    "lookup_dcookie",
    "vhangup",
    "iopl",
    "ioperm",
    "syslog",
    "kcmp",
    "pidfd_getfd",
    "sethostname",
    "setdomainname",
    "settimeofday",
    "clock_settime",
    "modify_ldt",
    "fanotify_init",
};

Test(profile, default_refuses_forbidden)
{
	struct sbx_profile *p = load_shipped("default");

	cr_assert(eq(int, p->default_action, SBX_SC_ERRNO));
	cr_assert(eq(int, p->default_errno, EPERM));
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		cr_assert(sbx_profile_syscall_nr(forbidden[i]) >= 0, "%s", forbidden[i]);
		cr_assert(not(allows(p, forbidden[i])), "default allows %s", forbidden[i]);
	}
	/* what ordinary programs need is there */
	cr_assert(allowed_always(p, "read") && allowed_always(p, "execve") &&
		  allowed_always(p, "ioctl") && allowed_always(p, "fork") &&
		  allowed_always(p, "rt_sigreturn") && allowed_always(p, "exit_group"));
	sbx_profile_free(p);
}

Test(profile, default_has_the_argument_rules)
{
	struct sbx_profile *p = load_shipped("default");
	const struct sbx_sc_rule *r;
	uint64_t persona = 0;
	unsigned tiocsti = 0, tioclinux = 0, n_persona = 0;

	r = find(p, "clone", 0);
	cr_assert(r && r->action == SBX_SC_ALLOW && r->n_args == 1);
	cr_assert(r->args[0].index == 0 && r->args[0].op == SBX_SC_MASKED_EQ);
	cr_assert(eq(u64, r->args[0].mask, 0x7e020000));
	cr_assert(eq(u64, r->args[0].value, 0));
	cr_assert(eq(ptr, (void *)find(p, "clone", (size_t)(r - p->rules) + 1), NULL));

	r = find(p, "clone3", 0);
	cr_assert(r && r->action == SBX_SC_ERRNO && r->errno_ret == ENOSYS && r->n_args == 0);

	for (r = find(p, "ioctl", 0); r; r = find(p, "ioctl", (size_t)(r - p->rules) + 1)) {
		if (r->n_args == 0)
			continue;
		cr_assert(r->action == SBX_SC_ERRNO && r->errno_ret == EPERM && r->n_args == 1);
		cr_assert(r->args[0].index == 1 && r->args[0].op == SBX_SC_MASKED_EQ);
		cr_assert(eq(u64, r->args[0].mask, 0xffffffff), "low 32 bits (CVE-2019-10063)");
		tiocsti += r->args[0].value == 0x5412;
		tioclinux += r->args[0].value == 0x541c;
	}
	cr_assert(tiocsti == 1 && tioclinux == 1);

	for (r = find(p, "personality", 0); r;
	     r = find(p, "personality", (size_t)(r - p->rules) + 1)) {
		cr_assert(r->action == SBX_SC_ALLOW && r->n_args == 1 &&
			  r->args[0].op == SBX_SC_EQ);
		persona |= r->args[0].value;
		n_persona++;
	}
	cr_assert(eq(u32, n_persona, 5));
	cr_assert(eq(u64, persona, 0xffffffff)); /* 0, 8, 0x20000, 0x20008, 0xffffffff */
	sbx_profile_free(p);
}

Test(profile, strict_loads_and_is_smaller)
{
	struct sbx_profile *s = load_shipped("strict"), *d = load_shipped("default");
	const struct sbx_sc_rule *r;

	cr_assert(s->n_rules < d->n_rules / 2);
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
		cr_assert(not(allows(s, forbidden[i])), "strict allows %s", forbidden[i]);
	cr_assert(not(allows(s, "fork")));
	cr_assert(not(allows(s, "vfork")));
	r = find(s, "socket", 0);
	cr_assert(r && r->n_args == 1 && r->args[0].op == SBX_SC_EQ && r->args[0].value == 1);
	cr_assert(eq(ptr, (void *)find(s, "socket", (size_t)(r - s->rules) + 1), NULL));
	sbx_profile_free(s);
	sbx_profile_free(d);
}

Test(profile, resolve_prefers_dir_then_embedded)
{
	char dir[] = "/tmp/sbx-test-profile-XXXXXX", path[128];
	struct sbx_diags d = {0};
	struct sbx_profile *p = NULL;
	FILE *f;

	cr_assert(mkdtemp(dir) != NULL);
	(void)snprintf(path, sizeof(path), "%s/default.json", dir);
	f = fopen(path, "w");
	cr_assert(f != NULL);
	(void)fputs("{\"default\": {\"action\": \"kill\"}, \"allow\": [\"exit\"]}\n", f);
	cr_assert(eq(int, fclose(f), 0));

	cr_assert(eq(int, sbx_profile_resolve("default", dir, &p, &d), 0));
	cr_assert(eq(sz, p->n_rules, 1));
	cr_assert(eq(str, p->path, path));
	p = sbx_profile_free(p);

	cr_assert(eq(int, sbx_profile_resolve(path, "/nonexistent", &p, &d), 0)); /* a path */
	cr_assert(eq(str, p->name, "default"));
	p = sbx_profile_free(p);

	cr_assert(eq(int, sbx_profile_resolve("strict", dir, &p, &d), 0)); /* embedded */
	cr_assert(eq(str, p->path, "<embedded>/profiles/strict.json"));
	p = sbx_profile_free(p);
	cr_assert(eq(sz, d.n, 0));

	cr_assert(eq(int, sbx_profile_resolve("nosuch", dir, &p, &d), -ENOENT));
	cr_assert(eq(sz, d.n, 1));
	cr_assert(eq(ptr, p, NULL));
	diags_free(&d);
	cr_assert(eq(int, sbx_profile_resolve(".hidden", dir, &p, &d), -EINVAL));
	cr_assert(eq(int, sbx_profile_resolve("/nonexistent/x.json", dir, &p, &d), -ENOENT));
	cr_assert(eq(sz, d.n, 2));
	diags_free(&d);

	(void)unlink(path);
	(void)rmdir(dir);
}
