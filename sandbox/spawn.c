/* SPDX-License-Identifier: MIT */
/*
 * The parent's side of a sandbox: prepare everything (uid lease, mount plan, rlimits,
 * cgroup, pipes), clone3 into new namespaces with a pidfd, place the child in its cgroup,
 * let it go, and later collect how it ended. Every failure undoes what was done: no
 * process, cgroup, mount or uid lease is left behind.
 *
 * All signals are blocked across clone3, so no handler of the supervisor ever runs in the
 * child; the child resets dispositions before unblocking anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <asm/prctl.h>
#include <linux/sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "sandbox/child.h"
#include "sandbox/internal.h"

#if __has_include(<valgrind/valgrind.h>)
#	include <valgrind/valgrind.h>
#endif

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

struct sbx_sandbox {
	pid_t pid;
	int pidfd;
	int report_fd;
	struct sbx_cgroup *cg;
	int sync_fd;   /* write end while held */
	int listen_fd; /* network mode proxy: the listener, until taken */
	struct sbx_ids_lease lease;
	struct sbx_ids_lease init_lease; /* user namespace mode: init's own uid */
	bool execd;
	bool listener_seen; /* one listener per sandbox, ever */
	bool reaped;
	bool have_exit;
	struct sbx_report exit;
	struct sbx_sandbox_error error;
	struct sbx_sandbox_result result;
};

static const char *find_path(char *const *envp)
{
	for (char *const *e = envp; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			return *e + 5;
	return DEFAULT_PATH;
}

static bool valid_task_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 64 || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return false;
	return true;
}

static void set_error(struct sbx_sandbox_error *e, const char *step, int r)
{
	if (!e->step[0])
		(void)snprintf(e->step, sizeof(e->step), "%s", step);
	e->err = r < 0 ? -r : r;
}

/* Writes the maps of a user namespace sandbox: the payload's and init's pool uids, each the
 * same inside and outside; nothing else (no root) is mapped. */
static int write_id_maps(pid_t pid, uid_t uid, uid_t init_uid)
{
	char path[64], map[96];
	int r;

	(void)snprintf(map, sizeof(map), "%u %u 1\n%u %u 1\n", (unsigned)uid, (unsigned)uid,
		       (unsigned)init_uid, (unsigned)init_uid);
	(void)snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	r = sbx_fd_write_string(AT_FDCWD, path, map);
	if (r < 0)
		return r;
	/* setgroups stays allowed: the payload must drop the supplementary groups it inherited
	 * (the maps are written by a privileged parent, so "deny" is not needed). */
	(void)snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	return sbx_fd_write_string(AT_FDCWD, path, map);
}

/*
 * clone3, or clone(2) where clone3 answers ENOSYS: valgrind up to 3.21 does (so sbxd can run
 * under memcheck), and so do container runtimes whose seccomp profile predates clone3.
 * clone(2) has no CLONE_INTO_CGROUP: the child then joins its v2 group itself (join_v2 is
 * read by the child, so it is set before the clone).
 */
/* NOLINTNEXTLINE(readability-non-const-parameter): the kernel writes it (clone_args.pidfd) */
static pid_t do_clone(const struct sbx_policy *p, int cgroup_fd, int *ret_pidfd, bool *join_v2)
{
	struct clone_args args = {
	    .flags = CLONE_PIDFD | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS,
	    .pidfd = (uint64_t)(uintptr_t)ret_pidfd,
	    .exit_signal = SIGCHLD,
	};
	pid_t pid;

	/* Born in its v2 group: no migration, no cgroup_threadgroup_rwsem write lock. */
	if (cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup_fd;
	}

	if (p->net != SBX_NET_HOST)
		args.flags |= CLONE_NEWNET;
	if (p->user_namespace)
		args.flags |= CLONE_NEWUSER;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid >= 0 || errno != ENOSYS)
		return pid;
	*join_v2 = cgroup_fd >= 0;
	/* x86_64 argument order: flags, stack (NULL: a fork-like copy), parent_tid (the pidfd
	 * with CLONE_PIDFD), child_tid, tls. */
	return (pid_t)syscall(SYS_clone, (args.flags & ~(uint64_t)CLONE_INTO_CGROUP) | SIGCHLD,
			      NULL, ret_pidfd, NULL, 0);
}

#if defined(RUNNING_ON_VALGRIND) && defined(__x86_64__)
/*
 * Under valgrind (`make valgrind`), the child leaves the simulated CPU at once: valgrind 3.19
 * knows neither openat2, nor the new mount API, nor seccomp(2), so the setup steps cannot run
 * under it, and only sbxd itself is under test. VALGRIND_NON_SIMD_CALL1 runs a function on the
 * real CPU; this one never returns (execve or _exit). The real %fs is valgrind's, not the
 * guest's, so the guest's thread pointer is loaded first with a bare arch_prctl: glibc's TLS
 * (errno, the stack protector's canary) lives there. Hence no stack protector in this function.
 */
