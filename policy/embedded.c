/* SPDX-License-Identifier: MIT */
#include "policy/embedded.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const struct sbx_embedded_file *sbx_embedded_find(const char *path)
{
	for (const struct sbx_embedded_file *f = sbx_embedded_files; f->path; f++)
		if (strcmp(f->path, path) == 0)
			return f;
	return NULL;
}

int sbx_embedded_locate(const char *name, const char *dir, const char *sub, char *ret_path,
			size_t len, const struct sbx_embedded_file **ret_file)
{
	char src[4096];
	int k;

	*ret_file = NULL;
	if (dir) {
		k = snprintf(ret_path, len, "%s/%s.json", dir, name);
		if (k < 0 || (size_t)k >= len)
			return -ENAMETOOLONG;
		if (access(ret_path, F_OK) == 0 || errno != ENOENT)
			return 0;
	}
	(void)snprintf(src, sizeof(src), "policy/%s%s.json", sub, name);
	*ret_file = sbx_embedded_find(src);
	if (!*ret_file)
		return -ENOENT;
	(void)snprintf(ret_path, len, "<embedded>/%s%s.json", sub, name);
	return 0;
}
