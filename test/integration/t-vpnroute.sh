#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# VPN_ROUTE: vpnwalld itself routes managed containers into the tunnel (policy routing
# over rtnetlink), with no routing set up by hand, while the host's own traffic stays off
# the VPN. Its rules and table are put back when someone removes them, and the routing
# layer alone stops the leak: with the firewall only auditing (DRY_RUN), a container whose
# tunnel is gone reaches nothing but its LAN.
# shellcheck disable=SC2317,SC2119 # helpers run through tb_check; tb_daemon_* take no args here
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

VW_PROBE=${VW_PROBE:-$TB_LIB_DIR/../../build/test/tools/vw-probe}
TARGET=198.51.100.10
LAN=198.51.100.11
PORT=9999

tb_init
[ -x "$VW_PROBE" ] || tb__die "vw-probe not found at $VW_PROBE (build first or set VW_PROBE)"
TB_IMAGE_EXTRA="${TB_IMAGE_EXTRA:-} $VW_PROBE"
tb_up
TB_VPN_ROUTING=none tb_vpn_up
# The LAN has a route of its own on a real host (the default route is what goes to the VPN).
tb_host_exec ip route add $LAN/32 via "$TB_INET_IP"

tb_probe_counters $PORT
leaked() { tb_probes leaked; }
tunnel_carries() { tb_probes_flow tunneled; }
via_tunnel() { tb_fetch "$1" "$2" 80 | grep -q "client=$TB_VPN_SERVER_IP"; }
host_direct() {
	tb_host_exec sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | timeout 4 busybox nc -w 2 $TARGET 80" |
		grep -q "client=$TB_HOST_IP"
}
our_rules() { tb_host_exec ip -4 rule show | grep -c "iif docker0.*proto 118" || true; }
our_default() { tb_host_exec ip -4 route show table 7811 | grep -q "^default dev $TB_VPN_IF"; }
unreachable_only() {
	tb_host_exec ip -4 route show table 7811 | grep -q "^unreachable default" &&
		! tb_host_exec ip -4 route show table 7811 | grep -q "dev $TB_VPN_IF"
}

tb_daemon_start VPN_INTERFACE=wg+ VPN_ROUTE=true
tb_daemon_wait_ready
tb_run probe --label vpn.outbound=$TARGET:$PORT/udp,$TARGET:80/tcp --label vpn.allow=$LAN/32 \
	-- vw-probe $TARGET $PORT 10

tb_check_eq "three rules for docker0 (the LAN, our table, unreachable)" 3 our_rules
tb_check "our table routes by default into the tunnel" our_default
tb_check "no routing by hand: the probes arrive through the tunnel" \
	tb_eventually 10 tunnel_carries
tb_check "an outbound destination is reached through the tunnel" \
	tb_eventually 10 via_tunnel probe $TARGET
tb_check "the host's own traffic stays off the VPN (split tunnel)" host_direct
tb_expect_reach probe $LAN 80 "the LAN is reached by its own route"
tb_check_eq "nothing leaked" 0 leaked

# --- someone removes what we installed -------------------------------------------------
tb_host_exec ip route flush table 7811
tb_check "our table flushed: put back" tb_eventually 5 our_default
rules_back() { [ "$(our_rules)" = 3 ]; }
tb_host_exec ip rule del pref 7811 iif docker0
tb_check "a rule deleted: put back" tb_eventually 5 rules_back
tb_check "after the repairs: the probes still go through the tunnel" tb_eventually 10 tunnel_carries
tb_check_eq "after the repairs: nothing leaked" 0 leaked

# --- the routing layer alone: the firewall only audits ---------------------------------
tb_daemon_stop
tb_daemon_start VPN_INTERFACE=wg+ VPN_ROUTE=true DRY_RUN=true
tb_daemon_wait_ready
tb_vpn_tunnel_down
tb_check "tunnel gone: our table only holds the unreachable default" \
	tb_eventually 10 unreachable_only
sleep 2 # 200 probes, and the firewall drops none of them
tb_check_eq "tunnel gone, firewall auditing only: routing alone leaked nothing" 0 leaked
# Our table flushed by someone while the firewall only audits and there is no tunnel: the
# rule behind it (unreachable) keeps the bridge from main's default route until it is back.
tb_host_exec ip route flush table 7811
tb_check "routes flushed, tunnel gone: put back" tb_eventually 5 unreachable_only
sleep 1
tb_check_eq "routes flushed, firewall auditing: the rule behind the table leaked nothing" 0 leaked
tb_expect_reach probe $LAN 80 "control: the LAN is still reached"
tb_expect_blocked probe $TARGET 80 "the outbound destination is unreachable without the tunnel"
tb_vpn_tunnel_up
tb_check "tunnel back: our default route follows the new interface" tb_eventually 10 our_default
tb_check "tunnel back: the probes go through it" tb_eventually 15 tunnel_carries
tb_check_eq "in the end: nothing leaked" 0 leaked

# --- VPN_ROUTE turned off: an earlier run's rules must not stay -------------------------
# They would send docker0 into a table that, once the tunnel goes, says only "unreachable".
tb_check_eq "before: our three rules are there" 3 our_rules
tb_daemon_stop
tb_daemon_start VPN_INTERFACE=wg+
tb_daemon_wait_ready
tb_check_eq "VPN_ROUTE off: our rules are removed at start" 0 our_rules
tb_check "the routes of a table no rule points at are left alone" our_default
tb_expect_reach probe $LAN 80 "control: the LAN is reached without our rules"
sleep 1 # 100 probes go to main's default route, into the uplink: the kill switch drops them
tb_check_eq "without our routes the kill switch alone still leaks nothing" 0 leaked
tb_finish
