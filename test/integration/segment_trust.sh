#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A store is trusted only if its owner is the caller or root, and only
# after every offset and size in its header checks out (user backend; the
# module's side runs in the VM).  Name squatting: another user creates the
# name first, or edits the header to point the caller's process anywhere.
# Prints TAP 13.
set -u

cd "$(dirname "$0")/../.." || exit 1
. test/lib/tap.sh

echo "TAP version 13"
CTL=${PLKVCTL:-tools/plkvctl}
[ -x "$CTL" ] || skip_all "$CTL not built (run make)"
export PLKV_BACKEND=user
seg="${PLKV_TEST_PREFIX:-}trust-$$"
file=/dev/shm/plkv.$seg
tmp=$(mktemp -d)
trap '"$CTL" --segment "$seg" destroy --force >/dev/null 2>&1; rm -rf "$tmp"' EXIT

run() {
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}
show() {
	sed 's/^/#   /' "$tmp/err" | head -5
}

# ---- owner ----

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	for t in "another user's store refused" "named in the message" \
		 "--any-owner trusts it" "a store of one's own opens"; do
		ok "$t" "needs root and setpriv to act as a second user"
	done
else
	# The squatter (uid 65534) creates the name first, mode 0666.
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$CTL" --segment "$seg" create --size 4m --mode 0666
	[ "$rc" = 0 ] || { show; not_ok "the squatter creates the store"; }
	run "$CTL" --segment "$seg" set k v
	[ "$rc" = 1 ] && grep -q PLKV_EOWNER "$tmp/err"
	r=$?
	[ $r = 0 ] || show
	result $r "another user's store refused (PLKV_EOWNER)"
	grep -q "owned by uid 65534" "$tmp/err" ||
		grep -q "any-owner" "$tmp/err"
	result $? "the error names the way to trust it"
	run "$CTL" --any-owner --segment "$seg" info
	result $rc "--any-owner trusts it"
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$CTL" --segment "$seg" info
	result $rc "its owner opens it"
	"$CTL" --segment "$seg" destroy --force >/dev/null 2>&1
fi

# ---- header offsets ----

# Offsets in struct plkv_hdr (lib/core.h) at 68 KiB into the segment.
hdr=$((68 * 1024))
poke() {	# poke OFFSET VALUE: 8 bytes, little-endian
	perl -e 'open(my $f, "+<", $ARGV[0]) or die; seek($f, $ARGV[1], 0);
		 print $f pack("Q<", $ARGV[2]);' "$file" "$1" "$2"
}
for field in slots_off:72 procs_off:80 engine_off:88 engine_size:96 \
	     size:24; do
	name=${field%%:*} off=${field##*:}
	"$CTL" --segment "$seg" destroy --force >/dev/null 2>&1
	run "$CTL" --segment "$seg" create --size 4m
	[ "$rc" = 0 ] || { show; not_ok "create for $name"; continue; }
	"$CTL" --segment "$seg" set k v >/dev/null 2>&1
	poke $((hdr + off)) 4096
	run "$CTL" --segment "$seg" get k
	[ "$rc" = 1 ] && grep -q "PLKV_EBADSEG" "$tmp/err" &&
		grep -q "header field $name is 0x1000" "$tmp/err"
	r=$?
	[ $r = 0 ] || show
	result $r "header $name pointing elsewhere: PLKV_EBADSEG naming it"
done

finish
