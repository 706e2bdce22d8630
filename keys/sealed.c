/* SPDX-License-Identifier: MIT */
/*
 * Sealed blobs v1: the name rules, seal, open, inspect and rewrap (format in sealed.h and
 * DESIGN.md "Sealed secrets").
 *
 * Plaintext exists only in locked memory: the JSON is written by hand into a locked buffer,
 * padded and encrypted there; on open it is decrypted into a locked buffer and parsed by
 * jansson inside a locked arena (keys/secret.c), and the result is a secret set. The order
 * of checks on open is fixed so each failure has one code: framing (sealed_malformed), key
 * id (key_unknown, key_retired), authentication (decrypt_failed), content, and only then the
 * accept callback (secret_not_allowed). A blob that fails authentication is never parsed.
 */
#include "keys/sealed.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "common/envnames.h"
#include "keys/internal.h"

#define AD_LABEL    "sbx1"
#define PAD_BLOCK   64U
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES   crypto_aead_xchacha20poly1305_ietf_ABYTES
#define FIXED_BYTES (SBX_SEALED_HEADER_BYTES + NONCE_BYTES + TAG_BYTES)

enum sbx_error sbx_sealed_error(int r)
{
	switch (r) {
	case -EBADMSG:
		return SBX_E_SEALED_MALFORMED;
	case -ENOKEY:
		return SBX_E_KEY_UNKNOWN;
	case -EKEYREVOKED:
		return SBX_E_KEY_RETIRED;
	case -EKEYREJECTED:
		return SBX_E_DECRYPT_FAILED;
	case -EACCES:
		return SBX_E_SECRET_NOT_ALLOWED;
	case -EINVAL:
		return SBX_E_BAD_REQUEST;
	case -E2BIG:
		return SBX_E_TOO_LARGE;
	default:
		return SBX_E_INTERNAL;
	}
}

static bool name_reserved(const char *n)
{
	return sbx_envnames_reserved(n);
}

int sbx_sealed_name_normalize(const char *in, char ret[SBX_SECRET_NAME_MAX + 1])
{
	char buf[SBX_SECRET_NAME_MAX + 1];
	size_t n = strlen(in);

	if (n == 0 || n > SBX_SECRET_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (c == '-' || c == '.' || c == ' ')
			c = '_';
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9' && i > 0) ||
		      (c == '_' && i > 0)))
			return -EINVAL;
		buf[i] = c;
	}
	buf[n] = '\0';
	if (name_reserved(buf))
		return -EPERM;
	memcpy(ret, buf, n + 1);
	return 0;
}

int sbx_sealed_context_check(const char *context)
{
	size_t n;

	if (!context)
		return -EINVAL;
	n = strnlen(context, SBX_SEALED_CONTEXT_MAX + 1);
	if (n == 0 || n > SBX_SEALED_CONTEXT_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)context[i] < 0x20 || (unsigned char)context[i] > 0x7e)
			return -EINVAL;
	return 0;
}

int sbx_sealed_parse_env_lines(const struct sbx_secret *text, struct sbx_secret_set **ret,
			       size_t *reterr_line)
{
	_cleanup_(sbx_secret_set_freep) struct sbx_secret_set *set = NULL;
	const char *p = (const char *)sbx_secret_data(text), *end = p + sbx_secret_len(text);
	size_t line = 0;
	int r = sbx_secret_set_new(&set);

	if (r < 0)
		return r;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
		const char *eq, *ns, *ne;
		char raw[SBX_SECRET_NAME_MAX + 1], name[SBX_SECRET_NAME_MAX + 1];

		line++;
		*reterr_line = line;
		if (eol > p && eol[-1] == '\r')
			eol--;
		ns = p;
		p = nl ? nl + 1 : end;
		while (ns < eol && (*ns == ' ' || *ns == '\t'))
			ns++;
		if (ns == eol || *ns == '#')
			continue;
		eq = memchr(ns, '=', (size_t)(eol - ns));
		if (!eq)
			return -EINVAL;
		for (ne = eq; ne > ns && (ne[-1] == ' ' || ne[-1] == '\t'); ne--)
			;
		if (ne == ns || (size_t)(ne - ns) > SBX_SECRET_NAME_MAX)
			return -EINVAL;
		memcpy(raw, ns, (size_t)(ne - ns));
		raw[ne - ns] = '\0';
		r = sbx_sealed_name_normalize(raw, name);
		if (r < 0)
			return r;
		r = sbx_secret_set_add(set, name, eq + 1, (size_t)(eol - eq - 1));
		if (r < 0)
			return r;
	}
	*reterr_line = 0;
	*ret = TAKE_PTR(set);
	return 0;
}

