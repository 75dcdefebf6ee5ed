#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Names in vpn.outbound: the resolved addresses are granted and follow DNS changes (the old
# address stops working); port-scoped names; NXDOMAIN grants nothing; AAAA answers land in
# the container's IPv6 set.
# shellcheck disable=SC2317 # helpers below run through tb_check and tb_eventually
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up

# dnsmasq answers with TTL 1. DNS_TTL_MAX bounds the wait for a name that was NXDOMAIN
# (negative answers are otherwise re-asked after 60 s).
tb_daemon_start DNS_TTL_MIN=1 DNS_TTL_MAX=5
tb_daemon_wait_ready

key() { docker inspect -f '{{.Id}}' "$1" | cut -c1-16; }

# set_elems CONTAINER GROUP FAMILY: the addresses in the container's destination set of
# FAMILY (4 or 6), one per line; GROUP is unused (one set per family holds every port).
# Fails when the set does not exist.
set_elems() {
	local out
	out=$(tb_nft list set inet vpnwall "d$3_$(key "$1")") || return 1
	# Elements are "ADDRESS . PROTOCOLS . PORTS": keep the addresses.
	printf '%s\n' "$out" |
		awk '/elements = \{/ { on = 1; sub(/.*\{/, "") } on { gsub(/[{}]/, " "); print } /\}/ { on = 0 }' |
		tr ',' '\n' | sed 's/^[ \t]*//; s/ \..*//; /^$/d' | sort -u
}
# log_after OFFSET TEXT: TEXT is in the daemon's log after byte OFFSET.
log_after() { tail -c "+$(($1 + 1))" "$TB/vpnwalld.log" | grep -qF -- "$2"; }
set_has() {
	local e
	e=$(set_elems "$1" "$2" "$3") || return 1
	printf '%s\n' "$e" | grep -qxF "$4"
}
# set_lacks C G F ADDR: the set exists and ADDR is not in it.
set_lacks() {
	local e
	e=$(set_elems "$1" "$2" "$3") || return 1
	! printf '%s\n' "$e" | grep -qxF "$4"
}

tb_run dn --label vpn.outbound=web.test
tb_run ap --label vpn.outbound=api.test:443/tcp
tb_run nx --label vpn.outbound=nosuch.test,198.51.100.12:8080
tb_run v6 --label vpn.outbound=v6.test,198.51.100.12:8080
tb_run du --label vpn.outbound=dual.test

# A name follows its DNS answer.
tb_expect_eventually_reach dn 198.51.100.10 80 "web.test (=.10): .10 reachable"
tb_expect_reach dn 198.51.100.10 443 "web.test (=.10): .10 on any port"
tb_expect_blocked dn 198.51.100.11 80 "web.test (=.10): .11 blocked"

off=$(stat -c %s "$TB/vpnwalld.log")
tb_dns_set web.test 198.51.100.11
tb_expect_eventually_reach dn 198.51.100.11 80 "web.test moved to .11: .11 becomes reachable"
tb_expect_blocked dn 198.51.100.10 80 "web.test moved to .11: the old address .10 is blocked"
tb_check "the log reports web.test's new answer" \
	log_after "$off" "'web.test' now resolves to 1 IPv4 address(es)"

# A port-scoped name grants that port only.
tb_expect_eventually_reach ap 198.51.100.11 443 "api.test:443/tcp: .11:443 reachable"
tb_expect_blocked ap 198.51.100.11 80 "api.test:443/tcp: .11:80 blocked"
tb_expect_blocked ap 198.51.100.10 443 "api.test:443/tcp: another host on 443 blocked"

# NXDOMAIN grants nothing; the static entry shows the container's policy is in place.
tb_expect_eventually_reach nx 198.51.100.12 8080 "nosuch.test,.12:8080: the address entry works"
for a in 198.51.100.10 198.51.100.11 198.51.100.13; do
	tb_expect_blocked nx "$a" 80 "nosuch.test (NXDOMAIN) grants nothing: $a:80 blocked"
done
tb_check_eq "nosuch.test: its IPv4 set holds only the static entry" 198.51.100.12 set_elems nx 0 4
# ... until the name exists.
tb_dns_set nosuch.test 198.51.100.13
tb_expect_eventually_reach nx 198.51.100.13 80 "nosuch.test created (=.13): .13 becomes reachable" 20
tb_expect_blocked nx 198.51.100.12 80 "nosuch.test created: other hosts stay blocked"

# AAAA-only name. Containers have no IPv6 here (dockerd runs without --ipv6), so only the
# set contents can be checked.
tb_expect_eventually_reach v6 198.51.100.12 8080 "v6.test,.12:8080: the address entry works"
tb_check "v6.test: its AAAA 2001:db8:100::10 is in the container's IPv6 set" \
	tb_eventually 10 set_has v6 0 6 2001:db8:100::10
tb_check "v6.test: 2001:db8:100::11 is not in the IPv6 set" set_lacks v6 0 6 2001:db8:100::11
tb_check_eq "v6.test: no IPv4 address from the name, only the static entry" 198.51.100.12 \
	set_elems v6 0 4
for a in 198.51.100.10 198.51.100.11 198.51.100.13; do
	tb_expect_blocked v6 "$a" 80 "v6.test grants no IPv4: $a:80 blocked"
done

# A and AAAA.
tb_expect_eventually_reach du 198.51.100.13 80 "dual.test: its A record .13 reachable"
tb_expect_blocked du 198.51.100.12 80 "dual.test: .12 blocked"
tb_check "dual.test: .13 in the IPv4 set" set_has du 0 4 198.51.100.13
tb_check "dual.test: its AAAA 2001:db8:100::11 in the IPv6 set" \
	tb_eventually 10 set_has du 0 6 2001:db8:100::11
tb_check "dual.test: 2001:db8:100::10 is not in the IPv6 set" set_lacks du 0 6 2001:db8:100::10

tb_finish
