#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages that building and testing the .deb needs (make deb,
# make deb-test, scripts/test-deb.sh), apart from scripts/install-deps.sh's so that the main
# test run does not pull them in. Runs apt-get only when something is missing.
set -eu

PKGS="dpkg-dev debhelper fakeroot debootstrap systemd"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps-pkg: all packages present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps-pkg: missing packages:$missing; run as root to install them" >&2
	exit 1
fi
echo "deps-pkg: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
