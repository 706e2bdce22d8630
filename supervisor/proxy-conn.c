/* SPDX-License-Identifier: MIT */
/*
 * One proxied connection, from accept to close (see proxy.c for the whole picture). Every
 * refusal answers the client with a short HTTP response naming a stable reason and leaves an
 * audit record; nothing is resolved before the allow list said yes, and only checked
 * addresses are connected to.
 */
#include "supervisor/proxy-conn.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_tick(uv_timer_t *h);
static void start_open(struct sbx_proxy_conn *c);
static void on_closed(uv_handle_t *h)
{
	sbx_proxy_conn_release(h->data);
}

static void unlink_conn(struct sbx_proxy_conn *c)
{
	struct sbx_proxy *px = c->px;

	if (c->prev)
		c->prev->next = c->next;
	else if (px->conns == c)
		px->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	px->n_conns--;
}

static void record_closed(struct sbx_proxy_conn *c, const char *reason)
{
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;

	sbx_proxy_record_target(c, &f);
	sbx_audit_fields_str(&f, "address", c->address);
	sbx_audit_fields_uint(&f, "bytes_out", c->bytes_out);
	sbx_audit_fields_uint(&f, "bytes_in", c->bytes_in);
	sbx_audit_fields_uint(&f, "duration_ms", uv_now(c->px->loop) - c->t_start);
	sbx_audit_fields_str(&f, "reason", reason);
	sbx_proxy_record(c->px, "proxy.closed", &f);
}

void sbx_proxy_conn_close(struct sbx_proxy_conn *c, const char *reason)
{
	if (c->state == PX_CLOSING)
		return;
	if (c->state == PX_OPEN)
		record_closed(c, reason);
	c->state = PX_CLOSING;
	unlink_conn(c);
	if (c->resolving)
		(void)uv_cancel((uv_req_t *)&c->gai); /* its callback still comes */
	sbx_proxy_relay_stop(c);
	if (c->client_open) {
		c->client_open = false;
		uv_close((uv_handle_t *)&c->client, on_closed);
	}
	uv_close((uv_handle_t *)&c->timer, on_closed);
	if (c->origin_open) {
		c->origin_open = false;
		uv_close((uv_handle_t *)&c->origin, on_closed);
	}
	sbx_proxy_conn_release(c); /* the life reference */
}

static void on_deny_written(uv_write_t *w, int status)
{
	struct sbx_proxy_conn *c = w->data;

	(void)status;
	if (c->state == PX_DENYING)
		sbx_proxy_conn_close(c, "denied");
}

/* Answers the client, records the refusal, then closes. */
static void deny(struct sbx_proxy_conn *c, int code, const char *reason, const char *address)
{
	const char *text = code == 400 ? "Bad Request" : code == 502 ? "Bad Gateway" : "Forbidden";
	char body[128];
	uv_buf_t b;
	int n;

	sbx_proxy_record_denied(c, reason, address);
	(void)uv_read_stop((uv_stream_t *)&c->client);
	c->state = PX_DENYING;
	n = snprintf(body, sizeof(body), "sbx proxy: %s\n", reason);
	free(c->out);
	if (asprintf(&c->out,
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
		     "Connection: close\r\nX-Sbx-Reason: %s\r\n\r\n%s",
		     code, text, n, reason, body) < 0) {
		c->out = NULL;
		sbx_proxy_conn_close(c, "error");
		return;
	}
	b = uv_buf_init(c->out, (unsigned)strlen(c->out));
	c->wreq.data = c;
	if (uv_write(&c->wreq, (uv_stream_t *)&c->client, &b, 1, on_deny_written) < 0)
		sbx_proxy_conn_close(c, "error");
}

static void connect_next(struct sbx_proxy_conn *c);

static void on_origin_closed(uv_handle_t *h)
{
	struct sbx_proxy_conn *c = h->data;

	if (c->retry && c->state == PX_CONNECTING) {
		c->retry = false;
		connect_next(c);
	}
	sbx_proxy_conn_release(c);
}

static void on_connected(uv_connect_t *req, int status)
{
	struct sbx_proxy_conn *c = req->data;

	if (status == UV_ECANCELED || c->state != PX_CONNECTING)
		return;
	if (status < 0) {
		if (c->next_addr < c->n_addrs) {
			c->retry = true;
			c->origin_open = false;
			uv_close((uv_handle_t *)&c->origin, on_origin_closed);
			return;
		}
		deny(c, 502, "connect_failed", c->address);
		return;
	}
	(void)uv_tcp_nodelay(&c->origin, 1);
	c->state = PX_OPEN;
	start_open(c);
}

