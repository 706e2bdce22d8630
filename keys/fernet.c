/* SPDX-License-Identifier: MIT */
/*
 * Fernet decoding for the migration from the old app (spec in fernet.h). The only file that
 * includes OpenSSL: AES-128-CBC and HMAC-SHA256 come from libcrypto, never from code of our
 * own. Order of checks follows the spec and the Python reference: base64, length, version,
 * then the HMAC (compared with CRYPTO_memcmp, constant time) before any decryption, so a
 * forged token never reaches the CBC padding check (no padding oracle). The plaintext is
 * written straight into locked memory; the key halves live only in the locked key buffer.
 */
#include "keys/fernet.h"

#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/internal.h"

#define VERSION_BYTE 0x80
#define HDR_BYTES    25U /* version(1) | timestamp(8) | IV(16) */
#define MAC_BYTES    32U
#define BLOCK	     16U
#define MAX_SKEW     60
#define TOKEN_MAX    (4UL * SBX_SEALED_PLAINTEXT_MAX)

static const char *const names[_SBX_FERNET_MAX] = {
    [SBX_FERNET_OK] = "ok",
    [SBX_FERNET_BAD_BASE64] = "bad_base64",
    [SBX_FERNET_MALFORMED] = "malformed",
    [SBX_FERNET_BAD_VERSION] = "bad_version",
    [SBX_FERNET_BAD_HMAC] = "bad_hmac",
    [SBX_FERNET_BAD_PADDING] = "bad_padding",
    [SBX_FERNET_EXPIRED] = "expired",
    [SBX_FERNET_BAD_JSON] = "bad_json",
    [SBX_FERNET_BAD_NAME] = "bad_name",
    [SBX_FERNET_BAD_CONTEXT] = "bad_context",
};

const char *sbx_fernet_error_name(enum sbx_fernet_error e)
{
	return (unsigned)e < _SBX_FERNET_MAX ? names[e] : "internal";
}

/* Python's urlsafe_b64encode pads with '='; tolerate tokens whose padding was stripped. */
static int b64url_any(const char *in, size_t n, unsigned char *out, size_t max, size_t *ret)
{
	const char *end = NULL;
	int variant = memchr(in, '=', n) ? sodium_base64_VARIANT_URLSAFE
					 : sodium_base64_VARIANT_URLSAFE_NO_PADDING;

	if (sodium_base642bin(out, max, in, n, NULL, ret, &end, variant) < 0 || end != in + n)
		return -EBADMSG;
	return 0;
}

int sbx_fernet_key_read_fd(int fd, struct sbx_secret **ret)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *text = NULL;
	_cleanup_(sbx_secret_freep) struct sbx_secret *key = NULL;
	const char *t;
	size_t n, len = 0;
	int r;

	r = sbx_secret_read_fd(fd, 4096, &text);
	if (r < 0)
		return r;
	t = (const char *)sbx_secret_data(text);
	n = sbx_secret_len(text);
	while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' '))
		n--;
	r = sbx_secret_new(SBX_KEY_BYTES + 2, &key);
	if (r < 0)
		return r;
	if (b64url_any(t, n, sbx_secret_data(key), SBX_KEY_BYTES + 2, &len) < 0 ||
	    len != SBX_KEY_BYTES)
		return -EINVAL;
	sbx_secret_truncate(key, SBX_KEY_BYTES);
	*ret = TAKE_PTR(key);
	return 0;
}

static int fault(enum sbx_fernet_error e, enum sbx_fernet_error *reterr)
{
	*reterr = e;
	return -EBADMSG;
}

/* AES-128-CBC with PKCS#7 into out (at least ctlen bytes). */
static int cbc_decrypt(const unsigned char *key, const unsigned char *iv, const unsigned char *ct,
		       size_t ctlen, unsigned char *out, size_t *ret_len)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int a = 0, b = 0, ok;

	if (!c)
		return -ENOMEM;
	ok = EVP_DecryptInit_ex(c, EVP_aes_128_cbc(), NULL, key, iv) == 1 &&
	     EVP_DecryptUpdate(c, out, &a, ct, (int)ctlen) == 1 &&
	     EVP_DecryptFinal_ex(c, out + a, &b) == 1;
	EVP_CIPHER_CTX_free(c); /* cleanses the key schedule */
	if (!ok)
		return -EBADMSG;
	*ret_len = (size_t)a + (size_t)b;
	return 0;
}

