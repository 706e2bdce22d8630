/* SPDX-License-Identifier: MIT */
/*
 * Seccomp: a checked profile (policy/profile.c) compiled to classic BPF in the parent, before
 * clone, and installed in the payload with bare syscalls. Loaded last, after caps are
 * dropped and no_new_privs is set, right before execve (DESIGN.md "Sandbox construction").
 * sbx_seccomp_install() must never allocate, log or take a lock: it runs between clone and
 * execve. Everything libseccomp does happens in sbx_seccomp_compile().
 *
 * Two filters, because libseccomp 2.5.4 lets an unconditional ALLOW of a syscall silently
 * shadow a conditional refusal of the same syscall (allow ioctl + refuse ioctl TIOCSTI
 * compiles to plain "allow ioctl"; checked on this libseccomp, see docs/seccomp.md):
 *   the allow-list filter: the profile's default action, every allow rule (conditional or
 *     not) and every unconditional non-allow rule (clone3 -> ENOSYS);
 *   the refusal filter, only when needed: default ALLOW plus every conditional non-allow
 *     rule (ioctl TIOCSTI/TIOCLINUX, compared on the low 32 bits).
 * The kernel runs every filter and keeps the strictest verdict (kernel/seccomp.c,
 * seccomp_run_filters), so neither filter can loosen the other. The refusal filter is
 * installed first: the allow-list may not allow seccomp(2) itself.
 *
 * Architectures: only x86_64 is native; every other audit arch (i386 through int 0x80, the
 * classic 32-bit escape) gets KILL_PROCESS. x32 shares x86_64's audit arch and is told apart
 * only by bit 0x40000000 of the syscall number: libseccomp's x86_64 filter kills those
 * (a `jge 0x40000000` after the arch check); compile() verifies that and adds its own guard
 * when a libseccomp version would not.
 */
#include "sandbox/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <seccomp.h>

#include "common/fd-util.h"
#include "common/macro.h"

#define X32_SYSCALL_BIT 0x40000000U
#define MAX_FILTERS	2

struct sbx_seccomp_prog {
	unsigned n;
	struct sock_fprog f[MAX_FILTERS]; /* in install order */
};

static void ctxp(scmp_filter_ctx *c)
{
	if (*c)
		seccomp_release(*c);
}

static uint32_t scmp_action(enum sbx_sc_action a, int errno_ret)
{
	switch (a) {
	case SBX_SC_ALLOW:
		return SCMP_ACT_ALLOW;
	case SBX_SC_ERRNO:
		return SCMP_ACT_ERRNO((uint16_t)errno_ret);
	case SBX_SC_LOG:
		return SCMP_ACT_LOG;
	case SBX_SC_KILL:
	default:
		return SCMP_ACT_KILL_PROCESS;
	}
}

