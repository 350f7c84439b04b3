#!/bin/sh
# SPDX-License-Identifier: MIT
#
# demo_kmod - what `make run` does on a machine that can load modules:
# with plkv.ko not loaded, examples/run-demo.sh loads it, runs the demo on
# the kernel backend with protection on, and unloads it again; with the
# module already loaded it uses it and leaves it loaded.
#
# Runs in the VM (PLKV_VM=1), where the tree is under /plkv, or as root on
# a machine that can load the module with PLKV_KMOD_TEST=1.  It leaves the
# module loaded, as it found it.  POSIX sh: busybox sh in the VM.
set -u

echo "TAP version 13"
if [ "${PLKV_VM:-0}" != 1 ] && [ "${PLKV_KMOD_TEST:-0}" != 1 ]; then
	echo "1..0 # SKIP module loading not possible on this host"
	exit 0
fi
top=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$top/examples/run-demo.sh" ] || top=$(cd "$top/.." && pwd)
demo=$top/examples/run-demo.sh
ko=$top/kmod/plkv.ko
if [ ! -f "$demo" ] || [ ! -f "$ko" ]; then
	echo "1..0 # SKIP $demo or $ko missing"
	exit 0
fi
out=/tmp/demo_kmod.$$

n=0
fails=0
echo "1..7"
result() {	# result STATUS description: STATUS 0 is ok
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		fails=$((fails + 1))
		sed 's/^/# /' "$out"
	fi
}
loaded() { [ -d /sys/module/plkv ]; }

was_loaded=
loaded && was_loaded=1
[ -n "$was_loaded" ] && rmmod plkv

env -u PLKV_BACKEND sh "$demo" >"$out" 2>&1
result $? "demo exits 0 after loading the module itself"
grep -q "(loaded kmod/plkv.ko: kernel backend)" "$out"
result $? "demo says it loaded the module"
grep -q '^ *backend: kmod$' "$out" && grep -q '^ *protection: on (pkey [0-9]*)$' "$out"
result $? "store on the kernel backend with protection on"
grep -q '^counter: 20000 (expected 20000): ok$' "$out" && grep -q '^plkv_check: ok$' "$out"
result $? "both processes' work is there and the store checks out"
! loaded
result $? "the module it loaded is unloaded again"

insmod "$ko" || true
i=0
while [ ! -e /dev/plkv ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
env -u PLKV_BACKEND sh "$demo" >"$out" 2>&1 && grep -q "(/dev/plkv exists: kernel backend)" "$out"
result $? "with the module loaded, the demo uses it"
loaded
result $? "and leaves it loaded"

[ -n "$was_loaded" ] || rmmod plkv
rm -f "$out"
[ $fails -eq 0 ]
