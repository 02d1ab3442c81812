#!/bin/sh
# SPDX-License-Identifier: MIT
# The part of bench/toolstack-nested.sh that runs where stock kernels boot
# (inside the L1 nested host, or on a host with hardware KVM). The driver
# passes tsbench.conf (REPS, COUNT, MEM, PLAIN) and ts/ (micad, mica, the
# static unixsock and createwait, and the libraries in ts/lib).
#
# micad runs with its state, run dir and socket under $TMPDIR. Every domain
# is Debian's cloud kernel with the L2 initramfs and its virtio layer (the
# init loads the virtio modules, prints MICA-L2-INIT, then sleeps:
# mica.test=hang), MEM MiB, 1 vCPU, no devices, from an xl config file.
#   seq     REPS domains one after the other: `mica create` to its exit, and
#           to MICA-L2-INIT on the domain's console socket (createwait);
#           each destroyed (timed) before the next
#   burst   COUNT domains created at once (COUNT CLIs in parallel), each
#           timed the same way from a common start
#   plain   PLAIN boots each of `mica run` and QEMU (when $QEMU is set)
#           with the same kernel, initramfs, command line, memory and vCPU,
#           no toolstack: VMM start to MICA-L2-INIT (l2_boot / boottime)
# One "BENCH kind=..." line per measurement (microseconds, CLOCK_MONOTONIC).
. "$NESTED_LIB"
REPS=3 COUNT=4 MEM=256 PLAIN=2
[ -f "$EXTRA/tsbench.conf" ] && . "$EXTRA/tsbench.conf"
TS=$EXTRA/ts
LD_LIBRARY_PATH=$TS/lib
export LD_LIBRARY_PATH
M=$TS/bin/mica
US=$TS/bin/unixsock
CW=$TS/bin/createwait

[ -c /dev/kvm ] || {
	echo "BENCH-ERROR: /dev/kvm missing ($NESTED_WHERE)"
	exit 1
}
for b in micad mica unixsock createwait; do
	[ -x "$TS/bin/$b" ] || {
		echo "BENCH-ERROR: no $b in $TS/bin"
		exit 1
	}
done
[ -n "${L2_VIRTIO_LAYER:-}" ] && [ -f "$L2_VIRTIO_LAYER" ] || {
	echo "BENCH-ERROR: no L2 virtio layer"
	exit 1
}

work=$TMPDIR/tsbench
rm -rf "$work"
mkdir -p "$work/state" "$work/run" "$work/cfg"
MICA_SOCKET=$work/micad.sock
export MICA_SOCKET
MICAD_PID=

# Everything started here names $work on its command line.
finish() {
	for d in /proc/[0-9]*; do
		case "${d#/proc/}" in "$$" | "$MICAD_PID") continue ;; esac
		if tr '\0' ' ' 2>/dev/null <"$d/cmdline" | grep -qF "$work/run/"; then
			kill -9 "${d#/proc/}" 2>/dev/null
		fi
	done
	[ -n "$MICAD_PID" ] && kill "$MICAD_PID" 2>/dev/null
	sleep 1
	[ -n "$MICAD_PID" ] && kill -9 "$MICAD_PID" 2>/dev/null
	exit "${1:-0}"
}
trap 'finish 1' INT TERM

initrd=$work/initrd.cpio
cat "$L2_INITRD" "$L2_VIRTIO_LAYER" >"$initrd"
CMDLINE="console=ttyS0 quiet panic=-1 mica.test=hang"

cfg() {
	cat >"$work/cfg/$1.cfg" <<CFG
# bench/toolstack-nested-l1.sh domain (xl.cfg syntax)
name = "$1"
kernel = "$L2_CLOUD_BZ"
ramdisk = "$initrd"
memory = $MEM
vcpus = 1
cmdline = "$CMDLINE"
CFG
	echo "$work/cfg/$1.cfg"
}

"$TS/bin/micad" --socket "$MICA_SOCKET" --state-dir "$work/state" \
	--run-dir "$work/run" --mica "$M" --foreground </dev/null \
	>"$work/micad.log" 2>&1 &
MICAD_PID=$!
i=0
while [ $i -lt 150 ]; do
	[ -S "$MICA_SOCKET" ] && "$M" list >/dev/null 2>&1 && break
	sleep 0.2
	i=$((i + 1))
