#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The CLI against a running daemon: status, explain (allowed, partial, blocked, wildcard,
# opt-out; each verdict checked against what the container can really reach), check-labels
# exit codes, and clear errors when the daemon is unreachable.
# shellcheck disable=SC2317 # helpers below run through tb_check
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up
tb_daemon_start DNS_TTL_MIN=1
tb_daemon_wait_ready

tb_run web --label 'vpn.outbound=web.test,198.51.100.8/30:443/tcp,*.example.org' \
	--label vpn.allow=198.51.100.12
tb_run plain
tb_run out --label vpn.enable=false
tb_expect_eventually_reach web 198.51.100.10 80 "web reaches web.test's address"

# says CONTAINER DEST VERDICT TEXT: explain's last line starts with VERDICT and holds TEXT.
says() {
	local out
	out=$(tb_cli explain "$1" "$2") || return 1
	printf '%s\n' "$out" | tail -n 1 | grep -q "^$3: .*$4" || {
		echo "explain $1 $2 said: $(printf '%s\n' "$out" | tail -n 1)" >&2
		return 1
	}
}

tb_check_eq "the API socket is private (mode 0600)" 600 stat -c %a "$TB/api.sock"
status_ready() { tb_cli status | grep -q "^vpnwalld .*: ready"; }
tb_check "status: ready" status_ready
status_json() { tb_cli --json status | grep -q '"ready":[[:space:]]*true'; }
tb_check "status --json: ready is true" status_json

tb_check "explain: address allowed through the name that resolves to it" \
	says web 198.51.100.10 allowed "entry 'web.test' (the name currently resolves to it)"
tb_expect_reach web 198.51.100.10 8080 "... and it really is reachable"
tb_check "explain: the name itself" says web web.test allowed "entry 'web.test'"
tb_check "explain: port-scoped CIDR, matching port" \
	says web 198.51.100.11:443/tcp allowed "198.51.100.8/30:443/tcp"
tb_expect_reach web 198.51.100.11 443 "... and it really is reachable"
tb_check "explain: port-scoped CIDR, other port" says web 198.51.100.11:80 blocked "no entry"
tb_expect_blocked web 198.51.100.11 80 "... and it really is blocked"
tb_check "explain: no port on a port-scoped entry" says web 198.51.100.11 partial "443/tcp"
tb_check "explain: vpn.allow entry" says web 198.51.100.12:8080 allowed "vpn.allow entry '198.51.100.12'"
tb_expect_reach web 198.51.100.12 8080 "... and it really is reachable"
tb_check "explain: without the DNS proxy, a wildcard is not enforced" \
	says web api.example.org blocked "wildcard '\*.example.org'.*only enforced with the DNS proxy"
tb_check "explain: unlabeled container" says plain 198.51.100.10 blocked "no entry"
tb_expect_blocked plain 198.51.100.10 80 "... and it really is blocked"
tb_check "explain: opted-out container is not restricted" \
	says out 198.51.100.13 allowed "does not restrict it"
tb_expect_reach out 198.51.100.13 80 "... and it really is reachable"

explain_json() { tb_cli --json explain web 198.51.100.10 | grep -q '"verdict":[[:space:]]*"allowed"'; }
tb_check "explain --json gives the verdict" explain_json
explain_list() { tb_cli explain web | grep -q "web.test -> 198.51.100.10"; }
tb_check "explain without destination lists resolved names" explain_list
tb_check_fails "explain of an unknown container fails" tb_cli explain nosuch 198.51.100.10
tb_check_fails "explain of a CIDR fails" tb_cli explain web 198.51.100.0/24

tb_check "check-labels: valid labels exit 0" \
	"$VPNWALL" check-labels vpn.outbound=api.github.com,198.51.100.0/24:443/tcp vpn.allow=192.168.1.0/24
tb_check_fails "check-labels: a bad entry exits non-zero" \
	"$VPNWALL" check-labels 'vpn.outbound=api.github.com,198.51.100.7/24'
bad_named() { "$VPNWALL" check-labels 'vpn.outbound=198.51.100.7/24' | grep -q "'198.51.100.7/24': CIDR has host bits set"; }
tb_check "check-labels: names the entry and the reason" bad_named
cat >"$TB/compose.yml" <<'EOT'
services:
  ok:
    image: x
    labels:
      - "vpn.outbound=api.github.com"
  bad:
    image: x
    labels:
      vpn.outbound: "api..github.com"
EOT
compose_check() { "$VPNWALL" check-labels --compose "$TB/compose.yml" >/dev/null; }
tb_check_fails "check-labels --compose: a bad service exits non-zero" compose_check
compose_names_service() { "$VPNWALL" check-labels --compose "$TB/compose.yml" | grep -q '^bad:'; }
tb_check "check-labels --compose: names the service" compose_names_service

tb_daemon_stop
unreachable() { ! tb_cli status 2>"$TB/err" && grep -q "cannot reach vpnwalld" "$TB/err"; }
tb_check "status without a daemon: error on stderr, non-zero exit" unreachable

tb_finish
