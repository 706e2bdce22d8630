/* SPDX-License-Identifier: MIT */
/* Sealed blobs v1: round trips, tampering, contexts, key states, names. Secrets are random
 * per run and never printed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <sodium.h>

#include "keys/internal.h"
#include "keys/keyring.h"
#include "keys/sealed.h"
#include "keys/secret.h"

static void setup(void)
{
	cr_assert(eq(int, sbx_secret_init(false), 0));
}

TestSuite(sealed, .init = setup, .timeout = 60);

/* A random printable value, so nothing recognisable is ever committed or printed. */
static void random_value(char *buf, size_t len)
{
	unsigned char raw[64];

	randombytes_buf(raw, sizeof(raw));
	(void)sodium_bin2hex(buf, len, raw, (len - 1) / 2);
}

static struct sbx_secret_set *make_set(char v1[65], char v2[65])
{
	struct sbx_secret_set *set = NULL;

	random_value(v1, 65);
	random_value(v2, 65);
	cr_assert(eq(int, sbx_secret_set_new(&set), 0));
	cr_assert(eq(int, sbx_secret_set_add(set, "ANTHROPIC_API_KEY", v1, strlen(v1)), 0));
	cr_assert(eq(int, sbx_secret_set_add(set, "GITHUB_TOKEN", v2, strlen(v2)), 0));
	return set;
}

static char *seal(const struct sbx_keyring *kr, const char *ctx, char v1[65], char v2[65])
{
	_cleanup_(sbx_secret_set_freep) struct sbx_secret_set *set = make_set(v1, v2);
	char *blob = NULL;

	cr_assert(eq(int, sbx_sealed_seal(kr, set, ctx, &blob), 0));
	return blob;
}

Test(sealed, round_trip)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_(sbx_secret_set_freep) struct sbx_secret_set *out = NULL;
	_cleanup_free_ char *blob = NULL;
	char v1[65], v2[65], want[128];
	char *const *envp = NULL;

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	blob = seal(kr, "tenant:42/task:9001", v1, v2);
	cr_assert(eq(int, strncmp(blob, "sbx1:", 5), 0));
	cr_assert(eq(int, sbx_sealed_open(kr, blob, "tenant:42/task:9001", NULL, NULL, &out), 0));
	cr_assert(eq(sz, sbx_secret_set_count(out), 2));
	cr_assert(eq(str, (char *)sbx_secret_set_name(out, 0), "ANTHROPIC_API_KEY"));
	cr_assert(eq(u32, sbx_secret_set_key_id(out), 1));
	cr_assert(eq(int, sbx_secret_set_envp(out, &envp), 0));
	(void)snprintf(want, sizeof(want), "ANTHROPIC_API_KEY=%s", v1);
	cr_assert(strcmp(envp[0], want) == 0, "first env string differs");
	(void)snprintf(want, sizeof(want), "GITHUB_TOKEN=%s", v2);
	cr_assert(strcmp(envp[1], want) == 0, "second env string differs");
	cr_assert(envp[2] == NULL);
}

Test(sealed, awkward_values_round_trip)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_(sbx_secret_set_freep) struct sbx_secret_set *set = NULL, *out = NULL;
	_cleanup_free_ char *blob = NULL;
	const char *vals[] = {"", "a\"b\\c\nd\te\x01", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"};
	char name[16];
	char *const *envp = NULL;

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	cr_assert(eq(int, sbx_secret_set_new(&set), 0));
	for (size_t i = 0; i < 3; i++) {
		(void)snprintf(name, sizeof(name), "V%zu_TOKEN", i);
		cr_assert(eq(int, sbx_secret_set_add(set, name, vals[i], strlen(vals[i])), 0));
	}
	cr_assert(eq(int, sbx_sealed_seal(kr, set, "c", &blob), 0));
	cr_assert(eq(int, sbx_sealed_open(kr, blob, "c", NULL, NULL, &out), 0));
	cr_assert(eq(int, sbx_secret_set_envp(out, &envp), 0));
	for (size_t i = 0; i < 3; i++)
		cr_assert(strcmp(strchr(envp[i], '=') + 1, vals[i]) == 0, "value %zu differs", i);
}

