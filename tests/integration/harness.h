/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by every Criterion integration test: run a command with optional stdin and
 * capture its whole stdout and stderr under a timeout, find the built binaries, skip when not
 * root, make and remove temporary directories. Linked into every tests/integration/test-*.c
 * binary (Makefile INTEG_HELPERS). Nothing here asserts: callers decide what a failure means.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <sys/types.h>

/* Criterion's cr_assert pastes its first token: a plain truth value goes through this. */
static inline bool T(bool b)
{
	return b;
}

#ifndef SBX_BUILD_DIR
#	define SBX_BUILD_DIR "build"
#endif

/* What a finished (or killed) command left behind. */
struct sbx_test_run {
	int status;	/* raw wait status; -1 when the command could not be started */
	int code;	/* exit code, or -1 when it did not exit normally */
	int signal;	/* terminating signal, or 0 */
	bool timed_out; /* the timeout fired and the harness sent SIGKILL */
	char *out;	/* all of stdout, NUL-terminated (never NULL after a run) */
	size_t out_len;
	char *err; /* all of stderr, NUL-terminated (never NULL after a run) */
	size_t err_len;
	double elapsed_ms;
};

/* Runs argv[0] (a path; PATH is searched when it has no '/') with argv, stdin fed from
 * in/in_len (NULL: /dev/null), stdout and stderr captured in full by polling both pipes.
 * After timeout_ms (<= 0: 60 s) the child's process group is sent SIGKILL. envp NULL keeps the
 * test's environment. Returns 0 once the command has ended (ret is filled; its code may be
 * anything), -errno when it could not be started (ret->status is -1, buffers are empty).
 * The buffers are owned by ret: free them with sbx_test_run_done(). */
int sbx_test_run(char *const argv[], char *const envp[], const void *in, size_t in_len,
		 int timeout_ms, struct sbx_test_run *ret);

/* NULL-terminated argv convenience: sbx_test_runv(&r, 5000, "/bin/echo", "hi", NULL). */
int sbx_test_runv(struct sbx_test_run *ret, int timeout_ms, const char *arg0, ...)
    __attribute__((sentinel));

/* Frees what a run captured and resets ret; safe to call twice. */
void sbx_test_run_done(struct sbx_test_run *ret);

/* Writes a run's exit figures and both streams to stderr, for failed assertions. */
void sbx_test_run_dump(const char *what, const struct sbx_test_run *r);

/* Path of a built file under the build dir, e.g. sbx_test_build_path("sbxctl") or
 * sbx_test_build_path("tests/probe"). Returns a static buffer reused by the next call. */
const char *sbx_test_build_path(const char *rel);
/* Same, into a caller buffer; returns buf. */
char *sbx_test_build_path_r(const char *rel, char *buf, size_t len);

/* Skips the current test (cr_skip) with a reason when not running as root. */
void sbx_test_require_root(void);
/* Skips when path is not executable, naming it (e.g. "build/sbxctl not built"). */
void sbx_test_require_file(const char *path);

/* Creates a fresh mode-0700 directory under $TMPDIR (or /tmp) named sbx-test-<tag>-XXXXXX.
 * Returns a malloc'd path the caller frees, or NULL with errno set. */
char *sbx_test_mkdtemp(const char *tag);
/* Removes path and everything under it without following symlinks or crossing mounts.
 * Returns 0 (also when path does not exist) or -errno. */
int sbx_test_rm_rf(const char *path);

/* Writes data to path (created 0644, truncated). Returns 0 or -errno. */
int sbx_test_write_file(const char *path, const char *data);

/* Does haystack contain needle? NULL-safe. */
bool sbx_test_contains(const char *haystack, const char *needle);
