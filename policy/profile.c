/* SPDX-License-Identifier: MIT */
/*
 * Seccomp profile files (docs/seccomp.md) to a checked rule list. Owns the JSON format only:
 * it must never include <seccomp.h> or link libseccomp (sandbox/seccomp.c compiles the
 * result), so syscall names resolve against the committed x86_64 table in
 * policy/syscall-names.h. Strict like the policy parser: an unknown key, syscall or errno
 * name, or a rule that another rule would silently shadow, is an error naming its key.
 */
#include "policy/profile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "policy/embedded.h"
#include "policy/syscall-names.h"

#define PROFILE_MAX_SIZE ((size_t)1024 * 1024)
#define ARG_COUNT	 6

struct parser {
	const char *path;
	struct sbx_diags *diags;
	unsigned n_err;
};

static void jsonp(json_t **j)
{
	json_decref(*j);
}

static void diag_va(struct parser *p, int line, int col, const char *key, const char *fmt,
		    va_list ap) _printf_(5, 0);
static void diag_va(struct parser *p, int line, int col, const char *key, const char *fmt,
		    va_list ap)
{
	struct sbx_diag *v, *d;

	p->n_err++;
	if (!p->diags)
		return;
	v = reallocarray(p->diags->v, p->diags->n + 1, sizeof(*v));
	if (!v)
		return; /* the load still fails: n_err counts it */
	p->diags->v = v;
	d = &v[p->diags->n++];
	memset(d, 0, sizeof(*d));
	(void)snprintf(d->file, sizeof(d->file), "%s", p->path ? p->path : "<profile>");
	d->line = line;
	d->col = col;
	(void)snprintf(d->key, sizeof(d->key), "%s", key);
	(void)vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
}

static void add_diag(struct parser *p, int line, int col, const char *key, const char *fmt, ...)
    _printf_(5, 6);
static void add_diag(struct parser *p, int line, int col, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_va(p, line, col, key, fmt, ap);
	va_end(ap);
}

/* An error without a position (jansson keeps none for values). */
static void diag(struct parser *p, const char *key, const char *fmt, ...) _printf_(3, 4);
static void diag(struct parser *p, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_va(p, 0, 0, key, fmt, ap);
	va_end(ap);
}

/* Key paths ("rules[3].args[0].op") are cut at the diag's size, never an error. */
static void keyf(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
static void keyf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, ((const struct sbx_syscall_name *)b)->name);
}

int sbx_profile_syscall_nr(const char *name)
{
	const struct sbx_syscall_name *s;

	s = bsearch(name, sbx_syscall_names, ARRAY_SIZE(sbx_syscall_names),
		    sizeof(sbx_syscall_names[0]), name_cmp);
	return s ? s->nr : -ENOENT;
}

/* "EPERM" -> 1 through glibc's own names, so the list cannot drift from the headers. */
static int errno_from_name(const char *name)
{
	static const struct {
		const char *alias;
		int value;
	} aliases[] = {
	    {"EWOULDBLOCK", EWOULDBLOCK}, {"EDEADLOCK", EDEADLOCK}, {"ENOTSUP", ENOTSUP}};

	for (int i = 1; i < 4096; i++) {
		const char *n = strerrorname_np(i);
		if (n && strcmp(n, name) == 0)
			return i;
	}
	for (size_t i = 0; i < ARRAY_SIZE(aliases); i++)
		if (strcmp(aliases[i].alias, name) == 0)
			return aliases[i].value;
	return -ENOENT;
}

/* Every key of obj must be in allowed (NULL-terminated). */
static void check_keys(struct parser *p, json_t *obj, const char *where, const char *const *allowed)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v)
	{
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(*a, k) == 0;
		if (!ok) {
			char key[128];
			keyf(key, sizeof(key), "%s%s%s", where, *where ? "." : "", k);
			diag(p, key, "unknown key '%s'", k);
		}
	}
}

