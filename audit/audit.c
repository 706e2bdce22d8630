/* SPDX-License-Identifier: MIT */
/*
 * The audit log writer: seals each record into the MAC chain and writes it with one write(2)
 * (O_APPEND), then makes it durable per the durability mode. It fails closed: when a write or
 * an fdatasync fails, everything since the last good commit is rolled back (file truncated,
 * chain tip restored) and queued in memory, the log reads unavailable, and sbx_audit_tick()
 * writes the queue back, framed by audit.unavailable and audit.recovered, once the disk takes
 * it. A record is never dropped without being counted. It also rotates, ratchets the key
 * (state first, so the old key is gone from disk before the new one signs anything) and sends
 * the chain tip to the journal. Opening and crash recovery live in audit-open.c.
 * This file never sees a secret value: records carry names, ids and figures.
 */
#include "audit/audit.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <sodium.h>

#include "audit/internal.h"
#include "common/fd-util.h"
#include "common/log.h"

uint64_t sbx_audit_now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000U + (uint64_t)ts.tv_nsec / 1000U;
}

void sbx_audit_format_ts(uint64_t us, char ret[SBX_AUDIT_TS_LEN + 1])
{
	time_t sec = (time_t)(us / 1000000U);
	char date[24];
	struct tm tm;

	if (!gmtime_r(&sec, &tm) || strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) != 19)
		(void)snprintf(date, sizeof(date), "1970-01-01T00:00:00");
	(void)snprintf(ret, SBX_AUDIT_TS_LEN + 1, "%.19s.%06uZ", date, (unsigned)(us % 1000000U));
}

static bool event_ok(const char *event)
{
	size_t n = 0;

	if (!event)
		return false;
	for (const char *c = event; *c; c++, n++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' ||
		      *c == '.'))
			return false;
	return n >= 1 && n <= 63;
}

int sbx_audit_body(const char *ts, const char *event, const struct sbx_audit_peer *peer,
		   const char *task, const char *fields, char **ret)
{
	char peer_s[96] = "null", task_s[512] = "null";
	size_t flen = fields ? strlen(fields) : 0;
	char *body;
	int n;

	if (!event_ok(event))
		return -EINVAL;
	if (peer)
		(void)snprintf(peer_s, sizeof(peer_s), "{\"uid\":%u,\"gid\":%u,\"pid\":%d}",
			       (unsigned)peer->uid, (unsigned)peer->gid, (int)peer->pid);
	if (task &&
	    (strlen(task) > 128 || sbx_audit_fields_quote(task, task_s, sizeof(task_s)) < 0))
		return -EINVAL;
	if (flen + 1024 >= SBX_AUDIT_LINE_MAX - SBX_AUDIT_SUFFIX_LEN)
		return -E2BIG;
	n = asprintf(&body, "\"ts\":\"%s\",\"event\":\"%s\",\"peer\":%s,\"task\":%s%s%s", ts, event,
		     peer_s, task_s, flen ? "," : "", flen ? fields : "");
	if (n < 0)
		return -ENOMEM;
	*ret = body;
	return 0;
}

/* Lists of record bodies (the pending turn and the outage queue). */
static int list_push(struct sbx_audit_list *l, char *body)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = reallocarray(l->v, cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = body;
	l->bytes += strlen(body);
	return 0;
}

void sbx_audit_list_clear(struct sbx_audit_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
	l->bytes = 0;
}

int sbx_audit_seal_write(struct sbx_audit *a, const char *body)
{
	uint8_t mac[SBX_AUDIT_MAC_BYTES];
	char hex[SBX_AUDIT_MAC_HEX + 1];
	size_t len;
	int n, r;

	n = snprintf(a->line, SBX_AUDIT_LINE_MAX, "{\"seq\":%" PRIu64 ",%s", a->st.seq + 1, body);
	if (n < 0 || (size_t)n + SBX_AUDIT_SUFFIX_LEN + 1 >= SBX_AUDIT_LINE_MAX)
		return -E2BIG;
	len = (size_t)n;
	sbx_audit_state_mac(a->st.key, a->st.mac, a->line, len, mac);
	sbx_audit_state_hex(mac, sizeof(mac), hex);
	len += (size_t)snprintf(a->line + len, SBX_AUDIT_LINE_MAX - len,
				SBX_AUDIT_MAC_SUFFIX "%s\"}\n", hex);
	r = sbx_fd_write_all(a->fd, a->line, len);
	if (r < 0) {
		/* A short write (disk full) must not leave a torn line behind. */
		(void)!ftruncate(a->fd, (off_t)a->off);
		return r;
	}
	a->off += len;
	a->st.seq++;
	memcpy(a->st.mac, mac, sizeof(mac));
	a->stats.written++;
	return 0;
}

