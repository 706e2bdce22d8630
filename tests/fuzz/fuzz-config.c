/* SPDX-License-Identifier: MIT */
/* libFuzzer: sbxd's configuration file (supervisor/config.c, `sbxd --config FILE`), parsed
 * whole, with every problem it reports. Messages are silenced: the fuzzer prints enough. */
#include <stdint.h>
#include <stdlib.h>

#include "common/log.h"
#include "supervisor/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_config *cfg = NULL;

	sbx_log_set_max_level(LOG_CRIT);
	if (sbx_config_load_data((const char *)data, size, "fuzz.json", &cfg) == 0)
		sbx_config_free(cfg);
	return 0;
}
