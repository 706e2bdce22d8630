#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs Criterion test binaries one after another (each prints its own Synthesis line),
# then prints one closing line with the totals: "tests: N passed, N failed, N skipped".
# Exit status 1 when any test failed or crashed, or a binary died. What failed is repeated
# just above that closing line (and appended to $SBX_FAILS_FILE when set), so the tail of a
# long log names it.
set -u
passed=0 failed=0 skipped=0 bad=0
log=$(mktemp)
fails=$(mktemp)
trap 'rm -f "$log" "$fails"' EXIT
for t in "$@"; do
	echo "=== $t"
	"$t" --verbose=0 -j1 2>&1 | tee "$log"
	rc=$?
	line=$(grep 'Synthesis:' "$log" | tail -n 1)
	# Each failed assertion (its line and message) and each failed or crashed test.
	awk -v t="$t" '/Assertion Failed|Unexpected signal/ { grab = 1 }
		grab && !/^\[----\] *$/ { print t ": " $0 }
		/^\[FAIL\]/ { if (!grab) print t ": " $0; grab = 0 }' "$log" >>"$fails"
	if [ -z "$line" ]; then
		echo "!!! $t printed no synthesis (rc=$rc)"
		echo "$t: printed no synthesis (rc=$rc)" >>"$fails"
		bad=$((bad + 1))
		continue
	fi
	tested=$(echo "$line" | sed -n 's/.*Tested: \([0-9]*\).*/\1/p')
	pass=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	fail=$(echo "$line" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
	skip=$(grep -c '\[SKIP\]' "$log")
	# A sanitizer report in a test process fails the run even when every assertion held
	# (LeakSanitizer speaks only at exit, after Criterion has counted the test as passed).
	if grep -qE 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:' "$log"; then
		echo "!!! $t: sanitizer report above"
		grep -E -m3 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:' "$log" |
			sed "s|^|$t: |" >>"$fails"
		bad=$((bad + 1))
	fi
	passed=$((passed + pass))
	# Criterion counts a crashed test among the failing ones too.
	failed=$((failed + fail))
	skipped=$((skipped + skip))
	: "$tested"
done
[ "$bad" -eq 0 ] || failed=$((failed + bad))
if [ -s "$fails" ]; then
	echo "--- what failed:"
	cat "$fails"
	if [ -n "${SBX_FAILS_FILE:-}" ]; then
		cat "$fails" >>"$SBX_FAILS_FILE"
	fi
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ -n "${SBX_TOTALS_FILE:-}" ]; then
	echo "$passed $failed $skipped" >>"$SBX_TOTALS_FILE"
fi
[ "$failed" -eq 0 ]
