/* SPDX-License-Identifier: MIT */
/* Shared by the keys/ fuzz targets: a fixed, deterministic keyring (keys of repeated bytes,
 * obviously not secret) so that crashes reproduce. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/internal.h"
#include "keys/keyring.h"

static inline void fuzz_key_line(char *out, size_t len, const char *prefix, unsigned char fill)
{
	unsigned char key[SBX_KEY_BYTES];
	char fp[SBX_KEY_FP_HEX + 1], b64[64];

	memset(key, fill, sizeof(key));
	sbx_keyring_fingerprint(key, fp);
	sbx_b64_encode(key, sizeof(key), b64, sizeof(b64));
	(void)snprintf(out, len, "%s %s %s\n", prefix, fp, b64);
}

/* Text of a keyring: key 1 active, key 2 primary, key 3 retired, next id 5. */
static inline size_t fuzz_keyring_text(char *buf, size_t len)
{
	char a[160], k1[160], k2[160], k3[160];

	fuzz_key_line(a, sizeof(a), "audit 0", 0xa0);
	fuzz_key_line(k1, sizeof(k1), "key 1 active 0 0", 0x01);
	fuzz_key_line(k2, sizeof(k2), "key 2 primary 0 0", 0x02);
	fuzz_key_line(k3, sizeof(k3), "key 3 retired 0 0", 0x03);
	return (size_t)snprintf(buf, len, "sbx-keyring 1\nnext-id 5\n%s%s%s%s", a, k1, k2, k3);
}

static inline struct sbx_keyring *fuzz_keyring(void)
{
	static struct sbx_keyring *kr;
	struct sbx_secret *s = NULL;
	char text[1024];
	size_t n;

	if (kr)
		return kr;
	if (sbx_secret_init(false) < 0)
		abort();
	n = fuzz_keyring_text(text, sizeof(text));
	if (sbx_secret_new(n, &s) < 0)
		abort();
	memcpy(sbx_secret_data(s), text, n);
	if (sbx_keyring_parse(s, &kr, NULL, 0) < 0)
		abort();
	sbx_secret_free(s);
	return kr;
}