/* fdatasync, and a log that was unlinked under us is a failure too. */
int sbx_audit_sync(struct sbx_audit *a)
{
	struct stat st;

	if (fdatasync(a->fd) < 0 || fstat(a->fd, &st) < 0)
		return negative_errno();
	if (st.st_nlink == 0)
		return -ENOENT;
	a->committed_seq = a->st.seq;
	memcpy(a->committed_mac, a->st.mac, sizeof(a->committed_mac));
	a->committed_off = a->off;
	return 0;
}

/* Everything since the last commit goes back to memory; the log reads unavailable. */
void sbx_audit_fail(struct sbx_audit *a, int r, const char *first_ts)
{
	struct sbx_audit_list q = a->pend;

	(void)!ftruncate(a->fd, (off_t)a->committed_off);
	a->off = a->committed_off;
	a->st.seq = a->committed_seq;
	memcpy(a->st.mac, a->committed_mac, sizeof(a->st.mac));
	/* The turn's records come before anything queued after them. */
	for (size_t i = 0; i < a->queue.n; i++)
		if (list_push(&q, a->queue.v[i]) < 0) {
			free(a->queue.v[i]);
			a->stats.dropped++;
			a->dropped_now++;
		}
	free(a->queue.v);
	a->queue = q;
	a->pend = (struct sbx_audit_list){0};
	if (!a->available)
		return;
	a->available = false;
	a->error = r;
	a->stats.outages++;
	memcpy(a->down_ts, first_ts, sizeof(a->down_ts));
	a->down_us = sbx_audit_now_us();
	log_error_errno(r, "audit: cannot write '%s'; new work is refused until it can", a->path);
}

static int enqueue(struct sbx_audit *a, char *body)
{
	if (a->queue.n >= a->queue_max || a->queue.bytes + strlen(body) > a->queue_bytes ||
	    list_push(&a->queue, body) < 0) {
		free(body);
		a->stats.dropped++;
		a->dropped_now++;
		if (a->dropped_now == 1)
			log_error("audit: queue full, records are being lost (counted in "
				  "audit.recovered)");
		return -ENOBUFS;
	}
	return a->error < 0 ? a->error : -EIO;
}

/* NOLINTNEXTLINE(misc-no-recursion): a->busy stops re-entry */
int sbx_audit_append(struct sbx_audit *a, const char *event, const struct sbx_audit_peer *peer,
		     const char *task, const struct sbx_audit_fields *fields)
{
	char ts[SBX_AUDIT_TS_LEN + 1];
	char *body = NULL;
	int r;

	if (fields && sbx_audit_fields_error(fields) < 0)
		return sbx_audit_fields_error(fields);
	sbx_audit_format_ts(sbx_audit_now_us(), ts);
	r = sbx_audit_body(ts, event, peer, task, fields ? sbx_audit_fields_get(fields) : NULL,
			   &body);
	if (r < 0)
		return r;
	if (!a->available)
		return enqueue(a, body);
	r = sbx_audit_seal_write(a, body);
	if (r == -E2BIG) {
		free(body);
		return r;
	}
	if (r < 0) {
		sbx_audit_fail(a, r, ts);
		return enqueue(a, body);
	}
	if (list_push(&a->pend, body) < 0) {
		free(body); /* written, only not kept for a rollback: commit now */
		r = sbx_audit_commit(a);
		if (r < 0)
			a->stats.dropped++;
		return r;
	}
	if (a->durability == SBX_AUDIT_FSYNC || a->pend.n >= a->queue_max / 2 ||
	    a->pend.bytes >= a->queue_bytes / 2)
		return sbx_audit_commit(a);
	return 0;
}

