#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fail closed for bridges vpnwall has not learned yet: traffic from a Docker-named bridge
# (br-*) that is not in Docker's network list is dropped while every bridge network is
# managed, and left alone when GATEWAY_NETWORKS names the managed networks explicitly.
# shellcheck disable=SC2317 # helpers below run through tb_check
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up

# A stand-in for a container on a bridge Docker just created: br-fake in the host
# namespace, a peer namespace behind it, a route back from the internet, and Docker's
# FORWARD policy (drop) opened for it, so that only vpnwall can stop its traffic.
FAKE=vwf$TB_ID
tb_netns_add "$FAKE"
tb_host_exec ip link add br-fake type bridge
tb_host_exec ip addr add 198.18.99.1/24 dev br-fake
tb_host_exec ip link set br-fake up
tb_host_exec ip link add vwfh type veth peer name eth0 netns "$FAKE"
tb_host_exec ip link set vwfh master br-fake up
ip netns exec "$FAKE" ip addr add 198.18.99.2/24 dev eth0
ip netns exec "$FAKE" ip link set eth0 up
ip netns exec "$FAKE" ip link set lo up
ip netns exec "$FAKE" ip route add default via 198.18.99.1
tb_inet_exec ip route add 198.18.99.0/24 via "$TB_HOST_IP"
tb_host_exec iptables -I FORWARD -i br-fake -j ACCEPT
tb_host_exec iptables -I FORWARD -o br-fake -j ACCEPT

fake_reaches() {
	ip netns exec "$FAKE" sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | timeout 4 busybox nc -w 2 198.51.100.10 80' |
		grep -q "tb-server 198.51.100.10 80"
}
tb_check "control: without vpnwall the stand-in reaches the internet" tb_eventually 10 fake_reaches

tb_daemon_start
tb_daemon_wait_ready
tb_check_fails "every network managed: an unknown br-* bridge is policed (dropped)" fake_reaches
tb_run known --label vpn.outbound=198.51.100.10
tb_expect_eventually_reach known 198.51.100.10 80 "a known container still gets its allowance"
tb_daemon_stop

tb_daemon_start GATEWAY_NETWORKS=bridge
tb_daemon_wait_ready
tb_check "explicit GATEWAY_NETWORKS: an unknown bridge is not ours" tb_eventually 10 fake_reaches
tb_expect_blocked known 198.51.100.11 80 "explicit GATEWAY_NETWORKS: the listed network is still policed"

tb_finish
