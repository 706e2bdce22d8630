/* SPDX-License-Identifier: MIT */
/*
 * The audit log verifier (`sbxctl audit verify`, docs/audit.md "Verifying"): given the first
 * audit key, it re-derives every epoch's key, recomputes each record's MAC over the raw line
 * bytes and the previous MAC, and checks seq continuity across rotated files and any anchors
 * (SEQ:MAC tips from the journal). It stops at the first fault and names its seq and reason.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"

enum sbx_audit_verify_reason {
	SBX_AUDIT_VERIFY_OK,
	SBX_AUDIT_VERIFY_MAC_MISMATCH,	  /* edited, forged, or signed with another key/epoch */
	SBX_AUDIT_VERIFY_SEQ_GAP,	  /* records missing (deleted, reordered, head cut) */
	SBX_AUDIT_VERIFY_SEQ_DUP,	  /* a seq again or going back (duplicated, reordered) */
	SBX_AUDIT_VERIFY_PARSE,		  /* a line that is not a record */
	SBX_AUDIT_VERIFY_ANCHOR_MISMATCH, /* the record at an anchor's seq has another mac */
	SBX_AUDIT_VERIFY_TRUNCATED,	  /* a torn last line, or the log ends before an anchor */
	_SBX_AUDIT_VERIFY_MAX,
};

#define SBX_AUDIT_VERIFY_ANCHORS_MAX 64

struct sbx_audit_verify_result {
	enum sbx_audit_verify_reason reason;
	uint64_t bad_seq; /* the first bad seq (for a gap: the first missing one) */
	uint64_t records; /* records verified good */
	uint64_t tip_seq; /* last good record */
	char tip_mac[SBX_AUDIT_MAC_HEX + 1];
	const char *file;  /* where the fault is (a path given to verify_files), or NULL */
	uint64_t line;	   /* its line number in that file (1-based), or 0 */
	char detail[160];  /* a short human explanation */
	bool key_mismatch; /* the log names another first key than the one given */
};

struct sbx_audit_verify;

/* "mac_mismatch", "seq_gap", ...; "ok" for OK. */
const char *sbx_audit_verify_reason_name(enum sbx_audit_verify_reason r);

/* A verifier holding the first key read from key_file (64 hex digits). -ENOENT, -EBADMSG,
 * -ENOMEM. *ret untouched on failure. */
int sbx_audit_verify_new(const char *key_file, struct sbx_audit_verify **ret);
struct sbx_audit_verify *sbx_audit_verify_free(struct sbx_audit_verify *v);
static inline void sbx_audit_verify_freep(struct sbx_audit_verify **v)
{
	*v = sbx_audit_verify_free(*v);
}

/* Adds an anchor "SEQ:MAC" (64 hex). -EINVAL when malformed, -E2BIG past the maximum. */
int sbx_audit_verify_add_anchor(struct sbx_audit_verify *v, const char *anchor);

/* Feeds one line (without its newline). Returns 0 while all is well, 1 once a fault was found
 * (later lines are ignored). */
int sbx_audit_verify_line(struct sbx_audit_verify *v, const char *line, size_t len);
/* Feeds files in chain order: sorted by their first record's seq, whatever order they are
 * given in; a last line without its newline is a truncation. 0 (the verdict is in the
 * result), or -errno when a file cannot be read (nothing verified is claimed then). */
int sbx_audit_verify_files(struct sbx_audit_verify *v, char *const *paths, size_t n);
/* The verdict, with the end-of-log checks (anchors past the end). */
void sbx_audit_verify_finish(struct sbx_audit_verify *v, struct sbx_audit_verify_result *ret);
