/* SPDX-License-Identifier: MIT */
/* Operator-given numbers, sizes and durations (common/parse.c): strict, no sign, no junk,
 * no overflow; the output is untouched on failure. */
#include <errno.h>
#include <stdint.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "common/parse.h"

TestSuite(parse, .timeout = 10);

Test(parse, u64)
{
	uint64_t v = 7;

	cr_assert(eq(int, sbx_parse_u64("0", &v), 0));
	cr_assert(eq(u64, v, 0));
	cr_assert(eq(int, sbx_parse_u64("18446744073709551615", &v), 0));
	cr_assert(eq(u64, v, UINT64_MAX));
	v = 7;
	cr_assert(eq(int, sbx_parse_u64("18446744073709551616", &v), -ERANGE));
	cr_assert(eq(int, sbx_parse_u64("", &v), -EINVAL));
	cr_assert(eq(int, sbx_parse_u64("-1", &v), -EINVAL));
	cr_assert(eq(int, sbx_parse_u64("+1", &v), -EINVAL));
	cr_assert(eq(int, sbx_parse_u64(" 1", &v), -EINVAL));
	cr_assert(eq(int, sbx_parse_u64("1 ", &v), -EINVAL));
	cr_assert(eq(int, sbx_parse_u64("0x10", &v), -EINVAL));
	cr_assert(eq(u64, v, 7), "changed on failure");
}

Test(parse, size)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
	    {"0", 0},
	    {"4096", 4096},
	    {"10B", 10},
	    {"512K", 512 << 10},
	    {"512KiB", 512 << 10},
	    {"64M", 64 << 20},
	    {"64MiB", 64 << 20},
	    {"1G", 1ULL << 30},
	    {"2GiB", 2ULL << 30},
	    {"3T", 3ULL << 40},
	};
	static const char *const bad[] = {"",	 "M",	"64m", "64 M", "1.5G", "-1M",
					  "1MB", "1Gi", "1P",  "G1",   "1KK"};
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert(eq(int, sbx_parse_size(ok[i].s, &v), 0), "%s", ok[i].s);
		cr_assert(eq(u64, v, ok[i].v), "%s", ok[i].s);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		cr_assert(eq(int, sbx_parse_size(bad[i], &v), -EINVAL), "'%s' accepted", bad[i]);
		cr_assert(eq(u64, v, 42));
	}
	cr_assert(eq(int, sbx_parse_size("16777216T", &v), -ERANGE));
	cr_assert(eq(int, sbx_parse_size("16777215T", &v), 0));
}

Test(parse, duration)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} ok[] = {
	    {"0", 0},	    {"10", 10000},    {"250ms", 250},  {"30s", 30000},
	    {"5m", 300000}, {"5min", 300000}, {"1h", 3600000}, {"0ms", 0},
	};
	static const char *const bad[] = {"", "s", "1.5s", "1d", "1 s", "-1s", "1S", "1hm"};
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert(eq(int, sbx_parse_duration_ms(ok[i].s, &v), 0), "%s", ok[i].s);
		cr_assert(eq(u64, v, ok[i].ms), "%s", ok[i].s);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		cr_assert(eq(int, sbx_parse_duration_ms(bad[i], &v), -EINVAL), "'%s' accepted",
			  bad[i]);
		cr_assert(eq(u64, v, 42));
	}
	cr_assert(eq(int, sbx_parse_duration_ms("5124095576030432h", &v), -ERANGE));
}
