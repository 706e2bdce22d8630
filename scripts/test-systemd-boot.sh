#!/bin/sh
# SPDX-License-Identifier: MIT
# The package under a real systemd as PID 1 (make boot-test). Boots the Debian 12 root that
# scripts/test-deb.sh bootstraps (its cache) with build-deb/sbx_*.deb installed, in a
# systemd-nspawn container, after the operator's first steps of docs/operations.md "Under
# systemd" (keys init --systemd-creds, audit init, enable sbxd.socket), then checks what only
# a real service manager shows: socket activation of the first connection, Type=notify
# readiness, the keyring as a decrypted credential, the delegated cgroup subtree, sandboxes
# working beneath the unit's own hardening (its seccomp filters are inherited by every
# payload: a JIT must still run, the sandbox still sets its hostname and builds its root with
# openat2), a sealed key reaching a payload, reload, a clean stop, the audit chain, and a
# configuration error that stops instead of restarting forever; network mode proxy reaching
# an origin on loopback; a key rotated in the credential, taken in by a restart.
#
#   sh scripts/test-systemd-boot.sh [--keep]
#
# Run scripts/test-deb.sh first (it builds the .deb and caches the root). Needs root and
# systemd-nspawn (package systemd-container; installed when missing). Prints one line per
# check and "tests: N passed, N failed, N skipped" (scripts/checks.sh).
set -u
cd "$(dirname "$0")/.." || exit 1
src=$(pwd)
keep=0
[ "${1:-}" = --keep ] && keep=1
cache=${SBX_DEB_CACHE:-/var/cache/sbx-test}
tmp=$(mktemp -d /var/tmp/sbx-boot.XXXXXX)
root="$tmp/root"
machine="sbx-boot-$$"
nspawn_pid="" pid1=""

SUITE=boot
. "$src/scripts/checks.sh"

# The container's PID 1 as seen from here: systemd-nspawn's child named systemd.
find_pid1() {
	pgrep -P "$nspawn_pid" -x systemd | head -n 1 | grep .
}
# in_box COMMAND...: runs COMMAND in the booted container's namespaces (not in a unit).
in_box() {
	timeout 120 nsenter -t "$pid1" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}
