/* SPDX-License-Identifier: MIT */
/*
 * Token buckets keyed by uid. Tokens are kept in thousandths so that the refill is exact in
 * whole milliseconds: a rate of N a second adds N thousandths per millisecond. Entries live in
 * one preallocated array, chained from a power-of-two hash table and linked in use order; the
 * least recently used entry is reused when the array is full. This file owns no clock and
 * must never log or allocate after sbx_ratelimit_new(): it runs for every run request.
 */
#include "supervisor/ratelimit.h"

#include <errno.h>
#include <stdlib.h>

#define MILLI 1000U
#define NONE  UINT32_MAX

struct entry {
	uid_t uid;
	uint32_t hnext;	       /* next in the hash chain */
	uint32_t newer, older; /* use order */
	uint64_t tokens;       /* thousandths of a token */
	uint64_t last_ms;      /* of the last refill */
	uint64_t refused_sec;  /* second (now_ms / 1000) of the last recorded refusal, + 1 */
	uint64_t suppressed;   /* refusals counted since the last recorded one */
};

struct sbx_ratelimit {
	struct entry *e;
	uint32_t *heads;
	uint32_t mask; /* heads has mask + 1 slots */
	uint32_t cap, used;
	uint32_t newest, oldest;
};

int sbx_ratelimit_new(size_t cap, struct sbx_ratelimit **ret)
{
	struct sbx_ratelimit *rl;
	size_t n = 1;

	if (cap == 0 || cap > (1U << 24))
		return -EINVAL;
	while (n < 2 * cap)
		n <<= 1;
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->e = calloc(cap, sizeof(*rl->e));
	rl->heads = malloc(n * sizeof(*rl->heads));
	if (!rl->e || !rl->heads) {
		sbx_ratelimit_free(rl);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		rl->heads[i] = NONE;
	rl->mask = (uint32_t)(n - 1);
	rl->cap = (uint32_t)cap;
	rl->newest = rl->oldest = NONE;
	*ret = rl;
	return 0;
}

struct sbx_ratelimit *sbx_ratelimit_free(struct sbx_ratelimit *rl)
{
	if (rl) {
		free(rl->e);
		free(rl->heads);
		free(rl);
	}
	return NULL;
}

size_t sbx_ratelimit_size(const struct sbx_ratelimit *rl)
{
	return rl->used;
}

static uint32_t slot(const struct sbx_ratelimit *rl, uid_t uid)
{
	/* Fibonacci hashing: uids are small and dense, the high bits of the product are not. */
	return (uint32_t)(((uint64_t)uid * 0x9E3779B97F4A7C15ULL) >> 32) & rl->mask;
}

static uint32_t find(const struct sbx_ratelimit *rl, uid_t uid)
{
	uint32_t i = rl->heads[slot(rl, uid)];

	while (i != NONE && rl->e[i].uid != uid)
		i = rl->e[i].hnext;
	return i;
}

static void unlink_use(struct sbx_ratelimit *rl, uint32_t i)
{
	struct entry *x = &rl->e[i];

	if (x->newer != NONE)
		rl->e[x->newer].older = x->older;
	else
		rl->newest = x->older;
	if (x->older != NONE)
		rl->e[x->older].newer = x->newer;
	else
		rl->oldest = x->newer;
}

static void make_newest(struct sbx_ratelimit *rl, uint32_t i)
{
	struct entry *x = &rl->e[i];

	x->older = rl->newest;
	x->newer = NONE;
	if (rl->newest != NONE)
		rl->e[rl->newest].newer = i;
	rl->newest = i;
	if (rl->oldest == NONE)
		rl->oldest = i;
}

static void unlink_hash(struct sbx_ratelimit *rl, uint32_t i)
{
	uint32_t *p = &rl->heads[slot(rl, rl->e[i].uid)];

	while (*p != i)
		p = &rl->e[*p].hnext;
	*p = rl->e[i].hnext;
}

/* uid's entry, made the newest; a new one (full bucket) when it had none. */
static struct entry *get(struct sbx_ratelimit *rl, uid_t uid, uint64_t now_ms,
			 const struct sbx_rate *rate)
{
	uint32_t i = find(rl, uid), h;

	if (i != NONE) {
		unlink_use(rl, i);
		make_newest(rl, i);
		return &rl->e[i];
	}
	if (rl->used < rl->cap) {
		i = rl->used++;
	} else {
		i = rl->oldest;
		unlink_use(rl, i);
		unlink_hash(rl, i);
	}
	h = slot(rl, uid);
	rl->e[i] = (struct entry){.uid = uid,
				  .hnext = rl->heads[h],
				  .tokens = (uint64_t)rate->burst * MILLI,
				  .last_ms = now_ms};
	rl->heads[h] = i;
	make_newest(rl, i);
	return &rl->e[i];
}

bool sbx_ratelimit_take(struct sbx_ratelimit *rl, uid_t uid, uint64_t now_ms,
			const struct sbx_rate *rate)
{
	struct entry *x;
	uint64_t full, elapsed;

	if (rate->per_second == 0)
		return true;
	x = get(rl, uid, now_ms, rate);
	full = (uint64_t)rate->burst * MILLI;
	elapsed = now_ms > x->last_ms ? now_ms - x->last_ms : 0;
	x->last_ms = now_ms;
	/* No overflow: per_second and burst are at most SBX_RATE_MAX. */
	if (elapsed >= full / rate->per_second + 1 || x->tokens + elapsed * rate->per_second > full)
		x->tokens = full;
	else
		x->tokens += elapsed * rate->per_second;
	if (x->tokens < MILLI)
		return false;
	x->tokens -= MILLI;
	return true;
}

void sbx_ratelimit_refund(struct sbx_ratelimit *rl, uid_t uid, const struct sbx_rate *rate)
{
	uint32_t i;
	uint64_t full = (uint64_t)rate->burst * MILLI;

	if (rate->per_second == 0 || (i = find(rl, uid)) == NONE)
		return;
	rl->e[i].tokens = rl->e[i].tokens + MILLI > full ? full : rl->e[i].tokens + MILLI;
}

bool sbx_ratelimit_refused(struct sbx_ratelimit *rl, uid_t uid, uint64_t now_ms,
			   uint64_t *ret_suppressed)
{
	const uint64_t sec = now_ms / MILLI + 1;
	uint32_t i = find(rl, uid);
	struct entry *x;

	if (i == NONE) {
		*ret_suppressed = 0;
		return true;
	}
	x = &rl->e[i];
	if (x->refused_sec == sec) {
		x->suppressed++;
		return false;
	}
	x->refused_sec = sec;
	*ret_suppressed = x->suppressed;
	x->suppressed = 0;
	return true;
}
