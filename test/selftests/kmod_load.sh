#!/bin/sh
# SPDX-License-Identifier: MIT
#
# kmod_load - plkv.ko loads, /dev/plkv appears as a character device with
# mode 0666 (access control is per segment), rmmod removes both, and the
# cycle works twice; the module is left loaded for the tests after this one
# (the VM harness runs this test first).
#
# Runs where modules can be loaded: in the VM (PLKV_VM=1, set by
# test/vm/run.sh) or on a machine where you set PLKV_KMOD_TEST=1 as root.
# PLKV_KO names the module file (default: kmod/plkv.ko of this tree).
# POSIX sh: it runs under busybox sh in the VM.
set -u

. "$(dirname "$0")/../lib/tap.sh"
echo "TAP version 13"
if [ "${PLKV_VM:-0}" != 1 ] && [ "${PLKV_KMOD_TEST:-0}" != 1 ]; then
	skip_all "module loading not possible on this host"
fi
ko=${PLKV_KO:-$(dirname "$0")/../../kmod/plkv.ko}
[ -f "$ko" ] || skip_all "$ko is not built"

loaded() { [ -d /sys/module/plkv ]; }

# Waits up to 2 s for /dev/plkv to appear (1) or vanish (0).
dev_settles() {
	i=0
	while [ $i -lt 20 ]; do
		if [ "$1" = 1 ] && [ -e /dev/plkv ]; then return 0; fi
		if [ "$1" = 0 ] && [ ! -e /dev/plkv ]; then return 0; fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

dev_ok() {	# char device, mode 0666
	[ -c /dev/plkv ] || { echo "# /dev/plkv is not a character device"; return 1; }
	mode=$(stat -c %a /dev/plkv)
	[ "$mode" = 666 ] || { echo "# /dev/plkv has mode $mode, want 666"; return 1; }
}

do_insmod() {
	out=$(insmod "$ko" 2>&1)
	rc=$?
	[ -n "$out" ] && echo "# insmod: $out"
	return $rc
}

do_rmmod() {
	out=$(rmmod plkv 2>&1)
	rc=$?
	[ -n "$out" ] && echo "# rmmod: $out"
	return $rc
}

if ! loaded; then
	echo "# plkv was not loaded: loading it"
	do_insmod
fi
loaded
result $? "module plkv is loaded"
dev_settles 1
dev_ok
result $? "/dev/plkv is a character device with mode 0666"

do_rmmod
result $? "rmmod plkv"
! loaded && dev_settles 0
result $? "/sys/module/plkv and /dev/plkv are gone after rmmod"

do_insmod
result $? "insmod plkv.ko again"
dev_settles 1 && dev_ok
result $? "/dev/plkv is back with mode 0666"

do_rmmod
result $? "rmmod plkv again"
! loaded && dev_settles 0
result $? "/dev/plkv is gone again"

do_insmod
result $? "insmod plkv.ko a third time (left loaded)"
loaded && dev_settles 1 && dev_ok
result $? "/dev/plkv present for the tests that follow"

finish
