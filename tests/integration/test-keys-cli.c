/* SPDX-License-Identifier: MIT */
/*
 * `sbxctl keys`, `seal` and `sealed inspect` against temporary keyrings: every command's
 * refusals of broken keyrings (loose mode, wrong owner, missing primary, garbage, absent),
 * state changes, backup/restore with right and wrong passphrases, seal/inspect, and the
 * Fernet import of good and bad tokens made by Python's cryptography. Secret values are
 * random per run; the tests check they never appear in any output.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "common/macro.h"
#include "tests/integration/harness.h"

#define T_MS 30000

static char *dir;
static char kr[512], pp[512];
static char sbxctl[512];

static void setup(void)
{
	sbx_test_build_path_r("sbxctl", sbxctl, sizeof(sbxctl));
	sbx_test_require_file(sbxctl);
	dir = sbx_test_mkdtemp("keys");
	cr_assert(dir != NULL);
	(void)snprintf(kr, sizeof(kr), "%s/keyring", dir);
	(void)snprintf(pp, sizeof(pp), "%s/pass", dir);
}

static void teardown(void)
{
	if (dir)
		(void)sbx_test_rm_rf(dir);
	free(dir);
	dir = NULL;
}

TestSuite(keys_cli, .init = setup, .fini = teardown, .timeout = 120);

/* Runs sbxctl with stdin `in` (NULL: /dev/null) and the arguments up to NULL. */
static void sbx(struct sbx_test_run *r, const char *in, ...) __attribute__((sentinel));
static void sbx(struct sbx_test_run *r, const char *in, ...)
{
	char *argv[32];
	size_t n = 0;
	va_list ap;

	argv[n++] = sbxctl;
	va_start(ap, in);
	for (char *a; (a = va_arg(ap, char *)) && n < 31;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	cr_assert(eq(int, sbx_test_run(argv, NULL, in, in ? strlen(in) : 0, T_MS, r), 0));
}

static void init_keyring(void)
{
	struct sbx_test_run r;

	sbx(&r, NULL, "keys", "init", "--keyring", kr, NULL);
	if (r.code != 0)
		sbx_test_run_dump("keys init", &r);
	cr_assert(eq(int, r.code, 0));
	sbx_test_run_done(&r);
}

static char *random_hex(void)
{
	char *s = malloc(33);
	unsigned char b[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	cr_assert(fd >= 0 && read(fd, b, 16) == 16);
	(void)close(fd);
	for (int i = 0; i < 16; i++)
		(void)sprintf(s + 2 * i, "%02x", b[i]);
	return s;
}

static void assert_no_leak(const struct sbx_test_run *r, const char *secret)
{
	cr_assert(not(sbx_test_contains(r->out, secret)), "secret in stdout");
	cr_assert(not(sbx_test_contains(r->err, secret)), "secret in stderr");
}

static void assert_one_line_naming(const struct sbx_test_run *r, const char *what)
{
	cr_assert(sbx_test_contains(r->err, kr), "no path in: %s", r->err);
	cr_assert(sbx_test_contains(r->err, what), "no '%s' in: %s", what, r->err);
	cr_assert(eq(int, strchr(r->err, '\n') == r->err + r->err_len - 1, 1), "one line: %s",
		  r->err);
}

/* Every command that reads the keyring refuses a broken one the same way. */
static void all_commands_refuse(const char *what)
{
	const char *cmds[][4] = {
	    {"keys", "list", NULL},   {"keys", "verify", NULL},	       {"keys", "rotate", NULL},
	    {"keys", "retire", "1"},  {"keys", "activate", "1"},       {"keys", "destroy", "1"},
	    {"keys", "backup", NULL}, {"keys", "import-fernet", NULL}, {"seal", NULL},
	};
	struct stat before, after;
	bool had = stat(kr, &before) == 0;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct sbx_test_run r;
		char out[600], fk[600];
		(void)snprintf(out, sizeof(out), "%s/backup-%zu", dir, i);
		(void)snprintf(fk, sizeof(fk), "%s/fernet.key", dir);
		char *argv[16] = {sbxctl};
		size_t n = 1;
		for (size_t j = 0; j < 3 && cmds[i][j]; j++)
			argv[n++] = (char *)cmds[i][j];
		argv[n++] = "--keyring";
		argv[n++] = kr;
		if (strcmp(cmds[i][0], "seal") == 0) {
			argv[n++] = "--context";
			argv[n++] = "t:1";
		} else if (strcmp(cmds[i][1], "backup") == 0) {
			argv[n++] = "--out";
			argv[n++] = out;
			argv[n++] = "--passphrase-file";
			argv[n++] = pp;
		} else if (strcmp(cmds[i][1], "import-fernet") == 0) {
			argv[n++] = "--fernet-key-file";
			argv[n++] = fk;
		} else if (strcmp(cmds[i][1], "destroy") == 0) {
			argv[n++] = "--yes";
		}
		argv[n] = NULL;
		cr_assert(eq(int, sbx_test_run(argv, NULL, "A_TOKEN=x\n", 10, T_MS, &r), 0));
		cr_assert(
		    eq(int, r.code, strcmp(cmds[i][1] ? cmds[i][1] : "", "verify") == 0 ? 1 : 78),
		    "%s %s on %s: exit %d", cmds[i][0], cmds[i][1] ? cmds[i][1] : "", what, r.code);
		assert_one_line_naming(&r, what);
		cr_assert(eq(int, access(out, F_OK), -1), "no backup of a broken keyring");
		sbx_test_run_done(&r);
	}
	/* Nothing changed. */
	if (had) {
		cr_assert(eq(int, stat(kr, &after), 0));
		cr_assert(eq(long, (long)before.st_ino, (long)after.st_ino));
		cr_assert(eq(long, (long)before.st_mtime, (long)after.st_mtime));
	}
}

Test(keys_cli, init_mode_and_no_overwrite)
{
	struct sbx_test_run r;
	struct stat st;

	init_keyring();
	cr_assert(eq(int, stat(kr, &st), 0));
	cr_assert(eq(u32, st.st_mode & 07777, 0600));
	cr_assert(eq(u32, st.st_uid, geteuid()));
	sbx(&r, NULL, "keys", "init", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.err, "refusing to overwrite"));
	sbx_test_run_done(&r);
	sbx(&r, NULL, "keys", "verify", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 0));
	sbx_test_run_done(&r);
}

