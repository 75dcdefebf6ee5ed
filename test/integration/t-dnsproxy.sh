#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The DNS proxy (DNS_PROXY=true), with dnsmasq as the upstream: a wildcard-allowed name is
# reachable on the very first connection after the lookup with zero drops counted for the
# container (the address is in the kernel before the answer leaves); a disallowed name is
# REFUSED and never asked upstream, and its address stays unreachable even after another
# container learned it; an audited container has every name forwarded; DNS over TCP goes
# through the proxy; queries sent straight to another address are answered by the proxy
# under the same policy while DNS over TLS (853) is an ordinary, denied destination; spoofed
# answers sent to the proxy make nothing reachable; Docker's embedded DNS on a user-defined
# network keeps resolving container names and its forwarded queries are the container's;
# learned addresses expire (new connections need a fresh lookup) while a flow opened before
# goes on; DNS_PROXY_REFUSE=nxdomain. Every "blocked" has a positive control in that state.
# shellcheck disable=SC2317,SC2119,SC2016,SC2059 # helpers via tb_check; quoted scripts; DNS formats
set -eu
. "$(dirname "$0")/../lib/testbed.sh"
. "$(dirname "$0")/../lib/dnsproxy.sh"

PROXY_PORT=1053 # the default DNS_PROXY_PORT
LIFETIME=2      # of a learned address: max(TTL 1, DNS_TTL_MIN 1) capped at 2, + grace 1
ECHO_PORT=7777  # an echo server on every address of the fake internet (long-lived flows)

tb_init
tb_up

# --- 1. names in the upstream --------------------------------------------------------------
# Only a.wild.test is reachable through the wildcard; other.test is nobody's but ot's;
# audit.test is nobody's at all (only an audited container gets it answered).
tb_dns_set a.wild.test 198.51.100.12
tb_dns_set other.test 198.51.100.13
tb_dns_set audit.test 198.51.100.11

# A stand-in for a DoT server on 853 and an echo server, on every address of the fake
# internet (busybox nc cannot bind one address; the httpds hold only 80, 443 and 8080).
tb_inet_exec sh -c "busybox nc -ll -p 853 -e echo dot-server &" >/dev/null 2>&1
tb_inet_exec sh -c "busybox nc -ll -p $ECHO_PORT -e cat &" >/dev/null 2>&1
inet_listens() { tb_inet_exec busybox netstat -ltn | grep -q ":$1 "; }
tb_wait_until 10 inet_listens 853 || tb__die "no listener on 853 in the fake internet"
tb_wait_until 10 inet_listens $ECHO_PORT || tb__die "no echo server in the fake internet"

# ---------------------------------------------------------------------------------------
# helpers


# DNS over TCP: a 2-byte length, then the message (id 0x1234, RD, one question, type A).
# QA asks a.wild.test (29 bytes), QO other.test (28 bytes).
QA='\000\035\022\064\001\000\000\001\000\000\000\000\000\000\001a\004wild\004test\000\000\001\000\001'
QO='\000\034\022\064\001\000\000\001\000\000\000\000\000\000\005other\004test\000\000\001\000\001'
# tcp_hex C ADDR QUERY: send QUERY over TCP to ADDR:53 from C (stdin kept open 2 s, so the
# answer is not raced by our half-close); the reply as one hex string, length prefix first.
tcp_hex() {
	timeout 20 "$TB_DOCKER_BIN" exec "$1" sh -c \
		'{ printf "$1"; sleep 2; } | timeout 4 nc -w 2 "$2" 53' sh "$3" "$2" 2>/dev/null |
		od -An -v -tx1 | tr -d ' \n'
}
# tcp_answer C ADDR QUERY HEXADDR: a NOERROR response (QR set) to our id holding HEXADDR.
tcp_answer() {
	local h
	h=$(tcp_hex "$1" "$2" "$3")
	case $h in ????1234[89abcdef]???*"$4"*) ;; *) return 1 ;; esac
	[ "${h:11:1}" = 0 ]
}
# tcp_rcode C ADDR QUERY RCODE: a response to our id with RCODE (one hex digit).
tcp_rcode() {
	local h
	h=$(tcp_hex "$1" "$2" "$3")
	case $h in ????1234[89abcdef]*) ;; *) return 1 ;; esac
	[ "${h:11:1}" = "$4" ]
}

