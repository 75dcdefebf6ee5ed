#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Routed-back spoofing. A container has CAP_NET_RAW (a Docker default), so it can send its
# gateway a frame with a forged source X and ITSELF as destination. The host routes that
# back out of the same bridge, and conntrack confirms an entry X -> C: from then on every
# C -> X packet is in the entry's reply direction. Neither "same bridge" nor "reply" may
# exempt it from the policy: X is not in C's labels, so nothing may reach X.
#
# What reaches X is counted in the fake internet (which the test owns), and the same state
# has positive controls, so that "nothing arrived" never comes from a broken testbed, tool
# or counter: allowed TCP and UDP get out and are counted, a neighbour on the bridge and a
# published port still answer.
# shellcheck disable=SC2317,SC2119 # helpers run through tb_check; tb_daemon_* take no args here
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

VW_SPOOF=${VW_SPOOF:-$TB_LIB_DIR/../../build/test/tools/vw-spoof}
ALLOWED=198.51.100.10 # in the container's labels
X=198.51.100.11       # a fake server the labels do not allow
XPORT=7777            # forged source port, and where the leak would go
PLAINPORT=7778        # C -> X without the forged packet first
CTLPORT=9999          # C -> ALLOWED, the positive control
N=5                   # datagrams per send

tb_init
[ -x "$VW_SPOOF" ] || tb__die "vw-spoof not found at $VW_SPOOF (build first or set VW_SPOOF)"
TB_IMAGE_EXTRA="${TB_IMAGE_EXTRA:-} $VW_SPOOF"
tb_up

tb_daemon_start
tb_daemon_wait_ready

# sp is the spoofer, on the default bridge, with a published port (an inbound DNAT'd flow
# whose replies must keep working). nb is an unlabeled neighbour on the same bridge.
tb_run sp --label vpn.outbound=$ALLOWED -p 8089:7000
tb_run nb
tb_listen sp 7000
C=$(tb_ip sp)
GWMAC=$(ip -n "$TB_HOST_NS" -br link show docker0 | awk '{ print $3 }')
[ -n "$GWMAC" ] || tb__die "no MAC address for docker0"
tb_log "spoofer $C, gateway MAC $GWMAC, X $X"

# Count UDP that arrives from the container itself (the leak: its conntrack entry was born
# as a flow from X into the bridge, so nothing masquerades the replies) or from the host
# (allowed traffic, masqueraded), then drop it: no ICMP error goes back into the test.
tb_inet_nft -f - <<EOF
table ip vwprobe {
	counter leak { }
	counter leak_unnat { }
	counter plain { }
	counter ctl { }
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		ip saddr != { $C, $TB_HOST_IP } return
		ip saddr $C ip daddr $X udp dport $XPORT counter name "leak_unnat"
		ip daddr $X udp dport $XPORT counter name "leak" drop
		ip daddr $X udp dport $PLAINPORT counter name "plain" drop
		ip daddr $ALLOWED udp dport $CTLPORT counter name "ctl" drop
	}
}
EOF
probe() { tb_nft_counter "$TB_INET_NS" ip vwprobe "$1"; }
probe_is() { [ "$(probe "$1")" = "$2" ]; }

published_port_answers() {
	tb_inet_exec sh -c "echo x | timeout 4 busybox nc -w 2 $TB_HOST_IP 8089" | grep -q "pong sp"
}

tb_expect_eventually_reach sp $ALLOWED 80 "control: sp reaches its allowed host over TCP"
tb_expect_blocked sp $X 80 "sp is blocked at X over TCP"
tb_expect_reach nb "$C" 7000 "control: a neighbour on the same bridge reaches sp"
tb_check "control: sp's published port answers from outside" \
	tb_eventually 10 published_port_answers

# Without the trick, C -> X is an ordinary new flow and the policy drops it.
tb_check_eq "vw-spoof sends $N plain datagrams to X" "sent $N" \
	docker exec sp vw-spoof -p 40001 -n "$N" "$X:$PLAINPORT"

# The attack: X:XPORT -> C:40000 forged to the gateway, then C:40000 -> X:XPORT.
out=$(docker exec sp vw-spoof -f -m "$GWMAC" -p 40000 -n "$N" "$X:$XPORT" 2>&1) || true
tb_log "vw-spoof -f: $(printf '%s' "$out" | tr '\n' ' ')"
case $out in
*"sent $N"*) tb__pass "vw-spoof sends the forged packet and $N datagrams to X" ;;
*) tb__fail "vw-spoof sends the forged packet and $N datagrams to X" "output: $out" ;;
esac
# Measured, not asserted: whether the forged packet came back to sp, and the entry it left.
tb_log "MEASURE forged packet routed back to sp: $(printf '%s' "$out" | sed -n 's/^looped //p')"
tb_log "MEASURE conntrack entries $X -> $C: $(tb_host_exec conntrack -L -p udp \
	--orig-src "$X" --orig-dst "$C" 2>/dev/null | grep -c . || true)"

# Sent last: once its datagrams are counted, the ones above have long arrived too.
tb_check_eq "control: vw-spoof sends $N datagrams to the allowed host" "sent $N" \
	docker exec sp vw-spoof -p 40002 -n "$N" "$ALLOWED:$CTLPORT"
tb_check "control: all $N allowed datagrams are counted at $ALLOWED:$CTLPORT" \
	tb_eventually 5 probe_is ctl "$N"

tb_check_eq "no plain datagram from sp reaches X" 0 probe plain
tb_log "MEASURE datagrams that reached $X:$XPORT after the forged packet: $(probe leak)" \
	"(from $C itself, not masqueraded: $(probe leak_unnat))"
tb_check_eq "no datagram from sp reaches X after a forged, routed-back packet" 0 probe leak

# The same state once more: the attack changed nothing for allowed traffic.
tb_expect_reach sp $ALLOWED 80 "control: sp still reaches its allowed host"
tb_expect_blocked sp $X 80 "sp is still blocked at X over TCP"
tb_check "control: the published port still answers" tb_eventually 10 published_port_answers
tb_finish
