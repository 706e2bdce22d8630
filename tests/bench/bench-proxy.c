/* SPDX-License-Identifier: MIT */
/*
 * Network mode proxy throughput (issue 7, "Benchmark"), in one run on loopback:
 *   - BENCH_MIB (default 512) MiB up and down through a CONNECT tunnel of the real proxy
 *     (supervisor/proxy.c on its own libuv loop thread, as sbxd runs it) against the same
 *     transfer straight to the origin, printed as MiB/s and the ratio (goal >= 0.80);
 *   - tunnels per second: connect, CONNECT, 200, close, one after the other.
 * The proxy's listener is an ordinary socket on 127.0.0.1 here (in sbxd it lives in the
 * sandbox's namespace; the proxy does not care). Exits non-zero only when it cannot measure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>

#include <uv.h>

#include "supervisor/proxy.h"

#define BUF ((size_t)256 * 1024)

static int origin_fd, origin_port, proxy_port;
static uv_loop_t loop;
static uv_async_t stop_async;
static struct sbx_proxy *px;

static double now_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int listen_any(int *ret_port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = {htonl(INADDR_LOOPBACK)}};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 512) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) < 0)
		return -1;
	*ret_port = ntohs(sin.sin_port);
	return fd;
}

static int dial(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr = {htonl(INADDR_LOOPBACK)}};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

static bool xfer(int fd, char *buf, uint64_t n, bool send_it)
{
	while (n > 0) {
		size_t k = n < BUF ? (size_t)n : BUF;
		ssize_t r = send_it ? send(fd, buf, k, MSG_NOSIGNAL) : read(fd, buf, k);
		if (r <= 0)
			return false;
		n -= (uint64_t)r;
	}
	return true;
}

/* Origin: "U" + u64 size: read that much, answer "K"; "D" + u64: send that much. */
static void *origin_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(BUF), cmd[9];

	if (buf && read(fd, cmd, 1) == 1 && cmd[0] != 'C') {
		uint64_t n = 0;
		if (xfer(fd, cmd + 1, 8, false)) {
			memcpy(&n, cmd + 1, 8);
			if (cmd[0] == 'U' && xfer(fd, buf, n, false))
				(void)send(fd, "K", 1, MSG_NOSIGNAL);
			else if (cmd[0] == 'D')
				(void)xfer(fd, buf, n, true);
		}
	}
	free(buf);
	(void)close(fd);
	return NULL;
}

static void *origin_main(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_t t;
		int c = accept(origin_fd, NULL, NULL);
		if (c < 0)
			return NULL;
		if (pthread_create(&t, NULL, origin_conn, (void *)(intptr_t)c) == 0)
			(void)pthread_detach(t);
		else
			(void)close(c);
	}
}

static void on_record(void *ud, const char *event, struct sbx_audit_fields *f)
{
	(void)ud;
	(void)event;
	sbx_audit_fields_done(f);
}

static void on_stop(uv_async_t *h)
{
	px = sbx_proxy_stop(px);
	uv_close((uv_handle_t *)h, NULL);
}

static void *loop_main(void *arg)
{
	(void)arg;
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	return NULL;
}

/* A connection to the origin, direct or through a CONNECT tunnel. */
static int open_to_origin(bool tunnel)
{
	char req[128], resp[64];
	size_t got = 0;
	int fd = dial(tunnel ? proxy_port : origin_port);

	if (fd < 0 || !tunnel)
		return fd;
	(void)snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n", origin_port);
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
		goto fail;
	/* "HTTP/1.1 200 Connection established\r\n\r\n" */
	while (got < 39) {
		ssize_t r = read(fd, resp + got, 39 - got);
		if (r <= 0)
			goto fail;
		got += (size_t)r;
	}
	if (strncmp(resp, "HTTP/1.1 200", 12) != 0)
		goto fail;
	return fd;
fail:
	(void)close(fd);
	return -1;
}

