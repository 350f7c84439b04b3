#!/bin/bash
# SPDX-License-Identifier: MIT
#
# plkvctl end to end: every command, human and --json output (each JSON
# document parsed), the error cases and their exit status (1 for errors,
# 2 for usage).  Prints TAP 13.  Run from anywhere after `make`:
#
#	test/integration/plkvctl.sh
#
# PLKVCTL names another binary.  The stores it makes are named
# ${PLKV_TEST_PREFIX}plkvctl-PID* and destroyed on exit, also on failure.
# The backend expected is $PLKV_BACKEND's, else kmod when /dev/plkv
# exists, else user (test/run-tests.sh sets PLKV_BACKEND=user).
#
# Conditions are passed to check() as single-quoted strings for eval, so
# they see the results of the last run; hence:
# shellcheck disable=SC2016,SC2034
set -u

cd "$(dirname "$0")/../.." || exit 1
. test/lib/tap.sh
CTL=${PLKVCTL:-tools/plkvctl}
seg="${PLKV_TEST_PREFIX:-}plkvctl-$$"
seg2="$seg-b"
seg3="$seg-c"
tmp=$(mktemp -d)

cleanup() {
	for s in "$seg" "$seg2" "$seg3"; do
		"$CTL" --segment "$s" destroy --force >/dev/null 2>&1
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "TAP version 13"
[ -x "$CTL" ] || skip_all "$CTL not built (run make)"

# ---- helpers ----

# A failure shows the last command run and what it did.
fail_details() {
	echo "#   command: ${last_cmd:-}"
	echo "#   exit: ${rc:-}"
	sed 's/^/#   stdout: /' "$tmp/out" 2>/dev/null | head -20
	sed 's/^/#   stderr: /' "$tmp/err" 2>/dev/null | head -10
}

# run CMD...: stdout in $out and $tmp/out, stderr in $tmp/err, status in $rc
run() {
	last_cmd="$*"
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
}

ctl() {
	run "$CTL" --segment "$seg" "$@"
}

# check NAME CONDITION...: ok when the condition (a command) succeeds
check() {
	local name=$1
	shift
	if "$@"; then
		ok "$name"
	else
		not_ok "$name"
	fi
}

rc_is() { [ "$rc" -eq "$1" ]; }
out_has() { grep -qF -- "$1" "$tmp/out"; }
err_has() { grep -qF -- "$1" "$tmp/err"; }
out_is() { [ "$out" = "$1" ]; }

# json EXPR: parse stdout as one JSON document, bind it to d, and
# require the Python expression EXPR to be true.
json() {
	python3 -c '
import json, sys
try:
    d = json.loads(open(sys.argv[1], encoding="utf-8").read())
except ValueError as e:
    sys.exit("not JSON: %s" % e)
try:
    ok = eval(sys.argv[2])
except Exception as e:
    sys.exit("%s: %r" % (sys.argv[2], e))
sys.exit(0 if ok else "false: " + sys.argv[2])
' "$tmp/out" "${1:-True}" 2>>"$tmp/err"
}

usage_error() { rc_is 2 && err_has "usage: plkvctl"; }
seg_error() { rc_is 1 && err_has "plkvctl: $seg: "; }

has_pku() {
	grep -qw pku /proc/cpuinfo && grep -qw ospke /proc/cpuinfo
}

# ---- global options and usage ----

run "$CTL" --version
check "--version prints the version" \
	eval 'rc_is 0 && out_has "plkvctl 0.1" && out_has "libplkv"'
run "$CTL" --help
check "--help lists the commands" \
	eval 'rc_is 0 && out_has "create" && out_has "recover" && out_has "top"'
run "$CTL"
check "no command: exit 2 with usage" eval 'rc_is 2 && err_has "usage:"'
run "$CTL" frobnicate
check "unknown command: exit 2" \
	eval 'rc_is 2 && err_has "unknown command"'
run "$CTL" --bogus info
check "unknown global option: exit 2" \
	eval 'rc_is 2 && err_has "unknown option"'
run "$CTL" --backend floppy info
check "bad --backend: exit 2" eval 'rc_is 2 && err_has "unknown backend"'
run "$CTL" --segment
check "--segment without a name: exit 2" \
	eval 'rc_is 2 && err_has "needs an argument"'

all_ok=1
for c in create destroy list info procs stats top get set delete dump \
	 check recover; do
	run "$CTL" "$c" --help
	if ! rc_is 0 || ! out_has "usage: plkvctl [OPTIONS] $c"; then
		all_ok=0
		echo "# $c --help: exit $rc"
	fi
done
check "COMMAND --help for all 13 commands" [ $all_ok = 1 ]

# Every command's options go through one parser: the same errors for all.
bad_ok=1
for c in create destroy list info procs stats top get set delete dump \
	 check recover; do
	run "$CTL" "$c" --bogus
	if ! usage_error || ! err_has "plkvctl: $c: unknown option '--bogus'"
	then
		bad_ok=0
		echo "# $c --bogus: exit $rc"
	fi
	run "$CTL" "$c" -z
	if ! usage_error || ! err_has "unknown option '-z'"; then
		bad_ok=0
		echo "# $c -z: exit $rc"
	fi
done
check "COMMAND --bogus and -z: exit 2, the option named, usage" \
	[ $bad_ok = 1 ]
run "$CTL" create --size
check "an option without its argument: exit 2" \
	eval 'usage_error && err_has "'"'--size'"' needs an argument"'
run "$CTL" get a b
check "get with two keys: 'too many arguments'" \
	eval 'usage_error && err_has "too many arguments"'
run "$CTL" stats slabs items
check "stats with two groups: the extra one named" \
	eval 'usage_error && err_has "unexpected argument '"'items'"'"'

# ---- a store that does not exist ----

"$CTL" --segment "$seg" destroy --force >/dev/null 2>&1
ctl info
check "info on a missing store: exit 1, 'plkvctl: SEGMENT: ...'" seg_error
ctl get k
check "get on a missing store: exit 1" seg_error
ctl --json stats
check "stats --json on a missing store: exit 1, nothing on stdout" \
	eval 'seg_error && [ -z "$out" ]'
ctl destroy
check "destroy a missing store: exit 1" seg_error
ctl destroy --force
check "destroy --force a missing store: exit 0" rc_is 0
run "$CTL" --segment "bad/name" info
check "invalid segment name: exit 1 with message" \
	eval 'rc_is 1 && err_has "plkvctl: bad/name: "'

# ---- create ----

ctl create --size 16m
check "create --size 16m" eval 'rc_is 0 && out_has "created $seg"'
ctl create --size 16m
check "create twice: exit 1, 'already exists'" \
	eval 'seg_error && err_has "already exists"'
ctl create --size 12q
check "create --size 12q: usage error" usage_error
# A store larger than /dev/shm can hold (user backend): refused at
# create, naming /dev/shm's free space, rather than SIGBUS later.
if [ "${PLKV_BACKEND:-}" = user ] || { [ -z "${PLKV_BACKEND:-}" ] && [ ! -e /dev/plkv ]; }; then
	free_mib=$(df -m --output=avail /dev/shm | tail -1 | tr -d ' ')
	run "$CTL" --segment "$seg-huge" create --size "$((free_mib + 1024))m"
	check "create larger than /dev/shm: ENOSPC naming its free space" \
		eval 'rc_is 1 && err_has "No space left" && err_has "/dev/shm has"'
	check "... and leaves no file behind" \
		eval '[ ! -e "/dev/shm/plkv.$seg-huge" ]'
else
	ok "create larger than /dev/shm: ENOSPC naming its free space" "kmod backend"
	ok "... and leaves no file behind" "kmod backend"
fi
ctl create --mode 0999
check "create --mode 0999: usage error" usage_error
ctl create --factor 0.5
check "create --factor 0.5: usage error" usage_error
ctl create extra
check "create with an operand: usage error" usage_error
ctl create --size 2t
check "create --size 2t: out of range, the range said" \
	eval 'usage_error && err_has "memory limit 2 TiB: must be 2 MiB to 1 TiB"'
ctl create --size 16m --item-max 9m
check "create --item-max above half the size: usage error" \
	eval 'usage_error && err_has "at most half the memory limit"'
ctl create --hash-power 40
check "create --hash-power 40: usage error with the range" \
	eval 'usage_error && err_has "hash power 40: must be 8 to 31"'

run "$CTL" --json --segment "$seg2" create --size 8m --item-max 512k \
	--factor 1.5 --no-evict --mode 0640
check "create --json with every option" \
	eval 'rc_is 0 && json "d[\"name\"] == \"$seg2\""'
run "$CTL" --json --segment "$seg2" info
check "info --json reflects --item-max, --factor, --no-evict" \
	json 'd["item_size_max"] == 524288 and abs(d["growth_factor"] - 1.5) < 1e-9 and d["evictions"] is False and d["strict"] is False'
run "$CTL" --segment "$seg2" info
check "info shows 'evictions: off' for --no-evict" \
	eval 'rc_is 0 && out_has "evictions: off"'

run "$CTL" --backend user --segment "$seg-strict" create --strict
check "create --strict on the user backend: refused, reason said" \
	eval 'rc_is 1 && err_has "--strict needs the kmod backend"'
run "$CTL" --backend user --segment "$seg-strict" info
check "... and nothing was created" eval 'rc_is 1'

# ---- list ----

ctl list
check "list shows the stores" \
	eval 'rc_is 0 && out_has "NAME" && out_has "$seg " && out_has "$seg2"'
ctl --json list
check "list --json: an array with the store and its size" \
	json "any(s['name'] == '$seg' and s['size'] >= 16 << 20 and s['backend'] in ('user', 'kmod') for s in d)"

# ---- info ----

ctl info
check "info: name, backend, size, hash power, created" \
	eval 'rc_is 0 && out_has "name: $seg" && out_has "backend: " &&
	      out_has "size: " && out_has " MiB" && out_has "hash power: " &&
	      out_has "created: " && out_has "death generation: "'
if has_pku; then
	check "info: 'protection: on (pkey N)' (this host has PKU)" \
		eval 'grep -qE "protection: on \(pkey [0-9]+\)" "$tmp/out"'
else
	check "info: 'protection: off (no PKU)' (this host has no PKU)" \
		out_has "protection: off (no PKU)"
fi
if [ -n "${PLKV_BACKEND:-}" ]; then
	want=$PLKV_BACKEND why="PLKV_BACKEND=$PLKV_BACKEND"
elif [ -e /dev/plkv ]; then
	want=kmod why="/dev/plkv exists"
else
	want=user why="no /dev/plkv"
fi
check "info: backend $want ($why)" out_has "backend: $want"
ctl --json info
check "info --json: every field" \
	json "d['name'] == '$seg' and d['size'] >= 16 << 20 and isinstance(d['protected'], bool) and d['format_version'] >= 1 and d['item_size_max'] == 1 << 20 and d['growth_factor'] > 1 and d['hash_power'] > 0 and d['evictions'] is True and d['created'] > 0 and 'death_gen' in d"
ctl info extra
check "info with an operand: usage error" usage_error
PLKV_SEGMENT="$seg" run "$CTL" info
check "PLKV_SEGMENT selects the store" \
	eval 'rc_is 0 && out_has "name: $seg"'

# ---- set / get / delete ----

ctl set greeting hello
check "set" eval 'rc_is 0 && [ -z "$out" ]'
ctl get greeting
check "get prints the raw value, no newline added" \
	eval 'rc_is 0 && [ "$(od -An -c "$tmp/out" | tr -d " ")" = hello ]'
ctl set meta 'x y' --flags 42 --exptime 3600
ctl --json get meta
check "get --json: value, len, flags, exptime, cas" \
	json 'd["value"] == "x y" and d["len"] == 3 and d["flags"] == 42 and d["exptime"] > 1600000000 and d["cas"] > 0'
printf 'line one\nline two\n\001\377' >"$tmp/value"
run "$CTL" --segment "$seg" set bin - <"$tmp/value"
ctl get bin
check "set KEY - reads stdin; get returns the exact bytes" \
	eval 'rc_is 0 && cmp -s "$tmp/out" "$tmp/value"'
ctl set esc "q\"b\\ t	c"
ctl --json get bin
check "get --json escapes newlines, control and non-UTF-8 bytes" \
	json 'd["value"] == "line one\nline two\n\x01\xff"'
ctl --json get esc
check "get --json escapes quotes, backslashes and tabs" \
	json 'd["value"] == "q\"b\\ t\tc"'
ctl set utf8 'naïve €'
ctl --json get utf8
check "get --json passes UTF-8 through" json 'd["value"] == "naïve €"'
ctl set -- dash -leading
ctl get dash
check "set -- KEY -VALUE stores a value starting with '-'" \
	eval 'rc_is 0 && out_is "-leading"'
ctl get nosuchkey
check "get a missing key: exit 1 with the library's message" \
	eval 'seg_error && [ -z "$out" ]'
ctl set "bad key" v
check "set a key with a space: exit 1" seg_error
ctl set k
check "set without VALUE: usage error" usage_error
ctl set k v --flags -1
check "set --flags -1: usage error" usage_error
ctl set k v --flags 4294967296
check "set --flags 2^32: usage error" usage_error
ctl set k v --exptime soon
check "set --exptime soon: usage error" usage_error
ctl get
check "get without KEY: usage error" usage_error
ctl get a b
check "get with two keys: usage error" usage_error
ctl set gone v
ctl delete gone
check "delete" rc_is 0
ctl get gone
check "get after delete: exit 1" seg_error
ctl delete gone
check "delete a missing key: exit 1" seg_error
ctl --json set j v
check "set --json" json 'd["stored"] == "j" and d["len"] == 1'

# ---- dump ----

ctl dump
check "dump: header, keys, summary" \
	eval 'rc_is 0 && out_has "KEY" && out_has "EXPIRES" &&
	      out_has "greeting" && out_has "bin" && out_has " items, "'
check "dump: flags and expiry of 'meta'" \
	eval 'grep -E "^meta +3 +42 +in " "$tmp/out" >/dev/null'
ctl --json dump
check "dump --json: every item with size, flags, exptime, cas, class" \
	json "{i['key']: i for i in d}['meta']['flags'] == 42 and {i['key']: i for i in d}['bin']['size'] == $(wc -c <"$tmp/value") and all(set(i) >= {'key', 'size', 'flags', 'exptime', 'cas', 'class'} for i in d) and len(d) >= 6"

# ---- stats ----

ctl stats
check "stats: memcached's general statistics" \
	eval 'rc_is 0 && grep -qE "^curr_items +[0-9]+$" "$tmp/out" &&
	      out_has "get_hits" && out_has "cmd_set"'
ctl --json stats
check "stats --json: numbers as numbers" \
	json 'isinstance(d["curr_items"], int) and d["curr_items"] >= 6 and d["cmd_set"] >= 6'
for g in slabs items settings; do
	ctl stats $g
	r1=$rc
	ctl --json stats $g
	check "stats $g: human and --json" \
		eval '[ $r1 = 0 ] && rc_is 0 && json "isinstance(d, dict)"'
done
ctl stats general
check "stats general" eval 'rc_is 0 && out_has "curr_items"'
ctl stats bogus
check "stats bogus: usage error" usage_error

# ---- procs, check, recover ----

ctl procs
check "procs: a table with plkvctl itself attached" \
	eval 'rc_is 0 && out_has "PID" && out_has "WRPKRU" &&
	      grep -qE "^ *[0-9]+\* .*attached" "$tmp/out"'
ctl --json procs
check "procs --json: pid, state, pkey, threads, wrpkru_found" \
	json 'any(p["self"] and p["state"] == "attached" and p["pid"] > 0 and "threads" in p and "wrpkru_found" in p and "pkey" in p for p in d)'
ctl check
check "check on a healthy store: 'ok', exit 0" eval 'rc_is 0 && out_is ok'
ctl --json check
check "check --json" json 'd["ok"] is True'
ctl recover
check "recover: nothing to do" \
	eval 'rc_is 0 && out_has "recovered 0 dead processes"'
ctl --json recover
check "recover --json" json 'd["recovered"] == 0'

# ---- top ----

ctl top --count 2 --interval 0.1
check "top --count 2: a header and two samples" \
	eval 'rc_is 0 && out_has "get/s" && [ "$(wc -l <"$tmp/out")" = 3 ]'
ctl --json top --count 2 --interval 0.1
check "top --json: an array of samples" \
	json 'len(d) == 2 and all({"get_per_s", "set_per_s", "hits_per_s", "misses_per_s", "curr_items", "bytes", "evictions"} <= set(s) for s in d)'
(for _ in $(seq 30); do
	"$CTL" --segment "$seg" get greeting >/dev/null
	sleep 0.02
 done) &
loader=$!
ctl --json top --count 3 --interval 0.3
wait $loader
check "top sees gets from another process" \
	json 'sum(s["get_per_s"] for s in d) > 0 and sum(s["hits_per_s"] for s in d) > 0'
"$CTL" --segment "$seg" --json top --interval 0.2 >"$tmp/top" 2>&1 &
topper=$!
# Interrupt it once it has printed its first sample (at most 10 s).
for _ in $(seq 100); do
	grep -q get_per_s "$tmp/top" 2>/dev/null && break
	sleep 0.1
done
kill -INT $topper
wait $topper
r1=$?
cp "$tmp/top" "$tmp/out"
last_cmd="plkvctl --json top, then SIGINT"
rc=$r1
check "top stops cleanly on SIGINT: exit 0, a complete JSON array" \
	eval 'rc_is 0 && json "len(d) >= 1"'
ctl --json info
check "top detached on SIGINT (death generation still 0)" \
	json 'd["death_gen"] == 0'
ctl top --count 0
check "top --count 0: usage error" usage_error
ctl top --interval x
check "top --interval x: usage error" usage_error

# ---- backends ----

nomod="/dev/plkv is missing: load plkv.ko (modprobe plkv or insmod kmod/plkv.ko)"
if [ -e /dev/plkv ]; then
	for c in create list info destroy plkvd; do
		ok "--backend kmod $c without /dev/plkv says to load plkv.ko" \
			"/dev/plkv exists"
	done
else
	for c in create list info destroy; do
		run "$CTL" --backend kmod --segment "$seg3" $c
		check "--backend kmod $c without /dev/plkv says to load plkv.ko" \
			eval 'rc_is 1 && err_has "$nomod" && ! out_has NAME'
	done
	run env PLKV_BACKEND=kmod tools/plkvd -p 0 -s "$tmp/nomod.sock" \
		--segment "$seg3"
	check "--backend kmod plkvd without /dev/plkv says to load plkv.ko" \
		eval '! rc_is 0 && err_has "$nomod"'
	"$CTL" --segment "$seg3" destroy --force >/dev/null 2>&1
fi
run "$CTL" --backend user --json --segment "$seg3" create --size 4m
check "--backend user create" json 'd["backend"] == "user"'
run "$CTL" --backend user --segment "$seg3" destroy
check "--backend user destroy" rc_is 0

# ---- destroy ----

run "$CTL" --segment "$seg2" destroy
check "destroy" eval 'rc_is 0 && out_has "destroyed $seg2"'
run "$CTL" --segment "$seg2" info
check "info after destroy: exit 1" \
	eval 'rc_is 1 && err_has "plkvctl: $seg2: "'
ctl --json destroy
check "destroy --json" json "d['destroyed'] == '$seg'"
ctl list
check "list no longer shows destroyed stores" \
	eval 'rc_is 0 && ! out_has "$seg"'

# ---- examples ----

if [ -x examples/shared_counter ]; then
	run examples/shared_counter --segment "$seg3" --workers 2 --rounds 2000
	check "examples/shared_counter: counter, keys and check ok" \
		eval 'rc_is 0 && out_has "counter: 4000 (expected 4000): ok" &&
		      out_has "0 missing or wrong: ok" &&
		      out_has "plkv_check: ok" && out_has "destroyed $seg3"'
else
	ok "examples/shared_counter" "not built"
fi
if [ -x examples/hello ]; then
	PLKV_SEGMENT="$seg3" run examples/hello
	r1=$rc
	run "$CTL" --segment "$seg3" get greeting
	check "examples/hello stores a value plkvctl reads" \
		eval '[ $r1 = 0 ] && rc_is 0 && out_is "hello, shared world"'
	"$CTL" --segment "$seg3" destroy >/dev/null 2>&1
else
	ok "examples/hello" "not built"
fi
if [ -x examples/cas_append ]; then
	pids=()
	for name in ann bob cy dee; do
		PLKV_SEGMENT="$seg3" examples/cas_append $name >/dev/null &
		pids+=($!)
	done
	r1=0
	for p in "${pids[@]}"; do
		wait "$p" || r1=1
	done
	run "$CTL" --segment "$seg3" get guests
	check "examples/cas_append: 4 racing processes lose no update" \
		eval '[ $r1 = 0 ] && rc_is 0 &&
		      [ "$(tr " " "\n" <"$tmp/out" | sort | tr "\n" " ")" = "ann bob cy dee " ]'
	"$CTL" --segment "$seg3" destroy >/dev/null 2>&1
else
	ok "examples/cas_append" "not built"
fi

finish
