#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test/vm/run.sh - run plkv's selftests inside a QEMU VM where protection
# keys and plkv.ko are real.  See Documentation/dev-tools/testing.rst.
#
# Boots the newest installed /boot/vmlinuz-* (one with matching headers
# preferred) under TCG with "-cpu max" (PKU on), from an initramfs holding
# busybox, the static selftests, plkv.ko built against exactly that
# kernel's headers, and the tools.  Test output comes back on the second
# serial port, the kernel's console goes to a log file; both are kept in
# test/vm/build/.  Prints TAP: every in-VM result line renumbered as
# "ok N vm/<program>: <test>", the rest of the in-VM output as "# " lines.
# Fails on any "not ok", a program exiting non-zero, a missing plan or end
# marker, a kernel WARNING/BUG/Oops/Call Trace (console or dmesg), or a
# timeout.
set -uo pipefail
shopt -s nullglob lastpipe

usage() {
	cat <<EOF
usage: $0 [options]
  -t, --test NAME   run only this selftest (repeatable; names as in
                    test/selftests/ without .c/.sh)
  --cmd 'CMD'       run CMD with sh -c in the VM (cwd /plkv, tools on PATH,
                    module loaded), print its output, exit with its status
  --shell           boot to an interactive shell (Ctrl-A X quits QEMU)
  --no-build        do not run 'make all' first
  --timeout SECS    limit for the whole VM run (default \$PLKV_VM_TIMEOUT
                    or 540)
  -h, --help        this help
Environment: PLKV_VM_TIMEOUT, PLKV_VM_TEST_TIMEOUT (per program, default
180 s), PLKV_VM_SCALE (TH_TIMEOUT_SCALE inside, default 4), PLKV_VM_MEM
(MiB, default 1024), PLKV_VM_SMP (default 2), PLKV_VM_KERNEL (a vmlinuz).
EOF
}

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$top/test/vm/build
mode=tests
cmd=
do_build=1
tests=()
vm_timeout=${PLKV_VM_TIMEOUT:-540}

