/* SPDX-License-Identifier: MIT */
/*
 * The keyring: parse, validate, change and save the key file (docs/keys.md "File formats").
 *
 * Key bytes are only ever decoded from the locked file buffer straight into a locked
 * material buffer, and encoded back the same way; they never pass through the ordinary heap,
 * stdio or a message. The format is strict line-based text rather than JSON so the parser can
 * work in place without allocating copies of key bytes. A fingerprint per key (keyed BLAKE2b)
 * is stored and re-checked at load: a flipped bit in a key is caught before it seals.
 * Writes are atomic (temporary, fsync, rename, fsync of the directory) and always 0600.
 */
#include "keys/keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/file.h>
#include <sys/stat.h>

#include <sodium.h>

#include "common/fd-util.h"
#include "keys/internal.h"

#define FP_MSG "sbx key fingerprint v1"
#define ST_CTX "sbx keyring self-test"

const char *const sbx_keyring_state_names[_SBX_KEY_STATE_MAX] = {
    [SBX_KEY_PRIMARY] = "primary",
    [SBX_KEY_ACTIVE] = "active",
    [SBX_KEY_RETIRED] = "retired",
    [SBX_KEY_DESTROYED] = "destroyed",
};

const char *sbx_key_state_name(enum sbx_key_state s)
{
	return (unsigned)s < _SBX_KEY_STATE_MAX ? sbx_keyring_state_names[s] : NULL;
}

const char *sbx_keyring_default_path(void)
{
	static char buf[PATH_MAX];
	const char *dir = getenv("CREDENTIALS_DIRECTORY");

	if (dir && dir[0] == '/') {
		int k = snprintf(buf, sizeof(buf), "%s/keyring", dir);
		if (k > 0 && (size_t)k < sizeof(buf) && access(buf, F_OK) == 0)
			return buf;
	}
	return SBX_KEYRING_DEFAULT_PATH;
}

void sbx_keyring_fingerprint(const unsigned char *key, char out[SBX_KEY_FP_HEX + 1])
{
	unsigned char fp[SBX_KEY_FP_HEX / 2];

	/* Keyed with the key itself over a fixed label: shows nothing of the key, and two
	 * keyrings can be compared by eye without handling key bytes. */
	crypto_generichash(fp, sizeof(fp), (const unsigned char *)FP_MSG, strlen(FP_MSG), key,
			   SBX_KEY_BYTES);
	(void)sodium_bin2hex(out, SBX_KEY_FP_HEX + 1, fp, sizeof(fp));
}

unsigned char *sbx_keyring_key_bytes(const struct sbx_keyring *kr, size_t i)
{
	return sbx_secret_data(kr->material) + i * SBX_KEY_BYTES;
}

struct sbx_keyring *sbx_keyring_free(struct sbx_keyring *kr)
{
	if (!kr)
		return NULL;
	sbx_secret_free(kr->material);
	sbx_secret_free(kr->audit);
	free(kr->keys);
	free(kr);
	return NULL;
}

static int keyring_alloc(size_t n, struct sbx_keyring **ret)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = calloc(1, sizeof(*kr));
	int r;

	if (!kr)
		return -ENOMEM;
	kr->keys = calloc(n ? n : 1, sizeof(*kr->keys));
	if (!kr->keys)
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_ frees it */
		return -ENOMEM;
	r = sbx_secret_new((n ? n : 1) * SBX_KEY_BYTES, &kr->material);
	if (r < 0)
		return r;
	r = sbx_secret_new(SBX_KEY_BYTES, &kr->audit);
	if (r < 0)
		return r;
	kr->n = n;
	*ret = TAKE_PTR(kr);
	return 0;
}

