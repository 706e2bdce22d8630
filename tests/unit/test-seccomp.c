/* SPDX-License-Identifier: MIT */
/*
 * Real filters (sandbox/seccomp.c): a forked child sets no_new_privs, installs a compiled
 * shipped profile and makes one attempt; the parent judges by its exit code (the errno the
 * attempt got, 0 on success) or by the signal that killed it. Every refusal is also tried
 * without a filter, so an EPERM the kernel would give a root test anyway proves nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/filter.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "policy/profile.h"
#include "sandbox/seccomp.h"

TestSuite(seccomp, .timeout = 60);

#define X32_BIT 0x40000000L

static struct sbx_seccomp_prog *compile(const char *name)
{
	struct sbx_diags d = {0};
	struct sbx_profile *p = NULL;
	struct sbx_seccomp_prog *prog = NULL;

	cr_assert(eq(int, sbx_profile_resolve(name, NULL, &p, &d), 0));
	cr_assert(eq(int, sbx_seccomp_compile(p, &prog), 0));
	sbx_profile_free(p);
	free(d.v);
	return prog;
}

/* Runs fn in a child under prog (NULL: no filter) and returns its wait status. The filter
 * is compiled before the fork, as in the engine; the child only makes syscalls. */
static int run(const struct sbx_seccomp_prog *prog, int (*fn)(const void *), const void *arg)
{
	int status = 0;
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		struct rlimit no_core = {0, 0};
		(void)setrlimit(RLIMIT_CORE, &no_core); /* SIGSYS would dump core */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(200);
		if (prog && sbx_seccomp_install(prog) < 0)
			_exit(201);
		_exit(fn(arg));
	}
	cr_assert(eq(int, waitpid(pid, &status, 0), pid));
	return status;
}

static int exit_code(int status)
{
	cr_assert(0 != WIFEXITED(status), "child killed by signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

/* ---- refused syscalls: args chosen so that root without a filter gets no EPERM ---- */
struct probe {
	const char *name;
	long nr;
	long a[6];
};

static const struct probe refused[] = {
    {"mount", SYS_mount, {(long)"none", (long)"/nonexistent-sbx", (long)"tmpfs", 0, 0}},
    {"umount2", SYS_umount2, {(long)"/nonexistent-sbx", 0}},
    {"pivot_root", SYS_pivot_root, {(long)"/nonexistent-a", (long)"/nonexistent-b"}},
    {"chroot", SYS_chroot, {(long)"/nonexistent-sbx"}},
    {"fsopen", SYS_fsopen, {0, 0}},
    {"open_tree", SYS_open_tree, {-1, (long)"/nonexistent-sbx", 0}},
    {"unshare", SYS_unshare, {0x1}},
    {"setns", SYS_setns, {-1, 0}},
    {"keyctl", SYS_keyctl, {9999}},
    {"add_key", SYS_add_key, {0}},
    {"request_key", SYS_request_key, {0}},
    {"bpf", SYS_bpf, {9999, 0, 0}},
    {"ptrace", SYS_ptrace, {2 /* PTRACE_PEEKDATA */, 0x3fffffff, 0, 0}},
    {"process_vm_readv", SYS_process_vm_readv, {0x3fffffff, 0, 0, 0, 0, 0}},
    {"perf_event_open", SYS_perf_event_open, {0, 0, -1, -1, 0}},
    {"io_uring_setup", SYS_io_uring_setup, {0, 0}},
    {"userfaultfd", SYS_userfaultfd, {0x7fff0000}},
    {"name_to_handle_at", SYS_name_to_handle_at, {-1, 0, 0, 0, 0}},
    {"open_by_handle_at", SYS_open_by_handle_at, {-1, 0, 0}},
    {"finit_module", SYS_finit_module, {-1, (long)"", 0}},
    {"delete_module", SYS_delete_module, {(long)"sbx_no_such_module", 0}},
    {"syslog", SYS_syslog, {9999, 0, 0}},
    {"iopl", SYS_iopl, {4}},
    {"modify_ldt", SYS_modify_ldt, {99, 0, 0}},
    {"kcmp", SYS_kcmp, {0x3fffffff, 0x3fffffff, 0, 0, 0}},
    {"clock_settime", SYS_clock_settime, {9999, 0}},
};

static int try_probe(const void *arg)
{
	const struct probe *p = arg;
	return syscall(p->nr, p->a[0], p->a[1], p->a[2], p->a[3], p->a[4], p->a[5]) < 0 ? errno : 0;
}

Test(seccomp, default_refuses_with_eperm)
{
	struct sbx_seccomp_prog *prog = compile("default");

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		int bare = exit_code(run(NULL, try_probe, &refused[i]));
		int filtered = exit_code(run(prog, try_probe, &refused[i]));
		cr_log_info("%s: %s without filter, %s with", refused[i].name,
			    strerrorname_np(bare), strerrorname_np(filtered));
		cr_expect(bare != EPERM, "%s: EPERM even without a filter: not a proof",
			  refused[i].name);
		cr_expect(eq(int, filtered, EPERM), "%s", refused[i].name);
	}
	sbx_seccomp_free(prog);
}

static int try_getpid(const void *arg)
{
	(void)arg;
	return syscall(SYS_getpid) == getpid() && getpid() > 1 ? 0 : 1;
}

Test(seccomp, allowed_syscalls_work)
{
	struct sbx_seccomp_prog *prog = compile("default");

	cr_assert(eq(int, exit_code(run(prog, try_getpid, NULL)), 0));
	sbx_seccomp_free(prog);
}

/* ---- clone, clone3, fork, threads ---- */
static int try_clone3(const void *arg)
{
	(void)arg;
	return syscall(SYS_clone3, NULL, 0) < 0 ? errno : 0;
}

static int try_clone_flags(const void *arg)
{
	long flags = *(const long *)arg;
	long r = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);

	if (r == 0)
		_exit(0);
	if (r < 0)
		return errno;
	return waitpid((pid_t)r, NULL, 0) == r ? 0 : 99;
}

