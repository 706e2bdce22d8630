/* SPDX-License-Identifier: MIT */
/* libFuzzer: request lines as sbxd's socket receives them (supervisor/protocol.c), and the
 * reply lines built from whatever parsed. */
#include <stdint.h>
#include <stdlib.h>

#include "supervisor/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_request req;
	struct sbx_proto_error err = {0};
	char *line;

	if (sbx_protocol_parse((const char *)data, size, &req, &err) < 0)
		line = sbx_protocol_error_line(req.has_id ? req.id : NULL, err.code, err.message,
					       NULL);
	else
		line = sbx_protocol_ok_line(req.id, json_pack("{s:s}", "op", sbx_op_name(req.op)));
	free(line);
	sbx_request_done(&req);
	return 0;
}
