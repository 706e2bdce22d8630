# SPDX-License-Identifier: MIT
# Sourced by scripts/demo.sh and scripts/test-systemd-boot.sh (run from the source tree).
# egress_origin DIR TEXT POLICY: serves DIR/hello.txt (holding TEXT) with python3's
# http.server on a free port of 127.0.0.1, in the background, and writes POLICY: the shipped
# default policy in network mode proxy, allowing exactly 127.0.0.1:that port (loopback is
# refused unless named exactly). Sets origin_port and origin_pid (the caller kills it).
# shellcheck disable=SC2034 # origin_port and origin_pid are for the callers
egress_origin() {
	mkdir -p "$1" && echo "$2" >"$1/hello.txt"
	origin_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	python3 -m http.server --bind 127.0.0.1 --directory "$1" "$origin_port" >/dev/null 2>&1 &
	origin_pid=$!
	python3 - "$3" "$origin_port" <<'PY'
import json, sys
p = json.load(open("policy/default.json"))
p["network"] = {"mode": "proxy", "allow": ["127.0.0.1:%s" % sys.argv[2]]}
json.dump(p, open(sys.argv[1], "w"), indent=2)
PY
}
