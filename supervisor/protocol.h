/* SPDX-License-Identifier: MIT */
/*
 * Protocol v1 (DESIGN.md "Wire protocol", docs/protocol.md): one JSON object per line.
 * This file turns a line into a checked struct sbx_request, and builds reply and event
 * lines. It is the only place that maps internal errors to wire codes (common/error.h).
 * It never logs request contents: `seal` requests carry secret values.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include <jansson.h>

#include "common/error.h"

#define SBX_PROTOCOL_VERSION 1
#define SBX_ID_MAX	     128

enum sbx_op {
	SBX_OP_HELLO,
	SBX_OP_SEAL,
	SBX_OP_REWRAP,
	SBX_OP_RUN,
	SBX_OP_CANCEL,
	SBX_OP_LIST,
	SBX_OP_STATS,
	_SBX_OP_MAX,
};

const char *sbx_op_name(enum sbx_op op);
int sbx_op_from_name(const char *name);

struct sbx_request {
	json_t *root; /* owns every pointer below */
	char id[SBX_ID_MAX + 1];
	bool has_id;
	enum sbx_op op;
	/* run */
	const char *policy;
	json_t *argv; /* array of strings, >= 1 */
	json_t *env;  /* object of strings, may be NULL */
	const char *sealed;
	const char *context;
	const char *stdin_b64;
	const char *cwd;
	uint64_t timeout_ms; /* 0: policy default */
	/* cancel */
	const char *task;
	/* seal */
	json_t *secrets; /* object of strings */
};

struct sbx_proto_error {
	enum sbx_error code;
	char message[256];
};

/* Parses one line (without its '\n'). On failure fills err; req->id/has_id are still set
 * when the line had a usable id, so the error reply can repeat it. */
int sbx_protocol_parse(const char *line, size_t len, struct sbx_request *req,
		       struct sbx_proto_error *err);
void sbx_request_done(struct sbx_request *req);

/* A whole reply line ("...\n", malloc'd) from an object (stolen): adds "id" first. */
char *sbx_protocol_line(const char *id, json_t *obj);
/* {"id":..,"ok":false,"error":{"code":..,"message":..}} plus extra fields in error (stolen,
 * may be NULL). */
char *sbx_protocol_error_line(const char *id, enum sbx_error code, const char *message,
			      json_t *extra);
/* {"id":..,"ok":true, ...fields (stolen, may be NULL)} */
char *sbx_protocol_ok_line(const char *id, json_t *fields);
/* {"id":..,"event":name, ...fields (stolen)} */
char *sbx_protocol_event_line(const char *id, const char *event, json_t *fields);
