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
#     --kill-at MARKER     ... or SIGKILL it at once (a crash test) ...
#     --count N            ... N times (default 1)
#     --disk SPEC          a virtio-blk disk, mica's syntax (repeatable):
#                          path=FILE[,readonly=on][,serial=ID][,cache=MODE][,queues=N]
#     --net SPEC           a virtio-net NIC, mica's syntax (repeatable):
#                          user[,hostfwd=tcp:[HADDR]:HPORT-[GADDR]:GPORT]...[,mac=MAC]
#                          or tap=NAME[,mac=MAC]
#     --console virtio     the console is virtio-console's hvc0 (the default
#                          command line then says console=hvc0)
#     --rng on|rate=N      a virtio-rng device (N bytes per second)
#     --wrap "CMD ARGS"    run the VMM under CMD (e.g. "ip netns exec ns");
#                          split at spaces
#     --background         return at once; l2_wait collects the results
#   Sets L2_STATUS (VMM exit status; 124 = timed out), L2_MARKER_MS (ms
#   from VMM start to MICA-L2-INIT, or to the --until/--kill-at marker; -1 =
#   never), L2_TOTAL_MS, L2_LOG, L2_CMD (the VMM command line), and prints a
#   one-line summary. With --background, sets L2_LOG, L2_CMD and L2_PID.
#
# l2_wait              after l2_boot --background: waits for the VMM's end,
#                      then sets L2_STATUS etc. as l2_boot does
# l2_wait_for TEXT [SECS]   waits until the running VMM's log has a line
#                      containing TEXT (default 120 s); status 1 if the VMM
#                      ended or the time ran out first
#
# The VMM command lines come from one function per VMM: l2_cmd_mica and
# l2_cmd_qemu turn the options above into argv (L2_ARGV, shell-quoted).
#
# l2_initrd_with SCRIPT OUT [FILES...]
#   OUT = the L2 initramfs plus a layer holding SCRIPT as /test.sh and FILES
#   in /; boot it with --initrd OUT --test script (the L2 init runs
#   /test.sh, prints "MICA-L2-SCRIPT-DONE rc=N" and powers off).
# l2_virtio_initrd SCRIPT OUT [FILES...]
#   the same with the virtio layer ($L2_VIRTIO_LAYER: Debian's virtio
#   modules, which the L2 init loads first, and the static test tools)
#   between the two
# l2_status_name N     "3: guest crashed" etc. (mica's exit statuses)
# l2_field KEY [LOG]    value of KEY=... from the first MICA-L2-INIT/-INFO/
#                       -VIRTIO line
# l2_count TEXT [LOG]   how many lines of LOG contain TEXT
# l2_pass NAME / l2_fail NAME REASON / l2_skip NAME REASON
#   print "PASS $L2_TEST_PREFIX.NAME", "FAIL ...: REASON" (plus the tail of
#   the last log), "SKIP ...: REASON"; L2_TEST_PREFIX defaults to nested;
#   l2_fail sets L2_ANY_FAILED=1.

L2_LOGDIR=${L2_LOGDIR:-/tmp/l2-logs}
mkdir -p "$L2_LOGDIR"

# busybox ash runs its own applets before it searches PATH, and busybox has
# an ip and a mke2fs that lack what the tests need (ip netns and tuntap;
# mke2fs -d and ext4). L1 has the real ones in /usr/local/bin; a function
# wins over an applet.
for _t in ip mke2fs; do
	if [ -x "/usr/local/bin/$_t" ]; then
		eval "$_t() { /usr/local/bin/$_t \"\$@\"; }"
	fi
done
L2_ANY_FAILED=0
L2_TEST_PREFIX=${L2_TEST_PREFIX:-nested}
L2_DEFAULT_CMDLINE_BASE="console=ttyS0 quiet panic=-1"
L2_VIRTIO_CMDLINE_BASE="console=hvc0 quiet panic=-1"

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
# With virtio devices the machine gets PCIe (pcie=on: a GPEX host bridge
# that the guest finds through ACPI) and the devices are modern-only virtio
# PCI devices like mica's (disable-legacy=on), without option ROMs.

# _l2_q STR: STR quoted for eval.
_l2_q() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# _l2_add ARGS...: append ARGS to L2_ARGV.
_l2_add() {
	for _a in "$@"; do
		L2_ARGV="$L2_ARGV $(_l2_q "$_a")"
	done
}

# _l2_opt SPEC KEY: the value of KEY=... in a comma-separated SPEC ("" if
# absent); _l2_opts SPEC KEY: every value of KEY, one per line.
_l2_opts() {
	printf '%s\n' "$1" | tr ',' '\n' | sed -n "s/^$2=//p"
}
_l2_opt() {
	_l2_opts "$1" "$2" | head -n 1
}