Test(keys_cli, refuses_loose_permissions)
{
	init_keyring();
	cr_assert(eq(int, chmod(kr, 0640), 0));
	all_commands_refuse("mode 0640");
	cr_assert(eq(int, chmod(kr, 0606), 0));
	all_commands_refuse("mode 0606");
}

Test(keys_cli, refuses_wrong_owner)
{
	sbx_test_require_root();
	init_keyring();
	cr_assert(eq(int, chown(kr, 4242, 4242), 0));
	all_commands_refuse("owned by uid 4242");
}

static void rewrite(const char *from, const char *to)
{
	FILE *f = fopen(kr, "re");
	char buf[8192], out[8192], *p;
	size_t n;
	int fd;

	cr_assert(f != NULL);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	(void)fclose(f);
	p = strstr(buf, from);
	cr_assert(p != NULL);
	(void)snprintf(out, sizeof(out), "%.*s%s%s", (int)(p - buf), buf, to, p + strlen(from));
	fd = open(kr, O_WRONLY | O_TRUNC | O_CLOEXEC);
	cr_assert(fd >= 0 && write(fd, out, strlen(out)) == (ssize_t)strlen(out));
	(void)close(fd);
}

Test(keys_cli, refuses_missing_primary)
{
	init_keyring();
	rewrite("key 1 primary", "key 1 active");
	all_commands_refuse("0 primary keys");
}

