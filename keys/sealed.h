/* SPDX-License-Identifier: MIT */
/*
 * Sealed blobs, version 1 (DESIGN.md "Sealed secrets"): "sbx1:" + base64url (no padding) of
 * version(1)=0x01 | key_id(u32 BE) | sealed_at(u64 BE) | nonce(24) | ciphertext+tag, with
 * XChaCha20-Poly1305-IETF over the sodium_pad'ded (64-byte blocks) JSON object
 * {"NAME":"value",...}, associated data "sbx1" | the 13 header bytes | context.
 *
 * Every failure has one stable code (sbx_sealed_error() maps the -errno returns):
 *   -EBADMSG      sealed_malformed   not a v1 blob, or its authenticated content is invalid
 *   -ENOKEY       key_unknown        no key with that id in the keyring
 *   -EKEYREVOKED  key_retired        the key is retired, or destroyed (its tombstone remains)
 *   -EKEYREJECTED decrypt_failed     forged, damaged, or sealed under another context
 *   -EACCES       secret_not_allowed the accept callback refused a name (nothing is returned)
 *   -EINVAL       bad_request        a bad context or name given by the caller
 * Nothing is ever returned partially, and no message carries a value.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "keys/keyring.h"
#include "keys/secret.h"

#define SBX_SEALED_PREFIX	 "sbx1:"
#define SBX_SEALED_VERSION	 1U
#define SBX_SEALED_HEADER_BYTES	 13U
#define SBX_SEALED_CONTEXT_MAX	 512U
#define SBX_SEALED_PLAINTEXT_MAX (256UL * 1024UL)
/* The longest blob text sbx_sealed_open() considers (beyond: sealed_malformed). */
#define SBX_SEALED_TEXT_MAX (5U + (SBX_SEALED_PLAINTEXT_MAX + 64U + 53U) * 4U / 3U + 4U)

struct sbx_sealed_header {
	uint8_t version;
	uint32_t key_id;
	uint64_t sealed_at; /* unix seconds */
};

/* Decides whether a secret name may reach the payload (the policy's list). keys/ cannot
 * call policy/, so the caller supplies this. */
typedef bool (*sbx_sealed_accept_cb)(const char *name, void *userdata);

/* The stable code for a return of this module (see above); SBX_E_INTERNAL otherwise. */
enum sbx_error sbx_sealed_error(int r);

/* Normalises a secret name to SCREAMING_SNAKE_CASE (letters upper-cased; '-', '.' and ' '
 * become '_') and checks ^[A-Z][A-Z0-9_]{0,127}$. -EINVAL when it does not match, -EPERM
 * when the environment must not carry it (PATH, HOME, LD_*, ...). ret is untouched on
 * failure. */
int sbx_sealed_name_normalize(const char *in, char ret[SBX_SECRET_NAME_MAX + 1]);
/* A context is 1..512 printable ASCII bytes (tabs and control bytes refused). -EINVAL. */
int sbx_sealed_context_check(const char *context);

/* Parses "NAME=VALUE" lines (blank lines and '#' comments skipped; the value is the rest of
 * the line) into a set, normalising names. On failure *reterr_line names the input line:
 * -EINVAL (syntax or name), -EPERM (reserved name), -EEXIST (a name given twice, perhaps in
 * another spelling), -E2BIG. */
int sbx_sealed_parse_env_lines(const struct sbx_secret *text, struct sbx_secret_set **ret,
			       size_t *reterr_line);

/* Seals set under the keyring's primary key for context. *ret_blob is a malloc'd
 * NUL-terminated "sbx1:..." string (ciphertext; not secret). -EINVAL (context),
 * -EILSEQ (a value that is not UTF-8), -E2BIG, -ENOMEM. */
int sbx_sealed_seal(const struct sbx_keyring *kr, const struct sbx_secret_set *set,
		    const char *context, char **ret_blob);
/* Opens blob for context. Each name goes to accept (NULL: accept all) before anything is
 * returned. On success *ret holds the names and an envp block in locked memory, and
 * sbx_secret_set_key_id() tells which key opened it. Errors as listed above; *ret is
 * untouched on failure. */
int sbx_sealed_open(const struct sbx_keyring *kr, const char *blob, const char *context,
		    sbx_sealed_accept_cb accept, void *userdata, struct sbx_secret_set **ret);
/* Reads the header only (no key needed). -EBADMSG. */
int sbx_sealed_inspect(const char *blob, struct sbx_sealed_header *ret);
/* The wire op "rewrap": a blob already under the primary comes back unchanged with
 * *ret_rewrapped false; otherwise it is opened and sealed anew under the primary. The
 * plaintext never leaves locked memory. Errors as sbx_sealed_open(). */
int sbx_sealed_rewrap(const struct sbx_keyring *kr, const char *blob, const char *context,
		      char **ret_blob, bool *ret_rewrapped);
