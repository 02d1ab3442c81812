#!/bin/bash
# SPDX-License-Identifier: MIT
# Toolstack startup benchmark with stock kernels (issue 4), the nested half
# of bench/toolstack.sh: micad and the mica CLI start domains of Debian's
# cloud kernel with the small L2 initramfs and its virtio layer, 1 vCPU,
# MEM MiB, in the nested KVM host of tests/nested/ (one L1 boot; or directly
# on a host with hardware KVM, where the same script runs unchanged).
# Measures, not asserts:
#   - `mica create` latency: the CLI's start to its exit, median of REPS
#     sequential creates;
#   - create to init: the CLI's start to the guest init's MICA-L2-INIT on
#     the domain's console socket (one connection, the socket replays its
#     history), median of the same creates; and the guest kernel's own
#     uptime at that point;
#   - VMs started per second: COUNT domains created at once (COUNT CLIs in
#     parallel), COUNT divided by the time from the common start to the
#     last domain's MICA-L2-INIT, per L1 core, against Firecracker's
#     published 5 microVMs per host core per second;
#   - plain VMM start to init, no toolstack: `mica run` and (unless
#     --plain 0) QEMU microvm with the same kernel, initramfs and command
#     line, PLAIN boots each.
# In the nested host the L2 kernels run on a KVM that itself runs under
# QEMU's TCG emulator: the figures are dominated by the emulator, not by
# mica (see bench/README.md).
#
#   bench/toolstack-nested.sh [--reps N] [--count N] [--memory MIB] [--plain N]
#                             (defaults 3, 4, 256, 2)
#
# Writes the table to build/bench/toolstack-nested.txt.
set -euo pipefail
. "$(dirname "$0")/../tests/nested/lib.sh"

reps=3 count=4 mem=256 plain=2
while [ $# -gt 0 ]; do
	case "$1" in
	--reps)
		reps=${2:-}
		shift 2
		;;
	--count)
		count=${2:-}
		shift 2
		;;
	--memory)
		mem=${2:-}
		shift 2
		;;
	--plain)
		plain=${2:-}
		shift 2
		;;
	-h | --help)
		nested_usage
		exit 0
		;;
	*) nested_die "unknown argument '$1' (see --help)" ;;
	esac
done
for v in "$reps" "$count" "$mem" "$plain"; do
	case "$v" in "" | *[!0-9]*) nested_die "--reps, --count, --memory and --plain want numbers" ;; esac
done
[ "$reps" -ge 1 ] && [ "$count" -ge 1 ] || nested_die "--reps and --count want at least 1"
# L1 has 6 GiB (run-l1's default); guest RAM is allocated lazily, but keep
# the burst within it.
[ $((count * mem)) -le 4096 ] || nested_die "--count x --memory above 4096 MiB does not fit in L1"

make -s -j2 -C "$MICA_ROOT" build/mica build/micad
outdir=$MICA_ROOT/build/bench
mkdir -p "$outdir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# /extra/ts as tests/integration/toolstack.sh passes it, plus createwait.
ts=$work/ts
nested_toolstack_bundle "$ts"
cp "$(nested_build_tool "$MICA_ROOT/bench/tools/createwait.c")" "$ts/bin/"
printf 'REPS=%s\nCOUNT=%s\nMEM=%s\nPLAIN=%s\n' "$reps" "$count" "$mem" "$plain" >"$work/tsbench.conf"

where=$(nested_where)
start=$EPOCHREALTIME
qemu_arg=()
[ "$plain" -gt 0 ] && qemu_arg=(--with-qemu)
nested_run_logged "$work/out" --timeout 1800 "${qemu_arg[@]}" \
	"$MICA_ROOT/bench/toolstack-nested-l1.sh" "$work/tsbench.conf" "$ts"
[ "$NESTED_RC" = 0 ] || nested_die "the nested run ended with status $NESTED_RC (124 = timeout, 125 = L1 stopped early)"
grep -a -q '^BENCH kind=seq ' "$work/out" || nested_die "no measurements"