# dot C: a TCP exchange with 198.51.100.53:853 gets the stand-in's line.
dot() {
	timeout 20 "$TB_DOCKER_BIN" exec "$1" sh -c "timeout 4 nc -w 2 $TB_DNS_IP 853 </dev/null" \
		2>/dev/null | grep -q dot-server
}

# ---------------------------------------------------------------------------------------

tb_daemon_start DNS_PROXY=true "DNS_UPSTREAM=$TB_DNS_IP" DNS_TTL_MIN=1 DNS_TTL_MAX=2 \
	DNS_PROXY_GRACE=1
tb_daemon_wait_ready

# The proxy listens on UDP and TCP, and a nat prerouting chain sends port 53 to it.
proxy_listens() { tb_host_exec busybox netstat "-ln$1" | grep -q ":$PROXY_PORT "; }
tb_check "the proxy listens on udp :$PROXY_PORT" tb_eventually 10 proxy_listens u
tb_check "the proxy listens on tcp :$PROXY_PORT" proxy_listens t
dns_chain() { tb_nft list chain inet vpnwall dns; }
redirect_chain() {
	dns_chain | grep -q 'type nat hook prerouting' &&
		dns_chain | grep -q "redirect to :$PROXY_PORT"
}
tb_check "table inet vpnwall has the nat prerouting chain that redirects to the proxy" \
	redirect_chain

tb_run wc --label 'vpn.outbound=*.wild.test:80/tcp'
tb_run au --label vpn.dryrun=true
tb_run dt --label "vpn.outbound=$TB_DNS_IP:853/tcp"
tb_run ten --label vpn.outbound=198.51.100.10:80/tcp
tb_run sp --label 'vpn.outbound=*.wild.test:80/tcp'
tb_run lc --label "vpn.outbound=*.wild.test:$ECHO_PORT/tcp"
for c in wc au dt ten sp lc; do
	tb_check "$c: managed, its DNS redirected to the proxy" tb_eventually 15 proxied "$c"
done
wcip=$(tb_ip wc)
lcip=$(tb_ip lc)

# --- 2. the first connection after a lookup works: learned before answered -----------------
# One exec: nslookup, then a single nc to the address it printed. Had the answer left
# before the kernel held the address, the SYN would be dropped and counted (nc's own SYN
# retransmit could still get through, hence the counter, which must stay 0).
tb_check_eq "wc: no drops before its first lookup" 0 drops wc
tb_check "wc: the first connection to a.wild.test:80 right after the lookup works" \
	first_try wc a.wild.test 80 198.51.100.12
tb_check_eq "wc: ... and not one of its packets was dropped" 0 drops wc
tb_check "wc: control, its allow counter counted that connection" accepts_some wc
learned_after_lookup() { resolves wc a.wild.test 198.51.100.12 && learned "$wcip" 198.51.100.12; }
tb_check "wc: the answer's address is in a learned set, keyed by wc's address" \
	tb_eventually 10 learned_after_lookup

# --- 3a and 4. refused names are not forwarded; DNS over TCP goes through the proxy -------
# Everything between OFF and the allowed queries that follow is in dnsmasq's log: a query
# for other.test that reached the upstream would be there (it logs in order).
OFF=$(log_off)
tb_check "wc: other.test (not in its labels) is REFUSED" answered_rcode wc other.test REFUSED
tb_check "wc, DNS over TCP to the resolver: other.test gets REFUSED (rcode 5) from the proxy" \
	tb_eventually 10 tcp_rcode wc "$TB_DNS_IP" "$QO" 5
