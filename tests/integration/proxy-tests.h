/* SPDX-License-Identifier: MIT */
/*
 * Shared by the network mode proxy tests (test-proxy.c, test-proxy-relay.c): a test origin
 * server on 127.0.0.1 and sbxd with a policy "px" in network mode proxy. Everything asserts
 * with Criterion (call from a test's thread only).
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/integration/harness.h"
#include "tests/integration/sbxd-fixture.h"

/* The origin: HTTP/1.x, one request per connection. GET or POST /data?n=N&seed=S answers N
 * deterministic bytes; anything else "hello from origin\n". Every answer carries X-Body-Sha,
 * the sha256 of the request body it received. */
struct sbx_proxy_tests_origin {
	int fd;
	int port;
	pthread_t thread;
	pthread_mutex_t lock;
	char last_head[4096];
	unsigned requests;
};

extern struct sbx_proxy_tests_origin sbx_proxy_tests_org;

/* The suite's .init (skips unless root with sbxd, curl and bash) and .fini (stops sbxd). */
void sbx_proxy_tests_setup(void);
void sbx_proxy_tests_teardown(void);

/* Hex sha256 of the origin's n bytes of /data for seed. */
void sbx_proxy_tests_expected_sha(size_t n, uint32_t seed, char out[65]);
/* A listening socket on 127.0.0.1 with an ephemeral port. */
int sbx_proxy_tests_listen_any(int *ret_port);
/* Starts the origin on an ephemeral port of 127.0.0.1 (sbx_proxy_tests_org.port). */
void sbx_proxy_tests_origin_start(void);

/* Starts sbxd, writes policy "px" with the network fragment net and reloads. */
void sbx_proxy_tests_start_with(const char *net);
/* Stops sbxd and asserts it stopped cleanly. */
void sbx_proxy_tests_stop(void);
/* A client connected to sbxd. */
struct sbx_client_test *sbx_proxy_tests_conn(void);
/* Runs a bash script under policy px; returns its stdout (caller frees). */
char *sbx_proxy_tests_run_px(struct sbx_client_test *c, const char *id, const char *script,
			     int *ret_code);
/* The whole audit log (caller frees). */
char *sbx_proxy_tests_read_audit(void);
/* Number of audit lines that contain every one of the NULL-terminated needles. */
unsigned sbx_proxy_tests_audit_count(const char *first, ...);
