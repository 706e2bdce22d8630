/* SPDX-License-Identifier: MIT */
/*
 * The audit log writer (DESIGN.md "Audit log", docs/audit.md): append-only JSON lines, each
 * record MAC-chained to the previous one under a forward-ratcheting key. Synchronous and
 * loop-agnostic: plain write(2) and fsync, no threads, no callbacks; sbxd calls it from its
 * libuv loop. Never takes or prints a secret value; the only key bytes it ever emits are the
 * first key, once, from sbx_audit_state_init().
 *
 * Write-before-reply contract:
 * - SBX_AUDIT_FSYNC: sbx_audit_append() returning 0 means the line is in the file and
 *   fdatasync()ed: the caller may act and reply at once.
 * - SBX_AUDIT_GROUP: sbx_audit_append() returning 0 means the line was written (page cache)
 *   but is not yet durable. The caller calls sbx_audit_commit() once per loop turn (e.g. from a
 *   uv_check_t, or right before it sends the replies of that turn) and must not send a reply,
 *   start a sandbox or release anything that depends on a record of that turn until commit
 *   returned 0. When commit fails, NONE of the records appended since the previous successful
 *   commit is in the log (they were rolled back and queued, with their original ts): the caller
 *   treats them as not written (answers audit_unavailable, does not start the task).
 * - A negative return from append means the record is not in the log: it is queued in memory
 *   and written, in order, when the log works again (sbx_audit_tick()), unless the queue is
 *   full (-ENOBUFS: it was counted in `dropped`, which the audit.recovered record reports).
 * - While sbx_audit_available() is false, sbxd must refuse new work with audit_unavailable;
 *   records of running tasks keep being appended (they queue).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "common/macro.h"

#define SBX_AUDIT_STATE_NAME "audit.state" /* in the state dir (sbxd's audit.state_dir) */
#define SBX_AUDIT_KEY_NAME   "audit.key"   /* the first key, --dev only */
#define SBX_AUDIT_LOG_NAME   "audit.jsonl"
#define SBX_AUDIT_MAC_HEX    64U
#define SBX_AUDIT_FP_HEX     16U
#define SBX_AUDIT_LINE_MAX   (64UL * 1024UL) /* a whole record line, newline included */

enum sbx_audit_durability {
	SBX_AUDIT_GROUP, /* one fdatasync per sbx_audit_commit() (default) */
	SBX_AUDIT_FSYNC, /* one fdatasync per record */
};

struct sbx_audit_config {
	const char *path;	/* the log, e.g. /var/log/sbx/audit.jsonl */
	const char *state_path; /* key, epoch and chain tip, e.g. /var/lib/sbx/audit.state */
	enum sbx_audit_durability durability;
	uint64_t rotate_size;	  /* rotate when the file reaches this size; 0: never by size */
	uint64_t ratchet_records; /* records per key epoch; 0: 10000 */
	uint64_t ratchet_seconds; /* seconds per key epoch; 0: 3600 */
	uint64_t tip_records;	  /* records between "audit tip" journal lines; 0: 1000 */
	size_t queue_max;	  /* records kept while unavailable; 0: 4096 */
	size_t queue_bytes;	  /* bytes kept while unavailable; 0: 4 MiB */
};

/* Who asked (SO_PEERCRED). */
struct sbx_audit_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

struct sbx_audit_stats {
	bool available;
	int error;	    /* the -errno that made the log unavailable, 0 when available */
	uint64_t seq;	    /* last record in the log */
	uint64_t epoch;	    /* key epoch */
	uint64_t written;   /* records written since open */
	uint64_t queued;    /* records waiting now */
	uint64_t dropped;   /* records lost because the queue was full, since open */
	uint64_t outages;   /* times the log became unavailable */
	uint64_t rotations; /* files rotated */
};

struct sbx_audit;

/* Creates a fresh state file (mode 0600, never replaces one: -EEXIST) holding a new random
 * first key at epoch 0, and shows that key exactly once: as 64 hex digits and a newline on
 * show_fd (>= 0), and/or in a new 0600 file key_path (non-NULL; -EEXIST if it exists). Neither:
 * -EINVAL. ret_fp (may be NULL) gets the key's fingerprint (not secret). -errno on I/O. */
int sbx_audit_state_init(const char *state_path, const char *key_path, int show_fd,
			 char ret_fp[SBX_AUDIT_FP_HEX + 1]);

