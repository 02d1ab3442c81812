#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Cross-check of the tiny guests on QEMU (TCG), for when mica is missing or
# a guest itself is in doubt. QEMU has no mica test device, different
# \_S5, and enters bzImages through the real-mode entry, so the guests run
# with "qemu" on their command line, which skips those checks. QEMU's
# isa-debug-exit turns status v into (v << 1) | 1; a triple fault, a reset
# or a power-off with -no-reboot ends it with 0.
#
#   tests/guest/qemu.sh         (guests from ${BUILD:-build}/guests)

set -u
cd "$(dirname "$0")/../.." || exit 1
G=${GUEST_DIR:-${BUILD:-build}/guests}
NFAIL=0

# q NAME WANT_RC STDIN [qemu args...]
q() {
	local name=$1 want=$2 in=$3 rc
	shift 3
	timeout -k 5 120 qemu-system-x86_64 -accel tcg -M pc -m 128 \
		-nographic -no-reboot -net none -display none -monitor none \
		-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 \
		"$@" <"$in" >"$G/logs/qemu-$name.out" 2>&1
	rc=$?
	if [ "$rc" = "$want" ] && ! grep -q 'FAIL' "$G/logs/qemu-$name.out"; then
		echo "PASS qemu.$name"
	else
		echo "FAIL qemu.$name: status $rc, expected $want (see $G/logs/qemu-$name.out)"
		NFAIL=$((NFAIL + 1))
	fi
}

mkdir -p "$G/logs"
q hello 1 /dev/null -kernel "$G/hello.elf" -append "qemu x=1"
q pio_mmio 1 /dev/null -kernel "$G/pio_mmio.elf" -append qemu
q long64 1 /dev/null -kernel "$G/long64.bzImage" -append "qemu test=yes"
for n in 1 2 4; do
	q "smp.$n" 1 /dev/null -smp "$n" -kernel "$G/smp.elf" -append "qemu cpus=$n"
done
q hlt_irq 1 /dev/null -kernel "$G/hlt_irq.elf" -append qemu
q poweroff 0 /dev/null -kernel "$G/poweroff.elf" -append "qemu slp_typ=0"
q reset.i8042 0 /dev/null -kernel "$G/reset.elf" -append qemu
q reset.cf9 0 /dev/null -kernel "$G/reset.elf" -append "qemu reset=cf9"
q triple 0 /dev/null -kernel "$G/triple.elf" -append qemu
# QEMU drops input that arrives while the firmware runs: send it later.
q uart_rx 1 <(sleep 3; printf 'ping\n') -kernel "$G/uart_rx.elf" -append qemu
[ "$NFAIL" = 0 ]
