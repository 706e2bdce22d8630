/* SPDX-License-Identifier: MIT */
/*
 * Capability drop (minijail's rule: once privileges start dropping, a failed step ends the
 * child; it never goes on half-dropped). Runs between clone and execve, so only syscalls:
 * libcap's prctl wrappers for the bounding and ambient sets, raw setres[ug]id/setgroups
 * (glibc's set*id wrappers broadcast to the threads glibc believes exist, which after a raw
 * clone3 of a multithreaded supervisor are not ours) and raw capset/capget.
 */
#include <errno.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <sys/capability.h>

#include "sandbox/internal.h"

static void drop_bounding(int report_fd)
{
	/* Dropping an absent capability succeeds; EINVAL means past the kernel's last one. */
	for (int c = 0; c <= CAP_LAST_CAP + 16; c++)
		if (cap_drop_bound((cap_value_t)c) < 0) {
			if (errno == EINVAL && c > CAP_SETPCAP)
				break;
			sbx_child_fail(report_fd, "capbset_drop", errno);
		}
}

static void set_caps(uint64_t keep, int report_fd)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};

	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		sbx_child_fail(report_fd, "capset", errno);
	if (cap_reset_ambient() < 0)
		sbx_child_fail(report_fd, "cap_ambient_clear", errno);
}

/* Reads the sets back: a drop is only believed once the kernel says so. */
static void verify_caps(uint64_t keep, int report_fd)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};
	uint64_t eff, prm, inh;

	if (syscall(SYS_capget, &hdr, data) < 0)
		sbx_child_fail(report_fd, "capget", errno);
	eff = data[0].effective | (uint64_t)data[1].effective << 32;
	prm = data[0].permitted | (uint64_t)data[1].permitted << 32;
	inh = data[0].inheritable | (uint64_t)data[1].inheritable << 32;
	if (eff != keep || prm != keep || inh != 0)
		sbx_child_fail(report_fd, "caps_verify", EPERM);
	for (int c = 0; c <= CAP_LAST_CAP + 16; c++) {
		int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (r < 0)
			break;
		/* The ambient set needs no per-capability check: it is a subset of permitted and
		 * inheritable, both verified empty (or CAP_KILL only, which init never raises). */
		if (r > 0)
			sbx_child_fail(report_fd, "caps_verify", EPERM);
	}
}

void sbx_caps_drop_to(uid_t uid, gid_t gid, int report_fd)
{
	/* Lock uid 0 out of capability semantics for good, before any uid change. */
	const unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
				   SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
				   SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

	drop_bounding(report_fd);
	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
		sbx_child_fail(report_fd, "securebits", errno);
	if (syscall(SYS_setgroups, 0, NULL) < 0)
		sbx_child_fail(report_fd, "setgroups", errno);
	if (syscall(SYS_setresgid, gid, gid, gid) < 0)
		sbx_child_fail(report_fd, "setresgid", errno);
	if (syscall(SYS_setresuid, uid, uid, uid) < 0)
		sbx_child_fail(report_fd, "setresuid", errno);
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
		sbx_child_fail(report_fd, "setresuid", EPERM);
	set_caps(0, report_fd);
	verify_caps(0, report_fd);
}

void sbx_caps_init_minimal(int report_fd)
{
	const uint64_t keep = 1ULL << CAP_KILL;

	drop_bounding(report_fd);
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED, 0, 0, 0) < 0)
		sbx_child_fail(report_fd, "securebits", errno);
	set_caps(keep, report_fd);
	verify_caps(keep, report_fd);
}

void sbx_caps_enter_userns(uid_t uid, gid_t gid, int report_fd)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};

	/* The namespace maps only the pool uid, so file systems created here (the base and
	 * root tmpfs) need an owner that is mapped: become it now, keeping the namespace's
	 * capabilities for the mounts to come. The payload drops them all later. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		sbx_child_fail(report_fd, "keepcaps", errno);
	if (syscall(SYS_setresgid, gid, gid, gid) < 0)
		sbx_child_fail(report_fd, "setresgid", errno);
	if (syscall(SYS_setresuid, uid, uid, uid) < 0)
		sbx_child_fail(report_fd, "setresuid", errno);
	if (syscall(SYS_capget, &hdr, data) < 0)
		sbx_child_fail(report_fd, "capget", errno);
	data[0].effective = data[0].permitted;
	data[1].effective = data[1].permitted;
	if (syscall(SYS_capset, &hdr, data) < 0)
		sbx_child_fail(report_fd, "capset", errno);
}
