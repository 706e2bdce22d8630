/* SPDX-License-Identifier: MIT */
/*
 * Framing of the socket protocol (docs/protocol.md "Framing"): a byte stream split into lines
 * of at most max bytes, newline excluded. The buffer starts at 4 KiB and doubles up to
 * max + 1 as lines need it, so an idle connection costs little; a longer line is reported
 * once as too large and skipped up to its newline without being stored. Consumed bytes are
 * wiped (requests carry secrets). No libuv, no I/O: server.c reads into sbx_frame_space() and
 * hands the count to sbx_frame_feed(); tests/fuzz/fuzz-frame.c checks it against a model.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct sbx_frame {
	char *buf; /* len bytes of a partial line, then free space up to cap */
	size_t len, cap, max;
	bool discarding; /* skipping the rest of an oversized line */
};

enum sbx_frame_event {
	SBX_FRAME_LINE,	     /* a whole line of at most max bytes */
	SBX_FRAME_TOO_LARGE, /* a line passed max bytes: once per such line, no bytes */
};

/* Called for each event; line is valid only during the call and not NUL-terminated (NULL for
 * SBX_FRAME_TOO_LARGE). Returning false stops the split: the caller is closing. */
typedef bool (*sbx_frame_cb)(void *userdata, enum sbx_frame_event ev, const char *line, size_t len);

/* An empty frame buffer for lines of at most max bytes (max > 0). Returns 0 or -ENOMEM. */
int sbx_frame_init(struct sbx_frame *f, size_t max);
/* Wipes and frees the buffer (a partial line may hold a secret). Safe on a zeroed struct. */
void sbx_frame_done(struct sbx_frame *f);

/* Where the next read goes: never empty (the buffer grows when full). Returns 0 or -ENOMEM
 * (out-params untouched). */
int sbx_frame_space(struct sbx_frame *f, char **ret, size_t *ret_len);

/* Takes n bytes just read into the space and reports each line and each oversized line, in
 * order. Returns the number of lines that ended (skipped ones included: activity for an idle
 * timer), or -ECANCELED when cb returned false. */
int sbx_frame_feed(struct sbx_frame *f, size_t n, sbx_frame_cb cb, void *userdata);
