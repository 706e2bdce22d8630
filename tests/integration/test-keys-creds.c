/* SPDX-License-Identifier: MIT */
/*
 * `sbxctl keys --systemd-creds` with the real systemd-creds(1): the keyring is created and
 * rotated as an encrypted credential only (no plaintext file appears, the ciphertext does not
 * hold the key bytes), `systemd-creds decrypt` gives back a keyring that `sbxctl keys list`
 * accepts with the same fingerprints, a missing systemd-creds or credential is one clear line,
 * and sbxd with CREDENTIALS_DIRECTORY (as LoadCredentialEncrypted= sets it) loads the
 * decrypted credential. The host key is a file of the test's own (SYSTEMD_CREDENTIAL_SECRET),
 * so the machine's /var/lib/systemd/credential.secret is never created or used.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "tests/integration/harness.h"

#define T_MS  30000
#define CREDS "/usr/bin/systemd-creds"

static char *dir;
static char sbxctl[512], sbxd[512], store[600], cred[700], credsdir[600], plain[700];

static void setup(void)
{
	char secret[700];

	sbx_test_build_path_r("sbxctl", sbxctl, sizeof(sbxctl));
	sbx_test_build_path_r("sbxd", sbxd, sizeof(sbxd));
	sbx_test_require_file(sbxctl);
	if (access(CREDS, X_OK) != 0)
		cr_skip_test("%s is not installed (Debian package systemd)", CREDS);
	dir = sbx_test_mkdtemp("creds");
	cr_assert(dir != NULL);
	(void)snprintf(store, sizeof(store), "%s/credstore.encrypted", dir);
	(void)snprintf(cred, sizeof(cred), "%s/sbx.keyring", store);
	(void)snprintf(credsdir, sizeof(credsdir), "%s/credentials", dir);
	(void)snprintf(plain, sizeof(plain), "%s/keyring", credsdir);
	(void)snprintf(secret, sizeof(secret), "%s/host.secret", dir);
	/* systemd-creds creates this host key on first use; the children inherit the path. */
	cr_assert(eq(int, setenv("SYSTEMD_CREDENTIAL_SECRET", secret, 1), 0));
}

static void teardown(void)
{
	if (dir)
		(void)sbx_test_rm_rf(dir);
	free(dir);
	dir = NULL;
}

TestSuite(keys_creds, .init = setup, .fini = teardown, .timeout = 120);

static void run(struct sbx_test_run *r, char *const envp[], ...) __attribute__((sentinel));
static void run(struct sbx_test_run *r, char *const envp[], ...)
{
	char *argv[32];
	size_t n = 0;
	va_list ap;

	va_start(ap, envp);
	for (char *a; (a = va_arg(ap, char *)) && n < 31;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	cr_assert(eq(int, sbx_test_run(argv, envp, NULL, 0, T_MS, r), 0));
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	cr_assert(f != NULL, "cannot open %s", path);
	cr_assert(buf != NULL);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	(void)fclose(f);
	return buf;
}

/* The fingerprint printed after "fingerprint " by keys init. */
static void init_fingerprint(const char *out, char fp[17])
{
	const char *p = strstr(out, "fingerprint ");

	cr_assert(p != NULL, "no fingerprint in: %s", out);
	(void)snprintf(fp, 17, "%s", p + strlen("fingerprint "));
}

/* Decrypts the credential as systemd does for LoadCredentialEncrypted=keyring, into the
 * mode-0400 file sbxd finds in $CREDENTIALS_DIRECTORY. */
static void decrypt_to_credentials_dir(void)
{
	struct sbx_test_run r;

	(void)mkdir(credsdir, 0700);
	(void)unlink(plain);
	run(&r, NULL, CREDS, "decrypt", "--name=keyring", cred, plain, NULL);
	if (r.code != 0)
		sbx_test_run_dump("systemd-creds decrypt", &r);
	cr_assert(eq(int, r.code, 0));
	sbx_test_run_done(&r);
	cr_assert(eq(int, chmod(plain, 0400), 0));
}

/* The key material of the decrypted keyring ("key ID STATE C CH FP KEY" lines) must appear
 * neither in the ciphertext nor in anything sbxctl printed. */
static void assert_keys_hidden(const char *text, const char *cipher, const char *outputs)
{
	char *copy = strdup(text), *save = NULL;
	int keys = 0;

	cr_assert(copy != NULL);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		const char *key = strrchr(l, ' ');
		if (strncmp(l, "key ", 4) != 0 || !key || strlen(key + 1) < 32)
			continue;
		keys++;
		cr_assert(not(sbx_test_contains(cipher, key + 1)), "key bytes in the ciphertext");
		cr_assert(not(sbx_test_contains(outputs, key + 1)), "key bytes in sbxctl output");
	}
	cr_assert(gt(int, keys, 0), "no key line in the decrypted keyring");
	free(copy);
}