static void connect_next(struct sbx_proxy_conn *c)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->addrs[c->next_addr++];
	int r;

	(void)sbx_proxy_rules_addr_text(sa, c->address, sizeof(c->address));
	r = uv_tcp_init(c->px->loop, &c->origin);
	if (r < 0) {
		deny(c, 502, "connect_failed", c->address);
		return;
	}
	c->origin.data = c;
	c->origin_open = true;
	c->refs++;
	c->creq.data = c;
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)&c->addrs[c->next_addr - 1])->sin_port = htons(c->req.port);
	else
		((struct sockaddr_in6 *)&c->addrs[c->next_addr - 1])->sin6_port =
		    htons(c->req.port);
	r = uv_tcp_connect(&c->creq, &c->origin, sa, on_connected);
	if (r < 0)
		on_connected(&c->creq, r);
}

/* Keeps sa when it may be reached; returns why not otherwise (NULL: kept). */
static const char *consider(struct sbx_proxy_conn *c, const struct sockaddr *sa, socklen_t len)
{
	const struct sbx_policy *p = c->px->policy;
	const char *why = sbx_proxy_rules_refused(sa);

	if (why && !sbx_proxy_rules_names_addr(p->net_allow, p->n_net_allow, sa, c->req.port))
		return why;
	if (c->n_addrs < SBX_PROXY_ADDRS && len <= sizeof(c->addrs[0]))
		memcpy(&c->addrs[c->n_addrs++], sa, len);
	return NULL;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct sbx_proxy_conn *c = req->data;
	char refused[64] = "";

	c->resolving = false;
	if (c->state != PX_RESOLVING) {
		uv_freeaddrinfo(res);
		sbx_proxy_conn_release(c);
		return;
	}
	sbx_proxy_conn_release(c); /* not the last: the life reference is still held */
	if (status < 0) {
		uv_freeaddrinfo(res);
		deny(c, 502, "resolve_failed", NULL);
		return;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    !consider(c, ai->ai_addr, ai->ai_addrlen))
			continue;
		if (!refused[0])
			(void)sbx_proxy_rules_addr_text(ai->ai_addr, refused, sizeof(refused));
	}
	uv_freeaddrinfo(res);
	if (c->n_addrs == 0) {
		deny(c, 403, refused[0] ? "address_refused" : "resolve_failed",
		     refused[0] ? refused : NULL);
		return;
	}
	c->state = PX_CONNECTING;
	connect_next(c);
}

/* The head is in: check it against the policy, then resolve or connect. */
static void route(struct sbx_proxy_conn *c)
{
	const struct sbx_policy *p = c->px->policy;
	const struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct sockaddr_storage lit;
	char addr[64];
	int r;

	if (!sbx_proxy_rules_allowed(p->net_allow, p->n_net_allow, c->req.host, c->req.host_ip6,
				     c->req.port)) {
		deny(c, 403, "not_allowed", NULL);
		return;
	}
	r = sbx_proxy_rules_literal(c->req.host, c->req.host_ip6, &lit);
	if (r < 0) {
		deny(c, 403, "not_allowed", NULL);
		return;
	}
	if (r > 0) {
		const char *why = consider(c, (struct sockaddr *)&lit, sizeof(lit));
		if (why) {
			deny(
			    c, 403, "address_refused",
			    sbx_proxy_rules_addr_text((struct sockaddr *)&lit, addr, sizeof(addr)));
			return;
		}
		c->state = PX_CONNECTING;
		connect_next(c);
		return;
	}
	c->state = PX_RESOLVING;
	c->gai.data = c;
	c->refs++;
	c->resolving = true;
	r = uv_getaddrinfo(c->px->loop, &c->gai, on_resolved, c->req.host, NULL, &hints);
	if (r < 0) {
		c->resolving = false;
		sbx_proxy_conn_release(c);
		deny(c, 502, "resolve_failed", NULL);
	}
}

static void on_head_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct sbx_proxy_conn *c = h->data;

	(void)suggested;
	*buf = uv_buf_init(c->head + c->head_len, (unsigned)(sizeof(c->head) - c->head_len));
}

