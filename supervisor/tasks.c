/* SPDX-License-Identifier: MIT */
/*
 * Task lifecycle on the loop: check a `run` request, open its sealed secrets, start the
 * sandbox (or queue it), stream its output, enforce its timeout, and report its end once.
 *
 *   run -> [queued] -> started (payload exec'd) -> output... -> exit
 *
 * Secrets: the blob is opened just before the spawn; the "NAME=value" strings are in locked
 * memory the child inherits (the only such memory), and are freed as soon as the spawn
 * returns, so no later clone ever carries them. Redaction keeps its own copy in
 * WIPEONFORK memory until the task ends. A queued task's blob is opened once at request time
 * to report errors early, and again when it starts.
 *
 * Handles per task: stdout and stderr pipes, optional stdin pipe, a poll on the sandbox's
 * pidfd and one on its report pipe, and the timeout timer. The task is freed when all of
 * them are closed.
 *
 * The checks and copies of a run request and the opening of its blob are in task-request.c;
 * the stdio pipes (forwarding, redaction, caps, backpressure) in task-output.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "keys/redact.h"
#include "keys/sealed.h"
#include "sandbox/sandbox.h"
#include "supervisor/proxy.h"
#include "supervisor/records.h"
#include "supervisor/tasks-internal.h"

uint64_t sbx_tasks_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void start_next(struct sbx_server *srv);

static void task_unlink(struct sbx_task *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else if (t->srv->tasks == t)
		t->srv->tasks = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

static void task_free(struct sbx_task *t)
{
	for (char **a = t->argv; a && *a; a++)
		free(*a);
	free(t->argv);
	for (size_t i = 0; i < t->n_env; i++)
		free(t->env[i]);
	free(t->env);
	free(t->sealed);
	free(t->context);
	free(t->cwd);
	if (t->stdin_data) {
		explicit_bzero(t->stdin_data, t->stdin_len);
		free(t->stdin_data);
	}
	t->out.red = sbx_redact_free(t->out.red);
	t->err.red = sbx_redact_free(t->err.red);
	explicit_bzero(t->out.buf, sizeof(t->out.buf));
	explicit_bzero(t->err.buf, sizeof(t->err.buf));
	t->sb = sbx_sandbox_free(t->sb);
	sbx_policy_entry_unref(t->pe);
	if (t->conn) {
		t->conn->n_tasks--;
		sbx_conn_unref(t->conn);
	}
	free(t);
}

/* One reference for the task's life (dropped by task_finish) and one per closing handle. */
static void task_unref(struct sbx_task *t)
{
	if (--t->handles == 0)
		task_free(t);
}

static void on_task_handle_closed(uv_handle_t *h)
{
	task_unref(h->data);
}

void sbx_tasks_close_handle(struct sbx_task *t, uv_handle_t *h, bool *open)
{
	if (!*open)
		return;
	*open = false;
	h->data = t;
	t->handles++;
	uv_close(h, on_task_handle_closed);
}

/* Ends the task for good: closes every handle; freed in the last close callback. */
/* NOLINTNEXTLINE(misc-no-recursion): a level per queued task */
static void task_finish(struct sbx_task *t)
{
	struct sbx_server *srv = t->srv;
	bool polls = t->polls_open;

	if (t->state == SBX_TASK_RUNNING)
		srv->n_running--;
	else if (t->state == SBX_TASK_QUEUED)
		srv->n_queued--;
	t->state = SBX_TASK_ENDED;
	task_unlink(t);
	t->proxy = sbx_proxy_stop(t->proxy);
	sbx_tasks_close_handle(t, (uv_handle_t *)&t->out.pipe, &t->out.open);
	sbx_tasks_close_handle(t, (uv_handle_t *)&t->err.pipe, &t->err.open);
	sbx_tasks_close_handle(t, (uv_handle_t *)&t->in, &t->in_open);
	sbx_tasks_close_handle(t, (uv_handle_t *)&t->timer, &t->timer_open);
	sbx_tasks_close_handle(t, (uv_handle_t *)&t->pidpoll, &polls);
	polls = t->polls_open;
	sbx_tasks_close_handle(t, (uv_handle_t *)&t->reppoll, &polls);
	t->polls_open = false;
	task_unref(t); /* the life reference */
	start_next(srv);
	if (srv->draining && !srv->tasks)
		uv_stop(srv->loop);
}

bool sbx_tasks_conn_ok(const struct sbx_task *t)
{
	return t->conn && !t->conn->closing;
}

