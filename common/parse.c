/* SPDX-License-Identifier: MIT */
#include "common/parse.h"

#include <errno.h>
#include <string.h>

static int parse_prefix(const char **p, uint64_t *ret)
{
	uint64_t v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*p = s;
	*ret = v;
	return 0;
}

static int mul(uint64_t v, uint64_t m, uint64_t *ret)
{
	if (m && v > UINT64_MAX / m)
		return -ERANGE;
	*ret = v * m;
	return 0;
}

int sbx_parse_u64(const char *s, uint64_t *ret)
{
	uint64_t v;
	int r = parse_prefix(&s, &v);

	if (r < 0)
		return r;
	if (*s)
		return -EINVAL;
	*ret = v;
	return 0;
}

int sbx_parse_size(const char *s, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
	    {"", 1},	       {"B", 1},
	    {"K", 1ULL << 10}, {"KiB", 1ULL << 10},
	    {"M", 1ULL << 20}, {"MiB", 1ULL << 20},
	    {"G", 1ULL << 30}, {"GiB", 1ULL << 30},
	    {"T", 1ULL << 40}, {"TiB", 1ULL << 40},
	};
	uint64_t v;
	int r = parse_prefix(&s, &v);

	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(s, units[i].suffix) == 0)
			return mul(v, units[i].mult, ret);
	return -EINVAL;
}

int sbx_parse_duration_ms(const char *s, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
	    {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"min", 60000}, {"h", 3600000},
	};
	uint64_t v;
	int r = parse_prefix(&s, &v);

	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(s, units[i].suffix) == 0)
			return mul(v, units[i].mult, ret);
	return -EINVAL;
}
