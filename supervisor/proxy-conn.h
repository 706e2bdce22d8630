/* SPDX-License-Identifier: MIT */
/* Private to the proxy (proxy.c, proxy-conn.c): the per-task and per-connection state. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "supervisor/proxy-parse.h"
#include "supervisor/proxy.h"

#define SBX_PROXY_BACKLOG_UV	 64
#define SBX_PROXY_DENIED_RECORDS 64		   /* per task; then only counted */
#define SBX_PROXY_SETUP_MS	 30000		   /* head, resolution and connect, at most */
#define SBX_PROXY_PIPE		 (1024 * 1024)	   /* per direction, asked for */
#define SBX_PROXY_BURST		 ((size_t)4 << 20) /* per direction and wakeup, at most */
#define SBX_PROXY_ADDRS		 8		   /* checked addresses tried in turn */

struct sbx_proxy_conn;

struct sbx_proxy {
	uv_loop_t *loop;
	uv_tcp_t listener;
	const struct sbx_policy *policy;
	sbx_proxy_record_cb record;
	void *userdata;
	struct sbx_proxy_conn *conns;
	unsigned n_conns;
	uint64_t bytes; /* both ways, all connections so far */
	unsigned n_denied;
	uint64_t suppressed;
	unsigned refs; /* listener + each connection */
	bool stopped;
	bool stopped_records; /* the record callback is gone */
};

enum sbx_proxy_state {
	PX_HEAD,
	PX_RESOLVING,
	PX_CONNECTING,
	PX_OPEN,
	PX_DENYING,
	PX_CLOSING,
};

/* One direction of an open tunnel: bytes spliced from one socket into the pipe, then out of
 * it into the other socket. */
struct sbx_proxy_dir {
	int pipe[2];
	size_t size;	/* the pipe's capacity */
	size_t in_pipe; /* spliced in, not yet out */
	bool eof;	/* the source sent EOF */
	bool full;	/* splice in said EAGAIN with bytes in the pipe: wait for a drain */
	bool shut;	/* EOF passed on (shutdown(SHUT_WR) of the destination) */
};

struct sbx_proxy_conn {
	struct sbx_proxy *px;
	struct sbx_proxy_conn *next, *prev;
	enum sbx_proxy_state state;
	unsigned refs; /* the connection's life + each open handle + a pending resolution */
	uv_tcp_t client, origin;
	bool origin_open, retry;
	uv_timer_t timer;
	uv_getaddrinfo_t gai;
	bool resolving;
	uv_connect_t creq;
	uv_write_t wreq;  /* the 200 or the refusal, to the client */
	uv_write_t wreq2; /* the head and early bytes, to the origin */
	unsigned writes;  /* the 200 and the head still being written; then the relay starts */
	bool client_open, relaying;
	uv_poll_t poll[2]; /* while relaying: on fd[i], side i's socket (0 client, 1 origin) */
	int fd[2];
	unsigned polled[2];	     /* the UV_READABLE | UV_WRITABLE poll[i] waits for */
	struct sbx_proxy_dir dir[2]; /* [i]: from side i to side !i */
	struct sockaddr_storage addrs[SBX_PROXY_ADDRS];
	unsigned n_addrs, next_addr;
	char address[64]; /* the one connected to */
	struct sbx_proxy_req req;
	bool parsed;
	char *out;		      /* rewritten head or response text */
	uint64_t bytes_out, bytes_in; /* client -> origin, origin -> client */
	uint64_t t_start, last;
	size_t head_len;
	char head[SBX_PROXY_HEAD_MAX];
};

/* proxy.c */
void sbx_proxy_conn_release(struct sbx_proxy_conn *c);
void sbx_proxy_record(struct sbx_proxy *px, const char *event, struct sbx_audit_fields *f);
void sbx_proxy_record_denied(struct sbx_proxy_conn *c, const char *reason, const char *address);
/* host (only as the policy names it), port and method of c's request into f. */
void sbx_proxy_record_target(const struct sbx_proxy_conn *c, struct sbx_audit_fields *f);

/* proxy-conn.c */
void sbx_proxy_conn_start(struct sbx_proxy_conn *c, uv_stream_t *server);
/* Ends the connection (its proxy.closed record when it was open). reason: "closed", "idle",
 * "limit", "error", "stopped". */
void sbx_proxy_conn_close(struct sbx_proxy_conn *c, const char *reason);

/* proxy-relay.c */
/* Takes the two connected sockets over from their uv_tcp_t handles (closed here) and moves
 * bytes both ways with splice(2) until both directions ended or an error; the connection
 * ends through sbx_proxy_conn_close. Returns 0, or -errno (pipe2, dup, uv_poll_init) after
 * which the caller closes the connection; sbx_proxy_relay_stop releases what was opened. */
int sbx_proxy_relay_start(struct sbx_proxy_conn *c);
/* Closes the relay's pipes and poll handles (the sockets with them); a no-op when the relay
 * never started. */
void sbx_proxy_relay_stop(struct sbx_proxy_conn *c);