static int try_fork(const void *arg)
{
	int status;
	pid_t pid;

	(void)arg;
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0)
		_exit(7);
	if (waitpid(pid, &status, 0) != pid)
		return 98;
	return WIFEXITED(status) && WEXITSTATUS(status) == 7 ? 0 : 99;
}

static void *thread_fn(void *arg)
{
	return arg;
}

static int try_thread(const void *arg)
{
	pthread_t t;
	void *res = NULL;
	int r;

	(void)arg;
	/* glibc tries clone3 first and falls back to clone only on ENOSYS. */
	r = pthread_create(&t, NULL, thread_fn, (void *)0x5b);
	if (r != 0)
		return r;
	if (pthread_join(t, &res) != 0)
		return 98;
	return res == (void *)0x5b ? 0 : 99;
}

Test(seccomp, clone3_gets_enosys_and_clone_no_namespaces)
{
	struct sbx_seccomp_prog *prog = compile("default");
	static const long newuser = CLONE_NEWUSER, newnet = CLONE_NEWNET, newns = CLONE_NEWNS,
			  plain = 0;

	cr_assert(exit_code(run(NULL, try_clone3, NULL)) != ENOSYS);
	cr_assert(eq(int, exit_code(run(prog, try_clone3, NULL)), ENOSYS));
	cr_assert(eq(int, exit_code(run(prog, try_clone_flags, &newuser)), EPERM));
	cr_assert(eq(int, exit_code(run(prog, try_clone_flags, &newnet)), EPERM));
	cr_assert(eq(int, exit_code(run(prog, try_clone_flags, &newns)), EPERM));
	cr_assert(eq(int, exit_code(run(prog, try_clone_flags, &plain)), 0));
	cr_assert(eq(int, exit_code(run(prog, try_fork, NULL)), 0));
	cr_assert(eq(int, exit_code(run(prog, try_thread, NULL)), 0));
	sbx_seccomp_free(prog);
}

/* ---- ioctl: TIOCSTI/TIOCLINUX on the low 32 bits (CVE-2019-10063) ---- */
static int try_ioctl(const void *arg)
{
	unsigned long req = *(const unsigned long *)arg;
	int fds[2], n = 0;
	char c = 'x';
	int fd;

	if (pipe(fds) < 0)
		return 97;
	/* a pipe for FIONREAD, /dev/null (not a tty) for the rest */
	fd = req == FIONREAD ? fds[0] : open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 98;
	return syscall(SYS_ioctl, fd, req, req == FIONREAD ? (void *)&n : (void *)&c) < 0 ? errno
											  : 0;
}

