/* SPDX-License-Identifier: MIT */
/*
 * A task's stdio pipes: stdin written once from the request, stdout and stderr read in
 * chunks, redacted when the policy says so, capped at output_max, base64'd into `output`
 * events, and paused while the client's write queue is over its watermark (backpressure).
 *
 * Must never: forward a byte unredacted when the policy redacts (tasks.c refuses to start a
 * task whose redactors could not be made), or leave a read chunk in memory (it may have held
 * a secret). The task's end is decided by tasks.c (sbx_tasks_maybe_done at each EOF).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base64.h"
#include "keys/redact.h"
#include "supervisor/tasks-internal.h"

static void send_output(struct sbx_task *t, struct sbx_task_stream *s, const char *data, size_t len)
{
	char *b64;

	if (len == 0 || !sbx_tasks_conn_ok(t))
		return;
	b64 = malloc(sbx_base64_len(len) + 1);
	if (!b64)
		return;
	sbx_base64_encode(data, len, b64);
	sbx_tasks_send_event(t, "output", json_pack("{s:s, s:s}", "stream", s->name, "data", b64));
	free(b64);
}

/* Redacts (when the policy says so) and forwards a chunk; eof flushes the redactor. */
static void forward(struct sbx_task *t, struct sbx_task_stream *s, const char *data, size_t len,
		    bool eof)
{
	const uint64_t cap =
	    t->pe->policy->output_max ? t->pe->policy->output_max : t->srv->cfg->output_max;
	char *out = NULL;
	size_t out_len = 0;

	if (s->red) {
		if (sbx_redact_feed(s->red, data, len, eof, &out, &out_len) < 0) {
			free(out);
			return;
		}
		data = out;
		len = out_len;
	}
	if (cap && s->bytes + len > cap) { /* 0: no cap */
		s->truncated = true;
		len = s->bytes < cap ? (size_t)(cap - s->bytes) : 0;
	}
	s->bytes += len;
	send_output(t, s, data, len);
	free(out);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct sbx_task_stream *s = h->data;

	(void)suggested;
	*buf = uv_buf_init(s->buf, sizeof(s->buf));
}

static void on_output(uv_stream_t *p, ssize_t nread, const uv_buf_t *buf)
{
	struct sbx_task_stream *s = p->data;
	struct sbx_task *t = s->task;

	if (nread > 0) {
		sbx_tasks_send_started(t);
		forward(t, s, buf->base, (size_t)nread, false);
		explicit_bzero(buf->base, (size_t)nread); /* may have held a secret */
		return;
	}
	if (nread == 0)
		return;
	s->eof = true;
	(void)uv_read_stop(p);
	forward(t, s, "", 0, true);
	sbx_tasks_maybe_done(t);
}

int sbx_task_output_open(struct sbx_task *t, struct sbx_task_stream *s, int fd, const char *name)
{
	s->task = t;
	s->name = name;
	if (uv_pipe_init(t->srv->loop, &s->pipe, 0) < 0)
		return -ENOMEM;
	s->pipe.data = s;
	s->open = true;
	if (uv_pipe_open(&s->pipe, fd) < 0) {
		(void)close(fd);
		return -EIO;
	}
	if (!t->conn->throttled)
		(void)uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_output);
	return 0;
}

static void on_stdin_written(uv_write_t *w, int status)
{
	struct sbx_task *t = w->data;

	free(w);
	if (status != UV_ECANCELED)
		sbx_tasks_close_handle(t, (uv_handle_t *)&t->in, &t->in_open);
}

void sbx_task_output_write_stdin(struct sbx_task *t, int fd)
{
	uv_buf_t b = uv_buf_init((char *)t->stdin_data, (unsigned)t->stdin_len);
	uv_write_t *w = calloc(1, sizeof(*w));

	(void)uv_pipe_init(t->srv->loop, &t->in, 0);
	t->in_open = true;
	if (!w || uv_pipe_open(&t->in, fd) < 0 ||
	    uv_write(w, (uv_stream_t *)&t->in, &b, 1, on_stdin_written) < 0) {
		free(w);
		sbx_tasks_close_handle(t, (uv_handle_t *)&t->in, &t->in_open);
	} else {
		w->data = t;
	}
}

void sbx_task_output_set_paused(struct sbx_task *t, bool pause)
{
	struct sbx_task_stream *s[2] = {&t->out, &t->err};

	for (int i = 0; i < 2; i++) {
		if (!s[i]->open || s[i]->eof)
			continue;
		if (pause)
			(void)uv_read_stop((uv_stream_t *)&s[i]->pipe);
		else
			(void)uv_read_start((uv_stream_t *)&s[i]->pipe, on_alloc, on_output);
	}
}
