#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The DNS proxy and what was there before it, and what one container can do to it:
# - a UDP flow to the resolver that started before vpnwalld (same socket, same source port)
#   is answered by the proxy once the redirect is in, under the container's policy: its
#   conntrack entry does not carry it past the redirect;
# - a container that floods the proxy with queries the upstream never answers is held to
#   its own quota (the rest dropped and counted), while another container's lookups and
#   first connections go on, and the flooder resolves again once its queries time out;
# - meanwhile the proxy's upstream source port goes on changing;
# - when our table is deleted under the daemon, what was learned comes back with it;
# - a query from the host itself (Docker's embedded DNS with a loopback resolver) is
#   answered if some container may resolve the name and learned for those that may, with a
#   warning once;
# - a container that joins another network keeps what it learned from its new address;
# - DNS over TCP clients that half-close, pipeline past their cap, or hold connections
#   open with a trickle get their answers, their quota back, and closed, in that order;
# - queries forged with a container's address from the uplink never reach the proxy;
# - a container's UDP queries past DNS_PROXY_RATE are dropped in the kernel;
# - once every learned address is taken (DNS_PROXY_LEARNED_MAX), a container under its
#   equal share takes the place of the biggest learner's address that expires first.
# Every "blocked" has a positive control in the same state.
# shellcheck disable=SC2317,SC2016,SC2059 # helpers via tb_check; quoted scripts; DNS formats
set -eu
. "$(dirname "$0")/../lib/testbed.sh"
. "$(dirname "$0")/../lib/dnsproxy.sh"

tb_init
tb_up

tb_dns_set a.wild.test 198.51.100.12
tb_dns_set other.test 198.51.100.13

netns_of() { echo "/proc/$(docker inspect -f '{{.State.Pid}}' "$1")/ns/net"; }

# --- 1. a UDP flow to port 53 from before the daemon ----------------------------------------
# In cf's namespace, bash holds one connected UDP socket to the resolver (one source port)
# and asks it for other.test (id 0x1234) every 0.3 s; each answer (or nothing) becomes one
# hex line in $TB/cf.hex.
QO='\022\064\001\000\000\001\000\000\000\000\000\000\005other\004test\000\000\001\000\001'
# cf may reach the resolver's port 53 itself: its old flow stays allowed, so only the flush
# of port-53 flows when the redirect goes in (not the sweep of disallowed flows) sends it on
# to the proxy.
tb_run cf --label "vpn.outbound=*.wild.test:80/tcp,$TB_DNS_IP:53/udp"
tb_run ok --label 'vpn.outbound=*.wild.test:80/tcp'
tb_run fl --label 'vpn.outbound=*.wild.test:80/tcp,*.slow.test'
: >"$TB/cf.hex"
nsenter --net="$(netns_of cf)" bash -c '
	exec 3<>"/dev/udp/$1/53" || exit 1
	while [ -e "$3" ]; do
		printf "$2" >&3
		timeout 0.3 dd bs=4096 count=1 <&3 2>/dev/null | od -An -v -tx1 | tr -d " \n"
		echo
		sleep 0.2
	done >>"$3"' sh "$TB_DNS_IP" "$QO" "$TB/cf.hex" </dev/null >/dev/null 2>&1 &
TB_BG_PIDS="$TB_BG_PIDS $!"
# last_answer: the newest non-empty answer line.
last_answer() { grep . "$TB/cf.hex" | tail -n 1; }
# udp_answered HEXADDR: the newest answer is NOERROR (rcode nibble 0), to our id, with HEXADDR.
udp_answered() {
	local h
	h=$(last_answer)
	case $h in 1234[89abcdef]*"$1"*) ;; *) return 1 ;; esac
	[ "${h:7:1}" = 0 ]
}
# udp_rcode RCODE: the newest answer has RCODE (one hex digit) and no address of other.test.
udp_rcode() {
	local h
	h=$(last_answer)
	case $h in 1234[89abcdef]*) ;; *) return 1 ;; esac
	case $h in *c633640d*) return 1 ;; esac
	[ "${h:7:1}" = "$1" ]
}
udp_flows() {
	tb_host_exec conntrack -L -p udp --dport 53 2>/dev/null | grep -c "src=$(tb_ip cf) "
}
tb_check "before vpnwalld: control, cf's UDP flow gets dnsmasq's answer for other.test" \
	tb_eventually 10 udp_answered c633640d
