/* SPDX-License-Identifier: MIT */
/* Private to the proxy (proxy.c, proxy-conn.c): the per-task and per-connection state. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "supervisor/proxy-parse.h"
#include "supervisor/proxy.h"

#define SBX_PROXY_BACKLOG_UV	 64
#define SBX_PROXY_DENIED_RECORDS 64		      /* per task; then only counted */
#define SBX_PROXY_SETUP_MS	 30000		      /* head, resolution and connect, at most */
#define SBX_PROXY_CHUNK		 ((size_t)256 * 1024) /* one read */
#define SBX_PROXY_HIGH_WATER	 ((size_t)1024 * 1024)
#define SBX_PROXY_ADDRS		 8 /* checked addresses tried in turn */
#define SBX_PROXY_CACHE		 8

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
	unsigned refs;		      /* listener + each connection */
	void *cache[SBX_PROXY_CACHE]; /* spare chunks: a chunk is above malloc's mmap threshold */
	unsigned n_cache;
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
	uv_write_t wreq;       /* the 200 or the refusal, to the client */
	uv_write_t wreq2;      /* the head and early bytes, to the origin */
	uv_shutdown_t shut[2]; /* [i]: no more bytes to side i (0 client, 1 origin) */
	bool shut_done[2];
	bool eof[2];	/* 0: client sent EOF, 1: origin did */
	bool paused[2]; /* reading from that side stopped for backpressure */
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
/* A chunk of sizeof(struct) bytes from the proxy's cache or malloc; NULL when out of memory. */
void *sbx_proxy_chunk_get(struct sbx_proxy *px, size_t size);
void sbx_proxy_chunk_put(struct sbx_proxy *px, void *chunk);
void sbx_proxy_conn_release(struct sbx_proxy_conn *c);
void sbx_proxy_record(struct sbx_proxy *px, const char *event, struct sbx_audit_fields *f);
void sbx_proxy_record_denied(struct sbx_proxy_conn *c, const char *reason, const char *address);

/* proxy-conn.c */
void sbx_proxy_conn_start(struct sbx_proxy_conn *c, uv_stream_t *server);
/* Ends the connection (its proxy.closed record when it was open). reason: "closed", "idle",
 * "limit", "error", "stopped". */
void sbx_proxy_conn_close(struct sbx_proxy_conn *c, const char *reason);
