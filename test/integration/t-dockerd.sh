#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# dockerd restarts under a running daemon: the table stays while Docker is down, the daemon
# resyncs, restarted containers get their policy back, new containers are policed.
# shellcheck disable=SC2317 # helpers below run through tb_check and tb_eventually
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up
docker network create dnet >/dev/null

tb_daemon_start
tb_daemon_wait_ready

tb_run ra --restart always --label vpn.outbound=198.51.100.10
tb_run rn --network dnet --restart always --label vpn.outbound=198.51.100.10
tb_run ru --restart always
tb_expect_eventually_reach ra 198.51.100.10 80 "before: bridge container reaches its host"
tb_expect_blocked ra 198.51.100.11 80 "before: bridge container blocked elsewhere"
tb_expect_eventually_reach rn 198.51.100.10 80 "before: user-network container reaches its host"
tb_expect_blocked rn 198.51.100.11 80 "before: user-network container blocked elsewhere"
tb_expect_blocked ru 198.51.100.10 80 "before: unlabeled container blocked"
old_ra=$(tb_ip ra)
old_rn=$(tb_ip rn dnet)
dnet_br=br-$(docker network inspect -f '{{.Id}}' dnet | cut -c1-12)

dispatched() { [ -n "$(tb_dispatched "$1")" ]; }
log_from() { tail -c "+$(($1 + 1))" "$TB/vpnwalld.log"; }
log_has() { log_from "$1" | grep -q -- "$2"; }
# log_order OFF A B: A is logged after OFF and B after that A.
log_order() {
	log_from "$1" | awk -v a="$2" -v b="$3" 'index($0, a) { seen = 1 } seen && index($0, b) { ok = 1 }
		END { exit !ok }'
}

off=$(stat -c %s "$TB/vpnwalld.log")
tb_dockerd_stop
tb_check "dockerd down: the daemon notices (lost Docker)" tb_eventually 10 log_has "$off" "lost Docker"
tb_check "dockerd down: the daemon keeps running" tb__pid_alive "$TB_DAEMON_PID"
tb_check "dockerd down: table inet vpnwall stays" tb_nft list table inet vpnwall
# Every bridge is policed unless known to be left alone: dockerd going away changes neither.
bridge_policed() {
	tb_nft list chain inet vpnwall forward | grep -q 'meta iifkind "bridge" goto police' &&
		[ "$(tb_bridge_verdict "$1")" = "goto police" ]
}
tb_check "dockerd down: the default bridge is still policed" bridge_policed docker0
tb_check "dockerd down: the user network's bridge is still policed" bridge_policed "$dnet_br"
# Whether the stopped containers' entries are withdrawn depends on how many of their die
# events the daemon could inspect before dockerd closed the API: logged, not asserted.
if dispatched "$old_ra"; then window=kept; else window=withdrawn; fi
tb_log "MEASURE dockerd down: dispatch entry of the stopped ra ($old_ra) $window"

tb_dockerd_restart
back=$SECONDS
for c in ra rn ru; do
	tb_wait_until 30 tb__running "$c" || tb__die "$c did not come back after the dockerd restart"
done
tb_check "dockerd back: the daemon resyncs (lost Docker, then synced with Docker)" \
	tb_eventually 45 log_order "$off" "lost Docker" "synced with Docker"
tb_check "dockerd back: the daemon is ready again" \
	tb_eventually 15 log_order "$off" "synced with Docker" "daemon: ready"
tb_log "MEASURE resynced about $((SECONDS - back))s after dockerd answered again"
new_ra=$(tb_ip ra)
new_rn=$(tb_ip rn dnet)
tb_log "addresses across the restart: ra $old_ra -> $new_ra, rn $old_rn -> $new_rn"
tb_check "dockerd back: ra's address ($new_ra) is dispatched" tb_eventually 15 dispatched "$new_ra"

tb_expect_eventually_reach ra 198.51.100.10 80 "after: bridge container reaches its host"
tb_expect_blocked ra 198.51.100.11 80 "after: bridge container blocked elsewhere"
tb_expect_eventually_reach rn 198.51.100.10 80 "after: user-network container reaches its host"
tb_expect_blocked rn 198.51.100.11 80 "after: user-network container blocked elsewhere"
tb_expect_blocked ru 198.51.100.10 80 "after: restarted unlabeled container blocked"

# The events stream works again: new containers are handled.
tb_run nu
tb_run nl --label vpn.outbound=198.51.100.10
tb_expect_blocked nu 198.51.100.10 80 "after: new unlabeled container blocked"
tb_expect_eventually_reach nl 198.51.100.10 80 "after: new labeled container reaches its host"
tb_expect_blocked nl 198.51.100.11 80 "after: new labeled container blocked elsewhere"
tb_check "after: the new unlabeled container is known (dispatched)" \
	tb_eventually 15 dispatched "$(tb_ip nu)"

tb_finish
