/* SPDX-License-Identifier: MIT */
/*
 * probe: mounts and namespaces. No mount, bind, remount, unmount, pivot_root or chroot may work,
 * every mount is nosuid (and nodev outside /dev), and no new namespace (unshare, setns, clone,
 * clone3) may be entered. Real unmounts run only with --inside.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/sched.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "probe.h"

/* <sys/mount.h> and <linux/mount.h> clash; the few constants needed are spelled out. */
#define MS_RDONLY_	 1UL
#define MS_NOSUID_	 2UL
#define MS_NODEV_	 4UL
#define MS_NOEXEC_	 8UL
#define MS_REMOUNT_	 32UL
#define MS_NOATIME_	 1024UL
#define MS_NODIRATIME_	 2048UL
#define MS_BIND_	 4096UL
#define MS_RELATIME_	 (1UL << 21)
#define MNT_DETACH_	 2
#define MNT_EXPIRE_	 4
#define OPEN_TREE_CLONE_ 1U

/* ---- mounts ------------------------------------------------------------------------- */

/* A fresh directory to mount on, or an existing one when nothing is writable. */
static void mount_target(char *buf, size_t len, bool *made)
{
	const char *t = probe_tmp_dir();

	*made = false;
	if (t) {
		(void)snprintf(buf, len, "%s/.sbx-probe-mnt-XXXXXX", t);
		if (mkdtemp(buf)) {
			*made = true;
			return;
		}
	}
	(void)snprintf(buf, len, "%s", access("/tmp", F_OK) == 0 ? "/tmp" : "/");
}

static void mount_target_done(const char *path, bool made)
{
	if (made)
		(void)rmdir(path);
}

static int try_mount(const char *src, const char *fstype, unsigned long flags, const char *data,
		     const char *what)
{
	char dir[PATH_MAX];
	bool made;

	mount_target(dir, sizeof(dir), &made);
	long r = syscall(SYS_mount, src, dir, fstype, flags, data);
	int e = errno;
	if (r == 0) {
		probe_esc("%s on %s", what, dir);
		(void)syscall(SYS_umount2, dir, MNT_DETACH_);
	} else {
		(void)probe_must_be_denied_e(r, e, what);
	}
	mount_target_done(dir, made);
	return probe_verdict();
}

static int a_mount_tmpfs(int argc, char **argv)
{
	(void)argc, (void)argv;
	return try_mount("none", "tmpfs", 0, "size=1m", "mount(tmpfs)");
}

static int a_mount_bind(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)try_mount("/", NULL, MS_BIND_, NULL, "mount(MS_BIND of /)");
	return try_mount("/proc", NULL, MS_BIND_, NULL, "mount(MS_BIND of /proc)");
}

static int a_mount_proc(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)try_mount("proc", "proc", 0, NULL, "mount(proc)");
	(void)try_mount("sysfs", "sysfs", 0, NULL, "mount(sysfs)");
	(void)try_mount("cgroup2", "cgroup2", 0, NULL, "mount(cgroup2)");
	return try_mount("cgroup", "cgroup", 0, "pids", "mount(cgroup v1 pids)");
}

static int a_mount_api(int argc, char **argv)
{
	(void)argc, (void)argv;
	int fd = (int)syscall(SYS_fsopen, "tmpfs", 0);
	if (!probe_must_be_denied(fd, "fsopen(tmpfs)"))
		(void)close(fd);
	fd = (int)syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE_);
	if (!probe_must_be_denied(fd, "open_tree(/, OPEN_TREE_CLONE)"))
		(void)close(fd);
	fd = (int)syscall(SYS_fspick, AT_FDCWD, "/", 0);
	if (!probe_must_be_denied(fd, "fspick(/)"))
		(void)close(fd);
	return probe_verdict();
}