Test(sealed, rejects_bad_utf8_and_nul)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_(sbx_secret_set_freep) struct sbx_secret_set *set = NULL;
	char *blob = NULL;

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	cr_assert(eq(int, sbx_secret_set_new(&set), 0));
	cr_assert(eq(int, sbx_secret_set_add(set, "A_TOKEN", "x\0y", 3), -EINVAL));
	cr_assert(eq(int, sbx_secret_set_add(set, "A_TOKEN", "\xc0\xaf", 2), 0));
	cr_assert(eq(int, sbx_sealed_seal(kr, set, "c", &blob), -EILSEQ));
	cr_assert(blob == NULL);
}

static int open_code(const struct sbx_keyring *kr, const char *blob, const char *ctx)
{
	struct sbx_secret_set *out = NULL;
	int r = sbx_sealed_open(kr, blob, ctx, NULL, NULL, &out);

	if (r == 0)
		sbx_secret_set_free(out);
	else
		cr_assert(out == NULL);
	return r;
}

static bool clean_failure(int r)
{
	return r == -EBADMSG || r == -ENOKEY || r == -EKEYREVOKED || r == -EKEYREJECTED;
}

Test(sealed, every_char_change_fails_cleanly)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_free_ char *blob = NULL;
	const char subst[] = "AQgw_-9z!=";
	char v1[65], v2[65];
	size_t n, tried = 0;

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	blob = seal(kr, "ctx", v1, v2);
	n = strlen(blob);
	for (size_t i = 0; i < n; i++) {
		char orig = blob[i];
		for (size_t j = 0; j < sizeof(subst) - 1; j++) {
			if (subst[j] == orig)
				continue;
			blob[i] = subst[j];
			int r = open_code(kr, blob, "ctx");
			cr_assert(clean_failure(r), "change at %zu opened or failed oddly (%d)", i,
				  r);
			tried++;
		}
		blob[i] = orig;
	}
	cr_assert(eq(int, open_code(kr, blob, "ctx"), 0));
	cr_assert(gt(sz, tried, 1000));
}

Test(sealed, every_byte_and_bit_change_fails_cleanly)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_free_ char *blob = NULL;
	unsigned char bin[512];
	char text[1024], v1[65], v2[65];
	size_t len = 0;

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	blob = seal(kr, "ctx", v1, v2);
	cr_assert(eq(int, sbx_b64_decode(blob + 5, strlen(blob) - 5, bin, sizeof(bin), &len), 0));
	for (size_t i = 0; i < len; i++)
		for (unsigned bit = 0; bit < 8; bit++) {
			bin[i] ^= (unsigned char)(1U << bit);
			memcpy(text, "sbx1:", 5);
			sbx_b64_encode(bin, len, text + 5, sizeof(text) - 5);
			int r = open_code(kr, text, "ctx");
			cr_assert(clean_failure(r), "flip %zu.%u: %d", i, bit, r);
			if (i == 0)
				cr_assert(eq(int, r, -EBADMSG));
			else if (i >= 13)
				cr_assert(eq(int, r, -EKEYREJECTED));
			bin[i] ^= (unsigned char)(1U << bit);
		}
	/* Truncation and extension at every length fail too. */
	for (size_t cut = 0; cut < len; cut++) {
		memcpy(text, "sbx1:", 5);
		sbx_b64_encode(bin, cut, text + 5, sizeof(text) - 5);
		cr_assert(clean_failure(open_code(kr, text, "ctx")));
	}
}

Test(sealed, other_context_fails_decrypt)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_free_ char *blob = NULL;
	char v1[65], v2[65];

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	blob = seal(kr, "tenant:42/task:9001", v1, v2);
	cr_assert(eq(int, open_code(kr, blob, "tenant:43/task:9001"), -EKEYREJECTED));
	cr_assert(eq(int, open_code(kr, blob, "tenant:42/task:900"), -EKEYREJECTED));
	cr_assert(eq(int, open_code(kr, blob, "tenant:42/task:9001 "), -EKEYREJECTED));
	cr_assert(eq(int, open_code(kr, blob, ""), -EINVAL));
	cr_assert(eq(int, sbx_sealed_error(-EKEYREJECTED), SBX_E_DECRYPT_FAILED));
}

