/* SPDX-License-Identifier: MIT */
#include "supervisor/protocol.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json-util.h"
#include "common/macro.h"

static const char *const op_names[_SBX_OP_MAX] = {
    [SBX_OP_HELLO] = "hello", [SBX_OP_SEAL] = "seal",	  [SBX_OP_REWRAP] = "rewrap",
    [SBX_OP_RUN] = "run",     [SBX_OP_CANCEL] = "cancel", [SBX_OP_LIST] = "list",
    [SBX_OP_STATS] = "stats",
};

/* Fields each op accepts besides "id" and "op"; anything else is bad_request. */
static const char *const op_fields[_SBX_OP_MAX][10] = {
    [SBX_OP_HELLO] = {NULL},
    [SBX_OP_SEAL] = {"context", "secrets", NULL},
    [SBX_OP_REWRAP] = {"context", "sealed", NULL},
    [SBX_OP_RUN] = {"policy", "argv", "env", "sealed", "context", "stdin", "timeout_ms", "cwd",
		    NULL},
    [SBX_OP_CANCEL] = {"task", NULL},
    [SBX_OP_LIST] = {NULL},
    [SBX_OP_STATS] = {NULL},
};

const char *sbx_op_name(enum sbx_op op)
{
	return (unsigned)op < _SBX_OP_MAX ? op_names[op] : "unknown";
}

int sbx_op_from_name(const char *name)
{
	for (int i = 0; i < _SBX_OP_MAX; i++)
		if (strcmp(op_names[i], name) == 0)
			return i;
	return -EINVAL;
}

_printf_(3, 4) static int fail(struct sbx_proto_error *err, enum sbx_error code, const char *fmt,
			       ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	(void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool field_known(enum sbx_op op, const char *key)
{
	if (strcmp(key, "id") == 0 || strcmp(key, "op") == 0)
		return true;
	for (const char *const *f = op_fields[op]; *f; f++)
		if (strcmp(*f, key) == 0)
			return true;
	return false;
}

/* Optional string field; -EINVAL with err when present but not a string. */
static int opt_string(json_t *root, const char *key, const char **ret, struct sbx_proto_error *err)
{
	json_t *v = json_object_get(root, key);

	*ret = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return fail(err, SBX_E_BAD_REQUEST, "'%s' must be a string", key);
	*ret = json_string_value(v);
	return 0;
}

static int parse_run(struct sbx_request *req, struct sbx_proto_error *err)
{
	json_t *root = req->root, *v;
	size_t i;
	const char *k;

	if (opt_string(root, "policy", &req->policy, err) < 0 ||
	    opt_string(root, "sealed", &req->sealed, err) < 0 ||
	    opt_string(root, "context", &req->context, err) < 0 ||
	    opt_string(root, "stdin", &req->stdin_b64, err) < 0 ||
	    opt_string(root, "cwd", &req->cwd, err) < 0)
		return -EINVAL;
	if (!req->policy)
		return fail(err, SBX_E_BAD_REQUEST, "run needs 'policy'");
	req->argv = json_object_get(root, "argv");
	if (!json_is_array(req->argv) || json_array_size(req->argv) == 0)
		return fail(err, SBX_E_BAD_REQUEST, "'argv' must be a non-empty array of strings");
	json_array_foreach(req->argv, i, v)
	{
		if (!json_is_string(v))
			return fail(err, SBX_E_BAD_REQUEST, "'argv[%zu]' must be a string", i);
		if (i == 0 && json_string_length(v) == 0)
			return fail(err, SBX_E_BAD_REQUEST, "'argv[0]' must not be empty");
		if (strlen(json_string_value(v)) != json_string_length(v))
			return fail(err, SBX_E_BAD_REQUEST, "'argv[%zu]' contains a NUL byte", i);
	}
	req->env = json_object_get(root, "env");
	if (req->env) {
		if (!json_is_object(req->env))
			return fail(err, SBX_E_BAD_REQUEST, "'env' must be an object of strings");
		json_object_foreach(
		    req->env, k,
		    v) if (!json_is_string(v) ||
			   strlen(json_string_value(v)) !=
			       json_string_length(
				   v)) return fail(err, SBX_E_BAD_REQUEST,
						   "'env.%.64s' must be a string without NUL bytes",
						   k);
	}
	if (req->sealed && !req->context)
		return fail(err, SBX_E_BAD_REQUEST, "'sealed' needs 'context'");
	v = json_object_get(root, "timeout_ms");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) <= 0)
			return fail(err, SBX_E_BAD_REQUEST,
				    "'timeout_ms' must be a positive integer");
		req->timeout_ms = (uint64_t)json_integer_value(v);
	}
	return 0;
}

