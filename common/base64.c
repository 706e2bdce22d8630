/* SPDX-License-Identifier: MIT */
#include "common/base64.h"

#include <errno.h>
#include <stdbool.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t sbx_base64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

void sbx_base64_encode(const void *in_, size_t n, char *out)
{
	const unsigned char *in = in_;
	size_t i = 0, o = 0;

	for (; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = (char)(i + 1 < n ? alphabet[v >> 6 & 63] : '=');
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long sbx_base64_decode(const char *in, size_t len, void *out_)
{
	unsigned char *out = out_;
	size_t o = 0;

	if (len % 4)
		return -EINVAL;
	for (size_t i = 0; i < len; i += 4) {
		int a = value(in[i]), b = value(in[i + 1]), c, d;
		bool last = i + 4 == len;
		if (a < 0 || b < 0)
			return -EINVAL;
		c = (last && in[i + 2] == '=') ? -2 : value(in[i + 2]);
		d = (last && in[i + 3] == '=') ? -2 : value(in[i + 3]);
		if (c == -1 || d == -1 || (c == -2 && d != -2))
			return -EINVAL;
		out[o++] = (unsigned char)(a << 2 | b >> 4);
		if (c >= 0)
			out[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
		else if (b & 15)
			return -EINVAL; /* non-canonical */
		if (d >= 0)
			out[o++] = (unsigned char)((c & 3) << 6 | d);
		else if (c >= 0 && (c & 3))
			return -EINVAL;
	}
	return (long)o;
}