int sbx_keyring_new(struct sbx_keyring **ret)
{
	struct sbx_keyring *kr = NULL;
	uint64_t now = (uint64_t)time(NULL);
	int r = keyring_alloc(1, &kr);

	if (r < 0)
		return r;
	randombytes_buf(sbx_keyring_key_bytes(kr, 0), SBX_KEY_BYTES);
	randombytes_buf(sbx_secret_data(kr->audit), SBX_KEY_BYTES);
	kr->keys[0] = (struct sbx_key_info){
	    .id = 1, .state = SBX_KEY_PRIMARY, .created = now, .changed = now};
	sbx_keyring_fingerprint(sbx_keyring_key_bytes(kr, 0), kr->keys[0].fingerprint);
	kr->audit_created = now;
	kr->next_id = 2;
	*ret = kr;
	return 0;
}

/* ---- parsing ---------------------------------------------------------------------- */

/* A cursor over one line of the locked file buffer. */
struct cursor {
	const char *p, *end; /* the line, without its '\n' */
};

/* The next space-separated field; false at the end of the line or on a double space. */
static bool field(struct cursor *c, const char **ret, size_t *ret_len)
{
	const char *s = c->p;

	if (s >= c->end)
		return false;
	while (c->p < c->end && *c->p != ' ')
		c->p++;
	*ret = s;
	*ret_len = (size_t)(c->p - s);
	if (c->p < c->end)
		c->p++; /* the separator; a trailing space leaves an empty field below */
	return *ret_len > 0;
}

static bool word_is(const char *s, size_t n, const char *w)
{
	return n == strlen(w) && memcmp(s, w, n) == 0;
}

/* Decimal without sign or leading zeros, at most max. */
static bool number(const char *s, size_t n, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = v;
	return true;
}