while [ $# -gt 0 ]; do
	case $1 in
	-t|--test) [ $# -ge 2 ] || { usage >&2; exit 2; }
		read -ra more <<<"$2"; tests+=("${more[@]}"); shift ;;
	--cmd) [ $# -ge 2 ] || { usage >&2; exit 2; }
		mode=cmd; cmd=$2; shift ;;
	--shell) mode=shell ;;
	--no-build) do_build=0 ;;
	--timeout) [ $# -ge 2 ] || { usage >&2; exit 2; }
		vm_timeout=$2; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "$0: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

# In test mode a missing prerequisite is one TAP SKIP; otherwise an error.
cannot_run() {
	if [ "$mode" = tests ]; then
		echo "TAP version 13"
		echo "1..0 # SKIP $1"
		exit 0
	fi
	echo "$0: $1" >&2
	exit 1
}

qemu=$(command -v qemu-system-x86_64) ||
	cannot_run "qemu-system-x86_64 not installed (make deps)"

# The kernel: newest /boot/vmlinuz-* that has headers, else the newest.
headers_of() {
	local d
	for d in "/lib/modules/$1/build" "/usr/src/linux-headers-$1"; do
		[ -f "$d/Makefile" ] && { echo "$d"; return 0; }
	done
	return 1
}
kernel=${PLKV_VM_KERNEL:-}
if [ -z "$kernel" ]; then
	imgs=(/boot/vmlinuz-*)
	[ ${#imgs[@]} -gt 0 ] ||
		cannot_run "no /boot/vmlinuz-* (install linux-image-amd64: make deps)"
	mapfile -t imgs < <(printf '%s\n' "${imgs[@]}" | sort -rV)
	kernel=${imgs[0]}
	for img in "${imgs[@]}"; do
		if headers_of "${img#/boot/vmlinuz-}" >/dev/null; then
			kernel=$img
			break
		fi
	done
fi
[ -r "$kernel" ] || cannot_run "$kernel is not readable"
kver=${kernel##*/vmlinuz-}
kdir=$(headers_of "$kver") || kdir=

if [ "$do_build" = 1 ]; then
	make -C "$top" --no-print-directory all >&2 ||
		{ echo "$0: make failed" >&2; exit 1; }
fi

mkdir -p "$build"
run_dir=$(mktemp -d "$build/run.XXXXXX") || exit 1
cleanup() { rm -rf "$run_dir"; }
trap cleanup EXIT

# ---- the module, built against exactly $kver --------------------------
ko=
ko_problem=
ko_skip=
modinfo=$(command -v modinfo || echo /sbin/modinfo)
vermagic() { "$modinfo" -F vermagic "$1" 2>/dev/null | awk '{ print $1 }'; }

prepare_module() {
	local src=$build/kmod-$kver dirs=() d
	if [ ! -f "$top/kmod/Makefile" ]; then
		ko_skip="kmod/ is not there yet"
		return
	fi
	if [ -f "$top/kmod/plkv.ko" ] &&
	   [ "$(vermagic "$top/kmod/plkv.ko")" = "$kver" ]; then
		ko=$top/kmod/plkv.ko
		return
	fi
	if [ -z "$kdir" ]; then
		ko_problem="no headers for $kver (linux-headers-$kver): make deps"
		return
	fi
	# kmod/plkv.ko was built for another kernel: build a copy for $kver.
	for d in kmod include; do [ -d "$top/$d" ] && dirs+=("$d"); done
	(
		flock 9
		rm -rf "$src" && mkdir -p "$src" &&
		tar -C "$top" -c --exclude='*.o' --exclude='*.ko' \
			--exclude='*.mod' --exclude='*.mod.c' --exclude='.*.cmd' \
			--exclude=modules.order --exclude=Module.symvers \
			"${dirs[@]}" | tar -C "$src" -x &&
		make -C "$src/kmod" KDIR="$kdir" >"$src/build.log" 2>&1
	) 9>"$build/.kmod.lock"
	if [ -f "$src/kmod/plkv.ko" ] &&
	   [ "$(vermagic "$src/kmod/plkv.ko")" = "$kver" ]; then
		ko=$src/kmod/plkv.ko
	else
		ko_problem="building plkv.ko against $kdir failed: see $src/build.log"
	fi
}
[ "$mode" = tests ] && echo "TAP version 13"
prepare_module

# ---- which tests ---------------------------------------------------------
all=()
for f in "$top"/test/selftests/*.c "$top"/test/selftests/*.sh; do
	n=${f##*/}
	all+=("${n%.*}")
done
mapfile -t all < <(printf '%s\n' "${all[@]}" | sort -u)
# kmod_load first: it leaves the module loaded for the others.
ordered=()
for n in "${all[@]}"; do [ "$n" = kmod_load ] && ordered+=("$n"); done
for n in "${all[@]}"; do [ "$n" = kmod_load ] || ordered+=("$n"); done
if [ ${#tests[@]} -gt 0 ]; then
	for n in "${tests[@]}"; do
		printf '%s\n' "${all[@]}" | grep -qxF -- "$n" || {
			echo "$0: no selftest named '$n' (have: ${all[*]})" >&2
			exit 2
		}
	done
	sel=()
	for n in "${ordered[@]}"; do
		printf '%s\n' "${tests[@]}" | grep -qxF -- "$n" && sel+=("$n")
	done
	ordered=("${sel[@]}")
fi

# ---- the initramfs -------------------------------------------------------
root=$run_dir/root

# Copies an executable or library and the shared libraries it needs.
copy_elf() {	# copy_elf FILE DEST
	local lib path
	cp -L "$1" "$2" || return 1
	[ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ] || return 0
	while read -r lib _ path _; do
		case $lib in
		/*) mkdir -p "$root${lib%/*}"
		    [ -e "$root$lib" ] || cp -L "$lib" "$root$lib" ;;
		*) [ -f "$path" ] || continue
		   case $path in
		   "$top"/*) [ -e "$root/plkv/lib/$lib" ] ||
				cp -L "$path" "$root/plkv/lib/$lib" ;;
		   *) [ -e "$root/lib/x86_64-linux-gnu/$lib" ] ||
				cp -L "$path" "$root/lib/x86_64-linux-gnu/$lib" ;;
		   esac ;;
		esac
	done < <(ldd "$1" 2>/dev/null)
	return 0
}

make_initramfs() {
	local bb a f n
	mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp,root,usr,lib/x86_64-linux-gnu} \
		"$root"/plkv/{tests,kmod,tools,lib,examples} || return 1
	bb=$(command -v busybox) || { echo "busybox not installed (make deps)"; return 1; }
	copy_elf "$bb" "$root/bin/busybox" || return 1
	for a in $("$bb" --list); do
		[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
	done
	ln -s bin "$root/sbin"
	ln -s ../bin "$root/usr/bin"
	ln -s ../bin "$root/usr/sbin"
	install -m 755 "$top/test/vm/init.sh" "$root/init"
	printf 'root:x:0:0:root:/root:/bin/sh\nplkv:x:1000:1000:plkv test user:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nplkv:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
	{
		echo "MODE=$mode"
		echo "TESTS='${ordered[*]}'"
		echo "TEST_TIMEOUT=$((${PLKV_VM_TEST_TIMEOUT:-180} + 0))"
		echo "TIMEOUT_SCALE=$((${PLKV_VM_SCALE:-4} + 0))"
	} >"$root/etc/plkv-vm.conf"
	printf '%s\n' "$cmd" >"$root/etc/plkv-vm.cmd"
	for n in "${all[@]}"; do
		if [ -f "$top/test/selftests/$n.c" ]; then
			f=$top/test/vm/build/bin/$n
			[ -x "$f" ] || { echo "$f is not built (make)"; return 1; }
			copy_elf "$f" "$root/plkv/tests/$n" || return 1
		else
			cp "$top/test/selftests/$n.sh" "$root/plkv/tests/" || return 1
			cp "$top/test/lib/tap.sh" "$root/plkv/lib/" || return 1
		fi
	done
	[ -n "$ko" ] && cp "$ko" "$root/plkv/kmod/plkv.ko"
	# brd (a RAM block device) gives kmod_map an O_DIRECT target:
	# tmpfs takes no O_DIRECT before Linux 6.6.
	for f in "/lib/modules/$kver/kernel/drivers/block/brd.ko"*; do
		case $f in
		*.ko) cp "$f" "$root/plkv/kmod/brd.ko" ;;
		*.ko.xz) xz -dc "$f" >"$root/plkv/kmod/brd.ko" ;;
		*.ko.zst) zstd -qdc "$f" >"$root/plkv/kmod/brd.ko" ;;
		*.ko.gz) gzip -dc "$f" >"$root/plkv/kmod/brd.ko" ;;
		esac || rm -f "$root/plkv/kmod/brd.ko"
	done
	for f in "$top"/tools/* "$top"/examples/*; do
		{ [ -f "$f" ] && [ -x "$f" ]; } || continue
		case $f in
		*/tools/*) copy_elf "$f" "$root/plkv/tools/${f##*/}" ;;
		*) copy_elf "$f" "$root/plkv/examples/${f##*/}" ;;
		esac || return 1
	done
	# Owned by root, as an installed libplkv is: a strict store trusts
	# libplkv's gates only in files no one else could have written.
	(cd "$root" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) \
		>"$run_dir/initramfs.cpio"
}
if ! out=$(make_initramfs 2>&1); then
	cannot_run_reason="building the initramfs failed: ${out//$'\n'/ }"
	[ "$mode" = tests ] && { echo "1..1"; echo "not ok 1 vm: $cannot_run_reason"; exit 1; }
	echo "$0: $cannot_run_reason" >&2
	exit 1
fi

# ---- boot ----------------------------------------------------------------
append="console=ttyS0 loglevel=5 panic=-1 mitigations=off"
qemu_args=(-accel tcg -cpu max -smp "${PLKV_VM_SMP:-2}" -m "${PLKV_VM_MEM:-1024}"
	   -nographic -no-reboot -nic none -kernel "$kernel"
	   -initrd "$run_dir/initramfs.cpio" -append "$append")

if [ "$mode" = shell ]; then
	[ -n "$ko_problem" ] && echo "warning: $ko_problem" >&2
	echo "Booting $kernel (Ctrl-A X quits) ..." >&2
	"$qemu" "${qemu_args[@]}" -serial mon:stdio
	exit $?
fi

console=$run_dir/console.log
stream=$run_dir/tests.log
qemu_args+=(-monitor none -serial "file:$console" -serial stdio)
start=$(date +%s)

n=0
fails=0
tap() {	# tap ok|fail|skip DESCRIPTION [REASON]
	n=$((n + 1))
	case $1 in
	ok) echo "ok $n $2" ;;
	skip) echo "ok $n $2 # SKIP $3" ;;
	*) echo "not ok $n $2"; fails=$((fails + 1)) ;;
	esac
}

