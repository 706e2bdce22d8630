/* SPDX-License-Identifier: MIT */
/*
 * The socket side of sbxd: the listener, one struct sbx_conn per client, JSON-lines framing
 * and bounded buffers. A client can only ever cost its own bounded memory:
 *   - reads go into one buffer per connection that grows up to max_frame (frame.c); a longer
 *     line is answered with `too_large` and skipped up to its newline without being stored;
 *   - replies and events queue in libuv up to `write_buffer` bytes; beyond that the
 *     connection stops being read and its tasks' pipes are paused, so a client that does not
 *     read slows only its own sandboxes;
 *   - connections without tasks that complete no request line for `idle_timeout` are closed;
 *     bytes of an unfinished line do not count, so a client trickling a line a byte at a time
 *     (slowloris) is closed as if idle;
 *   - a connection is refused (`busy`) when accepting it would leave fewer file descriptors
 *     than the tasks of the connections sbxd has need (see fds_short());
 *   - task starts are limited per peer uid (run_rate(), ratelimit.c): a uid that connects, runs
 *     and hangs up in a loop costs a sandbox start and kill each time, and would otherwise
 *     take the CPU from everyone else.
 * Consumed request bytes are wiped: `seal` lines carry secret values.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "common/log.h"
#include "supervisor/records.h"
#include "supervisor/sbxd.h"

struct wreq {
	uv_write_t req;
	struct sbx_conn *conn;
	size_t len;
	char *line;
};

static void read_start(struct sbx_conn *c);

static void conn_free(struct sbx_conn *c)
{
	struct sbx_server *srv = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->n_conns--;
	sbx_frame_done(&c->frame);
	free(c);
}

void sbx_conn_ref(struct sbx_conn *c)
{
	c->refs++;
}

void sbx_conn_unref(struct sbx_conn *c)
{
	if (c && --c->refs == 0)
		conn_free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
	sbx_conn_unref(h->data);
}

static void conn_close(struct sbx_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	sbx_tasks_conn_closed(c);
	uv_close((uv_handle_t *)&c->pipe, on_handle_closed);
	uv_close((uv_handle_t *)&c->idle, on_handle_closed);
}

static void on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct sbx_conn *c = w->conn;
	const size_t low = c->srv->cfg->write_buffer / 4;

	c->wqueued -= w->len;
	free(w->line);
	free(w);
	if (status < 0 && !c->closing)
		conn_close(c);
	if (c->throttled && c->wqueued <= low && !c->closing) {
		c->throttled = false;
		sbx_tasks_throttle(c, false);
		read_start(c);
	}
	sbx_conn_unref(c);
}

void sbx_conn_send(struct sbx_conn *c, char *line)
{
	struct wreq *w;
	uv_buf_t buf;

	if (!line)
		return;
	if (c->closing || !(w = calloc(1, sizeof(*w)))) {
		free(line);
		return;
	}
	w->conn = c;
	w->line = line;
	w->len = strlen(line);
	buf = uv_buf_init(line, (unsigned)w->len);
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, on_written) < 0) {
		free(line);
		free(w);
		conn_close(c);
		return;
	}
	sbx_conn_ref(c);
	c->wqueued += w->len;
	if (!c->throttled && c->wqueued > c->srv->cfg->write_buffer) {
		c->throttled = true;
		sbx_tasks_throttle(c, true);
		(void)uv_read_stop((uv_stream_t *)&c->pipe);
	}
}

void sbx_conn_send_error(struct sbx_conn *c, const char *id, enum sbx_error code, const char *fmt,
			 ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((unsigned)code < sizeof(c->srv->stats.by_code) / sizeof(c->srv->stats.by_code[0]))
		c->srv->stats.by_code[code]++;
	sbx_conn_send(c, sbx_protocol_error_line(id, code, msg, NULL));
}

static void reply_hello(struct sbx_conn *c, const struct sbx_request *req)
{
	json_t *ops = json_array();

	for (int i = 0; i < _SBX_OP_MAX; i++)
		if (c->ops & (1U << i))
			(void)json_array_append_new(ops, json_string(sbx_op_name((enum sbx_op)i)));
	sbx_conn_send(
	    c, sbx_protocol_ok_line(req->id,
				    json_pack("{s:s, s:i, s:{s:i, s:i, s:i}, s:o}", "version",
					      SBX_VERSION, "protocol", SBX_PROTOCOL_VERSION, "peer",
					      "uid", (int)c->peer.uid, "gid", (int)c->peer.gid,
					      "pid", (int)c->peer.pid, "ops", ops)));
}

static void reply_stats(struct sbx_conn *c, const struct sbx_request *req)
{
	const struct sbx_stats *s = &c->srv->stats;
	json_t *codes = json_object();

	for (int i = 1; i < _SBX_E_MAX; i++)
		if (s->by_code[i])
			(void)json_object_set_new(codes, sbx_error_name((enum sbx_error)i),
						  json_integer((json_int_t)s->by_code[i]));
	sbx_conn_send(
	    c,
	    sbx_protocol_ok_line(
		req->id,
		json_pack("{s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:i, s:o}", "connections",
			  (json_int_t)s->connections, "requests", (json_int_t)s->requests,
			  "tasks_run", (json_int_t)s->tasks_run, "tasks_failed",
			  (json_int_t)s->tasks_failed, "tasks_denied", (json_int_t)s->tasks_denied,
			  "running", (int)c->srv->n_running, "queued", (int)c->srv->n_queued,
			  "clients", (int)c->srv->n_conns, "errors", codes)));
}

/* A run, within the peer uid's rate of task starts. The token is taken before the request is
 * looked at and given back when it started and queued nothing (refused for another reason),
 * so only real starts count. Refusals are recorded once per uid and second ("suppressed"
 * counts the ones not recorded before it): a flood must not fill the audit log. */
