#!/bin/bash
# SPDX-License-Identifier: MIT
# Tier-3 toolstack test (issue 4): micad and the mica CLI with three
# domains of Debian's stock cloud kernel, each with a virtio disk, created
# from xl config files, in the nested KVM host of tests/nested/ (one L1
# boot; or directly on a host with hardware KVM).
#
#   tests/integration/toolstack.sh [--verbose]
#
# Tests (tier3.toolstack.NAME): micad create list console disk pause
# unpause destroy others-run; what each checks is in toolstack-l1.sh.
# L1's initramfs carries build/mica but not micad, so this driver passes
# build/micad, build/mica and the libraries both need (micad's, and the
# ones mica dlopen()s: libmicrohttpd for --api-socket, libcurl for the CLI)
# as a directory in L1's /extra, plus a static tests/tools/unixsock.
# --verbose prints micad's log and every guest's console at the end.
# Prints PASS/FAIL/SKIP lines; exits 1 if anything failed.
set -euo pipefail
. "$(dirname "$0")/../nested/lib.sh"

verbose=0
while [ $# -gt 0 ]; do
	case "$1" in
	--verbose)
		verbose=1
		shift
		;;
	-h | --help)
		nested_usage
		exit 0
		;;
	*) nested_die "unknown argument '$1' (see --help)" ;;
	esac
done

all="micad create list console disk pause unpause destroy others-run"
skip_all() {
	local t
	for t in $all; do echo "SKIP tier3.toolstack.$t: $1"; done
	exit 0
}
[ -x "$MICA_ROOT/build/mica" ] || skip_all "build/mica missing (run make)"
[ -x "$MICA_ROOT/build/micad" ] || skip_all "build/micad missing (run make)"

where=$(nested_where)
echo "toolstack.sh: L2 guests run on: $where (host /dev/kvm: $(nested_host_kvm_kind))"
start=$EPOCHREALTIME
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# /extra/ts: bin/{micad,mica,unixsock}, lib/ (flat; LD_LIBRARY_PATH).
ts=$work/ts
mkdir -p "$ts/bin" "$ts/lib"
cp "$MICA_ROOT/build/micad" "$MICA_ROOT/build/mica" "$ts/bin/"
cp "$(nested_build_tool unixsock)" "$ts/bin/unixsock"
libs() { ldd "$1" | awk '/=> \// { print $3 }'; }
{
	libs "$MICA_ROOT/build/micad"
	libs "$MICA_ROOT/build/mica"
	for l in $MICA_DLOPEN_LIBS; do
		p=$(ldconfig -p | awk -v l="$l" '$1 == l && /x86-64/ && !n++ { print $NF }')
		[ -n "$p" ] || continue
		echo "$p"
		libs "$p"
	done
} | sort -u | while read -r l; do cp -L "$l" "$ts/lib/"; done
echo "VERBOSE=$verbose" >"$work/toolstack.conf"
cp "$MICA_ROOT/tests/integration/toolstack-guest.sh" "$work/"

set +o pipefail
nested_run --timeout 1200 "$MICA_ROOT/tests/integration/toolstack-l1.sh" \
	"$work/toolstack.conf" "$work/toolstack-guest.sh" "$ts" | tee "$work/out"
rc=${PIPESTATUS[0]}
set -o pipefail

echo "toolstack.sh: took $(nested_elapsed "$start")s"
echo "---- summary"
grep -a -E '^(PASS|FAIL|SKIP) tier3\.toolstack\.' "$work/out" | sed 's/^/  /' || true
fails=$(grep -a -c '^FAIL tier3\.toolstack\.' "$work/out" || true)
passes=$(grep -a -c '^PASS tier3\.toolstack\.' "$work/out" || true)
if grep -a -q 'MICA-L1-ERROR: /dev/kvm does not exist' "$work/out"; then
	skip_all "no /dev/kvm in the L1 nested host (QEMU's -cpu max did not expose SVM)"
fi
if [ "$rc" != 0 ] && [ "$fails" = 0 ]; then
	echo "FAIL tier3.toolstack.rig: the test run ended with status $rc (124 = timeout, 125 = L1 stopped early)"
	exit 1
fi
if [ "$passes" = 0 ] && [ "$fails" = 0 ]; then
	grep -a -q '^SKIP tier3\.toolstack\.' "$work/out" && exit 0
	echo "FAIL tier3.toolstack.rig: no test results"
	exit 1
fi
[ "$fails" = 0 ] || exit 1
exit 0
