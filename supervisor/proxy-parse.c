/* SPDX-License-Identifier: MIT */
/*
 * The proxy's HTTP/1.1 request-head parser: `CONNECT host:port HTTP/1.x` and absolute-form
 * `METHOD http://host[:port]/path HTTP/1.x`, nothing else. Strict on purpose, since what it
 * extracts decides where bytes go: CRLF line ends only, no control bytes, no obs-fold, no
 * userinfo ("http://allowed@evil/"), no percent-encoding in the host, a host of DNS labels
 * or an IP literal, an explicit decimal port for CONNECT. A pure function over bytes (see
 * proxy-parse.h); fuzzed by tests/fuzz/fuzz-proxy.c.
 */
#include "supervisor/proxy-parse.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

/* The end of the head (index just past CRLFCRLF), 0 when not found in len bytes. */
static size_t head_end(const char *buf, size_t len)
{
	for (size_t i = 3; i < len; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' &&
		    buf[i - 3] == '\r')
			return i + 1;
	return 0;
}

/* "1".."65535", decimal digits only, no sign, at most 5 digits. */
static int parse_port(const char *s, size_t n, uint16_t *ret)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EBADMSG;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EBADMSG;
	*ret = (uint16_t)v;
	return 0;
}

/* host[:port] or [v6][:port] into req->host/port; need_port for CONNECT. */
static int parse_authority(const char *s, size_t n, bool need_port, struct sbx_proxy_req *req)
{
	const char *host = s, *colon = NULL;
	size_t hn, label = 0;

	req->host_ip6 = false;
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return -EBADMSG;
		host = s + 1;
		hn = (size_t)(close - host);
		if (close + 1 < s + n) {
			if (close[1] != ':')
				return -EBADMSG;
			colon = close + 1;
		}
		if (hn == 0 || hn > 45)
			return -EBADMSG;
		for (size_t i = 0; i < hn; i++)
			if (host[i] == '\0' || !strchr("0123456789abcdefABCDEF:.", host[i]))
				return -EBADMSG;
		req->host_ip6 = true;
	} else {
		colon = memchr(s, ':', n);
		hn = colon ? (size_t)(colon - s) : n;
	}
	if (colon) {
		if (parse_port(colon + 1, (size_t)(s + n - colon - 1), &req->port) < 0)
			return -EBADMSG;
	} else if (need_port) {
		return -EBADMSG;
	} else {
		req->port = 80;
	}
	/* One trailing dot is the same name ("example.org." is example.org). */
	if (!req->host_ip6 && hn > 1 && host[hn - 1] == '.')
		hn--;
	if (hn == 0 || hn > SBX_PROXY_HOST_MAX)
		return -EBADMSG;
	for (size_t i = 0; i < hn; i++) {
		unsigned char c = (unsigned char)host[i];
		if (!req->host_ip6) {
			if (!is_name_char(c))
				return -EBADMSG;
			/* No empty label: "a..b", ".a" */
			label = c == '.' ? (label == 0 ? (size_t)-1 : 0) : label + 1;
			if (label == (size_t)-1)
				return -EBADMSG;
		}
		req->host[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
	}
	if (!req->host_ip6 && label == 0)
		return -EBADMSG; /* "a." after the one trailing dot went: an empty label */
	req->host[hn] = '\0';
	return 0;
}

/* http://authority[/path] ; sets host, port, path. */
static int parse_absolute(const char *buf, size_t off, size_t n, struct sbx_proxy_req *req)
{
	const char *t = buf + off, *auth;
	size_t an;

	if (n < 7 || strncasecmp(t, "http://", 7) != 0)
		return -EBADMSG; /* https:// goes through CONNECT; other schemes are not HTTP */
	auth = t + 7;
	for (an = 0; an < n - 7 && !strchr("/?#", auth[an]); an++)
		;
	if (memchr(auth, '@', an) || memchr(auth, '%', an))
		return -EBADMSG;
	if (parse_authority(auth, an, false, req) < 0)
		return -EBADMSG;
	req->path_off = off + 7 + an;
	req->path_len = n - 7 - an;
	if (req->path_len > 0 && buf[req->path_off] == '#')
		return -EBADMSG;
	return 0;
}

/* METHOD SP target SP HTTP/1.x */
static int parse_request_line(const char *buf, size_t n, struct sbx_proxy_req *req)
{
	size_t m = 0, t0, tn;

	while (m < n && is_tchar((unsigned char)buf[m]))
		m++;
	if (m == 0 || m >= sizeof(req->method) || m >= n || buf[m] != ' ')
		return -EBADMSG;
	memcpy(req->method, buf, m);
	req->method[m] = '\0';
	t0 = m + 1;
	for (tn = 0; t0 + tn < n && buf[t0 + tn] != ' '; tn++)
		if ((unsigned char)buf[t0 + tn] <= 0x20 || (unsigned char)buf[t0 + tn] >= 0x7f)
			return -EBADMSG;
	if (tn == 0 || n - t0 - tn != 9 ||
	    (memcmp(buf + t0 + tn, " HTTP/1.1", 9) != 0 &&
	     memcmp(buf + t0 + tn, " HTTP/1.0", 9) != 0))
		return -EBADMSG;
	req->connect = strcmp(req->method, "CONNECT") == 0;
	if (req->connect)
		return parse_authority(buf + t0, tn, true, req);
	return parse_absolute(buf, t0, tn, req);
}