udp_flowing() { [ "$(udp_flows)" -ge 1 ]; }
tb_check "before vpnwalld: that flow is in the host's conntrack table" \
	tb_eventually 5 udp_flowing

tb_daemon_start DNS_PROXY=true "DNS_UPSTREAM=$TB_DNS_IP"
tb_daemon_wait_ready
for c in cf ok fl; do
	tb_check "$c: managed, its DNS redirected to the proxy" tb_eventually 15 proxied "$c"
done
# The same socket goes on sending: once the redirect holds, its answers are the proxy's.
tb_check "after: the same UDP flow's queries for other.test get REFUSED, from the proxy" \
	tb_eventually 10 udp_rcode 5
rm -f "$TB/cf.hex"

# --- 2. a flood from one container ----------------------------------------------------------
tb_check_eq "fl: nothing dropped before the flood" 0 dnsq fl dropped
# flood C N: N queries for names under slow.test (allowed to fl and tq, never answered
# upstream), sent from C's namespace as fast as bash goes; c-ares gives up on each after 2
# tries (2 s, then 4 s).
flood() {
	nsenter --net="$(netns_of "$1")" bash -c '
		exec 3<>"/dev/udp/$1/53" || exit 1
		for i in $(seq "$2"); do
			n=q$i
			printf "\022\064\001\000\000\001\000\000\000\000\000\000\\$(printf %03o ${#n})$n\004slow\004test\000\000\001\000\001" >&3
		done' sh "$TB_DNS_IP" "$2" >/dev/null 2>&1 || true
}
flood fl 1000
tb_check "flood: fl's queries past its quota are dropped and counted" \
	tb_eventually 5 dnsq_some fl dropped
tb_check "flood: vpnwalld still runs" tb__pid_alive "$TB_DAEMON_PID"
# While fl's quota is full of unanswered queries: ok is not held back.
tb_check "flood: ok still resolves and reaches a.wild.test on the first connection" \
	first_try ok a.wild.test 80 198.51.100.12
# One try, 2 s at most: its quota stays full until c-ares gives up (2 s, then 4 s).
stuck() {
	! timeout 2 "$TB_DOCKER_BIN" exec fl nslookup a.wild.test 2>/dev/null | grep -q '^Address: '
}
tb_check "flood: control, fl itself gets no answer while its quota is full" stuck
tb_check "after the flood: fl resolves a.wild.test again" \
	tb_eventually 20 resolves fl a.wild.test 198.51.100.12
tb_check "after the flood: the timed-out queries were counted as failed" dnsq_some fl failed

# --- 2b. the proxy's source ports while the upstream leaves queries unanswered --------------
# The proxy's upstream sockets change every 32 queries or second (with the random id, the
# port is what an off-path spoofer must guess). Unanswered queries hold their socket open
# until c-ares gives them up; that must not pin every other query to one port meanwhile.
# upstream_ports: the source ports of the proxy's flows to the upstream (host's conntrack).
upstream_ports() {
	tb_host_exec conntrack -L -p udp -s "$TB_HOST_IP" -d "$TB_DNS_IP" --dport 53 2>/dev/null |
		awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^sport=/) { print substr($i, 7); break } }' |
		sort -u
}
dropped0=$(dnsq fl dropped)
flood fl 1000
more_dropped() { [ "$(dnsq fl dropped)" -gt "$dropped0" ]; }
tb_check "second flood: fl's quota is full again" tb_eventually 5 more_dropped
upstream_ports >"$TB/ports.before"
# Four lookups by ok, a little over a second apart, all within the flood's 6 s.
looked=0
for _ in 1 2 3 4; do
	if resolves ok a.wild.test 198.51.100.12; then looked=$((looked + 1)); fi
	sleep 1.1
