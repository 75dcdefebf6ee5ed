#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The DNS proxy behind the kill switch: containers' queries reach the upstream only through
# the tunnel (never from the host's uplink address), and when the tunnel is gone they are
# not answered at all rather than asked another way; once it is back, they are again. The
# upstream (dnsmasq) logs who asked: through the tunnel a query comes from the VPN server
# (198.18.100.1), leaked from the host's uplink (198.18.0.1). Positive controls in the same
# states: the host itself does reach the upstream over the uplink (the leak path exists),
# and a learned name is reachable through the tunnel.
# shellcheck disable=SC2317 # helpers run through tb_check and tb_eventually
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up
tb_vpn_up

tb_dns_set a.wild.test 198.51.100.12
tb_dns_set b.wild.test 198.51.100.13
tb_dns_set ctl.wild.test 198.51.100.13

# asked_from NAME ADDR: dnsmasq logged a query for NAME from ADDR.
asked_from() { grep -q "query\[A\] $1 from $2\$" "$TB/dnsmasq.log"; }
# resolves C NAME ADDR: NAME resolves to ADDR in container C.
resolves() { docker exec "$1" nslookup "$2" "$TB_DNS_IP" 2>/dev/null | grep -q "Address: $3\$"; }
via_tunnel() { tb_fetch "$1" "$2" 80 | grep -q "client=$TB_VPN_SERVER_IP"; }

# Only wildcards in the labels: the daemon's own resolver (names in labels) asks nothing.
tb_daemon_start VPN_INTERFACE=wg+ DNS_PROXY=true DNS_UPSTREAM=$TB_DNS_IP
tb_daemon_wait_ready
tb_run wv --label 'vpn.outbound=*.wild.test:80/tcp'

# --- tunnel up: through it --------------------------------------------------------------
tb_check "tunnel up: a wildcard name resolves" tb_eventually 10 resolves wv a.wild.test 198.51.100.12
tb_check "tunnel up: the upstream was asked through the tunnel" \
	asked_from a.wild.test "$TB_VPN_SERVER_IP"
tb_check_fails "tunnel up: ... and never from the host's uplink address" \
	asked_from a.wild.test "$TB_HOST_IP"
tb_check "tunnel up: the learned address is reached through the tunnel" \
	via_tunnel wv 198.51.100.12

# --- tunnel gone: no answer rather than a leak -------------------------------------------
tb_vpn_tunnel_down
sleep 1
tb_check_fails "tunnel down: a new name does not resolve" resolves wv b.wild.test 198.51.100.13
sleep 1
tb_check_fails "tunnel down: the upstream was not asked from the host's uplink" \
	asked_from b.wild.test "$TB_HOST_IP"
tb_check_fails "tunnel down: ... nor through a tunnel" asked_from b.wild.test "$TB_VPN_SERVER_IP"
# Control: the uplink does lead to the upstream; a query sent that way would be seen.
tb_host_exec busybox nslookup ctl.wild.test "$TB_DNS_IP" >/dev/null 2>&1 || true
tb_check "tunnel down: control, the host's own query reaches the upstream over the uplink" \
	asked_from ctl.wild.test "$TB_HOST_IP"
tb_expect_blocked wv 198.51.100.12 80 "tunnel down: the learned address is not reached either"

# --- tunnel back ---------------------------------------------------------------------------
tb_vpn_tunnel_up
tb_check "tunnel back: the name resolves again" tb_eventually 15 resolves wv b.wild.test 198.51.100.13
tb_check "tunnel back: asked through the tunnel" asked_from b.wild.test "$TB_VPN_SERVER_IP"
tb_check_fails "tunnel back: never from the host's uplink address" \
	asked_from b.wild.test "$TB_HOST_IP"
tb_check "tunnel back: the new address is reached through the tunnel" \
	tb_eventually 5 via_tunnel wv 198.51.100.13

tb_finish
