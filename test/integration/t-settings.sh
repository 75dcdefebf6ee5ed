#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Daemon settings as a user sees them: GATEWAY_NETWORKS exclusion, DEFAULT_OUTBOUND, invalid
# settings refused with exit status 2 and the table left alone, and DRY_RUN counting drops.
# shellcheck disable=SC2317 # helpers below run through tb_check and tb_eventually
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up
docker network create free >/dev/null
docker network create gated >/dev/null

key() { docker inspect -f '{{.Id}}' "$1" | cut -c1-16; }

# The daemon's output since its last start.
log_since_start() { tail -c "+$((TB_DAEMON_LOG_OFF + 1))" "$TB/vpnwalld.log"; }
log_has() { log_since_start | grep -qF -- "$1"; }
table_exists() { tb_nft list table inet vpnwall >/dev/null 2>&1; }

# counter_packets NAME: packets counted by the named counter of our table.
counter_packets() {
	tb_nft list counter inet vpnwall "$1" |
		awk '{ for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}

# pings CONTAINER ADDR: one ICMP echo from CONTAINER gets an answer.
pings() { timeout 10 "$TB_DOCKER_BIN" exec "$1" ping -c 1 -W 2 "$2" >/dev/null 2>&1; }

restart_daemon() {
	tb_daemon_stop
	tb_check_eq "vpnwalld stops with status 0 on SIGTERM" 0 printf '%s' "$TB_DAEMON_RC"
	tb_daemon_start "$@"
	tb_daemon_wait_ready
}

# --- GATEWAY_NETWORKS=!free: containers on 'free' are not policed at all.
tb_daemon_start 'GATEWAY_NETWORKS=!free'
tb_daemon_wait_ready

tb_run fr --network free
tb_run gt --network gated

tb_expect_eventually_blocked gt 198.51.100.10 80 "GATEWAY_NETWORKS=!free: unlabeled container on 'gated' blocked"
tb_expect_blocked gt 198.51.100.12 443 "GATEWAY_NETWORKS=!free: 'gated' blocked on another host and port"
tb_expect_reach fr 198.51.100.10 80 "GATEWAY_NETWORKS=!free: unlabeled container on 'free' reaches .10:80"
tb_expect_reach fr 198.51.100.12 443 "GATEWAY_NETWORKS=!free: ... and .12:443"
tb_check "GATEWAY_NETWORKS=!free: 'free' pings .13" pings fr 198.51.100.13
tb_check_fails "GATEWAY_NETWORKS=!free: 'gated' cannot ping .13" pings gt 198.51.100.13

# --- DEFAULT_OUTBOUND: granted to every managed container, on top of its labels.
restart_daemon DEFAULT_OUTBOUND=198.51.100.12:8080

tb_run un
tb_run lb --label vpn.outbound=198.51.100.10:80

tb_expect_eventually_reach un 198.51.100.12 8080 "DEFAULT_OUTBOUND=.12:8080: unlabeled container reaches .12:8080"
tb_expect_blocked un 198.51.100.12 80 "DEFAULT_OUTBOUND=.12:8080: unlabeled container: .12:80 blocked"
tb_expect_blocked un 198.51.100.10 80 "DEFAULT_OUTBOUND=.12:8080: unlabeled container: .10:80 blocked"
tb_expect_eventually_reach lb 198.51.100.10 80 "DEFAULT_OUTBOUND: labeled container reaches its label (.10:80)"
tb_expect_reach lb 198.51.100.12 8080 "DEFAULT_OUTBOUND: labeled container also reaches the default (.12:8080)"
tb_expect_blocked lb 198.51.100.12 80 "DEFAULT_OUTBOUND: labeled container: .12:80 blocked"
tb_expect_blocked lb 198.51.100.10 443 "DEFAULT_OUTBOUND: labeled container: .10:443 blocked"
# Without GATEWAY_NETWORKS, 'free' is managed again.
tb_expect_eventually_blocked fr 198.51.100.10 80 "GATEWAY_NETWORKS unset: 'free' is policed again"
tb_expect_reach fr 198.51.100.12 8080 "GATEWAY_NETWORKS unset: 'free' gets DEFAULT_OUTBOUND"

# --- Invalid settings: refused with status 2, a message naming the setting, and the
# table of the previous run left exactly as it was.
tb_daemon_stop
# Stateless: counters may move, the rules and set elements must not.
vpnwall_rules() { tb_nft -s list table inet vpnwall; }
rules_before=$(vpnwall_rules) || tb__die "no table inet vpnwall after a valid run"
rules_unchanged() {
	local now
	now=$(vpnwall_rules) || return 1
	[ "$now" = "$rules_before" ]
}

# refused SETTING VALUE: start with SETTING=VALUE, which must be refused.
refused() {
	local what="$1='$2'"
	tb_daemon_start "$1=$2"
	tb_check "$what: vpnwalld exits on its own" tb_daemon_wait_exit 10
	[ -z "$TB_DAEMON_PID" ] || tb_daemon_stop
	tb_check_eq "$what: exit status 2" 2 printf '%s' "$TB_DAEMON_RC"
	tb_check "$what: the error names the setting and the value" error_names "$1" "$2"
	tb_check_fails "$what: the daemon did not start" log_has "daemon: starting"
}
error_names() { log_since_start | grep -F "vpnwalld: $1" | grep -qF -- "$2"; }
refused DRY_RUN maybe
refused DOCKER_HOST tcp://x:1
refused DEFAULT_OUTBOUND 198.51.100.7/24
refused LOG_LEVEL loud
tb_check "refused starts left table inet vpnwall unchanged" rules_unchanged
tb_expect_blocked un 198.51.100.10 80 "after refused starts: the previous rules still block"
tb_expect_reach un 198.51.100.12 8080 "after refused starts: the previous rules still allow"

# No table at all: a refused start does not create one (a valid one does, below).
tb_nft delete table inet vpnwall
refused DRY_RUN maybe
tb_check_fails "refused start with no table: table inet vpnwall not created" table_exists

# --- DRY_RUN=true: nothing is dropped, the drop counter counts.
tb_daemon_start DRY_RUN=true
tb_daemon_wait_ready
tb_check "DRY_RUN=true: a valid start creates the table" table_exists
tb_check "DRY_RUN=true: the ready line says nothing is dropped" \
	log_has "(dry run: nothing is dropped)"

tb_run dr
tb_run da --label vpn.outbound=198.51.100.10
dr_key=$(key dr)
da_key=$(key da)

# The drop rule of dr's chain sees the traffic once the chain exists.
dr_drop_counted() {
	tb_fetch dr 198.51.100.11 80 >/dev/null || true
	[ "$(counter_packets "d_$dr_key")" -gt 0 ] 2>/dev/null
}
tb_check "DRY_RUN: unlabeled container's drop counter d_$dr_key counts packets" \
	tb_eventually 15 dr_drop_counted
tb_expect_reach dr 198.51.100.11 80 "DRY_RUN: unlabeled container reaches .11:80"
tb_expect_reach dr 198.51.100.10 443 "DRY_RUN: unlabeled container reaches .10:443"
tb_expect_reach un 198.51.100.10 80 "DRY_RUN: container blocked before now reaches .10:80"

# A labeled container in dry run: allowed traffic counts as allowed, not as a drop.
da_allow_counted() {
	tb_fetch da 198.51.100.10 80 >/dev/null || true
	[ "$(counter_packets "a_$da_key")" -gt 0 ] 2>/dev/null
}
tb_check "DRY_RUN: labeled container's allow counter counts its allowed traffic" \
	tb_eventually 15 da_allow_counted
tb_check_eq "DRY_RUN: ... and its drop counter stays at 0" 0 counter_packets "d_$da_key"
tb_expect_reach da 198.51.100.13 8080 "DRY_RUN: labeled container reaches beyond its label"
da_drop_counted() { [ "$(counter_packets "d_$da_key")" -gt 0 ] 2>/dev/null; }
tb_check "DRY_RUN: ... which its drop counter counts" da_drop_counted

tb_finish
