/* SPDX-License-Identifier: MIT */
/*
 * The sandbox's file system: a fresh tmpfs root holding only what the policy binds
 * (read-only, nosuid, nodev unless it says rw), a fresh /proc, a /dev with five harmless
 * device nodes, size-limited tmpfs mounts, and generated /etc/passwd and /etc/group.
 *
 * The parent resolves everything on the host first (sbx_mounts_plan: lstat of sources,
 * symlinks to recreate, file contents). The child (sbx_mounts_apply) then only makes
 * syscalls, in a private mount namespace:
 *   1. make every mount private, so nothing propagates back to the host;
 *   2. mount a small tmpfs on /tmp *of this namespace* and pivot into it, the old root
 *      staying reachable at /oldroot (bwrap's scheme; no path is created on the host, so
 *      there is no predictable path in a shared /tmp to race, bubblewrap CVE-2019-12439);
 *   3. build the new root on another tmpfs at /newroot, creating every mount point through
 *      directory fds with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so a symlink can
 *      never redirect a mount outside the new root;
 *   4. attach binds with the new mount API (open_tree + mount_setattr + move_mount): the
 *      read-only flag is set recursively on the detached tree before it is attached, so no
 *      writable window exists and submounts are read-only too;
 *   5. make the root itself read-only, pivot_root(".", ".") and detach the old root.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "common/macro.h"
#include "sandbox/internal.h"

#define OLDROOT "/oldroot"

/* ------------------------------------------------------------------ parent: the plan */