/* Strict UTF-8 (no overlongs, no surrogates), as jansson will demand on open. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t k;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1, cp = c & 0x1fU;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2, cp = c & 0x0fU;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3, cp = c & 0x07U;
		else
			return false;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3fU);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* Writes {"NAME":"value",...} into a locked buffer; values JSON-escaped. */
static int plaintext_build(const struct sbx_secret_set *set, struct sbx_secret **ret)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *out = NULL;
	char *const *envp = NULL;
	size_t cap = 2, n = sbx_secret_set_count(set), len = 0;
	unsigned char *o;
	int r;

	/* The envp view gives the values; it is rebuilt lazily, so a const set is fine. */
	r = sbx_secret_set_envp((struct sbx_secret_set *)set, &envp);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		cap += strlen(envp[i]) * 6 + 8;
	if (cap > SBX_SEALED_PLAINTEXT_MAX * 6U)
		return -E2BIG;
	r = sbx_secret_new(cap + PAD_BLOCK, &out);
	if (r < 0)
		return r;
	o = sbx_secret_data(out);
	o[len++] = '{';
	for (size_t i = 0; i < n; i++) {
		const char *name = sbx_secret_set_name(set, i);
		const unsigned char *v = (const unsigned char *)envp[i] + strlen(name) + 1;
		size_t vlen = strlen((const char *)v);
		if (!utf8_valid(v, vlen))
			return -EILSEQ;
		len += (size_t)sprintf((char *)o + len, "%s\"%s\":\"", i ? "," : "", name);
		for (size_t j = 0; j < vlen; j++) {
			if (v[j] == '"' || v[j] == '\\') {
				o[len++] = '\\';
				o[len++] = v[j];
			} else if (v[j] < 0x20) {
				len += (size_t)sprintf((char *)o + len, "\\u%04x", v[j]);
			} else {
				o[len++] = v[j];
			}
		}
		o[len++] = '"';
	}
	o[len++] = '}';
	if (len > SBX_SEALED_PLAINTEXT_MAX)
		return -E2BIG;
	sbx_secret_set_len(out, len);
	*ret = TAKE_PTR(out);
	return 0;
}

/* "sbx1" | header | context */
static int make_ad(const unsigned char *hdr, const char *context, unsigned char **ret,
		   size_t *ret_len)
{
	size_t cl = strlen(context), n = 4 + SBX_SEALED_HEADER_BYTES + cl;
	unsigned char *ad = malloc(n);

	if (!ad)
		return -ENOMEM;
	/* ad is bytes for the AEAD, not a string: no NUL. */
	memcpy(ad, AD_LABEL, 4); /* NOLINT(bugprone-not-null-terminated-result) */
	memcpy(ad + 4, hdr, SBX_SEALED_HEADER_BYTES);
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): bytes, see above */
	memcpy(ad + 4 + SBX_SEALED_HEADER_BYTES, context, cl);
	*ret = ad;
	*ret_len = n;
	return 0;
}

