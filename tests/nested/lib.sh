# Shared helpers for the nested-KVM test rig (sourced by the scripts in
# tests/nested/, tests/integration/ and bench/). Bash only.
#
# Paths:
#   MICA_ROOT      the repository root
#   NESTED_BUILD   build/nested, where every artefact of the rig goes
#   KERNELS_DIR    build/nested/kernels/{cloud,std}

MICA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NESTED_DIR="$MICA_ROOT/tests/nested"
NESTED_BUILD="$MICA_ROOT/build/nested"
KERNELS_DIR="$NESTED_BUILD/kernels"

nested_log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
nested_die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# nested_need_root WHAT: the rig makes device nodes and installs packages.
nested_need_root() {
	[ "$(id -u)" = 0 ] || nested_die "$1 must run as root (it installs packages with apt-get and creates device nodes)"
}

# nested_pkg_installed PKG
nested_pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# nested_need_pkgs PKG...: install the Debian packages that are missing,
# quietly; runs `apt-get update` once when the package lists are empty or the
# first install attempt fails.
nested_need_pkgs() {
	local missing=() p
	for p in "$@"; do
		nested_pkg_installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	nested_need_root "installing ${missing[*]}"
	nested_log "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
		apt-get update -qq || nested_die "apt-get update failed"
	fi
	if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
		apt-get update -qq || nested_die "apt-get update failed"
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
			nested_die "apt-get install ${missing[*]} failed"
	fi
}

# nested_apt_update_once: for apt-cache lookups that need the package lists.
nested_apt_update_once() {
	if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
		nested_need_root "apt-get update"
		apt-get update -qq || nested_die "apt-get update failed"
	fi
}