void sbx_tasks_send_event(struct sbx_task *t, const char *event, json_t *fields)
{
	if (!sbx_tasks_conn_ok(t)) {
		json_decref(fields);
		return;
	}
	(void)json_object_set_new(fields, "task", json_string(t->id));
	sbx_conn_send(t->conn, sbx_protocol_event_line(t->req_id, event, fields));
}

static void record_exited(struct sbx_task *t, const char *reason, const struct sbx_sandbox_error *e)
{
	const struct sbx_sandbox_result *r = &t->res;
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;

	sbx_audit_fields_str(&f, "reason", reason);
	if (e) {
		sbx_audit_fields_str(&f, "step", e->step);
		sbx_audit_fields_int(&f, "errno", e->err);
	} else {
		if (r->end == SBX_END_EXITED)
			sbx_audit_fields_int(&f, "code", r->code);
		if (r->end == SBX_END_SIGNALED)
			sbx_audit_fields_int(&f, "signal", r->signal);
		sbx_audit_fields_uint(&f, "duration_ms", sbx_tasks_now_ms() - t->t_start);
		sbx_audit_fields_uint(&f, "cpu_ms", r->cpu_ms);
		sbx_audit_fields_uint(&f, "max_rss_kb", r->max_rss_kb);
	}
	(void)sbx_record(t->srv, "task.exited", t->conn ? &t->conn->peer : NULL, t->id, &f);
}

static void send_exit(struct sbx_task *t)
{
	const struct sbx_sandbox_result *r = &t->res;
	const char *reason = t->reason;
	json_t *f;

	if (!reason)
		reason = r->oom ? "oom" : r->end == SBX_END_EXITED ? "exited" : "signaled";
	f = json_pack("{s:o, s:o, s:s, s:I, s:I, s:I}", "code",
		      r->end == SBX_END_EXITED ? json_integer(r->code) : json_null(), "signal",
		      r->end == SBX_END_SIGNALED ? json_integer(r->signal) : json_null(), "reason",
		      reason, "duration_ms", (json_int_t)(sbx_tasks_now_ms() - t->t_start),
		      "cpu_ms", (json_int_t)r->cpu_ms, "max_rss_kb", (json_int_t)r->max_rss_kb);
	if (t->out.truncated || t->err.truncated)
		(void)json_object_set_new(f, "output_truncated", json_true());
	record_exited(t, reason, NULL);
	sbx_tasks_send_event(t, "exit", f);
}

/* Called when the sandbox is reaped and both pipes are at EOF. */
void sbx_tasks_maybe_done(struct sbx_task *t)
{
	if (!t->reaped || (t->out.open && !t->out.eof) || (t->err.open && !t->err.eof))
		return;
	if (t->res.end == SBX_END_SETUP_FAILED) {
		char msg[512];
		t->srv->stats.tasks_failed++;
		record_exited(t, "setup_failed", &t->res.error);
		if (sbx_tasks_conn_ok(t))
			sbx_conn_send(t->conn,
				      sbx_protocol_error_line(
					  t->req_id, SBX_E_SANDBOX_SETUP_FAILED,
					  sbx_sandbox_strerror(&t->res.error, msg, sizeof(msg)),
					  json_pack("{s:s, s:i, s:s}", "step", t->res.error.step,
						    "errno", t->res.error.err, "task", t->id)));
	} else {
		send_exit(t);
	}
	task_finish(t);
}

/* `started` comes before any output: the payload can write before init reports its exec
 * (init learns of it only when the payload's exec closes a pipe), and a byte on the task's
 * stdout or stderr can only come from the payload, which has then been exec'd. */
void sbx_tasks_send_started(struct sbx_task *t)
{
	if (t->started_sent)
		return;
	t->started_sent = true;
	sbx_tasks_send_event(t, "started",
			     json_pack("{s:i, s:i}", "pid", (int)sbx_sandbox_pid(t->sb), "uid",
				       (int)sbx_sandbox_uid(t->sb)));
}

static void on_reap(uv_poll_t *h, int status, int events)
{
	struct sbx_task *t = h->data;

	(void)status;
	(void)events;
	if (sbx_sandbox_reap(t->sb, false, &t->res) < 0)
		return;
	t->reaped = true;
	t->proxy = sbx_proxy_stop(t->proxy); /* nothing is left inside to serve */
	(void)uv_poll_stop(&t->pidpoll);
	(void)uv_poll_stop(&t->reppoll);
	if (t->timer_open)
		(void)uv_timer_stop(&t->timer);
	sbx_tasks_maybe_done(t);
}