struct native_start {
	const struct sbx_child *child;
	unsigned long fs;
};

__attribute__((no_stack_protector)) static unsigned long child_native(unsigned tid,
								      unsigned long arg)
{
	/* NOLINTNEXTLINE(performance-no-int-to-ptr): valgrind passes the argument as a word */
	const struct native_start *n = (const struct native_start *)arg;
	long r;

	(void)tid;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "0"((long)SYS_arch_prctl), "D"((long)ARCH_SET_FS), "S"(n->fs)
			 : "rcx", "r11", "memory");
	if (r < 0)
		_exit(125);
	sbx_child_main(n->child);
}
#endif

static _Noreturn void child_start(const struct sbx_child *c)
{
#if defined(RUNNING_ON_VALGRIND) && defined(__x86_64__)
	if (RUNNING_ON_VALGRIND) {
		struct native_start n = {.child = c};
		__asm__("mov %%fs:0, %0" : "=r"(n.fs)); /* glibc: the TCB's first word is itself */
		(void)VALGRIND_NON_SIMD_CALL1(child_native, &n);
		_exit(125);
	}
#endif
	sbx_child_main(c);
}

/* A sandbox with no fds or leases yet: sbx_sandbox_free() can take it as it is. */
static struct sbx_sandbox *sandbox_new(void)
{
	struct sbx_sandbox *sb = calloc(1, sizeof(*sb));

	if (!sb)
		return NULL;
	sb->pidfd = sb->report_fd = sb->lease.lock_fd = sb->init_lease.lock_fd = -1;
	sb->sync_fd = sb->listen_fd = -1;
	return sb;
}

/* The payload's uid lease and, with a user namespace, init's own from the same pool. */
static int lease_uids(const struct sbx_sandbox_params *params, struct sbx_sandbox *sb)
{
	const char *dir = params->runtime_dir ? params->runtime_dir : SBX_RUNTIME_DIR_DEFAULT;
	uint32_t base = params->uid_base ? params->uid_base : SBX_UID_POOL_BASE;
	uint32_t count = params->uid_count ? params->uid_count : SBX_UID_POOL_SIZE;
	int r = sbx_ids_lease(dir, base, count, &sb->lease);

	/* In a user namespace init runs as a mapped uid too: never the payload's, or the
	 * payload could signal it and read its memory. */
	if (r >= 0 && params->policy->user_namespace)
		r = sbx_ids_lease(dir, base, count, &sb->init_lease);
	return r;
}

int sbx_sandbox_spawn(const struct sbx_sandbox_params *params, struct sbx_sandbox **ret,
		      struct sbx_sandbox_error *reterr)
{
	const struct sbx_policy *p = params->policy;
	struct sbx_mount_plan plan = {0};
	struct sbx_rlimits rlimits;
	struct sbx_sandbox *sb = NULL;
	int report[2] = {-1, -1}, sync[2] = {-1, -1};
	sigset_t all, old;
	int r;

	memset(reterr, 0, sizeof(*reterr));
	if (!p || !params->seccomp || !params->argv || !params->argv[0] || !params->envp ||
	    !valid_task_id(params->task_id)) {
		set_error(reterr, "params", -EINVAL);
		return -EINVAL;
	}
	sb = sandbox_new();
	if (!sb) {
		set_error(reterr, "params", -ENOMEM);
		return -ENOMEM;
	}

