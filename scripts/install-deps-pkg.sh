#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages that building and testing the .deb needs (make deb,
# make deb-test, make boot-test), apart from scripts/install-deps.sh's own list so that the
# main build does not depend on them. Runs apt-get only when something is missing.
exec sh "$(dirname "$0")/install-deps.sh" dpkg-dev debhelper fakeroot debootstrap systemd systemd-container