/* A JSON integer >= 0, or a string "0x..." (hex) or "123" (decimal). */
static int parse_number(struct parser *p, json_t *v, const char *key, uint64_t *ret)
{
	const char *s;
	char *end = NULL;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0) {
			diag(p, key, "must not be negative");
			return -EINVAL;
		}
		*ret = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v)) {
		diag(p, key, "must be an integer or a \"0x...\" string");
		return -EINVAL;
	}
	s = json_string_value(v);
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		if (*s && strspn(s, "0123456789abcdefABCDEF") == strlen(s) && strlen(s) <= 16) {
			*ret = strtoull(s, &end, 16);
			return 0;
		}
	} else if (*s && strspn(s, "0123456789") == strlen(s)) {
		errno = 0;
		*ret = strtoull(s, &end, 10);
		if (errno == 0)
			return 0;
	}
	diag(p, key, "'%s' is not a 64-bit number (\"0x...\" or decimal)", json_string_value(v));
	return -EINVAL;
}

/* "action" (and "errno" for action errno) of obj: the default or one rule. */
static int parse_action(struct parser *p, json_t *obj, const char *where,
			enum sbx_sc_action *ret_action, int *ret_errno)
{
	static const struct {
		const char *name;
		enum sbx_sc_action action;
	} actions[] = {{"allow", SBX_SC_ALLOW},
		       {"errno", SBX_SC_ERRNO},
		       {"kill", SBX_SC_KILL},
		       {"log", SBX_SC_LOG}};
	json_t *a = json_object_get(obj, "action"), *e = json_object_get(obj, "errno");
	char key[128];
	size_t i;

	keyf(key, sizeof(key), "%s.action", where);
	if (!json_is_string(a)) {
		diag(p, key, a ? "must be a string" : "missing (allow, errno, kill or log)");
		return -EINVAL;
	}
	for (i = 0; i < ARRAY_SIZE(actions); i++)
		if (strcmp(actions[i].name, json_string_value(a)) == 0)
			break;
	if (i == ARRAY_SIZE(actions)) {
		diag(p, key, "unknown action '%s' (allow, errno, kill or log)",
		     json_string_value(a));
		return -EINVAL;
	}
	*ret_action = actions[i].action;
	*ret_errno = 0;

	keyf(key, sizeof(key), "%s.errno", where);
	if (actions[i].action != SBX_SC_ERRNO) {
		if (e) {
			diag(p, key, "only with action errno");
			return -EINVAL;
		}
		return 0;
	}
	if (!json_is_string(e)) {
		diag(p, key,
		     e ? "must be an errno name (\"EPERM\")" : "missing: action errno needs it");
		return -EINVAL;
	}
	*ret_errno = errno_from_name(json_string_value(e));
	if (*ret_errno < 0) {
		diag(p, key, "unknown errno name '%s'", json_string_value(e));
		return -EINVAL;
	}
	return 0;
}

