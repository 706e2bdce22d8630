/* SPDX-License-Identifier: MIT */
/* The audit log: record format, the chain and every kind of tampering, the key ratchet,
 * rotation, crash recovery, disk full (tmpfs, root) and a removed log file. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>

#include "audit/audit.h"
#include "audit/internal.h"
#include "audit/verify.h"
#include "common/log.h"

static char dir[] = "/tmp/sbx-test-audit-XXXXXX";
static char log_path[256], state_path[256], key_path[256];

static void setup(void)
{
	cr_assert(mkdtemp(dir) != NULL);
	(void)snprintf(log_path, sizeof(log_path), "%s/audit.jsonl", dir);
	(void)snprintf(state_path, sizeof(state_path), "%s/audit.state", dir);
	(void)snprintf(key_path, sizeof(key_path), "%s/audit.key", dir);
	sbx_log_set_max_level(LOG_ERR - 1); /* quiet: outages are provoked on purpose */
	cr_assert(eq(int, sbx_audit_state_init(state_path, key_path, -1, NULL), 0));
}

static void teardown(void)
{
	char cmd[300];

	(void)umount2(dir, MNT_DETACH);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

TestSuite(audit, .init = setup, .fini = teardown, .timeout = 60);

static struct sbx_audit_config config(void)
{
	return (struct sbx_audit_config){.path = log_path, .state_path = state_path};
}

static struct sbx_audit *open_cfg(const struct sbx_audit_config *cfg)
{
	struct sbx_audit *a = NULL;

	cr_assert(eq(int, sbx_audit_open(cfg, &a), 0));
	return a;
}

static int append_task(struct sbx_audit *a, int i)
{
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
	struct sbx_audit_peer peer = {1000, 1000, 4242};
	const char *names[] = {"ANTHROPIC_API_KEY", "DB_URL"};
	char task[32];
	int r;

	(void)snprintf(task, sizeof(task), "t-%d", i);
	sbx_audit_fields_str(&f, "policy", "default");
	sbx_audit_fields_uint(&f, "pool_uid", 100000 + (unsigned)i);
	sbx_audit_fields_int(&f, "pid", 7000 + i);
	sbx_audit_fields_strv(&f, "names", names, 2);
	r = sbx_audit_append(a, "task.started", &peer, task, &f);
	sbx_audit_fields_done(&f);
	return r;
}

/* A log of 1 audit.opened + n task records. */
static void make_log(int n)
{
	struct sbx_audit_config cfg = config();
	struct sbx_audit *a = open_cfg(&cfg);

	for (int i = 0; i < n; i++)
		cr_assert(eq(int, append_task(a, i), 0));
	cr_assert(eq(int, sbx_audit_commit(a), 0));
	sbx_audit_close(a);
}

static struct sbx_audit_verify_result verify_with(const char *key, const char *anchor,
						  char *const *paths, size_t n)
{
	struct sbx_audit_verify_result res;
	struct sbx_audit_verify *v = NULL;

	cr_assert(eq(int, sbx_audit_verify_new(key, &v), 0));
	if (anchor)
		cr_assert(eq(int, sbx_audit_verify_add_anchor(v, anchor), 0));
	cr_assert(eq(int, sbx_audit_verify_files(v, paths, n), 0));
	sbx_audit_verify_finish(v, &res);
	sbx_audit_verify_free(v);
	return res;
}

static struct sbx_audit_verify_result verify_log(void)
{
	char *paths[] = {log_path};

	return verify_with(key_path, NULL, paths, 1);
}

static void expect(enum sbx_audit_verify_reason reason, uint64_t seq)
{
	struct sbx_audit_verify_result res = verify_log();

	cr_expect(eq(str, (char *)sbx_audit_verify_reason_name(res.reason),
		     (char *)sbx_audit_verify_reason_name(reason)),
		  "detail: %s", res.detail);
	cr_expect(eq(u64, res.bad_seq, seq), "detail: %s", res.detail);
}

/* The log as an array of lines (with their newlines). */
struct lines {
	char *v[4096];
	size_t n;
};

static void read_lines(const char *path, struct lines *l)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0;
	char *line = NULL;

	cr_assert(f != NULL);
	l->n = 0;
	while (getline(&line, &cap, f) > 0 && l->n < 4096) {
		l->v[l->n++] = line;
		line = NULL;
		cap = 0;
	}
	free(line);
	(void)fclose(f);
}

static void write_lines(const char *path, const struct lines *l)
{
	FILE *f = fopen(path, "we");

	cr_assert(f != NULL);
	for (size_t i = 0; i < l->n; i++)
		(void)fputs(l->v[i], f);
	cr_assert(eq(int, fclose(f), 0));
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = calloc(1, 1 << 20);

	cr_assert(f && buf);
	(void)!fread(buf, 1, (1 << 20) - 1, f);
	(void)fclose(f);
	return buf;
}

