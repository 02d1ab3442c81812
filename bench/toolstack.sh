#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Toolstack startup benchmark on this host's /dev/kvm (issue 4): micad and
# the mica CLI with the tiny "counter" guest (tests/guest/counter.c, 16 MiB,
# 1 vCPU), release builds. Measures, not asserts:
#   - `mica create` latency: the CLI's start to its exit (config parsed,
#     POSTed, micad validated, stored and spawned the VMM), median of REPS
#     sequential creates;
#   - create to init: the CLI's start to the guest's first console line
#     ("counter 0"), seen through the domain's console socket (polled: the
#     socket replays its history, so a line printed before the poll counts
#     at the poll; an upper bound), median of the same creates;
#   - VMs started per second: COUNT domains created as fast as possible
#     (PAR CLIs at once), COUNT divided by the wall time from the first
#     create to the last domain's first console line, and the best
#     one-second window; compared with Firecracker's published 5 microVMs
#     per host core per second (x the cores here).
#
#   bench/toolstack.sh [--reps N] [--count N] [--par N]   (5, 20, 4)
#
# Writes the table to build/bench/toolstack.txt; every domain is destroyed
# and micad stopped at the end (an EXIT trap kills whatever this run
# started, found by its unique temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=5 COUNT=20 PAR=4
while [ $# -gt 0 ]; do
	case "$1" in
	--reps) REPS=$2; shift 2 ;;
	--count) COUNT=$2; shift 2 ;;
	--par) PAR=$2; shift 2 ;;
	*) echo "bench/toolstack.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
out=build/bench
mkdir -p "$out"

scripts/install-deps
make -s -j2 build/mica build/micad guests
gcc -O2 -D_GNU_SOURCE -o "$out/unixsock" tests/tools/unixsock.c
UNIXSOCK=$PWD/$out/unixsock
MICA=$PWD/build/mica
KERNEL=$PWD/build/guests/counter.elf

