#!/bin/sh
# SPDX-License-Identifier: MIT
# Tier-3 virtio tests, the part that runs where L2 guests can boot (inside
# the L1 nested host, or on a host with hardware KVM). Driven by
# tests/integration/virtio.sh, which passes virtio.conf (L2_VMM, ONLY),
# payload.bin (4 MiB of random bytes) and virtio-guest.sh (the guest's
# /test.sh). Five L2 boots of Debian's cloud kernel with its own virtio
# modules:
#   blk       two disks (an ext4 image made here with mkfs.ext4 -d, written
#             by the guest; a read-only one) and virtio-rng
#             -> modules, ext4, readonly, rng
#   crash     the guest streams fsync'ed records and acknowledges each on
#             the console; the VMM is SIGKILLed mid-stream
#             -> crash-flush
#   net-user  slirp: DHCP, HTTP from L1's loopback, hostfwd to a guest server
#             -> net-user-dhcp, net-user-http, net-user-hostfwd
#   net-tap   a tap device in a network namespace
#             -> net-tap-http, net-tap-server
#   console   console=hvc0 on virtio-console
#             -> console-hvc0
# Prints "PASS tier3.virtio.NAME", "FAIL tier3.virtio.NAME: reason", "SKIP ...".
. "$NESTED_LIB"
L2_TEST_PREFIX=tier3.virtio
[ -f "$EXTRA/virtio.conf" ] && . "$EXTRA/virtio.conf"
L2_VMM=${L2_VMM:-mica}
export L2_VMM
ONLY=${ONLY:-}
VERBOSE=${VERBOSE:-0}
ALL="modules ext4 readonly rng crash-flush net-user-dhcp net-user-http net-user-hostfwd net-tap-http net-tap-server console-hvc0"

want() {
	[ -z "$ONLY" ] && return 0
	case ",$ONLY," in *",$1,"*) return 0 ;; esac
	return 1
}
skip_all() {
	for t in $ALL; do
		want "$t" && l2_skip "$t" "$1"
	done
	exit 0
}

vmm_bin=$MICA
[ "$L2_VMM" = qemu ] && vmm_bin=$QEMU
[ -c /dev/kvm ] || skip_all "/dev/kvm missing ($NESTED_WHERE)"
if [ -z "$vmm_bin" ] || [ ! -x "$vmm_bin" ]; then
	skip_all "no $L2_VMM binary"
fi
for t in mke2fs e2fsck debugfs ip tcpxfer fsync-stream busybox sha256sum; do
	command -v $t >/dev/null 2>&1 || {
		for n in $ALL; do want "$n" && l2_fail "$n" "tool '$t' missing in $NESTED_WHERE"; done
		exit 1
	}
done

work=$TMPDIR/virtio
rm -rf "$work"
mkdir -p "$work"
payload=$EXTRA/payload.bin
payload_sha=$(sha256sum "$payload" | cut -d' ' -f1)
kernel=$L2_CLOUD_BZ
initrd=$work/initrd.cpio
if ! l2_virtio_initrd "$EXTRA/virtio-guest.sh" "$initrd" "$payload"; then
	for n in $ALL; do want "$n" && l2_fail "$n" "could not build the L2 initramfs"; done
	exit 1
fi

# vt KEY [LOG]: the rest of the first "MICA-VT KEY ..." line of the log.
vt() {
	tr -d '\r' <"${2:-$L2_LOG}" |
		awk -v k="$1" '$1 == "MICA-VT" && $2 == k { sub(/^MICA-VT [^ ]* ?/, ""); print; exit }'
}
cmdline() {
	echo "console=ttyS0 quiet panic=-1 mica.test=script mica.vtest=$1"
}
# check_ran NAME...: the last boot ran its script to the end and powered
# off; otherwise fail every NAME and return 1. Notes the guest's uptime at
# its init first (how much of the marker time was the guest kernel's).
check_ran() {
	echo "l2-info: $L2_NAME: guest uptime at init $(l2_field uptime)s"
	_why=''
	if [ "$L2_STATUS" = 124 ]; then
		_why="timed out"
	elif [ "$(l2_count MICA-L2-SCRIPT-DONE)" -lt 1 ]; then
		_why="the guest script did not finish (VMM status $(l2_status_name "$L2_STATUS"))"
	elif [ "$L2_STATUS" != 0 ]; then
		_why="VMM exit status $(l2_status_name "$L2_STATUS") after the guest's poweroff, expected 0"
	fi
	[ -z "$_why" ] && return 0
	for _n in "$@"; do
		want "$_n" && l2_fail "$_n" "$_why"
	done
	return 1
}
# expect NAME KEY VALUE: the guest reported "MICA-VT KEY VALUE".
expect() {
	_got=$(vt "$2")
	if [ "$_got" = "$3" ]; then
		return 0
	fi
	l2_fail "$1" "guest said '$2 $_got', expected '$3'"
	return 1
}