static void put_be(unsigned char *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

int sbx_sealed_seal(const struct sbx_keyring *kr, const struct sbx_secret_set *set,
		    const char *context, char **ret_blob)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *pt = NULL;
	_cleanup_free_ unsigned char *bin = NULL, *ad = NULL;
	_cleanup_free_ char *text = NULL;
	const unsigned char *key = NULL;
	uint32_t id = sbx_keyring_primary_id(kr);
	size_t padded = 0, adlen = 0, binlen, tlen;
	unsigned long long ctlen = 0;
	int state = 0, r;

	r = sbx_sealed_context_check(context);
	if (r < 0)
		return r;
	r = sbx_keyring_key(kr, id, &key, &state);
	if (r < 0 || !key || state != SBX_KEY_PRIMARY)
		return -ENOKEY;
	r = plaintext_build(set, &pt);
	if (r < 0)
		return r;
	if (sodium_pad(&padded, sbx_secret_data(pt), sbx_secret_len(pt), PAD_BLOCK,
		       sbx_secret_len(pt) + PAD_BLOCK) < 0)
		return -E2BIG;
	sbx_secret_set_len(pt, padded);

	binlen = FIXED_BYTES + padded;
	bin = malloc(binlen);
	if (!bin)
		return -ENOMEM;
	bin[0] = SBX_SEALED_VERSION;
	put_be(bin + 1, id, 4);
	put_be(bin + 5, (uint64_t)time(NULL), 8);
	randombytes_buf(bin + SBX_SEALED_HEADER_BYTES, NONCE_BYTES);
	r = make_ad(bin, context, &ad, &adlen);
	if (r < 0)
		return r;
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(
		bin + SBX_SEALED_HEADER_BYTES + NONCE_BYTES, &ctlen, sbx_secret_data(pt), padded,
		ad, adlen, NULL, bin + SBX_SEALED_HEADER_BYTES, key) < 0)
		return -EIO;
	/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_ frees it */
	tlen = strlen(SBX_SEALED_PREFIX) + sbx_b64_encoded_len(binlen);
	text = malloc(tlen);
	if (!text)
		return -ENOMEM;
	memcpy(text, SBX_SEALED_PREFIX, strlen(SBX_SEALED_PREFIX));
	sbx_b64_encode(bin, binlen, text + strlen(SBX_SEALED_PREFIX),
		       tlen - strlen(SBX_SEALED_PREFIX));
	*ret_blob = TAKE_PTR(text);
	return 0;
}

/* Framing only: prefix, base64url, sizes, version. */
static int decode(const char *blob, unsigned char **ret, size_t *ret_len)
{
	_cleanup_free_ unsigned char *bin = NULL;
	size_t pl = strlen(SBX_SEALED_PREFIX), n, max, len = 0;

	if (!blob)
		return -EBADMSG;
	n = strnlen(blob, SBX_SEALED_TEXT_MAX + 1);
	if (n > SBX_SEALED_TEXT_MAX || n <= pl || memcmp(blob, SBX_SEALED_PREFIX, pl) != 0)
		return -EBADMSG;
	max = (n - pl) * 3 / 4 + 3;
	bin = malloc(max);
	if (!bin)
		return -ENOMEM;
	if (sbx_b64_decode(blob + pl, n - pl, bin, max, &len) < 0)
		return -EBADMSG;
	/* The padded plaintext is a whole number of 64-byte blocks, at least one. */
	if (len < FIXED_BYTES + PAD_BLOCK || (len - FIXED_BYTES) % PAD_BLOCK != 0 ||
	    bin[0] != SBX_SEALED_VERSION)
		return -EBADMSG;
	*ret = TAKE_PTR(bin);
	*ret_len = len;
	return 0;
}

int sbx_sealed_inspect(const char *blob, struct sbx_sealed_header *ret)
{
	_cleanup_free_ unsigned char *bin = NULL;
	size_t len = 0;
	int r = decode(blob, &bin, &len);

	if (r < 0)
		return r;
	ret->version = bin[0];
	ret->key_id = (uint32_t)get_be(bin + 1, 4);
	ret->sealed_at = get_be(bin + 5, 8);
	return 0;
}

