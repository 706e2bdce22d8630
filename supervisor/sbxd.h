/* SPDX-License-Identifier: MIT */
/*
 * sbxd's shared state: the server (one per process, one libuv loop), its connections and
 * its tasks. server.c owns connections and framing, tasks.c (with task-request.c and
 * task-output.c) owns the task lifecycle, main.c owns start-up, signals and reloads.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "supervisor/authz.h"
#include "supervisor/config.h"
#include "supervisor/frame.h"
#include "supervisor/policies.h"
#include "supervisor/protocol.h"
#include "supervisor/ratelimit.h"

struct sbx_audit;
struct sbx_keyring;
struct sbx_task;

struct sbx_stats {
	uint64_t connections;
	uint64_t requests;
	uint64_t tasks_run;
	uint64_t tasks_failed; /* setup failures, secrets refused */
	uint64_t tasks_denied;
	uint64_t by_code[32];
};

struct sbx_conn {
	uv_pipe_t pipe;
	struct sbx_server *srv;
	struct sbx_peer peer;
	unsigned ops;
	struct sbx_frame frame; /* the partial request line; see frame.h */
	size_t wqueued;		/* bytes handed to uv_write, not yet written */
	bool throttled;		/* task pipes paused because wqueued is high */
	bool closing;
	uv_timer_t idle;
	unsigned refs;	  /* pipe + idle timer + each task and write that points here */
	unsigned n_tasks; /* tasks started or queued from this connection */
	struct sbx_conn *next, *prev;
};

struct sbx_server {
	uv_loop_t *loop;
	struct sbx_config *cfg;
	struct sbx_policy_set *policies;
	struct sbx_keyring *keyring;
	uv_pipe_t listener;
	bool listening;
	bool draining;
	struct sbx_conn *conns;
	unsigned n_conns;
	struct sbx_task *tasks; /* running and queued, in start order */
	unsigned n_running;
	unsigned n_queued;
	uint64_t next_task;
	uv_timer_t drain_timer;
	struct sbx_audit *audit;
	uv_check_t audit_check;
	uv_timer_t audit_timer;
	struct sbx_stats stats;
	uv_check_t accept_check;	/* ends a loop turn's accept budget */
	unsigned accepted_turn;		/* connections accepted in this loop turn */
	bool accept_pending;		/* one waits in libuv for the next turn */
	bool fd_short;			/* refusing connections for want of file descriptors */
	uint64_t fd_refused;		/* connections refused in the current shortage */
	struct sbx_ratelimit *run_rate; /* per-uid task starts (server.c) */
};

/* server.c */
int sbx_server_listen(struct sbx_server *srv, int inherited_fd);
void sbx_server_stop_listening(struct sbx_server *srv);
/* Queues a line for the peer (takes ownership of line). Drops it if the connection closed. */
void sbx_conn_send(struct sbx_conn *c, char *line);
void sbx_conn_send_error(struct sbx_conn *c, const char *id, enum sbx_error code, const char *fmt,
			 ...) __attribute__((format(printf, 4, 5)));
void sbx_conn_ref(struct sbx_conn *c);
void sbx_conn_unref(struct sbx_conn *c);
void sbx_server_close_all(struct sbx_server *srv);

/* tasks.c */
void sbx_tasks_run(struct sbx_conn *c, struct sbx_request *req);
void sbx_tasks_cancel(struct sbx_conn *c, struct sbx_request *req);
void sbx_tasks_list(struct sbx_conn *c, struct sbx_request *req);
/* The connection went away: kill its tasks (reason "disconnected"). */
void sbx_tasks_conn_closed(struct sbx_conn *c);
/* The connection's write queue crossed a watermark: pause or resume its tasks' pipes. */
void sbx_tasks_throttle(struct sbx_conn *c, bool pause);
/* SIGTERM deadline passed: kill every task (reason "shutdown"). */
void sbx_tasks_kill_all(struct sbx_server *srv, const char *reason);

/* keys.c (the socket side of seal and rewrap) */
void sbx_keys_seal(struct sbx_conn *c, struct sbx_request *req);
void sbx_keys_rewrap(struct sbx_conn *c, struct sbx_request *req);
