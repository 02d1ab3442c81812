#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tier 3: the README's demo, scripted. Commands are typed into the guest
# shell through a pipe; the guest must answer them and power off, and mica
# must exit 0.
set -uo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x build/mica ]; then
	echo "SKIP nested.demo: build/mica missing"
	exit 0
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
printf 'uname -r\ngrep -c ^processor /proc/cpuinfo\necho demo-$((6 * 7))\npoweroff\n' |
	timeout 300 tests/nested/demo >"$out" 2>&1
if ! grep -q 'demo: mica exited with status 0' "$out"; then
	tail -20 "$out"
	echo "FAIL nested.demo: mica did not exit 0 after the guest's poweroff"
elif ! grep -q '^demo-42' "$out" || ! grep -qx '2' <(tr -d '\r' <"$out"); then
	tail -20 "$out"
	echo "FAIL nested.demo: the guest shell did not answer the typed commands"
else
	echo "PASS nested.demo"
fi
