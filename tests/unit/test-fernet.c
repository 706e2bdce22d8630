/* SPDX-License-Identifier: MIT */
/* Fernet decoding against the spec's vectors (tests/unit/data/fernet, copied from
 * github.com/fernet/spec) and tokens made at run time by Python's `cryptography`, an
 * independent implementation. Plaintexts are random per run and never printed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>
#include <sodium.h>

#include "keys/fernet.h"
#include "keys/internal.h"
#include "keys/keyring.h"
#include "keys/sealed.h"

static void setup(void)
{
	cr_assert(eq(int, sbx_secret_init(false), 0));
}

TestSuite(fernet, .init = setup, .timeout = 60);

static struct sbx_secret *key_from(const char *b64)
{
	struct sbx_secret *k = NULL;
	int p[2];

	cr_assert(eq(int, pipe(p), 0));
	cr_assert(eq(int, (int)write(p[1], b64, strlen(b64)), (int)strlen(b64)));
	(void)close(p[1]);
	cr_assert(eq(int, sbx_fernet_key_read_fd(p[0], &k), 0));
	(void)close(p[0]);
	return k;
}

/* "1985-10-26T01:20:01-07:00" -> unix seconds. */
static int64_t rfc3339(const char *s)
{
	struct tm tm = {0};
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	int64_t t, off = 0;

	cr_assert(rest != NULL);
	t = (int64_t)timegm(&tm);
	if (*rest == '+' || *rest == '-') {
		off = (rest[1] - '0') * 36000 + (rest[2] - '0') * 3600 + (rest[4] - '0') * 600 +
		      (rest[5] - '0') * 60;
		if (*rest == '+')
			off = -off;
	}
	return t + off;
}

static json_t *vectors(const char *name)
{
	char path[512];
	json_error_t err;
	json_t *j;

	(void)snprintf(path, sizeof(path), "%s/tests/unit/data/fernet/%s", SBX_SOURCE_DIR, name);
	j = json_load_file(path, 0, &err);
	cr_assert(j != NULL, "cannot load %s", path);
	return j;
}

Test(fernet, spec_verify_vectors)
{
	json_t *all = vectors("verify.json"), *v;
	size_t i;

	json_array_foreach(all, i, v)
	{
		_cleanup_(sbx_secret_freep) struct sbx_secret *k =
		    key_from(json_string_value(json_object_get(v, "secret")));
		_cleanup_(sbx_secret_freep) struct sbx_secret *pt = NULL;
		enum sbx_fernet_error e;
		const char *tok = json_string_value(json_object_get(v, "token"));
		const char *src = json_string_value(json_object_get(v, "src"));
		const struct sbx_fernet_ttl check = {
		    .now = rfc3339(json_string_value(json_object_get(v, "now"))),
		    .ttl = json_integer_value(json_object_get(v, "ttl_sec"))};
		int r = sbx_fernet_decrypt(k, tok, strlen(tok), &check, &pt, &e);
		cr_assert(eq(int, r, 0), "vector %zu: %s", i, sbx_fernet_error_name(e));
		cr_assert(eq(sz, sbx_secret_len(pt), strlen(src)));
		cr_assert(memcmp(sbx_secret_data(pt), src, strlen(src)) == 0);
	}
	json_decref(all);
}

Test(fernet, spec_generate_vectors_decrypt)
{
	json_t *all = vectors("generate.json"), *v;
	size_t i;

	json_array_foreach(all, i, v)
	{
		_cleanup_(sbx_secret_freep) struct sbx_secret *k =
		    key_from(json_string_value(json_object_get(v, "secret")));
		_cleanup_(sbx_secret_freep) struct sbx_secret *pt = NULL;
		enum sbx_fernet_error e;
		const char *tok = json_string_value(json_object_get(v, "token"));
		const char *src = json_string_value(json_object_get(v, "src"));
		cr_assert(eq(int, sbx_fernet_decrypt(k, tok, strlen(tok), NULL, &pt, &e), 0));
		cr_assert(eq(sz, sbx_secret_len(pt), strlen(src)));
		cr_assert(memcmp(sbx_secret_data(pt), src, strlen(src)) == 0);
	}
	json_decref(all);
}

Test(fernet, spec_invalid_vectors)
{
	json_t *all = vectors("invalid.json"), *v;
	size_t i, n = 0;

	json_array_foreach(all, i, v)
	{
		_cleanup_(sbx_secret_freep) struct sbx_secret *k =
		    key_from(json_string_value(json_object_get(v, "secret")));
		struct sbx_secret *pt = NULL;
		enum sbx_fernet_error e = SBX_FERNET_OK;
		const char *tok = json_string_value(json_object_get(v, "token"));
		const char *desc = json_string_value(json_object_get(v, "desc"));
		const struct sbx_fernet_ttl check = {
		    .now = rfc3339(json_string_value(json_object_get(v, "now"))),
		    .ttl = json_integer_value(json_object_get(v, "ttl_sec"))};
		int r = sbx_fernet_decrypt(k, tok, strlen(tok), &check, &pt, &e);
		cr_assert(eq(int, r, -EBADMSG), "'%s' accepted", desc);
		cr_assert(pt == NULL);
		cr_assert(ne(int, (int)e, SBX_FERNET_OK));
		n++;
	}
	cr_assert(eq(sz, n, 8));
	json_decref(all);
}