TMP=$(mktemp -d /tmp/mica-tsb.XXXXXX)
export MICA_SOCKET=$TMP/micad.sock
MICAD_PID=
our_pids() {
	local d
	for d in /proc/[0-9]*; do
		[ "${d#/proc/}" = "$$" ] && continue
		tr '\0' ' ' 2>/dev/null <"$d/cmdline" | grep -qF "$TMP" && echo "${d#/proc/}"
	done
	return 0
}
cleanup() {
	local p
	for p in $(our_pids); do kill -TERM "$p" 2>/dev/null || true; done
	sleep 1
	for p in $(our_pids); do kill -KILL "$p" 2>/dev/null || true; done
	[ -n "$MICAD_PID" ] && wait "$MICAD_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

build/micad --socket "$MICA_SOCKET" --state-dir "$TMP/state" --run-dir "$TMP/run" \
	--mica "$MICA" --foreground </dev/null >"$out/toolstack-micad.log" 2>&1 &
MICAD_PID=$!
for ((i = 0; i < 100; i++)); do
	[ -S "$MICA_SOCKET" ] && "$MICA" list >/dev/null 2>&1 && break
	sleep 0.1
done
"$MICA" list >/dev/null || { echo "micad did not start (see $out/toolstack-micad.log)" >&2; exit 1; }

cfg() {
	mkdir -p "$TMP/cfg"
	printf 'name = "%s"\nkernel = "%s"\nmemory = 16\nvcpus = 1\ncmdline = "period=1000000"\n' \
		"$1" "$KERNEL" >"$TMP/cfg/$1.cfg"
	echo "$TMP/cfg/$1.cfg"
}

# one NAME: create NAME, wait for its first console line; prints
# "NAME start created seen" (epoch seconds, microseconds).
one() {
	local name=$1 f t0 t1 t2 sock i
	f=$(cfg "$name")
	t0=$EPOCHREALTIME
	"$MICA" create "$f" >/dev/null 2>"$TMP/$name.err" || { echo "$name $t0 - -"; return; }
	t1=$EPOCHREALTIME
	sock=$TMP/run/$name.console
	for ((i = 0; i < 3000; i++)); do
		if [ -S "$sock" ] && "$UNIXSOCK" -t 20000 -u "counter 0" "$sock" </dev/null >/dev/null 2>&1; then
			t2=$EPOCHREALTIME
			echo "$name $t0 $t1 $t2"
			return
		fi
		sleep 0.01
	done
	echo "$name $t0 $t1 -"
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "n/a"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
destroy_all() {
	"$MICA" list --json | jq -r '(.domains? // .)[].name' | while read -r n; do
		"$MICA" destroy "$n" >/dev/null 2>&1 || true
	done
}

# Sequential: latency.
: >"$TMP/seq"
for ((r = 0; r < REPS; r++)); do
	one "seq$r" >>"$TMP/seq"
done
create_ms=$(awk '$3 != "-" { printf "%.1f\n", ($3 - $2) * 1000 }' "$TMP/seq" | median)
init_ms=$(awk '$4 != "-" { printf "%.1f\n", ($4 - $2) * 1000 }' "$TMP/seq" | median)
create_max=$(awk '$3 != "-" { printf "%.1f\n", ($3 - $2) * 1000 }' "$TMP/seq" | sort -n | tail -n 1)
destroy_all

# Burst: COUNT domains, PAR CLIs at once.
export -f one cfg
export TMP MICA KERNEL UNIXSOCK
t0=$EPOCHREALTIME
seq 0 $((COUNT - 1)) | xargs -P "$PAR" -I{} bash -c 'one burst{}' >"$TMP/burst"
reached=$(awk '$4 != "-"' "$TMP/burst" | wc -l)
read -r wall rate best < <(awk -v t0="$t0" '
	$4 != "-" { n++; t = $4 - t0; if (t > last) last = t; s[n] = t }
	END {
		if (n == 0) { print "0 0 0"; exit }
		best = 0
		for (i = 1; i <= n; i++) { c = 0; for (j = 1; j <= n; j++) if (s[j] >= s[i] && s[j] < s[i] + 1) c++; if (c > best) best = c }
		printf "%.2f %.2f %d\n", last, n / last, best
	}' "$TMP/burst")
# RSS of micad and of one VMM with every burst domain running.
micad_rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$MICAD_PID/status")
vmm_rss=$("$MICA" list --json | jq -r '(.domains? // .)[].pid' | while read -r p; do
	awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null || true
done | median)
destroy_all

cores=$(nproc)
fc=$((5 * cores))
ratio=$(awk -v a="$rate" -v b="$fc" 'BEGIN { printf "%.2f", a / b }')
{
	echo "# bench/toolstack.sh, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r)"
	echo "# counter guest, 16 MiB, 1 vCPU; release build/mica + build/micad"
	echo
	echo "| metric | value |"
	echo "| --- | --- |"
	echo "| \`mica create\` returns, median of $REPS (max) | ${create_ms} ms (${create_max} ms) |"
	echo "| create to first console line, median of $REPS | ${init_ms} ms |"
	echo "| burst of $COUNT creates ($PAR CLIs at once): reached first line | $reached of $COUNT in ${wall} s |"
	echo "| VMs started per second (overall) | ${rate} |"
	echo "| best one-second window | ${best} VMs |"
	echo "| Firecracker's published rate, 5 per core per s x $cores cores | $fc |"
	echo "| mica / Firecracker | ${ratio} |"
	echo "| micad RSS with $COUNT domains | ${micad_rss} KiB |"
	echo "| VMM RSS, median | ${vmm_rss} KiB |"
	echo
	echo "sequential (name start created seen):"
	cat "$TMP/seq"
	echo "burst:"
	cat "$TMP/burst"
} | tee "$out/toolstack.txt"
