/* SPDX-License-Identifier: MIT */
/* The keyring: file checks, the strict format, invariants, state changes, atomic saves. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "keys/internal.h"
#include "keys/keyring.h"

static char dir[] = "/tmp/sbx-test-keyring-XXXXXX";
static char path[256];

static void setup(void)
{
	cr_assert(eq(int, sbx_secret_init(false), 0));
	cr_assert(mkdtemp(dir) != NULL);
	(void)snprintf(path, sizeof(path), "%s/keyring", dir);
}

static void teardown(void)
{
	char cmd[300];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

TestSuite(keyring, .init = setup, .fini = teardown, .timeout = 60);

static int load(struct sbx_keyring **kr, char err[SBX_KEYRING_ERR_MAX])
{
	return sbx_keyring_load(path, 0, kr, err, SBX_KEYRING_ERR_MAX);
}

static void write_text(const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	cr_assert(fd >= 0);
	cr_assert(eq(int, (int)write(fd, text, strlen(text)), (int)strlen(text)));
	cr_assert(eq(int, fchmod(fd, mode), 0));
	(void)close(fd);
}

/* The saved text, in ordinary memory: only for tests of the format. */
static char *saved_text(void)
{
	FILE *f = fopen(path, "re");
	char *buf = calloc(1, 65536);

	cr_assert(f && buf);
	(void)!fread(buf, 1, 65535, f);
	(void)fclose(f);
	return buf;
}

Test(keyring, new_save_load_round_trip)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL, *back = NULL;
	char err[SBX_KEYRING_ERR_MAX] = "";
	struct sbx_key_info a, b;
	struct stat st;

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	cr_assert(eq(int, sbx_keyring_rotate(kr, NULL), 0));
	cr_assert(eq(int, sbx_keyring_save(kr, path, true), 0));
	cr_assert(eq(int, stat(path, &st), 0));
	cr_assert(eq(u32, st.st_mode & 07777, 0600));
	cr_assert(eq(int, load(&back, err), 0), "%s", err);
	cr_assert(eq(sz, sbx_keyring_count(back), 2));
	cr_assert(eq(u32, sbx_keyring_primary_id(back), 2));
	cr_assert(eq(u32, sbx_keyring_next_id(back), 3));
	for (size_t i = 0; i < 2; i++) {
		cr_assert(eq(int, sbx_keyring_info(kr, i, &a), 0));
		cr_assert(eq(int, sbx_keyring_info(back, i, &b), 0));
		cr_assert(eq(str, a.fingerprint, b.fingerprint));
		cr_assert(eq(int, (int)a.state, (int)b.state));
	}
	cr_assert(sbx_secret_equal(sbx_keyring_audit_key(kr), sbx_keyring_audit_key(back)));
	cr_assert(eq(int, sbx_keyring_save(kr, path, true), -EEXIST), "create never replaces");
	cr_assert(eq(int, sbx_keyring_save(kr, path, false), 0));
}

Test(keyring, refuses_bad_files)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	struct sbx_keyring *out = NULL;
	char err[SBX_KEYRING_ERR_MAX] = "", link[300];

	cr_assert(eq(int, load(&out, err), -ENOENT));
	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	cr_assert(eq(int, sbx_keyring_save(kr, path, true), 0));
	cr_assert(eq(int, chmod(path, 0640), 0));
	cr_assert(eq(int, load(&out, err), -EPERM));
	cr_assert(strstr(err, "0640") != NULL, "%s", err);
	cr_assert(eq(int, chmod(path, 0604), 0));
	cr_assert(eq(int, load(&out, err), -EPERM));
	cr_assert(eq(int, chmod(path, 0600), 0));
	if (geteuid() == 0) {
		cr_assert(eq(int, chown(path, 1000, 1000), 0));
		cr_assert(eq(int, load(&out, err), -EPERM));
		cr_assert(strstr(err, "uid 1000") != NULL, "%s", err);
		cr_assert(eq(int,
			     sbx_keyring_load(path, SBX_KEYRING_OWNER_SELF, &out, err, sizeof(err)),
			     -EPERM));
		cr_assert(eq(int, chown(path, 0, 0), 0));
	}
	(void)snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert(eq(int, symlink(path, link), 0));
	cr_assert(eq(int, sbx_keyring_load(link, 0, &out, err, sizeof(err)), -ELOOP));
	cr_assert(eq(int, sbx_keyring_load(dir, 0, &out, err, sizeof(err)) < 0, 1));
	cr_assert(out == NULL);
}

static void expect_bad(const char *text, const char *what)
{
	struct sbx_keyring *out = NULL;
	char err[SBX_KEYRING_ERR_MAX] = "";

	write_text(text, 0600);
	cr_assert(eq(int, load(&out, err), -EBADMSG), "%s accepted", what);
	cr_assert(out == NULL);
	cr_assert(strlen(err) > 0);
	cr_assert(strchr(err, '\n') == NULL, "one line");
}

/* Replaces the first occurrence of from in the saved keyring text and writes it back. */
static char *base_text;

static void mutate(const char *from, const char *to, const char *what)
{
	const char *t = base_text;
	const char *p = strstr(t, from);
	char buf[65536];

	cr_assert(p != NULL, "%s: '%s' not in text", what, from);
	(void)snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - t), t, to, p + strlen(from));
	expect_bad(buf, what);
}

