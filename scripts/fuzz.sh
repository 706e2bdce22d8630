#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every libFuzzer binary in DIR for SECONDS each, starting from its seed corpus
# tests/fuzz/corpus/<name-without-fuzz->/ (new finds go to a scratch copy, so the committed
# corpus stays small). Exits non-zero when any target crashes, leaks or times out; the
# reproducer is left in tests/fuzz/ (crash-*, leak-*, timeout-*, ignored by git).
#   usage: scripts/fuzz.sh DIR [SECONDS]
set -eu
dir=${1:?usage: scripts/fuzz.sh DIR [SECONDS]}
secs=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
failed=0
found=0
for bin in "$dir"/fuzz-*; do
	[ -x "$bin" ] || continue
	found=1
	name=$(basename "$bin")
	seeds="$root/tests/fuzz/corpus/${name#fuzz-}"
	work=$(mktemp -d "${TMPDIR:-/tmp}/sbx-fuzz-${name}-XXXXXX")
	[ -d "$seeds" ] && cp -R "$seeds"/. "$work"/
	echo "fuzz: $name for ${secs}s (seeds: $seeds)"
	if ! "$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=4096 -print_final_stats=1 \
		-artifact_prefix="$root/tests/fuzz/" "$work" >"$work.log" 2>&1; then
		echo "fuzz: $name FAILED; last lines of $work.log:" >&2
		tail -n 30 "$work.log" >&2
		failed=1
	else
		grep -E '^(stat::number_of_executed_units|Done)' "$work.log" || true
		rm -f "$work.log"
	fi
	rm -rf "$work"
done
[ "$found" = 1 ] || { echo "fuzz: no fuzz-* binaries in $dir" >&2; exit 2; }
exit "$failed"
