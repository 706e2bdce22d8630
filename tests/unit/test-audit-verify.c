/* SPDX-License-Identifier: MIT */
/* The audit log's chain (suite audit, helpers in audit-tests.h): every kind of tampering is
 * found at the right seq, a truncated tail by the anchor, a torn last line, a wrong anchor
 * and a wrong key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "audit/audit.h"
#include "audit/verify.h"
#include "tests/unit/audit-tests.h"

TestSuite(audit, .init = setup, .fini = teardown, .timeout = 60);

Test(audit, tamper_edit_a_byte)
{
	struct lines l;
	char *p;

	make_log(10);
	read_lines(log_path, &l);
	p = strstr(l.v[4], "default");
	cr_assert(p != NULL);
	p[0] = 'D';
	write_lines(log_path, &l);
	expect(SBX_AUDIT_VERIFY_MAC_MISMATCH, 5);
}

Test(audit, tamper_edit_the_mac)
{
	struct lines l;

	make_log(10);
	read_lines(log_path, &l);
	l.v[6][strlen(l.v[6]) - 4] = l.v[6][strlen(l.v[6]) - 4] == '0' ? '1' : '0';
	write_lines(log_path, &l);
	expect(SBX_AUDIT_VERIFY_MAC_MISMATCH, 7);
}

Test(audit, tamper_delete_a_line)
{
	struct lines l;

	make_log(10);
	read_lines(log_path, &l);
	memmove(&l.v[4], &l.v[5], (l.n - 5) * sizeof(char *));
	l.n--;
	write_lines(log_path, &l);
	expect(SBX_AUDIT_VERIFY_SEQ_GAP, 5);
}

Test(audit, tamper_delete_the_first_line)
{
	struct lines l;

	make_log(10);
	read_lines(log_path, &l);
	memmove(&l.v[0], &l.v[1], (l.n - 1) * sizeof(char *));
	l.n--;
	write_lines(log_path, &l);
	expect(SBX_AUDIT_VERIFY_SEQ_GAP, 1);
}

Test(audit, tamper_reorder_two_lines)
{
	struct lines l;
	char *t;

	make_log(10);
	read_lines(log_path, &l);
	t = l.v[4];
	l.v[4] = l.v[5];
	l.v[5] = t;
	write_lines(log_path, &l);
	expect(SBX_AUDIT_VERIFY_SEQ_GAP, 5);
}

Test(audit, tamper_insert_a_forged_line)
{
	struct lines l;
	char forged[512];

	make_log(10);
	read_lines(log_path, &l);
	(void)snprintf(
	    forged, sizeof(forged),
	    "{\"seq\":6,\"ts\":\"2024-01-01T00:00:00.000000Z\",\"event\":\"task.exited\","
	    "\"peer\":null,\"task\":\"t-4\",\"mac\":\"%064d\"}\n",
	    0);
	memmove(&l.v[6], &l.v[5], (l.n - 5) * sizeof(char *));
	l.v[5] = forged;
	l.n++;
	write_lines(log_path, &l);
	expect(SBX_AUDIT_VERIFY_MAC_MISMATCH, 6);
}

Test(audit, tamper_resequence_after_a_delete)
{
	struct lines l;
	char buf[4096];

	/* Delete line 5 and renumber the rest: the chain still breaks at 5. */
	make_log(10);
	read_lines(log_path, &l);
	for (size_t i = 5; i < l.n; i++) {
		char *comma = strchr(l.v[i], ',');
		(void)snprintf(buf, sizeof(buf), "{\"seq\":%zu%s", i, comma);
		l.v[i] = keep(strdup(buf));
	}
	memmove(&l.v[4], &l.v[5], (l.n - 5) * sizeof(char *));
	l.n--;
	write_lines(log_path, &l);
	expect(SBX_AUDIT_VERIFY_MAC_MISMATCH, 5);
}

Test(audit, tamper_duplicate_a_line)
{
	struct lines l;

	make_log(10);
	read_lines(log_path, &l);
	memmove(&l.v[5], &l.v[4], (l.n - 4) * sizeof(char *));
	l.n++;
	write_lines(log_path, &l);
	expect(SBX_AUDIT_VERIFY_SEQ_DUP, 5);
}

Test(audit, tamper_garbage_line)
{
	struct lines l;

	make_log(10);
	read_lines(log_path, &l);
	l.v[3] = "{\"seq\":4,\"oops\n";
	write_lines(log_path, &l);
	expect(SBX_AUDIT_VERIFY_PARSE, 4);
}

Test(audit, truncated_tail_caught_by_anchor)
{
	struct sbx_audit_verify_result res;
	char *paths[] = {log_path};
	char anchor[128];
	struct lines l;

	make_log(10);
	res = verify_log();
	(void)snprintf(anchor, sizeof(anchor), "%" PRIu64 ":%s", res.tip_seq, res.tip_mac);
	read_lines(log_path, &l);
	l.n -= 3;
	write_lines(log_path, &l);
	expect(SBX_AUDIT_VERIFY_OK, 0); /* without an anchor a cut tail looks whole */
	res = verify_with(key_path, anchor, paths, 1);
	cr_expect(eq(int, res.reason, SBX_AUDIT_VERIFY_TRUNCATED));
	cr_expect(eq(u64, res.bad_seq, 9));
}

Test(audit, torn_last_line)
{
	struct lines l;

	make_log(10);
	read_lines(log_path, &l);
	l.v[l.n - 1][40] = '\0';
	write_lines(log_path, &l);
	expect(SBX_AUDIT_VERIFY_TRUNCATED, 11);
}

Test(audit, wrong_anchor)
{
	struct sbx_audit_verify_result res;
	char *paths[] = {log_path};
	char anchor[128];

	make_log(10);
	(void)snprintf(anchor, sizeof(anchor), "3:%064d", 7);
	res = verify_with(key_path, anchor, paths, 1);
	cr_expect(eq(int, res.reason, SBX_AUDIT_VERIFY_ANCHOR_MISMATCH));
	cr_expect(eq(u64, res.bad_seq, 3));
}

Test(audit, wrong_key)
{
	struct sbx_audit_verify_result res;
	char *paths[] = {log_path};
	char other_state[300], other_key[300];

	make_log(3);
	(void)snprintf(other_state, sizeof(other_state), "%s/other.state", dir);
	(void)snprintf(other_key, sizeof(other_key), "%s/other.key", dir);
	cr_assert(eq(int, sbx_audit_state_init(other_state, other_key, -1, NULL), 0));
	res = verify_with(other_key, NULL, paths, 1);
	cr_expect(eq(int, res.reason, SBX_AUDIT_VERIFY_MAC_MISMATCH));
	cr_expect(eq(u64, res.bad_seq, 1));
	cr_expect(res.key_mismatch);
}
