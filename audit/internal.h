/* SPDX-License-Identifier: MIT */
/*
 * Shared inside audit/ only: the key state (audit-state.c), the record parser
 * (audit-record.c) and the chain constants that the writer and the verifier must agree on.
 * Key bytes live in sodium_malloc memory (locked, no dump, wiped on fork) and are wiped
 * (sodium_memzero) before they are freed or replaced by the next epoch's key.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"

#define SBX_AUDIT_KEY_BYTES 32UL
#define SBX_AUDIT_MAC_BYTES 32U
/* MAC input: DOMAIN (with its NUL) | previous mac (32 raw bytes, zeros before seq 1) | the
 * line's bytes from '{' up to, not including, `,"mac":"`. */
#define SBX_AUDIT_DOMAIN     "sbx-audit-v1"
#define SBX_AUDIT_RATCHET    "sbx-audit-ratchet-v1"
#define SBX_AUDIT_FP_DOMAIN  "sbx-audit-fingerprint-v1"
#define SBX_AUDIT_MAC_SUFFIX ",\"mac\":\""
/* `,"mac":"` + 64 hex + `"}` */
#define SBX_AUDIT_SUFFIX_LEN (sizeof(SBX_AUDIT_MAC_SUFFIX) - 1 + SBX_AUDIT_MAC_HEX + 2)
/* A verifier derives at most this many epochs (a forged epoch must not make it spin). */
#define SBX_AUDIT_EPOCH_MAX (1U << 20)

/* The state file (docs/audit.md "Files"), replaced atomically at init, ratchet, rotation and
 * close. seq/mac are the chain tip at that moment; the log's own tail is authoritative when it
 * is at or past it. */
struct sbx_audit_state {
	uint8_t *key; /* SBX_AUDIT_KEY_BYTES of sodium_malloc memory, or NULL */
	uint64_t epoch;
	uint64_t epoch_seq;  /* seq of the epoch's first record (its audit.ratcheted) */
	uint64_t epoch_time; /* unix seconds when the epoch began */
	uint64_t seq;
	uint8_t mac[SBX_AUDIT_MAC_BYTES];
	char genesis_fp[SBX_AUDIT_FP_HEX + 1]; /* fingerprint of the first key */
};

/* 32 zero bytes of locked key memory. -ENOMEM. */
int sbx_audit_state_key_new(uint8_t **ret);
/* Wipes and frees (sodium_free); takes NULL. */
void sbx_audit_state_key_free(uint8_t *key);
/* Replaces key by its successor BLAKE2b-256(key, "sbx-audit-ratchet-v1"), in place; the old
 * bytes are gone when it returns. */
void sbx_audit_state_ratchet(uint8_t *key);
void sbx_audit_state_mac(const uint8_t *key, const uint8_t prev[SBX_AUDIT_MAC_BYTES],
			 const char *body, size_t len, uint8_t ret[SBX_AUDIT_MAC_BYTES]);
void sbx_audit_state_fingerprint(const uint8_t *key, char ret[SBX_AUDIT_FP_HEX + 1]);
/* Lowercase hex of n bytes into out (2n + 1). */
void sbx_audit_state_hex(const uint8_t *in, size_t n, char *out);
/* Exactly 2n lowercase or uppercase hex digits to n bytes. -EINVAL. */
int sbx_audit_state_unhex(const char *in, size_t hexlen, uint8_t *out, size_t n);

/* Loads a state file (no symlinks, regular, no group/other bits: -EPERM), key into locked
 * memory. -ENOENT, -EBADMSG. ret is filled only on success. */
int sbx_audit_state_load(const char *path, struct sbx_audit_state *ret);
/* Writes path atomically (tmp, fsync, rename, fsync dir); with create_only, never replaces
 * an existing file (-EEXIST). */
int sbx_audit_state_save(const char *path, const struct sbx_audit_state *st, bool create_only);
/* Wipes and frees the key; the rest is zeroed. */
void sbx_audit_state_clear(struct sbx_audit_state *st);
/* Reads a key file ("64 hex digits", whitespace around it allowed) into locked memory.
 * -ENOENT, -EBADMSG, -errno. */
