#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's test command (and all that .ci/run does): installs what is missing, builds,
# runs every test (unit, integration, escape), the whole suite again under ASan+UBSan, sbxd
# under valgrind, and each fuzz target briefly. Run as root on Debian 12.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
SBX_TOTALS_FILE=$(mktemp)
export SBX_TOTALS_FILE
trap 'rm -f "$SBX_TOTALS_FILE"' EXIT
make -j"$jobs" all
make -j"$jobs" test
sh scripts/test-python.sh
# The Debian package: built, installed into a fresh debootstrap root, started (about 1 min warm).
sh scripts/test-deb.sh
make -j"$jobs" asan
# sbxd under valgrind memcheck for the integration tests that start it (~3 min).
make valgrind
if ls tests/fuzz/fuzz-*.c >/dev/null 2>&1; then
	make fuzz-smoke
fi
# One closing line for the whole run (plain build and sanitizer build together).
awk '{p += $1; f += $2; s += $3} END {printf "total: %d passed, %d failed, %d skipped\n", p, f, s}' \
	"$SBX_TOTALS_FILE"
# In CI a skipped test is a missing tool or kernel feature, not a pass: fail the run.
skipped=$(awk '{s += $3} END {print s + 0}' "$SBX_TOTALS_FILE")
if [ "${CI:-}" = true ] && [ "$skipped" -gt 0 ]; then
	echo "test.sh: $skipped test(s) skipped under CI=true (grep the log for SKIP)" >&2
	exit 1
fi
