#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The real-Docker part of the benchmarks (bench/run.sh runs it as "real"): the project's
# integration testbed (its own dockerd and fake internet in private network namespaces,
# test/lib/testbed.sh), vpnwalld on it, and
#
#   1. `docker run` to the container's first allowed connection, end to end: the container's
#      command is firstconn, which opens a new TCP connection every 5 ms until one gets
#      through and prints when; baseline: the same with no firewall at all (no table);
#   2. the daemon's own event->commit histogram over those starts, to set beside the
#      synthetic API's figures (same daemon, real dockerd's events and inspects).
#
# Prints result rows, fields separated by '|' (part, N, measure, result, baseline, ratio,
# target, status), on stdout; progress on stderr.
#
#   bench/realdocker.sh VPNWALLD FIRSTCONN [RUNS]
set -eu
VPNWALLD=$1
FIRSTCONN=$2
RUNS=${3:-20}
. "$(dirname "$0")/../test/lib/testbed.sh"
. "$(dirname "$0")/lib.sh"

TARGET=198.51.100.10

tb_init >&2
TB_IMAGE_EXTRA=$FIRSTCONN
tb_up >&2

# e2e NAME: start a container that connects to TARGET:80, print ms from `docker run` to
# its first connection, and the ms `docker run -d` itself took, as "E2E RUN".
e2e() {
	local t0 t1 t2 line i
	t0=$(date +%s%N)
	docker run -d --name "$1" --label vpn.outbound=$TARGET:80/tcp "$TB_IMAGE" \
		firstconn $TARGET 80 5 >/dev/null
	t1=$(date +%s%N)
	for i in $(seq 1 400); do
		line=$(docker logs "$1" 2>/dev/null | grep -m1 '^connected ') && break
		sleep 0.025
	done
	[ -n "${line:-}" ] || tb__die "container $1 never connected"
	t2=${line#connected }
	docker rm -f "$1" >/dev/null
	awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "%.1f %.1f\n", (c - a) / 1e6, (b - a) / 1e6 }'
}

# runs PREFIX: RUNS starts, one at a time; prints "median_e2e median_run".
runs() {
	local e=() r=() out i
	for i in $(seq 1 "$RUNS"); do
		out=$(e2e "$1$i")
		e+=("${out% *}")
		r+=("${out#* }")
	done
	printf '%s %s\n' "$(median "${e[@]}")" "$(median "${r[@]}")"
}

echo "bench: real dockerd: $RUNS docker runs without a firewall" >&2
read -r base_e2e base_run < <(runs nofw)

echo "bench: real dockerd: $RUNS docker runs with vpnwalld" >&2
tb_daemon_start NFLOG_GROUP=off LOG_LEVEL=info >&2
tb_daemon_wait_ready >&2
ip netns exec "$TB_HOST_NS" curl -sf http://127.0.0.1:50000/metrics >"$TB/m0"
read -r vw_e2e vw_run < <(runs vw)
ip netns exec "$TB_HOST_NS" curl -sf http://127.0.0.1:50000/metrics >"$TB/m1"
p50=$(sec2ms "$(hq "$TB/m0" "$TB/m1" vpnwall_event_to_commit_seconds 0.5)")
p99=$(sec2ms "$(hq "$TB/m0" "$TB/m1" vpnwall_event_to_commit_seconds 0.99)")

ratio=$(awk -v a="$vw_e2e" -v b="$base_e2e" 'BEGIN { printf "%.2f", a / b }')
printf 'real|0|docker run -> first allowed connection, median of %s (docker run -d alone: %s ms)|%s ms|no firewall: %s ms (docker run -d: %s ms)|%s||\n' \
	"$RUNS" "$vw_run" "$vw_e2e" "$base_e2e" "$base_run" "$ratio"
printf 'real|0|single start on the real dockerd, event->commit p50 / p99 (%s starts; the clock starts at create)|%s / %s ms||||\n' \
	"$RUNS" "$p50" "$p99"
# tb_finish would call a run without assertions a failure: this is a measurement.
tb_cleanup >&2
trap - EXIT
