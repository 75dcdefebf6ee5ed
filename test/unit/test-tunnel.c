// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The tunnel watch, fed link messages as rtnetlink would send them: nothing is reported
 * before the dump has ended; then up, down, a re-creation under a new index, a rename, and
 * the choice among several interfaces matching a pattern.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>

#include <cmocka.h>

#include "vpnwall/tunnel.h"

struct seen {
	int calls;
	bool up;
	int ifindex;
	char ifname[IFNAMSIZ];
};

static void on_report(void *ud, bool up, const char *ifname, int ifindex)
{
	struct seen *s = ud;

	s->calls++;
	s->up = up;
	s->ifindex = ifindex;
	strcpy(s->ifname, ifname);
}

static void link_msg(struct vw_tunnel *t, uint16_t type, int index, const char *name, bool up)
{
	_Alignas(struct nlmsghdr) char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = type;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = index;
	ifi->ifi_flags = up ? IFF_UP : 0;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	vw_tunnel_msg(t, nlh);
}

static void done_msg(struct vw_tunnel *t)
{
	_Alignas(struct nlmsghdr) char buf[64];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = NLMSG_DONE;
	vw_tunnel_msg(t, nlh);
}

static void test_tunnel_dump_then_changes(void **state)
{
	struct seen s = { 0 };
	struct vw_tunnel *t;

	assert_int_equal(vw_tunnel_new("wg0", on_report, &s, &t), 0);
	link_msg(t, RTM_NEWLINK, 1, "lo", true);
	link_msg(t, RTM_NEWLINK, 5, "wg0", true);
	vw_tunnel_report(t);
	assert_int_equal(s.calls, 0); /* the dump has not ended: the picture is not whole */
	done_msg(t);
	vw_tunnel_report(t);
	assert_int_equal(s.calls, 1);
	assert_true(s.up);
	assert_int_equal(s.ifindex, 5);
	assert_string_equal(s.ifname, "wg0");
	vw_tunnel_report(t);
	assert_int_equal(s.calls, 1); /* nothing changed, nothing said */

	link_msg(t, RTM_NEWLINK, 5, "wg0", false); /* set down */
	vw_tunnel_report(t);
	assert_int_equal(s.calls, 2);
	assert_false(s.up);
	assert_int_equal(s.ifindex, 0);
	link_msg(t, RTM_DELLINK, 5, "wg0", false);
	link_msg(t, RTM_NEWLINK, 9, "wg0", true); /* re-created: a new index */
	vw_tunnel_report(t);
	assert_int_equal(s.calls, 3);
	assert_true(s.up);
	assert_int_equal(s.ifindex, 9);
	link_msg(t, RTM_NEWLINK, 9, "wg-old", true); /* renamed away */
	vw_tunnel_report(t);
	assert_int_equal(s.calls, 4);
	assert_false(s.up);
	link_msg(t, RTM_NEWLINK, 3, NULL, true); /* no name: ignored, not a match */
	vw_tunnel_report(t);
	assert_int_equal(s.calls, 4);
	vw_tunnel_free(t);
}

static void test_tunnel_pattern(void **state)
{
	struct seen s = { 0 };
	struct vw_tunnel *t;

	assert_true(vw_ifname_matches("tun+", "tun0"));
	assert_true(vw_ifname_matches("tun+", "tun"));
	assert_false(vw_ifname_matches("tun+", "tap0"));
	assert_false(vw_ifname_matches("wg0", "wg01"));
	assert_int_equal(vw_tunnel_new("wg+", on_report, &s, &t), 0);
	done_msg(t);
	vw_tunnel_report(t);
	assert_int_equal(s.calls, 1); /* "none is up" is an answer too */
	assert_false(s.up);
	link_msg(t, RTM_NEWLINK, 12, "wg1", true);
	link_msg(t, RTM_NEWLINK, 11, "wg0", true);
	vw_tunnel_report(t);
	assert_int_equal(s.ifindex, 11); /* the lowest index, whatever the order */
	link_msg(t, RTM_DELLINK, 11, "wg0", true);
	vw_tunnel_report(t);
	assert_int_equal(s.ifindex, 12);
	assert_string_equal(s.ifname, "wg1");
	/* notifications were lost: a new dump, and silence until it ends */
	vw_tunnel_reset(t);
	link_msg(t, RTM_NEWLINK, 12, "wg1", false);
	vw_tunnel_report(t);
	assert_true(s.up);
	done_msg(t);
	vw_tunnel_report(t);
	assert_false(s.up);
	vw_tunnel_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tunnel_dump_then_changes),
		cmocka_unit_test(test_tunnel_pattern),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
