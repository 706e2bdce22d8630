/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the network mode proxy tests (test-proxy.c, test-proxy-relay.c; see
 * proxy-tests.h): the test origin server on 127.0.0.1 (a thread of the test process that
 * records what it received and serves deterministic data), and sbxd started with a proxy
 * policy, its runs and its audit log. Linked into every integration binary (Makefile
 * INTEG_HELPERS), hence the sbx_proxy_tests_ prefix on everything shared.
 */
#include "tests/integration/proxy-tests.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>
#include <sodium.h>

#include "tests/integration/harness.h"

#define T_PROXY_TASK 60000 /* ms: a task that moves MiBs through the proxy */

static struct sbx_fixture fx;

void sbx_proxy_tests_setup(void)
{
	sbx_test_require_root();
	sbx_test_require_file(sbx_test_build_path("sbxd"));
	sbx_test_require_file("/usr/bin/curl");
	sbx_test_require_file("/bin/bash");
	cr_assert(T(sodium_init() >= 0));
}

void sbx_proxy_tests_teardown(void)
{
	sbx_fixture_cleanup(&fx);
}

/* ---- the origin: HTTP/1.x, one request per connection ---- */

struct sbx_proxy_tests_origin sbx_proxy_tests_org = {.lock = PTHREAD_MUTEX_INITIALIZER};
static struct sbx_proxy_tests_origin *const org = &sbx_proxy_tests_org;

/* Deterministic body bytes for /data?n=N&seed=S. */
static void fill(unsigned char *p, size_t n, uint32_t *state)
{
	for (size_t i = 0; i < n; i++) {
		*state ^= *state << 13;
		*state ^= *state >> 17;
		*state ^= *state << 5;
		p[i] = (unsigned char)*state;
	}
}

static void hex(const unsigned char *h, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		(void)sprintf(out + 2 * i, "%02x", h[i]);
}

void sbx_proxy_tests_expected_sha(size_t n, uint32_t seed, char out[65])
{
	crypto_hash_sha256_state st;
	unsigned char buf[65536], h[32];
	uint32_t s = seed ? seed : 1;

	crypto_hash_sha256_init(&st);
	while (n > 0) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);
		fill(buf, k, &s);
		crypto_hash_sha256_update(&st, buf, k);
		n -= k;
	}
	crypto_hash_sha256_final(&st, h);
	hex(h, 32, out);
}

static bool write_all(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k <= 0)
			return false;
		p = (const char *)p + k;
		n -= (size_t)k;
	}
	return true;
}

static void *origin_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char head[4096], sha[65], hdr[512];
	unsigned char buf[65536], h[32];
	size_t len = 0, body_len = 0, want = 0, n = 0;
	crypto_hash_sha256_state st;
	uint32_t seed = 1;
	char *end = NULL, *p;
	ssize_t k;

	while (len < sizeof(head) - 1 && !end) {
		k = read(fd, head + len, sizeof(head) - 1 - len);
		if (k <= 0)
			goto out;
		len += (size_t)k;
		head[len] = '\0';
		end = strstr(head, "\r\n\r\n");
	}
	if (!end)
		goto out;
	pthread_mutex_lock(&org->lock);
	(void)snprintf(org->last_head, sizeof(org->last_head), "%.*s", (int)(end - head + 4), head);
	org->requests++;
	pthread_mutex_unlock(&org->lock);
	p = strcasestr(head, "\r\nContent-Length:");
	if (p && p < end)
		body_len = strtoul(p + 17, NULL, 10);
	crypto_hash_sha256_init(&st);
	/* The body: what came with the head, then the rest. */
	{
		size_t have = len - (size_t)(end + 4 - head);
		crypto_hash_sha256_update(&st, (unsigned char *)end + 4, have);
		while (have < body_len) {
			k = read(fd, buf, sizeof(buf));
			if (k <= 0)
				goto out;
			crypto_hash_sha256_update(&st, buf, (size_t)k);
			have += (size_t)k;
		}
	}
	crypto_hash_sha256_final(&st, h);
	hex(h, 32, sha);
	if (strncmp(head, "GET /data?", 10) == 0 || strncmp(head, "POST /data?", 11) == 0) {
		p = strstr(head, "n=");
		want = p ? strtoul(p + 2, NULL, 10) : 0;
		p = strstr(head, "seed=");
		seed = p ? (uint32_t)strtoul(p + 5, NULL, 10) : 1;
		seed = seed ? seed : 1;
	} else {
		want = 18;
	}
	(void)snprintf(hdr, sizeof(hdr),
		       "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nX-Body-Sha: %s\r\n"
		       "Connection: close\r\n\r\n",
		       want, sha);
	if (!write_all(fd, hdr, strlen(hdr)))
		goto out;
	if (strncmp(head, "GET /data?", 10) != 0 && strncmp(head, "POST /data?", 11) != 0) {
		(void)write_all(fd, "hello from origin\n", 18);
		goto out;
	}
	while (n < want) {
		size_t c = want - n < sizeof(buf) ? want - n : sizeof(buf);
		fill(buf, c, &seed);
		if (!write_all(fd, buf, c))
			break;
		n += c;
	}
out:
	(void)shutdown(fd, SHUT_WR);
	(void)close(fd);
	return NULL;
}

