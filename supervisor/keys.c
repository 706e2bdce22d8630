/* SPDX-License-Identifier: MIT */
/*
 * `seal` and `rewrap` over the socket. The request's secret values come from jansson (whose
 * allocator wipes on free, installed by sbx_secret_init) and go straight into a locked secret
 * set; the reply carries only the blob and the key id. Errors name the secret, never a value.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "keys/sealed.h"
#include "supervisor/records.h"
#include "supervisor/sbxd.h"

void sbx_keys_seal(struct sbx_conn *c, struct sbx_request *req)
{
	_cleanup_(sbx_secret_set_freep) struct sbx_secret_set *set = NULL;
	_cleanup_free_ char *blob = NULL;
	char name[SBX_SECRET_NAME_MAX + 1];
	struct sbx_sealed_header h;
	const char *k;
	json_t *v;
	int r;

	if (sbx_sealed_context_check(req->context) < 0) {
		sbx_conn_send_error(c, req->id, SBX_E_BAD_REQUEST,
				    "'context' must be 1-%u printable bytes",
				    SBX_SEALED_CONTEXT_MAX);
		return;
	}
	if (json_object_size(req->secrets) == 0) {
		sbx_conn_send_error(c, req->id, SBX_E_BAD_REQUEST, "'secrets' is empty");
		return;
	}
	if (sbx_secret_set_new(&set) < 0) {
		sbx_conn_send_error(c, req->id, SBX_E_INTERNAL, "cannot allocate locked memory");
		return;
	}
	json_object_foreach(req->secrets, k, v)
	{
		if (!json_is_string(v)) {
			sbx_conn_send_error(c, req->id, SBX_E_BAD_REQUEST,
					    "secret '%.64s' must be a string", k);
			return;
		}
		r = sbx_sealed_name_normalize(k, name);
		if (r >= 0)
			r = sbx_secret_set_add(set, name, json_string_value(v),
					       json_string_length(v));
		if (r < 0) {
			sbx_conn_send_error(c, req->id, SBX_E_BAD_REQUEST,
					    r == -EPERM	   ? "secret name '%.64s' is reserved"
					    : r == -EEXIST ? "secret name '%.64s' is given twice"
							   : "secret name '%.64s' is not allowed",
					    k);
			return;
		}
	}
	r = sbx_sealed_seal(c->srv->keyring, set, req->context, &blob);
	if (r < 0 || sbx_sealed_inspect(blob, &h) < 0) {
		sbx_conn_send_error(c, req->id, r == -EILSEQ ? SBX_E_BAD_REQUEST : SBX_E_INTERNAL,
				    r == -EILSEQ ? "a secret value is not valid UTF-8"
						 : "sealing failed");
		return;
	}
	{
		struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
		const char *names[SBX_SECRET_SET_MAX];
		size_t n = sbx_secret_set_count(set);
		for (size_t i = 0; i < n && i < SBX_SECRET_SET_MAX; i++)
			names[i] = sbx_secret_set_name(set, i);
		sbx_audit_fields_str(&f, "context", req->context);
		sbx_audit_fields_uint(&f, "key_id", h.key_id);
		sbx_audit_fields_strv(&f, "names", names, n);
		if (sbx_record(c->srv, "secrets.sealed", &c->peer, NULL, &f) < 0 ||
		    sbx_records_commit(c->srv) < 0) {
			sbx_conn_send_error(c, req->id, SBX_E_AUDIT_UNAVAILABLE,
					    "the audit log cannot be written");
			return;
		}
	}
	sbx_conn_send(c, sbx_protocol_ok_line(req->id, json_pack("{s:s, s:I}", "sealed", blob,
								 "key_id", (json_int_t)h.key_id)));
}

void sbx_keys_rewrap(struct sbx_conn *c, struct sbx_request *req)
{
	_cleanup_free_ char *blob = NULL;
	struct sbx_sealed_header h;
	bool rewrapped = false;
	int r;

	r = sbx_sealed_rewrap(c->srv->keyring, req->sealed, req->context, &blob, &rewrapped);
	if (r < 0) {
		enum sbx_error code = sbx_sealed_error(r);
		sbx_conn_send_error(c, req->id, code, "the blob could not be rewrapped (%s)",
				    sbx_error_name(code));
		return;
	}
	if (sbx_sealed_inspect(blob, &h) < 0) {
		sbx_conn_send_error(c, req->id, SBX_E_INTERNAL, "rewrap produced a bad blob");
		return;
	}
	{
		struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
		sbx_audit_fields_str(&f, "context", req->context);
		sbx_audit_fields_uint(&f, "key_id", h.key_id);
		sbx_audit_fields_bool(&f, "rewrapped", rewrapped);
		if (sbx_record(c->srv, "secrets.rewrapped", &c->peer, NULL, &f) < 0 ||
		    sbx_records_commit(c->srv) < 0) {
			sbx_conn_send_error(c, req->id, SBX_E_AUDIT_UNAVAILABLE,
					    "the audit log cannot be written");
			return;
		}
	}
	sbx_conn_send(c, sbx_protocol_ok_line(req->id, json_pack("{s:s, s:I, s:b}", "sealed", blob,
								 "key_id", (json_int_t)h.key_id,
								 "rewrapped", rewrapped)));
}
