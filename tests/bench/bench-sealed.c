/* SPDX-License-Identifier: MIT */
/*
 * Seals and opens per second for a typical blob (three API keys of 64 bytes) under a fresh
 * in-memory keyring. Prints one line per figure:
 *   seal: N/s (ITER in S s)
 *   open: N/s (ITER in S s)
 * Build: cc -I. -O2 tests/bench/bench-sealed.c build/libkeys.a build/libcommon.a \
 *          $(pkg-config --libs libsodium jansson) -lcrypto -o build/tests/bench-sealed
 * Run:   build/tests/bench-sealed [SECONDS]   (default 2 per figure)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys/keyring.h"
#include "keys/sealed.h"
#include "keys/secret.h"

static double now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sbx_keyring *kr = NULL;
	struct sbx_secret_set *set = NULL;
	const char *names[] = {"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GITHUB_TOKEN"};
	double secs = argc > 1 ? atof(argv[1]) : 2.0, t0, t;
	char value[65], *blob = NULL;
	unsigned long n;

	if (sbx_secret_init(false) < 0 || sbx_keyring_new(&kr) < 0 || sbx_secret_set_new(&set) < 0)
		return 1;
	memset(value, 'x', 64); /* a dummy, not a secret */
	value[64] = '\0';
	for (size_t i = 0; i < 3; i++)
		if (sbx_secret_set_add(set, names[i], value, 64) < 0)
			return 1;
	t0 = now();
	for (n = 0; (t = now() - t0) < secs; n++) {
		free(blob);
		blob = NULL;
		if (sbx_sealed_seal(kr, set, "tenant:42/task:9001", &blob) < 0)
			return 1;
	}
	(void)printf("seal: %.0f/s (%lu in %.2f s)\n", (double)n / t, n, t);
	t0 = now();
	for (n = 0; (t = now() - t0) < secs; n++) {
		struct sbx_secret_set *out = NULL;
		if (sbx_sealed_open(kr, blob, "tenant:42/task:9001", NULL, NULL, &out) < 0)
			return 1;
		sbx_secret_set_free(out);
	}
	(void)printf("open: %.0f/s (%lu in %.2f s)\n", (double)n / t, n, t);
	free(blob);
	sbx_secret_set_free(set);
	sbx_keyring_free(kr);
	return 0;
}