static void proxy_record(void *userdata, const char *event, struct sbx_audit_fields *f)
{
	struct sbx_task *t = userdata;

	(void)sbx_record(t->srv, event, t->conn ? &t->conn->peer : NULL, t->id, f);
}

/* Network mode proxy: the child's listener arrives before the exec report. */
static void start_proxy(struct sbx_task *t)
{
	int fd, r;

	if (t->pe->policy->net != SBX_NET_PROXY || t->proxy || t->reaped)
		return;
	fd = sbx_sandbox_take_listener(t->sb);
	if (fd < 0)
		return;
	r = sbx_proxy_start(t->srv->loop, t->pe->policy, fd, proxy_record, t, &t->proxy);
	if (r < 0)
		log_error_errno(r, "task %s: starting its proxy; it has no egress", t->id);
}

static void on_report(uv_poll_t *h, int status, int events)
{
	struct sbx_task *t = h->data;
	int r;

	(void)status;
	r = sbx_sandbox_read_report(t->sb);
	start_proxy(t);
	if (r == 1)
		sbx_tasks_send_started(t);
	if (r < 0 || (events & UV_DISCONNECT))
		(void)uv_poll_stop(h);
}

static void kill_task(struct sbx_task *t, const char *reason)
{
	if (!t->reason)
		t->reason = reason;
	if (t->state == SBX_TASK_QUEUED) {
		t->res.end = SBX_END_SIGNALED;
		t->res.signal = 9;
		send_exit(t);
		task_finish(t);
		return;
	}
	if (t->sb && !t->reaped)
		(void)sbx_sandbox_kill(t->sb);
}

static void on_timeout(uv_timer_t *h)
{
	kill_task(h->data, "timeout");
}

static int record_started(struct sbx_task *t)
{
	const struct sbx_policy *p = t->pe->policy;
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
	int r;

	sbx_audit_fields_str(&f, "policy", p->name);
	sbx_audit_fields_uint(&f, "uid", sbx_sandbox_uid(t->sb));
	sbx_audit_fields_int(&f, "pid", sbx_sandbox_pid(t->sb));
	sbx_audit_fields_uint(&f, "memory_max", p->memory_max);
	sbx_audit_fields_uint(&f, "pids_max", p->pids_max);
	sbx_audit_fields_uint(&f, "cpu_millis", p->cpu_millis);
	sbx_audit_fields_uint(&f, "timeout_ms", t->timeout_ms);
	r = sbx_record(t->srv, "task.started", t->conn ? &t->conn->peer : NULL, t->id, &f);
	if (r >= 0)
		r = sbx_records_commit(t->srv);
	return r;
}

