/* SPDX-License-Identifier: MIT */
/*
 * cgroup limits of a sandbox: memory, pids and cpu, each through cgroup v2 where the unified
 * hierarchy offers that controller and through its v1 hierarchy where it does not (hybrid
 * hosts, and this project's CI machine, keep memory/pids/cpu on v1). A limit the policy sets
 * but no hierarchy can enforce is an error, never silently skipped.
 *
 * Layout: v2 groups live under SBX_CGROUP_V2_PARENT of the unified hierarchy, unless the
 * supervisor was given a delegated subtree (systemd's Delegate=yes marks it with the xattr
 * trusted.delegate=1): then sbx_cgroup_delegate() moves the supervisor into a leaf
 * "<own>/supervisor" (cgroup v2 allows no process in a group whose controllers are enabled for
 * children) and task groups become its siblings, "<own>/<task id>". v1 groups live under the
 * invoking process's own group of that hierarchy plus "/sbx", so a supervisor confined by its
 * own limits keeps its tasks inside them. Each task gets one directory named by its task id in
 * each hierarchy used.
 *
 * Discovery (mountinfo, /proc/self/cgroup) runs once per process; the spawn path only does
 * mkdir, a few short writes and the attach.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>
#include <sys/xattr.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "sandbox/internal.h"

#define SBX_CGROUP_V2_PARENT "/sbx"

enum ctl {
	CTL_MEMORY,
	CTL_PIDS,
	CTL_CPU,
	_CTL_MAX
};
static const char *const ctl_names[_CTL_MAX] = {"memory", "pids", "cpu"};

/* Where each controller lives on this host. */
static struct {
	bool done;
	int err;
	char v2_mount[PATH_MAX];  /* "" when no cgroup2 mount */
	char v2_parent[PATH_MAX]; /* where task groups are made: "<mount>/sbx" or delegated */
	bool delegated;		  /* v2_parent is our delegated subtree */
	bool on_v2[_CTL_MAX];	  /* controller available in the unified root */
	char v1_base[_CTL_MAX][PATH_MAX]; /* "<mount><own path>/sbx"; "" when absent */
} host;

struct sbx_cgroup {
	char v2[PATH_MAX]; /* "" when unused */
	int v2fd;	   /* for clone3(CLONE_INTO_CGROUP); -1 when unused */
	char v1[_CTL_MAX][PATH_MAX];
};

/* snprintf that reports truncation instead of hiding it. */
_printf_(3, 4) static int fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	int k;

	va_start(ap, f);
	k = vsnprintf(buf, len, f, ap);
	va_end(ap);
	return k < 0 || (size_t)k >= len ? -ENAMETOOLONG : 0;
}

