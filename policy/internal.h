/* SPDX-License-Identifier: MIT */
/*
 * Shared by policy.c (JSON to struct), validate.c (the rules a value must follow), diag.c
 * (error lists with positions) and jsonpos.c (where a key path sits in the raw text).
 * Private to policy/: no other folder includes it.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"
#include "policy/policy.h"

/* One step of a key path: an object key, or an array index when key is NULL. */
struct sbx_jpath_seg {
	const char *key;
	size_t index;
};

#define SBX_JPATH_MAX 8

/* What the parser knows while it walks one file. */
struct sbx_pctx {
	const char *file; /* for messages */
	const char *text; /* the raw JSON (NULL: no positions, e.g. command-line binds) */
	size_t len;
	struct sbx_diags *diags; /* may be NULL: errors are only counted */
	unsigned n_err;
	bool oom; /* an allocation failed: the load returns -ENOMEM */
	struct sbx_jpath_seg path[SBX_JPATH_MAX];
	size_t depth;
};

/* A position in a text: 1-based line and column (0: unknown). */
struct sbx_jpos {
	int line;
	int col;
};

/* jsonpos.c. Finds path[0..n) in text, which must be valid JSON. Sets *ret (columns count
 * characters, as jansson's do) to the value at the path, or to the key of its last step when
 * at_key. When the path is not all there, *ret is the deepest step found (the object a
 * missing key belongs in) and -ENOENT is returned. */
int sbx_jsonpos_find(const char *text, size_t len, const struct sbx_jpath_seg *path, size_t n,
		     bool at_key, struct sbx_jpos *ret);

/* diag.c. Appends a copy of x; counts it in *n_err (if given) even when out of memory. */
void sbx_diag_append(struct sbx_diags *d, unsigned *n_err, const struct sbx_diag *x);
/* Appends a diag without a position (line 0): file-level problems, command-line binds. */
void sbx_diag_add(struct sbx_diags *d, unsigned *n_err, const char *file, const char *key,
		  const char *fmt, ...) _printf_(5, 6);
/* Orders v[from..n) by position, keeping the order of equal ones (file order for a reader). */
void sbx_diag_sort(struct sbx_diags *d, size_t from);
/* "64M", "1G", "1000 bytes"; "30s", "5m", "250ms": for messages, into buf[32]. */
const char *sbx_diag_size(uint64_t bytes, char buf[32]);
const char *sbx_diag_ms(uint64_t ms, char buf[32]);
/* "binds[2].target" from a path. */
void sbx_diag_key(const struct sbx_jpath_seg *path, size_t n, char *buf, size_t size);
/* Step into a key or an index of the current value; pop leaves it. Past SBX_JPATH_MAX the
 * path is cut (positions get coarser, nothing breaks). */
void sbx_diag_push_key(struct sbx_pctx *c, const char *key);
void sbx_diag_push_index(struct sbx_pctx *c, size_t index);
void sbx_diag_pop(struct sbx_pctx *c);
/* An error about the value at the current path (at_key: about its key, e.g. unknown). */
void sbx_diag_here(struct sbx_pctx *c, bool at_key, const char *fmt, ...) _printf_(3, 4);

/* fields.c: walks the root object of a file into p (which holds the defaults already). */
struct json_t;
void sbx_fields_parse(struct sbx_pctx *c, struct json_t *root, struct sbx_policy *p);

/* values.c: typed reads. On a wrong value each adds a diag at the current path, leaves its
 * target unchanged and returns false. */
typedef void (*sbx_field_cb)(struct sbx_pctx *c, struct json_t *v, void *target);
struct sbx_field {
	const char *key;
	sbx_field_cb fn;
};
/* Calls the handler of each key of obj (an object, else a diag); unknown keys are errors. */
bool sbx_values_walk(struct sbx_pctx *c, struct json_t *obj, const struct sbx_field *f, size_t n,
		     void *target);
char *sbx_values_strdup(struct sbx_pctx *c, const char *s);
bool sbx_values_string(struct sbx_pctx *c, struct json_t *v, char **ret);
/* A string passing rule (validate.c); *ret replaced (the old one freed) only when it does. */
bool sbx_values_checked(struct sbx_pctx *c, struct json_t *v, const char *(*rule)(const char *),
			char **ret);
void sbx_values_bool(struct sbx_pctx *c, struct json_t *v, bool *ret);
bool sbx_values_count(struct sbx_pctx *c, struct json_t *v, uint64_t min, uint64_t max,
		      uint64_t *ret);
/* Bytes: an integer or "64M"; at least min. */
bool sbx_values_size(struct sbx_pctx *c, struct json_t *v, uint64_t min, uint64_t *ret);
/* Milliseconds: an integer or "30s"; more than 0. */
bool sbx_values_duration(struct sbx_pctx *c, struct json_t *v, uint64_t *ret_ms);
bool sbx_values_is_max(struct json_t *v);
/* An array of strings, each passing rule, none twice; replaces *ret. */
void sbx_values_list(struct sbx_pctx *c, struct json_t *v, const char *(*rule)(const char *),
		     char ***ret, size_t *ret_n);

/* validate.c: the rules. Each returns NULL when s is acceptable, else a message (static). */
const char *sbx_validate_path(const char *s);
const char *sbx_validate_mount_target(const char *s);
const char *sbx_validate_bind_source(const char *s);
const char *sbx_validate_name(const char *s);
const char *sbx_validate_hostname(const char *s);
const char *sbx_validate_secret(const char *s);
const char *sbx_validate_env(const char *s);
const char *sbx_validate_allow(const char *s);
const char *sbx_validate_group(const char *s);
/* Is name reserved for secrets (the environment must not take it from a secret)? */
bool sbx_validate_secret_reserved(const char *name);
/* May a request ever set this env name (whatever a policy lists)? */
bool sbx_validate_env_forbidden(const char *name);
/* Does "a" equal "b" or contain it as a path prefix ("/usr" and "/usr/lib")? */
bool sbx_validate_path_covers(const char *a, const char *b);
/* Whole-policy checks needing several keys: overlapping mount targets, timeouts, nofile
 * against /proc/sys/fs/nr_open, env/secret collisions. */
void sbx_validate_policy(struct sbx_pctx *c, const struct sbx_policy *p);
/* The mount-target checks of one more bind against those already in p (sbx_policy_add_bind). */
const char *sbx_validate_target_free(const struct sbx_policy *p, const char *target,
				     const char **ret_other);
