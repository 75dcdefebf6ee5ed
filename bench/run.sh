#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vpnwall benchmarks. Run as root from a checkout: `sudo ./bench/run.sh`. Builds the daemon
# (CMake, Release, build-bench/) and the bench tools (bench/Makefile), then runs every
# benchmark in private network namespaces that it creates and removes (nothing touches the
# root namespace's firewall, routes or addresses) and prints one markdown table at the end.
# Not part of CI. See bench/README.md for what each benchmark measures.
#
#   BENCH_QUICK=1          a short smoke run (small N, short runs)
#   BENCH_ONLY="control resync packet footprint dns real"   a subset (footprint rides on
#                          control; real: the integration testbed's real dockerd)
#   BENCH_REAL_RUNS=20     docker runs of the real-Docker part
#   BENCH_N="0 1000 5000"  containers already running for the control path and footprint
#   BENCH_DESTS=20         vpn.outbound entries per container
#   BENCH_STARTS=200       single starts per N;  BENCH_GAP="20 50" ms between them
#   BENCH_BURST=1000       containers started at once
#   BENCH_RESYNC_N=5000    containers of the resync benchmark
#   BENCH_PACKET_N="0 100 1000 5000"  managed sources besides the client
#   BENCH_IPERF_SECS=5 BENCH_IPERF_RUNS=5
#   BENCH_IDLE_SECS=10     idle window for context switches
#   BENCH_DNS_SECS=10 BENCH_DNS_QUERIES=20000 BENCH_DNS_RUNS=3   dnsperf run length, dnslat's
#                          closed-loop queries, runs per case (median)
#   BENCH_DNS_OUTSTANDING=32  dnsperf -q (vpnwalld drops a container's queries past 64 upstream)
#   BENCH_WAIT=1           wait for a running test/run.sh before heavy parts (0: don't)
#   BENCH_OUT=DIR          results and logs (default build-bench/bench-results/<time>)
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
. "$ROOT/bench/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: run as root (network namespaces, nftables)" >&2
	exit 77
fi

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	DEF_N="0 100 500" DEF_STARTS=50 DEF_BURST=200 DEF_RESYNC=500 DEF_PN="0 100"
	DEF_SECS=2 DEF_RUNS=1 DEF_IDLE=3
	DEF_DNS_SECS=2 DEF_DNS_Q=2000 DEF_DNS_RUNS=1
else
	DEF_N="0 1000 5000" DEF_STARTS=200 DEF_BURST=1000 DEF_RESYNC=5000 DEF_PN="0 100 1000 5000"
	DEF_SECS=5 DEF_RUNS=5 DEF_IDLE=10
	DEF_DNS_SECS=10 DEF_DNS_Q=20000 DEF_DNS_RUNS=3
fi
ONLY=${BENCH_ONLY:-"control resync packet footprint dns real"}
REAL_RUNS=${BENCH_REAL_RUNS:-$([ "$QUICK" = 1 ] && echo 5 || echo 20)}
NS_LIST=${BENCH_N:-$DEF_N}
DESTS=${BENCH_DESTS:-20}
STARTS=${BENCH_STARTS:-$DEF_STARTS}
GAP=${BENCH_GAP:-"20 50"}
BURST=${BENCH_BURST:-$DEF_BURST}
RESYNC_N=${BENCH_RESYNC_N:-$DEF_RESYNC}
PACKET_N=${BENCH_PACKET_N:-$DEF_PN}
IPERF_SECS=${BENCH_IPERF_SECS:-$DEF_SECS}
IPERF_RUNS=${BENCH_IPERF_RUNS:-$DEF_RUNS}
IDLE_SECS=${BENCH_IDLE_SECS:-$DEF_IDLE}
DNS_SECS=${BENCH_DNS_SECS:-$DEF_DNS_SECS}
DNS_QUERIES=${BENCH_DNS_QUERIES:-$DEF_DNS_Q}
DNS_RUNS=${BENCH_DNS_RUNS:-$DEF_DNS_RUNS}
DNS_OUTSTANDING=${BENCH_DNS_OUTSTANDING:-32}
WAIT=${BENCH_WAIT:-1}
BUILD=$ROOT/build-bench
OUT=${BENCH_OUT:-$BUILD/bench-results/$(date +%Y%m%d-%H%M%S)}
TABLE=vwbench
MPORT=59187
SERVER=198.51.100.2
SERVER_PORT=5201
PIN_CLIENT= PIN_SERVER=
if [ "$(nproc)" -ge 2 ]; then
	PIN_CLIENT="taskset -c 0" PIN_SERVER="taskset -c 1"
fi

has() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

# --- plumbing -------------------------------------------------------------------------------

ID=$(($$ % 100000))
HNS=vwb${ID}h # the "host": vpnwalld, the bridge, the rules
CNS=vwb${ID}c # iperf3 and DNS client, behind the bridge, with a container's address
SNS=vwb${ID}s # iperf3 server and upstream DNS server, "the internet"
TMP=
PIDS=
NSES=

log() { echo "bench: $*" >&2; }
die() {
	log "FAILED: $*"
	exit 1
}

cleanup() {
	local p ns
	set +e
	for p in $PIDS; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null
	done
	for ns in $NSES; do
		# Anything still running in there was started by us.
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "$TMP" ] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

track() { PIDS="$PIDS $1"; }
untrack() {
	local p out=
	for p in $PIDS; do [ "$p" = "$1" ] || out="$out $p"; done
	PIDS=$out
}

stop_pid() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	untrack "$1"
}

netns_add() {
	[ ! -e "/run/netns/$1" ] || die "netns $1 exists"
	ip netns add "$1"
	NSES="$NSES $1"
	ip -n "$1" link set lo up
}

hx() { ip netns exec "$HNS" "$@"; }

now_ns() { date +%s%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

# Heavy parts wait until the project's tests (test/run.sh, or ctest running the integration
# scripts by hand) are done: they share the machine's two cores.
wait_quiet() {
	[ "$WAIT" = 1 ] || return 0
	local said=0
	while pgrep -f 'test/run.sh|test/integration/t-|bin/ctest' >/dev/null; do
		[ $said = 1 ] || log "waiting for the project's tests (test/run.sh, ctest) to finish before $1"
		said=1
		sleep 20
	done
}

RESULTS=
CONTENDED=
# row SECTION N WHAT VALUE BASELINE RATIO TARGET STATUS
row() {
	# A test run that started meanwhile shares the CPUs: say which results it may have skewed.
	if pgrep -f 'test/run.sh|test/integration/t-|bin/ctest' >/dev/null; then
		case " $CONTENDED " in *" $1/$2 "*) ;; *) CONTENDED="$CONTENDED $1/$2" ;; esac
	fi
	RESULTS="$RESULTS| $1 | $2 | $3 | $4 | $5 | $6 | $7 | $8 |
