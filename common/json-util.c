/* SPDX-License-Identifier: MIT */
#include "common/json-util.h"

#include <stdbool.h>
#include <stdlib.h>

char *sbx_json_dump(const json_t *obj, size_t flags, bool newline)
{
	size_t n = json_dumpb(obj, NULL, 0, flags);
	char *s;

	if (n == 0)
		return NULL;
	s = malloc(n + 2);
	if (!s)
		return NULL;
	if (json_dumpb(obj, s, n, flags) != n) {
		free(s);
		return NULL;
	}
	if (newline)
		s[n++] = '\n';
	s[n] = '\0';
	return s;
}
