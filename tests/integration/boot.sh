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
skip_all() {
	local t
	for t in $all; do
		if [ -z "$only" ] || [[ ",$only," == *",$t,"* ]]; then
			echo "SKIP nested.$t: $1"
		fi
	done
	exit 0
}

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
set +o pipefail
nested_run --timeout 1200 "${qopt[@]}" "$MICA_ROOT/tests/integration/boot-l2.sh" \
	"$work/boot.conf" | tee "$work/out"
rc=${PIPESTATUS[0]}
set -o pipefail

echo "boot.sh: tier 3 took $(nested_elapsed "$start")s"
echo "---- summary"
# Indented, so that tests/run counts each result once.
grep -a -E '^(l2: |(PASS|FAIL|SKIP) nested\.)' "$work/out" | sed 's/^/  /' || true
fails=$(grep -a -c '^FAIL nested\.' "$work/out" || true)
passes=$(grep -a -c '^PASS nested\.' "$work/out" || true)
if grep -a -q 'MICA-L1-ERROR: /dev/kvm does not exist' "$work/out"; then
	skip_all "no /dev/kvm in the L1 nested host (QEMU's -cpu max did not expose SVM)"
fi
if [ "$rc" != 0 ]; then
	echo "FAIL nested.rig: the test run ended with status $rc (124 = timeout, 125 = L1 stopped early)"
	exit 1
fi
if [ "$passes" = 0 ] && [ "$fails" = 0 ]; then
	grep -a -q '^SKIP nested\.' "$work/out" && exit 0
	echo "FAIL nested.rig: no test results"
	exit 1
fi
[ "$fails" = 0 ] || exit 1
exit 0
