#!/bin/sh
# SPDX-License-Identifier: MIT
# /test.sh of the L2 domains of tests/integration/toolstack-l1.sh (Debian's
# cloud kernel, its virtio modules loaded by the L2 init): reports the
# marker at the start of its virtio disk, then prints a tick every second
# until the domain is destroyed (the toolstack test pauses it and watches
# the ticks stop).
if [ -b /dev/vda ]; then
	echo "MICA-TS disk=$(head -c 15 /dev/vda)"
else
	echo "MICA-TS disk=none"
fi
n=0
while :; do
	echo "MICA-TS-TICK $n"
	n=$((n + 1))
	sleep 1
done
