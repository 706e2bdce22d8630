/* SPDX-License-Identifier: MIT */
/* libFuzzer target for Fernet token decoding, under the spec's published test key. */
#include <stdint.h>
#include <unistd.h>

#include "keys/fernet.h"
#include "tests/fuzz/fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sbx_secret *spec_key(void)
{
	static struct sbx_secret *k;
	static const char b64[] = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
	int p[2];

	if (k)
		return k;
	if (pipe(p) < 0 || write(p[1], b64, sizeof(b64) - 1) != (ssize_t)(sizeof(b64) - 1))
		abort();
	(void)close(p[1]);
	if (sbx_fernet_key_read_fd(p[0], &k) < 0)
		abort();
	(void)close(p[0]);
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sbx_fernet_ttl check = {.now = 499162800, .ttl = 60};
	struct sbx_keyring *kr = fuzz_keyring();
	struct sbx_secret *pt = NULL;
	enum sbx_fernet_error e;
	char *tok, *blob = NULL;

	if (size > 64 * 1024)
		return 0;
	tok = malloc(size + 1);
	if (!tok)
		return 0;
	memcpy(tok, data, size);
	tok[size] = '\0';
	if (sbx_fernet_decrypt(spec_key(), tok, size, &check, &pt, &e) == 0 && e != SBX_FERNET_OK)
		abort();
	sbx_secret_free(pt);
	if (sbx_fernet_reseal(spec_key(), kr, tok, "fuzz", &blob, &e) < 0 && blob)
		abort();
	free(blob);
	free(tok);
	return 0;
}
