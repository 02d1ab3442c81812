#!/bin/bash
# SPDX-License-Identifier: MIT
# virtio benchmark: mica against QEMU (microvm with PCIe), guest-side
# throughput and IOPS of virtio-blk and virtio-net, same kernel, same
# initramfs, same disk image, same nested host, in one run.
#
#   bench/virtio-nested.sh [--reps N] [--blk-secs S] [--net-bytes SIZE]
#                          [--rows ROW,ROW...]   (defaults 6, 3, 4M, all)
#
# In the nested KVM host of tests/nested/ (or directly on a host with
# hardware KVM), mica and QEMU alternately boot Debian's cloud kernel,
# 1 vCPU, 512 MiB, with one virtio-blk disk (a raw 256 MiB image in L1's
# tmpfs, cache=writeback), one virtio-net on slirp and one on a tap device.
# One L1 boot per repetition, each with one boot of each VMM (who goes first
# alternates; the second often measures better, so N should be even): the
# emulated L1 now and then stalls for good under this load (README of
# tests/nested), and then only that repetition is lost.
# In each boot the guest (bench/virtio-nested-guest.sh) measures:
#   blk  sequential 1 MiB reads and writes (MB/s) and random 4 KiB reads and
#        writes (IOPS), O_DIRECT on the raw device, one request in flight
#        (tests/tools/blkbench.c), S seconds each
#   net  bulk TCP of SIZE bytes, guest -> L1 (tx) and L1 -> guest (rx), over
#        slirp and over the tap (tests/tools/tcpxfer.c; the time runs until
#        the receiver has everything)
# --rows measures only the rows named (blk-read-1M, blk-write-1M,
# blk-randread-4K, blk-randwrite-4K, net-user-tx, net-user-rx, net-tap-tx,
# net-tap-rx): a quicker run to iterate on one row.
# Reports the median of the N boots per VMM and mica/QEMU (above 1: mica is
# faster); the table also goes to build/bench/virtio-nested.txt. QEMU runs
# without vhost-net (L1 does not load it): both VMMs move packets in
# userspace.
set -euo pipefail
. "$(dirname "$0")/../tests/nested/lib.sh"

reps=6 blk_secs=3 net_bytes=4M rows_only=
while [ $# -gt 0 ]; do
	case "$1" in
	--reps)
		reps=${2:-}
		shift 2
		;;
	--blk-secs)
		blk_secs=${2:-}
		shift 2
		;;
	--net-bytes)
		net_bytes=${2:-}
		shift 2
		;;
	--rows)
		rows_only=${2:-}
		shift 2
		;;
	-h | --help)
		nested_usage
		exit 0
		;;
	*) nested_die "unknown argument '$1' (see --help)" ;;
	esac
done
case "$reps" in "" | *[!0-9]* | 0) nested_die "--reps wants a positive number" ;; esac
case "$blk_secs" in "" | *[!0-9]* | 0) nested_die "--blk-secs wants a positive number" ;; esac
case "$net_bytes" in "" | *[!0-9KMG]*) nested_die "--net-bytes wants a size like 4M" ;; esac
case "$rows_only" in *[!a-zA-Z0-9,-]*) nested_die "--rows wants names like net-user-tx,blk-randwrite-4K" ;; esac
[ -x "$MICA_ROOT/build/mica" ] || nested_die "build/mica missing: build it with make"

outdir="$MICA_ROOT/build/bench"
mkdir -p "$outdir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$MICA_ROOT/bench/virtio-nested-guest.sh" "$work/"
where=$(nested_where)
start=$EPOCHREALTIME
: >"$work/out"
lost=0
for ((r = 1; r <= reps; r++)); do
	order="mica qemu"
	((r % 2)) || order="qemu mica"
	printf 'REP_FROM=%s\nREP_TO=%s\nORDER="%s"\nBLK_SECS=%s\nNET_BYTES=%s\nROWS=%s\n' \
		"$r" "$r" "$order" "$blk_secs" "$net_bytes" "$rows_only" >"$work/bench.conf"
	nested_run_logged "$work/out" --timeout 400 --with-qemu "$MICA_ROOT/bench/virtio-nested-l1.sh" \
		"$work/bench.conf" "$work/virtio-nested-guest.sh"
	if [ "$NESTED_RC" != 0 ]; then
		echo "BENCH-LOST rep=$r: the nested run ended with status $NESTED_RC (124 = timeout, 125 = L1 stopped early)" |
			tee -a "$work/out"
		lost=$((lost + 1))
	fi
