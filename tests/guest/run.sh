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

	# Devices whose host side fails: named, one message, status 1.
	mkdir -p "$TMP/adir"
	truncate -s 1M "$TMP/disk.img"
	bad disk-missing 'nodisk\.img' --kernel "$hello" \
		--disk "$TMP/nodisk.img"
	bad disk-directory 'adir' --kernel "$hello" --disk "$TMP/adir"
	# A first mica holds the image (an OFD lock) and a hostfwd port.
	local port=$((20000 + RANDOM % 20000)) holder
	"$MICA" run --kernel "$hello" --disk "$TMP/disk.img" \
		--net "user,hostfwd=tcp:127.0.0.1:$port-:80" </dev/null \
		>/dev/null 2>&1 &
	holder=$!
	for _ in $(seq 100); do
		grep -q OFDLCK /proc/locks && break
		sleep 0.1
	done
	bad disk-locked 'disk\.img.*in use' --kernel "$hello" \
		--disk "$TMP/disk.img"
	bad hostfwd-busy "hostfwd.*$port" --kernel "$hello" \
		--net "user,hostfwd=tcp:127.0.0.1:$port-:80"
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
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
	bad disk-bad-key "--disk.*'bogus'" --kernel "$hello" \
		--disk path=x.img,bogus=1
	bad net-bad-hostfwd "hostfwd='tcp:80'" --kernel "$hello" \
		--net user,hostfwd=tcp:80
	bad net-bad-mac "mac='01:" --kernel "$hello" \
		--net user,mac=01:00:00:00:00:01
	bad rng-bad "--rng" --kernel "$hello" --rng sometimes
	bad console-bad "--console" --kernel "$hello" --console hvc0
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
		kernel-no-pvh-note initrd-too-big vcpu-affinity-absent \
		disk-missing disk-directory disk-locked hostfwd-busy; do
		skip "cli.$t" "$KVM_PROBLEM"
	done
else
	bad_files
fi
bad_options

# ---- control API and console socket (issue 4) -----------------------------
# mica run --api-socket/--console-socket with the counter guest: pause stops
# its count and resume restarts it, the console socket replays its history
# to a client that attaches late and passes input, stats count exits, the
# power button makes the guest power off (status 0), reboot honours
# --on-reboot exit (status 2), stop works on a paused VM (status 0), a
# socket in use is refused, and mica removes its sockets at exit. The client
# is tests/tools/unixsock.c (raw HTTP/1.1 over the socket; no curl needed).
CTL_PIDS=()

ctl_cleanup() {
	local p
	for p in "${CTL_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	CTL_PIDS=()
}

