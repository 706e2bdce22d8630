/* SPDX-License-Identifier: MIT */
/*
 * Network mode proxy end to end, as root, loopback only: the real sbxd, real sandboxes, curl
 * and bash inside them, and a test origin server on 127.0.0.1 (a thread of this test) that
 * reports what it received. Covers: an explicitly allowed IP:port reachable (absolute-form and
 * CONNECT), the rewrite to origin-form, another port refused with 403, no direct route out,
 * IP-literal tricks, a name not on the list refused before any DNS query and an allowed name
 * resolving to 127.0.0.1 refused (DNS rebinding; both with a test DNS server that logs every
 * query, in a private mount namespace whose /etc/resolv.conf points at it), the limits
 * (connections, idle, bytes), many concurrent tunnels from several sandboxes moving data
 * intact (sha256 both ways), and the audit records.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/mount.h>
#include <sys/socket.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>
#include <sodium.h>

#include "tests/integration/harness.h"
#include "tests/integration/sbxd-fixture.h"

#define T_TASK 60000

static struct sbx_fixture fx;

static inline bool T(bool b)
{
	return b;
}

static void setup(void)
{
	sbx_test_require_root();
	sbx_test_require_file(sbx_test_build_path("sbxd"));
	sbx_test_require_file("/usr/bin/curl");
	sbx_test_require_file("/bin/bash");
	cr_assert(T(sodium_init() >= 0));
}

static void teardown(void)
{
	sbx_fixture_cleanup(&fx);
}

TestSuite(proxy, .init = setup, .fini = teardown, .timeout = 120);

/* ---- the origin: HTTP/1.x, one request per connection ---- */

struct origin {
	int fd;
	int port;
	pthread_t thread;
	pthread_mutex_t lock;
	char last_head[4096];
	unsigned requests;
};

static struct origin org = {.lock = PTHREAD_MUTEX_INITIALIZER};

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

static void expected_sha(size_t n, uint32_t seed, char out[65])
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
	pthread_mutex_lock(&org.lock);
	(void)snprintf(org.last_head, sizeof(org.last_head), "%.*s", (int)(end - head + 4), head);
	org.requests++;
	pthread_mutex_unlock(&org.lock);
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
		int c = accept(org.fd, NULL, NULL);
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
static int listen_any(int *ret_port)
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

