/* SPDX-License-Identifier: MIT */
/*
 * probe: credentials and capabilities. Empty capability sets, no_new_privs, a seccomp filter, a
 * uid from the pool, no groups; no way back to root or another uid, no capability regained,
 * no raised priority or hard limit, and no peek into init.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "probe.h"

#define UID_POOL_LO 200000UL
#define UID_POOL_HI 265535UL

static int a_caps(int argc, char **argv)
{
	static const char *const sets[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		char v[64];
		probe_status_field("self", sets[i], v, sizeof(v));
		if (!v[0])
			return probe_fail("no %s in /proc/self/status", sets[i]);
		if (probe_hexval(v) != 0)
			probe_esc("%s=%s", sets[i], v);
	}
	for (int c = 0; c <= 63; c++)
		if (prctl(PR_CAPBSET_READ, c) == 1) {
			probe_esc("capability %d is in the bounding set", c);
			break;
		}
	return probe_verdict();
}

static int a_no_new_privs(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		probe_esc("no_new_privs is not set");
	return probe_verdict();
}

static int a_seccomp_mode(int argc, char **argv)
{
	char v[32];

	(void)argc, (void)argv;
	probe_status_field("self", "Seccomp", v, sizeof(v));
	if (strcmp(v, "2") != 0)
		probe_esc("Seccomp: %s (want 2, a filter)", v[0] ? v : "?");
	return probe_verdict();
}

static int a_uid_pool(int argc, char **argv)
{
	unsigned long lo = argc > 2 ? strtoul(argv[1], NULL, 10) : UID_POOL_LO;
	unsigned long hi = argc > 2 ? strtoul(argv[2], NULL, 10) : UID_POOL_HI;
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return probe_fail("getresuid: %s", probe_ename(errno));
	const unsigned long ids[] = {r,
				     e,
				     s,
				     rg,
				     eg,
				     sg,
				     (unsigned long)setfsuid((uid_t)-1),
				     (unsigned long)setfsgid((gid_t)-1)};
	static const char *const names[] = {"uid",  "euid", "suid",  "gid",
					    "egid", "sgid", "fsuid", "fsgid"};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		if (ids[i] == 0 || ids[i] < lo || ids[i] > hi)
			probe_esc("%s=%lu is outside the pool %lu-%lu", names[i], ids[i], lo, hi);
	return probe_verdict();
}

static int a_groups(int argc, char **argv)
{
	gid_t g[256];
	int n = getgroups(256, g);

	(void)argc, (void)argv;
	if (n < 0)
		return probe_fail("getgroups: %s", probe_ename(errno));
	for (int i = 0; i < n; i++)
		if (g[i] == 0 || g[i] != getegid())
			probe_esc("supplementary group %u", (unsigned)g[i]);
	return probe_verdict();
}

static int setuid_child(void *arg)
{
	(void)arg;
	uid_t me = getuid();
	/* Raw syscalls: glibc's set*id broadcast would hide nothing, but keeps this obvious. */
	if (syscall(SYS_setuid, 0) == 0)
		probe_esc("setuid(0)");
	if (syscall(SYS_setgid, 0) == 0)
		probe_esc("setgid(0)");
	if (syscall(SYS_setresuid, 0, 0, 0) == 0)
		probe_esc("setresuid(0,0,0)");
	if (syscall(SYS_setreuid, 0, 0) == 0)
		probe_esc("setreuid(0,0)");
	gid_t zero = 0;
	if (syscall(SYS_setgroups, 1, &zero) == 0)
		probe_esc("setgroups([0])");
	(void)syscall(SYS_setfsuid, 0);
	if (syscall(SYS_setfsuid, -1) == 0 && me != 0)
		probe_esc("setfsuid(0)");
	if (me != 0 && syscall(SYS_setuid, me + 1) == 0)
		probe_esc("setuid(%u) (another pool uid)", (unsigned)me + 1);
	return 0;
}

static int a_setuid_root(int argc, char **argv)
{
	(void)argc, (void)argv;
	int st = probe_in_child(setuid_child, NULL, ATTACK_TIMEOUT);
	if (st < 0 || !WIFEXITED(st))
		return probe_fail("child failed (status %d)", st);
	return probe_verdict();
}

static int capset_child(void *arg)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];

	(void)arg;
	memset(d, 0xff, sizeof(d));
	if (syscall(SYS_capset, &h, d) == 0)
		probe_esc("capset(all caps)");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0) == 0)
		probe_esc("PR_CAP_AMBIENT_RAISE(CAP_NET_RAW)");
	if (prctl(PR_SET_SECUREBITS, 0, 0, 0, 0) == 0)
		probe_esc("PR_SET_SECUREBITS");
	return 0;
}

static int a_capset(int argc, char **argv)
{
	(void)argc, (void)argv;
	int st = probe_in_child(capset_child, NULL, ATTACK_TIMEOUT);
	if (st < 0 || !WIFEXITED(st))
		return probe_fail("child failed (status %d)", st);
	return probe_verdict();
}