done
tb_check_eq "second flood: control, ok's four lookups were answered" 4 echo "$looked"
upstream_ports >"$TB/ports.after"
new_ports=$(comm -13 "$TB/ports.before" "$TB/ports.after" | wc -l)
tb_log "proxy source ports: $(wc -l <"$TB/ports.before") before ok's lookups, $new_ports new"
# Each lookup comes over a second after the one before: its socket is worn by then.
tb_check_eq "second flood: each of ok's lookups went out from a new source port" 4 echo "$new_ports"

# --- 3. the table replaced under the daemon ---------------------------------------------------
# Someone deletes our table: the daemon puts it back whole, with what was learned. A
# repeated answer must not be taken for one the kernel still holds from before.
learned_ok() { learned "$(tb_ip ok)" 198.51.100.12; }
tb_check "before: ok's address for a.wild.test is learned" tb_eventually 5 learned_ok
tb_nft delete table inet vpnwall
tb_check "the daemon puts its table back" tb_eventually 15 proxied ok
tb_check "... and with it what ok had learned" tb_eventually 10 learned_ok
tb_expect_reach ok 198.51.100.12 80 "ok reaches the restored address without a new lookup"
tb_expect_blocked ok 198.51.100.13 80 "control: ok still does not reach other.test's address"
tb_check "a repeated lookup and its first connection work" first_try ok a.wild.test 80 198.51.100.12

# --- 4. a query from the host itself --------------------------------------------------------
# What Docker's embedded DNS sends when it forwards from the host (a loopback resolver):
# the proxy cannot tell which container asked. a.wild.test is answered and learned for every
# container allowed it (cf, ok, fl), none other; other.test (nobody's) is refused.
# host_ask QUERY [ADDR]: the proxy's answer to QUERY sent from the host to ADDR:1053
# (127.0.0.1), in hex.
host_ask() {
	tb_host_exec bash -c '
		exec 3<>"/dev/udp/$2/1053" || exit 1
		printf "$1" >&3
		timeout 2 dd bs=4096 count=1 <&3 2>/dev/null | od -An -v -tx1 | tr -d " \n"' \
		sh "$1" "${2:-127.0.0.1}"
}
QA='\022\064\001\000\000\001\000\000\000\000\000\000\001a\004wild\004test\000\000\001\000\001'
tb_dns_set a.wild.test 198.51.100.11
host_answered() {
	local h
	h=$(host_ask "$QA")
	case $h in 1234[89abcdef]*c633640b*) ;; *) return 1 ;; esac
	[ "${h:7:1}" = 0 ]
}
host_refused() {
	local h
	h=$(host_ask "$QO")
	case $h in 1234[89abcdef]*) ;; *) return 1 ;; esac
	[ "${h:7:1}" = 5 ]
}
learned_by() { learned "$(tb_ip "$1")" 198.51.100.11; }
tb_run none --label vpn.outbound=198.51.100.10:80/tcp
tb_check "none: managed" tb_eventually 15 proxied none
tb_check "host: a.wild.test (allowed to some containers) answered with 198.51.100.11" \
	tb_eventually 10 host_answered
for c in ok fl; do
	tb_check "host's answer learned for $c (allowed *.wild.test)" learned_by "$c"
done
tb_check_fails "host's answer not learned for none (not allowed it)" learned_by none
tb_expect_reach ok 198.51.100.11 80 "ok reaches 198.51.100.11 through the host's lookup"
tb_expect_blocked none 198.51.100.11 80 "none does not reach 198.51.100.11"
tb_check "host: other.test (nobody's) REFUSED" host_refused
warned() { grep -c "asked by the host itself" "$TB/vpnwalld.log"; }
tb_check "the daemon warned, naming dockerd's \"dns\" setting" \
	grep -q 'asked by the host itself.*"dns" in daemon.json' "$TB/vpnwalld.log"
