/* SPDX-License-Identifier: MIT */
/*
 * Network mode proxy end to end, as root, loopback only: the real sbxd, real sandboxes, curl
 * and bash inside them, and a test origin server on 127.0.0.1 (a thread of this test) that
 * reports what it received. Covers: an explicitly allowed IP:port reachable (absolute-form and
 * CONNECT), the rewrite to origin-form, another port refused with 403, no direct route out,
 * IP-literal tricks, a name not on the list refused before any DNS query and an allowed name
 * resolving to 127.0.0.1 refused (DNS rebinding; both with a test DNS server that logs every
 * query, in a private mount namespace whose /etc/resolv.conf points at it), the audit records,
 * and `sbxctl exec`. The relay (data intact, half-close, limits) is in test-proxy-relay.c,
 * the origin and sbxd helpers in proxy-tests.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/mount.h>
#include <sys/socket.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>

#include "tests/integration/harness.h"
#include "tests/integration/proxy-tests.h"

TestSuite(proxy, .init = sbx_proxy_tests_setup, .fini = sbx_proxy_tests_teardown, .timeout = 120);

static struct sbx_proxy_tests_origin *const org = &sbx_proxy_tests_org;

/* The raw-request helper for bash inside: sends $2 (printf format) to the proxy, prints
 * "$1 <status line>" or "$1 noconn". */
#define RAW                                                                            \
	"raw() { exec 3<>/dev/tcp/127.0.0.1/3128 || { echo \"$1 noconn\"; return; }; " \
	"printf \"$2\" >&3; IFS= read -r l <&3; echo \"$1 ${l%%$'\\r'}\"; exec 3<&-; }; "

Test(proxy, allowed_ip_reachable_other_port_refused_no_direct_route)
{
	struct sbx_client_test *c;
	char net[256], script[4096], *out, want[256];
	int other_port, other = sbx_proxy_tests_listen_any(&other_port), code;

	sbx_proxy_tests_origin_start();
	(void)snprintf(net, sizeof(net), "{\"mode\": \"proxy\", \"allow\": [\"127.0.0.1:%d\"]}",
		       org->port);
	sbx_proxy_tests_start_with(net);
	c = sbx_proxy_tests_conn();
	(void)snprintf(
	    script, sizeof(script),
	    "env | grep -c '^[A-Za-z_]*_[Pp][Rr][Oo][Xx][Yy]=' ; "
	    "curl -sS http://127.0.0.1:%d/hello?x=1; "
	    "curl -sS -p http://127.0.0.1:%d/tunnel; "
	    "echo other=$(curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/); "
	    "curl -s -p -o /dev/null http://127.0.0.1:%d/; echo tunnel_other=$?; "
	    "curl -s --noproxy '*' -m 5 http://127.0.0.1:%d/hello; echo direct=$?; "
	    "curl -s --noproxy '*' -m 5 http://10.255.255.1:%d/; echo direct_out=$?",
	    org->port, org->port, other_port, other_port, org->port, org->port);
	out = sbx_proxy_tests_run_px(c, "a", script, &code);
	cr_assert(eq(int, code, 0), "%s", out);
	(void)snprintf(want, sizeof(want),
		       "6\nhello from origin\nhello from origin\nother=403\ntunnel_other=56\n"
		       "direct=7\ndirect_out=7\n");
	cr_assert(eq(str, out, want));
	free(out);
	/* Absolute-form went out in origin-form with Host from the URL and Connection: close;
	 * the CONNECT tunnel carried curl's own request untouched. */
	pthread_mutex_lock(&org->lock);
	cr_assert(eq(uint, org->requests, 2));
	cr_assert(T(strncmp(org->last_head, "GET /tunnel HTTP/1.1\r\n", 22) == 0), "%s",
		  org->last_head);
	pthread_mutex_unlock(&org->lock);
	(void)snprintf(want, sizeof(want), "\"port\":%d", other_port);
	cr_assert(eq(uint,
		     sbx_proxy_tests_audit_count("\"proxy.denied\"", want,
						 "\"reason\":\"not_allowed\"", NULL),
		     2));
	(void)snprintf(want, sizeof(want), "\"port\":%d", org->port);
	cr_assert(
	    eq(uint,
	       sbx_proxy_tests_audit_count("\"proxy.closed\"", want, "\"address\":\"127.0.0.1\"",
					   "\"bytes_in\":", "\"task\":\"sbxd-", NULL),
	       2));
	cr_assert(
	    eq(uint, sbx_proxy_tests_audit_count("\"proxy.closed\"", "\"bytes_in\":0,", NULL), 0));
	sbx_client_test_free(c);
	(void)close(other);
	sbx_proxy_tests_stop();
}

Test(proxy, rewrite_to_origin_form)
{
	struct sbx_client_test *c;
	char net[256], script[1024], *out;

	sbx_proxy_tests_origin_start();
	(void)snprintf(net, sizeof(net), "{\"mode\": \"proxy\", \"allow\": [\"127.0.0.1:%d\"]}",
		       org->port);
	sbx_proxy_tests_start_with(net);
	c = sbx_proxy_tests_conn();
	(void)snprintf(script, sizeof(script),
		       "curl -sS -H 'Host: evil.example' -H 'Proxy-Authorization: x' "
		       "-H 'X-Keep: 1' http://127.0.0.1:%d/p?q=1",
		       org->port);
	out = sbx_proxy_tests_run_px(c, "rw", script, NULL);
	cr_assert(eq(str, out, "hello from origin\n"));
	free(out);
	pthread_mutex_lock(&org->lock);
	cr_assert(T(strncmp(org->last_head, "GET /p?q=1 HTTP/1.1\r\n", 21) == 0), "%s",
		  org->last_head);
	cr_assert(T(strstr(org->last_head, "\r\nHost: 127.0.0.1:") != NULL), "%s", org->last_head);
	cr_assert(T(strstr(org->last_head, "evil.example") == NULL), "%s", org->last_head);
	cr_assert(T(strstr(org->last_head, "Proxy-") == NULL), "%s", org->last_head);
	cr_assert(T(strstr(org->last_head, "X-Keep: 1\r\n") != NULL), "%s", org->last_head);
	cr_assert(T(strstr(org->last_head, "Connection: close\r\n") != NULL), "%s", org->last_head);
	pthread_mutex_unlock(&org->lock);
	sbx_client_test_free(c);
	sbx_proxy_tests_stop();
}