Test(keys_creds, init_rotate_decrypt_and_list)
{
	struct sbx_test_run r;
	char fp[17], outputs[8192] = "";
	struct stat st;
	char *cipher, *text;

	run(&r, NULL, sbxctl, "keys", "init", "--systemd-creds", "--keyring", cred, NULL);
	if (r.code != 0)
		sbx_test_run_dump("keys init --systemd-creds", &r);
	cr_assert(eq(int, r.code, 0));
	cr_assert(sbx_test_contains(r.out, "encrypted by systemd-creds"), "%s", r.out);
	init_fingerprint(r.out, fp);
	(void)snprintf(outputs, sizeof(outputs), "%s%s", r.out, r.err);
	sbx_test_run_done(&r);

	/* Only the encrypted file: 0600 in a 0700 store, nothing else beside it. */
	cr_assert(eq(int, stat(cred, &st), 0));
	cr_assert(eq(u32, st.st_mode & 07777, 0600));
	cr_assert(eq(int, stat(store, &st), 0));
	cr_assert(eq(u32, st.st_mode & 07777, 0700));
	{
		DIR *d = opendir(store);
		int n = 0;
		cr_assert(d != NULL);
		for (struct dirent *e; (e = readdir(d));)
			n += e->d_name[0] != '.';
		(void)closedir(d);
		cr_assert(eq(int, n, 1), "files beside the credential");
	}
	cipher = slurp(cred);
	cr_assert(not(sbx_test_contains(cipher, "sbx-keyring")), "plaintext on disk");

	/* Read as a plain keyring it is refused; through systemd-creds it lists. */
	run(&r, NULL, sbxctl, "keys", "list", "--keyring", cred, NULL);
	cr_assert(eq(int, r.code, 78), "the ciphertext parsed as a keyring");
	sbx_test_run_done(&r);
	run(&r, NULL, sbxctl, "keys", "list", "--systemd-creds", "--keyring", cred, NULL);
	cr_assert(eq(int, r.code, 0), "%s", r.err);
	cr_assert(sbx_test_contains(r.out, fp));
	sbx_test_run_done(&r);

	/* `systemd-creds decrypt` (what systemd does at service start) gives a keyring that
	 * the plain commands accept, with the same key. */
	decrypt_to_credentials_dir();
	run(&r, NULL, sbxctl, "keys", "list", "--keyring", plain, NULL);
	cr_assert(eq(int, r.code, 0), "%s", r.err);
	cr_assert(sbx_test_contains(r.out, fp));
	sbx_test_run_done(&r);

	/* Rotation rewrites the credential in place, still encrypted, never overwritten by
	 * a second init. */
	run(&r, NULL, sbxctl, "keys", "rotate", "--systemd-creds", "--keyring", cred, NULL);
	cr_assert(eq(int, r.code, 0), "%s", r.err);
	(void)strncat(outputs, r.out, sizeof(outputs) - strlen(outputs) - 1);
	sbx_test_run_done(&r);
	run(&r, NULL, sbxctl, "keys", "init", "--systemd-creds", "--keyring", cred, NULL);
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.err, "refusing to overwrite"), "%s", r.err);
	sbx_test_run_done(&r);
	free(cipher);
	cipher = slurp(cred);
	cr_assert(not(sbx_test_contains(cipher, "sbx-keyring")));
	decrypt_to_credentials_dir();
	text = slurp(plain);
	cr_assert(sbx_test_contains(text, "sbx-keyring"));
	cr_assert(sbx_test_contains(text, "key 2 primary"), "rotation lost");
	assert_keys_hidden(text, cipher, outputs);
	free(text);
	free(cipher);
}