host_answered || true
tb_check_eq "... once" 1 warned

# --- 5. a container that gains an address -------------------------------------------------
# ok joins another network: what it learned goes under its new address in the same step,
# without a new lookup. Inside ok, the learned address (and a control) are routed through
# the new network, so its packets leave with the new address.
docker network create --subnet 198.18.61.0/24 unet2 >/dev/null
tb_check "ok: a fresh lookup gives 198.51.100.11" resolves ok a.wild.test 198.51.100.11
docker network connect unet2 ok
ok2=$(tb_ip ok unet2)
tb_check "ok: managed on unet2 too" tb_eventually 15 proxied ok unet2
tb_check "what ok learned is now under its new address $ok2 as well" \
	tb_eventually 10 learned "$ok2" 198.51.100.11
gw2=198.18.61.1 # Docker's gateway: the subnet's first address
for a in 198.51.100.11 198.51.100.13; do
	nsenter --net="$(netns_of ok)" ip route add "$a/32" via "$gw2"
done
# Docker masquerades what leaves the host: the server sees the host; the host's conntrack
# shows the container's address. The answer came back (ASSURED) on a flow from $ok2.
from_new() {
	tb_fetch ok 198.51.100.11 80 | grep -q '^tb-server 198.51.100.11 80 ' &&
		tb_host_exec conntrack -L -p tcp -s "$ok2" -d 198.51.100.11 --dport 80 2>/dev/null |
		grep -q ASSURED
}
tb_check "ok reaches 198.51.100.11 from $ok2 with no new lookup" from_new
tb_expect_blocked ok 198.51.100.13 80 "control: ok does not reach 198.51.100.13 that way"

# --- 6. DNS over TCP clients that misbehave ---------------------------------------------------
# A client that half-closes right after its query (busybox nc does) still gets the answer,
# also when the proxy moved its connection to another slot meanwhile.
# Queries one connection pipelines past its 32 in flight are dropped, and hand their slots
# of the container's quota (64) back: a burst under the quota afterwards loses nothing. A
# client holds at most 8 connections, and one that sends a byte now and then without ever
# completing a query is closed as idle (10 s) all the same, while others are served.
VW_DNSQ=${VW_DNSQ:-$TB_LIB_DIR/../../build/test/tools/vw-dnsq}
[ -x "$VW_DNSQ" ] || tb__die "vw-dnsq not found at $VW_DNSQ (build first or set VW_DNSQ)"
dnsq_in() {
	local c=$1
	shift
	nsenter --net="$(netns_of "$c")" "$VW_DNSQ" "$@"
}
tb_run tq --label 'vpn.outbound=*.wild.test:80/tcp,*.slow.test'
tb_check "tq: managed, its DNS redirected to the proxy" tb_eventually 15 proxied tq
tb_check_eq "half-closed at once: tq's TCP query still gets its answer (NOERROR, 1 address)" \
	"rcode 0 an 1" dnsq_in tq halfclose "$TB_DNS_IP" a.wild.test
# The same, with the proxy moving the connection to another slot while the query is
# upstream (a connection opened before it closes): the answer must still find it.
tb_check_eq "... also when its slot moved while the query was upstream (SERVFAIL after 6 s)" \
	"rcode 2 an 0" dnsq_in tq moved "$TB_DNS_IP" m1.slow.test
tb_check_eq "tq: nothing dropped before" 0 dnsq tq dropped
dnsq_in tq pipeline "$TB_DNS_IP" 64 slow.test
tb_check_eq "pipelined: the 32 queries past the connection's cap are dropped and counted" \
	32 dnsq tq dropped