"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$OUT/results.tsv"
}

# --- build ------------------------------------------------------------------------------------

build() {
	log "building vpnwalld (Release) in $BUILD"
	if ! cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DVW_TESTS=OFF \
		>"$OUT/build.log" 2>&1 ||
		! nice cmake --build "$BUILD" -j1 --target vpnwalld vpnwall-cli >>"$OUT/build.log" 2>&1; then
		tail -30 "$OUT/build.log" >&2
		die "build (see $OUT/build.log)"
	fi
	make -s -C "$ROOT/bench" LIBDIR="$BUILD" OUT="$BUILD/bench" >>"$OUT/build.log" 2>&1 ||
		die "bench tools (see $OUT/build.log)"
	VPNWALLD=$BUILD/cmd/vpnwalld/vpnwalld
	FAKE=$BUILD/bench/fakedocker
	RULEBENCH=$BUILD/bench/rulebench
	FIRSTCONN=$BUILD/bench/firstconn
	DNSLAT=$BUILD/bench/dnslat
	UDPRELAY=$BUILD/bench/udprelay
}

# --- fakedocker and vpnwalld -------------------------------------------------------------------

FAKE_PID=
DAEMON_PID=

ctl() { "$FAKE" ctl "$TMP/ctl.sock" "$@"; }

# start_fake N [EXTRA_DEST]: N running containers; the last one also gets EXTRA_DEST.
start_fake() {
	local extra=()
	[ -z "${2:-}" ] || extra=(--extra-dest "$2")
	"$FAKE" --socket "$TMP/docker.sock" --control "$TMP/ctl.sock" --preload "$1" \
		--dests "$DESTS" "${extra[@]}" 2>>"$OUT/fakedocker.log" &
	FAKE_PID=$!
	track $FAKE_PID
	for _ in $(seq 100); do
		ctl ping >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	die "fakedocker did not come up"
}

stop_fake() {
	[ -n "$FAKE_PID" ] || return 0
	ctl quit >/dev/null 2>&1 || true
	stop_pid $FAKE_PID
	FAKE_PID=
}

# start_daemon LOGNAME [VAR=VALUE...]: vpnwalld in the host namespace against fakedocker, with
# these settings added. Sets T_READY_MS.
start_daemon() {
	local t0 code name=$1
	shift
	t0=$(now_ns)
	# ip netns exec and env exec: $! is vpnwalld itself.
	ip netns exec "$HNS" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		DOCKER_HOST="unix://$TMP/docker.sock" METRICS_ADDR="127.0.0.1:$MPORT" \
		NFT_TABLE=$TABLE API_SOCKET="$TMP/api.sock" NFLOG_GROUP=off LOG_LEVEL=warn \
		DNS_SERVERS=127.0.0.1 "$@" "$VPNWALLD" 2>>"$OUT/vpnwalld-$name.log" &
	DAEMON_PID=$!
	track $DAEMON_PID
	for _ in $(seq 6000); do
		code=$(hx curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
			"http://127.0.0.1:$MPORT/readyz" 2>/dev/null || true)
		if [ "$code" = 200 ]; then
			T_READY_MS=$(ms "$t0" "$(now_ns)")
			return 0
		fi
		kill -0 $DAEMON_PID 2>/dev/null || die "vpnwalld exited (see $OUT/vpnwalld-$name.log)"
		sleep 0.05
	done
	die "vpnwalld not ready after 300 s"
}

stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	stop_pid $DAEMON_PID
	DAEMON_PID=
}

scrape() { hx curl -sf --max-time 60 "http://127.0.0.1:$MPORT/metrics" >"$1"; }

