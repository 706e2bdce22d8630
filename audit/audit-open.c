/* SPDX-License-Identifier: MIT */
/*
 * Opening the audit log and everything that starts a file: crash recovery of the tail (a torn
 * last line is moved to PATH.torn-SEQ and recorded, never silently cut), continuing the chain
 * from the log's tail or the state file, and rotation (rename, new file, audit.rotated header
 * with the previous file's tip). A new file is created 0600 and its directory fsynced, so a
 * crash after a rotation does not lose the new name.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include "audit/audit.h"
#include "audit/internal.h"
#include "common/fd-util.h"
#include "common/log.h"

#define OPEN_FLAGS (O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW)

struct tail {
	bool has_tip;
	struct sbx_audit_record tip;
	uint64_t cut;  /* where the good part ends */
	uint64_t size; /* file size */
};

/* Start of the line that ends just before end (buf[end] is its '\n' or the window's end). */
static size_t line_start(const char *buf, size_t end)
{
	while (end > 0 && buf[end - 1] != '\n')
		end--;
	return end;
}

/* Finds the last good record and whether a torn or unparsable last line follows it. */
static int scan_tail(int fd, struct tail *ret)
{
	const size_t max = 2 * (size_t)SBX_AUDIT_LINE_MAX + 2;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t win, end, ls;
	uint64_t base;
	ssize_t n;

	*ret = (struct tail){0};
	if (fstat(fd, &st) < 0)
		return negative_errno();
	ret->size = ret->cut = (uint64_t)st.st_size;
	if (st.st_size == 0)
		return 0;
	win = (uint64_t)st.st_size < max ? (size_t)st.st_size : max;
	base = (uint64_t)st.st_size - win;
	buf = malloc(win);
	if (!buf)
		return -ENOMEM;
	n = pread(fd, buf, win, (off_t)base);
	if (n != (ssize_t)win)
		return n < 0 ? negative_errno() : -EIO;
	end = win;
	if (buf[end - 1] == '\n') {
		ls = line_start(buf, end - 1);
		if ((ls > 0 || base == 0) &&
		    sbx_audit_record_parse(buf + ls, end - 1 - ls, &ret->tip) == 0) {
			ret->has_tip = true;
			return 0;
		}
		end = ls; /* the last line is complete but not a record: torn too */
	} else {
		end = line_start(buf, end);
	}
	if (end == 0 && base > 0)
		return -EBADMSG; /* no line boundary within two line lengths */
	ret->cut = base + end;
	if (end == 0)
		return 0; /* nothing good before the torn part */
	ls = line_start(buf, end - 1);
	if ((ls == 0 && base > 0) || sbx_audit_record_parse(buf + ls, end - 1 - ls, &ret->tip) < 0)
		return -EBADMSG; /* more than the last line is damaged: a human must look */
	ret->has_tip = true;
	return 0;
}

/* Copies [from, size) of the log to PATH.torn-SEQ (a new file), then cuts the log at from. */
static int move_aside(struct sbx_audit *a, uint64_t from, uint64_t size, uint64_t seq,
		      char **ret_name)
{
	_cleanup_free_ char *buf = malloc(size - from), *name = NULL;
	_cleanup_close_ int out = -1;
	ssize_t n;
	int r;

	if (!buf)
		return -ENOMEM;
	for (int i = 0; out < 0 && i < 100; i++) {
		free(name);
		name = NULL;
		if ((i ? asprintf(&name, "%s.torn-%" PRIu64 ".%d", a->path, seq, i)
		       : asprintf(&name, "%s.torn-%" PRIu64, a->path, seq)) < 0)
			/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_ frees it */
			return -ENOMEM;
		out = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0 && errno != EEXIST)
			return negative_errno();
	}
	if (out < 0)
		return -EEXIST;
	n = pread(a->fd, buf, size - from, (off_t)from);
	if (n != (ssize_t)(size - from))
		return n < 0 ? negative_errno() : -EIO;
	r = sbx_fd_write_all(out, buf, size - from);
	if (r < 0 || fsync(out) < 0 || ftruncate(a->fd, (off_t)from) < 0 || fsync(a->fd) < 0)
		return r < 0 ? r : negative_errno();
	(void)sbx_audit_state_sync_dir(a->path);
	*ret_name = TAKE_PTR(name);
	return 0;
}

int sbx_audit_write_header(struct sbx_audit *a)
{
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
	char ts[SBX_AUDIT_TS_LEN + 1], hex[SBX_AUDIT_MAC_HEX + 1], *body = NULL;
	int r;

	sbx_audit_state_hex(a->st.mac, sizeof(a->st.mac), hex);
	sbx_audit_fields_uint(&f, "epoch", a->st.epoch);
	sbx_audit_fields_str(&f, "reason", a->header);
	sbx_audit_fields_str(&f, "prev_file", a->prev_file);
	sbx_audit_fields_uint(&f, "prev_seq", a->st.seq);
	sbx_audit_fields_str(&f, "prev_mac", hex);
	sbx_audit_format_ts(sbx_audit_now_us(), ts);
	r = sbx_audit_body(ts, "audit.rotated", NULL, NULL, sbx_audit_fields_get(&f), &body);
	sbx_audit_fields_done(&f);
	if (r >= 0)
		r = sbx_audit_seal_write(a, body);
	free(body);
	return r;
}