/* MiB/s of one transfer of n bytes, up (to the origin) or down. */
static double run_xfer(bool tunnel, bool up, uint64_t n)
{
	char *buf = calloc(1, BUF), cmd[9];
	int fd = open_to_origin(tunnel);
	double t0, mibs = -1;

	if (!buf || fd < 0)
		goto out;
	cmd[0] = up ? 'U' : 'D';
	memcpy(cmd + 1, &n, 8);
	t0 = now_s();
	if (send(fd, cmd, 9, MSG_NOSIGNAL) != 9 || !xfer(fd, buf, n, up))
		goto out;
	if (up && read(fd, cmd, 1) != 1)
		goto out;
	mibs = (double)n / (1 << 20) / (now_s() - t0);
out:
	free(buf);
	if (fd >= 0)
		(void)close(fd);
	return mibs;
}

int main(void)
{
	char entry[64];
	char *allow[1] = {entry};
	struct sbx_policy pol = {.net = SBX_NET_PROXY,
				 .n_net_allow = 1,
				 .net_max_connections = 4096,
				 .net_max_bytes = UINT64_MAX / 2,
				 .net_idle_ms = 60000};
	const char *env = getenv("BENCH_MIB");
	uint64_t n = (env ? strtoull(env, NULL, 10) : 512) << 20;
	pthread_t ot, lt;
	double best[2][2] = {{0}}, t0;
	int lfd, tunnels = 0;

	(void)signal(SIGPIPE, SIG_IGN); /* as sbxd: see sbx_proxy_start */
	origin_fd = listen_any(&origin_port);
	lfd = listen_any(&proxy_port);
	if (origin_fd < 0 || lfd < 0)
		return perror("listen"), 1;
	(void)snprintf(entry, sizeof(entry), "127.0.0.1:%d", origin_port);
	pol.net_allow = allow;
	if (uv_loop_init(&loop) < 0 || uv_async_init(&loop, &stop_async, on_stop) < 0 ||
	    sbx_proxy_start(&loop, &pol, lfd, on_record, NULL, &px) < 0)
		return fprintf(stderr, "bench-proxy: cannot start the proxy\n"), 1;
	if (pthread_create(&ot, NULL, origin_main, NULL) ||
	    pthread_create(&lt, NULL, loop_main, NULL))
		return 1;
	/* Best of 3, alternating direct and tunnel so both see the same machine noise. */
	for (int round = 0; round < 3; round++)
		for (int tunnel = 0; tunnel < 2; tunnel++)
			for (int up = 0; up < 2; up++) {
				double m = run_xfer(tunnel, up, n);
				if (m < 0)
					return fprintf(stderr, "bench-proxy: transfer failed\n"), 1;
				if (m > best[tunnel][up])
					best[tunnel][up] = m;
			}
	t0 = now_s();
	while (now_s() - t0 < 2.0) {
		int fd = open_to_origin(true);
		if (fd < 0)
			return fprintf(stderr, "bench-proxy: tunnel failed\n"), 1;
		(void)send(fd, "C", 1, MSG_NOSIGNAL);
		(void)close(fd);
		tunnels++;
	}
	printf("proxy: %llu MiB each way, best of 3, loopback\n", (unsigned long long)(n >> 20));
	printf("  up:   direct %8.0f MiB/s  tunnel %8.0f MiB/s  ratio %.2f (goal >= 0.80)\n",
	       best[0][1], best[1][1], best[1][1] / best[0][1]);
	printf("  down: direct %8.0f MiB/s  tunnel %8.0f MiB/s  ratio %.2f (goal >= 0.80)\n",
	       best[0][0], best[1][0], best[1][0] / best[0][0]);
	printf("  tunnels/s (connect, CONNECT, 200, close; sequential): %.0f\n",
	       tunnels / (now_s() - t0));
	(void)uv_async_send(&stop_async);
	(void)pthread_join(lt, NULL);
	return 0;
}
