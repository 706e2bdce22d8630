/* SPDX-License-Identifier: MIT */
/*
 * Network mode proxy end to end, the relay (suite proxy, helpers in proxy-tests.c): many
 * concurrent tunnels from several sandboxes moving data intact (sha256 both ways), a
 * half-closed tunnel delivering every byte before the EOF, and the limits (connections, idle,
 * bytes), each with its audit records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>

#include "tests/integration/proxy-tests.h"

TestSuite(proxy, .init = sbx_proxy_tests_setup, .fini = sbx_proxy_tests_teardown, .timeout = 120);

static struct sbx_proxy_tests_origin *const org = &sbx_proxy_tests_org;

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

	sbx_proxy_tests_origin_start();
	(void)snprintf(net, sizeof(net), "{\"mode\": \"proxy\", \"allow\": [\"127.0.0.1:%d\"]}",
		       org->port);
	sbx_proxy_tests_start_with(net);
	c = sbx_proxy_tests_conn();
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
		    TUNNELS, s + 1, SIZE, org->port, SIZE);
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
			sbx_proxy_tests_expected_sha(SIZE, seed, want);
			cr_assert(eq(str, up, got), "upload %u corrupted", seed);
			cr_assert(eq(str, down, want), "download %u corrupted", seed);
			lines++;
		}
		cr_assert(eq(uint, lines, TUNNELS), "stdout: %s", t[s].out);
		sbx_client_test_task_done(&t[s]);
	}
	cr_assert(eq(
	    uint, sbx_proxy_tests_audit_count("\"proxy.closed\"", "\"method\":\"CONNECT\"", NULL),
	    SANDBOXES * TUNNELS));
	sbx_client_test_free(c);
	sbx_proxy_tests_stop();
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

	sbx_proxy_tests_origin_start();
	(void)snprintf(net, sizeof(net), "{\"mode\": \"proxy\", \"allow\": [\"127.0.0.1:%d\"]}",
		       org->port);
	sbx_proxy_tests_start_with(net);
	c = sbx_proxy_tests_conn();
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
	    UP, org->port, head);
	out = sbx_proxy_tests_run_px(c, "half", script, NULL);
	cr_assert(eq(int, sscanf(out, "%64s %64s %64s", up, got, down), 3), "%s", out);
	sbx_proxy_tests_expected_sha(DOWN, 7, sha);
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
	cr_assert(
	    eq(uint,
	       sbx_proxy_tests_audit_count("\"proxy.closed\"", want, "\"reason\":\"closed\"", NULL),
	       1),
	    "want %s in:\n%s", want, sbx_proxy_tests_read_audit());
	sbx_client_test_free(c);
	sbx_proxy_tests_stop();
}

Test(proxy, limits_connections_idle_bytes)
{
	struct sbx_client_test *c;
	char net[256], script[4096], *out;

	sbx_proxy_tests_origin_start();
	(void)snprintf(
	    net, sizeof(net),
	    "{\"mode\": \"proxy\", \"allow\": [\"127.0.0.1:%d\"], \"max_connections\": 2, "
	    "\"idle_timeout\": \"1s\", \"max_bytes\": \"1M\"}",
	    org->port);
	sbx_proxy_tests_start_with(net);
	c = sbx_proxy_tests_conn();
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
	    org->port, org->port, org->port);
	out = sbx_proxy_tests_run_px(c, "lim", script, NULL);
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
	cr_assert(eq(uint,
		     sbx_proxy_tests_audit_count("\"proxy.denied\"", "\"reason\":\"limit\"", NULL),
		     1));
	cr_assert(ge(
	    uint, sbx_proxy_tests_audit_count("\"proxy.closed\"", "\"reason\":\"idle\"", NULL), 1));
	cr_assert(eq(uint,
		     sbx_proxy_tests_audit_count("\"proxy.closed\"", "\"reason\":\"limit\"", NULL),
		     1));
	sbx_client_test_free(c);
	sbx_proxy_tests_stop();
}
