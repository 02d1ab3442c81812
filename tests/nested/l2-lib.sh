# Helpers for the scripts that run-l1 runs inside L1 (or that run directly on
# a host with hardware KVM). POSIX sh: busybox ash in L1, dash on a host.
# Source it with:  . "$NESTED_LIB"
#
# Environment (set by L1's /init or by tests/nested/lib.sh on a host):
#   MICA QEMU BOOTTIME L2_CLOUD_BZ L2_CLOUD_ELF L2_STD_BZ L2_INITRD
#   NESTED_WHERE (l1|host) EXTRA L2_LOGDIR
#
# l2_boot NAME [options] KERNEL
#   Boots KERNEL with the L2 initramfs under a VMM, bounded by a timeout,
#   console output in $L2_LOGDIR/NAME.log. Options:
#     --vmm mica|qemu      default $L2_VMM, else mica
#     --cpus N             default 1
#     --memory SIZE        default 512M (mica syntax; K/M/G suffixes)
#     --on-reboot MODE     mica's --on-reboot (qemu: exit -> -no-reboot)
#     --test MODE          mica.test= of the L2 init (default poweroff)
#     --cmdline STR        the whole kernel command line (overrides --test)
#     --initrd PATH        default $L2_INITRD
#     --timeout SECS       default 120
#     --until MARKER       stop the VMM (SIGTERM) once MARKER was seen ...
#     --count N            ... N times (default 1)
#   Sets L2_STATUS (VMM exit status; 124 = timed out), L2_MARKER_MS (ms
#   from VMM start to MICA-L2-INIT, or to the --until marker; -1 = never),
#   L2_TOTAL_MS, L2_LOG, and prints a one-line summary.
#
# l2_initrd_with SCRIPT OUT [FILES...]
#   OUT = the L2 initramfs plus a layer holding SCRIPT as /test.sh and FILES
#   in /; boot it with --initrd OUT --test script (the L2 init runs
#   /test.sh, prints "MICA-L2-SCRIPT-DONE rc=N" and powers off).
# l2_status_name N     "3: guest crashed" etc. (mica's exit statuses)
# l2_field KEY [LOG]    value of KEY=... from the first MICA-L2-INIT/-INFO line
# l2_count TEXT [LOG]   how many lines of LOG contain TEXT
# l2_pass NAME / l2_fail NAME REASON / l2_skip NAME REASON
#   print "PASS nested.NAME", "FAIL nested.NAME: REASON" (plus the tail of
#   the last log), "SKIP nested.NAME: REASON"; l2_fail sets L2_ANY_FAILED=1.

L2_LOGDIR=${L2_LOGDIR:-/tmp/l2-logs}
mkdir -p "$L2_LOGDIR"
L2_ANY_FAILED=0
L2_DEFAULT_CMDLINE_BASE="console=ttyS0 quiet panic=-1"

# The QEMU command (for comparison with mica) that boots the same kernel and
# initramfs (L2_QEMU_MACHINE overrides the -M value):
#   qemu-system-x86_64 -M microvm,rtc=on -enable-kvm -cpu host -smp N -m M
#     -nodefaults -no-user-config -nographic -serial stdio
#     -kernel K -initrd I -append C [-no-reboot]
# microvm's ISA serial port is the console; its ACPI (acpi=auto is on) gives
# the guest the power-off that poweroff -f uses. rtc=on matters: with KVM,
# microvm leaves the CMOS RTC out by default (rtc=auto), and the kernel's
# rtc_cmos driver then spends about 14 s of this rig's time probing for it.
# -no-reboot turns a guest reboot into an exit (status 0).

