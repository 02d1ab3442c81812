#!/bin/sh
# SPDX-License-Identifier: MIT
# The L2 guest's side of bench/virtio-nested.sh: runs as /test.sh in the L2
# busybox initramfs with the virtio layer. Measures, from inside the guest:
#   virtio-blk  blkbench (O_DIRECT, one request in flight) on the raw disk
#               with serial vt-bench: sequential 1 MiB reads and writes,
#               random 4 KiB reads and writes, BLK_SECS seconds each
#   virtio-net  tcpxfer: NET_BYTES to L1's sink and from L1's source, over
#               slirp (10.0.2.2) and over the tap (10.1.0.1)
# Settings come from the kernel command line (mica.blksecs=,
# mica.netbytes=, mica.rows=: only these rows, comma-separated). One line per measurement on the console:
#   MICA-BENCH name=<row> value=<number> unit=<MB/s|IOPS|Mbit/s>
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

secs=3 bytes=4M rows=
for a in $(cat /proc/cmdline); do
	case "$a" in
	mica.blksecs=*) secs=${a#mica.blksecs=} ;;
	mica.netbytes=*) bytes=${a#mica.netbytes=} ;;
	mica.rows=*) rows=${a#mica.rows=} ;;
	esac
done

find_disk() {
	for d in /sys/block/vd*; do
		[ "$(cat "$d/serial" 2>/dev/null)" = "$1" ] && basename "$d" && return 0
	done
	return 1
}
find_nic() {
	for d in /sys/class/net/*; do
		[ "$(cat "$d/address" 2>/dev/null)" = "$1" ] && basename "$d" && return 0
	done
	return 1
}
# field KEY LINE: the value of KEY=... in LINE.
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
# want ROW: whether to measure ROW.
want() {
	[ -z "$rows" ] && return 0
	case ",$rows," in *,"$1",*) return 0 ;; esac
	return 1
}
report() { echo "MICA-BENCH name=$1 value=${2:-failed} unit=$3"; }

dev=$(find_disk vt-bench)
if [ -n "$dev" ]; then
	for t in read:1M write:1M randread:4K randwrite:4K; do
		m=${t%:*} bs=${t#*:}
		want "blk-$m-$bs" || continue
		r=$(blkbench -f "/dev/$dev" -m "$m" -b "$bs" -t "$secs" 2>&1)
		case "$m" in
		rand*) report "blk-$m-$bs" "$(field iops "$r")" IOPS ;;
		*) report "blk-$m-$bs" "$(field mbps "$r")" MB/s ;;
		esac
	done
else
	echo "MICA-BENCH-ERROR no disk with serial vt-bench"
fi

ip link set lo up
user=$(find_nic 52:54:00:12:34:56)
tap=$(find_nic 52:54:00:12:34:57)
if [ -n "$user" ]; then
	udhcpc -i "$user" -q -n -t 10 -T 2 -s /usr/share/udhcpc/default.script >/dev/null 2>&1 ||
		echo "MICA-BENCH-ERROR DHCP on $user failed"
fi
if [ -n "$tap" ]; then
	ip addr add 10.1.0.2/24 dev "$tap"
	ip link set "$tap" up
fi
# net NAME HOST: guest to L1 (tx) and L1 to guest (rx).
net() {
	if want "net-$1-tx"; then
		r=$(tcpxfer connect "$2" 5201 -t 300 --send "$bytes" 2>&1)
		report "net-$1-tx" "$(field mbit "$r")" Mbit/s
	fi
	if want "net-$1-rx"; then
		r=$(tcpxfer connect "$2" 5202 -t 300 --recv 2>&1)
		report "net-$1-rx" "$(field mbit "$r")" Mbit/s
	fi
}
[ -n "$user" ] && net user 10.0.2.2
[ -n "$tap" ] && net tap 10.1.0.1
echo "MICA-BENCH-DONE"
