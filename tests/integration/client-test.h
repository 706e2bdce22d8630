/* SPDX-License-Identifier: MIT */
/*
 * A small blocking client of sbxd's socket for integration tests.
 *
 * sbx_client_test_*: JSON lines over the socket with timeouts. Every byte the daemon sends is
 * also kept in a transcript, so a test can scan all replies for a canary. Lines for other ids
 * than the one being waited for are kept in order for later calls, so requests may be
 * multiplexed on one connection.
 *
 * Nothing here asserts (also usable from threads); functions return 0 or -errno.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct sbx_client_test {
	int fd;
	char *buf; /* received bytes not yet split into lines */
	size_t len, cap;
	json_t *pending;  /* array of lines received but not yet consumed */
	char *transcript; /* every byte received, when keep_transcript */
	size_t transcript_len, transcript_cap;
	bool keep_transcript;
	size_t bad_lines; /* lines that were not a JSON object */
};

/* Connects to path. Returns 0 or -errno (ret untouched). */
int sbx_client_test_connect(const char *path, struct sbx_client_test **ret);
struct sbx_client_test *sbx_client_test_free(struct sbx_client_test *c);
static inline void sbx_client_test_freep(struct sbx_client_test **c)
{
	*c = sbx_client_test_free(*c);
}

/* Writes raw bytes (may be a partial line, invalid UTF-8, anything). Returns 0 or -errno. */
int sbx_client_test_send_raw(struct sbx_client_test *c, const void *data, size_t len);
/* Writes obj (not stolen) as one compact line. Returns 0 or -errno. */
int sbx_client_test_send(struct sbx_client_test *c, json_t *obj);
/* The same, stealing obj (also when it fails). */
int sbx_client_test_send_take(struct sbx_client_test *c, json_t *obj);
/* Parses fmt with json_pack (a new reference) and sends it. Returns 0 or -errno. */
int sbx_client_test_sendf(struct sbx_client_test *c, const char *fmt, ...);

/* The next line as an object (caller owns it), pending ones first. Returns 0, -ETIMEDOUT,
 * -EPIPE when the daemon closed the connection, or -errno. */
int sbx_client_test_next(struct sbx_client_test *c, int timeout_ms, json_t **ret);
/* The next line whose "id" is id (a string, or NULL for "id":null); other lines stay pending. */
int sbx_client_test_next_for(struct sbx_client_test *c, const char *id, int timeout_ms,
			     json_t **ret);
/* Sends req (stolen) and returns its first reply line. */
int sbx_client_test_call(struct sbx_client_test *c, json_t *req, int timeout_ms, json_t **ret);

/* Everything a run produced, collected until its exit event or error reply. */
struct sbx_client_test_task {
	char task[64]; /* from "accepted" (or from the error's "task") */
	bool accepted;
	bool started;
	int pid;	 /* from "started" */
	char *out, *err; /* decoded output, NUL-terminated (never NULL after a wait) */
	size_t out_len, err_len;
	size_t n_output;	/* number of output events */
	json_t *exit;		/* the exit event, or NULL */
	json_t *error;		/* the error reply's "error" object, or NULL */
	const char *reason;	/* exit.reason, or NULL (points into exit) */
	int code;		/* exit.code, or -1 when null */
	int signal;		/* exit.signal, or 0 */
	const char *error_code; /* error.code, or NULL */
	size_t bad_events;	/* lines for this id that fit no known event */
};

/* Reads every line for id until its exit event or error reply, within timeout_ms in all.
 * Returns 0, -ETIMEDOUT (what arrived so far is in ret), -EPIPE or -errno. */
int sbx_client_test_wait(struct sbx_client_test *c, const char *id, int timeout_ms,
			 struct sbx_client_test_task *ret);
/* Sends req (stolen; a run) and waits for its end as sbx_client_test_wait. */
int sbx_client_test_run(struct sbx_client_test *c, json_t *req, int timeout_ms,
			struct sbx_client_test_task *ret);
void sbx_client_test_task_done(struct sbx_client_test_task *t);

/* A run request: {"id":id,"op":"run","policy":"default","argv":[sh,-c,script]}. */
json_t *sbx_client_test_sh(const char *id, const char *script);
