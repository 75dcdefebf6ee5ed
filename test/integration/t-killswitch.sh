#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The kill switch, on a real WireGuard tunnel (wireguard-go): with VPN_INTERFACE set, a
# managed container's traffic to the internet leaves only through the tunnel, whatever
# happens to the tunnel or the daemon. The host's own uplink stays in place as the leak
# path, and the fake internet counts, per path, the numbered datagrams a prober container
# sends every 10 ms: arrivals over the uplink are leaks and must stay at zero in every
# scenario. Each "nothing leaked" has a positive control in the same state: the tunnel
# carries the probes when it is up, the LAN (vpn.allow) stays reachable when it is down.
# shellcheck disable=SC2317,SC2119 # helpers run through tb_check; tb_daemon_* take no args here
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

VW_PROBE=${VW_PROBE:-$TB_LIB_DIR/../../build/test/tools/vw-probe}
TARGET=198.51.100.10 # in vpn.outbound: only through the tunnel
LAN=198.51.100.11    # in vpn.allow: by any path (it plays the LAN)
PORT=9999            # the probes' port

tb_init
[ -x "$VW_PROBE" ] || tb__die "vw-probe not found at $VW_PROBE (build first or set VW_PROBE)"
TB_IMAGE_EXTRA="${TB_IMAGE_EXTRA:-} $VW_PROBE"
tb_up
tb_vpn_up

