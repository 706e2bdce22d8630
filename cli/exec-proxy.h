/* SPDX-License-Identifier: MIT */
/*
 * `sbxctl exec` in network mode proxy: the same proxy sbxd runs (supervisor/proxy.c), on a
 * libuv loop in a thread of its own, so exec's blocking wait stays as it is. What sbxd would
 * audit is logged on stderr ("proxy.denied ...", "proxy.closed ...").
 */
#pragma once

#include "policy/policy.h"

struct sbx_exec_proxy;

/* Takes listen_fd (closed on failure too); p must outlive the proxy. Logs and returns -errno
 * on failure. */
int sbx_exec_proxy_start(const struct sbx_policy *p, int listen_fd, struct sbx_exec_proxy **ret);
/* Closes every connection, joins the thread and frees. NULL-safe; returns NULL. */
struct sbx_exec_proxy *sbx_exec_proxy_stop(struct sbx_exec_proxy *xp);
