# SPDX-License-Identifier: MIT
# Shell check helpers shared by scripts/test-deb.sh and scripts/test-systemd-boot.sh (sourced;
# set SUITE first). Each check prints one Criterion-like line ("[PASS] SUITE::name", "[FAIL]
# ...: why", "[SKIP] ...: why"); finish prints "tests: N passed, N failed, N skipped",
# appends the counts to $SBX_TOTALS_FILE and each failure to $SBX_FAILS_FILE when set
# (scripts/test.sh sums and repeats them), and exits 1 when a check failed. in_root and
# drop_scratch work on the caller's scratch Debian root ($root inside $tmp, the mounts in
# $mounted, $keep to leave it for inspection).
passed=0 failed=0 skipped=0 keep=${keep:-0} mounted=""

ok() {
	echo "[PASS] $SUITE::$1"
	passed=$((passed + 1))
}
bad() {
	echo "[FAIL] $SUITE::$1: $2"
	if [ -n "${SBX_FAILS_FILE:-}" ]; then
		echo "$SUITE::$1: $2" >>"$SBX_FAILS_FILE"
	fi
	failed=$((failed + 1))
}
skip() {
	echo "[SKIP] $SUITE::$1: $2"
	skipped=$((skipped + 1))
}
# check NAME COMMAND...: passes when the command succeeds.
check() {
	name=$1
	shift
	if out=$("$@" 2>&1); then
		ok "$name"
	else
		bad "$name" "$(printf '%s' "$out" | tail -n 5)"
	fi
}
finish() {
	echo "tests: $passed passed, $failed failed, $skipped skipped"
	if [ -n "${SBX_TOTALS_FILE:-}" ]; then
		echo "$passed $failed $skipped" >>"$SBX_TOTALS_FILE"
	fi
	[ "$failed" -eq 0 ]
	exit $?
}

# in_root COMMAND...: runs COMMAND chrooted in $root with a clean environment.
in_root() {
	chroot "${root:?}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}
# Unmounts what $mounted lists and removes $tmp (unless $keep is 1).
drop_scratch() {
	for m in $mounted; do
		umount -l "$m" 2>/dev/null
	done
	if [ "$keep" -eq 1 ]; then
		echo "kept ${tmp:?}"
	else
		rm -rf "${tmp:?}"
	fi
}
