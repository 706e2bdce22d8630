/* SPDX-License-Identifier: MIT */
/* Per-uid token buckets for task starts (supervisor/ratelimit.c). */
#include <errno.h>
#include <stdint.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "supervisor/ratelimit.h"

static struct sbx_ratelimit *rl;

static void setup(void)
{
	cr_assert(eq(int, sbx_ratelimit_new(4, &rl), 0));
}

static void teardown(void)
{
	rl = sbx_ratelimit_free(rl);
}

TestSuite(ratelimit, .init = setup, .fini = teardown);

static int take_n(uid_t uid, uint64_t now, const struct sbx_rate *r, int n)
{
	int ok = 0;

	for (int i = 0; i < n; i++)
		ok += sbx_ratelimit_take(rl, uid, now, r);
	return ok;
}

Test(ratelimit, burst_then_refused)
{
	const struct sbx_rate r = {10, 5};

	cr_assert(eq(int, take_n(7, 1000, &r, 5), 5), "a new uid starts with a full bucket");
	cr_assert(not(sbx_ratelimit_take(rl, 7, 1000, &r)));
	cr_assert(not(sbx_ratelimit_take(rl, 7, 1099, &r)), "0.99 of a token after 99 ms");
}

Test(ratelimit, refills_at_the_rate_up_to_the_burst)
{
	const struct sbx_rate r = {10, 5};

	cr_assert(eq(int, take_n(7, 0, &r, 6), 5));
	cr_assert(sbx_ratelimit_take(rl, 7, 100, &r), "one token every 100 ms");
	cr_assert(not(sbx_ratelimit_take(rl, 7, 100, &r)));
	cr_assert(eq(int, take_n(7, 350, &r, 5), 2), "2.5 tokens after 250 ms");
	cr_assert(sbx_ratelimit_take(rl, 7, 400, &r), "the half token is kept");
	cr_assert(eq(int, take_n(7, 1000000, &r, 10), 5), "a long pause refills to the burst only");
	cr_assert(eq(int, take_n(7, UINT64_MAX / 2, &r, 10), 5), "no overflow over a long gap");
}

Test(ratelimit, sustained_rate)
{
	const struct sbx_rate r = {50, 1};
	int ok = 0;

	/* A request every millisecond for 10 s passes 50 a second. */
	for (uint64_t t = 0; t < 10000; t++)
		ok += sbx_ratelimit_take(rl, 9, t, &r);
	cr_assert(eq(int, ok, 500));
}

Test(ratelimit, uids_are_independent)
{
	const struct sbx_rate r = {1, 2};

	cr_assert(eq(int, take_n(1, 0, &r, 3), 2));
	cr_assert(eq(int, take_n(2, 0, &r, 3), 2), "uid 1 being over its rate costs uid 2 nothing");
	cr_assert(not(sbx_ratelimit_take(rl, 1, 0, &r)));
}

Test(ratelimit, off_never_refuses_and_stores_nothing)
{
	const struct sbx_rate off = {0, 0};

	cr_assert(eq(int, take_n(3, 0, &off, 1000), 1000));
	cr_assert(eq(sz, sbx_ratelimit_size(rl), 0));
}

Test(ratelimit, refund_gives_back_one_token)
{
	const struct sbx_rate r = {1, 2};

	cr_assert(eq(int, take_n(5, 0, &r, 2), 2));
	sbx_ratelimit_refund(rl, 5, &r);
	cr_assert(sbx_ratelimit_take(rl, 5, 0, &r));
	cr_assert(not(sbx_ratelimit_take(rl, 5, 0, &r)));
	sbx_ratelimit_refund(rl, 5, &r);
	sbx_ratelimit_refund(rl, 5, &r);
	sbx_ratelimit_refund(rl, 5, &r);
	cr_assert(eq(int, take_n(5, 0, &r, 5), 2), "not beyond the burst");
	sbx_ratelimit_refund(rl, 6, &r); /* not in the table: nothing */
	cr_assert(eq(sz, sbx_ratelimit_size(rl), 1));
}

/* The table holds 4 uids here; a fifth reuses the entry used longest ago. */
Test(ratelimit, full_table_evicts_the_oldest)
{
	const struct sbx_rate r = {1, 1};

	for (uid_t u = 1; u <= 4; u++)
		cr_assert(sbx_ratelimit_take(rl, u, 0, &r));
	cr_assert(not(sbx_ratelimit_take(rl, 1, 0, &r)), "uid 1 is now the newest");
	cr_assert(eq(sz, sbx_ratelimit_size(rl), 4));
	cr_assert(sbx_ratelimit_take(rl, 5, 0, &r), "uid 5 takes uid 2's entry");
	cr_assert(eq(sz, sbx_ratelimit_size(rl), 4));
	cr_assert(not(sbx_ratelimit_take(rl, 1, 0, &r)), "uid 1 was kept");
	cr_assert(not(sbx_ratelimit_take(rl, 3, 0, &r)), "uid 3 was kept");
	cr_assert(not(sbx_ratelimit_take(rl, 5, 0, &r)));
	cr_assert(sbx_ratelimit_take(rl, 2, 0, &r), "uid 2 was forgotten: a full bucket again");
	/* Many uids through a small table: still bounded, still answering. */
	for (uid_t u = 100; u < 100000; u++)
		cr_assert(sbx_ratelimit_take(rl, u, 0, &r));
	cr_assert(eq(sz, sbx_ratelimit_size(rl), 4));
	cr_assert(not(sbx_ratelimit_take(rl, 99999, 0, &r)));
}

Test(ratelimit, refusals_are_counted_per_second)
{
	const struct sbx_rate r = {1, 1};
	uint64_t sup = 99;

	cr_assert(sbx_ratelimit_take(rl, 8, 0, &r));
	cr_assert(not(sbx_ratelimit_take(rl, 8, 10, &r)));
	cr_assert(sbx_ratelimit_refused(rl, 8, 10, &sup), "the first refusal is recorded");
	cr_assert(eq(u64, sup, 0));
	for (int i = 0; i < 41; i++)
		cr_assert(not(sbx_ratelimit_refused(rl, 8, 500, &sup)), "the rest of the second");
	cr_assert(sbx_ratelimit_refused(rl, 8, 1000, &sup), "a new second");
	cr_assert(eq(u64, sup, 41));
	cr_assert(sbx_ratelimit_refused(rl, 9, 1000, &sup), "another uid");
	cr_assert(eq(u64, sup, 0));
}

Test(ratelimit, bad_sizes)
{
	struct sbx_ratelimit *x = NULL;

	cr_assert(eq(int, sbx_ratelimit_new(0, &x), -EINVAL));
	cr_assert(x == NULL);
	cr_assert(eq(int, sbx_ratelimit_new(SBX_RATELIMIT_UIDS, &x), 0));
	sbx_ratelimit_free(x);
}
