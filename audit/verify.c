/* SPDX-License-Identifier: MIT */
/*
 * The audit chain verifier. It trusts nothing in the log but the first key it is given: each
 * record's MAC is recomputed over the raw bytes of its line (never a re-serialisation), keyed
 * by the epoch key re-derived from the first key, chained to the previous record's MAC. An
 * epoch may only step forward by one, and only in an audit.* record that says so, so a
 * forged epoch cannot make the verifier spin or skip. It stops at the first fault.
 */
#include "audit/verify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/internal.h"
#include "common/macro.h"

struct anchor {
	uint64_t seq;
	uint8_t mac[SBX_AUDIT_MAC_BYTES];
	bool seen;
};

struct sbx_audit_verify {
	uint8_t *key0, *key; /* the first key, and the key of key_epoch */
	uint64_t key_epoch;
	char fp[SBX_AUDIT_FP_HEX + 1];
	bool started, failed;
	uint64_t first_seq, seq, epoch;
	uint8_t mac[SBX_AUDIT_MAC_BYTES];
	struct anchor anchors[SBX_AUDIT_VERIFY_ANCHORS_MAX];
	size_t n_anchors;
	const char *file;
	uint64_t lineno;
	struct sbx_audit_verify_result res;
};

static const char *const reason_names[_SBX_AUDIT_VERIFY_MAX] = {
    [SBX_AUDIT_VERIFY_OK] = "ok",
    [SBX_AUDIT_VERIFY_MAC_MISMATCH] = "mac_mismatch",
    [SBX_AUDIT_VERIFY_SEQ_GAP] = "seq_gap",
    [SBX_AUDIT_VERIFY_SEQ_DUP] = "seq_dup",
    [SBX_AUDIT_VERIFY_PARSE] = "parse",
    [SBX_AUDIT_VERIFY_ANCHOR_MISMATCH] = "anchor_mismatch",
    [SBX_AUDIT_VERIFY_TRUNCATED] = "truncated",
};

const char *sbx_audit_verify_reason_name(enum sbx_audit_verify_reason r)
{
	return (unsigned)r < _SBX_AUDIT_VERIFY_MAX ? reason_names[r] : "unknown";
}