Test(seccomp, ioctl_tiocsti_refused_on_low_32_bits)
{
	struct sbx_seccomp_prog *prog = compile("default");
	static const unsigned long sti = TIOCSTI, sti_hi = TIOCSTI | 0xdead00000000UL,
				   linux_ = TIOCLINUX, linux_hi = TIOCLINUX | 0x100000000UL,
				   fionread = FIONREAD, winsz = TIOCGWINSZ;

	cr_assert(eq(int, exit_code(run(NULL, try_ioctl, &sti)), ENOTTY));
	cr_assert(eq(int, exit_code(run(NULL, try_ioctl, &sti_hi)), ENOTTY)); /* kernel: low 32 */
	cr_assert(eq(int, exit_code(run(prog, try_ioctl, &sti)), EPERM));
	cr_assert(eq(int, exit_code(run(prog, try_ioctl, &sti_hi)), EPERM));
	cr_assert(eq(int, exit_code(run(prog, try_ioctl, &linux_)), EPERM));
	cr_assert(eq(int, exit_code(run(prog, try_ioctl, &linux_hi)), EPERM));
	cr_assert(eq(int, exit_code(run(prog, try_ioctl, &fionread)), 0));
	cr_assert(eq(int, exit_code(run(prog, try_ioctl, &winsz)), ENOTTY));
	sbx_seccomp_free(prog);
}

/* ---- personality and socket: Docker's values ---- */
static int try_personality(const void *arg)
{
	return syscall(SYS_personality, *(const unsigned long *)arg) < 0 ? errno : 0;
}

static int try_socket(const void *arg)
{
	long fd = syscall(SYS_socket, *(const long *)arg, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return fd < 0 ? errno : 0;
}

Test(seccomp, personality_and_socket_as_docker)
{
	struct sbx_seccomp_prog *prog = compile("default");
	static const unsigned long query = 0xffffffff, rie = READ_IMPLIES_EXEC,
				   linux_hi = 0x100000000UL;
	static const long unix_ = AF_UNIX, inet = AF_INET, vsock = AF_VSOCK, alg = AF_ALG,
			  vsock_hi = 0x100000000L | AF_VSOCK, alg_hi = 0x700000000L | AF_ALG;

	cr_assert(eq(int, exit_code(run(prog, try_personality, &query)), 0));
	cr_assert(eq(int, exit_code(run(prog, try_personality, &rie)), EPERM));
	cr_assert(eq(int, exit_code(run(prog, try_personality, &linux_hi)), EPERM));
	cr_assert(eq(int, exit_code(run(prog, try_socket, &unix_)), 0));
	cr_assert(eq(int, exit_code(run(prog, try_socket, &inet)), 0));
	cr_assert(eq(int, exit_code(run(prog, try_socket, &vsock)), EPERM));
	cr_assert(eq(int, exit_code(run(prog, try_socket, &alg)), EPERM));
	/* high bits: Docker's 64-bit comparisons alone would let these through */
	cr_assert(exit_code(run(NULL, try_socket, &vsock_hi)) != EAFNOSUPPORT ||
		  exit_code(run(NULL, try_socket, &vsock)) == EAFNOSUPPORT);
	cr_assert(eq(int, exit_code(run(prog, try_socket, &vsock_hi)), EPERM));
	cr_assert(eq(int, exit_code(run(prog, try_socket, &alg_hi)), EPERM));
	sbx_seccomp_free(prog);
}

/* ---- other ABIs: x32 numbers and int 0x80 are killed ---- */
static int try_x32(const void *arg)
{
	long ret, nr = X32_BIT | SYS_getpid;

	(void)arg;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr) : "rcx", "r11", "memory");
	return ret < 0 ? (int)-ret : 0;
}

static int try_int80(const void *arg)
{
	long ret, nr = 20; /* i386 getpid */

	(void)arg;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr) : "memory");
	return ret < 0 ? (int)-ret : 0;
}

Test(seccomp, x32_is_killed)
{
	struct sbx_seccomp_prog *prog = compile("default");
	int st = run(prog, try_x32, NULL);

	cr_log_info("x32 without filter: %d", run(NULL, try_x32, NULL));
	cr_assert(0 != WIFSIGNALED(st), "x32 syscall not killed (exit %d)", WEXITSTATUS(st));
	cr_assert(eq(int, WTERMSIG(st), SIGSYS));
	sbx_seccomp_free(prog);
}

Test(seccomp, int80_is_killed)
{
	struct sbx_seccomp_prog *prog = compile("default");
	int bare = run(NULL, try_int80, NULL), st = run(prog, try_int80, NULL);

	cr_assert(0 != WIFSIGNALED(st), "int 0x80 not killed (exit %d)", WEXITSTATUS(st));
	if (WIFSIGNALED(bare) && WTERMSIG(bare) == SIGSEGV)
		/* no IA32 emulation in this kernel: the CPU faults before any syscall */
		cr_assert(eq(int, WTERMSIG(st), SIGSEGV));
	else
		cr_assert(eq(int, WTERMSIG(st), SIGSYS));
	sbx_seccomp_free(prog);
}

/* ---- the strict profile ---- */
static int try_exec_true(const void *arg)
{
	char *const argv[] = {(char *)"true", NULL}, *const envp[] = {NULL};

	(void)arg;
	execve("/bin/true", argv, envp);
	return errno;
}