static bool sbx_test_file_has(const char *path, const char *needle)
{
	char *text = slurp(path);
	bool has = strstr(text, needle) != NULL;

	free(text);
	return has;
}

Test(audit, record_format_and_round_trip)
{
	struct lines l;
	json_t *o;
	const char *key;
	void *it;
	const char *order[] = {"seq", "ts", "event", "peer", "task", "policy",
			       "pool_uid", "pid", "names", "mac"};
	size_t k = 0;

	make_log(20);
	read_lines(log_path, &l);
	cr_assert(eq(sz, l.n, 21));
	cr_expect(strncmp(l.v[0], "{\"seq\":1,\"ts\":\"", 15) == 0);
	cr_expect(strstr(l.v[0], "\"event\":\"audit.opened\"") != NULL);
	o = json_loads(l.v[1], 0, NULL);
	cr_assert(o != NULL);
	json_object_foreach(o, key, it) {
		(void)it;
		cr_expect(k < ARRAY_SIZE(order) && strcmp(key, order[k]) == 0, "key %zu is %s", k,
			  key);
		k++;
	}
	cr_expect(eq(int, (int)strlen(json_string_value(json_object_get(o, "ts"))), 27));
	cr_expect(json_string_value(json_object_get(o, "ts"))[26] == 'Z');
	json_decref(o);
	expect(SBX_AUDIT_VERIFY_OK, 0);
	cr_expect(eq(u64, verify_log().records, 21));
}

Test(audit, fields_are_escaped)
{
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
	const char *v[] = {"a\"b", NULL, "\xff\xfe"};
	char buf[512];
	bool is_null;
	json_t *o;

	sbx_audit_fields_str(&f, "s", "quote\" back\\ nl\n tab\t ctl\x01 del\x7f");
	sbx_audit_fields_strv(&f, "v", v, 3);
	sbx_audit_fields_bool(&f, "b", true);
	sbx_audit_fields_int(&f, "i", -5);
	cr_assert(sbx_audit_fields_get(&f) != NULL);
	cr_assert(strchr(sbx_audit_fields_get(&f), '\n') == NULL);
	(void)snprintf(buf, sizeof(buf), "{%s}", sbx_audit_fields_get(&f));
	o = json_loads(buf, JSON_REJECT_DUPLICATES, NULL);
	cr_assert(o != NULL, "%s", buf);
	cr_expect(eq(str, (char *)json_string_value(json_object_get(o, "s")),
		     "quote\" back\\ nl\n tab\t ctl\x01 del\x7f"));
	is_null = json_is_null(json_array_get(json_object_get(o, "v"), 1));
	cr_expect(is_null);
	json_decref(o);
	sbx_audit_fields_str(&f, "mac", "x"); /* the writer's names are refused */
	cr_expect(eq(int, sbx_audit_fields_error(&f), -EINVAL));
	sbx_audit_fields_done(&f);
}

Test(audit, bad_input_is_refused)
{
	struct sbx_audit_config cfg = config();
	struct sbx_audit *a = open_cfg(&cfg);
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;

	cr_expect(eq(int, sbx_audit_append(a, "Bad Event", NULL, NULL, NULL), -EINVAL));
	cr_expect(eq(int, sbx_audit_append(a, "", NULL, NULL, NULL), -EINVAL));
	sbx_audit_fields_str(&f, "BAD", "x");
	cr_expect(eq(int, sbx_audit_append(a, "task.started", NULL, NULL, &f), -EINVAL));
	sbx_audit_fields_done(&f);
	cr_expect(sbx_audit_available(a));
	sbx_audit_close(a);
	expect(SBX_AUDIT_VERIFY_OK, 0);
}

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
	l.v[6][strlen(l.v[6]) - 4] ^= 1; /* a hex digit stays a hex digit */
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
	(void)snprintf(forged, sizeof(forged),
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
		l.v[i] = strdup(buf);
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

Test(audit, init_never_overwrites)
{
	cr_expect(eq(int, sbx_audit_state_init(state_path, NULL, -1, NULL), -EINVAL));
	cr_expect(eq(int, sbx_audit_state_init(state_path, "/dev/null/x", -1, NULL), -EEXIST));
	cr_expect(eq(int, access(key_path, F_OK), 0));
}

/* The key bytes of a key file, to look for them where they must not be. */
static void read_key(const char *path, uint8_t key[SBX_AUDIT_KEY_BYTES])
{
	char hex[2 * SBX_AUDIT_KEY_BYTES + 1] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	cr_assert(fd >= 0);
	cr_assert(eq(int, (int)read(fd, hex, 2 * SBX_AUDIT_KEY_BYTES), 64));
	(void)close(fd);
	cr_assert(eq(int, sbx_audit_state_unhex(hex, 64, key, SBX_AUDIT_KEY_BYTES), 0));
	explicit_bzero(hex, sizeof(hex));
}

/* Is the (masked) needle anywhere in this process's readable memory? */
static bool in_my_memory(const uint8_t *masked, const uint8_t *mask, size_t n)
{
	FILE *maps = fopen("/proc/self/maps", "re");
	int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	static uint8_t chunk[1 << 16];
	char line[512];
	bool found = false;

	cr_assert(maps && mem >= 0);
	while (!found && fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' ||
		    strstr(line, "[vvar]") || strstr(line, "[vsyscall]"))
			continue;
		for (unsigned long at = lo; !found && at < hi; at += sizeof(chunk) - n) {
			size_t want = hi - at < sizeof(chunk) ? hi - at : sizeof(chunk);
			ssize_t got = pread(mem, chunk, want, (off_t)at);
			if (got <= 0)
				break;
			for (ssize_t i = 0; i + (ssize_t)n <= got && !found; i++) {
				if ((uint8_t)(chunk[i] ^ mask[0]) != masked[0])
					continue;
				size_t j = 1;
				while (j < n && (uint8_t)(chunk[i + j] ^ mask[j]) == masked[j])
					j++;
				found = j == n;
			}
			if (want < sizeof(chunk))
				break;
		}
	}
	(void)fclose(maps);
	(void)close(mem);
	return found;
}