static enum scmp_compare scmp_op(enum sbx_sc_op op)
{
	static const enum scmp_compare ops[] = {
	    [SBX_SC_EQ] = SCMP_CMP_EQ,
	    [SBX_SC_NE] = SCMP_CMP_NE,
	    [SBX_SC_LT] = SCMP_CMP_LT,
	    [SBX_SC_LE] = SCMP_CMP_LE,
	    [SBX_SC_GT] = SCMP_CMP_GT,
	    [SBX_SC_GE] = SCMP_CMP_GE,
	    [SBX_SC_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
	};
	return (unsigned)op < ARRAY_SIZE(ops) ? ops[op] : _SCMP_CMP_MIN;
}

/* Which filter a rule belongs to (see the top of the file). */
static bool in_refusal_filter(const struct sbx_sc_rule *r)
{
	return r->n_args > 0 && r->action != SBX_SC_ALLOW;
}

static int add_rule(scmp_filter_ctx ctx, const struct sbx_sc_rule *rule)
{
	struct scmp_arg_cmp cmp[6];
	int r;

	if (rule->nr < 0 || rule->n_args > ARRAY_SIZE(cmp))
		return -EINVAL;
	for (size_t i = 0; i < rule->n_args; i++) {
		const struct sbx_sc_arg *a = &rule->args[i];
		cmp[i] = (struct scmp_arg_cmp){
		    .arg = a->index,
		    .op = scmp_op(a->op),
		    /* masked_eq: datum_a is the mask, datum_b the value */
		    .datum_a = a->op == SBX_SC_MASKED_EQ ? a->mask : a->value,
		    .datum_b = a->op == SBX_SC_MASKED_EQ ? a->value : 0,
		};
		if (a->index > 5 || cmp[i].op == _SCMP_CMP_MIN)
			return -EINVAL;
	}
	/* _exact: never let libseccomp rewrite a rule it cannot express as asked. */
	r = seccomp_rule_add_exact_array(ctx, scmp_action(rule->action, rule->errno_ret), rule->nr,
					 (unsigned)rule->n_args, cmp);
	return r == -ENOMEM ? r : r < 0 ? -EINVAL : 0;
}

static int new_ctx(uint32_t def_action, scmp_filter_ctx *ret)
{
	_cleanup_(ctxp) scmp_filter_ctx ctx = NULL;
	int r;

	/* The syscall numbers from policy/ are x86_64's. */
	if (seccomp_arch_native() != SCMP_ARCH_X86_64)
		return -EOPNOTSUPP;
	ctx = seccomp_init(def_action);
	if (!ctx)
		return -ENOMEM;
	/* i386, x32-as-arch and anything else: kill, never fall through to the default. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		return r;
	/* The payload sets no_new_privs itself, just before install. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (r < 0)
		return r;
	/* A binary tree of syscall numbers: ~9 comparisons instead of ~300 for the default. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(ctx);
	return 0;
}

/* Does the program kill x32 numbers? libseccomp 2.5 emits, right after its x86_64 arch check:
 *   ld [nr]; jge #0x40000000, jt, jf   where jt leads to a check for -1 and then the bad-arch
 *   action. We look for that jge against the syscall number and trust the runtime test
 *   (tests/unit/test-seccomp.c x32_is_killed) for where it leads. */
static bool has_x32_guard(const struct sock_filter *f, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (f[i].code == (BPF_JMP | BPF_JGE | BPF_K) && f[i].k == X32_SYSCALL_BIT &&
		    f[i - 1].code == (BPF_LD | BPF_W | BPF_ABS) &&
		    f[i - 1].k == offsetof(struct seccomp_data, nr))
			return true;
	return false;
}

/* Our own guard, prepended when libseccomp's is missing: x86_64 arch with bit 0x40000000. */
static const struct sock_filter x32_guard[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
};

/* libseccomp 2.5 exports only to an fd: go through a memfd and read it back. */
static int export_ctx(scmp_filter_ctx ctx, struct sock_fprog *ret)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ struct sock_filter *buf = NULL;
	size_t n, extra = ARRAY_SIZE(x32_guard), done = 0;
	off_t size;
	int r;

	fd = memfd_create("sbx-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return r;
	size = lseek(fd, 0, SEEK_END);
	if (size < 0)
		return -errno;
	if (size == 0 || size % (off_t)sizeof(struct sock_filter) != 0)
		return -EPROTO;
	n = (size_t)size / sizeof(struct sock_filter);
	buf = calloc(n + extra, sizeof(struct sock_filter));
	if (!buf)
		return -ENOMEM;
	while (done < (size_t)size) {
		ssize_t k =
		    pread(fd, (char *)(buf + extra) + done, (size_t)size - done, (off_t)done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO;
		done += (size_t)k;
	}
	if (has_x32_guard(buf + extra, n)) {
		memmove(buf, buf + extra, n * sizeof(*buf));
		extra = 0;
	} else
		memcpy(buf, x32_guard, sizeof(x32_guard));
	if (n + extra > BPF_MAXINSNS)
		return -E2BIG;
	ret->len = (unsigned short)(n + extra);
	ret->filter = TAKE_PTR(buf);
	return 0;
}

/* One filter: default action def and the rules that belong to it (refusals or not). */
static int build(const struct sbx_profile *p, uint32_t def, bool refusals, struct sock_fprog *ret)
{
	_cleanup_(ctxp) scmp_filter_ctx ctx = NULL;
	int r;

	r = new_ctx(def, &ctx);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct sbx_sc_rule *rule = &p->rules[i];
		if (in_refusal_filter(rule) != refusals)
			continue;
		/* libseccomp refuses a rule with the filter's default action (-EACCES); such a
		 * rule changes nothing in this filter. */
		if (scmp_action(rule->action, rule->errno_ret) == def)
			continue;
		r = add_rule(ctx, rule);
		if (r < 0)
			return r;
	}
	return export_ctx(ctx, ret);
}

static int compile_into(const struct sbx_profile *profile, struct sbx_seccomp_prog *prog)
{
	bool need_refusals = false;
	int r;

	for (size_t i = 0; i < profile->n_rules; i++)
		need_refusals = need_refusals || in_refusal_filter(&profile->rules[i]);
	if (need_refusals) {
		r = build(profile, SCMP_ACT_ALLOW, true, &prog->f[prog->n]);
		if (r < 0)
			return r;
		prog->n++;
	}
	r = build(profile, scmp_action(profile->default_action, profile->default_errno), false,
		  &prog->f[prog->n]);
	if (r < 0)
		return r;
	prog->n++;
	return 0;
}

int sbx_seccomp_compile(const struct sbx_profile *profile, struct sbx_seccomp_prog **ret)
{
	struct sbx_seccomp_prog *prog;
	int r;

	if (!profile || !ret)
		return -EINVAL;
	prog = calloc(1, sizeof(*prog));
	if (!prog)
		return -ENOMEM;
	r = compile_into(profile, prog);
	if (r < 0) {
		sbx_seccomp_free(prog);
		return r;
	}
	*ret = prog;
	return 0;
}

int sbx_seccomp_install(const struct sbx_seccomp_prog *prog)
{
	if (!prog || prog->n == 0) {
		errno = EINVAL;
		return -EINVAL;
	}
	/* seccomp(2), not prctl: the same call for every filter, and no libc wrapper that
	 * might allocate. The kernel requires no_new_privs (or CAP_SYS_ADMIN) here. errno is
	 * left set for sbx_child_fail(). */
	for (unsigned i = 0; i < prog->n; i++)
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog->f[i]) < 0)
			return -errno;
	return 0;
}