static int plan_add(struct sbx_mount_plan *plan, const struct sbx_mount *m)
{
	struct sbx_mount *v = realloc(plan->v, (plan->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	plan->v = v;
	plan->v[plan->n++] = *m;
	return 0;
}

static int add_bind(struct sbx_mount_plan *plan, const struct sbx_bind *b,
		    struct sbx_sandbox_error *reterr)
{
	struct sbx_mount m = {.kind = SBX_MNT_BIND, .rw = b->rw};
	struct stat st;
	char link[PATH_MAX];
	int r;

	if (lstat(b->source, &st) < 0) {
		r = -errno;
		if (r == -ENOENT && b->optional)
			return 0;
		(void)snprintf(reterr->detail, sizeof(reterr->detail), "bind source '%s'",
			       b->source);
		return r;
	}
	/* Merged-/usr hosts have /lib -> usr/lib: recreate the link rather than bind it,
	 * so paths inside the sandbox look like the host's. */
	if (S_ISLNK(st.st_mode) && strcmp(b->source, b->target) == 0) {
		ssize_t k = readlink(b->source, link, sizeof(link) - 1);
		if (k < 0) {
			(void)snprintf(reterr->detail, sizeof(reterr->detail), "bind source '%s'",
				       b->source);
			return -errno;
		}
		link[k] = '\0';
		m.kind = SBX_MNT_SYMLINK;
		m.source = strdup(link);
	} else {
		if (stat(b->source, &st) < 0) {
			r = -errno;
			if (r == -ENOENT && b->optional)
				return 0;
			(void)snprintf(reterr->detail, sizeof(reterr->detail), "bind source '%s'",
				       b->source);
			return r;
		}
		m.is_dir = S_ISDIR(st.st_mode);
		if (asprintf(&m.source, OLDROOT "%s", b->source) < 0)
			m.source = NULL;
	}
	m.target = strdup(b->target + 1);
	if (!m.source || !m.target || plan_add(plan, &m) < 0) {
		free(m.source);
		free(m.target);
		return -ENOMEM;
	}
	return 0;
}

static bool policy_mounts(const struct sbx_policy *p, const char *target)
{
	for (size_t i = 0; i < p->n_binds; i++)
		if (strcmp(p->binds[i].target, target) == 0 ||
		    strcmp(p->binds[i].target, "/etc") == 0)
			return true;
	return false;
}

static int add_file(struct sbx_mount_plan *plan, const char *target, const char *content)
{
	struct sbx_mount m = {
	    .kind = SBX_MNT_FILE,
	    .target = strdup(target),
	    .content = content,
	    .content_len = strlen(content),
	};

	if (!m.target || plan_add(plan, &m) < 0) {
		free(m.target);
		return -ENOMEM;
	}
	return 0;
}

int sbx_mounts_plan(const struct sbx_policy *p, uid_t uid, gid_t gid, struct sbx_mount_plan *ret,
		    struct sbx_sandbox_error *reterr)
{
	struct sbx_mount_plan plan = {0};
	int r;

	for (size_t i = 0; i < p->n_binds; i++) {
		r = add_bind(&plan, &p->binds[i], reterr);
		if (r < 0)
			goto fail;
	}
	for (size_t i = 0; i < p->n_tmpfs; i++) {
		struct sbx_mount m = {.kind = SBX_MNT_TMPFS, .rw = true};
		m.target = strdup(p->tmpfs[i].target + 1);
		if (asprintf(&m.options, "%llu", (unsigned long long)p->tmpfs[i].size) < 0)
			m.options = NULL;
		m.mode = p->tmpfs[i].mode;
		if (!m.target || !m.options || plan_add(&plan, &m) < 0) {
			free(m.target);
			free(m.options);
			r = -ENOMEM;
			goto fail;
		}
	}
	/* Only the sandbox's own user and group, not the host's account list. */
	if (asprintf(&plan.passwd,
		     "root:x:0:0:root:/root:/usr/sbin/nologin\n"
		     "sbx:x:%u:%u:sbx sandbox:/tmp:/bin/sh\n"
		     "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		     (unsigned)uid, (unsigned)gid) < 0 ||
	    asprintf(&plan.group, "root:x:0:\nsbx:x:%u:\nnogroup:x:65534:\n", (unsigned)gid) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	if (!policy_mounts(p, "/etc/passwd") &&
	    (r = add_file(&plan, "etc/passwd", plan.passwd)) < 0)
		goto fail;
	if (!policy_mounts(p, "/etc/group") && (r = add_file(&plan, "etc/group", plan.group)) < 0)
		goto fail;
	*ret = plan;
	return 0;
fail:
	if (!reterr->step[0])
		(void)snprintf(reterr->step, sizeof(reterr->step), "%s", "bind_source");
	reterr->err = -r;
	sbx_mounts_plan_done(&plan);
	return r;
}

void sbx_mounts_plan_done(struct sbx_mount_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		free(plan->v[i].source);
		free(plan->v[i].target);
		free(plan->v[i].options);
	}
	free(plan->v);
	free(plan->passwd);
	free(plan->group);
	*plan = (struct sbx_mount_plan){0};
}

/* ------------------------------------------------------------------ child: syscalls only */

static int openat2_beneath(int dirfd, const char *name, int flags, mode_t mode)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
	    .mode = (flags & O_CREAT) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
}

/*
 * Walks target ("usr/lib/x") below rootfd, creating missing directories, and returns an
 * O_PATH fd of the parent with *ret_name pointing at the last component inside buf.
 */
static int walk_parent(int rootfd, const char *target, char *buf, size_t len, const char **ret_name)
{
	char *p, *slash;
	int dfd;

	if (strlen(target) >= len)
		return -ENAMETOOLONG;
	memcpy(buf, target, strlen(target) + 1);
	dfd = openat2_beneath(rootfd, ".", O_PATH | O_DIRECTORY, 0);
	if (dfd < 0)
		return negative_errno();
	for (p = buf; (slash = strchr(p, '/')); p = slash + 1) {
		int nfd;
		*slash = '\0';
		if (mkdirat(dfd, p, 0755) < 0 && errno != EEXIST) {
			int r = negative_errno();
			(void)close(dfd);
			return r;
		}
		nfd = openat2_beneath(dfd, p, O_PATH | O_DIRECTORY, 0);
		(void)close(dfd);
		if (nfd < 0)
			return negative_errno();
		dfd = nfd;
	}
	*ret_name = p;
	return dfd;
}

/* Creates the mount point (a directory or an empty file) and returns an O_PATH fd to it. */
static int make_point(int rootfd, const char *target, bool dir, int report_fd)
{
	char buf[PATH_MAX];
	const char *name;
	int pfd = walk_parent(rootfd, target, buf, sizeof(buf), &name);
	int fd;

	if (pfd < 0)
		sbx_child_fail(report_fd, "mount_point", -pfd);
	if (dir) {
		/* NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage): set when pfd >= 0 */
		if (mkdirat(pfd, name, 0755) < 0 && errno != EEXIST)
			sbx_child_fail(report_fd, "mount_point", errno);
		fd = openat2_beneath(pfd, name, O_PATH | O_DIRECTORY, 0);
	} else {
		/* An existing file (a /proc entry to mask) is used as it is: opening it for
		 * writing would need a permission a user-namespace child lacks. */
		/* NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage): set when pfd >= 0 */
		fd = openat2_beneath(pfd, name, O_PATH, 0);
		if (fd < 0 && errno == ENOENT) {
			fd = openat2_beneath(pfd, name, O_WRONLY | O_CREAT | O_EXCL, 0644);
			if (fd >= 0) {
				(void)close(fd);
				fd = openat2_beneath(pfd, name, O_PATH, 0);
			}
		}
	}
	if (fd < 0)
		sbx_child_fail(report_fd, "mount_point", errno);
	(void)close(pfd);
	return fd;
}

static void attach(int tree, int pointfd, const char *step, int report_fd)
{
	if (move_mount(tree, "", pointfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
	    0)
		sbx_child_fail(report_fd, step, errno);
	(void)close(tree);
	(void)close(pointfd);
}

/* Clones the host tree at source, sets its flags recursively while detached, attaches it. */
static void bind_at(int rootfd, const char *source, const char *target, bool dir, uint64_t attrs,
		    int report_fd)
{
	struct mount_attr attr = {.attr_set = attrs, .propagation = MS_PRIVATE};
	int pointfd = make_point(rootfd, target, dir, report_fd);
	int tree = open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);

	if (tree < 0)
		sbx_child_fail(report_fd, "bind", errno);
	if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		sbx_child_fail(report_fd, "bind_attr", errno);
	attach(tree, pointfd, "bind", report_fd);
}

/* How fs_at() makes a file system: size and mode are fsconfig strings, NULL to leave unset. */
struct fs_opts {
	const char *fstype;
	const char *size;
	const char *mode;
	uint64_t attrs;
};

/* A new file system instance (tmpfs, proc) attached at target. */
static void fs_at(int rootfd, const char *target, const struct fs_opts *o, int report_fd)
{
	int pointfd = make_point(rootfd, target, true, report_fd);
	int fs = fsopen(o->fstype, FSOPEN_CLOEXEC);
	int mnt;

	if (fs < 0)
		sbx_child_fail(report_fd, o->fstype, errno);
	if ((o->size && fsconfig(fs, FSCONFIG_SET_STRING, "size", o->size, 0) < 0) ||
	    (o->mode && fsconfig(fs, FSCONFIG_SET_STRING, "mode", o->mode, 0) < 0) ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		sbx_child_fail(report_fd, o->fstype, errno);
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned)o->attrs);
	if (mnt < 0)
		sbx_child_fail(report_fd, o->fstype, errno);
	(void)close(fs);
	attach(mnt, pointfd, o->fstype, report_fd);
}

static void write_file(int rootfd, const struct sbx_mount *m, int report_fd)
{
	char buf[PATH_MAX];
	const char *name;
	int pfd = walk_parent(rootfd, m->target, buf, sizeof(buf), &name);
	int fd;

	if (pfd < 0)
		sbx_child_fail(report_fd, "etc_file", -pfd);
	/* NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage): set when pfd >= 0 */
	fd = openat2_beneath(pfd, name, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0 || write(fd, m->content, m->content_len) != (ssize_t)m->content_len)
		sbx_child_fail(report_fd, "etc_file", errno ? errno : EIO);
	(void)close(fd);
	(void)close(pfd);
}

static void make_symlink(int rootfd, const char *text, const char *target, int report_fd)
{
	char buf[PATH_MAX];
	const char *name;
	int pfd = walk_parent(rootfd, target, buf, sizeof(buf), &name);

	/* NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage): set when pfd >= 0 */
	if (pfd < 0 || symlinkat(text, pfd, name) < 0)
		sbx_child_fail(report_fd, "symlink", pfd < 0 ? -pfd : errno);
	(void)close(pfd);
}

/* /dev: a tmpfs with five device nodes bound from the host, plus the usual fd links. */
static void make_dev(int rootfd, int report_fd)
{
	static const char *const nodes[] = {"null", "zero", "full", "random", "urandom"};
	static const char *const links[][2] = {{"/proc/self/fd", "dev/fd"},
					       {"/proc/self/fd/0", "dev/stdin"},
					       {"/proc/self/fd/1", "dev/stdout"},
					       {"/proc/self/fd/2", "dev/stderr"}};
	static const struct fs_opts dev = {.fstype = "tmpfs",
					   .size = "65536",
					   .mode = "0755",
					   .attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC};
	char src[64], dst[64];

	fs_at(rootfd, "dev", &dev, report_fd);
	for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
		(void)snprintf(src, sizeof(src), OLDROOT "/dev/%s", nodes[i]);
		(void)snprintf(dst, sizeof(dst), "dev/%s", nodes[i]);
		bind_at(rootfd, src, dst, false, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, report_fd);
	}
	for (size_t i = 0; i < ARRAY_SIZE(links); i++)
		make_symlink(rootfd, links[i][0], links[i][1], report_fd);
}

