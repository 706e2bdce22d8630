/* SPDX-License-Identifier: MIT */
/*
 * Per-uid token buckets for task starts (limits.run_rate and a client rule's run_rate). Pure
 * bookkeeping: no clock, no I/O, no logging; the caller passes the time and the rate, so a
 * reload that changes a rate applies at the next request. Memory is bounded: the table holds
 * at most a fixed number of uids and a full table reuses the entry used longest ago (a bucket
 * left alone that long has refilled, so forgetting it changes nothing unless the table is
 * flooded with more uids than it holds).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

/* per_second tokens a second, at most burst saved up; per_second 0: no limit. */
struct sbx_rate {
	uint32_t per_second;
	uint32_t burst;
};

#define SBX_RATE_MAX	   1000000U
#define SBX_BURST_MAX	   (2 * SBX_RATE_MAX)
#define SBX_RATELIMIT_UIDS 4096U

struct sbx_ratelimit;

/* A table for up to cap uids (cap >= 1). Returns 0 or -ENOMEM (*ret untouched). */
int sbx_ratelimit_new(size_t cap, struct sbx_ratelimit **ret);
struct sbx_ratelimit *sbx_ratelimit_free(struct sbx_ratelimit *rl);

/* Takes one token from uid's bucket at now_ms (a monotonic clock; it must not go back).
 * Returns true when there was one (or rate is off), false when uid is over its rate. A uid
 * not in the table starts with a full bucket. O(1); never allocates. */
bool sbx_ratelimit_take(struct sbx_ratelimit *rl, uid_t uid, uint64_t now_ms,
			const struct sbx_rate *rate);

/* Gives back the token of a request that started nothing after all (refused for another
 * reason). No effect when rate is off or uid is no longer in the table. */
void sbx_ratelimit_refund(struct sbx_ratelimit *rl, uid_t uid, const struct sbx_rate *rate);

/* Counts a refusal of uid. Returns true for the first refusal of uid in the second of now_ms
 * (the one to record) and sets *ret_suppressed to the refusals counted but not recorded since
 * the previous recorded one; returns false for the others (counted, to record later). */
bool sbx_ratelimit_refused(struct sbx_ratelimit *rl, uid_t uid, uint64_t now_ms,
			   uint64_t *ret_suppressed);

/* Number of uids in the table (for tests). */
size_t sbx_ratelimit_size(const struct sbx_ratelimit *rl);
