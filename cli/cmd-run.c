/* SPDX-License-Identifier: MIT */
/*
 * `sbxctl run`, `sbxctl ps`, `sbxctl stats`: clients of sbxd's socket.
 *
 * run sends one `run` request (stdin, when it is not a terminal, is read whole and sent with
 * it), writes the task's output events to its own stdout and stderr, and exits with the same
 * status rules as `sbxctl exec`: the payload's code, 128+N for signal N, 124 on timeout,
 * 125 when sbx refused or failed (the error code and message are printed), 126/127 when the
 * program cannot be executed / does not exist. SIGINT/SIGTERM cancel the task.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "common/base64.h"
#include "common/fd-util.h"
#include "common/json-util.h"
#include "common/log.h"
#include "common/parse.h"

#define STDIN_MAX (512UL * 1024UL)

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int write_output(json_t *ev)
{
	const char *stream = json_string_value(json_object_get(ev, "stream"));
	const char *data = json_string_value(json_object_get(ev, "data"));
	size_t len = data ? strlen(data) : 0;
	char *bin;
	long n;

	if (!data)
		return 0;
	bin = malloc(len / 4 * 3 + 3);
	if (!bin)
		return -ENOMEM;
	n = sbx_base64_decode(data, len, bin);
	if (n > 0)
		(void)sbx_fd_write_all(stream && strcmp(stream, "stderr") == 0 ? 2 : 1, bin,
				       (size_t)n);
	free(bin);
	return 0;
}

static int exit_status(json_t *ev)
{
	json_t *code = json_object_get(ev, "code"), *sig = json_object_get(ev, "signal");
	const char *reason = json_string_value(json_object_get(ev, "reason"));

	if (reason && strcmp(reason, "timeout") == 0) {
		log_error("timeout: the task was killed");
		return SBX_EXIT_TIMEOUT;
	}
	if (reason && strcmp(reason, "oom") == 0)
		log_error("the task was killed by its policy's memory limit");
	if (json_is_integer(code))
		return (int)json_integer_value(code);
	if (json_is_integer(sig))
		return 128 + (int)json_integer_value(sig);
	return SBX_EXIT_FAILURE;
}

static int error_status(json_t *reply)
{
	const char *code = sbx_client_print_error(reply);
	json_t *e = json_object_get(reply, "error");
	const char *step = json_string_value(json_object_get(e, "step"));
	int err = (int)json_integer_value(json_object_get(e, "errno"));

	if (strcmp(code, "sandbox_setup_failed") == 0 && step && strcmp(step, "execve") == 0)
		return err == ENOENT ? SBX_EXIT_NOTFOUND : SBX_EXIT_NOEXEC;
	return SBX_EXIT_FAILURE;
}

static int read_stdin(json_t *req)
{
	char *buf = NULL, *b64;
	size_t len = 0;
	int r;

	if (isatty(STDIN_FILENO))
		return 0;
	r = sbx_fd_read_file("/dev/stdin", STDIN_MAX, &buf, &len);
	if (r == -EFBIG)
		return log_error("stdin is larger than %lu bytes", STDIN_MAX), r;
	if (r < 0)
		return 0; /* closed or unreadable stdin: send none */
	b64 = malloc(sbx_base64_len(len) + 1);
	if (!b64) {
		free(buf);
		return -ENOMEM;
	}
	sbx_base64_encode(buf, len, b64);
	if (len)
		(void)json_object_set_new(req, "stdin", json_string(b64));
	free(b64);
	free(buf);
	return 0;
}

/* --sealed-file PATH: the blob is the file's first line. */
static int add_sealed(json_t *req, const char *path)
{
	char *blob = NULL;

	if (sbx_fd_read_file(path, 1 << 20, &blob, NULL) < 0)
		return log_error("cannot read sealed file '%s'", path), -EINVAL;
	blob[strcspn(blob, "\r\n")] = '\0';
	(void)json_object_set_new(req, "sealed", json_string(blob));
	free(blob);
	return 0;
}

/* --env NAME=VALUE */
static int add_env(json_t *env, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char name[129];

	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(name))
		return log_error("--env: expected NAME=VALUE"), -EINVAL;
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = '\0';
	(void)json_object_set_new(env, name, json_string(eq + 1));
	return 0;
}

static int build_run(int argc, char **argv, const char **ret_socket, json_t **ret)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"policy", required_argument, NULL, 'p'},
	    {"sealed-file", required_argument, NULL, 'f'},
	    {"context", required_argument, NULL, 'c'},
	    {"env", required_argument, NULL, 'e'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	json_t *req = json_pack("{s:s, s:s, s:s}", "id", "run", "op", "run", "policy", "default");
	json_t *env = json_object(), *args = json_array();
	uint64_t ms;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+s:p:e:t:h", opts, NULL)) >= 0) {
		switch (c) {
		case 's':
			*ret_socket = optarg;
			break;
		case 'p':
			(void)json_object_set_new(req, "policy", json_string(optarg));
			break;
		case 'f':
			if (add_sealed(req, optarg) < 0)
				return -EINVAL;
			break;
		case 'c':
			(void)json_object_set_new(req, "context", json_string(optarg));
			break;
		case 'e':
			if (add_env(env, optarg) < 0)
				return -EINVAL;
			break;
		case 't':
			if (sbx_parse_duration_ms(optarg, &ms) < 0 || ms == 0)
				return log_error("--timeout: '%s' is not a duration", optarg),
				       -EINVAL;
			(void)json_object_set_new(req, "timeout_ms", json_integer((json_int_t)ms));
			break;
		case 'h':
			printf(
			    "usage: sbxctl run [--socket PATH] [--policy NAME] [--sealed-file F "
			    "--context C]\n                  [--env NAME=VALUE] [--timeout S] -- "
			    "PROGRAM [ARG...]\n");
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind >= argc)
		return log_error("usage: sbxctl run [OPTIONS] -- PROGRAM [ARG...]"), -EINVAL;
	for (int i = optind; i < argc; i++)
		(void)json_array_append_new(args, json_string(argv[i]));
	(void)json_object_set_new(req, "argv", args);
	if (json_object_size(env))
		(void)json_object_set(req, "env", env);
	json_decref(env);
	if (read_stdin(req) < 0)
		return -EINVAL;
	*ret = req;
	return 0;
}

