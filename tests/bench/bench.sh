#!/bin/sh
# SPDX-License-Identifier: MIT
# `make bench`: spawn latency of `sbxctl exec --policy default /bin/true` against bwrap with
# the same isolation and the same seccomp filters, in the same run, as p50/p99 and ratios.
# Run as root. Usage: bench.sh BUILD_DIR   (N runs: BENCH_N, default 300)
set -eu
B=${1:-build}
N=${BENCH_N:-300}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: must run as root (sbxctl exec creates namespaces and cgroups)" >&2
	exit 1
fi
command -v bwrap >/dev/null || { echo "bench: bwrap not installed (apt-get install bubblewrap)" >&2; exit 1; }

set -- $("$B/bench/bpf-export" default "$tmp/filter")
nfilters=$1 insns=$2

# bwrap with what sbx's default policy does: every namespace but user, read-only /usr and
# the merged-/usr links, /etc files, fresh /proc and /dev, tmpfs /tmp, a non-root uid with
# no capabilities (bwrap needs a user namespace for --uid), a new session, death with its parent, and sbx's seccomp filters.
bw="bwrap --unshare-user --unshare-pid --unshare-net --unshare-ipc --unshare-uts --unshare-cgroup \
 --die-with-parent --new-session --hostname sbx \
 --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 \
 --symlink usr/sbin /sbin --ro-bind /etc/hosts /etc/hosts --ro-bind /etc/resolv.conf /etc/resolv.conf \
 --ro-bind-try /etc/ssl /etc/ssl --ro-bind-try /etc/nsswitch.conf /etc/nsswitch.conf \
 --ro-bind-try /etc/ld.so.cache /etc/ld.so.cache --ro-bind-try /etc/localtime /etc/localtime \
 --proc /proc --dev /dev --tmpfs /tmp --uid 200000 --gid 200000 --cap-drop ALL"
fdargs=""
i=0
while [ "$i" -lt "$nfilters" ]; do
	fd=$((3 + i))
	fdargs="$fdargs --add-seccomp-fd $fd"
	i=$((i + 1))
done

run_bwrap() {
	# Each filter file is opened on its own fd for every run (single-digit fds: dash).
	cat >"$tmp/bw.sh" <<EOS
#!/bin/sh
exec $bw $fdargs /bin/true $(i=0; while [ "$i" -lt "$nfilters" ]; do printf ' %d<%s' $((3 + i)) "$tmp/filter.$i"; i=$((i + 1)); done)
EOS
	chmod +x "$tmp/bw.sh"
	"$tmp/bw.sh" >/dev/null 2>&1 || { echo "bench: bwrap fails here:"; cat "$tmp/bw.sh"; "$tmp/bw.sh"; } >&2
	"$B/bench/spawn-bench" "$@" -- "$tmp/bw.sh"
}

echo "== spawn latency: /bin/true, $N runs each, sequential"
echo "sbx:   $B/sbxctl exec --policy default -- /bin/true"
echo "bwrap: $bw $fdargs /bin/true"
echo "seccomp: $nfilters filter(s), $insns BPF instructions, given to both"
sbx=$("$B/bench/spawn-bench" -n "$N" -- "$B/sbxctl" exec --policy default -- /bin/true)
bwr=$(run_bwrap -n "$N")
# A shell wrapper adds one exec to bwrap's runs; measure it to subtract it out.
printf '#!/bin/sh\nexec /bin/true\n' >"$tmp/sh.sh"; chmod +x "$tmp/sh.sh"
shx=$("$B/bench/spawn-bench" -n "$N" -- "$tmp/sh.sh")
echo "sbx    $sbx"
echo "bwrap  $bwr (includes a /bin/sh exec wrapper)"
echo "sh     $shx (the wrapper alone)"
get() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
awk -v s50="$(get "$sbx" p50)" -v s99="$(get "$sbx" p99)" -v b50="$(get "$bwr" p50)" \
    -v b99="$(get "$bwr" p99)" -v w50="$(get "$shx" p50)" 'BEGIN {
	printf "p50: sbx %.2f ms, bwrap %.2f ms (%.2f without wrapper); ratio sbx/bwrap %.2f\n", s50, b50, b50 - w50, s50 / (b50 - w50);
	printf "p99: sbx %.2f ms, bwrap %.2f ms; ratio sbx/bwrap %.2f\n", s99, b99, s99 / b99 }'

echo "== throughput: 2 at a time"
sbx2=$("$B/bench/spawn-bench" -n "$N" -j 2 -- "$B/sbxctl" exec --policy default -- /bin/true)
bwr2=$(run_bwrap -n "$N" -j 2)
echo "sbx    $sbx2"
echo "bwrap  $bwr2"
awk -v s="$(get "$sbx2" per_s)" -v b="$(get "$bwr2" per_s)" 'BEGIN { printf "spawns/s: sbx %.1f, bwrap %.1f; ratio %.2f\n", s, b, s / b }'

for extra in "$B"/bench/bench-*; do
	[ -x "$extra" ] || continue
	echo "== $(basename "$extra")"
	"$extra"
done
