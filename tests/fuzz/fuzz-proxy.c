/* SPDX-License-Identifier: MIT */
/* libFuzzer: request heads as the proxy reads them from a sandbox (supervisor/proxy-parse.c),
 * the rewrite of whatever parsed, and the allow-list and address rules on the parsed host. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/proxy-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const allow[] = {"api.example.com:443", "*.example.org:443", "127.0.0.1:80",
				      "[::1]:8080"};
	struct sbx_proxy_req req;
	struct sockaddr_storage ss;
	char *buf = malloc(size ? size : 1), out[SBX_PROXY_HEAD_MAX + 512];

	if (!buf)
		return 0;
	memcpy(buf, data, size); /* exactly size bytes: no NUL to lean on */
	if (sbx_proxy_parse_head(buf, size, &req) == 0) {
		if (!req.connect)
			(void)sbx_proxy_parse_rewrite(buf, &req, out, sizeof(out));
		(void)sbx_proxy_rules_allowed(allow, 4, req.host, req.host_ip6, req.port);
		if (sbx_proxy_rules_literal(req.host, req.host_ip6, &ss) > 0) {
			(void)sbx_proxy_rules_refused((struct sockaddr *)&ss);
			(void)sbx_proxy_rules_names_addr(allow, 4, (struct sockaddr *)&ss,
							 req.port);
		}
	}
	free(buf);
	return 0;
}
