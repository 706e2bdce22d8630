#!/bin/sh
# SPDX-License-Identifier: MIT
# The Debian package test (make deb-test). Builds sbx_VERSION_ARCH.deb with
# `dpkg-buildpackage -us -uc -b` from a copy of the working tree (uncommitted changes
# included) outside it, checks its contents, control data and maintainer scripts, then
# installs it with dpkg -i into a fresh Debian 12 root made by debootstrap (minbase) and
# checks that the files land where the units expect them, that the shipped configuration
# starts (sbxd --check-config with a keyring made by `sbxctl keys init --systemd-creds`),
# and that reinstall, remove and purge behave as docs/operations.md says.
#
#   sh scripts/test-deb.sh [--build-only] [--keep]
#
# --build-only: build and copy the .deb to build-deb/ only (make deb). --keep: leave the
# temporary directory and root for inspection. Needs root for the install part (skipped with
# a reason otherwise) and Debian's mirror (SBX_DEB_MIRROR, default deb.debian.org) the first
# time; the bootstrapped root and the downloaded packages are cached under
# /var/cache/sbx-test (SBX_DEB_CACHE) so later runs are quick.
#
# Prints one line per check and "tests: N passed, N failed, N skipped"; appends the counts
# to $SBX_TOTALS_FILE like scripts/run-tests.sh. Exit status 1 when any check failed.
set -u
cd "$(dirname "$0")/.." || exit 1
src=$(pwd)

build_only=0 keep=0
for a in "$@"; do
	case "$a" in
	--build-only) build_only=1 ;;
	--keep) keep=1 ;;
	*)
		echo "usage: $0 [--build-only] [--keep]" >&2
		exit 2
		;;
	esac
done

