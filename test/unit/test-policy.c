// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Policy compilation: which containers and bridges are managed, what each may reach, and
 * the fail-closed cases (address conflicts, opt-out, namespace sharing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vpnwall/config.h"
#include "vpnwall/labels.h"
#include "vpnwall/names.h"
#include "vpnwall/policy.h"
#include "vpnwall/ruleset.h"

#define NET_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define NET_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define NET_M "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static struct vw_network nets[] = {
	{ .id = NET_A, .name = "web", .bridge = "br-web", .is_bridge = true },
	{ .id = NET_B, .name = "db", .bridge = "br-db", .is_bridge = true },
	{ .id = NET_M, .name = "mac", .bridge = "", .is_bridge = false },
};

static struct vw_endpoint ep(const char *net, const char *a4, const char *a6)
{
	struct vw_endpoint e = { 0 };

	snprintf(e.network_id, sizeof(e.network_id), "%s", net);
	if (a4)
		e.has4 = inet_pton(AF_INET, a4, e.addr4) == 1;
	if (a6)
		e.has6 = inet_pton(AF_INET6, a6, e.addr6) == 1;
	return e;
}

static void container(struct vw_container *c, const char *id, struct vw_endpoint *eps, size_t n,
		      const char *const *labels)
{
	*c = (struct vw_container){ .running = true, .eps = eps, .n_eps = n };
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->name, sizeof(c->name), "n-%.6s", id);
	for (; labels && labels[0]; labels += 2)
		assert_int_equal(vw_labels_add(&c->labels, labels[0], labels[1]), 0);
}

static void config(struct vw_config *cfg, const char *const *env)
{
	char err[256];
	const char *argv[] = { "vpnwalld", NULL };

	assert_int_equal(
		vw_config_parse(cfg, (char *const *)env, 1, (char *const *)argv, err, sizeof(err)),
		0);
}

static bool contains4(const struct vw_rangeset *s, const char *a)
{
	uint8_t addr[16] = { 0 };

	assert_int_equal(inet_pton(AF_INET, a, addr), 1);
	return vw_rangeset_contains(s, addr);
}

static const struct vw_rs_source *source4(const struct vw_ruleset *rs, const char *a)
{
	uint8_t addr[16] = { 0 };

	assert_int_equal(inet_pton(AF_INET, a, addr), 1);
	return vw_ruleset_source_find(rs, AF_INET, addr);
}

static void labels_done(struct vw_container *cs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vw_labels_done(&cs[i].labels);
}