origin_pid=""
cleanup() {
	[ -n "$origin_pid" ] && kill "$origin_pid" 2>/dev/null
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		[ -n "$pid1" ] && in_box systemctl poweroff >/dev/null 2>&1
		i=0
		while kill -0 "$nspawn_pid" 2>/dev/null && [ $i -lt 30 ]; do
			sleep 1
			i=$((i + 1))
		done
		kill -KILL "$nspawn_pid" 2>/dev/null
	fi
	drop_scratch
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the root, with the package and the first steps ------------------------------------

if [ "$(id -u)" -ne 0 ]; then
	skip boot "needs root (a container booting systemd)"
	finish
fi
if ! command -v systemd-nspawn >/dev/null 2>&1; then
	sh scripts/install-deps-pkg.sh >/dev/null 2>&1 || true
fi
deb=$(ls build-deb/sbx_*.deb 2>/dev/null | tail -n 1)
if ! command -v systemd-nspawn >/dev/null 2>&1; then
	bad boot "systemd-nspawn is missing (package systemd-container)"
	finish
elif [ ! -s "$cache/bookworm-root.tar" ] || [ -z "$deb" ]; then
	bad boot "no Debian root in $cache or no build-deb/sbx_*.deb: run scripts/test-deb.sh first"
	finish
fi
mkdir -p "$root"
tar -C "$root" -xf "$cache/bookworm-root.tar"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/sbx.deb"
cp build/tests/probe "$root/usr/local/bin/sbx-probe"
mkdir -p "$root/var/cache/apt/archives"
mount --bind "$cache/archives" "$root/var/cache/apt/archives" &&
	mounted="$root/var/cache/apt/archives"
in_root dpkg -i /tmp/sbx.deb >"$tmp/install.log" 2>&1
if ! in_root apt-get install -y -q -f --no-install-recommends >>"$tmp/install.log" 2>&1; then
	in_root apt-get update -qq >>"$tmp/install.log" 2>&1
	in_root apt-get install -y -q -f --no-install-recommends >>"$tmp/install.log" 2>&1
fi
umount "$root/var/cache/apt/archives" && mounted=""
if ! in_root dpkg-query -W -f='${Status}' sbx 2>/dev/null | grep -q "install ok installed" ||
	[ ! -x "$root/usr/lib/systemd/systemd" ]; then
	bad install "sbx or systemd is not installed; last lines of $tmp/install.log: $(tail -n 5 "$tmp/install.log")"
	keep=1
	finish
fi
# docs/operations.md "Under systemd", as root on the host.
# A short drain, so that stopping with a task running takes 2 s and not the shipped 30 s.
python3 - "$root/etc/sbx/sbxd.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.setdefault("limits", {})["shutdown_grace"] = "2s"
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
if in_root sbxctl keys init --systemd-creds >"$tmp/first.log" 2>&1 &&
	in_root sbxctl audit init --dir /var/lib/sbx --key-out /root/audit.key >>"$tmp/first.log" 2>&1 &&
	in_root systemctl enable sbxd.socket >>"$tmp/first.log" 2>&1; then
	ok first_steps
else
	bad first_steps "$(tail -n 5 "$tmp/first.log")"
	finish
fi

# On a host whose memory/pids/cpu controllers sit on cgroup v1 (this project's CI machine),
# systemd-nspawn mounts those hierarchies read-only in the container. sbxd uses whichever
# writable hierarchy holds a controller, so they are bound writable at /mnt/cg-NAME, the
# read-only ones are unmounted inside the container, and a drop-in lets the service write
# there. The host's own mounts are not touched. On a pure cgroup v2 host nothing of this runs.
binds=""
v1=""
for c in memory pids cpu; do
	if [ "$(stat -f -c %T "/sys/fs/cgroup/$c" 2>/dev/null)" = cgroupfs ]; then
		mkdir -p "$root/mnt/cg-$c"
		binds="$binds --bind=/sys/fs/cgroup/$c:/mnt/cg-$c"
		v1="$v1 $c"
	fi
done
if [ -n "$v1" ]; then
	mkdir -p "$root/etc/systemd/system/sbxd.service.d"
	printf '[Service]\nReadWritePaths=/mnt\n' >"$root/etc/systemd/system/sbxd.service.d/cgroup-v1.conf"
fi

# ---- boot --------------------------------------------------------------------------------

# A host root keeps every capability and may mlock, mount and use the debug calls; nspawn's
# defaults would withhold them from the container and so from the service.
# shellcheck disable=SC2086 # $binds is a list of options
systemd-nspawn -q -D "$root" -b --register=no --keep-unit -M "$machine" --console=passive \
	--capability=all \
	--system-call-filter="@mount @privileged @debug @clock @module @raw-io @swap @cpu-emulation @obsolete mlock mlock2 mlockall" \
	$binds >"$tmp/nspawn.log" 2>&1 &
nspawn_pid=$!
state=""
i=0
while [ $i -lt 120 ]; do
	pid1=$(find_pid1) && state=$(in_box systemctl is-system-running 2>/dev/null)
	case "$state" in running | degraded) break ;; esac
	sleep 0.5
	i=$((i + 1))
done
case "$state" in
running | degraded) ok "boot (systemd $(in_box systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p'), $state)" ;;
*)
	bad boot "the container did not come up ('$state'): $(tail -n 5 "$tmp/nspawn.log")"
	finish
	;;
esac
if [ "$state" = degraded ]; then
	echo "  failed units: $(in_box systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')"
fi
for c in $v1; do
	in_box umount "/sys/fs/cgroup/$c" 2>/dev/null
done

# ---- checks ------------------------------------------------------------------------------

S=/run/sbx/sbxd.sock
run() { in_box sbxctl run --socket "$S" "$@"; }
journal() { in_box journalctl --no-pager -q -u sbxd -u sbxd.socket; }
# journal_has TEXT: waits up to 10 s for TEXT in the units' journal (a reload is a SIGHUP that
# systemd 252 does not wait for).
journal_has() {
	n=0
	until journal | grep -q "$1"; do
		[ $n -ge 50 ] && return 1
		sleep 0.2
		n=$((n + 1))
	done
}

if [ "$(in_box systemctl is-active sbxd.socket)" = active ] &&
	[ "$(in_box systemctl is-active sbxd.service)" = inactive ]; then
	ok socket_listens_service_waits
