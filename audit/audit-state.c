/* SPDX-License-Identifier: MIT */
/*
 * The audit key and its state file: the first key (made once, shown once), the forward
 * ratchet (each epoch's key is a keyed BLAKE2b of the last; the old bytes are wiped at once),
 * the record MAC and the key fingerprint. Key bytes live only in sodium_malloc memory (locked,
 * guard pages, MADV_DONTDUMP, MADV_WIPEONFORK so a sandbox child cloned from sbxd never holds
 * them) and in the 0600 state file, which is replaced atomically so a crash leaves either the
 * old or the new epoch, never a mix. Nothing here logs; a key byte never reaches a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/stat.h>

#include <sodium.h>

#include "audit/internal.h"
#include "common/fd-util.h"
#include "common/macro.h"

#define STATE_MAGIC "sbx-audit-state 1"
#define STATE_MAX   1024U

static int sodium_ready(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

/* A locked, undumpable, wipe-on-fork buffer of len bytes. */
static void *secure_alloc(size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	if (sodium_ready() < 0)
		return NULL;
	p = sodium_malloc(len);
	if (!p)
		return NULL;
	if (page > 0) {
		/* The whole pages around [p, p + len): round down by pointer arithmetic. */
		size_t off = (uintptr_t)p & ((uintptr_t)page - 1);
		void *lo = (char *)p - off;
		size_t span = (off + len + (size_t)page - 1) & ~((size_t)page - 1);
		(void)madvise(lo, span, MADV_DONTDUMP);
		(void)madvise(lo, span, MADV_WIPEONFORK);
	}
	sodium_memzero(p, len);
	return p;
}

int sbx_audit_state_key_new(uint8_t **ret)
{
	uint8_t *k = secure_alloc(SBX_AUDIT_KEY_BYTES);

	if (!k)
		return -ENOMEM;
	*ret = k;
	return 0;
}

void sbx_audit_state_key_free(uint8_t *key)
{
	if (key) {
		sodium_memzero(key, SBX_AUDIT_KEY_BYTES);
		sodium_free(key);
	}
}

void sbx_audit_state_ratchet(uint8_t *key)
{
	uint8_t next[SBX_AUDIT_KEY_BYTES];

	crypto_generichash(next, sizeof(next), (const uint8_t *)SBX_AUDIT_RATCHET,
			   sizeof(SBX_AUDIT_RATCHET) - 1, key, SBX_AUDIT_KEY_BYTES);
	memcpy(key, next, sizeof(next));
	sodium_memzero(next, sizeof(next));
}

void sbx_audit_state_mac(const uint8_t *key, const uint8_t prev[SBX_AUDIT_MAC_BYTES],
			 const char *body, size_t len, uint8_t ret[SBX_AUDIT_MAC_BYTES])
{
	crypto_generichash_state h;

	crypto_generichash_init(&h, key, SBX_AUDIT_KEY_BYTES, SBX_AUDIT_MAC_BYTES);
	crypto_generichash_update(&h, (const uint8_t *)SBX_AUDIT_DOMAIN, sizeof(SBX_AUDIT_DOMAIN));
	crypto_generichash_update(&h, prev, SBX_AUDIT_MAC_BYTES);
	crypto_generichash_update(&h, (const uint8_t *)body, len);
	crypto_generichash_final(&h, ret, SBX_AUDIT_MAC_BYTES);
	sodium_memzero(&h, sizeof(h));
}

void sbx_audit_state_fingerprint(const uint8_t *key, char ret[SBX_AUDIT_FP_HEX + 1])
{
	uint8_t fp[SBX_AUDIT_FP_HEX / 2];

	crypto_generichash(fp, sizeof(fp), (const uint8_t *)SBX_AUDIT_FP_DOMAIN,
			   sizeof(SBX_AUDIT_FP_DOMAIN) - 1, key, SBX_AUDIT_KEY_BYTES);
	sbx_audit_state_hex(fp, sizeof(fp), ret);
}

void sbx_audit_state_hex(const uint8_t *in, size_t n, char *out)
{
	(void)sodium_bin2hex(out, 2 * n + 1, in, n);
}

int sbx_audit_state_unhex(const char *in, size_t hexlen, uint8_t *out, size_t n)
{
	size_t got = 0;

	if (hexlen != 2 * n)
		return -EINVAL;
	if (sodium_hex2bin(out, n, in, hexlen, NULL, &got, NULL) < 0 || got != n)
		return -EINVAL;
	return 0;
}

int sbx_audit_state_sync_dir(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_close_ int fd = -1;

	if (!copy)
		return -ENOMEM;
	/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_ frees it */
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		return negative_errno();
	return 0;
}

