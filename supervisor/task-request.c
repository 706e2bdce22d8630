/* SPDX-License-Identifier: MIT */
/*
 * A `run` request before it becomes a running task: every check against sbxd's state and the
 * policy (draining, policy known and allowed to this uid, env names, timeout, cwd, limits),
 * the task's own copy of the request, its task.requested record, and its sealed blob opened
 * under the policy into the secret set and the sandbox's environment.
 *
 * Must never: accept what the policy refuses, or answer a refusal without its audit record.
 * Secret values stay in the set (keys/); this file handles names only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "keys/sealed.h"
#include "supervisor/records.h"
#include "supervisor/tasks-internal.h"

#define SBX_EXEC_ENV_NAMES 256

/* Every refusal of a run request: recorded, then answered. Refusals are written at once but
 * made durable by the loop turn's group commit (records.c on_check), not one fdatasync each:
 * nothing ran, and a client sending thousands of refused requests must not stall the loop
 * for everyone else. */
_printf_(4, 5) static void refuse_run(struct sbx_conn *c, const struct sbx_request *req,
				      enum sbx_error code, const char *fmt, ...)
{
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sbx_audit_fields_str(&f, "policy", req->policy);
	sbx_audit_fields_str(&f, "code", sbx_error_name(code));
	sbx_audit_fields_str(&f, "message", msg);
	(void)sbx_record(c->srv, "task.refused", &c->peer, NULL, &f);
	sbx_conn_send_error(c, req->id, code, "%s", msg);
}

static bool accept_secret(const char *name, void *userdata)
{
	return sbx_policy_accepts_secret(userdata, name);
}

int sbx_task_request_open_secrets(struct sbx_conn *c, const char *req_id, const char *task,
				  struct sbx_policy *p, const struct sbx_task_sealed *ref,
				  struct sbx_secret_set **ret)
{
	const char *sealed = ref->blob, *context = ref->context;
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
	static const char *const what[_SBX_E_MAX] = {
	    [SBX_E_SEALED_MALFORMED] = "the sealed blob is malformed",
	    [SBX_E_KEY_UNKNOWN] = "the blob's key is not in the keyring",
	    [SBX_E_KEY_RETIRED] = "the blob's key is retired: rewrap it under the primary key",
	    [SBX_E_DECRYPT_FAILED] = "the blob does not open under this context",
	    [SBX_E_SECRET_NOT_ALLOWED] = "the blob holds a secret name the policy does not accept",
	};
	enum sbx_error code;
	int r;

	*ret = NULL;
	if (!sealed)
		return 0;
	r = sbx_sealed_open(c->srv->keyring, sealed, context, accept_secret, p, ret);
	if (r >= 0)
		return 0; /* recorded by sbx_task_request_record_opened() once the task starts */
	code = sbx_sealed_error(r);
	c->srv->stats.tasks_denied++;
	sbx_audit_fields_str(&f, "code", sbx_error_name(code));
	sbx_audit_fields_str(&f, "context", context);
	sbx_audit_fields_str(&f, "policy", p->name);
	(void)sbx_record(c->srv, "secrets.refused", &c->peer, task, &f);
	sbx_conn_send_error(c, req_id, code, "%s (policy '%s')",
			    what[code] ? what[code] : "the sealed blob could not be opened",
			    p->name);
	return r;
}

void sbx_task_request_record_opened(struct sbx_task *t, struct sbx_secret_set *set)
{
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
	const char *names[SBX_SECRET_SET_MAX];
	size_t n = sbx_secret_set_count(set);

	for (size_t i = 0; i < n && i < SBX_SECRET_SET_MAX; i++)
		names[i] = sbx_secret_set_name(set, i);
	sbx_audit_fields_uint(&f, "key_id", sbx_secret_set_key_id(set));
	sbx_audit_fields_str(&f, "context", t->context);
	sbx_audit_fields_strv(&f, "names", names, n);
	(void)sbx_record(t->srv, "secrets.opened", t->conn ? &t->conn->peer : NULL, t->id, &f);
}

char **sbx_task_request_envp(struct sbx_task *t, struct sbx_secret_set *set)
{
	char *const *senv = NULL;
	char **envp = NULL;

	if (set && sbx_secret_set_envp(set, &senv) < 0)
		return NULL;
	if (sbx_sandbox_envp_net(t->pe->policy->net, t->env, t->n_env, senv, &envp) < 0)
		return NULL;
	return envp;
}

