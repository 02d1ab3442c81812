#!/bin/sh
# SPDX-License-Identifier: MIT
# Tier-3 toolstack test, the part that runs where L2 guests can boot
# (inside the L1 nested host, or on a host with hardware KVM). Driven by
# tests/integration/toolstack.sh, which passes toolstack.conf (VERBOSE),
# toolstack-guest.sh (the guests' /test.sh) and ts/ (micad, mica, a static
# unixsock, and their libraries in ts/lib).
#
# micad runs with its state, run dir and socket under $TMPDIR; three
# domains (deb1..deb3) of Debian's cloud kernel, 256 MiB, one virtio-blk
# disk each (a raw image whose first bytes name it), are created with
# `mica create` from xl config files, all at once:
#   micad      micad answers on its socket
#   create     the three creates succeed
#   list       `mica list` shows all three running
#   console    each domain's console socket shows its ticks
#   disk       each guest read its own disk's marker through virtio-blk
#   pause      `mica pause deb2`: its ticks stop; state paused
#   unpause    `mica unpause deb2`: they go on
#   destroy    `mica destroy deb3`: not listed, its VMM gone
#   others-run deb1 and deb2 still tick afterwards
# Prints "PASS tier3.toolstack.NAME", "FAIL ...: reason", "SKIP ...".
. "$NESTED_LIB"
L2_TEST_PREFIX=tier3.toolstack
VERBOSE=0
[ -f "$EXTRA/toolstack.conf" ] && . "$EXTRA/toolstack.conf"
ALL="micad create list console disk pause unpause destroy others-run"
TS=$EXTRA/ts
LD_LIBRARY_PATH=$TS/lib
export LD_LIBRARY_PATH
M=$TS/bin/mica
US=$TS/bin/unixsock

skip_all() {
	for t in $ALL; do l2_skip "$t" "$1"; done
	exit 0
}
fail_rest() {
	for t in $ALL; do
		case " $DONE " in *" $t "*) ;; *) l2_fail "$t" "$1" ;; esac
	done
	finish 1
}
DONE=
ok() {
	l2_pass "$1"
	DONE="$DONE $1"
}
bad() {
	l2_fail "$1" "$2"
	DONE="$DONE $1"
}

[ -c /dev/kvm ] || skip_all "/dev/kvm missing ($NESTED_WHERE)"
[ -x "$TS/bin/micad" ] || skip_all "no micad in $TS/bin"

work=$TMPDIR/toolstack
rm -rf "$work"
mkdir -p "$work/state" "$work/run" "$work/cfg"
MICA_SOCKET=$work/micad.sock
export MICA_SOCKET
MICAD_PID=

# Everything started here names $work on its command line.
finish() {
	for n in deb1 deb2 deb3; do
		timeout 30 "$M" destroy "$n" >/dev/null 2>&1
	done
	[ -n "$MICAD_PID" ] && kill "$MICAD_PID" 2>/dev/null
	for d in /proc/[0-9]*; do
		[ "${d#/proc/}" = "$$" ] && continue
		if tr '\0' ' ' 2>/dev/null <"$d/cmdline" | grep -qF "$work"; then
			kill -9 "${d#/proc/}" 2>/dev/null
		fi
	done
	if [ "$VERBOSE" = 1 ]; then
		echo "---- micad log"
		cat "$work/micad.log"
		for n in deb1 deb2 deb3; do
			echo "---- $n console"
			tr -d '\r' <"$work/$n.cap" 2>/dev/null | tail -n 40
		done
	fi
	exit "${1:-0}"
}

initrd=$work/initrd.cpio
l2_virtio_initrd "$EXTRA/toolstack-guest.sh" "$initrd" ||
	fail_rest "could not build the L2 initramfs"

for i in 1 2 3; do
	img=$work/d$i.img
	dd if=/dev/zero of="$img" bs=1M count=16 2>/dev/null
	printf 'MICA-TS-DISK-%s' "$i" | dd of="$img" conv=notrunc 2>/dev/null
	cat >"$work/cfg/deb$i.cfg" <<CFG
# tier-3 toolstack domain $i (xl.cfg syntax)
name = "deb$i"
kernel = "$L2_CLOUD_BZ"
ramdisk = "$initrd"
memory = 256
vcpus = 1
cmdline = "console=ttyS0 quiet panic=-1 mica.test=script"
disk = [ "$img,raw,xvda,rw" ]
on_crash = "preserve"
CFG
done

"$TS/bin/micad" --socket "$MICA_SOCKET" --state-dir "$work/state" \
	--run-dir "$work/run" --mica "$M" --foreground -v </dev/null \
	>"$work/micad.log" 2>&1 &
MICAD_PID=$!
i=0
while [ $i -lt 100 ]; do
	[ -S "$MICA_SOCKET" ] && "$M" list >/dev/null 2>&1 && break
	sleep 0.2
	i=$((i + 1))
