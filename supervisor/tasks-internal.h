/* SPDX-License-Identifier: MIT */
/*
 * Private to the task lifecycle (tasks.c, task-output.c, task-request.c): the task and its
 * streams. tasks.c owns a task from request to free; task-output.c its stdio pipes;
 * task-request.c the checks and copies of a run request and the opening of its secrets.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "sandbox/sandbox.h"
#include "supervisor/sbxd.h"

#define SBX_TASK_READ_CHUNK 16384

struct sbx_redactor;
struct sbx_secret_set;

enum sbx_task_state {
	SBX_TASK_QUEUED,
	SBX_TASK_RUNNING,
	SBX_TASK_ENDED
};

struct sbx_task_stream {
	uv_pipe_t pipe;
	struct sbx_task *task;
	const char *name;
	bool open;
	bool eof;
	uint64_t bytes;
	bool truncated;
	struct sbx_redactor *red;
	char buf[SBX_TASK_READ_CHUNK];
};

struct sbx_task {
	struct sbx_task *next, *prev;
	struct sbx_server *srv;
	struct sbx_conn *conn;
	char id[48];
	char req_id[SBX_ID_MAX + 1];
	enum sbx_task_state state;
	struct sbx_policy_entry *pe;
	char **argv;
	char **env; /* "NAME=value" of the request (not secret) */
	size_t n_env;
	char *sealed, *context, *cwd;
	unsigned char *stdin_data;
	size_t stdin_len;
	uint64_t timeout_ms;
	struct sbx_sandbox *sb;
	struct sbx_proxy *proxy; /* network mode proxy, from exec until the task ends */
	struct sbx_task_stream out, err;
	uv_pipe_t in;
	bool in_open;
	uv_poll_t pidpoll, reppoll;
	bool polls_open;
	uv_timer_t timer;
	bool timer_open;
	unsigned handles; /* see task_unref in tasks.c */
	bool reaped;
	bool started_sent;
	bool accepted_sent;
	const char *reason; /* set by timeout, cancel, disconnect, shutdown */
	struct sbx_sandbox_result res;
	uint64_t t_start;
};

/* A sealed blob and the context it must open under. */
struct sbx_task_sealed {
	const char *blob;
	const char *context;
};

/* tasks.c */
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t sbx_tasks_now_ms(void);
/* Whether the task's client is still there to be sent anything. */
bool sbx_tasks_conn_ok(const struct sbx_task *t);
/* Sends an event of the task to its client (takes fields; dropped if the client is gone). */
void sbx_tasks_send_event(struct sbx_task *t, const char *event, json_t *fields);
/* Sends `started` once, before any output. */
void sbx_tasks_send_started(struct sbx_task *t);
/* Ends the task once it is reaped and both output pipes are at EOF; else does nothing. */
void sbx_tasks_maybe_done(struct sbx_task *t);
/* Closes one of the task's handles if *open (clears it); the task holds a reference until
 * the close callback. */
void sbx_tasks_close_handle(struct sbx_task *t, uv_handle_t *h, bool *open);

/* task-output.c */
/* Opens the read end fd of stream s as a pipe named name ("stdout", "stderr") and starts
 * reading unless the client is throttled. Takes fd (closed on failure). Returns -ENOMEM or
 * -EIO. */
int sbx_task_output_open(struct sbx_task *t, struct sbx_task_stream *s, int fd, const char *name);
/* Writes the task's stdin data to the write end fd, then closes it. Takes fd. */
void sbx_task_output_write_stdin(struct sbx_task *t, int fd);
/* Pauses or resumes reading the task's open stdout and stderr (backpressure). */
void sbx_task_output_set_paused(struct sbx_task *t, bool pause);

/* task-request.c */
/* Every check of a run request that needs no resource. On refusal records it, sends the
 * error reply and returns false; else sets *ret_pe (not referenced) and *ret_timeout. */
bool sbx_task_request_check(struct sbx_conn *c, struct sbx_request *req,
			    struct sbx_policy_entry **ret_pe, uint64_t *ret_timeout);
/* Copies argv, env, sealed, context, cwd and the decoded stdin of req into t. Returns
 * -ENOMEM, or -EINVAL for stdin that is not base64; t's fields are freed by the task. */
int sbx_task_request_copy(struct sbx_task *t, struct sbx_request *req);
/* The task.requested record; commit makes it durable at once. Returns < 0 if the audit log
 * cannot be written. */
int sbx_task_request_record(struct sbx_task *t, const struct sbx_request *req, bool commit);
/* Opens the sealed blob of a task under policy p. *ret is NULL without a blob; the caller
 * owns it. On failure records secrets.refused, sends the error reply and returns < 0. */
int sbx_task_request_open_secrets(struct sbx_conn *c, const char *req_id, const char *task,
				  struct sbx_policy *p, const struct sbx_task_sealed *ref,
				  struct sbx_secret_set **ret);
/* secrets.opened, for a task that starts now with the set it will receive. */
void sbx_task_request_record_opened(struct sbx_task *t, struct sbx_secret_set *set);
/* The sandbox's environment: the request's env, the secrets of set (may be NULL) and the
 * network mode's variables. NULL on failure; the caller frees it. */
char **sbx_task_request_envp(struct sbx_task *t, struct sbx_secret_set *set);
