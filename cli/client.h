/* SPDX-License-Identifier: MIT */
/* A blocking client of sbxd's socket for sbxctl: JSON lines out, JSON lines in. */
#pragma once

#include <jansson.h>

#define SBX_SOCKET_DEFAULT "/run/sbx/sbxd.sock"

struct sbx_client;

/* path NULL: $SBX_SOCKET, else SBX_SOCKET_DEFAULT. Logs and returns -errno on failure. */
int sbx_client_connect(const char *path, struct sbx_client **ret);
/* Sends obj (not stolen) as one line. */
int sbx_client_send(struct sbx_client *c, json_t *obj);
/* Next line as a JSON object (caller decrefs); -ECONNRESET at EOF, -EBADMSG on junk. */
int sbx_client_recv(struct sbx_client *c, json_t **ret);
struct sbx_client *sbx_client_free(struct sbx_client *c);
static inline void sbx_client_freep(struct sbx_client **c)
{
	*c = sbx_client_free(*c);
}
/* For a reply with "ok":false: prints "sbxctl: CODE: message" and returns the code string. */
const char *sbx_client_print_error(json_t *reply);