/* Reads a small root-only file into locked memory, NUL-terminated. */
static int read_secret_file(const char *path, bool check_mode, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	char *buf;
	ssize_t n;

	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	if (check_mode && (st.st_mode & 077))
		return -EPERM;
	buf = secure_alloc(STATE_MAX + 1);
	if (!buf)
		return -ENOMEM;
	do
		n = read(fd, buf, STATE_MAX + 1);
	while (n < 0 && errno == EINTR);
	if (n < 0 || n > (ssize_t)STATE_MAX) {
		int r = n < 0 ? negative_errno() : -EFBIG;
		sodium_free(buf);
		return r;
	}
	buf[n] = '\0';
	*ret = buf;
	*ret_len = (size_t)n;
	return 0;
}

static bool number_line(const char **pos, const char *name, uint64_t *ret)
{
	size_t n = strlen(name);
	char *end;

	if (strncmp(*pos, name, n) != 0 || (*pos)[n] != ' ' || (*pos)[n + 1] < '0' ||
	    (*pos)[n + 1] > '9')
		return false;
	errno = 0;
	*ret = strtoull(*pos + n + 1, &end, 10);
	if (errno || *end != '\n')
		return false;
	*pos = end + 1;
	return true;
}

/* "name HEX\n" with exactly hexlen digits. */
static bool hex_line(const char **pos, const char *name, size_t hexlen, const char **ret)
{
	size_t n = strlen(name);

	if (strncmp(*pos, name, n) != 0 || (*pos)[n] != ' ')
		return false;
	*ret = *pos + n + 1;
	for (size_t i = 0; i < hexlen; i++)
		if (!((*ret)[i] >= '0' && (*ret)[i] <= '9') &&
		    !((*ret)[i] >= 'a' && (*ret)[i] <= 'f'))
			return false;
	if ((*ret)[hexlen] != '\n')
		return false;
	*pos = *ret + hexlen + 1;
	return true;
}

static int parse_state(const char *buf, struct sbx_audit_state *st)
{
	const char *pos = buf, *mac, *fp, *key;

	if (strncmp(pos, STATE_MAGIC "\n", sizeof(STATE_MAGIC)) != 0)
		return -EBADMSG;
	pos += sizeof(STATE_MAGIC);
	if (!number_line(&pos, "epoch", &st->epoch) ||
	    !number_line(&pos, "epoch-seq", &st->epoch_seq) ||
	    !number_line(&pos, "epoch-time", &st->epoch_time) ||
	    !number_line(&pos, "seq", &st->seq) ||
	    !hex_line(&pos, "mac", SBX_AUDIT_MAC_HEX, &mac) ||
	    !hex_line(&pos, "genesis-fp", SBX_AUDIT_FP_HEX, &fp) ||
	    !hex_line(&pos, "key", 2 * SBX_AUDIT_KEY_BYTES, &key) || *pos != '\0')
		return -EBADMSG;
	if (st->epoch >= SBX_AUDIT_EPOCH_MAX ||
	    sbx_audit_state_unhex(mac, SBX_AUDIT_MAC_HEX, st->mac, sizeof(st->mac)) < 0 ||
	    sbx_audit_state_unhex(key, 2 * SBX_AUDIT_KEY_BYTES, st->key, SBX_AUDIT_KEY_BYTES) < 0)
		return -EBADMSG;
	memcpy(st->genesis_fp, fp, SBX_AUDIT_FP_HEX);
	st->genesis_fp[SBX_AUDIT_FP_HEX] = '\0';
	return 0;
}

int sbx_audit_state_load(const char *path, struct sbx_audit_state *ret)
{
	struct sbx_audit_state st = {0};
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = read_secret_file(path, true, &buf, &len);
	if (r < 0)
		return r;
	r = sbx_audit_state_key_new(&st.key);
	if (r >= 0)
		r = parse_state(buf, &st);
	sodium_memzero(buf, len);
	sodium_free(buf);
	if (r < 0) {
		sbx_audit_state_clear(&st);
		return r;
	}
	*ret = st;
	return 0;
}

/* Writes data (locked memory) to a new 0600 file, fsynced. */
static int write_new_file(const char *path, const char *data, size_t len)
{
	_cleanup_close_ int fd =
	    open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int r;

	if (fd < 0)
		return negative_errno();
	r = sbx_fd_write_all(fd, data, len);
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r < 0)
		(void)unlink(path);
	return r;
}