int sbx_sealed_open(const struct sbx_keyring *kr, const char *blob, const char *context,
		    sbx_sealed_accept_cb accept, void *userdata, struct sbx_secret_set **ret)
{
	_cleanup_(sbx_secret_set_freep) struct sbx_secret_set *set = NULL;
	_cleanup_(sbx_secret_freep) struct sbx_secret *pt = NULL;
	_cleanup_free_ unsigned char *bin = NULL, *ad = NULL;
	const unsigned char *key = NULL;
	size_t len = 0, adlen = 0, unpadded = 0;
	unsigned long long ptlen = 0;
	uint32_t id;
	int state = 0, r;

	r = decode(blob, &bin, &len);
	if (r < 0)
		return r;
	id = (uint32_t)get_be(bin + 1, 4);
	r = sbx_keyring_key(kr, id, &key, &state);
	if (r < 0)
		return -ENOKEY;
	if (state == SBX_KEY_RETIRED || state == SBX_KEY_DESTROYED || !key)
		return -EKEYREVOKED;
	r = sbx_sealed_context_check(context);
	if (r < 0)
		return r;
	r = make_ad(bin, context, &ad, &adlen);
	if (r < 0)
		return r;
	r = sbx_secret_new(len - FIXED_BYTES, &pt);
	if (r < 0)
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_ frees it */
		return r;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		sbx_secret_data(pt), &ptlen, NULL, bin + SBX_SEALED_HEADER_BYTES + NONCE_BYTES,
		len - SBX_SEALED_HEADER_BYTES - NONCE_BYTES, ad, adlen,
		bin + SBX_SEALED_HEADER_BYTES, key) < 0)
		return -EKEYREJECTED;
	/* Authenticated from here on: a fault now is ours or the sealer's, never a forger's. */
	if (sodium_unpad(&unpadded, sbx_secret_data(pt), (size_t)ptlen, PAD_BLOCK) < 0)
		return -EBADMSG;
	r = sbx_sealed_parse_plaintext(sbx_secret_data(pt), unpadded, false, accept, userdata,
				       &set);
	if (r == -EACCES || r == -ENOMEM || r == -EPERM)
		return r == -EPERM ? -EBADMSG : r;
	if (r < 0)
		return -EBADMSG;
	sbx_secret_set_set_key_id(set, id);
	*ret = TAKE_PTR(set);
	return 0;
}

int sbx_sealed_rewrap(const struct sbx_keyring *kr, const char *blob, const char *context,
		      char **ret_blob, bool *ret_rewrapped)
{
	_cleanup_(sbx_secret_set_freep) struct sbx_secret_set *set = NULL;
	char *out;
	int r = sbx_sealed_open(kr, blob, context, NULL, NULL, &set);

	if (r < 0)
		return r;
	if (sbx_secret_set_key_id(set) == sbx_keyring_primary_id(kr)) {
		out = strdup(blob);
		if (!out)
			return -ENOMEM;
		*ret_blob = out;
		*ret_rewrapped = false;
		return 0;
	}
	r = sbx_sealed_seal(kr, set, context, ret_blob);
	if (r < 0)
		return r;
	*ret_rewrapped = true;
	return 0;
}

/* The arena: jansson's lexer and tables for a document of n bytes stay well inside this. */
static size_t arena_size(size_t n)
{
	return 16 * n + (size_t)64 * 1024;
}

int sbx_sealed_parse_plaintext(const unsigned char *json, size_t len, bool normalize,
			       sbx_sealed_accept_cb accept, void *userdata,
			       struct sbx_secret_set **ret)
{
	_cleanup_(sbx_secret_set_freep) struct sbx_secret_set *set = NULL;
	json_t *root, *v;
	json_error_t err;
	const char *k;
	int r;

	if (len > SBX_SEALED_PLAINTEXT_MAX)
		return -EBADMSG;
	r = sbx_secret_set_new(&set);
	if (r < 0)
		return r;
	r = sbx_secret_arena_begin(arena_size(len));
	if (r < 0)
		return r;
	root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &err);
	/* jansson quotes the input near a syntax error: that may be a secret. */
	sbx_erase(&err, sizeof(err));
	r = json_is_object(root) ? 0 : -EBADMSG; /* false for NULL too */
	json_object_foreach(r < 0 ? NULL : root, k, v)
	{
		char name[SBX_SECRET_NAME_MAX + 1];
		if (!json_is_string(v)) {
			r = -EBADMSG;
			break;
		}
		r = sbx_sealed_name_normalize(k, name);
		if (r >= 0 && !normalize && strcmp(name, k) != 0)
			r = -EINVAL;
		if (r >= 0 && accept && !accept(name, userdata))
			r = -EACCES;
		if (r >= 0)
			r = sbx_secret_set_add(set, name, json_string_value(v),
					       json_string_length(v));
		if (r < 0)
			break;
	}
	json_decref(root);
	sbx_secret_arena_end();
	if (r < 0)
		return r;
	*ret = TAKE_PTR(set);
	return 0;
}
