/* SPDX-License-Identifier: MIT */
/* libFuzzer: seccomp profile files (policy/profile.c). */
#include <stdint.h>
#include <stdlib.h>

#include "policy/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_profile *p = NULL;
	struct sbx_diags diags = {0};

	if (sbx_profile_load_data((const char *)data, size, "fuzz.json", "fuzz", &p, &diags) == 0)
		sbx_profile_free(p);
	sbx_diags_clear(&diags);
	return 0;
}