l2_boot() {
	_name=$1
	shift
	_vmm=${L2_VMM:-mica} _cpus=1 _mem=512M _onreboot='' _test=poweroff _cmdline=''
	_initrd=$L2_INITRD _timeout=120 _until='' _count=1
	while [ $# -gt 1 ]; do
		case "$1" in
		--vmm) _vmm=$2 ;;
		--cpus) _cpus=$2 ;;
		--memory) _mem=$2 ;;
		--on-reboot) _onreboot=$2 ;;
		--test) _test=$2 ;;
		--cmdline) _cmdline=$2 ;;
		--initrd) _initrd=$2 ;;
		--timeout) _timeout=$2 ;;
		--until) _until=$2 ;;
		--count) _count=$2 ;;
		*)
			echo "l2_boot: unknown option $1" >&2
			return 2
			;;
		esac
		shift 2
	done
	_kernel=$1
	[ -n "$_cmdline" ] || _cmdline="$L2_DEFAULT_CMDLINE_BASE mica.test=$_test"
	L2_LOG=$L2_LOGDIR/$_name.log
	case "$_vmm" in
	mica)
		set -- "$MICA" run --kernel "$_kernel" --initrd "$_initrd" --cmdline "$_cmdline" \
			--cpus "$_cpus" --memory "$_mem"
		[ -n "$_onreboot" ] && set -- "$@" --on-reboot "$_onreboot"
		;;
	qemu)
		# QEMU's -m wants M or G; mica's sizes are the same for these.
		set -- "$QEMU" -M "${L2_QEMU_MACHINE:-microvm,rtc=on}" -enable-kvm -cpu host -smp "$_cpus" -m "$_mem" \
			-nodefaults -no-user-config -nographic -serial stdio \
			-kernel "$_kernel" -initrd "$_initrd" -append "$_cmdline"
		[ "$_onreboot" = exit ] && set -- "$@" -no-reboot
		;;
	*)
		echo "l2_boot: unknown VMM '$_vmm'" >&2
		return 2
		;;
	esac
	if [ -n "$_until" ]; then
		set -- -m "$_until" -n "$_count" -k -- "$@"
	else
		set -- -m MICA-L2-INIT -- "$@"
	fi
	"$BOOTTIME" -t "$_timeout" -o "$L2_LOG" "$@" 2>"$L2_LOG.time"
	L2_STATUS=$?
	# The last line is boottime's own; exec errors come before it.
	_t=$(tail -n 1 "$L2_LOG.time")
	L2_MARKER_MS=$(echo "$_t" | sed -n 's/.*marker_ms=\([-0-9]*\).*/\1/p')
	L2_TOTAL_MS=$(echo "$_t" | sed -n 's/.*total_ms=\([0-9]*\).*/\1/p')
	[ -n "$L2_MARKER_MS" ] || L2_MARKER_MS=-1
	[ -n "$L2_TOTAL_MS" ] || L2_TOTAL_MS=-1
	echo "l2: $_name vmm=$_vmm status=$L2_STATUS marker=$(l2_ms "$L2_MARKER_MS") total=$(l2_ms "$L2_TOTAL_MS")"
	return 0
}

l2_initrd_with() {
	_script=$1 _out=$2
	shift 2
	_d=$(mktemp -d)
	cp "$_script" "$_d/test.sh"
	[ $# -gt 0 ] && cp "$@" "$_d/"
	(cd "$_d" && find . | cpio -o -H newc 2>/dev/null) >"$_d.cpio" || return 1
	cat "$L2_INITRD" "$_d.cpio" >"$_out"
	rm -rf "$_d" "$_d.cpio"
}

# l2_status_name STATUS: what a mica exit status means.
l2_status_name() {
	case "$1" in
	0) echo "0: guest powered off" ;;
	1) echo "1: VMM error" ;;
	2) echo "2: guest rebooted" ;;
	3) echo "3: guest crashed" ;;
	4) echo "4: killed by a signal" ;;
	124) echo "124: timed out" ;;
	127) echo "127: VMM not found" ;;
	*) echo "$1" ;;
	esac
}

# l2_ms MS: "12.3s", or "never" for -1.
l2_ms() {
	if [ "$1" -lt 0 ]; then
		echo never
	else
		echo "$1" | awk '{ printf "%.1fs", $1 / 1000 }'
	fi
}

l2_field() {
	grep -E 'MICA-L2-(INIT|INFO)' "${2:-$L2_LOG}" | tr -d '\r' | tr ' ' '\n' |
		sed -n "s/^$1=//p" | head -n 1
}

l2_count() {
	grep -c -F "$1" "${2:-$L2_LOG}" 2>/dev/null || true
}

l2_pass() { echo "PASS nested.$1"; }
l2_skip() { echo "SKIP nested.$1: $2"; }
l2_fail() {
	echo "FAIL nested.$1: $2"
	L2_ANY_FAILED=1
	if [ -n "${L2_LOG:-}" ] && [ -f "$L2_LOG" ]; then
		echo "---- last lines of $L2_LOG ($(cat "$L2_LOG.time" 2>/dev/null | tr '\n' ' '))"
		tail -n 25 "$L2_LOG" | tr -d '\r' | sed 's/^/  | /'
		echo "----"
	fi
}