static bool hex_fp(const char *s, size_t n)
{
	if (n != SBX_KEY_FP_HEX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* "FP B64KEY" at the end of an audit or key line: decodes into out and checks the
 * fingerprint; for destroyed keys B64KEY is "-" and out stays zero. */
static const char *parse_key_tail(struct cursor *c, bool destroyed, unsigned char *out,
				  char fp_out[SBX_KEY_FP_HEX + 1])
{
	const char *f, *k;
	size_t fn, kn, dn = 0;
	char fp[SBX_KEY_FP_HEX + 1];

	if (!field(c, &f, &fn) || !hex_fp(f, fn))
		return "bad fingerprint field";
	memcpy(fp_out, f, fn);
	fp_out[fn] = '\0';
	if (!field(c, &k, &kn))
		return "missing key field";
	if (c->p != c->end || k + kn != c->end)
		return "trailing data";
	if (destroyed)
		return word_is(k, kn, "-") ? NULL : "destroyed key still has key bytes";
	if (sbx_b64_decode(k, kn, out, SBX_KEY_BYTES, &dn) < 0 || dn != SBX_KEY_BYTES)
		return "bad key bytes (want 32 bytes of base64url)";
	sbx_keyring_fingerprint(out, fp);
	if (sodium_memcmp(fp, fp_out, SBX_KEY_FP_HEX) != 0)
		return "fingerprint does not match the key (corrupted key)";
	return NULL;
}

static const char *parse_key_line(struct cursor *c, struct sbx_keyring *kr, size_t i)
{
	struct sbx_key_info *k = &kr->keys[i];
	const char *f;
	size_t fn;
	uint64_t v;
	int st = -1;

	if (!field(c, &f, &fn) || !word_is(f, fn, "key"))
		return "expected 'key'";
	if (!field(c, &f, &fn) || !number(f, fn, UINT32_MAX - 1, &v) || v == 0)
		return "bad key id";
	k->id = (uint32_t)v;
	if (i > 0 && k->id <= kr->keys[i - 1].id)
		return "key ids not unique and ascending";
	if (!field(c, &f, &fn))
		return "missing state";
	for (int s = 0; s < _SBX_KEY_STATE_MAX; s++)
		if (word_is(f, fn, sbx_keyring_state_names[s]))
			st = s;
	if (st < 0)
		return "unknown key state";
	k->state = (enum sbx_key_state)st;
	if (!field(c, &f, &fn) || !number(f, fn, INT64_MAX, &k->created))
		return "bad creation time";
	if (!field(c, &f, &fn) || !number(f, fn, INT64_MAX, &k->changed))
		return "bad change time";
	return parse_key_tail(c, k->state == SBX_KEY_DESTROYED, sbx_keyring_key_bytes(kr, i),
			      k->fingerprint);
}

/* Splits the buffer into lines; every line must end in '\n'. */
static bool next_line(const char **pos, const char *end, struct cursor *ret)
{
	const char *nl;

	if (*pos >= end)
		return false;
	nl = memchr(*pos, '\n', (size_t)(end - *pos));
	if (!nl)
		return false;
	ret->p = *pos;
	ret->end = nl;
	*pos = nl + 1;
	return true;
}

int sbx_keyring_parse(const struct sbx_secret *text, struct sbx_keyring **ret, char *reterr,
		      size_t errlen)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	const char *pos = (const char *)sbx_secret_data(text), *end = pos + sbx_secret_len(text);
	const char *f, *why;
	struct cursor c;
	size_t fn, n = 0;
	uint64_t v;
	int r;

	if (memchr(pos, '\0', sbx_secret_len(text)) || memchr(pos, '\r', sbx_secret_len(text)))
		return sbx_keyring_fail(reterr, errlen, -EBADMSG,
					"not a keyring (NUL or CR bytes)");
	if (!next_line(&pos, end, &c) || !word_is(c.p, (size_t)(c.end - c.p), SBX_KEYRING_MAGIC))
		return sbx_keyring_fail(reterr, errlen, -EBADMSG,
					"line 1: not a keyring (want '%s')", SBX_KEYRING_MAGIC);
	/* Count key lines first, so the locked material is allocated once. */
	for (const char *q = pos; q < end; q++)
		if (*q == '\n')
			n++;
	if (n < 3 || n - 2 > SBX_KEYRING_MAX_KEYS)
		return sbx_keyring_fail(reterr, errlen, -EBADMSG, "wrong number of lines");
	if (end[-1] != '\n')
		return sbx_keyring_fail(reterr, errlen, -EBADMSG, "last line not terminated");
	r = keyring_alloc(n - 2, &kr);
	if (r < 0)
		return sbx_keyring_fail(reterr, errlen, r, "cannot allocate locked memory");

	if (!next_line(&pos, end, &c) || !field(&c, &f, &fn) || !word_is(f, fn, "next-id") ||
	    !field(&c, &f, &fn) || !number(f, fn, UINT32_MAX, &v) || v < 2 || c.p != c.end ||
	    f + fn != c.end)
		return sbx_keyring_fail(reterr, errlen, -EBADMSG, "line 2: bad next-id line");
	kr->next_id = (uint32_t)v;

	if (!next_line(&pos, end, &c) || !field(&c, &f, &fn) || !word_is(f, fn, "audit") ||
	    !field(&c, &f, &fn) || !number(f, fn, INT64_MAX, &kr->audit_created))
		return sbx_keyring_fail(reterr, errlen, -EBADMSG, "line 3: bad audit key line");
	{
		char fp[SBX_KEY_FP_HEX + 1];
		why = parse_key_tail(&c, false, sbx_secret_data(kr->audit), fp);
		if (why)
			return sbx_keyring_fail(reterr, errlen, -EBADMSG, "line 3: audit key: %s",
						why);
	}
	for (size_t i = 0; i < kr->n; i++) {
		if (!next_line(&pos, end, &c))
			return sbx_keyring_fail(reterr, errlen, -EBADMSG, "line %zu: truncated",
						i + 4);
		why = parse_key_line(&c, kr, i);
		if (why)
			return sbx_keyring_fail(reterr, errlen, -EBADMSG, "line %zu: %s", i + 4,
						why);
	}
	r = sbx_keyring_validate(kr, reterr, errlen);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(kr);
	return 0;
}

/* One AEAD round trip with the key, the same primitive sealed.c uses. */
static bool self_test(const unsigned char *key)
{
	unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	unsigned char msg[32], ct[sizeof(msg) + crypto_aead_xchacha20poly1305_ietf_ABYTES],
	    back[sizeof(msg)];
	unsigned long long ctlen = 0, backlen = 0;
	bool ok;

	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(msg, sizeof(msg));
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &ctlen, msg, sizeof(msg),
						       (const unsigned char *)ST_CTX,
						       strlen(ST_CTX), NULL, nonce, key) < 0)
		return false;
	ok = crypto_aead_xchacha20poly1305_ietf_decrypt(back, &backlen, NULL, ct, ctlen,
							(const unsigned char *)ST_CTX,
							strlen(ST_CTX), nonce, key) == 0 &&
	     backlen == sizeof(msg) && sodium_memcmp(back, msg, sizeof(msg)) == 0;
	ct[0] ^= 1; /* and a forgery must fail */
	ok = ok && crypto_aead_xchacha20poly1305_ietf_decrypt(back, &backlen, NULL, ct, ctlen,
							      (const unsigned char *)ST_CTX,
							      strlen(ST_CTX), nonce, key) < 0;
	sodium_memzero(msg, sizeof(msg));
	sodium_memzero(back, sizeof(back));
	return ok;
}

