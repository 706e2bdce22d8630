/* SPDX-License-Identifier: MIT */
/* Streaming redaction (keys/redact.c): values split across reads at every position. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "keys/redact.h"
#include "keys/secret.h"

static struct sbx_secret_set *set;

static void setup(void)
{
	cr_assert(eq(int, sbx_secret_init(true), 0));
	cr_assert(eq(int, sbx_secret_set_new(&set), 0));
	cr_assert(eq(int, sbx_secret_set_add(set, "API_KEY", "sk-live-0123456789", 18), 0));
	cr_assert(eq(int, sbx_secret_set_add(set, "SHORT_TOKEN", "sk-l", 4), 0));
}

static void teardown(void)
{
	set = sbx_secret_set_free(set);
}

TestSuite(redact, .init = setup, .fini = teardown);

/* Feeds text in pieces cut at the given offsets, then EOF. */
static char *run(const char *text, const size_t *cuts, size_t n_cuts)
{
	struct sbx_redactor *r;
	char *out = NULL;
	size_t out_len = 0, prev = 0, len = strlen(text);

	cr_assert(eq(int, sbx_redact_new(set, &r), 0));
	for (size_t i = 0; i <= n_cuts; i++) {
		size_t end = i < n_cuts ? cuts[i] : len;
		cr_assert(
		    eq(int, sbx_redact_feed(r, text + prev, end - prev, false, &out, &out_len), 0));
		prev = end;
	}
	cr_assert(eq(int, sbx_redact_feed(r, "", 0, true, &out, &out_len), 0));
	(void)sbx_redact_free(r);
	out = realloc(out, out_len + 1);
	out[out_len] = '\0';
	return out;
}

Test(redact, whole_value)
{
	char *o = run("key=sk-live-0123456789 end", NULL, 0);
	cr_assert(eq(str, o, "key=[REDACTED:API_KEY] end"));
	free(o);
}

Test(redact, value_split_at_every_position)
{
	const char *text = "a sk-live-0123456789 b sk-live-0123456789";
	char want[] = "a [REDACTED:API_KEY] b [REDACTED:API_KEY]";

	for (size_t c1 = 0; c1 <= strlen(text); c1++)
		for (size_t c2 = c1; c2 <= strlen(text); c2 += 3) {
			size_t cuts[2] = {c1, c2};
			char *o = run(text, cuts, 2);
			cr_assert(eq(str, o, want), "cut at %zu,%zu", c1, c2);
			free(o);
		}
}

Test(redact, longest_value_wins_and_shorter_still_matches)
{
	char *o = run("sk-l sk-live-0123456789 sk-lx", NULL, 0);
	cr_assert(eq(str, o, "[REDACTED:SHORT_TOKEN] [REDACTED:API_KEY] [REDACTED:SHORT_TOKEN]x"));
	free(o);
}

Test(redact, held_prefix_is_released_at_eof)
{
	size_t cuts[1] = {6};
	char *o = run("xx sk-live-01", cuts, 1);
	cr_assert(eq(str, o, "xx [REDACTED:SHORT_TOKEN]ive-01"));
	free(o);
}

Test(redact, empty_set_passes_through)
{
	struct sbx_secret_set *none;
	struct sbx_redactor *r;
	char *out = NULL;
	size_t len = 0;

	cr_assert(eq(int, sbx_secret_set_new(&none), 0));
	cr_assert(eq(int, sbx_redact_new(none, &r), 0));
	cr_assert(eq(int, sbx_redact_feed(r, "plain", 5, true, &out, &len), 0));
	cr_assert(eq(sz, len, 5));
	cr_assert(eq(int, memcmp(out, "plain", 5), 0));
	free(out);
	(void)sbx_redact_free(r);
	(void)sbx_secret_set_free(none);
}