tb_check "wc, DNS over TCP to the resolver: a.wild.test answered with 198.51.100.12" \
	tb_eventually 10 tcp_answer wc "$TB_DNS_IP" "$QA" c633640c
# An audited container: every name is forwarded (audit.test is in nobody's labels).
tb_check "au (vpn.dryrun=true): audit.test is forwarded and answered" \
	resolves au audit.test 198.51.100.11
tb_check "wc: a.wild.test answered over UDP" resolves wc a.wild.test 198.51.100.12
tb_check "upstream: control, asked for a.wild.test (allowed names are forwarded)" \
	tb_eventually 5 asked_since "$OFF" a.wild.test
tb_check "upstream: asked for audit.test (the audited container's query)" \
	tb_eventually 5 asked_since "$OFF" audit.test
tb_check_fails "upstream: never asked for other.test, over UDP or TCP" \
	asked_since "$OFF" other.test

# --- 3b. another container's lookup grants wc nothing ----------------------------------------
# ot may resolve other.test (exact name). Created only now: the daemon's own resolver asks
# the upstream for names in labels, which would have muddled the log check above.
tb_run ot --label vpn.outbound=other.test
tb_check "ot: managed" tb_eventually 15 proxied ot
tb_check "ot: other.test is forwarded and answered" \
	tb_eventually 10 resolves ot other.test 198.51.100.13
# At once, while ot's learned entry lives.
tb_expect_blocked wc 198.51.100.13 80 "wc: 198.51.100.13 unreachable right after ot learned it"
tb_expect_reach ot 198.51.100.13 80 "ot: control, it reaches 198.51.100.13"
tb_check "wc: control, its drop counter counts the blocked connection" drops_some wc
tb_check "wc: other.test still REFUSED" answered_rcode wc other.test REFUSED

# --- 5. queries to another resolver are the proxy's; DNS over TLS is a destination ---------
# Nothing answers DNS on 198.51.100.10: only the proxy can.
tb_check "wc: nslookup a.wild.test 198.51.100.10 (no DNS there) answered by the proxy" \
	resolves wc a.wild.test 198.51.100.12 198.51.100.10
tb_check "wc: nslookup other.test 198.51.100.10: the same policy, REFUSED" \
	answered_rcode wc other.test REFUSED 198.51.100.10
tb_check "wc: DNS over TCP to 198.51.100.10:53 answered by the proxy too" \
	tb_eventually 10 tcp_answer wc 198.51.100.10 "$QA" c633640c
tb_check "dt (vpn.outbound=$TB_DNS_IP:853/tcp): control, reaches the listener on 853" \
	tb_eventually 10 dot dt
tb_check_fails "wc: TCP 853 to the resolver is blocked (default deny)" dot wc

# --- 6. spoofed answers to the proxy are ignored ---------------------------------------------
# A response (QR set) claiming a.wild.test A 198.51.100.10 (TTL 3600), sent with a few ids
# from sp's namespace to the resolver (redirected to the proxy) and to the proxy's port on
# the bridge's gateway, and from the host to the proxy on loopback. bash's /dev/udp sends
# each printf as one datagram. 198.51.100.10 is no wildcard name's address.
SPOOF='\205\200\000\001\000\001\000\000\000\000\001a\004wild\004test\000\000\001\000\001'
SPOOF="$SPOOF"'\300\014\000\001\000\001\000\000\016\020\000\004\306\063\144\012'
# SPOOF_SH MSG ADDR:PORT...: send MSG with each of a few ids to each ADDR:PORT.
SPOOF_SH='m=$1; shift
for a in "$@"; do
	for id in "\000\001" "\022\064" "\276\357" "\377\377"; do
		printf "$id$m" 2>/dev/null >"/dev/udp/${a%:*}/${a##*:}" || true
	done