int sbx_audit_state_read_key(const char *path, uint8_t **ret);
/* fsync of the directory that holds path. */
int sbx_audit_state_sync_dir(const char *path);

/* One parsed record line (without its newline). */
struct sbx_audit_record {
	uint64_t seq;
	char event[64];
	char ts[40];
	bool has_epoch; /* audit.* records carry their key epoch */
	uint64_t epoch;
	bool has_prev; /* audit.rotated: the previous file's tip */
	uint64_t prev_seq;
	uint8_t prev_mac[SBX_AUDIT_MAC_BYTES];
	uint8_t mac[SBX_AUDIT_MAC_BYTES];
	char mac_hex[SBX_AUDIT_MAC_HEX + 1];
	size_t body_len; /* bytes covered by the MAC */
};

/* Parses one line: a JSON object (UTF-8, no duplicate keys) that starts `{"seq":` and ends
 * `,"mac":"<64 hex>"}`, with seq >= 1, string ts and event. -EBADMSG otherwise. Pure: no
 * allocation survives, safe on any input (fuzzed). */
int sbx_audit_record_parse(const char *line, size_t len, struct sbx_audit_record *ret);

/* The writer (audit.c, audit-open.c). */
#define SBX_AUDIT_TS_LEN 27U /* 2006-01-02T15:04:05.000000Z */

struct sbx_audit_list {
	char **v; /* record bodies: everything between `{"seq":N,` and `,"mac"` */
	size_t n, cap, bytes;
};

struct sbx_audit {
	char *path, *state_path;
	enum sbx_audit_durability durability;
	uint64_t rotate_size, ratchet_records, ratchet_seconds, tip_records;
	size_t queue_max, queue_bytes;
	int fd;
	uint64_t off;		   /* file size as written */
	struct sbx_audit_state st; /* key, epoch; seq/mac = the tip as written */
	uint64_t committed_seq;	   /* the tip as durable */
	uint8_t committed_mac[SBX_AUDIT_MAC_BYTES];
	uint64_t committed_off;
	struct sbx_audit_list pend;  /* written since the last commit */
	struct sbx_audit_list queue; /* not written (unavailable) */
	bool available;
	int error;
	char down_ts[SBX_AUDIT_TS_LEN + 1];
	uint64_t down_us;
	uint64_t dropped_now; /* lost in this outage */
	const char *header;   /* the next record written must be audit.rotated with this reason */
	char *prev_file;      /* for that header: the file it follows (NULL: unknown) */
	uint64_t tip_seq;     /* last tip sent to the journal */
	uint64_t ratchet_retry_s;
	bool busy;
	char *line; /* SBX_AUDIT_LINE_MAX */
	struct sbx_audit_stats stats;
};

uint64_t sbx_audit_now_us(void);
void sbx_audit_format_ts(uint64_t us, char ret[SBX_AUDIT_TS_LEN + 1]);
/* A malloc'd record body. -EINVAL (event, task), -E2BIG, -ENOMEM. */
int sbx_audit_body(const char *ts, const char *event, const struct sbx_audit_peer *peer,
		   const char *task, const char *fields, char **ret);
/* Seals body as the next record and writes it; on failure nothing of it stays in the file. */
int sbx_audit_seal_write(struct sbx_audit *a, const char *body);
/* fdatasync + "still linked"; on success the written tip becomes the committed one. */
int sbx_audit_sync(struct sbx_audit *a);
void sbx_audit_list_clear(struct sbx_audit_list *l);
/* Rolls back to the last commit, queues the turn, marks the log unavailable (first_ts: the
 * first record not written, for audit.unavailable). */
void sbx_audit_fail(struct sbx_audit *a, int r, const char *first_ts);
/* audit-open.c: a new file at path (the old one was removed or rotated away). */
int sbx_audit_reopen(struct sbx_audit *a, const char *reason);
/* Writes the pending audit.rotated header record (not committed). */
int sbx_audit_write_header(struct sbx_audit *a);
/* Rotates now (pending must be empty). */
int sbx_audit_rotate_now(struct sbx_audit *a, const char *reason);
