/* SPDX-License-Identifier: MIT */
/*
 * A blocking JSON-lines client of sbxd's socket for tests (see client-test.h): lines read with
 * poll() and a deadline, kept pending until asked for by id, and folded into the events of a
 * run (sbx_client_test_wait).
 */
#include "tests/integration/client-test.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <sodium.h>

static long long now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sbx_client_test_connect(const char *path, struct sbx_client_test **ret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct sbx_client_test *c;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->pending = json_array();
	c->keep_transcript = true;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		sbx_client_test_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

struct sbx_client_test *sbx_client_test_free(struct sbx_client_test *c)
{
	if (!c)
		return NULL;
	if (c->fd >= 0)
		(void)close(c->fd);
	free(c->buf);
	free(c->transcript);
	json_decref(c->pending);
	free(c);
	return NULL;
}

int sbx_client_test_send_raw(struct sbx_client_test *c, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int sbx_client_test_send(struct sbx_client_test *c, json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	size_t n;
	int r;

	if (!s)
		return -ENOMEM;
	n = strlen(s);
	s[n] = '\n'; /* overwrite the NUL; sent with its newline */
	r = sbx_client_test_send_raw(c, s, n + 1);
	free(s);
	return r;
}

int sbx_client_test_send_take(struct sbx_client_test *c, json_t *obj)
{
	int r = obj ? sbx_client_test_send(c, obj) : -ENOMEM;

	json_decref(obj);
	return r;
}

int sbx_client_test_sendf(struct sbx_client_test *c, const char *fmt, ...)
{
	json_error_t e;
	va_list ap;
	json_t *o;
	int r;

	va_start(ap, fmt);
	o = json_vpack_ex(&e, 0, fmt, ap);
	va_end(ap);
	if (!o) {
		(void)fprintf(stderr, "json_pack: %s\n", e.text);
		return -EINVAL;
	}
	r = sbx_client_test_send(c, o);
	json_decref(o);
	return r;
}

static int append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t nc = (*cap ? *cap * 2 : 65536);
		char *nb;
		while (nc < *len + n + 1)
			nc *= 2;
		nb = realloc(*buf, nc);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

/* Moves every complete line of the buffer into pending. */
static void split_lines(struct sbx_client_test *c)
{
	size_t start = 0;

	for (size_t i = 0; i < c->len; i++) {
		json_t *o;
		if (c->buf[i] != '\n')
			continue;
		o = json_loadb(c->buf + start, i - start, 0, NULL);
		if (!json_is_object(o)) {
			json_decref(o);
			c->bad_lines++;
			o = json_pack("{s:s, s:s%}", "_bad_line", "", "_raw", c->buf + start,
				      i - start);
		}
		(void)json_array_append_new(c->pending, o);
		start = i + 1;
	}
	memmove(c->buf, c->buf + start, c->len - start);
	c->len -= start;
}

/* One read into the buffer, waiting up to timeout_ms. */
static int fill(struct sbx_client_test *c, int timeout_ms)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	char tmp[65536];
	ssize_t n;
	int r;

	r = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r == 0)
		return -ETIMEDOUT;
	n = recv(c->fd, tmp, sizeof(tmp), 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	if (c->keep_transcript &&
	    append(&c->transcript, &c->transcript_len, &c->transcript_cap, tmp, (size_t)n) < 0)
		return -ENOMEM;
	if (append(&c->buf, &c->len, &c->cap, tmp, (size_t)n) < 0)
		return -ENOMEM;
	split_lines(c);
	return 0;
}

static bool id_matches(json_t *o, const char *id)
{
	json_t *v = json_object_get(o, "id");

	if (!id)
		return json_is_null(v);
	return json_is_string(v) && strcmp(json_string_value(v), id) == 0;
}

static int next_where(struct sbx_client_test *c, bool any, const char *id, int timeout_ms,
		      json_t **ret)
{
	long long deadline = now_ms() + timeout_ms;
	size_t scanned = 0;
	int r;

	for (;;) {
		for (size_t i = scanned; i < json_array_size(c->pending); i++) {
			json_t *o = json_array_get(c->pending, i);
			if (any || id_matches(o, id)) {
				*ret = json_incref(o);
				(void)json_array_remove(c->pending, i);
				return 0;
			}
		}
		scanned = json_array_size(c->pending);
		r = fill(c, (int)(deadline - now_ms()));
		if (r < 0)
			return r;
	}
}

int sbx_client_test_next(struct sbx_client_test *c, int timeout_ms, json_t **ret)
{
	return next_where(c, true, NULL, timeout_ms, ret);
}

int sbx_client_test_next_for(struct sbx_client_test *c, const char *id, int timeout_ms,
			     json_t **ret)
{
	return next_where(c, false, id, timeout_ms, ret);
}

int sbx_client_test_call(struct sbx_client_test *c, json_t *req, int timeout_ms, json_t **ret)
{
	json_t *id = json_object_get(req, "id");
	const bool by_id = json_is_string(id) || !id; /* a non-string id is answered with null */
	char idbuf[256];
	int r;

	(void)snprintf(idbuf, sizeof(idbuf), "%s", json_is_string(id) ? json_string_value(id) : "");
	r = sbx_client_test_send(c, req);
	json_decref(req);
	if (r < 0)
		return r;
	return sbx_client_test_next_for(c, by_id ? idbuf : NULL, timeout_ms, ret);
}

static int add_output(char **buf, size_t *len, const char *b64)
{
	size_t n = strlen(b64), out_len = 0, cap = 0;
	unsigned char *tmp = malloc(n + 1);
	int r = 0;

	if (!tmp)
		return -ENOMEM;
	if (sodium_base642bin(tmp, n + 1, b64, n, NULL, &out_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		r = -EBADMSG;
	else {
		cap = *len + 1;
		r = append(buf, len, &cap, (char *)tmp, out_len);
	}
	free(tmp);
	return r;
}

/* Folds one line into t; returns 1 when it ends the task. */
static int take_line(struct sbx_client_test_task *t, json_t *o)
{
	const char *ev = json_string_value(json_object_get(o, "event"));
	json_t *ok = json_object_get(o, "ok");

	if (json_is_false(ok)) {
		json_t *task = json_object_get(json_object_get(o, "error"), "task");
		t->error = json_incref(json_object_get(o, "error"));
		t->error_code = json_string_value(json_object_get(t->error, "code"));
		if (json_is_string(task))
			(void)snprintf(t->task, sizeof(t->task), "%s", json_string_value(task));
		return 1;
	}
	if (!ev) {
		t->bad_events++;
		return 0;
	}
	if (strcmp(ev, "accepted") == 0) {
		t->accepted = true;
		(void)snprintf(t->task, sizeof(t->task), "%s",
			       json_string_value(json_object_get(o, "task")) ?: "");
	} else if (strcmp(ev, "started") == 0) {
		t->started = true;
		t->pid = (int)json_integer_value(json_object_get(o, "pid"));
	} else if (strcmp(ev, "output") == 0) {
		const char *stream = json_string_value(json_object_get(o, "stream"));
		const char *data = json_string_value(json_object_get(o, "data"));
		bool out = stream && strcmp(stream, "stdout") == 0;
		t->n_output++;
		if (!data || !stream || (!out && strcmp(stream, "stderr") != 0) ||
		    add_output(out ? &t->out : &t->err, out ? &t->out_len : &t->err_len, data) < 0)
			t->bad_events++;
	} else if (strcmp(ev, "exit") == 0) {
		json_t *code = json_object_get(o, "code"), *sig = json_object_get(o, "signal");
		t->exit = json_incref(o);
		t->reason = json_string_value(json_object_get(o, "reason"));
		t->code = json_is_integer(code) ? (int)json_integer_value(code) : -1;
		t->signal = json_is_integer(sig) ? (int)json_integer_value(sig) : 0;
		return 1;
	} else {
		t->bad_events++;
	}
	return 0;
}

int sbx_client_test_wait(struct sbx_client_test *c, const char *id, int timeout_ms,
			 struct sbx_client_test_task *t)
{
	long long deadline = now_ms() + timeout_ms;

	memset(t, 0, sizeof(*t));
	t->code = -1;
	t->out = calloc(1, 1);
	t->err = calloc(1, 1);
	if (!t->out || !t->err)
		return -ENOMEM;
	for (;;) {
		json_t *o = NULL;
		int r = sbx_client_test_next_for(c, id, (int)(deadline - now_ms()), &o);
		if (r < 0)
			return r;
		r = take_line(t, o);
		json_decref(o);
		if (r)
			return 0;
	}
}

int sbx_client_test_run(struct sbx_client_test *c, json_t *req, int timeout_ms,
			struct sbx_client_test_task *ret)
{
	char id[256];
	int r;

	(void)snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(req, "id")) ?: "");
	r = sbx_client_test_send(c, req);
	json_decref(req);
	if (r < 0) {
		memset(ret, 0, sizeof(*ret));
		return r;
	}
	return sbx_client_test_wait(c, id, timeout_ms, ret);
}

void sbx_client_test_task_done(struct sbx_client_test_task *t)
{
	free(t->out);
	free(t->err);
	json_decref(t->exit);
	json_decref(t->error);
	memset(t, 0, sizeof(*t));
}

json_t *sbx_client_test_sh(const char *id, const char *script)
{
	return json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "id", id, "op", "run", "policy", "default",
			 "argv", "/bin/sh", "-c", script);
}