size_t sbx_seccomp_size(const struct sbx_seccomp_prog *prog)
{
	size_t n = 0;

	for (unsigned i = 0; prog && i < prog->n; i++)
		n += prog->f[i].len;
	return n;
}

unsigned sbx_seccomp_count(const struct sbx_seccomp_prog *prog)
{
	return prog ? prog->n : 0;
}

int sbx_seccomp_export_bpf(const struct sbx_seccomp_prog *prog, unsigned index, int fd)
{
	if (!prog || index >= prog->n || fd < 0)
		return -EINVAL;
	return sbx_fd_write_all(fd, prog->f[index].filter,
				prog->f[index].len * sizeof(struct sock_filter));
}

/*
 * The cache of compiled programs, for one-shot callers (`sbxctl exec` compiles the same
 * profile on every run, and libseccomp's BPF generation is the largest part of its start-up;
 * sbxd compiles once per policy load and needs none). An entry holds the exact key it was made
 * for (libseccomp's version and every field of every rule) and is used only when the key is
 * byte for byte the same, so a hash collision can never hand out another profile's filter.
 * Entries live in a root-only directory (sbx_fd_private_dir), are written to a temporary file
 * and renamed into place, and any read or format problem just means "compile".
 */
#define CACHE_MAGIC "sbx-bpf-cache-1"
#define CACHE_MAX   (256UL * 1024UL)
#define KEY_MAX	    (64U * 1024U)

struct keybuf {
	unsigned char b[KEY_MAX];
	size_t n;
	bool overflow;
};

static void key_put(struct keybuf *k, const void *p, size_t n)
{
	if (k->overflow || k->n + n > sizeof(k->b)) {
		k->overflow = true;
		return;
	}
	memcpy(k->b + k->n, p, n);
	k->n += n;
}

static void make_key(const struct sbx_profile *p, struct keybuf *k)
{
	const struct scmp_version *v = seccomp_version();
	int32_t hdr[5] = {(int32_t)v->major, (int32_t)v->minor, (int32_t)v->micro,
			  (int32_t)p->default_action, p->default_errno};

	k->n = 0;
	k->overflow = false;
	key_put(k, CACHE_MAGIC, sizeof(CACHE_MAGIC));
	key_put(k, hdr, sizeof(hdr));
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct sbx_sc_rule *r = &p->rules[i];
		int32_t rh[4] = {r->nr, (int32_t)r->action, r->errno_ret, (int32_t)r->n_args};
		key_put(k, rh, sizeof(rh));
		for (size_t j = 0; j < r->n_args; j++) {
			uint64_t a[4] = {r->args[j].index, (uint64_t)r->args[j].op,
					 r->args[j].value, r->args[j].mask};
			key_put(k, a, sizeof(a));
		}
	}
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* Parses an entry: u32 key_len, key, u32 n, then per filter u16 len + instructions. */
static int cache_parse(const unsigned char *d, size_t len, const struct keybuf *k,
		       struct sbx_seccomp_prog *prog)
{
	size_t off = 0;
	uint32_t klen, n;