static void run(struct sbx_conn *c, struct sbx_request *req)
{
	struct sbx_server *srv = c->srv;
	const struct sbx_rate rate = sbx_authz_run_rate(srv->cfg, &c->peer);
	const uint64_t now = uv_now(srv->loop), next = srv->next_task;
	uint64_t suppressed = 0;

	if (sbx_ratelimit_take(srv->run_rate, c->peer.uid, now, &rate)) {
		sbx_tasks_run(c, req);
		if (srv->next_task == next)
			sbx_ratelimit_refund(srv->run_rate, c->peer.uid, &rate);
		return;
	}
	srv->stats.tasks_denied++;
	if (sbx_ratelimit_refused(srv->run_rate, c->peer.uid, now, &suppressed)) {
		struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
		sbx_audit_fields_str(&f, "policy", req->policy);
		sbx_audit_fields_str(&f, "code", sbx_error_name(SBX_E_BUSY));
		sbx_audit_fields_str(&f, "reason", "run_rate");
		sbx_audit_fields_uint(&f, "per_second", rate.per_second);
		sbx_audit_fields_uint(&f, "suppressed", suppressed);
		(void)sbx_record(srv, "task.refused", &c->peer, NULL, &f);
	}
	sbx_conn_send_error(c, req->id, SBX_E_BUSY, "run rate of uid %u exceeded (%u/s, burst %u)",
			    (unsigned)c->peer.uid, rate.per_second, rate.burst);
}

static void handle_line(struct sbx_conn *c, const char *line, size_t len)
{
	struct sbx_request req;
	struct sbx_proto_error err = {0};

	c->srv->stats.requests++;
	if (sbx_protocol_parse(line, len, &req, &err) < 0) {
		sbx_conn_send_error(c, req.has_id ? req.id : NULL, err.code, "%s", err.message);
		sbx_request_done(&req);
		return;
	}
	if (!(c->ops & (1U << req.op))) {
		struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
		sbx_audit_fields_str(&f, "op", sbx_op_name(req.op));
		sbx_audit_fields_str(&f, "code", "unauthorized");
		(void)sbx_record(c->srv, "client.refused", &c->peer, NULL, &f);
		sbx_conn_send_error(c, req.id, SBX_E_UNAUTHORIZED, "uid %u may not use op '%s'",
				    (unsigned)c->peer.uid, sbx_op_name(req.op));
		sbx_request_done(&req);
		return;
	}
	/* Fail closed: nothing new happens while decisions cannot be recorded. */
	if ((req.op == SBX_OP_RUN || req.op == SBX_OP_SEAL || req.op == SBX_OP_REWRAP) &&
	    !sbx_records_available(c->srv)) {
		sbx_conn_send_error(c, req.id, SBX_E_AUDIT_UNAVAILABLE,
				    "the audit log cannot be written; retry later");
		sbx_request_done(&req);
		return;
	}
	switch (req.op) {
	case SBX_OP_HELLO:
		reply_hello(c, &req);
		break;
	case SBX_OP_STATS:
		reply_stats(c, &req);
		break;
	case SBX_OP_RUN:
		run(c, &req);
		break;
	case SBX_OP_CANCEL:
		sbx_tasks_cancel(c, &req);
		break;
	case SBX_OP_LIST:
		sbx_tasks_list(c, &req);
		break;
	case SBX_OP_SEAL:
		sbx_keys_seal(c, &req);
		break;
	case SBX_OP_REWRAP:
		sbx_keys_rewrap(c, &req);
		break;
	case _SBX_OP_MAX:
		break;
	}
	sbx_request_done(&req);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct sbx_conn *c = h->data;
	char *p;
	size_t n;

	(void)suggested;
	if (sbx_frame_space(&c->frame, &p, &n) < 0) {
		*buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS: the connection closes */
		return;
	}
	*buf = uv_buf_init(p, (unsigned)n);
}

