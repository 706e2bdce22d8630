/* SPDX-License-Identifier: MIT */
/*
 * The keyring's files: load with the ownership and mode checks, serialise, atomic save
 * (temporary, fsync, rename, fsync of the directory; mode 0600 from creation on) and the
 * admin lock. The text is built and read in locked memory only; see keyring.c for the rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/file.h>
#include <sys/stat.h>

#include <sodium.h>

#include "common/fd-util.h"
#include "keys/internal.h"
#include "keys/keyring.h"

/* ---- files ------------------------------------------------------------------------- */

int sbx_keyring_load(const char *path, unsigned flags, struct sbx_keyring **ret, char *reterr,
		     size_t errlen)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *text = NULL;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	struct stat st;
	int r;

	if (fd < 0) {
		r = -errno;
		if (r == -ELOOP)
			return sbx_keyring_fail(reterr, errlen, r, "is a symbolic link");
		return sbx_keyring_fail(reterr, errlen, r, "cannot open: %s", strerror(-r));
	}
	if (fstat(fd, &st) < 0)
		return sbx_keyring_fail(reterr, errlen, negative_errno(), "cannot stat");
	if (!S_ISREG(st.st_mode))
		return sbx_keyring_fail(reterr, errlen, -EBADMSG, "not a regular file");
	if (st.st_uid != 0 && !((flags & SBX_KEYRING_OWNER_SELF) && st.st_uid == geteuid()))
		return sbx_keyring_fail(reterr, errlen, -EPERM, "owned by uid %u, not root",
					(unsigned)st.st_uid);
	if (st.st_mode & 077)
		return sbx_keyring_fail(reterr, errlen, -EPERM,
					"mode %04o gives group/other access (want 0600)",
					(unsigned)(st.st_mode & 07777));
	if (st.st_size > (off_t)SBX_KEYRING_MAX_SIZE)
		return sbx_keyring_fail(reterr, errlen, -EFBIG, "larger than %lu bytes",
					SBX_KEYRING_MAX_SIZE);
	r = sbx_secret_read_fd(fd, SBX_KEYRING_MAX_SIZE, &text);
	if (r < 0)
		return sbx_keyring_fail(reterr, errlen, r, "cannot read: %s", strerror(-r));
	return sbx_keyring_parse(text, ret, reterr, errlen);
}

/* Appends to a locked buffer; false when it is full (the caller sized it). */
static bool put(struct sbx_secret *s, size_t cap, const char *fmt, ...) _printf_(3, 4);
static bool put(struct sbx_secret *s, size_t cap, const char *fmt, ...)
{
	size_t len = sbx_secret_len(s);
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf((char *)sbx_secret_data(s) + len, cap - len, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= cap - len)
		return false;
	sbx_secret_set_len(s, len + (size_t)k);
	return true;
}

static bool put_key(struct sbx_secret *s, size_t cap, const unsigned char *key)
{
	char b64[64];
	bool ok;

	sbx_b64_encode(key, SBX_KEY_BYTES, b64, sizeof(b64));
	ok = put(s, cap, "%s\n", b64);
	sodium_memzero(b64, sizeof(b64));
	return ok;
}

int sbx_keyring_serialize(const struct sbx_keyring *kr, struct sbx_secret **ret)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *s = NULL;
	size_t cap = 128 + (kr->n + 1) * 160;
	char fp[SBX_KEY_FP_HEX + 1];
	bool ok;
	int r = sbx_secret_new(cap, &s);

	if (r < 0)
		return r;
	sbx_secret_set_len(s, 0);
	sbx_keyring_fingerprint(sbx_secret_data(kr->audit), fp);
	ok = put(s, cap, SBX_KEYRING_MAGIC "\nnext-id %" PRIu32 "\naudit %" PRIu64 " %s ",
		 kr->next_id, kr->audit_created, fp) &&
	     put_key(s, cap, sbx_secret_data(kr->audit));
	for (size_t i = 0; ok && i < kr->n; i++) {
		const struct sbx_key_info *k = &kr->keys[i];
		ok = put(s, cap, "key %" PRIu32 " %s %" PRIu64 " %" PRIu64 " %s ", k->id,
			 sbx_keyring_state_names[k->state], k->created, k->changed, k->fingerprint);
		if (ok && k->state == SBX_KEY_DESTROYED)
			ok = put(s, cap, "-\n");
		else if (ok)
			ok = put_key(s, cap, sbx_keyring_key_bytes(kr, i));
	}
	if (!ok)
		return -ENOBUFS;
	*ret = TAKE_PTR(s);
	return 0;
}

int sbx_keyring_write_fd(const struct sbx_keyring *kr, int fd)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *text = NULL;
	int r = sbx_keyring_serialize(kr, &text);

	if (r < 0)
		return r;
	return sbx_fd_write_all(fd, sbx_secret_data(text), sbx_secret_len(text));
}

static int fsync_dir_of(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_close_ int dfd = -1;

	if (!copy)
		return -ENOMEM;
	/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_ frees it */
	dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		return negative_errno();
	return 0;
}

int sbx_keyring_save(const struct sbx_keyring *kr, const char *path, bool create)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *text = NULL;
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	r = sbx_keyring_serialize(kr, &text);
	if (r < 0)
		return r;
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC); /* 0600 from the start */
	if (fd < 0)
		return -errno;
	r = sbx_fd_write_all(fd, sbx_secret_data(text), sbx_secret_len(text));
	if (r >= 0 && fchmod(fd, 0600) < 0)
		r = -errno;
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (r >= 0 && create && renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0)
		r = -errno;
	if (r >= 0 && !create && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	return fsync_dir_of(path);
}

int sbx_keyring_lock(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	int fd;

	if (!copy)
		return -ENOMEM;
	/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_ frees it */
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		int r = -errno;
		(void)close(fd);
		return r;
	}
	return fd;
}