if [ "$mode" = tests ]; then
	echo "# vm: kernel $kernel, module ${ko:-none}, tests: ${ordered[*]}"
	if [ -n "$ko_problem" ]; then
		tap fail "vm: plkv.ko for $kver: $ko_problem"
	fi
fi

cur=
declare -A ran=()
seen_done=0
qemu_rc=
in_dmesg=0
cmd_rc=
: >"$run_dir/dmesg.log"

close_prog() {	# close_prog RC [WHY]
	local rc=$1 why=${2:-}
	if [ -n "$skip_all" ] && [ "$count" -eq 0 ]; then
		tap skip "vm/$cur" "$skip_all"
	elif [ -z "$plan" ]; then
		tap fail "vm/$cur: no TAP plan"
	elif [ "$plan" -ne "$count" ]; then
		tap fail "vm/$cur: planned $plan tests, reported $count"
	fi
	if [ -n "$why" ]; then
		tap fail "vm/$cur: $why"
	elif [ "$rc" -eq 137 ]; then
		tap fail "vm/$cur: killed (per-program limit ${PLKV_VM_TEST_TIMEOUT:-180} s?)"
	elif [ "$rc" -ne 0 ] && [ "$prog_fails" -eq 0 ]; then
		tap fail "vm/$cur: exit status $rc"
	fi
	ran[$cur]=1
	cur=
}

