/* SPDX-License-Identifier: MIT */
/*
 * Where a proxied request may go (docs/policy.md "network"), decided in two steps that must
 * stay apart: the name against the allow list, before anything is resolved (a name not on the
 * list never reaches a resolver, so DNS cannot be used to leak data or probe); then each
 * resolved address against the ranges that lead back to the host or its private networks
 * (loopback, RFC 1918, link-local with the cloud metadata services, CGNAT, ...), so an
 * allowed name whose DNS answer changes to 127.0.0.1 (DNS rebinding) reaches nothing. Only
 * an allow entry that names the exact address opens such a range. Pure functions.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "supervisor/proxy-parse.h"

/* An allow entry split into host (brackets removed) and port; false when malformed. */
static bool split_entry(const char *e, char *host, size_t cap, bool *ret_ip6, uint16_t *ret_port)
{
	const char *colon = strrchr(e, ':');
	size_t n;
	unsigned long port;
	char *end;

	if (!colon)
		return false;
	n = (size_t)(colon - e);
	*ret_ip6 = n >= 2 && e[0] == '[' && e[n - 1] == ']';
	if (*ret_ip6) {
		e++;
		n -= 2;
	}
	if (n == 0 || n >= cap)
		return false;
	memcpy(host, e, n);
	host[n] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535)
		return false;
	*ret_port = (uint16_t)port;
	return true;
}

static bool same_literal(const char *a, bool a6, const char *b, bool b6)
{
	unsigned char x[16], y[16];
	int af = a6 ? AF_INET6 : AF_INET;

	if (a6 != b6 || inet_pton(af, a, x) != 1 || inet_pton(af, b, y) != 1)
		return false;
	return memcmp(x, y, a6 ? 16 : 4) == 0;
}

bool sbx_proxy_rules_allowed(char *const *allow, size_t n, const char *host, bool host_ip6,
			     uint16_t port)
{
	bool wild;

	return sbx_proxy_rules_match(allow, n, host, host_ip6, port, &wild) != NULL;
}

const char *sbx_proxy_rules_method(const char *method)
{
	static const char *const known[] = {"CONNECT", "GET",	"HEAD",	   "POST", "PUT",
					    "DELETE",  "PATCH", "OPTIONS", "TRACE"};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(method, known[i]) == 0)
			return known[i];
	return "other";
}

const char *sbx_proxy_rules_match(char *const *allow, size_t n, const char *host, bool host_ip6,
				  uint16_t port, bool *ret_wildcard)
{
	char eh[SBX_PROXY_HOST_MAX + 3];
	size_t hl = strlen(host);

	*ret_wildcard = false;
	for (size_t i = 0; i < n; i++) {
		bool e6;
		uint16_t ep;
		size_t el;
		if (!split_entry(allow[i], eh, sizeof(eh), &e6, &ep) || ep != port)
			continue;
		if (e6 || host_ip6) {
			if (same_literal(eh, e6, host, host_ip6))
				return allow[i];
			continue;
		}
		if (strncmp(eh, "*.", 2) == 0) {
			/* Sub-domains only: "x.example.org", never "example.org" itself nor
			 * "badexample.org". */
			el = strlen(eh) - 1; /* ".example.org" */
			if (hl > el && strcasecmp(host + hl - el, eh + 1) == 0) {
				*ret_wildcard = true;
				return allow[i];
			}
			continue;
		}
		if (strcasecmp(eh, host) == 0)
			return allow[i];
	}
	return NULL;
}

int sbx_proxy_rules_literal(const char *host, bool host_ip6, struct sockaddr_storage *ret)
{
	const char *last = strrchr(host, '.');

	memset(ret, 0, sizeof(*ret));
	if (host_ip6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ret;
		s6->sin6_family = AF_INET6;
		return inet_pton(AF_INET6, host, &s6->sin6_addr) == 1 ? 1 : -EINVAL;
	}
	/* No top-level domain is all digits (or hex): such a host is meant as an address, and
	 * only the dotted quad is one here. inet_aton's shorthands never reach a resolver. */
	last = last ? last + 1 : host;
	if (strspn(last, "0123456789") == strlen(last) || strncasecmp(last, "0x", 2) == 0) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ret;
		s4->sin_family = AF_INET;
		return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 1 : -EINVAL;
	}
	return 0;
}