static bool has_word(const char *list, const char *word, char sep)
{
	size_t n = strlen(word);

	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, sep);
		size_t len = e ? (size_t)(e - p) : strlen(p);
		while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == ' '))
			len--;
		if (len == n && strncmp(p, word, n) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

/* Own path of a v1 hierarchy with this controller, from /proc/self/cgroup. */
static int own_v1_path(const char *cgroups, const char *ctl, char *buf, size_t len)
{
	char line[PATH_MAX + 64];
	const char *p = cgroups;

	while (*p) {
		const char *e = strchrnul(p, '\n');
		size_t n = (size_t)(e - p);
		char *c1, *c2;
		if (n >= sizeof(line))
			return -E2BIG;
		memcpy(line, p, n);
		line[n] = '\0';
		p = *e ? e + 1 : e;
		c1 = strchr(line, ':');
		c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		if (has_word(c1 + 1, ctl, ',')) {
			return fmt(buf, len, "%s", strcmp(c2 + 1, "/") == 0 ? "" : c2 + 1);
		}
	}
	return -ENOENT;
}

static int discover(void)
{
	_cleanup_free_ char *mountinfo = NULL, *cgroups = NULL, *controllers = NULL;
	char path[PATH_MAX + 32];
	int r;

	if (host.done)
		return host.err;
	host.done = true;
	r = sbx_fd_read_file("/proc/self/mountinfo", 1 << 20, &mountinfo, NULL);
	if (r < 0 || (r = sbx_fd_read_file("/proc/self/cgroup", 1 << 16, &cgroups, NULL)) < 0)
		return host.err = r;

	for (char *line = strtok(mountinfo, "\n"); line; line = strtok(NULL, "\n")) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		char mnt[PATH_MAX], fstype[32], superopts[512];
		const char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(dash + 3, "%31s %*s %511s", fstype, superopts) != 2)
			continue;
		if (strcmp(fstype, "cgroup2") == 0 && !host.v2_mount[0]) {
			(void)fmt(host.v2_mount, sizeof(host.v2_mount), "%s", mnt);
			continue;
		}
		if (strcmp(fstype, "cgroup") != 0)
			continue;
		for (int c = 0; c < _CTL_MAX; c++) {
			char own[PATH_MAX];
			if (host.v1_base[c][0] || !has_word(superopts, ctl_names[c], ','))
				continue;
			if (own_v1_path(cgroups, ctl_names[c], own, sizeof(own)) < 0)
				continue;
			(void)fmt(host.v1_base[c], sizeof(host.v1_base[c]), "%s%s/sbx", mnt, own);
		}
	}
	if (host.v2_mount[0]) {
		(void)fmt(host.v2_parent, sizeof(host.v2_parent), "%s%s", host.v2_mount,
			  SBX_CGROUP_V2_PARENT);
		(void)fmt(path, sizeof(path), "%s/cgroup.controllers", host.v2_mount);
		if (sbx_fd_read_file(path, 4096, &controllers, NULL) == 0)
			for (int c = 0; c < _CTL_MAX; c++)
				host.on_v2[c] = has_word(controllers, ctl_names[c], ' ');
	}
	return 0;
}