static int parse_op(struct sbx_request *req, struct sbx_proto_error *err)
{
	json_t *root = req->root;

	switch (req->op) {
	case SBX_OP_RUN:
		return parse_run(req, err);
	case SBX_OP_CANCEL:
		if (opt_string(root, "task", &req->task, err) < 0)
			return -EINVAL;
		if (!req->task)
			return fail(err, SBX_E_BAD_REQUEST, "cancel needs 'task'");
		return 0;
	case SBX_OP_SEAL:
		if (opt_string(root, "context", &req->context, err) < 0)
			return -EINVAL;
		req->secrets = json_object_get(root, "secrets");
		if (!req->context || !json_is_object(req->secrets))
			return fail(err, SBX_E_BAD_REQUEST,
				    "seal needs 'context' and 'secrets' (an object of strings)");
		return 0;
	case SBX_OP_REWRAP:
		if (opt_string(root, "context", &req->context, err) < 0 ||
		    opt_string(root, "sealed", &req->sealed, err) < 0)
			return -EINVAL;
		if (!req->context || !req->sealed)
			return fail(err, SBX_E_BAD_REQUEST, "rewrap needs 'context' and 'sealed'");
		return 0;
	default:
		return 0;
	}
}

int sbx_protocol_parse(const char *line, size_t len, struct sbx_request *req,
		       struct sbx_proto_error *err)
{
	json_error_t jerr;
	json_t *v;
	const char *key;
	int op;

	memset(req, 0, sizeof(*req));
	req->root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req->root)
		return fail(err, SBX_E_BAD_REQUEST, "invalid JSON at column %d: %s", jerr.column,
			    jerr.text);
	if (!json_is_object(req->root))
		return fail(err, SBX_E_BAD_REQUEST, "a request must be a JSON object");
	v = json_object_get(req->root, "id");
	if (!json_is_string(v))
		return fail(err, SBX_E_BAD_REQUEST, "'id' must be a string");
	if (json_string_length(v) > SBX_ID_MAX)
		return fail(err, SBX_E_BAD_REQUEST, "'id' is longer than %d bytes", SBX_ID_MAX);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(err, SBX_E_BAD_REQUEST, "'id' contains a NUL byte");
	memcpy(req->id, json_string_value(v), json_string_length(v) + 1);
	req->has_id = true;
	v = json_object_get(req->root, "op");
	if (!json_is_string(v))
		return fail(err, SBX_E_BAD_REQUEST, "'op' must be a string");
	op = sbx_op_from_name(json_string_value(v));
	if (op < 0)
		return fail(err, SBX_E_UNKNOWN_OP, "unknown op '%.64s'", json_string_value(v));
	req->op = (enum sbx_op)op;
	json_object_foreach(req->root, key, v) if (!field_known(req->op, key)) return fail(
	    err, SBX_E_BAD_REQUEST, "unknown field '%.64s' for op '%s'", key, op_names[op]);
	return parse_op(req, err);
}

void sbx_request_done(struct sbx_request *req)
{
	json_decref(req->root);
	req->root = NULL;
}

char *sbx_protocol_line(const char *id, json_t *obj)
{
	json_t *out = json_object();
	char *line;

	if (!out) {
		json_decref(obj);
		return NULL;
	}
	(void)json_object_set_new(out, "id", id ? json_string(id) : json_null());
	/* NOLINTNEXTLINE(readability-suspicious-call-argument): obj's keys go into out */
	(void)json_object_update(out, obj);
	json_decref(obj);
	line = sbx_json_dump(out, JSON_COMPACT, true);
	json_decref(out);
	return line;
}

char *sbx_protocol_error_line(const char *id, enum sbx_error code, const char *message,
			      json_t *extra)
{
	json_t *e = extra ? extra : json_object();

	(void)json_object_set_new(e, "code", json_string(sbx_error_name(code)));
	(void)json_object_set_new(e, "message", json_string(message));
	return sbx_protocol_line(id, json_pack("{s:b, s:o}", "ok", 0, "error", e));
}

char *sbx_protocol_ok_line(const char *id, json_t *fields)
{
	json_t *o = json_pack("{s:b}", "ok", 1);

	if (fields) {
		(void)json_object_update(o, fields);
		json_decref(fields);
	}
	return sbx_protocol_line(id, o);
}

char *sbx_protocol_event_line(const char *id, const char *event, json_t *fields)
{
	json_t *o = json_pack("{s:s}", "event", event);

	if (fields) {
		(void)json_object_update(o, fields);
		json_decref(fields);
	}
	return sbx_protocol_line(id, o);
}