hcount() { mval "$1" "$2_count"; }
status_json() { curl -sf --max-time 10 --unix-socket "$TMP/api.sock" http://vpnwall/v1/status; }
managed() { status_json | jq -r .managed_containers; }
proc_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

setup_host() {
	netns_add "$HNS"
	hx sysctl -qw net.ipv4.ip_forward=1
	hx ip link add vwbench0 type bridge
	hx ip addr add 198.18.0.1/16 dev vwbench0
	hx ip link set vwbench0 up
}

# --- 2 + 5: control path and footprint ----------------------------------------------------------

bench_control() {
	local n b a t0 t1 k p50 p99 tx want got i rss hwm anon pss v0 v1 nv0 nv1 times ok flat p99_0=
	local low hi
	read -r low hi <<<"$GAP"
	for n in $NS_LIST; do
		wait_quiet "the control path at N=$n"
		log "control path: N=$n"
		hx nft delete table inet $TABLE 2>/dev/null || true
		start_fake "$n"
		start_daemon "control-$n"
		# Idle from here: the last HTTP request (/readyz) leaves a one-shot timer of a few
		# seconds behind, which is not a periodic wakeup; let it pass first.
		sleep 5
		rss=$(proc_field $DAEMON_PID VmRSS)
		hwm=$(proc_field $DAEMON_PID VmHWM)
		anon=$(proc_field $DAEMON_PID RssAnon)
		pss=$(awk '$1 == "Pss:" { print $2 }' /proc/$DAEMON_PID/smaps_rollup)
		if has footprint; then
			row footprint "$n" "time to ready (context)" "${T_READY_MS} ms" "" "" "" ""
			row footprint "$n" "VmRSS after ready (peak VmHWM; RssAnon; Pss)" \
				"$(awk -v r="$rss" -v h="$hwm" -v a="$anon" -v p="$pss" 'BEGIN { printf "%.1f MiB (%.1f; %.1f; %.1f)", r / 1024, h / 1024, a / 1024, p / 1024 }')" \
				"" "" "$([ "$n" = 1000 ] && echo "<= 8 MiB")" \
				"$([ "$n" = 1000 ] && awk -v r="$rss" 'BEGIN { print (r <= 8192 ? "met" : "MISSED") }')"
			v0=$(proc_field $DAEMON_PID voluntary_ctxt_switches)
			nv0=$(proc_field $DAEMON_PID nonvoluntary_ctxt_switches)
			sleep "$IDLE_SECS"
			v1=$(proc_field $DAEMON_PID voluntary_ctxt_switches)
			nv1=$(proc_field $DAEMON_PID nonvoluntary_ctxt_switches)
			row footprint "$n" "idle wakeups (voluntary ctx switches/s over ${IDLE_SECS}s)" \
				"$(awk -v a="$v0" -v b="$v1" -v s="$IDLE_SECS" 'BEGIN { printf "%.2f", (b - a) / s }')" \
				"" "" "0 (no periodic timer)" \
				"$([ "$v1" = "$v0" ] && echo met || echo "MISSED ($((v1 - v0)) in ${IDLE_SECS}s, +$((nv1 - nv0)) involuntary)")"
			times=
			for i in 1 2 3 4 5; do
				times="$times $(hx curl -s -o "$TMP/scrape.txt" -w '%{time_total}' \
					"http://127.0.0.1:$MPORT/metrics")"
			done
			row footprint "$n" "one /metrics scrape (median of 5)" \
				"$(echo "$times" | tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { printf "%.1f ms", v[int((NR + 1) / 2)] * 1000 }'), $(($(wc -c <"$TMP/scrape.txt") / 1024)) KiB" \
				"" "" "" ""
		fi
		has control || {
			stop_daemon
			stop_fake
			continue
		}

		# Single starts, spaced: the daemon's own event-to-commit histogram.
		scrape "$TMP/m1"
		ctl series "$STARTS" "$low" "$hi" >/dev/null || die "series"
		for _ in $(seq 100); do
			sleep 0.3
			scrape "$TMP/m2"
			[ "$(($(hcount "$TMP/m2" vpnwall_event_to_commit_seconds) - $(hcount "$TMP/m1" vpnwall_event_to_commit_seconds)))" -ge "$STARTS" ] && break
		done
		p50=$(hq "$TMP/m1" "$TMP/m2" vpnwall_event_to_commit_seconds 0.5)
		p99=$(hq "$TMP/m1" "$TMP/m2" vpnwall_event_to_commit_seconds 0.99)
		tx=$(($(mval "$TMP/m2" 'vpnwall_ruleset_updates_total{result="success"}') - $(mval "$TMP/m1" 'vpnwall_ruleset_updates_total{result="success"}')))
		got=$(($(hcount "$TMP/m2" vpnwall_event_to_commit_seconds) - $(hcount "$TMP/m1" vpnwall_event_to_commit_seconds)))
		[ -n "$p99_0" ] || p99_0=$p99
		flat=$(awk -v a="$p99" -v b="$p99_0" 'BEGIN { if (b > 0 && a != "nan") printf "%.2f", a / b; else print "n/a" }')
		row control "$n" "single start, event->commit p50 / p99 ($got starts, $tx tx)" \
			"$(sec2ms "$p50") / $(sec2ms "$p99") ms" "p99 at N=$(echo "$NS_LIST" | awk '{ print $1 }'): $(sec2ms "$p99_0") ms" \
			"$flat" "p99 <= 2 ms, flat in N" \
			"$(awk -v p="$p99" 'BEGIN { print (p != "nan" && p <= 0.002 ? "met" : "MISSED") }')"

		# A burst: every start event in one write.
		scrape "$TMP/m3"
		want=$(($(managed) + BURST))
		t0=$(now_ns)
		ctl start "$BURST" >/dev/null || die "burst"
		ok=0
		for _ in $(seq 6000); do
			got=$(managed)
			if [ "$got" -ge "$want" ]; then
				ok=1
				break
			fi
			sleep 0.02
		done
		t1=$(now_ns)
		sleep 0.5
		scrape "$TMP/m4"
		tx=$(($(mval "$TMP/m4" 'vpnwall_ruleset_updates_total{result="success"}') - $(mval "$TMP/m3" 'vpnwall_ruleset_updates_total{result="success"}')))
		p99=$(hq "$TMP/m3" "$TMP/m4" vpnwall_event_to_commit_seconds 0.99)
		p50=$(hq "$TMP/m3" "$TMP/m4" vpnwall_event_to_commit_seconds 0.5)
		row control "$n" "burst of $BURST starts: until all managed; transactions" \
			"$([ $ok = 1 ] && echo "$(ms "$t0" "$t1") ms" || echo "not reached ($got/$want)"); $tx tx" \
			"" "$(awk -v b="$BURST" -v t="$tx" 'BEGIN { if (t > 0) printf "%.0f starts/tx", b / t; else print "n/a" }')" \
			"" "(event->commit p50 $(sec2ms "$p50") ms, p99 $(sec2ms "$p99") ms)"
		stop_daemon
		stop_fake
	done
}

# --- 3: resync -------------------------------------------------------------------------------------

bench_resync() {
	local m0 m1 cnt sum t0 t1 tnft=() tx dur i s total fr from to k out lists
	wait_quiet "the resync benchmark"
	log "resync: N=$RESYNC_N x $DESTS destinations"
	hx nft delete table inet $TABLE 2>/dev/null || true
	start_fake "$RESYNC_N"
	start_daemon "resync"
	scrape "$TMP/r0"
	cnt=$(hcount "$TMP/r0" vpnwall_ruleset_update_duration_seconds)
	sum=$(mval "$TMP/r0" vpnwall_ruleset_update_duration_seconds_sum)
	# The first sync is one transaction: the base ruleset before it is not observed.
	DAEMON_APPLY_MS=$(awk -v s="$sum" -v c="$cnt" 'BEGIN { printf "%.1f", c ? s / c * 1000 : -1 }')

	# Unchanged containers, every one re-inspected ("update" events, 1,000 at a time: a
	# burst over the daemon's inspect queue would turn into a resync): nothing to send.
	scrape "$TMP/r1"
	total=0
	t0=$(now_ns)
	for ((from = 0; from < RESYNC_N; from += 1000)); do
		to=$((from + 999 < RESYNC_N - 1 ? from + 999 : RESYNC_N - 1))
		k=$((to - from + 1))
		cnt=$(hcount "$TMP/r1" vpnwall_event_to_commit_seconds)
		ctl update "$from-$to" >/dev/null || die "update"
		total=$((total + k))
		for _ in $(seq 600); do
			scrape "$TMP/r2"
			[ "$(($(hcount "$TMP/r2" vpnwall_event_to_commit_seconds) - $(hcount "$TMP/r1" vpnwall_event_to_commit_seconds)))" -ge "$total" ] && break
			sleep 0.1
		done
	done
	t1=$(now_ns)
	tx=$(($(mval "$TMP/r2" 'vpnwall_ruleset_updates_total{result="success"}') - $(mval "$TMP/r1" 'vpnwall_ruleset_updates_total{result="success"}')))
	row resync "$RESYNC_N" "daemon: $RESYNC_N unchanged containers re-inspected; transactions" \
		"$tx tx in $(ms "$t0" "$t1") ms" "" "" "0 (a no-op sends nothing)" \
		"$([ "$tx" = 0 ] && echo met || echo MISSED)"

	# A resync: the events stream drops, the daemon reconnects and lists everything again.
	# Wait for that list (fakedocker counts it), then for ready, then look at what was sent.
	scrape "$TMP/r3"
	lists=$(ctl stats | tr ' ' '\n' | awk -F= '$1 == "list" { print $2 }')
	t0=$(now_ns)
	ctl close-events >/dev/null
	for _ in $(seq 600); do
		sleep 0.1
		[ "$(ctl stats | tr ' ' '\n' | awk -F= '$1 == "list" { print $2 }')" -gt "$lists" ] && break
	done
	for _ in $(seq 600); do
		scrape "$TMP/r4" 2>/dev/null && [ "$(mval "$TMP/r4" vpnwall_ready)" = 1 ] && break
		sleep 0.1
	done
	t1=$(now_ns)
	sleep 0.5
	scrape "$TMP/r4"
	tx=$(($(mval "$TMP/r4" 'vpnwall_ruleset_updates_total{result="success"}') - $(mval "$TMP/r3" 'vpnwall_ruleset_updates_total{result="success"}')))
	dur=$(awk -v a="$(mval "$TMP/r3" vpnwall_ruleset_update_duration_seconds_sum)" \
		-v b="$(mval "$TMP/r4" vpnwall_ruleset_update_duration_seconds_sum)" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
	RESYNC_READY_MS=$(ms "$t0" "$t1")
	RESYNC_TX=$tx RESYNC_MS=$dur
	stop_daemon
	stop_fake

	# nft -f of the same ruleset as text.
	hx nft list table inet $TABLE >"$TMP/table.nft"
	for i in 1 2 3; do
		hx nft delete table inet $TABLE
		t0=$(now_ns)
		hx nft -f "$TMP/table.nft"
		t1=$(now_ns)
		tnft+=("$(ms "$t0" "$t1")")
	done
	NFT_MS=$(printf '%s\n' "${tnft[@]}" | sort -g | sed -n 2p)
	hx nft delete table inet $TABLE

	row resync "$RESYNC_N" "daemon: whole ruleset at start-up, one transaction ($(grep -c . "$TMP/table.nft") lines as text)" \
		"$DAEMON_APPLY_MS ms" "nft -f: $NFT_MS ms" \
		"$(awk -v a="$DAEMON_APPLY_MS" -v b="$NFT_MS" 'BEGIN { printf "%.1fx faster", b / a }')" \
		"<= 150 ms, >= 10x" \
		"$(awk -v a="$DAEMON_APPLY_MS" -v b="$NFT_MS" 'BEGIN { s = (a <= 150 ? "" : "MISSED time"); if (b / a < 10) s = s (s ? ", " : "") "MISSED ratio"; print (s ? s : "met") }')"
	row resync "$RESYNC_N" "daemon: resync after the events stream dropped (reconnect, full list)" \
		"$RESYNC_TX tx ($RESYNC_MS ms committing); ready again after $RESYNC_READY_MS ms" "" "" \
		"unchanged state: 0 tx" "$([ "$RESYNC_TX" = 0 ] && echo met || echo "MISSED (re-sent)")"

	# The same path without the loop, each stage timed (rulebench).
	out=$(ip netns exec "$HNS" "$RULEBENCH" --table $TABLE -n "$RESYNC_N" --dests "$DESTS" \
		--reps "$([ "$QUICK" = 1 ] && echo 2 || echo 5)")
	echo "$out" >"$OUT/rulebench.txt"
	s() { echo "$out" | awk -F= -v k="$1" '$1 == k { print $2 }'; }
	hx nft delete table inet $TABLE 2>/dev/null || true
	row resync "$RESYNC_N" "rulebench: from scratch, diff+commit ($(s elements) elements, $(s scratch_ops) ops)" \
		"$(s scratch_ms) ms" "nft -f: $NFT_MS ms" \
		"$(awk -v a="$(s scratch_ms)" -v b="$NFT_MS" 'BEGIN { printf "%.1fx faster", b / a }')" \
		"<= 150 ms, >= 10x" \
		"$(awk -v a="$(s scratch_ms)" -v b="$NFT_MS" 'BEGIN { s = (a <= 150 ? "" : "MISSED time"); if (b / a < 10) s = s (s ? ", " : "") "MISSED ratio"; print (s ? s : "met") }')"
	row resync "$RESYNC_N" "rulebench: full replace over the same table" "$(s replace_ms) ms" "" "" "" ""
	row resync "$RESYNC_N" "rulebench: no-op (all marked, recompiled, diffed)" \
		"$(s noop_ms) ms, $(s noop_transactions) tx; full diff $(s diff_ops) ops in $(s diff_ms) ms" \
		"" "" "0 ops, nothing sent" \
		"$([ "$(s diff_ops)" = 0 ] && [ "$(s noop_transactions)" = 0 ] && echo met || echo MISSED)"
	row resync "$RESYNC_N" "rulebench: parse JSON / compile (context)" \
		"$(s parse_ms) / $(s compile_ms) ms" "" "" "" ""
	out=$(ip netns exec "$HNS" "$RULEBENCH" --table $TABLE -n "$RESYNC_N" --dests "$DESTS" \
		--reps "$([ "$QUICK" = 1 ] && echo 2 || echo 5)" --monitor 0)
	echo "$out" >"$OUT/rulebench-nomonitor.txt"
	hx nft delete table inet $TABLE 2>/dev/null || true
	row resync "$RESYNC_N" "rulebench: from scratch without the nf_tables monitor (context)" \
		"$(s scratch_ms) ms" "" "" "" ""
}

# --- 4: packet path ----------------------------------------------------------------------------

# The client and the server namespaces, once for the packet and the DNS parts.
PEERS=0
setup_peers() {
	[ "$PEERS" = 0 ] || return 0
	PEERS=1
	netns_add "$CNS"
	netns_add "$SNS"
	hx ip link add vwbc0 type veth peer name eth0 netns "$CNS"
	hx ip link set vwbc0 master vwbench0 up
	ip -n "$CNS" link set eth0 up
	hx ip link add vwbs0 type veth peer name eth0 netns "$SNS"
	hx ip addr add 198.51.100.1/30 dev vwbs0
	hx ip link set vwbs0 up
	ip -n "$SNS" addr add $SERVER/30 dev eth0
	ip -n "$SNS" link set eth0 up
	# The way back to the containers' subnet goes through the host (and its bridge).
	ip -n "$SNS" route add 198.18.0.0/16 via 198.51.100.1
}

setup_packet() {
	setup_peers
	# Pinned apart: when the scheduler puts client and server on one CPU, throughput drops by
	# a third at random, which swamps what is measured. The client's CPU does the forwarding.
	ip netns exec "$SNS" $PIN_SERVER iperf3 -s -B $SERVER -p $SERVER_PORT >"$OUT/iperf3-server.log" 2>&1 &
	track $!
	sleep 0.5
}

# client_addr IDX: the client takes container IDX's address.
client_addr() {
	local h=$(($1 + 2))
	ip -n "$CNS" addr flush dev eth0
	ip -n "$CNS" addr add "198.18.$(((h >> 8) & 255)).$((h & 255))/16" dev eth0
	ip -n "$CNS" route replace default via 198.18.0.1
}

# One iperf3 run: Gbit/s received, or 0 when nothing got through.
iperf() {
	ip netns exec "$CNS" $PIN_CLIENT iperf3 -c $SERVER -p $SERVER_PORT -t "$IPERF_SECS" -O 1 -J \
		--connect-timeout 3000 2>/dev/null |
		jq -r '(.end.sum_received.bits_per_second // 0) / 1e9' 2>/dev/null || echo 0
}

# iperf through vpnwalld, then the client's accepted-packet counter (proof it was policed).
vw_iperf() {
	local g VW_ACCEPTED
	g=$(iperf)
	scrape "$TMP/pk"
	VW_ACCEPTED=$(awk -v s="vpnwall_packets_total{container=\"c$1\",action=\"accepted\"}" \
		'$1 == s { print $2 }' "$TMP/pk")
	echo "N=$1 vpnwall run: $g Gbit/s, client's accepted packets ${VW_ACCEPTED:-none}" >>"$OUT/iperf.txt"
	echo "${VW_ACCEPTED:-0}" >"$TMP/accepted" # runs in a subshell: the caller reads this
	echo "$g"
}

no_firewall() {
	hx nft delete table inet $TABLE 2>/dev/null || true
	hx iptables-legacy -F 2>/dev/null || true
	hx iptables-legacy -X 2>/dev/null || true
	hx ipset destroy 2>/dev/null || true
}

# dockerwall's layout: ALLOW and DENY chains of one rule per container, one ipset each.
iptables_rules() {
	local n=$1 i h ip j a b
	{
		echo "create managed-subnets hash:net"
		echo "add managed-subnets 198.18.0.0/16"
		for ((i = 0; i <= n; i++)); do
			a=$(((i >> 8) & 255)) b=$((i & 255))
			echo "create c$i hash:ip,port"
			for ((j = 0; j < DESTS; j++)); do
				echo "add c$i 198.19.$a.$b,tcp:$((1000 + 2 * j))"
			done
		done
		echo "add c$n $SERVER,tcp:$SERVER_PORT"
	} >"$TMP/ipset.txt"
	{
		echo "*filter"
		echo ":DOCKERWALL-ALLOW - [0:0]"
		echo ":DOCKERWALL-DENY - [0:0]"
		echo "-A FORWARD -j DOCKERWALL-ALLOW"
		echo "-A FORWARD -j DOCKERWALL-DENY"
		echo "-A FORWARD -m set --match-set managed-subnets src -j DROP"
		for ((i = 0; i <= n; i++)); do
			h=$((i + 2))
			ip="198.18.$(((h >> 8) & 255)).$((h & 255))/32"
			echo "-A DOCKERWALL-ALLOW -s $ip -m set --match-set c$i dst,dst -j ACCEPT"
			echo "-A DOCKERWALL-DENY -s $ip -m set ! --match-set c$i dst,dst -j DROP"
		done
		echo "COMMIT"
	} >"$TMP/iptables.txt"
	hx ipset restore <"$TMP/ipset.txt"
	hx iptables-legacy-restore <"$TMP/iptables.txt"
}


bench_packet() {
	local n r none=() vw=() ipt=() ct=() mn mv mi mc policed
	wait_quiet "the packet path"
	setup_packet
	for n in $PACKET_N; do
		log "packet path: N=$n (+1 client)"
		none=() vw=() ipt=() ct=()
		client_addr "$n"
		no_firewall
		# vpnwalld against N+1 containers; the last one is the client and may reach the server.
		start_fake $((n + 1)) "$SERVER:$SERVER_PORT/tcp"
		start_daemon "packet-$n"
		vw+=("$(vw_iperf "$n")")
		[ "${vw[0]}" != 0 ] || log "vpnwall let nothing through at N=$n (see $OUT/vpnwalld-packet-$n.log)"
		policed=$(awk -v p="$(cat "$TMP/accepted")" 'BEGIN { print (p + 0 > 0 ? "yes" : "NO") }')
		stop_daemon
		stop_fake
		for ((r = 0; r < IPERF_RUNS; r++)); do
			no_firewall
			none+=("$(iperf)")
			# conntrack alone (vpnwall's rules need it): a table that only looks at ct state.
			printf '%s\n' 'table inet vwbct {' 'chain f {' \
				'type filter hook forward priority -10;' 'ct state new counter' '}' '}' |
				hx nft -f -
			ct+=("$(iperf)")
			hx nft delete table inet vwbct
			iptables_rules "$n"
			ipt+=("$(iperf)")
			no_firewall
			# vpnwall's table is left by the daemon (it outlives it): reload it as it was.
			if [ "$r" -gt 0 ]; then
				start_fake $((n + 1)) "$SERVER:$SERVER_PORT/tcp"
				start_daemon "packet-$n"
				vw+=("$(vw_iperf "$n")")
				stop_daemon
				stop_fake
			fi
		done
		no_firewall
		mn=$(median "${none[@]}") mv=$(median "${vw[@]}") mi=$(median "${ipt[@]}") mc=$(median "${ct[@]}")
		echo "N=$n none=${none[*]} vpnwall=${vw[*]} iptables=${ipt[*]} conntrack=${ct[*]}" >>"$OUT/iperf.txt"
		row packet "$n" "iperf3 TCP, no firewall" "$mn Gbit/s" "" "1.00" "" ""
		row packet "$n" "conntrack only (context)" "$mc Gbit/s" "$mn" \
			"$(awk -v a="$mc" -v b="$mn" 'BEGIN { printf "%.2f", a / b }')" "" ""
		row packet "$n" "vpnwall (vpnwalld, $n+1 sources; client's packets counted: $policed)" "$mv Gbit/s" "$mn" \
			"$(awk -v a="$mv" -v b="$mn" 'BEGIN { printf "%.2f", a / b }')" \
			"$([ "$n" -ge 5000 ] && echo ">= 0.95, above iptables")" \
			"$([ "$n" -ge 5000 ] && awk -v a="$mv" -v b="$mn" -v c="$mi" 'BEGIN { s = (a / b >= 0.95 ? "" : "MISSED ratio"); if (a <= c) s = s (s ? ", " : "") "MISSED vs iptables"; print (s ? s : "met") }')"
		row packet "$n" "iptables-legacy + ipset (dockerwall layout)" "$mi Gbit/s" "$mn" \
			"$(awk -v a="$mi" -v b="$mn" 'BEGIN { printf "%.2f", a / b }')" "" ""
	done
}

# --- DNS proxy ----------------------------------------------------------------------------------

DNS_ANSWER=198.51.100.77 # what the upstream answers for every name under bench.test
DNS_GW=198.18.0.1        # the bridge's address, where the dnsmasq baseline listens
DNS_PORT=1053            # vpnwalld's proxy (its default)
DM_TABLE=vwbdm           # the dnsmasq baseline's nft table, in the host namespace

kv() { echo "$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# cpu_ticks PID: utime + stime (after the comm field, which may hold spaces).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

no_dns_firewall() {
	hx nft delete table inet $TABLE 2>/dev/null || true
	hx nft delete table inet $DM_TABLE 2>/dev/null || true
	# A redirected flow's conntrack entry would go on redirecting a reused source port.
	hx conntrack -F >/dev/null 2>&1 || true
}

# dns_wait ADDR WHAT: until the client gets a NOERROR answer from ADDR:53 (10 s at most).
dns_wait() {
	local out
	for _ in $(seq 50); do
		out=$(ip netns exec "$CNS" "$DNSLAT" -s "$1" -n 1 -w 0 -t 200 -z wait.bench.test 2>/dev/null) || true
		[ "$(kv "$out" noerror)" = 1 ] && return 0
		sleep 0.2
	done
	die "no NOERROR answer from $1:53 through $2"
}

# dns_case NAME ADDR PID BASE [CMD...]: dnslat, CMD, then dnsperf, from the client to ADDR:53.
# PID is the forwarder whose CPU time is read around the dnsperf run (empty: none). Writes one
# line to $TMP/case: p50 p90 p99 qps cpu% answered (dnslat, warm-up included) completed
# (dnsperf) problems ("-": none).
dns_case() {
	local name=$1 addr=$2 pid=$3 base=$4 lat perf c0=0 c1=0 cpu=- qps lost completed answered warm bad=''
	lat=$(ip netns exec "$CNS" $PIN_CLIENT "$DNSLAT" -s "$addr" -n "$DNS_QUERIES" -b "$base") ||
		bad="$bad no-answers"
	echo "$name base=$base $(echo "$lat" | tr '\n' ' ')" >>"$OUT/dnslat.txt"
	shift 4
	[ $# = 0 ] || "$@"
	[ -z "$pid" ] || c0=$(cpu_ticks "$pid")
	perf=$(ip netns exec "$CNS" $PIN_CLIENT dnsperf -s "$addr" -p 53 -d "$TMP/dnsperf.txt" \
		-l "$DNS_SECS" -q "$DNS_OUTSTANDING" -t 2 2>&1) || bad="$bad dnsperf-failed"
	[ -z "$pid" ] || c1=$(cpu_ticks "$pid")
	printf '== %s base=%s\n%s\n' "$name" "$base" "$perf" >>"$OUT/dnsperf.txt"
	[ -z "$pid" ] || cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" -v s="$DNS_SECS" \
		'BEGIN { printf "%.0f", (b - a) / hz / s * 100 }')
	qps=$(echo "$perf" | awk '/Queries per second:/ { print $4 }')
	lost=$(echo "$perf" | awk '/Queries lost:/ { print $3 }')
	completed=$(echo "$perf" | awk '/Queries completed:/ { print $3 }')
	answered=$(kv "$lat" answered) warm=$(kv "$lat" warmup_answered)
	[ "$(kv "$lat" lost)" = 0 ] || bad="$bad dnslat-lost:$(kv "$lat" lost)"
	[ "$(kv "$lat" noerror)" = "$(kv "$lat" answered)" ] || bad="$bad dnslat-not-NOERROR"
	[ "${lost:-x}" = 0 ] || bad="$bad dnsperf-lost:${lost:-?}"
	echo "$perf" | grep 'Response codes:' | grep -qv -E 'REFUSED|SERVFAIL|NXDOMAIN|FORMERR' ||
		bad="$bad dnsperf-not-NOERROR"
	echo "$(kv "$lat" p50_us) $(kv "$lat" p90_us) $(kv "$lat" p99_us) ${qps:-0} $cpu" \
		"$((${answered:-0} + ${warm:-0})) ${completed:-0} $(echo "${bad:--}" | sed 's/^ //; s/ /,/g')" >"$TMP/case"
}

bench_dns() {
	local run pid k a1 a2 d50=() d90=() d99=() dq=() m50=() m90=() m99=() mq=() mc=() v50=() v90=() v99=()
	local vq=() vc=() vown=() p50 p90 p99 qps cpu n bad probs='' allowed=0 asked=0 mlearn=yes
	local vlearn=yes md mm mv mr add_m add_v add_r r50=() r90=() r99=() rq=() rc=()
	wait_quiet "the DNS proxy"
	log "DNS proxy: $DNS_RUNS run(s); per case $DNS_QUERIES closed-loop queries and ${DNS_SECS}s of dnsperf"
	setup_peers
	client_addr 0
	no_dns_firewall
	# The upstream answers every name under bench.test itself (no cache involved) and asks
	# nobody. It shares CPU 0 with the client; the forwarder measured has CPU 1.
	ip netns exec "$SNS" $PIN_CLIENT dnsmasq -k -C /dev/null -u root --pid-file="$TMP/dns-up.pid" \
		--log-facility=- --no-resolv --no-hosts --bind-interfaces --listen-address=$SERVER \
		--address=/bench.test/$DNS_ANSWER --local-ttl=300 --dns-forward-max=1000 \
		2>>"$OUT/dnsmasq-upstream.log" &
	track $!
	seq 0 499999 | awk '{ print "p" $1 ".bench.test A" }' >"$TMP/dnsperf.txt"
	: >"$OUT/dnslat.txt"
	: >"$OUT/dnsperf.txt"
	dns_wait $SERVER "nothing (the upstream itself)"
	for ((run = 0; run < DNS_RUNS; run++)); do
		# Direct: the client asks the upstream itself, through the host (no table).
		dns_case direct $SERVER "" $((run * 30000000))
		read -r p50 p90 p99 qps cpu n k bad <"$TMP/case"
		d50+=("$p50") d90+=("$p90") d99+=("$p99") dq+=("$qps")
		[ "$bad" = - ] || probs="$probs direct:$bad"

		# dnsmasq: a forwarder at the bridge's address, no cache, every A answer under
		# bench.test put in an nft set (libnftables, one command per answer).
		printf '%s\n' "table inet $DM_TABLE {" 'set learned4 {' 'type ipv4_addr' \
			'flags timeout' 'timeout 1h' '}' '}' | hx nft -f -
		ip netns exec "$HNS" $PIN_SERVER dnsmasq -k -C /dev/null -u root \
			--pid-file="$TMP/dns-dm.pid" --log-facility=- --no-resolv --no-hosts \
			--bind-interfaces --listen-address=$DNS_GW --server=$SERVER --cache-size=0 \
			--nftset=/bench.test/4#inet#$DM_TABLE#learned4 2>>"$OUT/dnsmasq-nftset.log" &
		pid=$!
		track $pid
		dns_wait $DNS_GW "dnsmasq --nftset"
		dns_case dnsmasq $DNS_GW $pid $((run * 30000000 + 10000000))
		read -r p50 p90 p99 qps cpu n k bad <"$TMP/case"
		m50+=("$p50") m90+=("$p90") m99+=("$p99") mq+=("$qps") mc+=("$cpu")
		[ "$bad" = - ] || probs="$probs dnsmasq:$bad"
		hx nft list set inet $DM_TABLE learned4 >"$OUT/dns-dnsmasq-set-$run.txt"
		grep -q "$DNS_ANSWER" "$OUT/dns-dnsmasq-set-$run.txt" || mlearn=NO
		stop_pid $pid
		no_dns_firewall

		# The floor: a relay that only forwards datagrams (no parsing, no policy, no set),
		# where dnsmasq was and on the same CPU. What it adds, any userspace proxy adds.
		ip netns exec "$HNS" $PIN_SERVER "$UDPRELAY" -l $DNS_GW -u $SERVER >"$TMP/relay.out" \
			2>>"$OUT/udprelay.log" &
		pid=$!
		track $pid
		dns_wait $DNS_GW "udprelay"
		dns_case relay $DNS_GW $pid $((run * 30000000 + 5000000))
		read -r p50 p90 p99 qps cpu n k bad <"$TMP/case"
		r50+=("$p50") r90+=("$p90") r99+=("$p99") rq+=("$qps") rc+=("$cpu")
		[ "$bad" = - ] || probs="$probs relay:$bad"
		stop_pid $pid

		# vpnwalld: the client is container c0, allowed *.bench.test; its port 53 is
		# redirected to the proxy, which asks the upstream and learns each answer. One
		# client is the whole load: its rate limit (a rule all the same) out of the way.
		start_fake 1 "*.bench.test:80/tcp"
		start_daemon "dns-$run" DNS_PROXY=true DNS_PROXY_PORT=$DNS_PORT DNS_UPSTREAM=$SERVER \
			DNS_PROXY_RATE=1000000
		[ -z "$PIN_SERVER" ] || taskset -a -p -c 1 "$DAEMON_PID" >/dev/null
		dns_wait $SERVER "vpnwalld's proxy"
		scrape "$TMP/d1"
		dns_case vpnwalld $SERVER "$DAEMON_PID" $((run * 30000000 + 20000000)) scrape "$TMP/d1b"
		read -r p50 p90 p99 qps cpu n k bad <"$TMP/case"
		scrape "$TMP/d2"
		v50+=("$p50") v90+=("$p90") v99+=("$p99") vq+=("$qps") vc+=("$cpu")
		[ "$bad" = - ] || probs="$probs vpnwalld:$bad"
		# The daemon's own time per query (vpnwall_dns_proxy_seconds), closed loop only.
		vown+=("$(hq "$TMP/d1" "$TMP/d1b" vpnwall_dns_proxy_seconds 0.5 |
			awk '{ if ($1 == "nan") print "nan"; else printf "%.1f", $1 * 1e6 }')")
		a1=$(mval "$TMP/d1" 'vpnwall_dns_queries_total{container="c0",verdict="allowed"}')
		a2=$(mval "$TMP/d2" 'vpnwall_dns_queries_total{container="c0",verdict="allowed"}')
		allowed=$((allowed + ${a2:-0} - ${a1:-0}))
		asked=$((asked + n + k))
		# Both paths' learned sets (which one holds it depends on VPN_INTERFACE).
		{
			hx nft list set inet $TABLE learned4
			hx nft list set inet $TABLE anylearned4
		} >"$OUT/dns-vpnwalld-sets-$run.txt"
		grep -q "$DNS_ANSWER" "$OUT/dns-vpnwalld-sets-$run.txt" || vlearn=NO
		stop_daemon
		stop_fake
		no_dns_firewall
	done
	md=$(median "${d50[@]}") mm=$(median "${m50[@]}") mv=$(median "${v50[@]}")
	add_m=$(awk -v a="$mm" -v b="$md" 'BEGIN { printf "%.1f", a - b }')
	add_v=$(awk -v a="$mv" -v b="$md" 'BEGIN { printf "%.1f", a - b }')
	mr=$(median "${r50[@]}")
	add_r=$(awk -v a="$mr" -v b="$md" 'BEGIN { printf "%.1f", a - b }')
	[ -z "$probs" ] || log "DNS: problems:$probs (see $OUT/dnslat.txt, $OUT/dnsperf.txt)"
	row dns 1 "direct to the upstream (context): closed-loop p50 / p90 / p99; dnsperf" \
		"$md / $(median "${d90[@]}") / $(median "${d99[@]}") µs; $(median "${dq[@]}") q/s" \
		"" "" "" "$(echo "$probs" | tr ' ' '\n' | grep '^direct:' | tr '\n' ' ')"
	row dns 1 "dnsmasq --cache-size=0 --nftset (answer in the set: $mlearn): p50 / p90 / p99; dnsperf" \
		"$mm / $(median "${m90[@]}") / $(median "${m99[@]}") µs; $(median "${mq[@]}") q/s (CPU $(median "${mc[@]}" | cut -d. -f1) %)" \
		"" "" "" "$(echo "$probs" | tr ' ' '\n' | grep '^dnsmasq:' | tr '\n' ' ')"
	row dns 1 "udprelay, a relay that only forwards (the floor of a userspace proxy here): p50 / p90 / p99; dnsperf" \
		"$mr / $(median "${r90[@]}") / $(median "${r99[@]}") µs; $(median "${rq[@]}") q/s (CPU $(median "${rc[@]}" | cut -d. -f1) %)" \
		"" "" "" "$(echo "$probs" | tr ' ' '\n' | grep '^relay:' | tr '\n' ' ')"
	row dns 1 "vpnwalld proxy (answer in the set: $vlearn; queries it counted allowed: $allowed, answers the client got: $asked; its own histogram's closed-loop p50 $(median "${vown[@]}") µs): p50 / p90 / p99; dnsperf" \
		"$mv / $(median "${v90[@]}") / $(median "${v99[@]}") µs; $(median "${vq[@]}") q/s (CPU $(median "${vc[@]}" | cut -d. -f1) %)" \
		"" "" "" "$(echo "$probs" | tr ' ' '\n' | grep '^vpnwalld:' | tr '\n' ' ')"
	row dns 1 "queries/s, dnsperf with $DNS_OUTSTANDING in flight: vpnwalld vs dnsmasq+nftset" \
		"$(median "${vq[@]}") q/s" "dnsmasq+nftset: $(median "${mq[@]}") q/s" \
		"$(awk -v a="$(median "${vq[@]}")" -v b="$(median "${mq[@]}")" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')" \
		">= 2.00x" \
		"$(awk -v a="$(median "${vq[@]}")" -v b="$(median "${mq[@]}")" 'BEGIN { print (b > 0 && a / b >= 2 ? "met" : "MISSED") }')"
	row dns 1 "p50 added latency (p50 - direct p50), vpnwalld" "$add_v µs" \
		"dnsmasq+nftset: $add_m µs" "" "< 20 µs" \
		"$(awk -v a="$add_v" 'BEGIN { print (a < 20 ? "met" : "MISSED") }')"
	row dns 1 "p50 added latency (p50 - direct p50), dnsmasq+nftset (context)" "$add_m µs" \
		"" "" "" ""
	row dns 1 "p50 added latency (p50 - direct p50), udprelay: the floor (context)" "$add_r µs" \
		"" "" "" ""
}

# --- real dockerd -------------------------------------------------------------------------------

# bench/realdocker.sh brings up the integration testbed (its own dockerd): it must not run
# beside the project's tests either.
bench_real() {
	local a b c d e f g h
	wait_quiet "the real-dockerd part"
	log "real dockerd: $REAL_RUNS docker runs with and without vpnwalld"
	bash "$ROOT/bench/realdocker.sh" "$VPNWALLD" "$FIRSTCONN" "$REAL_RUNS" \
		>"$OUT/real.tsv" 2>"$OUT/real.log" || die "real dockerd part (see $OUT/real.log)"
	# '|'-separated: a tab is whitespace to read, and empty fields would vanish.
	while IFS='|' read -r a b c d e f g h; do
		row "$a" "$b" "$c" "$d" "$e" "$f" "$g" "$h"
	done <"$OUT/real.tsv"
}

# --- main ----------------------------------------------------------------------------------------

mkdir -p "$OUT"
: >"$OUT/results.tsv"
./deploy/deps.sh --if-missing >"$OUT/deps.log" 2>&1 || die "deploy/deps.sh (see $OUT/deps.log)"
TMP=$(mktemp -d /tmp/vwbench.XXXXXX)
build
for t in nft curl jq ip; do
	command -v $t >/dev/null || die "$t is missing (deploy/deps.sh)"
done
if has packet; then
	for t in iperf3 ipset iptables-legacy; do
		command -v $t >/dev/null || die "$t is missing (deploy/deps.sh installs it)"
	done
fi
if has dns; then
	for t in dnsperf dnsmasq conntrack taskset; do
		command -v $t >/dev/null || die "$t is missing (deploy/deps.sh installs it)"
	done
fi
setup_host
START=$(date -u '+%Y-%m-%d %H:%M UTC')
if has control || has footprint; then bench_control; fi
if has resync; then bench_resync; fi
if has packet; then bench_packet; fi
if has dns; then bench_dns; fi
if has real; then bench_real; fi

{
	echo "vpnwall benchmarks, $START, $(uname -r), $(nproc) CPUs$([ "$QUICK" = 1 ] && echo ", QUICK")"
	echo
	echo "| part | N | measure | result | baseline | ratio | target | status |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '%s' "$RESULTS"
	[ -z "$CONTENDED" ] || printf '\nWARNING: tests of the project were running during:%s\n' "$CONTENDED"
} | tee "$OUT/results.md"
log "results and logs in $OUT"
