/* SPDX-License-Identifier: MIT */
/*
 * A seccomp profile compiled to BPF before clone, so the child only makes syscalls.
 * The program is a stack of filters: the allow-list (default action for the rest) and, when
 * the profile refuses some argument values of an allowed syscall (ioctl TIOCSTI), a second
 * default-allow filter with those refusals. libseccomp 2.5 lets an unconditional allow shadow
 * a conditional refusal of the same syscall; two filters cannot shadow each other, since the
 * kernel takes the strictest verdict of all filters.
 */
#pragma once

#include "policy/profile.h"

struct sbx_seccomp_prog;

/* Compiles with libseccomp; x86_64 native, x32 syscall numbers and i386 kill the process.
 * -EINVAL for rules libseccomp refuses (the syscall named in the message via errno only). */
int sbx_seccomp_compile(const struct sbx_profile *profile, struct sbx_seccomp_prog **ret);
/* Like sbx_seccomp_compile, through a cache of compiled programs in cache_dir (created
 * root-only; an entry is used only for a byte-identical profile and libseccomp version). Any
 * cache problem falls back to compiling: the result is the same either way. */
int sbx_seccomp_compile_cached(const struct sbx_profile *profile, const char *cache_dir,
			       struct sbx_seccomp_prog **ret);
/* Installs the filters on the calling thread (needs no_new_privs already set). Only syscalls:
 * callable between clone and execve. */
int sbx_seccomp_install(const struct sbx_seccomp_prog *prog);
/* Number of BPF instructions in all filters (for the benchmark's fair comparison). */
size_t sbx_seccomp_size(const struct sbx_seccomp_prog *prog);
/* Writes the BPF programs (raw struct sock_filter arrays, concatenated per filter in install
 * order) to fd, in the format `bwrap --seccomp FD` takes for the first filter. */
int sbx_seccomp_export_bpf(const struct sbx_seccomp_prog *prog, unsigned index, int fd);
unsigned sbx_seccomp_count(const struct sbx_seccomp_prog *prog);
struct sbx_seccomp_prog *sbx_seccomp_free(struct sbx_seccomp_prog *prog);
static inline void sbx_seccomp_freep(struct sbx_seccomp_prog **p)
{
	*p = sbx_seccomp_free(*p);
}