# l2_cmd_mica: mica's command line for the options of l2_boot.
l2_cmd_mica() {
	L2_ARGV=''
	_l2_add "$MICA" run --kernel "$_kernel" --initrd "$_initrd" --cmdline "$_cmdline" \
		--cpus "$_cpus" --memory "$_mem"
	[ -n "$_onreboot" ] && _l2_add --on-reboot "$_onreboot"
	for _d in $_disks; do
		_l2_add --disk "$_d"
	done
	for _n in $_nets; do
		_l2_add --net "$_n"
	done
	[ -n "$_console" ] && _l2_add --console "$_console"
	[ -n "$_rng" ] && _l2_add --rng "$_rng"
	return 0
}

# l2_cmd_qemu: the same guest under QEMU.
l2_cmd_qemu() {
	L2_ARGV=''
	_m=${L2_QEMU_MACHINE:-microvm,rtc=on}
	if [ -n "$_disks$_nets$_console$_rng" ] && [ -z "${L2_QEMU_MACHINE:-}" ]; then
		_m=microvm,rtc=on,pcie=on
	fi
	# QEMU's -m wants M or G; mica's sizes are the same for these.
	_l2_add "$QEMU" -M "$_m" -enable-kvm -cpu host -smp "$_cpus" -m "$_mem" \
		-nodefaults -no-user-config
	if [ "$_console" = virtio ]; then
		_l2_add -display none -serial null -device virtio-serial-pci,disable-legacy=on \
			-chardev stdio,id=vcon,signal=off -device virtconsole,chardev=vcon
	else
		_l2_add -nographic -serial stdio
	fi
	_l2_add -kernel "$_kernel" -initrd "$_initrd" -append "$_cmdline"
	[ "$_onreboot" = exit ] && _l2_add -no-reboot
	_i=0
	for _d in $_disks; do
		_dr="file=$(_l2_opt "$_d" path),if=none,id=disk$_i,format=raw,aio=threads"
		_dr="$_dr,cache=$(_l2_opt "$_d" cache)"
		_dr=${_dr%,cache=}
		[ "$(_l2_opt "$_d" readonly)" = on ] && _dr="$_dr,readonly=on"
		_dev="virtio-blk-pci,drive=disk$_i,disable-legacy=on"
		[ -n "$(_l2_opt "$_d" serial)" ] && _dev="$_dev,serial=$(_l2_opt "$_d" serial)"
		[ -n "$(_l2_opt "$_d" queues)" ] && _dev="$_dev,num-queues=$(_l2_opt "$_d" queues)"
		_l2_add -drive "$_dr" -device "$_dev"
		_i=$((_i + 1))
	done
	_i=0
	for _n in $_nets; do
		case "$_n" in
		user | user,*)
			_nd="user,id=net$_i"
			for _h in $(_l2_opts "$_n" hostfwd); do
				_nd="$_nd,hostfwd=$_h"
			done
			;;
		tap=*)
			_nd="tap,id=net$_i,ifname=$(_l2_opt "$_n" tap),script=no,downscript=no"
			;;
		*)
			echo "l2_cmd_qemu: unknown --net '$_n'" >&2
			return 2
			;;
		esac
		_dev="virtio-net-pci,netdev=net$_i,disable-legacy=on,romfile="
		[ -n "$(_l2_opt "$_n" mac)" ] && _dev="$_dev,mac=$(_l2_opt "$_n" mac)"
		_l2_add -netdev "$_nd" -device "$_dev"
		_i=$((_i + 1))
	done
	case "$_rng" in
	"") ;;
	on)
		_l2_add -object rng-random,id=rng0,filename=/dev/urandom \
			-device virtio-rng-pci,rng=rng0,disable-legacy=on
		;;
	rate=*)
		_l2_add -object rng-random,id=rng0,filename=/dev/urandom \
			-device "virtio-rng-pci,rng=rng0,disable-legacy=on,max-bytes=${_rng#rate=},period=1000"
		;;
	esac
	return 0
}

