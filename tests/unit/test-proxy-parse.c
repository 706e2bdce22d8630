/* SPDX-License-Identifier: MIT */
/* The proxy's pure parts (supervisor/proxy-parse.c, proxy-rules.c): request heads, the
 * origin-form rewrite, the allow list and the address ranges that are refused. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "supervisor/proxy-parse.h"

static int parse(const char *s, struct sbx_proxy_req *r)
{
	return sbx_proxy_parse_head(s, strlen(s), r);
}

Test(proxy_parse, connect_and_absolute_form)
{
	struct sbx_proxy_req r;
	const char *get = "GET http://Example.ORG.:8080/a?b=c HTTP/1.1\r\nHost: x\r\n"
			  "Proxy-Connection: keep-alive\r\nAccept: */*\r\n\r\nBODY";
	char out[1024];
	ssize_t n;

	cr_assert(eq(int, parse("CONNECT api.example.com:443 HTTP/1.1\r\n\r\n", &r), 0));
	cr_assert(r.connect);
	cr_assert(eq(str, r.host, "api.example.com"));
	cr_assert(eq(u16, r.port, 443));
	cr_assert(eq(int, parse("CONNECT [2001:db8::1]:443 HTTP/1.0\r\nA: b\r\n\r\n", &r), 0));
	cr_assert(r.host_ip6);
	cr_assert(eq(str, r.host, "2001:db8::1"));
	cr_assert(eq(int, parse(get, &r), 0));
	cr_assert(not(r.connect));
	cr_assert(eq(str, r.method, "GET"));
	cr_assert(eq(str, r.host, "example.org"));
	cr_assert(eq(u16, r.port, 8080));
	cr_assert(eq(sz, r.head_len, strlen(get) - 4));
	n = sbx_proxy_parse_rewrite(get, &r, out, sizeof(out));
	cr_assert(gt(sz, (size_t)n, 0));
	out[n] = '\0';
	cr_assert(eq(str, out,
		     "GET /a?b=c HTTP/1.1\r\nHost: example.org:8080\r\nAccept: */*\r\n"
		     "Connection: close\r\n\r\n"));
	cr_assert(eq(int, parse("GET http://h HTTP/1.1\r\n\r\n", &r), 0));
	cr_assert(eq(u16, r.port, 80));
	n = sbx_proxy_parse_rewrite("GET http://h HTTP/1.1\r\n\r\n", &r, out, sizeof(out));
	out[n] = '\0';
	cr_assert(eq(str, out, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
	cr_assert(eq(sz, (size_t)sbx_proxy_parse_rewrite(get, &r, out, 10), (size_t)-ENOBUFS));
}

Test(proxy_parse, incomplete_and_too_large)
{
	struct sbx_proxy_req r;
	static char big[SBX_PROXY_HEAD_MAX + 10];

	cr_assert(eq(int, parse("CONNECT a:1 HTTP/1.1\r\n", &r), -EAGAIN));
	cr_assert(eq(int, parse("", &r), -EAGAIN));
	memset(big, 'a', sizeof(big) - 1);
	cr_assert(eq(int, parse(big, &r), -E2BIG));
}

Test(proxy_parse, refuses_what_it_does_not_take)
{
	static const char *const bad[] = {
	    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",	  /* origin-form */
	    "GET https://a/ HTTP/1.1\r\n\r\n",		  /* https: CONNECT only */
	    "GET ftp://a/ HTTP/1.1\r\n\r\n",		  /* not http */
	    "GET http://user@evil/ HTTP/1.1\r\n\r\n",	  /* userinfo */
	    "GET http://a%2eb/ HTTP/1.1\r\n\r\n",	  /* percent in host */
	    "GET http://a..b/ HTTP/1.1\r\n\r\n",	  /* empty label */
	    "GET http://a/ HTTP/2\r\n\r\n",		  /* version */
	    "CONNECT a HTTP/1.1\r\n\r\n",		  /* no port */
	    "CONNECT a:0 HTTP/1.1\r\n\r\n",		  /* port 0 */
	    "CONNECT a:65536 HTTP/1.1\r\n\r\n",		  /* port */
	    "CONNECT a:+443 HTTP/1.1\r\n\r\n",		  /* sign */
	    "CONNECT [::1 HTTP/1.1\r\n\r\n",		  /* bracket */
	    "CONNECT [::1]x:1 HTTP/1.1\r\n\r\n",	  /* after bracket */
	    "CONNECT a:1 HTTP/1.1\r\n folded\r\n\r\n",	  /* obs-fold */
	    "CONNECT a:1 HTTP/1.1\r\nNo-Colon\r\n\r\n",	  /* header */
	    "CONNECT a:1 HTTP/1.1\r\nA: b\nC: d\r\n\r\n", /* bare LF */
	    "CONNECT a:1 HTTP/1.1\r\nA: b\rC: d\r\n\r\n", /* bare CR */
	    "CONNECT a:1  HTTP/1.1\r\n\r\n",		  /* two spaces */
	    "CONNECT a_b:1\tHTTP/1.1\r\n\r\n",		  /* tab */
	    "CONNECT .:1 HTTP/1.1\r\n\r\n",		  /* dot */
	    "CONNECT a:1 HTTP/1.1\r\nX: \x01\r\n\r\n",	  /* control */
	};
	struct sbx_proxy_req r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert(eq(int, parse(bad[i], &r), -EBADMSG), "accepted: %s", bad[i]);
	/* NUL inside */
	cr_assert(
	    eq(int, sbx_proxy_parse_head("CONNECT a\0b:1 HTTP/1.1\r\n\r\n", 26, &r), -EBADMSG));
}

static char *const allow[] = {"api.example.com:443", "*.example.org:443", "127.0.0.1:8080",
			      "[::1]:80"};

Test(proxy_parse, allow_list)
{
	cr_assert(sbx_proxy_rules_allowed(allow, 4, "api.example.com", false, 443));
	cr_assert(sbx_proxy_rules_allowed(allow, 4, "API.Example.com", false, 443));
	cr_assert(not(sbx_proxy_rules_allowed(allow, 4, "api.example.com", false, 80)));
	cr_assert(not(sbx_proxy_rules_allowed(allow, 4, "xapi.example.com", false, 443)));
	cr_assert(sbx_proxy_rules_allowed(allow, 4, "a.example.org", false, 443));
	cr_assert(sbx_proxy_rules_allowed(allow, 4, "a.b.example.org", false, 443));
	cr_assert(not(sbx_proxy_rules_allowed(allow, 4, "example.org", false, 443)));
	cr_assert(not(sbx_proxy_rules_allowed(allow, 4, "badexample.org", false, 443)));
	cr_assert(sbx_proxy_rules_allowed(allow, 4, "127.0.0.1", false, 8080));
	cr_assert(not(sbx_proxy_rules_allowed(allow, 4, "127.0.0.2", false, 8080)));
	cr_assert(sbx_proxy_rules_allowed(allow, 4, "0:0::1", true, 80));
	cr_assert(not(sbx_proxy_rules_allowed(allow, 4, "::ffff:127.0.0.1", true, 8080)));
}

static struct sockaddr_storage addr(const char *s)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(s, ':')) {
		ss.ss_family = AF_INET6;
		cr_assert(
		    eq(int, inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1));
	} else {
		ss.ss_family = AF_INET;
		cr_assert(
		    eq(int, inet_pton(AF_INET, s, &((struct sockaddr_in *)&ss)->sin_addr), 1));
	}
	return ss;
}

