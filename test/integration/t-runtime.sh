#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Changes while the daemon runs: network connect/disconnect, a network created late, a
# rename, a stop and start. A container keeps its policy through all of them.
# shellcheck disable=SC2317 # helpers below run through tb_check and tb_eventually
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up
docker network create neta >/dev/null
docker network create --subnet 198.18.43.0/24 --gateway 198.18.43.1 netb >/dev/null

tb_daemon_start
tb_daemon_wait_ready

# dispatched_to ADDR CONTAINER: packets from ADDR get CONTAINER's policy.
dispatched_to() { [ "$(tb_dispatched "$1")" = "$(docker inspect -f '{{.Id}}' "$2" | cut -c1-16)" ]; }
not_dispatched() { [ -z "$(tb_dispatched "$1")" ]; }

tb_run cc --network neta --cap-add NET_ADMIN --label vpn.outbound=198.51.100.10
tb_run uu --network neta
c_key=$(docker inspect -f '{{.Id}}' cc | cut -c1-16)
tb_expect_eventually_reach cc 198.51.100.10 80 "on network A: allowed host reached"
tb_expect_blocked cc 198.51.100.11 80 "on network A: other host blocked"
tb_expect_blocked uu 198.51.100.10 80 "on network A: unlabeled neighbour blocked"

# --- network connect: the new address is policed as the same container
docker network connect netb cc
cb=$(tb_ip cc netb)
tb_log "cc on netb: $cb"
tb_check "connect: cc's address on B ($cb) is dispatched to cc" \
	tb_eventually 15 dispatched_to "$cb" cc
# Steer traffic to the fake servers out through B's interface.
docker exec cc ip route add 198.51.100.10/32 via 198.18.43.1
docker exec cc ip route add 198.51.100.11/32 via 198.18.43.1
route_via_b() { docker exec cc ip route get "$1" | grep -q "via 198.18.43.1 .*src $cb"; }
tb_check "traffic to .10 leaves through network B" route_via_b 198.51.100.10
tb_check "traffic to .11 leaves through network B" route_via_b 198.51.100.11
tb_expect_reach cc 198.51.100.10 80 "via network B: allowed host reached"
tb_expect_blocked cc 198.51.100.11 80 "via network B: other host blocked"

# --- network disconnect: the address is withdrawn, A still works
docker network disconnect netb cc
tb_check "disconnect: cc's former address on B ($cb) is no longer dispatched" \
	tb_eventually 15 not_dispatched "$cb"
tb_check "disconnect: cc's address on A stays dispatched" dispatched_to "$(tb_ip cc neta)" cc
tb_expect_reach cc 198.51.100.10 80 "after disconnect: allowed host reached via A"
tb_expect_blocked cc 198.51.100.11 80 "after disconnect: other host blocked via A"

# --- a network created while the daemon runs
docker network create late >/dev/null
late_br=br-$(docker network inspect -f '{{.Id}}' late | cut -c1-12)
tb_run lu --network late
tb_run ll --network late --label vpn.outbound=198.51.100.10
bridge_policed() { [ "$(tb_bridge_verdict "$1")" = "goto police" ]; }
tb_check "late network: its bridge $late_br is policed" tb_eventually 10 bridge_policed "$late_br"
tb_expect_eventually_reach ll 198.51.100.10 80 "late network: labeled container reaches its host"
tb_expect_blocked ll 198.51.100.11 80 "late network: labeled container blocked elsewhere"
tb_expect_blocked lu 198.51.100.10 80 "late network: unlabeled container blocked"
tb_check "late network: unlabeled container's address is dispatched" dispatched_to "$(tb_ip lu late)" lu

# --- rename keeps the policy (the chain is keyed by id, not name)
docker rename cc renamed
renamed_in_log() { grep -q "'renamed'" "$TB/vpnwalld.log"; }
tb_check "rename: the daemon learns the new name" tb_eventually 15 renamed_in_log
tb_check "rename: the address still dispatches to the same chain" \
	dispatched_to "$(tb_ip renamed neta)" renamed
tb_check_eq "rename: same container id prefix (chain key)" "$c_key" \
	eval "docker inspect -f '{{.Id}}' renamed | cut -c1-16"
tb_expect_reach renamed 198.51.100.10 80 "rename: allowed host still reached"
tb_expect_blocked renamed 198.51.100.11 80 "rename: other host still blocked"

# --- stop and start keep the policy
ca=$(tb_ip renamed neta)
docker stop -t 5 renamed >/dev/null
tb_check "stop: the stopped container's address ($ca) is no longer dispatched" \
	tb_eventually 15 not_dispatched "$ca"
docker start renamed >/dev/null
tb_wait_until 20 tb__running renamed || tb__die "renamed did not start again"
ca=$(tb_ip renamed neta)
tb_check "start: its address ($ca) is dispatched again" tb_eventually 15 dispatched_to "$ca" renamed
tb_expect_eventually_reach renamed 198.51.100.10 80 "stop/start: allowed host reached again"
tb_expect_blocked renamed 198.51.100.11 80 "stop/start: other host still blocked"
tb_expect_blocked uu 198.51.100.10 80 "unlabeled neighbour still blocked at the end"

tb_finish
