/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the blob parser and the plaintext parser. The first byte picks:
 * 0 open the rest as a blob (context "fuzz"), 1 parse the rest as decrypted plaintext
 * JSON, 2 inspect the rest, 3 parse it as NAME=VALUE lines. No input may crash, leak, or
 * return a half-filled set. */
#include <stdint.h>

#include "keys/sealed.h"
#include "tests/fuzz/fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_keyring *kr = fuzz_keyring();
	struct sbx_secret_set *set = NULL;
	struct sbx_sealed_header h;
	char *text;
	int r = -1;

	if (size < 1 || size > 256 * 1024)
		return 0;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0:
		r = sbx_sealed_open(kr, text, "fuzz", NULL, NULL, &set);
		break;
	case 1:
		r = sbx_sealed_parse_plaintext(data + 1, size - 1, data[0] & 4, NULL, NULL, &set);
		break;
	case 2:
		(void)sbx_sealed_inspect(text, &h);
		break;
	case 3: {
		struct sbx_secret *s = NULL;
		size_t line = 0;
		if (sbx_secret_new(size - 1, &s) == 0) {
			memcpy(sbx_secret_data(s), data + 1, size - 1);
			r = sbx_sealed_parse_env_lines(s, &set, &line);
			sbx_secret_free(s);
		}
		break;
	}
	}
	if (r < 0 && set)
		abort(); /* a failure must never hand out a set */
	if (set) {
		char *const *envp = NULL;
		if (sbx_secret_set_envp(set, &envp) < 0 || envp[sbx_secret_set_count(set)] != NULL)
			abort();
	}
	sbx_secret_set_free(set);
	free(text);
	return 0;
}
