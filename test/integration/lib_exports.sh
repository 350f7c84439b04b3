#!/bin/bash
# SPDX-License-Identifier: MIT
#
# libplkv.so exports its API and nothing else: every defined dynamic
# symbol is a plkv_ function declared in include/plkv.h, and none of the
# gate's internals (its WRPKRU helpers, the plkv_gate section's bounds) is
# reachable by name from a client.  Prints TAP 13.
set -u

cd "$(dirname "$0")/../.." || exit 1
. test/lib/tap.sh

echo "TAP version 13"
lib=lib/libplkv.so
[ -f "$lib" ] || skip_all "$lib not built (run make)"
command -v nm >/dev/null || skip_all "no nm (binutils)"

exports=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | sort -u)
stray=
for s in $exports; do
	grep -Eq "^PLKV_API [^(]*\b$s\(" include/plkv.h ||
		grep -Eq "\b$s\(" include/plkv.h || stray="$stray $s"
done
[ -z "$stray" ] && ok "every export is declared in include/plkv.h" ||
	{ echo "# not in plkv.h:$stray"; not_ok "every export is declared in include/plkv.h"; }

hidden=1
for s in __start_plkv_gate __stop_plkv_gate plkv_gate_open plkv_gate_close \
	 plkv_enter plkv_leave plkv_pkru_violation plkv_pkey_acquire \
	 plkv_trust_publish plkv_trust_park plkv_trust_unpark \
	 plkv_kv_snapshot plkv_window_map; do
	if printf '%s\n' $exports | grep -qx "$s"; then
		echo "# exported: $s"
		hidden=0
	fi
done
[ "$hidden" = 1 ] && ok "the gate's bounds and helpers are not exported" ||
	not_ok "the gate's bounds and helpers are not exported"
finish
