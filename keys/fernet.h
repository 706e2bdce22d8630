/* SPDX-License-Identifier: MIT */
/*
 * Fernet tokens (https://github.com/fernet/spec), for the one-way migration of the old app's
 * stored keys into sealed blobs (`sbxctl keys import-fernet`, docs/keys.md). A token is
 * base64url of 0x80 | timestamp(u64 BE) | IV(16) | AES-128-CBC(PKCS#7) ciphertext |
 * HMAC-SHA256 over everything before it; the key is base64url of signing key(16) |
 * encryption key(16). OpenSSL's libcrypto does AES and HMAC; the HMAC is compared in
 * constant time and checked before anything is decrypted.
 */
#pragma once

#include <stdint.h>

#include "keys/keyring.h"
#include "keys/secret.h"

/* Why a token failed; each has a stable name for import reports. */
enum sbx_fernet_error {
	SBX_FERNET_OK,
	SBX_FERNET_BAD_BASE64,	/* "bad_base64" */
	SBX_FERNET_MALFORMED,	/* "malformed": too short, not whole blocks */
	SBX_FERNET_BAD_VERSION, /* "bad_version" */
	SBX_FERNET_BAD_HMAC,	/* "bad_hmac" */
	SBX_FERNET_BAD_PADDING, /* "bad_padding" */
	SBX_FERNET_EXPIRED,	/* "expired": ttl given and exceeded, or from the future */
	SBX_FERNET_BAD_JSON,	/* "bad_json": not an object of strings */
	SBX_FERNET_BAD_NAME,	/* "bad_name": a name that cannot be a secret name */
	SBX_FERNET_BAD_CONTEXT, /* "bad_context": the import line's context is not valid */
	_SBX_FERNET_MAX,
};
const char *sbx_fernet_error_name(enum sbx_fernet_error e);

/* Reads a Fernet key (one base64url line, padded or not) from fd into locked memory.
 * -EINVAL when it is not 32 bytes. */
int sbx_fernet_key_read_fd(int fd, struct sbx_secret **ret);

/* The time check of a token: its timestamp must lie within [now - ttl, now + 60]. */
struct sbx_fernet_ttl {
	int64_t now; /* seconds since the epoch */
	int64_t ttl; /* seconds; 0 skips the check */
};

/* Verifies and decrypts token (len bytes, surrounding whitespace not allowed). With a time
 * check (may be NULL) whose ttl > 0 the timestamp must lie within [now - ttl, now + 60] (the
 * spec's skew); without one no time is checked, as a migration of stored data must. On success
 * *ret holds the plaintext in locked memory. Returns 0, -ENOMEM, or -EBADMSG with *reterr set. */
int sbx_fernet_decrypt(const struct sbx_secret *key, const char *token, size_t len,
		       const struct sbx_fernet_ttl *check, struct sbx_secret **ret,
		       enum sbx_fernet_error *reterr);

/* The migration of one token: decrypts it, reads its plaintext as a JSON object of
 * name -> string (names normalised, reserved names refused) and seals that under kr's
 * primary key for context. *ret_blob is malloc'd. -EBADMSG with *reterr on a bad token,
 * other -errno for system faults. */
int sbx_fernet_reseal(const struct sbx_secret *key, const struct sbx_keyring *kr, const char *token,
		      const char *context, char **ret_blob, enum sbx_fernet_error *reterr);
