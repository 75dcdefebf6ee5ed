#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Label handling: a rejected entry grants nothing while valid ones apply and the log names
# container, label and entry; unknown vpn.* keys are reported; vpn.enable opts out only when
# it says false; the dockerwall.outbound alias works; a wildcard alone grants nothing yet.
# shellcheck disable=SC2317 # helpers below run through tb_check and tb_eventually
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

tb_init
tb_up

tb_daemon_start
tb_daemon_wait_ready

key() { docker inspect -f '{{.Id}}' "$1" | cut -c1-16; }
# has_policy C: the container's address is dispatched to its own policy; exempt C: to none.
has_policy() { [ "$(tb_dispatched "$(tb_ip "$1")")" = "$(key "$1")" ]; }
exempt() { [ "$(tb_dispatched "$(tb_ip "$1")")" = exempt ]; }

# warned NAME LABEL TOKEN [REASON]: the log has
#   warn daemon: container 'NAME': label 'LABEL' entry 'TOKEN': REASON, ignoring
warned() {
	local p="warn daemon: container '$1': label '$2' entry '$3': ${4:-}"
	awk -v p="$p" 'index($0, p) == 1 && /, ignoring$/ { f = 1 } END { exit !f }' \
		"$TB/vpnwalld.log"
}
# label_warned NAME [LABEL]: some entry of container NAME's LABEL (or of any label) was reported.
label_warned() { grep -qF "warn daemon: container '$1': label ${2:+'$2' }" "$TB/vpnwalld.log"; }

tb_run mixed --label vpn.outbound=198.51.100.10,198.51.100.11/24,bogus..name
tb_run typo --label vpn.outbund=198.51.100.10 --label vpn.outbound=198.51.100.12:8080
tb_run optout --label vpn.enable=false
tb_run maybe --label vpn.enable=maybe --label vpn.outbound=198.51.100.12:8080
tb_run zero --label vpn.enable=0 --label vpn.outbound=198.51.100.12:8080
tb_run capsoff --label vpn.enable=False
tb_run alias --label dockerwall.outbound=198.51.100.13
tb_run wild --label 'vpn.outbound=*.example.org'

# Invalid entries next to a valid one.
tb_expect_eventually_reach mixed 198.51.100.10 80 "valid entry of a mixed label applies (.10)"
tb_expect_blocked mixed 198.51.100.11 80 "rejected CIDR 198.51.100.11/24 grants nothing (.11)"
tb_expect_blocked mixed 198.51.100.12 80 "rejected CIDR 198.51.100.11/24 grants nothing (.12)"
tb_check "log names container, label and the rejected CIDR" \
	tb_eventually 10 warned mixed vpn.outbound 198.51.100.11/24 "CIDR has host bits set"
tb_check "log names container, label and the rejected name" \
	warned mixed vpn.outbound bogus..name "each part of a domain name"
tb_check_fails "log does not report the valid entry" warned mixed vpn.outbound 198.51.100.10

# A misspelt key grants nothing and is reported; the correct key next to it applies.
tb_expect_eventually_reach typo 198.51.100.12 8080 "correct label next to a misspelt one applies"
tb_expect_blocked typo 198.51.100.10 80 "misspelt vpn.outbund grants nothing"
tb_check "log reports the unknown key vpn.outbund" \
	warned typo vpn.outbund vpn.outbund "unknown vpnwall label"
tb_check_fails "log does not report the correct vpn.outbound" label_warned typo vpn.outbound

# vpn.enable=false: not managed at all.
tb_expect_eventually_reach optout 198.51.100.10 80 "vpn.enable=false: reaches .10:80"
tb_expect_reach optout 198.51.100.11 443 "vpn.enable=false: reaches .11:443"
tb_expect_reach optout 198.51.100.13 8080 "vpn.enable=false: reaches .13:8080"
tb_check "vpn.enable=false: the log says it is not managed" \
	grep -qF "info daemon: container 'optout' opted out with vpn.enable=false: not managed" \
	"$TB/vpnwalld.log"
tb_check "vpn.enable=false: its address is exempt, no policy of its own" exempt optout

# vpn.enable=maybe: fail closed, stays managed.
tb_expect_eventually_reach maybe 198.51.100.12 8080 "vpn.enable=maybe: its vpn.outbound applies"
tb_expect_blocked maybe 198.51.100.10 80 "vpn.enable=maybe: stays managed, .10:80 blocked"
tb_expect_blocked maybe 198.51.100.12 80 "vpn.enable=maybe: stays managed, .12:80 blocked"
tb_check "vpn.enable=maybe: the log reports the value" \
	warned maybe vpn.enable maybe "must be true or false"
tb_check_fails "vpn.enable=maybe: not logged as opted out" \
	grep -qF "container 'maybe' opted out" "$TB/vpnwalld.log"

# Near misses of "false" are errors too: only the exact word opts out.
tb_expect_eventually_reach zero 198.51.100.12 8080 "vpn.enable=0: its vpn.outbound applies"
tb_expect_blocked zero 198.51.100.10 80 "vpn.enable=0: stays managed, .10:80 blocked"
tb_check "vpn.enable=0: the log reports the value" warned zero vpn.enable 0 "must be true or false"
tb_expect_reach optout 198.51.100.10 80 "control: vpn.enable=false still reaches .10:80"
tb_expect_blocked capsoff 198.51.100.10 80 "vpn.enable=False: stays managed, .10:80 blocked"
tb_check "vpn.enable=False: the log reports the value" \
	warned capsoff vpn.enable False "must be true or false"
tb_check_fails "vpn.enable=0/False: not logged as opted out" \
	grep -qE "container '(zero|capsoff)' opted out" "$TB/vpnwalld.log"

# The dockerwall alias.
tb_expect_eventually_reach alias 198.51.100.13 80 "dockerwall.outbound=.13: .13:80 reachable"
tb_expect_reach alias 198.51.100.13 443 "dockerwall.outbound=.13: .13:443 reachable"
tb_expect_blocked alias 198.51.100.12 80 "dockerwall.outbound=.13: .12:80 blocked"
tb_check_fails "dockerwall.outbound is not reported as an error" label_warned alias

# A wildcard alone: valid, managed, but nothing granted until the DNS proxy exists.
tb_check "*.example.org: the container is managed (has its policy)" tb_eventually 15 has_policy wild
for a in 198.51.100.10 198.51.100.11 198.51.100.12 198.51.100.13; do
	tb_expect_blocked wild "$a" 80 "*.example.org alone grants nothing: $a:80 blocked"
done
tb_check_fails "*.example.org is not reported as an error" label_warned wild

tb_finish
