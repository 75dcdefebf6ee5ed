#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# More of the kill switch's leak matrix, on the testbed of t-killswitch (a real WireGuard
# tunnel, the host's uplink left in place as the leak path, the fake internet counting a
# prober's numbered datagrams per path): IPv6 through a dual-stack tunnel, an address
# handed from a container allowed any path to one allowed only the tunnel, a container
# moved at runtime onto a network created after it started, and DNS over TCP and TLS to a
# resolver outside the tunnel. Every "nothing leaked" has a positive control in the same
# state: the probes come through the tunnel when it is up, the LAN (vpn.allow) answers
# when it is down, and a container opted out of the tunnel shows that a leak over that
# very path would be counted.
# shellcheck disable=SC2317,SC2119 # helpers run through tb_check; tb_daemon_* take no args here
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

VW_PROBE=${VW_PROBE:-$TB_LIB_DIR/../../build/test/tools/vw-probe}
TARGET=198.51.100.10   # in vpn.outbound: only through the tunnel
LAN=198.51.100.11      # in vpn.allow: by any path (it plays the LAN)
TARGET6=2001:db8:100::10
LAN6=2001:db8:100::11
PORT=9999              # the probes' port
REUSE_NET=198.18.40.0/29
REUSE_IP=198.18.40.6   # the address handed from one container to the next

TB_DOCKERD_ARGS="--ipv6 --fixed-cidr-v6 2001:db8:1::/64"
TB_VPN_IPV6=1
tb_init
[ -x "$VW_PROBE" ] || tb__die "vw-probe not found at $VW_PROBE (build first or set VW_PROBE)"
TB_IMAGE_EXTRA="${TB_IMAGE_EXTRA:-} $VW_PROBE"
tb_up
tb_vpn_up
# Docker does not NAT IPv6: replies to the containers' own addresses (a LAN reached
# directly) come back over the uplink. Through the tunnel the VPN server masquerades.
tb_inet_exec ip -6 route add "$TB_VPN_PREFIX6" via "$TB_HOST_IP6"
tb_probe_counters $PORT

# Counts since a base: containers allowed any path leak on purpose, as controls.
BASE=0
BASE6=0
leaked() { echo $(($(tb_probes leaked) - BASE)); }
leaked6() { echo $(($(tb_probes leaked6) - BASE6)); }
rebase() {
	BASE=$(tb_probes leaked)
	BASE6=$(tb_probes leaked6)
}
# idle KIND: nothing arrives that way (the tunnel is down, or the prober is silent).
idle() {
	local a
	a=$(tb_probes "$1")
	sleep 0.5
	[ "$(tb_probes "$1")" = "$a" ]
}
metrics() { tb_host_exec curl -sf http://127.0.0.1:50000/metrics; }
# drops_counted NAME: more than 100 of the container's packets were dropped (counted as its).
drops_counted() {
	metrics | grep "vpnwall_packets_total{.*container=\"$1\".*action=\"dropped\"" |
		awk '{ exit !($NF > 100) }'
}
# via_tunnel NAME HOST SERVER: the fake server saw NAME's request come from SERVER (the VPN's)
via_tunnel() { tb_fetch "$1" "$2" 80 | grep -q "client=$3"; }
ip6_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}' "$1"; }
bridge_of() { echo "br-$(docker network inspect -f '{{.Id}}' "$1" | cut -c1-12)"; }

tb_daemon_start VPN_INTERFACE=wg+
tb_daemon_wait_ready

# --- 1. IPv6 through a dual-stack tunnel -------------------------------------------------
tb_run probe6 --label "vpn.outbound=[$TARGET6]:$PORT/udp,[$TARGET6]:80/tcp" \
	--label "vpn.allow=$LAN6/128" -- vw-probe $TARGET6 $PORT 10
has_ip6() { [ -n "$(ip6_of probe6)" ]; }
tb_check "v6: the prober has an IPv6 address" has_ip6
tb_check "v6, tunnel up: the probes arrive through the tunnel" \
	tb_eventually 10 tb_probes_flow tunneled6
tb_check "v6, tunnel up: a request to an outbound destination goes through the tunnel" \
	tb_eventually 10 via_tunnel probe6 $TARGET6 "$TB_VPN_SERVER_IP6"