static void test_policy_basic(void **state)
{
	const char *env[] = { NULL };
	const char *l1[] = { "vpn.outbound", "198.51.100.0/24:443/tcp,198.51.100.7,web.test",
			     "vpn.allow", "192.168.1.0/24", NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", "2001:db8:1::2") };
	struct vw_endpoint e2[] = { ep(NET_A, "198.18.16.3", NULL) };
	struct vw_endpoint e3[] = { ep(NET_M, "198.18.99.3", NULL) };
	struct vw_container cs[3];
	struct vw_config cfg;
	struct vw_names names;
	struct vw_ruleset rs;
	const struct vw_rs_container *c;
	uint8_t web[16] = { 198, 51, 100, 10 };
	int fam;

	config(&cfg, env);
	vw_names_init(&names, 1, 60);
	container(&cs[0], "1111111111111111aaaa", e1, 1, l1);
	container(&cs[1], "2222222222222222bbbb", e2, 1, NULL);
	container(&cs[2], "3333333333333333cccc", e3, 1, l1);

	assert_int_equal(vw_policy_compile(cs, 3, nets, 3, &cfg, &names, 0, &rs), 0);
	/* both bridges of the bridge driver, not the macvlan-like one */
	assert_int_equal(rs.n_bridges, 2);
	assert_string_equal(rs.bridges[0], "br-db");
	assert_string_equal(rs.bridges[1], "br-web");
	/* the container on an unmanaged network gets nothing at all */
	assert_int_equal(rs.n_containers, 2);
	assert_int_equal(rs.n_sources, 3);
	assert_string_equal(source4(&rs, "198.18.16.2")->key, "1111111111111111");
	assert_null(source4(&rs, "198.18.99.3"));

	c = vw_ruleset_find(&rs, "1111111111111111");
	assert_non_null(c);
	assert_false(c->audit);
	/* group 0: any protocol (198.51.100.7, LAN, web.test); group 1: tcp/443 */
	assert_int_equal(c->n_groups, 2);
	assert_int_equal(c->groups[0].proto, 0);
	assert_true(c->groups[0].has4);
	assert_true(c->groups[0].has6); /* names may resolve to either family */
	assert_true(contains4(&c->groups[0].set4, "198.51.100.7"));
	assert_true(contains4(&c->groups[0].set4, "192.168.1.77"));
	assert_false(contains4(&c->groups[0].set4, "198.51.100.10"));
	assert_int_equal(c->groups[1].proto, IPPROTO_TCP);
	assert_int_equal(c->groups[1].port_lo, 443);
	assert_false(c->groups[1].has6);
	assert_true(contains4(&c->groups[1].set4, "198.51.100.200"));

	/* the unlabeled container has a chain with no groups: everything dropped */
	c = vw_ruleset_find(&rs, "2222222222222222");
	assert_int_equal(c->n_groups, 0);

	/* the name was registered; once it resolves, the next compile includes it */
	assert_non_null(vw_names_get(&names, "web.test"));
	assert_non_null(vw_names_next_due(&names, 0, &fam));
	assert_int_equal(vw_names_answer(&names, "web.test", 0, VW_DNS_OK,
					 (const uint8_t(*)[16])web, 1, 5, 0),
			 1);
	vw_ruleset_done(&rs);
	assert_int_equal(vw_policy_compile(cs, 3, nets, 3, &cfg, &names, 0, &rs), 0);
	c = vw_ruleset_find(&rs, "1111111111111111");
	assert_true(contains4(&c->groups[0].set4, "198.51.100.10"));

	vw_ruleset_done(&rs);
	vw_names_done(&names);
	labels_done(cs, 3);
	vw_config_done(&cfg);
}

static void test_policy_settings(void **state)
{
	const char *env[] = { "GATEWAY_NETWORKS=!db", "DEFAULT_OUTBOUND=198.51.100.53:53",
			      "DRY_RUN=true", NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", NULL),
				    ep(NET_B, "198.18.17.2", NULL) };
	struct vw_container cs[1];
	struct vw_config cfg;
	struct vw_names names;
	struct vw_ruleset rs;
	const struct vw_rs_container *c;

	config(&cfg, env);
	vw_names_init(&names, 1, 60);
	container(&cs[0], "1111111111111111aaaa", e1, 2, NULL);
	assert_int_equal(vw_policy_compile(cs, 1, nets, 3, &cfg, &names, 0, &rs), 0);
	assert_true(rs.dry_run);
	assert_int_equal(rs.n_bridges, 1);
	assert_string_equal(rs.bridges[0], "br-web");
	/* only exclusions: unknown Docker bridges are policed, the excluded one skipped */
	assert_true(rs.police_unknown);
	assert_int_equal(rs.n_skip, 1);
	assert_string_equal(rs.skip[0], "br-db");
	/* the address on the excluded network is not dispatched */
	assert_int_equal(rs.n_sources, 1);
	c = vw_ruleset_find(&rs, "1111111111111111");
	assert_true(c->audit);
	assert_int_equal(c->n_groups, 2); /* DEFAULT_OUTBOUND :53 -> tcp and udp */
	assert_int_equal(c->groups[0].proto, IPPROTO_TCP);
	assert_int_equal(c->groups[1].proto, IPPROTO_UDP);
	assert_true(contains4(&c->groups[1].set4, "198.51.100.53"));
	vw_ruleset_done(&rs);
	vw_names_done(&names);
	labels_done(cs, 1);
	vw_config_done(&cfg);
}

static void test_policy_include_list(void **state)
{
	const char *env[] = { "GATEWAY_NETWORKS=web", NULL };
	struct vw_config cfg;
	struct vw_names names;
	struct vw_ruleset rs;

	config(&cfg, env);
	vw_names_init(&names, 1, 60);
	assert_int_equal(vw_policy_compile(NULL, 0, nets, 3, &cfg, &names, 0, &rs), 0);
	/* an explicit list manages exactly those networks: unknown bridges are not ours */
	assert_false(rs.police_unknown);
	assert_int_equal(rs.n_bridges, 1);
	assert_int_equal(rs.n_skip, 1);
	vw_ruleset_done(&rs);
	vw_names_done(&names);
	vw_config_done(&cfg);
}

static void test_policy_fail_closed(void **state)
{
	const char *env[] = { NULL };
	const char *optout[] = { "vpn.enable", "false", NULL };
	const char *allow[] = { "vpn.outbound", "198.51.100.10", NULL };
	const char *shared[] = { "vpn.outbound", "198.51.100.11", "vpn.enable", "false", NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", NULL) };
	struct vw_endpoint e2[] = { ep(NET_A, "198.18.16.2", NULL) };
	struct vw_endpoint e3[] = { ep(NET_A, "198.18.16.4", NULL) };
	struct vw_endpoint e4[] = { ep(NET_A, "198.18.16.5", NULL) };
	struct vw_container cs[5];
	struct vw_config cfg;
	struct vw_names names;
	struct vw_ruleset rs;
	const struct vw_rs_container *c;

	config(&cfg, env);
	vw_names_init(&names, 1, 60);
	/* two containers claim one address (stale data): neither gets it */
	container(&cs[0], "1111111111111111aaaa", e1, 1, allow);
	container(&cs[1], "2222222222222222bbbb", e2, 1, allow);
	/* opt-out: exempt source, no chain */
	container(&cs[2], "3333333333333333cccc", e3, 1, optout);
	/* owner of a namespace, and a container sharing it (whose opt-out has no effect) */
	container(&cs[3], "4444444444444444dddd", e4, 1, NULL);
	container(&cs[4], "5555555555555555eeee", NULL, 0, shared);
	snprintf(cs[4].netns_owner, sizeof(cs[4].netns_owner), "%s", cs[3].id);

	assert_int_equal(vw_policy_compile(cs, 5, nets, 3, &cfg, &names, 0, &rs), 0);
	assert_null(source4(&rs, "198.18.16.2"));
	assert_string_equal(source4(&rs, "198.18.16.4")->key, "");
	assert_null(vw_ruleset_find(&rs, "3333333333333333"));
	c = vw_ruleset_find(&rs, "4444444444444444");
	assert_non_null(c);
	assert_int_equal(c->n_groups, 1);
	assert_true(contains4(&c->groups[0].set4, "198.51.100.11"));
	assert_null(vw_ruleset_find(&rs, "5555555555555555"));
	vw_ruleset_done(&rs);

	/* a stopped container is not dispatched at all */
	cs[3].running = false;
	assert_int_equal(vw_policy_compile(cs, 5, nets, 3, &cfg, &names, 0, &rs), 0);
	assert_null(source4(&rs, "198.18.16.5"));
	vw_ruleset_done(&rs);

	vw_names_done(&names);
	labels_done(cs, 5);
	vw_config_done(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_basic),
		cmocka_unit_test(test_policy_settings),
		cmocka_unit_test(test_policy_include_list),
		cmocka_unit_test(test_policy_fail_closed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
