/* SPDX-License-Identifier: MIT */
/*
 * sbxctl policy check|show: the operator's view of policy files. `check` prints every error
 * of every file as "file:line:col: key: message" on stderr (the text sbxd logs when it
 * refuses a file) and "ok FILE" on stdout; `show` prints a resolved policy, defaults
 * included, as a policy file that loads back to the same policy.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/commands.h"
#include "common/json-util.h"
#include "common/macro.h"
#include "policy/policy.h"
#include "policy/profile.h"

struct policy_args {
	const char *policy_dir; /* NULL: names resolve in the built-in set only */
	const char *profile_dir;
	bool dir_given;
};

static void usage(FILE *f)
{
	(void)fprintf(
	    f,
	    "usage: sbxctl policy check [--policy-dir DIR] [--profile-dir DIR] [FILE|NAME...]\n"
	    "       sbxctl policy show [--policy-dir DIR] [--profile-dir DIR] NAME|FILE\n"
	    "\n"
	    "check: prints every error as 'file:line:col: key: message' on stderr and\n"
	    "'ok FILE' for each valid policy; exit 0 when all are valid, 1 otherwise.\n"
	    "Without FILE, checks every *.json in --policy-dir, as sbxd does at start.\n"
	    "An argument with '/' or ending in .json is a file, else a policy name.\n"
	    "show: prints the resolved policy (defaults included) as JSON.\n"
	    "\n"
	    "  --policy-dir DIR   where named policies live (default %s)\n"
	    "  --profile-dir DIR  where named seccomp profiles live (default %s)\n",
	    SBX_POLICY_DIR, SBX_PROFILE_DIR);
}

static void print_diags(const struct sbx_diags *d, const char *seccomp, const char *file)
{
	char buf[1024];

	for (size_t i = 0; i < d->n; i++) {
		struct sbx_diag x = d->v[i];
		/* A profile that does not resolve is the policy's fault: name the policy file. */
		if (seccomp && strcmp(x.file, seccomp) == 0)
			(void)snprintf(x.file, sizeof(x.file), "%s", file);
		(void)sbx_diag_format(&x, buf, sizeof(buf));
		(void)fprintf(stderr, "%s\n", buf);
	}
}

static int load(const struct policy_args *a, const char *arg, struct sbx_policy **ret,
		struct sbx_diags *d)
{
	size_t n = strlen(arg);

	if (strchr(arg, '/') || (n > 5 && strcmp(arg + n - 5, ".json") == 0))
		return sbx_policy_load_file(arg, NULL, ret, d);
	return sbx_policy_resolve(arg, a->policy_dir, ret, d);
}

/* One argument: 0 valid, 1 not. */
static int check_one(const struct policy_args *a, const char *arg)
{
	_cleanup_(sbx_policy_freep) struct sbx_policy *p = NULL;
	_cleanup_(sbx_profile_freep) struct sbx_profile *prof = NULL;
	struct sbx_diags d = {0};
	int r;

	r = load(a, arg, &p, &d);
	if (r >= 0)
		r = sbx_profile_resolve(p->seccomp, a->profile_dir, &prof, &d);
	print_diags(&d, p ? p->seccomp : NULL, p ? p->path : arg);
	sbx_diags_clear(&d);
	if (r < 0)
		return 1;
	(void)printf("ok %s\n", arg);
	return 0;
}

static int check_dir(const struct policy_args *a)
{
	struct dirent **names = NULL;
	int n, bad = 0, found = 0;

	n = scandir(a->policy_dir, &names, NULL, alphasort);
	if (n < 0) {
		(void)fprintf(stderr, "%s: %s\n", a->policy_dir, strerror(errno));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		const char *e = names[i]->d_name;
		size_t len = strlen(e);
		char path[4096];
		if (e[0] != '.' && len > 5 && strcmp(e + len - 5, ".json") == 0 &&
		    snprintf(path, sizeof(path), "%s/%s", a->policy_dir, e) < (int)sizeof(path)) {
			bad |= check_one(a, path);
			found++;
		}
		free(names[i]);
	}
	free(names);
	if (!found)
		(void)printf("%s: no *.json policy files (the built-in default applies)\n",
			     a->policy_dir);
	return bad;
}

static void jsonp(json_t **j)
{
	json_decref(*j);
}

static json_t *strv(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		(void)json_array_append_new(a, json_string(v[i]));
	return a;
}

static void set_limit(json_t *o, const char *key, uint64_t v)
{
	if (v != SBX_LIMIT_UNSET)
		(void)json_object_set_new(o, key, json_integer((json_int_t)v));
}

