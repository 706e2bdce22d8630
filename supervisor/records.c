/* SPDX-License-Identifier: MIT */
#include "supervisor/records.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static void on_check(uv_check_t *h)
{
	struct sbx_server *srv = h->data;

	(void)sbx_audit_commit(srv->audit);
}

static void on_tick(uv_timer_t *h)
{
	struct sbx_server *srv = h->data;

	(void)sbx_audit_tick(srv->audit);
}

int sbx_records_open(struct sbx_server *srv)
{
	const struct sbx_config *cfg = srv->cfg;
	char state[4096], key[4096];
	struct sbx_audit_config ac = {
	    .path = cfg->audit_path,
	    .state_path = state,
	    .durability = cfg->audit_fsync ? SBX_AUDIT_FSYNC : SBX_AUDIT_GROUP,
	    .rotate_size = cfg->audit_rotate_size,
	};
	char fp[SBX_AUDIT_FP_HEX + 1];
	int r;

	(void)snprintf(state, sizeof(state), "%s/%s", cfg->audit_dir, SBX_AUDIT_STATE_NAME);
	if (cfg->dev && access(state, F_OK) < 0) {
		/* --dev keeps the first key next to the log, where `sbxctl audit verify` looks. */
		(void)snprintf(key, sizeof(key), "%s/%s", cfg->audit_dir, SBX_AUDIT_KEY_NAME);
		r = sbx_audit_state_init(state, key, -1, fp);
		if (r < 0)
			return log_error_errno(r, "creating audit state '%s'", state);
		log_info("new audit chain, first key in '%s' (fingerprint %s)", key, fp);
	}
	r = sbx_audit_open(&ac, &srv->audit);
	if (r < 0)
		return log_error_errno(r,
				       "opening audit log '%s' (state '%s'); initialise it with "
				       "'sbxctl audit init'",
				       cfg->audit_path, state);
	return 0;
}

void sbx_records_start_loop(struct sbx_server *srv)
{
	(void)uv_check_init(srv->loop, &srv->audit_check);
	srv->audit_check.data = srv;
	(void)uv_check_start(&srv->audit_check, on_check);
	(void)uv_timer_init(srv->loop, &srv->audit_timer);
	srv->audit_timer.data = srv;
	(void)uv_timer_start(&srv->audit_timer, on_tick, 1000, 1000);
}

void sbx_records_close(struct sbx_server *srv)
{
	srv->audit = sbx_audit_close(srv->audit);
}

static void put_peer(struct sbx_audit_peer *ap, const struct sbx_peer *p)
{
	ap->uid = p->uid;
	ap->gid = p->gid;
	ap->pid = p->pid;
}

int sbx_record(struct sbx_server *srv, const char *event, const struct sbx_peer *peer,
	       const char *task, struct sbx_audit_fields *fields)
{
	struct sbx_audit_peer ap;
	int r;

	if (!srv->audit)
		return -EBADF;
	if (peer)
		put_peer(&ap, peer);
	r = sbx_audit_append(srv->audit, event, peer ? &ap : NULL, task, fields);
	if (fields)
		sbx_audit_fields_done(fields);
	return r;
}

int sbx_records_commit(struct sbx_server *srv)
{
	return srv->audit ? sbx_audit_commit(srv->audit) : -EBADF;
}

bool sbx_records_available(const struct sbx_server *srv)
{
	return srv->audit && sbx_audit_available(srv->audit);
}