static int write_at(const char *dir, const char *file, const char *value)
{
	char path[PATH_MAX + 64];

	(void)fmt(path, sizeof(path), "%s/%s", dir, file);
	return sbx_fd_write_string(AT_FDCWD, path, value);
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Enables the controllers a v2 task group needs in the parents' subtree_control. */
static int v2_prepare(const bool use[_CTL_MAX])
{
	char parent[PATH_MAX + 32], ctl[64] = "";
	size_t n = 0;
	int r;

	/* " +memory +pids +cpu" at most: well inside ctl. */
	for (int c = 0; c < _CTL_MAX; c++)
		if (use[c])
			n += (size_t)snprintf(ctl + n, sizeof(ctl) - n, "%s+%s", n ? " " : "",
					      ctl_names[c]);
	if (host.delegated)
		return 0; /* sbx_cgroup_delegate enabled what the subtree offers */
	(void)fmt(parent, sizeof(parent), "%s", host.v2_parent);
	r = make_dir(parent);
	if (r < 0 || !ctl[0])
		return r;
	r = write_at(host.v2_mount, "cgroup.subtree_control", ctl);
	if (r < 0)
		return r;
	return write_at(parent, "cgroup.subtree_control", ctl);
}

static int set_limits(struct sbx_cgroup *cg, const struct sbx_policy *p, const bool v2[_CTL_MAX])
{
	char buf[64];
	int r = 0;

	if (p->memory_max) {
		const char *dir = v2[CTL_MEMORY] ? cg->v2 : cg->v1[CTL_MEMORY];
		(void)fmt(buf, sizeof(buf), "%llu", (unsigned long long)p->memory_max);
		if (v2[CTL_MEMORY]) {
			r = write_at(dir, "memory.max", buf);
			(void)write_at(dir, "memory.swap.max",
				       "0"); /* absent without swap accounting */
		} else {
			r = write_at(dir, "memory.limit_in_bytes", buf);
			(void)write_at(dir, "memory.memsw.limit_in_bytes", buf);
		}
		if (r < 0)
			return r;
	}
	if (p->pids_max) {
		(void)fmt(buf, sizeof(buf), "%llu", (unsigned long long)p->pids_max);
		r = write_at(v2[CTL_PIDS] ? cg->v2 : cg->v1[CTL_PIDS], "pids.max", buf);
		if (r < 0)
			return r;
	}
	if (p->cpu_millis) {
		unsigned long long quota = (unsigned long long)p->cpu_millis * 100;
		if (v2[CTL_CPU]) {
			(void)fmt(buf, sizeof(buf), "%llu 100000", quota);
			r = write_at(cg->v2, "cpu.max", buf);
		} else {
			r = write_at(cg->v1[CTL_CPU], "cpu.cfs_period_us", "100000");
			(void)fmt(buf, sizeof(buf), "%llu", quota);
			if (r >= 0)
				r = write_at(cg->v1[CTL_CPU], "cpu.cfs_quota_us", buf);
		}
	}
	return r;
}

int sbx_cgroup_create(const char *task_id, const struct sbx_policy *p, struct sbx_cgroup **ret,
		      struct sbx_sandbox_error *reterr)
{
	const bool want[_CTL_MAX] = {p->memory_max > 0, p->pids_max > 0, p->cpu_millis > 0};
	bool v2[_CTL_MAX] = {false};
	struct sbx_cgroup *cg;
	int r = discover();

	(void)fmt(reterr->step, sizeof(reterr->step), "cgroup");
	if (r < 0)
		return r;
	cg = calloc(1, sizeof(*cg));
	if (!cg)
		return -ENOMEM;
	cg->v2fd = -1;
	for (int c = 0; c < _CTL_MAX; c++) {
		v2[c] = want[c] && host.on_v2[c];
		if (want[c] && !v2[c] && !host.v1_base[c][0]) {
			(void)fmt(reterr->detail, sizeof(reterr->detail),
				  "no cgroup controller '%s' on this host (neither v2 nor v1)",
				  ctl_names[c]);
			free(cg);
			return -EOPNOTSUPP;
		}
	}
	/* A v2 group always, when v2 exists: it holds the cgroup namespace and cgroup.kill. */
	if (host.v2_mount[0]) {
		r = v2_prepare(v2);
		if (r < 0) {
			(void)fmt(reterr->detail, sizeof(reterr->detail),
				  "enabling controllers in '%s'", host.v2_parent);
			goto fail;
		}
		r = fmt(cg->v2, sizeof(cg->v2), "%s/%s", host.v2_parent, task_id);
		if (r < 0 || mkdir(cg->v2, 0755) < 0) {
			r = r < 0 ? r : -errno;
			cg->v2[0] = '\0';
			(void)fmt(reterr->detail, sizeof(reterr->detail), "mkdir cgroup '%s'",
				  task_id);
			goto fail;
		}
	}
	for (int c = 0; c < _CTL_MAX; c++) {
		if (!want[c] || v2[c])
			continue;
		r = make_dir(host.v1_base[c]);
		if (r < 0)
			goto fail_v1;
		(void)fmt(cg->v1[c], sizeof(cg->v1[c]), "%s/%s", host.v1_base[c], task_id);
		if (mkdir(cg->v1[c], 0755) < 0) {
			r = -errno;
			cg->v1[c][0] = '\0';
			goto fail_v1;
		}
	}
	if (cg->v2[0]) {
		cg->v2fd = open(cg->v2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cg->v2fd < 0) {
			r = -errno;
			goto fail;
		}
	}
	r = set_limits(cg, p, v2);
	if (r < 0) {
		(void)fmt(reterr->detail, sizeof(reterr->detail), "setting cgroup limits");
		goto fail;
	}
	reterr->step[0] = '\0';
	*ret = cg;
	return 0;
fail_v1:
	(void)fmt(reterr->detail, sizeof(reterr->detail), "creating cgroup v1 group for '%s'",
		  task_id);
fail:
	(void)sbx_cgroup_destroy(cg);
	return r;
}

int sbx_cgroup_clone_fd(const struct sbx_cgroup *cg)
{
	return cg->v2fd;
}

/*
 * Runs in the child: moves its only thread into each v1 group by writing "0" to `tasks`.
 * A process migration (cgroup.procs, or any pid but our own) takes the global
 * cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period: ~10 ms per
 * spawn. Moving the current thread skips that lock (kernel/cgroup/cgroup.c,
 * cgroup_procs_write_start). v2 needs no move at all: clone3 places the child with
 * CLONE_INTO_CGROUP.
 */
void sbx_cgroup_join_v1(const struct sbx_cgroup *cg, int report_fd)
{
	char path[PATH_MAX + 8];

	for (int c = 0; c < _CTL_MAX; c++) {
		size_t n = strlen(cg->v1[c]);
		int fd;
		if (n == 0)
			continue;
		memcpy(path, cg->v1[c], n);
		memcpy(path + n, "/tasks", 7);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			sbx_child_fail(report_fd, "cgroup_join", errno ? errno : EIO);
		(void)close(fd);
	}
}

/* The fallback of a clone without CLONE_INTO_CGROUP: a whole-process migration (the slow,
 * locked path that clone3 avoids), before anything runs. */
void sbx_cgroup_join_v2(const struct sbx_cgroup *cg, int report_fd)
{
	int fd = openat(cg->v2fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "0", 1) != 1)
		sbx_child_fail(report_fd, "cgroup_join", errno ? errno : EIO);
	(void)close(fd);
}

