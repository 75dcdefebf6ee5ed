#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# IPv6 egress: the same policy semantics over ip6 (address with port, name via AAAA,
# default deny), on a dual-stack Docker bridge.
# shellcheck disable=SC2317 # helpers below run through tb_check
set -eu
. "$(dirname "$0")/../lib/testbed.sh"

TB_DOCKERD_ARGS="--ipv6 --fixed-cidr-v6 2001:db8:1::/64"
tb_init
tb_up
# Docker 20.10 does not NAT IPv6: the fake internet routes the containers' prefix back.
tb_inet_exec ip -6 route add 2001:db8:1::/64 via "$TB_HOST_IP6"

ip6_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}' "$1"; }

tb_run plain6
tb_check "control: without vpnwall a container reaches an IPv6 host" \
	tb_eventually 10 tb_can_reach plain6 2001:db8:100::10 80

tb_daemon_start DNS_TTL_MIN=1
tb_daemon_wait_ready
tb_run web6 --label 'vpn.outbound=[2001:db8:100::10]:80/tcp,v6.test:8080'
has_ip6() { [ -n "$(ip6_of web6)" ]; }
tb_check "the container has an IPv6 address" has_ip6
in_src6() {
	[ "$(tb_dispatched "$(ip6_of web6)")" = "$(docker inspect -f '{{.Id}}' web6 | cut -c1-16)" ]
}
tb_check "its IPv6 address is dispatched to its policy" tb_eventually 10 in_src6

tb_expect_eventually_reach web6 2001:db8:100::10 80 "[addr]:80/tcp: allowed port"
tb_expect_blocked web6 2001:db8:100::10 443 "[addr]:80/tcp: other port blocked"
tb_expect_eventually_reach web6 2001:db8:100::10 8080 "v6.test:8080 (AAAA): allowed"
tb_expect_blocked web6 2001:db8:100::11 80 "other IPv6 host blocked"
tb_expect_blocked web6 198.51.100.10 80 "IPv4 hosts not in the policy blocked"
tb_expect_blocked plain6 2001:db8:100::10 80 "unlabeled container: IPv6 blocked"
tb_expect_blocked plain6 198.51.100.10 80 "unlabeled container: IPv4 blocked"

tb_finish
