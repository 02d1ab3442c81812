#!/bin/bash
# Tier-3 tests: mica boots Debian's stock kernels.
#
#   tests/integration/boot.sh [--vmm mica|qemu] [--only NAME[,NAME...]]
#
# This host's /dev/kvm (PVM) cannot run a stock kernel, so the guests boot
# inside the nested KVM host of tests/nested/ (one L1 boot, all L2 boots in
# sequence in it); on a host with hardware KVM they boot directly on it.
# Tests (nested.NAME): cloud-bzimage std-bzimage pvh-elf reboot-exit
# reboot-restart memory-5g clock topology.
# --vmm qemu runs the same boots with QEMU (to check the rig itself).
# Prints PASS/FAIL/SKIP lines and timings; exits 1 if anything failed.
set -euo pipefail
. "$(dirname "$0")/../nested/lib.sh"

vmm=mica only=
while [ $# -gt 0 ]; do
	case "$1" in
	--vmm)
		vmm=${2:-}
		shift 2
		;;
	--only)
		only=${2:-}
		shift 2
		;;
	-h | --help)
		nested_usage
		exit 0
		;;
	*) nested_die "unknown argument '$1' (see --help)" ;;
	esac
done
case "$vmm" in mica | qemu) ;; *) nested_die "--vmm wants mica or qemu, not '$vmm'" ;; esac

all="cloud-bzimage std-bzimage pvh-elf reboot-exit reboot-restart memory-5g clock topology"
skip_all() { nested_skip_all nested "$all" "$only" "$1"; }

if [ "$vmm" = mica ] && [ ! -x "$MICA_ROOT/build/mica" ]; then
	skip_all "build/mica missing (run make)"
fi
where=$(nested_where)
echo "boot.sh: L2 guests run on: $where (host /dev/kvm: $(nested_host_kvm_kind)); VMM: $vmm"

start=$EPOCHREALTIME
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'L2_VMM=%s\nONLY=%s\n' "$vmm" "$only" >"$work/boot.conf"
qopt=()
[ "$vmm" = qemu ] && qopt=(--with-qemu)
nested_run_logged "$work/out" --timeout 1200 "${qopt[@]}" \
	"$MICA_ROOT/tests/integration/boot-l2.sh" "$work/boot.conf"

echo "boot.sh: tier 3 took $(nested_elapsed "$start")s"
nested_verdict nested "$all" "$only" "$work/out" "$NESTED_RC"
