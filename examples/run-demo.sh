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
cleanup() {
	"$ctl" --segment "$seg" destroy --force >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "${PLKV_BACKEND:-}" = kmod ] && [ ! -e /dev/plkv ]; then
	echo "run-demo: PLKV_BACKEND=kmod but there is no /dev/plkv" \
	     "(insmod kmod/plkv.ko first)" >&2
	exit 1
elif [ -n "${PLKV_BACKEND:-}" ]; then
	why="PLKV_BACKEND=$PLKV_BACKEND"
elif [ -e /dev/plkv ]; then
	why="/dev/plkv exists"
else
	why="no /dev/plkv: the plkv module is not loaded"
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