int sbx_audit_reopen(struct sbx_audit *a, const char *reason)
{
	int fd = open(a->path, OPEN_FLAGS, 0600);
	struct stat st;

	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0 || st.st_size > 0) {
		/* Something else sits at our path: never append to a file we did not start. */
		(void)close(fd);
		return -EEXIST;
	}
	(void)sbx_audit_state_sync_dir(a->path);
	(void)close(a->fd);
	a->fd = fd;
	a->off = a->committed_off = 0;
	a->header = reason;
	free(a->prev_file);
	a->prev_file = NULL;
	return 0;
}

int sbx_audit_rotate_now(struct sbx_audit *a, const char *reason)
{
	_cleanup_free_ char *archive = NULL;
	char stamp[32], ts[SBX_AUDIT_TS_LEN + 1];
	struct stat ours, there;
	time_t now = time(NULL);
	struct tm tm;
	bool moved = false;
	int r;

	if (!a->available || a->pend.n > 0)
		return -EBUSY;
	if (fstat(a->fd, &ours) < 0)
		return negative_errno();
	(void)strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
	if (asprintf(&archive, "%s.%s.%" PRIu64, a->path, stamp, a->committed_seq) < 0)
		return -ENOMEM;
	/* logrotate (without copytruncate) may have moved the file already: then only reopen. */
	if (stat(a->path, &there) == 0 && there.st_ino == ours.st_ino &&
	    there.st_dev == ours.st_dev) {
		if (rename(a->path, archive) < 0)
			return log_warning_errno(errno, "audit: cannot rotate '%s'", a->path);
		moved = true;
	}
	r = sbx_audit_reopen(a, reason);
	if (r < 0) {
		if (moved)
			(void)rename(archive, a->path);
		return log_warning_errno(r, "audit: cannot start a new '%s'", a->path);
	}
	if (moved)
		a->prev_file = strdup(strrchr(archive, '/') ? strrchr(archive, '/') + 1 : archive);
	r = sbx_audit_write_header(a);
	if (r >= 0)
		r = sbx_audit_sync(a);
	if (r < 0) {
		sbx_audit_format_ts(sbx_audit_now_us(), ts);
		sbx_audit_fail(a, r, ts);
		return r;
	}
	a->header = NULL;
	a->stats.rotations++;
	r = sbx_audit_state_save(a->state_path, &a->st, false);
	if (r < 0)
		log_warning_errno(r, "audit: cannot save '%s', ignoring", a->state_path);
	log_info("audit: rotated '%s'%s%s", a->path, moved ? " to " : "", moved ? archive : "");
	return 0;
}

/* One audit.recovered record with the fields given (done here, whatever happens). */
static int write_recovered(struct sbx_audit *a, const char *ts, struct sbx_audit_fields *f)
{
	char *body = NULL;
	int r = sbx_audit_body(ts, "audit.recovered", NULL, NULL, sbx_audit_fields_get(f), &body);

	if (r >= 0)
		r = sbx_audit_seal_write(a, body);
	free(body);
	sbx_audit_fields_done(f);
	return r;
}

/* The records that start an opened log: header, recoveries, audit.opened. */
static int write_opening(struct sbx_audit *a, const char *torn_name, uint64_t torn_bytes,
			 const struct tail *t, bool behind, uint64_t unclean_seq)
{
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
	char ts[SBX_AUDIT_TS_LEN + 1], *body = NULL;
	int r = 0;

	if (a->header)
		r = sbx_audit_write_header(a);
	sbx_audit_format_ts(sbx_audit_now_us(), ts);
	if (r >= 0 && torn_name) {
		sbx_audit_fields_uint(&f, "epoch", a->st.epoch);
		sbx_audit_fields_str(&f, "reason", "torn_line");
		sbx_audit_fields_uint(&f, "torn_bytes", torn_bytes);
		sbx_audit_fields_str(&f, "moved_to",
				     strrchr(torn_name, '/') ? strrchr(torn_name, '/') + 1
							     : torn_name);
		r = write_recovered(a, ts, &f);
	}
	if (r >= 0 && behind) {
		sbx_audit_fields_uint(&f, "epoch", a->st.epoch);
		sbx_audit_fields_str(&f, "reason", "log_behind_state");
		sbx_audit_fields_uint(&f, "log_seq", t->tip.seq);
		sbx_audit_fields_uint(&f, "state_seq", a->st.seq);
		r = write_recovered(a, ts, &f);
	}
	if (r >= 0 && unclean_seq) {
		sbx_audit_fields_uint(&f, "epoch", a->st.epoch);
		sbx_audit_fields_str(&f, "reason", "unclean_stop");
		sbx_audit_fields_uint(&f, "log_seq", t->tip.seq);
		sbx_audit_fields_uint(&f, "state_seq", unclean_seq - 1);
		r = write_recovered(a, ts, &f);
	}
	sbx_audit_fields_uint(&f, "epoch", a->st.epoch);
	sbx_audit_fields_str(&f, "genesis_fp", a->st.genesis_fp);
	sbx_audit_fields_str(&f, "durability",
			     a->durability == SBX_AUDIT_FSYNC ? "fsync" : "group");
	if (r >= 0)
		r = sbx_audit_body(ts, "audit.opened", NULL, NULL, sbx_audit_fields_get(&f), &body);
	sbx_audit_fields_done(&f);
	if (r >= 0)
		r = sbx_audit_seal_write(a, body);
	free(body);
	if (r >= 0)
		r = sbx_audit_sync(a);
	return r;
}

