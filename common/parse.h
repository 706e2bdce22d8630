/* SPDX-License-Identifier: MIT */
/* Parsers for numbers and sizes given by operators. Strict: no sign, no junk, no overflow. */
#pragma once

#include <stdint.h>

/* "123" -> 123. -EINVAL on junk, -ERANGE on overflow. */
int sbx_parse_u64(const char *s, uint64_t *ret);
/* "64M", "1G", "512K", "4096" (binary units, optional "iB"/"B") -> bytes. */
int sbx_parse_size(const char *s, uint64_t *ret);
/* "30s", "500ms", "5m", "1h", "10" (seconds) -> milliseconds. */
int sbx_parse_duration_ms(const char *s, uint64_t *ret);
