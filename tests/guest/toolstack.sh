#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Tier-2 tests of the toolstack (issue 4): micad and the mica CLI verbs,
# end to end, with the tiny "counter" guest (tests/guest/counter.c) as every
# domain, on this host's /dev/kvm.
#
#   tests/guest/toolstack.sh [MICA [MICAD]]   (default build/asan/mica,
#                                              build/asan/micad)
#
# What is checked (each line "PASS|FAIL|SKIP tier2.toolstack.NAME"):
# micad's socket mode (0600, 0660 with --group) and the CLI's message when
# micad is not running; three domains created from xl config files run at
# once and list shows them running (text and --json); info, stats, top;
# the console (socket, and `mica console` on a pseudo-terminal with Ctrl-]);
# pause stops a guest's counter and unpause resumes it; bad configs (syntax,
# unknown key, missing kernel, duplicate name, bad sizes) and bad API
# requests (malformed JSON, wrong types, oversized body, unknown domain,
# wrong method) each get one clear error and disturb nothing running; the
# API rate limit (429), the event log cap, a console flood (bounded memory);
# destroy; SIGKILL of a VMM with on_crash = restart, preserve and destroy;
# reboot (on_reboot = restart); shutdown through the ACPI power button and
# its timeout; micad restarted (SIGTERM and SIGKILL) while domains run,
# with a VMM killed and one powered off while micad was down; autostart
# after micad and every VMM were stopped.
#
# Everything runs in one temporary directory (state, run dir, socket); an
# EXIT trap stops micad and every VMM whose command line names that
# directory, so nothing is left behind. Logs are kept in
# $GUEST_DIR/logs/toolstack/. Exits 1 if anything failed. JSON is read with
# jq (scripts/install-deps).

set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD

MICA=${1:-build/asan/mica}
MICAD=${2:-build/asan/micad}
GUEST_DIR=${GUEST_DIR:-${BUILD:-build}/guests}
LOGS=$(realpath -m "$GUEST_DIR/logs/toolstack")
KERNEL=$(realpath "$GUEST_DIR/counter.elf" 2>/dev/null)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mica-ts.XXXXXX") || exit 1
STATE=$TMP/state
RUN=$TMP/run
SOCK=$TMP/micad.sock
MICAD_PID=
MICAD_N=0
NPASS=0
NFAIL=0
NSKIP=0
export MICA_SOCKET=$SOCK
# The VMMs are the ASan mica: a leak report at exit must not change the
# exit status micad reads (0 power-off, 2 reboot...).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=97}

P=tier2.toolstack
pass() {
	echo "PASS $P.$1"
	NPASS=$((NPASS + 1))
}
fail() {
	echo "FAIL $P.$1: $2"
	NFAIL=$((NFAIL + 1))
}
skip() {
	echo "SKIP $P.$1: $2"
	NSKIP=$((NSKIP + 1))
}

# Every process whose command line mentions $TMP: micad, its VMMs (setsid,
# not our children), helpers. Only ours: $TMP is unique to this run.
our_pids() {
	local d cmd
	for d in /proc/[0-9]*; do
		[ "${d#/proc/}" = "$$" ] && continue
		cmd=$(tr '\0' ' ' 2>/dev/null <"$d/cmdline") || continue
		[[ "$cmd" == *"$TMP"* ]] && echo "${d#/proc/}"
	done
}

