#!/bin/bash
# Self-test of the integration testbed, without vpnwalld: if this fails, every
# other integration test's verdict means nothing.
# shellcheck disable=SC2016,SC2317 # helpers below run through tb_check and eval
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up
tb_log "dockerd storage driver: $TB_STORAGE"

docker network create vwnet >/dev/null
tb_run c1
tb_run c2 --network vwnet
tb_run c3 --network vwnet

# The fake internet, through Docker's NAT and the host namespace's route.
tb_expect_reach c1 198.51.100.10 80 "default bridge container reaches web:80"
tb_expect_reach c1 198.51.100.11 443 "default bridge container reaches api:443"
tb_expect_reach c2 198.51.100.12 8080 "user network container reaches alt:8080"
tb_check_eq "the internet sees the host's address (Docker masquerades)" \
	"tb-server 198.51.100.13 80 client=198.18.0.1" tb_fetch c1 198.51.100.13 80

ask6() {
	tb_host_exec sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | timeout 4 busybox nc -w 2 "$1" "$2"' \
		sh "$1" "$2" | tail -1
}
tb_check_eq "IPv6 fake server answers the host namespace" \
	"tb-server 2001:db8:100::11 443 client=2001:db8:ffff::1" ask6 2001:db8:100::11 443

# Container to container on one user-defined network.
tb_listen c3 7000
c3_ip=$(tb_ip c3 vwnet)
in_pool() {
	case $1 in 198.18.1[6-9].* | 198.18.2[0-9].* | 198.18.3[01].*) return 0 ;; esac
	return 1
}
tb_check "tb_ip gives c3 an address from Docker's pool ($c3_ip)" in_pool "$c3_ip"
tb_expect_reach c2 "$c3_ip" 7000 "containers on one user network reach each other"
tb_check_eq "the container listener answers with its reply" "pong c3" tb_fetch c2 "$c3_ip" 7000

# Negative controls: the helpers must be able to say "no".
tb_expect_blocked c1 198.51.100.10 81 "a port without listener is not reachable"
tb_check_fails "tb_can_reach fails for an address nobody has" tb_can_reach c1 198.51.100.99 80
tb_expect_eventually_blocked c1 198.51.100.10 81 "eventually_blocked passes for a closed port" 3
# A redirect to another fake server must not count as reaching the target.
tb_nft -f - <<'EOF'
table ip tbselftest {
	chain pre {
		type nat hook prerouting priority dstnat - 10; policy accept;
		ip daddr 198.51.100.99 tcp dport 80 dnat to 198.51.100.10
	}
}
EOF
tb_check_eq "with a redirect, the answer comes from .10" \
	"tb-server 198.51.100.10 80 client=198.18.0.1" tb_fetch c1 198.51.100.99 80
tb_check_fails "an answer from another server does not count as reach" \
	tb_can_reach c1 198.51.100.99 80
tb_nft delete table ip tbselftest

# Later tests poll in loops: many short sequential connections must all work.
ok=0
for _ in $(seq 1 20); do
	if tb_can_reach c1 198.51.100.10 80; then ok=$((ok + 1)); fi
done
tb_check_eq "20 sequential connections all answered" 20 echo "$ok"

# DNS
tb_check_eq "dnsmasq answers web.test" 198.51.100.10 tb_dns_query web.test
tb_check_eq "dnsmasq answers AAAA for v6.test" 2001:db8:100::10 tb_dns_query v6.test
tb_check_eq "dnsmasq answers A and AAAA for dual.test" \
	"198.51.100.13 2001:db8:100::11" tb_dns_query dual.test
tb_check_eq "dnsmasq answers NXDOMAIN for an unknown .test name" "" tb_dns_query nope.test
tb_check "a default bridge container resolves through dnsmasq" \
	eval 'docker exec c1 nslookup api.test | grep -q "Address: 198.51.100.11"'
tb_check "a user network container resolves through Docker's DNS and dnsmasq" \
	eval 'docker exec c2 nslookup api.test | grep -q "Address: 198.51.100.11"'
tb_dns_set web.test 198.51.100.12 198.51.100.13
tb_check_eq "tb_dns_set changes the answer" "198.51.100.12 198.51.100.13" tb_dns_query web.test
tb_dns_set web.test
tb_check_eq "tb_dns_set without addresses removes the name" "" tb_dns_query web.test
tb_dns_set web.test 198.51.100.10
tb_expect_reach c1 web.test 80 "a container reaches a fake server by name"

# dockerd restart: the API comes back, containers with a restart policy too.
tb_run cr --restart unless-stopped
tb_dockerd_restart
tb_check "docker answers after dockerd restart" eval 'docker version >/dev/null'
tb_check "a restart-policy container runs again" tb_wait_until 20 tb__running cr
tb_check_fails "a container without restart policy is stopped" tb__running c1
tb_expect_reach cr 198.51.100.10 80 "the restarted container reaches web:80"
tb_run c4
tb_expect_reach c4 198.51.100.11 443 "a new container after restart reaches api:443"

tb_check "nft works in the host namespace" eval 'tb_nft list tables 2>/dev/null | grep -q "table ip filter"'
tb_check_eq "IPv4 forwarding is on in the host namespace" 1 tb_host_exec sysctl -n net.ipv4.ip_forward
tb_check "Docker's FORWARD policy is drop, as on a stock host" \
	eval 'tb_nft list chain ip filter FORWARD 2>/dev/null | grep -q "policy drop"'

tb_finish
