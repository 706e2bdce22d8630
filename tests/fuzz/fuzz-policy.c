/* SPDX-License-Identifier: MIT */
/* libFuzzer: policy files (policy/policy.c and its locator), every diagnostic formatted. */
#include <stdint.h>
#include <stdlib.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_policy *p = NULL;
	struct sbx_diags diags = {0};
	char buf[1024];

	if (sbx_policy_load_data((const char *)data, size, "fuzz.json", "fuzz", &p, &diags) == 0)
		sbx_policy_free(p);
	for (size_t i = 0; i < diags.n; i++)
		(void)sbx_diag_format(&diags.v[i], buf, sizeof(buf));
	sbx_diags_clear(&diags);
	return 0;
}
