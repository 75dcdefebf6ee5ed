#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# One container whose policy cannot be applied (here: it needs more kernel range rules than its
# budget) is isolated alone: it reaches nothing, not even what its labels list, and says
# why in the log, the API and the metrics. Every other change keeps applying at once:
# new containers get their access, revocations take effect.
# shellcheck disable=SC2317 # helpers below run through tb_check and tb_eventually
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up
docker network create --subnet 198.18.40.0/24 reuse >/dev/null

# m.test: 28 addresses with gaps between them (each its own stretch); 160 odd ports, each
# for TCP and UDP: 28 x 160 x 2 = 8960 boxes of one rule each, over the 4096 a container may
# have.
addrs=
for i in $(seq 64 2 118); do addrs="$addrs 198.51.100.$i"; done
# shellcheck disable=SC2086
tb_dns_set m.test $addrs
ports1= ports2=
for p in $(seq 1001 2 1159); do ports1="$ports1,m.test:$p"; done
for p in $(seq 1161 2 1319); do ports2="$ports2,m.test:$p"; done

tb_daemon_start
tb_daemon_wait_ready

tb_run ok --label vpn.outbound=198.51.100.10
tb_expect_eventually_reach ok 198.51.100.10 80 "control: a normal container reaches its host"
tb_run big --label "vpn.outbound=198.51.100.10${ports1}" --label "dockerwall.outbound=${ports2#,}"
isolated_logged() { grep -q "container 'big' is isolated, it reaches nothing: its destinations need more than 4096 kernel range rules" "$TB/vpnwalld.log"; }
tb_check "the log says why 'big' is isolated" tb_eventually 20 isolated_logged
tb_expect_blocked big 198.51.100.10 80 "isolated: not even what its labels list"
tb_expect_blocked big 198.51.100.11 80 "isolated: nor anything else"
tb_check "explain says it is isolated" sh -c "ip netns exec $TB_HOST_NS $VPNWALL --api $TB/api.sock explain big 198.51.100.10:80 | grep -q 'ISOLATED, reaches nothing'"
metric() { ip netns exec "$TB_HOST_NS" curl -s http://127.0.0.1:50000/metrics | grep "^$1 "; }
tb_check_eq "the metric counts it" "vpnwall_isolated_containers 1" metric vpnwall_isolated_containers
tb_check "status counts it" sh -c "ip netns exec $TB_HOST_NS $VPNWALL --api $TB/api.sock status | grep -q 'isolated:   1 container'"

# Everything else goes on: a new container gets access, a revocation applies at once.
tb_expect_reach ok 198.51.100.10 80 "others unaffected: the normal container still reaches"
tb_run ok2 --label vpn.outbound=198.51.100.11
tb_expect_eventually_reach ok2 198.51.100.11 80 "others unaffected: a new container gets its access" 5
tb_run ra --network reuse --ip 198.18.40.10 --label vpn.outbound=198.51.100.10
tb_expect_eventually_reach ra 198.51.100.10 80 "others unaffected: a third container gets its access" 5
docker rm -f ra >/dev/null
tb_run rb --network reuse --ip 198.18.40.10
tb_expect_blocked rb 198.51.100.10 80 "others unaffected: a revoked address is not inherited"
tb_expect_reach ok2 198.51.100.11 80 "control: still reachable after the revocation"

# The isolated one going away takes its isolation with it.
docker rm -f big >/dev/null
tb_check_eq "gone: nothing isolated any more" "vpnwall_isolated_containers 0" tb_eventually 10 metric vpnwall_isolated_containers

tb_finish
