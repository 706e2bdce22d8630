/* SPDX-License-Identifier: MIT */
/*
 * The keyring as a systemd credential (docs/keys.md "systemd credentials"): a file encrypted
 * by systemd-creds(1) under the host key and/or the TPM2, the one sbxd.service loads with
 * LoadCredentialEncrypted=keyring:sbx.keyring. The plaintext goes through pipes between
 * locked memory and systemd-creds only, never through a file.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct sbx_keyring;

/* The credential's name (embedded in the encrypted file, checked on decryption): sbxd reads
 * it as $CREDENTIALS_DIRECTORY/keyring. */
#define SBX_CREDS_NAME "keyring"
/* Where LoadCredentialEncrypted=keyring:sbx.keyring finds it (systemd's credential store). */
#define SBX_CREDS_DEFAULT_PATH "/etc/credstore.encrypted/sbx.keyring"

/* Decrypts path with `systemd-creds decrypt --name=keyring` into locked memory and parses it
 * (sbx_keyring_parse(): completely validated). -ENOENT when path is missing, -ENOPKG when
 * systemd-creds is not installed, -EIO when it failed (its own message is on stderr),
 * -EBADMSG for a malformed keyring; reterr names the fault. *ret untouched on failure. */
int sbx_creds_load(const char *path, struct sbx_keyring **ret, char *reterr, size_t errlen);

/* Encrypts kr with `systemd-creds encrypt --name=keyring` (with_key: its --with-key= value,
 * NULL for systemd's default) into a 0600 temporary beside path, then renames it into place;
 * with create an existing path is never replaced (-EEXIST). -ENOPKG, -EIO as above, or
 * -errno; reterr names the fault; nothing is left behind on failure. */
int sbx_creds_save(const struct sbx_keyring *kr, const char *path, bool create,
		   const char *with_key, char *reterr, size_t errlen);