static unsigned long ms_flags_of(const struct statvfs *sv)
{
	unsigned long f = 0;

	if (sv->f_flag & ST_NOSUID)
		f |= MS_NOSUID_;
	if (sv->f_flag & ST_NODEV)
		f |= MS_NODEV_;
	if (sv->f_flag & ST_NOEXEC)
		f |= MS_NOEXEC_;
	if (sv->f_flag & ST_NOATIME)
		f |= MS_NOATIME_;
	if (sv->f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME_;
	if (sv->f_flag & ST_RELATIME)
		f |= MS_RELATIME_;
	return f;
}

/* Make a read-only mount writable again. Only read-only targets are attacked, so the host is
 * never touched when they are not. */
static int a_remount_rw(int argc, char **argv)
{
	const char *defaults[] = {"/", "/usr", "/etc", "/bin", "/lib", probe_dir};
	const char **targets = defaults;
	size_t n = sizeof(defaults) / sizeof(defaults[0]), tried = 0;

	if (argc > 1) {
		targets = (const char **)argv + 1;
		n = (size_t)argc - 1;
	}
	for (size_t i = 0; i < n; i++) {
		struct statvfs sv;
		if (statvfs(targets[i], &sv) < 0 || !(sv.f_flag & ST_RDONLY))
			continue;
		tried++;
		unsigned long fl = ms_flags_of(&sv);
		long r =
		    syscall(SYS_mount, NULL, targets[i], NULL, MS_REMOUNT_ | MS_BIND_ | fl, NULL);
		int e = errno;
		char what[PATH_MAX + 64];
		(void)snprintf(what, sizeof(what), "remount %s read-write (bind)", targets[i]);
		if (!probe_must_be_denied_e(r, e, what))
			(void)syscall(SYS_mount, NULL, targets[i], NULL,
				      MS_REMOUNT_ | MS_BIND_ | MS_RDONLY_ | fl, NULL);
		r = syscall(SYS_mount, NULL, targets[i], NULL, MS_REMOUNT_ | fl, NULL);
		e = errno;
		(void)snprintf(what, sizeof(what), "remount %s read-write (superblock)",
			       targets[i]);
		if (!probe_must_be_denied_e(r, e, what))
			(void)syscall(SYS_mount, NULL, targets[i], NULL,
				      MS_REMOUNT_ | MS_RDONLY_ | fl, NULL);
	}
	if (!tried)
		return probe_skip("no read-only mount to attack");
	return probe_verdict();
}

static int a_umount(int argc, char **argv)
{
	(void)argc, (void)argv;
	/* MNT_EXPIRE on our own root is refused with EINVAL, but only after the capability check.
	 */
	(void)probe_must_be_denied(syscall(SYS_umount2, "/", MNT_EXPIRE_),
				   "umount2(/, MNT_EXPIRE)");
	if (probe_arg_inside) {
		(void)probe_must_fail(syscall(SYS_umount2, "/proc", MNT_DETACH_), "umount2(/proc)");
		(void)probe_must_fail(syscall(SYS_umount2, probe_dir, MNT_DETACH_),
				      "umount2(probe dir)");
		(void)probe_must_fail(syscall(SYS_umount2, "/tmp", MNT_DETACH_), "umount2(/tmp)");
	}
	return probe_verdict();
}

static int a_pivot_root(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)probe_must_be_denied(syscall(SYS_pivot_root, "/.sbx-probe-none", "/.sbx-probe-none"),
				   "pivot_root(missing dirs)");
	if (probe_arg_inside && chdir("/") == 0)
		(void)probe_must_fail(syscall(SYS_pivot_root, ".", "."), "pivot_root(., .)");
	return probe_verdict();
}

static int chroot_child(void *arg)
{
	(void)arg;
	const char *t = probe_tmp_dir();
	(void)probe_must_fail(chroot(t ? t : "/"), "chroot");
	return 0;
}

static int a_chroot(int argc, char **argv)
{
	(void)argc, (void)argv;
	int st = probe_in_child(chroot_child, NULL, ATTACK_TIMEOUT);
	if (st < 0 || !WIFEXITED(st))
		return probe_fail("child failed (status %d)", st);
	return probe_verdict();
}

