/* SPDX-License-Identifier: MIT */
/*
 * The pure parts of network mode proxy (docs/policy.md "network"): the HTTP/1.1 request-head
 * parser and rewriter (proxy-parse.c) and the rules that decide where a request may go
 * (proxy-rules.c). Functions over bytes and addresses only: no I/O, no allocation, no
 * logging, so tests and the fuzzer (tests/fuzz/fuzz-proxy.c) can drive them directly.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>
#include <sys/types.h>

#define SBX_PROXY_HEAD_MAX 8192 /* a request head larger than this is refused */
#define SBX_PROXY_HOST_MAX 253

/* One request head. Offsets point into the buffer that was parsed. */
struct sbx_proxy_req {
	bool connect;			   /* CONNECT host:port (else absolute-form http://) */
	bool host_ip6;			   /* the host was a bracketed IPv6 literal */
	char method[16];		   /* "CONNECT", "GET", ... */
	char host[SBX_PROXY_HOST_MAX + 1]; /* lowercase, no trailing dot, no brackets */
	uint16_t port;			   /* 80 when an http:// URL names none */
	size_t head_len;		   /* the head's bytes, the blank line included */
	size_t path_off, path_len;	   /* absolute-form: "/path?query" ("" means "/") */
	size_t headers_off, headers_len;   /* the header lines, each ending in CRLF */
};

/* Parses the head at the start of buf (len bytes read so far). Returns 0 with ret filled,
 * -EAGAIN when the head is not complete yet, -E2BIG when no head ends within
 * SBX_PROXY_HEAD_MAX bytes, -EBADMSG when it is not an HTTP/1.x proxy request this proxy
 * takes (origin-form, https:// or other schemes, userinfo, obs-fold, control bytes, a bad
 * port or host). ret may change on failure. */
int sbx_proxy_parse_head(const char *buf, size_t len, struct sbx_proxy_req *ret);

/* The head to send to the origin for an absolute-form request: the request line in
 * origin-form, Host from the URL, the client's headers without hop-by-hop and proxy ones
 * (Connection, Proxy-Connection, Keep-Alive, Proxy-Authorization, Host, TE, Upgrade), and
 * "Connection: close". Returns its length, or -ENOBUFS when it does not fit in cap. */
ssize_t sbx_proxy_parse_rewrite(const char *buf, const struct sbx_proxy_req *req, char *out,
				size_t cap);

/* ---- proxy-rules.c ---- */

/* Is host:port (as parsed: lowercase, no trailing dot, no brackets) on the allow list? Names
 * compare case-insensitively, "*.example.org" matches sub-domains only (not example.org),
 * IP entries compare as addresses. Never resolves anything. */
bool sbx_proxy_rules_allowed(char *const *allow, size_t n, const char *host, bool host_ip6,
			     uint16_t port);
/* The same check, returning the allow entry that matched (NULL when none) and whether it
 * matched through a "*." wildcard (so the requested name holds bytes the policy never named). */
const char *sbx_proxy_rules_match(char *const *allow, size_t n, const char *host, bool host_ip6,
				  uint16_t port, bool *ret_wildcard);

/* method when it is a standard HTTP method, else "other": a method token is the payload's
 * own text and must not carry arbitrary bytes into the audit log. */
const char *sbx_proxy_rules_method(const char *method);

/* Is host an IP literal? Returns 1 with *ret set (port 0) for a dotted-quad IPv4 or a
 * bracketed IPv6, 0 for a DNS name, -EINVAL for a host that looks numeric but is no
 * canonical address ("127.1", "2130706433", "0x7f.0.0.1"): never handed to a resolver. */
int sbx_proxy_rules_literal(const char *host, bool host_ip6, struct sockaddr_storage *ret);

/* NULL when sa is a public unicast address; else why it is refused ("loopback", "private",
 * "link-local", ...). IPv4-mapped, -compatible, NAT64 and 6to4 IPv6 forms are judged by the
 * IPv4 address they carry. */
const char *sbx_proxy_rules_refused(const struct sockaddr *sa);

/* Does the allow list name this exact address, as an IP literal, with this port? Such an
 * entry lets the proxy reach an address sbx_proxy_rules_refused() refuses. */
bool sbx_proxy_rules_names_addr(char *const *allow, size_t n, const struct sockaddr *sa,
				uint16_t port);

/* "203.0.113.7" or "2001:db8::1" (no port, no brackets) into buf. */
const char *sbx_proxy_rules_addr_text(const struct sockaddr *sa, char *buf, size_t len);
