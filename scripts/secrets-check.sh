#!/bin/sh
# SPDX-License-Identifier: MIT
# `make check`'s secrets grep: key material may only be handled where STYLE.md says.
#  - <sodium.h> only in keys/ (secrets, keyring, blobs) and audit/ (its MACs);
#  - OpenSSL only in keys/fernet.c (Fernet import);
#  - no struct sbx_secret next to a printf-style format in logging calls.
set -u
cd "$(dirname "$0")/.." || exit 1
bad=0
for f in $(git ls-files '*.c' '*.h' | grep -v '^tests/'); do
	case "$f" in
	keys/* | audit/*) ;;
	*) if grep -q '<sodium.h>' "$f"; then echo "secrets-check: $f includes <sodium.h>"; bad=1; fi ;;
	esac
	case "$f" in
	keys/fernet.c) ;;
	*) if grep -q '<openssl/' "$f"; then echo "secrets-check: $f includes OpenSSL"; bad=1; fi ;;
	esac
	if grep -nE 'log_[a-z_]+\(.*sbx_secret_data' "$f"; then
		echo "secrets-check: $f logs secret bytes"
		bad=1
	fi
done
[ "$bad" -eq 0 ] && echo "secrets-check: ok"
exit "$bad"
