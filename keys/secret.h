/* SPDX-License-Identifier: MIT */
/*
 * Secret memory for everything that holds key bytes or plaintext (DESIGN.md "Sealed secrets",
 * STYLE.md "Secret memory"). A struct sbx_secret is an opaque, fixed-size buffer in
 * sodium_malloc memory: locked (the lock is checked, not assumed), guard pages, excluded from
 * core dumps, and by default marked MADV_WIPEONFORK so a cloned child never inherits it.
 * A struct sbx_secret_set is a list of NAME=value environment strings built the same way,
 * but without WIPEONFORK: it is the one buffer a sandbox child is meant to receive.
 *
 * Only keys/ sees the bytes (keys/internal.h); other folders hold opaque handles.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"

struct sbx_secret;
struct sbx_secret_set;

/* Longest secret name and value we accept (the name rule is ^[A-Z][A-Z0-9_]{0,127}$). */
#define SBX_SECRET_NAME_MAX  128
#define SBX_SECRET_VALUE_MAX 16384
#define SBX_SECRET_SET_MAX   256
#define SBX_PASSPHRASE_MIN   12
#define SBX_PASSPHRASE_MAX   1024

/* Initialises libsodium, installs the zeroing jansson allocator and checks that memory
 * locking works. allow_unlocked (--dev, unprivileged tests) only downgrades a failed lock
 * check to a warning-free success. Idempotent. -ENOMEM/-EPERM when locking fails,
 * -EIO when libsodium cannot start. */
int sbx_secret_init(bool allow_unlocked);

/* A zero-filled secret of len bytes (len may be 0). -ENOMEM, or -EPERM when the memory could
 * not be locked. *ret is untouched on failure. */
int sbx_secret_new(size_t len, struct sbx_secret **ret);
/* Wipes and frees; takes NULL; returns NULL. */
struct sbx_secret *sbx_secret_free(struct sbx_secret *s);
static inline void sbx_secret_freep(struct sbx_secret **s)
{
	*s = sbx_secret_free(*s);
}
size_t sbx_secret_len(const struct sbx_secret *s);
/* Constant-time equality of two secrets (lengths are not secret). */
bool sbx_secret_equal(const struct sbx_secret *a, const struct sbx_secret *b);

/* Reads all of fd (at most max bytes, -EFBIG beyond) straight into locked memory. */
int sbx_secret_read_fd(int fd, size_t max, struct sbx_secret **ret);
/* A passphrase: the first line of path (the newline dropped), or from the terminal without
 * echo, asked twice when confirm. -EINVAL when empty, -ERANGE when shorter than
 * SBX_PASSPHRASE_MIN bytes, -EILSEQ when the two entries differ, -ENXIO without a terminal. */
int sbx_secret_read_passphrase_file(const char *path, struct sbx_secret **ret);
int sbx_secret_read_passphrase_tty(const char *prompt, bool confirm, struct sbx_secret **ret);

/* Wipes memory the compiler may not elide (sodium_memzero). */
void sbx_erase(void *p, size_t len);
/* Stack temporaries: `uint8_t k[32]; SBX_ERASE_ON_RETURN(k);` wipes k when the scope ends,
 * the _cleanup_ form of CLEANUP_ERASE (an array cannot carry the attribute itself). */
struct sbx_erase_ref {
	void *p;
	size_t len;
};
void sbx_erasep(const struct sbx_erase_ref *r);
#define SBX_CONCAT_(a, b) a##b
#define SBX_CONCAT(a, b)  SBX_CONCAT_(a, b)
#define SBX_ERASE_ON_RETURN(buf)                                                             \
	_cleanup_(sbx_erasep) const struct sbx_erase_ref SBX_CONCAT(erase_, __COUNTER__) = { \
	    (buf), sizeof(buf)}

/* An empty set of environment secrets. */
int sbx_secret_set_new(struct sbx_secret_set **ret);
struct sbx_secret_set *sbx_secret_set_free(struct sbx_secret_set *set);
static inline void sbx_secret_set_freep(struct sbx_secret_set **set)
{
	*set = sbx_secret_set_free(*set);
}
/* Adds NAME=value. name must already be normalised (sbx_sealed_name_normalize()); value is
 * len bytes without NUL. -EEXIST for a repeated name, -EINVAL for a NUL in value or a bad
 * name, -E2BIG beyond SBX_SECRET_SET_MAX entries or SBX_SECRET_VALUE_MAX bytes. The set is
 * unchanged on failure. */
int sbx_secret_set_add(struct sbx_secret_set *set, const char *name, const void *value, size_t len);
size_t sbx_secret_set_count(const struct sbx_secret_set *set);
/* The i-th name (ordinary memory: names are not secret). NULL when out of range. */
const char *sbx_secret_set_name(const struct sbx_secret_set *set, size_t i);
/* The key id whose blob produced this set (0 when built by hand). */
uint32_t sbx_secret_set_key_id(const struct sbx_secret_set *set);
/* A NULL-terminated envp of "NAME=value" strings in locked memory (not WIPEONFORK, so a
 * cloned child can execve with it). Owned by the set, valid until the next add or free. */
int sbx_secret_set_envp(struct sbx_secret_set *set, char *const **ret);
