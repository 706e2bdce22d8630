/* SPDX-License-Identifier: MIT */
/* The only table of wire error names. */
#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"

static const char *const names[_SBX_E_MAX] = {
    [SBX_OK] = "ok",
    [SBX_E_BAD_REQUEST] = "bad_request",
    [SBX_E_TOO_LARGE] = "too_large",
    [SBX_E_UNKNOWN_OP] = "unknown_op",
    [SBX_E_UNAUTHORIZED] = "unauthorized",
    [SBX_E_POLICY_UNKNOWN] = "policy_unknown",
    [SBX_E_POLICY_VIOLATION] = "policy_violation",
    [SBX_E_SECRET_NOT_ALLOWED] = "secret_not_allowed",
    [SBX_E_SEALED_MALFORMED] = "sealed_malformed",
    [SBX_E_KEY_UNKNOWN] = "key_unknown",
    [SBX_E_KEY_RETIRED] = "key_retired",
    [SBX_E_DECRYPT_FAILED] = "decrypt_failed",
    [SBX_E_BUSY] = "busy",
    [SBX_E_AUDIT_UNAVAILABLE] = "audit_unavailable",
    [SBX_E_SANDBOX_SETUP_FAILED] = "sandbox_setup_failed",
    [SBX_E_INTERNAL] = "internal",
};

const char *sbx_error_name(enum sbx_error e)
{
	if ((unsigned)e >= ARRAY_SIZE(names))
		return "internal";
	return names[e];
}

int sbx_error_from_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return -EINVAL;
}

int sbx_error_set(char *reterr, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (reterr && errlen > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(reterr, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}