	r = lease_uids(params, sb);
	if (r < 0) {
		set_error(reterr, "uid_lease", r);
		goto fail;
	}
	r = sbx_mounts_plan(p, sb->lease.uid, sb->lease.uid, &plan, reterr);
	if (r < 0)
		goto fail;
	sbx_rlimits_plan(p, &rlimits);
	r = sbx_cgroup_create(params->task_id, p, &sb->cg, reterr);
	if (r < 0) {
		set_error(reterr, "cgroup", r);
		goto fail;
	}
	/* The report channel is a SOCK_SEQPACKET pair: messages keep their bounds as a pipe's
	 * small writes do, and the proxy listener can travel with SCM_RIGHTS. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report) < 0 ||
	    pipe2(sync, O_CLOEXEC) < 0) {
		r = -errno;
		set_error(reterr, "pipe", r);
		goto fail;
	}

	struct sbx_child child = {
	    .mounts = &plan,
	    .cgroup = sb->cg,
	    .hostname = p->hostname ? p->hostname : "sbx",
	    .own_net = p->net != SBX_NET_HOST,
	    .proxy = p->net == SBX_NET_PROXY,
	    .userns = p->user_namespace,
	    .sync_fd = sync[0],
	    .exec =
		{
		    .argv = params->argv,
		    .envp = params->envp,
		    .path = find_path(params->envp),
		    .cwd = params->cwd ? params->cwd : (p->cwd ? p->cwd : "/"),
		    .stdio = {params->stdio[0], params->stdio[1], params->stdio[2]},
		    .report_fd = report[1],
		    .lock_fd = sb->lease.lock_fd,
		    .init_lock_fd = sb->init_lease.lock_fd,
		    .init_uid = sb->init_lease.uid,
		    .uid = sb->lease.uid,
		    .gid = sb->lease.uid,
		    .rlimits = &rlimits,
		    .seccomp = params->seccomp,
		    .wipe_envp = params->wipe_envp,
		},
	};

	sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	sb->pid = do_clone(p, sbx_cgroup_clone_fd(sb->cg), &sb->pidfd, &child.join_v2);
	if (sb->pid == 0)
		child_start(&child);
	r = sb->pid < 0 ? -errno : 0;
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		set_error(reterr, "clone3", r);
		goto fail;
	}
	report[1] = safe_close(report[1]);
	sync[0] = safe_close(sync[0]);
	sb->report_fd = TAKE_FD(report[0]);
	(void)fcntl(sb->report_fd, F_SETFL, O_NONBLOCK);

	if (p->user_namespace &&
	    (r = write_id_maps(sb->pid, sb->lease.uid, sb->init_lease.uid)) < 0) {
		set_error(reterr, "id_maps", r);
		goto fail;
	}
	/* Held: the caller releases the child once it has recorded the start. */
	sb->sync_fd = TAKE_FD(sync[1]);
	if (!params->hold && (r = sbx_sandbox_release(sb)) < 0) {
		set_error(reterr, "sync", r);
		goto fail;
	}
	sbx_mounts_plan_done(&plan);
	*ret = sb;
	return 0;

fail:
	(void)safe_close(report[0]);
	(void)safe_close(report[1]);
	(void)safe_close(sync[0]);
	(void)safe_close(sync[1]);
	sbx_mounts_plan_done(&plan);
	(void)sbx_sandbox_free(sb);
	return r;
}

int sbx_sandbox_release(struct sbx_sandbox *sb)
{
	int fd = sb->sync_fd;

	if (fd < 0)
		return -EALREADY;
	sb->sync_fd = -1;
	if (write(fd, "g", 1) != 1) {
		int r = -errno;
		(void)close(fd);
		return r < 0 ? r : -EIO;
	}
	(void)close(fd);
	return 0;
}

int sbx_sandbox_pidfd(const struct sbx_sandbox *sb)
{
	return sb->pidfd;
}

pid_t sbx_sandbox_pid(const struct sbx_sandbox *sb)
{
	return sb->pid;
}

uid_t sbx_sandbox_uid(const struct sbx_sandbox *sb)
{
	return sb->lease.uid;
}

int sbx_sandbox_report_fd(const struct sbx_sandbox *sb)
{
	return sb->report_fd;
}

/* One report message; a passed fd is kept as the listener when the message says it is one,
 * and closed otherwise (nothing else may hand us fds). */
static ssize_t recv_report(struct sbx_sandbox *sb, struct sbx_report *rep)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = rep, .iov_len = sizeof(*rep)};
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = u.buf,
	    .msg_controllen = sizeof(u.buf),
	};
	ssize_t n = recvmsg(sb->report_fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	if (n < 0)
		return n;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		size_t nfd;
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (n == (ssize_t)sizeof(*rep) && rep->kind == SBX_REPORT_LISTENER &&
			    sb->listen_fd < 0 && !sb->listener_seen)
				sb->listen_fd = fd;
			else
				(void)close(fd);
		}
	}
	if (n == (ssize_t)sizeof(*rep) && rep->kind == SBX_REPORT_LISTENER)
		sb->listener_seen = true;
	return n;
}

int sbx_sandbox_take_listener(struct sbx_sandbox *sb)
{
	int fd = sb->listen_fd;

	sb->listen_fd = -1;
	return fd >= 0 ? fd : -ENOENT;
}

int sbx_sandbox_read_report(struct sbx_sandbox *sb)
{
	struct sbx_report rep;

	for (;;) {
		ssize_t n = recv_report(sb, &rep);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		if (n == 0)
			break;
		if (n != (ssize_t)sizeof(rep))
			return -EBADMSG;
		rep.step[sizeof(rep.step) - 1] = '\0';
		switch (rep.kind) {
		case SBX_REPORT_ERROR:
			if (!sb->error.step[0]) {
				memcpy(sb->error.step, rep.step, sizeof(rep.step));
				sb->error.err = rep.err;
			}
			break;
		case SBX_REPORT_EXEC:
			sb->execd = true;
			break;
		case SBX_REPORT_EXIT:
			sb->exit = rep;
			sb->have_exit = true;
			break;
		case SBX_REPORT_LISTENER:
			break;
		default:
			return -EBADMSG;
		}
	}
	return sb->execd ? 1 : 0;
}

