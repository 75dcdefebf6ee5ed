#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A policy that tightens ends the established flows it no longer allows: their conntrack
# entries are deleted (over ctnetlink), not only their next packets dropped; and so are
# those of a container that goes. A prober keeps
# one UDP flow to a name's address and one to a static address; the name moves elsewhere.
# Without the deletion, the probes every 10 ms would keep the old entry alive for good.
# shellcheck disable=SC2317 # helpers below run through tb_check and tb_eventually
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

VW_PROBE=${VW_PROBE:-$TB_LIB_DIR/../../build/test/tools/vw-probe}
PORT=9999

tb_init
[ -x "$VW_PROBE" ] || tb__die "vw-probe not found at $VW_PROBE (build first or set VW_PROBE)"
TB_IMAGE_EXTRA="${TB_IMAGE_EXTRA:-} $VW_PROBE"
tb_up
tb_daemon_start DNS_TTL_MIN=1 DNS_TTL_MAX=5
tb_daemon_wait_ready

tb_run p1 --label vpn.outbound=web.test:$PORT/udp,198.51.100.11:$PORT/udp \
	-- vw-probe 198.51.100.10 $PORT 10
docker exec -d p1 vw-probe 198.51.100.11 $PORT 10
src=$(tb_ip p1)

# flow DST: the host's conntrack table has p1's UDP flow to DST.
flow() {
	tb_host_exec cat /proc/net/nf_conntrack |
		grep -q "udp .* src=$src dst=$1 sport=[0-9]* dport=$PORT "
}
revoked() {
	tb_host_exec curl -sf http://127.0.0.1:50000/metrics |
		awk '$1 == "vpnwall_flows_revoked_total" { exit !($2 >= 1) }'
}
tb_check "web.test (=.10): p1's flow to .10 is tracked" tb_eventually 10 flow 198.51.100.10
tb_check "control: its flow to the static .11 is tracked" tb_eventually 10 flow 198.51.100.11

tb_dns_set web.test 198.51.100.12
gone() { ! flow 198.51.100.10; }
tb_check "web.test moved to .12: the flow to .10 is deleted from conntrack" tb_eventually 15 gone
sleep 1
tb_check "it stays gone while the prober keeps sending (its packets are dropped)" gone
tb_check "control: the flow to .11, still allowed, is kept" flow 198.51.100.11
tb_check "vpnwall_flows_revoked_total counts it" revoked

# A container that goes takes its flows along: they would otherwise stay in conntrack
# (with their NAT bindings) until they expire, for whoever gets the address next.
tb_run p2 --label vpn.outbound=198.51.100.11:$PORT/udp -- vw-probe 198.51.100.11 $PORT 10
src2=$(tb_ip p2)
flow2() {
	tb_host_exec cat /proc/net/nf_conntrack |
		grep -q "udp .* src=$src2 dst=198.51.100.11 sport=[0-9]* dport=$PORT "
}
tb_check "p2's flow is tracked" tb_eventually 10 flow2
docker rm -f p2 >/dev/null
gone2() { ! flow2; }
tb_check "p2 removed: its flow is deleted from conntrack, not left to expire" \
	tb_eventually 5 gone2
tb_check "control: p1's allowed flow is still there" flow 198.51.100.11
tb_finish
