/* SPDX-License-Identifier: MIT */
/*
 * The real sbxd for integration tests, and a small blocking client of its socket.
 *
 * sbx_fixture_*: starts build/sbxd (`--dev DIR`, or `--config FILE` when a test needs limits or
 * client rules) in a fresh temporary directory with its stderr in a log file, waits until its
 * socket accepts, and stops it again: SIGTERM, exit status 0 within a deadline, no process left
 * in one of its task cgroups and no leftover `sbxd-<pid>-*` cgroup directory.
 *
 * sbx_client_test_*: JSON lines over the socket with timeouts. Every byte the daemon sends is
 * also kept in a transcript, so a test can scan all replies for a canary. Lines for other ids
 * than the one being waited for are kept in order for later calls, so requests may be
 * multiplexed on one connection.
 *
 * Nothing here asserts (also usable from threads); functions return 0 or -errno and, for the
 * daemon, say on stderr what went wrong.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <sys/types.h>

#include <jansson.h>

struct sbx_fixture_opts {
	/* Any of these makes the daemon run with --config FILE instead of --dev DIR. */
	const char *limits;   /* JSON object text for "limits", or NULL */
	const char *clients;  /* JSON array text for "clients", or NULL */
	const char *extra;    /* more top-level members ("\"runtime_dir\": \"/x\""), or NULL */
	bool config;	      /* --config even without limits or clients */
	const char *sudo_uid; /* --dev: SUDO_UID for the daemon (the invoking user), or NULL */
	const char *cgroup;   /* a cgroup directory the daemon is started in, or NULL */
	unsigned long nofile; /* when not 0: the daemon's soft RLIMIT_NOFILE (hard unchanged) */
};

struct sbx_fixture {
	pid_t pid;	      /* 0 when not running */
	char *base;	      /* temporary directory (mode 0700) holding everything below */
	char *dir;	      /* --dev DIR, or the config mode's state directory */
	char sock[108];	      /* the daemon's socket */
	char log[4096];	      /* its stderr */
	char keyring[4096];   /* its keyring */
	char policies[4096];  /* its policy directory */
	char config[4096];    /* --config FILE, "" in --dev mode */
	char audit_key[4096]; /* config mode: the audit log's first key (sbxctl audit init) */
	int status;	      /* wait status once stopped */
};

/* How many times slower the daemon runs than normal: 8 under valgrind (SBX_SBXD_WRAPPER
 * names valgrind), else 1. The fixture's own deadlines are multiplied by it; tests multiply
 * their reply timeouts by it. */
int sbx_fixture_slow(void);

/* Starts sbxd (opts may be NULL: --dev). Waits up to 10 s for the socket to accept a
 * connection. Returns 0, or -errno with the daemon killed and its log on stderr. */
int sbx_fixture_start(struct sbx_fixture *f, const struct sbx_fixture_opts *opts);

/* Sends SIGTERM and waits up to deadline_ms for the exit, then checks that no process is left
 * in a cgroup of this daemon and that no `sbxd-<pid>-*` cgroup directory remains. Returns 0
 * when all holds (exit status 0 included), -ETIMEDOUT when it did not exit in time (it is
 * killed), -ECHILD for a non-zero exit, -EBUSY for a stray process, -ENOTEMPTY for a leftover
 * cgroup, -EPROTO when valgrind (SBX_SBXD_WRAPPER) reported an error, a leak or an fd left
 * open. Says which on stderr. */
int sbx_fixture_stop(struct sbx_fixture *f, int deadline_ms);

/* sbx_fixture_stop without the SIGTERM: for a daemon already told to stop. */
int sbx_fixture_wait_exit(struct sbx_fixture *f, int deadline_ms);

/* Only the post-exit checks of sbx_fixture_stop (stray processes and cgroups of pid). */
int sbx_fixture_check_clean(pid_t pid);

/* SIGKILLs a daemon still running (for .fini after a failed test) and removes f->base. */
void sbx_fixture_cleanup(struct sbx_fixture *f);

/* Sends a signal to the daemon. Returns 0 or -errno. */
int sbx_fixture_signal(struct sbx_fixture *f, int sig);

/* Reads the whole log so far (malloc'd, NUL-terminated; NULL on error). */
char *sbx_fixture_read_log(const struct sbx_fixture *f, size_t *ret_len);

