/* SPDX-License-Identifier: MIT */
/*
 * sbxd over its real socket, as root: sealed secrets. Every sealed blob error, rotate, rewrap
 * and retire through SIGHUP, secrets redacted from output (also across two writes), and a
 * canary secret that must be nowhere in sbxd's memory, log or replies once its tasks ended.
 * Suite `sbxd` (helpers in sbxd-tests.c); each test starts and stops its own daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>
#include <sodium.h>

#include "tests/integration/harness.h"
#include "tests/integration/sbxd-fixture.h"
#include "tests/integration/sbxd-tests.h"

TestSuite(sbxd, .init = sbxt_setup, .fini = sbxt_teardown, .timeout = 60);

/* A run with a sealed blob: {"argv":[sh,-c,script],"sealed":..,"context":..}. */
static json_t *sealed_sh(const char *id, const char *script, const char *blob, const char *context)
{
	json_t *req = sbx_client_test_sh(id, script);

	(void)json_object_set_new(req, "sealed", json_string(blob));
	(void)json_object_set_new(req, "context", json_string(context));
	return req;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void random_hex(char *buf, size_t bytes)
{
	unsigned char raw[64];

	cr_assert(T(bytes <= sizeof(raw)));
	randombytes_buf(raw, bytes);
	for (size_t i = 0; i < bytes; i++)
		(void)sprintf(buf + 2 * i, "%02x", raw[i]);
}

/* ---- sealed blobs and keys ---- */

Test(sbxd, sealed_blob_errors)
{
	struct sbx_client_test *c;
	char *blob, *forged;
	unsigned char raw[4096];
	size_t raw_len = 0;

	sbxt_start(NULL);
	c = sbxt_conn();
	/* A name the default policy does not accept: sealed fine, refused at run. */
	blob = sbxt_seal(c, "FOO", "foo-value", "tenant:1");
	sbxt_expect_error(sbxt_call(c, sealed_sh("na", "true", blob, "tenant:1")),
			  "secret_not_allowed");
	free(blob);

	blob = sbxt_seal(c, "APP_API_KEY", "k-123", "tenant:1");
	sbxt_expect_error(sbxt_call(c, sealed_sh("ctx", "true", blob, "tenant:2")),
			  "decrypt_failed");
	sbxt_expect_error(sbxt_call(c, json_pack("{s:s, s:s, s:s, s:s}", "id", "rw", "op", "rewrap",
						 "context", "tenant:2", "sealed", blob)),
			  "decrypt_failed");
	sbxt_expect_error(sbxt_call(c, sealed_sh("m1", "true", "sbx1:AAAA", "tenant:1")),
			  "sealed_malformed");
	sbxt_expect_error(sbxt_call(c, sealed_sh("m2", "true", "not a blob", "tenant:1")),
			  "sealed_malformed");
	sbxt_expect_error(
	    sbxt_call(c, json_pack("{s:s, s:s, s:s, s:s}", "id", "rw2", "op", "rewrap", "context",
				   "tenant:1", "sealed", "sbx1:!!")),
	    "sealed_malformed");

	/* The same blob claiming key 99, which the keyring never had. */
	cr_assert(eq(int,
		     sodium_base642bin(raw, sizeof(raw), blob + 5, strlen(blob + 5), NULL, &raw_len,
				       NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
		     0));
	cr_assert(T(raw_len > 5 && raw[0] == 1));
	raw[1] = 0, raw[2] = 0, raw[3] = 0, raw[4] = 99;
	forged = malloc(
	    5 + sodium_base64_ENCODED_LEN(raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING));
	memcpy(forged, "sbx1:", 5);
	sodium_bin2base64(
	    forged + 5,
	    sodium_base64_ENCODED_LEN(raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING), raw,
	    raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sbxt_expect_error(sbxt_call(c, sealed_sh("ku", "true", forged, "tenant:1")), "key_unknown");
	/* One flipped ciphertext byte: the tag does not verify. */
	raw[1] = 0, raw[4] = 1;
	raw[raw_len - 1] ^= 1;
	sodium_bin2base64(
	    forged + 5,
	    sodium_base64_ENCODED_LEN(raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING), raw,
	    raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sbxt_expect_error(sbxt_call(c, sealed_sh("tamper", "true", forged, "tenant:1")),
			  "decrypt_failed");
	free(forged);
	free(blob);
	sbx_client_test_free(c);
	sbxt_stop();
}

Test(sbxd, rotate_rewrap_retire_through_sighup, .timeout = 90)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	struct sbx_test_run run;
	char sbxctl[4096], *old, *fresh;
	json_t *r;

	sbx_test_build_path_r("sbxctl", sbxctl, sizeof(sbxctl));
	sbxt_start(NULL);
	c = sbxt_conn();
	old = sbxt_seal(c, "APP_API_KEY", "value-1", "tenant:7");
	r = sbxt_call(c, json_pack("{s:s, s:s, s:s, s:s}", "id", "rw0", "op", "rewrap", "context",
				   "tenant:7", "sealed", old));
	sbxt_expect_ok(r);
	cr_assert(T(json_is_false(json_object_get(r, "rewrapped"))),
		  "already under the primary: %s", sbxt_dump(r));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(r, "sealed")), old));
	json_decref(r);

	cr_assert(eq(int,
		     sbx_test_runv(&run, 20000, sbxctl, "keys", "rotate", "--keyring",
				   sbxt_fx.keyring, NULL),
		     0));
	cr_assert(eq(int, run.code, 0), "rotate: %s", run.err);
	sbx_test_run_done(&run);
	sbxt_reload("reloaded");
	r = sbxt_call(c, json_pack("{s:s, s:s, s:s, s:s}", "id", "rw1", "op", "rewrap", "context",
				   "tenant:7", "sealed", old));
	sbxt_expect_ok(r);
	cr_assert(T(json_is_true(json_object_get(r, "rewrapped"))), "%s", sbxt_dump(r));
	cr_assert(eq(int, (int)json_integer_value(json_object_get(r, "key_id")), 2), "%s",
		  sbxt_dump(r));
	fresh = strdup(json_string_value(json_object_get(r, "sealed")));
	json_decref(r);
	/* The old key is still active: the old blob still runs. */
	cr_assert(eq(int,
		     sbx_client_test_run(
			 c, sealed_sh("o1", "echo ${#APP_API_KEY}", old, "tenant:7"), T_TASK, &t),
		     0));
	sbxt_expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "7\n"));
	sbx_client_test_task_done(&t);

	cr_assert(eq(int,
		     sbx_test_runv(&run, 20000, sbxctl, "keys", "retire", "1", "--keyring",
				   sbxt_fx.keyring, NULL),
		     0));
	cr_assert(eq(int, run.code, 0), "retire: %s", run.err);
	sbx_test_run_done(&run);
	sbxt_reload("reloaded");
	sbxt_expect_error(sbxt_call(c, sealed_sh("o2", "true", old, "tenant:7")), "key_retired");
	sbxt_expect_error(sbxt_call(c, json_pack("{s:s, s:s, s:s, s:s}", "id", "rw2", "op",
						 "rewrap", "context", "tenant:7", "sealed", old)),
			  "key_retired");
	cr_assert(eq(int,
		     sbx_client_test_run(
			 c, sealed_sh("n1", "echo ${#APP_API_KEY}", fresh, "tenant:7"), T_TASK, &t),
		     0));
	sbxt_expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "7\n"));
	sbx_client_test_task_done(&t);
	free(old);
	free(fresh);
	sbx_client_test_free(c);
	sbxt_stop();
}

