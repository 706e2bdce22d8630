/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for sbxd under valgrind 3.19 (`make valgrind` only, never installed).
 * valgrind does not know seccomp(2) (syscall 317: "unhandled amd64-linux syscall") and answers
 * ENOSYS, so libseccomp's probes conclude that the kernel has no SCMP_ACT_KILL_PROCESS and
 * sbxd's profile compilation fails with EINVAL. libseccomp probes through libc's syscall(),
 * which this shim overrides for those two probes only, answering as Linux >= 4.14 does:
 *   - seccomp(SECCOMP_SET_MODE_STRICT, 1, NULL) (is there a seccomp syscall?): EINVAL;
 *   - seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action): 0, available.
 * Every other call goes to libc's syscall(). Filters are installed by the sandbox child,
 * which runs on the real CPU (sandbox/spawn.c, child_start), where seccomp(2) works.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>

#include <linux/seccomp.h>
#include <sys/syscall.h>

typedef long (*syscall_fn)(long, ...);

static syscall_fn real;

long syscall(long nr, ...);

__attribute__((constructor)) static void init(void)
{
	real = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
}

long syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	/* Six words whatever the call takes: what libc's own syscall() does on x86_64. */
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_seccomp && a[0] == SECCOMP_SET_MODE_STRICT && a[1] != 0) {
		errno = EINVAL;
		return -1;
	}
	if (nr == SYS_seccomp && a[0] == SECCOMP_GET_ACTION_AVAIL)
		return 0;
	return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
