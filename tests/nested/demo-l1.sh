#!/bin/sh
# The demo's part inside L1 (or on a host with hardware KVM): mica boots
# Debian's cloud kernel with the L2 initramfs in shell mode.
# With $EXTRA/input.txt (the demo's stdin was not a terminal), its lines
# are typed into the guest shell one at a time, each after a prompt.
. "$NESTED_LIB"
if [ -z "$MICA" ]; then
	echo "demo: mica binary missing (build it with make)"
	exit 1
fi
DEMO_CPUS=2
[ -f "$EXTRA/demo.conf" ] && . "$EXTRA/demo.conf"
kernel=$L2_CLOUD_BZ
cmdline="console=ttyS0 quiet mica.test=shell"
echo "demo: mica run --kernel $kernel --initrd $L2_INITRD --cmdline '$cmdline' --cpus $DEMO_CPUS --memory 512M"
set -- "$MICA" run --kernel "$kernel" --initrd "$L2_INITRD" --cmdline "$cmdline" \
	--cpus "$DEMO_CPUS" --memory 512M
# The demo's console goes through L1's own serial port, which makes the
# emulated L1 fragile (see README.md, "Known problem"): keep the VMM on one
# L1 CPU there. A host with hardware KVM needs no such thing.
if [ "$NESTED_WHERE" = l1 ]; then
	set -- taskset -c 1 "$@"
fi

if [ ! -f "$EXTRA/input.txt" ]; then
	"$@"
	rc=$?
	echo "demo: mica exited with status $rc"
	exit $rc
fi

# Scripted input: a FIFO into mica's stdin, a feeder that waits for the
# guest's prompt before each line (anything typed earlier would be lost
# while the guest boots).
out=$TMPDIR/demo-out
fifo=$TMPDIR/demo-in
rm -f "$out" "$fifo"
: >"$out"
mkfifo "$fifo"
prompts() { grep -c 'mica-guest:' "$out" 2>/dev/null || true; }
(
	n=0
	while IFS= read -r line || [ -n "$line" ]; do
		# Wait (up to 120 s) for prompt number n+1.
		i=0
		while [ "$(prompts)" -le "$n" ] && [ $i -lt 1200 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		n=$((n + 1))
		printf '%s\n' "$line"
	done <"$EXTRA/input.txt"
	# Keep mica's stdin open until it exits.
	exec sleep 3600
) >"$fifo" &
feeder=$!
set -o pipefail
"$@" <"$fifo" | tee "$out"
rc=$?
kill "$feeder" 2>/dev/null
echo "demo: mica exited with status $rc"
exit $rc
