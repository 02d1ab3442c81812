#!/bin/sh
# SPDX-License-Identifier: MIT
# The L2 guest's side of the tier-3 virtio tests (tests/integration/
# virtio.sh): runs as /test.sh in the L2 busybox initramfs with the virtio
# layer (Debian's virtio modules, already loaded by the L2 init, and the
# static tools of tests/tools/). What to do comes from the kernel command
# line, mica.vtest=blk|crash|net-user|net-tap|console. Results are lines
# "MICA-VT <what> <result...>" on the console, checked by virtio-l1.sh.
# Keep the output short: every console byte costs a VM exit.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

vtest='' port=18080
for a in $(cat /proc/cmdline); do
	case "$a" in
	mica.vtest=*) vtest=${a#mica.vtest=} ;;
	mica.httpport=*) port=${a#mica.httpport=} ;;
	esac
done

say() { echo "MICA-VT $*"; }

# find_disk SERIAL: the vdX whose virtio-blk serial (GET_ID) is SERIAL.
find_disk() {
	for d in /sys/block/vd*; do
		[ -e "$d" ] || continue
		if [ "$(cat "$d/serial" 2>/dev/null)" = "$1" ]; then
			basename "$d"
			return 0
		fi
	done
	return 1
}

# find_nic MAC: the interface with that MAC address.
find_nic() {
	for d in /sys/class/net/*; do
		if [ "$(cat "$d/address" 2>/dev/null)" = "$1" ]; then
			basename "$d"
			return 0
		fi
	done
	return 1
}

# The virtio devices the kernel found, as type:driver (1 net, 2 blk,
# 3 console, 4 rng), sorted.
devices() {
	for d in /sys/bus/virtio/devices/virtio*; do
		[ -e "$d" ] || continue
		drv=none
		[ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
		echo "$(($(cat "$d/device"))):$drv"
	done | sort | tr '\n' ' '
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

say uptime "$(cut -d' ' -f1 /proc/uptime)"
say devices "$(devices)"
say modules "$(cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ')"

case "$vtest" in
blk)
	rw=$(find_disk vt-rw) ro=$(find_disk vt-ro)
	say disks "rw=$rw ro=$ro"
	mkdir -p /mnt/rw /mnt/ro
	# The writable ext4 image: the files made on the host are intact; new
	# files are written, synced and unmounted, then read back through the
	# device (umount dropped them from the page cache).
	if [ -n "$rw" ] && mount -t ext4 /dev/"$rw" /mnt/rw; then
		if (cd /mnt/rw && sha256sum -c -s SHA256SUMS); then
			say ext4-seed ok
		else
			say ext4-seed BAD
		fi
		cp /payload.bin /mnt/rw/payload.bin
		echo "written by the L2 guest" >/mnt/rw/hello.txt
		mkdir -p /mnt/rw/dir
		seq 1 1000 >/mnt/rw/dir/seq.txt
		sync
		if umount /mnt/rw; then
			say ext4-write ok
		else
			say ext4-write "umount failed"
		fi
		if mount -t ext4 -o ro /dev/"$rw" /mnt/rw &&
			cmp -s /payload.bin /mnt/rw/payload.bin; then
			say ext4-reread ok
		else
			say ext4-reread BAD
		fi
		umount /mnt/rw 2>/dev/null
	else
		say ext4-mount FAILED
	fi

	# The read-only disk: the kernel sees it read-only, writes to it fail,
	# reads work.
	if [ -n "$ro" ]; then
		say ro-flag "$(cat /sys/block/"$ro"/ro)"
		if dd if=/dev/zero of=/dev/"$ro" bs=4096 count=1 conv=fsync 2>/dev/null; then
			say ro-dd-write ACCEPTED
		else
			say ro-dd-write refused
		fi
		# busybox mount falls back to read-only on a write-protected disk;
		# whatever it does, nothing may be writable afterwards.
		mount -t ext4 /dev/"$ro" /mnt/ro 2>/dev/null ||
			mount -t ext4 -o ro /dev/"$ro" /mnt/ro 2>/dev/null
		if touch /mnt/ro/new 2>/dev/null; then
			say ro-touch ACCEPTED
		else
			say ro-touch refused
		fi
		if (cd /mnt/ro && sha256sum -c -s SHA256SUMS); then
			say ro-read ok
		else
			say ro-read BAD
		fi
		umount /mnt/ro 2>/dev/null
		sync
	fi

	# virtio-rng: /dev/hwrng gives bytes, and they look random (1 KiB of
	# random bytes has about 250 distinct values; a stuck source has few).
	say rng-current "$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)"
	timeout 30 head -c 1024 /dev/hwrng >/tmp/rng 2>/dev/null
	n=$(wc -c </tmp/rng)
	distinct=$(od -An -v -tu1 /tmp/rng | tr -s ' ' '\n' | grep -v '^$' | sort -u | wc -l)
	say rng "bytes=$n distinct=$distinct"
	;;

crash)
	d=$(find_disk vt-crash)
	mkdir -p /mnt/c
	if [ -n "$d" ] && mount -t ext4 /dev/"$d" /mnt/c; then
		say crash-ready
		# Runs until the VMM is killed (the bound is a safety net).
		fsync-stream write /mnt/c/stream.dat -d 300
		say crash-stream-ended "rc=$?"
	else
		say crash-mount FAILED
	fi
	;;

net-user | net-tap)
	ip link set lo up
	if [ "$vtest" = net-user ]; then
		nic=$(find_nic 52:54:00:12:34:56)
		host=10.0.2.2
		say nic "$nic"
		if [ -n "$nic" ] && udhcpc -i "$nic" -q -n -t 10 -T 2 \
			-s /usr/share/udhcpc/default.script >/dev/null 2>&1; then
			say dhcp "$(cat /tmp/dhcp."$nic")"
		else
			say dhcp FAILED
		fi
	else
		nic=$(find_nic 52:54:00:12:34:57)
		host=10.1.0.1
		say nic "$nic"
		ip addr add 10.1.0.2/24 dev "$nic"
		ip link set "$nic" up
	fi
	say addr "$(ip -4 -o addr show dev "$nic" 2>/dev/null | awk '{ print $4 }')"
	# A file from L1's HTTP server, byte for byte.
	# (Not wget -T: busybox 1.35's wget crashes with it.)
	if timeout 60 wget -q -O /tmp/fetched "http://$host:$port/payload.bin"; then
		say http-fetch "sha=$(sha /tmp/fetched) bytes=$(wc -c </tmp/fetched)"
	else
		say http-fetch FAILED
	fi
	# A server for L1's client (through hostfwd, or straight over the tap);
	# L1 connects once it has printed "tcpxfer: listening on 8080".
	tcpxfer listen -p 8080 -t 90 --send-file /payload.bin
	say server-done "rc=$?"
	;;

console)
	# Run with console=hvc0: everything here went through virtio-console.
	say console "active=$(cat /sys/class/tty/console/active)" \
		"consoles=$(cut -d' ' -f1 /proc/consoles | tr '\n' ',')"
	# A burst the device must pass on whole and in order.
	seq 1 500 | sed 's/^/MICA-VT-LINE /'
	say console-burst-done
	;;

*)
	say error "unknown mica.vtest='$vtest'"
	;;
esac
sync
say uptime-end "$(cut -d' ' -f1 /proc/uptime)"