/* ---- redaction ---- */

Test(sbxd, output_is_redacted)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	char value[40], *blob;

	sbxt_start(NULL);
	c = sbxt_conn();
	memcpy(value, "tok-", 4);
	random_hex(value + 4, 16);
	blob = sbxt_seal(c, "test-token", value, "tenant:r");
	cr_assert(
	    eq(int,
	       sbx_client_test_run(c,
				   sealed_sh("r",
					     "echo \"a $TEST_TOKEN b $TEST_TOKEN\"; "
					     "printf %s \"$TEST_TOKEN\" >&2; echo ${#TEST_TOKEN}",
					     blob, "tenant:r"),
				   T_TASK, &t),
	       0));
	sbxt_expect_exited(&t, 0);
	cr_assert(eq(str, t.out, "a [REDACTED:TEST_TOKEN] b [REDACTED:TEST_TOKEN]\n36\n"));
	cr_assert(eq(str, t.err, "[REDACTED:TEST_TOKEN]"));
	sbx_client_test_task_done(&t);
	cr_assert(T(!sbx_test_contains(c->transcript, value)));
	free(blob);
	sbx_client_test_free(c);
	sbxt_stop();
}

Test(sbxd, a_secret_straddling_two_writes_is_redacted)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	char value[48], *blob;
	/* Each value in two writes 200 ms apart (two reads of the pipe), split at k. */
	const char *script = "for k in 1 5 12 23; do "
			     "printf %s \"$TEST_TOKEN\" | head -c $k; sleep 0.2; "
			     "printf %s \"$TEST_TOKEN\" | tail -c +$((k + 1)); echo '|'; done; "
			     "printf %s \"$TEST_TOKEN\" | head -c 10 >&2; sleep 0.2; echo tail >&2";

	sbxt_start(NULL);
	c = sbxt_conn();
	memcpy(value, "tok-", 4);
	random_hex(value + 4, 10);
	blob = sbxt_seal(c, "TEST_TOKEN", value, "tenant:s");
	cr_assert(eq(
	    int, sbx_client_test_run(c, sealed_sh("s", script, blob, "tenant:s"), T_TASK, &t), 0));
	sbxt_expect_exited(&t, 0);
	cr_assert(eq(str, t.out,
		     "[REDACTED:TEST_TOKEN]|\n[REDACTED:TEST_TOKEN]|\n[REDACTED:TEST_TOKEN]|\n"
		     "[REDACTED:TEST_TOKEN]|\n"));
	/* A prefix that never completes is passed on, not swallowed. */
	cr_assert(T(strncmp(t.err, value, 10) == 0 && strcmp(t.err + 10, "tail\n") == 0),
		  "stderr '%s'", t.err);
	cr_assert(T(t.n_output >= 2), "%zu output events", t.n_output);
	sbx_client_test_task_done(&t);
	free(blob);
	sbx_client_test_free(c);
	sbxt_stop();
}