else
	bad socket_listens_service_waits "sbxd.socket $(in_box systemctl is-active sbxd.socket), sbxd $(in_box systemctl is-active sbxd)"
fi

# The first connection starts the service; the task's facts come back.
facts=$(run -- /usr/local/bin/sbx-probe facts 2>&1)
if printf '%s\n' "$facts" | grep -q '^caps  *Eff=0 ' &&
	printf '%s\n' "$facts" | grep -q '^nnp  *1  seccomp 2' &&
	printf '%s\n' "$facts" | grep -q '^hostname  *sbx$' &&
	printf '%s\n' "$facts" | grep -q '^uid  *2[0-9]\{5\}/'; then
	ok first_connection_starts_the_service_and_a_sandbox
else
	bad first_connection_starts_the_service_and_a_sandbox "$(printf '%s' "$facts" | tail -n 5) | $(journal | tail -n 3)"
fi
# Inherited hardening must leave a JIT working (MemoryDenyWriteExecute= would refuse it).
jit=$(printf '%s\n' "$facts" | sed -n 's/^jit  *//p')
if [ "$jit" = ok ]; then ok jit_payload_runs; else bad jit_payload_runs "jit: '$jit'"; fi

log=$(journal)
if [ "$(in_box systemctl is-active sbxd)" = active ] &&
	printf '%s\n' "$log" | grep -q "Started sbxd.service" &&
	printf '%s\n' "$log" | grep -q "keyring '/run/credentials/sbxd.service/keyring'"; then
	ok notify_ready_with_the_keyring_credential
else
	bad notify_ready_with_the_keyring_credential "$(printf '%s' "$log" | tail -n 4)"
fi
if printf '%s\n' "$log" | grep -q "task cgroups go below the delegated subtree '.*sbxd.service'"; then
	ok delegated_cgroup_subtree
else
	bad delegated_cgroup_subtree "$(printf '%s' "$log" | grep -i cgroup | tail -n 2)"
fi

# A sealed key reaches the payload's environment; its value is never printed.
key="sk-boot-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf 'APP_API_KEY=%s\n' "$key" | in_box sbxctl seal --socket "$S" --context boot:1 >"$root/root/blob" 2>"$tmp/seal.log"
got=$(run --sealed-file /root/blob --context boot:1 -- /bin/sh -c 'echo ${#APP_API_KEY}' 2>&1)
if [ "$got" = "${#key}" ]; then
	ok sealed_key_reaches_the_payload
else
	bad sealed_key_reaches_the_payload "payload saw length '$got' (want ${#key}); $(tail -n 2 "$tmp/seal.log")"
fi

# Reload takes in a new policy: network mode proxy towards one origin on the host's loopback
# (the container shares the host's network), which a payload reaches through sbxd's proxy
# with bash's /dev/tcp while another port gets 403.
. "$src/scripts/egress-origin.sh"
egress_origin "$tmp/www" "hello through the proxy" "$root/etc/sbx/policies/egress.json"
if in_box systemctl reload sbxd >/dev/null 2>&1 && journal_has "reloaded: 2 policies" &&
	[ "$(run -- /bin/true >/dev/null 2>&1; echo $?)" = 0 ]; then
	ok reload_takes_a_new_policy
else
	bad reload_takes_a_new_policy "$(journal | tail -n 3)"
fi
get() { # get PORT: an absolute-form GET through the proxy, the answer's first line and body
	run --policy egress -- /bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/3128 &&
		printf "GET http://127.0.0.1:%s/hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" "$0" >&3 &&
		tr -d "\r" <&3 | sed -n "1p;\$p"' "$1" 2>&1
}
allowed=$(get "$origin_port")
other=$(get 9)
if printf '%s\n' "$allowed" | grep -q "^HTTP/1.[01] 200" &&
	printf '%s\n' "$allowed" | grep -q "^hello through the proxy$" &&
	printf '%s\n' "$other" | grep -q "^HTTP/1.1 403"; then
	ok proxy_reaches_the_allowed_origin_only
else
	bad proxy_reaches_the_allowed_origin_only "allowed: '$allowed'; other port: '$other'"
fi
kill "$origin_pid" 2>/dev/null