static void on_head(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct sbx_proxy_conn *c = s->data;
	int r;

	(void)buf;
	if (nread == 0)
		return;
	if (nread < 0) {
		sbx_proxy_conn_close(c, "closed");
		return;
	}
	c->head_len += (size_t)nread;
	r = sbx_proxy_parse_head(c->head, c->head_len, &c->req);
	if (r == -EAGAIN)
		return;
	(void)uv_read_stop(s);
	if (r < 0) {
		memset(&c->req, 0, sizeof(c->req));
		deny(c, 400, "bad_request", NULL);
		return;
	}
	c->parsed = true;
	route(c);
}

void sbx_proxy_conn_start(struct sbx_proxy_conn *c, uv_stream_t *server)
{
	struct sbx_proxy *px = c->px;
	const struct sbx_policy *p = px->policy;
	uint64_t setup = p->net_idle_ms < SBX_PROXY_SETUP_MS ? p->net_idle_ms : SBX_PROXY_SETUP_MS;

	c->refs = 3; /* life, client, timer */
	(void)uv_tcp_init(px->loop, &c->client);
	(void)uv_timer_init(px->loop, &c->timer);
	c->client.data = c->timer.data = c;
	c->client_open = true;
	c->t_start = c->last = uv_now(px->loop);
	c->next = px->conns;
	if (px->conns)
		px->conns->prev = c;
	px->conns = c;
	px->n_conns++;
	if (uv_accept(server, (uv_stream_t *)&c->client) < 0) {
		sbx_proxy_conn_close(c, "error");
		return;
	}
	(void)uv_timer_start(&c->timer, on_tick, setup, 0);
	if (px->n_conns > p->net_max_connections) {
		deny(c, 403, "limit", NULL);
		return;
	}
	(void)uv_read_start((uv_stream_t *)&c->client, on_head_alloc, on_head);
}

/* The 200 or the head is out: once both are, the relay takes the sockets over (splice must
 * not overtake bytes still in libuv's write queue). */
static void on_head_sent(uv_write_t *w, int status)
{
	struct sbx_proxy_conn *c = w->data;

	c->writes--;
	if (status == UV_ECANCELED || c->state != PX_OPEN)
		return;
	if (status < 0) {
		sbx_proxy_conn_close(c, "error");
		return;
	}
	if (c->writes == 0 && sbx_proxy_relay_start(c) < 0)
		sbx_proxy_conn_close(c, "error");
}

/* Connected: the 200 (CONNECT) or the rewritten head (http://), what the client sent after
 * its head, then bytes both ways (proxy-relay.c). */
static void start_open(struct sbx_proxy_conn *c)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	const size_t extra = c->head_len - c->req.head_len, cap = SBX_PROXY_HEAD_MAX + 512;
	uv_buf_t b[2];
	unsigned nb = 0;
	ssize_t n;

	c->wreq.data = c->wreq2.data = c;
	if (c->req.connect) {
		b[0] = uv_buf_init((char *)ok, sizeof(ok) - 1);
		if (uv_write(&c->wreq, (uv_stream_t *)&c->client, b, 1, on_head_sent) < 0)
			goto fail;
		c->writes++;
	} else {
		c->out = malloc(cap);
		n = c->out ? sbx_proxy_parse_rewrite(c->head, &c->req, c->out, cap) : -ENOMEM;
		if (n < 0)
			goto fail;
		b[nb++] = uv_buf_init(c->out, (unsigned)n);
		c->bytes_out += (uint64_t)n; /* the head as sent counts, the client's does not */
		c->px->bytes += (uint64_t)n;
	}
	if (extra > 0)
		b[nb++] = uv_buf_init(c->head + c->req.head_len, (unsigned)extra);
	c->bytes_out += extra;
	c->px->bytes += extra;
	if (nb > 0) {
		if (uv_write(&c->wreq2, (uv_stream_t *)&c->origin, b, nb, on_head_sent) < 0)
			goto fail;
		c->writes++;
	}
	(void)uv_timer_start(&c->timer, on_tick, c->px->policy->net_idle_ms, 0);
	return;
fail:
	sbx_proxy_conn_close(c, "error");
}

static void on_tick(uv_timer_t *h)
{
	struct sbx_proxy_conn *c = h->data;
	const uint64_t idle = c->px->policy->net_idle_ms, now = uv_now(c->px->loop);

	if (c->state != PX_OPEN) {
		sbx_proxy_conn_close(c, "timeout"); /* head, resolution or connect too slow */
		return;
	}
	if (now - c->last >= idle) {
		sbx_proxy_conn_close(c, "idle");
		return;
	}
	(void)uv_timer_start(&c->timer, on_tick, idle - (now - c->last), 0);
}