static bool on_frame(void *userdata, enum sbx_frame_event ev, const char *line, size_t len)
{
	struct sbx_conn *c = userdata;

	if (ev == SBX_FRAME_LINE)
		handle_line(c, line, len);
	else
		sbx_conn_send_error(c, NULL, SBX_E_TOO_LARGE,
				    "line longer than max_frame (%llu bytes)",
				    (unsigned long long)c->srv->cfg->max_frame);
	return !c->closing;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct sbx_conn *c = s->data;

	(void)buf;
	if (nread < 0) {
		conn_close(c); /* EOF or error; a half line is dropped (and wiped) */
		return;
	}
	/* Only a whole line is activity for the idle timer (a byte a second is not). */
	if (sbx_frame_feed(&c->frame, (size_t)nread, on_frame, c) > 0 && !c->closing)
		(void)uv_timer_again(&c->idle);
}

static void read_start(struct sbx_conn *c)
{
	if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) < 0)
		conn_close(c);
}

static void on_idle(uv_timer_t *t)
{
	struct sbx_conn *c = t->data;

	if (c->n_tasks == 0)
		conn_close(c);
}

/* A refused peer gets one error line (best effort, non-blocking) and is closed. */
static void refuse(struct sbx_conn *c, const char *line)
{
	int fd;

	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0)
		(void)!send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
	sbx_frame_done(&c->frame);
	uv_close((uv_handle_t *)&c->pipe, (uv_close_cb)free);
}

/* File descriptors a new connection must leave free so that the connections sbxd already has
 * can still start tasks: a running task holds six (stdout and stderr pipes, pidfd, report pipe,
 * stdin, the connection's share) and a few more while it is set up, so eight per task of
 * max_tasks, at least 16, at most half of RLIMIT_NOFILE (the soft limit: what accept(2) and
 * pipe2(2) run into). */
#define FDS_PER_TASK 8

static bool fds_short(const struct sbx_server *srv, int fd, uint64_t *ret_limit)
{
	struct rlimit rl;
	rlim_t reserve;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return false;
	reserve = (rlim_t)srv->cfg->max_tasks * FDS_PER_TASK;
	reserve = reserve < 16 ? 16 : reserve;
	reserve = reserve > rl.rlim_cur / 2 ? rl.rlim_cur / 2 : reserve;
	*ret_limit = (uint64_t)rl.rlim_cur;
	/* Accepted sockets take the lowest free number: every fd below this one is in use. */
	return (rlim_t)fd + reserve >= rl.rlim_cur;
}

/* Short of file descriptors: one line per shortage, not one per refused client. */
static void fd_shortage(struct sbx_server *srv, bool short_now, uint64_t limit)
{
	if (short_now) {
		srv->stats.by_code[SBX_E_BUSY]++;
		if (!srv->fd_short)
			log_warning("refusing connections: file descriptors nearly exhausted "
				    "(RLIMIT_NOFILE %llu, %u connections); raise LimitNOFILE= or "
				    "lower limits.max_connections",
				    (unsigned long long)limit, srv->n_conns);
		srv->fd_short = true;
		srv->fd_refused++;
	} else if (srv->fd_short) {
		log_notice("accepting connections again (%llu refused for want of file "
			   "descriptors)",
			   (unsigned long long)srv->fd_refused);
		srv->fd_short = false;
		srv->fd_refused = 0;
	}
}

/* New connections taken per loop turn. libuv accepts until the backlog is empty; a client
 * that connects and hangs up thousands of times a second would then fill each turn with
 * accepts, and the requests of connections sbxd already has would wait behind them. Past the
 * budget the connection is left in libuv (which stops watching the listener) and taken when
 * the turn ends (on_accept_check), so each turn serves old connections and a few new ones. */
#define ACCEPT_BURST 16

