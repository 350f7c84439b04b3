#!/bin/sh
# SPDX-License-Identifier: MIT
#
# make checkpatch: the kernel's scripts/checkpatch.pl over kmod/*.c,
# kmod/*.h (kbuild's generated files excluded) and the uapi header.  checkpatch.pl and the
# files it reads next to itself (spelling.txt, const_structs.checkpatch)
# are taken once from /usr/src/linux-source-*.tar.* (package
# linux-source-6.1, `make deps`) into .tools/checkpatch/.
#
#   mk/checkpatch.sh          human output, exit 1 on any ERROR or WARNING
#   mk/checkpatch.sh --tap    the same as one TAP test (for make check)
set -u

cd "$(dirname "$0")/.." || exit 1
tap=0
[ "${1:-}" = --tap ] && tap=1
tool=.tools/checkpatch

skip() {
	if [ $tap = 1 ]; then
		echo "TAP version 13"
		echo "1..0 # SKIP $1"
		exit 0
	fi
	echo "checkpatch: $1" >&2
	exit 1
}

files=
for f in kmod/*.c kmod/*.h include/uapi/linux/plkv.h; do
	case $f in *.mod.c) continue ;; esac
	[ -f "$f" ] && files="$files $f"
done
[ -n "$files" ] || skip "no kmod/*.c or kmod/*.h yet"

if [ ! -f "$tool/checkpatch.pl" ]; then
	tarball=$(printf '%s\n' /usr/src/linux-source-*.tar.* | sort -V | tail -n 1)
	[ -f "$tarball" ] || skip "no /usr/src/linux-source-*.tar.* (make deps installs linux-source-6.1)"
	top=$(basename "$tarball")
	top=${top%.tar.*}
	mkdir -p .tools
	tmp=$(mktemp -d .tools/tmp.XXXXXX) || exit 1
	if ! tar -xf "$tarball" -C "$tmp" --occurrence=1 --strip-components=2 \
		"$top/scripts/checkpatch.pl" "$top/scripts/spelling.txt" \
		"$top/scripts/const_structs.checkpatch"; then
		rm -rf "$tmp"
		skip "could not extract checkpatch.pl from $tarball"
	fi
	rm -rf "$tool"
	mv "$tmp" "$tool"
fi

# shellcheck disable=SC2086 # $files is a list
out=$(perl "$tool/checkpatch.pl" --no-tree --show-types --color=never -f $files 2>&1)
rc=$?
if [ $tap = 0 ]; then
	echo "$out"
	exit $rc
fi
echo "TAP version 13"
echo "1..1"
n=$(echo "$files" | wc -w)
if [ $rc -eq 0 ]; then
	echo "ok 1 checkpatch: $n files in kmod/ and include/uapi/"
else
	echo "$out" | sed 's/^/# /'
	echo "not ok 1 checkpatch: $n files in kmod/ and include/uapi/"
fi
exit $rc
