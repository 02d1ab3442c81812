#!/bin/bash
# Boot-time benchmark: mica against QEMU (microvm), same kernel and initramfs.
#
#   bench/boot-nested.sh [--reps N]      (default 5)
#
# In ONE boot of the nested KVM host of tests/nested/ (or directly on a host
# with hardware KVM), mica and QEMU alternately boot Debian's cloud kernel
# (LZ4 bzImage) with the L2 busybox initramfs, 1 vCPU, 512 MiB, command line
# 'console=ttyS0 quiet panic=-1 mica.test=poweroff'. tests/tools/boottime
# measures the wall time from starting the VMM to the MICA-L2-INIT line on
# its console ("init"), and to the VMM's exit after the guest's power-off
# ("total"). Reports medians and the mica/QEMU ratio; the table also goes to
# build/bench/boot-nested.txt.
#
# The QEMU command (rtc=on: with KVM, microvm leaves the CMOS RTC out by
# default and the guest kernel then spends ~14 s probing for it):
#   qemu-system-x86_64 -M microvm,rtc=on -enable-kvm -cpu host -smp 1 -m 512M
#     -nodefaults -no-user-config -nographic -serial stdio
#     -kernel vmlinuz -initrd initramfs -append '...'
set -euo pipefail
. "$(dirname "$0")/../tests/nested/lib.sh"

reps=5
while [ $# -gt 0 ]; do
	case "$1" in
	--reps)
		reps=${2:-}
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
[ -x "$MICA_ROOT/build/mica" ] || nested_die "build/mica missing: build it with make"

outdir="$MICA_ROOT/build/bench"
mkdir -p "$outdir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "REPS=$reps" >"$work/bench.conf"
where=$(nested_where)
start=$EPOCHREALTIME
nested_run_logged "$work/out" --timeout $((300 + reps * 2 * 180)) --with-qemu \
	"$MICA_ROOT/bench/boot-nested-l1.sh" "$work/bench.conf"
[ "$NESTED_RC" = 0 ] || nested_die "the benchmark run failed (status $NESTED_RC; 124 = timeout, 125 = L1 stopped early)"

# median VMM FIELD: the median of FIELD over the successful boots of VMM.
median() {
	grep -a "^BENCH vmm=$1 " "$work/out" | grep -a ' status=0' |
		sed -n "s/.* $2=\([0-9]*\).*/\1/p" | sort -n |
		awk '{ v[NR] = $1 } END {
			if (NR == 0) { print "-"; exit }
			if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
count() { grep -a "^BENCH vmm=$1 " "$work/out" | grep -a -c ' status=0' || true; }
ratio() {
	if [ "$1" = - ] || [ "$2" = - ] || [ "$2" = 0 ]; then
		echo -
	else
		awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
	fi
}
sec() { if [ "$1" = - ]; then echo -; else awk -v a="$1" 'BEGIN { printf "%.2f s", a / 1000 }'; fi; }

mi=$(median mica init_ms) mt=$(median mica total_ms) mu=$(median mica guest_uptime_ms)
qi=$(median qemu init_ms) qt=$(median qemu total_ms) qu=$(median qemu guest_uptime_ms)
{
	echo "Boot time, mica vs QEMU microvm, nested KVM ($where), $(date -u +%Y-%m-%d)"
	echo "kernel: Debian cloud $(cat "$KERNELS_DIR/cloud/version") (LZ4 bzImage), busybox initramfs, 1 vCPU, 512 MiB"
	echo "boots: $(count mica)/$reps mica, $(count qemu)/$reps QEMU succeeded, alternating; medians"
	echo
	printf '| %-28s | %10s | %10s | %10s |\n' "" mica QEMU mica/QEMU
	printf '|%s|%s|%s|%s|\n' ------------------------------ ------------ ------------ ------------
	printf '| %-28s | %10s | %10s | %10s |\n' "VMM start to guest init" "$(sec "$mi")" "$(sec "$qi")" "$(ratio "$mi" "$qi")"
	printf '| %-28s | %10s | %10s | %10s |\n' "VMM start to exit (poweroff)" "$(sec "$mt")" "$(sec "$qt")" "$(ratio "$mt" "$qt")"
	printf '| %-28s | %10s | %10s | %10s |\n' "guest uptime at init" "$(sec "$mu")" "$(sec "$qu")" "$(ratio "$mu" "$qu")"
	echo
	echo "per boot (ms):"
	grep -a '^BENCH vmm=' "$work/out" | sed 's/^BENCH /  /'
	echo
	grep -a '^BENCH-CMD' "$work/out" | sed 's/^BENCH-CMD /  /'
} >"$outdir/boot-nested.txt"
echo
cat "$outdir/boot-nested.txt"
echo "(written to build/bench/boot-nested.txt; the whole run took $(nested_elapsed "$start")s)"
