#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generates sbx's default seccomp profile and the x86_64 syscall name table.

Run by developers, not by the build; both outputs are committed:

    python3 scripts/gen-seccomp-profile.py /work/shared/reference/docker-seccomp-default.json

writes policy/profiles/default.json (our format, docs/seccomp.md) and policy/syscall-names.h
(the names policy/profile.c accepts, so policy/ never links libseccomp).

How the default profile is made (DESIGN.md "Sandbox construction"):
  1. Docker's entries that apply on x86_64 ("amd64") to a process holding NO capability:
     an entry that `includes` caps is dropped, one that `excludes` caps is kept (clone with the
     namespace-flag mask, clone3 -> ENOSYS); arch includes/excludes resolved for amd64;
     minKernel entries are kept (we need kernels >= 5.10 anyway). Names that are not x86_64
     syscalls (chown32, _llseek, ...) are dropped, as libseccomp would.
  2. Tightened: FORBIDDEN below is removed whatever Docker says; the script fails if one
     of them would survive.
  3. Added: refusals compared on the LOW 32 BITS of arguments the kernel truncates to int:
     ioctl TIOCSTI/TIOCLINUX (CVE-2019-10063) and socket AF_ALG/AF_VSOCK (Docker's
     64-bit `socket` comparisons let socket(0x100000028, ...) reach AF_VSOCK).