tb_check_eq "v6, tunnel up: nothing leaked" 0 leaked6

tb_vpn_tunnel_down
sleep 2 # 200 probes against the uplink
tb_check_eq "v6, tunnel deleted mid-stream: nothing leaked (200 probes)" 0 leaked6
tb_check "v6, tunnel deleted: nothing comes through it any more" tb_eventually 5 idle tunneled6
tb_check "v6, tunnel deleted: control, the probes are still sent (dropped, and counted)" \
	tb_eventually 10 drops_counted probe6
tb_expect_reach probe6 $LAN6 80 "v6, tunnel deleted: control, the LAN (vpn.allow) is reachable"
tb_expect_blocked probe6 $TARGET6 80 "v6, tunnel deleted: the outbound destination is unreachable"
# The same path, opened on purpose: a leak of this kind would be counted.
tb_run free6 --label "vpn.outbound=[$TARGET6]:$PORT/udp" --label vpn.tunnel=false \
	-- vw-probe $TARGET6 $PORT 10
tb_check "v6, tunnel deleted: control, vpn.tunnel=false probes go out the uplink and are counted" \
	tb_eventually 10 tb_probes_flow leaked6
docker rm -f free6 >/dev/null
rebase
sleep 1
tb_check_eq "v6, tunnel still down: the managed prober leaked nothing" 0 leaked6

tb_vpn_tunnel_up
tb_check "v6, tunnel re-created: the probes flow through it again" \
	tb_eventually 15 tb_probes_flow tunneled6
tb_check_eq "v6, tunnel re-created: nothing leaked" 0 leaked6
docker rm -f probe6 >/dev/null

# --- 2. an address handed from an any-path container to a tunnel-only one -----------------
# A user-defined network with room for a handful of containers, routed into the tunnel as
# docker0 is; --ip forces the same address on the next container.
docker network create --subnet $REUSE_NET reuse >/dev/null
REUSE_BR=$(bridge_of reuse)
tb_host_exec ip rule add iif "$REUSE_BR" lookup "$TB_VPN_TABLE" pref 101
tb_vpn_tunnel_down

# handover N WHAT LABEL...: a container allowed the target by any path (LABEL...) probes it
# over the uplink, is removed, and successor N, tunnel-only, starts at once on its address
# (no pause in which the daemon could catch up) and probes the same target for 2 s.
handover() {
	local n=$1 what=$2 ip
	shift 2
	rebase
	tb_run "first$n" --network reuse --ip $REUSE_IP "$@" -- vw-probe $TARGET $PORT 10
	tb_check "reuse ($what), tunnel down: control, the first container's probes go out directly" \
		tb_eventually 10 tb_probes_flow leaked
	ip=$(tb_ip "first$n" reuse)
	docker rm -f "first$n" >/dev/null
	rebase
	tb_run "second$n" --network reuse --ip $REUSE_IP \
		--label vpn.outbound=$TARGET:$PORT/udp,$TARGET:80/tcp --label vpn.allow=$LAN/32 \
		-- vw-probe $TARGET $PORT 10
	tb_check_eq "reuse ($what): the successor got the first container's address" "$ip" \
		tb_ip "second$n" reuse
	sleep 2
}

handover 1 vpn.tunnel=false --label vpn.outbound=$TARGET:$PORT/udp --label vpn.tunnel=false
tb_check_eq "reuse (vpn.tunnel=false), tunnel down: the tunnel-only successor leaked nothing" \
	0 leaked
tb_check "reuse (vpn.tunnel=false), tunnel down: control, its probes are sent (dropped, counted as its)" \
	tb_eventually 10 drops_counted second1
tb_expect_reach second1 $LAN 80 "reuse (vpn.tunnel=false), tunnel down: control, it reaches its LAN"
tb_expect_blocked second1 $TARGET 80 \
	"reuse (vpn.tunnel=false), tunnel down: it does not reach the outbound destination"
tb_vpn_tunnel_up
tb_check "reuse (vpn.tunnel=false), tunnel up: its probes flow through the tunnel" \
	tb_eventually 15 tb_probes_flow tunneled