static bool read_counter(const char *dir, const char *file, const char *key)
{
	_cleanup_free_ char *text = NULL;
	char path[PATH_MAX + 64];
	const char *p;

	(void)fmt(path, sizeof(path), "%s/%s", dir, file);
	if (sbx_fd_read_file(path, 65536, &text, NULL) < 0)
		return false;
	for (p = text; (p = strstr(p, key)); p += strlen(key))
		if ((p == text || p[-1] == '\n') && p[strlen(key)] == ' ')
			return strtoull(p + strlen(key) + 1, NULL, 10) > 0;
	return false;
}

bool sbx_cgroup_oom_killed(struct sbx_cgroup *cg)
{
	if (cg->v1[CTL_MEMORY][0])
		return read_counter(cg->v1[CTL_MEMORY], "memory.oom_control", "oom_kill");
	if (cg->v2[0])
		return read_counter(cg->v2, "memory.events", "oom_kill");
	return false;
}

/* SIGKILLs every process still listed in dir (v1 has no cgroup.kill). */
static void kill_listed(const char *dir)
{
	_cleanup_free_ char *procs = NULL;
	char path[PATH_MAX + 32];

	(void)fmt(path, sizeof(path), "%s/cgroup.procs", dir);
	if (sbx_fd_read_file(path, 1 << 20, &procs, NULL) < 0)
		return;
	for (char *s = strtok(procs, "\n"); s; s = strtok(NULL, "\n"))
		(void)kill((pid_t)strtol(s, NULL, 10), SIGKILL);
}

/* rmdir, killing stragglers and waiting for exiting tasks (up to ~1 s). */
static void remove_group(const char *dir, bool v2)
{
	const struct timespec ms = {0, 1000000};

	for (int i = 0; i < 1000; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return;
		if (errno != EBUSY)
			return;
		if (!v2 || write_at(dir, "cgroup.kill", "1") < 0)
			kill_listed(dir);
		(void)nanosleep(&ms, NULL);
	}
}

struct sbx_cgroup *sbx_cgroup_destroy(struct sbx_cgroup *cg)
{
	if (!cg)
		return NULL;
	cg->v2fd = safe_close(cg->v2fd);
	for (int c = 0; c < _CTL_MAX; c++)
		if (cg->v1[c][0])
			remove_group(cg->v1[c], false);
	if (cg->v2[0])
		remove_group(cg->v2, true);
	free(cg);
	return NULL;
}

/* Removes "exec-PID" and "sbxd-PID-N" groups whose sbxctl or sbxd died (SIGKILL gives it no
 * chance to clean up). */