static int parse_arg(struct parser *p, json_t *a, const char *where, struct sbx_sc_arg *ret)
{
	static const char *const keys[] = {"index", "op", "value", "mask", NULL};
	static const char *const ops[] = {
	    [SBX_SC_EQ] = "eq",
	    [SBX_SC_NE] = "ne",
	    [SBX_SC_LT] = "lt",
	    [SBX_SC_LE] = "le",
	    [SBX_SC_GT] = "gt",
	    [SBX_SC_GE] = "ge",
	    [SBX_SC_MASKED_EQ] = "masked_eq",
	};
	json_t *idx, *op, *val, *mask;
	char key[128];
	size_t i;
	int r = 0;

	if (!json_is_object(a)) {
		diag(p, where, "must be an object {index, op, value[, mask]}");
		return -EINVAL;
	}
	check_keys(p, a, where, keys);
	idx = json_object_get(a, "index");
	op = json_object_get(a, "op");
	val = json_object_get(a, "value");
	mask = json_object_get(a, "mask");

	keyf(key, sizeof(key), "%s.index", where);
	if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
	    json_integer_value(idx) >= ARG_COUNT) {
		diag(p, key, idx ? "must be an integer 0..5" : "missing");
		r = -EINVAL;
	} else
		ret->index = (unsigned)json_integer_value(idx);

	keyf(key, sizeof(key), "%s.op", where);
	for (i = 0; json_is_string(op) && i < ARRAY_SIZE(ops); i++)
		if (strcmp(ops[i], json_string_value(op)) == 0)
			break;
	if (!json_is_string(op) || i == ARRAY_SIZE(ops)) {
		diag(p, key, op ? "must be one of eq ne lt le gt ge masked_eq" : "missing");
		return -EINVAL;
	}
	ret->op = (enum sbx_sc_op)i;

	keyf(key, sizeof(key), "%s.value", where);
	if (!val) {
		diag(p, key, "missing");
		r = -EINVAL;
	} else if (parse_number(p, val, key, &ret->value) < 0)
		r = -EINVAL;

	keyf(key, sizeof(key), "%s.mask", where);
	ret->mask = 0;
	if (ret->op != SBX_SC_MASKED_EQ) {
		if (mask) {
			diag(p, key, "only with op masked_eq");
			r = -EINVAL;
		}
	} else if (!mask) {
		diag(p, key, "missing: masked_eq needs it");
		r = -EINVAL;
	} else if (parse_number(p, mask, key, &ret->mask) < 0)
		r = -EINVAL;
	else if (r == 0 && (ret->value & ~ret->mask) != 0) {
		keyf(key, sizeof(key), "%s.value", where);
		diag(p, key, "has bits outside the mask: the rule could never match");
		r = -EINVAL;
	}
	return r;
}

static int parse_syscall(struct parser *p, json_t *v, const char *key, struct sbx_sc_rule *rule)
{
	int nr;

	if (!json_is_string(v)) {
		diag(p, key, v ? "must be a syscall name" : "missing");
		return -EINVAL;
	}
	nr = sbx_profile_syscall_nr(json_string_value(v));
	if (nr < 0) {
		diag(p, key, "unknown x86_64 syscall '%s'", json_string_value(v));
		return -EINVAL;
	}
	rule->syscall = strdup(json_string_value(v));
	if (!rule->syscall)
		return -ENOMEM;
	rule->nr = nr;
	return 0;
}

static int parse_rule(struct parser *p, json_t *o, const char *where, struct sbx_sc_rule *rule)
{
	static const char *const keys[] = {"syscall", "action", "errno", "args", "comment", NULL};
	json_t *args, *c, *a;
	char key[128];
	size_t i;
	int r;

	if (!json_is_object(o)) {
		diag(p, where, "must be an object {syscall, action, ...}");
		return -EINVAL;
	}
	check_keys(p, o, where, keys);
	keyf(key, sizeof(key), "%s.syscall", where);
	r = parse_syscall(p, json_object_get(o, "syscall"), key, rule);
	if (r == -ENOMEM)
		return r;
	if (parse_action(p, o, where, &rule->action, &rule->errno_ret) < 0)
		r = -EINVAL;
	c = json_object_get(o, "comment");
	if (c && !json_is_string(c)) {
		keyf(key, sizeof(key), "%s.comment", where);
		diag(p, key, "must be a string");
	}
	args = json_object_get(o, "args");
	if (!args)
		return r;
	keyf(key, sizeof(key), "%s.args", where);
	if (!json_is_array(args) || json_array_size(args) > ARG_COUNT) {
		diag(p, key, "must be an array of at most 6 comparisons");
		return -EINVAL;
	}
	json_array_foreach(args, i, a)
	{
		struct sbx_sc_arg *arg = &rule->args[i];
		keyf(key, sizeof(key), "%s.args[%zu]", where, i);
		if (parse_arg(p, a, key, arg) < 0) {
			r = -EINVAL;
			continue;
		}
		rule->n_args = i + 1;
		/* libseccomp takes one comparison per argument and rule. */
		for (size_t j = 0; j < i; j++)
			if (rule->args[j].index == arg->index) {
				diag(p, key, "argument %u is already compared in args[%zu]",
				     arg->index, j);
				r = -EINVAL;
			}
	}
	return r;
}