done'
sp_pid=$(docker inspect -f '{{.State.Pid}}' sp)
gw=$(docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' bridge)
for _ in 1 2 3; do
	nsenter --net="/proc/$sp_pid/ns/net" bash -c "$SPOOF_SH" sh "$SPOOF" \
		"$TB_DNS_IP:53" "$gw:$PROXY_PORT" 2>/dev/null || true
	tb_host_exec bash -c "$SPOOF_SH" sh "$SPOOF" "127.0.0.1:$PROXY_PORT" "$gw:$PROXY_PORT" \
		2>/dev/null || true
	sleep 0.2
done
tb_check "spoofed answers: vpnwalld still runs" tb__pid_alive "$TB_DAEMON_PID"
tb_check_fails "spoofed answers: no learned element for 198.51.100.10" learned_to 198.51.100.10
tb_expect_blocked sp 198.51.100.10 80 "spoofed answers: sp does not reach 198.51.100.10"
tb_expect_blocked wc 198.51.100.10 80 "spoofed answers: wc does not reach 198.51.100.10"
tb_expect_reach ten 198.51.100.10 80 "spoofed answers: control, 198.51.100.10:80 answers (ten)"
tb_check "spoofed answers: control, sp's real lookup and first connection still work" \
	first_try sp a.wild.test 80 198.51.100.12

# --- 7. Docker's embedded DNS on a user-defined network -------------------------------------
# 127.0.0.11 answers container names itself and forwards other names from the container's
# namespace, where the redirect catches them: they are the container's queries.
docker network create --subnet 198.18.60.0/24 unet >/dev/null
tb_run un1 --network unet --label 'vpn.outbound=*.wild.test:80/tcp'
tb_run peer --network unet
for c in un1 peer; do
	tb_check "$c (unet): managed" tb_eventually 15 proxied "$c" unet
done
embedded() { docker exec un1 cat /etc/resolv.conf | grep -q '^nameserver 127.0.0.11'; }
tb_check "un1: its resolver is Docker's embedded DNS" embedded
tb_check "un1: nslookup peer gives peer's address (embedded DNS)" \
	tb_eventually 10 resolves un1 peer "$(tb_ip peer unet)"
tb_check "un1: first connection to a.wild.test:80 via the embedded DNS works" \
	first_try un1 a.wild.test 80 198.51.100.12
tb_check_eq "un1: ... with not one packet dropped" 0 drops un1
tb_check_fails "un1: other.test gets no address through the embedded DNS" has_address un1 other.test
tb_expect_blocked un1 198.51.100.13 80 "un1: 198.51.100.13 unreachable"
tb_check "un1: control, that blocked connection was counted as its drop" drops_some un1

# --- 8. expiry, and flows opened before it ---------------------------------------------------
# lc resolves a.wild.test (198.51.100.12) and at once opens one connection to the echo
# server, writing a line every 0.2 s; the echoes land in /tmp/echo.
docker exec -d lc sh -c '
	a=$(nslookup a.wild.test 2>/dev/null | sed -n "s/^Address: \([0-9.]*\)\$/\1/p" | head -n 1)
	echo "$a" >/tmp/addr
	i=0
	while [ $i -lt 1500 ]; do i=$((i + 1)); echo "tick $i"; usleep 200000; done |
		nc "$a" '"$ECHO_PORT"' >/tmp/echo'
ticks() { timeout 10 "$TB_DOCKER_BIN" exec lc sh -c 'wc -l </tmp/echo' 2>/dev/null | tr -d ' '; }
echo_flowing() {
	local a b
	a=$(ticks)
	sleep 1
	b=$(ticks)
	[ -n "$a" ] && [ -n "$b" ] && [ "$b" -gt "$a" ]
}
# echo_once C ADDR: a new connection from C to ADDR's echo server echoes.
echo_once() {
	timeout 20 "$TB_DOCKER_BIN" exec "$1" sh -c \
		'{ echo ping-new; sleep 1; } | timeout 4 nc -w 2 "$1" '"$ECHO_PORT" sh "$2" 2>/dev/null |
		grep -q '^ping-new'
}
lookup_echo() {
	timeout 20 "$TB_DOCKER_BIN" exec "$1" sh -c '
		a=$(nslookup "$1" 2>/dev/null | sed -n "s/^Address: \([0-9.]*\)\$/\1/p" | head -n 1)
		[ -n "$a" ] || exit 1
		{ echo ping-new; sleep 1; } | timeout 4 nc -w 2 "$a" '"$ECHO_PORT" sh "$2" 2>/dev/null |
		grep -q '^ping-new'
}
lc_addr_is() { [ "$(docker exec lc cat /tmp/addr 2>/dev/null)" = "$1" ]; }
tb_check "lc: resolved a.wild.test to 198.51.100.12 for its long-lived connection" \
	tb_eventually 10 lc_addr_is 198.51.100.12
tb_check "lc: its long-lived connection to 198.51.100.12:$ECHO_PORT exchanges data" \
	tb_eventually 10 echo_flowing

# wc learns the current address afresh, so that its entry is young when the name moves.
tb_check "before the move: control, wc's first connection to 198.51.100.12 works" \
	first_try wc a.wild.test 80 198.51.100.12
# The name moves; wc's lookup learns the new address before it gets the answer.
tb_dns_set a.wild.test 198.51.100.11
tb_check "moved: wc's first connection to the new address 198.51.100.11 works" \
	first_try wc a.wild.test 80 198.51.100.11
sleep $((LIFETIME + 1))
# Everything learned so far is past its lifetime now.
tb_check_fails "expired: lc's learned element for 198.51.100.12 is gone" \
	learned "$lcip" 198.51.100.12
tb_expect_blocked wc 198.51.100.12 80 "expired: wc's new connection to the old address blocked"
tb_check_fails "expired: lc's new connection to the old address blocked" \
	echo_once lc 198.51.100.12
tb_check "expired: lc's established connection to the old address still exchanges data" \
	echo_flowing
tb_check "expired: control, after a fresh lookup lc's new connection (198.51.100.11) works" \
	lookup_echo lc a.wild.test
tb_expect_blocked wc 198.51.100.11 80 \
	"expired: without a fresh lookup, wc's new connection to the current address is blocked"
tb_check "expired: control, after a fresh lookup it works at once" \
	first_try wc a.wild.test 80 198.51.100.11
tb_check "expired: lc's established connection still flows at the end" echo_flowing

# --- metrics ---------------------------------------------------------------------------------
check_metrics() {
	tb_check "metrics: wc's allowed queries counted" dnsq_some wc allowed
	tb_check "metrics: wc's refused queries counted" dnsq_some wc refused
	tb_check "metrics: au's queries counted as audited" dnsq_some au audited
	tb_check_eq "metrics: au had nothing refused" 0 dnsq au refused
	tb_check "metrics: un1's queries, forwarded by the embedded DNS, counted as un1's" \
		dnsq_some un1 allowed
	tb_check "metrics: ot's allowed query counted" dnsq_some ot allowed
	tb_check_eq "metrics: ot had nothing refused" 0 dnsq ot refused
}
check_metrics

# --- 9. DNS_PROXY_REFUSE=nxdomain -------------------------------------------------------------
tb_daemon_stop
tb_daemon_start DNS_PROXY=true "DNS_UPSTREAM=$TB_DNS_IP" DNS_TTL_MIN=1 DNS_TTL_MAX=2 \
	DNS_PROXY_GRACE=1 DNS_PROXY_REFUSE=nxdomain
tb_daemon_wait_ready
tb_check "nxdomain: wc managed again" tb_eventually 15 proxied wc
# other.test exists upstream (198.51.100.13): NXDOMAIN can only come from the proxy.
tb_check "nxdomain: wc's other.test gets NXDOMAIN" \
	tb_eventually 10 answered_rcode wc other.test NXDOMAIN
tb_check "nxdomain: control, a.wild.test is still answered" \
	resolves wc a.wild.test 198.51.100.11

tb_finish
