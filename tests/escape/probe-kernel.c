/* SPDX-License-Identifier: MIT */
/*
 * probe: kernel interfaces. Each privileged syscall (keys, bpf, perf, io_uring, userfaultfd,
 * file handles, modules, kexec, reboot, swap, acct, iopl, clocks, hostnames) and each write
 * into /proc/sys or /sys must be refused. Calls carry arguments the kernel rejects right after
 * its capability check, so an unsandboxed run changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <sys/klog.h>
#include <sys/statvfs.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/timex.h>

#include "probe.h"

static int a_proc_kernel(int argc, char **argv)
{
	char buf[4096];

	(void)argc, (void)argv;
	/* Masking binds /dev/null over it: only real data counts. */
	if (probe_open_read("/proc/kcore", O_RDONLY, true) == 1)
		probe_esc("read /proc/kcore");
	if (probe_read_file("/proc/kallsyms", buf, sizeof(buf)) > 0) {
		for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
			if (strtoull(l, NULL, 16) != 0) {
				probe_esc("/proc/kallsyms shows kernel addresses");
				break;
			}
	}
	if (probe_open_read("/proc/sysrq-trigger", O_WRONLY, false) >= 0)
		probe_esc("opened /proc/sysrq-trigger for writing");
	return probe_verdict();
}

static int a_dmesg(int argc, char **argv)
{
	char buf[256];

	(void)argc, (void)argv;
	(void)probe_must_fail(klogctl(3 /* READ_ALL */, buf, sizeof(buf)), "syslog(READ_ALL)");
	if (probe_open_read("/dev/kmsg", O_RDONLY, false) >= 0)
		probe_esc("opened /dev/kmsg");
	if (probe_open_read("/proc/kmsg", O_RDONLY, false) >= 0)
		probe_esc("opened /proc/kmsg");
	return probe_verdict();
}

static int a_proc_sys_write(int argc, char **argv)
{
	static const char *const files[] = {
	    "/proc/sys/kernel/hostname",   "/proc/sys/kernel/core_pattern",
	    "/proc/sys/kernel/modprobe",   "/proc/sys/kernel/ns_last_pid",
	    "/proc/sys/vm/drop_caches",	   "/proc/sys/net/ipv4/ip_forward",
	    "/proc/sys/kernel/sysrq",	   "/proc/sys/fs/suid_dumpable",
	    "/proc/sys/kernel/domainname", "/proc/sys/kernel/randomize_va_space",
	};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (probe_open_read(files[i], O_WRONLY, false) >= 0)
			probe_esc("opened %s for writing", files[i]);
	/* A real write of the value already there: harmless anywhere, an escape if it works. */
	char cur[256];
	if (probe_read_file("/proc/sys/kernel/hostname", cur, sizeof(cur)) > 0) {
		int fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, cur, strlen(cur)) > 0)
				probe_esc("wrote /proc/sys/kernel/hostname");
			(void)close(fd);
		}
	}
	return probe_verdict();
}

static int a_sys_write(int argc, char **argv)
{
	static const char *const files[] = {
	    "/sys/kernel/uevent_helper",
	    "/sys/fs/cgroup/cgroup.procs",
	    "/sys/fs/cgroup/release_agent",
	    "/sys/fs/cgroup/memory/release_agent",
	    "/sys/fs/cgroup/pids/release_agent",
	    "/sys/fs/cgroup/memory/cgroup.procs",
	    "/sys/fs/cgroup/pids/cgroup.procs",
	    "/sys/fs/cgroup/unified/cgroup.procs",
	    "/sys/power/state",
	    "/sys/kernel/mm/transparent_hugepage/enabled",
	    "/sys/module/kernel/parameters/panic",
	};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (probe_open_read(files[i], O_WRONLY, false) >= 0)
			probe_esc("opened %s for writing", files[i]);
	struct statvfs sv;
	if (statvfs("/sys", &sv) == 0 && !(sv.f_flag & ST_RDONLY) &&
	    access("/sys/kernel", F_OK) == 0)
		probe_note("/sys is mounted read-write");
	return probe_verdict();
}

