/* SPDX-License-Identifier: MIT */
/*
 * Streaming redaction of a task's output (DESIGN.md "Policy": output redacted by default).
 * Every occurrence of a secret value becomes "[REDACTED:NAME]", also when it straddles two
 * reads: a tail that could still be the start of a value is held back (in locked memory)
 * until the next chunk or the end of the stream decides. One redactor per output stream.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "keys/secret.h"

struct sbx_redactor;

/* Copies the values of set into the redactor's own locked memory (the set may be freed
 * afterwards). An empty set gives a redactor that passes everything through. */
int sbx_redact_new(struct sbx_secret_set *set, struct sbx_redactor **ret);
/* Feeds a chunk (eof: no more will come; flushes what is held). Appends the redacted bytes
 * to *out (realloc'd, ordinary memory: nothing secret remains in it) and adds to *out_len.
 * -ENOMEM leaves *out as it was. */
int sbx_redact_feed(struct sbx_redactor *r, const void *in, size_t len, bool eof, char **out,
		    size_t *out_len);
/* How many values were replaced so far. */
size_t sbx_redact_count(const struct sbx_redactor *r);
struct sbx_redactor *sbx_redact_free(struct sbx_redactor *r);
static inline void sbx_redact_freep(struct sbx_redactor **r)
{
	*r = sbx_redact_free(*r);
}
