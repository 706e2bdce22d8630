/* SPDX-License-Identifier: MIT */
/*
 * keys/ internals: raw access to secret bytes and the locked JSON arena. Included only by
 * the keys/ sources (and the fuzz targets), never by cli/ or supervisor/, so secret bytes stay
 * behind the opaque handles of keys/secret.h.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "keys/keyring.h"
#include "keys/sealed.h"
#include "keys/secret.h"

/* The bytes of a secret; NULL only for a NULL secret. */
unsigned char *sbx_secret_data(const struct sbx_secret *s);
/* Like sbx_secret_new() but without MADV_WIPEONFORK (memory a child must inherit). */
int sbx_secret_new_inheritable(size_t len, struct sbx_secret **ret);
/* Shrinks the visible length (the buffer stays; the tail is wiped). */
void sbx_secret_truncate(struct sbx_secret *s, size_t len);

/* While an arena is active on this thread, jansson allocates inside one locked buffer of
 * size bytes, so parsing secret JSON leaves nothing in the ordinary heap. Outside an arena
 * jansson uses malloc with a wipe-on-free header. End wipes and frees the arena. */
int sbx_secret_arena_begin(size_t size);
void sbx_secret_arena_end(void);

/* Base64url without padding (libsodium's variant), strict: no junk, canonical tail bits. */
int sbx_b64_decode(const char *in, size_t in_len, unsigned char *out, size_t out_max,
		   size_t *ret_len);
/* Writes the NUL-terminated encoding; out must hold sodium_base64_ENCODED_LEN bytes. */
void sbx_b64_encode(const unsigned char *in, size_t len, char *out, size_t out_len);
size_t sbx_b64_encoded_len(size_t bin_len);

/* Records which key opened the blob a set came from. */
void sbx_secret_set_set_key_id(struct sbx_secret_set *set, uint32_t id);

/* The 32 key bytes for id and its state (NULL bytes for a destroyed key). -ENOKEY. */
int sbx_keyring_key(const struct sbx_keyring *kr, uint32_t id, const unsigned char **ret_key,
		    int *ret_state);
/* Sets the visible length (at most the capacity) of a secret being filled. */
void sbx_secret_set_len(struct sbx_secret *s, size_t len);

/* Shared by keyring.c and keyring-file.c. */
#define SBX_KEYRING_MAGIC "sbx-keyring 1"
struct sbx_keyring {
	uint32_t next_id;
	size_t n;
	struct sbx_key_info *keys;   /* ascending ids */
	struct sbx_secret *material; /* n * 32 bytes, keys[i] at i * 32; zero when destroyed */
	struct sbx_secret *audit;    /* 32 bytes */
	uint64_t audit_created;
};
extern const char *const sbx_keyring_state_names[_SBX_KEY_STATE_MAX];
void sbx_keyring_fingerprint(const unsigned char *key, char out[SBX_KEY_FP_HEX + 1]);
unsigned char *sbx_keyring_key_bytes(const struct sbx_keyring *kr, size_t i);
/* Formats reterr (if given) and returns r. */
#define sbx_keyring_fail sbx_error_set

/* The plaintext JSON object of a blob (or of a Fernet token when normalize is true: names
 * are normalised instead of required to be normal) into a set. Parsed with jansson inside
 * a locked arena. -EBADMSG for anything but an object of strings, -EPERM/-EINVAL/-EEXIST
 * for names, -EACCES when accept refuses one. */
int sbx_sealed_parse_plaintext(const unsigned char *json, size_t len, bool normalize,
			       sbx_sealed_accept_cb accept, void *userdata,
			       struct sbx_secret_set **ret);
