/* SPDX-License-Identifier: MIT */
/* Keyring backups: round trip, wrong passphrase, tampering, cost bounds. Interactive
 * Argon2id costs keep the suite quick; the CLI uses MODERATE. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <sodium.h>

#include "keys/backup.h"
#include "keys/internal.h"
#include "keys/keyring.h"

#define OPS 2U
#define MEM (8U * 1024U * 1024U)

static void setup(void)
{
	cr_assert(eq(int, sbx_secret_init(false), 0));
}

TestSuite(backup, .init = setup, .timeout = 120);

static struct sbx_secret *pass(const char *s)
{
	struct sbx_secret *p = NULL;

	cr_assert(eq(int, sbx_secret_new(strlen(s), &p), 0));
	memcpy(sbx_secret_data(p), s, strlen(s));
	return p;
}

static struct sbx_secret *random_pass(void)
{
	unsigned char raw[12];
	char hex[25];

	randombytes_buf(raw, sizeof(raw));
	(void)sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	return pass(hex);
}

Test(backup, round_trip)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL, *back = NULL;
	_cleanup_(sbx_secret_freep) struct sbx_secret *p = random_pass();
	_cleanup_free_ char *text = NULL;
	char err[SBX_KEYRING_ERR_MAX] = "";
	struct sbx_key_info a, b;

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	cr_assert(eq(int, sbx_keyring_rotate(kr, NULL), 0));
	cr_assert(eq(int, sbx_keyring_retire(kr, 1), 0));
	cr_assert(eq(int, sbx_backup_write(kr, p, OPS, MEM, &text), 0));
	cr_assert(eq(int, strncmp(text, SBX_BACKUP_PREFIX, strlen(SBX_BACKUP_PREFIX)), 0));
	cr_assert(eq(int, sbx_backup_read(text, p, &back, err, sizeof(err)), 0), "%s", err);
	cr_assert(eq(sz, sbx_keyring_count(back), 2));
	cr_assert(eq(u32, sbx_keyring_next_id(back), 3));
	for (size_t i = 0; i < 2; i++) {
		cr_assert(eq(int, sbx_keyring_info(kr, i, &a), 0));
		cr_assert(eq(int, sbx_keyring_info(back, i, &b), 0));
		cr_assert(eq(str, a.fingerprint, b.fingerprint));
		cr_assert(eq(int, (int)a.state, (int)b.state));
	}
}

Test(backup, wrong_passphrase)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_(sbx_secret_freep) struct sbx_secret *p = random_pass(), *q = random_pass();
	_cleanup_free_ char *text = NULL;
	struct sbx_keyring *back = NULL;
	char err[SBX_KEYRING_ERR_MAX] = "";

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	cr_assert(eq(int, sbx_backup_write(kr, p, OPS, MEM, &text), 0));
	cr_assert(eq(int, sbx_backup_read(text, q, &back, err, sizeof(err)), -EKEYREJECTED));
	cr_assert(strstr(err, "wrong passphrase") != NULL);
	cr_assert(back == NULL);
}

Test(backup, tampering_fails)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_(sbx_secret_freep) struct sbx_secret *p = random_pass();
	_cleanup_free_ char *text = NULL;
	char err[SBX_KEYRING_ERR_MAX] = "";
	size_t n;

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	cr_assert(eq(int, sbx_backup_write(kr, p, OPS, MEM, &text), 0));
	n = strlen(text) - 1;
	/* A sample of positions across header, salt, nonce and ciphertext. */
	for (size_t i = strlen(SBX_BACKUP_PREFIX); i < n; i += 7) {
		struct sbx_keyring *back = NULL;
		char orig = text[i];
		text[i] = orig == 'A' ? 'B' : 'A';
		int r = sbx_backup_read(text, p, &back, err, sizeof(err));
		cr_assert(r == -EKEYREJECTED || r == -EBADMSG || r == -ERANGE, "pos %zu: %d", i, r);
		cr_assert(back == NULL);
		text[i] = orig;
	}
}

Test(backup, refuses_bad_input_and_costs)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_(sbx_secret_freep) struct sbx_secret *p = random_pass();
	struct sbx_keyring *back = NULL;
	char *text = NULL, err[SBX_KEYRING_ERR_MAX] = "";

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	cr_assert(eq(int, sbx_backup_write(kr, p, 0, MEM, &text), -ERANGE));
	cr_assert(eq(int, sbx_backup_write(kr, p, OPS, 2048U * 1024U * 1024U, &text), -ERANGE));
	cr_assert(text == NULL);
	cr_assert(eq(int, sbx_backup_read("", p, &back, err, sizeof(err)), -EBADMSG));
	cr_assert(eq(int, sbx_backup_read("sbxbak1:", p, &back, err, sizeof(err)), -EBADMSG));
	cr_assert(
	    eq(int, sbx_backup_read("sbx-keyring 1\n", p, &back, err, sizeof(err)), -EBADMSG));
	/* A header asking for 2^32 KiB of memory is refused before any work. */
	cr_assert(eq(int,
		     sbx_backup_read("sbxbak1:AQIAAAAC_____"
				     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
				     "AAAAAAAAAAAAAAAAAAAAAAAA",
				     p, &back, err, sizeof(err)),
		     -ERANGE));
	cr_assert(back == NULL);
}
