/* SPDX-License-Identifier: MIT */
/*
 * Network mode proxy, the supervisor's side (docs/policy.md "network", docs/sandbox.md): one
 * struct sbx_proxy per task, on a libuv loop, accepting on the listener the sandbox's child
 * made inside the task's network namespace. CONNECT tunnels and absolute-form http://
 * requests go to the allow list's host:port pairs only (proxy-rules.c); every refusal and
 * every finished connection is handed to the caller as an audit record.
 */
#pragma once

#include <stdint.h>

#include <uv.h>

#include "audit/audit.h"
#include "policy/policy.h"

/* Takes the record (and must sbx_audit_fields_done() it): "proxy.denied" or "proxy.closed". */
typedef void (*sbx_proxy_record_cb)(void *userdata, const char *event,
				    struct sbx_audit_fields *fields);

struct sbx_proxy;

/* Starts proxying for a task: takes listen_fd (closed on failure too). The policy (allow
 * list and limits) must outlive the proxy until sbx_proxy_stop(). The loop's thread must
 * ignore or block SIGPIPE: splice(2) into a socket whose peer is gone raises it (splice has
 * no MSG_NOSIGNAL). Returns 0, or -errno from libuv (-ENOMEM, -EBADF...). *ret untouched on
 * failure. */
int sbx_proxy_start(uv_loop_t *loop, const struct sbx_policy *p, int listen_fd,
		    sbx_proxy_record_cb record, void *userdata, struct sbx_proxy **ret);

/* Closes the listener and every connection now; each open one gets its proxy.closed record
 * (reason "stopped") before this returns, and the callback is never called again. The memory
 * goes once libuv has closed the handles. NULL-safe; returns NULL. */
struct sbx_proxy *sbx_proxy_stop(struct sbx_proxy *px);

/* Connections open now (accepted and not yet closed). */
unsigned sbx_proxy_connections(const struct sbx_proxy *px);
