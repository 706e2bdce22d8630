/* SPDX-License-Identifier: MIT */
/* supervisor/frame.c: lines across reads, oversized lines, growth, wiping. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "supervisor/frame.h"

TestSuite(frame, .timeout = 10);

struct got {
	char text[8192]; /* "L:<line>|" or "T|" per event */
	size_t n;
	int stop_after; /* return false on this event (1-based), 0: never */
	int events;
};

static bool collect(void *userdata, enum sbx_frame_event ev, const char *line, size_t len)
{
	struct got *g = userdata;
	int k;

	if (ev == SBX_FRAME_LINE)
		k = snprintf(g->text + g->n, sizeof(g->text) - g->n, "L:%.*s|", (int)len, line);
	else
		k = snprintf(g->text + g->n, sizeof(g->text) - g->n, "T|");
	g->n += (size_t)k;
	return ++g->events != g->stop_after;
}

/* Feeds s in reads of at most step bytes; returns the sum of the feeds' line counts. */
static int feed(struct sbx_frame *f, const char *s, size_t step, struct got *g)
{
	size_t len = strlen(s), done = 0;
	int lines = 0;

	while (done < len) {
		char *p;
		size_t room, take;
		cr_assert(eq(int, sbx_frame_space(f, &p, &room), 0));
		cr_assert(room > 0);
		take = len - done < step ? len - done : step;
		take = take < room ? take : room;
		memcpy(p, s + done, take);
		done += take;
		int r = sbx_frame_feed(f, take, collect, g);
		if (r < 0)
			return r;
		lines += r;
	}
	return lines;
}

Test(frame, lines_split_across_reads_arrive_whole)
{
	struct sbx_frame f;
	struct got g = {0};

	cr_assert(eq(int, sbx_frame_init(&f, 100), 0));
	cr_assert(eq(int, feed(&f, "{\"a\":1}\n\n{\"b\":2}\npart", 3, &g), 3));
	cr_assert(eq(str, g.text, "L:{\"a\":1}|L:|L:{\"b\":2}|"));
	cr_assert(eq(sz, f.len, 4), "the partial line waits");
	sbx_frame_done(&f);
}

Test(frame, an_oversized_line_is_reported_once_and_skipped)
{
	struct sbx_frame f;
	struct got g = {0};
	char big[300];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert(eq(int, sbx_frame_init(&f, 10), 0));
	cr_assert(eq(int, feed(&f, "0123456789\n", 4, &g), 1), "exactly max bytes is a line");
	cr_assert(eq(int, feed(&f, big, 7, &g), 0));
	cr_assert(eq(int, feed(&f, "tail\nok\n", 7, &g), 2));
	cr_assert(eq(str, g.text, "L:0123456789|T|L:ok|"));
	sbx_frame_done(&f);
}

Test(frame, the_buffer_grows_to_max_plus_one_and_no_further)
{
	struct sbx_frame f;
	struct got g = {0};
	static char line[20002];

	memset(line, 'y', 20000);
	line[20000] = '\n';
	cr_assert(eq(int, sbx_frame_init(&f, 20000), 0));
	cr_assert(eq(sz, f.cap, 4096), "an idle connection costs 4 KiB");
	cr_assert(eq(int, feed(&f, line, 65536, &g), 1));
	cr_assert(eq(sz, f.cap, 20001));
	cr_assert(eq(int, g.events, 1));
	cr_assert(eq(sz, g.n, 20003), "the whole line came through");
	sbx_frame_done(&f);
	cr_assert(f.buf == NULL);
}

Test(frame, consumed_bytes_are_wiped)
{
	struct sbx_frame f;
	struct got g = {0};

	static const char in[] = "{\"secrets\":\"CANARY\"}\nnext";

	cr_assert(eq(int, sbx_frame_init(&f, 100), 0));
	cr_assert(eq(int, feed(&f, in, 1000, &g), 1));
	cr_assert(eq(sz, f.len, 4));
	cr_assert(memcmp(f.buf, "next", 4) == 0);
	for (size_t i = f.len; i < sizeof(in) - 1; i++)
		cr_assert(eq(int, f.buf[i], 0), "byte %zu of a consumed line was not wiped", i);
	sbx_frame_done(&f);
}

Test(frame, a_callback_that_stops_ends_the_split)
{
	struct sbx_frame f;
	struct got g = {.stop_after = 1};

	cr_assert(eq(int, sbx_frame_init(&f, 100), 0));
	cr_assert(eq(int, feed(&f, "a\nb\nc\n", 100, &g), -ECANCELED));
	cr_assert(eq(str, g.text, "L:a|"));
	sbx_frame_done(&f);
}