/* Every mount must be nosuid; every mount outside /dev nodev. */
static int a_mount_flags(int argc, char **argv)
{
	static char buf[65536];

	(void)argc, (void)argv;
	if (probe_read_file("/proc/self/mountinfo", buf, sizeof(buf)) < 0)
		return probe_fail("cannot read mountinfo: %s", probe_ename(errno));
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		char mp[PATH_MAX], opts[512];
		if (sscanf(l, "%*s %*s %*s %*s %4095s %511s", mp, opts) != 2)
			continue;
		bool nosuid = strstr(opts, "nosuid") != NULL;
		bool nodev = strstr(opts, "nodev") != NULL;
		bool in_dev = strncmp(mp, "/dev", 4) == 0 && (mp[4] == '/' || !mp[4]);
		if (!nosuid)
			probe_esc("%s is mounted without nosuid", mp);
		if (!nodev && !in_dev)
			probe_esc("%s is mounted without nodev", mp);
	}
	return probe_verdict();
}

/* ---- namespaces --------------------------------------------------------------------- */

struct ns_flag {
	const char *name;
	int flag;
	const char *flag_name;
};

#define NS(n, f)         \
	{                \
		n, f, #f \
	}
static const struct ns_flag ns_flags[] = {
    NS("user", CLONE_NEWUSER),	   NS("mnt", CLONE_NEWNS),    NS("pid", CLONE_NEWPID),
    NS("net", CLONE_NEWNET),	   NS("uts", CLONE_NEWUTS),   NS("ipc", CLONE_NEWIPC),
    NS("cgroup", CLONE_NEWCGROUP), NS("time", CLONE_NEWTIME),
};

static int unshare_child(void *arg)
{
	const struct ns_flag *f = arg;

	(void)probe_must_fail(unshare(f->flag), f->name);
	return 0;
}

static int do_unshare(const char *ns)
{
	for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
		if (strcmp(ns_flags[i].name, ns) != 0)
			continue;
		int st = probe_in_child(unshare_child, (void *)&ns_flags[i], ATTACK_TIMEOUT);
		if (st < 0 || !WIFEXITED(st))
			return probe_fail("child failed (status %d)", st);
		if (probe_sh->escaped)
			(void)snprintf(probe_sh->detail, sizeof(probe_sh->detail),
				       "unshare(%s) succeeded", ns_flags[i].flag_name);
		return probe_verdict();
	}
	return probe_fail("unknown namespace %s", ns);
}

#define UNSHARE_ATTACK(n)                               \
	static int a_unshare_##n(int argc, char **argv) \
	{                                               \
		(void)argc, (void)argv;                 \
		return do_unshare(#n);                  \
	}
UNSHARE_ATTACK(user)
UNSHARE_ATTACK(mnt)
UNSHARE_ATTACK(pid)
UNSHARE_ATTACK(net)
UNSHARE_ATTACK(uts)
UNSHARE_ATTACK(ipc)
UNSHARE_ATTACK(cgroup)
UNSHARE_ATTACK(time)

static int setns_child(void *arg)
{
	const char *pid = arg;

	for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
		char path[64];
		(void)snprintf(path, sizeof(path), "/proc/%s/ns/%s", pid, ns_flags[i].name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (strcmp(pid, "1") == 0)
			probe_esc("opened %s", path);
		if (setns(fd, 0) == 0)
			probe_esc("setns(%s)", path);
		(void)close(fd);
	}
	if (strcmp(pid, "1") == 0) {
		int pfd = (int)syscall(SYS_pidfd_open, 1, 0);
		if (pfd >= 0) {
			if (setns(pfd, CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC) ==
			    0)
				probe_esc("setns(pidfd of pid 1)");
			(void)close(pfd);
		}
	}
	return 0;
}

static int a_setns_self(int argc, char **argv)
{
	(void)argc, (void)argv;
	int st = probe_in_child(setns_child, "self", ATTACK_TIMEOUT);
	if (st < 0 || !WIFEXITED(st))
		return probe_fail("child failed (status %d)", st);
	return probe_verdict();
}

static int a_setns_init(int argc, char **argv)
{
	(void)argc, (void)argv;
	int st = probe_in_child(setns_child, "1", ATTACK_TIMEOUT);
	if (st < 0 || !WIFEXITED(st))
		return probe_fail("child failed (status %d)", st);
	return probe_verdict();
}

static int raw_clone(unsigned long flags, const char *what)
{
	long r = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);

	if (r == 0)
		_exit(0);
	if (r > 0) {
		(void)waitpid((pid_t)r, NULL, 0);
		probe_esc("%s succeeded", what);
	}
	return probe_verdict();
}