int sbx_audit_state_save(const char *path, const struct sbx_audit_state *st, bool create_only)
{
	_cleanup_free_ char *tmp = NULL;
	char mac[SBX_AUDIT_MAC_HEX + 1];
	char *buf;
	int r, n;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return -ENOMEM;
	buf = secure_alloc(STATE_MAX);
	if (!buf)
		return -ENOMEM;
	sbx_audit_state_hex(st->mac, sizeof(st->mac), mac);
	n = snprintf(buf, STATE_MAX,
		     STATE_MAGIC "\nepoch %" PRIu64 "\nepoch-seq %" PRIu64 "\nepoch-time %" PRIu64
				 "\nseq %" PRIu64 "\nmac %s\ngenesis-fp %s\nkey ",
		     st->epoch, st->epoch_seq, st->epoch_time, st->seq, mac, st->genesis_fp);
	sbx_audit_state_hex(st->key, SBX_AUDIT_KEY_BYTES, buf + n);
	n += 2 * SBX_AUDIT_KEY_BYTES;
	buf[n++] = '\n';
	(void)unlink(tmp); /* a leftover of a crash */
	r = write_new_file(tmp, buf, (size_t)n);
	sodium_memzero(buf, STATE_MAX);
	sodium_free(buf);
	if (r < 0)
		return r;
	/* link() never replaces: that is init's "never overwrite"; rename() is the atomic swap. */
	if (create_only ? link(tmp, path) < 0 : rename(tmp, path) < 0) {
		r = negative_errno();
		(void)unlink(tmp);
		return r;
	}
	if (create_only)
		(void)unlink(tmp);
	return sbx_audit_state_sync_dir(path);
}

void sbx_audit_state_clear(struct sbx_audit_state *st)
{
	sbx_audit_state_key_free(st->key);
	sodium_memzero(st, sizeof(*st));
}

int sbx_audit_state_read_key(const char *path, uint8_t **ret)
{
	char *buf = NULL, *p, *end;
	uint8_t *key = NULL;
	size_t len = 0;
	int r;

	r = read_secret_file(path, false, &buf, &len);
	if (r < 0)
		return r;
	p = buf;
	end = buf + len;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	r = sbx_audit_state_key_new(&key);
	if (r >= 0 && sbx_audit_state_unhex(p, (size_t)(end - p), key, SBX_AUDIT_KEY_BYTES) < 0)
		r = -EBADMSG;
	sodium_memzero(buf, len);
	sodium_free(buf);
	if (r < 0) {
		sbx_audit_state_key_free(key);
		return r;
	}
	*ret = key;
	return 0;
}

int sbx_audit_state_init(const char *state_path, const char *key_path, int show_fd,
			 char ret_fp[SBX_AUDIT_FP_HEX + 1])
{
	struct sbx_audit_state st = {0};
	char *hex = NULL;
	int r;

	if (!state_path || (!key_path && show_fd < 0))
		return -EINVAL;
	if (access(state_path, F_OK) == 0)
		return -EEXIST;
	r = sbx_audit_state_key_new(&st.key);
	if (r < 0)
		return r;
	hex = secure_alloc(2 * SBX_AUDIT_KEY_BYTES + 2);
	if (!hex) {
		sbx_audit_state_clear(&st);
		return -ENOMEM;
	}
	randombytes_buf(st.key, SBX_AUDIT_KEY_BYTES);
	sbx_audit_state_fingerprint(st.key, st.genesis_fp);
	st.epoch_seq = 1;
	st.epoch_time = (uint64_t)time(NULL);
	sbx_audit_state_hex(st.key, SBX_AUDIT_KEY_BYTES, hex);
	hex[2 * SBX_AUDIT_KEY_BYTES] = '\n';
	if (key_path)
		r = write_new_file(key_path, hex, 2 * SBX_AUDIT_KEY_BYTES + 1);
	if (r >= 0) {
		r = sbx_audit_state_save(state_path, &st, true);
		/* Shown once or not at all: a key nobody saw must not guard a log. */
		if (r >= 0 && show_fd >= 0) {
			r = sbx_fd_write_all(show_fd, hex, 2 * SBX_AUDIT_KEY_BYTES + 1);
			if (r < 0)
				(void)unlink(state_path);
		}
		if (r < 0 && key_path)
			(void)unlink(key_path);
	}
	if (r >= 0 && ret_fp)
		memcpy(ret_fp, st.genesis_fp, SBX_AUDIT_FP_HEX + 1);
	sodium_memzero(hex, 2 * SBX_AUDIT_KEY_BYTES + 2);
	sodium_free(hex);
	sbx_audit_state_clear(&st);
	return r;
}