static json_t *to_json(const struct sbx_policy *p)
{
	static const char *const nets[] = {"none", "host", "proxy"};
	static const char *const rl[_SBX_RLIMIT_MAX] = {"nofile", "nproc", "fsize",  "cpu",
							"as",	  "stack", "memlock"};
	json_t *o = json_object(), *binds = json_array(), *tmpfs = json_array();
	json_t *net = json_object(), *rlim = json_object(), *cg = json_object();
	char mode[8];

	if (p->description)
		(void)json_object_set_new(o, "description", json_string(p->description));
	for (size_t i = 0; i < p->n_binds; i++)
		(void)json_array_append_new(
		    binds, json_pack("{s:s, s:s, s:b, s:b}", "source", p->binds[i].source, "target",
				     p->binds[i].target, "rw", p->binds[i].rw, "optional",
				     p->binds[i].optional));
	for (size_t i = 0; i < p->n_tmpfs; i++) {
		(void)snprintf(mode, sizeof(mode), "%04o", (unsigned)p->tmpfs[i].mode);
		(void)json_array_append_new(
		    tmpfs, json_pack("{s:s, s:I, s:s}", "target", p->tmpfs[i].target, "size",
				     (json_int_t)p->tmpfs[i].size, "mode", mode));
	}
	(void)json_object_set_new(o, "binds", binds);
	(void)json_object_set_new(o, "tmpfs", tmpfs);
	(void)json_object_set_new(net, "mode", json_string(nets[p->net]));
	if (p->net == SBX_NET_PROXY)
		(void)json_object_set_new(net, "allow", strv(p->net_allow, p->n_net_allow));
	(void)json_object_set_new(o, "network", net);
	(void)json_object_set_new(o, "seccomp", json_string(p->seccomp));
	(void)json_object_set_new(o, "user_namespace", json_boolean(p->user_namespace));
	(void)json_object_set_new(o, "hostname", json_string(p->hostname));
	(void)json_object_set_new(o, "cwd", json_string(p->cwd));
	for (size_t i = 0; i < _SBX_RLIMIT_MAX; i++)
		set_limit(rlim, rl[i], p->rlimits[i]);
	(void)json_object_set_new(rlim, "core", json_integer(0));
	(void)json_object_set_new(o, "rlimits", rlim);
	(void)json_object_set_new(cg, "memory",
				  p->memory_max ? json_integer((json_int_t)p->memory_max)
						: json_string("max"));
	(void)json_object_set_new(
	    cg, "pids", p->pids_max ? json_integer((json_int_t)p->pids_max) : json_string("max"));
	(void)json_object_set_new(
	    cg, "cpu", p->cpu_millis ? json_real(p->cpu_millis / 1000.0) : json_string("max"));
	(void)json_object_set_new(o, "cgroup", cg);
	(void)json_object_set_new(o, "timeout",
				  json_pack("{s:I, s:I}", "default",
					    (json_int_t)p->timeout_default_ms, "max",
					    (json_int_t)p->timeout_max_ms));
	(void)json_object_set_new(o, "secrets", strv(p->secrets, p->n_secrets));
	(void)json_object_set_new(o, "env", strv(p->env, p->n_env));
	json_t *uids = json_array();
	for (size_t i = 0; uids && i < p->n_uids; i++)
		(void)json_array_append_new(uids, json_integer(p->uids[i]));
	(void)json_object_set_new(
	    o, "clients",
	    json_pack("{s:o, s:o}", "uids", uids, "groups", strv(p->groups, p->n_groups)));
	json_t *out = json_pack("{s:b}", "redact", p->redact);
	if (p->output_max)
		(void)json_object_set_new(out, "max", json_integer((json_int_t)p->output_max));
	(void)json_object_set_new(o, "output", out);
	return o;
}

static int show(const struct policy_args *a, const char *arg)
{
	_cleanup_(sbx_policy_freep) struct sbx_policy *p = NULL;
	_cleanup_(jsonp) json_t *o = NULL;
	_cleanup_free_ char *text = NULL;
	struct sbx_diags d = {0};
	int r;

	r = load(a, arg, &p, &d);
	print_diags(&d, NULL, arg);
	sbx_diags_clear(&d);
	if (r < 0)
		return 1;
	o = to_json(p);
	text = o ? sbx_json_dump(o, JSON_INDENT(2), true) : NULL;
	if (!text) {
		(void)fprintf(stderr, "sbxctl: out of memory\n");
		return 1;
	}
	(void)fprintf(stderr, "# policy '%s' from %s\n", p->name, p->path);
	(void)fputs(text, stdout);
	return 0;
}

int sbx_cmd_policy(int argc, char **argv)
{
	enum {
		OPT_POLICY_DIR = 256,
		OPT_PROFILE_DIR
	};
	static const struct option opts[] = {
	    {"policy-dir", required_argument, NULL, OPT_POLICY_DIR},
	    {"profile-dir", required_argument, NULL, OPT_PROFILE_DIR},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct policy_args a = {.policy_dir = SBX_POLICY_DIR, .profile_dir = SBX_PROFILE_DIR};
	const char *verb;
	int c, bad = 0;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? SBX_EXIT_USAGE : 0;
	}
	verb = argv[1];
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) >= 0) {
		switch (c) {
		case OPT_POLICY_DIR:
			a.policy_dir = optarg;
			a.dir_given = true;
			break;
		case OPT_PROFILE_DIR:
			a.profile_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return SBX_EXIT_USAGE;
		}
	}
	argc -= optind + 1;
	argv += optind + 1;
	if (strcmp(verb, "check") == 0) {
		if (argc == 0 && !a.dir_given) {
			(void)fprintf(stderr, "sbxctl policy check: no FILE and no --policy-dir\n");
			return SBX_EXIT_USAGE;
		}
		if (argc == 0)
			return check_dir(&a);
		for (int i = 0; i < argc; i++)
			bad |= check_one(&a, argv[i]);
		return bad ? 1 : 0;
	}
	if (strcmp(verb, "show") == 0) {
		if (argc != 1) {
			(void)fprintf(stderr, "sbxctl policy show: expected one NAME or FILE\n");
			return SBX_EXIT_USAGE;
		}
		return show(&a, argv[0]);
	}
	(void)fprintf(stderr, "sbxctl policy: unknown verb '%s' (check, show)\n", verb);
	usage(stderr);
	return SBX_EXIT_USAGE;
}