# nested_host_kvm_kind: prints "hardware" when this host's /dev/kvm can boot
# a stock kernel directly (kvm_intel or kvm_amd without kvm_pvm), "pvm" when
# it is the PVM nested backend that cannot, "none" when there is no /dev/kvm.
nested_host_kvm_kind() {
	if [ ! -c /dev/kvm ]; then
		echo none
	elif [ -d /sys/module/kvm_pvm ]; then
		echo pvm
	elif [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; then
		echo hardware
	else
		echo pvm
	fi
}

# nested_now: seconds since the epoch with microseconds (bash 5).
nested_now() { printf '%s\n' "$EPOCHREALTIME"; }

# nested_elapsed START: seconds since START, one decimal.
nested_elapsed() {
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

# nested_stamp FILE...: a fingerprint of files (path, size, mtime), for
# cache invalidation.
nested_stamp() {
	local f
	for f in "$@"; do
		if [ -e "$f" ]; then
			stat -L -c '%n %s %Y' "$f"
		else
			echo "$f missing"
		fi
	done | sha256sum | cut -d' ' -f1
}

# nested_busybox_tree DIR: a minimal root with busybox-static and a link for
# every applet, plus the usual mount points. /dev/console is created when
# running as root (the init scripts also reopen it from devtmpfs).
nested_busybox_tree() {
	local root="$1" bb=/bin/busybox a
	file_is_static() { ! ldd "$1" >/dev/null 2>&1; }
	[ -x "$bb" ] || nested_die "/bin/busybox missing (package busybox-static)"
	file_is_static "$bb" || nested_die "/bin/busybox is not static: install busybox-static (not busybox)"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,root,lib,lib64,mnt}
	cp "$bb" "$root/bin/busybox"
	for a in $("$bb" --list-full); do
		[ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
	done
	if [ "$(id -u)" = 0 ]; then
		mknod -m 600 "$root/dev/console" c 5 1
		mknod -m 666 "$root/dev/null" c 1 3
	fi
}

# nested_cpio DIR OUT: an uncompressed newc archive of DIR (owned by root).
# Uncompressed on purpose: the L1 kernel runs under TCG, where gunzip of a
# large initramfs costs seconds; copying costs nothing.
nested_cpio() {
	local dir="$1" out="$2"
	(cd "$dir" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc --quiet -R 0:0) >"$out.tmp" || nested_die "cpio of $dir failed"
	mv "$out.tmp" "$out"
}

# nested_copy_with_libs BIN ROOT DEST: copy BIN to ROOT/DEST and the shared
# libraries ldd lists (and the dynamic loader) to the same paths under ROOT.
nested_copy_with_libs() {
	local bin="$1" root="$2" dest="$3" lib
	mkdir -p "$root/$(dirname "$dest")"
	cp -L "$bin" "$root/$dest"
	chmod 755 "$root/$dest"
	if ldd "$bin" >/dev/null 2>&1; then
		for lib in $(ldd "$bin" | awk '/=> \// { print $3 } /^[[:space:]]*\// { print $1 }'); do
			mkdir -p "$root/$(dirname "$lib")"
			cp -L "$lib" "$root/$lib"
		done
	fi
}

# Libraries mica loads with dlopen() when a VM or command needs them
# (src/util/dynlib.h): ldd does not list them.
MICA_DLOPEN_LIBS="libslirp.so.0 libmicrohttpd.so.12 libcurl.so.4"

# nested_dlopen_lib_path SONAME: the host path of the x86-64 library SONAME
# (empty when there is none). awk reads all of ldconfig's output: an early
# exit would kill ldconfig with SIGPIPE, which pipefail and set -e turn into
# a silent failure of the whole script.
nested_dlopen_lib_path() {
	ldconfig -p | awk -v l="$1" '$1 == l && /x86-64/ && !n++ { print $NF }'
}

# nested_copy_dlopen_libs ROOT: those libraries and what they link, into
# ROOT at their host paths.
nested_copy_dlopen_libs() {
	local root="$1" soname path lib
	for soname in $MICA_DLOPEN_LIBS; do
		path=$(nested_dlopen_lib_path "$soname")
		[ -n "$path" ] || nested_die "$soname not found (scripts/install-deps installs it)"
		for lib in "$path" $(ldd "$path" | awk '/=> \// { print $3 }'); do
			mkdir -p "$root/$(dirname "$lib")"
			cp -L "$lib" "$root/$lib"
		done
	done
}

# nested_toolstack_bundle DIR: what the toolstack runs pass in L1's /extra:
# DIR/bin/{micad,mica,unixsock} (build/ and a static tests/tools/unixsock)
# and DIR/lib with the libraries micad and mica link and the ones mica
# dlopen()s, flat (for LD_LIBRARY_PATH): L1's initramfs carries no micad.
nested_toolstack_bundle() {
	local ts="$1" b l p
	mkdir -p "$ts/bin" "$ts/lib"
	cp "$MICA_ROOT/build/micad" "$MICA_ROOT/build/mica" "$ts/bin/"
	cp "$(nested_build_tool unixsock)" "$ts/bin/unixsock"
	{
		for b in micad mica; do
			ldd "$MICA_ROOT/build/$b" | awk '/=> \// { print $3 }'
		done
		for l in $MICA_DLOPEN_LIBS; do
			p=$(nested_dlopen_lib_path "$l")
			[ -n "$p" ] || continue
			echo "$p"
			ldd "$p" | awk '/=> \// { print $3 }'
		done
	} | sort -u | while read -r l; do cp -L "$l" "$ts/lib/"; done
}

# nested_build_tool NAME|SRC.c [CFLAGS...]: build tests/tools/NAME.c (or
# SRC.c) static into build/nested/tools/NAME when missing or older than its
# source; prints the path. These tools run in the L1 and L2 busybox
# initramfs (no libc there).
nested_build_tool() {
	local name src out
	case "$1" in
	*.c)
		src="$1"
		name=$(basename "$1" .c)
		;;
	*)
		name="$1"
		src="$MICA_ROOT/tests/tools/$1.c"
		;;
	esac
	shift
	out="$NESTED_BUILD/tools/$name"
	[ -f "$src" ] || nested_die "no tool source $src"
	if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
		nested_need_pkgs gcc libc6-dev
		mkdir -p "$NESTED_BUILD/tools"
		gcc -static -s -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror "$@" \
			-o "$out.tmp" "$src" || nested_die "building $src failed"
		mv "$out.tmp" "$out"
	fi
	echo "$out"
}