static void log_tip(struct sbx_audit *a)
{
	char hex[SBX_AUDIT_MAC_HEX + 1];

	sbx_audit_state_hex(a->committed_mac, sizeof(a->committed_mac), hex);
	log_notice("audit tip %" PRIu64 ":%s", a->committed_seq, hex);
	a->tip_seq = a->committed_seq;
}

/* Saves the chain tip with the current key (rotation, close); best effort. */
static void save_tip(struct sbx_audit *a)
{
	int r;

	a->st.seq = a->committed_seq;
	memcpy(a->st.mac, a->committed_mac, sizeof(a->st.mac));
	r = sbx_audit_state_save(a->state_path, &a->st, false);
	if (r < 0)
		log_warning_errno(r, "audit: cannot save '%s', ignoring", a->state_path);
}

/* Next epoch: the new state is on disk before the new key signs, and the old key is wiped. */
/* NOLINTNEXTLINE(misc-no-recursion): a->busy stops re-entry */
static int ratchet(struct sbx_audit *a, uint64_t now_s)
{
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
	struct sbx_audit_state next = a->st;
	int r;

	if (now_s < a->ratchet_retry_s)
		return 0;
	r = sbx_audit_state_key_new(&next.key);
	if (r < 0)
		return r;
	memcpy(next.key, a->st.key, SBX_AUDIT_KEY_BYTES);
	sbx_audit_state_ratchet(next.key);
	next.epoch++;
	next.epoch_seq = a->st.seq + 1;
	next.epoch_time = now_s;
	r = sbx_audit_state_save(a->state_path, &next, false);
	if (r < 0) {
		sbx_audit_state_key_free(next.key);
		a->ratchet_retry_s = now_s + 10;
		return log_warning_errno(r, "audit: cannot save '%s', key not ratcheted yet",
					 a->state_path);
	}
	sbx_audit_state_key_free(a->st.key);
	a->st = next;
	sbx_audit_fields_uint(&f, "epoch", a->st.epoch);
	r = sbx_audit_append(a, "audit.ratcheted", NULL, NULL, &f);
	sbx_audit_fields_done(&f);
	return r;
}

/* NOLINTNEXTLINE(misc-no-recursion): a->busy stops re-entry */
static int housekeeping(struct sbx_audit *a)
{
	uint64_t now_s = (uint64_t)time(NULL);
	int r = 0;

	if (a->busy || !a->available)
		return 0;
	a->busy = true;
	if (a->committed_seq - a->tip_seq >= a->tip_records)
		log_tip(a);
	if (a->rotate_size && a->committed_off >= a->rotate_size)
		(void)sbx_audit_rotate_now(a, "size");
	if (a->available && (a->st.seq + 1 - a->st.epoch_seq >= a->ratchet_records ||
			     now_s >= a->st.epoch_time + a->ratchet_seconds))
		r = ratchet(a, now_s);
	if (r >= 0 && a->available && a->pend.n > 0)
		r = sbx_audit_commit(a);
	a->busy = false;
	return r;
}

/* NOLINTNEXTLINE(misc-no-recursion): a->busy stops re-entry */
int sbx_audit_commit(struct sbx_audit *a)
{
	int r;

	if (!a->available)
		return a->error;
	if (a->pend.n > 0) {
		r = sbx_audit_sync(a);
		if (r < 0) {
			char ts[SBX_AUDIT_TS_LEN + 1];
			/* the first lost record's ts: "ts":"...". */
			memcpy(ts, a->pend.v[0] + 6, SBX_AUDIT_TS_LEN);
			ts[SBX_AUDIT_TS_LEN] = '\0';
			sbx_audit_fail(a, r, ts);
			return r;
		}
		sbx_audit_list_clear(&a->pend);
	}
	return housekeeping(a);
}

