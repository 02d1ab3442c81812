#!/bin/sh
# SPDX-License-Identifier: MIT
# The part of bench/virtio-nested.sh that runs inside L1 (or on a host with
# hardware KVM): mica and QEMU alternately boot the same kernel and
# initramfs with the same devices, and the guest measures virtio-blk and
# virtio-net (bench/virtio-nested-guest.sh). One "BENCH ..." line per
# measurement. bench.conf says which repetitions to run (REP_FROM..REP_TO)
# and in which order the VMMs take turns in each (ORDER).
#
# Both VMMs run in a network namespace that holds the tap (10.1.0.1/24 on
# L1's side) and a loopback for slirp's 10.0.2.2; L1's traffic sink (port
# 5201) and source (5202) listen there on every address. The disk is a raw
# image of BLK_MB MiB in L1's tmpfs (no file system: blkbench uses the
# device itself), cache=writeback under both VMMs.
. "$NESTED_LIB"
REP_FROM=1 REP_TO=1 ORDER="mica qemu" BLK_SECS=3 NET_BYTES=4M BLK_MB=256 ROWS=
[ -f "$EXTRA/bench.conf" ] && . "$EXTRA/bench.conf"
for v in mica qemu; do
	bin=$MICA
	[ $v = qemu ] && bin=$QEMU
	if [ -z "$bin" ] || [ ! -x "$bin" ]; then
		echo "BENCH-ERROR: no $v binary"
		exit 1
	fi
done
[ -c /dev/kvm ] || {
	echo "BENCH-ERROR: /dev/kvm missing"
	exit 1
}

work=$TMPDIR/vbench
rm -rf "$work"
mkdir -p "$work"
initrd=$work/initrd.cpio
l2_virtio_initrd "$EXTRA/virtio-nested-guest.sh" "$initrd" || {
	echo "BENCH-ERROR: building the L2 initramfs failed"
	exit 1
}
img=$work/bench.img
dd if=/dev/zero of="$img" bs=1M count="$BLK_MB" 2>/dev/null

ns=mica-bench
ip netns del $ns 2>/dev/null
ip netns add $ns && ip -n $ns link set lo up &&
	ip -n $ns tuntap add dev vtap0 mode tap &&
	ip -n $ns addr add 10.1.0.1/24 dev vtap0 &&
	ip -n $ns link set vtap0 up || {
	echo "BENCH-ERROR: setting up the tap in a netns failed"
	exit 1
}
ip netns exec $ns tcpxfer listen -p 5201 -c 100000 -t 100000 --recv >"$work/sink.txt" 2>&1 &
sink=$!
ip netns exec $ns tcpxfer listen -p 5202 -c 100000 -t 100000 --send "$NET_BYTES" >"$work/source.txt" 2>&1 &
source=$!
trap 'kill $sink $source 2>/dev/null; ip netns del $ns 2>/dev/null' EXIT

cmdline="console=ttyS0 quiet panic=-1 mica.test=script mica.blksecs=$BLK_SECS mica.netbytes=$NET_BYTES"
[ -z "$ROWS" ] || cmdline="$cmdline mica.rows=$ROWS"
set -- --memory 512M --cpus 1 --timeout 300 --initrd "$initrd" --cmdline "$cmdline" \
	--disk "path=$img,serial=vt-bench" \
	--net "user,mac=52:54:00:12:34:56" --net "tap=vtap0,mac=52:54:00:12:34:57" \
	--wrap "ip netns exec $ns" "$L2_CLOUD_BZ"
i=$REP_FROM
while [ $i -le "$REP_TO" ]; do
	for v in $ORDER; do
		l2_boot "$v-$i" --vmm "$v" "$@"
		[ $i = 1 ] && echo "BENCH-CMD $v: $L2_CMD"
		tr -d '\r' <"$L2_LOG" | sed -n "s/^MICA-BENCH name=/BENCH vmm=$v rep=$i name=/p"
		if [ "$(l2_count MICA-BENCH-DONE)" -lt 1 ] || [ "$L2_STATUS" != 0 ]; then
			echo "BENCH-ERROR vmm=$v rep=$i status=$L2_STATUS"
			tr -d '\r' <"$L2_LOG" | tail -n 15 | sed 's/^/  | /'
		fi
		tr -d '\r' <"$L2_LOG" | grep -a '^MICA-BENCH-ERROR' | sed "s/^/  $v-$i: /"
	done
	i=$((i + 1))
done
echo "BENCH-L1 sink:"
sed 's/^/  /' "$work/sink.txt"
echo "BENCH-L1 source:"
sed 's/^/  /' "$work/source.txt"