static int keyctl_child(void *arg)
{
	(void)arg;
	long r = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL);
	(void)probe_must_fail(r, "keyctl(JOIN_SESSION_KEYRING)");
	r = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0);
	(void)probe_must_fail(r, "keyctl(GET_KEYRING_ID, user)");
	return 0;
}

static int a_keyctl(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)probe_in_child(keyctl_child, NULL, ATTACK_TIMEOUT);
	return probe_verdict();
}

static int a_add_key(int argc, char **argv)
{
	(void)argc, (void)argv;
	long r = syscall(SYS_add_key, "user", "sbx-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING);
	(void)probe_must_fail(r, "add_key(user)");
	return probe_verdict();
}

static int a_request_key(int argc, char **argv)
{
	(void)argc, (void)argv;
	/* No callout info: the kernel never runs /sbin/request-key for this. */
	long r = syscall(SYS_request_key, "user", "sbx-probe-none", NULL, 0);
	(void)probe_must_be_denied(r, "request_key(user)");
	return probe_verdict();
}

static int a_bpf(int argc, char **argv)
{
	union bpf_attr at;

	(void)argc, (void)argv;
	memset(&at, 0, sizeof(at));
	at.map_type = BPF_MAP_TYPE_ARRAY;
	at.key_size = 4;
	at.value_size = 4;
	at.max_entries = 1;
	long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &at, sizeof(at));
	if (!probe_must_fail(fd, "bpf(BPF_MAP_CREATE)"))
		(void)close((int)fd);

	struct bpf_insn prog[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	memset(&at, 0, sizeof(at));
	at.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	at.insns = (uint64_t)(uintptr_t)prog;
	at.insn_cnt = 2;
	at.license = (uint64_t)(uintptr_t) "GPL";
	fd = syscall(SYS_bpf, BPF_PROG_LOAD, &at, sizeof(at));
	if (!probe_must_fail(fd, "bpf(BPF_PROG_LOAD)"))
		(void)close((int)fd);
	return probe_verdict();
}

static int a_perf_event_open(int argc, char **argv)
{
	struct perf_event_attr pe;

	(void)argc, (void)argv;
	memset(&pe, 0, sizeof(pe));
	pe.type = PERF_TYPE_SOFTWARE;
	pe.size = sizeof(pe);
	pe.config = PERF_COUNT_SW_CPU_CLOCK;
	pe.disabled = 1;
	pe.exclude_kernel = 1;
	pe.exclude_hv = 1;
	long fd = syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0);
	if (!probe_must_fail(fd, "perf_event_open(self, sw clock)"))
		(void)close((int)fd);
	return probe_verdict();
}

static int a_io_uring(int argc, char **argv)
{
	struct io_uring_params p;

	(void)argc, (void)argv;
	memset(&p, 0, sizeof(p));
	long fd = syscall(SYS_io_uring_setup, 4, &p);
	if (!probe_must_fail(fd, "io_uring_setup"))
		(void)close((int)fd);
	return probe_verdict();
}

static int a_userfaultfd(int argc, char **argv)
{
	(void)argc, (void)argv;
	long fd = syscall(SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */);
	if (!probe_must_fail(fd, "userfaultfd"))
		(void)close((int)fd);
	if (probe_open_read("/dev/userfaultfd", O_RDWR, false) >= 0)
		probe_esc("opened /dev/userfaultfd");
	return probe_verdict();
}

struct fh {
	unsigned int handle_bytes;
	int handle_type;
	unsigned char f_handle[128];
};

static int a_name_to_handle(int argc, char **argv)
{
	struct fh h = {.handle_bytes = 128};
	int mnt;

	(void)argc, (void)argv;
	long r = syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &h, &mnt, 0);
	(void)probe_must_fail(r, "name_to_handle_at(/)");
	return probe_verdict();
}

