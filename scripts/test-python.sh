#!/bin/sh
# SPDX-License-Identifier: MIT
# The Python client's and the reference app's tests (pytest, Debian's python3), against a real
# build/sbxd started by the tests themselves. Run as root after `make`. Prints pytest's
# summary, then "python: N passed, N failed, N skipped"; appends "passed failed skipped" to
# $SBX_TOTALS_FILE when set (scripts/test.sh sums those). Exit status 1 when a test failed.
set -u
cd "$(dirname "$0")/.." || exit 1
PY=/usr/bin/python3
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# -p no:cacheprovider: no .pytest_cache in the tree; PYTHONDONTWRITEBYTECODE: no __pycache__.
PYTHONDONTWRITEBYTECODE=1 "$PY" -m pytest -q -p no:cacheprovider -o console_output_style=classic \
	clients/python/tests examples/taskapp/tests "$@" 2>&1 | tee "$log"
line=$(grep -E '^(=+ )?([0-9]+ (passed|failed|skipped|errors?|deselected)|no tests ran)' "$log" | tail -n 1)
count() { echo "$line" | grep -oE "[0-9]+ $1" | head -n 1 | cut -d' ' -f1; }
passed=$(count passed) failed=$(count failed) errors=$(count error) skipped=$(count skipped)
passed=${passed:-0} failed=${failed:-0} errors=${errors:-0} skipped=${skipped:-0}
failed=$((failed + errors))
if [ -z "$line" ]; then
	echo "!!! pytest printed no summary"
	failed=$((failed + 1))
fi
# pytest -q ends with "FAILED path::test - message" / "ERROR ..." lines: keep them for the tail.
if [ -n "${SBX_FAILS_FILE:-}" ]; then
	grep -E '^(FAILED|ERROR) ' "$log" >>"$SBX_FAILS_FILE" || true
fi
echo "python: $passed passed, $failed failed, $skipped skipped"
if [ -n "${SBX_TOTALS_FILE:-}" ]; then
	echo "$passed $failed $skipped" >>"$SBX_TOTALS_FILE"
fi
[ "$failed" -eq 0 ]