done
if "$M" list >/dev/null 2>"$work/list.err"; then
	ok micad
else
	bad micad "micad did not answer: $(head -n 1 "$work/list.err"); log: $(tail -n 2 "$work/micad.log" | tr '\n' ' ')"
	fail_rest "micad is not running"
fi

t0=$(date +%s)
for i in 1 2 3; do
	if ! timeout 120 "$M" create "$work/cfg/deb$i.cfg" >"$work/create$i.out" 2>&1; then
		bad create "mica create deb$i: $(head -n 1 "$work/create$i.out")"
		fail_rest "the domains were not created"
	fi
done
ok create

# Each console: wait for the first tick (the history replays the boot).
for n in deb1 deb2 deb3; do
	"$US" -t 300000 -u "MICA-TS-TICK" "$work/run/$n.console" </dev/null \
		>"$work/$n.cap" 2>&1
done
echo "l2-info: three domains from create to their first ticks: $(($(date +%s) - t0)) s"

timeout 30 "$M" list >"$work/list.out" 2>&1
lbad=
for n in deb1 deb2 deb3; do
	grep -E "(^|[[:space:]])${n}[[:space:]].*running" "$work/list.out" >/dev/null || lbad="$lbad $n"
done
if [ -z "$lbad" ]; then ok list; else bad list "not listed as running:$lbad: $(tr '\n' '|' <"$work/list.out")"; fi

cbad=''
dbad=''
for i in 1 2 3; do
	n=deb$i
	grep -q 'MICA-TS-TICK' "$work/$n.cap" || cbad="$cbad $n"
	grep -q "MICA-TS disk=MICA-TS-DISK-$i" "$work/$n.cap" || dbad="$dbad $n"
done
if [ -z "$cbad" ]; then ok console; else bad console "no ticks on the console of:$cbad"; fi
if [ -z "$dbad" ]; then ok disk; else bad disk "the guest did not read its disk's marker:$dbad"; fi

# tick NAME [SECS]: the last tick on NAME's console after SECS attached.
tick() {
	"$US" -t "${2:-2000}" "$work/run/$1.console" </dev/null >"$work/$1.tick" 2>/dev/null
	cat "$work/$1.tick" >>"$work/$1.cap"
	t=$(tr -d '\r' <"$work/$1.tick" | grep -o 'MICA-TS-TICK [0-9]*' | tail -n 1 | cut -d ' ' -f 2)
	echo "${t:--1}"
}

if timeout 60 "$M" pause deb2 >"$work/pause.out" 2>&1; then
	tick deb2 1000 >/dev/null
	a=$(tick deb2)
	sleep 3
	b=$(tick deb2)
	timeout 30 "$M" list >"$work/list2.out" 2>&1
	if [ "$a" != "$b" ]; then
		bad pause "deb2 ticked on while paused ($a -> $b)"
	elif ! grep -E "(^|[[:space:]])deb2[[:space:]].*paused" "$work/list2.out" >/dev/null; then
		bad pause "mica list does not show deb2 paused: $(tr '\n' '|' <"$work/list2.out")"
	else
		ok pause
	fi
	if timeout 60 "$M" unpause deb2 >"$work/unpause.out" 2>&1; then
		c=$(tick deb2 4000)
		if [ "$c" -gt "$b" ]; then ok unpause; else bad unpause "deb2's ticks did not go on ($b -> $c)"; fi
	else
		bad unpause "mica unpause deb2: $(head -n 1 "$work/unpause.out")"
	fi
else
	bad pause "mica pause deb2: $(head -n 1 "$work/pause.out")"
	bad unpause "not paused"
fi

# deb3's VMM: the process serving its API socket.
p3=$(for d in /proc/[0-9]*; do
	tr '\0' ' ' 2>/dev/null <"$d/cmdline" | grep -q "run/deb3.api" && echo "${d#/proc/}"
done | head -n 1)
a1=$(tick deb1 1000)
a2=$(tick deb2 1000)
if timeout 60 "$M" destroy deb3 >"$work/destroy.out" 2>&1; then
	sleep 1
	timeout 30 "$M" list >"$work/list3.out" 2>&1
	if grep -q deb3 "$work/list3.out"; then
		bad destroy "deb3 still listed: $(tr '\n' '|' <"$work/list3.out")"
	elif [ -n "$p3" ] && [ -d "/proc/$p3" ] && ! grep -q '^State:.*Z' "/proc/$p3/status"; then
		bad destroy "deb3's VMM (pid $p3) still runs"
	else
		ok destroy
	fi
else
	bad destroy "mica destroy deb3: $(head -n 1 "$work/destroy.out")"
fi
sleep 2
b1=$(tick deb1 2000)
b2=$(tick deb2 2000)
if [ "$b1" -gt "$a1" ] && [ "$b2" -gt "$a2" ]; then
	ok others-run
else
	bad others-run "after destroying deb3: deb1 $a1 -> $b1, deb2 $a2 -> $b2"
fi
finish 0