static bool same_action(enum sbx_sc_action a, int ea, enum sbx_sc_action b, int eb)
{
	return a == b && (a != SBX_SC_ERRNO || ea == eb);
}

/* Rules that libseccomp would reject or silently shadow (docs/seccomp.md "Rules"):
 * rules[0..n_allow) come from "allow", the rest from "rules". */
static void check_conflicts(struct parser *p, const struct sbx_profile *prof, size_t n_allow)
{
	char key[128];

	for (size_t i = 0; i < prof->n_rules; i++) {
		const struct sbx_sc_rule *ri = &prof->rules[i];

		if (i < n_allow)
			keyf(key, sizeof(key), "allow[%zu]", i);
		else
			keyf(key, sizeof(key), "rules[%zu]", i - n_allow);
		if (ri->n_args == 0 && same_action(ri->action, ri->errno_ret, prof->default_action,
						   prof->default_errno)) {
			diag(p, key, "'%s' gets the default action anyway", ri->syscall);
			continue;
		}
		for (size_t j = 0; j < i; j++) {
			const struct sbx_sc_rule *rj = &prof->rules[j];
			char other[32];

			if (rj->nr != ri->nr)
				continue;
			if (j < n_allow)
				keyf(other, sizeof(other), "allow[%zu]", j);
			else
				keyf(other, sizeof(other), "rules[%zu]", j - n_allow);
			if (i < n_allow)
				diag(p, key, "'%s' listed twice (also %s)", ri->syscall, other);
			else if (ri->n_args == 0 || (rj->n_args == 0 && j >= n_allow))
				diag(p, key,
				     "'%s': an unconditional rule must be the only one (also %s)",
				     ri->syscall, other);
			else if (j < n_allow && ri->action == SBX_SC_ALLOW)
				diag(p, key,
				     "'%s' is always allowed (%s): this condition changes nothing",
				     ri->syscall, other);
			else
				continue;
			break;
		}
	}
}

static int parse_profile(struct parser *p, json_t *root, struct sbx_profile *prof)
{
	static const char *const keys[] = {"description", "default", "allow", "rules", NULL};
	static const char *const default_keys[] = {"action", "errno", NULL};
	json_t *def, *allow, *rules, *v;
	size_t i, n_allow;
	char key[128];
	int r;

	if (!json_is_object(root)) {
		diag(p, "", "a profile is a JSON object");
		return -EINVAL;
	}
	check_keys(p, root, "", keys);
	v = json_object_get(root, "description");
	if (v && !json_is_string(v))
		diag(p, "description", "must be a string");

	def = json_object_get(root, "default");
	if (!json_is_object(def))
		diag(p, "default", def ? "must be an object {action[, errno]}" : "missing");
	else {
		check_keys(p, def, "default", default_keys);
		(void)parse_action(p, def, "default", &prof->default_action, &prof->default_errno);
	}

	allow = json_object_get(root, "allow");
	if (allow && !json_is_array(allow)) {
		diag(p, "allow", "must be an array of syscall names");
		allow = NULL;
	}
	rules = json_object_get(root, "rules");
	if (rules && !json_is_array(rules)) {
		diag(p, "rules", "must be an array of rules");
		rules = NULL;
	}
	n_allow = json_array_size(allow);
	prof->rules = calloc(n_allow + json_array_size(rules) + 1, sizeof(*prof->rules));
	if (!prof->rules)
		return -ENOMEM;

	json_array_foreach(allow, i, v)
	{
		struct sbx_sc_rule *rule = &prof->rules[prof->n_rules];
		keyf(key, sizeof(key), "allow[%zu]", i);
		r = parse_syscall(p, v, key, rule);
		if (r == -ENOMEM)
			return r;
		rule->action = SBX_SC_ALLOW;
		prof->n_rules++; /* even when bad, so indexes match allow[i] */
	}
	json_array_foreach(rules, i, v)
	{
		keyf(key, sizeof(key), "rules[%zu]", i);
		r = parse_rule(p, v, key, &prof->rules[prof->n_rules++]);
		if (r == -ENOMEM)
			return r;
	}
	if (p->n_err == 0)
		check_conflicts(p, prof, n_allow);
	return p->n_err ? -EINVAL : 0;
}

