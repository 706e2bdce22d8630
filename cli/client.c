/* SPDX-License-Identifier: MIT */
#include "cli/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/un.h>

#include "common/fd-util.h"
#include "common/json-util.h"
#include "common/log.h"

struct sbx_client {
	int fd;
	char *buf;
	size_t len, cap;
};

int sbx_client_connect(const char *path, struct sbx_client **ret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct sbx_client *c;

	if (!path)
		path = getenv("SBX_SOCKET");
	if (!path)
		path = SBX_SOCKET_DEFAULT;
	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error("socket path '%s' is too long", path), -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = log_error_errno(-errno, "connecting to sbxd at '%s'", path);
		sbx_client_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

int sbx_client_send(struct sbx_client *c, json_t *obj)
{
	char *s = sbx_json_dump(obj, JSON_COMPACT, true);
	size_t n;
	int r;

	if (!s)
		return -ENOMEM;
	n = strlen(s);
	r = sbx_fd_write_all(c->fd, s, n);
	explicit_bzero(s, n); /* seal requests carry secret values */
	free(s);
	return r;
}

int sbx_client_recv(struct sbx_client *c, json_t **ret)
{
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		ssize_t k;
		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			json_t *o = json_loadb(c->buf, n, 0, NULL);
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			if (!json_is_object(o)) {
				json_decref(o);
				return -EBADMSG;
			}
			*ret = o;
			return 0;
		}
		if (c->len + 65536 > c->cap) {
			char *b = realloc(c->buf, c->cap * 2 + 65536);
			if (!b)
				return -ENOMEM;
			c->buf = b;
			c->cap = c->cap * 2 + 65536;
		}
		k = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ECONNRESET;
		c->len += (size_t)k;
	}
}

struct sbx_client *sbx_client_free(struct sbx_client *c)
{
	if (!c)
		return NULL;
	if (c->fd >= 0)
		(void)close(c->fd);
	free(c->buf);
	free(c);
	return NULL;
}

const char *sbx_client_print_error(json_t *reply)
{
	json_t *e = json_object_get(reply, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	log_error("%s: %s", code ? code : "error", msg ? msg : "(no message)");
	return code ? code : "internal";
}
