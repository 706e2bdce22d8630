/* SPDX-License-Identifier: MIT */
/*
 * The helpers of the sbxd suite, shared by test-sbxd.c and test-sbxd-{ops,wire,authz,keys}.c
 * (sbxd-tests.c). Each of those files declares
 *
 *   TestSuite(sbxd, .init = sbxt_setup, .fini = sbxt_teardown, .timeout = 60);
 *
 * and starts its daemon in sbxt_fx with sbxt_start(). The helpers assert (Criterion).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "tests/integration/harness.h"
#include "tests/integration/sbxd-fixture.h"

/* The daemon of the running test. */
extern struct sbx_fixture sbxt_fx;

/* The suite's .init (skips unless root and built) and .fini (kills a daemon left running). */
void sbxt_setup(void);
void sbxt_teardown(void);

double sbxt_now_ms(void);
void sbxt_sleep_ms(int ms);
void sbxt_start(const struct sbx_fixture_opts *o);
/* SIGTERM, exit 0, nothing left behind. */
void sbxt_stop(void);
struct sbx_client_test *sbxt_conn(void);
/* o as compact JSON in a static buffer, "(none)" for NULL. */
char *sbxt_dump(json_t *o);
/* Sends req (stolen) and returns its first reply (owned by the caller). */
json_t *sbxt_call(struct sbx_client_test *c, json_t *req);
const char *sbxt_error_code(json_t *reply);
/* Asserts reply is {"id":..,"ok":false,"error":{"code":code,"message":"..."}} and frees it. */
void sbxt_expect_error(json_t *reply, const char *code);
void sbxt_expect_ok(json_t *reply);
void sbxt_expect_exited(const struct sbx_client_test_task *t, int code);
void sbxt_run_sh(struct sbx_client_test *c, const char *id, const char *script,
		 struct sbx_client_test_task *t);
/* Seals {name: value} under context; returns the blob (malloc'd). */
char *sbxt_seal(struct sbx_client_test *c, const char *name, const char *value,
		const char *context);
/* SIGHUP, then wait until the log has one more `needle` line than before. */
void sbxt_reload(const char *needle);
/* A unique argument for a sleeper, found later in /proc: "3600.<12 hex digits in digits>". */
void sbxt_unique_sleep_arg(char *buf, size_t len);
/* Waits until a process with arg exists (the sandbox started it). */
void sbxt_wait_process(const char *arg);
/* Asserts that a hello with this id still gets an ok reply on c. */
void sbxt_expect_hello_works(struct sbx_client_test *c, const char *id);