mirror=${SBX_DEB_MIRROR:-http://deb.debian.org/debian}
cache=${SBX_DEB_CACHE:-/var/cache/sbx-test}
tmp=$(mktemp -d /tmp/sbx-deb.XXXXXX)
root="$tmp/root"

SUITE=deb
. "$src/scripts/checks.sh"
trap drop_scratch EXIT
trap 'exit 130' INT TERM

# ---- build -----------------------------------------------------------------------------

for tool in dpkg-buildpackage dh fakeroot; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		if [ "$(id -u)" -eq 0 ]; then
			sh scripts/install-deps-pkg.sh || {
				bad build "cannot install the packaging tools"
				finish
			}
		else
			bad build "$tool is missing: run scripts/install-deps-pkg.sh as root"
			finish
		fi
	fi
done

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
arch=$(dpkg --print-architecture)
deb="sbx_${version}_${arch}.deb"
mkdir -p "$tmp/src/sbx"
# A copy of the working tree as it is (edits not yet committed included), without build
# output or git metadata; dpkg-buildpackage writes the .deb next to it, in $tmp/src.
tar -C "$src" --exclude=./.git --exclude=./build --exclude='./build-*' \
	--exclude=./debian/sbx --exclude=./debian/.debhelper -cf - . | tar -C "$tmp/src/sbx" -xf -
start=$(date +%s)
if (cd "$tmp/src/sbx" && DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-nocheck} parallel=2" \
	dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1 && [ -f "$tmp/src/$deb" ]; then
	ok "build ($(($(date +%s) - start)) s)"
else
	bad build "dpkg-buildpackage failed; last lines of $tmp/build.log:"
	tail -n 30 "$tmp/build.log"
	keep=1
	finish
fi
mkdir -p build-deb
cp "$tmp/src/$deb" build-deb/
echo "package: build-deb/$deb"
if [ "$build_only" -eq 1 ]; then
	finish
fi
pkg="$tmp/src/$deb"

# ---- contents and control data ---------------------------------------------------------

dpkg-deb -c "$pkg" | awk '{print $6}' | sed 's|^\./|/|' >"$tmp/contents"
missing=""
for f in /usr/sbin/sbxd /usr/bin/sbxctl /lib/systemd/system/sbxd.service \
	/lib/systemd/system/sbxd.socket /usr/lib/sysusers.d/sbx.conf /usr/lib/tmpfiles.d/sbx.conf \
	/etc/sbx/sbxd.json /etc/sbx/policies/default.json /etc/sbx/profiles/default.json \
	/etc/sbx/profiles/strict.json /usr/share/man/man8/sbxd.8.gz \
	/usr/share/man/man1/sbxctl.1.gz /usr/share/man/man5/sbx-policy.5.gz \
	/usr/share/doc/sbx/operations.md /usr/share/doc/sbx/SECURITY.md \
	/usr/share/doc/sbx/keys.md /usr/share/doc/sbx/copyright; do
	grep -qx "$f" "$tmp/contents" || missing="$missing $f"
done
if [ -z "$missing" ]; then ok contents; else bad contents "missing:$missing"; fi
if grep -q '^/usr/local\|^/build\|/tests/' "$tmp/contents"; then
	bad no_stray_files "$(grep '^/usr/local\|/tests/' "$tmp/contents" | head -3)"
else
	ok no_stray_files
fi

depends=$(dpkg-deb -f "$pkg" Depends)
miss=""
for d in libc6 libuv1 libsodium23 libseccomp2 libjansson4 libssl3 systemd procps; do
	echo "$depends" | grep -q "$d" || miss="$miss $d"
done
if [ -z "$miss" ]; then ok depends; else bad depends "no$miss in: $depends"; fi

mkdir -p "$tmp/control"
dpkg-deb -e "$pkg" "$tmp/control"
miss=""
for c in /etc/sbx/sbxd.json /etc/sbx/policies/default.json /etc/sbx/profiles/default.json; do
	grep -qx "$c" "$tmp/control/conffiles" 2>/dev/null || miss="$miss $c"
done
if [ -z "$miss" ]; then ok conffiles; else bad conffiles "not conffiles:$miss"; fi
msg=""
for s in preinst postinst prerm postrm; do
	[ -f "$tmp/control/$s" ] || continue
	sh -n "$tmp/control/$s" 2>&1 || msg="$msg $s"
done
if [ -z "$msg" ]; then ok maintainer_scripts_parse; else bad maintainer_scripts_parse "$msg"; fi
if grep -q 'systemd-sysusers' "$tmp/control/postinst" &&
	grep -q 'systemd-tmpfiles.*--create' "$tmp/control/postinst" &&
	! grep -q 'deb-systemd-invoke \(start\|restart\)' "$tmp/control/postinst"; then
	ok postinst_creates_group_and_dirs_starts_nothing
else
	bad postinst_creates_group_and_dirs_starts_nothing "see $tmp/control/postinst"
	keep=1
fi

mkdir -p "$tmp/x"
dpkg-deb -x "$pkg" "$tmp/x"
exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$tmp/x/lib/systemd/system/sbxd.service")
if [ "$exe" = /usr/sbin/sbxd ] && [ -x "$tmp/x$exe" ]; then
	ok "unit_execstart_in_package ($exe)"
else
	bad unit_execstart_in_package "ExecStart '$exe' is not in the package"
fi

# ---- install into a fresh root ---------------------------------------------------------

if [ "$(id -u)" -ne 0 ]; then
	skip install "needs root (chroot, dpkg -i into a debootstrap root)"
	finish
fi
if ! command -v debootstrap >/dev/null 2>&1; then
	sh scripts/install-deps-pkg.sh >/dev/null 2>&1 || true
fi
if ! command -v debootstrap >/dev/null 2>&1; then
	bad install "debootstrap is missing: run scripts/install-deps-pkg.sh"
	finish
fi
mkdir -p "$cache/archives"
start=$(date +%s)
# The bootstrapped root is cached as a tar after its first apt-get update, so every run
# starts from the same fresh root without downloading it again.
if [ ! -s "$cache/bookworm-root.tar" ]; then
	if debootstrap --variant=minbase bookworm "$tmp/boot" "$mirror" >"$tmp/debootstrap.log" 2>&1 &&
		cp /etc/resolv.conf "$tmp/boot/etc/resolv.conf" &&
		chroot "$tmp/boot" apt-get update -qq >>"$tmp/debootstrap.log" 2>&1 &&
		tar -C "$tmp/boot" -cf "$cache/bookworm-root.tar.tmp" . &&
		mv "$cache/bookworm-root.tar.tmp" "$cache/bookworm-root.tar"; then
		rm -rf "${tmp:?}/boot"
	else
		bad debootstrap "see $tmp/debootstrap.log: $(tail -n 3 "$tmp/debootstrap.log")"
		keep=1
		finish
	fi
fi
mkdir -p "$root"
tar -C "$root" -xf "$cache/bookworm-root.tar"
cp /etc/resolv.conf "$root/etc/resolv.conf"
for m in proc dev var/cache/apt/archives; do
	case $m in
	proc) mount -t proc proc "$root/proc" ;;
	dev) mount --bind /dev "$root/dev" ;;
	*) mount --bind "$cache/archives" "$root/$m" ;;
	esac && mounted="$root/$m $mounted"
done
ok "fresh_root ($(($(date +%s) - start)) s)"

cp "$pkg" "$root/tmp/$deb"
start=$(date +%s)
# dpkg -i stops at the missing dependencies (systemd, the libraries); apt-get -f install
# brings them and configures sbx. Stale package lists get one apt-get update and a retry.
in_root dpkg -i "/tmp/$deb" >"$tmp/install.log" 2>&1
if ! in_root apt-get install -y -q -f --no-install-recommends >>"$tmp/install.log" 2>&1; then
	in_root apt-get update -qq >>"$tmp/install.log" 2>&1
	in_root apt-get install -y -q -f --no-install-recommends >>"$tmp/install.log" 2>&1