int sbx_keyring_validate(const struct sbx_keyring *kr, char *reterr, size_t errlen)
{
	size_t primaries = 0;
	char fp[SBX_KEY_FP_HEX + 1];

	if (kr->n == 0)
		return sbx_keyring_fail(reterr, errlen, -EBADMSG, "no keys");
	for (size_t i = 0; i < kr->n; i++) {
		const struct sbx_key_info *k = &kr->keys[i];
		if (k->id == 0 || (i > 0 && k->id <= kr->keys[i - 1].id))
			return sbx_keyring_fail(reterr, errlen, -EBADMSG,
						"key ids not unique and ascending");
		if (k->id >= kr->next_id)
			return sbx_keyring_fail(reterr, errlen, -EBADMSG,
						"key %" PRIu32 " is not below next-id %" PRIu32,
						k->id, kr->next_id);
		if (k->state == SBX_KEY_PRIMARY)
			primaries++;
		if (k->state == SBX_KEY_DESTROYED)
			continue;
		sbx_keyring_fingerprint(sbx_keyring_key_bytes(kr, i), fp);
		if (sodium_memcmp(fp, k->fingerprint, SBX_KEY_FP_HEX) != 0)
			return sbx_keyring_fail(reterr, errlen, -EBADMSG,
						"key %" PRIu32 ": fingerprint does not match",
						k->id);
		if (!self_test(sbx_keyring_key_bytes(kr, i)))
			return sbx_keyring_fail(reterr, errlen, -EBADMSG,
						"key %" PRIu32 ": self-test failed", k->id);
	}
	if (primaries != 1)
		return sbx_keyring_fail(reterr, errlen, -EBADMSG,
					"%zu primary keys (want exactly one)", primaries);
	if (!self_test(sbx_secret_data(kr->audit)))
		return sbx_keyring_fail(reterr, errlen, -EBADMSG, "audit key: self-test failed");
	return 0;
}

/* ---- changes ----------------------------------------------------------------------- */

static ssize_t find(const struct sbx_keyring *kr, uint32_t id)
{
	for (size_t i = 0; i < kr->n; i++)
		if (kr->keys[i].id == id)
			return (ssize_t)i;
	return -ENOKEY;
}

int sbx_keyring_rotate(struct sbx_keyring *kr, uint32_t *ret_id)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *m = NULL;
	struct sbx_key_info *keys;
	uint64_t now = (uint64_t)time(NULL);
	int r;

	if (kr->next_id == UINT32_MAX || kr->n >= SBX_KEYRING_MAX_KEYS)
		return -EOVERFLOW;
	r = sbx_secret_new((kr->n + 1) * SBX_KEY_BYTES, &m);
	if (r < 0)
		return r;
	keys = reallocarray(kr->keys, kr->n + 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	kr->keys = keys;
	memcpy(sbx_secret_data(m), sbx_secret_data(kr->material), kr->n * SBX_KEY_BYTES);
	randombytes_buf(sbx_secret_data(m) + kr->n * SBX_KEY_BYTES, SBX_KEY_BYTES);
	sbx_secret_free(kr->material);
	kr->material = TAKE_PTR(m);
	for (size_t i = 0; i < kr->n; i++)
		if (keys[i].state == SBX_KEY_PRIMARY) {
			keys[i].state = SBX_KEY_ACTIVE;
			keys[i].changed = now;
		}
	keys[kr->n] = (struct sbx_key_info){
	    .id = kr->next_id, .state = SBX_KEY_PRIMARY, .created = now, .changed = now};
	sbx_keyring_fingerprint(sbx_keyring_key_bytes(kr, kr->n), keys[kr->n].fingerprint);
	kr->n++;
	if (ret_id)
		*ret_id = kr->next_id;
	kr->next_id++;
	return 0;
}

