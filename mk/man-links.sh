#!/bin/sh
# SPDX-License-Identifier: MIT
#
# mk/man-links.sh PAGE...: for each section 3 page, the functions its NAME
# line lists besides the page's own name, as "function page" lines: make
# install writes each function a ".so man3/page" page, so that
# "man plkv_close" finds plkv_open(3).
set -eu
for page in "$@"; do
	base=$(basename "$page" .3)
	sed -n '/^\.SH NAME/,/\\-/p' "$page" | sed '1d; s/\\-.*//' |
		tr ',' '\n' | tr -d ' ' | sed '/^$/d' |
		while read -r fn; do
			[ "$fn" = "$base" ] || echo "$fn $base"
		done
done
