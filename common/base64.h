/* SPDX-License-Identifier: MIT */
/* Standard base64 (RFC 4648 §4, with padding) for the protocol's binary fields. */
#pragma once

#include <stddef.h>

/* Encoded length of n bytes, without the NUL. */
size_t sbx_base64_len(size_t n);
/* Encodes into out (sbx_base64_len(n) + 1 bytes); NUL-terminates. */
void sbx_base64_encode(const void *in, size_t n, char *out);
/* Decodes strictly (padding required, no whitespace) into out (at least len * 3 / 4 bytes).
 * Returns the decoded length or -EINVAL. */
long sbx_base64_decode(const char *in, size_t len, void *out);
