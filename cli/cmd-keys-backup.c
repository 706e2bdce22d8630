/* SPDX-License-Identifier: MIT */
/*
 * `sbxctl keys backup` and `restore` (docs/keys.md): the keyring encrypted under a passphrase
 * (keys/backup.c) written to a new file, and a backup put in place of the keyring under the
 * admin lock. The passphrase stays in a keys/ handle; the live keyring's next id is kept when
 * it is further on, since ids are never reused. Argument parsing and hardening are
 * cmd-keys.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd-keys.h"
#include "cli/commands.h"
#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "keys/backup.h"
#include "keys/keyring.h"
#include "keys/secret.h"

static int passphrase(const char *passphrase_file, bool confirm, struct sbx_secret **ret)
{
	int r;

	if (passphrase_file)
		r = sbx_secret_read_passphrase_file(passphrase_file, ret);
	else
		r = sbx_secret_read_passphrase_tty("Backup passphrase: ", confirm, ret);
	switch (r) {
	case 0:
		return 0;
	case -EINVAL:
		return log_error_errno(r, "empty passphrase refused");
	case -ERANGE:
		return log_error("passphrase too short (at least %d bytes)", SBX_PASSPHRASE_MIN),
		       -ERANGE;
	case -EILSEQ:
		return log_error("the two passphrases differ"), r;
	case -ENXIO:
		return log_error("no terminal for the passphrase; use --passphrase-file"), r;
	default:
		return log_error_errno(r, "cannot read the passphrase");
	}
}

int sbx_cmd_keys_backup_write(const char *out, const char *passphrase_file, bool force)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_(sbx_secret_freep) struct sbx_secret *pass = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (!out)
		return log_error("backup needs --out FILE"), SBX_CMD_KEYS_USAGE;
	if (sbx_cmd_keys_load(&kr) < 0)
		return SBX_EXIT_CONFIG;
	if (passphrase(passphrase_file, true, &pass) < 0)
		return SBX_CMD_KEYS_FAIL;
	r = sbx_backup_write(kr, pass, SBX_BACKUP_OPSLIMIT, SBX_BACKUP_MEMLIMIT, &text);
	if (r < 0)
		return log_error_errno(r, "cannot encrypt the backup"), SBX_CMD_KEYS_FAIL;
	fd = open(out, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (force ? O_TRUNC : O_EXCL),
		  0600);
	if (fd < 0)
		return log_error_errno(errno, "cannot create '%s'%s", out,
				       errno == EEXIST ? " (exists; --force replaces it)" : ""),
		       SBX_CMD_KEYS_FAIL;
	r = sbx_fd_write_all(fd, text, strlen(text));
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (r < 0)
		return log_error_errno(r, "cannot write '%s'", out), SBX_CMD_KEYS_FAIL;
	(void)printf("backup of %zu keys (next id %" PRIu32 ") written to %s\n",
		     sbx_keyring_count(kr), sbx_keyring_next_id(kr), out);
	return 0;
}

int sbx_cmd_keys_backup_restore(const char *in, const char *passphrase_file, bool force)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL, *old = NULL;
	_cleanup_(sbx_secret_freep) struct sbx_secret *pass = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int lock = -1;
	char err[SBX_KEYRING_ERR_MAX] = "";
	bool exists;
	int r;

	if (!in)
		return log_error("restore needs --in FILE"), SBX_CMD_KEYS_USAGE;
	r = sbx_fd_read_file(in, 4 * SBX_KEYRING_MAX_SIZE, &text, NULL);
	if (r < 0)
		return log_error_errno(r, "cannot read '%s'", in), SBX_CMD_KEYS_FAIL;
	if (sbx_cmd_keys_make_dir() < 0)
		return SBX_CMD_KEYS_FAIL;
	lock = sbx_keyring_lock(sbx_cmd_keys_path());
	if (lock < 0)
		return log_error_errno(lock, "cannot lock '%s'", sbx_cmd_keys_path());
	exists = access(sbx_cmd_keys_path(), F_OK) == 0;
	if (exists && !force)
		return log_error("keyring '%s' exists; restore replaces it only with --force",
				 sbx_cmd_keys_path()),
		       SBX_CMD_KEYS_FAIL;
	if (passphrase(passphrase_file, false, &pass) < 0)
		return SBX_CMD_KEYS_FAIL;
	r = sbx_backup_read(text, pass, &kr, err, sizeof(err));
	if (r < 0)
		return log_error("backup '%s': %s", in, err), SBX_CMD_KEYS_FAIL;
	/* Ids are never reused: keep the live keyring's next id if it is further on. */
	if (exists) {
		r = sbx_cmd_keys_load_from(sbx_cmd_keys_path(), &old, err, sizeof(err));
		if (r >= 0)
			sbx_keyring_raise_next_id(kr, sbx_keyring_next_id(old));
		else
			log_warning("the keyring being replaced is unreadable (%s); next id comes "
				    "from the backup",
				    err);
	}
	if (sbx_cmd_keys_save(kr, !exists) < 0)
		return SBX_CMD_KEYS_FAIL;
	(void)printf("restored %zu keys (primary %" PRIu32 ", next id %" PRIu32 ") to %s\n",
		     sbx_keyring_count(kr), sbx_keyring_primary_id(kr), sbx_keyring_next_id(kr),
		     sbx_cmd_keys_path());
	return 0;
}
