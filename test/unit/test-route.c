// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The routing layer's plan: two rules per managed bridge and family, an unreachable
 * default always, a default through the tunnel only while one is up; and the diff that
 * turns what is in the kernel into that.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "vpnwall/route.h"

static int plan(const char *const *bridges, int ifindex, struct vw_route_state *ret)
{
	struct vw_route_input in = { .bridges = bridges, .n_bridges = 2, .vpn_ifindex = ifindex };

	return vw_route_plan(&in, 7811, 7810, ret);
}

static void test_route_plan(void **state)
{
	const char *const bridges[] = { "docker0", "br-1234" };
	struct vw_route_state s;

	assert_int_equal(plan(bridges, 7, &s), 0);
	assert_int_equal(s.n_rules, 8);
	/* IPv4 first: the LAN and the host by main without its default, then our table */
	assert_int_equal(s.rules[0].family, AF_INET);
	assert_string_equal(s.rules[0].iif, "docker0");
	assert_int_equal(s.rules[0].pref, 7810);
	assert_int_equal(s.rules[0].table, RT_TABLE_MAIN);
	assert_true(s.rules[0].suppress_default);
	assert_int_equal(s.rules[1].pref, 7811);
	assert_int_equal(s.rules[1].table, 7811);
	assert_false(s.rules[1].suppress_default);
	assert_string_equal(s.rules[3].iif, "br-1234");
	assert_int_equal(s.rules[4].family, AF_INET6);
	/* per family: unreachable behind, the tunnel in front */
	assert_int_equal(s.n_routes, 4);
	assert_true(s.routes[0].unreachable);
	assert_int_equal(s.routes[0].metric, VW_ROUTE_METRIC_UNREACHABLE);
	assert_false(s.routes[1].unreachable);
	assert_int_equal(s.routes[1].oif, 7);
	/* not 0: the kernel would read an IPv6 metric 0 back as 1024, and it would never match */
	assert_int_equal(s.routes[1].metric, VW_ROUTE_METRIC_TUNNEL);
	assert_int_equal(s.routes[1].protocol, VW_ROUTE_PROTO);
	assert_int_equal(s.routes[3].family, AF_INET6);
	vw_route_state_done(&s);

	/* no tunnel: nothing but unreachable, and the rules still send everything there */
	assert_int_equal(plan(bridges, 0, &s), 0);
	assert_int_equal(s.n_rules, 8);
	assert_int_equal(s.n_routes, 2);
	assert_true(s.routes[0].unreachable && s.routes[1].unreachable);
	vw_route_state_done(&s);
}

static void test_route_diff(void **state)
{
	const char *const before[] = { "docker0", "br-old" };
	const char *const after[] = { "docker0", "br-new" };
	struct vw_route_state have, want, del, add;

	assert_int_equal(plan(before, 7, &have), 0);
	/* the tunnel was re-created with another index, a bridge replaced */
	assert_int_equal(plan(after, 9, &want), 0);
	assert_int_equal(vw_route_diff(&have, &want, &del, &add), 0);
	assert_int_equal(del.n_rules, 4); /* br-old, both rules, both families */
	assert_int_equal(add.n_rules, 4);
	assert_string_equal(del.rules[0].iif, "br-old");
	assert_string_equal(add.rules[0].iif, "br-new");
	/* the unreachable defaults stay; the tunnel routes move to the new index */
	assert_int_equal(del.n_routes, 2);
	assert_int_equal(del.routes[0].oif, 7);
	assert_int_equal(add.n_routes, 2);
	assert_int_equal(add.routes[0].oif, 9);
	vw_route_state_done(&del);
	vw_route_state_done(&add);

	/* the same: nothing to do */
	assert_int_equal(vw_route_diff(&want, &want, &del, &add), 0);
	assert_int_equal(del.n_rules + del.n_routes + add.n_rules + add.n_routes, 0);

	/* someone else's default route in our table (same device, same metric): it goes */
	have.routes[1].protocol = 4; /* RTPROT_STATIC, "ip route add" */
	have.routes[1].oif = 9;
	assert_int_equal(vw_route_diff(&have, &want, &del, &add), 0);
	assert_int_equal(del.n_routes, 2); /* that one, and the old tunnel route of IPv6 */
	assert_int_equal(del.routes[0].protocol, 4);
	vw_route_state_done(&del);
	vw_route_state_done(&add);
	vw_route_state_done(&have);
	vw_route_state_done(&want);
}

/* Addresses opted out of the tunnel keep the host's routes: a rule before the bridges'. */
static void test_route_exempt(void **state)
{
	const char *const bridges[] = { "docker0" };
	struct vw_route_src ex[2] = { { .family = AF_INET6 }, { .family = AF_INET } };
	struct vw_route_input in = {
		.bridges = bridges, .n_bridges = 1, .exempt = ex, .n_exempt = 2, .vpn_ifindex = 7
	};
	struct vw_route_state s, none, del, add;

	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1::2", ex[0].addr), 1);
	assert_int_equal(inet_pton(AF_INET, "172.17.0.2", ex[1].addr), 1);
	assert_int_equal(vw_route_plan(&in, 7811, 7810, &s), 0);
	assert_int_equal(s.n_rules, 6);
	assert_string_equal(s.rules[2].iif, "");
	assert_int_equal(s.rules[2].family, AF_INET);
	assert_int_equal(s.rules[2].pref, 7809);
	assert_int_equal(s.rules[2].table, RT_TABLE_MAIN);
	assert_false(s.rules[2].suppress_default); /* main's default too: any path */
	assert_int_equal(s.rules[2].src_len, 32);
	assert_memory_equal(s.rules[2].src, ex[1].addr, 4);
	assert_int_equal(s.rules[5].family, AF_INET6);
	assert_int_equal(s.rules[5].src_len, 128);
	vw_route_state_done(&s);
	/* replies to what came in by another way than the tunnel: by their mark */
	in.reply_mark = 0x1000000;
	assert_int_equal(vw_route_plan(&in, 7811, 7810, &s), 0);
	assert_int_equal(s.n_rules, 8);
	assert_int_equal(s.rules[3].pref, 7809);
	assert_int_equal(s.rules[3].fwmark, 0x1000000);
	assert_int_equal(s.rules[3].fwmask, 0x1000000);
	assert_int_equal(s.rules[3].table, RT_TABLE_MAIN);
	assert_int_equal(s.rules[3].src_len, 0);
	assert_int_equal(s.rules[7].family, AF_INET6);
	assert_int_equal(s.rules[7].fwmark, 0x1000000);
	/* the container is gone: only its rules go */
	in.n_exempt = 0;
	in.reply_mark = 0;
	vw_route_state_done(&s);
	in.n_exempt = 2;
	assert_int_equal(vw_route_plan(&in, 7811, 7810, &s), 0);
	in.n_exempt = 0;
	assert_int_equal(vw_route_plan(&in, 7811, 7810, &none), 0);
	assert_int_equal(vw_route_diff(&s, &none, &del, &add), 0);
	assert_int_equal(del.n_rules, 2);
	assert_int_equal(del.rules[0].src_len, 32);
	assert_int_equal(add.n_rules + add.n_routes + del.n_routes, 0);
	vw_route_state_done(&del);
	vw_route_state_done(&add);
	vw_route_state_done(&none);
	vw_route_state_done(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_plan),
		cmocka_unit_test(test_route_diff),
		cmocka_unit_test(test_route_exempt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
