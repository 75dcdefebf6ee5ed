#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Huge labels do not tear down the events stream. Docker copies every label into each
# event of a container; with 80 KiB of labels, its events exceed the 64 KiB line limit.
# Such a line is skipped (and the container re-inspected), the stream stays up, and a
# revocation carried by an over-long die event still applies at once.
# shellcheck disable=SC2317 # helpers below run through tb_check and tb_eventually
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up
docker network create --subnet 198.18.41.0/24 fatnet >/dev/null

tb_daemon_start
tb_daemon_wait_ready

junk=$(head -c 1000 /dev/zero | tr '\0' x)
args=()
for i in $(seq 1 80); do args+=(--label "junk.k$i=$junk"); done
tb_run fat --network fatnet --ip 198.18.41.10 "${args[@]}" --label vpn.outbound=198.51.100.10
tb_run ctl --label vpn.outbound=198.51.100.11
tb_expect_eventually_reach fat 198.51.100.10 80 "a container with 80 KiB of labels gets its policy"
tb_expect_blocked fat 198.51.100.11 80 "and nothing else"
tb_expect_eventually_reach ctl 198.51.100.11 80 "control: another container gets its policy"

lost() { grep -q "lost Docker" "$TB/vpnwalld.log"; }
# update events carry the labels: each of these is an over-long line.
for i in 1 2 3; do docker update --cpu-shares $((512 + i)) fat >/dev/null; done
cut_logged() { grep -q "event over 65536 bytes" "$TB/vpnwalld.log"; }
tb_check "the over-long event lines are noticed" tb_eventually 10 cut_logged
tb_check_fails "the events stream was never torn down" lost
tb_expect_reach fat 198.51.100.10 80 "after the long events: the policy is still applied"

# A revocation in an over-long die event: the address is free at once, the successor on it
# (no labels) must never inherit the allowance.
docker rm -f fat >/dev/null
tb_run succ --network fatnet --ip 198.18.41.10
never_reaches() {
	local i
	for i in 1 2 3; do
		! tb_can_reach succ 198.51.100.10 80 || return 1
	done
}
tb_check "the successor on the address never reaches the old allowance" never_reaches
tb_check_fails "still no teardown of the stream" lost
tb_run late --label vpn.outbound=198.51.100.12
tb_expect_eventually_reach late 198.51.100.12 80 "events keep flowing: a new container gets its policy" 5
tb_expect_reach ctl 198.51.100.11 80 "control: the other container still reaches"

tb_finish