done
"$M" list >/dev/null 2>&1 || {
	echo "BENCH-ERROR: micad did not answer"
	tail -n 5 "$work/micad.log" | sed 's/^/  | /'
	finish 1
}
echo "BENCH-INFO where=$NESTED_WHERE cpus=$(grep -c ^processor /proc/cpuinfo) mem_kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) l2_kernel=$(basename "$(dirname "$L2_CLOUD_BZ")")"
echo "BENCH-CMD create: mica create CFG, CFG = kernel $L2_CLOUD_BZ, ramdisk L2 initramfs + virtio layer, memory = $MEM, vcpus = 1, cmdline = \"$CMDLINE\""

# one KIND NAME: create NAME and wait for its init; one BENCH line.
one() {
	f=$(cfg "$2")
	r=$("$CW" -t 400000 -o "$work/$2.con" -m MICA-L2-INIT -s "$work/run/$2.console" \
		-- "$M" create "$f" 2>"$work/$2.err")
	# shellcheck disable=SC2086 # "T0 T1 T2 STATUS"
	set -- "$1" "$2" $r
	# The guest's uptime at init (its kernel's share): the INFO line that
	# follows, from the console history.
	up=-1
	if [ "$5" != - ] && [ -n "$5" ]; then
		"$US" -t 5000 -u " packages=" "$work/run/$2.console" </dev/null >"$work/$2.info" 2>/dev/null
		up=$(tr -d '\r' <"$work/$2.info" | sed -n 's/.*MICA-L2-INFO.* uptime=\([0-9.]*\).*/\1/p' | head -n 1)
	fi
	echo "BENCH kind=$1 name=$2 t0=$3 t1=$4 t2=$5 status=$6 uptime=${up:--1}"
	if [ "$5" = - ] || [ -z "$5" ]; then
		echo "BENCH-FAIL $2: $(head -n 2 "$work/$2.err" | tr '\n' ' ')"
		tr -d '\r' <"$work/$2.con" 2>/dev/null | tail -n 10 | sed 's/^/  | /'
	fi
}

i=1
while [ "$i" -le "$REPS" ]; do
	one seq "seq$i"
	a=$("$CW" now)
	timeout 120 "$M" destroy "seq$i" >/dev/null 2>"$work/destroy.err"
	rc=$?
	b=$("$CW" now)
	echo "BENCH kind=destroy name=seq$i us=$((b - a)) status=$rc"
	i=$((i + 1))
done

echo "BENCH kind=burst-start t0=$("$CW" now)"
i=1 pids=
while [ "$i" -le "$COUNT" ]; do
	one burst "burst$i" >"$work/burst$i.line" &
	pids="$pids $!"
	i=$((i + 1))
done
# Not a bare wait: micad is a child of this shell too.
# shellcheck disable=SC2086
wait $pids
cat "$work"/burst*.line
timeout 60 "$M" list >"$work/list.out" 2>&1
echo "BENCH kind=burst-running n=$(grep -c 'running' "$work/list.out")"
i=1
while [ "$i" -le "$COUNT" ]; do
	timeout 120 "$M" destroy "burst$i" >/dev/null 2>&1
	i=$((i + 1))
done

# Plain VMM start to init, no toolstack (who goes first alternates).
if [ "$PLAIN" -gt 0 ]; then
	vmms=mica
	[ -n "${QEMU:-}" ] && [ -x "$QEMU" ] && vmms="mica qemu"
	i=1
	while [ "$i" -le "$PLAIN" ]; do
		order=$vmms
		[ $((i % 2)) = 0 ] && [ "$vmms" = "mica qemu" ] && order="qemu mica"
		for v in $order; do
			l2_boot "plain-$v-$i" --vmm "$v" --cpus 1 --memory "${MEM}M" --initrd "$initrd" \
				--cmdline "$CMDLINE" --kill-at MICA-L2-INIT --timeout 300 "$L2_CLOUD_BZ"
			[ "$i" = 1 ] && echo "BENCH-CMD $v: $L2_CMD"
			echo "BENCH kind=plain vmm=$v ms=$L2_MARKER_MS"
			[ "$L2_MARKER_MS" -ge 0 ] || tr -d '\r' <"$L2_LOG" | tail -n 10 | sed 's/^/  | /'
		done
		i=$((i + 1))
	done
fi
finish 0
