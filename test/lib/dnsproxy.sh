# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers of the DNS proxy's integration tests (t-dnsproxy*), sourced after testbed.sh.
# shellcheck shell=bash disable=SC2317 # used through tb_check

key() { docker inspect -f '{{.Id}}' "$1" | cut -c1-16; }
# proxied C [NETWORK]: C's address is dispatched to C and in the proxy's source set (its
# port 53 is redirected to the proxy).
proxied() {
	local ip
	ip=$(tb_ip "$1" ${2:+"$2"}) || return 1
	[ "$(tb_dispatched "$ip")" = "$(key "$1")" ] && tb_nft_elements proxied4 | grep -qxF "$ip"
}
# Per-container kernel counters of our table.
drops() { tb_nft_counter "$TB_HOST_NS" inet vpnwall "d_$(key "$1")"; }
accepts() { tb_nft_counter "$TB_HOST_NS" inet vpnwall "a_$(key "$1")"; }
drops_some() { [ "$(drops "$1")" -gt 0 ] 2>/dev/null; }
accepts_some() { [ "$(accepts "$1")" -gt 0 ] 2>/dev/null; }

# nsl C NAME [SERVER]: busybox nslookup's output in C (A and AAAA are asked; answers print
# "Address: ADDR" with a space, the server line "Address:<TAB>ADDR:53"; a failed query
# prints "** server can't find NAME: RCODE").
nsl() { timeout 20 "$TB_DOCKER_BIN" exec "$1" nslookup "$2" ${3:+"$3"} 2>&1 || true; }
# resolves C NAME ADDR [SERVER]: ADDR is among the answers.
resolves() { nsl "$1" "$2" ${4:+"$4"} | grep -qx "Address: $3"; }
has_address() { nsl "$1" "$2" | grep -q '^Address: '; }
# answered_rcode C NAME RCODE [SERVER]: the query was answered with RCODE and no address.
answered_rcode() {
	local out
	out=$(nsl "$1" "$2" ${4:+"$4"})
	printf '%s\n' "$out" | grep -q "^\*\* server can't find $2: $3\$" &&
		! printf '%s\n' "$out" | grep -q '^Address: '
}

# lookup_fetch C NAME PORT: in ONE exec in C, resolve NAME and send one request to the
# first address at once (one nc, no retry loop): prints the fake server's line.
lookup_fetch() {
	timeout 20 "$TB_DOCKER_BIN" exec "$1" sh -c '
		a=$(nslookup "$1" 2>/dev/null | sed -n "s/^Address: \([0-9.]*\)\$/\1/p" | head -n 1)
		[ -n "$a" ] || exit 1
		printf "GET / HTTP/1.0\r\n\r\n" | timeout 4 nc -w 2 "$a" "$2" | tr -d "\r" | grep "^tb-server"
	' sh "$2" "$3" 2>/dev/null
}
# first_try C NAME PORT ADDR: that first connection reached ADDR:PORT.
first_try() { lookup_fetch "$1" "$2" "$3" | grep -q "^tb-server $4 $3 "; }

# learned SRC DST: the kernel holds a learned element SRC . DST . proto . port (either path).
learned() {
	{
		tb_nft_elements learned4
		tb_nft_elements anylearned4
	} | awk -v s="$1" -v d="$2" '$1 == s && $2 == "." && $3 == d { f = 1 } END { exit !f }'
}
# learned_to DST: any container has a learned element for DST.
learned_to() {
	{
		tb_nft_elements learned4
		tb_nft_elements anylearned4
	} | awk -v d="$1" '$2 == "." && $3 == d { f = 1 } END { exit !f }'
}

# The upstream's log: dnsmasq --log-queries writes "query[A] NAME from ADDR".
# asked_since OFF NAME: the upstream was asked NAME after offset OFF (log_off) of its log.
log_off() { stat -c %s "$TB/dnsmasq.log"; }
asked_since() { tail -c "+$(($1 + 1))" "$TB/dnsmasq.log" | grep -q "query\[[A-Z]*\] $2 from "; }

# --- metrics (METRICS_ADDR=127.0.0.1:50000 in the host ns, set by tb_daemon_start) ------
metrics() { tb_host_exec curl -sf http://127.0.0.1:50000/metrics; }
# dnsq C VERDICT: vpnwall_dns_queries_total{container="C",verdict="VERDICT"}, 0 if absent.
dnsq() {
	metrics | awk -v k="vpnwall_dns_queries_total{container=\"$1\",verdict=\"$2\"}" \
		'$1 == k { v = $2 } END { printf "%d\n", v + 0 }'
}
dnsq_some() { [ "$(dnsq "$1" "$2")" -gt 0 ]; }
