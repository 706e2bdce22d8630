/* SPDX-License-Identifier: MIT */
/* The proxy thread of `sbxctl exec` (see exec-proxy.h). */
#include "cli/exec-proxy.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <uv.h>

#include "common/log.h"
#include "supervisor/proxy.h"

struct sbx_exec_proxy {
	uv_loop_t loop;
	uv_async_t stop;
	pthread_t thread;
	struct sbx_proxy *px;
};

static void on_record(void *userdata, const char *event, struct sbx_audit_fields *f)
{
	const char *text = sbx_audit_fields_get(f);

	(void)userdata;
	log_info("%s %s", event, text ? text : "");
	sbx_audit_fields_done(f);
}

static void on_stop(uv_async_t *h)
{
	struct sbx_exec_proxy *xp = h->data;

	xp->px = sbx_proxy_stop(xp->px);
	uv_close((uv_handle_t *)h, NULL);
}

static void *run(void *arg)
{
	struct sbx_exec_proxy *xp = arg;
	sigset_t pipe;

	/* A splice into a socket whose peer is gone raises SIGPIPE in this thread; blocked, it
	 * stays pending here and the call fails with EPIPE (sbx_proxy_start's contract). */
	(void)sigemptyset(&pipe);
	(void)sigaddset(&pipe, SIGPIPE);
	(void)pthread_sigmask(SIG_BLOCK, &pipe, NULL);
	(void)uv_run(&xp->loop, UV_RUN_DEFAULT);
	return NULL;
}

int sbx_exec_proxy_start(const struct sbx_policy *p, int listen_fd, struct sbx_exec_proxy **ret)
{
	struct sbx_exec_proxy *xp = calloc(1, sizeof(*xp));
	int r;

	if (!xp) {
		(void)close(listen_fd);
		return log_error_errno(-ENOMEM, "starting the proxy");
	}
	r = uv_loop_init(&xp->loop);
	if (r < 0) {
		free(xp);
		(void)close(listen_fd);
		return log_error_errno(r, "starting the proxy");
	}
	(void)uv_async_init(&xp->loop, &xp->stop, on_stop);
	xp->stop.data = xp;
	r = sbx_proxy_start(&xp->loop, p, listen_fd, on_record, xp, &xp->px);
	if (r >= 0)
		r = -pthread_create(&xp->thread, NULL, run, xp);
	if (r < 0) {
		xp->px = sbx_proxy_stop(xp->px);
		uv_close((uv_handle_t *)&xp->stop, NULL);
		(void)uv_run(&xp->loop, UV_RUN_DEFAULT);
		(void)uv_loop_close(&xp->loop);
		free(xp);
		return log_error_errno(r, "starting the proxy");
	}
	*ret = xp;
	return 0;
}

struct sbx_exec_proxy *sbx_exec_proxy_stop(struct sbx_exec_proxy *xp)
{
	if (!xp)
		return NULL;
	(void)uv_async_send(&xp->stop);
	(void)pthread_join(xp->thread, NULL);
	(void)uv_loop_close(&xp->loop);
	free(xp);
	return NULL;
}