prog_start=0
prog_line() {
	local line=$1 rest
	if [ "$mode" = cmd ]; then
		printf '%s\n' "$line"
		return
	fi
	if [[ $line =~ ^(not\ )?ok([[:space:]]+[0-9]+)?([[:space:]]+(.*))?$ ]]; then
		rest=${BASH_REMATCH[4]}
		count=$((count + 1))
		if [ -n "${BASH_REMATCH[1]}" ]; then
			prog_fails=$((prog_fails + 1))
			n=$((n + 1)); fails=$((fails + 1))
			echo "not ok $n vm/$cur: $rest"
		else
			n=$((n + 1))
			echo "ok $n vm/$cur: $rest"
		fi
	elif [[ $line =~ ^1\.\.([0-9]+)(.*)$ ]]; then
		plan=${BASH_REMATCH[1]}
		if [ "$plan" -eq 0 ] && [[ ${BASH_REMATCH[2]} =~ \#[[:space:]]*[Ss][Kk][Ii][Pp][[:space:]]*(.*)$ ]]; then
			skip_all=${BASH_REMATCH[1]:-skipped}
		fi
		echo "# vm/$cur: $line"
	else
		echo "# vm/$cur: $line"
	fi
}

{
	timeout -k 10 "$vm_timeout" "$qemu" "${qemu_args[@]}" </dev/null 2>&1
	echo "@@plkv-host qemu-rc=$?"
} | tee "$stream" | while IFS= read -r line; do
	line=${line%$'\r'}
	if [ "$in_dmesg" = 1 ]; then
		if [ "$line" = "@@plkv-vm dmesg-end" ]; then
			in_dmesg=0
		else
			printf '%s\n' "$line" >>"$run_dir/dmesg.log"
		fi
		continue
	fi
	case $line in
	"@@plkv-host qemu-rc="*)
		qemu_rc=${line#*=} ;;
	"@@plkv-vm start "*)
		[ "$mode" = tests ] && echo "# vm: ${line#@@plkv-vm } ($(($(date +%s) - start)) s after start)" ;;
	"@@plkv-vm insmod "*)
		r=${line#@@plkv-vm insmod }
		[ "$mode" = tests ] || continue
		if [ "$r" = none ]; then
			tap skip "vm: insmod plkv.ko" "${ko_skip:-${ko_problem:-no module}}"
		elif [ "$r" = rc=0 ]; then
			tap ok "vm: insmod plkv.ko"
		else
			tap fail "vm: insmod plkv.ko ($r)"
		fi ;;
	"@@plkv-vm begin "*)
		[ -n "$cur" ] && close_prog 1 "no end marker"
		cur=${line#@@plkv-vm begin }
		prog_start=$(date +%s)
		plan='' count=0 prog_fails=0 skip_all='' ;;
	"@@plkv-vm end "*)
		r=${line##*rc=}
		if [ -z "$cur" ]; then
			echo "# vm: stray marker: $line"
		elif [ "$mode" = cmd ]; then
			cmd_rc=$r; cur=
		else
			echo "# vm/$cur: took $(($(date +%s) - prog_start)) s"
			close_prog "$r"
		fi ;;
	"@@plkv-vm kmemleak "*)
		r=${line#@@plkv-vm kmemleak }
		[ "$mode" = tests ] || continue
		case $r in
		none) tap skip "vm: kmemleak" "the kernel has no kmemleak (CONFIG_DEBUG_KMEMLEAK)" ;;
		0) tap ok "vm: kmemleak: no leaks suspected" ;;
		*) tap fail "vm: kmemleak: $r leaks suspected (see $build/dmesg.log)" ;;
		esac ;;
	"@@plkv-vm dmesg-begin")
		in_dmesg=1 ;;
	"@@plkv-vm done")
		seen_done=1 ;;
	*)
		if [ -n "$cur" ]; then
			prog_line "$line"
		elif [ -n "$line" ]; then
			echo "# vm: $line"
		fi ;;
	esac