Test(keys_creds, clear_errors)
{
	char *nopath[] = {"PATH=/nonexistent", NULL};
	char missing[800];
	struct sbx_test_run r;

	/* No systemd-creds: one line saying so, exit 78 for a read, 1 for init. */
	run(&r, nopath, sbxctl, "keys", "init", "--systemd-creds", "--keyring", cred, NULL);
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.err, "systemd-creds is not installed"), "%s", r.err);
	cr_assert(ne(int, access(cred, F_OK), 0), "a file was left behind");
	sbx_test_run_done(&r);
	run(&r, NULL, sbxctl, "keys", "init", "--systemd-creds", "--keyring", cred, NULL);
	cr_assert(eq(int, r.code, 0), "%s", r.err);
	sbx_test_run_done(&r);
	run(&r, nopath, sbxctl, "keys", "list", "--systemd-creds", "--keyring", cred, NULL);
	cr_assert(eq(int, r.code, 78));
	cr_assert(sbx_test_contains(r.err, "systemd-creds is not installed"), "%s", r.err);
	sbx_test_run_done(&r);
	/* A missing credential names the file. */
	(void)snprintf(missing, sizeof(missing), "%s/none", store);
	run(&r, NULL, sbxctl, "keys", "verify", "--systemd-creds", "--keyring", missing, NULL);
	cr_assert(eq(int, r.code, 1));
	cr_assert(sbx_test_contains(r.err, missing), "%s", r.err);
	cr_assert(sbx_test_contains(r.err, "No such file"), "%s", r.err);
	sbx_test_run_done(&r);
	/* A credential that does not decrypt (edited) is refused by systemd-creds, and we say
	 * which step failed. */
	{
		char *c = slurp(cred);
		c[10] = c[10] == 'A' ? 'B' : 'A';
		cr_assert(eq(int, sbx_test_write_file(cred, c), 0));
		free(c);
	}
	run(&r, NULL, sbxctl, "keys", "list", "--systemd-creds", "--keyring", cred, NULL);
	cr_assert(eq(int, r.code, 78));
	cr_assert(sbx_test_contains(r.err, "systemd-creds decrypt failed"), "%s", r.err);
	sbx_test_run_done(&r);
	/* --with-key without --systemd-creds is a usage error. */
	run(&r, NULL, sbxctl, "keys", "list", "--with-key", "host", NULL);
	cr_assert(eq(int, r.code, 2));
	sbx_test_run_done(&r);
}

/* A file keyring's backup restored as a credential (another node, docs/scaling.md) holds the
 * same keys, and a backup of the credential restores to a file with them again. */
