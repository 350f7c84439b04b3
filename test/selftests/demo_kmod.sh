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

. "$(dirname "$0")/../lib/tap.sh"
echo "TAP version 13"
if [ "${PLKV_VM:-0}" != 1 ] && [ "${PLKV_KMOD_TEST:-0}" != 1 ]; then
	skip_all "module loading not possible on this host"
fi
top=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$top/examples/run-demo.sh" ] || top=$(cd "$top/.." && pwd)
demo=$top/examples/run-demo.sh
ko=$top/kmod/plkv.ko
[ -f "$demo" ] && [ -f "$ko" ] || skip_all "$demo or $ko missing"
out=/tmp/demo_kmod.$$
fail_details() {
	sed 's/^/# /' "$out"
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
finish
