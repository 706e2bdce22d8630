/* SPDX-License-Identifier: MIT */
#include "supervisor/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_CAP 4096

int sbx_frame_init(struct sbx_frame *f, size_t max)
{
	size_t cap = INITIAL_CAP < max + 1 ? INITIAL_CAP : max + 1;

	*f = (struct sbx_frame){.max = max, .cap = cap};
	f->buf = malloc(cap);
	return f->buf ? 0 : -ENOMEM;
}

void sbx_frame_done(struct sbx_frame *f)
{
	if (f->buf) {
		explicit_bzero(f->buf, f->cap);
		free(f->buf);
	}
	f->buf = NULL;
	f->len = f->cap = 0;
}

/* Doubles the buffer up to max + 1; the old one is wiped. */
static int grow(struct sbx_frame *f)
{
	const size_t limit = f->max + 1;
	size_t ncap = f->cap * 2 < limit ? f->cap * 2 : limit;
	char *n = malloc(ncap);

	if (!n)
		return -ENOMEM;
	memcpy(n, f->buf, f->len);
	explicit_bzero(f->buf, f->cap);
	free(f->buf);
	f->buf = n;
	f->cap = ncap;
	return 0;
}

int sbx_frame_space(struct sbx_frame *f, char **ret, size_t *ret_len)
{
	if (f->len == f->cap) {
		int r = grow(f);
		if (r < 0)
			return r;
	}
	*ret = f->buf + f->len;
	*ret_len = f->cap - f->len;
	return 0;
}

int sbx_frame_feed(struct sbx_frame *f, size_t n, sbx_frame_cb cb, void *userdata)
{
	size_t start = 0, scan = f->len;
	int lines = 0;

	f->len += n;
	/* memchr, not a byte loop: a client streaming a huge line costs the loop little. */
	for (const char *nl; scan < f->len && (nl = memchr(f->buf + scan, '\n', f->len - scan));) {
		const size_t i = (size_t)(nl - f->buf);
		if (f->discarding)
			f->discarding = false;
		else if (!cb(userdata, SBX_FRAME_LINE, f->buf + start, i - start))
			return -ECANCELED;
		start = scan = i + 1;
		lines++;
	}
	/* Wipe what was consumed, keep the partial line at the front. */
	if (start > 0) {
		memmove(f->buf, f->buf + start, f->len - start);
		explicit_bzero(f->buf + (f->len - start), start);
		f->len -= start;
	}
	if (f->len == f->max + 1) { /* a whole frame without a newline */
		bool first = !f->discarding;
		f->discarding = true;
		explicit_bzero(f->buf, f->cap);
		f->len = 0;
		if (first && !cb(userdata, SBX_FRAME_TOO_LARGE, NULL, 0))
			return -ECANCELED;
	}
	return lines;
}