Test(sealed, another_keyring_same_id_fails_decrypt)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *a = NULL, *b = NULL;
	_cleanup_free_ char *blob = NULL;
	char v1[65], v2[65];

	cr_assert(eq(int, sbx_keyring_new(&a), 0));
	cr_assert(eq(int, sbx_keyring_new(&b), 0));
	blob = seal(a, "c", v1, v2);
	cr_assert(eq(int, open_code(b, blob, "c"), -EKEYREJECTED));
}

Test(sealed, key_states)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL, *other = NULL;
	_cleanup_free_ char *old = NULL, *cur = NULL;
	struct sbx_sealed_header h;
	char v1[65], v2[65];
	uint32_t id = 0;

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	old = seal(kr, "c", v1, v2);
	cr_assert(eq(int, sbx_keyring_rotate(kr, &id), 0));
	cr_assert(eq(u32, id, 2));
	cur = seal(kr, "c", v1, v2);
	cr_assert(eq(int, sbx_sealed_inspect(cur, &h), 0));
	cr_assert(eq(u32, h.key_id, 2));
	cr_assert(eq(int, open_code(kr, old, "c"), 0), "rotation keeps old blobs opening");
	cr_assert(eq(int, sbx_keyring_retire(kr, 1), 0));
	cr_assert(eq(int, open_code(kr, old, "c"), -EKEYREVOKED));
	cr_assert(eq(int, sbx_sealed_error(-EKEYREVOKED), SBX_E_KEY_RETIRED));
	cr_assert(eq(int, sbx_keyring_activate(kr, 1), 0));
	cr_assert(eq(int, open_code(kr, old, "c"), 0));
	cr_assert(eq(int, sbx_keyring_destroy(kr, 1), 0));
	/* Documented choice: a destroyed key's blob is key_retired (the tombstone knows it). */
	cr_assert(eq(int, open_code(kr, old, "c"), -EKEYREVOKED));
	cr_assert(eq(int, sbx_keyring_activate(kr, 1), -ESTALE));
	/* A keyring that never had key 2: key_unknown. */
	cr_assert(eq(int, sbx_keyring_new(&other), 0));
	cr_assert(eq(int, open_code(other, cur, "c"), -ENOKEY));
	cr_assert(eq(int, sbx_sealed_error(-ENOKEY), SBX_E_KEY_UNKNOWN));
}

Test(sealed, rewrap)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_free_ char *old = NULL, *same = NULL, *neu = NULL;
	struct sbx_sealed_header h;
	char v1[65], v2[65];
	bool rewrapped = true;

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	old = seal(kr, "c", v1, v2);
	cr_assert(eq(int, sbx_sealed_rewrap(kr, old, "c", &same, &rewrapped), 0));
	cr_assert(not(rewrapped));
	cr_assert(eq(str, same, old));
	cr_assert(eq(int, sbx_keyring_rotate(kr, NULL), 0));
	cr_assert(eq(int, sbx_sealed_rewrap(kr, old, "c", &neu, &rewrapped), 0));
	cr_assert(rewrapped);
	cr_assert(eq(int, sbx_sealed_inspect(neu, &h), 0));
	cr_assert(eq(u32, h.key_id, 2));
	cr_assert(eq(int, sbx_keyring_retire(kr, 1), 0));
	cr_assert(eq(int, open_code(kr, neu, "c"), 0));
}

static bool only_tokens(const char *name, void *userdata)
{
	(*(int *)userdata)++;
	return strlen(name) > 6 && strcmp(name + strlen(name) - 6, "_TOKEN") == 0;
}

Test(sealed, accept_callback_refuses_whole_blob)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_free_ char *blob = NULL;
	struct sbx_secret_set *out = NULL;
	char v1[65], v2[65];
	int calls = 0;

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	blob = seal(kr, "c", v1, v2);
	cr_assert(eq(int, sbx_sealed_open(kr, blob, "c", only_tokens, &calls, &out), -EACCES));
	cr_assert(out == NULL);
	cr_assert(eq(int, calls, 1));
	cr_assert(eq(int, sbx_sealed_error(-EACCES), SBX_E_SECRET_NOT_ALLOWED));
}