static bool valid_env_name(const char *s)
{
	if (!*s || strlen(s) > 128 ||
	    !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

bool sbx_task_request_check(struct sbx_conn *c, struct sbx_request *req,
			    struct sbx_policy_entry **ret_pe, uint64_t *ret_timeout)
{
	struct sbx_server *srv = c->srv;
	struct sbx_policy_entry *pe = sbx_policies_get(srv->policies, req->policy);
	struct sbx_policy *p;
	const char *k;
	json_t *v;

	if (srv->draining) {
		refuse_run(c, req, SBX_E_BUSY, "sbxd is shutting down");
		return false;
	}
	if (!pe) {
		refuse_run(c, req, SBX_E_POLICY_UNKNOWN, "unknown policy '%.64s'", req->policy);
		return false;
	}
	p = pe->policy;
	if (!sbx_authz_policy(srv->cfg, &c->peer, p)) {
		srv->stats.tasks_denied++;
		refuse_run(c, req, SBX_E_UNAUTHORIZED, "uid %u may not run tasks under policy '%s'",
			   (unsigned)c->peer.uid, p->name);
		return false;
	}
	json_object_foreach(req->env, k, v)
	{
		if (!valid_env_name(k) || !sbx_policy_accepts_env(p, k)) {
			refuse_run(c, req, SBX_E_POLICY_VIOLATION,
				   "policy '%s' does not let a request set env '%.64s'", p->name,
				   k);
			return false;
		}
	}
	*ret_timeout = p->timeout_default_ms;
	if (req->timeout_ms) {
		uint64_t limit = p->timeout_default_ms ? p->timeout_default_ms : p->timeout_max_ms;
		if (limit && req->timeout_ms > limit) {
			refuse_run(c, req, SBX_E_POLICY_VIOLATION,
				   "timeout_ms %llu is above the limit of policy '%s' "
				   "(%llu); a request may only lower it",
				   (unsigned long long)req->timeout_ms, p->name,
				   (unsigned long long)limit);
			return false;
		}
		*ret_timeout = req->timeout_ms;
	}
	if (req->cwd && req->cwd[0] != '/') {
		refuse_run(c, req, SBX_E_BAD_REQUEST, "'cwd' must be an absolute path");
		return false;
	}
	if (srv->n_running >= srv->cfg->max_tasks && srv->n_queued >= srv->cfg->max_queued) {
		refuse_run(c, req, SBX_E_BUSY, "%u tasks running and %u queued: at the limits",
			   srv->n_running, srv->n_queued);
		return false;
	}
	*ret_pe = pe;
	return true;
}

int sbx_task_request_copy(struct sbx_task *t, struct sbx_request *req)
{
	size_t n = json_array_size(req->argv), i;
	const char *k;
	json_t *v;

	t->argv = calloc(n + 1, sizeof(char *));
	t->env = calloc(json_object_size(req->env) + 1, sizeof(char *));
	if (!t->argv || !t->env)
		return -ENOMEM;
	json_array_foreach(req->argv, i,
			   v) if (!(t->argv[i] = strdup(json_string_value(v)))) return -ENOMEM;
	json_object_foreach(req->env, k, v) if (asprintf(&t->env[t->n_env++], "%s=%s", k,
							 json_string_value(v)) < 0) return -ENOMEM;
	if ((req->sealed && !(t->sealed = strdup(req->sealed))) ||
	    (req->context && !(t->context = strdup(req->context))) ||
	    (req->cwd && !(t->cwd = strdup(req->cwd))))
		return -ENOMEM;
	if (req->stdin_b64) {
		size_t len = strlen(req->stdin_b64);
		long k2;
		t->stdin_data = malloc(len / 4 * 3 + 3);
		if (!t->stdin_data)
			return -ENOMEM;
		k2 = sbx_base64_decode(req->stdin_b64, len, t->stdin_data);
		if (k2 < 0)
			return -EINVAL;
		t->stdin_len = (size_t)k2;
		if (k2 == 0) {
			free(t->stdin_data);
			t->stdin_data = NULL;
		}
	}
	return 0;
}

/* commit: a queued task's acceptance depends on this record alone; a task that starts now
 * is committed once, together with its task.started record. */
int sbx_task_request_record(struct sbx_task *t, const struct sbx_request *req, bool commit)
{
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
	const char *names[SBX_EXEC_ENV_NAMES];
	size_t n = 0;
	const char *k;
	json_t *v;
	int r;

	json_object_foreach(req->env, k, v) if (n < SBX_EXEC_ENV_NAMES) names[n++] = k;
	sbx_audit_fields_str(&f, "policy", t->pe->policy->name);
	sbx_audit_fields_str(&f, "program", t->argv[0]);
	sbx_audit_fields_uint(&f, "argc", json_array_size(req->argv));
	sbx_audit_fields_strv(&f, "env", names, n);
	sbx_audit_fields_bool(&f, "sealed", req->sealed != NULL);
	if (req->context)
		sbx_audit_fields_str(&f, "context", req->context);
	sbx_audit_fields_uint(&f, "timeout_ms", t->timeout_ms);
	r = sbx_record(t->srv, "task.requested", &t->conn->peer, t->id, &f);
	if (r >= 0 && commit)
		r = sbx_records_commit(t->srv);
	return r;
}