/* ---- the canary ---- */

/* Where needle occurs in pid's readable memory: count of hits, and the first address. */
static size_t scan_memory(pid_t pid, const char *needle, size_t nlen, unsigned long *first,
			  size_t *scanned)
{
	char path[64], line[512];
	FILE *maps;
	int mem;
	size_t hits = 0;
	const size_t chunk = 1 << 20;
	char *buf = malloc(chunk + 256);

	cr_assert(T(buf != NULL));
	(void)snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "re");
	cr_assert(T(maps != NULL), "%s: %s", path, strerror(errno));
	(void)snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert(T(mem >= 0), "%s: %s", path, strerror(errno));
	*scanned = 0;
	while (fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r')
			continue;
		/* Mappings over 1 GiB are sanitizer shadow and allocator reservations (an ASan
		 * sbxd maps terabytes of them); the daemon's own heap, stacks and locked pages
		 * are far smaller. */
		if (hi - lo > (1UL << 30))
			continue;
		for (unsigned long a = lo; a < hi; a += chunk) {
			size_t want = hi - a < chunk + nlen ? hi - a : chunk + nlen;
			ssize_t n = pread(mem, buf, want, (off_t)a);
			if (n <= 0)
				break; /* unreadable (e.g. [vvar], guard pages): skip the range */
			*scanned += (size_t)n;
			for (const char *p = buf;
			     (p = memmem(p, (size_t)n - (size_t)(p - buf), needle, nlen)); p++) {
				if ((size_t)(p - buf) >= chunk)
					break; /* in the overlap: found in the next chunk */
				if (hits++ == 0)
					*first = a + (unsigned long)(p - buf);
			}
		}
	}
	(void)fclose(maps);
	(void)close(mem);
	free(buf);
	return hits;
}

