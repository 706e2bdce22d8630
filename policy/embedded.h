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

/* Where the file for NAME (already validated) is read from: DIR/NAME.json when it exists or is
 * there but unreadable (that file then, never a silent fallback; dir may be NULL), else the
 * shipped "policy/<sub>NAME.json" compiled in (sub is "" or "profiles/"). On success ret_path
 * holds the file's path and *ret_file is NULL, or ret_path holds the label
 * "<embedded>/<sub>NAME.json" and *ret_file the embedded file. Returns 0, -ENAMETOOLONG (dir),
 * or -ENOENT when neither exists. */
int sbx_embedded_locate(const char *name, const char *dir, const char *sub, char *ret_path,
			size_t len, const struct sbx_embedded_file **ret_file);
