/* SPDX-License-Identifier: MIT */
/* Private to `sbxctl keys` (cmd-keys.c, cmd-keys-backup.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct sbx_keyring;

#define SBX_CMD_KEYS_FAIL  1
#define SBX_CMD_KEYS_USAGE (-4096) /* a helper's "usage error", apart from any -errno */

/* cmd-keys.c; these follow --keyring and --systemd-creds. */
/* The keyring's path (or the credential's). */
const char *sbx_cmd_keys_path(void);
/* The keyring file, or with --systemd-creds the credential systemd-creds decrypts. Returns
 * -errno with the fault in err; *ret untouched on failure. */
int sbx_cmd_keys_load_from(const char *path, struct sbx_keyring **ret, char *err, size_t errlen);
/* Loads and validates sbx_cmd_keys_path(); on failure logs the one line naming the file and
 * the fault and returns -errno. */
int sbx_cmd_keys_load(struct sbx_keyring **ret);
/* Writes kr atomically (create: refuse to replace a file). Logs and returns -errno. */
int sbx_cmd_keys_save(const struct sbx_keyring *kr, bool create);
/* Creates the keyring's directory if needed (the last level only). Logs and returns -errno. */
int sbx_cmd_keys_make_dir(void);

/* cmd-keys-backup.c: the subcommands; each returns an exit status, SBX_CMD_KEYS_USAGE, or
 * -errno after logging. */
int sbx_cmd_keys_backup_write(const char *out, const char *passphrase_file, bool force);
int sbx_cmd_keys_backup_restore(const char *in, const char *passphrase_file, bool force);