static void on_connection(uv_stream_t *l, int status)
{
	struct sbx_server *srv = l->data;
	uint64_t limit = 0;
	struct sbx_conn *c;
	int fd;

	if (status < 0) {
		/* libuv accepted and closed what it could not take (its spare-fd trick). */
		if (status == UV_EMFILE || status == UV_ENFILE)
			fd_shortage(srv, true, 0);
		return;
	}
	if (srv->accepted_turn >= ACCEPT_BURST) {
		srv->accept_pending = true;
		return;
	}
	srv->accepted_turn++;
	/* The handle is the first member: closing it frees the whole struct on refusal. */
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	if (uv_pipe_init(srv->loop, &c->pipe, 0) < 0) {
		free(c);
		return;
	}
	c->pipe.data = c;
	if (uv_accept(l, (uv_stream_t *)&c->pipe) < 0) {
		uv_close((uv_handle_t *)&c->pipe, (uv_close_cb)free);
		return;
	}
	if (srv->draining || srv->n_conns >= srv->cfg->max_connections) {
		srv->stats.by_code[SBX_E_BUSY]++;
		refuse(c, "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"busy\",\"message\":"
			  "\"too many connections\"}}\n");
		return;
	}
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0) {
		refuse(c, "");
		return;
	}
	if (fds_short(srv, fd, &limit)) {
		fd_shortage(srv, true, limit);
		refuse(c, "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"busy\",\"message\":"
			  "\"sbxd is short of file descriptors; retry later\"}}\n");
		return;
	}
	fd_shortage(srv, false, limit);
	if (sbx_authz_peer(fd, &c->peer) < 0) {
		refuse(c, "");
		return;
	}
	c->srv = srv;
	c->ops = sbx_authz_ops(srv->cfg, &c->peer);
	if (!c->ops) {
		struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
		sbx_audit_fields_str(&f, "code", "unauthorized");
		sbx_audit_fields_str(&f, "reason", "no client rule names this peer");
		(void)sbx_record(srv, "client.refused", &c->peer, NULL, &f);
		log_notice("refused connection of uid %u pid %d: no client rule names it",
			   (unsigned)c->peer.uid, (int)c->peer.pid);
		refuse(c, "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"unauthorized\","
			  "\"message\":\"this uid may not use sbxd\"}}\n");
		return;
	}
	if (sbx_frame_init(&c->frame, srv->cfg->max_frame) < 0) {
		refuse(c, "");
		return;
	}
	srv->stats.connections++;
	c->refs = 2; /* the pipe and the idle timer */
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->n_conns++;
	(void)uv_timer_init(srv->loop, &c->idle);
	c->idle.data = c;
	(void)uv_timer_start(&c->idle, on_idle, srv->cfg->idle_timeout_ms,
			     srv->cfg->idle_timeout_ms);
	read_start(c);
}

static void on_accept_check(uv_check_t *h)
{
	struct sbx_server *srv = h->data;

	srv->accepted_turn = 0;
	if (srv->accept_pending && srv->listening) {
		srv->accept_pending = false;
		on_connection((uv_stream_t *)&srv->listener, 0); /* uv_accept watches again */
	}
}

int sbx_server_listen(struct sbx_server *srv, int inherited_fd)
{
	const struct sbx_config *cfg = srv->cfg;
	struct stat st;
	mode_t old;
	int r;

	if (!srv->run_rate) {
		r = sbx_ratelimit_new(SBX_RATELIMIT_UIDS, &srv->run_rate);
		if (r < 0)
			return log_error_errno(r, "allocating the run rate table");
	}
	r = uv_pipe_init(srv->loop, &srv->listener, 0);
	if (r < 0)
		return r;
	srv->listener.data = srv;
	if (inherited_fd >= 0) {
		r = uv_pipe_open(&srv->listener, inherited_fd);
		if (r < 0)
			return log_error_errno(r, "using the socket passed by systemd (fd %d)",
					       inherited_fd);
	} else {
		if (lstat(cfg->socket_path, &st) == 0 && S_ISSOCK(st.st_mode))
			(void)unlink(cfg->socket_path);
		old = umask(0077);
		r = uv_pipe_bind(&srv->listener, cfg->socket_path);
		umask(old);
		if (r < 0)
			return log_error_errno(r, "binding '%s'", cfg->socket_path);
		if (chmod(cfg->socket_path, cfg->socket_mode) < 0 ||
		    ((cfg->socket_uid != (uid_t)-1 || cfg->socket_gid != (gid_t)-1) &&
		     chown(cfg->socket_path, cfg->socket_uid, cfg->socket_gid) < 0))
			return log_error_errno(-errno, "setting owner and mode of '%s'",
					       cfg->socket_path);
	}
	r = uv_listen((uv_stream_t *)&srv->listener, 128, on_connection);
	if (r < 0)
		return log_error_errno(r, "listening on '%s'", cfg->socket_path);
	(void)uv_check_init(srv->loop, &srv->accept_check);
	srv->accept_check.data = srv;
	(void)uv_check_start(&srv->accept_check, on_accept_check);
	uv_unref((uv_handle_t *)&srv->accept_check); /* it keeps nothing alive */
	srv->listening = true;
	return 0;
}

void sbx_server_stop_listening(struct sbx_server *srv)
{
	if (!srv->listening)
		return;
	srv->listening = false;
	uv_close((uv_handle_t *)&srv->listener, NULL);
	uv_close((uv_handle_t *)&srv->accept_check, NULL);
}

void sbx_server_close_all(struct sbx_server *srv)
{
	for (struct sbx_conn *c = srv->conns, *n; c; c = n) {
		n = c->next;
		conn_close(c);
	}
}
