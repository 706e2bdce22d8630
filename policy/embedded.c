/* SPDX-License-Identifier: MIT */
#include "policy/embedded.h"

#include <string.h>

const struct sbx_embedded_file *sbx_embedded_find(const char *path)
{
	for (const struct sbx_embedded_file *f = sbx_embedded_files; f->path; f++)
		if (strcmp(f->path, path) == 0)
			return f;
	return NULL;
}
