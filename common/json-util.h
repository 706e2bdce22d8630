/* SPDX-License-Identifier: MIT */
/*
 * JSON serialisation into ordinary malloc memory. jansson's own json_dumps() allocates
 * through whatever allocator is installed (keys/ installs a wiping one with a header), so its
 * result must never reach free() or realloc(); these helpers avoid that trap.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* obj serialised with flags, plus a trailing '\n' when newline; malloc'd, NUL-terminated.
 * NULL on failure. */
char *sbx_json_dump(const json_t *obj, size_t flags, bool newline);