B=$work/bench
tr -d '\r' <"$work/out" | grep -a '^BENCH ' >"$B"
# field KEY: the KEY=value of each line on stdin.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
median() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
seq_ok() { grep -a '^BENCH kind=seq ' "$B" | grep -v ' t2=- '; }
ms() { awk '{ printf "%.1f\n", $1 / 1000 }'; }
create_ms=$(grep -a '^BENCH kind=seq ' "$B" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } print f["t1"] - f["t0"] }' | ms | median)
create_max=$(grep -a '^BENCH kind=seq ' "$B" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } print f["t1"] - f["t0"] }' | ms | sort -n | tail -n 1)
init_s=$(seq_ok | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } printf "%.2f\n", (f["t2"] - f["t0"]) / 1e6 }' | median)
seq_n=$(seq_ok | wc -l)
seq_up=$(seq_ok | field uptime | median)
destroy_ms=$(grep -a '^BENCH kind=destroy ' "$B" | field us | ms | median)
cpus=$(tr -d '\r' <"$work/out" | grep -a '^BENCH-INFO ' | field cpus | head -n 1)
cpus=${cpus:-1}
bt0=$(grep -a '^BENCH kind=burst-start ' "$B" | field t0 | head -n 1)
read -r reached wall created rate per_core ratio burst_up < <(grep -a '^BENCH kind=burst ' "$B" |
	awk -v t0="$bt0" -v cpus="$cpus" '
	{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	  if (f["t1"] - t0 > c) c = f["t1"] - t0
	  if (f["t2"] == "-") next
	  n++; if (f["t2"] - t0 > last) last = f["t2"] - t0; up += f["uptime"] }
	END {
		if (n == 0) { print "0 - - - - - -"; exit }
		r = n / (last / 1e6)
		printf "%d %.2f %.2f %.3f %.3f %.3f %.2f\n", n, last / 1e6, c / 1e6, r, r / cpus, r / cpus / 5, up / n
	}')
running=$(grep -a '^BENCH kind=burst-running ' "$B" | field n | head -n 1)
plain_m=$(grep -a '^BENCH kind=plain vmm=mica ' "$B" | field ms | awk '$1 >= 0 { printf "%.2f\n", $1 / 1000 }' | median)
plain_q=$(grep -a '^BENCH kind=plain vmm=qemu ' "$B" | field ms | awk '$1 >= 0 { printf "%.2f\n", $1 / 1000 }' | median)
plain_r=-
if [ "$plain_m" != - ] && [ "$plain_q" != - ]; then
	plain_r=$(awk -v a="$plain_m" -v b="$plain_q" 'BEGIN { printf "%.2f", a / b }')
fi

{
	echo "# bench/toolstack-nested.sh, $(date -u +%Y-%m-%dT%H:%MZ), L2 guests on: $where ($cpus L1 CPUs)"
	echo "# Debian cloud kernel $(cat "$KERNELS_DIR/cloud/version"), L2 initramfs + virtio layer, ${mem} MiB, 1 vCPU, no devices;"
	echo "# release build/mica + build/micad; times from CLOCK_MONOTONIC in $where"
	[ "$where" = l1 ] && echo "# L2 kernels boot on L1's KVM, which runs under QEMU's TCG emulator: dominated by the emulator"
	echo
	echo "| metric | value |"
	echo "| --- | --- |"
	echo "| \`mica create\` returns, median of $reps (max) | ${create_ms} ms (${create_max} ms) |"
	echo "| create to guest init, median of $seq_n | ${init_s} s |"
	echo "| of which the guest kernel's uptime at init, median | ${seq_up} s |"
	echo "| \`mica destroy\`, median | ${destroy_ms} ms |"
	echo "| burst of $count creates at once: all created / reached init | ${created} s / $reached of $count in ${wall} s |"
	echo "| VMs started per second (overall) | ${rate} |"
	echo "| per L1 core ($cpus) | ${per_core} |"
	echo "| / Firecracker's 5 per host core per s | ${ratio} |"
	echo "| guest kernel's uptime at init in the burst, mean | ${burst_up} s |"
	echo "| burst domains listed running | ${running:-?} of $count |"
	if [ "$plain" -gt 0 ]; then
		echo "| plain \`mica run\` start to init, median of $plain | ${plain_m} s |"
		echo "| plain QEMU microvm start to init, median of $plain | ${plain_q} s |"
		echo "| plain mica / QEMU | ${plain_r} |"
	fi
	echo
	echo "measurements (microseconds):"
	sed 's/^BENCH /  /' "$B"
	tr -d '\r' <"$work/out" | grep -a -A 10 -E '^BENCH-(FAIL|ERROR)' | sed 's/^/  /' || true
	echo
	tr -d '\r' <"$work/out" | grep -a '^BENCH-CMD' | sed 's/^BENCH-CMD /  /'
} >"$outdir/toolstack-nested.txt"
echo
cat "$outdir/toolstack-nested.txt"
echo "(written to build/bench/toolstack-nested.txt; the whole run took $(nested_elapsed "$start")s)"
