/* SPDX-License-Identifier: MIT */
/* Protocol v1 request parsing and reply lines (supervisor/protocol.c). */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "supervisor/protocol.h"

static int parse(const char *line, struct sbx_request *req, struct sbx_proto_error *err)
{
	return sbx_protocol_parse(line, strlen(line), req, err);
}

/* Parses a line that must fail with code; returns the message for further checks. */
static void refused(const char *line, enum sbx_error code, const char *in_message)
{
	struct sbx_request req;
	struct sbx_proto_error err = {0};

	cr_assert(lt(int, parse(line, &req, &err), 0), "accepted: %s", line);
	cr_assert(eq(str, (char *)sbx_error_name(err.code), (char *)sbx_error_name(code)),
		  "for %s: %s", line, err.message);
	cr_assert(strstr(err.message, in_message) != NULL, "message '%s' lacks '%s'", err.message,
		  in_message);
	sbx_request_done(&req);
}

Test(protocol, parses_a_full_run)
{
	struct sbx_request req;
	struct sbx_proto_error err = {0};

	cr_assert(
	    eq(int,
	       parse("{\"id\":\"r1\",\"op\":\"run\",\"policy\":\"default\",\"argv\":[\"/bin/echo\","
		     "\"hi\"],\"env\":{\"LANG\":\"C\"},\"sealed\":\"sbx1:x\",\"context\":\"t:1\","
		     "\"stdin\":\"aGk=\",\"timeout_ms\":1500,\"cwd\":\"/tmp\"}",
		     &req, &err),
	       0));
	cr_assert(eq(int, req.op, SBX_OP_RUN));
	cr_assert(eq(str, req.id, "r1"));
	cr_assert(eq(str, (char *)req.policy, "default"));
	cr_assert(eq(sz, json_array_size(req.argv), 2));
	cr_assert(eq(u64, req.timeout_ms, 1500));
	cr_assert(eq(str, (char *)req.cwd, "/tmp"));
	sbx_request_done(&req);
}

Test(protocol, every_op_parses)
{
	static const char *const lines[] = {
	    "{\"id\":\"a\",\"op\":\"hello\"}",
	    "{\"id\":\"b\",\"op\":\"list\"}",
	    "{\"id\":\"c\",\"op\":\"stats\"}",
	    "{\"id\":\"d\",\"op\":\"cancel\",\"task\":\"sbxd-1-1\"}",
	    "{\"id\":\"e\",\"op\":\"seal\",\"context\":\"t\",\"secrets\":{\"A_TOKEN\":\"v\"}}",
	    "{\"id\":\"f\",\"op\":\"rewrap\",\"context\":\"t\",\"sealed\":\"sbx1:x\"}",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct sbx_request req;
		struct sbx_proto_error err = {0};
		cr_assert(eq(int, parse(lines[i], &req, &err), 0), "%s: %s", lines[i], err.message);
		sbx_request_done(&req);
	}
}

Test(protocol, bad_requests_are_named)
{
	refused("not json", SBX_E_BAD_REQUEST, "invalid JSON");
	refused("[1,2]", SBX_E_BAD_REQUEST, "JSON object");
	refused("{\"op\":\"hello\"}", SBX_E_BAD_REQUEST, "'id'");
	refused("{\"id\":7,\"op\":\"hello\"}", SBX_E_BAD_REQUEST, "'id'");
	refused("{\"id\":\"x\"}", SBX_E_BAD_REQUEST, "'op'");
	refused("{\"id\":\"x\",\"op\":\"hello\",\"extra\":1}", SBX_E_BAD_REQUEST,
		"unknown field 'extra'");
	refused("{\"id\":\"x\",\"op\":\"hello\",\"id\":\"y\"}", SBX_E_BAD_REQUEST, "invalid JSON");
	refused("{\"id\":\"x\",\"op\":\"run\",\"argv\":[\"a\"]}", SBX_E_BAD_REQUEST, "'policy'");
	refused("{\"id\":\"x\",\"op\":\"run\",\"policy\":\"p\",\"argv\":[]}", SBX_E_BAD_REQUEST,
		"'argv'");
	refused("{\"id\":\"x\",\"op\":\"run\",\"policy\":\"p\",\"argv\":[1]}", SBX_E_BAD_REQUEST,
		"argv[0]");
	refused("{\"id\":\"x\",\"op\":\"run\",\"policy\":\"p\",\"argv\":[\"a\\u0000b\"]}",
		SBX_E_BAD_REQUEST, "NUL");
	refused("{\"id\":\"x\",\"op\":\"run\",\"policy\":\"p\",\"argv\":[\"a\"],\"env\":{\"A\":1}}",
		SBX_E_BAD_REQUEST, "env.A");
	refused("{\"id\":\"x\",\"op\":\"run\",\"policy\":\"p\",\"argv\":[\"a\"],\"sealed\":\"s\"}",
		SBX_E_BAD_REQUEST, "'context'");
	refused("{\"id\":\"x\",\"op\":\"run\",\"policy\":\"p\",\"argv\":[\"a\"],\"timeout_ms\":-1}",
		SBX_E_BAD_REQUEST, "timeout_ms");
	refused("{\"id\":\"x\",\"op\":\"cancel\"}", SBX_E_BAD_REQUEST, "'task'");
	refused("{\"id\":\"x\",\"op\":\"seal\",\"context\":\"c\"}", SBX_E_BAD_REQUEST, "secrets");
	refused("{\"id\":\"x\",\"op\":\"frobnicate\"}", SBX_E_UNKNOWN_OP, "frobnicate");
}

Test(protocol, invalid_utf8_is_a_bad_request)
{
	refused("{\"id\":\"x\",\"op\":\"hello\xff\"}", SBX_E_BAD_REQUEST, "invalid JSON");
}

Test(protocol, id_is_kept_for_the_error_reply)
{
	struct sbx_request req;
	struct sbx_proto_error err = {0};

	cr_assert(lt(int, parse("{\"id\":\"keep\",\"op\":\"nope\"}", &req, &err), 0));
	cr_assert(req.has_id);
	cr_assert(eq(str, req.id, "keep"));
	sbx_request_done(&req);
}

Test(protocol, id_longer_than_128_bytes_is_refused)
{
	char line[512];

	(void)snprintf(line, sizeof(line), "{\"id\":\"%0129d\",\"op\":\"hello\"}", 0);
	refused(line, SBX_E_BAD_REQUEST, "longer than 128");
	(void)snprintf(line, sizeof(line), "{\"id\":\"%0128d\",\"op\":\"hello\"}", 0);
	struct sbx_request req;
	struct sbx_proto_error err = {0};
	cr_assert(eq(int, parse(line, &req, &err), 0));
	sbx_request_done(&req);
}

Test(protocol, reply_lines)
{
	char *ok = sbx_protocol_ok_line("i", json_pack("{s:i}", "n", 3));
	char *ev = sbx_protocol_event_line("i", "exit", json_pack("{s:s}", "task", "t"));
	char *er = sbx_protocol_error_line(NULL, SBX_E_BUSY, "full \"quote\"", NULL);

	cr_assert(eq(str, ok, "{\"id\":\"i\",\"ok\":true,\"n\":3}\n"));
	cr_assert(eq(str, ev, "{\"id\":\"i\",\"event\":\"exit\",\"task\":\"t\"}\n"));
	cr_assert(eq(str, er,
		     "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"busy\",\"message\":\"full "
		     "\\\"quote\\\"\"}}\n"));
	free(ok);
	free(ev);
	free(er);
}
