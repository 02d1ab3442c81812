#!/usr/bin/env bash
# Startup latency and memory overhead on this host's /dev/kvm, mica and QEMU
# side by side in one run:
#   - start to first guest instruction: time from fork to the first byte
#     the guest's first instruction sends to the serial console, median of
#     REPS alternating runs (also the whole run, exec to exit);
#   - VMM overhead: RSS of the VMM minus the RSS of its guest-RAM mapping,
#     with a guest that has touched 16 MiB and then halts.
# Writes the table to build/bench/startup.txt. Timings are not asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-20}
out=build/bench
mkdir -p "$out"

scripts/install-deps
make -s -j2 build/mica
for g in first_insn idle; do
	gcc -m32 -c -o "$out/$g.o" bench/guest/$g.S
	ld -m elf_i386 -T bench/guest/bench.ld -o "$out/$g.elf" "$out/$g.o"
done
gcc -O2 -o "$out/firstout" bench/tools/firstout.c

qemu=$(command -v qemu-system-x86_64 || true)
mica_first=(build/mica run --kernel "$out/first_insn.elf" --memory 64M --debug-exit)
qemu_first=("$qemu" -M microvm -accel kvm -m 64M -nodefaults -no-user-config
	-display none -serial stdio -kernel "$out/first_insn.elf"
	-device isa-debug-exit,iobase=0xf4,iosize=4)

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# Alternate the two VMMs so that drift in the machine's load hits both.
: >"$out/mica_first.txt"
: >"$out/qemu_first.txt"
for ((i = 0; i < REPS; i++)); do
	"$out/firstout" "${mica_first[@]}" >>"$out/mica_first.txt"
	[ -n "$qemu" ] && "$out/firstout" "${qemu_first[@]}" >>"$out/qemu_first.txt"
done
# field NAME FILE: the median of NAME=value over the runs in FILE.
field() { sed -n "s/.*$1=\([0-9-]*\).*/\1/p" "$2" | median; }
mica_us=$(field first_us "$out/mica_first.txt")
mica_total=$(field total_us "$out/mica_first.txt")
qemu_us=$( [ -s "$out/qemu_first.txt" ] && field first_us "$out/qemu_first.txt" || echo 0)
qemu_total=$( [ -s "$out/qemu_first.txt" ] && field total_us "$out/qemu_first.txt" || echo 0)

# VMM RSS minus its largest anonymous mapping (guest RAM), in KiB.
overhead_kib() {
	local pid=$1
	awk '
		/^[0-9a-f]+-[0-9a-f]+ / { size = 0; anon = ($6 == "") }
		/^Size:/ { size = $2 }
		/^Rss:/ { total += $2; if (anon && size > big) { big = size; bigrss = $2 } }
		END { print total - bigrss, total, bigrss }' "/proc/$pid/smaps"
}

# Starts a VMM with the idle guest, waits for "ready", prints overhead.
measure_idle() {
	local log pid
	log=$(mktemp)
	"$@" </dev/null >"$log" 2>&1 &
	pid=$!
	for ((t = 0; t < 300; t++)); do
		grep -q ready "$log" && break
		sleep 0.1
	done
	if grep -q ready "$log"; then overhead_kib "$pid"; else echo "0 0 0"; fi
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -f "$log"
}

read -r mica_ovh mica_rss mica_guest < <(measure_idle build/mica run --kernel "$out/idle.elf" --memory 256M)
if [ -n "$qemu" ]; then
	read -r qemu_ovh qemu_rss qemu_guest < <(measure_idle "$qemu" -M microvm -accel kvm -m 256M \
		-nodefaults -no-user-config -display none -serial stdio -kernel "$out/idle.elf")
else
	qemu_ovh=0 qemu_rss=0 qemu_guest=0
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
{
	echo "mica vs QEMU $( [ -n "$qemu" ] && "$qemu" --version | head -1 | awk '{print $4}') on this host's /dev/kvm, $REPS alternating runs"
	printf '%-44s %12s %12s %8s\n' metric mica qemu mica/qemu
	printf '%-44s %12s %12s %8s\n' "start to first guest instruction (ms, median)" \
		"$(awk -v v="$mica_us" 'BEGIN{printf "%.2f", v/1000}')" \
		"$(awk -v v="$qemu_us" 'BEGIN{printf "%.2f", v/1000}')" "$(ratio "$mica_us" "$qemu_us")"
	printf '%-44s %12s %12s %8s\n' "whole run, exec to exit (ms, median)" \
		"$(awk -v v="$mica_total" 'BEGIN{printf "%.2f", v/1000}')" \
		"$(awk -v v="$qemu_total" 'BEGIN{printf "%.2f", v/1000}')" "$(ratio "$mica_total" "$qemu_total")"
	printf '%-44s %12s %12s %8s\n' "VMM overhead: RSS - guest RAM (MiB)" \
		"$(awk -v v="$mica_ovh" 'BEGIN{printf "%.2f", v/1024}')" \
		"$(awk -v v="$qemu_ovh" 'BEGIN{printf "%.2f", v/1024}')" "$(ratio "$mica_ovh" "$qemu_ovh")"
	printf '%-44s %12s %12s\n' "  total RSS (MiB)" \
		"$(awk -v v="$mica_rss" 'BEGIN{printf "%.2f", v/1024}')" "$(awk -v v="$qemu_rss" 'BEGIN{printf "%.2f", v/1024}')"
	printf '%-44s %12s %12s\n' "  guest RAM resident (MiB)" \
		"$(awk -v v="$mica_guest" 'BEGIN{printf "%.2f", v/1024}')" "$(awk -v v="$qemu_guest" 'BEGIN{printf "%.2f", v/1024}')"
	echo "targets: first instruction <= 5 ms, overhead <= 3 MiB"
} | tee "$out/startup.txt"
