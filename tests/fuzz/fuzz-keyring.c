/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the keyring text parser and validator. */
#include <stdint.h>

#include "tests/fuzz/fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_keyring *kr = NULL;
	struct sbx_secret *s = NULL;
	char err[SBX_KEYRING_ERR_MAX];

	(void)fuzz_keyring(); /* initialises secret memory */
	if (size > SBX_KEYRING_MAX_SIZE || sbx_secret_new(size, &s) < 0)
		return 0;
	memcpy(sbx_secret_data(s), data, size);
	if (sbx_keyring_parse(s, &kr, err, sizeof(err)) == 0) {
		struct sbx_secret *out = NULL;
		/* Whatever parses must serialise and be valid again. */
		if (sbx_keyring_validate(kr, err, sizeof(err)) < 0 ||
		    sbx_keyring_serialize(kr, &out) < 0)
			abort();
		sbx_secret_free(out);
	} else if (kr) {
		abort();
	}
	sbx_keyring_free(kr);
	sbx_secret_free(s);
	return 0;
}