cleanup() {
	local p left i
	[ -n "$MICAD_PID" ] && kill -TERM "$MICAD_PID" 2>/dev/null
	for p in $(our_pids); do kill -TERM "$p" 2>/dev/null; done
	for ((i = 0; i < 50; i++)); do
		left=$(our_pids)
		[ -z "$left" ] && break
		sleep 0.1
	done
	for p in $(our_pids); do kill -KILL "$p" 2>/dev/null; done
	[ -n "$MICAD_PID" ] && wait "$MICAD_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM HUP

# ---- micad ---------------------------------------------------------------

# micad_start [extra args]: starts micad in the foreground (our child) and
# waits for its socket (30 s). Returns 1 if it did not come up.
micad_start() {
	local i
	MICAD_N=$((MICAD_N + 1))
	MICAD_LOG=$LOGS/micad.$MICAD_N.log
	"$MICAD" --socket "$SOCK" --state-dir "$STATE" --run-dir "$RUN" \
		--mica "$MICA_ABS" --foreground -v "$@" </dev/null \
		>"$MICAD_LOG" 2>&1 &
	MICAD_PID=$!
	for ((i = 0; i < 300; i++)); do
		if [ -S "$SOCK" ] && api GET /v1/domains && [ "$API_STATUS" = 200 ]; then
			return 0
		fi
		kill -0 "$MICAD_PID" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

# micad_stop [SIGNAL]: stops micad (SIGTERM by default) and waits for it.
micad_stop() {
	local sig=${1:-TERM} i
	[ -z "$MICAD_PID" ] && return 0
	kill -"$sig" "$MICAD_PID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$MICAD_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$MICAD_PID" 2>/dev/null
	wait "$MICAD_PID" 2>/dev/null
	MICAD_PID=
}

# ---- HTTP to micad and the CLI --------------------------------------------

# api METHOD PATH [BODY]: one request on micad's socket; sets API_STATUS
# and API_BODY. BODY "@FILE" sends FILE.
api() {
	local method=$1 path=$2 body=${3:-} resp len
	if [[ "$body" == @* ]]; then
		len=$(stat -c %s "${body#@}")
		resp=$({
			printf '%s %s HTTP/1.1\r\nHost: micad\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' \
				"$method" "$path" "$len"
			cat "${body#@}"
		} | "$UNIXSOCK" -t 15000 "$SOCK" 2>/dev/null)
	else
		resp=$(printf '%s %s HTTP/1.1\r\nHost: micad\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
			"$method" "$path" "${#body}" "$body" |
			"$UNIXSOCK" -t 15000 "$SOCK" 2>/dev/null)
	fi
	API_STATUS=$(printf '%s\n' "$resp" | head -n 1 | cut -d ' ' -f 2)
	API_BODY=${resp#*$'\r\n\r\n'}
	[ -n "$API_STATUS" ]
}

# api_ok: like api, but retries after a 429 (the rate limit) for 10 s.
api_ok() {
	local i
	for ((i = 0; i < 20; i++)); do
		api "$@" || return 1
		[ "$API_STATUS" = 429 ] || return 0
		sleep 0.5
	done
	return 0
}

# jf FILTER: a jq filter on API_BODY, raw output ("" when not JSON).
jf() {
	printf '%s' "$API_BODY" | jq -r "$1" 2>/dev/null
}

# cli ARGS...: runs the mica CLI; sets RC, CLI_OUT, CLI_ERR (files).
CLI_N=0
cli() {
	CLI_N=$((CLI_N + 1))
	CLI_OUT=$LOGS/cli.$CLI_N.out
	CLI_ERR=$LOGS/cli.$CLI_N.err
	echo "mica $*" >"$LOGS/cli.$CLI_N.cmd"
	timeout -k 5 90 "$MICA" "$@" </dev/null >"$CLI_OUT" 2>"$CLI_ERR"
	RC=$?
	return $RC
}

# cli_bad NAME PATTERN ARGS...: the CLI must exit 1 with a short message
# on stderr matching PATTERN (extended regex, case-insensitive).
cli_bad() {
	local name=$1 pat=$2 lines
	shift 2
	cli "$@"
	lines=$(grep -c . "$CLI_ERR")
	if [ "$RC" != 1 ]; then
		fail "$name" "mica $*: exit status $RC, expected 1; stderr '$(head -n 1 "$CLI_ERR")'"
	elif [ "$lines" -lt 1 ] || [ "$lines" -gt 4 ]; then
		fail "$name" "mica $*: expected one message on stderr, got $lines lines (see $CLI_ERR)"
	elif ! grep -qiE -- "$pat" "$CLI_ERR"; then
		fail "$name" "mica $*: stderr does not match /$pat/: '$(head -n 1 "$CLI_ERR")'"
	else
		pass "$name"
		return 0
	fi
	return 1
}

# ---- domains -------------------------------------------------------------

# dom_cfg NAME [KEY=VALUE lines...]: writes $TMP/NAME.cfg, an xl config of
# a counter domain (16 MiB, 20 lines a second), and prints its path.
dom_cfg() {
	local name=$1 f=$TMP/$1.cfg
	shift
	{
		echo "# counter domain for tests/guest/toolstack.sh"
		echo "name = \"$name\""
		echo "kernel = \"$KERNEL\""
		echo "memory = 16"
		echo "vcpus = 1"
		[[ "$*" == *cmdline* ]] || echo "cmdline = \"period=50000\""
		printf '%s\n' "$@"
	} >"$f"
	echo "$f"
}

# dom_get NAME: GET /v1/domains/NAME; returns 1 unless 200.
dom_get() {
	api_ok GET "/v1/domains/$1" && [ "$API_STATUS" = 200 ]
}

# dom_state NAME: its state, "absent" on 404, "" on other answers.
dom_state() {
	if dom_get "$1"; then
		jf .state
	elif [ "$API_STATUS" = 404 ]; then
		echo absent
	fi
}

dom_pid() {
	dom_get "$1" && jf '.pid // empty'
}

# wait_state NAME STATE [SECS]: until the domain is in STATE (default 20 s).
wait_state() {
	local i n=$((${3:-20} * 5))
	for ((i = 0; i < n; i++)); do
		[ "$(dom_state "$1")" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}

# wait_pid_change NAME OLDPID [SECS]: until NAME runs with another pid.
wait_pid_change() {
	local i p n=$((${3:-30} * 5))
	for ((i = 0; i < n; i++)); do
		dom_get "$1" && p=$(jf '.pid // empty') || p=
		if [ -n "$p" ] && [ "$p" != "$2" ] && [ "$p" != 0 ] &&
			[ "$(jf .state)" = running ]; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# console_path NAME: the console socket micad names for the domain.
console_path() {
	api_ok GET "/v1/domains/$1/console" && [ "$API_STATUS" = 200 ] &&
		jf '.socket // empty'
}

# last_count FILE: the highest "counter N" line in a capture, or -1.
last_count() {
	local n
	n=$(tr -d '\r' <"$1" | grep -o '^counter [0-9]*$' | tail -n 1 |
		cut -d ' ' -f 2)
	echo "${n:--1}"
}

# count_now NAME [MS]: the domain's counter as its console shows it after
# MS (default 1200) ms attached; -1 if nothing came.
count_now() {
	local sock cap=$TMP/count.$1
	sock=$(console_path "$1")
	if [ -z "$sock" ]; then
		echo -1
		return
	fi
	"$UNIXSOCK" -t "${2:-1200}" "$sock" </dev/null >"$cap" 2>/dev/null
	last_count "$cap"
}

# progressing NAME: the counter goes up between two looks.
# A domain just (re)started may not have its console socket yet: the first
# look is retried for a few seconds.
progressing() {
	local a b i
	for ((i = 0; i < 8; i++)); do
		a=$(count_now "$1")
		[ "$a" -ge 0 ] && break
		sleep 0.5
	done
	b=$(count_now "$1")
	PROGRESS="counter $a -> $b"
	[ "$a" -ge 0 ] && [ "$b" -gt "$a" ]
}

# alive PID: the process exists (and is not a zombie).
alive() {
	[ -n "$1" ] && [ -d "/proc/$1" ] &&
		! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# has_event NAME KIND: the domain's event log has an event KIND.
has_event() {
	api_ok GET "/v1/domains/$1/events?limit=1000" && [ "$API_STATUS" = 200 ] &&
		[ "$(jf "[.events[] | select(.kind == \"$2\")] | length")" -gt 0 ] 2>/dev/null
}

# snapshot: "name state pid" of every domain, sorted (to prove that
# nothing changed).
snapshot() {
	api_ok GET /v1/domains
	jf '.domains[] | "\(.name) \(.state) \(.pid)"' | sort
}

# undisturbed NAME BEFORE: FAIL NAME unless the snapshot is still BEFORE
# and the first running domain still counts.
undisturbed() {
	local now
	now=$(snapshot)
	if [ "$now" != "$2" ]; then
		fail "$1" "the running domains changed: '$2' -> '$now'"
		return 1
	fi
	pass "$1"
}

# ---- the tests -----------------------------------------------------------

t_socket() {
	local mode
	mode=$(stat -c %a "$SOCK")
	if [ "$mode" = 600 ]; then
		pass socket-mode
	else
		fail socket-mode "micad's socket has mode $mode, expected 600"
	fi
	# --group: 0660, group as asked; a second micad with its own dirs.
	local g s2=$TMP/g/micad.sock i p
	g=$(id -gn)
	mkdir -p "$TMP/g"
	"$MICAD" --socket "$s2" --state-dir "$TMP/g" --run-dir "$TMP/g" \
		--mica "$MICA_ABS" --foreground --group "$g" </dev/null \
		>"$LOGS/micad-group.log" 2>&1 &
	p=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$s2" ] && break
		sleep 0.1
	done
	mode=$(stat -c '%a %G' "$s2" 2>/dev/null)
	kill -TERM "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	if [ "$mode" = "660 $g" ]; then
		pass socket-mode-group
	else
		fail socket-mode-group "with --group $g: mode/group '$mode', expected '660 $g' (see $LOGS/micad-group.log)"
	fi
	# The CLI when micad is not there.
	MICA_SOCKET=$TMP/nothing.sock cli_bad no-micad \
		"cannot reach micad at .*nothing\.sock.*micad running" list
	cli_bad no-micad-flag "cannot reach micad at .*nothing2\.sock" \
		--socket "$TMP/nothing2.sock" list
}

# Three domains from config files: a (on_crash restart, on_poweroff
# preserve), b (on_crash preserve), c (defaults); d (defaults) for the
# crash-destroy case. a's kernel is a relative path: the CLI makes it
# absolute against its own working directory.
t_create() {
	local a n ok=1
	a=$(dom_cfg ts-a 'on_crash = "restart"' 'on_poweroff = "preserve"' \
		'on_reboot = "restart"')
	sed -i "s|^kernel = .*|kernel = \"$(basename "$KERNEL")\"|" "$a"
	dom_cfg ts-b 'on_crash = "preserve"' >/dev/null
	dom_cfg ts-c >/dev/null
	dom_cfg ts-d >/dev/null
	cd "$(dirname "$KERNEL")" || return 1
	cli create "$a" ||
		{ ok=0; fail create "mica create ts-a (relative kernel path): status $RC: '$(head -n 1 "$CLI_ERR")'"; }
	cd "$ROOT" || return 1
	for n in b c d; do
		cli create "$TMP/ts-$n.cfg" ||
			{ ok=0; fail create "mica create ts-$n: status $RC: '$(head -n 1 "$CLI_ERR")'"; }
	done
	[ "$ok" = 1 ] || return 1
	for n in a b c d; do
		if ! wait_state "ts-$n" running 30; then
			fail create "ts-$n is '$(dom_state "ts-$n")', not running (see $MICAD_LOG)"
			return 1
		fi
	done
	pass create
	if dom_get ts-a && [ "$(jf .config.kernel)" = "$KERNEL" ]; then
		pass create-relative-path
	else
		fail create-relative-path "ts-a's kernel is '$(jf .config.kernel)', expected '$KERNEL'"
	fi
	# They all count, at once.
	for n in a b c d; do
		if ! progressing "ts-$n"; then
			fail run-at-once "ts-$n's counter does not advance on its console"
			return 1
		fi
	done
	pass run-at-once
	return 0
}

t_list() {
	local n bad=
	if cli list; then
		for n in a b c d; do
			grep -qE "(^|[[:space:]])ts-${n}[[:space:]].*running" "$CLI_OUT" || bad+=" ts-$n"
		done
		if [ -z "$bad" ]; then pass list; else fail list "not listed as running:$bad (see $CLI_OUT)"; fi
	else
		fail list "mica list: status $RC: '$(head -n 1 "$CLI_ERR")'"
	fi
	if cli list --json && jq -e . "$CLI_OUT" >/dev/null 2>&1; then
		bad=
		for n in a b c d; do
			[ "$(jq -r "(.domains? // .)[] | select(.name == \"ts-$n\") | .state" "$CLI_OUT")" = running ] || bad+=" ts-$n"
		done
		if [ -z "$bad" ]; then pass list-json; else fail list-json "not running in --json:$bad (see $CLI_OUT)"; fi
	else
		fail list-json "mica list --json: status $RC, or not JSON (see $CLI_OUT)"
	fi
	if cli info ts-a --json && jq -e '.name == "ts-a" and (.uuid | length) == 36 and .vcpus == 1 and .memory_mib == 16 and (.events | length) > 0 and .config.name == "ts-a"' "$CLI_OUT" >/dev/null 2>&1; then
		pass info-json
	else
		fail info-json "mica info ts-a --json: status $RC; not the DOMAIN object with config and events (see $CLI_OUT)"
	fi
	if cli info ts-a && grep -q ts-a "$CLI_OUT" && grep -qi running "$CLI_OUT"; then
		pass info
	else
		fail info "mica info ts-a: status $RC (see $CLI_OUT)"
	fi
	cli_bad info-unknown "ts-nope" info ts-nope
}

t_stats_top() {
	if api_ok GET /v1/domains/ts-b/stats && [ "$API_STATUS" = 200 ] &&
		printf '%s' "$API_BODY" | jq -e '(.cpu_ns | type) == "number" and .cpu_ns > 0 and (.rss_bytes > 0) and (.exits | type) != "null" and (.cpu_percent | type) == "number"' >/dev/null 2>&1; then
		pass stats
	else
		fail stats "GET /v1/domains/ts-b/stats: $API_STATUS '$API_BODY'"
	fi
	if cli top --once --json && jq -e . "$CLI_OUT" >/dev/null 2>&1 &&
		grep -q '"ts-b"' "$CLI_OUT"; then
		pass top-json
	else
		fail top-json "mica top --once --json: status $RC, or no JSON naming ts-b (see $CLI_OUT)"
	fi
	if cli top --once && grep -q ts-b "$CLI_OUT"; then
		pass top
	else
		fail top "mica top --once: status $RC (see $CLI_OUT)"
	fi
}

# `mica console` on a pseudo-terminal (script(1)): the counter comes
# through, input reaches the guest, Ctrl-] detaches with status 0, and the
# guest keeps running.
t_console() {
	local out=$LOGS/console.out rc
	if ! command -v script >/dev/null; then
		skip console-cli "script(1) not installed"
		return
	fi
	{
		sleep 2
		printf 'z'
		sleep 1.5
		printf '\035'
		sleep 1
	} | timeout -k 5 30 script -qfec "'$MICA' console ts-b; echo \"rc=\$?\" >'$TMP/console.rc'" \
		/dev/null >"$out" 2>&1
	rc=$(cut -d = -f 2 "$TMP/console.rc" 2>/dev/null)
	if [ "$rc" != 0 ]; then
		fail console-cli "mica console ts-b: status '$rc' after Ctrl-], expected 0 (see $out)"
	elif ! tr -d '\r' <"$out" | grep -q '^counter [0-9]'; then
		fail console-cli "no counter output through mica console (see $out)"
	elif ! grep -q "counter: got 'z'" "$out"; then
		fail console-cli "the guest did not echo a key typed into mica console (see $out)"
	elif [ "$(dom_state ts-b)" != running ] || ! progressing ts-b; then
		fail console-cli "ts-b is not running on after the console detached"
	else
		pass console-cli
	fi
	cli_bad console-unknown "ts-nope" console ts-nope
}

t_pause() {
	local a b
	if ! cli pause ts-b; then
		fail pause "mica pause ts-b: status $RC: '$(head -n 1 "$CLI_ERR")'"
		return
	fi
	# Output already written drains first; then the count must stand still.
	count_now ts-b 800 >/dev/null
	a=$(count_now ts-b 1500)
	b=$(count_now ts-b 1500)
	if [ "$(dom_state ts-b)" != paused ]; then
		fail pause "ts-b's state after pause is '$(dom_state ts-b)'"
	elif [ "$a" != "$b" ] || [ "$a" -lt 0 ]; then
		fail pause "the counter went on while paused ($a -> $b)"
	else
		pass pause
	fi
	cli_bad pause-again "ts-b|paused" pause ts-b
	if ! cli unpause ts-b; then
		fail unpause "mica unpause ts-b: status $RC: '$(head -n 1 "$CLI_ERR")'"
	elif [ "$(dom_state ts-b)" != running ] || ! progressing ts-b; then
		fail unpause "ts-b does not count again after unpause (state '$(dom_state ts-b)')"
	else
		pass unpause
	fi
	cli_bad unpause-running "ts-b|running|not paused" unpause ts-b
	if has_event ts-b paused && has_event ts-b unpaused; then
		pass events-pause
	else
		fail events-pause "no paused/unpaused events for ts-b: '$API_BODY'"
	fi
}

# Bad configuration files: one clear message naming the file (and line or
# key), status 1; nothing running changes.
t_bad_configs() {
	local before f
	before=$(snapshot)
	f=$TMP/syntax.cfg
	printf 'name = "ts-syn"\nkernel = "%s"\nmemory = [ 16,\n' "$KERNEL" >"$f"
	cli_bad config-syntax "syntax\.cfg:[0-9]+" create "$f"
	f=$TMP/unknown.cfg
	printf 'name = "ts-unk"\nkernel = "%s"\nmemroy = 16\n' "$KERNEL" >"$f"
	cli_bad config-unknown-key "unknown\.cfg:3.*memroy" create "$f"
	f=$TMP/nokernel.cfg
	printf 'name = "ts-nok"\nmemory = 16\n' >"$f"
	cli_bad config-no-kernel "nokernel\.cfg.*kernel" create "$f"
	f=$TMP/missingkernel.cfg
	printf 'name = "ts-mk"\nkernel = "%s/no-such-vmlinuz"\nmemory = 16\n' "$TMP" >"$f"
	cli_bad config-missing-kernel "no-such-vmlinuz" create "$f"
	# The domain must not be left behind, half-created.
	if [ "$(dom_state ts-mk)" = running ]; then
		fail config-missing-kernel "ts-mk is running with a kernel that does not exist"
	fi
	f=$TMP/dup.cfg
	sed 's/^cmdline.*/cmdline = "period=10000"/' "$TMP/ts-b.cfg" >"$f"
	cli_bad config-duplicate-name "ts-b.*(exist|already|taken|duplicate)|(exist|already|taken|duplicate).*ts-b" create "$f"
	f=$TMP/small.cfg
	printf 'name = "ts-small"\nkernel = "%s"\nmemory = 8\n' "$KERNEL" >"$f"
	cli_bad config-memory-small "small\.cfg:3.*memory" create "$f"
	f=$TMP/lots.cfg
	printf 'name = "ts-lots"\nkernel = "%s"\nmemory = "lots"\n' "$KERNEL" >"$f"
	cli_bad config-memory-word "lots\.cfg:3.*memory" create "$f"
	f=$TMP/vcpus.cfg
	printf 'name = "ts-vc"\nkernel = "%s"\nvcpus = 1000\n' "$KERNEL" >"$f"
	cli_bad config-vcpus-big "vcpus\.cfg:3.*vcpus" create "$f"
	cli_bad config-no-file "does-not-exist\.cfg" create "$TMP/does-not-exist.cfg"
	undisturbed bad-configs-undisturbed "$before"
}

# api_expect NAME STATUS METHOD PATH [BODY]: the status must be STATUS and
# the body a JSON {"error": "..."} (for 4xx).
api_expect() {
	local name=$1 want=$2
	shift 2
	api_ok "$@"
	if [ "$API_STATUS" != "$want" ]; then
		fail "$name" "$1 $2: status '$API_STATUS', expected $want; body '${API_BODY:0:200}'"
		return 1
	fi
	if [ "${want:0:1}" = 4 ] && [ -z "$(jf '.error | strings')" ]; then
		fail "$name" "$1 $2: $want without a JSON error message: '${API_BODY:0:200}'"
		return 1
	fi
	pass "$name"
}

t_bad_api() {
	local before cfg big
	before=$(snapshot)
	api_expect api-malformed-json 400 POST /v1/domains '{"config": {"name": "x",'
	api_expect api-not-object 400 POST /v1/domains '[1, 2]'
	api_expect api-config-string 400 POST /v1/domains '{"config": "ts-x", "start": true}'
	cfg=$(jq -nc --arg k "$KERNEL" '{name: "ts-x", kernel: $k, memory: "lots"}')
	api_expect api-wrong-type 400 POST /v1/domains "{\"config\": $cfg}" &&
		if [[ "$(jf .error)" != *memory* ]]; then
			fail api-wrong-type-names-key "the error does not name 'memory': '$(jf .error)'"
		else
			pass api-wrong-type-names-key
		fi
	cfg=$(jq -nc --arg k "$KERNEL" '{name: "ts-x", kernel: $k, memory: 16}')
	api_expect api-start-not-bool 400 POST /v1/domains "{\"config\": $cfg, \"start\": \"yes\"}"
	cfg=$(jq -nc --arg k "$KERNEL" '{name: "ts-x", kernel: $k, memory: 16, bogus: 1}')
	api_expect api-unknown-key 400 POST /v1/domains "{\"config\": $cfg}"
	cfg=$(jq -nc --arg k "$KERNEL" '{name: "ts-b", kernel: $k, memory: 16}')
	api_expect api-duplicate 409 POST /v1/domains "{\"config\": $cfg, \"start\": true}"
	api_expect api-unknown-domain 404 GET /v1/domains/ts-nope
	api_expect api-unknown-domain-delete 404 DELETE /v1/domains/ts-nope
	api_expect api-unknown-domain-pause 404 POST /v1/domains/ts-nope/pause
	api_expect api-unknown-path 404 GET /v1/nothing
	api_expect api-wrong-method 405 PUT /v1/domains
	api_expect api-shutdown-bad-timeout 400 POST /v1/domains/ts-b/shutdown '{"timeout_s": "soon"}'
	# 1.5 MiB: first the headers alone (micad may answer from
	# Content-Length), then the whole body.
	local resp
	resp=$({
		printf 'POST /v1/domains HTTP/1.1\r\nHost: micad\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 1572864\r\n\r\n'
		sleep 3
	} | "$UNIXSOCK" -t 5000 "$SOCK" 2>/dev/null)
	API_STATUS=$(printf '%s\n' "$resp" | head -n 1 | cut -d ' ' -f 2)
	if [ "$API_STATUS" != 413 ]; then
		big=$TMP/big.json
		{
			printf '{"config": {"name": "ts-big", "cmdline": "'
			head -c 1572864 /dev/zero | tr '\0' x
			printf '"}}'
		} >"$big"
		(trap '' PIPE; api POST /v1/domains "@$big"; echo "$API_STATUS" >"$TMP/big.status")
		API_STATUS=$(cat "$TMP/big.status" 2>/dev/null)
	fi
	if [ "$API_STATUS" = 413 ]; then
		pass api-oversized-body
	else
		fail api-oversized-body "a 1.5 MiB body got status '$API_STATUS', expected 413"
	fi
	undisturbed bad-api-undisturbed "$before"
}

# Rate limit: a burst of requests from one client gets 429 (JSON error)
# once the bucket is empty; after a pause requests succeed again.
t_rate_limit() {
	local i j n429 out=$TMP/burst pids=()
	rm -f "$out".*
	for ((j = 0; j < 4; j++)); do
		(
			for ((i = 0; i < 60; i++)); do
				printf 'GET /v1/domains HTTP/1.1\r\nHost: micad\r\nConnection: close\r\n\r\n' |
					"$UNIXSOCK" -t 10000 "$SOCK" 2>/dev/null | head -n 1
			done >"$out.$j"
		) &
		pids+=($!)
	done
	wait "${pids[@]}"
	n429=$(cat "$out".* | grep -c ' 429')
	if [ "$n429" -lt 1 ]; then
		fail rate-limit "240 requests at once: no 429 ($(cat "$out".* | grep -c ' 200') answered 200)"
	else
		api GET /v1/domains
		pass rate-limit
	fi
	# A 429 carries a JSON error too.
	for ((i = 0; i < 200; i++)); do
		api GET /v1/domains
		[ "$API_STATUS" = 429 ] && break
	done
	if [ "$API_STATUS" = 429 ]; then
		if [ -n "$(jf '.error | strings')" ]; then
			pass rate-limit-json
		else
			fail rate-limit-json "429 without a JSON error: '$API_BODY'"
		fi
	fi
	sleep 3
	api GET /v1/domains
	if [ "$API_STATUS" = 200 ]; then
		pass rate-limit-recovers
	else
		fail rate-limit-recovers "still $API_STATUS 3 s after the burst"
	fi
}

# Event log cap: 1100 pause/unpause events on ts-c; the log keeps at most
# 1000, the newest.
t_event_cap() {
	local i n
	if [ -n "${MICA_TS_QUICK:-}" ]; then
		skip event-log-cap "MICA_TS_QUICK is set"
		return
	fi
	for ((i = 0; i < 550; i++)); do
		api_ok POST /v1/domains/ts-c/pause
		if [ "$API_STATUS" != 200 ]; then
			fail event-log-cap "pause #$i of ts-c: $API_STATUS '$API_BODY'"
			return
		fi
		api_ok POST /v1/domains/ts-c/unpause
		sleep 0.02
	done
	# The API returns at most 1000 (limit=1..1000): the store itself is
	# counted with sqlite3 (read-only), when it is installed.
	api_ok GET "/v1/domains/ts-c/events?limit=1000"
	n=$(jf '.events | length')
	if [ "$API_STATUS" != 200 ] || [ -z "$n" ]; then
		fail event-log-cap "GET events: $API_STATUS '${API_BODY:0:200}'"
	elif [ "$(jf '.events | map(select(.kind == "unpaused")) | length')" -lt 100 ]; then
		fail event-log-cap "the newest events (unpaused) are not among the $n returned"
	elif ! command -v sqlite3 >/dev/null; then
		skip event-log-cap "sqlite3 not installed: cannot count the stored events"
	else
		n=$(sqlite3 -readonly "$STATE/micad.db" \
			"SELECT count(*) FROM events WHERE domain = 'ts-c'" 2>&1)
		if [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -le 1000 ] && [ "$n" -ge 500 ]; then
			pass event-log-cap
		else
			fail event-log-cap "micad.db holds '$n' events of ts-c after 1100+, expected at most 1000"
		fi
	fi
	if [ "$(dom_state ts-c)" = running ]; then pass event-log-cap-running; else fail event-log-cap-running "ts-c is '$(dom_state ts-c)' after the loop"; fi
}

# A console flood (a counter with a 1 us period): micad's memory and the
# VMM's stay bounded, and a client that attaches to the paused flood gets
# at most the history (64 KiB by default).
t_flood() {
	local f vpid m1 m2 v1 v2 sock size
	f=$(dom_cfg ts-flood 'cmdline = "period=1"' 'on_poweroff = "destroy"')
	if ! cli create "$f" || ! wait_state ts-flood running 30; then
		fail console-flood "ts-flood did not start: '$(head -n 1 "$CLI_ERR")'"
		return
	fi
	vpid=$(dom_pid ts-flood)
	sleep 2
	m1=$(awk '/^VmRSS/ { print $2 }' "/proc/$MICAD_PID/status")
	v1=$(awk '/^VmRSS/ { print $2 }' "/proc/$vpid/status")
	sleep 6
	m2=$(awk '/^VmRSS/ { print $2 }' "/proc/$MICAD_PID/status")
	v2=$(awk '/^VmRSS/ { print $2 }' "/proc/$vpid/status")
	cli pause ts-flood
	sock=$(console_path ts-flood)
	"$UNIXSOCK" -t 1500 "$sock" </dev/null >"$TMP/flood.cap" 2>/dev/null
	size=$(stat -c %s "$TMP/flood.cap")
	echo "console-flood: micad RSS ${m1}->${m2} kB, VMM RSS ${v1}->${v2} kB, history ${size} B" >>"$LOGS/quota.txt"
	if [ -z "$m2" ] || [ -z "$v2" ]; then
		fail console-flood "micad or the VMM is gone during the flood"
	elif [ $((m2 - m1)) -gt 4096 ]; then
		fail console-flood "micad's RSS grew from $m1 to $m2 kB during a console flood"
	elif [ $((v2 - v1)) -gt 4096 ]; then
		fail console-flood "the VMM's RSS grew from $v1 to $v2 kB during a console flood"
	elif [ "$size" -gt $((65536 + 4096)) ] || [ "$size" -lt 1024 ]; then
		fail console-flood "a client got $size bytes of history, expected at most 64 KiB"
	else
		pass console-flood
	fi
	cli destroy ts-flood
}

t_destroy() {
	local pid before
	pid=$(dom_pid ts-c)
	if ! cli destroy ts-c; then
		fail destroy "mica destroy ts-c: status $RC: '$(head -n 1 "$CLI_ERR")'"
		return
	fi
	sleep 0.5
	if [ "$(dom_state ts-c)" != absent ]; then
		fail destroy "ts-c is still listed ('$(dom_state ts-c)')"
	elif alive "$pid"; then
		fail destroy "ts-c's VMM (pid $pid) still runs"
	elif cli list && grep -q 'ts-c' "$CLI_OUT"; then
		fail destroy "mica list still shows ts-c"
	else
		pass destroy
	fi
	if progressing ts-a && progressing ts-b && progressing ts-d; then
		pass destroy-others-run
	else
		fail destroy-others-run "after destroying ts-c another domain stopped counting"
	fi
	cli_bad destroy-unknown "ts-c" destroy ts-c
}

# SIGKILL of a VMM: on_crash restart (ts-a), preserve (ts-b), destroy (ts-d).
t_crash() {
	local pa pb pd
	pa=$(dom_pid ts-a)
	pb=$(dom_pid ts-b)
	pd=$(dom_pid ts-d)
	kill -KILL "$pb"
	if wait_state ts-b crashed 20; then
		pass crash-preserve
	else
		fail crash-preserve "ts-b (on_crash = preserve) is '$(dom_state ts-b)' after SIGKILL of its VMM, expected crashed"
	fi
	has_event ts-b crashed && pass crash-event ||
		fail crash-event "no 'crashed' event for ts-b"
	if [ "$(dom_pid ts-a)" = "$pa" ] && [ "$(dom_pid ts-d)" = "$pd" ] &&
		progressing ts-a && progressing ts-d; then
		pass crash-others-untouched
	else
		fail crash-others-untouched "ts-a or ts-d changed when ts-b's VMM was killed"
	fi
	kill -KILL "$pd"
	if wait_state ts-d absent 20; then
		pass crash-destroy
	else
		fail crash-destroy "ts-d (on_crash = destroy) is '$(dom_state ts-d)' after SIGKILL, expected to be gone"
	fi
	kill -KILL "$pa"
	if wait_pid_change ts-a "$pa" 30 && progressing ts-a; then
		pass crash-restart
	else
		fail crash-restart "ts-a (on_crash = restart) is '$(dom_state ts-a)' pid '$(dom_pid ts-a)' after SIGKILL of $pa ($PROGRESS)"
	fi
	has_event ts-a restarted && pass crash-restart-event ||
		fail crash-restart-event "no 'restarted' event for ts-a"
	# A preserved domain is destroyed on request.
	if cli destroy ts-b && [ "$(dom_state ts-b)" = absent ]; then
		pass crash-preserve-destroy
	else
		fail crash-preserve-destroy "mica destroy of the crashed ts-b: status $RC, state '$(dom_state ts-b)'"
	fi
}

# Reboot (on_reboot = restart): the VMM exits 2 and micad starts it again.
t_reboot() {
	local pa
	pa=$(dom_pid ts-a)
	if ! cli reboot ts-a; then
		fail reboot "mica reboot ts-a: status $RC: '$(head -n 1 "$CLI_ERR")'"
		return
	fi
	if wait_pid_change ts-a "$pa" 30 && progressing ts-a && has_event ts-a rebooted; then
		pass reboot
	else
		fail reboot "ts-a is '$(dom_state ts-a)' pid '$(dom_pid ts-a)' (was $pa) after reboot ($PROGRESS), or no 'rebooted' event"
	fi
}

# micad restarted while domains run: they stay listed, same VMMs, consoles
# reachable. While micad is down, one VMM is SIGKILLed (crashed, preserve)
# and one powers off through its own API socket (shutoff, preserve).
t_micad_restart() {
	local pa pe pf before after api_f
	cli create "$(dom_cfg ts-e 'on_crash = "preserve"')"
	cli create "$(dom_cfg ts-f 'on_poweroff = "preserve"')"
	if ! wait_state ts-e running 30 || ! wait_state ts-f running 30; then
		fail micad-restart "ts-e/ts-f did not start"
		return
	fi
	pa=$(dom_pid ts-a)
	pe=$(dom_pid ts-e)
	pf=$(dom_pid ts-f)
	before=$(snapshot)
	micad_stop TERM
	if ! alive "$pa" || ! alive "$pe"; then
		fail micad-stop-keeps-vms "a VMM ended with micad (SIGTERM)"
	else
		pass micad-stop-keeps-vms
	fi
	# While micad is away.
	kill -KILL "$pe"
	api_f=$RUN/ts-f.api
	if [ -S "$api_f" ]; then
		printf 'PUT /v1/vm/power-button HTTP/1.1\r\nHost: mica\r\nConnection: close\r\nContent-Length: 0\r\n\r\n' |
			"$UNIXSOCK" -t 5000 "$api_f" >/dev/null 2>&1
	fi
	for ((i = 0; i < 100; i++)); do
		alive "$pf" || break
		sleep 0.1
	done
	if ! micad_start; then
		fail micad-restart "micad did not come back (see $MICAD_LOG)"
		return
	fi
	after=$(snapshot)
	if [ "$(dom_state ts-a)" = running ] && [ "$(dom_pid ts-a)" = "$pa" ] && progressing ts-a; then
		pass micad-restart
	else
		fail micad-restart "ts-a after the restart: '$(dom_state ts-a)' pid '$(dom_pid ts-a)' (was $pa); before '$before', after '$after'"
	fi
	if wait_state ts-e crashed 10; then
		pass micad-restart-crashed
	else
		fail micad-restart-crashed "ts-e (SIGKILLed while micad was down, on_crash = preserve) is '$(dom_state ts-e)', expected crashed"
	fi
	if [ ! -S "$api_f" ] && [ -n "$pf" ] && alive "$pf"; then
		skip micad-restart-poweroff "ts-f's API socket $api_f not found (run dir layout differs)"
	elif wait_state ts-f shutoff 10; then
		pass micad-restart-poweroff
	else
		fail micad-restart-poweroff "ts-f (powered off while micad was down, on_poweroff = preserve) is '$(dom_state ts-f)', expected shutoff"
	fi
	if has_event ts-a created && has_event ts-a rebooted; then
		pass micad-restart-events
	else
		fail micad-restart-events "ts-a's events were lost across the restart"
	fi
	# SIGKILL of micad itself: the same.
	micad_stop KILL
	if ! micad_start; then
		fail micad-sigkill "micad did not come back after SIGKILL (see $MICAD_LOG)"
		return
	fi
	if [ "$(dom_pid ts-a)" = "$pa" ] && progressing ts-a &&
		[ "$(dom_state ts-e)" = crashed ]; then
		pass micad-sigkill
	else
		fail micad-sigkill "after SIGKILL of micad: ts-a '$(dom_state ts-a)' pid '$(dom_pid ts-a)' (was $pa), ts-e '$(dom_state ts-e)'"
	fi
	cli destroy ts-e
	cli destroy ts-f
}

# Shutdown through the ACPI power button: the counter guest prints
# "counter: power button" and powers off; on_poweroff = preserve keeps it
# as shutoff. Then a shutdown the guest cannot answer (it is paused):
# micad destroys it after the timeout (event shutdown-timeout).
t_shutdown() {
	local sock cap=$TMP/shutdown.cap cp
	sock=$(console_path ts-a)
	"$UNIXSOCK" -t 30000 "$sock" </dev/null >"$cap" 2>/dev/null &
	cp=$!
	sleep 0.5
	if ! cli shutdown ts-a --wait --timeout 30; then
		fail shutdown "mica shutdown ts-a --wait: status $RC: '$(head -n 1 "$CLI_ERR")'"
	elif ! wait_state ts-a shutoff 10; then
		fail shutdown "ts-a (on_poweroff = preserve) is '$(dom_state ts-a)' after shutdown, expected shutoff"
	else
		wait "$cp" 2>/dev/null
		if grep -q 'counter: power button' "$cap"; then
			pass shutdown
		else
			fail shutdown "the guest did not see the power button (see $cap)"
		fi
	fi
	kill "$cp" 2>/dev/null
	wait "$cp" 2>/dev/null
	has_event ts-a powered-off && pass shutdown-event ||
		fail shutdown-event "no 'powered-off' event for ts-a"
	cli destroy ts-a
	# Timeout.
	local f pg
	f=$(dom_cfg ts-g 'on_poweroff = "preserve"')
	cli create "$f"
	if ! wait_state ts-g running 30; then
		fail shutdown-timeout "ts-g did not start"
		return
	fi
	pg=$(dom_pid ts-g)
	cli pause ts-g
	api_ok POST /v1/domains/ts-g/shutdown '{"timeout_s": 2}'
	if [ "$API_STATUS" != 202 ] || [ "$(jf .state)" != shutting-down ]; then
		fail shutdown-timeout "POST shutdown of a paused domain: $API_STATUS '${API_BODY:0:200}' (expected 202, shutting-down)"
		cli destroy ts-g
		return
	fi
	sleep 1
	for ((i = 0; i < 100; i++)); do
		alive "$pg" || break
		sleep 0.1
	done
	if alive "$pg"; then
		fail shutdown-timeout "ts-g's VMM still runs 11 s after a 2 s shutdown timeout"
	elif ! has_event ts-g shutdown-timeout && [ "$API_STATUS" != 404 ]; then
		fail shutdown-timeout "no 'shutdown-timeout' event for ts-g: '${API_BODY:0:300}'"
	else
		pass shutdown-timeout
	fi
	cli destroy ts-g
}

# Autostart: micad stopped, every VMM stopped, the run dir emptied (a host
# reboot); micad comes back and starts the autostart domain (default
# lifecycle policies), not the other.
t_autostart() {
	local p q pids
	cli create "$(dom_cfg ts-auto 'autostart = 1')"
	cli create "$(dom_cfg ts-manual 'on_crash = "preserve"')"
	if ! wait_state ts-auto running 30 || ! wait_state ts-manual running 30; then
		fail autostart "ts-auto/ts-manual did not start"
		return
	fi
	p=$(dom_pid ts-auto)
	q=$(dom_pid ts-manual)
	# As a host shutdown and boot: micad and the VMMs get SIGTERM, the run
	# directory (a tmpfs, /run/mica) is emptied.
	micad_stop TERM
	kill -TERM "$p" "$q" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		alive "$p" || alive "$q" || break
		sleep 0.1
	done
	kill -KILL "$p" "$q" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		alive "$p" || alive "$q" || break
		sleep 0.1
	done
	rm -rf "${RUN:?}"/*
	if ! micad_start; then
		fail autostart "micad did not come back (see $MICAD_LOG)"
		return
	fi
	if wait_pid_change ts-auto "$p" 30 && progressing ts-auto; then
		pass autostart
	else
		fail autostart "ts-auto is '$(dom_state ts-auto)' pid '$(dom_pid ts-auto)' after micad restarted"
	fi
	pids=$(dom_pid ts-manual)
	if [ "$(dom_state ts-manual)" != running ]; then
		pass autostart-only-autostart
	else
		fail autostart-only-autostart "ts-manual (no autostart) was started again (pid $pids)"
	fi
	cli destroy ts-auto
	cli destroy ts-manual
}

# Sanitizer reports from micad or the VMMs (their logs, wherever micad
# keeps them under the state and run dirs).
t_sanitizers() {
	local hits
	hits=$(grep -rlE 'AddressSanitizer|LeakSanitizer|runtime error:' \
		"$LOGS"/micad.*.log "$STATE" "$RUN" 2>/dev/null)
	if [ -n "$hits" ]; then
		fail sanitizers "sanitizer reports in: $hits"
	else
		pass sanitizers
	fi
}

# ---- main ----------------------------------------------------------------

ALL="socket-mode socket-mode-group no-micad no-micad-flag create create-relative-path run-at-once list list-json info-json info info-unknown stats top-json top console-cli console-unknown pause pause-again unpause unpause-running events-pause bad-configs-undisturbed bad-api-undisturbed rate-limit rate-limit-recovers event-log-cap console-flood destroy destroy-others-run destroy-unknown crash-preserve crash-event crash-others-untouched crash-destroy crash-restart crash-restart-event crash-preserve-destroy reboot micad-stop-keeps-vms micad-restart micad-restart-crashed micad-restart-poweroff micad-restart-events micad-sigkill shutdown shutdown-event shutdown-timeout autostart autostart-only-autostart sanitizers"
skip_all() {
	local t
	for t in $ALL; do skip "$t" "$1"; done
	exit 0
}

mkdir -p "$LOGS" "$STATE" "$RUN"
rm -f "$LOGS"/*
if [ ! -x "$MICA" ]; then
	fail setup "mica binary '$MICA' not found (make $MICA)"
	exit 1
fi
if [ ! -x "$MICAD" ]; then
	fail setup "micad binary '$MICAD' not found (make $MICAD)"
	exit 1
fi
if [ -z "$KERNEL" ] || [ ! -f "$KERNEL" ]; then
	fail setup "counter.elf not found in $GUEST_DIR (make guests)"
	exit 1
fi
if ! command -v jq >/dev/null; then
	fail setup "jq not installed (scripts/install-deps)"
	exit 1
fi
MICA_ABS=$(realpath "$MICA")
MICA=$MICA_ABS
KVM_DEV=${MICA_KVM_DEVICE:-/dev/kvm}
if [ ! -c "$KVM_DEV" ] || ! { exec 3<>"$KVM_DEV"; } 2>/dev/null; then
	skip_all "$KVM_DEV is missing or cannot be opened read-write"
fi
exec 3>&-
if "$MICA" list --socket "$TMP/none.sock" 2>&1 |
	grep -qiE "unknown (command|verb) 'list'"; then
	skip_all "this build of mica has no 'create' verb yet"
fi
UNIXSOCK=$TMP/unixsock
if ! ${CC:-cc} -O2 -D_GNU_SOURCE -o "$UNIXSOCK" tests/tools/unixsock.c \
	2>"$TMP/unixsock.err"; then
	fail setup "cannot build tests/tools/unixsock.c: $(head -n 1 "$TMP/unixsock.err")"
	exit 1
fi

if ! micad_start; then
	fail micad-start "micad did not answer on $SOCK within 30 s (see $MICAD_LOG: '$(tail -n 1 "$MICAD_LOG")')"
	exit 1
fi
pass micad-start
t_socket
if t_create; then
	t_list
	t_stats_top
	t_console
	t_pause
	t_bad_configs
	t_bad_api
	t_rate_limit
	sleep 2
	t_event_cap
	t_flood
	t_destroy
	t_crash
	t_reboot
	t_micad_restart
	t_shutdown
	t_autostart
fi
micad_stop TERM
left=$(our_pids)
if [ -n "$left" ]; then
	# Domains still running at the end are ours to stop; not a failure.
	for p in $left; do kill -TERM "$p" 2>/dev/null; done
fi
t_sanitizers

echo "toolstack tests: $NPASS passed, $NFAIL failed, $NSKIP skipped"
[ "$NFAIL" = 0 ]