Test(proxy_parse, address_ranges)
{
	static const char *const refused[] = {
	    "127.0.0.1",
	    "127.255.0.9",
	    "0.0.0.0",
	    "10.1.2.3",
	    "172.16.0.1",
	    "172.31.255.255",
	    "192.168.1.1",
	    "169.254.169.254",
	    "100.64.0.1",
	    "224.0.0.1",
	    "255.255.255.255",
	    "240.0.0.1",
	    "::1",
	    "::",
	    "::ffff:127.0.0.1",
	    "::ffff:10.0.0.1",
	    "::127.0.0.1",
	    "64:ff9b::a9fe:a9fe",
	    "2002:7f00:1::",
	    "fe80::1",
	    "fc00::1",
	    "fd12::1",
	    "ff02::1",
	    "fec0::1",
	};
	static const char *const ok[] = {"93.184.216.34", "172.32.0.1", "100.128.0.1",
					 "2606:4700::1", "1.1.1.1"};
	struct sockaddr_storage ss;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		ss = addr(refused[i]);
		cr_assert(ne(ptr, (void *)sbx_proxy_rules_refused((struct sockaddr *)&ss), NULL),
			  "%s not refused", refused[i]);
	}
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ss = addr(ok[i]);
		cr_assert(eq(ptr, (void *)sbx_proxy_rules_refused((struct sockaddr *)&ss), NULL),
			  "%s refused", ok[i]);
	}
	ss = addr("127.0.0.1");
	cr_assert(sbx_proxy_rules_names_addr(allow, 4, (struct sockaddr *)&ss, 8080));
	cr_assert(not(sbx_proxy_rules_names_addr(allow, 4, (struct sockaddr *)&ss, 80)));
	ss = addr("::1");
	cr_assert(sbx_proxy_rules_names_addr(allow, 4, (struct sockaddr *)&ss, 80));
}

Test(proxy_parse, literals)
{
	struct sockaddr_storage ss;

	cr_assert(eq(int, sbx_proxy_rules_literal("example.org", false, &ss), 0));
	cr_assert(eq(int, sbx_proxy_rules_literal("1.2.3.4", false, &ss), 1));
	cr_assert(eq(int, sbx_proxy_rules_literal("::1", true, &ss), 1));
	cr_assert(eq(int, sbx_proxy_rules_literal("127.1", false, &ss), -EINVAL));
	cr_assert(eq(int, sbx_proxy_rules_literal("2130706433", false, &ss), -EINVAL));
	cr_assert(eq(int, sbx_proxy_rules_literal("0x7f.0.0.1", false, &ss), -EINVAL));
	cr_assert(eq(int, sbx_proxy_rules_literal("1.2.3.0x4", false, &ss), -EINVAL));
	cr_assert(eq(int, sbx_proxy_rules_literal("0177.0.0.1", false, &ss), -EINVAL));
}

Test(proxy_parse, match_names_the_entry_and_methods_are_known_or_other)
{
	static char *const entries[] = {"api.example.com:443", "*.example.org:443"};
	bool wild = true;

	cr_assert(
	    eq(str, (char *)sbx_proxy_rules_match(entries, 2, "API.example.com", false, 443, &wild),
	       "api.example.com:443"));
	cr_assert(not(wild));
	cr_assert(eq(
	    str, (char *)sbx_proxy_rules_match(entries, 2, "secret.example.org", false, 443, &wild),
	    "*.example.org:443"));
	cr_assert(wild);
	cr_assert(sbx_proxy_rules_match(entries, 2, "example.org", false, 443, &wild) == NULL);
	cr_assert(sbx_proxy_rules_match(entries, 2, "api.example.com", false, 80, &wild) == NULL);
	cr_assert(eq(str, (char *)sbx_proxy_rules_method("CONNECT"), "CONNECT"));
	cr_assert(eq(str, (char *)sbx_proxy_rules_method("PATCH"), "PATCH"));
	cr_assert(eq(str, (char *)sbx_proxy_rules_method("SKANTSECRET"), "other"));
}