done
[ "$lost" -lt "$reps" ] || nested_die "every repetition failed"

# values VMM ROW: the measurements of ROW under VMM, one per line.
values() {
	grep -a "^BENCH vmm=$1 " "$work/out" | grep -a " name=$2 " |
		sed -n 's/.* value=\([0-9.]*\) .*/\1/p'
}
median() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# boots VMM: how many boots of VMM reported measurements.
boots() { grep -a "^BENCH vmm=$1 " "$work/out" | sed -n 's/.* rep=\([0-9]*\) .*/\1/p' | sort -u | wc -l; }
best() { sort -n | tail -n 1 | grep . || echo -; }
ratio() {
	if [ "$1" = - ] || [ "$2" = - ] || [ "$2" = 0 ] || [ "$2" = 0.0 ]; then
		echo -
	else
		awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
	fi
}

rows="blk-read-1M:MB/s:seq read 1 MiB
blk-write-1M:MB/s:seq write 1 MiB
blk-randread-4K:IOPS:rand read 4 KiB
blk-randwrite-4K:IOPS:rand write 4 KiB
net-user-tx:Mbit/s:TCP slirp guest->host
net-user-rx:Mbit/s:TCP slirp host->guest
net-tap-tx:Mbit/s:TCP tap guest->host
net-tap-rx:Mbit/s:TCP tap host->guest"
{
	echo "virtio throughput, mica vs QEMU microvm (pcie=on), nested KVM ($where), $(date -u +%Y-%m-%d)"
	echo "kernel: Debian cloud $(cat "$KERNELS_DIR/cloud/version") with its virtio modules, 1 vCPU, 512 MiB;"
	echo "blk: raw 256 MiB image in L1 tmpfs, O_DIRECT in the guest, QD1, ${blk_secs} s per row;"
	echo "net: $net_bytes per transfer; $reps boots per VMM, alternating, one L1 boot per pair;"
	[ -z "$rows_only" ] || echo "rows: only $rows_only"
	echo "median (best) of the boots; $lost of $reps repetitions lost to a stalled L1;"
	echo "boots measured: $(boots mica) mica, $(boots qemu) QEMU"
	echo
	printf '| %-24s | %-6s | %16s | %16s | %9s |\n' row unit mica QEMU mica/QEMU
	printf '|%s|%s|%s|%s|%s|\n' -------------------------- -------- ------------------ ------------------ -----------
	while IFS=: read -r row unit label; do
		mm=$(values mica "$row" | median) qm=$(values qemu "$row" | median)
		mb=$(values mica "$row" | best) qb=$(values qemu "$row" | best)
		printf '| %-24s | %-6s | %16s | %16s | %9s |\n' "$label" "$unit" "$mm ($mb)" "$qm ($qb)" "$(ratio "$mm" "$qm")"
	done <<<"$rows"
	echo
	echo "per boot:"
	grep -a '^BENCH vmm=' "$work/out" | sed 's/^BENCH /  /'
	grep -a -A 15 '^BENCH-ERROR' "$work/out" | sed 's/^/  /' || true
	grep -a '^BENCH-LOST' "$work/out" | sed 's/^/  /' || true
	echo
	grep -a '^BENCH-CMD' "$work/out" | sed 's/^BENCH-CMD /  /'
} >"$outdir/virtio-nested.txt"
echo
cat "$outdir/virtio-nested.txt"
echo "(written to build/bench/virtio-nested.txt; the whole run took $(nested_elapsed "$start")s)"