# A seed tree for the ext4 images: files of several sizes and their sums.
seed=$work/seed
mkdir -p "$seed/sub"
head -c 300000 "$payload" >"$seed/part.bin"
echo "made in $NESTED_WHERE by mkfs.ext4 -d" >"$seed/readme.txt"
seq 1 5000 >"$seed/sub/numbers.txt"
(cd "$seed" && sha256sum part.bin readme.txt sub/numbers.txt >SHA256SUMS)
mkimg() { mke2fs -q -t ext4 -d "$seed" -F "$1" "$2" >/dev/null 2>&1; }

# ---- blk: modules, ext4, readonly, rng
if want modules || want ext4 || want readonly || want rng; then
	rw=$work/rw.img ro=$work/ro.img
	mkimg "$rw" 32M && mkimg "$ro" 16M || echo "virtio: mke2fs failed"
	ro_sum=$(sha256sum "$ro" | cut -d' ' -f1)
	l2_boot blk --memory 512M --timeout 180 --initrd "$initrd" --cmdline "$(cmdline blk)" \
		--disk "path=$rw,serial=vt-rw" --disk "path=$ro,readonly=on,serial=vt-ro" \
		--rng on "$kernel"
	if check_ran modules ext4 readonly rng; then
		if want modules; then
			loaded=$(l2_field loaded) failed=$(l2_field failed)
			missing=''
			for m in virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
				virtio_blk failover net_failover virtio_net virtio_console virtio-rng; do
				case ",$loaded," in *",$m,"*) ;; *) missing="$missing $m" ;; esac
			done
			devs=$(vt devices)
			if [ -n "$missing" ] || [ -n "$failed" ]; then
				l2_fail modules "not loaded:$missing (insmod failed: $failed)"
			elif [ "$devs" != "2:virtio_blk 2:virtio_blk 4:virtio_rng " ] &&
				[ "$devs" != "2:virtio_blk 2:virtio_blk 4:virtio_rng" ]; then
				l2_fail modules "virtio devices (type:driver) '$devs', expected two 2:virtio_blk and 4:virtio_rng"
			else
				echo "modules: $loaded; devices: $devs"
				l2_pass modules
			fi
		fi
		if want ext4; then
			out=$work/rw-payload.bin
			rm -f "$out"
			debugfs -R "dump /payload.bin $out" "$rw" >/dev/null 2>&1
			hello=$(debugfs -R "cat /hello.txt" "$rw" 2>/dev/null)
			seqsum=$(debugfs -R "cat /dir/seq.txt" "$rw" 2>/dev/null | sha256sum | cut -d' ' -f1)
			fsck_out=$(e2fsck -fn "$rw" 2>&1)
			fsck_rc=$?
			disks_ok=1
			case "$(vt disks)" in
			"rw=vd"?" ro=vd"?) ;;
			*)
				disks_ok=0
				l2_fail ext4 "the guest did not find both disks by their serials (GET_ID): '$(vt disks)'"
				;;
			esac
			if [ "$disks_ok" = 1 ] && expect ext4 ext4-seed ok &&
				expect ext4 ext4-write ok && expect ext4 ext4-reread ok; then
				if [ "$fsck_rc" != 0 ]; then
					l2_fail ext4 "e2fsck -fn of the image after the guest's writes: status $fsck_rc: $(echo "$fsck_out" | tail -n 3 | tr '\n' ' ')"
				elif [ ! -f "$out" ] || [ "$(sha256sum "$out" | cut -d' ' -f1)" != "$payload_sha" ]; then
					l2_fail ext4 "debugfs: /payload.bin in the image differs from what the guest wrote"
				elif [ "$hello" != "written by the L2 guest" ]; then
					l2_fail ext4 "debugfs: /hello.txt says '$hello'"
				elif [ "$seqsum" != "$(seq 1 1000 | sha256sum | cut -d' ' -f1)" ]; then
					l2_fail ext4 "debugfs: /dir/seq.txt differs"
				else
					l2_pass ext4
				fi
			fi
		fi
		if want readonly; then
			now=$(sha256sum "$ro" | cut -d' ' -f1)
			if expect readonly ro-flag 1 && expect readonly ro-dd-write refused &&
				expect readonly ro-touch refused && expect readonly ro-read ok; then
				if [ "$now" != "$ro_sum" ]; then
					l2_fail readonly "the read-only image changed (sha256 $ro_sum -> $now)"
				else
					l2_pass readonly
				fi
			fi
		fi
		if want rng; then
			r=$(vt rng)
			n=$(echo "$r" | sed -n 's/.*bytes=\([0-9]*\).*/\1/p')
			d=$(echo "$r" | sed -n 's/.*distinct=\([0-9]*\).*/\1/p')
			cur=$(vt rng-current)
			if [ "${n:-0}" != 1024 ]; then
				l2_fail rng "read ${n:-0} of 1024 bytes from /dev/hwrng (rng_current '$cur')"
			elif [ "${d:-0}" -lt 150 ]; then
				l2_fail rng "1024 bytes from /dev/hwrng have only $d distinct values"
			else
				echo "rng: $cur, 1024 bytes, $d distinct values"
				l2_pass rng
			fi
		fi
	fi