static void prune_dir(const char *dir, bool v2)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX + 300];

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid;
		if (strncmp(de->d_name, "exec-", 5) != 0 && strncmp(de->d_name, "sbxd-", 5) != 0)
			continue;
		pid = strtol(de->d_name + 5, &end, 10);
		if ((*end && *end != '-') || pid <= 0)
			continue;
		/* Alive means another sbxd or sbxctl, unless it is our own pid reused: pruning runs
		 * before we make any group, so one with our pid is a dead namesake's. */
		if ((pid_t)pid != getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		/* Its owner is gone: whatever still runs there is a leftover sandbox (PDEATHSIG
		 * may still be tearing it down), killed before the group goes. */
		if (fmt(path, sizeof(path), "%s/%s", dir, de->d_name) == 0)
			remove_group(path, v2);
	}
	(void)closedir(d);
}

void sbx_cgroup_prune_exec(void)
{
	if (discover() < 0)
		return;
	if (host.v2_parent[0])
		prune_dir(host.v2_parent, true);
	for (int c = 0; c < _CTL_MAX; c++)
		if (host.v1_base[c][0])
			prune_dir(host.v1_base[c], false);
}

/* Our own group of the unified hierarchy ("/a/b", "/" at the root), from /proc/self/cgroup. */
static int own_v2_path(char *buf, size_t len)
{
	_cleanup_free_ char *cgroups = NULL;
	const char *p;
	int r = sbx_fd_read_file("/proc/self/cgroup", 1 << 16, &cgroups, NULL);

	if (r < 0)
		return r;
	for (p = cgroups; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, "0::", 3) == 0)
			return fmt(buf, len, "%.*s", (int)strcspn(p + 3, "\n"), p + 3);
	return -ENOENT;
}

static bool marked_delegated(const char *dir)
{
	static const char *const names[] = {"trusted.delegate", "user.delegate"};
	char v[8];

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		ssize_t n = getxattr(dir, names[i], v, sizeof(v) - 1);
		if (n > 0) {
			v[n] = '\0';
			if (strcmp(v, "1") == 0)
				return true;
		}
	}
	return false;
}

int sbx_cgroup_delegate(char *ret_dir, size_t len)
{
	_cleanup_free_ char *controllers = NULL;
	char own[PATH_MAX], dir[PATH_MAX], leaf[PATH_MAX + 16], ctl[64] = "";
	size_t n = 0;
	int r = discover();

	if (r < 0 || !host.v2_mount[0])
		return r;
	r = own_v2_path(own, sizeof(own));
	if (r < 0)
		return r;
	if (strcmp(own, "/") == 0 || fmt(dir, sizeof(dir), "%s%s", host.v2_mount, own) < 0 ||
	    !marked_delegated(dir))
		return 0;
	/* Into the leaf first: a group with a process cannot enable controllers for children. */
	(void)fmt(leaf, sizeof(leaf), "%s/supervisor", dir);
	r = make_dir(leaf);
	if (r < 0 || (r = write_at(leaf, "cgroup.procs", "0")) < 0)
		return r;
	(void)fmt(leaf, sizeof(leaf), "%s/cgroup.controllers", dir);
	r = sbx_fd_read_file(leaf, 4096, &controllers, NULL);
	if (r < 0)
		return r;
	for (int c = 0; c < _CTL_MAX; c++) {
		host.on_v2[c] = has_word(controllers, ctl_names[c], ' ');
		if (host.on_v2[c])
			n += (size_t)snprintf(ctl + n, sizeof(ctl) - n, "%s+%s", n ? " " : "",
					      ctl_names[c]);
	}
	if (ctl[0] && (r = write_at(dir, "cgroup.subtree_control", ctl)) < 0)
		return r;
	(void)fmt(host.v2_parent, sizeof(host.v2_parent), "%s", dir);
	host.delegated = true;
	if (ret_dir)
		(void)fmt(ret_dir, len, "%s", dir);
	return 1;
}
