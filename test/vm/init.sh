#!/bin/sh
# SPDX-License-Identifier: MIT
#
# /init of the plkv test VM: test/vm/run.sh packs it into the initramfs
# with busybox, the static selftests (/plkv/tests), plkv.ko (/plkv/kmod),
# the tools (/plkv/tools) and /etc/plkv-vm.conf, which sets:
#	MODE	tests | cmd | shell
#	TESTS	test names to run in order (MODE=tests)
#	TEST_TIMEOUT, TIMEOUT_SCALE
# and /etc/plkv-vm.cmd, the script MODE=cmd runs.
# Test output goes to the second serial port (ttyS1), the kernel's console
# to the first (ttyS0), so kernel messages never cut into TAP lines.
# Markers ("@@plkv-vm ...") frame each program for the host-side parser.
# busybox sh: POSIX only.

export PATH=/bin:/plkv/tools
export HOME=/tmp TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
hostname plkv-vm

MODE=tests
TESTS=
TEST_TIMEOUT=180
TIMEOUT_SCALE=4
# shellcheck disable=SC1091
. /etc/plkv-vm.conf

export PLKV_VM=1 PLKV_BACKEND=kmod PLKV_KO=/plkv/kmod/plkv.ko
export TH_TIMEOUT_SCALE="$TIMEOUT_SCALE"

mark() { echo "@@plkv-vm $*"; }

load_module() {
	if [ ! -f "$PLKV_KO" ]; then
		mark insmod none
		return
	fi
	out=$(insmod "$PLKV_KO" 2>&1)
	rc=$?
	[ -n "$out" ] && echo "$out" | sed 's/^/# insmod: /'
	mark insmod rc=$rc
	# An O_DIRECT target for kmod_map (one 4 MiB RAM disk).
	if [ -f /plkv/kmod/brd.ko ] && insmod /plkv/kmod/brd.ko rd_nr=1 rd_size=4096 &&
	   [ -b /dev/ram0 ]; then
		export PLKV_ODIRECT_DEV=/dev/ram0
	fi
}

# After the suite: kmemleak's verdict when the kernel has it (a count of
# suspected leaks, their reports going to the kernel log), else "none".
kmemleak() {
	f=/sys/kernel/debug/kmemleak
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	if [ ! -w $f ]; then
		mark kmemleak none
		return
	fi
	echo scan >$f
	sleep 6		# kmemleak reports objects at least 5 s old
	echo scan >$f
	cat $f >/tmp/kmemleak.txt
	n=$(grep -c '^unreferenced object' /tmp/kmemleak.txt)
	[ "$n" -gt 0 ] && sed 's/^/kmemleak: /' /tmp/kmemleak.txt >/dev/kmsg
	mark kmemleak "$n"
}

finish() {
	mark dmesg-begin
	dmesg
	mark dmesg-end
	mark "done"
	sync
	poweroff -f
}

if [ "$MODE" = shell ]; then
	load_module
	cat <<EOF

plkv test VM: $(uname -r), PKU $(grep -qw ospke /proc/cpuinfo && echo on || echo off).
Tests are in /plkv/tests, tools in /plkv/tools (on PATH), the module in
/plkv/kmod (insmod was tried above).  Exit the shell to power off, or
press Ctrl-A X to kill QEMU.

EOF
	cd /plkv/tests || exit 1
	setsid cttyhack sh
	poweroff -f
fi

exec >/dev/ttyS1 2>&1
mark start kernel="$(uname -r)" pku="$(grep -qw ospke /proc/cpuinfo && echo yes || echo no)" cpus="$(grep -c ^processor /proc/cpuinfo)"
load_module

if [ "$MODE" = cmd ]; then
	mark begin cmd
	cd /plkv && sh /etc/plkv-vm.cmd </dev/null
	mark end cmd rc=$?
	finish
fi

i=0
for t in $TESTS; do
	i=$((i + 1))
	if [ -x "/plkv/tests/$t" ]; then
		set -- "/plkv/tests/$t"
	elif [ -f "/plkv/tests/$t.sh" ]; then
		set -- sh "/plkv/tests/$t.sh"
	else
		mark begin "$t"
		echo "# no such test in the initramfs: $t"
		mark end "$t" rc=127
		continue
	fi
	mkdir -p "/tmp/$t"
	cd "/tmp/$t" || exit 1
	mark begin "$t"
	PLKV_TEST_PREFIX="vm$i-" timeout -s KILL "$TEST_TIMEOUT" "$@" </dev/null
	mark end "$t" rc=$?
	cd / || exit 1
done
kmemleak
finish
