/* SPDX-License-Identifier: MIT */
/*
 * Secret memory. Owns every allocation that may hold key bytes, passphrases or plaintext:
 * sodium_malloc (guard pages, canary, mlock, MADV_DONTDUMP) plus MADV_WIPEONFORK, and the
 * jansson allocator, so a JSON parse of secrets never leaves copies in the ordinary heap.
 *
 * Must never: return secret bytes outside keys/ (see internal.h), log anything, or trust
 * that mlock worked: libsodium 1.0.18 hands out unlocked memory silently when mlock fails
 * (RLIMIT_MEMLOCK), so every allocation re-locks and checks.
 */
#include "keys/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sys/mman.h>

#include <jansson.h>
#include <sodium.h>

#include "keys/internal.h"

struct sbx_secret {
	size_t len;
	size_t cap;
	size_t alloc; /* bytes handed to sodium_malloc, for madvise and mlock */
	unsigned char data[];
};

struct sbx_secret_set {
	struct sbx_secret *block; /* "NAME=value\0" strings back to back; inheritable */
	size_t used;
	char **names; /* ordinary heap: names are not secret */
	size_t n;
	uint32_t key_id;
	struct sbx_secret *ptrs; /* envp array into block, rebuilt on demand */
};

static int initialised;
static bool unlocked_ok;

/* The arena for jansson while secret JSON is parsed (see internal.h). */
static _Thread_local struct {
	struct sbx_secret *s;
	size_t used;
} arena;

#define HDR 16UL /* jansson blocks carry their size, 16-byte aligned */

static void *json_alloc(size_t n)
{
	unsigned char *p;

	if (n > SIZE_MAX - 2 * HDR)
		return NULL;
	if (arena.s) {
		size_t need = (HDR + n + 15U) & ~(size_t)15U;
		if (need > arena.s->cap - arena.used)
			return NULL;
		p = arena.s->data + arena.used;
		arena.used += need;
	} else {
		p = malloc(HDR + n);
		if (!p)
			return NULL;
	}
	memcpy(p, &n, sizeof(n));
	return p + HDR;
}

/* Every block is wiped before it is released: jansson frees string copies of secrets. */
static void json_free(void *ptr)
{
	unsigned char *p;
	size_t n;

	if (!ptr)
		return;
	p = (unsigned char *)ptr - HDR;
	memcpy(&n, p, sizeof(n));
	sodium_memzero(p, HDR + n);
	if (arena.s && p >= arena.s->data && p < arena.s->data + arena.s->cap)
		return; /* wiped; the arena itself goes at sbx_secret_arena_end() */
	free(p);
}

static int secret_alloc_locked(size_t len, bool wipe_on_fork, struct sbx_secret **ret);

int sbx_secret_init(bool allow_unlocked)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *probe = NULL;
	int r;

	if (initialised)
		return 0;
	if (sodium_init() < 0)
		return -EIO;
	json_set_alloc_funcs(json_alloc, json_free);
	unlocked_ok = allow_unlocked;
	initialised = 1;
	/* The start-up check DESIGN asks for: one locked page, or refuse. */
	r = secret_alloc_locked(4096, true, &probe);
	if (r < 0) {
		initialised = 0;
		return r;
	}
	return 0;
}

static int secret_alloc_locked(size_t len, bool wipe_on_fork, struct sbx_secret **ret)
{
	struct sbx_secret *s;
	size_t alloc;
	long page = sysconf(_SC_PAGESIZE);
	int r;

	if (len > SIZE_MAX / 2)
		return -ENOMEM;
	/* A multiple of 16, so the struct (placed flush against the guard page) stays aligned. */
	alloc = (sizeof(*s) + len + 15U) & ~(size_t)15U;
	s = sodium_malloc(alloc);
	if (!s)
		return -ENOMEM;
	/* sodium_malloc ignores mlock failures: lock again and look at the result. */
	if (sodium_mlock(s, alloc) < 0 && !unlocked_ok) {
		r = negative_errno();
		sodium_free(s);
		return r == -ENOMEM ? -EPERM : r;
	}
	if (page > 0) {
		/* The whole pages around [s, s + alloc): round down by pointer arithmetic. */
		size_t off = (uintptr_t)s & ((uintptr_t)page - 1);
		void *lo = (char *)s - off;
		size_t span = (off + alloc + (size_t)page - 1) & ~((size_t)page - 1);
		(void)madvise(lo, span, MADV_DONTDUMP);
		/* A cloned child must not inherit keys or another task's plaintext. */
		if (wipe_on_fork && madvise(lo, span, MADV_WIPEONFORK) < 0) {
			r = negative_errno();
			sodium_free(s);
			return r;
		}
	}
	sodium_memzero(s, alloc);
	s->len = len;
	s->cap = len;
	s->alloc = alloc;
	*ret = s;
	return 0;
}

static int secret_alloc(size_t len, bool wipe_on_fork, struct sbx_secret **ret)
{
	int r;

	if (!initialised) {
		r = sbx_secret_init(false);
		if (r < 0)
			return r;
	}
	return secret_alloc_locked(len, wipe_on_fork, ret);
}