# The static tools of the virtio tests and benchmarks (tests/tools/), in the
# L1 initramfs's /usr/local/bin and the L2 virtio layer's.
NESTED_VIRTIO_TOOLS="tcpxfer blkbench fsync-stream"

# nested_build_virtio_tools: builds them; prints their paths.
nested_build_virtio_tools() {
	local t
	for t in $NESTED_VIRTIO_TOOLS; do
		case "$t" in
		blkbench) nested_build_tool "$t" -pthread ;;
		*) nested_build_tool "$t" ;;
		esac
	done
}

# nested_where: where L2 guests run: "host" when this host's /dev/kvm boots
# stock kernels (hardware KVM), else "l1" (inside run-l1's nested host).
# MICA_NESTED_WHERE=host|l1 overrides the choice.
nested_where() {
	case "${MICA_NESTED_WHERE:-}" in
	host | l1)
		echo "$MICA_NESTED_WHERE"
		return
		;;
	"") ;;
	*) nested_die "MICA_NESTED_WHERE must be host or l1, not '$MICA_NESTED_WHERE'" ;;
	esac
	if [ "$(nested_host_kvm_kind)" = hardware ]; then
		echo host
	else
		echo l1
	fi
}

# nested_run [--timeout SECS] [--with-qemu] SCRIPT [FILES...]
#   Runs SCRIPT (POSIX sh, see tests/nested/README.md) where L2 guests can
#   boot: directly on this host when it has hardware KVM, otherwise inside
#   the L1 nested host via run-l1. Same environment and /extra files either
#   way; output on stdout; returns SCRIPT's status (run-l1's 124/125 on a
#   rig failure).
nested_run() {
	local timeout=900 with_qemu=0 script extra rc=0
	while [ $# -gt 0 ]; do
		case "$1" in
		--timeout)
			timeout=$2
			shift 2
			;;
		--with-qemu)
			with_qemu=1
			shift
			;;
		*) break ;;
		esac
	done
	script=$(realpath "$1")
	shift
	if [ "$(nested_where)" = l1 ]; then
		local a=(--timeout "$timeout")
		[ "$with_qemu" = 1 ] && a+=(--with-qemu)
		"$NESTED_DIR/run-l1" "${a[@]}" "$script" "$@" || rc=$?
		return "$rc"
	fi
	"$NESTED_DIR/fetch-kernels" >/dev/null
	mkdir -p "$NESTED_BUILD/logs"
	extra=$(mktemp -d "$NESTED_BUILD/host-run.XXXXXX")
	[ $# -gt 0 ] && cp -a "$@" "$extra/"
	(
		MICA=
		[ -x "$MICA_ROOT/build/mica" ] && MICA="$MICA_ROOT/build/mica"
		QEMU=
		[ "$with_qemu" = 1 ] && QEMU=$(command -v qemu-system-x86_64 || true)
		BOOTTIME=$(nested_build_tool boottime)
		L2_INITRD=$("$NESTED_DIR/mkinitramfs-l2")
		L2_VIRTIO_LAYER=$("$NESTED_DIR/mkinitramfs-l2-virtio")
		PATH="$NESTED_BUILD/tools:$PATH"
		nested_build_virtio_tools >/dev/null
		L2_CLOUD_BZ="$KERNELS_DIR/cloud/vmlinuz"
		L2_CLOUD_ELF="$KERNELS_DIR/cloud/vmlinux"
		L2_STD_BZ="$KERNELS_DIR/std/vmlinuz"
		NESTED_LIB="$NESTED_DIR/l2-lib.sh"
		NESTED_WHERE=host
		EXTRA="$extra"
		L2_LOGDIR="$NESTED_BUILD/logs/l2"
		TMPDIR="$extra"
		export MICA QEMU BOOTTIME L2_INITRD L2_CLOUD_BZ L2_CLOUD_ELF L2_STD_BZ \
			NESTED_LIB NESTED_WHERE EXTRA L2_LOGDIR TMPDIR L2_VIRTIO_LAYER PATH
		cd "$extra"
		timeout --foreground -k 10 "$timeout" sh "$script"
	) || rc=$?
	rm -rf "$extra"
	return "$rc"
}

