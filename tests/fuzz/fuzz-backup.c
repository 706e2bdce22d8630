/* SPDX-License-Identifier: MIT */
/* libFuzzer target for backup files. Inputs asking for Argon2id costs above the minimum are
 * skipped (they are bounded in backup.c, but each try would take the fuzzer seconds). */
#include <stdint.h>

#include "keys/backup.h"
#include "tests/fuzz/fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sbx_secret *pass;
	struct sbx_keyring *kr = NULL;
	unsigned char bin[64];
	size_t pl = strlen(SBX_BACKUP_PREFIX), n = 0;
	char *text, err[SBX_KEYRING_ERR_MAX];

	(void)fuzz_keyring();
	if (!pass) {
		if (sbx_secret_new(16, &pass) < 0)
			abort();
		memcpy(sbx_secret_data(pass), "fuzz passphrase!", 16);
	}
	if (size > 64 * 1024)
		return 0;
	/* Peek at the costs: 2 ops, 8 KiB at most. */
	if (size > pl + 16 &&
	    sbx_b64_decode((const char *)data + pl, 16, bin, sizeof(bin), &n) == 0 && n >= 10 &&
	    (bin[2] | bin[3] | bin[4] | bin[6] | bin[7] || bin[5] > 2 || bin[8] > 0 || bin[9] > 8))
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (sbx_backup_read(text, pass, &kr, err, sizeof(err)) < 0 && kr)
		abort();
	sbx_keyring_free(kr);
	free(text);
	return 0;
}
