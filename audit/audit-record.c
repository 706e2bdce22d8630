/* SPDX-License-Identifier: MIT */
/*
 * The record parser shared by the verifier and the writer's crash recovery: checks the fixed
 * frame of a line (`{"seq":` first, `,"mac":"<64 hex>"}` last) on the raw bytes, since the MAC
 * covers those bytes and nothing is ever re-serialised, then reads the few members the chain
 * needs with jansson (duplicate keys refused, so a second "seq" or "mac" cannot hide).
 * It must survive any input: it is the fuzz target's entry point.
 */
#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "audit/internal.h"

#define SEQ_PREFIX "{\"seq\":"

static bool lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool get_uint(json_t *o, const char *key, uint64_t *ret)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*ret = (uint64_t)json_integer_value(v);
	return true;
}

static bool get_str(json_t *o, const char *key, char *out, size_t outlen)
{
	json_t *v = json_object_get(o, key);
	size_t n;

	if (!json_is_string(v))
		return false;
	n = json_string_length(v);
	if (n == 0 || n >= outlen || memchr(json_string_value(v), '\0', n))
		return false;
	memcpy(out, json_string_value(v), n + 1);
	return true;
}

/* The members audit.* records carry for the chain: epoch, and for audit.rotated the tip of
 * the previous file (prev_seq, prev_mac; both null in a file that follows a lost one). */
static bool audit_members(json_t *root, struct sbx_audit_record *rec)
{
	json_t *pm;

	if (!json_object_get(root, "epoch"))
		return true;
	if (!get_uint(root, "epoch", &rec->epoch) || rec->epoch >= SBX_AUDIT_EPOCH_MAX)
		return false;
	rec->has_epoch = true;
	if (strcmp(rec->event, "audit.rotated") != 0)
		return true;
	pm = json_object_get(root, "prev_mac");
	if (json_is_null(pm) || !pm)
		return true;
	if (!json_is_string(pm) || json_string_length(pm) != SBX_AUDIT_MAC_HEX ||
	    !lower_hex(json_string_value(pm), SBX_AUDIT_MAC_HEX) ||
	    !get_uint(root, "prev_seq", &rec->prev_seq) ||
	    sbx_audit_state_unhex(json_string_value(pm), SBX_AUDIT_MAC_HEX, rec->prev_mac,
				  sizeof(rec->prev_mac)) < 0)
		return false;
	rec->has_prev = true;
	return true;
}

int sbx_audit_record_parse(const char *line, size_t len, struct sbx_audit_record *ret)
{
	struct sbx_audit_record rec = {0};
	const char *suffix, *hex;
	json_error_t err;
	json_t *root, *mac;
	bool ok;

	if (len < sizeof(SEQ_PREFIX) - 1 + SBX_AUDIT_SUFFIX_LEN || len >= SBX_AUDIT_LINE_MAX ||
	    memcmp(line, SEQ_PREFIX, sizeof(SEQ_PREFIX) - 1) != 0 || memchr(line, '\0', len))
		return -EBADMSG;
	suffix = line + len - SBX_AUDIT_SUFFIX_LEN;
	hex = suffix + sizeof(SBX_AUDIT_MAC_SUFFIX) - 1;
	if (memcmp(suffix, SBX_AUDIT_MAC_SUFFIX, sizeof(SBX_AUDIT_MAC_SUFFIX) - 1) != 0 ||
	    memcmp(line + len - 2, "\"}", 2) != 0 || !lower_hex(hex, SBX_AUDIT_MAC_HEX))
		return -EBADMSG;
	memcpy(rec.mac_hex, hex, SBX_AUDIT_MAC_HEX);
	if (sbx_audit_state_unhex(hex, SBX_AUDIT_MAC_HEX, rec.mac, sizeof(rec.mac)) < 0)
		return -EBADMSG;
	rec.body_len = len - SBX_AUDIT_SUFFIX_LEN;

	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
	if (!json_is_object(root)) {
		json_decref(root);
		return -EBADMSG;
	}
	mac = json_object_get(root, "mac");
	/* The frame's mac must be the object's mac member, not bytes inside some string. */
	ok = json_is_string(mac) && json_string_length(mac) == SBX_AUDIT_MAC_HEX &&
	     memcmp(json_string_value(mac), rec.mac_hex, SBX_AUDIT_MAC_HEX) == 0 &&
	     get_uint(root, "seq", &rec.seq) && rec.seq >= 1 &&
	     get_str(root, "ts", rec.ts, sizeof(rec.ts)) &&
	     get_str(root, "event", rec.event, sizeof(rec.event));
	if (ok && strncmp(rec.event, "audit.", 6) == 0)
		ok = audit_members(root, &rec);
	json_decref(root);
	if (!ok)
		return -EBADMSG;
	*ret = rec;
	return 0;
}