static void origin_start(void)
{
	org.fd = listen_any(&org.port);
	cr_assert(eq(int, pthread_create(&org.thread, NULL, origin_main, NULL), 0));
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
static void start_with(const char *net)
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

static void stop(void)
{
	cr_assert(eq(int, sbx_fixture_stop(&fx, 15000), 0), "sbxd did not stop cleanly");
}

/* Runs a bash script under policy px; returns its stdout (caller frees). */
static char *run_px(struct sbx_client_test *c, const char *id, const char *script, int *ret_code)
{
	struct sbx_client_test_task t;
	json_t *req = json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "id", id, "op", "run", "policy",
				"px", "argv", "/bin/bash", "-c", script);
	char *out;

	cr_assert(eq(int, sbx_client_test_run(c, req, T_TASK, &t), 0), "run %s did not end", id);
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

static struct sbx_client_test *conn(void)
{
	struct sbx_client_test *c = NULL;

	cr_assert(eq(int, sbx_client_test_connect(fx.sock, &c), 0));
	return c;
}

static char *read_audit(void)
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
static unsigned audit_count(const char *first, ...)
{
	char *log = read_audit(), *line = log, *nl;
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

/* The raw-request helper for bash inside: sends $2 (printf format) to the proxy, prints
 * "$1 <status line>" or "$1 noconn". */
#define RAW                                                                            \
	"raw() { exec 3<>/dev/tcp/127.0.0.1/3128 || { echo \"$1 noconn\"; return; }; " \
	"printf \"$2\" >&3; IFS= read -r l <&3; echo \"$1 ${l%%$'\\r'}\"; exec 3<&-; }; "

/* ---- tests ---- */

Test(proxy, allowed_ip_reachable_other_port_refused_no_direct_route)
{
	struct sbx_client_test *c;
	char net[256], script[4096], *out, want[256];
	int other_port, other = listen_any(&other_port), code;

	origin_start();
	(void)snprintf(net, sizeof(net), "{\"mode\": \"proxy\", \"allow\": [\"127.0.0.1:%d\"]}",
		       org.port);
	start_with(net);
	c = conn();
	(void)snprintf(
	    script, sizeof(script),
	    "env | grep -c '^[A-Za-z_]*_[Pp][Rr][Oo][Xx][Yy]=' ; "
	    "curl -sS http://127.0.0.1:%d/hello?x=1; "
	    "curl -sS -p http://127.0.0.1:%d/tunnel; "
	    "echo other=$(curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/); "
	    "curl -s -p -o /dev/null http://127.0.0.1:%d/; echo tunnel_other=$?; "
	    "curl -s --noproxy '*' -m 5 http://127.0.0.1:%d/hello; echo direct=$?; "
	    "curl -s --noproxy '*' -m 5 http://10.255.255.1:%d/; echo direct_out=$?",
	    org.port, org.port, other_port, other_port, org.port, org.port);
	out = run_px(c, "a", script, &code);
	cr_assert(eq(int, code, 0), "%s", out);
	(void)snprintf(want, sizeof(want),
		       "6\nhello from origin\nhello from origin\nother=403\ntunnel_other=56\n"
		       "direct=7\ndirect_out=7\n");
	cr_assert(eq(str, out, want));
	free(out);
	/* Absolute-form went out in origin-form with Host from the URL and Connection: close;
	 * the CONNECT tunnel carried curl's own request untouched. */
	pthread_mutex_lock(&org.lock);
	cr_assert(eq(uint, org.requests, 2));
	cr_assert(T(strncmp(org.last_head, "GET /tunnel HTTP/1.1\r\n", 22) == 0), "%s",
		  org.last_head);
	pthread_mutex_unlock(&org.lock);
	(void)snprintf(want, sizeof(want), "\"port\":%d", other_port);
	cr_assert(
	    eq(uint, audit_count("\"proxy.denied\"", want, "\"reason\":\"not_allowed\"", NULL), 2));
	(void)snprintf(want, sizeof(want), "\"port\":%d", org.port);
	cr_assert(eq(uint,
		     audit_count("\"proxy.closed\"", want, "\"address\":\"127.0.0.1\"",
				 "\"bytes_in\":", "\"task\":\"sbxd-", NULL),
		     2));
	cr_assert(eq(uint, audit_count("\"proxy.closed\"", "\"bytes_in\":0,", NULL), 0));
	sbx_client_test_free(c);
	(void)close(other);
	stop();
}

Test(proxy, rewrite_to_origin_form)
{
	struct sbx_client_test *c;
	char net[256], script[1024], *out;

	origin_start();
	(void)snprintf(net, sizeof(net), "{\"mode\": \"proxy\", \"allow\": [\"127.0.0.1:%d\"]}",
		       org.port);
	start_with(net);
	c = conn();
	(void)snprintf(script, sizeof(script),
		       "curl -sS -H 'Host: evil.example' -H 'Proxy-Authorization: x' "
		       "-H 'X-Keep: 1' http://127.0.0.1:%d/p?q=1",
		       org.port);
	out = run_px(c, "rw", script, NULL);
	cr_assert(eq(str, out, "hello from origin\n"));
	free(out);
	pthread_mutex_lock(&org.lock);
	cr_assert(T(strncmp(org.last_head, "GET /p?q=1 HTTP/1.1\r\n", 21) == 0), "%s",
		  org.last_head);
	cr_assert(T(strstr(org.last_head, "\r\nHost: 127.0.0.1:") != NULL), "%s", org.last_head);
	cr_assert(T(strstr(org.last_head, "evil.example") == NULL), "%s", org.last_head);
	cr_assert(T(strstr(org.last_head, "Proxy-") == NULL), "%s", org.last_head);
	cr_assert(T(strstr(org.last_head, "X-Keep: 1\r\n") != NULL), "%s", org.last_head);
	cr_assert(T(strstr(org.last_head, "Connection: close\r\n") != NULL), "%s", org.last_head);
	pthread_mutex_unlock(&org.lock);
	sbx_client_test_free(c);
	stop();
}

Test(proxy, ip_literal_tricks_refused)
{
	struct sbx_client_test *c;
	char net[256], script[4096], *out, want[512];
	const int p = 0;

	origin_start();
	(void)snprintf(net, sizeof(net), "{\"mode\": \"proxy\", \"allow\": [\"127.0.0.1:%d\"]}",
		       org.port);
	start_with(net);
	c = conn();
	(void)p;
	(void)snprintf(script, sizeof(script),
		       RAW "raw ok 'GET http://127.0.0.1:%d/ HTTP/1.1\\r\\n\\r\\n'; "
			   "raw hex 'GET http://0x7f.1:%d/ HTTP/1.1\\r\\n\\r\\n'; "
			   "raw int 'GET http://2130706433:%d/ HTTP/1.1\\r\\n\\r\\n'; "
			   "raw short 'CONNECT 127.1:%d HTTP/1.1\\r\\n\\r\\n'; "
			   "raw octal 'CONNECT 0177.0.0.1:%d HTTP/1.1\\r\\n\\r\\n'; "
			   "raw mapped 'CONNECT [::ffff:127.0.0.1]:%d HTTP/1.1\\r\\n\\r\\n'; "
			   "raw v6lo 'CONNECT [::1]:%d HTTP/1.1\\r\\n\\r\\n'; "
			   "raw user 'GET http://127.0.0.1:%d@evil.example/ HTTP/1.1\\r\\n\\r\\n'; "
			   "raw https 'GET https://127.0.0.1:%d/ HTTP/1.1\\r\\n\\r\\n'; "
			   "raw origin 'GET / HTTP/1.1\\r\\nHost: 127.0.0.1:%d\\r\\n\\r\\n'; "
			   "raw noport 'CONNECT 127.0.0.1 HTTP/1.1\\r\\n\\r\\n'; "
			   "raw dot 'CONNECT 127.0.0.1.:%d HTTP/1.1\\r\\n\\r\\n'",
		       org.port, org.port, org.port, org.port, org.port, org.port, org.port,
		       org.port, org.port, org.port, org.port);
	out = run_px(c, "lit", script, NULL);
	(void)snprintf(
	    want, sizeof(want),
	    "ok HTTP/1.1 200 OK\nhex HTTP/1.1 403 Forbidden\nint HTTP/1.1 403 Forbidden\n"
	    "short HTTP/1.1 403 Forbidden\noctal HTTP/1.1 403 Forbidden\n"
	    "mapped HTTP/1.1 403 Forbidden\nv6lo HTTP/1.1 403 Forbidden\n"
	    "user HTTP/1.1 400 Bad Request\nhttps HTTP/1.1 400 Bad Request\n"
	    "origin HTTP/1.1 400 Bad Request\nnoport HTTP/1.1 400 Bad Request\n"
	    "dot HTTP/1.1 200 Connection established\n");
	cr_assert(eq(str, out, want));
	free(out);
	/* None of the tricks reached the origin: only "ok" and "dot" did. */
	pthread_mutex_lock(&org.lock);
	cr_assert(eq(uint, org.requests, 1));
	pthread_mutex_unlock(&org.lock);
	sbx_client_test_free(c);
	stop();
}

/* Several sandboxes at once, each with several CONNECT tunnels moving 2 MiB each way; every
 * byte arrives intact (sha256 of the upload as the origin saw it, of the download as the
 * sandbox saw it). */
Test(proxy, concurrent_tunnels_from_several_sandboxes_intact, .timeout = 240)
{
	enum {
		SANDBOXES = 3,
		TUNNELS = 4,
		SIZE = 2 << 20
	};
	struct sbx_client_test *c;
	struct sbx_client_test_task t[SANDBOXES];
	char net[256], script[2048], id[16];

	origin_start();
	(void)snprintf(net, sizeof(net), "{\"mode\": \"proxy\", \"allow\": [\"127.0.0.1:%d\"]}",
		       org.port);
	start_with(net);
	c = conn();
	for (int s = 0; s < SANDBOXES; s++) {
		(void)snprintf(
		    script, sizeof(script),
		    "for i in $(seq 1 %d); do ( seed=$((%d * 100 + i)); "
		    "head -c %d /dev/urandom > /tmp/up$i; up=$(sha256sum < /tmp/up$i | cut "
		    "-c1-64); "
		    "got=$(curl -sS -p --data-binary @/tmp/up$i -o /tmp/down$i "
		    "-w '%%header{x-body-sha}' \"http://127.0.0.1:%d/data?n=%d&seed=$seed\"); "
		    "down=$(sha256sum < /tmp/down$i | cut -c1-64); "
		    "echo \"$seed $up $got $down\" ) & done; wait",
		    TUNNELS, s + 1, SIZE, org.port, SIZE);
		(void)snprintf(id, sizeof(id), "c%d", s);
		cr_assert(eq(int,
			     sbx_client_test_send_take(
				 c, json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "id", id, "op", "run",
					      "policy", "px", "argv", "/bin/bash", "-c", script)),
			     0));
	}
	for (int s = 0; s < SANDBOXES; s++) {
		unsigned lines = 0;
		(void)snprintf(id, sizeof(id), "c%d", s);
		cr_assert(eq(int, sbx_client_test_wait(c, id, 180000, &t[s]), 0));
		cr_assert(eq(int, t[s].code, 0), "stderr: %s", t[s].err);
		for (char *line = strtok(t[s].out, "\n"); line; line = strtok(NULL, "\n")) {
			unsigned seed;
			char up[65], got[65], down[65], want[65];
			cr_assert(
			    eq(int, sscanf(line, "%u %64s %64s %64s", &seed, up, got, down), 4),
			    "line '%s'", line);
			expected_sha(SIZE, seed, want);
			cr_assert(eq(str, up, got), "upload %u corrupted", seed);
			cr_assert(eq(str, down, want), "download %u corrupted", seed);
			lines++;
		}
		cr_assert(eq(uint, lines, TUNNELS), "stdout: %s", t[s].out);
		sbx_client_test_task_done(&t[s]);
	}
	cr_assert(eq(uint, audit_count("\"proxy.closed\"", "\"method\":\"CONNECT\"", NULL),
		     SANDBOXES * TUNNELS));
	sbx_client_test_free(c);
	stop();
}

/* Half-close through a tunnel: the client sends its request and shuts its write side down
 * (perl, as bash cannot); the origin sees the whole body, then the EOF, and the client still
 * receives the whole response before the proxy passes the origin's EOF on. The record counts
 * exactly the bytes each side sent. */
Test(proxy, half_close_passes_eof_after_every_byte)
{
	enum {
		UP = 1 << 20,
		DOWN = 2 << 20
	};
	struct sbx_client_test *c;
	char net[256], script[4096], head[256], resp[256], want[256], sha[65], *out;
	char up[65], got[65], down[65];
	unsigned long long bytes_out, bytes_in;

	origin_start();
	(void)snprintf(net, sizeof(net), "{\"mode\": \"proxy\", \"allow\": [\"127.0.0.1:%d\"]}",
		       org.port);
	start_with(net);
	c = conn();
	(void)snprintf(head, sizeof(head),
		       "POST /data?n=%d&seed=7 HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: %d"
		       "\\r\\n\\r\\n",
		       DOWN, UP);
	(void)snprintf(
	    script, sizeof(script),
	    "head -c %d /dev/urandom > /tmp/up; up=$(sha256sum < /tmp/up | cut -c1-64); "
	    "perl -e 'use IO::Socket::INET; binmode STDOUT; "
	    "my $s = IO::Socket::INET->new(PeerAddr => \"127.0.0.1:3128\") or die \"connect\"; "
	    "print $s \"CONNECT 127.0.0.1:%d HTTP/1.1\\r\\n\\r\\n\"; my $h = \"\"; "
	    "while ($h !~ /\\r\\n\\r\\n/) { sysread($s, $h, 1, length $h) or die \"no reply\"; } "
	    "$h =~ m{^HTTP/1.1 200 } or die \"got $h\"; "
	    "open(my $f, \"<\", \"/tmp/up\") or die; binmode $f; local $/; my $b = <$f>; "
	    "print $s \"%s\" . $b; shutdown($s, 1) or die \"shutdown\"; "
	    "my ($r, $k) = (\"\", \"\"); while (sysread($s, $k, 65536)) { $r .= $k; } "
	    "my ($rh, $rb) = split(/\\r\\n\\r\\n/, $r, 2); "
	    "my ($x) = $rh =~ /X-Body-Sha: ([0-9a-f]+)/; print \"$x\\n\"; "
	    "open(my $o, \">\", \"/tmp/down\") or die; binmode $o; print $o $rb;' > /tmp/got; "
	    "echo \"$up $(cat /tmp/got) $(sha256sum < /tmp/down | cut -c1-64)\"",
	    UP, org.port, head);
	out = run_px(c, "half", script, NULL);
	cr_assert(eq(int, sscanf(out, "%64s %64s %64s", up, got, down), 3), "%s", out);
	expected_sha(DOWN, 7, sha);
	cr_assert(eq(str, up, got), "the upload was cut or corrupted");
	cr_assert(eq(str, down, sha), "the download was cut or corrupted");
	free(out);
	/* Exactly what each side sent: the request head and body; the response head and body. */
	bytes_out = strlen(head) - 8 /* four "\\r\\n" escapes in C text */ + UP;
	(void)snprintf(resp, sizeof(resp),
		       "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Body-Sha: %s\r\n"
		       "Connection: close\r\n\r\n",
		       DOWN, got);
	bytes_in = strlen(resp) + DOWN;
	(void)snprintf(want, sizeof(want), "\"bytes_out\":%llu,\"bytes_in\":%llu,", bytes_out,
		       bytes_in);
	cr_assert(eq(uint, audit_count("\"proxy.closed\"", want, "\"reason\":\"closed\"", NULL), 1),
		  "want %s in:\n%s", want, read_audit());
	sbx_client_test_free(c);
	stop();
}

Test(proxy, limits_connections_idle_bytes)
{
	struct sbx_client_test *c;
	char net[256], script[4096], *out;

	origin_start();
	(void)snprintf(
	    net, sizeof(net),
	    "{\"mode\": \"proxy\", \"allow\": [\"127.0.0.1:%d\"], \"max_connections\": 2, "
	    "\"idle_timeout\": \"1s\", \"max_bytes\": \"1M\"}",
	    org.port);
	start_with(net);
	c = conn();
	/* Two tunnels held open, the third refused; an idle tunnel is closed after 1 s; a
	 * download past the task's byte budget is cut. */
	(void)snprintf(
	    script, sizeof(script),
	    "exec 3<>/dev/tcp/127.0.0.1/3128 4<>/dev/tcp/127.0.0.1/3128 "
	    "5<>/dev/tcp/127.0.0.1/3128; "
	    "printf 'CONNECT 127.0.0.1:%d HTTP/1.1\\r\\n\\r\\n' >&3; "
	    "printf 'CONNECT 127.0.0.1:%d HTTP/1.1\\r\\n\\r\\n' >&4; "
	    "IFS= read -r a <&3; read -r _ <&3; IFS= read -r b <&4; read -r _ <&4; "
	    "IFS= read -r x <&5; "
	    "echo \"${a%%$'\\r'}|${b%%$'\\r'}|${x%%$'\\r'}\"; "
	    "sleep 2.5; IFS= read -r -t 1 l <&3; echo idle=$?; exec 3<&- 4<&- 5<&-; sleep 0.2; "
	    "curl -s -o /tmp/big http://127.0.0.1:%d/data?n=4000000; "
	    "echo big=$? $(stat -c %%s /tmp/big)",
	    org.port, org.port, org.port);
	out = run_px(c, "lim", script, NULL);
	cr_assert(T(strstr(out, "HTTP/1.1 200 Connection established|HTTP/1.1 200 Connection "
				"established|HTTP/1.1 403 Forbidden\n") == out),
		  "%s", out);
	/* read after the proxy closed: EOF (1), not a timeout (> 128) */
	cr_assert(T(strstr(out, "\nidle=1\n") != NULL), "%s", out);
	{
		const char *b = strstr(out, "big=");
		long size = -1;
		int rc = -1;
		cr_assert(T(b != NULL), "%s", out);
		cr_assert(eq(int, sscanf(b, "big=%d %ld", &rc, &size), 2), "%s", out);
		cr_assert(T(rc != 0 && size < 1100000), "%s", out);
	}
	free(out);
	cr_assert(eq(uint, audit_count("\"proxy.denied\"", "\"reason\":\"limit\"", NULL), 1));
	cr_assert(ge(uint, audit_count("\"proxy.closed\"", "\"reason\":\"idle\"", NULL), 1));
	cr_assert(eq(uint, audit_count("\"proxy.closed\"", "\"reason\":\"limit\"", NULL), 1));
	sbx_client_test_free(c);
	stop();
}

/* ---- a DNS server that logs every query and answers 127.0.0.1 to A, nothing to others ---- */

struct dns {
	int fd;
	pthread_t thread;
	pthread_mutex_t lock;
	char seen[4096]; /* "name\n" per query */
	volatile bool stop;
};

static struct dns dns = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void *dns_main(void *arg)
{
	unsigned char q[512], a[600];

	(void)arg;
	while (!dns.stop) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		struct pollfd pfd = {.fd = dns.fd, .events = POLLIN};
		char name[256] = "";
		size_t i = 12, nl = 0;
		ssize_t n;
		uint16_t qtype;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = recvfrom(dns.fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
		if (n < 17)
			continue;
		while (i < (size_t)n && q[i] && nl < sizeof(name) - 66) {
			size_t l = q[i];
			if (i + 1 + l > (size_t)n)
				break;
			memcpy(name + nl, q + i + 1, l);
			nl += l;
			name[nl++] = '.';
			i += 1 + l;
		}
		name[nl] = '\0';
		if (i + 5 > (size_t)n)
			continue;
		qtype = (uint16_t)(q[i + 1] << 8 | q[i + 2]);
		pthread_mutex_lock(&dns.lock);
		if (strlen(dns.seen) + nl + 2 < sizeof(dns.seen)) {
			strcat(dns.seen, name);
			strcat(dns.seen, "\n");
		}
		pthread_mutex_unlock(&dns.lock);
		memcpy(a, q, i + 5);
		a[2] = 0x81;
		a[3] = 0x80;
		a[6] = 0;
		a[7] = qtype == 1 ? 1 : 0;
		a[8] = a[9] = a[10] = a[11] = 0;
		n = (ssize_t)(i + 5);
		if (qtype == 1) {
			static const unsigned char rr[] = {0xc0, 0x0c, 0, 1, 0,	  1, 0, 0,
							   0,	 0,    0, 4, 127, 0, 0, 1};
			memcpy(a + n, rr, sizeof(rr));
			n += (ssize_t)sizeof(rr);
		}
		(void)sendto(dns.fd, a, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

/* In a private mount namespace of this test process (and so of the sbxd it starts): an
 * /etc/resolv.conf naming the test DNS server and an /etc/hosts with localhost only. */
static void dns_start(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53)};
	char dir[4096], path[8192], text[256];
	char *tmp = sbx_test_mkdtemp("proxy-dns");

	cr_assert(T(tmp != NULL));
	(void)snprintf(dir, sizeof(dir), "%s", tmp);
	free(tmp);
	/* A loopback address of its own, so parallel runs do not collide on port 53. */
	sin.sin_addr.s_addr = htonl(0x7f000000U | (uint32_t)(getpid() % 250 + 2) << 8 | 53U);
	dns.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(T(dns.fd >= 0));
	cr_assert(eq(int, bind(dns.fd, (struct sockaddr *)&sin, sizeof(sin)), 0), "bind dns: %s",
		  strerror(errno));
	cr_assert(eq(int, pthread_create(&dns.thread, NULL, dns_main, NULL), 0));
	cr_assert(eq(int, unshare(CLONE_NEWNS), 0));
	cr_assert(eq(int, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0));
	(void)snprintf(text, sizeof(text), "nameserver %s\noptions attempts:1 timeout:2\n",
		       inet_ntoa(sin.sin_addr));
	(void)snprintf(path, sizeof(path), "%s/resolv.conf", dir);
	cr_assert(eq(int, sbx_test_write_file(path, text), 0));
	cr_assert(eq(int, mount(path, "/etc/resolv.conf", NULL, MS_BIND, NULL), 0));
	(void)snprintf(path, sizeof(path), "%s/hosts", dir);
	cr_assert(eq(int, sbx_test_write_file(path, "127.0.0.1 localhost\n::1 localhost\n"), 0));
	cr_assert(eq(int, mount(path, "/etc/hosts", NULL, MS_BIND, NULL), 0));
}

static bool dns_saw(const char *name)
{
	bool r;

	pthread_mutex_lock(&dns.lock);
	r = strstr(dns.seen, name) != NULL;
	pthread_mutex_unlock(&dns.lock);
	return r;
}

Test(proxy, names_checked_before_dns_and_rebinding_refused)
{
	struct sbx_client_test *c;
	char net[512], script[2048], *out;

	origin_start();
	dns_start();
	(void)snprintf(net, sizeof(net),
		       "{\"mode\": \"proxy\", \"allow\": [\"rebind.sbx-test.example:%d\", "
		       "\"localhost:%d\", \"*.wild.sbx-test.example:%d\"]}",
		       org.port, org.port, org.port);
	start_with(net);
	c = conn();
	(void)snprintf(
	    script, sizeof(script),
	    RAW "raw unlisted 'GET http://unlisted.sbx-test.example:%d/ HTTP/1.1\\r\\n\\r\\n'; "
		"raw wildbase 'CONNECT wild.sbx-test.example:%d HTTP/1.1\\r\\n\\r\\n'; "
		"raw rebind 'GET http://rebind.sbx-test.example:%d/ HTTP/1.1\\r\\n\\r\\n'; "
		"raw sub 'CONNECT a.wild.sbx-test.example:%d HTTP/1.1\\r\\n\\r\\n'; "
		"raw local 'CONNECT LocalHost.:%d HTTP/1.1\\r\\n\\r\\n'",
	    org.port, org.port, org.port, org.port, org.port);
	out = run_px(c, "dns", script, NULL);
	cr_assert(eq(str, out,
		     "unlisted HTTP/1.1 403 Forbidden\nwildbase HTTP/1.1 403 Forbidden\n"
		     "rebind HTTP/1.1 403 Forbidden\nsub HTTP/1.1 403 Forbidden\n"
		     "local HTTP/1.1 403 Forbidden\n"));
	free(out);
	/* The names on the list were resolved (and their answer, 127.0.0.1, refused); the
	 * others never reached a resolver. */
	cr_assert(T(dns_saw("rebind.sbx-test.example.")), "queries: %s", dns.seen);
	cr_assert(T(dns_saw("a.wild.sbx-test.example.")), "queries: %s", dns.seen);
	cr_assert(T(!dns_saw("unlisted")), "queries: %s", dns.seen);
	cr_assert(T(!dns_saw("\nwild.sbx-test") && strncmp(dns.seen, "wild.", 5) != 0),
		  "queries: %s", dns.seen);
	cr_assert(
	    eq(uint, audit_count("\"proxy.denied\"", "unlisted", "\"not_allowed\"", NULL), 1));
	cr_assert(
	    eq(uint,
	       audit_count("\"proxy.denied\"", "\"host\":\"rebind.sbx-test.example\"",
			   "\"reason\":\"address_refused\"", "\"address\":\"127.0.0.1\"", NULL),
	       1));
	cr_assert(eq(uint,
		     audit_count("\"proxy.denied\"", "\"host\":\"localhost\"",
				 "\"reason\":\"address_refused\"", NULL),
		     1));
	pthread_mutex_lock(&org.lock);
	cr_assert(eq(uint, org.requests, 0));
	pthread_mutex_unlock(&org.lock);
	dns.stop = true;
	(void)pthread_join(dns.thread, NULL);
	sbx_client_test_free(c);
	stop();
}

/* sbxctl exec runs the same proxy in-process. */
Test(proxy, sbxctl_exec_runs_the_proxy)
{
	struct sbx_test_run run;
	char dir[4096], path[8192], script[1024], *tmp = sbx_test_mkdtemp("proxy-exec");
	char src[4096], *text, *at, *end;
	struct sbx_test_run cat;

	cr_assert(T(tmp != NULL));
	(void)snprintf(dir, sizeof(dir), "%s", tmp);
	free(tmp);
	origin_start();
	(void)snprintf(src, sizeof(src), "%s/policy/default.json", SBX_SOURCE_DIR);
	cr_assert(eq(int, sbx_test_runv(&cat, 5000, "/bin/cat", src, NULL), 0));
	at = strstr(cat.out, "\"network\"");
	end = strchr(at, '}');
	cr_assert(
	    T(asprintf(&text,
		       "%.*s\"network\": {\"mode\": \"proxy\", \"allow\": [\"127.0.0.1:%d\"]}%s",
		       (int)(at - cat.out), cat.out, org.port, end + 1) > 0));
	(void)snprintf(path, sizeof(path), "%s/px.json", dir);
	cr_assert(eq(int, sbx_test_write_file(path, text), 0));
	free(text);
	sbx_test_run_done(&cat);
	(void)snprintf(script, sizeof(script),
		       "curl -sS http://127.0.0.1:%d/x; "
		       "curl -s -o /dev/null -w '%%{http_code}\\n' http://127.0.0.1:%d/",
		       org.port, org.port + 1 > 65535 ? 1 : org.port + 1);
	cr_assert(eq(int,
		     sbx_test_runv(&run, 30000, sbx_test_build_path("sbxctl"), "exec", "--policy",
				   path, "--", "/bin/bash", "-c", script, NULL),
		     0));
	cr_assert(eq(int, run.code, 0), "stderr: %s", run.err);
	cr_assert(eq(str, run.out, "hello from origin\n403\n"));
	cr_assert(T(sbx_test_contains(run.err, "proxy.closed")), "%s", run.err);
	cr_assert(T(sbx_test_contains(run.err, "\"reason\":\"not_allowed\"")), "%s", run.err);
	sbx_test_run_done(&run);
	(void)sbx_test_rm_rf(dir);
}
