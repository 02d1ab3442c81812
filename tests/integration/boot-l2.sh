#!/bin/sh
# Tier-3 boot tests, the part that runs where L2 guests can boot (inside the
# L1 nested host, or on a host with hardware KVM): several stock-kernel
# boots in sequence, each bounded by a timeout. Driven by
# tests/integration/boot.sh, which passes boot.conf (L2_VMM, ONLY).
# Prints "PASS nested.NAME", "FAIL nested.NAME: reason", "SKIP ...".
. "$NESTED_LIB"
[ -f "$EXTRA/boot.conf" ] && . "$EXTRA/boot.conf"
L2_VMM=${L2_VMM:-mica}
export L2_VMM
ONLY=${ONLY:-}

# What a reboot with "exit" looks like: mica exits 2; QEMU's -no-reboot 0.
# A VMM stopped by SIGTERM: mica exits 4; QEMU 0.
if [ "$L2_VMM" = mica ]; then
	exp_reboot=2 exp_term=4
else
	exp_reboot=0 exp_term=0
fi

want() {
	[ -z "$ONLY" ] && return 0
	case ",$ONLY," in *",$1,"*) return 0 ;; esac
	return 1
}

vmm_bin=$MICA
[ "$L2_VMM" = qemu ] && vmm_bin=$QEMU
if [ ! -c /dev/kvm ]; then
	for t in cloud-bzimage std-bzimage pvh-elf reboot-exit reboot-restart memory-5g clock topology; do
		want $t && l2_skip $t "/dev/kvm missing ($NESTED_WHERE)"
	done
	exit 0
fi
if [ -z "$vmm_bin" ] || [ ! -x "$vmm_bin" ]; then
	for t in cloud-bzimage std-bzimage pvh-elf reboot-exit reboot-restart memory-5g clock topology; do
		want $t && l2_skip $t "no $L2_VMM binary (build/mica missing: run make)"
	done
	exit 0
fi

# check_boot NAME CPUS: the last boot reached init with CPUS processors and
# powered off cleanly.
check_boot() {
	if [ "$L2_STATUS" = 124 ]; then
		l2_fail "$1" "timed out (no power-off)"
	elif [ "$(l2_count MICA-L2-INIT)" -lt 1 ]; then
		l2_fail "$1" "no MICA-L2-INIT line (status $(l2_status_name "$L2_STATUS"))"
	elif [ "$(l2_field cpus)" != "$2" ]; then
		l2_fail "$1" "guest saw cpus=$(l2_field cpus), expected $2"
	elif [ "$L2_STATUS" != 0 ]; then
		l2_fail "$1" "VMM exit status $(l2_status_name "$L2_STATUS") after the guest's poweroff, expected 0"
	else
		l2_pass "$1"
	fi
}

# (a) cloud bzImage (LZ4), 2 vCPUs. Its log also serves (f) and (g).
if want cloud-bzimage || want clock || want topology; then
	l2_boot cloud-bzimage --cpus 2 --memory 512M --timeout 150 "$L2_CLOUD_BZ"
	l1_date=$(date +%s)
	want cloud-bzimage && check_boot cloud-bzimage 2
	cloud_log=$L2_LOG cloud_ms=$L2_TOTAL_MS

	# (f) the guest's clock: its `date +%s` at init against ours after the run.
	if want clock; then
		L2_LOG=$cloud_log
		g=$(l2_field date)
		if [ -z "$g" ]; then
			l2_fail clock "no date= in the guest's MICA-L2-INFO line"
		else
			# The guest printed its date at most the run's length before ours.
			d=$((l1_date - g))
			slack=$((cloud_ms / 1000 + 180))
			if [ "$d" -lt -180 ] || [ "$d" -gt "$slack" ]; then
				l2_fail clock "guest date $g, $NESTED_WHERE date $l1_date (difference ${d}s)"
			else
				echo "clock: guest $g, $NESTED_WHERE $l1_date after the run (${d}s)"
				l2_pass clock
			fi
		fi
	fi

	# (g) topology of 2 vCPUs: 2 processors; siblings and cpu cores the same
	# on every CPU and consistent (siblings a multiple of cores, processors
	# a multiple of siblings).
	if want topology; then
		L2_LOG=$cloud_log
		n=$(l2_field processors) s=$(l2_field siblings) c=$(l2_field cores) p=$(l2_field packages)
		echo "topology: processors=$n siblings=$s cpu_cores=$c packages=$p"
		case "$s$c" in
		*,*) l2_fail topology "CPUs disagree: siblings=$s cpu cores=$c" ;;
		*)
			if [ "$n" != 2 ]; then
				l2_fail topology "expected 2 processors, got '$n'"
			elif [ -z "$s" ] || [ -z "$c" ] || [ "$s" -lt 1 ] || [ "$c" -lt 1 ]; then
				l2_fail topology "missing siblings/cpu cores fields (siblings='$s' cores='$c')"
			elif [ $((s % c)) != 0 ] || [ $((n % s)) != 0 ] || [ "$s" -lt "$c" ]; then
				l2_fail topology "incoherent: processors=$n siblings=$s cpu cores=$c"
			elif [ -n "$p" ] && [ "$p" -gt 0 ] && [ $((p * s)) != "$n" ]; then
				l2_fail topology "incoherent: $p packages x $s siblings != $n processors"
			else
				l2_pass topology
			fi
			;;
		esac
	fi