/* Waits up to timeout_ms for needle to appear in the log. Returns true when it did. */
bool sbx_fixture_wait_log(const struct sbx_fixture *f, const char *needle, int timeout_ms);

/* Resident set size of the daemon in KiB (VmRSS), or -errno. */
long sbx_fixture_rss_kb(const struct sbx_fixture *f);

/* Pid of a process whose command line (NUL-separated arguments) contains needle as one
 * whole argument, or 0 when there is none. */
pid_t sbx_fixture_find_process(const char *arg);

/* Waits up to timeout_ms until no process has arg as an argument. Returns true when none
 * is left. */
bool sbx_fixture_wait_gone(const char *arg, int timeout_ms);

struct sbx_client_test {
	int fd;
	char *buf; /* received bytes not yet split into lines */
	size_t len, cap;
	json_t *pending;  /* array of lines received but not yet consumed */
	char *transcript; /* every byte received, when keep_transcript */
	size_t transcript_len, transcript_cap;
	bool keep_transcript;
	size_t bad_lines; /* lines that were not a JSON object */
};

/* Connects to path. Returns 0 or -errno (ret untouched). */
int sbx_client_test_connect(const char *path, struct sbx_client_test **ret);
struct sbx_client_test *sbx_client_test_free(struct sbx_client_test *c);
static inline void sbx_client_test_freep(struct sbx_client_test **c)
{
	*c = sbx_client_test_free(*c);
}

/* Writes raw bytes (may be a partial line, invalid UTF-8, anything). Returns 0 or -errno. */
int sbx_client_test_send_raw(struct sbx_client_test *c, const void *data, size_t len);
/* Writes obj (not stolen) as one compact line. Returns 0 or -errno. */
int sbx_client_test_send(struct sbx_client_test *c, json_t *obj);
/* The same, stealing obj (also when it fails). */
int sbx_client_test_send_take(struct sbx_client_test *c, json_t *obj);
/* Parses fmt with json_pack (a new reference) and sends it. Returns 0 or -errno. */
int sbx_client_test_sendf(struct sbx_client_test *c, const char *fmt, ...);

/* The next line as an object (caller owns it), pending ones first. Returns 0, -ETIMEDOUT,
 * -EPIPE when the daemon closed the connection, or -errno. */
int sbx_client_test_next(struct sbx_client_test *c, int timeout_ms, json_t **ret);
/* The next line whose "id" is id (a string, or NULL for "id":null); other lines stay pending. */
int sbx_client_test_next_for(struct sbx_client_test *c, const char *id, int timeout_ms,
			     json_t **ret);
/* Sends req (stolen) and returns its first reply line. */
int sbx_client_test_call(struct sbx_client_test *c, json_t *req, int timeout_ms, json_t **ret);

/* Everything a run produced, collected until its exit event or error reply. */
struct sbx_client_test_task {
	char task[64]; /* from "accepted" (or from the error's "task") */
	bool accepted;
	bool started;
	int pid;	 /* from "started" */
	char *out, *err; /* decoded output, NUL-terminated (never NULL after a wait) */
	size_t out_len, err_len;
	size_t n_output;	/* number of output events */
	json_t *exit;		/* the exit event, or NULL */
	json_t *error;		/* the error reply's "error" object, or NULL */
	const char *reason;	/* exit.reason, or NULL (points into exit) */
	int code;		/* exit.code, or -1 when null */
	int signal;		/* exit.signal, or 0 */
	const char *error_code; /* error.code, or NULL */
	size_t bad_events;	/* lines for this id that fit no known event */
};

/* Reads every line for id until its exit event or error reply, within timeout_ms in all.
 * Returns 0, -ETIMEDOUT (what arrived so far is in ret), -EPIPE or -errno. */
int sbx_client_test_wait(struct sbx_client_test *c, const char *id, int timeout_ms,
			 struct sbx_client_test_task *ret);
/* Sends req (stolen; a run) and waits for its end as sbx_client_test_wait. */
int sbx_client_test_run(struct sbx_client_test *c, json_t *req, int timeout_ms,
			struct sbx_client_test_task *ret);
void sbx_client_test_task_done(struct sbx_client_test_task *t);

/* A run request: {"id":id,"op":"run","policy":"default","argv":[sh,-c,script]}. */
json_t *sbx_client_test_sh(const char *id, const char *script);
