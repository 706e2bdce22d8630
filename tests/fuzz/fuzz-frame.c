/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the socket protocol's framing (supervisor/frame.c), checked against a model.
 * The first two bytes choose max (1..512, or 64 KiB) and the read sizes; the rest is the
 * stream, fed in those chunks as libuv would. The model splits the whole stream at '\n':
 * each whole line of at most max bytes is a LINE with its bytes, each longer one a single
 * TOO_LARGE, and an unfinished tail of more than max bytes a TOO_LARGE too. Any difference
 * in order, kind or bytes aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check {
	const uint8_t *s; /* the stream */
	size_t n, pos;	  /* the model's position */
	size_t max;
	unsigned events;
};

/* The model's next event from pos; false when none is due yet (an unfinished short tail). */
static bool model_next(struct check *k, enum sbx_frame_event *ev, size_t *off, size_t *len)
{
	while (k->pos < k->n) {
		const uint8_t *nl = memchr(k->s + k->pos, '\n', k->n - k->pos);
		size_t end = nl ? (size_t)(nl - k->s) : k->n;
		*off = k->pos;
		*len = end - k->pos;
		if (!nl && *len <= k->max)
			return false;
		k->pos = nl ? end + 1 : k->n;
		*ev = *len <= k->max ? SBX_FRAME_LINE : SBX_FRAME_TOO_LARGE;
		return true;
	}
	return false;
}

static bool on_event(void *userdata, enum sbx_frame_event ev, const char *line, size_t len)
{
	struct check *k = userdata;
	enum sbx_frame_event want;
	size_t off, wlen;

	if (!model_next(k, &want, &off, &wlen) || want != ev)
		abort();
	if (ev == SBX_FRAME_LINE && (wlen != len || memcmp(k->s + off, line, len) != 0))
		abort();
	if (ev == SBX_FRAME_LINE && memchr(line, '\n', len))
		abort();
	k->events++;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_frame f;
	struct check k;
	size_t fed = 0, step;
	enum sbx_frame_event ev;
	size_t off, len;

	if (size < 2)
		return 0;
	k = (struct check){
	    .s = data + 2, .n = size - 2, .max = data[0] == 0xff ? 65536 : (size_t)data[0] * 2 + 1};
	step = (size_t)data[1] + 1;
	if (sbx_frame_init(&f, k.max) < 0)
		return 0;
	while (fed < k.n) {
		char *p;
		size_t room, take;
		if (sbx_frame_space(&f, &p, &room) < 0)
			abort();
		if (room == 0 || f.len > k.max)
			abort();
		take = k.n - fed < step ? k.n - fed : step;
		take = take < room ? take : room;
		memcpy(p, k.s + fed, take);
		fed += take;
		if (sbx_frame_feed(&f, take, on_event, &k) < 0)
			abort();
	}
	/* Nothing due may be left: only an unfinished tail of at most max bytes. */
	if (model_next(&k, &ev, &off, &len))
		abort();
	sbx_frame_done(&f);
	return 0;
}