static bool in4(uint32_t a, uint32_t net, unsigned bits)
{
	uint32_t mask = bits == 0 ? 0 : ~(uint32_t)0 << (32 - bits);

	return (a & mask) == (net & mask);
}

static const char *refused4(uint32_t a)
{
	static const struct {
		uint32_t net;
		unsigned bits;
		const char *why;
	} r[] = {
	    {0x00000000, 8, "unspecified"}, /* 0/8: "this network"; 0.0.0.0 is the host */
	    {0x7f000000, 8, "loopback"},    /* 127/8 */
	    {0x0a000000, 8, "private"},	    /* 10/8 */
	    {0xac100000, 12, "private"},    /* 172.16/12 */
	    {0xc0a80000, 16, "private"},    /* 192.168/16 */
	    {0x64400000, 10, "shared"},	    /* 100.64/10 CGNAT */
	    {0xa9fe0000, 16, "link-local"}, /* 169.254/16, cloud metadata */
	    {0xc0000000, 24, "reserved"},   /* 192.0.0/24 IETF protocol assignments */
	    {0xc6120000, 15, "reserved"},   /* 198.18/15 benchmarking */
	    {0xe0000000, 4, "multicast"},   /* 224/4 */
	    {0xf0000000, 4, "reserved"},    /* 240/4 and 255.255.255.255 */
	};

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (in4(a, r[i].net, r[i].bits))
			return r[i].why;
	return NULL;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const char *refused6(const unsigned char *a)
{
	static const unsigned char zero[16], mapped[12] = {[10] = 0xff, [11] = 0xff},
					     nat64[12] = {0x00, 0x64, 0xff, 0x9b};

	if (memcmp(a, zero, 15) == 0)
		return a[15] == 1 ? "loopback" : "unspecified"; /* ::1, :: */
	/* Forms that carry an IPv4 address the kernel or a gateway would reach. */
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, zero, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return refused4(be32(a + 12));
	if (a[0] == 0x20 && a[1] == 0x02) /* 6to4 2002::/16: 2002:AABB:CCDD:: */
		return refused4(be32(a + 2));
	if ((a[0] & 0xfe) == 0xfc)
		return "private"; /* fc00::/7 unique local */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "link-local"; /* fe80::/10 */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return "private"; /* fec0::/10 site-local (deprecated) */
	if (a[0] == 0xff)
		return "multicast";
	return NULL;
}

const char *sbx_proxy_rules_refused(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return refused4(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6)
		return refused6(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
	return "not an IP address";
}

bool sbx_proxy_rules_names_addr(char *const *allow, size_t n, const struct sockaddr *sa,
				uint16_t port)
{
	char eh[SBX_PROXY_HOST_MAX + 3];
	unsigned char x[16];

	for (size_t i = 0; i < n; i++) {
		bool e6;
		uint16_t ep;
		if (!split_entry(allow[i], eh, sizeof(eh), &e6, &ep) || ep != port)
			continue;
		if (sa->sa_family == AF_INET && !e6 && inet_pton(AF_INET, eh, x) == 1 &&
		    memcmp(x, &((const struct sockaddr_in *)sa)->sin_addr, 4) == 0)
			return true;
		if (sa->sa_family == AF_INET6 && e6 && inet_pton(AF_INET6, eh, x) == 1 &&
		    memcmp(x, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16) == 0)
			return true;
	}
	return false;
}

const char *sbx_proxy_rules_addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a = sa->sa_family == AF_INET6
			    ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
			    : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	if (!inet_ntop(sa->sa_family, a, buf, (socklen_t)len))
		(void)snprintf(buf, len, "?");
	return buf;
}
