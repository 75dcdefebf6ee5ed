#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Observability: blocked and allowed packets move exactly the expected counters, dropped
# destinations are named after the domain they resolved from, per-container dry run counts
# would_drop and passes traffic, the exposition passes promtool, /readyz follows Docker.
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up
API=$TB/api.sock
tb_daemon_start DNS_TTL_MIN=1 METRICS_ADDR=127.0.0.1:50000 API_SOCKET="$API"
tb_daemon_wait_ready

metrics() { tb_host_exec curl -sf http://127.0.0.1:50000/metrics; }
# value METRIC_WITH_LABELS: the sample's value, 0 when absent.
value() {
	metrics | awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }'
}
ping_n() { docker exec "$1" ping -c "$3" -i 0.2 -W 1 "$2" >/dev/null 2>&1; }

tb_run blk --label vpn.outbound=web.test,api.test:443/tcp
tb_run dry --label vpn.outbound=198.51.100.10 --label vpn.dryrun=true
tb_expect_eventually_reach blk 198.51.100.10 80 "blk reaches web.test"

b='container="blk"'
# grew_by N METRIC BEFORE: the metric is now exactly BEFORE + N.
grew_by() {
	local now
	now=$(value "$2")
	[ "$((now - $3))" -eq "$1" ] || {
		echo "$2: $3 -> $now, expected +$1" >&2
		return 1
	}
}
at_least() { [ "$(value "$2")" -ge "$1" ]; }
dropped="vpnwall_packets_total{$b,action=\"dropped\"}"
accepted="vpnwall_packets_total{$b,action=\"accepted\"}"
dropped0=$(value "$dropped")
accepted0=$(value "$accepted")

# 3 echo requests to api.test's address (only tcp/443 is allowed there): 3 drops.
tb_check_fails "ping to api.test (.11) is blocked" ping_n blk 198.51.100.11 3
tb_check "exactly 3 more dropped packets for blk" grew_by 3 "$dropped" "$dropped0"
tb_check_eq "the drops are attributed to the name api.test, icmp" 3 \
	value "vpnwall_dropped_destinations_total{$b,destination=\"api.test\",port=\"0\",protocol=\"icmp\"}"

# 2 allowed echo requests: exactly 2 accepted (replies are inbound, not counted).
tb_check "ping to web.test (.10) passes" ping_n blk 198.51.100.10 2
tb_check "exactly 2 more accepted packets for blk" grew_by 2 "$accepted" "$accepted0"
tb_check "the dropped count did not move" grew_by 3 "$dropped" "$dropped0"
tb_check "the first drop to api.test is logged" \
	grep -q "container 'blk' blocked icmp to 'api.test' (198.51.100.11);" "$TB/vpnwalld.log"
tb_check_eq "and only once" 1 grep -c "container 'blk' blocked icmp to 'api.test'" "$TB/vpnwalld.log"

# A TCP attempt to a port outside the policy is attributed with its port.
tb_expect_blocked blk 198.51.100.11 80 "tcp to api.test:80 is blocked"
tb_check "tcp drop to api.test port 80 counted" at_least 1 \
	"vpnwall_dropped_destinations_total{$b,destination=\"api.test\",port=\"80\",protocol=\"tcp\"}"

# Dry run on one container: traffic passes and is counted as would_drop.
tb_check "dry-run container reaches a host outside its policy" ping_n dry 198.51.100.12 3
tb_check_eq "exactly 3 would_drop packets for dry" 3 \
	value 'vpnwall_packets_total{container="dry",action="would_drop"}'
tb_check_eq "and no dropped ones" 0 value 'vpnwall_packets_total{container="dry",action="dropped"}'
tb_expect_blocked blk 198.51.100.12 80 "meanwhile blk (enforced) is still blocked"

tb_check_eq "managed containers gauge" 2 value vpnwall_managed_containers
tb_check "start events were counted" at_least 2 'vpnwall_docker_events_total{action="start"}'
tb_check "ruleset updates succeeded" at_least 2 'vpnwall_ruleset_updates_total{result="success"}'
tb_check_eq "no failed ruleset update" 0 value 'vpnwall_ruleset_updates_total{result="failure"}'
tb_check_eq "build info" 1 value "vpnwall_build_info{version=\"$("$VPNWALLD" --version | cut -d' ' -f2)\"}"

# A rejected label entry is counted once, however often Docker reports the container.
tb_run bad --label 'vpn.outbound=198.51.100.10,198.51.100.7/24'
docker network create extra >/dev/null
docker network connect extra bad
docker network disconnect extra bad
tb_check "the bad entry is counted" tb_eventually 10 at_least 1 'vpnwall_label_errors_total{container="bad"}'
tb_check_eq "and counted once after more events about the container" 1 \
	value 'vpnwall_label_errors_total{container="bad"}'

promtool_ok() { metrics >"$TB/metrics.txt" && promtool check metrics <"$TB/metrics.txt"; }
tb_check "promtool check metrics passes" promtool_ok

# Health and readiness follow Docker.
http_code() { tb_host_exec curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:50000$1"; }
readyz_is() { [ "$(http_code /readyz)" = "$1" ]; }
tb_check_eq "/healthz answers 200" 200 http_code /healthz
tb_check "/readyz is 200 while synced" readyz_is 200
tb_dockerd_stop
tb_check "/readyz goes 503 while Docker is unreachable" tb_eventually 15 readyz_is 503
readyz_says_why() { tb_host_exec curl -s http://127.0.0.1:50000/readyz | grep -q 'Docker unreachable'; }
tb_check "/readyz says why" readyz_says_why
healthz_ok() { [ "$(http_code /healthz)" = 200 ]; }
tb_check "/healthz stays 200 meanwhile" healthz_ok
tb_dockerd_start
tb_check "/readyz is 200 again after Docker returns" tb_eventually 40 readyz_is 200

# The server's connection limit (64): 70 idle connections, held for 14 s, fill it; the
# server closes its 64 on their 10 s timeout, all in one go, and must then accept again
# (the 6 waiting in the backlog, and new ones).
tb_host_exec bash -c 'for i in $(seq 70); do exec {fd}<>/dev/tcp/127.0.0.1/50000; done; sleep 14' \
	>/dev/null 2>&1 &
holder=$!
sleep 1
full() { ! tb_host_exec curl -s -m 2 -o /dev/null http://127.0.0.1:50000/healthz; }
tb_check "with 64 idle connections the server takes no new one" full
# (-m: a server that never accepts again must fail the check, not hang the test.)
healthz_soon() { tb_host_exec curl -s -m 3 -o /dev/null http://127.0.0.1:50000/healthz; }
tb_check "once they time out it accepts again" tb_eventually 20 healthz_soon
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true

tb_finish