Test(seccomp, strict_runs_simple_programs_only)
{
	struct sbx_seccomp_prog *prog = compile("strict");
	static const long unix_ = AF_UNIX, inet = AF_INET;
	static const unsigned long sti = TIOCSTI | 0xdead00000000UL;

	cr_assert(eq(int, exit_code(run(prog, try_exec_true, NULL)), 0));
	cr_assert(eq(int, exit_code(run(prog, try_getpid, NULL)), 0));
	cr_assert(eq(int, exit_code(run(prog, try_thread, NULL)), 0));
	cr_assert(eq(int, exit_code(run(prog, try_fork, NULL)), EPERM));
	cr_assert(eq(int, exit_code(run(prog, try_clone3, NULL)), ENOSYS));
	cr_assert(eq(int, exit_code(run(prog, try_socket, &unix_)), 0));
	cr_assert(eq(int, exit_code(run(prog, try_socket, &inet)), EPERM));
	cr_assert(eq(int, exit_code(run(prog, try_ioctl, &sti)), EPERM));
	cr_assert(eq(int, WTERMSIG(run(prog, try_x32, NULL)), SIGSYS));
	sbx_seccomp_free(prog);
}

/* ---- the compiled programs ---- */
Test(seccomp, compiled_sizes_and_export)
{
	struct sbx_seccomp_prog *def = compile("default"), *strict = compile("strict");
	char path[] = "/tmp/sbx-test-seccomp-XXXXXX";
	int fd = mkstemp(path);
	size_t total = 0;

	cr_log_info("default: %u filters, %zu instructions; strict: %u, %zu",
		    sbx_seccomp_count(def), sbx_seccomp_size(def), sbx_seccomp_count(strict),
		    sbx_seccomp_size(strict));
	cr_assert(eq(u32, sbx_seccomp_count(def), 2)); /* allow-list + refusals */
	cr_assert(sbx_seccomp_size(def) > 30);
	cr_assert(sbx_seccomp_size(def) < BPF_MAXINSNS);
	cr_assert(sbx_seccomp_size(strict) < sbx_seccomp_size(def));

	cr_assert(fd >= 0);
	(void)unlink(path);
	for (unsigned i = 0; i < sbx_seccomp_count(def); i++) {
		cr_assert(eq(int, sbx_seccomp_export_bpf(def, i, fd), 0));
		cr_log_info("default filter %u (install order): %zu instructions", i,
			    (size_t)lseek(fd, 0, SEEK_CUR) / sizeof(struct sock_filter) - total);
		total = (size_t)lseek(fd, 0, SEEK_CUR) / sizeof(struct sock_filter);
	}
	total = (size_t)lseek(fd, 0, SEEK_CUR);
	cr_assert(eq(sz, total, sbx_seccomp_size(def) * sizeof(struct sock_filter)));
	cr_assert(eq(int, sbx_seccomp_export_bpf(def, 2, fd), -EINVAL));
	(void)close(fd);
	cr_assert(eq(int, sbx_seccomp_install(NULL), -EINVAL));
	sbx_seccomp_free(def);
	sbx_seccomp_free(strict);
}

Test(seccomp, one_filter_without_conditional_refusals)
{
	const char *j =
	    "{\"default\": {\"action\": \"errno\", \"errno\": \"EACCES\"}, "
	    /* what a sanitizer runtime may need on its way, too */
	    "\"allow\": [\"exit_group\", \"exit\", \"getpid\", \"write\", \"mmap\", \"munmap\", "
	    "\"mprotect\", \"madvise\", \"rt_sigprocmask\", \"sigaltstack\", \"futex\", "
	    "\"sched_yield\", \"gettid\", \"prctl\", \"close\", \"read\"], \"rules\": ["
	    "{\"syscall\": \"getppid\", \"action\": \"errno\", \"errno\": \"ENOSYS\"}]}";
	struct sbx_diags d = {0};
	struct sbx_profile *p = NULL;
	struct sbx_seccomp_prog *prog = NULL;

	cr_assert(eq(int, sbx_profile_load_data(j, strlen(j), "t.json", NULL, &p, &d), 0));
	cr_assert(eq(int, sbx_seccomp_compile(p, &prog), 0));
	cr_assert(eq(u32, sbx_seccomp_count(prog), 1));
	cr_assert(eq(int, exit_code(run(prog, try_getpid, NULL)), 0));
	cr_assert(eq(int, exit_code(run(prog, try_clone3, NULL)), EACCES));
	sbx_seccomp_free(prog);
	sbx_profile_free(p);
}