failed_at_least() { [ "$(dnsq tq failed)" -ge "$1" ]; }
tb_check "pipelined: the 32 it forwarded time out upstream (counted as failed)" \
	tb_eventually 15 failed_at_least 32
# over N: tq's queries forwarded and done (timed out; or answered, when dnsmasq's own cap of
# queries in flight turns some away) number more than N.
over() { [ $(($(dnsq tq failed) + $(dnsq tq allowed))) -gt "$1" ]; }
done0=$(($(dnsq tq failed) + $(dnsq tq allowed)))
flood tq 60
tb_check "then a burst of 60 UDP queries (quota 64): all forwarded and done" \
	tb_eventually 15 over $((done0 + 59))
tb_check_eq "... none of the burst dropped" 32 dnsq tq dropped
dnsq_in tq hold "$TB_DNS_IP" 20 13 >"$TB/hold.out" 2>&1 &
hold_pid=$!
TB_BG_PIDS="$TB_BG_PIDS $hold_pid"
sleep 2
tb_check_eq "while tq holds its connections: ok's TCP query is answered" \
	"rcode 0 an 1" dnsq_in ok halfclose "$TB_DNS_IP" a.wild.test
wait "$hold_pid" || true
tb_check_eq "tq's 20 connections: the 12 past its 8 closed at once" \
	"refused 12" sed -n 1p "$TB/hold.out"
tb_check_eq "tq's 8 that trickle a byte a second but never a query: closed as idle" \
	"open 0" sed -n 2p "$TB/hold.out"

# --- 7. queries from the uplink --------------------------------------------------------------
# The proxy takes a query's source for the container that asked. A host on the uplink (the
# fake internet) forges tq's address as the source of queries for names tq may resolve,
# sent to the host's port 53 and to the proxy's own port: neither reaches the proxy, so the
# upstream is never asked. Controls in the same state: tq's own query is asked upstream,
# and the proxy answers the host itself on that address.
tq_ip=$(tb_ip tq)
tb_inet_exec ip addr add "$tq_ip/32" dev lo
# A strict reverse path filter would drop the forged packets before our table sees them
# (and hide a missing guard): loose, as on Debian, or off, as here, it lets them in.
tb_host_exec sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
off=$(log_off)
for i in 1 2 3; do
	tb_inet_exec "$VW_DNSQ" forge "$tq_ip" "$TB_HOST_IP" 53 "f53-$i.wild.test" || true
	tb_inet_exec "$VW_DNSQ" forge "$tq_ip" "$TB_HOST_IP" 1053 "fpx-$i.wild.test" || true
done
# After the forged ones: once tq's own query is in the upstream's log, they would be too.
nsl tq own.wild.test >/dev/null
tb_check "control: tq's own lookup of own.wild.test is asked upstream" \
	tb_eventually 5 asked_since "$off" own.wild.test
tb_check_fails "forged queries to the host's port 53 never asked upstream" \
	asked_since "$off" 'f53-[0-9]\.wild\.test'
tb_check_fails "forged queries to the proxy's port never asked upstream" \
	asked_since "$off" 'fpx-[0-9]\.wild\.test'
# (It refuses: the host asking by that address is taken for no container's.)
host_replied() { case $(host_ask "$QA" "$TB_HOST_IP") in 1234[89abcdef]*) ;; *) return 1 ;; esac; }
tb_check "control: the proxy replies to the host itself on $TB_HOST_IP:1053" host_replied
tb_inet_exec ip addr del "$tq_ip/32" dev lo