fi
if in_root dpkg-query -W -f='${Status}' sbx 2>/dev/null | grep -q "install ok installed"; then
	ok "dpkg_install ($(($(date +%s) - start)) s)"
else
	bad dpkg_install "sbx is not installed; last lines of $tmp/install.log:"
	tail -n 20 "$tmp/install.log"
	keep=1
	finish
fi
if grep -q "sbxctl keys init --systemd-creds" "$tmp/install.log"; then
	ok postinst_prints_first_steps
else
	bad postinst_prints_first_steps "no first-start instructions in the install output"
fi

check group_sbx_created in_root getent group sbx
mode() { stat -c '%a %U' "$root$1" 2>/dev/null; }
if [ "$(mode /var/lib/sbx)" = "700 root" ] && [ "$(mode /var/log/sbx)" = "700 root" ]; then
	ok state_and_log_dirs
else
	bad state_and_log_dirs "/var/lib/sbx: $(mode /var/lib/sbx), /var/log/sbx: $(mode /var/log/sbx)"
fi
exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$root/lib/systemd/system/sbxd.service")
check "execstart_runs ($exe --version)" sh -c "chroot '$root' '$exe' --version | grep -q '^sbxd $version'"
check sbxctl_runs sh -c "chroot '$root' sbxctl --version | grep -q '^sbxctl $version'"
if [ -x "$root/usr/bin/systemd-analyze" ]; then
	# Every command the units name exists in the root (man pages are checked above).
	check unit_verify_in_root in_root systemd-analyze verify --man=no \
		/lib/systemd/system/sbxd.socket /lib/systemd/system/sbxd.service
fi
if [ -e "$root/etc/systemd/system/sockets.target.wants/sbxd.socket" ] ||
	[ -e "$root/etc/systemd/system/multi-user.target.wants/sbxd.service" ]; then
	bad nothing_enabled "a unit was enabled on first install"
else
	ok nothing_enabled
fi

# The operator's first start, as the postinst prints it, up to sbxd --check-config with the
# credential decrypted where systemd would put it.
if in_root sbxctl keys init --systemd-creds >"$tmp/first.log" 2>&1 &&
	in_root sbxctl audit init --dir /var/lib/sbx --key-out /root/audit.key >>"$tmp/first.log" 2>&1 &&
	mkdir -p "$root/run/credentials/sbxd.service" &&
	in_root systemd-creds decrypt --name=keyring /etc/credstore.encrypted/sbx.keyring \
		/run/credentials/sbxd.service/keyring >>"$tmp/first.log" 2>&1 &&
	chmod 0400 "$root/run/credentials/sbxd.service/keyring" &&
	in_root env CREDENTIALS_DIRECTORY=/run/credentials/sbxd.service \
		sbxd --config /etc/sbx/sbxd.json --check-config >>"$tmp/first.log" 2>&1 &&
	grep -q "ok: configuration /etc/sbx/sbxd.json.*keyring /run/credentials/sbxd.service/keyring" \
		"$tmp/first.log"; then
	ok first_start_check_config
else
	bad first_start_check_config "$(tail -n 5 "$tmp/first.log")"
fi
if [ -e "$root/etc/sbx/keyring" ]; then
	bad no_plaintext_keyring "/etc/sbx/keyring exists after keys init --systemd-creds"
else
	ok no_plaintext_keyring
fi

# Reinstall (the upgrade path of the maintainer scripts) keeps an edited conffile.
echo '{"limits": {"max_tasks": 8}}' >"$root/etc/sbx/sbxd.json"
if in_root dpkg -i --force-confold "/tmp/$deb" >"$tmp/reinstall.log" 2>&1 &&
	grep -q max_tasks "$root/etc/sbx/sbxd.json"; then
	ok reinstall_keeps_config
else
	bad reinstall_keeps_config "$(tail -n 5 "$tmp/reinstall.log")"
fi

# Remove keeps conffiles; purge removes them and keeps the keyring and the audit trail.
if in_root dpkg -r sbx >"$tmp/remove.log" 2>&1 && [ ! -e "$root/usr/sbin/sbxd" ] &&
	[ -e "$root/etc/sbx/sbxd.json" ]; then
	ok remove_keeps_conffiles
else
	bad remove_keeps_conffiles "$(tail -n 5 "$tmp/remove.log")"
fi
if in_root dpkg -P sbx >"$tmp/purge.log" 2>&1 && [ ! -e "$root/etc/sbx/sbxd.json" ] &&
	[ -e "$root/etc/credstore.encrypted/sbx.keyring" ] && [ -d "$root/var/lib/sbx" ] &&
	grep -q "kept /etc/credstore.encrypted/sbx.keyring" "$tmp/purge.log"; then
	ok purge_keeps_keyring_and_audit
else
	bad purge_keeps_keyring_and_audit "$(tail -n 5 "$tmp/purge.log")"
fi

finish