/* Spawns the sandbox; consumes set. On failure the error is sent and the task finished. */
/* NOLINTNEXTLINE(misc-no-recursion): a level per queued task */
static void start_task(struct sbx_task *t, struct sbx_secret_set *set)
{
	const struct sbx_config *cfg = t->srv->cfg;
	struct sbx_policy *p = t->pe->policy;
	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, inp[2] = {-1, -1};
	struct sbx_sandbox_error err;
	char **envp = sbx_task_request_envp(t, set);
	char msg[512];
	int r = -ENOMEM;

	t->t_start = sbx_tasks_now_ms();
	if (set)
		sbx_task_request_record_opened(t, set);
	if (envp && pipe2(outp, O_CLOEXEC) == 0 && pipe2(errp, O_CLOEXEC) == 0 &&
	    (!t->stdin_data || pipe2(inp, O_CLOEXEC) == 0)) {
		const struct sbx_sandbox_params params = {
		    .policy = p,
		    .seccomp = t->pe->seccomp,
		    .argv = t->argv,
		    .envp = envp,
		    .cwd = t->cwd,
		    .stdio = {inp[0], outp[1], errp[1]},
		    .task_id = t->id,
		    .runtime_dir = cfg->runtime_dir,
		    .uid_base = cfg->uid_base,
		    .uid_count = cfg->uid_count,
		    .wipe_envp = true,
		    .hold = true,
		};
		r = sbx_sandbox_spawn(&params, &t->sb, &err);
	} else {
		(void)snprintf(err.step, sizeof(err.step), "pipe");
		err.err = errno;
		err.detail[0] = '\0';
	}
	free(envp);
	(void)safe_close(outp[1]);
	(void)safe_close(errp[1]);
	(void)safe_close(inp[0]);
	if (r >= 0 && set && p->redact &&
	    (sbx_redact_new(set, &t->out.red) < 0 || sbx_redact_new(set, &t->err.red) < 0))
		r = -ENOMEM;		/* never stream unredacted output */
	(void)sbx_secret_set_free(set); /* the child has its copy; no later clone gets one */
	if (r < 0) {
		(void)safe_close(outp[0]);
		(void)safe_close(errp[0]);
		(void)safe_close(inp[1]);
		t->srv->stats.tasks_failed++;
		record_exited(t, "setup_failed", &err);
		sbx_conn_send(t->conn,
			      sbx_protocol_error_line(t->req_id, SBX_E_SANDBOX_SETUP_FAILED,
						      sbx_sandbox_strerror(&err, msg, sizeof(msg)),
						      json_pack("{s:s, s:i, s:s}", "step", err.step,
								"errno", err.err, "task", t->id)));
		task_finish(t);
		return;
	}
	/* Written before the payload may run: no task runs unaudited. */
	if (record_started(t) < 0 || sbx_sandbox_release(t->sb) < 0) {
		(void)safe_close(outp[0]);
		(void)safe_close(errp[0]);
		(void)safe_close(inp[1]);
		sbx_conn_send_error(t->conn, t->req_id, SBX_E_AUDIT_UNAVAILABLE,
				    "the audit log cannot be written: the task was not started");
		task_finish(t); /* frees the held sandbox: its child reads EOF and leaves */
		return;
	}
	if (!t->accepted_sent) {
		sbx_tasks_send_event(t, "accepted", json_object());
		t->accepted_sent = true;
	}
	(void)sbx_task_output_open(t, &t->out, outp[0], "stdout");
	(void)sbx_task_output_open(t, &t->err, errp[0], "stderr");
	if (t->stdin_data)
		sbx_task_output_write_stdin(t, inp[1]);
	(void)uv_poll_init(t->srv->loop, &t->pidpoll, sbx_sandbox_pidfd(t->sb));
	(void)uv_poll_init(t->srv->loop, &t->reppoll, sbx_sandbox_report_fd(t->sb));
	t->pidpoll.data = t->reppoll.data = t;
	t->polls_open = true;
	(void)uv_poll_start(&t->pidpoll, UV_READABLE, on_reap);
	(void)uv_poll_start(&t->reppoll, UV_READABLE | UV_DISCONNECT, on_report);
	(void)uv_timer_init(t->srv->loop, &t->timer);
	t->timer.data = t;
	t->timer_open = true;
	if (t->timeout_ms) {
		/* The loop's clock is that of the start of this turn, before the spawn and the
		 * audit write: armed on it, the timer killed a payload up to that long before
		 * its timeout_ms (684 ms of 700 under valgrind). Refreshed, the task always gets
		 * its whole timeout, measured from its start (t_start is earlier still). */
		uv_update_time(t->srv->loop);
		(void)uv_timer_start(&t->timer, on_timeout, t->timeout_ms, 0);
	}
}

/* NOLINTNEXTLINE(misc-no-recursion): a level per queued task */
static void start_next(struct sbx_server *srv)
{
	for (struct sbx_task *t = srv->tasks, *n; t && srv->n_running < srv->cfg->max_tasks;
	     t = n) {
		struct sbx_secret_set *set = NULL;
		n = t->next;
		if (t->state != SBX_TASK_QUEUED)
			continue;
		srv->n_queued--;
		srv->n_running++;
		srv->stats.tasks_run++;
		t->state = SBX_TASK_RUNNING;
		if (t->conn->closing) {
			task_finish(t);
			continue;
		}
		if (sbx_task_request_open_secrets(t->conn, t->req_id, t->id, t->pe->policy,
						  &(struct sbx_task_sealed){t->sealed, t->context},
						  &set) < 0) {
			task_finish(t);
			continue;
		}
		start_task(t, set);
	}
}