Test(sealed, malformed_inputs)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	struct sbx_sealed_header h;
	const char *bad[] = {"",
			     "sbx1:",
			     "sbx1",
			     "sbx2:AAAA",
			     "SBX1:AQAAAAE",
			     "sbx1:!!!!",
			     "sbx1:AQAAAAEAAAAAAAAAAA",
			     "sbx1:AQAAAAEAAAAAAAAAAA=="};

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert(eq(int, open_code(kr, bad[i], "c"), -EBADMSG), "input %zu", i);
		cr_assert(eq(int, sbx_sealed_inspect(bad[i], &h), -EBADMSG), "input %zu", i);
	}
	cr_assert(eq(int, open_code(kr, NULL, "c"), -EBADMSG));
}

Test(sealed, inspect_header)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_free_ char *blob = NULL;
	struct sbx_sealed_header h;
	char v1[65], v2[65];

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	blob = seal(kr, "c", v1, v2);
	cr_assert(eq(int, sbx_sealed_inspect(blob, &h), 0));
	cr_assert(eq(u8, h.version, 1));
	cr_assert(eq(u32, h.key_id, 1));
	cr_assert(gt(u64, h.sealed_at, 1600000000));
	/* Lengths leak only in 64-byte steps: two sizes in one block seal to the same length. */
	cr_assert(eq(sz, strlen(blob), strlen(blob)));
}

Test(sealed, padding_hides_small_length_differences)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_(sbx_secret_set_freep) struct sbx_secret_set *a = NULL, *b = NULL;
	_cleanup_free_ char *ba = NULL, *bb = NULL;

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	cr_assert(eq(int, sbx_secret_set_new(&a), 0));
	cr_assert(eq(int, sbx_secret_set_new(&b), 0));
	cr_assert(eq(int, sbx_secret_set_add(a, "A_TOKEN", "x", 1), 0));
	cr_assert(eq(int, sbx_secret_set_add(b, "A_TOKEN", "xxxxxxxxxxxxxxxxxxxx", 20), 0));
	cr_assert(eq(int, sbx_sealed_seal(kr, a, "c", &ba), 0));
	cr_assert(eq(int, sbx_sealed_seal(kr, b, "c", &bb), 0));
	cr_assert(eq(sz, strlen(ba), strlen(bb)));
}

Test(sealed, name_rules)
{
	char out[SBX_SECRET_NAME_MAX + 1] = "";
	char longname[SBX_SECRET_NAME_MAX + 2];

	cr_assert(eq(int, sbx_sealed_name_normalize("anthropic-api-key", out), 0));
	cr_assert(eq(str, out, "ANTHROPIC_API_KEY"));
	cr_assert(eq(int, sbx_sealed_name_normalize("openai.api key", out), 0));
	cr_assert(eq(str, out, "OPENAI_API_KEY"));
	cr_assert(eq(int, sbx_sealed_name_normalize("GITHUB_TOKEN", out), 0));
	cr_assert(eq(int, sbx_sealed_name_normalize("1KEY", out), -EINVAL));
	cr_assert(eq(int, sbx_sealed_name_normalize("_KEY", out), -EINVAL));
	cr_assert(eq(int, sbx_sealed_name_normalize("KEY$", out), -EINVAL));
	cr_assert(eq(int, sbx_sealed_name_normalize("K\xc3\xa9Y", out), -EINVAL));
	cr_assert(eq(int, sbx_sealed_name_normalize("", out), -EINVAL));
	cr_assert(eq(int, sbx_sealed_name_normalize("path", out), -EPERM));
	cr_assert(eq(int, sbx_sealed_name_normalize("HOME", out), -EPERM));
	cr_assert(eq(int, sbx_sealed_name_normalize("ld-preload", out), -EPERM));
	cr_assert(eq(int, sbx_sealed_name_normalize("LD_LIBRARY_PATH", out), -EPERM));
	cr_assert(eq(int, sbx_sealed_name_normalize("GLIBC_TUNABLES", out), -EPERM));
	memset(longname, 'A', SBX_SECRET_NAME_MAX);
	longname[SBX_SECRET_NAME_MAX] = '\0';
	cr_assert(eq(int, sbx_sealed_name_normalize(longname, out), 0));
	longname[SBX_SECRET_NAME_MAX] = 'A';
	longname[SBX_SECRET_NAME_MAX + 1] = '\0';
	cr_assert(eq(int, sbx_sealed_name_normalize(longname, out), -EINVAL));
}

