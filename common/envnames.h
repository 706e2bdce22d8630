/* SPDX-License-Identifier: MIT */
/* The environment names a secret may never take (common/envnames.c has the list and why). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Is name reserved (an exact name of the list, or LD_*, DYLD_*, MALLOC_*, LC_*, SBX_*, XDG_*)? */
bool sbx_envnames_reserved(const char *name);
/* The i-th exact reserved name, NULL past the end (for checks of "*_SUFFIX" patterns). */
const char *sbx_envnames_reserved_at(size_t i);
