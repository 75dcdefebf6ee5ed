#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Enforcement before the first Docker sync. vpnwalld commits a base ruleset (every policed
# packet dropped, replies to published ports excepted) before it talks to Docker whenever
# the table is missing or was not written during this boot, so a table restored from an
# old dump hands out nothing and a restart-policy container started at boot gets nothing
# until its policy is in. A table this boot's daemon wrote stays in force until the sync.
# shellcheck disable=SC2317 # helpers below run through tb_check and tb_eventually
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up

NODOCKER="unix://$TB/no-docker.sock"
logged() { tb__daemon_log_since_start | grep -q -- "$1"; }
# Inbound to a published port: DNAT'd by Docker, answered by the container (pong pub).
published_answers() {
	tb_inet_exec sh -c 'echo hi | timeout 4 busybox nc -w 2 198.18.0.1 8080' | grep -q "pong pub"
}
table_tag() { tb_nft list table inet vpnwall | sed -n 's/.*comment "\(vpnwall boot=[^"]*\)".*/\1/p'; }
this_boot="vpnwall boot=$(cat /proc/sys/kernel/random/boot_id)"

tb_daemon_start
tb_daemon_wait_ready
tb_run lab --label vpn.outbound=198.51.100.10
tb_run unl
tb_run pub -p 8080:80
tb_listen pub 80
tb_expect_eventually_reach lab 198.51.100.10 80 "synced: the labeled container reaches its host"
tb_expect_blocked unl 198.51.100.10 80 "synced: the unlabeled container is blocked"
tb_check "synced: a published port answers from the internet" tb_eventually 10 published_answers
tb_check_eq "the table is tagged with this boot" "$this_boot" table_tag

# --- (a) a table restored from an old dump, Docker unreachable: its allowances are void
tb_daemon_kill
tb_nft list table inet vpnwall | sed 's/vpnwall boot=[0-9a-f-]*/vpnwall boot=00000000-0000-0000-0000-000000000000/' >"$TB/old.nft"
tb_nft delete table inet vpnwall
tb_check "an old dump restores" tb_nft -f "$TB/old.nft"
tb_expect_reach lab 198.51.100.10 80 "control: the restored table hands out its old allowance"
tb_daemon_start DOCKER_HOST="$NODOCKER"
tb_check "the daemon says the table is not from this boot" tb_eventually 10 logged "is not from this boot"
tb_expect_blocked lab 198.51.100.10 80 "old table replaced by the base: the labeled container gets nothing"
tb_expect_blocked unl 198.51.100.10 80 "base: the unlabeled container is blocked"
tb_check "base: a published port still answers (replies of inbound flows)" published_answers
tb_check_eq "base: the table is tagged with this boot" "$this_boot" table_tag
tb_daemon_stop

# --- (b) this boot's table stays in force until the first sync
tb_daemon_start
tb_daemon_wait_ready
tb_expect_eventually_reach lab 198.51.100.10 80 "synced again: the labeled container reaches its host"
tb_daemon_kill
tb_daemon_start DOCKER_HOST="$NODOCKER"
tb_check "the daemon keeps this boot's table" tb_eventually 10 logged "was written during this boot"
tb_expect_reach lab 198.51.100.10 80 "kept table: the labeled container still reaches its host"
tb_expect_blocked unl 198.51.100.10 80 "kept table: the unlabeled container is still blocked"
tb_daemon_stop

# --- (c) a reboot: no table, vpnwalld before dockerd, restart-policy containers probing
# from their first instant. "rprobe" has no label and must never reach anything; "rlab"
# reaches its host once its policy is in.
tb_daemon_start
tb_daemon_wait_ready
# shellcheck disable=SC2016 # expanded inside the container
probe='while :; do if printf "GET / HTTP/1.0\r\n\r\n" | timeout 2 nc -w 1 "$0" 80 2>/dev/null | grep -q tb-server; then echo HIT; fi; usleep 100000; done'
tb_run rprobe --restart always -- sh -c "$probe" 198.51.100.11
tb_run rlab --restart always --label vpn.outbound=198.51.100.10 -- sh -c "$probe" 198.51.100.10
hits() { docker logs --since "$1" "$2" 2>&1 | grep -c HIT || true; }
rlab_hits() { [ "$(hits "$1" rlab)" -gt 0 ]; }
t=$(date +%s)
tb_check "control: the labeled prober reaches its host" tb_eventually 15 rlab_hits "$t"

restart_dockerd() {
	echo "=== testbed: starting dockerd again ===" >>"$TB/dockerd.log"
	tb__dockerd_spawn
	tb__dockerd_wait 60 || tb__die "dockerd did not come back"
}
reboot() {
	tb_daemon_kill
	tb_dockerd_stop
	tb_nft delete table inet vpnwall
}

reboot
tb_daemon_start
tb_check "vpnwalld first: the base is applied before Docker" tb_eventually 10 logged "no table yet: base ruleset applied"
t=$(date +%s)
restart_dockerd
tb_check "after boot: the labeled prober reaches its host once synced" tb_eventually 30 rlab_hits "$t"
sleep 2
tb_check_eq "vpnwalld first: the unlabeled prober never reached anything" 0 hits "$t" rprobe

# The other order, for the record: nothing can protect what runs before any rule exists.
reboot
t=$(date +%s)
restart_dockerd
sleep 3
tb_log "MEASURE dockerd first: unlabeled prober hits before vpnwalld started: $(hits "$t" rprobe)"
tb_daemon_start
tb_daemon_wait_ready
sleep 1
t=$(date +%s)
sleep 3
tb_check_eq "dockerd first: once vpnwalld is ready the unlabeled prober reaches nothing" 0 hits "$t" rprobe
tb_check "dockerd first: control, the labeled prober reaches its host" rlab_hits "$t"

tb_finish
