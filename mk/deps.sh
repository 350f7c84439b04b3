#!/bin/sh
# SPDX-License-Identifier: MIT
#
# make deps: install the Debian packages plkv needs to build, test and
# run.  As root: one "apt-get update", then one "apt-get install" of what
# is missing.  Otherwise: print the exact command and fail.  When every
# package is there it only asks dpkg-query (well under a second).
set -eu

PKGS="build-essential pkg-config check liburcu-dev libjemalloc-dev
linux-headers-amd64 linux-image-amd64 qemu-system-x86 busybox-static cpio
kmod memcached libmemcached-tools linux-source-6.1 xz-utils perl nutcracker
libxxhash-dev python3-dev python3-pytest python3-pymemcache python3-django
python3-venv python3-setuptools python3-wheel python3-flask-caching
groff-base"

# shellcheck disable=SC2086 # word splitting of $PKGS is intended
if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: not a Debian system; install the equivalents of:" $PKGS >&2
	exit 0
fi

# shellcheck disable=SC2086
status=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $PKGS 2>/dev/null || true)
missing=
for p in $PKGS; do
	echo "$status" | grep -qx "$p installed" || missing="$missing $p"
done
missing=${missing# }
[ -z "$missing" ] && exit 0

install="apt-get install -y --no-install-recommends $missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages: $missing" >&2
	if command -v sudo >/dev/null 2>&1; then
		echo "deps: run:  sudo apt-get update && sudo $install" >&2
	else
		echo "deps: run as root:  apt-get update && $install" >&2
	fi
	exit 1
fi
echo "deps: installing $missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -q -y --no-install-recommends $missing
