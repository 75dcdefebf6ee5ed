#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fail closed: the rules outlive a stopped or killed daemon, containers started while it is
# down get nothing, and a reused address never inherits the previous owner's allowance.
# shellcheck disable=SC2317 # helpers below run through tb_check and tb_eventually
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up
docker network create --subnet 198.18.40.0/24 reuse >/dev/null
REUSE_IP=198.18.40.10

tb_daemon_start
tb_daemon_wait_ready

tb_run lab --label vpn.outbound=198.51.100.10
tb_run unl
tb_expect_eventually_reach lab 198.51.100.10 80 "labeled container reaches its host"
tb_expect_blocked lab 198.51.100.11 80 "labeled container blocked elsewhere"
tb_expect_blocked unl 198.51.100.10 80 "unlabeled container blocked"

# --- (a) SIGTERM: the rules stay
tb_daemon_stop
tb_check_eq "SIGTERM: the daemon exits 0" 0 echo "$TB_DAEMON_RC"
tb_check "SIGTERM: table inet vpnwall still exists" tb_nft list table inet vpnwall
tb_expect_reach lab 198.51.100.10 80 "SIGTERM: labeled container still reaches its host"
tb_expect_blocked lab 198.51.100.11 80 "SIGTERM: labeled container still blocked elsewhere"
tb_expect_blocked unl 198.51.100.10 80 "SIGTERM: unlabeled container still blocked"

# --- (b) SIGKILL, then containers started while nobody watches
tb_daemon_start
tb_daemon_wait_ready
tb_daemon_kill
tb_check "SIGKILL: table inet vpnwall still exists" tb_nft list table inet vpnwall
tb_run newunl
tb_run newlab --label vpn.outbound=198.51.100.10
tb_expect_blocked newunl 198.51.100.10 80 "daemon down: new unlabeled container blocked"
tb_expect_blocked newlab 198.51.100.10 80 "daemon down: new labeled container gets nothing yet"
tb_expect_reach lab 198.51.100.10 80 "daemon down: old labeled container keeps its allowance"
tb_expect_blocked lab 198.51.100.11 80 "daemon down: old labeled container still blocked elsewhere"
tb_expect_blocked unl 198.51.100.10 80 "daemon down: old unlabeled container still blocked"

tb_daemon_start
tb_daemon_wait_ready
tb_expect_eventually_reach newlab 198.51.100.10 80 "restarted: new labeled container gets its host"
tb_expect_blocked newlab 198.51.100.11 80 "restarted: new labeled container blocked elsewhere"
tb_expect_blocked newunl 198.51.100.10 80 "restarted: new unlabeled container stays blocked"
tb_expect_reach lab 198.51.100.10 80 "restarted: old labeled container keeps its allowance"

# --- (c) address reuse with the daemon running
tb_run ra --network reuse --ip "$REUSE_IP" --label vpn.outbound=198.51.100.10
tb_expect_eventually_reach ra 198.51.100.10 80 "reuse: first owner of $REUSE_IP reaches its host"
tb_expect_blocked ra 198.51.100.11 80 "reuse: first owner blocked elsewhere"
docker rm -f ra >/dev/null
tb_run rb --network reuse --ip "$REUSE_IP"
tb_check_eq "reuse: the unlabeled successor has the same address" "$REUSE_IP" tb_ip rb reuse
# Probe at once and then repeatedly: an inherited allowance would show up right away.
never_reaches() {
	local i
	for i in 1 2 3; do
		! tb_can_reach "$1" 198.51.100.10 80 || return 1
	done
}
tb_check "reuse: the successor never reaches the first owner's host" never_reaches rb
tb_expect_reach lab 198.51.100.10 80 "reuse: control, labeled container still reaches"
docker rm -f rb >/dev/null

# --- (c) address reuse while the daemon is killed
tb_run ra2 --network reuse --ip "$REUSE_IP" --label vpn.outbound=198.51.100.10
tb_expect_eventually_reach ra2 198.51.100.10 80 "reuse/kill: first owner reaches its host"
tb_daemon_kill
docker rm -f ra2 >/dev/null
tb_run rb2 --network reuse --ip "$REUSE_IP"
tb_check_eq "reuse/kill: the successor has the same address" "$REUSE_IP" tb_ip rb2 reuse
# The documented limit, asserted both ways: with nobody to withdraw it, the first owner's
# map entry still dispatches the address to its chain, so the successor gets exactly the
# first owner's allowance while the daemon is down (binding addresses to bridge ports will
# close this), and never anything beyond it.
tb_expect_reach rb2 198.51.100.10 80 "reuse/kill: known limit, the successor inherits the first owner's host"
tb_expect_blocked rb2 198.51.100.11 80 "reuse/kill: but nothing beyond the first owner's allowance"
tb_expect_blocked rb2 198.51.100.12 8080 "reuse/kill: nor anywhere else"
tb_expect_reach lab 198.51.100.10 80 "reuse/kill: control, the daemon is down and the table still enforces"

tb_daemon_start
tb_daemon_wait_ready
# No "eventually": once the daemon says ready, the stale entry must be gone.
tb_expect_blocked rb2 198.51.100.10 80 "reuse/kill: blocked as soon as the daemon is ready"
tb_check "reuse/kill: the successor never reaches the first owner's host" never_reaches rb2
tb_expect_reach lab 198.51.100.10 80 "reuse/kill: control, labeled container still reaches"

tb_finish