/* Fresh procfs for the new pid namespace; kernel knobs read-only, leaky files masked. */
static void make_proc(int rootfd, int report_fd)
{
	static const char *const ro[] = {"proc/sys", "proc/sysrq-trigger", "proc/irq", "proc/bus",
					 "proc/fs"};
	static const char *const masked[] = {"proc/kcore", "proc/keys", "proc/timer_list",
					     "proc/sched_debug"};
	const uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
	const struct fs_opts proc = {.fstype = "proc", .attrs = attrs};
	char src[64];

	fs_at(rootfd, "proc", &proc, report_fd);
	for (size_t i = 0; i < ARRAY_SIZE(ro); i++) {
		struct stat st;
		(void)snprintf(src, sizeof(src), "/newroot/%s", ro[i]);
		if (stat(src, &st) < 0)
			continue; /* not every kernel has every file */
		bind_at(rootfd, src, ro[i], S_ISDIR(st.st_mode), attrs | MOUNT_ATTR_RDONLY,
			report_fd);
	}
	for (size_t i = 0; i < ARRAY_SIZE(masked); i++) {
		struct stat st;
		(void)snprintf(src, sizeof(src), "/newroot/%s", masked[i]);
		if (stat(src, &st) < 0)
			continue;
		bind_at(rootfd, "/newroot/dev/null", masked[i], false, attrs | MOUNT_ATTR_RDONLY,
			report_fd);
	}
}

