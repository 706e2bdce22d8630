/* SPDX-License-Identifier: MIT */
/*
 * The stable error codes of the wire protocol and the CLI (DESIGN.md "Wire protocol").
 * Their names never change once released; clients match on them.
 */
#pragma once

#include <stddef.h>

#include "common/macro.h"

enum sbx_error {
	SBX_OK = 0,
	SBX_E_BAD_REQUEST,
	SBX_E_TOO_LARGE,
	SBX_E_UNKNOWN_OP,
	SBX_E_UNAUTHORIZED,
	SBX_E_POLICY_UNKNOWN,
	SBX_E_POLICY_VIOLATION,
	SBX_E_SECRET_NOT_ALLOWED,
	SBX_E_SEALED_MALFORMED,
	SBX_E_KEY_UNKNOWN,
	SBX_E_KEY_RETIRED,
	SBX_E_DECRYPT_FAILED,
	SBX_E_BUSY,
	SBX_E_AUDIT_UNAVAILABLE,
	SBX_E_SANDBOX_SETUP_FAILED,
	SBX_E_INTERNAL,
	_SBX_E_MAX,
};

/* The wire name ("decrypt_failed"); "internal" for an out-of-range value. */
const char *sbx_error_name(enum sbx_error e);
/* The code for a wire name, or -EINVAL. */
int sbx_error_from_name(const char *name);

/* Formats a message into reterr (when given, errlen > 0) and returns r: a failure that also
 * says why, in one statement ("return sbx_error_set(reterr, len, -EINVAL, "...", ...)"). */
int sbx_error_set(char *reterr, size_t errlen, int r, const char *fmt, ...) _printf_(4, 5);
