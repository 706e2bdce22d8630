/* SPDX-License-Identifier: MIT */
/*
 * sbxd's side of the audit log (audit/ writes and chains; docs/audit.md lists the records).
 * Every decision goes through here. A record that a reply or an action depends on is followed
 * by sbx_records_commit() before the reply is sent or the sandbox is released, so no task runs
 * unaudited; other records are made durable once per loop turn (group commit).
 */
#pragma once

#include "audit/audit.h"
#include "supervisor/sbxd.h"

/* Opens (and in --dev, first creates) the audit log of the configuration. Logs and returns
 * -errno on failure. */
int sbx_records_open(struct sbx_server *srv);
/* Group commit once per loop turn (uv_check) and the audit timer (retries, ratchet). */
void sbx_records_start_loop(struct sbx_server *srv);
void sbx_records_close(struct sbx_server *srv);
/* Appends a record; fields may be NULL. Returns what sbx_audit_append returned. */
int sbx_record(struct sbx_server *srv, const char *event, const struct sbx_peer *peer,
	       const char *task, struct sbx_audit_fields *fields);
/* Makes the records so far durable; < 0 when they are not in the log (refuse the work). */
int sbx_records_commit(struct sbx_server *srv);
/* Is new work allowed (the log is writable)? */
bool sbx_records_available(const struct sbx_server *srv);