void sbx_tasks_run(struct sbx_conn *c, struct sbx_request *req)
{
	struct sbx_server *srv = c->srv;
	struct sbx_secret_set *set = NULL;
	struct sbx_policy_entry *pe;
	struct sbx_task *t, **tail;
	char id[sizeof(t->id)];
	uint64_t timeout;
	bool now;
	int r;

	if (!sbx_task_request_check(c, req, &pe, &timeout))
		return;
	(void)snprintf(id, sizeof(id), "sbxd-%d-%llu", (int)getpid(),
		       (unsigned long long)++srv->next_task);
	now = srv->n_running < srv->cfg->max_tasks;
	/* Open the blob first: a bad one is refused before anything is accepted. */
	if (sbx_task_request_open_secrets(c, req->id, id, pe->policy,
					  &(struct sbx_task_sealed){req->sealed, req->context},
					  &set) < 0)
		return;
	if (!now)
		set = sbx_secret_set_free(set); /* reopened when the task leaves the queue */
	t = calloc(1, sizeof(*t));
	if (!t) {
		sbx_secret_set_free(set);
		sbx_conn_send_error(c, req->id, SBX_E_INTERNAL, "out of memory");
		return;
	}
	t->srv = srv;
	t->handles = 1; /* the life reference */
	t->conn = c;
	sbx_conn_ref(c);
	c->n_tasks++;
	t->pe = sbx_policy_entry_ref(pe);
	t->timeout_ms = timeout;
	t->t_start = sbx_tasks_now_ms();
	t->state = SBX_TASK_QUEUED;
	srv->n_queued++;
	(void)snprintf(t->req_id, sizeof(t->req_id), "%s", req->id);
	(void)snprintf(t->id, sizeof(t->id), "%s", id);
	for (tail = &srv->tasks; *tail; tail = &(*tail)->next)
		t->prev = *tail;
	*tail = t;
	r = sbx_task_request_copy(t, req);
	if (r < 0) {
		sbx_secret_set_free(set);
		sbx_conn_send_error(c, req->id, r == -EINVAL ? SBX_E_BAD_REQUEST : SBX_E_INTERNAL,
				    r == -EINVAL ? "'stdin' is not valid base64" : "out of memory");
		task_finish(t);
		return;
	}
	if (sbx_task_request_record(t, req, !now) < 0) {
		sbx_secret_set_free(set);
		sbx_conn_send_error(c, req->id, SBX_E_AUDIT_UNAVAILABLE,
				    "the audit log cannot be written: no task runs unaudited");
		task_finish(t);
		return;
	}
	if (!now) {
		sbx_tasks_send_event(t, "accepted", json_object());
		t->accepted_sent = true;
		return;
	}
	srv->n_queued--;
	srv->n_running++;
	srv->stats.tasks_run++;
	t->state = SBX_TASK_RUNNING;
	start_task(t, set);
}

static bool may_see(const struct sbx_conn *c, const struct sbx_task *t)
{
	return c->peer.uid == 0 || (t->conn && t->conn->peer.uid == c->peer.uid);
}

void sbx_tasks_cancel(struct sbx_conn *c, struct sbx_request *req)
{
	for (struct sbx_task *t = c->srv->tasks; t; t = t->next)
		if (strcmp(t->id, req->task) == 0 && may_see(c, t)) {
			sbx_conn_send(c, sbx_protocol_ok_line(req->id, NULL));
			kill_task(t, "cancelled");
			return;
		}
	sbx_conn_send_error(c, req->id, SBX_E_BAD_REQUEST, "no running task '%.64s' of yours",
			    req->task);
}

void sbx_tasks_list(struct sbx_conn *c, struct sbx_request *req)
{
	json_t *a = json_array();
	const uint64_t now = sbx_tasks_now_ms();

	for (struct sbx_task *t = c->srv->tasks; t; t = t->next) {
		if (!may_see(c, t))
			continue;
		(void)json_array_append_new(
		    a, json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:I}", "task", t->id, "policy",
				 t->pe->policy->name, "state",
				 t->state == SBX_TASK_QUEUED ? "queued" : "running", "pid",
				 t->sb ? (int)sbx_sandbox_pid(t->sb) : 0, "uid",
				 t->sb ? (int)sbx_sandbox_uid(t->sb) : 0, "client_uid",
				 t->conn ? (int)t->conn->peer.uid : -1, "age_ms",
				 (json_int_t)(t->t_start ? now - t->t_start : 0)));
	}
	sbx_conn_send(c, sbx_protocol_ok_line(req->id, json_pack("{s:o}", "tasks", a)));
}

void sbx_tasks_conn_closed(struct sbx_conn *c)
{
	for (struct sbx_task *t = c->srv->tasks, *n; t; t = n) {
		n = t->next;
		if (t->conn != c)
			continue;
		/* Pipes paused for this client's backpressure would never reach EOF: drain
		 * them (the output goes nowhere now) so the task can end and free its slot. */
		if (c->throttled)
			sbx_task_output_set_paused(t, false);
		kill_task(t, "disconnected");
	}
}

void sbx_tasks_throttle(struct sbx_conn *c, bool pause)
{
	for (struct sbx_task *t = c->srv->tasks; t; t = t->next)
		if (t->conn == c)
			sbx_task_output_set_paused(t, pause);
}

void sbx_tasks_kill_all(struct sbx_server *srv, const char *reason)
{
	for (struct sbx_task *t = srv->tasks, *n; t; t = n) {
		n = t->next;
		kill_task(t, reason);
	}
}