# nested_usage: print the comment block at the top of the running script.
nested_usage() {
	awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
}

# nested_skip_all PREFIX TESTS ONLY REASON: "SKIP PREFIX.NAME: REASON" for
# each NAME of TESTS (space-separated) that ONLY selects (comma-separated
# names; empty: all); then exit 0.
nested_skip_all() {
	local t
	for t in $2; do
		if [ -z "$3" ] || [[ ",$3," == *",$t,"* ]]; then
			echo "SKIP $1.$t: $4"
		fi
	done
	exit 0
}

# nested_run_logged OUT [--timeout SECS] [--with-qemu] SCRIPT [FILES...]:
# nested_run with its output shown and also appended to OUT; its status
# goes to NESTED_RC. Returns 0, so that the caller's set -e, which stays in
# force in the run itself, does not end the caller.
nested_run_logged() {
	local out="$1" pf
	shift
	pf=$(shopt -po pipefail || true)
	set +o pipefail
	nested_run "$@" | tee -a "$out"
	# shellcheck disable=SC2034 # read by the caller
	NESTED_RC=${PIPESTATUS[0]}
	eval "$pf"
}

# nested_verdict PREFIX TESTS ONLY OUT RC: the end of a tier-3 driver whose
# run (status RC) printed its results, "PASS|FAIL|SKIP PREFIX.NAME", into
# OUT. Prints them and the "l2:" boot lines again, indented so that
# tests/run counts each result once, then exits: with SKIP lines (as
# nested_skip_all) when L1 had no /dev/kvm; 1 when a test failed, or when
# the run failed or gave no result with no test failure to say why (a
# "PREFIX.rig" failure); else 0.
nested_verdict() {
	local prefix="$1" tests="$2" only="$3" out="$4" rc="$5" re fails passes
	local why="the test run ended with status $rc (124 = timeout, 125 = L1 stopped early)"
	re=${prefix//./\\.}
	echo "---- summary"
	grep -a -E "^(l2: |(PASS|FAIL|SKIP) $re\.)" "$out" | sed 's/^/  /' || true
	fails=$(grep -a -c "^FAIL $re\." "$out" || true)
	passes=$(grep -a -c "^PASS $re\." "$out" || true)
	if grep -a -q 'MICA-L1-ERROR: /dev/kvm does not exist' "$out"; then
		nested_skip_all "$prefix" "$tests" "$only" \
			"no /dev/kvm in the L1 nested host (QEMU's -cpu max did not expose SVM)"
	fi
	if [ "$rc" != 0 ]; then
		if [ "$fails" = 0 ]; then
			echo "FAIL $prefix.rig: $why"
		else
			echo "  ($why)"
		fi
		exit 1
	fi
	if [ "$passes" = 0 ] && [ "$fails" = 0 ]; then
		grep -a -q "^SKIP $re\." "$out" && exit 0
		echo "FAIL $prefix.rig: no test results"
		exit 1
	fi
	[ "$fails" = 0 ] || exit 1
	exit 0
}

# nested_lock NAME: serialise builders of the same artefacts (two test runs
# started at once); the lock goes with the process.
nested_lock() {
	mkdir -p "$NESTED_BUILD"
	exec 9>"$NESTED_BUILD/.lock-$1"
	flock 9
}
