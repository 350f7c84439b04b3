#!/bin/sh
# SPDX-License-Identifier: MIT
#
# What `make run` shows: two processes sharing one plkv store through
# libplkv (examples/shared_counter), then the store as plkvctl sees it.
# The store gets a name of its own and is destroyed on the way out, also
# when something fails or the demo is interrupted.
#
# The backend is the library's choice: the kernel module when /dev/plkv
# exists, else a file under /dev/shm; PLKV_BACKEND=user|kmod forces one.
set -eu

cd "$(dirname "$0")/.."
ctl=tools/plkvctl
demo=examples/shared_counter
for f in "$ctl" "$demo"; do
	if [ ! -x "$f" ]; then
		echo "run-demo: $f is missing; run 'make' first" >&2
		exit 1
	fi
done

seg="plkv-demo-$$"
ko=kmod/plkv.ko
loaded_here=
cleanup() {
	"$ctl" --segment "$seg" destroy --force >/dev/null 2>&1 || true
	# Leave the kernel as the demo found it.
	if [ -n "$loaded_here" ]; then
		rmmod plkv 2>/dev/null || echo "run-demo: rmmod plkv failed" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Load the module when this machine allows it; otherwise say why not (in
# $no_module), and the library falls back to the user backend.
no_module=
load_module() {
	local built running err
	if [ ! -f "$ko" ]; then
		no_module="$ko was not built (kernel headers missing?)"
		return 1
	fi
	if [ "$(id -u)" != 0 ]; then
		no_module="not root, cannot insmod $ko"
		return 1
	fi
	# (busybox's modinfo may print nothing: then insmod decides)
	built=$(modinfo -F vermagic "$ko" 2>/dev/null | cut -d' ' -f1)
	running=$(uname -r)
	if [ -n "$built" ] && [ "$built" != "$running" ]; then
		no_module="$ko is built for kernel $built, this one runs $running"
		return 1
	fi
	if ! err=$(insmod "$ko" 2>&1); then
		no_module="insmod $ko failed: $err"
		return 1
	fi
	loaded_here=1
	# devtmpfs creates the node asynchronously on some systems.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ -e /dev/plkv ] && return 0
		sleep 0.1
	done
	no_module="insmod $ko succeeded but /dev/plkv did not appear"
	return 1
}

if [ ! -e /dev/plkv ] && [ "${PLKV_BACKEND:-}" != user ]; then
	load_module || true
fi

if [ "${PLKV_BACKEND:-}" = kmod ] && [ ! -e /dev/plkv ]; then
	echo "run-demo: PLKV_BACKEND=kmod but there is no /dev/plkv:" \
	     "${no_module:-load $ko first}" >&2
	exit 1
elif [ -n "${PLKV_BACKEND:-}" ]; then
	why="PLKV_BACKEND=$PLKV_BACKEND"
elif [ -n "$loaded_here" ]; then
	why="loaded $ko: kernel backend"
elif [ -e /dev/plkv ]; then
	why="/dev/plkv exists: kernel backend"
else
	why="no /dev/plkv, user backend: ${no_module:-the module is not loaded}"
fi
echo "== plkv demo: store $seg ($why)"
echo

"$demo" --segment "$seg" --workers 2 --rounds 10000 --keep

echo
echo "== plkvctl --segment $seg info"
"$ctl" --segment "$seg" info
echo
echo "== plkvctl --segment $seg stats"
"$ctl" --segment "$seg" stats
echo
echo "== plkvctl --segment $seg check"
"$ctl" --segment "$seg" check
echo
"$ctl" --segment "$seg" destroy