static int a_chown_root(int argc, char **argv)
{
	const char *t = probe_tmp_dir();
	char f[PATH_MAX];

	(void)argc, (void)argv;
	if (!t)
		return probe_skip("no writable directory");
	(void)snprintf(f, sizeof(f), "%s/.sbx-probe-chown-%d", t, getpid());
	int fd = open(f, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0755);
	if (fd < 0)
		return probe_skip("cannot create %s: %s", f, probe_ename(errno));
	(void)close(fd);
	(void)probe_must_fail(chown(f, 0, 0), "chown(file, 0, 0)");
	if (getuid() != 0)
		(void)probe_must_fail(chown(f, getuid() + 1, (gid_t)-1), "chown to another uid");
	if (chmod(f, 04755) == 0) {
		struct stat st;
		if (stat(f, &st) == 0 && st.st_uid == 0 && (st.st_mode & S_ISUID))
			probe_esc("made a setuid-root file");
	}
	/* File capabilities need CAP_SETFCAP. */
	struct vfs_cap_data cd = {.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE};
	cd.data[0].permitted = 1U << CAP_NET_RAW;
	(void)probe_must_fail(setxattr(f, "security.capability", &cd, sizeof(cd), 0),
			      "setxattr(security.capability)");
	(void)unlink(f);
	return probe_verdict();
}

static int nice_child(void *arg)
{
	(void)arg;
	(void)probe_must_fail(setpriority(PRIO_PROCESS, 0, -10), "setpriority(-10)");
	struct sched_param sp = {.sched_priority = 1};
	(void)probe_must_fail(sched_setscheduler(0, SCHED_FIFO, &sp),
			      "sched_setscheduler(SCHED_FIFO)");
	return 0;
}

static int a_nice_raise(int argc, char **argv)
{
	(void)argc, (void)argv;
	int st = probe_in_child(nice_child, NULL, ATTACK_TIMEOUT);
	if (st < 0 || !WIFEXITED(st))
		return probe_fail("child failed (status %d)", st);
	return probe_verdict();
}

static int rlimit_child(void *arg)
{
	struct rlimit rl;

	(void)arg;
	struct rlimit core = {.rlim_cur = 1 << 20, .rlim_max = 1 << 20};
	if (getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_max < core.rlim_max)
		(void)probe_must_fail(setrlimit(RLIMIT_CORE, &core), "raising RLIMIT_CORE");
	static const int res[] = {RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_AS, RLIMIT_FSIZE};
	static const char *const names[] = {"NOFILE", "NPROC", "AS", "FSIZE"};
	for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
		if (getrlimit(res[i], &rl) < 0 || rl.rlim_max == RLIM_INFINITY)
			continue;
		rl.rlim_max += 1;
		if (setrlimit(res[i], &rl) == 0)
			probe_esc("raised the hard RLIMIT_%s", names[i]);
	}
	return 0;
}

static int a_rlimits(int argc, char **argv)
{
	struct rlimit rl;

	(void)argc, (void)argv;
	if (getrlimit(RLIMIT_CORE, &rl) < 0)
		return probe_fail("getrlimit: %s", probe_ename(errno));
	if (rl.rlim_cur != 0 || rl.rlim_max != 0)
		probe_esc("RLIMIT_CORE is %llu/%llu, not 0", (unsigned long long)rl.rlim_cur,
			  (unsigned long long)rl.rlim_max);
	int st = probe_in_child(rlimit_child, NULL, ATTACK_TIMEOUT);
	if (st < 0 || !WIFEXITED(st))
		return probe_fail("child failed (status %d)", st);
	return probe_verdict();
}

/* Init must be neither ours nor dumpable: then its /proc files belong to root and ptrace,
 * /proc/1/mem and friends are refused. */
static int a_dumpable(int argc, char **argv)
{
	struct stat st;

	(void)argc, (void)argv;
	if (stat("/proc/1/status", &st) < 0)
		return probe_fail("stat /proc/1/status: %s", probe_ename(errno));
	if (st.st_uid == getuid())
		probe_esc("pid 1's /proc files belong to our uid %u (same uid and dumpable)",
			  (unsigned)st.st_uid);
	char uid[64];
	probe_status_field("1", "Uid", uid, sizeof(uid));
	if ((unsigned long)getuid() == strtoul(uid, NULL, 10))
		probe_esc("pid 1 runs as our uid (%s)", uid);
	probe_note("payload dumpable=%d", prctl(PR_GET_DUMPABLE));
	return probe_verdict();
}

static const struct attack attacks[] = {
    {"caps", a_caps, 0, "all five capability sets empty"},
    {"no-new-privs", a_no_new_privs, 0, "no_new_privs set"},
    {"seccomp-mode", a_seccomp_mode, 0, "a seccomp filter is loaded"},
    {"uid-pool", a_uid_pool, 0, "uids and gids inside the pool [LO HI]"},
    {"groups", a_groups, 0, "no supplementary groups"},
    {"setuid-root", a_setuid_root, 0, "setuid/setgid/setgroups to root or another uid"},
    {"capset", a_capset, 0, "capset, ambient raise, securebits"},
    {"chown-root", a_chown_root, 0, "chown to root, setuid bit, file capabilities"},
    {"nice-raise", a_nice_raise, 0, "negative nice, SCHED_FIFO"},
    {"rlimits", a_rlimits, 0, "RLIMIT_CORE 0, hard limits cannot be raised"},
    {"dumpable", a_dumpable, 0, "init is not ours to inspect"},
};

const struct probe_table probe_creds_table = PROBE_TABLE(attacks);
