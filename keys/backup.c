/* SPDX-License-Identifier: MIT */
/*
 * Keyring backups (format in backup.h). The passphrase, the derived key and the keyring text
 * stay in locked memory; the file holds only salt, nonce, costs and ciphertext. Costs are
 * read from the file (so they can grow over the years) but bounded, so a crafted file cannot
 * make restore allocate gigabytes or spin for hours.
 */
#include "keys/backup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/internal.h"

#define VERSION	  1U
#define HDR_BYTES 26U
#define SALT_OFF  10U
#define NONCE_OFF (SALT_OFF + crypto_pwhash_SALTBYTES)
#define CT_OFF	  (NONCE_OFF + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES

_Static_assert(NONCE_OFF == HDR_BYTES, "backup header layout");

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool costs_ok(uint32_t ops, size_t mem)
{
	return ops >= crypto_pwhash_OPSLIMIT_MIN && ops <= SBX_BACKUP_OPS_MAX &&
	       mem >= crypto_pwhash_MEMLIMIT_MIN && mem <= SBX_BACKUP_MEM_MAX;
}

/* prefix | header, the associated data. */
static void make_ad(const unsigned char *hdr,
		    unsigned char ad[sizeof(SBX_BACKUP_PREFIX) - 1 + HDR_BYTES])
{
	memcpy(ad, SBX_BACKUP_PREFIX, sizeof(SBX_BACKUP_PREFIX) - 1);
	memcpy(ad + sizeof(SBX_BACKUP_PREFIX) - 1, hdr, HDR_BYTES);
}

static int derive(const struct sbx_secret *pass, const unsigned char *hdr, struct sbx_secret **ret)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *k = NULL;
	int r = sbx_secret_new(crypto_aead_xchacha20poly1305_ietf_KEYBYTES, &k);

	if (r < 0)
		return r;
	if (crypto_pwhash(sbx_secret_data(k), sbx_secret_len(k),
			  (const char *)sbx_secret_data(pass), sbx_secret_len(pass), hdr + SALT_OFF,
			  get32(hdr + 2), (size_t)get32(hdr + 6) * 1024U,
			  crypto_pwhash_ALG_ARGON2ID13) < 0)
		return -ENOMEM; /* libsodium fails here only when it cannot get the memory */
	*ret = TAKE_PTR(k);
	return 0;
}

int sbx_backup_write(const struct sbx_keyring *kr, const struct sbx_secret *pass, uint32_t opslimit,
		     size_t memlimit, char **ret_text)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *text = NULL;
	_cleanup_(sbx_secret_freep) struct sbx_secret *key = NULL;
	_cleanup_free_ unsigned char *bin = NULL;
	unsigned char ad[sizeof(SBX_BACKUP_PREFIX) - 1 + HDR_BYTES];
	unsigned long long ctlen = 0;
	size_t binlen, pl = strlen(SBX_BACKUP_PREFIX), tlen;
	char *out;
	int r;

	if (!costs_ok(opslimit, memlimit) || memlimit % 1024 != 0)
		return -ERANGE;
	r = sbx_keyring_serialize(kr, &text);
	if (r < 0)
		return r;
	binlen = CT_OFF + sbx_secret_len(text) + TAG_BYTES;
	bin = malloc(binlen);
	if (!bin)
		return -ENOMEM;
	bin[0] = VERSION;
	bin[1] = crypto_pwhash_ALG_ARGON2ID13;
	put32(bin + 2, opslimit);
	put32(bin + 6, (uint32_t)(memlimit / 1024U));
	randombytes_buf(bin + SALT_OFF, crypto_pwhash_SALTBYTES);
	randombytes_buf(bin + NONCE_OFF, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	r = derive(pass, bin, &key);
	if (r < 0)
		return r;
	make_ad(bin, ad);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(bin + CT_OFF, &ctlen, sbx_secret_data(text),
						       sbx_secret_len(text), ad, sizeof(ad), NULL,
						       bin + NONCE_OFF, sbx_secret_data(key)) < 0)
		return -EIO;
	tlen = pl + sbx_b64_encoded_len(binlen) + 1;
	out = malloc(tlen);
	if (!out)
		return -ENOMEM;
	memcpy(out, SBX_BACKUP_PREFIX, pl);
	sbx_b64_encode(bin, binlen, out + pl, tlen - pl - 1);
	/* The encoded length counts its NUL: put "\n" there and the NUL after it. */
	memcpy(out + tlen - 2, "\n", 2);
	*ret_text = out;
	return 0;
}

int sbx_backup_read(const char *text, const struct sbx_secret *pass, struct sbx_keyring **ret,
		    char *reterr, size_t errlen)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *plain = NULL;
	_cleanup_(sbx_secret_freep) struct sbx_secret *key = NULL;
	_cleanup_free_ unsigned char *bin = NULL;
	unsigned char ad[sizeof(SBX_BACKUP_PREFIX) - 1 + HDR_BYTES];
	unsigned long long ptlen = 0;
	size_t pl = strlen(SBX_BACKUP_PREFIX), n = strlen(text), len = 0;
	int r;

	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	if (n <= pl || memcmp(text, SBX_BACKUP_PREFIX, pl) != 0 ||
	    n > pl + 2 * SBX_KEYRING_MAX_SIZE)
		return sbx_keyring_fail(reterr, errlen, -EBADMSG, "not an sbx keyring backup");
	bin = malloc(n);
	if (!bin)
		return -ENOMEM;
	if (sbx_b64_decode(text + pl, n - pl, bin, n, &len) < 0 || len < CT_OFF + TAG_BYTES ||
	    bin[0] != VERSION || bin[1] != crypto_pwhash_ALG_ARGON2ID13)
		return sbx_keyring_fail(reterr, errlen, -EBADMSG, "malformed backup file");
	if (!costs_ok(get32(bin + 2), (size_t)get32(bin + 6) * 1024U))
		return sbx_keyring_fail(reterr, errlen, -ERANGE,
					"backup asks for Argon2id costs beyond our bounds");
	r = derive(pass, bin, &key);
	if (r < 0)
		return r;
	r = sbx_secret_new(len - CT_OFF - TAG_BYTES, &plain);
	if (r < 0)
		return r;
	make_ad(bin, ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(sbx_secret_data(plain), &ptlen, NULL,
						       bin + CT_OFF, len - CT_OFF, ad, sizeof(ad),
						       bin + NONCE_OFF, sbx_secret_data(key)) < 0)
		return sbx_keyring_fail(reterr, errlen, -EKEYREJECTED,
					"wrong passphrase, or the backup is damaged");
	return sbx_keyring_parse(plain, ret, reterr, errlen);
}
