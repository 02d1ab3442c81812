#!/bin/sh
# The part of bench/boot-nested.sh that runs inside L1 (or on a host with
# hardware KVM): mica and QEMU alternately boot the same kernel and
# initramfs; one "BENCH ..." line per boot.
. "$NESTED_LIB"
REPS=5
[ -f "$EXTRA/bench.conf" ] && . "$EXTRA/bench.conf"
for v in mica qemu; do
	bin=$MICA
	[ $v = qemu ] && bin=$QEMU
	if [ -z "$bin" ] || [ ! -x "$bin" ]; then
		echo "BENCH-ERROR: no $v binary"
		exit 1
	fi
done
echo "BENCH-CMD mica: $MICA run --kernel $L2_CLOUD_BZ --initrd $L2_INITRD --cmdline '$L2_DEFAULT_CMDLINE_BASE mica.test=poweroff' --cpus 1 --memory 512M"
echo "BENCH-CMD qemu: $QEMU -M microvm,rtc=on -enable-kvm -cpu host -smp 1 -m 512M -nodefaults -no-user-config -nographic -serial stdio -kernel $L2_CLOUD_BZ -initrd $L2_INITRD -append '$L2_DEFAULT_CMDLINE_BASE mica.test=poweroff'"
i=1
while [ $i -le "$REPS" ]; do
	for v in mica qemu; do
		l2_boot "$v-$i" --vmm $v --cpus 1 --memory 512M --timeout 180 "$L2_CLOUD_BZ"
		# The guest's uptime at init: the kernel's own share of init_ms
		# (the rest is VMM start-up, loading and the decompressor).
		up=$(l2_field uptime | awk '{ printf "%d", $1 * 1000 }')
		echo "BENCH vmm=$v rep=$i init_ms=$L2_MARKER_MS total_ms=$L2_TOTAL_MS guest_uptime_ms=${up:--1} status=$L2_STATUS"
		if [ "$L2_MARKER_MS" -lt 0 ] || [ "$L2_STATUS" != 0 ]; then
			tr -d '\r' <"$L2_LOG" | tail -n 15 | sed 's/^/  | /'
		fi
	done
	i=$((i + 1))
done