/* Opens the log for appending (creating it 0600 if missing) with the state file's key: a torn
 * last line from a crash is moved to PATH.torn-SEQ and recorded (audit.recovered), a missing
 * ratchet record is completed, and an audit.opened record is written and committed.
 * -ENOENT when the state file is missing (run `sbxctl audit init`), -EBADMSG when the state or
 * the log's tail is corrupt, -errno on I/O. *ret untouched on failure. */
int sbx_audit_open(const struct sbx_audit_config *cfg, struct sbx_audit **ret);

/* Commits, writes the state (tip), logs the tip to the journal and frees. Takes NULL. */
struct sbx_audit *sbx_audit_close(struct sbx_audit *a);
static inline void sbx_audit_closep(struct sbx_audit **a)
{
	*a = sbx_audit_close(*a);
}

struct sbx_audit_fields;

/* Appends one record. event: [a-z0-9_.]{1,63}; peer, task and fields may be NULL (peer and
 * task are then null in the record). 0, or -EINVAL (bad event or task), -E2BIG (line over
 * SBX_AUDIT_LINE_MAX), the builder's sticky error, -ENOBUFS (unavailable and the queue is
 * full: dropped and counted), or the -errno of the failed write (-ENOSPC, -EIO...: queued).
 * In fsync mode the record is durable on 0. See the contract at the top. */
int sbx_audit_append(struct sbx_audit *a, const char *event, const struct sbx_audit_peer *peer,
		     const char *task, const struct sbx_audit_fields *fields);

/* Group mode: makes the records of this turn durable (one fdatasync), then rotates by size,
 * ratchets the key when the epoch is over, and logs the tip when due. 0, or the -errno that
 * made the log unavailable (the turn's records are rolled back and queued). Cheap when there
 * is nothing to commit. In fsync mode it only does the housekeeping. */
int sbx_audit_commit(struct sbx_audit *a);

/* Call from a timer (about once a second): when unavailable, retries writing the queue and,
 * on success, records audit.unavailable, the queued records and audit.recovered (with how
 * long the log was down); when available, commits and ratchets on time. 0 when the log is
 * available afterwards, else the -errno that still keeps it down. */
int sbx_audit_tick(struct sbx_audit *a);

/* Rotates now (SIGUSR1): commits, renames PATH to PATH.YYYYmmddTHHMMSSZ.SEQ unless it was
 * already moved away (logrotate without copytruncate), starts PATH with an audit.rotated
 * record carrying the old file's last mac. -errno; on failure logging goes on in the old
 * file. */
int sbx_audit_rotate(struct sbx_audit *a);

bool sbx_audit_available(const struct sbx_audit *a);
void sbx_audit_get_stats(const struct sbx_audit *a, struct sbx_audit_stats *ret);

/* The fields builder: a `"k":v,...` fragment, JSON escaping done right, keys in the order of
 * the calls (docs/audit.md fixes the order per event). An error (allocation, too long, a bad
 * key) sticks, and sbx_audit_append() returns it: callers need not check each call.
 *   struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
 *   sbx_audit_fields_str(&f, "policy", "default");
 *   r = sbx_audit_append(a, "task.started", &peer, "t-1", &f);
 *   sbx_audit_fields_done(&f); */
struct sbx_audit_fields {
	char *buf;
	size_t len, cap;
	int error;
};
#define SBX_AUDIT_FIELDS_INIT \
	{                     \
		NULL, 0, 0, 0 \
	}
void sbx_audit_fields_str(struct sbx_audit_fields *f, const char *key, const char *value);
void sbx_audit_fields_int(struct sbx_audit_fields *f, const char *key, int64_t value);
void sbx_audit_fields_uint(struct sbx_audit_fields *f, const char *key, uint64_t value);
void sbx_audit_fields_bool(struct sbx_audit_fields *f, const char *key, bool value);
/* An array of n strings (NULL entries become null). */
void sbx_audit_fields_strv(struct sbx_audit_fields *f, const char *key, const char *const *v,
			   size_t n);
/* The fragment ("" when empty), or NULL after an error. Owned by f. */
const char *sbx_audit_fields_get(const struct sbx_audit_fields *f);
/* The sticky error (-ENOMEM, -E2BIG, -EINVAL for a bad key) or 0. */
int sbx_audit_fields_error(const struct sbx_audit_fields *f);
void sbx_audit_fields_done(struct sbx_audit_fields *f);

/* JSON-escapes s into out (a JSON string with its quotes). Returns the length written, or
 * -E2BIG when out is too small. Shared with the writer. */
long sbx_audit_fields_quote(const char *s, char *out, size_t outlen);