static void *origin_main(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_t t;
		int c = accept(org->fd, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		if (pthread_create(&t, NULL, origin_conn, (void *)(intptr_t)c) != 0)
			(void)close(c);
		else
			(void)pthread_detach(t);
	}
}

/* A listening socket on 127.0.0.1 with an ephemeral port. */
int sbx_proxy_tests_listen_any(int *ret_port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = {htonl(INADDR_LOOPBACK)}};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert(T(fd >= 0));
	cr_assert(eq(int, bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0));
	cr_assert(eq(int, listen(fd, 128), 0));
	cr_assert(eq(int, getsockname(fd, (struct sockaddr *)&sin, &sl), 0));
	*ret_port = ntohs(sin.sin_port);
	return fd;
}

void sbx_proxy_tests_origin_start(void)
{
	org->fd = sbx_proxy_tests_listen_any(&org->port);
	cr_assert(eq(int, pthread_create(&org->thread, NULL, origin_main, NULL), 0));
}

/* ---- sbxd with a proxy policy ---- */

/* The shipped default with "network" replaced by net (a JSON fragment), as NAME.json. */
static void write_policy(const char *name, const char *net)
{
	struct sbx_test_run run;
	char src[4096], path[8192], *text, *at, *end;

	(void)snprintf(src, sizeof(src), "%s/policy/default.json", SBX_SOURCE_DIR);
	cr_assert(eq(int, sbx_test_runv(&run, 5000, "/bin/cat", src, NULL), 0));
	at = strstr(run.out, "\"network\"");
	cr_assert(T(at != NULL));
	end = strchr(at, '}');
	cr_assert(T(end != NULL));
	cr_assert(T(asprintf(&text, "%.*s\"network\": %s%s", (int)(at - run.out), run.out, net,
			     end + 1) > 0));
	(void)snprintf(path, sizeof(path), "%s/%s.json", fx.policies, name);
	cr_assert(eq(int, sbx_test_write_file(path, text), 0));
	free(text);
	sbx_test_run_done(&run);
}

static void sleep_ms(int ms)
{
	const struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	(void)nanosleep(&ts, NULL);
}

/* Starts sbxd, writes policy "px" with the network fragment and reloads. */
void sbx_proxy_tests_start_with(const char *net)
{
	cr_assert(eq(int, sbx_fixture_start(&fx, NULL), 0), "sbxd did not start");
	write_policy("px", net);
	cr_assert(eq(int, sbx_fixture_signal(&fx, SIGHUP), 0));
	for (int i = 0; i < 250; i++) {
		char *log = sbx_fixture_read_log(&fx, NULL);
		bool ok = sbx_test_contains(log, "reloaded") || sbx_test_contains(log, "px");
		bool bad = sbx_test_contains(log, "broken");
		free(log);
		cr_assert(T(!bad), "the policy was refused");
		if (ok)
			return;
		sleep_ms(20);
	}
}

void sbx_proxy_tests_stop(void)
{
	cr_assert(eq(int, sbx_fixture_stop(&fx, 15000), 0), "sbxd did not stop cleanly");
}

/* Runs a bash script under policy px; returns its stdout (caller frees). */
char *sbx_proxy_tests_run_px(struct sbx_client_test *c, const char *id, const char *script,
			     int *ret_code)
{
	struct sbx_client_test_task t;
	json_t *req = json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "id", id, "op", "run", "policy",
				"px", "argv", "/bin/bash", "-c", script);
	char *out;

	cr_assert(eq(int, sbx_client_test_run(c, req, T_PROXY_TASK, &t), 0), "run %s did not end",
		  id);
	cr_assert(T(t.exit != NULL), "%s: no exit (error %s) stderr: %s", id,
		  t.error_code ? t.error_code : "-", t.err);
	if (ret_code)
		*ret_code = t.code;
	out = strdup(t.out);
	if (t.err_len)
		(void)fprintf(stderr, "[%s stderr] %s\n", id, t.err);
	sbx_client_test_task_done(&t);
	return out;
}

struct sbx_client_test *sbx_proxy_tests_conn(void)
{
	struct sbx_client_test *c = NULL;

	cr_assert(eq(int, sbx_client_test_connect(fx.sock, &c), 0));
	return c;
}

char *sbx_proxy_tests_read_audit(void)
{
	struct sbx_test_run run;
	char path[8192], *s;

	(void)snprintf(path, sizeof(path), "%s/audit.jsonl", fx.dir);
	cr_assert(eq(int, sbx_test_runv(&run, 5000, "/bin/cat", path, NULL), 0));
	s = strdup(run.out);
	sbx_test_run_done(&run);
	return s;
}

/* Number of audit lines that contain every one of the NULL-terminated needles. */
unsigned sbx_proxy_tests_audit_count(const char *first, ...)
{
	char *log = sbx_proxy_tests_read_audit(), *line = log, *nl;
	unsigned n = 0;

	for (; line && *line; line = nl ? nl + 1 : NULL) {
		const char *needle = first;
		bool all = true;
		va_list ap;
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		va_start(ap, first);
		for (; needle; needle = va_arg(ap, const char *))
			all = all && strstr(line, needle);
		va_end(ap);
		n += all;
	}
	free(log);
	return n;
}