Test(keys_cli, refuses_garbage_and_absence)
{
	int fd = open(kr, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	cr_assert(fd >= 0 && write(fd, "garbage\n\x01\x02", 10) == 10);
	(void)close(fd);
	all_commands_refuse("not a keyring");
	cr_assert(eq(int, unlink(kr), 0));
	all_commands_refuse("No such file");
}

Test(keys_cli, state_commands_and_refusals)
{
	struct sbx_test_run r;

	init_keyring();
	sbx(&r, NULL, "keys", "retire", "1", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.err, "primary"));
	sbx_test_run_done(&r);
	sbx(&r, NULL, "keys", "retire", "7", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.err, "no key 7"));
	sbx_test_run_done(&r);
	sbx(&r, NULL, "keys", "retire", "x1", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 2));
	sbx_test_run_done(&r);
	sbx(&r, NULL, "keys", "rotate", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 0));
	sbx_test_run_done(&r);
	sbx(&r, NULL, "keys", "retire", "1", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 0));
	sbx_test_run_done(&r);
	sbx(&r, NULL, "keys", "activate", "1", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 0));
	sbx_test_run_done(&r);
	/* destroy without --yes and without a terminal refuses. */
	{
		char *argv[] = {"/usr/bin/setsid", "-w", sbxctl, "keys", "destroy", "1",
				"--keyring",	   kr,	 NULL};
		cr_assert(eq(int, sbx_test_run(argv, NULL, NULL, 0, T_MS, &r), 0));
		cr_assert(eq(int, r.code, 1));
		cr_assert(sbx_test_contains(r.err, "--yes"));
		sbx_test_run_done(&r);
	}
	sbx(&r, NULL, "keys", "destroy", "1", "--yes", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 0));
	sbx_test_run_done(&r);
	sbx(&r, NULL, "keys", "activate", "1", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.err, "destroyed"));
	sbx_test_run_done(&r);
	sbx(&r, NULL, "keys", "list", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 0));
	cr_assert(sbx_test_contains(r.out, "destroyed"));
	cr_assert(sbx_test_contains(r.out, "next id 3"));
	sbx_test_run_done(&r);
	sbx(&r, NULL, "keys", "frobnicate", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 2));
	sbx_test_run_done(&r);
}

static void write_pass(const char *path, const char *p)
{
	cr_assert(eq(int, sbx_test_write_file(path, p), 0));
	cr_assert(eq(int, chmod(path, 0600), 0));
}