int sbx_secret_new(size_t len, struct sbx_secret **ret)
{
	return secret_alloc(len, true, ret);
}

int sbx_secret_new_inheritable(size_t len, struct sbx_secret **ret)
{
	return secret_alloc(len, false, ret);
}

struct sbx_secret *sbx_secret_free(struct sbx_secret *s)
{
	if (s)
		sodium_free(s); /* wipes (sodium_munlock zeroes) and unmaps */
	return NULL;
}

size_t sbx_secret_len(const struct sbx_secret *s)
{
	return s ? s->len : 0;
}

unsigned char *sbx_secret_data(const struct sbx_secret *s)
{
	return s ? (unsigned char *)s->data : NULL;
}

void sbx_secret_truncate(struct sbx_secret *s, size_t len)
{
	if (len >= s->len)
		return;
	sodium_memzero(s->data + len, s->len - len);
	s->len = len;
}

bool sbx_secret_equal(const struct sbx_secret *a, const struct sbx_secret *b)
{
	if (!a || !b || a->len != b->len)
		return false;
	return sodium_memcmp(a->data, b->data, a->len) == 0;
}

void sbx_erase(void *p, size_t len)
{
	sodium_memzero(p, len);
}

void sbx_erasep(const struct sbx_erase_ref *r)
{
	if (r->p)
		sodium_memzero(r->p, r->len);
}

int sbx_secret_arena_begin(size_t size)
{
	struct sbx_secret *s = NULL;
	int r;

	if (arena.s)
		return -EBUSY;
	r = sbx_secret_new(size, &s);
	if (r < 0)
		return r;
	arena.s = s;
	arena.used = 0;
	return 0;
}

void sbx_secret_arena_end(void)
{
	arena.s = sbx_secret_free(arena.s);
	arena.used = 0;
}

/* Grows a secret into a new locked buffer; the old one is wiped. */
static int secret_grow(struct sbx_secret **s, size_t cap)
{
	struct sbx_secret *n = NULL;
	int r = sbx_secret_new(cap, &n);

	if (r < 0)
		return r;
	memcpy(n->data, (*s)->data, (*s)->len);
	n->len = (*s)->len;
	sbx_secret_free(*s);
	*s = n;
	return 0;
}

int sbx_secret_read_fd(int fd, size_t max, struct sbx_secret **ret)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *s = NULL;
	int r = sbx_secret_new(4096, &s);

	if (r < 0)
		return r;
	s->len = 0;
	for (;;) {
		ssize_t k;
		if (s->len == s->cap) {
			if (s->cap > max)
				return -EFBIG;
			r = secret_grow(&s, s->cap * 2);
			if (r < 0)
				return r;
		}
		k = read(fd, s->data + s->len, s->cap - s->len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (k == 0)
			break;
		s->len += (size_t)k;
	}
	if (s->len > max)
		return -EFBIG;
	*ret = TAKE_PTR(s);
	return 0;
}

/* Drops one trailing "\n" or "\r\n" and checks the length rules. */
static int passphrase_finish(struct sbx_secret *s)
{
	/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): set when r >= 0 */
	unsigned char *nl = memchr(s->data, '\n', s->len);

	if (nl)
		sbx_secret_truncate(s, (size_t)(nl - s->data));
	if (s->len > 0 && s->data[s->len - 1] == '\r')
		sbx_secret_truncate(s, s->len - 1);
	if (s->len == 0)
		return -EINVAL;
	if (s->len < SBX_PASSPHRASE_MIN)
		return -ERANGE;
	return 0;
}

int sbx_secret_read_passphrase_file(const char *path, struct sbx_secret **ret)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *s = NULL;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int r;

	if (fd < 0)
		return negative_errno();
	r = sbx_secret_read_fd(fd, SBX_PASSPHRASE_MAX, &s);
	if (r < 0)
		return r;
	r = passphrase_finish(s);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

/* One line from the terminal with echo off, byte by byte into locked memory. */
static int tty_read_line(int fd, const char *prompt, struct sbx_secret **ret)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *s = NULL;
	struct termios old, quiet;
	int r = sbx_secret_new(SBX_PASSPHRASE_MAX + 1, &s);

	if (r < 0)
		return r;
	if (tcgetattr(fd, &old) < 0)
		return negative_errno();
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0)
		return negative_errno();
	(void)!write(fd, prompt, strlen(prompt));
	s->len = 0;
	for (;;) {
		unsigned char c;
		ssize_t k = read(fd, &c, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || c == '\n')
			break;
		if (s->len == s->cap) {
			r = -E2BIG;
			break;
		}
		s->data[s->len++] = c;
		c = 0;
	}
	(void)tcsetattr(fd, TCSAFLUSH, &old);
	(void)!write(fd, "\n", 1);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

