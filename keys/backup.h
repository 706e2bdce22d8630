/* SPDX-License-Identifier: MIT */
/*
 * Keyring backups (docs/keys.md "Backup file"): the keyring text, encrypted with
 * XChaCha20-Poly1305 under a key derived from a passphrase with Argon2id (crypto_pwhash).
 * The file is one line, "sbxbak1:" + base64url of
 *   version(1)=1 | alg(1)=2 (Argon2id 1.3) | opslimit(u32 BE) | memlimit KiB(u32 BE) |
 *   salt(16) | nonce(24) | ciphertext+tag
 * with the prefix and the 26 header bytes as associated data.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "keys/keyring.h"
#include "keys/secret.h"

#define SBX_BACKUP_PREFIX "sbxbak1:"
/* Defaults for `sbxctl keys backup`: libsodium's MODERATE (3 passes, 256 MiB). */
#define SBX_BACKUP_OPSLIMIT 3U
#define SBX_BACKUP_MEMLIMIT (256UL * 1024UL * 1024UL)
/* A backup asking for more than this is refused rather than tried (a file is input). */
#define SBX_BACKUP_OPS_MAX 16U
#define SBX_BACKUP_MEM_MAX (1024UL * 1024UL * 1024UL)

/* Encrypts kr under pass with the given Argon2id cost. *ret_text is the malloc'd file
 * content ending in "\n". -ERANGE for costs outside libsodium's or our bounds, -ENOMEM. */
int sbx_backup_write(const struct sbx_keyring *kr, const struct sbx_secret *pass, uint32_t opslimit,
		     size_t memlimit, char **ret_text);
/* Decrypts a backup and parses and validates the keyring in it. -EBADMSG (not a backup,
 * or it holds a broken keyring: reterr says what), -EKEYREJECTED (wrong passphrase, or a
 * damaged file: AEAD cannot tell them apart), -ERANGE (cost beyond our bounds), -ENOMEM. */
int sbx_backup_read(const char *text, const struct sbx_secret *pass, struct sbx_keyring **ret,
		    char *reterr, size_t errlen);