fi

# ---- crash: acknowledged durable writes survive a SIGKILL of the VMM
if want crash-flush; then
	img=$work/crash.img
	mkimg "$img" 32M
	# The VMM is killed at the 40th acknowledgement (more may be printed
	# before the signal lands; all of them count).
	l2_boot crash --memory 512M --timeout 240 --initrd "$initrd" --cmdline "$(cmdline crash)" \
		--disk "path=$img,serial=vt-crash" --kill-at STREAM-ACK --count 40 "$kernel"
	acked=$(tr -d '\r' <"$L2_LOG" | sed -n 's/^STREAM-ACK \([0-9]*\)$/\1/p' | tail -n 1)
	if [ "$L2_MARKER_MS" -lt 0 ]; then
		l2_fail crash-flush "the guest acknowledged ${acked:-no} records, the test waits for 40 (status $(l2_status_name "$L2_STATUS"); guest: $(vt crash-mount)$(vt crash-stream-ended))"
	elif [ "$L2_STATUS" = 124 ]; then
		l2_fail crash-flush "the VMM did not die on SIGKILL"
	else
		# Replay the journal as a mount would, then the file system must be
		# consistent and hold every acknowledged record.
		e2fsck -E journal_only -y "$img" >"$work/crash-replay.txt" 2>&1
		fsck_out=$(e2fsck -fn "$img" 2>&1)
		fsck_rc=$?
		rm -f "$work/stream.dat"
		debugfs -R "dump /stream.dat $work/stream.dat" "$img" >/dev/null 2>&1
		if [ "$fsck_rc" != 0 ]; then
			l2_fail crash-flush "e2fsck -fn after the journal replay: status $fsck_rc: $(echo "$fsck_out" | tail -n 4 | tr '\n' ' ')"
		elif [ ! -f "$work/stream.dat" ]; then
			l2_fail crash-flush "no /stream.dat in the image after the kill ($acked records were acknowledged)"
		elif check=$(fsync-stream check "$work/stream.dat" "$acked"); then
			echo "crash-flush: killed after $acked acknowledged records; $check"
			l2_pass crash-flush
		else
			l2_fail crash-flush "$check"
		fi
	fi
fi

# run_net NAME WRAP NETSPEC CLIENT_ADDR CLIENT_PORT: boot a net test in the
# background, fetch the guest's file from its server with CLIENT (prefixed by
# WRAP), wait for the end.
run_net() {
	_name=$1 _wrap=$2 _net=$3 _caddr=$4 _cport=$5
	set -- --memory 512M --timeout 180 --initrd "$initrd" --cmdline "$(cmdline "$_name") mica.httpport=18080" \
		--net "$_net" --background
	[ -n "$_wrap" ] && set -- "$@" --wrap "$_wrap"
	l2_boot "$_name" "$@" "$kernel"
	client_rc=none
	rm -f "$work/$_name-client.bin"
	# tcpxfer prints this after listen(): a connection through slirp's
	# hostfwd before that would be refused by the guest and reach L1's
	# client as an empty stream.
	if l2_wait_for "tcpxfer: listening on 8080" 150; then
		# shellcheck disable=SC2086
		$_wrap tcpxfer connect "$_caddr" "$_cport" -t 60 --recv -o "$work/$_name-client.bin" \
			>"$work/$_name-client.txt" 2>&1
		client_rc=$?
	fi
	l2_wait
}
# check_client NAME BOOT: in the boot named BOOT, L1's client got the
# guest's payload byte for byte.
check_client() {
	_got=''
	[ -f "$work/$2-client.bin" ] && _got=$(sha256sum "$work/$2-client.bin" | cut -d' ' -f1)
	if [ "$client_rc" = none ]; then
		l2_fail "$1" "the guest's server never became ready"
	elif [ "$client_rc" != 0 ]; then
		l2_fail "$1" "L1's client failed (status $client_rc): $(tr '\n' ' ' <"$work/$2-client.txt")"
	elif [ "$_got" != "$payload_sha" ]; then
		l2_fail "$1" "L1's client got $(wc -c <"$work/$2-client.bin") bytes with sha256 $_got, expected the 4 MiB payload"
	else
		echo "$1: $(cat "$work/$2-client.txt")"
		l2_pass "$1"
	fi
}
# check_fetch NAME: the guest's HTTP fetch from L1 was byte for byte.
check_fetch() {
	_f=$(vt http-fetch)
	if [ "$_f" = "sha=$payload_sha bytes=4194304" ]; then
		l2_pass "$1"
	else
		l2_fail "$1" "guest's fetch from L1's httpd: '$_f'"
	fi
}