Test(keys_cli, backup_restore)
{
	struct sbx_test_run r;
	char bak[600], wrong[600], shortp[600], list1[4096], other[600];
	_cleanup_free_ char *pass = random_hex();

	init_keyring();
	(void)snprintf(bak, sizeof(bak), "%s/bak", dir);
	(void)snprintf(wrong, sizeof(wrong), "%s/wrong", dir);
	(void)snprintf(shortp, sizeof(shortp), "%s/short", dir);
	(void)snprintf(other, sizeof(other), "%s/other-keyring", dir);
	write_pass(pp, pass);
	write_pass(wrong, "a wrong passphrase\n");
	write_pass(shortp, "short\n");
	sbx(&r, NULL, "keys", "rotate", "--keyring", kr, NULL);
	sbx_test_run_done(&r);
	sbx(&r, NULL, "keys", "list", "--keyring", kr, NULL);
	(void)snprintf(list1, sizeof(list1), "%s", r.out);
	sbx_test_run_done(&r);

	sbx(&r, NULL, "keys", "backup", "--keyring", kr, "--out", bak, "--passphrase-file", shortp,
	    NULL);
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.err, "too short"));
	sbx_test_run_done(&r);
	write_pass(shortp, "");
	sbx(&r, NULL, "keys", "backup", "--keyring", kr, "--out", bak, "--passphrase-file", shortp,
	    NULL);
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.err, "empty"));
	sbx_test_run_done(&r);
	sbx(&r, NULL, "keys", "backup", "--keyring", kr, "--out", bak, "--passphrase-file", pp,
	    NULL);
	cr_assert(eq(int, r.code, 0));
	assert_no_leak(&r, pass);
	sbx_test_run_done(&r);
	sbx(&r, NULL, "keys", "backup", "--keyring", kr, "--out", bak, "--passphrase-file", pp,
	    NULL);
	cr_assert(eq(int, r.code, 1), "backup never overwrites without --force");
	sbx_test_run_done(&r);

	/* Wrong passphrase: clear error, nothing written. */
	sbx(&r, NULL, "keys", "restore", "--keyring", other, "--in", bak, "--passphrase-file",
	    wrong, NULL);
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.err, "wrong passphrase"));
	cr_assert(eq(int, access(other, F_OK), -1));
	sbx_test_run_done(&r);
	/* Right passphrase into a new place: same keys. */
	sbx(&r, NULL, "keys", "restore", "--keyring", other, "--in", bak, "--passphrase-file", pp,
	    NULL);
	cr_assert(eq(int, r.code, 0), "%s", r.err);
	sbx_test_run_done(&r);
	sbx(&r, NULL, "keys", "list", "--keyring", other, NULL);
	cr_assert(eq(str, r.out, list1));
	sbx_test_run_done(&r);
	/* Over an existing keyring: only with --force, and next id never goes down. */
	sbx(&r, NULL, "keys", "restore", "--keyring", kr, "--in", bak, "--passphrase-file", pp,
	    NULL);
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.err, "--force"));
	sbx_test_run_done(&r);
	sbx(&r, NULL, "keys", "rotate", "--keyring", kr, NULL);
	sbx_test_run_done(&r);
	sbx(&r, NULL, "keys", "restore", "--keyring", kr, "--in", bak, "--passphrase-file", pp,
	    "--force", NULL);
	cr_assert(eq(int, r.code, 0));
	cr_assert(sbx_test_contains(r.out, "next id 4"), "%s", r.out);
	sbx_test_run_done(&r);
	/* Garbage as a backup. */
	cr_assert(eq(int, sbx_test_write_file(bak, "sbxbak1:nonsense\n"), 0));
	sbx(&r, NULL, "keys", "restore", "--keyring", other, "--in", bak, "--passphrase-file", pp,
	    "--force", NULL);
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.err, "malformed backup"));
	sbx_test_run_done(&r);
}

Test(keys_cli, seal_and_inspect)
{
	struct sbx_test_run r;
	_cleanup_free_ char *v = random_hex();
	char in[256], blob[4096];

	init_keyring();
	(void)snprintf(in, sizeof(in), "anthropic-api-key=%s\nGITHUB_TOKEN=%s\n", v, v);
	sbx(&r, in, "seal", "--context", "tenant:1/task:2", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 0), "%s", r.err);
	assert_no_leak(&r, v);
	cr_assert(eq(int, strncmp(r.out, "sbx1:", 5), 0));
	(void)snprintf(blob, sizeof(blob), "%s", r.out);
	blob[strcspn(blob, "\n")] = '\0';
	sbx_test_run_done(&r);
	sbx(&r, NULL, "sealed", "inspect", blob, NULL);
	cr_assert(eq(int, r.code, 0));
	cr_assert(sbx_test_contains(r.out, "version: 1\nkey_id: 1\nsealed_at: "));
	cr_assert(
	    eq(int, (int)(strchr(strstr(r.out, "sealed_at"), '\n') - r.out + 1), (int)r.out_len),
	    "nothing else: %s", r.out);
	sbx_test_run_done(&r);
	blob[10] = blob[10] == 'A' ? 'B' : 'A';
	blob[0] = 'x';
	sbx(&r, NULL, "sealed", "inspect", blob, NULL);
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.err, "sealed_malformed"));
	sbx_test_run_done(&r);
	/* Refusals: reserved names, duplicates, no context, values on the command line. */
	sbx(&r, "PATH=/evil\n", "seal", "--context", "c", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.err, "line 1: reserved"));
	sbx_test_run_done(&r);
	sbx(&r, "A_TOKEN=1\na-token=2\n", "seal", "--context", "c", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.err, "line 2"));
	sbx_test_run_done(&r);
	sbx(&r, "A_TOKEN=1\n", "seal", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 2));
	sbx_test_run_done(&r);
	sbx(&r, "", "seal", "--context", "c", "--keyring", kr, "A_TOKEN=1", NULL);
	cr_assert(eq(int, r.code, 2));
	sbx_test_run_done(&r);
	sbx(&r, "", "seal", "--context", "c", "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 1));
	sbx_test_run_done(&r);
}