void sbx_mounts_apply(const struct sbx_mount_plan *plan, int report_fd)
{
	const uint64_t ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	struct mount_attr rdonly = {.attr_set = MOUNT_ATTR_RDONLY};
	char mode[8];
	int rootfd;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		sbx_child_fail(report_fd, "make_private", errno);
	if (mount("sbx-base", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=16k,mode=0700") < 0)
		sbx_child_fail(report_fd, "base_tmpfs", errno);
	if (chdir("/tmp") < 0 || mkdir("newroot", 0755) < 0 || mkdir("oldroot", 0700) < 0)
		sbx_child_fail(report_fd, "base_tmpfs", errno);
	if (syscall(SYS_pivot_root, ".", "oldroot") < 0)
		sbx_child_fail(report_fd, "pivot_root", errno);
	if (chdir("/") < 0)
		sbx_child_fail(report_fd, "pivot_root", errno);
	if (mount("sbx-root", "/newroot", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") < 0)
		sbx_child_fail(report_fd, "root_tmpfs", errno);
	rootfd = open("/newroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		sbx_child_fail(report_fd, "root_tmpfs", errno);

	for (size_t i = 0; i < plan->n; i++) {
		const struct sbx_mount *m = &plan->v[i];
		switch (m->kind) {
		case SBX_MNT_BIND:
			bind_at(rootfd, m->source, m->target, m->is_dir,
				m->rw ? (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV) : ro, report_fd);
			break;
		case SBX_MNT_SYMLINK:
			make_symlink(rootfd, m->source, m->target, report_fd);
			break;
		case SBX_MNT_TMPFS: {
			const struct fs_opts tmpfs = {.fstype = "tmpfs",
						      .size = m->options,
						      .mode = mode,
						      .attrs =
							  MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
			(void)snprintf(mode, sizeof(mode), "%o", (unsigned)m->mode);
			fs_at(rootfd, m->target, &tmpfs, report_fd);
			break;
		}
		case SBX_MNT_FILE:
			write_file(rootfd, m, report_fd);
			break;
		}
	}
	make_dev(rootfd, report_fd);
	make_proc(rootfd, report_fd);

	/* The root tmpfs holds only mount points and /etc files: nothing there is writable. */
	if (mount_setattr(rootfd, "", AT_EMPTY_PATH, &rdonly, sizeof(rdonly)) < 0)
		sbx_child_fail(report_fd, "root_readonly", errno);
	if (fchdir(rootfd) < 0)
		sbx_child_fail(report_fd, "pivot_root", errno);
	(void)close(rootfd);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		sbx_child_fail(report_fd, "pivot_root", errno);
	/* The base and the host's root now sit on top of ours; detach them for good. */
	if (umount2(".", MNT_DETACH) < 0)
		sbx_child_fail(report_fd, "umount_oldroot", errno);
	if (chdir("/") < 0)
		sbx_child_fail(report_fd, "pivot_root", errno);
}
