/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the audit record parser and the verifier's chain logic: each input is
 * split into lines and fed to a verifier holding a fixed, obviously non-secret key (32 bytes
 * of 0xa5), so crashes reproduce. Anything may come back; nothing may crash, leak or spin. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/internal.h"
#include "audit/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *key_file(void)
{
	static char path[64];
	FILE *f;

	if (path[0])
		return path;
	(void)snprintf(path, sizeof(path), "/tmp/sbx-fuzz-audit-%d.key", (int)getpid());
	f = fopen(path, "we");
	if (!f)
		abort();
	for (int i = 0; i < 32; i++)
		(void)fputs("a5", f);
	(void)fclose(f);
	return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_audit_verify_result res;
	struct sbx_audit_verify *v = NULL;
	struct sbx_audit_record rec;
	const char *p = (const char *)data, *end = p + size;

	if (sbx_audit_verify_new(key_file(), &v) < 0)
		abort();
	(void)sbx_audit_verify_add_anchor(
	    v, "3:0000000000000000000000000000000000000000000000000000000000000000");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (sbx_audit_record_parse(p, len, &rec) == 0 &&
		    (rec.seq == 0 || rec.body_len >= len || rec.event[0] == '\0'))
			abort();
		(void)sbx_audit_verify_line(v, p, len);
		p += len + 1;
	}
	sbx_audit_verify_finish(v, &res);
	if (res.reason >= _SBX_AUDIT_VERIFY_MAX)
		abort();
	sbx_audit_verify_free(v);
	return 0;
}
