/* SPDX-License-Identifier: MIT */
/* Environment names with a meaning of their own (common/envnames.c has the table and why). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define SBX_ENVNAME_CODE   (1u << 0) /* changes what code runs or where data goes */
#define SBX_ENVNAME_PREFIX (1u << 1) /* the entry stands for every name starting with it */

/* May a secret not take name (any entry: an exact name, or LD_*, LC_*, SBX_*, XDG_*, ...)? */
bool sbx_envnames_reserved(const char *name);
/* May a request never set name (an entry marked SBX_ENVNAME_CODE)? */
bool sbx_envnames_forbidden(const char *name);
/* The i-th entry of the table and its SBX_ENVNAME_* flags; NULL past the end (for checks of
 * name patterns). */
const char *sbx_envnames_at(size_t i, unsigned *ret_flags);
