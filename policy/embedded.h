/* SPDX-License-Identifier: MIT */
/* The shipped JSON files, compiled in by scripts/embed.sh (see Makefile EMBED_SRCS). */
#pragma once

#include <stddef.h>

struct sbx_embedded_file {
	const char *path; /* source path, e.g. "policy/profiles/default.json" */
	const char *data; /* NUL-terminated */
	size_t size;
};

/* Terminated by an entry with path == NULL. */
extern const struct sbx_embedded_file sbx_embedded_files[];

/* The embedded file at path, or NULL. */
const struct sbx_embedded_file *sbx_embedded_find(const char *path);