# ctl_start NAME [mica args...]: counter guest with both sockets, in the
# background; waits for the sockets. Sets CTL_API, CTL_CON, OUT, ERR.
ctl_start() {
	local name=$1 i
	shift
	OUT=$LOGS/$name.out
	ERR=$LOGS/$name.err
	CTL_API=$TMP/$name.api
	CTL_CON=$TMP/$name.con
	timeout -k 5 "$TIMEOUT" "$MICA" run --kernel "$GUEST_DIR/counter.elf" \
		--api-socket "$CTL_API" --console-socket "$CTL_CON" \
		--debug-exit "$@" </dev/null >"$OUT.raw" 2>"$ERR" &
	CUR_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$CTL_API" ] && [ -S "$CTL_CON" ] && return 0
		kill -0 "$CUR_PID" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

# api METHOD PATH [BODY]: sets API_STATUS and API_BODY.
api() {
	local body=${3:-} resp
	resp=$(printf '%s %s HTTP/1.1\r\nHost: mica\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s' \
		"$1" "$2" "${#body}" "$body" | "$UNIXSOCK" -t 10000 "$CTL_API")
	API_STATUS=$(printf '%s\n' "$resp" | head -n 1 | cut -d ' ' -f 2)
	API_BODY=${resp##*$'\r\n\r\n'}
}

# api_expect NAME STATUS METHOD PATH [BODY]: FAIL unless the status is right.
api_expect() {
	local name=$1 want=$2
	shift 2
	api "$@"
	[ "$API_STATUS" = "$want" ] && return 0
	fail "$name" "$1 $2: status '$API_STATUS', expected $want; body '$API_BODY'"
	return 1
}

# Highest "counter N" in a console capture, or -1.
last_count() {
	local n
	n=$(tr -d '\r' <"$1" | grep -o '^counter [0-9]*$' | tail -n 1 | cut -d ' ' -f 2)
	echo "${n:--1}"
}

# wait_count FILE N: until the capture shows a count above N (20 s at most).
wait_count() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(last_count "$1")" -gt "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# ctl_finish NAME WANT_RC: waits for mica, checks its status and that both
# sockets are gone.
ctl_finish() {
	local name=$1 want=$2
	finish_run
	ctl_cleanup
	check_run "$name" "$want" || return 1
	if [ -e "$CTL_API" ] || [ -e "$CTL_CON" ]; then
		fail "$name" "a socket file is left after exit"
		return 1
	fi
	pass "$name"
}

control_main() {
	local cap=$TMP/ctl.cap n1 n2 exits i
	if ! ctl_start control; then
		fail control.start "sockets not created (see $LOGS/control.err)"
		finish_run
		return
	fi
	"$UNIXSOCK" -t 60000 "$CTL_CON" </dev/null >"$cap" &
	CTL_PIDS+=($!)
	if ! wait_count "$cap" 5; then
		fail control.console "no 'counter' lines through the console socket"
		kill -TERM "$CUR_PID"
		ctl_finish control.exit 4
		return
	fi
	pass control.console
	api_expect control.info 200 GET /v1/vm &&
		if [[ "$API_BODY" == *'"state":"running"'* ]]; then
			pass control.info
		else
			fail control.info "unexpected body '$API_BODY'"
		fi
	if api_expect control.pause 200 PUT /v1/vm/pause; then
		# Output written before the pause drains to the capture first.
		n1=$(last_count "$cap")
		for ((i = 0; i < 20; i++)); do
			sleep 0.5
			n2=$(last_count "$cap")
			[ "$n1" = "$n2" ] && break
			n1=$n2
		done
		sleep 1.5
		n2=$(last_count "$cap")
		api GET /v1/vm
		if [ "$n1" != "$n2" ]; then
			fail control.pause "the count went on while paused ($n1 -> $n2)"
		elif [[ "$API_BODY" != *'"state":"paused"'* ]]; then
			fail control.pause "state after pause: '$API_BODY'"
		else
			pass control.pause
		fi
		api_expect control.pause-again 409 PUT /v1/vm/pause &&
			pass control.pause-again
		if api_expect control.resume 200 PUT /v1/vm/resume; then
			if wait_count "$cap" "$n2"; then
				pass control.resume
			else
				fail control.resume "the count did not go on after resume (stuck at $n2)"
			fi
		fi
	fi
	if api_expect control.stats 200 GET /v1/vm/stats; then
		exits=$(printf '%s' "$API_BODY" | grep -o '"exits":[0-9]*' | head -n 1 | cut -d : -f 2)
		if [ "${exits:-0}" -gt 0 ] && [[ "$API_BODY" == *'"cpu_ns":'* ]]; then
			pass control.stats
		else
			fail control.stats "no exits counted: '$API_BODY'"
		fi
	fi
	api_expect control.bad-json 400 PUT /v1/vm/pause '{"x":' &&
		pass control.bad-json
	api_expect control.not-found 404 GET /v1/nothing && pass control.not-found
	# Detach, let the guest count on, attach again: the history comes
	# first (from counter 0, still in the 64K ring), then live output.
	ctl_cleanup
	n1=$(last_count "$cap")
	sleep 0.5
	if "$UNIXSOCK" -t 20000 -u "counter $((n1 + 20))" "$CTL_CON" </dev/null \
		>"$TMP/ctl.reattach" && tr -d '\r' <"$TMP/ctl.reattach" |
		grep -qx 'counter 0'; then
		pass control.console-reattach
	else
		fail control.console-reattach "no history or no live output after re-attaching (see $TMP/ctl.reattach)"
	fi
	if printf 'q' | "$UNIXSOCK" -k -t 20000 -u "got 'q'" "$CTL_CON" >/dev/null; then
		pass control.console-input
	else
		fail control.console-input "the guest did not echo input sent through the socket"
	fi
	# Graceful shutdown: the guest polls PWRBTN_STS and writes S5.
	"$UNIXSOCK" -t 30000 "$CTL_CON" </dev/null >"$cap" &
	CTL_PIDS+=($!)
	sleep 0.2
	api_expect control.power-button 202 PUT /v1/vm/power-button
	finish_run
	wait "${CTL_PIDS[@]}" 2>/dev/null
	CTL_PIDS=()
	if check_run control.power-button 0; then
		if grep -q 'counter: power button' "$cap"; then
			pass control.power-button
		else
			fail control.power-button "the guest did not see the button (see $cap)"
		fi
	fi
	if [ -e "$CTL_API" ] || [ -e "$CTL_CON" ]; then
		fail control.sockets-removed "a socket file is left after exit"
	else
		pass control.sockets-removed
	fi
}

control_reboot_and_stop() {
	local err2=$LOGS/control.in-use.err
	if ctl_start control.reboot --on-reboot exit; then
		api_expect control.reboot 202 PUT /v1/vm/reboot
		ctl_finish control.reboot 2
	else
		fail control.reboot "sockets not created"
		finish_run
	fi
	if ! ctl_start control.stop-paused; then
		fail control.stop-paused "sockets not created"
		finish_run
		return
	fi
	# The same API socket again, while this mica serves it.
	timeout -k 5 "$TIMEOUT" "$MICA" run --kernel "$GUEST_DIR/counter.elf" \
		--api-socket "$CTL_API" </dev/null >/dev/null 2>"$err2"
	local rc=$?
	if [ "$rc" = 1 ] && grep -qi 'in use' "$err2"; then
		pass control.socket-in-use
	else
		fail control.socket-in-use "status $rc; stderr '$(head -n 1 "$err2")'"
	fi
	api_expect control.stop-paused 200 PUT /v1/vm/pause
	api_expect control.stop-paused 202 PUT /v1/vm/stop
	ctl_finish control.stop-paused 0
}

control_tests() {
	UNIXSOCK=$TMP/unixsock
	if ! ${CC:-cc} -O2 -D_GNU_SOURCE -o "$UNIXSOCK" tests/tools/unixsock.c \
		2>"$TMP/unixsock.err"; then
		fail control.setup "cannot build tests/tools/unixsock.c: $(head -n 1 "$TMP/unixsock.err")"
		return
	fi
	control_main
	control_reboot_and_stop
	ctl_cleanup
}

if [ -n "$KVM_PROBLEM" ]; then
	for t in console info pause pause-again resume stats bad-json not-found \
		console-reattach console-input power-button sockets-removed \
		reboot socket-in-use stop-paused; do
		skip "control.$t" "$KVM_PROBLEM"
	done
elif [ ! -f "$GUEST_DIR/counter.elf" ]; then
	fail control.setup "counter.elf not found in $GUEST_DIR (make guests)"
else
	control_tests
fi
# ---- end of the control API section -------------------------------------

echo "guest tests: $NPASS passed, $NFAIL failed, $NSKIP skipped"
[ "$NFAIL" = 0 ]
