#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's first command: installs what is missing, builds, and shows what a sandbox is
# by running sbx's attacker program inside one with the shipped `default` policy.
# Run as root on Debian 12.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
make -j"$(nproc 2>/dev/null || echo 2)" all >/dev/null
B=build
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say sbxctl policy check policy/default.json
$B/sbxctl policy check policy/default.json

say sbxctl exec --policy default --ro-bind $B/tests /probe -- /probe/probe facts
$B/sbxctl exec --policy default --ro-bind "$PWD/$B/tests" /probe -- /probe/probe facts

say sbxctl exec --policy default --ro-bind $B/tests /probe -- /probe/probe --inside all
$B/sbxctl exec --policy default --ro-bind "$PWD/$B/tests" /probe -- /probe/probe --inside all || true

say "sbxctl exec -- /bin/sh -c 'id; hostname; ls /; cat /proc/self/status | grep -E Cap\|NoNew\|Seccomp'"
$B/sbxctl exec -- /bin/sh -c 'id; hostname; ls /; grep -E "Cap|NoNewPrivs|Seccomp" /proc/self/status'

say "sbxctl exec --timeout 1 -- /bin/sleep 10; echo exit=\$?"
$B/sbxctl exec --timeout 1 -- /bin/sleep 10 || echo "exit=$?"

say "sbxctl exec -- /no/such/program; echo exit=\$?"
$B/sbxctl exec -- /no/such/program || echo "exit=$?"