	if (len < 8)
		return -EBADMSG;
	memcpy(&klen, d, 4);
	off = 4;
	if (klen != k->n || len - off < klen || memcmp(d + off, k->b, klen) != 0)
		return -ESTALE;
	off += klen;
	if (len - off < 4)
		return -EBADMSG;
	memcpy(&n, d + off, 4);
	off += 4;
	if (n == 0 || n > MAX_FILTERS)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		uint16_t flen;
		if (len - off < 2)
			return -EBADMSG;
		memcpy(&flen, d + off, 2);
		off += 2;
		if (flen == 0 || len - off < (size_t)flen * sizeof(struct sock_filter))
			return -EBADMSG;
		prog->f[i].filter = malloc((size_t)flen * sizeof(struct sock_filter));
		if (!prog->f[i].filter)
			return -ENOMEM;
		memcpy(prog->f[i].filter, d + off, (size_t)flen * sizeof(struct sock_filter));
		prog->f[i].len = flen;
		prog->n = i + 1;
		off += (size_t)flen * sizeof(struct sock_filter);
	}
	return off == len ? 0 : -EBADMSG;
}

static void cache_store(const char *dir, const char *path, const struct keybuf *k,
			const struct sbx_seccomp_prog *prog)
{
	char tmp[4200];
	uint32_t klen = (uint32_t)k->n, n = prog->n;
	int fd, ok;

	(void)snprintf(tmp, sizeof(tmp), "%s/.tmp-%d", dir, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	ok = sbx_fd_write_all(fd, &klen, 4) == 0 && sbx_fd_write_all(fd, k->b, k->n) == 0 &&
	     sbx_fd_write_all(fd, &n, 4) == 0;
	for (unsigned i = 0; ok && i < prog->n; i++) {
		uint16_t flen = prog->f[i].len;
		ok =
		    sbx_fd_write_all(fd, &flen, 2) == 0 &&
		    sbx_fd_write_all(fd, prog->f[i].filter, flen * sizeof(struct sock_filter)) == 0;
	}
	if (close(fd) < 0 || !ok || rename(tmp, path) < 0)
		(void)unlink(tmp);
}

int sbx_seccomp_compile_cached(const struct sbx_profile *profile, const char *cache_dir,
			       struct sbx_seccomp_prog **ret)
{
	_cleanup_free_ struct keybuf *k = calloc(1, sizeof(*k));
	_cleanup_free_ char *data = NULL;
	struct sbx_seccomp_prog *prog;
	char path[4200];
	size_t len;
	int r;

	if (!k || !profile || !cache_dir)
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_ frees it */
		return sbx_seccomp_compile(profile, ret);
	make_key(profile, k);
	if (k->overflow || sbx_fd_private_dir(cache_dir) < 0)
		return sbx_seccomp_compile(profile, ret);
	(void)snprintf(path, sizeof(path), "%s/%016llx.bpf", cache_dir,
		       (unsigned long long)fnv1a(k->b, k->n));
	if (sbx_fd_read_file(path, CACHE_MAX, &data, &len) == 0) {
		prog = calloc(1, sizeof(*prog));
		if (!prog)
			return -ENOMEM;
		if (cache_parse((const unsigned char *)data, len, k, prog) == 0) {
			*ret = prog;
			return 0;
		}
		sbx_seccomp_free(prog);
	}
	r = sbx_seccomp_compile(profile, &prog);
	if (r < 0)
		return r;
	cache_store(cache_dir, path, k, prog);
	*ret = prog;
	return 0;
}

struct sbx_seccomp_prog *sbx_seccomp_free(struct sbx_seccomp_prog *prog)
{
	if (!prog)
		return NULL;
	for (unsigned i = 0; i < prog->n; i++)
		free(prog->f[i].filter);
	free(prog);
	return NULL;
}