Test(keys_cli, import_fernet)
{
	struct sbx_test_run r;
	char cmd[2048], fk[600], in[600];
	FILE *f;

	init_keyring();
	(void)snprintf(fk, sizeof(fk), "%s/fernet.key", dir);
	(void)snprintf(in, sizeof(in), "%s/import.tsv", dir);
	/* Python's cryptography makes the key and tokens: two good, then one of each fault. */
	(void)snprintf(
	    cmd, sizeof(cmd),
	    "/usr/bin/python3 -c 'import sys,json,os,base64\n"
	    "from cryptography.fernet import Fernet\n"
	    "k=Fernet.generate_key(); f=Fernet(k); open(sys.argv[1],\"wb\").write(k)\n"
	    "good=lambda: f.encrypt(json.dumps({\"openai-api-key\": "
	    "os.urandom(16).hex()}).encode()).decode()\n"
	    "t=bytearray(base64.urlsafe_b64decode(good())); t[-1]^=1\n"
	    "v=bytearray(base64.urlsafe_b64decode(good())); v[0]=0x81\n"
	    "lines=[\"tenant:1\\t\"+good(), \"tenant:2\\t\"+good(),"
	    "\"t3\\t\"+base64.urlsafe_b64encode(bytes(t)).decode(),"
	    "\"t4\\t\"+base64.urlsafe_b64encode(bytes(v)).decode(),"
	    "\"t5\\t\"+f.encrypt(b\"not json\").decode(), \"t6\\t%%%%\","
	    "\"no tab here\", \"t8\\t\"+Fernet(Fernet.generate_key()).encrypt(b\"{}\").decode()]\n"
	    "open(sys.argv[2],\"w\").write(\"\\n\".join(lines)+\"\\n\")' %s %s",
	    fk, in);
	cr_assert(eq(int, system(cmd), 0));
	f = fopen(in, "re");
	cr_assert(f != NULL);
	{
		char buf[8192];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		(void)fclose(f);
		sbx(&r, buf, "keys", "import-fernet", "--fernet-key-file", fk, "--keyring", kr,
		    NULL);
	}
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.out, "tenant:1\tsbx1:"));
	cr_assert(sbx_test_contains(r.out, "tenant:2\tsbx1:"));
	cr_assert(not(sbx_test_contains(r.out, "t3\t")));
	cr_assert(sbx_test_contains(r.err, "line 3: bad_hmac"), "%s", r.err);
	cr_assert(sbx_test_contains(r.err, "line 4: bad_version"), "%s", r.err);
	cr_assert(sbx_test_contains(r.err, "line 5: bad_json"), "%s", r.err);
	cr_assert(sbx_test_contains(r.err, "line 6: bad_base64"), "%s", r.err);
	cr_assert(sbx_test_contains(r.err, "line 7: malformed"), "%s", r.err);
	cr_assert(sbx_test_contains(r.err, "line 8: bad_hmac"), "%s", r.err);
	sbx_test_run_done(&r);
	/* A bad key file. */
	cr_assert(eq(int, sbx_test_write_file(fk, "not a key\n"), 0));
	sbx(&r, "", "keys", "import-fernet", "--fernet-key-file", fk, "--keyring", kr, NULL);
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.err, "does not hold a Fernet key"));
	sbx_test_run_done(&r);
}
