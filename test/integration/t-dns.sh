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

# set_elems CONTAINER: the IPv4 destinations the kernel lets the container's address reach,
# one per line. Fails when the container's address is not dispatched to it.
set_elems() {
	[ -n "$(tb_dispatched "$(tb_ip "$1")")" ] || return 1
	tb_destinations "$(tb_ip "$1")"
}
# log_after OFFSET TEXT: TEXT is in the daemon's log after byte OFFSET.
log_after() { tail -c "+$(($1 + 1))" "$TB/vpnwalld.log" | grep -qF -- "$2"; }
set_has() {
	local e
	e=$(set_elems "$1") || return 1
	printf '%s\n' "$e" | grep -qxF "$2"
}
# explains CONTAINER DEST VERDICT: what the daemon says of DEST, from the compiled policy
# (the destinations of a family the container has no address in never reach the kernel).
explains() { tb_cli explain "$1" "$2" | tail -n 1 | grep -q "^$3: "; }
# set_lacks C ADDR: the container's address is dispatched and ADDR is not among its
# destinations.
set_lacks() {
	local e
	e=$(set_elems "$1") || return 1
	! printf '%s\n' "$e" | grep -qxF "$2"
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
tb_check_eq "nosuch.test: its IPv4 destinations are only the static entry" 198.51.100.12 set_elems nx
# ... until the name exists.
tb_dns_set nosuch.test 198.51.100.13
tb_expect_eventually_reach nx 198.51.100.13 80 "nosuch.test created (=.13): .13 becomes reachable" 20
tb_expect_blocked nx 198.51.100.12 80 "nosuch.test created: other hosts stay blocked"

# AAAA-only name. Containers have no IPv6 here (dockerd runs without --ipv6), so no IPv6
# destination reaches the kernel (there is no IPv6 source to key it by): the compiled
# policy is checked through the daemon (t-ipv6 sends real IPv6 traffic).
tb_expect_eventually_reach v6 198.51.100.12 8080 "v6.test,.12:8080: the address entry works"
tb_check "v6.test: its AAAA 2001:db8:100::10 is allowed" \
	tb_eventually 10 explains v6 2001:db8:100::10 allowed
tb_check "v6.test: control, 2001:db8:100::11 is not" explains v6 2001:db8:100::11 blocked
tb_check_eq "v6.test: no IPv4 address from the name, only the static entry" 198.51.100.12 \
	set_elems v6
for a in 198.51.100.10 198.51.100.11 198.51.100.13; do
	tb_expect_blocked v6 "$a" 80 "v6.test grants no IPv4: $a:80 blocked"
done

# A and AAAA.
tb_expect_eventually_reach du 198.51.100.13 80 "dual.test: its A record .13 reachable"
tb_expect_blocked du 198.51.100.12 80 "dual.test: .12 blocked"
tb_check "dual.test: .13 among its IPv4 destinations" set_has du 198.51.100.13
tb_check "dual.test: control, .12 is not" set_lacks du 198.51.100.12
tb_check "dual.test: its AAAA 2001:db8:100::11 is allowed" \
	tb_eventually 10 explains du 2001:db8:100::11 allowed
tb_check "dual.test: control, 2001:db8:100::10 is not" explains du 2001:db8:100::10 blocked

tb_finish