static int open_log(struct sbx_audit *a)
{
	_cleanup_free_ char *torn_name = NULL;
	uint64_t unclean_seq = 0; /* state seq + 1 when the last writer did not close */
	struct tail t;
	bool behind = false;
	int r;

	a->fd = open(a->path, OPEN_FLAGS, 0600);
	if (a->fd < 0)
		return negative_errno();
	r = scan_tail(a->fd, &t);
	if (r < 0)
		return r;
	if (t.cut < t.size) {
		uint64_t seq = (t.has_tip ? t.tip.seq : a->st.seq) + 1;
		r = move_aside(a, t.cut, t.size, seq, &torn_name);
		if (r < 0)
			return r;
		log_warning("audit: torn last line of '%s' (%" PRIu64 " bytes) moved to '%s'",
			    a->path, t.size - t.cut, torn_name);
	}
	/* A clean close saves the tip in the state; a log past it was left by a writer that
	 * died (SIGKILL, power loss). Recorded once: a torn line already says as much. */
	if (t.has_tip && t.tip.seq > a->st.seq && !torn_name) {
		unclean_seq = a->st.seq + 1;
		log_warning("audit: '%s' was not closed by its last writer (seq %" PRIu64
			    ", state at %" PRIu64 "): recording the unclean stop",
			    a->path, t.tip.seq, a->st.seq);
	}
	if (t.has_tip && t.tip.seq >= a->st.seq) {
		a->st.seq = t.tip.seq;
		memcpy(a->st.mac, t.tip.mac, sizeof(a->st.mac));
	} else if (t.has_tip) {
		/* The log lost records the state saw: continue from the state, so verify flags the
		 * gap, and say so. */
		behind = true;
		log_error("audit: '%s' ends at seq %" PRIu64 " but the state saw seq %" PRIu64,
			  a->path, t.tip.seq, a->st.seq);
	} else if (a->st.seq > 0) {
		a->header = "reopened";
	}
	a->off = a->committed_off = t.cut;
	a->committed_seq = a->st.seq;
	memcpy(a->committed_mac, a->st.mac, sizeof(a->committed_mac));
	r = write_opening(a, torn_name, t.size - t.cut, &t, behind, unclean_seq);
	if (r < 0)
		return r;
	a->header = NULL;
	a->tip_seq = a->committed_seq;
	return 0;
}

int sbx_audit_open(const struct sbx_audit_config *cfg, struct sbx_audit **ret)
{
	struct sbx_audit *a;
	int r;

	if (!cfg || !cfg->path || !cfg->state_path)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fd = -1;
	a->available = true;
	a->durability = cfg->durability;
	a->rotate_size = cfg->rotate_size;
	a->ratchet_records = cfg->ratchet_records ? cfg->ratchet_records : 10000;
	a->ratchet_seconds = cfg->ratchet_seconds ? cfg->ratchet_seconds : 3600;
	a->tip_records = cfg->tip_records ? cfg->tip_records : 1000;
	a->queue_max = cfg->queue_max ? cfg->queue_max : 4096;
	a->queue_bytes = cfg->queue_bytes ? cfg->queue_bytes : 4U << 20;
	a->path = strdup(cfg->path);
	a->state_path = strdup(cfg->state_path);
	a->line = malloc(SBX_AUDIT_LINE_MAX);
	if (!a->path || !a->state_path || !a->line) {
		r = -ENOMEM;
		goto fail;
	}
	r = sbx_audit_state_load(a->state_path, &a->st);
	if (r >= 0)
		r = open_log(a);
	if (r < 0)
		goto fail;
	*ret = a;
	return 0;
fail:
	a->available = false;
	a->queue_max = 0;
	(void)sbx_audit_close(a);
	return r;
}