# The fake internet counts the probes by the way they arrive.
tb_probe_counters $PORT
raw_leaked() { tb_probes leaked; }
LEAK0=0 # leaks on purpose before the kill switch engaged, and measured gaps, set apart
leaked() { echo $(($(raw_leaked) - LEAK0)); }
tunneled() { tb_probes tunneled; }
tunnel_carries() { tb_probes_flow tunneled; }
# tunnel_idle: nothing arrives through the tunnel (it is down, or dead).
tunnel_idle() {
	local a
	a=$(tunneled)
	sleep 0.5
	[ "$(tunneled)" = "$a" ]
}
metrics() { tb_host_exec curl -sf http://127.0.0.1:50000/metrics; }
vpn_up_is() { metrics | grep -qx "vpnwall_vpn_up{interface=\"wg+\"} $1"; }
readyz_is() {
	[ "$(tb_host_exec curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:50000/readyz)" = "$1" ]
}
# the fake server saw the request come out of the VPN server, not the host
via_tunnel() { tb_fetch "$1" "$2" 80 | grep -q "client=$TB_VPN_SERVER_IP"; }

# --- a flow opened before the kill switch engaged ------------------------------------------
# First no kill switch, and no tunnel: the probes go out over the uplink. That is the leak
# the rest of the test must never see again, and the proof that the counters see one.
tb_vpn_tunnel_down
tb_daemon_start
tb_daemon_wait_ready
tb_run probe --label vpn.outbound=$TARGET:$PORT/udp,$TARGET:80/tcp \
	--label vpn.allow=$LAN/32 -- vw-probe $TARGET $PORT 10
tb_check "no kill switch, no tunnel: the probes leak over the uplink (the counter sees it)" \
	tb_eventually 10 tb_probes_flow leaked
tb_daemon_stop
TB_READY_PATTERN="no VPN interface wg+ is up" tb_daemon_start VPN_INTERFACE=wg+
TB_READY_PATTERN="no VPN interface wg+ is up" tb_daemon_wait_ready
engaged() { tb_nft list chain inet vpnwall dispatch | grep -q 'oifname "wg\*"'; }
tb_check "the kill switch is in the rules" tb_eventually 10 engaged
LEAK0=$(raw_leaked)
sleep 2
tb_check_eq "kill switch engaged on the flow opened before: not one more probe leaked" 0 leaked
tb_vpn_tunnel_up
tb_daemon_wait_ready
tb_run free --label vpn.outbound=$TARGET:80/tcp --label vpn.tunnel=false
opt_out_logged() { grep -q "container 'free' opted out of the tunnel with vpn.tunnel=false" "$TB/vpnwalld.log"; }
tb_check "a container opting out of the tunnel is logged" tb_eventually 10 opt_out_logged

# --- tunnel up -------------------------------------------------------------------------
tb_check "tunnel up: the probes arrive through the tunnel" tb_eventually 10 tunnel_carries
tb_check "tunnel up: a request to an outbound destination goes through the tunnel" \
	tb_eventually 10 via_tunnel probe $TARGET
tb_check_eq "tunnel up: nothing leaked" 0 leaked
tb_check "vpnwall_vpn_up is 1 while the tunnel is up" vpn_up_is 1
explain_says() { tb_cli explain probe "$1" | grep -q "$2"; }
tb_check "explain: an outbound entry is reached only through wg+" \
	explain_says $TARGET:80 "only through wg+"
tb_check "explain: a vpn.allow entry is reached by any path" \
	explain_says $LAN:80 "by any path"

# --- tunnel deleted mid-stream ---------------------------------------------------------
tb_vpn_tunnel_down
sleep 2 # 200 probes against the uplink
tb_check_eq "tunnel deleted mid-stream: nothing leaked (200 probes)" 0 leaked
tb_check "tunnel deleted: control, the probes still get sent (they are dropped)" \
	tb_eventually 5 tunnel_idle
tb_expect_blocked probe $TARGET 80 "tunnel deleted: an outbound destination is unreachable"
tb_expect_reach probe $LAN 80 "tunnel deleted: control, the LAN (vpn.allow) is reachable"
tb_expect_reach free $TARGET 80 "tunnel deleted: vpn.tunnel=false reaches its destination directly"
tb_check "vpnwall_vpn_up goes 0" tb_eventually 10 vpn_up_is 0
tb_check "/readyz says 503 while no tunnel is up" readyz_is 503
drops_counted() {
	metrics | grep 'vpnwall_packets_total{.*container="probe".*action="dropped"' |
		awk '{ exit !($NF > 100) }'
}
tb_check "the probes dropped are counted for the container" tb_eventually 10 drops_counted
tb_check_eq "tunnel down: still nothing leaked" 0 leaked

# --- tunnel re-created (a new interface index), no daemon action -----------------------
tb_vpn_tunnel_up
tb_check "tunnel re-created: the probes flow through it again" tb_eventually 15 tunnel_carries
tb_check "vpnwall_vpn_up is 1 again" tb_eventually 10 vpn_up_is 1
tb_check_eq "tunnel re-created: nothing leaked" 0 leaked

# --- tunnel silently dead: the server drops everything ---------------------------------
ip netns exec "$TB_VPN_NS" nft -f - <<EOF
table inet dead {
	chain pre { type filter hook prerouting priority -300; udp dport 51820 drop; }
}
EOF
tb_check "dead tunnel: nothing comes out of it" tb_eventually 10 tunnel_idle
sleep 1
tb_check_eq "dead tunnel: nothing leaked" 0 leaked
ip netns exec "$TB_VPN_NS" nft delete table inet dead
tb_check "dead tunnel revived: the probes flow again" tb_eventually 15 tunnel_carries

# --- our table deleted by someone while the tunnel is down --------------------------------
# The daemon restores it at once; until then only the routing would stand between the
# probes and the uplink, and here routing falls back to it. Measured, with a bound.
tb_vpn_tunnel_down
sleep 0.5
before=$(leaked)
tb_nft delete table inet vpnwall
tb_check "table deleted: the daemon puts it back" \
	tb_eventually 5 tb_nft list chain inet vpnwall dispatch
sleep 1
gap=$(($(leaked) - before))
tb_log "MEASURE table deleted with the tunnel down: $gap probe(s) (10 ms apart) leaked until restored"
tb_check "table deleted: at most 10 probes (100 ms) got out before it was restored" \
	test "$gap" -le 10
LEAK0=$((LEAK0 + gap))
tb_expect_reach probe $LAN 80 "table restored: control, the LAN is reachable"
tb_check_eq "table restored: nothing more leaked" 0 leaked

# --- the daemon killed while the tunnel is down, then restarted ------------------------
tb_daemon_kill
sleep 1
tb_check_eq "daemon SIGKILLed, tunnel down: nothing leaked" 0 leaked
tb_expect_reach probe $LAN 80 "daemon dead: control, the rules it left still let the LAN through"
TB_READY_PATTERN="no VPN interface wg+ is up" tb_daemon_start VPN_INTERFACE=wg+
TB_READY_PATTERN="no VPN interface wg+ is up" tb_daemon_wait_ready
sleep 1
tb_check_eq "daemon restarted with the tunnel down: nothing leaked" 0 leaked
tb_expect_eventually_reach probe $LAN 80 "restarted: control, the LAN is reachable"
tb_vpn_tunnel_up
tb_check "restarted, tunnel back: the probes flow through it" tb_eventually 15 tunnel_carries
tb_daemon_wait_ready

# --- DNS: a resolver outside the tunnel, and one on the host ---------------------------
# dnsmasq in the fake internet answers on $TB_DNS_IP; with the kill switch its answers come
# only through the tunnel. A resolver on the host (the bridge's address) is reached only
# when the labels allow it by any path: the input hook is policed too.
tb_run dns --label vpn.outbound=$TB_DNS_IP:53
tb_run lan --label vpn.allow=198.18.1.1/32
tb_host_exec sh -c "busybox nc -ll -p 5353 -e echo host-resolver &" >/dev/null 2>&1
resolves() { docker exec "$1" nslookup web.test "$TB_DNS_IP" >/dev/null 2>&1; }
host_answers() { docker exec "$1" sh -c "timeout 4 nc -w 2 198.18.1.1 5353 </dev/null" | grep -q host-resolver; }
tb_check "DNS through the tunnel resolves" tb_eventually 10 resolves dns
tb_vpn_tunnel_down
tb_check_fails "DNS to the same resolver while the tunnel is down fails (no leak)" resolves dns
tb_check "a host service, allowed by vpn.allow, answers" tb_eventually 10 host_answers lan
tb_check_fails "a host service not in the labels does not answer (input hook policed)" \
	host_answers dns
tb_check_eq "DNS and host checks: nothing leaked" 0 leaked

# --- dockerd restarts (tunnel down): a restart-policy container is back before any sync ---
tb_run again --restart always --label vpn.outbound=$TARGET:$PORT/udp \
	--label vpn.allow=$LAN/32 -- vw-probe $TARGET $PORT 10
tb_dockerd_restart
tb_check "dockerd restarted: the restart-policy container runs again" \
	tb_wait_until 30 tb__running again
sleep 2
tb_check_eq "dockerd restarted: nothing leaked" 0 leaked
tb_expect_eventually_reach again $LAN 80 "dockerd back: control, the container reaches its LAN"

# --- the sidecar recipe with a broken tunnel --------------------------------------------
# deploy/docker-compose.vpn-sidecar.yml: a VPN client container allowed only its endpoint
# (here its config is broken: it never gets a tunnel up, it only knocks at the endpoint),
# and a consumer in its network namespace. The consumer's traffic takes the plain route.
ip netns exec "$TB_VPN_NS" nft -f - <<EOF
table inet knock {
	counter endpoint { }
	chain pre { type filter hook prerouting priority -300; udp dport 51821 counter name endpoint; }
}
EOF
knocks() { [ "$(tb_nft_counter "$TB_VPN_NS" inet knock endpoint)" -gt 10 ]; }
tb_run vpnc --label vpn.outbound=$TB_VPN_SERVER_IP:51821/udp --label vpn.tunnel=false \
	-- vw-probe $TB_VPN_SERVER_IP 51821 10
tb_run consumer --network container:vpnc -- vw-probe $TARGET $PORT 10
tb_check "sidecar: control, the VPN container reaches its endpoint" tb_eventually 10 knocks
sleep 1
tb_check_eq "sidecar with a broken tunnel: its consumer leaked nothing" 0 leaked

# --- before the daemon: the base ruleset alone, as the unit applies it before dockerd ----
# As after a reboot: no containers, no table (while there is none, anything goes: that is
# what --apply-base before dockerd is for), then the base, then a container.
tb_daemon_stop
# shellcheck disable=SC2046 # one id per word
docker rm -f $(docker ps -aq) >/dev/null
tb_nft delete table inet vpnwall
tb_check "vpnwalld --apply-base puts a ruleset in force and exits 0" \
	tb_host_exec env NFT_TABLE=vpnwall VPN_INTERFACE=wg+ "$VPNWALLD" --apply-base
tb_check "the base ruleset is there" tb_nft list chain inet vpnwall dispatch
# A typo in the settings must not leave the host without rules when dockerd starts.
tb_nft delete table inet vpnwall
tb_check "--apply-base with an invalid setting still puts the (strictest) base in force" \
	tb_host_exec env NFT_TABLE=vpnwall VPN_ALLOW=0.0.0.0/0 "$VPNWALLD" --apply-base
tb_check "the base ruleset is there again" tb_nft list chain inet vpnwall dispatch
before=$(leaked)
tb_run early --label vpn.allow=$LAN/32 -- vw-probe $TARGET $PORT 10
sleep 1
tb_check_eq "base ruleset only, a new container probing: nothing leaked" "$before" leaked
tb_expect_blocked early $LAN 80 "base ruleset only: not even the LAN (nothing is dispatched)"
TB_READY_PATTERN="no VPN interface wg+ is up" tb_daemon_start VPN_INTERFACE=wg+
TB_READY_PATTERN="no VPN interface wg+ is up" tb_daemon_wait_ready
tb_expect_eventually_reach early $LAN 80 "daemon up: control, its LAN is reachable"
tb_check_eq "daemon up, tunnel down: still nothing leaked" "$before" leaked

tb_finish
