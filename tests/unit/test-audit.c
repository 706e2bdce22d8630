/* SPDX-License-Identifier: MIT */
/* The audit log: record format, the key ratchet, rotation, crash recovery, disk full (tmpfs,
 * root) and a removed log file. The chain and every kind of tampering: test-audit-verify.c. */
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
#include "tests/unit/audit-tests.h"

TestSuite(audit, .init = setup, .fini = teardown, .timeout = 60);

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
	const char *order[] = {"seq",	 "ts",	     "event", "peer",  "task",
			       "policy", "pool_uid", "pid",   "names", "mac"};
	size_t k = 0;

	make_log(20);
	read_lines(log_path, &l);
	cr_assert(eq(sz, l.n, 21));
	cr_expect(strncmp(l.v[0], "{\"seq\":1,\"ts\":\"", 15) == 0);
	cr_expect(strstr(l.v[0], "\"event\":\"audit.opened\"") != NULL);
	o = json_loads(l.v[1], 0, NULL);
	cr_assert(o != NULL);
	json_object_foreach(o, key, it)
	{
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
		/* Skip sanitizer shadow and allocator reservations (terabytes under ASan). */
		if (hi - lo > (1UL << 30))
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

/* Every file of the log set (PATH and PATH.*), torn fragments left out, in readdir order. */
static size_t log_files(char **paths, size_t max)
{
	char cmd[512];
	FILE *p;
	size_t n = 0;
	char line[512];

	(void)snprintf(cmd, sizeof(cmd), "ls -1 '%s'/audit.jsonl* | grep -v torn | sort -r", dir);
	p = popen(cmd, "r");
	cr_assert(p != NULL);
	while (n < max && fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		paths[n++] = keep(strdup(line));
	}
	(void)pclose(p);
	return n;
}

Test(audit, rotation_by_size_and_signal_verifies_across_files)
{
	struct sbx_audit_config cfg = config();
	struct sbx_audit_verify_result res;
	char *paths[64];
	struct sbx_audit *a;
	size_t n;

	cfg.rotate_size = 3000;
	a = open_cfg(&cfg);
	for (int i = 0; i < 40; i++) {
		cr_assert(eq(int, append_task(a, i), 0));
		cr_assert(eq(int, sbx_audit_commit(a), 0));
	}
	cr_assert(eq(int, sbx_audit_rotate(a), 0));
	cr_assert(eq(int, append_task(a, 99), 0));
	sbx_audit_close(a);
	n = log_files(paths, 64);
	cr_assert(n >= 5, "%zu files", n);
	/* given in reverse order: verify sorts by first seq */
	res = verify_with(key_path, NULL, paths, n);
	cr_expect(eq(int, res.reason, SBX_AUDIT_VERIFY_OK), "%s: %s", res.detail,
		  res.file ? res.file : "");
	cr_expect(sbx_test_file_has(log_path, "\"event\":\"audit.rotated\""));
	cr_expect(sbx_test_file_has(log_path, "\"reason\":\"signal\""));
	/* the newest file alone verifies from its header */
	res = verify_log();
	cr_expect(eq(int, res.reason, SBX_AUDIT_VERIFY_OK), "%s", res.detail);
	/* a missing middle file is a gap */
	res = verify_with(key_path, NULL, paths + 1, 1);
	cr_expect(eq(int, res.reason, SBX_AUDIT_VERIFY_OK), "%s", res.detail);
	{
		char *gap[] = {paths[0], paths[2]};
		res = verify_with(key_path, NULL, gap, 2);
		cr_expect(eq(int, res.reason, SBX_AUDIT_VERIFY_SEQ_GAP), "%s", res.detail);
	}
}

Test(audit, rotation_by_logrotate_rename)
{
	struct sbx_audit_config cfg = config();
	struct sbx_audit_verify_result res;
	char moved[300];
	struct sbx_audit *a;

	a = open_cfg(&cfg);
	for (int i = 0; i < 5; i++)
		cr_assert(eq(int, append_task(a, i), 0));
	cr_assert(eq(int, sbx_audit_commit(a), 0));
	(void)snprintf(moved, sizeof(moved), "%s.1", log_path);
	cr_assert(eq(int, rename(log_path, moved), 0));
	cr_assert(eq(int, append_task(a, 5), 0)); /* still goes to the moved file */
	cr_assert(eq(int, sbx_audit_rotate(a), 0));
	cr_assert(eq(int, append_task(a, 6), 0));
	sbx_audit_close(a);
	{
		char *paths[] = {log_path, moved};
		res = verify_with(key_path, NULL, paths, 2);
	}
	cr_expect(eq(int, res.reason, SBX_AUDIT_VERIFY_OK), "%s", res.detail);
	cr_expect(eq(u64, res.records, 9)); /* opened, 5, 1, rotated, 1 */
}

Test(audit, crash_mid_write_torn_line_is_moved_aside)
{
	struct sbx_audit_config cfg = config();
	struct sbx_audit *a;
	char torn[300];
	char *text;
	int fd;

	make_log(5); /* seqs 1..6 */
	fd = open(log_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	cr_assert(fd >= 0);
	cr_assert(eq(int, (int)write(fd, "{\"seq\":7,\"ts\":\"2024-01-0", 25), 25));
	(void)close(fd);
	expect(SBX_AUDIT_VERIFY_TRUNCATED, 7);
	a = open_cfg(&cfg);
	cr_assert(eq(int, append_task(a, 9), 0));
	sbx_audit_close(a);
	expect(SBX_AUDIT_VERIFY_OK, 0);
	(void)snprintf(torn, sizeof(torn), "%s.torn-7", log_path);
	text = slurp(torn);
	cr_expect(eq(str, text, "{\"seq\":7,\"ts\":\"2024-01-0"));
	free(text);
	text = slurp(log_path);
	cr_expect(strstr(text, "{\"seq\":7,") &&
		  strstr(strstr(text, "{\"seq\":7,"), "\"event\":\"audit.recovered\""));
	cr_expect(strstr(text, "\"reason\":\"torn_line\",\"torn_bytes\":25,\"moved_to\":"
			       "\"audit.jsonl.torn-7\"") != NULL);
	free(text);
}

Test(audit, crash_garbage_last_line_and_zero_fill)
{
	struct sbx_audit_config cfg = config();
	static const char zeros[300];
	struct sbx_audit *a;
	int fd;

	make_log(3);
	fd = open(log_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	cr_assert(fd >= 0);
	cr_assert(eq(int, (int)write(fd, "not a record\n", 13), 13));
	cr_assert(eq(int, (int)write(fd, zeros, sizeof(zeros)), (int)sizeof(zeros)));
	(void)close(fd);
	/* two bad lines: a human must look */
	cr_expect(eq(int, sbx_audit_open(&cfg, &a), -EBADMSG));
	{
		char *whole = slurp(log_path);
		cr_assert(eq(int, truncate(log_path, (off_t)strlen(whole)), 0));
		free(whole);
	}
	a = open_cfg(&cfg);
	sbx_audit_close(a);
	expect(SBX_AUDIT_VERIFY_OK, 0);
}

Test(audit, state_ahead_of_log_is_recorded_and_flagged)
{
	struct sbx_audit_config cfg = config();
	struct sbx_audit *a;
	struct lines l;

	make_log(10); /* close saved the tip (seq 11) in the state */
	read_lines(log_path, &l);
	l.n -= 4; /* someone cut the tail while sbxd was down */
	write_lines(log_path, &l);
	a = open_cfg(&cfg);
	sbx_audit_close(a);
	cr_expect(sbx_test_file_has(log_path, "\"reason\":\"log_behind_state\""));
	expect(SBX_AUDIT_VERIFY_SEQ_GAP, 8);
}

static size_t count_in(const char *path, const char *needle)
{
	char *text = slurp(path);
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(text);
	return n;
}

/* A writer killed without closing (sbxd after SIGKILL) leaves the log past the state's tip:
 * the next open says so in exactly one record, and the chain still verifies. */
Test(audit, unclean_stop_is_recorded_once)
{
	struct sbx_audit_config cfg = config();
	struct sbx_audit *a;
	int st;
	pid_t pid;

	make_log(2);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct sbx_audit *k = NULL;
		if (sbx_audit_open(&cfg, &k) < 0 || append_task(k, 7) < 0 ||
		    sbx_audit_commit(k) < 0)
			_exit(1);
		_exit(0); /* no close: the state keeps the old tip */
	}
	cr_assert(eq(int, waitpid(pid, &st, 0), pid));
	cr_assert(eq(int, st, 0), "the writer failed (status 0x%x)", st);
	cr_expect(eq(u64, (uint64_t)count_in(log_path, "\"reason\":\"unclean_stop\""), 0));
	a = open_cfg(&cfg);
	sbx_audit_close(a);
	cr_expect(eq(u64, (uint64_t)count_in(log_path, "\"event\":\"audit.recovered\""), 1));
	cr_expect(sbx_test_file_has(log_path, "\"reason\":\"unclean_stop\",\"log_seq\":5,"
					      "\"state_seq\":3"));
	a = open_cfg(&cfg); /* closed cleanly this time: nothing more */
	sbx_audit_close(a);
	cr_expect(eq(u64, (uint64_t)count_in(log_path, "\"event\":\"audit.recovered\""), 1));
	expect(SBX_AUDIT_VERIFY_OK, 0);
}

Test(audit, removed_log_file_fails_closed_and_recovers)
{
	struct sbx_audit_config cfg = config();
	struct sbx_audit_stats st;
	struct sbx_audit *a;

	a = open_cfg(&cfg);
	cr_assert(eq(int, append_task(a, 0), 0));
	cr_assert(eq(int, sbx_audit_commit(a), 0));
	cr_assert(eq(int, unlink(log_path), 0));
	cr_assert(eq(int, append_task(a, 1), 0));
	cr_expect(eq(int, sbx_audit_commit(a), -ENOENT));
	cr_expect(not(sbx_audit_available(a)));
	cr_expect(eq(int, append_task(a, 2), -ENOENT));
	sbx_audit_get_stats(a, &st);
	cr_expect(eq(u64, st.queued, 2));
	cr_expect(eq(int, sbx_audit_tick(a), 0));
	cr_expect(sbx_audit_available(a));
	sbx_audit_close(a);
	expect(SBX_AUDIT_VERIFY_OK, 0);
	cr_expect(sbx_test_file_has(log_path, "\"reason\":\"reopened\""));
	cr_expect(sbx_test_file_has(log_path, "\"task\":\"t-1\""));
	cr_expect(sbx_test_file_has(log_path, "\"task\":\"t-2\""));
	cr_expect(sbx_test_file_has(log_path, "\"event\":\"audit.unavailable\""));
}

/* Root only: a 64 KiB tmpfs in a private mount namespace (this test's own process). */
static void small_tmpfs(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to mount a tmpfs");
	cr_assert(eq(int, unshare(CLONE_NEWNS), 0));
	cr_assert(eq(int, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0));
	cr_assert(eq(int, mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700"), 0));
	cr_assert(eq(int, sbx_audit_state_init(state_path, key_path, -1, NULL), 0));
}

static int fill(const char *path)
{
	static const char block[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	cr_assert(fd >= 0);
	while (write(fd, block, sizeof(block)) > 0)
		;
	while (write(fd, block, 1) > 0)
		;
	(void)close(fd);
	return 0;
}

Test(audit, disk_full_fails_closed_queues_and_recovers)
{
	struct sbx_audit_config cfg = config();
	struct sbx_audit_stats st;
	char filler[300];
	struct sbx_audit *a;
	int r, i, first;

	small_tmpfs();
	cfg.queue_max = 16;
	a = open_cfg(&cfg);
	for (i = 0; i < 5; i++)
		cr_assert(eq(int, append_task(a, i), 0));
	cr_assert(eq(int, sbx_audit_commit(a), 0));
	(void)snprintf(filler, sizeof(filler), "%s/filler", dir);
	(void)fill(filler);
	/* the log's last page may still have room: write until the disk says no */
	do {
		r = append_task(a, i++);
		if (r == 0)
			r = sbx_audit_commit(a);
	} while (r == 0 && i < 200);
	cr_expect(eq(int, r, -ENOSPC));
	cr_expect(not(sbx_audit_available(a)));
	first = i - 1;
	for (; i < first + 30; i++) {
		r = append_task(a, i);
		cr_expect(r == -ENOSPC || r == -ENOBUFS, "r=%d", r);
	}
	sbx_audit_get_stats(a, &st);
	cr_expect(eq(u64, st.queued, 16));
	cr_expect(eq(u64, st.dropped, 30 - 16));
	cr_expect(eq(int, sbx_audit_tick(a), -ENOSPC)); /* still full */
	cr_assert(eq(int, unlink(filler), 0));
	cr_expect(eq(int, sbx_audit_tick(a), 0));
	cr_expect(sbx_audit_available(a));
	cr_expect(eq(int, append_task(a, 100), 0));
	sbx_audit_close(a);
	expect(SBX_AUDIT_VERIFY_OK, 0);
	cr_expect(sbx_test_file_has(log_path, "\"event\":\"audit.unavailable\""));
	cr_expect(sbx_test_file_has(log_path, "\"reason\":\"unavailable\",\"error\":\"ENOSPC\""));
	cr_expect(sbx_test_file_has(log_path, "\"queued\":16,\"dropped\":14"));
	for (i = first; i < first + 16; i++) {
		char want[32];
		(void)snprintf(want, sizeof(want), "\"task\":\"t-%d\"", i);
		cr_expect(sbx_test_file_has(log_path, want), "%s lost", want);
	}
}

Test(audit, disk_full_in_fsync_mode)
{
	struct sbx_audit_config cfg = config();
	char filler[300];
	struct sbx_audit *a;
	int i, r = 0;

	small_tmpfs();
	cfg.durability = SBX_AUDIT_FSYNC;
	a = open_cfg(&cfg);
	cr_assert(eq(int, append_task(a, 0), 0));
	(void)snprintf(filler, sizeof(filler), "%s/filler", dir);
	(void)fill(filler);
	for (i = 1; i < 200 && (r = append_task(a, i)) == 0; i++)
		;
	cr_expect(eq(int, r, -ENOSPC));
	cr_expect(eq(int, append_task(a, 1000), -ENOSPC));
	cr_assert(eq(int, unlink(filler), 0));
	cr_expect(eq(int, sbx_audit_tick(a), 0));
	sbx_audit_close(a);
	expect(SBX_AUDIT_VERIFY_OK, 0);
	cr_expect(sbx_test_file_has(log_path, "\"task\":\"t-1000\""));
}

static double rate(enum sbx_audit_durability d, int n, int per_commit)
{
	struct sbx_audit_config cfg = config();
	struct timespec t0, t1;
	struct sbx_audit *a;

	cfg.durability = d;
	cfg.ratchet_records = 1000000;
	a = open_cfg(&cfg);
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		cr_assert(eq(int, append_task(a, i), 0));
		if ((i + 1) % per_commit == 0)
			cr_assert(eq(int, sbx_audit_commit(a), 0));
	}
	cr_assert(eq(int, sbx_audit_commit(a), 0));
	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	sbx_audit_close(a);
	return n / ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

/* Not a pass/fail figure: prints records/s per mode for docs/audit.md. */
Test(audit, throughput_figures, .timeout = 120)
{
	double f = rate(SBX_AUDIT_FSYNC, 500, 1);
	double g1 = rate(SBX_AUDIT_GROUP, 500, 1);
	double g10 = rate(SBX_AUDIT_GROUP, 5000, 10);
	double g100 = rate(SBX_AUDIT_GROUP, 20000, 100);

	(void)fprintf(stderr,
		      "audit throughput on %s: fsync %.0f rec/s; group: 1/turn %.0f, 10/turn %.0f, "
		      "100/turn %.0f rec/s\n",
		      dir, f, g1, g10, g100);
	expect(SBX_AUDIT_VERIFY_OK, 0);
}
