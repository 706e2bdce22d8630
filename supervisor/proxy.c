/* SPDX-License-Identifier: MIT */
/*
 * The proxy's connections on the loop. Per accepted connection:
 *
 *   head (<= 8 KiB, deadline) -> allow list -> resolve (uv_getaddrinfo, names only) ->
 *   address check -> connect to the checked address -> splice(2) both ways -> closed
 *
 * The name is matched before anything is resolved and the address that was checked is the
 * one connected to (never resolved again). One request per connection: absolute-form
 * requests go out with "Connection: close", CONNECT tunnels carry bytes untouched.
 *
 * Open tunnels (proxy-relay.c) move bytes socket to socket with splice(2) through a pipe per
 * direction; they never enter user space. Backpressure: a side is read only while its pipe
 * has room, so a slow end only slows its own connection, and the kernel memory per
 * connection stays bounded by the two pipes.
 * Limits per task: concurrent connections, bytes both ways, idle time. Owns no secret; it
 * records hosts, ports, addresses and byte counts, never payload bytes.
 */
#include "supervisor/proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/proxy-conn.h"

static void px_unref(struct sbx_proxy *px)
{
	if (--px->refs > 0)
		return;
	free(px);
}

void sbx_proxy_conn_release(struct sbx_proxy_conn *c)
{
	struct sbx_proxy *px = c->px;

	if (--c->refs > 0)
		return;
	free(c->out);
	free(c);
	px_unref(px);
}

void sbx_proxy_record(struct sbx_proxy *px, const char *event, struct sbx_audit_fields *f)
{
	if (px->stopped_records) {
		sbx_audit_fields_done(f);
		return;
	}
	px->record(px->userdata, event, f);
}

/*
 * Where a request went, for its audit record, in words the policy chose: the requested name is
 * the payload's own text, and a payload holding a secret could spell it into a name
 * ("<secret>.example.org") to land it in the audit log. So the name appears only when it equals
 * an allow entry; a wildcard match records the entry ("allow"), a name on no entry only its
 * length; the method is a standard one or "other".
 */
void sbx_proxy_record_target(const struct sbx_proxy_conn *c, struct sbx_audit_fields *f)
{
	const struct sbx_policy *p = c->px->policy;
	bool wild = false;
	const char *entry = sbx_proxy_rules_match(p->net_allow, p->n_net_allow, c->req.host,
						  c->req.host_ip6, c->req.port, &wild);

	if (entry && !wild)
		sbx_audit_fields_str(f, "host", c->req.host);
	else if (entry)
		sbx_audit_fields_str(f, "allow", entry);
	else
		sbx_audit_fields_uint(f, "host_len", strlen(c->req.host));
	sbx_audit_fields_uint(f, "port", c->req.port);
	sbx_audit_fields_str(f, "method", sbx_proxy_rules_method(c->req.method));
}

/* A refusal's record; after DENIED_RECORDS of them only a count (kept for the summary at
 * stop), so a payload cannot flood the audit log with refusals. */
void sbx_proxy_record_denied(struct sbx_proxy_conn *c, const char *reason, const char *address)
{
	struct sbx_proxy *px = c->px;
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;

	if (px->n_denied >= SBX_PROXY_DENIED_RECORDS) {
		px->suppressed++;
		return;
	}
	px->n_denied++;
	if (c->parsed)
		sbx_proxy_record_target(c, &f);
	sbx_audit_fields_str(&f, "reason", reason);
	if (address)
		sbx_audit_fields_str(&f, "address", address);
	sbx_proxy_record(px, "proxy.denied", &f);
}

static void on_accept(uv_stream_t *server, int status)
{
	struct sbx_proxy *px = server->data;
	struct sbx_proxy_conn *c;

	if (status < 0 || px->stopped)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		/* Take it off the backlog all the same, or the loop spins on it. */
		uv_tcp_t tmp;
		if (uv_tcp_init(px->loop, &tmp) == 0) {
			(void)uv_accept(server, (uv_stream_t *)&tmp);
			uv_close((uv_handle_t *)&tmp, NULL);
		}
		return;
	}
	c->px = px;
	px->refs++;
	sbx_proxy_conn_start(c, server);
}

int sbx_proxy_start(uv_loop_t *loop, const struct sbx_policy *p, int listen_fd,
		    sbx_proxy_record_cb record, void *userdata, struct sbx_proxy **ret)
{
	struct sbx_proxy *px = calloc(1, sizeof(*px));
	int r;

	if (!px) {
		(void)close(listen_fd);
		return -ENOMEM;
	}
	px->loop = loop;
	px->policy = p;
	px->record = record;
	px->userdata = userdata;
	px->refs = 1; /* the listener, until its close callback */
	r = uv_tcp_init(loop, &px->listener);
	if (r < 0) {
		free(px);
		(void)close(listen_fd);
		return r;
	}
	px->listener.data = px;
	r = uv_tcp_open(&px->listener, listen_fd);
	if (r >= 0)
		r = uv_listen((uv_stream_t *)&px->listener, SBX_PROXY_BACKLOG_UV, on_accept);
	if (r < 0) {
		px->stopped = true;
		(void)sbx_proxy_stop(px); /* closes listen_fd with the handle */
		return r;
	}
	*ret = px;
	return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
	px_unref(h->data);
}

struct sbx_proxy *sbx_proxy_stop(struct sbx_proxy *px)
{
	if (!px)
		return NULL;
	px->stopped = true;
	while (px->conns)
		sbx_proxy_conn_close(px->conns, "stopped");
	if (px->suppressed > 0) {
		struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
		sbx_audit_fields_str(&f, "reason", "suppressed");
		sbx_audit_fields_uint(&f, "count", px->suppressed);
		sbx_proxy_record(px, "proxy.denied", &f);
	}
	px->stopped_records = true;
	uv_close((uv_handle_t *)&px->listener, on_listener_closed);
	return NULL;
}

unsigned sbx_proxy_connections(const struct sbx_proxy *px)
{
	return px ? px->n_conns : 0;
}
