#!/bin/bash
# SPDX-License-Identifier: MIT
#
# make install / uninstall / install-dkms into a scratch DESTDIR: the
# installed tree is complete (library with its soname, headers, pkg-config
# file, tools, man pages), a program builds against it with pkg-config
# alone and runs, uninstall removes what install put there, and the DKMS
# source tree builds plkv.ko the way dkms.conf's MAKE line does.
# Prints TAP 13.
set -u

cd "$(dirname "$0")/../.." || exit 1
. test/lib/tap.sh
tmp=$(mktemp -d)
seg="${PLKV_TEST_PREFIX:-}install-$$"
log=$tmp/log
trap 'PLKV_BACKEND=user tools/plkvctl --segment "$seg" destroy --force >/dev/null 2>&1; rm -rf "$tmp"' EXIT

fail_details() {
	tail -20 "$log" | sed 's/^/# /'
}

echo "TAP version 13"
command -v pkg-config >/dev/null || skip_all "pkg-config not installed (make deps)"
root=$tmp/root
prefix=/usr

make -s install DESTDIR="$root" PREFIX=$prefix >"$log" 2>&1 &&
	ok "make install" || not_ok "make install"

missing=
for f in lib/libplkv.so lib/libplkv.so.0 lib/libplkv.a \
	 lib/pkgconfig/libplkv.pc include/plkv.h include/linux/plkv.h \
	 bin/plkvctl bin/plkvd share/man/man8/plkvctl.8 share/man/man8/plkvd.8 \
	 share/man/man3/libplkv.3 share/man/man3/plkv_open.3 \
	 share/man/man3/plkv_close.3 share/man/man4/plkv.4; do
	[ -e "$root$prefix/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && ok "installed tree complete" ||
	{ echo "missing:$missing" >"$log"; not_ok "installed tree complete"; }

grep -qx '.so man3/plkv_open.3' "$root$prefix/share/man/man3/plkv_close.3" &&
	ok "a function's name is a page: plkv_close(3) sources plkv_open(3)" ||
	not_ok "a function's name is a page: plkv_close(3) sources plkv_open(3)"

soname=$(readelf -d "$root$prefix/lib/libplkv.so" 2>/dev/null |
	 sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libplkv.so.0 ] && ok "soname libplkv.so.0" ||
	not_ok "soname libplkv.so.0 (got '$soname')"

export PKG_CONFIG_PATH=$root$prefix/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root
flags=$(pkg-config --cflags --libs libplkv 2>"$log")
# shellcheck disable=SC2086 # word splitting of the flags intended
cc -o "$tmp/hello" examples/hello.c $flags >"$log" 2>&1 &&
	ok "examples/hello.c builds with pkg-config libplkv alone" ||
	not_ok "examples/hello.c builds with pkg-config libplkv alone"
out=$(PLKV_BACKEND=user PLKV_SEGMENT=$seg LD_LIBRARY_PATH=$root$prefix/lib \
      "$tmp/hello" 2>"$log")
lib=$(PLKV_BACKEND=user LD_LIBRARY_PATH=$root$prefix/lib ldd "$tmp/hello" |
      sed -n 's/.*libplkv.so.0 => \([^ ]*\).*/\1/p')
case $out in "greeting = hello, shared world (cas "*) true ;; *) false ;; esac && [ "$lib" = "$root$prefix/lib/libplkv.so.0" ] &&
	ok "it runs on the installed library" ||
	{ echo "output '$out', library '$lib'" >>"$log"; not_ok "it runs on the installed library"; }

make -s uninstall DESTDIR="$root" PREFIX=$prefix >"$log" 2>&1
left=$(find "$root" -type f -o -type l)
[ -z "$left" ] && ok "make uninstall removes every installed file" ||
	{ echo "$left" >"$log"; not_ok "make uninstall removes every installed file"; }

make -s install-dkms DESTDIR="$root" >"$log" 2>&1 &&
	ok "make install-dkms" || not_ok "make install-dkms"
src=$(ls -d "$root"/usr/src/plkv-* 2>/dev/null | head -1)
kdir=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -1)
if [ -z "$src" ] || [ ! -f "$src/dkms.conf" ]; then
	not_ok "the DKMS tree builds plkv.ko"
elif [ -z "$kdir" ]; then
	ok "the DKMS tree builds plkv.ko" "no kernel headers installed"
else
	# what dkms.conf's MAKE[0] runs, from the source tree's top
	(cd "$src" && make -C kmod KDIR="$kdir") >"$log" 2>&1 &&
		[ -f "$src/kmod/plkv.ko" ] &&
		ok "the DKMS tree builds plkv.ko" ||
		not_ok "the DKMS tree builds plkv.ko"
fi

finish
