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

#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "vpnwall/route.h"

static void test_route_plan(void **state)
{
	const char *const bridges[] = { "docker0", "br-1234" };
	struct vw_route_state s;

	assert_int_equal(vw_route_plan(bridges, 2, 7, 7811, 7810, &s), 0);
	assert_int_equal(s.n_rules, 12);
	/* IPv4 first: the LAN and the host by main without its default, then our table */
	assert_int_equal(s.rules[0].family, AF_INET);
	assert_string_equal(s.rules[0].iif, "docker0");
	assert_int_equal(s.rules[0].pref, 7810);
	assert_int_equal(s.rules[0].table, RT_TABLE_MAIN);
	assert_true(s.rules[0].suppress_default);
	assert_int_equal(s.rules[1].pref, 7811);
	assert_int_equal(s.rules[1].table, 7811);
	assert_false(s.rules[1].suppress_default);
	/* and behind our table, unreachable: should someone empty it, main is not next */
	assert_int_equal(s.rules[2].pref, 7812);
	assert_true(s.rules[2].unreachable);
	assert_string_equal(s.rules[2].iif, "docker0");
	assert_false(s.rules[1].unreachable);
	assert_string_equal(s.rules[3].iif, "br-1234");
	assert_int_equal(s.rules[6].family, AF_INET6);
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
	assert_int_equal(vw_route_plan(bridges, 2, 0, 7811, 7810, &s), 0);
	assert_int_equal(s.n_rules, 12);
	assert_int_equal(s.n_routes, 2);
	assert_true(s.routes[0].unreachable && s.routes[1].unreachable);
	vw_route_state_done(&s);
}

static void test_route_diff(void **state)
{
	const char *const before[] = { "docker0", "br-old" };
	const char *const after[] = { "docker0", "br-new" };
	struct vw_route_state have, want, del, add;

	assert_int_equal(vw_route_plan(before, 2, 7, 7811, 7810, &have), 0);
	/* the tunnel was re-created with another index, a bridge replaced */
	assert_int_equal(vw_route_plan(after, 2, 9, 7811, 7810, &want), 0);
	assert_int_equal(vw_route_diff(&have, &want, &del, &add), 0);
	assert_int_equal(del.n_rules, 6); /* br-old, its three rules, both families */
	assert_int_equal(add.n_rules, 6);
	assert_string_equal(del.rules[0].iif, "br-old");
	assert_string_equal(add.rules[0].iif, "br-new");
	/* the unreachable defaults stay; the tunnel routes move to the new index */
	assert_int_equal(del.n_routes, 2);
	assert_int_equal(del.routes[0].oif, 7);
	assert_int_equal(add.n_routes, 2);
	assert_int_equal(add.routes[0].oif, 9);
	vw_route_state_done(&del);
	vw_route_state_done(&add);

	/* a rule of ours with a selector we never set is not taken for ours: replaced */
	want.rules[0].foreign = true;
	assert_int_equal(vw_route_diff(&want, &want, &del, &add), 0);
	assert_int_equal(del.n_rules, 1);
	assert_int_equal(add.n_rules, 1);
	vw_route_state_done(&del);
	vw_route_state_done(&add);
	want.rules[0].foreign = false;

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_plan),
		cmocka_unit_test(test_route_diff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
