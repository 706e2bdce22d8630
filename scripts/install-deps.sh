#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages that building, testing and benchmarking sbx need, or the
# ones given as arguments (scripts/install-deps-pkg.sh). Runs apt-get only when something is
# missing, so repeated runs are quick and offline-safe. curl, perl and bash run inside
# sandboxes in the proxy tests; systemd brings systemd-socket-activate, systemd-creds and
# systemd-analyze for the systemd tests (a test whose tool is missing is skipped, not passed).
set -eu

PKGS="build-essential pkg-config git ca-certificates
libuv1-dev libsodium-dev libseccomp-dev libcap-dev libjansson-dev libcriterion-dev libssl-dev
clang libclang-rt-14-dev valgrind bubblewrap iproute2 curl systemd python3 python3-cryptography procps
python3-pytest python3-httpx python3-fastapi python3-uvicorn python3-setuptools python3-pip"
[ "$#" -gt 0 ] && PKGS="$*"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing; run as root to install them" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
