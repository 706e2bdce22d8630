#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's first command: installs what is missing, builds, starts `sbxd --dev` on the
# embedded default, seals a demo API key through its socket, runs sandboxed tasks that show
# they received the key (its length and a hash, never the value) and that output is redacted,
# shows a refused blob, lets a task reach one allowed host:port through sbxd's proxy and
# nothing else, shows the sandbox's isolation facts, and stops the daemon.
# Run as root on Debian 12.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
make -j"$(nproc 2>/dev/null || echo 2)" all >/dev/null
B=$PWD/build
DIR=${SBX_DEMO_DIR:-$(mktemp -d /tmp/sbx-demo-XXXXXX)}
SOCK=$DIR/sbxd.sock
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say "sbxd --dev $DIR &"
"$B/sbxd" --dev "$DIR" 2>"$DIR.log" &
SBXD=$!
trap 'kill -TERM $SBXD 2>/dev/null; wait $SBXD 2>/dev/null; echo; echo "sbxd log:"; cat "$DIR.log"; rm -f "$DIR.log"' EXIT
i=0
# Ready when it answers (the socket file alone appears a moment before sbxd listens).
while ! "$B/sbxctl" ps --socket "$SOCK" >/dev/null 2>&1 && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done

# A demo key, generated here, never printed.
KEY="sk-ant-demo-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
HASH=$(printf %s "$KEY" | sha256sum | cut -c1-16)
say "printf 'ANTHROPIC_API_KEY=...' | sbxctl seal --socket $SOCK --context tenant:1/task:42"
printf 'ANTHROPIC_API_KEY=%s\n' "$KEY" | "$B/sbxctl" seal --socket "$SOCK" --context tenant:1/task:42 >"$DIR/blob"
"$B/sbxctl" sealed inspect "$(cat "$DIR/blob")"
echo "(the app stores only this blob; the key's sha256 starts with $HASH)"

say "sbxctl run --sealed-file blob --context tenant:1/task:42 -- sh -c '...length and hash of the key...'"
"$B/sbxctl" run --socket "$SOCK" --sealed-file "$DIR/blob" --context tenant:1/task:42 -- \
	/bin/sh -c 'echo "the task got a key of ${#ANTHROPIC_API_KEY} bytes, sha256 $(printf %s "$ANTHROPIC_API_KEY" | sha256sum | cut -c1-16)"'

say "sbxctl run ... -- sh -c 'echo \$ANTHROPIC_API_KEY'      # output is redacted"
"$B/sbxctl" run --socket "$SOCK" --sealed-file "$DIR/blob" --context tenant:1/task:42 -- \
	/bin/sh -c 'echo "leaking: $ANTHROPIC_API_KEY"'

say "sbxctl run --sealed-file blob --context tenant:2/task:42 -- true   # another tenant's context"
"$B/sbxctl" run --socket "$SOCK" --sealed-file "$DIR/blob" --context tenant:2/task:42 -- /bin/true ||
	echo "exit=$? (refused, the task did not run)"

# Egress only to an allowed host:port, through sbxd's proxy: a local web server stands in for
# the API a task may reach (loopback addresses are refused unless named exactly, as here).
. scripts/egress-origin.sh
egress_origin "$DIR/www" "hello from the allowed API" "$DIR/policies/egress.json"
kill -HUP $SBXD
i=0
while ! grep -q "reloaded" "$DIR.log" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
say "policy 'egress': {\"network\": {\"mode\": \"proxy\", \"allow\": [\"127.0.0.1:$origin_port\"]}}; kill -HUP sbxd"
say "sbxctl run --policy egress -- curl -sS http://127.0.0.1:$origin_port/hello.txt     # allowed"
"$B/sbxctl" run --socket "$SOCK" --policy egress -- /usr/bin/curl -sS "http://127.0.0.1:$origin_port/hello.txt" ||
	echo "exit=$?"
say "sbxctl run --policy egress -- curl http://127.0.0.1:22/   # another port: 403 from the proxy"
"$B/sbxctl" run --socket "$SOCK" --policy egress -- /usr/bin/curl -sS -o /dev/null -w '%{http_code}\n' \
	http://127.0.0.1:22/ || echo "exit=$?"
say "sbxctl run --policy egress -- curl --noproxy '*' http://127.0.0.1:$origin_port/   # around the proxy"
"$B/sbxctl" run --socket "$SOCK" --policy egress -- /usr/bin/curl -sS --max-time 5 --noproxy '*' \
	"http://127.0.0.1:$origin_port/hello.txt" || echo "exit=$? (no route out but the proxy)"
kill $origin_pid 2>/dev/null || true

say "sbxctl exec --ro-bind build/tests /probe -- /probe/probe facts   # what a task sees"
"$B/sbxctl" exec --ro-bind "$B/tests" /probe -- /probe/probe facts

say "sbxctl exec --ro-bind build/tests /probe -- /probe/probe --inside all | tail -1"
"$B/sbxctl" exec --ro-bind "$B/tests" /probe -- /probe/probe --inside all | tail -n 1

say "sbxctl run --timeout 1 -- sleep 10"
"$B/sbxctl" run --socket "$SOCK" --timeout 1 -- /bin/sleep 10 || echo "exit=$?"

say "sbxctl stats"
"$B/sbxctl" stats --socket "$SOCK"

say "sbxctl audit show $DIR/audit.jsonl        # every decision, chained"
"$B/sbxctl" audit show "$DIR/audit.jsonl" | tail -n 12
say "sbxctl audit verify $DIR/audit.jsonl"
"$B/sbxctl" audit verify "$DIR/audit.jsonl"
say "kill -TERM sbxd"