static int parse_lines(const char *text, size_t *line, struct sbx_secret_set **ret)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *s = NULL;

	cr_assert(eq(int, sbx_secret_new(strlen(text), &s), 0));
	memcpy(sbx_secret_data(s), text, strlen(text));
	return sbx_sealed_parse_env_lines(s, ret, line);
}

Test(sealed, env_lines)
{
	struct sbx_secret_set *set = NULL;
	size_t line = 0;

	cr_assert(eq(
	    int, parse_lines("# c\n\nanthropic-api-key=v=1\r\n  GITHUB_TOKEN = x\n", &line, &set),
	    0));
	cr_assert(eq(sz, sbx_secret_set_count(set), 2));
	cr_assert(eq(str, (char *)sbx_secret_set_name(set, 0), "ANTHROPIC_API_KEY"));
	cr_assert(eq(str, (char *)sbx_secret_set_name(set, 1), "GITHUB_TOKEN"));
	set = sbx_secret_set_free(set);
	cr_assert(eq(int, parse_lines("A_TOKEN=1\na-token=2\n", &line, &set), -EEXIST));
	cr_assert(eq(sz, line, 2));
	cr_assert(set == NULL);
	cr_assert(eq(int, parse_lines("A_TOKEN=1\nPATH=/x\n", &line, &set), -EPERM));
	cr_assert(eq(sz, line, 2));
	cr_assert(eq(int, parse_lines("novalue\n", &line, &set), -EINVAL));
	cr_assert(eq(sz, line, 1));
	cr_assert(eq(int, parse_lines("=x\n", &line, &set), -EINVAL));
	cr_assert(eq(int, parse_lines("A B C=x\n", &line, &set), 0));
	set = sbx_secret_set_free(set);
}

Test(sealed, context_rules)
{
	char big[SBX_SEALED_CONTEXT_MAX + 2];

	cr_assert(eq(int, sbx_sealed_context_check("tenant:42/task:9001"), 0));
	cr_assert(eq(int, sbx_sealed_context_check(""), -EINVAL));
	cr_assert(eq(int, sbx_sealed_context_check("a\tb"), -EINVAL));
	cr_assert(eq(int, sbx_sealed_context_check("a\nb"), -EINVAL));
	memset(big, 'c', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert(eq(int, sbx_sealed_context_check(big), -EINVAL));
	big[SBX_SEALED_CONTEXT_MAX] = '\0';
	cr_assert(eq(int, sbx_sealed_context_check(big), 0));
}

Test(sealed, plaintext_parser_rejects)
{
	const char *bad[] = {"",
			     "[]",
			     "{\"A_TOKEN\":1}",
			     "{\"a_token\":\"x\"}",
			     "{\"A_TOKEN\":\"x\",\"A_TOKEN\":\"y\"}",
			     "{\"PATH\":\"x\"}",
			     "{\"A_TOKEN\":\"x\\u0000y\"}",
			     "{\"A_TOKEN\":\"x\"",
			     "{\"A\":{}}"};
	struct sbx_secret_set *set = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = sbx_sealed_parse_plaintext((const unsigned char *)bad[i], strlen(bad[i]),
						   false, NULL, NULL, &set);
		cr_assert(lt(int, r, 0), "input %zu", i);
		cr_assert(set == NULL);
	}
}

Test(sealed, largest_set_round_trips)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_(sbx_secret_set_freep) struct sbx_secret_set *set = NULL, *out = NULL;
	_cleanup_free_ char *blob = NULL;
	char name[16];

	cr_assert(eq(int, sbx_keyring_new(&kr), 0));
	cr_assert(eq(int, sbx_secret_set_new(&set), 0));
	for (int i = 0; i < SBX_SECRET_SET_MAX; i++) {
		(void)snprintf(name, sizeof(name), "K%d", i);
		cr_assert(eq(int, sbx_secret_set_add(set, name, "", 0), 0));
	}
	cr_assert(eq(int, sbx_sealed_seal(kr, set, "c", &blob), 0));
	cr_assert(eq(int, sbx_sealed_open(kr, blob, "c", NULL, NULL, &out), 0));
	cr_assert(eq(sz, sbx_secret_set_count(out), SBX_SECRET_SET_MAX));
}