Test(keys_creds, backup_restore_across_forms)
{
	char file[700], bak[700], bak2[700], again[700], pp[700], fp[17];
	struct sbx_test_run r;

	(void)snprintf(file, sizeof(file), "%s/file-keyring", dir);
	(void)snprintf(bak, sizeof(bak), "%s/k.bak", dir);
	(void)snprintf(bak2, sizeof(bak2), "%s/k2.bak", dir);
	(void)snprintf(again, sizeof(again), "%s/again", dir);
	(void)snprintf(pp, sizeof(pp), "%s/pp", dir);
	cr_assert(eq(int, sbx_test_write_file(pp, "a-long-test-passphrase\n"), 0));
	run(&r, NULL, sbxctl, "keys", "init", "--keyring", file, NULL);
	cr_assert(eq(int, r.code, 0), "%s", r.err);
	init_fingerprint(r.out, fp);
	sbx_test_run_done(&r);
	run(&r, NULL, sbxctl, "keys", "backup", "--keyring", file, "--out", bak,
	    "--passphrase-file", pp, NULL);
	cr_assert(eq(int, r.code, 0), "%s", r.err);
	sbx_test_run_done(&r);
	run(&r, NULL, sbxctl, "keys", "restore", "--systemd-creds", "--keyring", cred, "--in", bak,
	    "--passphrase-file", pp, NULL);
	cr_assert(eq(int, r.code, 0), "%s", r.err);
	sbx_test_run_done(&r);
	run(&r, NULL, sbxctl, "keys", "list", "--systemd-creds", "--keyring", cred, NULL);
	cr_assert(eq(int, r.code, 0), "%s", r.err);
	cr_assert(sbx_test_contains(r.out, fp), "restored credential lacks key 1: %s", r.out);
	sbx_test_run_done(&r);
	run(&r, NULL, sbxctl, "keys", "backup", "--systemd-creds", "--keyring", cred, "--out", bak2,
	    "--passphrase-file", pp, NULL);
	cr_assert(eq(int, r.code, 0), "%s", r.err);
	sbx_test_run_done(&r);
	run(&r, NULL, sbxctl, "keys", "restore", "--keyring", again, "--in", bak2,
	    "--passphrase-file", pp, NULL);
	cr_assert(eq(int, r.code, 0), "%s", r.err);
	sbx_test_run_done(&r);
	run(&r, NULL, sbxctl, "keys", "list", "--keyring", again, NULL);
	cr_assert(sbx_test_contains(r.out, fp), "%s", r.out);
	sbx_test_run_done(&r);
}

/* sbxd as sbxd.service runs it: no "keyring" in the configuration, the decrypted credential
 * in $CREDENTIALS_DIRECTORY. */
Test(keys_creds, sbxd_loads_the_credential)
{
	char cfg[700], pol[700], env_creds[800], text[2048], want[900];
	char *env[] = {env_creds, "PATH=/usr/bin:/bin", NULL};
	struct sbx_test_run r;

	sbx_test_require_root();
	sbx_test_require_file(sbxd);
	run(&r, NULL, sbxctl, "keys", "init", "--systemd-creds", "--keyring", cred, NULL);
	cr_assert(eq(int, r.code, 0), "%s", r.err);
	sbx_test_run_done(&r);
	run(&r, NULL, sbxctl, "keys", "rotate", "--systemd-creds", "--keyring", cred, NULL);
	cr_assert(eq(int, r.code, 0), "%s", r.err);
	sbx_test_run_done(&r);
	decrypt_to_credentials_dir();
	(void)snprintf(pol, sizeof(pol), "%s/policies", dir);
	cr_assert(eq(int, mkdir(pol, 0700), 0));
	(void)snprintf(cfg, sizeof(cfg), "%s/sbxd.json", dir);
	(void)snprintf(text, sizeof(text),
		       "{\"socket\": {\"path\": \"%s/sbxd.sock\"}, \"policy_dir\": \"%s\",\n"
		       " \"audit\": {\"path\": \"%s/audit.jsonl\", \"state_dir\": \"%s\"}}\n",
		       dir, pol, dir, dir);
	cr_assert(eq(int, sbx_test_write_file(cfg, text), 0));
	(void)snprintf(env_creds, sizeof(env_creds), "CREDENTIALS_DIRECTORY=%s", credsdir);
	run(&r, env, sbxd, "--config", cfg, "--check-config", NULL);
	if (r.code != 0)
		sbx_test_run_dump("sbxd --check-config", &r);
	cr_assert(eq(int, r.code, 0));
	(void)snprintf(want, sizeof(want), "keyring %s with primary key 2", plain);
	cr_assert(sbx_test_contains(r.out, want), "%s", r.out);
	sbx_test_run_done(&r);
	/* The credential is held to the keyring rules too: group/other bits are refused. */
	cr_assert(eq(int, chmod(plain, 0644), 0));
	run(&r, env, sbxd, "--config", cfg, "--check-config", NULL);
	cr_assert(eq(int, r.code, 78));
	cr_assert(sbx_test_contains(r.err, plain), "%s", r.err);
	sbx_test_run_done(&r);
}