int sbx_audit_verify_new(const char *key_file, struct sbx_audit_verify **ret)
{
	struct sbx_audit_verify *v = calloc(1, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	r = sbx_audit_state_read_key(key_file, &v->key0);
	if (r >= 0)
		r = sbx_audit_state_key_new(&v->key);
	if (r < 0) {
		sbx_audit_verify_free(v);
		return r;
	}
	memcpy(v->key, v->key0, SBX_AUDIT_KEY_BYTES);
	sbx_audit_state_fingerprint(v->key0, v->fp);
	*ret = v;
	return 0;
}

struct sbx_audit_verify *sbx_audit_verify_free(struct sbx_audit_verify *v)
{
	if (!v)
		return NULL;
	sbx_audit_state_key_free(v->key0);
	sbx_audit_state_key_free(v->key);
	free(v);
	return NULL;
}

int sbx_audit_verify_add_anchor(struct sbx_audit_verify *v, const char *anchor)
{
	const char *colon = strchr(anchor, ':');
	struct anchor a = {0};
	char *end;

	if (!colon || anchor[0] < '0' || anchor[0] > '9')
		return -EINVAL;
	errno = 0;
	a.seq = strtoull(anchor, &end, 10);
	if (errno || end != colon || a.seq == 0 ||
	    sbx_audit_state_unhex(colon + 1, strlen(colon + 1), a.mac, sizeof(a.mac)) < 0)
		return -EINVAL;
	if (v->n_anchors >= SBX_AUDIT_VERIFY_ANCHORS_MAX)
		return -E2BIG;
	v->anchors[v->n_anchors++] = a;
	return 0;
}

_printf_(4, 5) static int fault(struct sbx_audit_verify *v, enum sbx_audit_verify_reason reason,
				uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	if (v->failed)
		return 1;
	v->failed = true;
	v->res.reason = reason;
	v->res.bad_seq = seq;
	v->res.file = v->file;
	v->res.line = v->lineno;
	va_start(ap, fmt);
	(void)vsnprintf(v->res.detail, sizeof(v->res.detail), fmt, ap);
	va_end(ap);
	return 1;
}

static const uint8_t *key_for(struct sbx_audit_verify *v, uint64_t epoch)
{
	if (epoch < v->key_epoch) {
		memcpy(v->key, v->key0, SBX_AUDIT_KEY_BYTES);
		v->key_epoch = 0;
	}
	while (v->key_epoch < epoch) {
		sbx_audit_state_ratchet(v->key);
		v->key_epoch++;
	}
	return v->key;
}

/* The first record seen sets where the chain starts: seq 1 (after 32 zero bytes) or an
 * audit.rotated header naming the previous file's tip. */
static int start_chain(struct sbx_audit_verify *v, const struct sbx_audit_record *rec)
{
	if (rec->seq == 1) {
		memset(v->mac, 0, sizeof(v->mac));
	} else if (strcmp(rec->event, "audit.rotated") == 0 && rec->has_prev && rec->has_epoch &&
		   rec->prev_seq == rec->seq - 1) {
		memcpy(v->mac, rec->prev_mac, sizeof(v->mac));
	} else {
		return fault(v, SBX_AUDIT_VERIFY_SEQ_GAP, rec->seq - 1,
			     "the log starts at seq %" PRIu64 " without a rotation header: "
			     "records before it are missing",
			     rec->seq);
	}
	v->epoch = rec->has_epoch ? rec->epoch : 0;
	v->seq = rec->seq - 1;
	v->first_seq = rec->seq;
	v->started = true;
	return 0;
}

static int check_anchors(struct sbx_audit_verify *v, const struct sbx_audit_record *rec)
{
	for (size_t i = 0; i < v->n_anchors; i++) {
		if (v->anchors[i].seq != rec->seq)
			continue;
		v->anchors[i].seen = true;
		if (sodium_memcmp(v->anchors[i].mac, rec->mac, sizeof(rec->mac)) != 0)
			return fault(v, SBX_AUDIT_VERIFY_ANCHOR_MISMATCH, rec->seq,
				     "the record differs from the anchor (rewritten after the tip "
				     "was sent)");
	}
	return 0;
}

int sbx_audit_verify_line(struct sbx_audit_verify *v, const char *line, size_t len)
{
	struct sbx_audit_record rec;
	uint8_t mac[SBX_AUDIT_MAC_BYTES];
	uint64_t epoch;

	if (v->failed)
		return 1;
	if (sbx_audit_record_parse(line, len, &rec) < 0)
		return fault(v, SBX_AUDIT_VERIFY_PARSE, v->started ? v->seq + 1 : 0,
			     "not an audit record");
	if (!v->started && start_chain(v, &rec) > 0)
		return 1;
	if (rec.seq <= v->seq)
		return fault(v, SBX_AUDIT_VERIFY_SEQ_DUP, rec.seq,
			     "seq %" PRIu64 " after seq %" PRIu64, rec.seq, v->seq);
	if (rec.seq > v->seq + 1)
		return fault(v, SBX_AUDIT_VERIFY_SEQ_GAP, v->seq + 1,
			     "seq %" PRIu64 " follows seq %" PRIu64, rec.seq, v->seq);
	epoch = v->epoch;
	if (rec.has_epoch) {
		if (rec.epoch != v->epoch && rec.epoch != v->epoch + 1)
			return fault(v, SBX_AUDIT_VERIFY_MAC_MISMATCH, rec.seq,
				     "key epoch %" PRIu64 " where %" PRIu64 " or the next was due",
				     rec.epoch, v->epoch);
		epoch = rec.epoch;
	}
	if (rec.has_prev && v->seq + 1 != v->first_seq &&
	    (rec.prev_seq != v->seq || sodium_memcmp(rec.prev_mac, v->mac, sizeof(v->mac)) != 0))
		return fault(v, SBX_AUDIT_VERIFY_MAC_MISMATCH, rec.seq,
			     "the rotation header does not name the previous record");
	sbx_audit_state_mac(key_for(v, epoch), v->mac, line, rec.body_len, mac);
	if (sodium_memcmp(mac, rec.mac, sizeof(mac)) != 0)
		return fault(v, SBX_AUDIT_VERIFY_MAC_MISMATCH, rec.seq,
			     "the mac does not match the record and the chain");
	v->epoch = epoch;
	v->seq = rec.seq;
	memcpy(v->mac, rec.mac, sizeof(v->mac));
	v->res.records++;
	v->res.tip_seq = rec.seq;
	memcpy(v->res.tip_mac, rec.mac_hex, sizeof(v->res.tip_mac));
	return check_anchors(v, &rec);
}

/* A good audit.opened names the fingerprint of the first key: tell a wrong key file apart. */
static void note_key(struct sbx_audit_verify *v, const char *line, size_t len)
{
	static const char needle[] = "\"genesis_fp\":\"";
	const char *p = memmem(line, len, needle, sizeof(needle) - 1);

	if (p && (size_t)(line + len - p) > sizeof(needle) - 1 + SBX_AUDIT_FP_HEX &&
	    memcmp(p + sizeof(needle) - 1, v->fp, SBX_AUDIT_FP_HEX) != 0)
		v->res.key_mismatch = true;
}

struct file_order {
	char *path;
	uint64_t first;
	size_t index;
};

static int order_cmp(const void *x, const void *y)
{
	const struct file_order *a = x, *b = y;

	if (a->first != b->first)
		return a->first < b->first ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

static int first_seq(const char *path, uint64_t *ret)
{
	FILE *f = fopen(path, "re");
	struct sbx_audit_record rec;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return negative_errno();
	n = getline(&line, &cap, f);
	*ret = UINT64_MAX;
	if (n > 0 && line[n - 1] == '\n' && sbx_audit_record_parse(line, (size_t)n - 1, &rec) == 0)
		*ret = rec.seq;
	free(line);
	(void)fclose(f);
	return 0;
}

static int verify_file(struct sbx_audit_verify *v, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int r = 0;

	if (!f)
		return negative_errno();
	v->file = path;
	v->lineno = 0;
	errno = 0;
	while (!v->failed && (n = getline(&line, &cap, f)) > 0) {
		v->lineno++;
		if (line[n - 1] != '\n') {
			(void)fault(v, SBX_AUDIT_VERIFY_TRUNCATED, v->started ? v->seq + 1 : 0,
				    "the last line is incomplete (torn or cut)");
			break;
		}
		note_key(v, line, (size_t)n - 1);
		(void)sbx_audit_verify_line(v, line, (size_t)n - 1);
	}
	if (!v->failed && ferror(f))
		r = -EIO;
	free(line);
	(void)fclose(f);
	return r;
}

int sbx_audit_verify_files(struct sbx_audit_verify *v, char *const *paths, size_t n)
{
	_cleanup_free_ struct file_order *order = calloc(n ? n : 1, sizeof(*order));
	int r;

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		order[i] = (struct file_order){paths[i], 0, i};
		r = first_seq(paths[i], &order[i].first);
		if (r < 0)
			/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_ frees it */
			return r;
	}
	qsort(order, n, sizeof(*order), order_cmp);
	for (size_t i = 0; i < n && !v->failed; i++) {
		r = verify_file(v, order[i].path);
		if (r < 0)
			return r;
	}
	return 0;
}

void sbx_audit_verify_finish(struct sbx_audit_verify *v, struct sbx_audit_verify_result *ret)
{
	v->file = NULL;
	v->lineno = 0;
	for (size_t i = 0; i < v->n_anchors && !v->failed; i++) {
		const struct anchor *a = &v->anchors[i];
		if (a->seen)
			continue;
		if (!v->started || a->seq > v->seq)
			(void)fault(v, SBX_AUDIT_VERIFY_TRUNCATED, v->started ? v->seq + 1 : 1,
				    "the log ends before the anchor at seq %" PRIu64, a->seq);
		else
			(void)fault(v, SBX_AUDIT_VERIFY_ANCHOR_MISMATCH, a->seq,
				    "the anchor's seq %" PRIu64
				    " precedes the first record (%" PRIu64 ")",
				    a->seq, v->first_seq);
	}
	*ret = v->res;
	if (!v->failed)
		ret->reason = SBX_AUDIT_VERIFY_OK;
}
