#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The manual: every page under man/ renders without a single groff
# warning (-ww), every function libplkv exports is named on a section 3
# page, every ioctl of the module's ABI is on plkv(4), and every page a
# SEE ALSO names in plkv's own families (libplkv, plkv_*, plkv, plkvctl,
# plkvd) exists.  Prints TAP 13.
set -u

cd "$(dirname "$0")/../.." || exit 1
. test/lib/tap.sh

echo "TAP version 13"
command -v groff >/dev/null || skip_all "no groff (make deps: groff-base)"

for page in man/*.[1-9]; do
	warnings=$(groff -z -ww -man "$page" 2>&1)
	if [ -z "$warnings" ]; then
		ok "$page renders without warnings"
	else
		echo "$warnings" | head -5 | sed 's/^/# /'
		not_ok "$page renders without warnings"
	fi
done

# The NAME lines of section 3 pages: "a, b, c \- what".
named=$(for p in man/*.3; do
	sed -n '/^\.SH NAME/,/\\-/p' "$p" | sed '1d; s/\\-.*//' | tr ',' '\n'
done | tr -d ' ' | sed '/^$/d' | sort -u)
missing=
for f in $(grep -Eo '^PLKV_API [^(]*\b(plkv_[a-z0-9_]+)\(' include/plkv.h |
	   grep -Eo 'plkv_[a-z0-9_]+\($' | tr -d '(' | sort -u); do
	printf '%s\n' $named | grep -qx "$f" || missing="$missing $f"
done
[ -z "$missing" ] && ok "every function in plkv.h is on a section 3 page" ||
	{ echo "# not documented:$missing"; not_ok "every function in plkv.h is on a section 3 page"; }

missing=
for c in $(grep -Eo 'PLKV_IOC_[A-Z_]+[[:space:]]+_IO' include/uapi/linux/plkv.h |
	   awk '{print $1}'); do
	grep -q "$c" man/plkv.4 || missing="$missing $c"
done
[ -z "$missing" ] && ok "every ioctl is on plkv(4)" ||
	{ echo "# not on plkv(4):$missing"; not_ok "every ioctl is on plkv(4)"; }

# A function's own name is a page too: make install links it to the
# page that names it.
dangling=
for ref in $(grep -ho '^\.BR \(libplkv\|plkv[a-z_]*\) ([0-9])' man/*.[1-9] |
	     sed 's/^\.BR //; s/ (\(.\))/.\1/' | sort -u); do
	[ -f "man/$ref" ] && continue
	case $ref in
	*.3) printf '%s\n' $named | grep -qx "${ref%.3}" && continue ;;
	esac
	dangling="$dangling $ref"
done
[ -z "$dangling" ] && ok "every plkv page referred to exists" ||
	{ echo "# missing:$dangling"; not_ok "every plkv page referred to exists"; }
finish
