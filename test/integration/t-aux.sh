#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Enforcement never depends on an auxiliary endpoint. A local user who takes the metrics
# port first does not keep vpnwalld from running: it enforces, reports the endpoint as not
# up (status, log) and serves metrics as soon as the port is free.
# shellcheck disable=SC2317 # helpers below run through tb_check and tb_eventually
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up

# Someone else listens on the metrics port before vpnwalld starts.
tb_host_exec busybox nc -l -p 50000 </dev/null >/dev/null 2>&1 &
squatter=$!
TB_BG_PIDS="$TB_BG_PIDS $squatter"
squatting() { tb_host_exec busybox netstat -ltn | grep -q ':50000 '; }
tb_check "control: the port is taken" tb_eventually 5 squatting

tb_daemon_start
tb_daemon_wait_ready
tb_run lab --label vpn.outbound=198.51.100.10
tb_run unl
tb_expect_eventually_reach lab 198.51.100.10 80 "port taken: the labeled container reaches its host"
tb_expect_blocked unl 198.51.100.10 80 "port taken: the unlabeled container is blocked"
tb_check "port taken: the log says metrics are not served and enforcement goes on" \
	grep -q "cannot serve metrics on 127.0.0.1 port 50000 (METRICS_ADDR), enforcement goes on without it" "$TB/vpnwalld.log"
status_says() { tb_cli status | grep -q "$1"; }
tb_check "port taken: status says the endpoint is not up" status_says "endpoint:   metrics NOT UP"
metrics_ok() { tb_host_exec curl -sf http://127.0.0.1:50000/metrics | grep -q '^vpnwall_ready 1'; }
tb_check_fails "port taken: no metrics yet" metrics_ok

kill "$squatter" 2>/dev/null || true
wait "$squatter" 2>/dev/null || true
tb_check "port free again: metrics are served (retried with backoff)" tb_eventually 40 metrics_ok
tb_check "port free again: the log says so" grep -q "serving metrics on 127.0.0.1 port 50000" "$TB/vpnwalld.log"
tb_check_fails "port free again: status no longer reports it" status_says "NOT UP"
tb_expect_reach lab 198.51.100.10 80 "control: enforcement unchanged"

tb_finish
