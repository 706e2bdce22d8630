/* SPDX-License-Identifier: MIT */
/*
 * probe: what the attack families (probe-<family>.c) share with probe.c: the verdict codes and
 * attack flags, the verdict helpers that record an attack's detail in memory shared with the
 * parent, the small utilities, and the table type each family exports. Nothing here is for
 * the project's own code: the probe links no project library.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <sys/types.h>

enum {
	R_BLOCKED = 0,
	R_ESCAPED = 1,
	R_ERROR = 2,
	R_SKIP = 77
};

#define F_DANGER 1U /* refuses to run without --inside */
#define F_SELF	 2U /* runs in the probe process itself, last in `all` */
#define F_NOALL	 4U /* not part of `all` */
#define F_LONG	 8U /* a resource attack: long timeout */

#define ATTACK_TIMEOUT 20
#define LONG_TIMEOUT   150

/* Shared with the attack's child in `all`, so its verdict detail survives its exit. */
struct probe_shared {
	int escaped;
	char detail[4000];
};

extern struct probe_shared *probe_sh;
extern bool probe_arg_inside;
extern int probe_start_fds[256];
extern size_t probe_n_start_fds;
extern char probe_dir[PATH_MAX];

struct attack {
	const char *name;
	int (*fn)(int argc, char **argv);
	unsigned flags;
	const char *help;
};

/* One family's attacks, in the order `list` shows them and `all` runs them. */
struct probe_table {
	const struct attack *attacks;
	size_t n;
};

#define PROBE_TABLE(a)                          \
	{                                       \
		(a), sizeof(a) / sizeof((a)[0]) \
	}

/* Concatenated by probe.c in this order (see tables[] there). */
extern const struct probe_table probe_pid_table, probe_net_table, probe_creds_table,
    probe_mounts_table, probe_proc_table, probe_kernel_table, probe_dev_table, probe_fs_table,
    probe_pid_last_table, probe_fs_last_table;

/* ---- verdict helpers (probe.c) ------------------------------------------------------ */

__attribute__((format(printf, 1, 2))) void probe_note(const char *fmt, ...);
/* Records that the attack worked; the attack goes on to find further holes. */
__attribute__((format(printf, 1, 2))) void probe_esc(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) int probe_skip(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) int probe_fail(const char *fmt, ...);
int probe_verdict(void);
bool probe_must_fail(long r, const char *what);
bool probe_must_be_denied_e(long r, int e, const char *what);
bool probe_must_be_denied(long r, const char *what);
const char *probe_ename(int e);

/* ---- small utilities (probe.c) ------------------------------------------------------ */

ssize_t probe_read_file(const char *path, char *buf, size_t len);
void probe_status_field(const char *pid, const char *name, char *out, size_t len);
bool probe_is_pid_name(const char *s);
int probe_in_child(int (*fn)(void *), void *arg, unsigned timeout_s);
pid_t probe_spawn_sleeper(void);
void probe_kill_wait(pid_t pid);
const char *probe_tmp_dir(void);
int probe_scan_pids(char *names, size_t len, int *ret_count);
unsigned long long probe_hexval(const char *s);
const char *probe_arg_or_env(int argc, char **argv, int i, const char *env);
int probe_open_read(const char *path, int flags, bool need_data);

/* `probe facts` (probe-facts.c). */
int probe_facts(void);