mkdir -p "$work/www"
cp "$payload" "$work/www/payload.bin"

# ---- net-user: slirp
if want net-user-dhcp || want net-user-http || want net-user-hostfwd; then
	busybox httpd -f -p 127.0.0.1:18080 -h "$work/www" &
	hpid=$!
	run_net net-user '' "user,hostfwd=tcp:127.0.0.1:18081-:8080,mac=52:54:00:12:34:56" 127.0.0.1 18081
	kill "$hpid" 2>/dev/null
	wait "$hpid" 2>/dev/null
	if check_ran net-user-dhcp net-user-http net-user-hostfwd; then
		if want net-user-dhcp; then
			d=$(vt dhcp)
			case "$d" in
			"ip=10.0.2.15 router=10.0.2.2 dns=10.0.2.3")
				expect net-user-dhcp addr 10.0.2.15/24 && l2_pass net-user-dhcp
				;;
			*) l2_fail net-user-dhcp "lease '$d', expected ip=10.0.2.15 router=10.0.2.2 dns=10.0.2.3" ;;
			esac
		fi
		want net-user-http && check_fetch net-user-http
		want net-user-hostfwd && check_client net-user-hostfwd net-user
	fi
fi

# ---- net-tap: a tap device in a network namespace
if want net-tap-http || want net-tap-server; then
	ns=mica-vt
	ip netns del $ns 2>/dev/null
	if ! { ip netns add $ns && ip -n $ns link set lo up &&
		ip -n $ns tuntap add dev vtap0 mode tap &&
		ip -n $ns addr add 10.1.0.1/24 dev vtap0 &&
		ip -n $ns link set vtap0 up; } >"$work/netns.txt" 2>&1; then
		for n in net-tap-http net-tap-server; do
			want $n && l2_fail $n "setting up the tap in a netns failed: $(tr '\n' ' ' <"$work/netns.txt")"
		done
	else
		ip netns exec $ns busybox httpd -f -p 10.1.0.1:18080 -h "$work/www" &
		hpid=$!
		run_net net-tap "ip netns exec $ns" "tap=vtap0,mac=52:54:00:12:34:57" 10.1.0.2 8080
		kill "$hpid" 2>/dev/null
		wait "$hpid" 2>/dev/null
		if check_ran net-tap-http net-tap-server; then
			want net-tap-http && check_fetch net-tap-http
			want net-tap-server && check_client net-tap-server net-tap
		fi
	fi
	ip netns del $ns 2>/dev/null
fi

# ---- console: hvc0
if want console-hvc0; then
	l2_boot console --memory 512M --timeout 180 --initrd "$initrd" --console virtio \
		--cmdline "console=hvc0 quiet panic=-1 mica.test=script mica.vtest=console" "$kernel"
	if check_ran console-hvc0; then
		c=$(vt console)
		lines=$(tr -d '\r' <"$L2_LOG" | grep -c '^MICA-VT-LINE [0-9]*$')
		inorder=$(tr -d '\r' <"$L2_LOG" | sed -n 's/^MICA-VT-LINE \([0-9]*\)$/\1/p' | tr '\n' ' ')
		case "$c" in
		"active=hvc0 consoles=hvc0,")
			if [ "$lines" != 500 ] || [ "$inorder" != "$(seq 1 500 | tr '\n' ' ')" ]; then
				l2_fail console-hvc0 "the 500-line burst came out as $lines lines, or out of order"
			else
				l2_pass console-hvc0
			fi
			;;
		*) l2_fail console-hvc0 "guest's console: '$c', expected active=hvc0 consoles=hvc0," ;;
		esac
	fi
fi

# --verbose: every guest's console, for a post-mortem.
if [ "$VERBOSE" = 1 ]; then
	for f in "$L2_LOGDIR"/*.log; do
		echo "==== $f ($(cat "$f.time" 2>/dev/null))"
		tr -d '\r' <"$f" | sed 's/^/  > /'
	done
fi
exit 0
