#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The DNS proxy over IPv6, on a dual-stack Docker bridge: a query sent over IPv6 to any
# resolver address is redirected to the proxy; an AAAA answer's address goes into learned6
# under the container's IPv6 address before the answer leaves, so the first IPv6
# connection after the lookup gets through with no packet of the container dropped; an
# address the answer did not give stays blocked; a name the container may not resolve is
# REFUSED over IPv6 too. Every "blocked" has a positive control in the same state.
# shellcheck disable=SC2317 # helpers run through tb_check
set -eu
. "$(dirname "$0")/../lib/testbed.sh"
. "$(dirname "$0")/../lib/dnsproxy.sh"

TB_DOCKERD_ARGS="--ipv6 --fixed-cidr-v6 2001:db8:1::/64"
tb_init
tb_up
# Docker 20.10 does not NAT IPv6: the fake internet routes the containers' prefix back.
tb_inet_exec ip -6 route add 2001:db8:1::/64 via "$TB_HOST_IP6"
tb_dns_set w6.wild.test 2001:db8:100::10
tb_dns_set other.test 2001:db8:100::11
RESOLVER6=2001:db8:100::53 # no server there: only the redirect can answer

ip6_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}' "$1"; }
# learned6 SRC DST: the kernel holds a learned IPv6 element SRC . DST . proto . port.
learned6() {
	{
		tb_nft_elements learned6
		tb_nft_elements anylearned6
	} | awk -v s="$1" -v d="$2" '$1 == s && $2 == "." && $3 == d { f = 1 } END { exit !f }'
}
# first_try6 C NAME SERVER: in ONE exec in C, resolve NAME (AAAA) at SERVER and send one
# request to the first IPv6 address at once; prints the fake server's line.
first_try6() {
	timeout 20 "$TB_DOCKER_BIN" exec "$1" sh -c '
		a=$(nslookup -type=AAAA "$1" "$2" 2>/dev/null |
			sed -n "s/^Address: \([0-9a-f:]*:[0-9a-f:]*\)\$/\1/p" | head -n 1)
		[ -n "$a" ] || exit 1
		printf "GET / HTTP/1.0\r\n\r\n" | timeout 4 nc -w 2 "$a" 80 | tr -d "\r" | grep "^tb-server"
	' sh "$2" "$3" 2>/dev/null
}

tb_daemon_start DNS_PROXY=true "DNS_UPSTREAM=$TB_DNS_IP"
tb_daemon_wait_ready
tb_run w6 --label 'vpn.outbound=*.wild.test:80/tcp'
tb_check "w6: managed, its IPv4 DNS redirected to the proxy" tb_eventually 15 proxied w6
w6ip=$(ip6_of w6)
tb_check "w6 has an IPv6 address" test -n "$w6ip"
proxied6() { tb_nft_elements proxied6 | grep -qxF "$w6ip"; }
tb_check "w6's IPv6 address is in the proxy's source set" tb_eventually 10 proxied6

tb_check_eq "w6: no drops before its first lookup" 0 drops w6
tb_check "w6: the first IPv6 connection to w6.wild.test:80, looked up over IPv6, works" \
	first_try6 w6 w6.wild.test "$RESOLVER6"
tb_check_eq "w6: ... and not one of its packets was dropped" 0 drops w6
tb_check "w6: control, its allow counter counted that connection" accepts_some w6
tb_check "the AAAA answer's address is in learned6, keyed by w6's IPv6 address" \
	learned6 "$w6ip" 2001:db8:100::10
tb_expect_reach w6 2001:db8:100::10 80 "w6 reaches the learned 2001:db8:100::10:80"
tb_expect_blocked w6 2001:db8:100::11 80 "w6 does not reach 2001:db8:100::11 (no answer gave it)"
tb_check "over IPv6, other.test (not w6's) is REFUSED" \
	answered_rcode w6 other.test REFUSED "$RESOLVER6"
tb_expect_blocked w6 2001:db8:100::11 80 "... and its address stays blocked"
tb_check "control: over IPv6, w6.wild.test still resolves" \
	resolves w6 w6.wild.test 2001:db8:100::10 "$RESOLVER6"

tb_finish