/* The "shocker" escape: forge a handle for inode 2 (an ext4/xfs root) and open it through
 * any fd on that filesystem, e.g. a read-only bind. Needs CAP_DAC_READ_SEARCH. */
static int a_open_by_handle(int argc, char **argv)
{
	static const char *const mounts[] = {"/usr", "/etc", "/", "/proc"};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		int mfd = open(mounts[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (mfd < 0)
			continue;
		struct fh h = {.handle_bytes = 8, .handle_type = 1 /* FILEID_INO32_GEN */};
		uint32_t ino = 2, gen = 0;
		memcpy(h.f_handle, &ino, 4);
		memcpy(h.f_handle + 4, &gen, 4);
		long fd = syscall(SYS_open_by_handle_at, mfd, &h, O_RDONLY | O_CLOEXEC);
		int e = errno;
		char what[128];
		(void)snprintf(what, sizeof(what), "open_by_handle_at(inode 2 via %s)", mounts[i]);
		if (!probe_must_be_denied_e(fd, e, what) && fd >= 0)
			(void)close((int)fd);
		struct fh real = {.handle_bytes = 128};
		int mid;
		if (syscall(SYS_name_to_handle_at, mfd, "", &real, &mid, AT_EMPTY_PATH) == 0) {
			fd = syscall(SYS_open_by_handle_at, mfd, &real, O_RDONLY | O_CLOEXEC);
			(void)snprintf(what, sizeof(what), "open_by_handle_at(real handle of %s)",
				       mounts[i]);
			if (!probe_must_fail(fd, what))
				(void)close((int)fd);
		}
		(void)close(mfd);
	}
	return probe_verdict();
}

static int a_kernel_modules(int argc, char **argv)
{
	static const char junk[64];

	(void)argc, (void)argv;
	(void)probe_must_be_denied(syscall(SYS_init_module, junk, sizeof(junk), ""), "init_module");
	(void)probe_must_be_denied(syscall(SYS_finit_module, -1, "", 0), "finit_module");
	(void)probe_must_be_denied(syscall(SYS_delete_module, "sbx_probe_none", O_NONBLOCK),
				   "delete_module");
	return probe_verdict();
}

static int a_kexec(int argc, char **argv)
{
	(void)argc, (void)argv;
	/* 17 segments is one more than KEXEC_SEGMENT_MAX: EINVAL, right after the CAP_SYS_BOOT
	 * check, and nothing is loaded or unloaded. */
	(void)probe_must_be_denied(syscall(SYS_kexec_load, 0UL, 17UL, NULL, 0UL), "kexec_load");
	(void)probe_must_be_denied(syscall(SYS_kexec_file_load, -1, -1, 0UL, "", 0UL),
				   "kexec_file_load");
	return probe_verdict();
}

static int a_reboot(int argc, char **argv)
{
	(void)argc, (void)argv;
	/* Bad magic numbers: refused with EINVAL after the CAP_SYS_BOOT check, never a reboot. */
	(void)probe_must_be_denied(syscall(SYS_reboot, 0, 0, LINUX_REBOOT_CMD_CAD_OFF, NULL),
				   "reboot(bad magic)");
	return probe_verdict();
}

static int a_swap(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)probe_must_be_denied(swapon("/.sbx-probe-none", 0), "swapon");
	(void)probe_must_be_denied(swapoff("/.sbx-probe-none"), "swapoff");
	return probe_verdict();
}

static int a_acct(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)probe_must_be_denied(acct("/.sbx-probe-none/acct"), "acct");
	return probe_verdict();
}

static int iopl_child(void *arg)
{
	(void)arg;
	(void)probe_must_fail(syscall(SYS_iopl, 3), "iopl(3)");
	(void)probe_must_fail(syscall(SYS_ioperm, 0x80, 1, 1), "ioperm(0x80)");
	return 0;
}