/* Writes audit.unavailable, the queue and audit.recovered, as one commit. */
static int recover(struct sbx_audit *a)
{
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
	uint64_t now = sbx_audit_now_us();
	char ts[SBX_AUDIT_TS_LEN + 1], *body = NULL;
	struct stat st;
	int r;

	if (fstat(a->fd, &st) < 0 || st.st_nlink == 0) {
		r = sbx_audit_reopen(a, "reopened");
		if (r < 0)
			return r;
	}
	if (ftruncate(a->fd, (off_t)a->committed_off) < 0)
		return negative_errno();
	a->off = a->committed_off;
	r = a->header ? sbx_audit_write_header(a) : 0;
	sbx_audit_fields_uint(&f, "epoch", a->st.epoch);
	sbx_audit_fields_str(&f, "error", strerrorname_np(-a->error));
	sbx_audit_fields_uint(&f, "queued", a->queue.n);
	if (r >= 0)
		r = sbx_audit_body(a->down_ts, "audit.unavailable", NULL, NULL,
				   sbx_audit_fields_get(&f), &body);
	if (r >= 0)
		r = sbx_audit_seal_write(a, body);
	free(body);
	body = NULL;
	for (size_t i = 0; r >= 0 && i < a->queue.n; i++)
		r = sbx_audit_seal_write(a, a->queue.v[i]);
	sbx_audit_fields_done(&f);
	sbx_audit_fields_uint(&f, "epoch", a->st.epoch);
	sbx_audit_fields_str(&f, "reason", "unavailable");
	sbx_audit_fields_str(&f, "error", strerrorname_np(-a->error));
	sbx_audit_fields_str(&f, "since", a->down_ts);
	sbx_audit_fields_uint(&f, "down_ms", (now - a->down_us) / 1000U);
	sbx_audit_fields_uint(&f, "queued", a->queue.n);
	sbx_audit_fields_uint(&f, "dropped", a->dropped_now);
	sbx_audit_format_ts(now, ts);
	if (r >= 0)
		r = sbx_audit_body(ts, "audit.recovered", NULL, NULL, sbx_audit_fields_get(&f),
				   &body);
	sbx_audit_fields_done(&f);
	if (r >= 0)
		r = sbx_audit_seal_write(a, body);
	free(body);
	if (r >= 0)
		r = sbx_audit_sync(a);
	if (r < 0) {
		(void)!ftruncate(a->fd, (off_t)a->committed_off);
		a->off = a->committed_off;
		a->st.seq = a->committed_seq;
		memcpy(a->st.mac, a->committed_mac, sizeof(a->st.mac));
		return r;
	}
	log_notice("audit: '%s' writable again after %" PRIu64 " ms; %zu queued records written, "
		   "%" PRIu64 " lost",
		   a->path, (now - a->down_us) / 1000U, a->queue.n, a->dropped_now);
	a->header = NULL;
	sbx_audit_list_clear(&a->queue);
	a->available = true;
	a->error = 0;
	a->dropped_now = 0;
	return housekeeping(a);
}

int sbx_audit_tick(struct sbx_audit *a)
{
	if (a->available)
		return sbx_audit_commit(a);
	return recover(a);
}

int sbx_audit_rotate(struct sbx_audit *a)
{
	int r = sbx_audit_commit(a);

	if (r < 0)
		return r;
	return sbx_audit_rotate_now(a, "signal");
}

bool sbx_audit_available(const struct sbx_audit *a)
{
	return a->available;
}

void sbx_audit_get_stats(const struct sbx_audit *a, struct sbx_audit_stats *ret)
{
	*ret = a->stats;
	ret->available = a->available;
	ret->error = a->available ? 0 : a->error;
	ret->seq = a->committed_seq;
	ret->epoch = a->st.epoch;
	ret->queued = a->queue.n + a->pend.n;
}

struct sbx_audit *sbx_audit_close(struct sbx_audit *a)
{
	if (!a)
		return NULL;
	if (a->available && sbx_audit_commit(a) >= 0) {
		log_tip(a);
		save_tip(a);
	} else if (a->queue.n + a->pend.n > 0) {
		log_error("audit: closing '%s' with %zu records not written", a->path,
			  a->queue.n + a->pend.n);
	}
	sbx_audit_list_clear(&a->pend);
	sbx_audit_list_clear(&a->queue);
	free(a->pend.v);
	free(a->queue.v);
	a->fd = safe_close(a->fd);
	sbx_audit_state_clear(&a->st);
	free(a->line);
	free(a->prev_file);
	free(a->path);
	free(a->state_path);
	free(a);
	return NULL;
}
