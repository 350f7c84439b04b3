#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The demo `make run` shows (examples/run-demo.sh): it runs to the end,
# its two processes agree on the shared counter and keys, the store passes
# plkv_check, the backend line says why it was chosen, and the store is
# gone afterwards.  Prints TAP 13.
set -u

cd "$(dirname "$0")/../.." || exit 1
. test/lib/tap.sh
demo=examples/run-demo.sh
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

fail_details() {
	sed 's/^/# out: /' "$out"
	sed 's/^/# err: /' "$err"
}

echo "TAP version 13"
[ -x tools/plkvctl ] && [ -x examples/shared_counter ] ||
	skip_all "tools/plkvctl or examples/shared_counter not built (run make)"

# The library's own choice of backend, as a user gets it.
env -u PLKV_BACKEND sh "$demo" >"$out" 2>"$err"
rc=$?
[ $rc -eq 0 ] && ok "demo exits 0" || not_ok "demo exits 0 (got $rc)"
grep -q '^counter: 20000 (expected 20000): ok$' "$out" &&
	ok "two processes count to 20000 on one counter" ||
	not_ok "two processes count to 20000 on one counter"
grep -q '^keys: *20000 written, 0 missing or wrong: ok$' "$out" &&
	ok "each process reads the other's keys" ||
	not_ok "each process reads the other's keys"
[ "$(grep -c '^ok$' "$out")" -eq 1 ] && grep -q '^plkv_check: ok$' "$out" &&
	ok "the store passes plkv_check and plkvctl check" ||
	not_ok "the store passes plkv_check and plkvctl check"

seg=$(sed -n 's/^== plkv demo: store \([^ ]*\) (.*/\1/p' "$out")
why=$(sed -n 's/^== plkv demo: store [^ ]* (\(.*\))$/\1/p' "$out")
backend=$(sed -n 's/^ *backend: //p' "$out")
if [ -e /dev/plkv ]; then
	[ "$backend" = kmod ] && ok "kernel backend with /dev/plkv" ||
		not_ok "kernel backend with /dev/plkv (got '$backend', '$why')"
else
	case $why in
	"no /dev/plkv, user backend: "?*) good=1 ;;
	*) good= ;;
	esac
	[ "$backend" = user ] && [ -n "$good" ] &&
		ok "user backend, and why the module is not used" ||
		not_ok "user backend, and why the module is not used (got '$backend', '$why')"
fi
[ -n "$seg" ] && ! tools/plkvctl --segment "$seg" info >/dev/null 2>&1 &&
	ok "the demo's store is destroyed" ||
	not_ok "the demo's store is destroyed ('$seg')"
[ ! -s "$err" ] && ok "nothing on stderr" || not_ok "nothing on stderr"

# Forcing the kernel backend: it runs on it, or says why it cannot.
PLKV_BACKEND=kmod sh "$demo" >"$out" 2>"$err"
rc=$?
if [ $rc -eq 0 ]; then
	grep -q '^ *backend: kmod$' "$out" &&
		ok "PLKV_BACKEND=kmod runs on the module" ||
		not_ok "PLKV_BACKEND=kmod runs on the module"
else
	[ $rc -eq 1 ] &&
		grep -q '^run-demo: PLKV_BACKEND=kmod but there is no /dev/plkv: .' "$err" &&
		ok "PLKV_BACKEND=kmod without the module: exit 1 and the reason" ||
		not_ok "PLKV_BACKEND=kmod without the module: exit 1 and the reason (rc $rc)"
fi

finish