static int a_iopl(int argc, char **argv)
{
	(void)argc, (void)argv;
	(void)probe_in_child(iopl_child, NULL, ATTACK_TIMEOUT);
	return probe_verdict();
}

static int a_settime(int argc, char **argv)
{
	struct timex tx = {.modes = ADJ_TICK, .tick = 1};

	(void)argc, (void)argv;
	/* tick=1 is out of range: EINVAL, but only after the CAP_SYS_TIME check. */
	(void)probe_must_be_denied(adjtimex(&tx), "adjtimex(ADJ_TICK)");
	struct timespec ts;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	if (probe_arg_inside)
		(void)probe_must_fail(clock_settime(CLOCK_REALTIME, &ts), "clock_settime");
	return probe_verdict();
}

static int a_sethostname(int argc, char **argv)
{
	char cur[HOST_NAME_MAX + 1], dom[256];

	(void)argc, (void)argv;
	if (gethostname(cur, sizeof(cur)) < 0)
		return probe_fail("gethostname: %s", probe_ename(errno));
	(void)probe_must_fail(sethostname(cur, strlen(cur)), "sethostname(same name)");
	if (getdomainname(dom, sizeof(dom)) == 0)
		(void)probe_must_fail(setdomainname(dom, strlen(dom)), "setdomainname(same name)");
	return probe_verdict();
}

static int a_hostname(int argc, char **argv)
{
	char cur[HOST_NAME_MAX + 1];
	const char *host = probe_arg_or_env(argc, argv, 1, "SBX_PROBE_HOST_HOSTNAME");

	if (gethostname(cur, sizeof(cur)) < 0)
		return probe_fail("gethostname: %s", probe_ename(errno));
	if (host && strcmp(cur, host) == 0)
		probe_esc("hostname is the host's ('%s')", cur);
	if (!host && strcmp(cur, "sbx") != 0)
		probe_esc("hostname is '%s', not the sandbox's 'sbx'", cur);
	return probe_verdict();
}

static const struct attack attacks[] = {
    {"proc-kernel", a_proc_kernel, 0, "/proc/kcore, kallsyms addresses, sysrq-trigger"},
    {"dmesg", a_dmesg, 0, "syslog(2), /dev/kmsg, /proc/kmsg"},
    {"proc-sys-write", a_proc_sys_write, 0, "open /proc/sys files for writing"},
    {"sys-write", a_sys_write, 0, "open /sys files for writing (uevent_helper, release_agent)"},
    {"keyctl", a_keyctl, 0, "keyctl"},
    {"add-key", a_add_key, 0, "add_key"},
    {"request-key", a_request_key, 0, "request_key"},
    {"bpf", a_bpf, 0, "bpf map and program"},
    {"perf-event-open", a_perf_event_open, 0, "perf_event_open on ourselves"},
    {"io-uring", a_io_uring, 0, "io_uring_setup"},
    {"userfaultfd", a_userfaultfd, 0, "userfaultfd, /dev/userfaultfd"},
    {"name-to-handle", a_name_to_handle, 0, "name_to_handle_at"},
    {"open-by-handle", a_open_by_handle, 0, "open_by_handle_at (shocker)"},
    {"kernel-modules", a_kernel_modules, 0, "init_module, finit_module, delete_module"},
    {"kexec", a_kexec, 0, "kexec_load, kexec_file_load"},
    {"reboot", a_reboot, 0, "reboot"},
    {"swap", a_swap, 0, "swapon, swapoff"},
    {"acct", a_acct, 0, "acct"},
    {"iopl", a_iopl, 0, "iopl, ioperm"},
    {"settime", a_settime, 0, "adjtimex, clock_settime"},
    {"sethostname", a_sethostname, 0, "sethostname, setdomainname"},
    {"hostname", a_hostname, 0, "hostname is not the host's [HOST]"},
};

const struct probe_table probe_kernel_table = PROBE_TABLE(attacks);
