/* SPDX-License-Identifier: MIT */
/*
 * sbxd's configuration (docs/operations.md "Configuration"): a JSON file, checked whole,
 * every problem reported as one line "FILE: key: message". --dev builds one in memory.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "supervisor/ratelimit.h"

#define SBX_CONFIG_DEFAULT_PATH SBX_SYSCONFDIR "/sbx/sbxd.json"

/* Which ops a client rule grants (bit per enum sbx_op). */
struct sbx_client_rule {
	uid_t *uids;
	size_t n_uids;
	gid_t *gids;
	size_t n_gids;
	unsigned ops;	 /* bit mask of 1u << enum sbx_op */
	char **policies; /* NULL: every policy */
	size_t n_policies;
	bool has_run_rate; /* run_rate set: overrides limits.run_rate for these peers */
	struct sbx_rate run_rate;
};

struct sbx_config {
	char *path;
	char *socket_path;
	mode_t socket_mode;
	gid_t socket_gid;   /* (gid_t)-1: keep */
	uid_t socket_uid;   /* (uid_t)-1: keep (--dev: the invoking user) */
	char *keyring_path; /* NULL: $CREDENTIALS_DIRECTORY/keyring, else the default path */
	char *policy_dir;
	char *profile_dir;
	char *audit_path;
	char *audit_dir;  /* state and key files */
	bool audit_fsync; /* durability: fsync each record (else group commit) */
	uint64_t audit_rotate_size;
	char *runtime_dir;
	uint32_t uid_base;
	uint32_t uid_count;
	uint32_t max_tasks;
	uint32_t max_queued;
	uint32_t max_connections;
	uint64_t max_frame;
	uint64_t output_max;
	uint64_t write_buffer;
	uint64_t idle_timeout_ms;
	uint64_t shutdown_grace_ms;
	struct sbx_rate run_rate; /* task starts per uid but root (authz.c sbx_authz_run_rate) */
	struct sbx_client_rule *clients;
	size_t n_clients;
	bool dev;
};

/* Loads and checks path. On failure returns -EINVAL (or -errno for I/O) and has printed
 * every problem on stderr, one line each. */
int sbx_config_load(const char *path, struct sbx_config **ret);
/* The same for a configuration already in memory (data need not be NUL-terminated); name
 * stands for the file in messages. */
int sbx_config_load_data(const char *data, size_t len, const char *name, struct sbx_config **ret);
/* The --dev configuration for dir (which must already exist). */
int sbx_config_dev(const char *dir, uid_t user, struct sbx_config **ret);
struct sbx_config *sbx_config_free(struct sbx_config *c);
static inline void sbx_config_freep(struct sbx_config **c)
{
	*c = sbx_config_free(*c);
}