"""

import argparse
import errno
import hashlib
import json
import os
import re
import sys

ARCH = "amd64"  # Docker's name for x86_64
MIN_KERNEL = (5, 10)

# Syscalls newer than the kernel headers of Debian 12 (6.1). Numbers are x86_64 ABI, fixed
# forever once released (arch/x86/entry/syscalls/syscall_64.tbl). Without them a profile could
# not allow e.g. fchmodat2, which newer libcs use on the 6.x kernels we run on.
EXTRA_SYSCALLS = {
    "uretprobe": 335,
    "cachestat": 451,
    "fchmodat2": 452,
    "map_shadow_stack": 453,
    "futex_wake": 454,
    "futex_wait": 455,
    "futex_requeue": 456,
    "statmount": 457,
    "listmount": 458,
    "lsm_get_self_attr": 459,
    "lsm_set_self_attr": 460,
    "lsm_list_modules": 461,
    "mseal": 462,
    "setxattrat": 463,
    "getxattrat": 464,
    "listxattrat": 465,
    "removexattrat": 466,
    "open_tree_attr": 467,
    "file_getattr": 468,
    "file_setattr": 469,
}

# Refused in sbx's default whatever Docker allows, with the reason (docs/seccomp.md).
FORBIDDEN = {
    # reading or writing other processes
    "ptrace": "debugging other processes",
    "process_vm_readv": "reading other processes' memory",
    "process_vm_writev": "writing other processes' memory",
    "kcmp": "comparing other processes' kernel objects",
    "pidfd_getfd": "stealing other processes' fds",
    "process_madvise": "advising other processes' memory",
    # kernel attack surface with a long CVE record, not needed by ordinary programs
    "perf_event_open": "kernel profiling; many CVEs",
    "bpf": "eBPF programs",
    "io_uring_setup": "io_uring bypasses seccomp for its operations; many CVEs",
    "io_uring_enter": "io_uring",
    "io_uring_register": "io_uring",
    "userfaultfd": "stalls kernel copies, a race-exploit helper",
    "modify_ldt": "16-bit segments only (Wine); CVE-2015-5157, CVE-2017-17053",
    "keyctl": "kernel keyrings are not namespaced",
    "add_key": "kernel keyrings are not namespaced",
    "request_key": "kernel keyrings are not namespaced",
    # file handles bypass the mount namespace (the 'shocker' container escape)
    "name_to_handle_at": "file handles (shocker)",
    "open_by_handle_at": "file handles (shocker)",
    # mounts and namespaces
    "mount": "mounts", "umount": "mounts", "umount2": "mounts", "pivot_root": "mounts",
    "chroot": "mounts", "fsopen": "mounts", "fsmount": "mounts", "fsconfig": "mounts",
    "fspick": "mounts", "move_mount": "mounts", "open_tree": "mounts",
    "open_tree_attr": "mounts", "mount_setattr": "mounts",
    "unshare": "namespaces", "setns": "namespaces",
    "clone3": "flags out of seccomp's reach; answered ENOSYS by a rule",
    # the host itself
    "kexec_load": "host", "kexec_file_load": "host", "init_module": "host",
    "finit_module": "host", "delete_module": "host", "reboot": "host", "swapon": "host",
    "swapoff": "host", "acct": "host", "quotactl": "host", "quotactl_fd": "host",
    "lookup_dcookie": "host", "vhangup": "host", "iopl": "host", "ioperm": "host",
    "syslog": "host", "sethostname": "host", "setdomainname": "host",
    "settimeofday": "host", "clock_settime": "host",
    "fanotify_init": "host",
    "nfsservctl": "host", "_sysctl": "host", "uselib": "host", "create_module": "host",
    "get_kernel_syms": "host", "query_module": "host", "vm86": "host", "vm86old": "host",
}

TIOCSTI = 0x5412
TIOCLINUX = 0x541C
AF_ALG = 38
AF_VSOCK = 40
CLONE_NS_MASK = 0x7E020000  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET

OPS = {
    "SCMP_CMP_EQ": "eq", "SCMP_CMP_NE": "ne", "SCMP_CMP_LT": "lt", "SCMP_CMP_LE": "le",
    "SCMP_CMP_GT": "gt", "SCMP_CMP_GE": "ge", "SCMP_CMP_MASKED_EQ": "masked_eq",
}


def die(msg):
    sys.stderr.write("gen-seccomp-profile: %s\n" % msg)
    sys.exit(1)


def read_unistd(path):
    names = {}
    with open(path, encoding="ascii") as f:
        for line in f:
            m = re.match(r"#define __NR_(\w+)\s+(\d+)\s*$", line)
            if m:
                names[m.group(1)] = int(m.group(2))
    if len(names) < 300:
        die("%s: only %d syscalls, not x86_64's unistd_64.h?" % (path, len(names)))
    for name, nr in EXTRA_SYSCALLS.items():
        if names.get(name, nr) != nr:
            die("%s: %s is %d, expected %d" % (path, name, names[name], nr))
        names[name] = nr
    return names


def applies(entry):
    """Does a Docker entry apply on x86_64 to a process with no capability?"""
    inc = entry.get("includes") or {}
    exc = entry.get("excludes") or {}
    if inc.get("caps"):
        return False  # needs a capability we never hold
    if inc.get("arches") and ARCH not in inc["arches"]:
        return False
    if exc.get("arches") and ARCH in exc["arches"]:
        return False
    if inc.get("minKernel"):
        want = tuple(int(x) for x in inc["minKernel"].split(".")[:2])
        if want > MIN_KERNEL:
            die("entry %s needs kernel %s > %s" % (entry["names"], want, MIN_KERNEL))
    # exc["caps"]: we hold none, so the exclusion never triggers and the entry stays.
    # exc["minKernel"]: none in Docker's profile.
    for k in list(inc) + list(exc):
        if k not in ("caps", "arches", "minKernel"):
            die("unknown condition %r in %s" % (k, entry["names"]))
    return True


def hexs(v):
    return "0x%x" % v


def conv_args(entry):
    out = []
    for a in entry.get("args") or []:
        op = OPS.get(a["op"]) or die("unknown op %r" % a["op"])
        arg = {"index": a["index"], "op": op}
        if op == "masked_eq":
            # Docker: value is the mask, valueTwo the datum.
            arg["mask"] = hexs(a["value"])
            arg["value"] = a.get("valueTwo", 0)
        else:
            arg["value"] = a["value"] if a["value"] < 0x10000 else hexs(a["value"])
        out.append(arg)
    return out


def action_of(entry):
    act = entry["action"]
    if act == "SCMP_ACT_ALLOW":
        return {"action": "allow"}
    if act == "SCMP_ACT_ERRNO":
        return {"action": "errno", "errno": errno.errorcode[entry.get("errnoRet", errno.EPERM)]}
    die("unsupported action %r" % act)
    return None


def build(docker, nrs, digest):
    if docker.get("defaultAction") != "SCMP_ACT_ERRNO":
        die("expected Docker's default action SCMP_ACT_ERRNO")
    allow = set()
    rules = []
    dropped_arch = set()
    removed = set()
    for entry in docker["syscalls"]:
        if not applies(entry):
            continue
        act = action_of(entry)
        args = conv_args(entry)
        for name in entry["names"]:
            if name not in nrs:
                dropped_arch.add(name)
                continue
            if name in FORBIDDEN:
                if act["action"] == "allow":
                    removed.add(name)
                continue
            if act["action"] == "allow" and not args:
                allow.add(name)
            else:
                rule = {"syscall": name}
                rule.update(act)
                if args:
                    rule["args"] = args
                rules.append(rule)

    # clone3: Docker's ENOSYS rule (it `excludes` CAP_SYS_ADMIN), kept although clone3 is in
    # FORBIDDEN's list of what must not be allowed: glibc falls back to clone only on ENOSYS.
    if not any(r["syscall"] == "clone" for r in rules):
        die("Docker's conditional clone rule is missing")
    for r in rules:
        if r["syscall"] == "clone" and r["args"] != [
                {"index": 0, "op": "masked_eq", "mask": hexs(CLONE_NS_MASK), "value": 0}]:
            die("unexpected clone rule %r" % r)
    rules.append({"syscall": "clone3", "action": "errno", "errno": "ENOSYS",
                  "comment": "flags out of seccomp's reach: libc falls back to clone on ENOSYS"})
    if "ioctl" not in allow:
        die("Docker no longer allows ioctl?")

    low32 = "0xffffffff"
    for req, what in ((TIOCSTI, "TIOCSTI"), (TIOCLINUX, "TIOCLINUX")):
        rules.append({"syscall": "ioctl", "action": "errno", "errno": "EPERM",
                      "args": [{"index": 1, "op": "masked_eq", "mask": low32,
                                "value": hexs(req)}],
                      "comment": "%s pushes input into the terminal; low 32 bits only, "
                                 "the kernel ignores the rest (CVE-2019-10063)" % what})
    for fam, what in ((AF_ALG, "AF_ALG"), (AF_VSOCK, "AF_VSOCK")):
        rules.append({"syscall": "socket", "action": "errno", "errno": "EPERM",
                      "args": [{"index": 0, "op": "masked_eq", "mask": low32, "value": fam}],
                      "comment": "%s refused on the low 32 bits: the kernel reads an int, so "
                                 "the 64-bit comparisons above alone miss 0x1%08x" % (what, fam)})

    # Rules with a condition on an unconditionally allowed syscall must be refusals.
    for r in rules:
        if r["syscall"] in allow and r["action"] == "allow":
            die("conditional allow of unconditionally allowed %s" % r["syscall"])
    survivors = (allow | {r["syscall"] for r in rules if r["action"] == "allow"}) & set(FORBIDDEN)
    if survivors:
        die("forbidden syscalls survived: %s" % sorted(survivors))

    desc = ("sbx default: Docker's default seccomp profile (sha256 %s) resolved for x86_64 and "
            "a process holding no capability, tightened (removed: %s), with ioctl TIOCSTI/"
            "TIOCLINUX and socket AF_ALG/AF_VSOCK refused on the low 32 bits. Generated by "
            "scripts/gen-seccomp-profile.py; see docs/seccomp.md." % (digest[:16],
                                                                        ", ".join(sorted(removed))))
    profile = {
        "description": desc,
        "default": {"action": "errno", "errno": "EPERM"},
        "allow": sorted(allow),
        "rules": rules,
    }
    return profile, sorted(dropped_arch)


def write_names(path, nrs):
    lines = [
        "/* SPDX-License-Identifier: MIT */",
        "/*",
        " * x86_64 syscall names and numbers, sorted by name for bsearch. Generated by",
        " * scripts/gen-seccomp-profile.py from the kernel's asm/unistd_64.h plus the newer",
        " * syscalls it lists; do not edit. Included by policy/profile.c only.",
        " */",
        "#pragma once",
        "",
        "struct sbx_syscall_name {",
        "\tconst char *name;",
        "\tint nr;",
        "};",
        "",
        "static const struct sbx_syscall_name sbx_syscall_names[] = {",
    ]
    for name in sorted(nrs):
        lines.append('    {"%s", %d},' % (name, nrs[name]))  # as clang-format lays it out
    lines.append("};")
    with open(path + ".tmp", "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("docker_json")
    ap.add_argument("--unistd", default="/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(__file__), ".."))
    opts = ap.parse_args()

    nrs = read_unistd(opts.unistd)
    with open(opts.docker_json, "rb") as f:
        raw = f.read()
    profile, dropped = build(json.loads(raw), nrs, hashlib.sha256(raw).hexdigest())

    out = os.path.join(opts.out_dir, "policy", "profiles", "default.json")
    with open(out + ".tmp", "w", encoding="ascii") as f:
        json.dump(profile, f, indent=1)
        f.write("\n")
    os.replace(out + ".tmp", out)
    write_names(os.path.join(opts.out_dir, "policy", "syscall-names.h"), nrs)
    sys.stderr.write("wrote %s: %d allowed, %d rules; not x86_64 syscalls (dropped): %s\n"
                     % (out, len(profile["allow"]), len(profile["rules"]), " ".join(dropped)))


if __name__ == "__main__":
    main()