int sbx_secret_read_passphrase_tty(const char *prompt, bool confirm, struct sbx_secret **ret)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *a = NULL;
	_cleanup_(sbx_secret_freep) struct sbx_secret *b = NULL;
	_cleanup_close_ int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	int r;

	if (fd < 0)
		return -ENXIO;
	r = tty_read_line(fd, prompt, &a);
	if (r < 0)
		return r;
	r = passphrase_finish(a);
	if (r < 0)
		return r;
	if (confirm) {
		r = tty_read_line(fd, "Repeat the passphrase: ", &b);
		if (r < 0)
			return r;
		(void)passphrase_finish(b);
		if (!sbx_secret_equal(a, b))
			return -EILSEQ;
	}
	*ret = TAKE_PTR(a);
	return 0;
}

int sbx_b64_decode(const char *in, size_t in_len, unsigned char *out, size_t out_max,
		   size_t *ret_len)
{
	const char *end = NULL;
	size_t n = 0;

	/* NOLINTNEXTLINE(readability-suspicious-call-argument): libsodium's order */
	if (sodium_base642bin(out, out_max, in, in_len, NULL, &n, &end,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) < 0)
		return -EBADMSG;
	if (end != in + in_len)
		return -EBADMSG;
	*ret_len = n;
	return 0;
}

size_t sbx_b64_encoded_len(size_t bin_len)
{
	return sodium_base64_ENCODED_LEN(bin_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void sbx_b64_encode(const unsigned char *in, size_t len, char *out, size_t out_len)
{
	(void)sodium_bin2base64(out, out_len, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* ^[A-Z][A-Z0-9_]{0,127}$ (DESIGN.md "Sealed secrets"). */
static bool name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > SBX_SECRET_NAME_MAX || name[0] < 'A' || name[0] > 'Z')
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = name[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

int sbx_secret_set_new(struct sbx_secret_set **ret)
{
	struct sbx_secret_set *set = calloc(1, sizeof(*set));
	int r;

	if (!set)
		return -ENOMEM;
	r = sbx_secret_new_inheritable(1024, &set->block);
	if (r < 0) {
		free(set);
		return r;
	}
	*ret = set;
	return 0;
}

struct sbx_secret_set *sbx_secret_set_free(struct sbx_secret_set *set)
{
	if (!set)
		return NULL;
	sbx_secret_free(set->block);
	sbx_secret_free(set->ptrs);
	for (size_t i = 0; i < set->n; i++)
		free(set->names[i]);
	free(set->names);
	free(set);
	return NULL;
}

int sbx_secret_set_add(struct sbx_secret_set *set, const char *name, const void *value, size_t len)
{
	size_t nlen = strlen(name), need;
	char **names;
	char *copy;
	unsigned char *p;

	if (!name_valid(name) || memchr(value, '\0', len))
		return -EINVAL;
	if (len > SBX_SECRET_VALUE_MAX || set->n >= SBX_SECRET_SET_MAX)
		return -E2BIG;
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->names[i], name) == 0)
			return -EEXIST;
	need = nlen + 1 + len + 1;
	if (set->block->cap - set->used < need) {
		size_t cap = set->block->cap;
		while (cap - set->used < need)
			cap *= 2;
		struct sbx_secret *n = NULL;
		int r = sbx_secret_new_inheritable(cap, &n);
		if (r < 0)
			return r;
		/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): set when r >= 0 */
		memcpy(n->data, set->block->data, set->used);
		sbx_secret_free(set->block);
		set->block = n;
	}
	names = reallocarray(set->names, set->n + 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	set->names = names;
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	p = set->block->data + set->used;
	memcpy(p, name, nlen);
	p[nlen] = '=';
	memcpy(p + nlen + 1, value, len);
	p[nlen + 1 + len] = '\0';
	set->used += need;
	set->names[set->n++] = copy;
	set->ptrs = sbx_secret_free(set->ptrs);
	return 0;
}

size_t sbx_secret_set_count(const struct sbx_secret_set *set)
{
	return set ? set->n : 0;
}

const char *sbx_secret_set_name(const struct sbx_secret_set *set, size_t i)
{
	return set && i < set->n ? set->names[i] : NULL;
}

uint32_t sbx_secret_set_key_id(const struct sbx_secret_set *set)
{
	return set ? set->key_id : 0;
}

void sbx_secret_set_set_key_id(struct sbx_secret_set *set, uint32_t id)
{
	set->key_id = id;
}

int sbx_secret_set_envp(struct sbx_secret_set *set, char *const **ret)
{
	char **v;
	size_t off = 0;

	if (!set->ptrs) {
		int r = sbx_secret_new_inheritable((set->n + 1) * sizeof(char *), &set->ptrs);
		if (r < 0)
			return r;
		v = (char **)(void *)set->ptrs->data;
		for (size_t i = 0; i < set->n; i++) {
			/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): set when r >= 0 */
			v[i] = (char *)set->block->data + off;
			off += strlen(v[i]) + 1;
		}
		/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): set when r >= 0 */
		v[set->n] = NULL;
	}
	*ret = (char *const *)(void *)set->ptrs->data;
	return 0;
}

void sbx_secret_set_len(struct sbx_secret *s, size_t len)
{
	s->len = len <= s->cap ? len : s->cap;
}