done

# Keep the logs of the latest run where the documentation says they are.
cp "$console" "$build/console.log" 2>/dev/null
cp "$stream" "$build/tests.log" 2>/dev/null
cp "$run_dir/dmesg.log" "$build/dmesg.log" 2>/dev/null
elapsed=$(($(date +%s) - start))

# Kernel output as TAP comments: no CR, no escape sequences, every line
# ended (a console log often stops mid-line).
as_comment() {
	tr -d '\r' | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1b[()][0-9A-Za-z]//g; s/\x1bc//g' |
		awk '{ print "#   " $0 }'
}

console_tail() {
	echo "# last lines of the kernel console ($build/console.log):"
	tail -n 25 "$console" 2>/dev/null | as_comment
}

if [ "$mode" = cmd ]; then
	if [ "$seen_done" != 1 ] || [ -z "$cmd_rc" ]; then
		echo "$0: the VM did not finish the command (qemu status ${qemu_rc:-?}, $elapsed s)" >&2
		console_tail >&2
		exit 1
	fi
	exit "$cmd_rc"
fi

[ -n "$cur" ] && close_prog 1 "no end marker: the VM stopped inside it"
if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
	tap fail "vm: timed out after $vm_timeout s"
	console_tail
elif [ "${qemu_rc:-1}" != 0 ]; then
	tap fail "vm: qemu exited with status ${qemu_rc:-unknown}"
	console_tail
fi
for t in "${ordered[@]}"; do
	[ -n "${ran[$t]:-}" ] || tap fail "vm/$t: did not run"
done
if [ "$seen_done" != 1 ]; then
	tap fail "vm: the run did not complete (no done marker)"
	[ "$qemu_rc" = 0 ] && console_tail
fi

# The kernel log, from the console and from the dmesg dump.
bad='WARNING:|BUG:|Oops|Call Trace|Kernel panic|general protection fault|UBSAN:|KASAN:|kmemleak: [0-9]+ new suspected|blocked for more than|detected stall|soft lockup|hard LOCKUP|list_(add|del) corruption|refcount_t:'
found=$(cat "$console" "$run_dir/dmesg.log" 2>/dev/null | tr -d '\r' |
	grep -E "$bad" | sed 's/^\[ *[0-9.]*\] //' | sort -u)
if [ -n "$found" ]; then
	echo "# kernel log problems (full logs: $build/console.log, $build/dmesg.log):"
	printf '%s\n' "$found" | head -n 20 | as_comment
	echo "# in context:"
	for f in "$run_dir/dmesg.log" "$console"; do
		if grep -qE "$bad" "$f" 2>/dev/null; then
			grep -E -B 3 -A 15 "$bad" "$f" | head -n 60 | as_comment
			break
		fi
	done
	tap fail "vm: kernel log free of WARNING/BUG/Oops/Call Trace"
elif [ "$seen_done" = 1 ] && [ ! -s "$run_dir/dmesg.log" ]; then
	tap fail "vm: kernel log dump (dmesg) missing"
else
	tap ok "vm: kernel log free of WARNING/BUG/Oops/Call Trace"
fi
echo "# vm: run took $elapsed s; logs in $build/{tests,console,dmesg}.log"
echo "1..$n"
[ "$fails" -eq 0 ]
