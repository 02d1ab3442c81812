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
skip_all() { nested_skip_all tier3.toolstack "$all" "" "$1"; }
[ -x "$MICA_ROOT/build/mica" ] || skip_all "build/mica missing (run make)"
[ -x "$MICA_ROOT/build/micad" ] || skip_all "build/micad missing (run make)"

where=$(nested_where)
echo "toolstack.sh: L2 guests run on: $where (host /dev/kvm: $(nested_host_kvm_kind))"
start=$EPOCHREALTIME
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

nested_toolstack_bundle "$work/ts"
echo "VERBOSE=$verbose" >"$work/toolstack.conf"
cp "$MICA_ROOT/tests/integration/toolstack-guest.sh" "$work/"

nested_run_logged "$work/out" --timeout 1200 "$MICA_ROOT/tests/integration/toolstack-l1.sh" \
	"$work/toolstack.conf" "$work/toolstack-guest.sh" "$work/ts"

echo "toolstack.sh: took $(nested_elapsed "$start")s"
nested_verdict tier3.toolstack "$all" "" "$work/out" "$NESTED_RC"