static int a_clone_newuser(int argc, char **argv)
{
	(void)argc, (void)argv;
	return raw_clone(CLONE_NEWUSER, "clone(CLONE_NEWUSER)");
}

static int a_clone_newns(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)raw_clone(CLONE_NEWNS, "clone(CLONE_NEWNS)");
	(void)raw_clone(CLONE_NEWNET | CLONE_NEWPID, "clone(CLONE_NEWNET|CLONE_NEWPID)");
	return probe_verdict();
}

/* clone3's flags live in memory seccomp cannot read: it must get ENOSYS (so libc falls back
 * to clone, whose flags the filter checks), never EPERM and never success. */
static int a_clone3(int argc, char **argv)
{
	static const unsigned long long flagsets[] = {0, CLONE_NEWUSER, CLONE_NEWNS | CLONE_NEWPID};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(flagsets) / sizeof(flagsets[0]); i++) {
		struct clone_args ca = {.flags = flagsets[i], .exit_signal = SIGCHLD};
		long r = syscall(SYS_clone3, &ca, sizeof(ca));
		if (r == 0)
			_exit(0);
		if (r > 0) {
			(void)waitpid((pid_t)r, NULL, 0);
			probe_esc("clone3(flags 0x%llx) succeeded", flagsets[i]);
		} else if (errno != ENOSYS) {
			probe_esc("clone3(flags 0x%llx) gave %s, not ENOSYS", flagsets[i],
				  probe_ename(errno));
		}
	}
	return probe_verdict();
}

static const struct attack attacks[] = {
    {"mount-tmpfs", a_mount_tmpfs, 0, "mount a tmpfs"},
    {"mount-bind", a_mount_bind, 0, "bind-mount / and /proc"},
    {"mount-proc", a_mount_proc, 0, "mount proc, sysfs, cgroup"},
    {"mount-api", a_mount_api, 0, "fsopen, open_tree, fspick"},
    {"remount-rw", a_remount_rw, 0, "make a read-only mount writable [PATH...]"},
    {"umount", a_umount, 0, "umount2 (real unmounts only --inside)"},
    {"pivot-root", a_pivot_root, 0, "pivot_root"},
    {"chroot", a_chroot, 0, "chroot"},
    {"mount-flags", a_mount_flags, 0, "every mount nosuid, nodev outside /dev"},
    {"unshare-user", a_unshare_user, 0, "unshare(CLONE_NEWUSER)"},
    {"unshare-mnt", a_unshare_mnt, 0, "unshare(CLONE_NEWNS)"},
    {"unshare-pid", a_unshare_pid, 0, "unshare(CLONE_NEWPID)"},
    {"unshare-net", a_unshare_net, 0, "unshare(CLONE_NEWNET)"},
    {"unshare-uts", a_unshare_uts, 0, "unshare(CLONE_NEWUTS)"},
    {"unshare-ipc", a_unshare_ipc, 0, "unshare(CLONE_NEWIPC)"},
    {"unshare-cgroup", a_unshare_cgroup, 0, "unshare(CLONE_NEWCGROUP)"},
    {"unshare-time", a_unshare_time, 0, "unshare(CLONE_NEWTIME)"},
    {"setns-self", a_setns_self, 0, "setns on /proc/self/ns/*"},
    {"setns-init", a_setns_init, 0, "open /proc/1/ns/*, setns, pidfd setns"},
    {"clone-newuser", a_clone_newuser, 0, "clone(CLONE_NEWUSER)"},
    {"clone-newns", a_clone_newns, 0, "clone(CLONE_NEWNS), clone(NEWNET|NEWPID)"},
    {"clone3", a_clone3, 0, "clone3 must give ENOSYS"},
};

const struct probe_table probe_mounts_table = PROBE_TABLE(attacks);