Test(audit, ratchet_first_key_verifies_and_old_keys_are_gone)
{
	struct sbx_audit_config cfg = config();
	uint8_t key[SBX_AUDIT_KEY_BYTES], mask[SBX_AUDIT_KEY_BYTES], masked[SBX_AUDIT_KEY_BYTES];
	char hex[2 * SBX_AUDIT_KEY_BYTES + 1];
	struct sbx_audit_stats st;
	struct sbx_audit *a;
	bool found;
	char *state;

	cfg.ratchet_records = 5;
	a = open_cfg(&cfg);
	for (int i = 0; i < 40; i++) {
		cr_assert(eq(int, append_task(a, i), 0));
		cr_assert(eq(int, sbx_audit_commit(a), 0));
	}
	sbx_audit_get_stats(a, &st);
	cr_expect(st.epoch >= 7, "epoch %" PRIu64, st.epoch);

	/* No earlier epoch's key, in hex, in the state file; nor in raw bytes in memory. */
	read_key(key_path, key);
	state = slurp(state_path);
	for (uint64_t e = 0; e < st.epoch; e++) {
		sbx_audit_state_hex(key, sizeof(key), hex);
		cr_expect(strstr(state, hex) == NULL, "epoch %" PRIu64 " key in the state", e);
		if (e == 0 || e == st.epoch - 1) {
			for (size_t i = 0; i < sizeof(key); i++) {
				mask[i] = (uint8_t)(0x5a + 17 * i);
				masked[i] = key[i] ^ mask[i];
			}
			explicit_bzero(hex, sizeof(hex));
			sbx_audit_state_ratchet(key);
			/* key now holds the next epoch's key; the old one only masked */
			found = in_my_memory(masked, mask, sizeof(key));
			cr_expect(not(found), "epoch %" PRIu64 " key still in memory", e);
		} else {
			sbx_audit_state_ratchet(key);
		}
	}
	sbx_audit_state_hex(key, sizeof(key), hex);
	cr_expect(strstr(state, hex) != NULL, "the current key is the state's key");
	/* The scanner works: the live key (held by the writer) is found. */
	for (size_t i = 0; i < sizeof(key); i++)
		masked[i] = key[i] ^ mask[i];
	found = in_my_memory(masked, mask, sizeof(key));
	cr_expect(found, "the scanner missed the live key");
	explicit_bzero(key, sizeof(key));
	explicit_bzero(hex, sizeof(hex));
	free(state);
	sbx_audit_close(a);
	expect(SBX_AUDIT_VERIFY_OK, 0);
	cr_expect(sbx_test_file_has(log_path, "\"event\":\"audit.ratcheted\""));
}

Test(audit, ratchet_survives_reopen)
{
	struct sbx_audit_config cfg = config();
	struct sbx_audit *a;

	cfg.ratchet_records = 3;
	for (int round = 0; round < 4; round++) {
		a = open_cfg(&cfg);
		for (int i = 0; i < 7; i++)
			cr_assert(eq(int, append_task(a, i), 0));
		cr_assert(eq(int, sbx_audit_commit(a), 0));
		sbx_audit_close(a);
	}
	expect(SBX_AUDIT_VERIFY_OK, 0);
}
