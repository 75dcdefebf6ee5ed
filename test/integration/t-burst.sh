#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A burst of starts on the real dockerd (a host reboot, a compose up): every container gets
# its policy, quickly, in no more transactions than containers, while a container that was
# running before keeps its allowance and an unlabeled one in the burst gets nothing.
# shellcheck disable=SC2317 # helpers below run through tb_check and tb_eventually
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up

N=24
metric() {
	tb_host_exec curl -s http://127.0.0.1:50000/metrics |
		awk -v m="$1" '$1 == m { print $2; exit }'
}
updates() { metric 'vpnwall_ruleset_updates_total{result="success"}'; }

tb_daemon_start
tb_daemon_wait_ready
tb_run old --label vpn.outbound=198.51.100.11
tb_expect_eventually_reach old 198.51.100.11 80 "control: a container running before the burst reaches its host"

for i in $(seq 1 "$N"); do
	docker create --name "b$i" --label vpn.outbound=198.51.100.10 "$TB_IMAGE" >/dev/null
done
docker create --name bu "$TB_IMAGE" >/dev/null
before=$(updates)
started=$(date +%s%N)
# One CLI call, the engine starts them back to back.
# shellcheck disable=SC2046
docker start $(seq -f 'b%g' 1 "$N") bu >/dev/null
all_managed() { [ "$(metric vpnwall_managed_containers)" = $((N + 2)) ]; }
tb_check "all $N + 1 new containers are managed" tb_eventually 30 all_managed
done_ms=$((($(date +%s%N) - started) / 1000000))
after=$(updates)
tb_log "MEASURE burst of $((N + 1)) starts: managed after ${done_ms} ms, $((after - before)) transaction(s)"
few_transactions() { [ $((after - before)) -le $((N + 1)) ]; }
tb_check "the burst took no more transactions than containers" few_transactions

reach_all() {
	local i
	for i in $(seq 1 "$N"); do
		tb_can_reach "b$i" 198.51.100.10 80 || return 1
	done
}
tb_check "every container of the burst reaches its host" tb_eventually 15 reach_all
tb_expect_blocked b1 198.51.100.11 80 "a container of the burst reaches nothing else"
tb_expect_blocked bu 198.51.100.10 80 "the unlabeled container of the burst is blocked"
tb_expect_reach old 198.51.100.11 80 "the container from before still reaches its host"
timed() { [ "$(metric vpnwall_event_to_commit_seconds_count)" -ge "$N" ]; }
tb_check "every start was timed from event to commit" timed

tb_finish