Test(sbxd, canary_is_nowhere_after_its_tasks_end, .timeout = 120)
{
	struct sbx_client_test *c;
	struct sbx_client_test_task t;
	char canary[80], *blob, *log;
	const char *scripts[] = {
	    "echo \"canary: $CANARY_TOKEN\"",
	    "printf %s \"$CANARY_TOKEN\" | head -c 20; sleep 0.2; "
	    "printf %s \"$CANARY_TOKEN\" | tail -c +21; echo",
	    "printf '%s\\n' \"$CANARY_TOKEN\" >&2; printf %s \"$CANARY_TOKEN\" | od -c | head -1",
	    "test -n \"$CANARY_TOKEN\" && echo has-it",
	    "yes \"$CANARY_TOKEN\" | head -n 2000",
	};
	size_t log_len, scanned = 0, hits;
	unsigned long first = 0;

	sbxt_start(NULL);
	memcpy(canary, "sbxcanary", 9);
	random_hex(canary + 9, 24);
	c = sbxt_conn();
	blob = sbxt_seal(c, "CANARY_TOKEN", canary, "tenant:canary");
	/* Several tasks, some at once. */
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
			char id[16];
			(void)snprintf(id, sizeof(id), "c%d-%zu", round, i);
			cr_assert(eq(int,
				     sbx_client_test_send_take(
					 c, sealed_sh(id, scripts[i], blob, "tenant:canary")),
				     0));
		}
		for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
			char id[16];
			(void)snprintf(id, sizeof(id), "c%d-%zu", round, i);
			cr_assert(eq(int, sbx_client_test_wait(c, id, T_TASK, &t), 0));
			sbxt_expect_exited(&t, 0);
			cr_assert(T(!memmem(t.out, t.out_len, canary, strlen(canary))),
				  "canary in stdout of %s", id);
			cr_assert(T(!memmem(t.err, t.err_len, canary, strlen(canary))),
				  "canary in stderr of %s", id);
			if (i == 0)
				cr_assert(eq(str, t.out, "canary: [REDACTED:CANARY_TOKEN]\n"));
			if (i == 3)
				cr_assert(eq(str, t.out, "has-it\n"));
			sbx_client_test_task_done(&t);
		}
	}
	/* Every task has ended (and list says so). */
	{
		json_t *r = sbxt_call(c, json_pack("{s:s, s:s}", "id", "l", "op", "list"));
		cr_assert(eq(sz, json_array_size(json_object_get(r, "tasks")), 0), "%s",
			  sbxt_dump(r));
		json_decref(r);
	}
	sbxt_sleep_ms(200);
	hits = scan_memory(sbxt_fx.pid, canary, strlen(canary), &first, &scanned);
	(void)fprintf(stderr, "canary: scanned %zu bytes of sbxd %d's memory, %zu hit(s)\n",
		      scanned, (int)sbxt_fx.pid, hits);
	cr_assert(T(scanned > 1024 * 1024), "only %zu bytes of memory were readable", scanned);
	cr_expect(eq(sz, hits, 0), "the canary is in sbxd's memory %zu time(s), first at 0x%lx",
		  hits, first);
	cr_expect(T(!memmem(c->transcript, c->transcript_len, canary, strlen(canary))),
		  "the canary is in a reply");
	log = sbx_fixture_read_log(&sbxt_fx, &log_len);
	cr_assert(T(log != NULL));
	cr_expect(T(!memmem(log, log_len, canary, strlen(canary))), "the canary is in sbxd's log");
	free(log);
	/* The audit log: every task recorded, the secret's name at most, never its value. */
	{
		char path[8192];
		struct sbx_test_run run;
		(void)snprintf(path, sizeof(path), "%s/audit.jsonl", sbxt_fx.dir);
		cr_assert(eq(int, sbx_test_runv(&run, 5000, "/bin/cat", path, NULL), 0));
		cr_assert(eq(int, run.code, 0), "no audit log at %s", path);
		cr_expect(T(!memmem(run.out, run.out_len, canary, strlen(canary))),
			  "the canary is in the audit log");
		cr_expect(T(count_of(run.out, "\"event\":\"task.started\"") >= 10),
			  "10 tasks, %zu task.started records",
			  count_of(run.out, "\"event\":\"task.started\""));
		cr_expect(T(count_of(run.out, "\"event\":\"task.exited\"") >= 10),
			  "10 tasks, %zu task.exited records",
			  count_of(run.out, "\"event\":\"task.exited\""));
		sbx_test_run_done(&run);
	}
	free(blob);
	sbx_client_test_free(c);
	sbxt_stop();
	/* And nothing of it in the log written while stopping. */
	log = sbx_fixture_read_log(&sbxt_fx, &log_len);
	cr_assert(T(!memmem(log, log_len, canary, strlen(canary))), "the canary is in sbxd's log");
	free(log);
}
