#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every bridge is policed until vpnwall knows better: a host bridge with any name, and a
# Docker network created with a custom bridge name while the daemon was down, are dropped
# (their sources are unknown); once learned, a network's containers get their policy, an
# excluded network is skipped, and IGNORE_BRIDGES exempts a host bridge on purpose, but
# never a bridge of a network vpnwall manages.
# shellcheck disable=SC2317 # helpers below run through tb_check
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up

# A stand-in for a LAN or VM bridge of the host: lanbr0, a peer namespace behind it, a
# route back from the internet, and Docker's FORWARD policy (drop) opened for it, so that
# only vpnwall can stop its traffic.
LAN=vwl$TB_ID
tb_netns_add "$LAN"
tb_host_exec ip link add lanbr0 type bridge
tb_host_exec ip addr add 198.18.99.1/24 dev lanbr0
tb_host_exec ip link set lanbr0 up
tb_host_exec ip link add vwlh type veth peer name eth0 netns "$LAN"
tb_host_exec ip link set vwlh master lanbr0 up
ip netns exec "$LAN" ip addr add 198.18.99.2/24 dev eth0
ip netns exec "$LAN" ip link set eth0 up
ip netns exec "$LAN" ip link set lo up
ip netns exec "$LAN" ip route add default via 198.18.99.1
tb_inet_exec ip route add 198.18.99.0/24 via "$TB_HOST_IP"
tb_host_exec iptables -I FORWARD -i lanbr0 -j ACCEPT
tb_host_exec iptables -I FORWARD -o lanbr0 -j ACCEPT

lan_reaches() {
	ip netns exec "$LAN" sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | timeout 4 busybox nc -w 2 198.51.100.10 80' |
		grep -q "tb-server 198.51.100.10 80"
}
tb_check "control: without vpnwall the LAN host reaches the internet" tb_eventually 10 lan_reaches

tb_daemon_start
tb_daemon_wait_ready
tb_check_fails "a host bridge of any name is policed by default (dropped)" lan_reaches
tb_run known --label vpn.outbound=198.51.100.10
tb_expect_eventually_reach known 198.51.100.10 80 "control: a known container gets its allowance"

# --- a Docker network with a custom bridge name, created while nobody watches
tb_daemon_kill
docker network create -o com.docker.network.bridge.name=vwcust0 --subnet 198.18.50.0/24 cust >/dev/null
tb_run cu --network cust --label vpn.outbound=198.51.100.10
tb_run cu2 --network cust
tb_expect_blocked cu 198.51.100.10 80 "daemon down: custom-named bridge policed, labeled container gets nothing yet"
tb_expect_blocked cu2 198.51.100.10 80 "daemon down: custom-named bridge policed, unlabeled container blocked"
tb_expect_reach known 198.51.100.10 80 "daemon down: control, the known container keeps its allowance"

tb_daemon_start
tb_daemon_wait_ready
tb_expect_eventually_reach cu 198.51.100.10 80 "learned: the labeled container on the custom bridge gets its allowance"
tb_expect_blocked cu 198.51.100.11 80 "learned: and nothing else"
tb_expect_blocked cu2 198.51.100.10 80 "learned: the unlabeled one stays blocked"
tb_daemon_stop

# --- an explicit list: the other networks are known and skipped, unknown bridges are not
tb_daemon_start GATEWAY_NETWORKS=bridge
tb_daemon_wait_ready
tb_expect_eventually_reach cu2 198.51.100.10 80 "explicit GATEWAY_NETWORKS: an excluded network is not policed"
bridge_is() { [ "$(tb_bridge_verdict "$1")" = "$2" ]; }
tb_check "explicit GATEWAY_NETWORKS: the excluded bridge is left alone in the map" bridge_is vwcust0 return
tb_check "explicit GATEWAY_NETWORKS: control, the listed bridge is policed in the map" bridge_is docker0 "goto police"
tb_expect_blocked known 198.51.100.11 80 "explicit GATEWAY_NETWORKS: the listed network is still policed"
tb_check_fails "explicit GATEWAY_NETWORKS: the host bridge is still policed" lan_reaches
tb_daemon_stop

# --- IGNORE_BRIDGES: a host bridge exempted on purpose (prefix form)
tb_daemon_start GATEWAY_NETWORKS=bridge IGNORE_BRIDGES=lanbr+
tb_daemon_wait_ready
tb_check "IGNORE_BRIDGES=lanbr+: the LAN host reaches the internet" tb_eventually 10 lan_reaches
tb_expect_blocked known 198.51.100.11 80 "IGNORE_BRIDGES: Docker's bridge is still policed"
tb_expect_reach known 198.51.100.10 80 "IGNORE_BRIDGES: control, the known container still reaches"
tb_daemon_stop

# --- IGNORE_BRIDGES naming managed Docker bridges: they are policed all the same
tb_daemon_start IGNORE_BRIDGES=lanbr+,docker0,vwcust+
tb_daemon_wait_ready
tb_check "IGNORE_BRIDGES on managed bridges: the pattern still exempts the host bridge" tb_eventually 10 lan_reaches
tb_expect_blocked known 198.51.100.11 80 "IGNORE_BRIDGES=docker0: a managed bridge is still policed"
tb_expect_reach known 198.51.100.10 80 "IGNORE_BRIDGES=docker0: control, its allowance holds"
tb_expect_blocked cu2 198.51.100.10 80 "IGNORE_BRIDGES=vwcust+: a managed custom bridge is still policed"
tb_expect_reach cu 198.51.100.10 80 "IGNORE_BRIDGES=vwcust+: control, the labeled container there reaches"
tb_check "IGNORE_BRIDGES=vwcust+: the managed bridge is policed in the map" bridge_is vwcust0 "goto police"
ignore_warned() { grep -q "IGNORE_BRIDGES pattern 'vwcust+' matches bridge vwcust0 of Docker network 'cust'" "$TB/vpnwalld.log"; }
tb_check "IGNORE_BRIDGES on a managed bridge is warned about" ignore_warned

tb_finish