/* Runs Python's cryptography: prints "KEY\nTOKEN\n" for a JSON object of random values. */
static void python_token(const char *plaintext_kind, char key[64], char *tok, size_t toklen)
{
	char cmd[1024];
	FILE *p;

	(void)snprintf(
	    cmd, sizeof(cmd),
	    "/usr/bin/python3 -c 'import sys,json,os\n"
	    "from cryptography.fernet import Fernet\n"
	    "k=Fernet.generate_key()\n"
	    "kind=sys.argv[1]\n"
	    "pt={\"good\": json.dumps({\"anthropic-api-key\": os.urandom(16).hex(), "
	    "\"github_token\": os.urandom(16).hex()}),"
	    "\"array\": \"[1,2]\", \"text\": \"hello\", \"number\": json.dumps({\"A_TOKEN\": 1}),"
	    "\"reserved\": json.dumps({\"ld_preload\": \"x\"})}[kind]\n"
	    "print(k.decode()); print(Fernet(k).encrypt(pt.encode()).decode())' %s",
	    plaintext_kind);
	p = popen(cmd, "r");
	cr_assert(p != NULL);
	cr_assert(fgets(key, 64, p) != NULL);
	cr_assert(fgets(tok, (int)toklen, p) != NULL);
	cr_assert(eq(int, pclose(p), 0));
	key[strcspn(key, "\n")] = '\0';
	tok[strcspn(tok, "\n")] = '\0';
}

Test(fernet, python_tokens_reseal_and_open)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_(sbx_secret_set_freep) struct sbx_secret_set *set = NULL;
	_cleanup_free_ char *blob = NULL;
	char key[64], tok[4096];
	enum sbx_fernet_error e;

	python_token("good", key, tok, sizeof(tok));
	_cleanup_(sbx_secret_freep) struct sbx_secret *k = key_from(key);
	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	cr_assert(eq(int, sbx_fernet_reseal(k, kr, tok, "tenant:7", &blob, &e), 0));
	cr_assert(eq(int, sbx_sealed_open(kr, blob, "tenant:7", NULL, NULL, &set), 0));
	cr_assert(eq(sz, sbx_secret_set_count(set), 2));
	cr_assert(eq(str, (char *)sbx_secret_set_name(set, 0), "ANTHROPIC_API_KEY"));
	cr_assert(eq(str, (char *)sbx_secret_set_name(set, 1), "GITHUB_TOKEN"));
}

Test(fernet, python_tokens_bad_content)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	const char *kinds[] = {"array", "text", "number", "reserved"};
	const enum sbx_fernet_error want[] = {SBX_FERNET_BAD_JSON, SBX_FERNET_BAD_JSON,
					      SBX_FERNET_BAD_JSON, SBX_FERNET_BAD_NAME};

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	for (size_t i = 0; i < 4; i++) {
		char key[64], tok[4096];
		char *blob = NULL;
		enum sbx_fernet_error e = SBX_FERNET_OK;
		python_token(kinds[i], key, tok, sizeof(tok));
		_cleanup_(sbx_secret_freep) struct sbx_secret *k = key_from(key);
		cr_assert(eq(int, sbx_fernet_reseal(k, kr, tok, "c", &blob, &e), -EBADMSG));
		cr_assert(eq(int, (int)e, (int)want[i]), "%s: %s", kinds[i],
			  sbx_fernet_error_name(e));
		cr_assert(blob == NULL);
	}
}

Test(fernet, tampered_python_token)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	char key[64], tok[4096];
	size_t n;

	python_token("good", key, tok, sizeof(tok));
	_cleanup_(sbx_secret_freep) struct sbx_secret *k = key_from(key);
	_cleanup_(sbx_secret_freep) struct sbx_secret *wrong =
	    key_from("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=");
	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	n = strlen(tok);
	/* Every character replaced: never a success, always a named fault. */
	for (size_t i = 0; i < n; i++) {
		char orig = tok[i];
		char *blob = NULL;
		enum sbx_fernet_error e = SBX_FERNET_OK;
		tok[i] = orig == 'A' ? 'B' : 'A';
		cr_assert(eq(int, sbx_fernet_reseal(k, kr, tok, "c", &blob, &e), -EBADMSG));
		cr_assert(ne(int, (int)e, SBX_FERNET_OK));
		tok[i] = orig;
	}
	{
		char *blob = NULL;
		enum sbx_fernet_error e = SBX_FERNET_OK;
		cr_assert(eq(int, sbx_fernet_reseal(wrong, kr, tok, "c", &blob, &e), -EBADMSG));
		cr_assert(eq(int, (int)e, SBX_FERNET_BAD_HMAC));
		cr_assert(eq(int, sbx_fernet_reseal(k, kr, tok, "a\tb", &blob, &e), -EBADMSG));
		cr_assert(eq(int, (int)e, SBX_FERNET_BAD_CONTEXT));
	}
}

Test(fernet, bad_keys)
{
	const char *bad[] = {"", "short", "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e", "%%%%"};

	for (size_t i = 0; i < 4; i++) {
		struct sbx_secret *k = NULL;
		int p[2];
		cr_assert(eq(int, pipe(p), 0));
		cr_assert(eq(int, (int)write(p[1], bad[i], strlen(bad[i])), (int)strlen(bad[i])));
		(void)close(p[1]);
		cr_assert(eq(int, sbx_fernet_key_read_fd(p[0], &k), -EINVAL), "key %zu", i);
		(void)close(p[0]);
	}
}
