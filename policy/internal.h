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
	const char *file;     /* for messages */
	const char *text;     /* the raw JSON (NULL: no positions, e.g. command-line binds) */
	size_t len;
	struct sbx_diags *diags; /* may be NULL: errors are only counted */
	unsigned n_err;
	bool oom; /* an allocation failed: the load returns -ENOMEM */
	struct sbx_jpath_seg path[SBX_JPATH_MAX];
	size_t depth;
};

/* jsonpos.c. Finds path[0..n) in text, which must be valid JSON. Sets *ret_line and *ret_col
 * (1-based; columns count characters, as jansson's do) to the value at the path, or to the key
 * of its last step when at_key. When the path is not all there, the position is that of the
 * deepest step found (the object a missing key belongs in) and -ENOENT is returned. */
int sbx_jsonpos_find(const char *text, size_t len, const struct sbx_jpath_seg *path, size_t n,
		     bool at_key, int *ret_line, int *ret_col);

/* diag.c. Appends one diag (file, position, key, message); counts it even when out of memory. */
void sbx_diag_add(struct sbx_diags *d, unsigned *n_err, const char *file, int line, int col,
		  const char *key, const char *fmt, ...) _printf_(7, 8);
void sbx_diag_addv(struct sbx_diags *d, unsigned *n_err, const char *file, int line, int col,
		   const char *key, const char *fmt, va_list ap) _printf_(7, 0);
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
