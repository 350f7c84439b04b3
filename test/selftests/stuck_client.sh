#!/bin/sh
# SPDX-License-Identifier: MIT
#
# stuck_client - a client stopped inside a call, holding a lock: another
# client needing that lock waits; 'plkvctl procs' shows how long the
# stuck one has been inside its call; 'plkvctl recover --kill-stuck 1'
# kills it and recovers it, and the waiting client goes on.  The stuck
# client is stopped (SIGSTOP) at a crash point inside its set
# (PLKV_CRASH=1:3:stop), after it locked the key's stripe.  Once killed it
# stays a zombie until this shell reaps it, which must not keep it
# "alive".  Runs on the host (user backend) and in the VM (kmod backend).
# POSIX sh.
set -u

. "$(dirname "$0")/../lib/tap.sh"
echo "TAP version 13"
need_plkvctl

seg="${PLKV_TEST_PREFIX:-}stuck-$$"
tmp=/tmp/stuck_client.$$
mkdir -p "$tmp"
stuck=
waiter=
cleanup() {
	[ -n "$stuck" ] && kill -9 "$stuck" 2>/dev/null
	[ -n "$waiter" ] && kill -9 "$waiter" 2>/dev/null
	"$ctl" --segment "$seg" destroy --force >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
fail_details() {
	sed 's/^/# /' "$tmp/out" 2>/dev/null | head -12
}

"$ctl" --segment "$seg" create --size 4m >"$tmp/out" 2>&1 &&
	"$ctl" --segment "$seg" set k v >>"$tmp/out" 2>&1
result $? "a store with a key"

PLKV_CRASH=1:3:stop "$ctl" --segment "$seg" set k stuck >/dev/null 2>&1 &
stuck=$!
# until it has stopped inside its call
tries=0
until [ "$(sed 's/.*) //' "/proc/$stuck/stat" 2>/dev/null | cut -c1)" = T ] ||
      [ $tries -ge 100 ]; do
	sleep 0.1
	tries=$((tries + 1))
done
"$ctl" --segment "$seg" set k after >"$tmp/waiter" 2>&1 &
waiter=$!
sleep 1.5
kill -0 "$waiter" 2>/dev/null
result $? "a client needing the stuck one's lock waits"

"$ctl" --segment "$seg" procs >"$tmp/out" 2>&1
grep -E "^ *$stuck .* attached .* [0-9]+s *$" "$tmp/out" >/dev/null
result $? "procs shows the stuck client inside a call for seconds"

"$ctl" --segment "$seg" recover --kill-stuck 1 >"$tmp/out" 2>&1 &&
	grep -q "^killed $stuck: inside one call for [0-9]* s" "$tmp/out"
result $? "recover --kill-stuck 1 kills it"

tries=0
while kill -0 "$waiter" 2>/dev/null && [ $tries -lt 100 ]; do
	sleep 0.1
	tries=$((tries + 1))
done
if kill -0 "$waiter" 2>/dev/null; then
	cp "$tmp/waiter" "$tmp/out"
	not_ok "the waiting client goes on"
else
	wait "$waiter"
	result $? "the waiting client goes on"
fi
waiter=
wait "$stuck" 2>/dev/null
stuck=

"$ctl" --segment "$seg" get k >"$tmp/out" 2>&1 && grep -qx after "$tmp/out"
result $? "its set took effect"
"$ctl" --segment "$seg" check >"$tmp/out" 2>&1
result $? "the store checks out"
"$ctl" --segment "$seg" procs >"$tmp/out" 2>&1
! grep -q " dead " "$tmp/out"
result $? "no dead process left"
"$ctl" --segment "$seg" recover --kill-stuck 0 >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q "kill-stuck" "$tmp/out"
result $? "--kill-stuck 0 is a usage error"
finish
