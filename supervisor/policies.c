/* SPDX-License-Identifier: MIT */
#include "supervisor/policies.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "policy/profile.h"

static void print_diags(struct sbx_diags *d)
{
	char buf[1024];

	for (size_t i = 0; i < d->n; i++) {
		(void)sbx_diag_format(&d->v[i], buf, sizeof(buf));
		log_error("%s", buf);
	}
	sbx_diags_clear(d);
}

static int add(struct sbx_policy_set *set, struct sbx_policy *p, const char *profile_dir)
{
	_cleanup_(sbx_profile_freep) struct sbx_profile *prof = NULL;
	struct sbx_diags diags = {0};
	struct sbx_policy_entry *e, **v;
	int r;

	r = sbx_profile_resolve(p->seccomp, profile_dir, &prof, &diags);
	if (r < 0) {
		print_diags(&diags);
		sbx_policy_free(p);
		return r;
	}
	e = calloc(1, sizeof(*e));
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	v = realloc(set->v, (set->n + 1) * sizeof(*v));
	if (!e || !v) {
		free(e);
		if (v)
			set->v = v;
		sbx_policy_free(p);
		return -ENOMEM;
	}
	set->v = v;
	r = sbx_seccomp_compile(prof, &e->seccomp);
	if (r < 0) {
		log_error_errno(r, "policy '%s': compiling seccomp profile '%s'", p->name,
				prof->name);
		free(e);
		sbx_policy_free(p);
		return r;
	}
	e->refs = 1;
	e->policy = p;
	set->v[set->n++] = e;
	return 0;
}

static bool has(struct sbx_policy_set *set, const char *name)
{
	return sbx_policies_get(set, name) != NULL;
}

int sbx_policies_load(const char *dir, const char *profile_dir, struct sbx_policy_set **ret)
{
	struct sbx_policy_set *set = calloc(1, sizeof(*set));
	struct sbx_diags diags = {0};
	struct dirent *de;
	DIR *d;
	int r = 0, bad = 0;

	if (!set)
		return -ENOMEM;
	d = opendir(dir);
	if (!d && errno != ENOENT) {
		r = log_error_errno(-errno, "policy directory '%s'", dir);
		sbx_policies_free(set);
		return r;
	}
	while (d && (de = readdir(d))) {
		char path[4096], name[256];
		size_t n = strlen(de->d_name);
		struct sbx_policy *p = NULL;
		if (n <= 5 || strcmp(de->d_name + n - 5, ".json") != 0 || de->d_name[0] == '.')
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		(void)snprintf(name, sizeof(name), "%.*s", (int)(n - 5), de->d_name);
		r = sbx_policy_load_file(path, name, &p, &diags);
		if (r < 0) {
			print_diags(&diags);
			bad++;
			continue;
		}
		if (add(set, p, profile_dir) < 0)
			bad++;
	}
	if (d)
		(void)closedir(d);
	/* The shipped default is always there unless the directory overrides it. */
	if (!bad && !has(set, "default")) {
		struct sbx_policy *p = NULL;
		r = sbx_policy_resolve("default", "/nonexistent", &p, &diags);
		if (r < 0 || add(set, p, profile_dir) < 0) {
			print_diags(&diags);
			bad++;
		}
	}
	if (bad) {
		log_error("policy directory '%s': %d broken file(s), nothing loaded", dir, bad);
		sbx_policies_free(set);
		return -EINVAL;
	}
	*ret = set;
	return 0;
}

struct sbx_policy_entry *sbx_policies_get(struct sbx_policy_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i]->policy->name, name) == 0)
			return set->v[i];
	return NULL;
}

struct sbx_policy_entry *sbx_policy_entry_ref(struct sbx_policy_entry *e)
{
	e->refs++;
	return e;
}

void sbx_policy_entry_unref(struct sbx_policy_entry *e)
{
	if (!e || --e->refs > 0)
		return;
	sbx_seccomp_free(e->seccomp);
	sbx_policy_free(e->policy);
	free(e);
}

void sbx_policies_free(struct sbx_policy_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		sbx_policy_entry_unref(set->v[i]);
	free(set->v);
	free(set);
}