tb_check_eq "reuse (vpn.tunnel=false): in the end, nothing leaked" 0 leaked
docker rm -f second1 >/dev/null
tb_vpn_tunnel_down

handover 2 "broad vpn.allow" --label vpn.allow=198.51.100.0/24
tb_check_eq "reuse (broad vpn.allow), tunnel down: the tunnel-only successor leaked nothing" \
	0 leaked
tb_check "reuse (broad vpn.allow), tunnel down: control, its probes are sent (dropped, counted as its)" \
	tb_eventually 10 drops_counted second2
tb_expect_reach second2 $LAN 80 "reuse (broad vpn.allow), tunnel down: control, it reaches its LAN"
docker rm -f second2 >/dev/null

# The same while the daemon is down (SIGKILLed): nobody revokes the first container's
# address, so the successor is dispatched as it until the daemon is back and resyncs (a
# limit the README states). Measured; once the daemon is back, nothing more may leak.
tb_run first3 --network reuse --ip $REUSE_IP --label vpn.outbound=$TARGET:$PORT/udp \
	--label vpn.tunnel=false
first3_in() { [ "$(tb_dispatched "$REUSE_IP")" = "$(docker inspect -f '{{.Id}}' first3 | cut -c1-16)" ]; }
tb_check "reuse, daemon to be killed: the first container's address is dispatched to it" \
	tb_eventually 10 first3_in
tb_daemon_kill
docker rm -f first3 >/dev/null
rebase
tb_run second3 --network reuse --ip $REUSE_IP \
	--label vpn.outbound=$TARGET:$PORT/udp,$TARGET:80/tcp --label vpn.allow=$LAN/32 \
	-- vw-probe $TARGET $PORT 10
sleep 1
down=$(leaked)
TB_READY_PATTERN="no VPN interface wg+ is up" tb_daemon_start VPN_INTERFACE=wg+
TB_READY_PATTERN="no VPN interface wg+ is up" tb_daemon_wait_ready
tb_expect_eventually_reach second3 $LAN 80 "reuse, daemon restarted: control, the successor reaches its LAN"
tb_log "MEASURE address reused while vpnwalld was down: the tunnel-only successor leaked $down probe(s) in the ~1 s before the restart, $(leaked) until the restarted daemon answered (10 ms apart)"
rebase
sleep 2
tb_check_eq "reuse, daemon restarted and resynced: the successor leaks nothing more" 0 leaked
tb_check "reuse, daemon restarted: control, its probes are sent (dropped, counted as its)" \
	tb_eventually 10 drops_counted second3
docker rm -f second3 >/dev/null
tb_vpn_tunnel_up

# --- 3. a network connected at runtime, routed by vpnwalld (VPN_ROUTE) --------------------
tb_daemon_stop
tb_daemon_start VPN_INTERFACE=wg+ VPN_ROUTE=true
tb_daemon_wait_ready
# The LAN has a route of its own on a real host (VPN_ROUTE skips only the default route).
tb_host_exec ip route add $LAN/32 via "$TB_INET_IP"
rebase
tb_run mover --label vpn.outbound=$TARGET:$PORT/udp,$TARGET:80/tcp --label vpn.allow=$LAN/32 \
	-- vw-probe $TARGET $PORT 10
tb_check "moved, on docker0: the probes arrive through the tunnel" \
	tb_eventually 10 tb_probes_flow tunneled
docker network create late >/dev/null
LATE_BR=$(bridge_of late)
docker network connect late mover
docker network disconnect bridge mover
only_late() { [ "$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' mover)" = "late " ]; }
tb_check "moved: the prober is on the new network only" only_late
routed() { [ "$(tb_host_exec ip -4 rule show | grep -c "iif $LATE_BR .*proto 118")" = 3 ]; }
tb_check "moved: vpnwalld routes the new bridge (three rules)" tb_eventually 10 routed
tb_check "moved, tunnel up: the probes arrive through the tunnel via the new bridge" \
	tb_eventually 15 tb_probes_flow tunneled
tb_check "moved, tunnel up: a request to an outbound destination goes through the tunnel" \
	tb_eventually 10 via_tunnel mover $TARGET "$TB_VPN_SERVER_IP"
