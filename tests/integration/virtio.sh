#!/bin/bash
# SPDX-License-Identifier: MIT
# Tier-3 tests: virtio devices end to end, with Debian's stock cloud kernel
# and its own virtio modules, in the nested KVM host of tests/nested/ (one L1
# boot, five L2 boots; or directly on a host with hardware KVM).
#
#   tests/integration/virtio.sh [--vmm mica|qemu] [--only NAME[,NAME...]]
#                               [--verbose]
#
# Tests (tier3.virtio.NAME): modules ext4 readonly rng crash-flush
# net-user-dhcp net-user-http net-user-hostfwd net-tap-http net-tap-server
# console-hvc0; what each checks is in virtio-l1.sh. --vmm qemu runs the
# same guests under QEMU (microvm with PCIe and the same virtio devices),
# which checks the rig and the guest side. --verbose prints every guest's
# console at the end.
# Prints PASS/FAIL/SKIP lines and timings; exits 1 if anything failed.
set -euo pipefail
. "$(dirname "$0")/../nested/lib.sh"

vmm=mica only= verbose=0
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
	--verbose)
		verbose=1
		shift
		;;
	-h | --help)
		nested_usage
		exit 0
		;;
	*) nested_die "unknown argument '$1' (see --help)" ;;
	esac
done
case "$vmm" in mica | qemu) ;; *) nested_die "--vmm wants mica or qemu, not '$vmm'" ;; esac

all="modules ext4 readonly rng crash-flush net-user-dhcp net-user-http net-user-hostfwd net-tap-http net-tap-server console-hvc0"
skip_all() { nested_skip_all tier3.virtio "$all" "$only" "$1"; }

if [ "$vmm" = mica ]; then
	[ -x "$MICA_ROOT/build/mica" ] || skip_all "build/mica missing (run make)"
	# Until the virtio options exist, there is nothing to run.
	help=$("$MICA_ROOT/build/mica" run --help 2>&1 || true)
	for o in --disk --net --console --rng; do
		[[ "$help" == *"$o"* ]] || skip_all "this build of mica has no $o option yet"
	done
fi
where=$(nested_where)
echo "virtio.sh: L2 guests run on: $where (host /dev/kvm: $(nested_host_kvm_kind)); VMM: $vmm"

start=$EPOCHREALTIME
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'L2_VMM=%s\nONLY=%s\nVERBOSE=%s\n' "$vmm" "$only" "$verbose" >"$work/virtio.conf"
head -c 4194304 /dev/urandom >"$work/payload.bin"
cp "$MICA_ROOT/tests/integration/virtio-guest.sh" "$work/"
qopt=()
[ "$vmm" = qemu ] && qopt=(--with-qemu)
nested_run_logged "$work/out" --timeout 1500 "${qopt[@]}" \
	"$MICA_ROOT/tests/integration/virtio-l1.sh" \
	"$work/virtio.conf" "$work/payload.bin" "$work/virtio-guest.sh"

echo "virtio.sh: took $(nested_elapsed "$start")s"
nested_verdict tier3.virtio "$all" "$only" "$work/out" "$NESTED_RC"