fi

# (b) Debian's standard kernel: an XZ-compressed bzImage.
if want std-bzimage; then
	l2_boot std-bzimage --cpus 2 --memory 512M --timeout 240 "$L2_STD_BZ"
	check_boot std-bzimage 2
fi

# (c) PVH: the cloud kernel's uncompressed vmlinux ELF.
if want pvh-elf; then
	l2_boot pvh-elf --cpus 2 --memory 512M --timeout 150 "$L2_CLOUD_ELF"
	check_boot pvh-elf 2
fi

# (d) reboot: with --on-reboot exit the VMM exits with status 2; with
# restart the guest boots again (the init marker appears twice; we then
# stop the VMM with SIGTERM).
if want reboot-exit; then
	l2_boot reboot-exit --test reboot --on-reboot exit --timeout 150 "$L2_CLOUD_BZ"
	if [ "$(l2_count MICA-L2-INIT)" -lt 1 ]; then
		l2_fail reboot-exit "no MICA-L2-INIT line (status $(l2_status_name "$L2_STATUS"))"
	elif [ "$L2_STATUS" != "$exp_reboot" ]; then
		l2_fail reboot-exit "exit status $(l2_status_name "$L2_STATUS"), expected $exp_reboot"
	elif [ "$(l2_count MICA-L2-INIT)" != 1 ]; then
		l2_fail reboot-exit "the guest booted $(l2_count MICA-L2-INIT) times"
	else
		l2_pass reboot-exit
	fi
fi
if want reboot-restart; then
	l2_boot reboot-restart --test reboot --on-reboot restart --until MICA-L2-INIT --count 2 \
		--timeout 240 "$L2_CLOUD_BZ"
	if [ "$L2_MARKER_MS" -lt 0 ]; then
		l2_fail reboot-restart "MICA-L2-INIT seen $(l2_count MICA-L2-INIT) times, expected 2 (status $(l2_status_name "$L2_STATUS"))"
	elif [ "$L2_STATUS" = 124 ]; then
		l2_fail reboot-restart "the VMM did not stop on SIGTERM"
	elif [ "$L2_STATUS" != "$exp_term" ]; then
		l2_fail reboot-restart "exit status $(l2_status_name "$L2_STATUS") after SIGTERM, expected $exp_term"
	else
		l2_pass reboot-restart
	fi
fi

# (e) more than 4 GiB of guest RAM (so RAM continues above the 32-bit hole).
if want memory-5g; then
	l2_boot memory-5g --memory 5G --timeout 150 "$L2_CLOUD_BZ"
	m=$(l2_field mem)
	if [ "$(l2_count MICA-L2-INIT)" -lt 1 ]; then
		l2_fail memory-5g "no MICA-L2-INIT line (status $(l2_status_name "$L2_STATUS"))"
	elif [ "${m:-0}" -le 4718592 ]; then
		l2_fail memory-5g "MemTotal ${m} kB, expected more than 4.5 GiB (4718592 kB)"
	elif [ "$L2_STATUS" != 0 ]; then
		l2_fail memory-5g "VMM exit status $(l2_status_name "$L2_STATUS") after the guest's poweroff, expected 0"
	else
		echo "memory-5g: MemTotal $m kB"
		l2_pass memory-5g
	fi
fi

exit 0