Test(proxy, ip_literal_tricks_refused)
{
	struct sbx_client_test *c;
	char net[256], script[4096], *out, want[512];
	const int p = 0;

	sbx_proxy_tests_origin_start();
	(void)snprintf(net, sizeof(net), "{\"mode\": \"proxy\", \"allow\": [\"127.0.0.1:%d\"]}",
		       org->port);
	sbx_proxy_tests_start_with(net);
	c = sbx_proxy_tests_conn();
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
		       org->port, org->port, org->port, org->port, org->port, org->port, org->port,
		       org->port, org->port, org->port, org->port);
	out = sbx_proxy_tests_run_px(c, "lit", script, NULL);
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
	pthread_mutex_lock(&org->lock);
	cr_assert(eq(uint, org->requests, 1));
	pthread_mutex_unlock(&org->lock);
	sbx_client_test_free(c);
	sbx_proxy_tests_stop();
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

	sbx_proxy_tests_origin_start();
	dns_start();
	(void)snprintf(net, sizeof(net),
		       "{\"mode\": \"proxy\", \"allow\": [\"rebind.sbx-test.example:%d\", "
		       "\"localhost:%d\", \"*.wild.sbx-test.example:%d\"]}",
		       org->port, org->port, org->port);
	sbx_proxy_tests_start_with(net);
	c = sbx_proxy_tests_conn();
	(void)snprintf(
	    script, sizeof(script),
	    RAW "raw unlisted 'GET http://unlisted.sbx-test.example:%d/ HTTP/1.1\\r\\n\\r\\n'; "
		"raw wildbase 'CONNECT wild.sbx-test.example:%d HTTP/1.1\\r\\n\\r\\n'; "
		"raw rebind 'GET http://rebind.sbx-test.example:%d/ HTTP/1.1\\r\\n\\r\\n'; "
		"raw sub 'CONNECT a.wild.sbx-test.example:%d HTTP/1.1\\r\\n\\r\\n'; "
		"raw local 'CONNECT LocalHost.:%d HTTP/1.1\\r\\n\\r\\n'",
	    org->port, org->port, org->port, org->port, org->port);
	out = sbx_proxy_tests_run_px(c, "dns", script, NULL);
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
	/* Names the policy did not write never reach the audit log (a payload could spell a
	 * secret into one): a name on no entry is recorded by its length, a wildcard match by
	 * its entry. */
	cr_assert(eq(uint,
		     sbx_proxy_tests_audit_count("\"proxy.denied\"", "\"host_len\":25,",
						 "\"not_allowed\"", NULL),
		     1));
	cr_assert(eq(uint, sbx_proxy_tests_audit_count("unlisted", NULL), 0));
	cr_assert(eq(uint, sbx_proxy_tests_audit_count("a.wild", NULL), 0));
	(void)snprintf(script, sizeof(script), "\"allow\":\"*.wild.sbx-test.example:%d\"",
		       org->port);
	cr_assert(eq(uint,
		     sbx_proxy_tests_audit_count("\"proxy.denied\"", script,
						 "\"reason\":\"address_refused\"", NULL),
		     1));
	cr_assert(eq(uint,
		     sbx_proxy_tests_audit_count(
			 "\"proxy.denied\"", "\"host\":\"rebind.sbx-test.example\"",
			 "\"reason\":\"address_refused\"", "\"address\":\"127.0.0.1\"", NULL),
		     1));
	cr_assert(eq(uint,
		     sbx_proxy_tests_audit_count("\"proxy.denied\"", "\"host\":\"localhost\"",
						 "\"reason\":\"address_refused\"", NULL),
		     1));
	pthread_mutex_lock(&org->lock);
	cr_assert(eq(uint, org->requests, 0));
	pthread_mutex_unlock(&org->lock);
	dns.stop = true;
	(void)pthread_join(dns.thread, NULL);
	sbx_client_test_free(c);
	sbx_proxy_tests_stop();
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
	sbx_proxy_tests_origin_start();
	(void)snprintf(src, sizeof(src), "%s/policy/default.json", SBX_SOURCE_DIR);
	cr_assert(eq(int, sbx_test_runv(&cat, 5000, "/bin/cat", src, NULL), 0));
	at = strstr(cat.out, "\"network\"");
	end = strchr(at, '}');
	cr_assert(
	    T(asprintf(&text,
		       "%.*s\"network\": {\"mode\": \"proxy\", \"allow\": [\"127.0.0.1:%d\"]}%s",
		       (int)(at - cat.out), cat.out, org->port, end + 1) > 0));
	(void)snprintf(path, sizeof(path), "%s/px.json", dir);
	cr_assert(eq(int, sbx_test_write_file(path, text), 0));
	free(text);
	sbx_test_run_done(&cat);
	(void)snprintf(script, sizeof(script),
		       "curl -sS http://127.0.0.1:%d/x; "
		       "curl -s -o /dev/null -w '%%{http_code}\\n' http://127.0.0.1:%d/",
		       org->port, org->port + 1 > 65535 ? 1 : org->port + 1);
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