int sbx_cmd_run(int argc, char **argv)
{
	_cleanup_(sbx_client_freep) struct sbx_client *c = NULL;
	const char *socket = NULL;
	char task[64] = "";
	json_t *req = NULL, *ev;
	bool cancelled = false;
	int r;

	if (build_run(argc, argv, &socket, &req) < 0)
		return SBX_EXIT_FAILURE;
	if (sbx_client_connect(socket, &c) < 0 || sbx_client_send(c, req) < 0) {
		json_decref(req);
		return SBX_EXIT_FAILURE;
	}
	json_decref(req);
	{
		/* No SA_RESTART: the blocking read returns EINTR and the loop sends a cancel. */
		struct sigaction sa = {.sa_handler = on_interrupt};
		(void)sigaction(SIGINT, &sa, NULL);
		(void)sigaction(SIGTERM, &sa, NULL);
	}
	for (;;) {
		const char *event;
		if (interrupted && task[0] && !cancelled) {
			json_t *cx = json_pack("{s:s, s:s, s:s}", "id", "cancel", "op", "cancel",
					       "task", task);
			(void)sbx_client_send(c, cx);
			json_decref(cx);
			cancelled = true;
		}
		r = sbx_client_recv(c, &ev);
		if (r == -EINTR)
			continue;
		if (r < 0) {
			log_error_errno(r, "connection to sbxd lost");
			return SBX_EXIT_FAILURE;
		}
		if (strcmp(json_string_value(json_object_get(ev, "id")) ?: "", "cancel") == 0) {
			json_decref(ev);
			continue;
		}
		event = json_string_value(json_object_get(ev, "event"));
		if (json_is_false(json_object_get(ev, "ok"))) {
			r = error_status(ev);
			json_decref(ev);
			return r;
		}
		if (event && strcmp(event, "accepted") == 0)
			(void)snprintf(task, sizeof(task), "%s",
				       json_string_value(json_object_get(ev, "task")) ?: "");
		else if (event && strcmp(event, "output") == 0)
			(void)write_output(ev);
		else if (event && strcmp(event, "exit") == 0) {
			r = exit_status(ev);
			json_decref(ev);
			return r;
		}
		json_decref(ev);
	}
}

/* ps and stats: one request, one reply. */
static int simple(int argc, char **argv, const char *op, json_t **ret)
{
	_cleanup_(sbx_client_freep) struct sbx_client *c = NULL;
	const char *socket = NULL;
	json_t *req;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			socket = argv[++i];
		else
			return log_error("usage: sbxctl %s [--socket PATH]", argv[0]), -EINVAL;
	}
	req = json_pack("{s:s, s:s}", "id", op, "op", op);
	r = sbx_client_connect(socket, &c);
	if (r >= 0)
		r = sbx_client_send(c, req);
	json_decref(req);
	if (r >= 0)
		r = sbx_client_recv(c, ret);
	if (r < 0)
		return r;
	if (json_is_false(json_object_get(*ret, "ok"))) {
		(void)sbx_client_print_error(*ret);
		json_decref(*ret);
		return -EPERM;
	}
	return 0;
}

int sbx_cmd_ps(int argc, char **argv)
{
	json_t *reply, *t;
	size_t i;

	if (simple(argc, argv, "list", &reply) < 0)
		return 1;
	printf("%-24s %-12s %-8s %8s %8s %10s\n", "TASK", "POLICY", "STATE", "PID", "UID", "AGE");
	json_array_foreach(json_object_get(reply, "tasks"), i, t) printf(
	    "%-24s %-12s %-8s %8d %8d %9.1fs\n", json_string_value(json_object_get(t, "task")),
	    json_string_value(json_object_get(t, "policy")),
	    json_string_value(json_object_get(t, "state")),
	    (int)json_integer_value(json_object_get(t, "pid")),
	    (int)json_integer_value(json_object_get(t, "uid")),
	    (double)json_integer_value(json_object_get(t, "age_ms")) / 1000.0);
	json_decref(reply);
	return 0;
}

int sbx_cmd_stats(int argc, char **argv)
{
	json_t *reply;
	char *s;

	if (simple(argc, argv, "stats", &reply) < 0)
		return 1;
	(void)json_object_del(reply, "id");
	(void)json_object_del(reply, "ok");
	s = sbx_json_dump(reply, JSON_INDENT(2), false);
	printf("%s\n", s ? s : "{}");
	free(s);
	json_decref(reply);
	return 0;
}
