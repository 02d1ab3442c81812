#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Tier-2 tests: boot each tiny guest (tests/guest/*.c, built by
# "make guests") with mica on /dev/kvm and check its exit status and
# output; then check that mica rejects bad input that needs real files with
# one clear message and exit status 1.
#
#   tests/guest/run.sh [MICA]     (default build/asan/mica)
#
# Environment: BUILD (default build) or GUEST_DIR (default $BUILD/guests)
# says where the guests are; MICA_KVM_DEVICE (default /dev/kvm), which
# mica honours too, is the device probed first. Each run's stdout and
# stderr are kept in $GUEST_DIR/logs/NAME.{out,err}. Prints one line per
# check: "PASS guest.NAME", "FAIL guest.NAME: reason" or, only when KVM is
# missing or unusable, "SKIP guest.NAME: reason" (the guests, and the bad
# files, which mica reads only after opening KVM). Exits 1 if anything
# failed. Every mica runs under timeout(1) and is waited for; an interrupt
# of this script kills the one running, so nothing is left behind.

set -u
cd "$(dirname "$0")/../.." || exit 1

MICA=${1:-build/asan/mica}
GUEST_DIR=${GUEST_DIR:-${BUILD:-build}/guests}
LOGS=$GUEST_DIR/logs
TIMEOUT=60
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mica-guest.XXXXXX") || exit 1
CUR_PID=
WRITER_OPEN=0
NPASS=0
NFAIL=0
NSKIP=0