# A key rotated in the credential is taken in by a restart (docs/operations.md).
if in_box sbxctl keys rotate --systemd-creds >"$tmp/rotate.log" 2>&1 &&
	in_box systemctl restart sbxd >>"$tmp/rotate.log" 2>&1 &&
	printf 'APP_API_KEY=%s\n' "$key" | in_box sbxctl seal --socket "$S" --context boot:1 >"$root/root/blob2" 2>>"$tmp/rotate.log" &&
	in_box sbxctl sealed inspect "$(cat "$root/root/blob2")" | grep -q "^key_id: 2$" &&
	[ "$(run --sealed-file /root/blob --context boot:1 -- /bin/sh -c 'echo ${#APP_API_KEY}' 2>&1)" = "${#key}" ]; then
	ok rotation_in_the_credential_then_restart
else
	bad rotation_in_the_credential_then_restart "$(tail -n 3 "$tmp/rotate.log")"
fi

# systemctl stop with a task running: sbxd drains for shutdown_grace (2 s here), then ends
# the task (reason "shutdown") and exits 0; nothing of the task survives; the chain verifies.
sleeper="7$$.25"
run -- /bin/sleep "$sleeper" >"$tmp/long.log" 2>&1 &
long_pid=$!
i=0
while ! pgrep -f "^/bin/sleep $sleeper\$" >/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
started=$(pgrep -f "^/bin/sleep $sleeper\$" | head -n 1)
in_box systemctl stop sbxd >/dev/null 2>&1
wait "$long_pid" # (a bare wait would wait for systemd-nspawn too)
if [ -n "$started" ] && ! pgrep -f "^/bin/sleep $sleeper\$" >/dev/null &&
	[ "$(in_box systemctl show -p Result --value sbxd)" = success ] &&
	in_box grep -q '"event":"task.exited".*"reason":"shutdown"' /var/log/sbx/audit.jsonl &&
	in_box sbxctl audit verify --key-file /root/audit.key /var/log/sbx/audit.jsonl >"$tmp/verify.log" 2>&1; then
	ok stop_drains_then_ends_tasks_and_audit_verifies
else
	bad stop_drains_then_ends_tasks_and_audit_verifies "sleeper '$started', left: '$(pgrep -f "^/bin/sleep $sleeper\$")', result $(in_box systemctl show -p Result --value sbxd); $(tail -n 2 "$tmp/long.log"); $(tail -n 2 "$tmp/verify.log")"
fi
if journal | grep -q "$key" || in_box grep -rqF "$key" /var/log/sbx /run/sbx 2>/dev/null; then
	bad key_nowhere "the sealed key's value is in the journal, the audit log or /run/sbx"
else
	ok key_nowhere
fi

# A configuration error (exit 78) is not restarted; the socket gives up after the start
# limit, so a client is refused instead of waiting forever.
in_box cp /etc/sbx/sbxd.json /root/sbxd.json.good
echo '{"bad' >"$root/etc/sbx/sbxd.json"
in_box systemctl start sbxd >/dev/null 2>&1
run -- /bin/true >/dev/null 2>&1
rc=$?
sleep 1
restarts=$(in_box systemctl show -p NRestarts --value sbxd)
if [ "$rc" -ne 0 ] && [ "$restarts" = 0 ] &&
	[ "$(in_box systemctl is-active sbxd)" = failed ]; then
	ok config_error_fails_without_restarting
else
	bad config_error_fails_without_restarting "client rc $rc, restarts '$restarts', sbxd $(in_box systemctl is-active sbxd)"
fi
in_box cp /root/sbxd.json.good /etc/sbx/sbxd.json
in_box systemctl reset-failed sbxd sbxd.socket >/dev/null 2>&1
if in_box systemctl start sbxd.socket >/dev/null 2>&1 && [ "$(run -- /bin/true >/dev/null 2>&1; echo $?)" = 0 ]; then
	ok fixed_config_starts_again
else
	bad fixed_config_starts_again "$(journal | tail -n 3)"
fi

# The exposure of the unit as installed, rated by the running systemd (printed, not judged:
# docs/operations.md records it).
echo "  $(in_box systemd-analyze security sbxd.service 2>/dev/null | tail -n 1)"

finish