# --- 8. a container's UDP queries past DNS_PROXY_RATE --------------------------------------
# Every container's UDP queries share the proxy's one socket. Past its rate (here 20 a
# second, 40 more in a burst) a container's are dropped in the kernel, counted as its
# drops, before they can crowd the others' out of that socket's buffer. Controls: a burst
# within the rate is answered whole; ok resolves meanwhile, and tq again once refilled.
tb_daemon_stop
tb_daemon_start DNS_PROXY=true "DNS_UPSTREAM=$TB_DNS_IP" DNS_PROXY_RATE=20
tb_daemon_wait_ready
tb_check "restarted with DNS_PROXY_RATE=20: tq managed again" tb_eventually 15 proxied tq
sleep 2.5 # a full bucket
tb_check_eq "a burst of 30 refused queries (within the burst): all 30 answered" \
	"answered 30" dnsq_in tq burst "$TB_DNS_IP" 30 other.test
sleep 2.5
drops0=$(drops tq)
out=$(dnsq_in tq burst "$TB_DNS_IP" 400 other.test)
answered=${out#answered }
tb_log "400 queries at once: $answered answered"
tb_check "a burst of 400: at most the burst and a second of the rate answered (<= 80)" \
	test "$answered" -le 80
tb_check "... at least the burst (>= 30)" test "$answered" -ge 30
more_drops() { [ $(($(drops tq) - drops0)) -ge 300 ]; }
tb_check "... the rest dropped in the kernel, counted as tq's drops" more_drops
tb_check "meanwhile: ok still resolves a.wild.test" resolves ok a.wild.test 198.51.100.11
tb_check "tq resolves again once its rate refilled" \
	tb_eventually 10 resolves tq a.wild.test 198.51.100.11

# --- 9. every learned address taken ---------------------------------------------------------
# With DNS_PROXY_LEARNED_MAX=4, tq learns four addresses and fills the table. ok, with none
# learned, is under its equal share (2): its lookup takes the place of tq's address that
# expires first (the first tq learned), whose kernel element goes in the same transaction.
# tq, over its share, learns nothing more: its lookup is answered, its new connections
# dropped. Controls: ok did not reach that address before; tq keeps its other addresses.
tb_daemon_stop
tb_daemon_start DNS_PROXY=true "DNS_UPSTREAM=$TB_DNS_IP" DNS_PROXY_LEARNED_MAX=4 \
	DNS_PROXY_GRACE=300
tb_daemon_wait_ready
tb_check "restarted with DNS_PROXY_LEARNED_MAX=4: tq managed again" tb_eventually 15 proxied tq
tb_check "... and ok" tb_eventually 15 proxied ok
for i in 0 1 2 3; do
	tb_dns_set "g$i.wild.test" "198.51.100.1$i"
done
tb_dns_set c.wild.test 198.51.100.10
tb_dns_set h.wild.test 198.51.100.14
tb_expect_blocked ok 198.51.100.10 80 "before: ok does not reach 198.51.100.10"
for i in 0 1 2 3; do
	tb_check "tq learns g$i.wild.test, its first connection goes through" \
		first_try tq "g$i.wild.test" 80 "198.51.100.1$i"
done
tb_check "ok learns c.wild.test (198.51.100.10) in tq's place: its first connection goes through" \
	first_try ok c.wild.test 80 198.51.100.10
tb_check "the daemon warned, naming both" \
	grep -q "every learned address is taken: 'ok' learned less .* an address 'tq' learned" \
	"$TB/vpnwalld.log"
tb_check_fails "tq's element for 198.51.100.10 (the first it learned) is gone" \
	learned "$tq_ip" 198.51.100.10
tb_expect_blocked tq 198.51.100.10 80 "tq no longer reaches 198.51.100.10"
tb_expect_reach tq 198.51.100.12 80 "control: tq still reaches 198.51.100.12 (g2)"
tb_expect_reach tq 198.51.100.13 80 "control: ... and 198.51.100.13 (g3)"
tb_check "tq over its share: h.wild.test is answered" resolves tq h.wild.test 198.51.100.14
tb_check_fails "... but not learned" learned "$tq_ip" 198.51.100.14
tb_check "control: tq's element for 198.51.100.13 is there" learned "$tq_ip" 198.51.100.13

tb_finish
