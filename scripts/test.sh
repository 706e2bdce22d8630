#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's test command (and all that .ci/run does): installs what is missing, builds,
# runs every test (unit, integration, escape, Python, the Debian package in a fresh root and
# booted under a real systemd), the whole suite again under ASan+UBSan, sbxd under valgrind,
# and each fuzz target briefly. Run as root on Debian 12.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
SBX_TOTALS_FILE=$(mktemp)
SBX_FAILS_FILE=$(mktemp)
export SBX_TOTALS_FILE SBX_FAILS_FILE
stage=setup
# Whatever stops the run, its last lines say which stage and which tests failed.
finish() {
	rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "test.sh: stage '$stage' failed (exit $rc)"
		if [ -s "$SBX_FAILS_FILE" ]; then
			echo "test.sh: what failed:"
			cat "$SBX_FAILS_FILE"
		fi
	fi
	rm -f "$SBX_TOTALS_FILE" "$SBX_FAILS_FILE"
	exit "$rc"
}
trap finish EXIT
stage=build
make -j"$jobs" all
stage="make test"
make -j"$jobs" test
stage=python
sh scripts/test-python.sh
# The Debian package: built, installed into a fresh debootstrap root, started (about 1 min warm).
stage=deb
sh scripts/test-deb.sh
# That package under a real systemd as PID 1, in a container (about 15 s).
stage=boot
sh scripts/test-systemd-boot.sh
stage="make asan"
make -j"$jobs" asan
# sbxd under valgrind memcheck for the integration tests that start it (~2 min).
stage="make valgrind"
make valgrind
stage=fuzz-smoke
if ls tests/fuzz/fuzz-*.c >/dev/null 2>&1; then
	make fuzz-smoke
fi
stage=totals
# One closing line for the whole run (plain build and sanitizer build together).
awk '{p += $1; f += $2; s += $3} END {printf "total: %d passed, %d failed, %d skipped\n", p, f, s}' \
	"$SBX_TOTALS_FILE"
# In CI a skipped test is a missing tool or kernel feature, not a pass: fail the run.
skipped=$(awk '{s += $3} END {print s + 0}' "$SBX_TOTALS_FILE")
if [ "${CI:-}" = true ] && [ "$skipped" -gt 0 ]; then
	echo "test.sh: $skipped test(s) skipped under CI=true (grep the log for SKIP)" >&2
	exit 1
fi