Test(keyring, refuses_malformed_content)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;

	expect_bad("", "empty");
	expect_bad("garbage\n", "garbage");
	expect_bad("\x7f"
		   "ELF\x01\x02\0\0",
		   "binary");
	cr_assert(eq(int, unlink(path), 0));
	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	cr_assert(eq(int, sbx_keyring_rotate(kr, NULL), 0));
	cr_assert(eq(int, sbx_keyring_save(kr, path, true), 0));
	base_text = saved_text();
	mutate("sbx-keyring 1", "sbx-keyring 2", "version 2");
	mutate("next-id 3", "next-id 2", "next-id not above ids");
	mutate("next-id 3", "next-id 03", "leading zero");
	mutate("next-id 3", "next-id  3", "double space");
	mutate("key 2 primary", "key 2 active", "no primary");
	mutate("key 1 active", "key 1 primary", "two primaries");
	mutate("key 1 active", "key 2 active", "duplicate id");
	mutate("key 2 primary", "key 0 primary", "id zero");
	mutate("key 2 primary", "key 2 boss", "unknown state");
	mutate("key 1 active", "key 1 destroyed", "destroyed with bytes");
	mutate("\n", "\r\n", "CR");
	mutate("audit ", "audit  ", "audit spacing");
	{
		/* One flipped key character: caught by the fingerprint. */
		_cleanup_free_ char *t = strdup(base_text);
		char *line = strstr(t, "key 2 primary"), *last = strrchr(line, ' ') + 1;
		*last = *last == 'A' ? 'B' : 'A';
		expect_bad(t, "flipped key byte");
	}
	{
		_cleanup_free_ char *t = strdup(base_text);
		t[strlen(t) - 1] = '\0';
		expect_bad(t, "unterminated");
	}
}

Test(keyring, state_changes)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	struct sbx_key_info k;
	uint32_t id;

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	cr_assert(eq(int, sbx_keyring_retire(kr, 1), -EBUSY));
	cr_assert(eq(int, sbx_keyring_destroy(kr, 1), -EBUSY));
	cr_assert(eq(int, sbx_keyring_activate(kr, 1), -EALREADY));
	cr_assert(eq(int, sbx_keyring_retire(kr, 9), -ENOKEY));
	cr_assert(eq(int, sbx_keyring_rotate(kr, &id), 0));
	cr_assert(eq(u32, id, 2));
	cr_assert(eq(int, sbx_keyring_activate(kr, 1), -EALREADY));
	cr_assert(eq(int, sbx_keyring_retire(kr, 1), 0));
	cr_assert(eq(int, sbx_keyring_retire(kr, 1), -EALREADY));
	cr_assert(eq(int, sbx_keyring_activate(kr, 1), 0));
	cr_assert(eq(int, sbx_keyring_destroy(kr, 1), 0));
	cr_assert(eq(int, sbx_keyring_find(kr, 1, &k), 0));
	cr_assert(eq(int, (int)k.state, SBX_KEY_DESTROYED));
	cr_assert(eq(sz, strlen(k.fingerprint), 16), "tombstone keeps the fingerprint");
	cr_assert(eq(int, sbx_keyring_activate(kr, 1), -ESTALE));
	cr_assert(eq(int, sbx_keyring_destroy(kr, 1), -EALREADY));
	/* Ids are never reused and the tombstone survives a save and load. */
	cr_assert(eq(int, sbx_keyring_rotate(kr, &id), 0));
	cr_assert(eq(u32, id, 3));
	cr_assert(eq(int, sbx_keyring_save(kr, path, true), 0));
	{
		_cleanup_(sbx_keyring_freep) struct sbx_keyring *back = NULL;
		char err[SBX_KEYRING_ERR_MAX] = "";
		cr_assert(eq(int, load(&back, err), 0), "%s", err);
		cr_assert(eq(int, sbx_keyring_find(back, 1, &k), 0));
		cr_assert(eq(int, (int)k.state, SBX_KEY_DESTROYED));
		cr_assert(eq(u32, sbx_keyring_next_id(back), 4));
		sbx_keyring_raise_next_id(back, 2);
		cr_assert(eq(u32, sbx_keyring_next_id(back), 4), "never lowered");
		sbx_keyring_raise_next_id(back, 10);
		cr_assert(eq(u32, sbx_keyring_next_id(back), 10));
	}
}

Test(keyring, destroyed_bytes_are_not_saved)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_free_ char *t = NULL;

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	cr_assert(eq(int, sbx_keyring_rotate(kr, NULL), 0));
	cr_assert(eq(int, sbx_keyring_destroy(kr, 1), 0));
	cr_assert(eq(int, sbx_keyring_save(kr, path, true), 0));
	t = saved_text();
	cr_assert(strstr(t, " destroyed ") != NULL);
	cr_assert(strstr(strstr(t, "key 1 "), " -\n") != NULL);
}

Test(keyring, lock_serialises)
{
	int a = sbx_keyring_lock(path);

	cr_assert(ge(int, a, 0));
	cr_assert(eq(int, close(a), 0));
}