struct sbx_profile *sbx_profile_free(struct sbx_profile *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->n_rules; i++)
		free(p->rules[i].syscall);
	free(p->rules);
	free(p->name);
	free(p->path);
	free(p);
	return NULL;
}

/* "/etc/sbx/profiles/web.json" -> "web" */
static char *name_from_path(const char *path)
{
	const char *b = strrchr(path, '/');
	size_t n;

	b = b ? b + 1 : path;
	n = strlen(b);
	if (n > 5 && strcmp(b + n - 5, ".json") == 0)
		n -= 5;
	return strndup(b, n);
}

int sbx_profile_load_data(const char *data, size_t len, const char *path, const char *name,
			  struct sbx_profile **ret, struct sbx_diags *diags)
{
	_cleanup_(jsonp) json_t *root = NULL;
	struct sbx_profile *prof;
	struct parser p = {.path = path, .diags = diags};
	json_error_t jerr;
	int r;

	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		add_diag(&p, jerr.line, jerr.column, "", "%s", jerr.text);
		return -EINVAL;
	}
	prof = calloc(1, sizeof(*prof));
	if (!prof)
		return -ENOMEM;
	prof->path = strdup(path ? path : "<profile>");
	prof->name = name ? strdup(name) : name_from_path(prof->path ? prof->path : "");
	r = prof->path && prof->name ? parse_profile(&p, root, prof) : -ENOMEM;
	if (r < 0) {
		sbx_profile_free(prof);
		return r;
	}
	*ret = prof;
	return 0;
}

static int load_file(const char *path, const char *name, struct sbx_profile **ret,
		     struct sbx_diags *diags)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r;

	r = sbx_fd_read_file(path, PROFILE_MAX_SIZE, &data, &len);
	if (r < 0) {
		struct parser p = {.path = path, .diags = diags};
		if (r == -EFBIG)
			diag(&p, "", "larger than %zu bytes", PROFILE_MAX_SIZE);
		else
			diag(&p, "", "cannot read: %s", strerror(-r));
		return r;
	}
	return sbx_profile_load_data(data, len, path, name, ret, diags);
}

int sbx_profile_load_file(const char *path, struct sbx_profile **ret, struct sbx_diags *diags)
{
	return load_file(path, NULL, ret, diags);
}

static bool name_is_valid(const char *name)
{
	return name[0] && name[0] != '.' && strlen(name) < 64 &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
		   strlen(name);
}

int sbx_profile_resolve(const char *name_or_path, const char *dir, struct sbx_profile **ret,
			struct sbx_diags *diags)
{
	struct parser p = {.path = name_or_path, .diags = diags};
	const struct sbx_embedded_file *f;
	char path[4096];
	int r;

	if (strchr(name_or_path, '/'))
		return load_file(name_or_path, NULL, ret, diags);
	if (!name_is_valid(name_or_path)) {
		diag(&p, "seccomp", "'%s' is neither a profile name nor a path", name_or_path);
		return -EINVAL;
	}
	r = sbx_embedded_locate(name_or_path, dir, "profiles/", path, sizeof(path), &f);
	if (r == -ENAMETOOLONG) {
		diag(&p, "seccomp", "profile directory path too long");
		return r;
	}
	if (r == 0 && !f)
		return load_file(path, name_or_path, ret, diags);
	if (r == 0)
		return sbx_profile_load_data(f->data, f->size, path, name_or_path, ret, diags);
	diag(&p, "seccomp", "no seccomp profile '%s' in %s or built in", name_or_path,
	     dir ? dir : "(no directory)");
	return -ENOENT;
}