int sbx_sandbox_signal(struct sbx_sandbox *sb, int sig)
{
	if (sb->reaped)
		return -ESRCH;
	if (syscall(SYS_pidfd_send_signal, sb->pidfd, sig, NULL, 0) == 0)
		return 0;
	/* valgrind 3.19 does not know pidfd_send_signal. kill() is as safe here: the child is
	 * not reaped yet (checked above, and only this process reaps it), so its pid cannot
	 * have been reused. */
	if (errno == ENOSYS && kill(sb->pid, sig) == 0)
		return 0;
	return -errno;
}

int sbx_sandbox_kill(struct sbx_sandbox *sb)
{
	/* init's death takes the whole pid namespace with it. */
	return sbx_sandbox_signal(sb, SIGKILL);
}

static void fill_result(struct sbx_sandbox *sb, const siginfo_t *si, const struct rusage *ru)
{
	struct sbx_sandbox_result *res = &sb->result;

	memset(res, 0, sizeof(*res));
	res->uid = sb->lease.uid;
	res->cpu_ms = (uint64_t)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000 +
		      (uint64_t)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1000;
	res->max_rss_kb = (uint64_t)ru->ru_maxrss;
	if (sb->cg)
		res->oom = sbx_cgroup_oom_killed(sb->cg);
	if (sb->error.step[0]) {
		res->end = SBX_END_SETUP_FAILED;
		res->error = sb->error;
	} else if (sb->have_exit && WIFEXITED(sb->exit.status)) {
		res->end = SBX_END_EXITED;
		res->code = WEXITSTATUS(sb->exit.status);
	} else if (sb->have_exit) {
		res->end = SBX_END_SIGNALED;
		res->signal = WTERMSIG(sb->exit.status);
	} else if (si->si_code == CLD_EXITED) {
		/* init left without a report: a setup step failed before it could tell. */
		res->end = SBX_END_SETUP_FAILED;
		(void)snprintf(res->error.step, sizeof(res->error.step), "setup");
		res->error.err = EIO;
	} else {
		res->end = SBX_END_SIGNALED; /* init killed: by us (timeout, cancel) or the OOM */
		res->signal = si->si_status;
	}
}

int sbx_sandbox_reap(struct sbx_sandbox *sb, bool block, struct sbx_sandbox_result *ret)
{
	siginfo_t si;
	struct rusage ru;

	if (!sb->reaped) {
		memset(&si, 0, sizeof(si));
		memset(&ru, 0, sizeof(ru));
		for (;;) {
			/* Raw waitid: glibc's has no rusage argument. */
			long k = syscall(SYS_waitid, P_PIDFD, sb->pidfd, &si,
					 WEXITED | (block ? 0 : WNOHANG), &ru);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return -errno;
			break;
		}
		if (si.si_pid == 0)
			return -EAGAIN;
		sb->reaped = true;
		(void)sbx_sandbox_read_report(sb);
		fill_result(sb, &si, &ru);
	}
	if (ret)
		*ret = sb->result;
	return 0;
}

struct sbx_sandbox *sbx_sandbox_free(struct sbx_sandbox *sb)
{
	if (!sb)
		return NULL;
	if (sb->pid > 0 && !sb->reaped) {
		(void)sbx_sandbox_kill(sb);
		(void)sbx_sandbox_reap(sb, true, NULL);
	}
	sb->sync_fd = safe_close(sb->sync_fd); /* a held child reads EOF and leaves */
	sb->cg = sbx_cgroup_destroy(sb->cg);
	sbx_ids_release(&sb->lease);
	sbx_ids_release(&sb->init_lease);
	sb->pidfd = safe_close(sb->pidfd);
	sb->report_fd = safe_close(sb->report_fd);
	sb->listen_fd = safe_close(sb->listen_fd);
	free(sb);
	return NULL;
}

const char *sbx_sandbox_strerror(const struct sbx_sandbox_error *e, char *buf, size_t len)
{
	if (e->detail[0])
		(void)snprintf(buf, len, "%s (%s): %s", e->step, e->detail, strerror(e->err));
	else
		(void)snprintf(buf, len, "%s: %s", e->step, strerror(e->err));
	return buf;
}

void sbx_sandbox_prune_exec(void)
{
	sbx_cgroup_prune_exec();
}

int sbx_sandbox_delegate_cgroup(char *ret_dir, size_t len)
{
	return sbx_cgroup_delegate(ret_dir, len);
}