l2_boot() {
	_name=$1
	shift
	_vmm=${L2_VMM:-mica} _cpus=1 _mem=512M _onreboot='' _test=poweroff _cmdline=''
	_initrd=$L2_INITRD _timeout=120 _until='' _count=1 _killsig=''
	_disks='' _nets='' _console='' _rng='' _wrap='' _bg=0
	while [ $# -gt 1 ]; do
		case "$1" in
		--background)
			_bg=1
			shift
			continue
			;;
		--vmm) _vmm=$2 ;;
		--cpus) _cpus=$2 ;;
		--memory) _mem=$2 ;;
		--on-reboot) _onreboot=$2 ;;
		--test) _test=$2 ;;
		--cmdline) _cmdline=$2 ;;
		--initrd) _initrd=$2 ;;
		--timeout) _timeout=$2 ;;
		--until) _until=$2 _killsig=-k ;;
		--kill-at) _until=$2 _killsig=-K ;;
		--count) _count=$2 ;;
		--disk) _disks="$_disks $2" ;;
		--net) _nets="$_nets $2" ;;
		--console) _console=$2 ;;
		--rng) _rng=$2 ;;
		--wrap) _wrap=$2 ;;
		*)
			echo "l2_boot: unknown option $1" >&2
			return 2
			;;
		esac
		shift 2
	done
	_kernel=$1
	if [ -z "$_cmdline" ]; then
		if [ "$_console" = virtio ]; then
			_cmdline="$L2_VIRTIO_CMDLINE_BASE mica.test=$_test"
		else
			_cmdline="$L2_DEFAULT_CMDLINE_BASE mica.test=$_test"
		fi
	fi
	L2_LOG=$L2_LOGDIR/$_name.log
	L2_NAME=$_name L2_VMM_NAME=$_vmm
	case "$_vmm" in
	mica) l2_cmd_mica || return 2 ;;
	qemu) l2_cmd_qemu || return 2 ;;
	*)
		echo "l2_boot: unknown VMM '$_vmm'" >&2
		return 2
		;;
	esac
	L2_CMD=$L2_ARGV
	# shellcheck disable=SC2086
	eval "set -- $_wrap $L2_ARGV"
	if [ -n "$_until" ]; then
		set -- -m "$_until" -n "$_count" $_killsig -- "$@"
	else
		set -- -m MICA-L2-INIT -- "$@"
	fi
	rm -f "$L2_LOG" "$L2_LOG.time"
	if [ "$_bg" = 1 ]; then
		"$BOOTTIME" -t "$_timeout" -o "$L2_LOG" "$@" 2>"$L2_LOG.time" &
		L2_PID=$!
		return 0
	fi
	"$BOOTTIME" -t "$_timeout" -o "$L2_LOG" "$@" 2>"$L2_LOG.time"
	L2_STATUS=$?
	_l2_collect
	return 0
}

# _l2_collect: the timings of the last VMM run from boottime's line.
_l2_collect() {
	# The last line is boottime's own; exec errors come before it.
	_t=$(tail -n 1 "$L2_LOG.time" 2>/dev/null)
	L2_MARKER_MS=$(echo "$_t" | sed -n 's/.*marker_ms=\([-0-9]*\).*/\1/p')
	L2_TOTAL_MS=$(echo "$_t" | sed -n 's/.*total_ms=\([0-9]*\).*/\1/p')
	[ -n "$L2_MARKER_MS" ] || L2_MARKER_MS=-1
	[ -n "$L2_TOTAL_MS" ] || L2_TOTAL_MS=-1
	echo "l2: $L2_NAME vmm=$L2_VMM_NAME status=$L2_STATUS marker=$(l2_ms "$L2_MARKER_MS") total=$(l2_ms "$L2_TOTAL_MS")"
}

l2_wait() {
	wait "$L2_PID"
	L2_STATUS=$?
	L2_PID=''
	_l2_collect
}

l2_wait_for() {
	_w=$(( ${2:-120} * 10 ))
	while [ "$_w" -gt 0 ]; do
		grep -q -F "$1" "$L2_LOG" 2>/dev/null && return 0
		if [ -n "${L2_PID:-}" ] && ! kill -0 "$L2_PID" 2>/dev/null; then
			grep -q -F "$1" "$L2_LOG" 2>/dev/null
			return
		fi
		sleep 0.1
		_w=$((_w - 1))
	done
	return 1
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

l2_virtio_initrd() {
	_out=$2
	if [ -z "${L2_VIRTIO_LAYER:-}" ] || [ ! -f "$L2_VIRTIO_LAYER" ]; then
		echo "l2_virtio_initrd: no virtio layer (L2_VIRTIO_LAYER='${L2_VIRTIO_LAYER:-}')" >&2
		return 1
	fi
	l2_initrd_with "$@" || return 1
	# The layers in order: base, virtio, test (later files win).
	_base=$(stat -c %s "$L2_INITRD")
	tail -c +$((_base + 1)) "$_out" >"$_out.test"
	cat "$L2_INITRD" "$L2_VIRTIO_LAYER" "$_out.test" >"$_out"
	rm -f "$_out.test"
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
	grep -E 'MICA-L2-(INIT|INFO|VIRTIO)' "${2:-$L2_LOG}" | tr -d '\r' | tr ' ' '\n' |
		sed -n "s/^$1=//p" | head -n 1
}

l2_count() {
	grep -c -F "$1" "${2:-$L2_LOG}" 2>/dev/null || true
}

l2_pass() { echo "PASS $L2_TEST_PREFIX.$1"; }
l2_skip() { echo "SKIP $L2_TEST_PREFIX.$1: $2"; }
l2_fail() {
	echo "FAIL $L2_TEST_PREFIX.$1: $2"
	L2_ANY_FAILED=1
	if [ -n "${L2_LOG:-}" ] && [ -f "$L2_LOG" ]; then
		echo "---- last lines of $L2_LOG ($(cat "$L2_LOG.time" 2>/dev/null | tr '\n' ' '))"
		tail -n 25 "$L2_LOG" | tr -d '\r' | sed 's/^/  | /'
		echo "----"
	fi
}
