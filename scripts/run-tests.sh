#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs Criterion test binaries one after another (each prints its own Synthesis line),
# then prints one closing line with the totals: "tests: N passed, N failed, N skipped".
# Exit status 1 when any test failed or crashed, or a binary died.
set -u
passed=0 failed=0 skipped=0 bad=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "$@"; do
	echo "=== $t"
	"$t" --verbose=0 -j1 2>&1 | tee "$log"
	rc=$?
	line=$(grep 'Synthesis:' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "!!! $t printed no synthesis (rc=$rc)"
		bad=$((bad + 1))
		continue
	fi
	tested=$(echo "$line" | sed -n 's/.*Tested: \([0-9]*\).*/\1/p')
	pass=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	fail=$(echo "$line" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
	crash=$(echo "$line" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
	skip=$(grep -c '\[SKIP\]' "$log")
	# A sanitizer report in a test process fails the run even when every assertion held
	# (LeakSanitizer speaks only at exit, after Criterion has counted the test as passed).
	if grep -qE 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:' "$log"; then
		echo "!!! $t: sanitizer report above"
		bad=$((bad + 1))
	fi
	passed=$((passed + pass))
	failed=$((failed + fail + crash))
	skipped=$((skipped + skip))
	: "$tested"
done
[ "$bad" -eq 0 ] || failed=$((failed + bad))
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ -n "${SBX_TOTALS_FILE:-}" ]; then
	echo "$passed $failed $skipped" >>"$SBX_TOTALS_FILE"
fi
[ "$failed" -eq 0 ]