/* Each header line "name: value" with a token name and no control byte but HT. */
static int check_headers(const char *buf, size_t off, size_t end)
{
	while (off < end) {
		const char *line = buf + off, *crlf = memchr(line, '\r', end - off);
		size_t n, name;
		if (!crlf || (size_t)(crlf - buf) + 1 >= end || crlf[1] != '\n')
			return -EBADMSG;
		n = (size_t)(crlf - line);
		for (name = 0; name < n && is_tchar((unsigned char)line[name]); name++)
			;
		if (name == 0 || name >= n || line[name] != ':')
			return -EBADMSG; /* also obs-fold: a line starting with SP or HT */
		for (size_t i = name + 1; i < n; i++) {
			unsigned char c = (unsigned char)line[i];
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return -EBADMSG;
		}
		off += n + 2;
	}
	return 0;
}

int sbx_proxy_parse_head(const char *buf, size_t len, struct sbx_proxy_req *ret)
{
	size_t end = head_end(buf, len > SBX_PROXY_HEAD_MAX ? SBX_PROXY_HEAD_MAX : len);
	const char *eol;
	size_t line;
	int r;

	if (end == 0)
		return len >= SBX_PROXY_HEAD_MAX ? -E2BIG : -EAGAIN;
	memset(ret, 0, sizeof(*ret));
	eol = memchr(buf, '\r', end);
	line = (size_t)(eol - buf); /* a CR exists: head_end found CRLFCRLF */
	if (eol[1] != '\n' || memchr(buf, '\n', line))
		return -EBADMSG;
	r = parse_request_line(buf, line, ret);
	if (r < 0)
		return r;
	ret->headers_off = line + 2;
	ret->headers_len = end - 2 - ret->headers_off; /* 0: no header at all */
	r = check_headers(buf, ret->headers_off, ret->headers_off + ret->headers_len);
	if (r < 0)
		return r;
	ret->head_len = end;
	return 0;
}

static bool hop_by_hop(const char *line, size_t n)
{
	static const char *const drop[] = {
	    "connection", "proxy-connection", "keep-alive", "proxy-authorization", "host",
	    "te",	  "upgrade",
	};
	const char *colon = memchr(line, ':', n);
	size_t k = colon ? (size_t)(colon - line) : n;

	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (strlen(drop[i]) == k && strncasecmp(line, drop[i], k) == 0)
			return true;
	return false;
}

/* Appends n bytes at out+*o; false when they do not fit. */
static bool put(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
	if (n > cap - *o)
		return false;
	memcpy(out + *o, s, n);
	*o += n;
	return true;
}

ssize_t sbx_proxy_parse_rewrite(const char *buf, const struct sbx_proxy_req *req, char *out,
				size_t cap)
{
	char host[SBX_PROXY_HOST_MAX + 16];
	size_t o = 0, off = req->headers_off, end = req->headers_off + req->headers_len;
	const char *path = buf + req->path_off;
	size_t plen = req->path_len;
	bool ok;
	int hn;

	hn = snprintf(host, sizeof(host), "%s%s%s", req->host_ip6 ? "[" : "", req->host,
		      req->host_ip6 ? "]" : "");
	if (req->port != 80)
		hn += snprintf(host + hn, sizeof(host) - (size_t)hn, ":%u", (unsigned)req->port);
	ok = put(out, cap, &o, req->method, strlen(req->method)) && put(out, cap, &o, " ", 1);
	if (plen == 0 || path[0] != '/')
		ok = ok && put(out, cap, &o, "/", 1);
	ok = ok && put(out, cap, &o, path, plen) && put(out, cap, &o, " HTTP/1.1\r\nHost: ", 17) &&
	     put(out, cap, &o, host, (size_t)hn) && put(out, cap, &o, "\r\n", 2);
	while (ok && off < end) {
		const char *line = buf + off;
		size_t n = (size_t)((const char *)memchr(line, '\r', end - off) - line) + 2;
		if (!hop_by_hop(line, n))
			ok = put(out, cap, &o, line, n);
		off += n;
	}
	ok = ok && put(out, cap, &o, "Connection: close\r\n\r\n", 21);
	return ok ? (ssize_t)o : -ENOBUFS;
}