static int change(struct sbx_keyring *kr, uint32_t id, enum sbx_key_state to)
{
	ssize_t i = find(kr, id);
	struct sbx_key_info *k;

	if (i < 0)
		return (int)i;
	k = &kr->keys[i];
	if (k->state == to)
		return -EALREADY;
	if (k->state == SBX_KEY_PRIMARY)
		return -EBUSY;
	if (k->state == SBX_KEY_DESTROYED)
		return -ESTALE;
	if (to == SBX_KEY_DESTROYED)
		sodium_memzero(sbx_keyring_key_bytes(kr, (size_t)i), SBX_KEY_BYTES);
	k->state = to;
	k->changed = (uint64_t)time(NULL);
	return 0;
}

int sbx_keyring_retire(struct sbx_keyring *kr, uint32_t id)
{
	return change(kr, id, SBX_KEY_RETIRED);
}

int sbx_keyring_activate(struct sbx_keyring *kr, uint32_t id)
{
	ssize_t i = find(kr, id);

	/* Only a retired key comes back; activating an active key is "already". */
	if (i >= 0 && (kr->keys[i].state == SBX_KEY_ACTIVE || kr->keys[i].state == SBX_KEY_PRIMARY))
		return -EALREADY;
	return change(kr, id, SBX_KEY_ACTIVE);
}

int sbx_keyring_destroy(struct sbx_keyring *kr, uint32_t id)
{
	return change(kr, id, SBX_KEY_DESTROYED);
}

/* ---- accessors --------------------------------------------------------------------- */

size_t sbx_keyring_count(const struct sbx_keyring *kr)
{
	return kr->n;
}

int sbx_keyring_info(const struct sbx_keyring *kr, size_t i, struct sbx_key_info *ret)
{
	if (i >= kr->n)
		return -ERANGE;
	*ret = kr->keys[i];
	return 0;
}

int sbx_keyring_find(const struct sbx_keyring *kr, uint32_t id, struct sbx_key_info *ret)
{
	ssize_t i = find(kr, id);

	if (i < 0)
		return (int)i;
	*ret = kr->keys[i];
	return 0;
}

uint32_t sbx_keyring_primary_id(const struct sbx_keyring *kr)
{
	for (size_t i = 0; i < kr->n; i++)
		if (kr->keys[i].state == SBX_KEY_PRIMARY)
			return kr->keys[i].id;
	return 0;
}

uint32_t sbx_keyring_next_id(const struct sbx_keyring *kr)
{
	return kr->next_id;
}

void sbx_keyring_raise_next_id(struct sbx_keyring *kr, uint32_t id)
{
	if (id > kr->next_id)
		kr->next_id = id;
}

const struct sbx_secret *sbx_keyring_audit_key(const struct sbx_keyring *kr)
{
	return kr->audit;
}

void sbx_keyring_audit_fingerprint(const struct sbx_keyring *kr, char ret[SBX_KEY_FP_HEX + 1])
{
	sbx_keyring_fingerprint(sbx_secret_data(kr->audit), ret);
}

int sbx_keyring_key(const struct sbx_keyring *kr, uint32_t id, const unsigned char **ret_key,
		    int *ret_state)
{
	ssize_t i = find(kr, id);

	if (i < 0)
		return (int)i;
	*ret_state = (int)kr->keys[i].state;
	*ret_key =
	    kr->keys[i].state == SBX_KEY_DESTROYED ? NULL : sbx_keyring_key_bytes(kr, (size_t)i);
	return 0;
}
