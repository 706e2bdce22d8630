/* SPDX-License-Identifier: MIT */
/*
 * The keyring (DESIGN.md "Sealed secrets", docs/keys.md "File formats"): versioned keys of 32
 * random bytes with a u32 id that is never reused, a state, dates and a fingerprint, plus the
 * audit key. Key bytes live only in locked memory (keys/secret.h); this API never returns
 * them. Messages written to reterr name the fault and never carry key bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys/secret.h"

#ifndef SBX_SYSCONFDIR
#	define SBX_SYSCONFDIR "/etc"
#endif
#define SBX_KEYRING_DEFAULT_PATH SBX_SYSCONFDIR "/sbx/keyring"
#define SBX_KEY_BYTES		 32U
#define SBX_KEY_FP_HEX		 16U /* fingerprint: 8 bytes of keyed BLAKE2b, in hex */
#define SBX_KEYRING_MAX_KEYS	 4096U
#define SBX_KEYRING_MAX_SIZE	 (1UL << 20)
#define SBX_KEYRING_ERR_MAX	 256U /* a reterr buffer of this size always suffices */

enum sbx_key_state {
	SBX_KEY_PRIMARY,   /* seals and opens; exactly one */
	SBX_KEY_ACTIVE,	   /* opens only */
	SBX_KEY_RETIRED,   /* opens nothing (key_retired); reversible */
	SBX_KEY_DESTROYED, /* bytes wiped; a tombstone of id, fingerprint and dates */
	_SBX_KEY_STATE_MAX,
};

struct sbx_key_info {
	uint32_t id;
	enum sbx_key_state state;
	uint64_t created; /* unix seconds */
	uint64_t changed; /* last state change */
	char fingerprint[SBX_KEY_FP_HEX + 1];
};

struct sbx_keyring;

/* Load flags. */
#define SBX_KEYRING_OWNER_SELF 0x1U /* also accept a file owned by the caller's euid (--dev) */

/* "primary", "active", "retired", "destroyed"; NULL when out of range. */
const char *sbx_key_state_name(enum sbx_key_state s);

/* The path to use when none is given: $CREDENTIALS_DIRECTORY/keyring when that exists
 * (systemd LoadCredentialEncrypted=keyring), else SBX_KEYRING_DEFAULT_PATH. */
const char *sbx_keyring_default_path(void);

/* A fresh keyring: key 1 primary, next_id 2, a new audit key. -ENOMEM/-EPERM (locking). */
int sbx_keyring_new(struct sbx_keyring **ret);
struct sbx_keyring *sbx_keyring_free(struct sbx_keyring *kr);
static inline void sbx_keyring_freep(struct sbx_keyring **kr)
{
	*kr = sbx_keyring_free(*kr);
}

/* Parses the text format and validates it completely (sbx_keyring_validate()). -EBADMSG
 * with reterr ("line 4: fingerprint does not match the key") on any fault. *ret untouched
 * on failure. The text is read in place and not kept. */
int sbx_keyring_parse(const struct sbx_secret *text, struct sbx_keyring **ret, char *reterr,
		      size_t errlen);
/* Opens path (no symlinks), checks it is a regular file owned by root (or see flags) with
 * no group/other bits, reads it into locked memory and parses it. -ENOENT, -ELOOP,
 * -EPERM (owner, mode), -EFBIG, -EBADMSG; reterr names the fault without the path. */
int sbx_keyring_load(const char *path, unsigned flags, struct sbx_keyring **ret, char *reterr,
		     size_t errlen);
/* Every invariant: exactly one primary, ids unique and below next_id, fingerprints match,
 * and an AEAD seal/open self-test for each key that still has bytes. -EBADMSG + reterr. */
int sbx_keyring_validate(const struct sbx_keyring *kr, char *reterr, size_t errlen);

/* The text form, in locked memory. */
int sbx_keyring_serialize(const struct sbx_keyring *kr, struct sbx_secret **ret);
/* Writes the text form to fd (a pipe to an encryptor, never a file: use sbx_keyring_save()
 * for files). -errno from write (-EPIPE when the reader went away); a short write leaves
 * the reader with a truncated keyring that parsing refuses. */
int sbx_keyring_write_fd(const struct sbx_keyring *kr, int fd);
/* Writes atomically: a 0600 temporary in the same directory, fsync, rename, fsync of the
 * directory. With create, an existing file is never replaced (-EEXIST). Nothing is left
 * behind on failure. */
int sbx_keyring_save(const struct sbx_keyring *kr, const char *path, bool create);
/* Takes an exclusive flock on path's directory, so two admins do not interleave their
 * read-modify-write. Returns the fd to close, or -errno. */
int sbx_keyring_lock(const char *path);

/* Adds a new primary (id next_id), the old primary becomes active. -EOVERFLOW when ids are
 * exhausted. The keyring is unchanged on failure. */
int sbx_keyring_rotate(struct sbx_keyring *kr, uint32_t *ret_id);
/* State changes. -ENOKEY for an unknown id, -EBUSY for the primary, -EALREADY when the key
 * is in that state already, -ESTALE for a destroyed key. destroy wipes the bytes now. */
int sbx_keyring_retire(struct sbx_keyring *kr, uint32_t id);
int sbx_keyring_activate(struct sbx_keyring *kr, uint32_t id);
int sbx_keyring_destroy(struct sbx_keyring *kr, uint32_t id);

size_t sbx_keyring_count(const struct sbx_keyring *kr);
/* The i-th key (ascending ids). -ERANGE past the end. */
int sbx_keyring_info(const struct sbx_keyring *kr, size_t i, struct sbx_key_info *ret);
/* The key with that id. -ENOKEY when there is none. */
int sbx_keyring_find(const struct sbx_keyring *kr, uint32_t id, struct sbx_key_info *ret);
uint32_t sbx_keyring_primary_id(const struct sbx_keyring *kr);
uint32_t sbx_keyring_next_id(const struct sbx_keyring *kr);
/* A restore never lowers next_id: raises it to at least id. */
void sbx_keyring_raise_next_id(struct sbx_keyring *kr, uint32_t id);
/* The audit log's MAC key (32 bytes, owned by the keyring) and its fingerprint. */
const struct sbx_secret *sbx_keyring_audit_key(const struct sbx_keyring *kr);
void sbx_keyring_audit_fingerprint(const struct sbx_keyring *kr, char ret[SBX_KEY_FP_HEX + 1]);