# Kill the mica (its timeout(1) forwards the signal) still running, if any.
cleanup() {
	if [ "$WRITER_OPEN" = 1 ]; then
		exec 4>&-
		WRITER_OPEN=0
	fi
	if [ -n "$CUR_PID" ]; then
		kill -TERM "$CUR_PID" 2>/dev/null
		wait "$CUR_PID" 2>/dev/null
		CUR_PID=
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM HUP

pass() {
	echo "PASS guest.$1"
	NPASS=$((NPASS + 1))
}
fail() {
	echo "FAIL guest.$1: $2"
	NFAIL=$((NFAIL + 1))
}
skip() {
	echo "SKIP guest.$1: $2"
	NSKIP=$((NSKIP + 1))
}

# run NAME STDIN ARGS...: mica run ARGS under a timeout, in the background
# so that a signal to this script can reach it. STDIN is a file, or "fifo"
# for $TMP/in (the caller writes to it through fd 4). Sets RC, OUT, ERR.
run() {
	local name=$1 in=$2
	shift 2
	OUT=$LOGS/$name.out
	ERR=$LOGS/$name.err
	if [ "$in" = fifo ]; then
		rm -f "$TMP/in"
		mkfifo "$TMP/in"
		timeout -k 5 "$TIMEOUT" "$MICA" run "$@" <"$TMP/in" \
			>"$OUT.raw" 2>"$ERR" &
		CUR_PID=$!
		exec 4>"$TMP/in"
		WRITER_OPEN=1
		return
	fi
	timeout -k 5 "$TIMEOUT" "$MICA" run "$@" <"$in" >"$OUT.raw" 2>"$ERR" &
	CUR_PID=$!
	finish_run
}

# Wait for the mica started by run; strip the console's CRs from stdout.
finish_run() {
	if [ "$WRITER_OPEN" = 1 ]; then
		exec 4>&-
		WRITER_OPEN=0
	fi
	wait "$CUR_PID"
	RC=$?
	CUR_PID=
	tr -d '\r' <"$OUT.raw" >"$OUT"
	rm -f "$OUT.raw"
}

# Common verdict on a run: sanitizer reports and timeouts first.
# check_run NAME WANT_RC: returns 1 (after printing FAIL) if it failed.
check_run() {
	local name=$1 want=$2 last
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$ERR"; then
		fail "$name" "sanitizer report on stderr (see $ERR)"
		return 1
	fi
	if [ "$RC" = 124 ] || [ "$RC" = 137 ]; then
		last=$(grep -v '^$' "$OUT" | tail -n 1)
		fail "$name" "timeout after ${TIMEOUT}s; last output: '$last' (see $OUT)"
		return 1
	fi
	if [ "$RC" != "$want" ]; then
		last=$( (grep -v '^$' "$OUT" | tail -n 1; tail -n 1 "$ERR") |
			tr '\n' ' ')
		fail "$name" "exit status $RC, expected $want; last output: '$last' (see $LOGS/$name.*)"
		return 1
	fi
	return 0
}

# expect_out NAME LINE...: each fixed string must be a line of stdout.
expect_out() {
	local name=$1 line
	shift
	for line in "$@"; do
		if ! grep -qxF -- "$line" "$OUT"; then
			fail "$name" "no line '$line' on stdout (see $OUT)"
			return 1
		fi
	done
	return 0
}

# guest NAME KERNEL WANT_RC [mica args...] -- [expected lines...]
guest() {
	local name=$1 kernel=$2 want=$3 args=()
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	shift
	run "$name" /dev/null --kernel "$GUEST_DIR/$kernel" "${args[@]}"
	check_run "$name" "$want" && expect_out "$name" "$@" && pass "$name"
}

# bad NAME PATTERN [mica args...]: exit status 1 and one message on stderr
# that mentions PATTERN (an extended regex, case-insensitive).
bad() {
	local name=cli.$1 pattern=$2 lines
	shift 2
	run "$name" /dev/null "$@"
	check_run "$name" 1 || return
	lines=$(grep -c . "$ERR")
	if [ "$lines" -lt 1 ] || [ "$lines" -gt 3 ]; then
		fail "$name" "expected one message on stderr, got $lines lines (see $ERR)"
	elif ! grep -qiE -- "$pattern" "$ERR"; then
		fail "$name" "stderr does not mention /$pattern/: '$(head -n 1 "$ERR")'"
	else
		pass "$name"
	fi
}

# smp N [madt]: N CPUs; the guest learns N from "cpus=N", or with "madt"
# from the MADT alone.
smp() {
	local n=$1 name=smp.$1 i lines=() cmdline="cpus=$1"
	if [ "${2:-}" = madt ]; then
		name=smp.madt-$n
		cmdline=
	fi
	for ((i = 1; i < n; i++)); do
		lines+=("cpu $i up")
	done
	guest "$name" smp.elf 0 --cpus "$n" --cmdline "$cmdline" --debug-exit \
		-- "${lines[@]}" "all $n cpus up" "smp: PASS"
}

uart_rx() {
	local name=$1 delay=$2
	run "$name" fifo --kernel "$GUEST_DIR/uart_rx.elf" --debug-exit
	sleep "$delay"
	# In a subshell: if mica is gone, SIGPIPE ends only that.
	(printf 'ping\n' >&4) 2>/dev/null
	finish_run
	check_run "$name" 0 &&
		expect_out "$name" "PING" "uart_rx: PASS" && pass "$name"
}

# reset_restart NAME [mica args...]: the guest must boot again; stop mica
# with SIGTERM once "booting" was printed twice, and expect its signal
# status, 4.
reset_restart() {
	local name=$1 n=0 i
	shift
	OUT=$LOGS/$name.out
	ERR=$LOGS/$name.err
	timeout -k 5 "$TIMEOUT" "$MICA" run --kernel "$GUEST_DIR/reset.elf" \
		"$@" --debug-exit </dev/null >"$OUT.raw" 2>"$ERR" &
	CUR_PID=$!
	for ((i = 0; i < 120; i++)); do
		n=$(grep -c '^booting' "$OUT.raw")
		[ "$n" -ge 2 ] && break
		kill -0 "$CUR_PID" 2>/dev/null || break
		sleep 0.25
	done
	kill -TERM "$CUR_PID" 2>/dev/null
	finish_run
	n=$(grep -c '^booting$' "$OUT")
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$ERR"; then
		fail "$name" "sanitizer report on stderr (see $ERR)"
	elif [ "$n" -lt 2 ]; then
		fail "$name" "'booting' printed $n time(s), expected a reboot (exit status $RC; see $LOGS/$name.*)"
	else
		pass "$name"
		if [ "$RC" = 4 ]; then
			pass "$name.sigterm"
		else
			fail "$name.sigterm" "exit status $RC after SIGTERM, expected 4"
		fi
	fi
}

# On a terminal: mica puts it in raw mode, Ctrl-A h prints the keys,
# Ctrl-A x quits with status 0, and the terminal settings are restored.
# script(1) gives mica a pseudo-terminal; its stdin feeds the keys.
tty_escape() {
	local name=tty.escape
	OUT=$LOGS/$name.out
	if ! command -v script >/dev/null; then
		skip "$name" "script(1) not installed"
		return
	fi
	{
		sleep 1
		printf '\001h'
		sleep 1
		printf '\001x'
		sleep 1
	} | timeout -k 5 "$TIMEOUT" script -qfec "stty -g >'$TMP/before'; \
		'$MICA' run --kernel '$GUEST_DIR/uart_rx.elf' --debug-exit; \
		echo \$? >'$TMP/rc'; stty -g >'$TMP/after'" /dev/null >"$OUT" 2>&1
	if [ "$(cat "$TMP/rc" 2>/dev/null)" != 0 ]; then
		fail "$name" "exit status '$(cat "$TMP/rc" 2>/dev/null)' after Ctrl-A x, expected 0 (see $OUT)"
	elif ! grep -q 'Ctrl-A x' "$OUT"; then
		fail "$name" "Ctrl-A h printed no help (see $OUT)"
	elif ! cmp -s "$TMP/before" "$TMP/after"; then
		fail "$name" "terminal settings not restored: $(cat "$TMP/before") -> $(cat "$TMP/after")"
	else
		pass "$name"
	fi
}

# virtio_blk: the guest reads sector 0 of a scratch image through
# virtio-blk and writes sector 1; the image must then hold what it wrote.
virtio_blk() {
	local name=virtio_blk img=$TMP/virtio_blk.img want=$TMP/sector1 i
	{
		printf 'mica-blk-sector0'
		head -c $((64 * 512 - 16)) /dev/zero
	} >"$img"
	{
		printf 'mica-blk-sector1 written by the guest'
		head -c $((64 - 37)) /dev/zero
		for ((i = 64; i < 512; i++)); do
			printf "\\x$(printf %02x $((i & 255)))"
		done
	} >"$want"
	guest "$name" virtio_blk.elf 0 --disk "path=$img" \
		--cmdline "sectors=64" --debug-exit -- "virtio_blk: PASS"
	[ "$RC" = 0 ] || return
	if ! cmp -s <(dd if="$img" bs=512 skip=1 count=1 2>/dev/null) "$want"; then
		fail "$name.image" "sector 1 of the image is not what the guest wrote"
	elif ! cmp -s <(head -c 16 "$img") <(printf 'mica-blk-sector0'); then
		fail "$name.image" "sector 0 of the image changed"
	else
		pass "$name.image"
	fi
}

guest_tests() {
	guest hello hello.elf 0 --cmdline "hello-arg=42 mica test" --debug-exit \
		-- "hello from mica guest" "cmdline: 'hello-arg=42 mica test'" \
		"hello: PASS"
	guest hello.empty-cmdline hello.elf 0 --cmdline "" --debug-exit \
		-- "cmdline: ''"
	guest hello.vcpu-affinity hello.elf 0 --vcpu-affinity 0 --debug-exit \
		-- "hello: PASS"
	guest pio_mmio pio_mmio.elf 0 --debug-exit \
		-- "pio_mmio: rep outsb reached the UART" "pio_mmio: PASS"
	guest long64 long64.bzImage 0 --cmdline "long64 test=yes" --debug-exit \
		-- "long64: entry: 64-bit" \
		"cmdline: 'long64 test=yes'" "long64: PASS"
	if [ -f "$OUT" ] && ! grep -q '^e820: ' "$OUT"; then
		fail long64.e820 "no e820 entries printed"
	fi
	smp 1
	smp 2
	smp 4
	smp 8 madt
	guest hlt_irq hlt_irq.elf 0 --debug-exit -- "hlt_irq: PASS"
	guest pci pci.elf 0 --debug-exit -- "pci: PASS"
	virtio_blk
	guest poweroff poweroff.elf 0 --debug-exit \
		-- "poweroff: last line before S5"
	guest reset.i8042 reset.elf 2 --on-reboot exit --debug-exit -- "booting"
	guest reset.cf9 reset.elf 2 --on-reboot exit --cmdline reset=cf9 \
		--debug-exit -- "booting" "reset: writing 0x06 to port 0xcf9"
	reset_restart reset.restart --on-reboot restart
	reset_restart reset.default
	guest triple triple.elf 3 --debug-exit \
		-- "triple: loading an empty IDT and faulting (de)"
	if [ "$RC" = 3 ] && ! grep -qi 'rip' "$ERR"; then
		fail triple.dump "no register dump (RIP) on stderr (see $ERR)"
	elif [ "$RC" = 3 ]; then
		pass triple.dump
	fi
	uart_rx uart_rx 0
	uart_rx uart_rx.late 2
	tty_escape
}

# Bad input in files: mica must name the file (or the flag) and exit 1.
bad_files() {
	local hello=$GUEST_DIR/hello.elf
	echo "this is not a kernel" >"$TMP/notakernel.txt"
	head -c 1000 "$GUEST_DIR/long64.bzImage" >"$TMP/truncated.bzImage"
	# An ELF32 header for EM_ARM (40) with no program headers.
	{
		printf '\177ELF\001\001\001\000\000\000\000\000\000\000\000\000'
		printf '\002\000\050\000\001\000\000\000\000\000\001\000'
		printf '\000\000\000\000\000\000\000\000\000\000\000\000'
		printf '\064\000\040\000\000\000\050\000\000\000\000\000'
	} >"$TMP/arm.elf"
	truncate -s 32M "$TMP/big.initrd"

	bad kernel-missing 'does-not-exist\.elf' --kernel "$TMP/does-not-exist.elf"
	bad kernel-text 'notakernel\.txt' --kernel "$TMP/notakernel.txt"
	bad kernel-truncated 'truncated\.bzImage' \
		--kernel "$TMP/truncated.bzImage"
	bad kernel-arm-elf 'arm\.elf' --kernel "$TMP/arm.elf"
	bad kernel-no-pvh-note 'nonote\.elf' --kernel "$GUEST_DIR/nonote.elf"
	bad initrd-too-big 'big\.initrd|initrd' --kernel "$hello" \
		--memory 16M --initrd "$TMP/big.initrd"
	bad vcpu-affinity-absent 'vcpu-affinity.*1023' --kernel "$hello" \
		--vcpu-affinity 1023
}

# Bad options: rejected before KVM is needed.
bad_options() {
	local hello=$GUEST_DIR/hello.elf
	bad cpus-zero 'cpus' --kernel "$hello" --cpus 0
	bad cpus-999 'cpus' --kernel "$hello" --cpus 999
	bad memory-12Q 'memory|12Q' --kernel "$hello" --memory 12Q
	bad cmdline-100k 'cmdline|command line' --kernel "$hello" \
		--cmdline "$(head -c 102400 /dev/zero | tr '\0' x)"
	MICA_KVM_DEVICE=/nonexistent bad kvm-missing '/nonexistent|kvm' \
		--kernel "$hello"
}

if [ ! -x "$MICA" ]; then
	fail setup "mica binary '$MICA' not found (make $MICA)"
	exit 1
fi
if [ ! -f "$GUEST_DIR/hello.elf" ] || [ ! -f "$GUEST_DIR/long64.bzImage" ]; then
	fail setup "guests not found in $GUEST_DIR (make guests)"
	exit 1
fi
mkdir -p "$LOGS"
rm -f "$LOGS"/*.out "$LOGS"/*.err "$LOGS"/*.raw

KVM_DEV=${MICA_KVM_DEVICE:-/dev/kvm} # what mica itself will open
if [ ! -c "$KVM_DEV" ]; then
	KVM_PROBLEM="$KVM_DEV is missing"
elif ! { exec 3<>"$KVM_DEV"; } 2>/dev/null; then
	KVM_PROBLEM="$KVM_DEV cannot be opened read-write"
else
	exec 3>&-
	KVM_PROBLEM=
fi
if [ -n "$KVM_PROBLEM" ]; then
	for t in hello pio_mmio long64 smp.1 smp.2 smp.4 smp.madt-8 hlt_irq pci \
		virtio_blk virtio_blk.image poweroff \
		reset.i8042 reset.cf9 reset.restart reset.default triple uart_rx \
		uart_rx.late hello.empty-cmdline hello.vcpu-affinity tty.escape; do
		skip "$t" "$KVM_PROBLEM"
	done
else
	guest_tests
fi
if [ -n "$KVM_PROBLEM" ]; then
	for t in kernel-missing kernel-text kernel-truncated kernel-arm-elf \
		kernel-no-pvh-note initrd-too-big vcpu-affinity-absent; do
		skip "cli.$t" "$KVM_PROBLEM"
	done
else
	bad_files
fi
bad_options

echo "guest tests: $NPASS passed, $NFAIL failed, $NSKIP skipped"
[ "$NFAIL" = 0 ]
