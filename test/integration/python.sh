#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The Python binding (bindings/python) as a user gets it: pip-installed
# into a fresh virtual environment, then its pytest suite, run against
# that installed copy: every method beside pymemcache on plkvd, bad input,
# threads, fork and multiprocessing, workers killed mid-call, Django's
# cache.  Each pytest test is one TAP result.  Prints TAP 13.
#
# pip installs with --no-build-isolation: an isolated build would fetch
# setuptools from PyPI, which these machines can't reach; Debian's
# python3-setuptools and python3-wheel build it instead.
set -u

cd "$(dirname "$0")/../.." || exit 1
. test/lib/tap.sh

echo "TAP version 13"
PY=${PYTHON:-/usr/bin/python3}
[ -x lib/libplkv.so ] || [ -f lib/libplkv.so ] || skip_all "lib/libplkv.so not built (run make)"
[ -x tools/plkvd ] || skip_all "tools/plkvd not built (run make)"
"$PY" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null ||
	skip_all "no Python.h (Debian: python3-dev)"
for m in pytest pymemcache venv setuptools wheel; do
	"$PY" -c "import $m" 2>/dev/null || skip_all "no Python module $m (make deps)"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
venv=$tmp/venv

run() {
	"$@" >"$tmp/out" 2>&1
}
fail_details() {
	tail -n 20 "$tmp/out" | sed 's/^/#   /'
}

run "$PY" -m venv --system-site-packages "$venv"
result $? "a fresh venv"
run "$venv/bin/pip" install --no-build-isolation --no-index bindings/python
result $? "pip install bindings/python"
where=$(cd "$tmp" && "$venv/bin/python" -c 'import plkv; print(plkv.__file__)' 2>&1)
case $where in
"$venv"/*) ok "the venv imports its installed plkv" ;;
*) echo "# imported: $where" >"$tmp/out"; not_ok "the venv imports its installed plkv" ;;
esac

# pytest's results, one TAP line each, from its JUnit XML.
# From outside the tree, so that nothing but the installed plkv imports.
top=$PWD
(cd "$tmp" && PLKVD="$top/tools/plkvd" timeout 240 "$venv/bin/python" \
	-m pytest -q -p no:cacheprovider -p no:warnings \
	--junitxml="$tmp/junit.xml" "$top/bindings/python/tests") \
	>"$tmp/pytest.out" 2>&1
pytest_rc=$?
if [ ! -s "$tmp/junit.xml" ]; then
	cp "$tmp/pytest.out" "$tmp/out"
	not_ok "pytest ran (exit $pytest_rc)"
else
	while IFS=$'\t' read -r verdict name why; do
		case $verdict in
		pass) ok "$name" ;;
		skip) ok "$name" "$why" ;;
		*) printf '%s\n' "$why" | tr '\037' '\n' >"$tmp/out"
		   not_ok "$name" ;;
		esac
	done < <("$PY" - "$tmp/junit.xml" <<'PYEOF'
import sys
import xml.etree.ElementTree as ET
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    name = "%s::%s" % (case.get("classname", "").rsplit(".", 1)[-1],
                       case.get("name"))
    verdict, why = "pass", ""
    for child in case:
        if child.tag in ("failure", "error"):
            verdict = "fail"
            why = (child.get("message") or "") + "\n" + (child.text or "")
        elif child.tag == "skipped":
            verdict, why = "skip", child.get("message") or "skipped"
    why = " ".join(why.split("\n")[-20:]) if verdict == "skip" else why
    print("%s\t%s\t%s" % (verdict, name, why.replace("\t", " ")
                          .replace("\n", "\x1f")))
PYEOF
)
	# a crash after some results: pytest's own exit status tells
	case $pytest_rc in
	0 | 1) ;;
	*) cp "$tmp/pytest.out" "$tmp/out"; not_ok "pytest finished (exit $pytest_rc)" ;;
	esac
fi
finish