tb_check_eq "moved, tunnel up: nothing leaked" 0 leaked

tb_vpn_tunnel_down
sleep 2
tb_check_eq "moved, tunnel deleted: nothing leaked (200 probes)" 0 leaked
tb_check "moved, tunnel deleted: nothing comes through it any more" tb_eventually 5 idle tunneled
tb_expect_reach mover $LAN 80 "moved, tunnel deleted: control, the LAN is reachable"
tb_expect_blocked mover $TARGET 80 "moved, tunnel deleted: the outbound destination is unreachable"
# Routing alone would hold here: send the new bridge to the uplink ahead of vpnwalld's
# rules, and the firewall is all that stands between the probes and it.
tb_host_exec ip rule add iif "$LATE_BR" lookup main pref 50
sleep 2
tb_check_eq "moved, routed to the uplink: the firewall alone leaked nothing" 0 leaked
tb_expect_reach mover $LAN 80 "moved, routed to the uplink: control, the LAN is reachable"
tb_run free --network late --label vpn.outbound=$TARGET:$PORT/udp --label vpn.tunnel=false \
	-- vw-probe $TARGET $PORT 10
tb_check "moved, routed to the uplink: control, vpn.tunnel=false probes from the new network leak and are counted" \
	tb_eventually 10 tb_probes_flow leaked
docker rm -f free >/dev/null
rebase
sleep 1
tb_check_eq "moved, routed to the uplink: the managed prober still leaked nothing" 0 leaked
tb_host_exec ip rule del pref 50
tb_vpn_tunnel_up
tb_check "moved, tunnel re-created: the probes flow through it again" \
	tb_eventually 15 tb_probes_flow tunneled
tb_check_eq "moved: in the end, nothing leaked" 0 leaked

# --- 4. DNS over TCP, and over TLS (853), to a resolver outside the tunnel ---------------
# dnsmasq answers TCP on port 53; a stand-in for a DoT server listens on 853. The fake
# internet counts TCP segments to either port by the way they arrive.
tb_inet_nft -f - <<EOF
table inet dnsprobe {
	counter leaked { }
	counter tunneled { }
	chain pre {
		type filter hook prerouting priority -300;
		iifname "eth0" tcp dport { 53, 853 } counter name leaked
		iifname "vs0" tcp dport { 53, 853 } counter name tunneled
	}
}
EOF
tb_inet_exec sh -c "busybox nc -ll -p 853 -e echo dot-server &" >/dev/null 2>&1
dns_leaked() { tb_nft_counter "$TB_INET_NS" inet dnsprobe leaked; }
dns_tunneled() { tb_nft_counter "$TB_INET_NS" inet dnsprobe tunneled; }
# A DNS query for web.test over TCP: its 2-byte length (26), then the message.
QUERY='\000\032\022\064\001\000\000\001\000\000\000\000\000\000\003web\004test\000\000\001\000\001'
# dns_tcp NAME PORT: a TCP exchange with the resolver's PORT gets an answer.
dns_tcp() {
	case $2 in
	853) docker exec "$1" sh -c "timeout 4 nc -w 2 $TB_DNS_IP 853 </dev/null" | grep -q dot-server ;;
	*) docker exec "$1" sh -c "printf '$QUERY' | timeout 4 nc -w 2 $TB_DNS_IP 53" | grep -q web ;;
	esac
}
tb_run dot --label vpn.outbound=$TB_DNS_IP:53,$TB_DNS_IP:853/tcp
for p in 53 853; do
	tb_check "DNS over TCP $p, tunnel up: answered" tb_eventually 10 dns_tcp dot $p
done
tb_check "DNS over TCP, tunnel up: the segments came through the tunnel" \
	test "$(dns_tunneled)" -gt 0
tb_vpn_tunnel_down
for p in 53 853; do
	tb_check_fails "DNS over TCP $p, tunnel deleted: no answer" dns_tcp dot $p
done
tb_check_eq "DNS over TCP and 853, tunnel deleted: not one segment leaked" 0 dns_leaked
tb_expect_reach mover $LAN 80 "DNS, tunnel deleted: control, the LAN is reachable"

tb_finish