int sbx_fernet_decrypt(const struct sbx_secret *key, const char *token, size_t len,
		       const struct sbx_fernet_ttl *check, struct sbx_secret **ret,
		       enum sbx_fernet_error *reterr)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *pt = NULL;
	_cleanup_free_ unsigned char *bin = NULL;
	const unsigned char *k = sbx_secret_data(key);
	unsigned char mac[MAC_BYTES];
	unsigned int maclen = 0;
	size_t n = 0, ptlen = 0, ctlen;
	int64_t ts;
	int r;

	*reterr = SBX_FERNET_OK;
	if (sbx_secret_len(key) != SBX_KEY_BYTES)
		return -EINVAL;
	if (len == 0 || len > TOKEN_MAX)
		return fault(len ? SBX_FERNET_MALFORMED : SBX_FERNET_BAD_BASE64, reterr);
	bin = malloc(len);
	if (!bin)
		return -ENOMEM;
	if (b64url_any(token, len, bin, len, &n) < 0)
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_ frees it */
		return fault(SBX_FERNET_BAD_BASE64, reterr);
	if (n < 1)
		return fault(SBX_FERNET_MALFORMED, reterr);
	if (bin[0] != VERSION_BYTE)
		return fault(SBX_FERNET_BAD_VERSION, reterr);
	if (n < HDR_BYTES + BLOCK + MAC_BYTES || (n - HDR_BYTES - MAC_BYTES) % BLOCK != 0)
		return fault(SBX_FERNET_MALFORMED, reterr);
	ctlen = n - HDR_BYTES - MAC_BYTES;
	if (!HMAC(EVP_sha256(), k, 16, bin, n - MAC_BYTES, mac, &maclen) || maclen != MAC_BYTES)
		return -EIO;
	if (CRYPTO_memcmp(mac, bin + n - MAC_BYTES, MAC_BYTES) != 0)
		return fault(SBX_FERNET_BAD_HMAC, reterr);
	/* Authentic from here: the timestamp and padding checks leak nothing to a forger. */
	ts = 0;
	for (size_t i = 1; i < 9; i++)
		ts = (int64_t)(((uint64_t)ts << 8) | bin[i]);
	if (check && check->ttl > 0 && (ts + check->ttl < check->now || check->now + MAX_SKEW < ts))
		return fault(SBX_FERNET_EXPIRED, reterr);
	r = sbx_secret_new(ctlen, &pt);
	if (r < 0)
		return r;
	r = cbc_decrypt(k + 16, bin + 9, bin + HDR_BYTES, ctlen, sbx_secret_data(pt), &ptlen);
	if (r == -EBADMSG)
		return fault(SBX_FERNET_BAD_PADDING, reterr);
	if (r < 0)
		return r;
	sbx_secret_truncate(pt, ptlen);
	*ret = TAKE_PTR(pt);
	return 0;
}

int sbx_fernet_reseal(const struct sbx_secret *key, const struct sbx_keyring *kr, const char *token,
		      const char *context, char **ret_blob, enum sbx_fernet_error *reterr)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *pt = NULL;
	_cleanup_(sbx_secret_set_freep) struct sbx_secret_set *set = NULL;
	int r;

	*reterr = SBX_FERNET_OK;
	if (sbx_sealed_context_check(context) < 0)
		return fault(SBX_FERNET_BAD_CONTEXT, reterr);
	r = sbx_fernet_decrypt(key, token, strlen(token), NULL, &pt, reterr);
	if (r < 0)
		return r;
	r = sbx_sealed_parse_plaintext(sbx_secret_data(pt), sbx_secret_len(pt), true, NULL, NULL,
				       &set);
	if (r == -EBADMSG)
		return fault(SBX_FERNET_BAD_JSON, reterr);
	if (r == -EINVAL || r == -EPERM || r == -EEXIST)
		return fault(SBX_FERNET_BAD_NAME, reterr);
	if (r < 0)
		return r;
	return sbx_sealed_seal(kr, set, context, ret_blob);
}
