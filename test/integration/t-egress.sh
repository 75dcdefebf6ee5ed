#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Egress by address, CIDR and port; unlabeled containers blocked; same-network traffic
# allowed; replies to published ports are not egress.
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up
docker network create lan >/dev/null

tb_daemon_start
tb_daemon_wait_ready

tb_run ip1 --label vpn.outbound=198.51.100.10
tb_run cidr --label vpn.outbound=198.51.100.8/30:443/tcp
tb_run none
tb_run dns --label vpn.outbound=198.51.100.53:53/udp
tb_run peer1 --network lan --label vpn.outbound=198.51.100.13:8080
tb_run peer2 --network lan
tb_run pub -p 8088:7000
tb_listen peer2 7000
tb_listen pub 7000

tb_expect_eventually_reach ip1 198.51.100.10 80 "address entry: allowed host, port 80"
tb_expect_reach ip1 198.51.100.10 443 "address entry: allowed host, any port"
tb_expect_blocked ip1 198.51.100.11 80 "address entry: other host blocked"

tb_expect_eventually_reach cidr 198.51.100.11 443 "CIDR:443/tcp: host inside the CIDR on 443"
tb_expect_blocked cidr 198.51.100.11 80 "CIDR:443/tcp: same host, other port blocked"
tb_expect_blocked cidr 198.51.100.12 8080 "CIDR:443/tcp: port outside the rule blocked"
tb_expect_blocked cidr 198.51.100.13 443 "CIDR:443/tcp: host outside the CIDR blocked"

tb_expect_blocked none 198.51.100.10 80 "unlabeled container: blocked"
tb_check_fails "unlabeled container: even DNS is blocked" \
	docker exec none nslookup web.test 198.51.100.53
tb_check "a container allowed 198.51.100.53:53/udp resolves names" \
	tb_eventually 10 docker exec dns nslookup web.test 198.51.100.53

tb_expect_eventually_reach peer1 198.51.100.13 8080 "user-defined network: allowed port"
tb_expect_blocked peer1 198.51.100.13 80 "user-defined network: other port blocked"
tb_expect_reach peer1 peer2 7000 "same network: containers talk to each other"
tb_expect_blocked peer2 198.51.100.10 80 "same network: unlabeled peer still blocked outside"

# A connection from outside to a published port: the reply is not egress.
published_port_answers() {
	tb_inet_exec sh -c "echo x | timeout 4 busybox nc -w 2 $TB_HOST_IP 8088" | grep -q "pong pub"
}
tb_check "published port answers from outside (replies are not egress)" \
	tb_eventually 10 published_port_answers

# What an operator reads in `nft list`: bridges policed by kind, destinations by address.
forward_by_kind() {
	tb_nft list chain inet vpnwall forward | grep -q 'meta iifkind "bridge" goto police'
}
tb_check "nft list shows every bridge policed" forward_by_kind
tb_finish
