// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Policy compilation: which containers and bridges are managed, which entries apply to a
 * container (its own labels, those of the containers joining its namespace, then
 * DEFAULT_OUTBOUND, under a quota of distinct names), the exact disjoint boxes they compile
 * into, the box budget that isolates a container, and the fail-closed cases (addresses
 * claimed twice, key collisions, opt-out).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "vpnwall/config.h"
#include "vpnwall/labels.h"
#include "vpnwall/names.h"
#include "vpnwall/policy.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/util.h"

#define NET_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define NET_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define NET_M "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define NET_C "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define NET_D "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
#define NET_N "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

#define CS_MAX 8

static const struct vw_network nets[] = {
	{ .id = NET_A, .name = "web", .bridge = "br-web", .is_bridge = true },
	{ .id = NET_B, .name = "db", .bridge = "br-db", .is_bridge = true },
	{ .id = NET_M, .name = "mac", .bridge = "", .is_bridge = false },
};

/* An expected box; addresses as text in the boxset's family. */
struct box {
	const char *lo;
	const char *hi;
	uint8_t proto_lo, proto_hi;
	uint16_t port_lo, port_hi;
};

#define ANY 0, UINT8_MAX, 0, UINT16_MAX
#define TCP(lo, hi) IPPROTO_TCP, IPPROTO_TCP, lo, hi
#define UDP(lo, hi) IPPROTO_UDP, IPPROTO_UDP, lo, hi

/* Everything a test compiles, released by the teardown even when an assertion fails. */
struct fixture {
	struct vw_container cs[CS_MAX];
	struct vw_config cfg;
	bool has_cfg;
	struct vw_names names;
	struct vw_ruleset rs;
	struct vw_rs_container rc;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	vw_names_init(&f->names, 1, 3600);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < CS_MAX; i++)
		vw_labels_done(&f->cs[i].labels);
	if (f->has_cfg)
		vw_config_done(&f->cfg);
	vw_names_done(&f->names);
	vw_ruleset_done(&f->rs);
	vw_rs_container_done(&f->rc);
	free(f);
	return 0;
}

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

/* A running container named "n-<first 6 digits of id>"; every label must parse. */
static void container(struct vw_container *c, const char *id, struct vw_endpoint *eps, size_t n,
		      const char *const *labels)
{
	vw_labels_done(&c->labels);
	*c = (struct vw_container){ .running = true, .eps = eps, .n_eps = n };
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->name, sizeof(c->name), "n-%.6s", id);
	for (; labels && labels[0]; labels += 2)
		assert_int_equal(vw_labels_add(&c->labels, labels[0], labels[1]), 0);
	assert_int_equal(c->labels.n_errors, 0);
}

static void config(struct fixture *f, const char *const *env)
{
	const char *none[] = { NULL };
	const char *argv[] = { "vpnwalld", NULL };
	char err[256] = "";
	int r;

	if (f->has_cfg)
		vw_config_done(&f->cfg);
	r = vw_config_parse(&f->cfg, (char *const *)(env ? env : none), 1, (char *const *)argv, err,
			    sizeof(err));
	f->has_cfg = true;
	if (r < 0)
		fail_msg("settings rejected: %s", err);
}

/* "name:P" (policed) or "name:-" (left alone) for each of Docker's bridges, in order. */
static const char *bridges(const struct vw_ruleset *rs)
{
	static char buf[512];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < rs->n_bridges; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s:%s", i ? " " : "",
					rs->bridges[i].name, rs->bridges[i].managed ? "P" : "-");
	return buf;
}

/* Compile f->cs[0..n) (in that order) into f->rs, replacing what it held. */
static void compile(struct fixture *f, size_t n)
{
	const struct vw_container *v[CS_MAX];

	for (size_t i = 0; i < n; i++)
		v[i] = &f->cs[i];
	vw_ruleset_done(&f->rs);
	assert_int_equal(
		vw_policy_compile(v, n, nets, ELEMENTSOF(nets), &f->cfg, &f->names, 0, &f->rs), 0);
}

/* Compile one container with its sharers into f->rc, replacing what it held. */
static void compile_one(struct fixture *f, const struct vw_container *c,
			const struct vw_container *const *sharers, size_t n_sharers,
			const struct vw_names *names, size_t budget)
{
	vw_rs_container_done(&f->rc);
	memset(&f->rc, 0, sizeof(f->rc));
	assert_int_equal(
		vw_policy_compile_container(c, sharers, n_sharers, &f->cfg, names, budget, &f->rc),
		0);
}

static void pton(uint8_t family, const char *s, uint8_t *ret)
{
	memset(ret, 0, 16);
	if (inet_pton(family, s, ret) != 1)
		fail_msg("'%s' is not an address of family %u", s, family);
}

static const struct vw_rs_source *source(const struct vw_ruleset *rs, uint8_t family, const char *a)
{
	uint8_t addr[16];

	pton(family, a, addr);
	return vw_ruleset_source_find(rs, family, addr);
}

static const char *box_text(uint8_t family, const struct vw_box *b, char *buf, size_t size)
{
	char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];

	inet_ntop(family, b->lo, lo, sizeof(lo));
	inet_ntop(family, b->hi, hi, sizeof(hi));
	snprintf(buf, size, "%s-%s proto %u-%u ports %u-%u", lo, hi, b->proto_lo, b->proto_hi,
		 b->port_lo, b->port_hi);
	return buf;
}

static bool overlaps(const struct vw_box *a, const struct vw_box *b, size_t len)
{
	return memcmp(a->lo, b->hi, len) <= 0 && memcmp(b->lo, a->hi, len) <= 0 &&
	       a->proto_lo <= b->proto_hi && b->proto_lo <= a->proto_hi &&
	       a->port_lo <= b->port_hi && b->port_lo <= a->port_hi;
}

/* Sorted by (lo, proto_lo, port_lo), pairwise disjoint, every range non-empty. */
static void assert_sorted_disjoint(const struct vw_boxset *s)
{
	size_t len = vw_addr_len(s->family);
	char t1[160], t2[160];

	for (size_t i = 0; i < s->n; i++) {
		const struct vw_box *b = &s->v[i];

		if (memcmp(b->lo, b->hi, len) > 0 || b->proto_lo > b->proto_hi ||
		    b->port_lo > b->port_hi)
			fail_msg("empty box %s", box_text(s->family, b, t1, sizeof(t1)));
		if (i > 0) {
			const struct vw_box *p = &s->v[i - 1];
			int c = memcmp(p->lo, b->lo, len);

			if (c > 0 ||
			    (c == 0 && (p->proto_lo > b->proto_lo ||
					(p->proto_lo == b->proto_lo && p->port_lo >= b->port_lo))))
				fail_msg("unsorted: %s before %s",
					 box_text(s->family, p, t1, sizeof(t1)),
					 box_text(s->family, b, t2, sizeof(t2)));
		}
		for (size_t j = i + 1; j < s->n; j++)
			if (overlaps(b, &s->v[j], len))
				fail_msg("overlapping: %s and %s",
					 box_text(s->family, b, t1, sizeof(t1)),
					 box_text(s->family, &s->v[j], t2, sizeof(t2)));
	}
}

/* Exactly @want, in order. */
static void assert_boxes(const struct vw_boxset *s, uint8_t family, const struct box *want,
			 size_t n)
{
	size_t len = vw_addr_len(family);
	char t[160];

	assert_int_equal(s->family, family);
	if (s->n != n) {
		for (size_t i = 0; i < s->n; i++)
			print_message("  box %zu: %s\n", i,
				      box_text(family, &s->v[i], t, sizeof(t)));
		fail_msg("%zu boxes, expected %zu", s->n, n);
	}
	for (size_t i = 0; i < n; i++) {
		const struct vw_box *b = &s->v[i];
		uint8_t lo[16], hi[16];

		pton(family, want[i].lo, lo);
		pton(family, want[i].hi, hi);
		if (memcmp(b->lo, lo, len) != 0 || memcmp(b->hi, hi, len) != 0 ||
		    b->proto_lo != want[i].proto_lo || b->proto_hi != want[i].proto_hi ||
		    b->port_lo != want[i].port_lo || b->port_hi != want[i].port_hi)
			fail_msg("box %zu is %s, expected %s-%s proto %u-%u ports %u-%u", i,
				 box_text(family, b, t, sizeof(t)), want[i].lo, want[i].hi,
				 want[i].proto_lo, want[i].proto_hi, want[i].port_lo,
				 want[i].port_hi);
	}
	assert_sorted_disjoint(s);
}

/* @name resolves to @n4 IPv4 and @n6 IPv6 addresses (packed 16 bytes apart). */
static void resolve(struct vw_names *ns, const char *name, const uint8_t (*a4)[16], size_t n4,
		    const uint8_t (*a6)[16], size_t n6)
{
	int fam;

	assert_int_equal(vw_names_want(ns, name, 0), 0);
	while (vw_names_next_due(ns, 0, &fam))
		;
	assert_int_equal(vw_names_answer(ns, name, 0, n4 ? VW_DNS_OK : VW_DNS_NONE, a4, n4, 300, 0),
			 n4 ? 1 : 0);
	assert_int_equal(vw_names_answer(ns, name, 1, n6 ? VW_DNS_OK : VW_DNS_NONE, a6, n6, 300, 0),
			 n6 ? 1 : 0);
}

/* @name resolves to one address of each family given (either may be NULL). */
static void resolve1(struct vw_names *ns, const char *name, const char *a4, const char *a6)
{
	uint8_t x4[1][16], x6[1][16];

	if (a4)
		pton(AF_INET, a4, x4[0]);
	if (a6)
		pton(AF_INET6, a6, x6[0]);
	resolve(ns, name, (const uint8_t(*)[16])x4, a4 ? 1 : 0, (const uint8_t(*)[16])x6,
		a6 ? 1 : 0);
}

/* --- managed or not --------------------------------------------------------------------- */

static void test_policy_state_reasons(void **state)
{
	struct fixture *f = *state;
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", NULL) };
	struct vw_endpoint e2[] = { ep(NET_M, "198.18.99.2", NULL) };
	struct vw_endpoint e3[] = { ep(NET_B, NULL, NULL) };
	const char *optout[] = { "vpn.enable", "false", NULL };
	const enum vw_managed all[] = { VW_MANAGED,	   VW_UNMANAGED_OPTOUT,
					VW_UNMANAGED_HOST, VW_UNMANAGED_NETWORK,
					VW_JOINED,	   VW_NOT_RUNNING };
	struct vw_container *c = f->cs;

	config(f, NULL);
	container(&c[0], "1111111111111111aaaa", e1, 1, NULL);
	assert_int_equal(vw_policy_state(&c[0], nets, ELEMENTSOF(nets), &f->cfg), VW_MANAGED);
	container(&c[1], "2222222222222222bbbb", e1, 1, optout);
	assert_int_equal(vw_policy_state(&c[1], nets, ELEMENTSOF(nets), &f->cfg),
			 VW_UNMANAGED_OPTOUT);
	container(&c[2], "3333333333333333cccc", NULL, 0, NULL);
	c[2].host_network = true;
	assert_int_equal(vw_policy_state(&c[2], nets, ELEMENTSOF(nets), &f->cfg),
			 VW_UNMANAGED_HOST);
	/* a non-bridge network, an endpoint without address, an unknown network */
	container(&c[3], "4444444444444444dddd", e2, 1, NULL);
	assert_int_equal(vw_policy_state(&c[3], nets, ELEMENTSOF(nets), &f->cfg),
			 VW_UNMANAGED_NETWORK);
	container(&c[4], "5555555555555555eeee", e3, 1, NULL);
	assert_int_equal(vw_policy_state(&c[4], nets, ELEMENTSOF(nets), &f->cfg),
			 VW_UNMANAGED_NETWORK);
	assert_int_equal(vw_policy_state(&c[0], NULL, 0, &f->cfg), VW_UNMANAGED_NETWORK);
	container(&c[5], "6666666666666666ffff", NULL, 0, NULL);
	(void)vw_strscpy(c[5].netns_owner, c[0].id, sizeof(c[5].netns_owner));
	assert_int_equal(vw_policy_state(&c[5], nets, ELEMENTSOF(nets), &f->cfg), VW_JOINED);
	assert_true(vw_container_joins(&c[5], &c[0]));
	assert_false(vw_container_joins(&c[5], &c[1]));
	c[5].running = false;
	assert_int_equal(vw_policy_state(&c[5], nets, ELEMENTSOF(nets), &f->cfg), VW_NOT_RUNNING);
	/* a stopped sharer no longer joins: its labels stop applying */
	assert_false(vw_container_joins(&c[5], &c[0]));

	for (size_t i = 0; i < ELEMENTSOF(all); i++) {
		assert_true(strlen(vw_managed_reason(all[i])) > 0);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(vw_managed_reason(all[i]),
						vw_managed_reason(all[j]));
	}
	assert_string_equal(vw_managed_reason(VW_UNMANAGED_OPTOUT),
			    "not managed: opted out with vpn.enable=false");
}

static void test_policy_network_is_managed(void **state)
{
	struct fixture *f = *state;
	const char *env[] = { "GATEWAY_NETWORKS=web,mac", NULL };
	const struct vw_network nobridge = { .id = NET_C, .name = "web", .is_bridge = true };

	config(f, env);
	assert_true(vw_network_is_managed(&nets[0], &f->cfg));
	assert_false(vw_network_is_managed(&nets[1], &f->cfg)); /* not selected */
	assert_false(vw_network_is_managed(&nets[2], &f->cfg)); /* selected, not a bridge */
	assert_false(vw_network_is_managed(&nobridge, &f->cfg)); /* no host interface */
	assert_false(vw_network_is_managed(NULL, &f->cfg));
	assert_ptr_equal(vw_network_find(nets, ELEMENTSOF(nets), NET_B), &nets[1]);
	assert_null(vw_network_find(nets, ELEMENTSOF(nets), NET_C));
}

/* --- whole ruleset ------------------------------------------------------------------------ */

static void test_policy_compile_basic(void **state)
{
	struct fixture *f = *state;
	const char *l1[] = { "vpn.outbound", "198.51.100.0/24:443/tcp,198.51.100.7,web.test",
			     "vpn.allow", "192.168.1.0/24", NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", "2001:db8:1::2") };
	struct vw_endpoint e2[] = { ep(NET_A, "198.18.16.3", NULL) };
	struct vw_endpoint e3[] = { ep(NET_M, "198.18.99.3", NULL) };
	/* vpn.allow is reached by any path, the rest only through the VPN (when there is one) */
	const struct box lan4[] = { { "192.168.1.0", "192.168.1.255", ANY } };
	const struct box before4[] = {
		{ "198.51.100.0", "198.51.100.6", TCP(443, 443) },
		{ "198.51.100.7", "198.51.100.7", ANY },
		{ "198.51.100.8", "198.51.100.255", TCP(443, 443) },
	};
	const struct box after4[] = {
		{ "198.51.100.0", "198.51.100.6", TCP(443, 443) },
		{ "198.51.100.7", "198.51.100.7", ANY },
		{ "198.51.100.8", "198.51.100.9", TCP(443, 443) },
		{ "198.51.100.10", "198.51.100.10", ANY },
		{ "198.51.100.11", "198.51.100.255", TCP(443, 443) },
	};
	const struct box after6[] = { { "2001:db8:80::10", "2001:db8:80::10", ANY } };
	const struct vw_rs_container *c;
	const struct vw_name *n;
	int fam;

	config(f, NULL);
	/* given in no particular order: the ruleset sorts them by key */
	container(&f->cs[0], "3333333333333333cccc", e3, 1, l1);
	container(&f->cs[1], "2222222222222222bbbb", e2, 1, NULL);
	container(&f->cs[2], "1111111111111111aaaa", e1, 1, l1);
	compile(f, 3);

	assert_false(f->rs.dry_run);
	assert_int_equal(f->rs.log_group, 7811);
	assert_int_equal(f->rs.log_rate, 20);
	/* every bridge network is managed: all policed, nothing ignored */
	assert_string_equal(bridges(&f->rs), "br-db:P br-web:P");
	assert_int_equal(f->rs.n_ignore, 0);

	/* the container on a non-bridge network gets nothing at all */
	assert_int_equal(f->rs.n_containers, 2);
	assert_string_equal(f->rs.containers[0]->key, "1111111111111111");
	assert_string_equal(f->rs.containers[1]->key, "2222222222222222");
	assert_null(vw_ruleset_find(&f->rs, "3333333333333333"));

	/* sources sorted by (family, address), each mapped to its container's key */
	assert_int_equal(f->rs.n_sources, 3);
	assert_int_equal(f->rs.sources[0].family, AF_INET);
	assert_int_equal(f->rs.sources[0].addr[3], 2);
	assert_string_equal(f->rs.sources[0].key, "1111111111111111");
	assert_int_equal(f->rs.sources[1].family, AF_INET);
	assert_int_equal(f->rs.sources[1].addr[3], 3);
	assert_string_equal(f->rs.sources[1].key, "2222222222222222");
	assert_int_equal(f->rs.sources[2].family, AF_INET6);
	assert_ptr_equal(source(&f->rs, AF_INET6, "2001:db8:1::2"), &f->rs.sources[2]);
	assert_string_equal(f->rs.sources[2].key, "1111111111111111");
	assert_null(source(&f->rs, AF_INET, "198.18.99.3"));
	assert_null(source(&f->rs, AF_INET, "198.18.16.4"));

	c = vw_ruleset_find(&f->rs, "1111111111111111");
	assert_non_null(c);
	assert_string_equal(c->id, "1111111111111111aaaa");
	assert_string_equal(c->name, "n-111111");
	assert_false(c->audit);
	assert_string_equal(c->isolated, "");
	assert_string_equal(c->note, "");
	/* the name grants nothing until it resolves */
	assert_boxes(&c->dst[0], AF_INET, before4, ELEMENTSOF(before4));
	assert_boxes(&c->dst[1], AF_INET6, NULL, 0);
	assert_int_equal(c->dst[2].path, VW_PATH_ANY);
	assert_ptr_equal(&c->dst[vw_boxset_index(VW_PATH_ANY, AF_INET)], &c->dst[2]);
	assert_boxes(&c->dst[2], AF_INET, lan4, ELEMENTSOF(lan4));
	assert_boxes(&c->dst[3], AF_INET6, NULL, 0);
	assert_int_equal(vw_rs_container_boxes(c), 4);

	/* the unlabeled container has a chain with no boxes: everything dropped */
	c = vw_ruleset_find(&f->rs, "2222222222222222");
	assert_non_null(c);
	assert_int_equal(vw_rs_container_boxes(c), 0);
	assert_string_equal(c->isolated, "");

	/* the name is wanted and due; once it resolves, the next compile includes it */
	n = vw_names_get(&f->names, "web.test");
	assert_non_null(n);
	assert_true(n->wanted);
	assert_non_null(vw_names_next_due(&f->names, 0, &fam));
	resolve1(&f->names, "web.test", "198.51.100.10", "2001:db8:80::10");
	compile(f, 3);
	c = vw_ruleset_find(&f->rs, "1111111111111111");
	assert_boxes(&c->dst[0], AF_INET, after4, ELEMENTSOF(after4));
	assert_boxes(&c->dst[1], AF_INET6, after6, ELEMENTSOF(after6));
	assert_boxes(&c->dst[2], AF_INET, lan4, ELEMENTSOF(lan4));

	/* without the container that used it, the name is swept */
	compile(f, 2);
	assert_null(vw_names_get(&f->names, "web.test"));
	assert_int_equal(f->rs.n_containers, 1);
}

/*
 * Paths: vpn.outbound and DEFAULT_OUTBOUND only through the VPN, vpn.allow and VPN_ALLOW by
 * any path; vpn.tunnel=false puts everything of that namespace on any path.
 */
static void test_policy_paths(void **state)
{
	struct fixture *f = *state;
	const char *env[] = { "VPN_INTERFACE=wg0", "VPN_ALLOW=192.168.7.0/24",
			      "DEFAULT_OUTBOUND=198.51.100.53:53/udp", NULL };
	const char *l1[] = { "vpn.outbound", "198.51.100.7", "vpn.allow", "192.168.1.0/24", NULL };
	const char *l2[] = { "vpn.outbound", "198.51.100.7", "vpn.tunnel", "false", NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", NULL) };
	struct vw_endpoint e2[] = { ep(NET_A, "198.18.16.3", NULL) };
	const struct box vpn1[] = { { "198.51.100.7", "198.51.100.7", ANY },
				    { "198.51.100.53", "198.51.100.53", UDP(53, 53) } };
	const struct box any1[] = { { "192.168.1.0", "192.168.1.255", ANY },
				    { "192.168.7.0", "192.168.7.255", ANY } };
	const struct box any2[] = { { "192.168.7.0", "192.168.7.255", ANY },
				    { "198.51.100.7", "198.51.100.7", ANY },
				    { "198.51.100.53", "198.51.100.53", UDP(53, 53) } };
	const struct vw_rs_container *c;

	config(f, env);
	container(&f->cs[0], "1111111111111111aaaa", e1, 1, l1);
	container(&f->cs[1], "2222222222222222bbbb", e2, 1, l2);
	compile(f, 2);
	assert_string_equal(f->rs.vpn_iface, "wg0");

	c = vw_ruleset_find(&f->rs, "1111111111111111");
	assert_boxes(&c->dst[vw_boxset_index(VW_PATH_VPN, AF_INET)], AF_INET, vpn1,
		     ELEMENTSOF(vpn1));
	assert_boxes(&c->dst[vw_boxset_index(VW_PATH_ANY, AF_INET)], AF_INET, any1,
		     ELEMENTSOF(any1));
	/* opted out of the tunnel: the same destinations, every one by any path */
	c = vw_ruleset_find(&f->rs, "2222222222222222");
	assert_boxes(&c->dst[vw_boxset_index(VW_PATH_VPN, AF_INET)], AF_INET, NULL, 0);
	assert_boxes(&c->dst[vw_boxset_index(VW_PATH_ANY, AF_INET)], AF_INET, any2,
		     ELEMENTSOF(any2));
}

static void test_policy_compile_ports(void **state)
{
	struct fixture *f = *state;
	const char *l[] = { "vpn.outbound",
			    "198.51.100.8:8000-8100/udp,198.51.100.9:53,[2001:db8::1]:443/tcp,"
			    "198.51.100.20:80/tcp,198.51.100.21:80/tcp,"
			    "198.51.100.30:80-90/tcp,198.51.100.30:91-100/tcp,"
			    "198.51.100.40:22/tcp,198.51.100.40",
			    NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", NULL) };
	const struct box want4[] = {
		{ "198.51.100.8", "198.51.100.8", UDP(8000, 8100) },
		/* a port without protocol: both, TCP (6) sorted before UDP (17) */
		{ "198.51.100.9", "198.51.100.9", TCP(53, 53) },
		{ "198.51.100.9", "198.51.100.9", UDP(53, 53) },
		/* neighbouring addresses with the same ports merge */
		{ "198.51.100.20", "198.51.100.21", TCP(80, 80) },
		/* adjacent port ranges merge */
		{ "198.51.100.30", "198.51.100.30", TCP(80, 100) },
		/* any protocol swallows a port scope */
		{ "198.51.100.40", "198.51.100.40", ANY },
	};
	const struct box want6[] = { { "2001:db8::1", "2001:db8::1", TCP(443, 443) } };
	const struct vw_rs_container *c;

	config(f, NULL);
	container(&f->cs[0], "1111111111111111aaaa", e1, 1, l);
	compile(f, 1);
	c = vw_ruleset_find(&f->rs, "1111111111111111");
	assert_non_null(c);
	assert_boxes(&c->dst[0], AF_INET, want4, ELEMENTSOF(want4));
	assert_boxes(&c->dst[1], AF_INET6, want6, ELEMENTSOF(want6));
}

static void test_policy_overlap_decomposed(void **state)
{
	struct fixture *f = *state;
	const char *l[] = { "vpn.outbound",
			    "198.51.100.0/24:443/tcp,198.51.100.7,198.51.100.0/25:80-90,"
			    "2001:db8::/32:443/tcp,[2001:db8::1]",
			    NULL };
	const char *reversed[] = { "vpn.outbound",
				   "[2001:db8::1],2001:db8::/32:443/tcp,198.51.100.0/25:80-90,"
				   "198.51.100.7,198.51.100.0/24:443/tcp",
				   NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", NULL) };
	struct vw_endpoint e2[] = { ep(NET_A, "198.18.16.3", NULL) };
	const struct box want4[] = {
		{ "198.51.100.0", "198.51.100.6", TCP(80, 90) },
		{ "198.51.100.0", "198.51.100.6", TCP(443, 443) },
		{ "198.51.100.0", "198.51.100.6", UDP(80, 90) },
		{ "198.51.100.7", "198.51.100.7", ANY },
		{ "198.51.100.8", "198.51.100.127", TCP(80, 90) },
		{ "198.51.100.8", "198.51.100.127", TCP(443, 443) },
		{ "198.51.100.8", "198.51.100.127", UDP(80, 90) },
		{ "198.51.100.128", "198.51.100.255", TCP(443, 443) },
	};
	const struct box want6[] = {
		{ "2001:db8::", "2001:db8::", TCP(443, 443) },
		{ "2001:db8::1", "2001:db8::1", ANY },
		{ "2001:db8::2", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", TCP(443, 443) },
	};
	const struct vw_rs_container *c, *d;
	const struct vw_box *b;
	uint8_t a[16];
	size_t n;

	config(f, NULL);
	container(&f->cs[0], "1111111111111111aaaa", e1, 1, l);
	container(&f->cs[1], "2222222222222222bbbb", e2, 1, reversed);
	compile(f, 2);
	c = vw_ruleset_find(&f->rs, "1111111111111111");
	assert_non_null(c);
	assert_boxes(&c->dst[0], AF_INET, want4, ELEMENTSOF(want4));
	assert_boxes(&c->dst[1], AF_INET6, want6, ELEMENTSOF(want6));

	/* the order of the entries does not matter */
	d = vw_ruleset_find(&f->rs, "2222222222222222");
	assert_non_null(d);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(d->dst[i].n, c->dst[i].n);
		assert_memory_equal(d->dst[i].v, c->dst[i].v, c->dst[i].n * sizeof(*c->dst[i].v));
	}

	/* lookups: the stretch of an address, and the box holding a packet */
	pton(AF_INET, "198.51.100.50", a);
	b = vw_boxset_stretch(&c->dst[0], a, &n);
	assert_int_equal(n, 3);
	assert_ptr_equal(b, &c->dst[0].v[4]);
	assert_ptr_equal(vw_boxset_find(&c->dst[0], a, IPPROTO_UDP, 85), &c->dst[0].v[6]);
	assert_ptr_equal(vw_boxset_find(&c->dst[0], a, IPPROTO_TCP, 443), &c->dst[0].v[5]);
	assert_null(vw_boxset_find(&c->dst[0], a, IPPROTO_UDP, 443));
	assert_null(vw_boxset_find(&c->dst[0], a, IPPROTO_ICMP, 0));
	pton(AF_INET, "198.51.100.7", a);
	assert_ptr_equal(vw_boxset_find(&c->dst[0], a, IPPROTO_ICMP, 0), &c->dst[0].v[3]);
	pton(AF_INET, "198.51.100.200", a);
	assert_ptr_equal(vw_boxset_find(&c->dst[0], a, IPPROTO_TCP, 443), &c->dst[0].v[7]);
	assert_null(vw_boxset_find(&c->dst[0], a, IPPROTO_TCP, 85));
	pton(AF_INET, "198.51.101.0", a);
	assert_null(vw_boxset_stretch(&c->dst[0], a, &n));
	assert_int_equal(n, 0);
}

static void test_policy_whole_space(void **state)
{
	struct fixture *f = *state;
	const char *any[] = { "vpn.outbound", "198.51.100.7:443/tcp,0.0.0.0/0", NULL };
	/* equal coverage on both sides of a breakpoint is one box */
	const char *dns[] = { "vpn.outbound", "10.0.0.0/8:53/udp,0.0.0.0/0:53/udp,::/0:53/udp",
			      NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", NULL) };
	struct vw_endpoint e2[] = { ep(NET_A, "198.18.16.3", NULL) };
	const struct box want_any[] = { { "0.0.0.0", "255.255.255.255", ANY } };
	const struct box want_dns4[] = { { "0.0.0.0", "255.255.255.255", UDP(53, 53) } };
	const struct box want_dns6[] = { { "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
					   UDP(53, 53) } };

	config(f, NULL);
	container(&f->cs[0], "1111111111111111aaaa", e1, 1, any);
	container(&f->cs[1], "2222222222222222bbbb", e2, 1, dns);
	compile(f, 2);
	assert_boxes(&vw_ruleset_find(&f->rs, "1111111111111111")->dst[0], AF_INET, want_any,
		     ELEMENTSOF(want_any));
	assert_boxes(&vw_ruleset_find(&f->rs, "1111111111111111")->dst[1], AF_INET6, NULL, 0);
	assert_boxes(&vw_ruleset_find(&f->rs, "2222222222222222")->dst[0], AF_INET, want_dns4,
		     ELEMENTSOF(want_dns4));
	assert_boxes(&vw_ruleset_find(&f->rs, "2222222222222222")->dst[1], AF_INET6, want_dns6,
		     ELEMENTSOF(want_dns6));
}

/* --- settings ---------------------------------------------------------------------------- */

static void test_policy_settings_dry_run(void **state)
{
	struct fixture *f = *state;
	const char *env[] = { "GATEWAY_NETWORKS=!db", "DEFAULT_OUTBOUND=198.51.100.53:53",
			      "DRY_RUN=true", NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", NULL),
				    ep(NET_B, "198.18.17.2", NULL) };
	const struct box want[] = {
		{ "198.51.100.53", "198.51.100.53", TCP(53, 53) },
		{ "198.51.100.53", "198.51.100.53", UDP(53, 53) },
	};
	const struct vw_rs_container *c;

	config(f, env);
	container(&f->cs[0], "1111111111111111aaaa", e1, 2, NULL);
	compile(f, 1);
	assert_true(f->rs.dry_run);
	/* the excluded network's bridge is left alone, and its address not dispatched */
	assert_string_equal(bridges(&f->rs), "br-db:- br-web:P");
	assert_int_equal(f->rs.n_sources, 1);
	assert_non_null(source(&f->rs, AF_INET, "198.18.16.2"));
	assert_null(source(&f->rs, AF_INET, "198.18.17.2"));
	c = vw_ruleset_find(&f->rs, "1111111111111111");
	assert_non_null(c);
	assert_true(c->audit);
	/* DEFAULT_OUTBOUND :53 -> tcp and udp */
	assert_boxes(&c->dst[0], AF_INET, want, ELEMENTSOF(want));
}

static void test_policy_dryrun_label(void **state)
{
	struct fixture *f = *state;
	const char *env[] = { "NFLOG_GROUP=off", "AUDIT_RATE=5", "DNS_PROXY_RATE=7", NULL };
	const char *dry[] = { "vpn.dryrun", "true", "vpn.outbound", "198.51.100.7", NULL };
	const char *wet[] = { "vpn.dryrun", "false", NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", NULL) };
	struct vw_endpoint e2[] = { ep(NET_A, "198.18.16.3", NULL) };
	struct vw_endpoint e3[] = { ep(NET_A, "198.18.16.4", NULL) };

	config(f, env);
	container(&f->cs[0], "1111111111111111aaaa", e1, 1, dry);
	container(&f->cs[1], "2222222222222222bbbb", e2, 1, wet);
	container(&f->cs[2], "3333333333333333cccc", e3, 1, NULL);
	compile(f, 3);
	/* only that container is audited; unknown sources are still dropped */
	assert_false(f->rs.dry_run);
	assert_int_equal(f->rs.log_group, 0);
	assert_int_equal(f->rs.log_rate, 5);
	assert_int_equal(f->rs.dns_rate, 7);
	assert_true(vw_ruleset_find(&f->rs, "1111111111111111")->audit);
	assert_int_equal(vw_rs_container_boxes(vw_ruleset_find(&f->rs, "1111111111111111")), 1);
	assert_false(vw_ruleset_find(&f->rs, "2222222222222222")->audit);
	assert_false(vw_ruleset_find(&f->rs, "3333333333333333")->audit);
}

static void test_policy_gateway_networks_skip(void **state)
{
	struct fixture *f = *state;
	const char *include[] = { "GATEWAY_NETWORKS=web", NULL };
	const struct vw_network more[] = {
		{ .id = NET_A, .name = "web", .bridge = "br-web", .is_bridge = true },
		{ .id = NET_B, .name = "db", .bridge = "br-db", .is_bridge = true },
		{ .id = NET_C, .name = "alpha", .bridge = "br-alpha", .is_bridge = true },
		/* a second network naming the same bridge */
		{ .id = NET_D, .name = "db-again", .bridge = "br-db", .is_bridge = true },
		{ .id = NET_M, .name = "mac", .bridge = "", .is_bridge = false },
		{ .id = NET_N, .name = "nobr", .bridge = "", .is_bridge = true },
	};
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", NULL),
				    ep(NET_C, "198.18.18.2", NULL) };
	const struct vw_container *v[] = { &f->cs[0] };

	container(&f->cs[0], "1111111111111111aaaa", e1, 2, NULL);

	/* no setting: every bridge network is managed, each bridge once */
	config(f, NULL);
	assert_int_equal(
		vw_policy_compile(v, 1, more, ELEMENTSOF(more), &f->cfg, &f->names, 0, &f->rs), 0);
	assert_string_equal(bridges(&f->rs), "br-alpha:P br-db:P br-web:P");
	assert_int_equal(f->rs.n_sources, 2);
	vw_ruleset_done(&f->rs);

	/* an explicit list manages exactly those: the other bridges are left alone */
	config(f, include);
	assert_int_equal(
		vw_policy_compile(v, 1, more, ELEMENTSOF(more), &f->cfg, &f->names, 0, &f->rs), 0);
	assert_string_equal(bridges(&f->rs), "br-alpha:- br-db:- br-web:P");
	vw_ruleset_done(&f->rs);

	/* a bridge named by a managed and an unmanaged network is policed */
	const char *db_again[] = { "GATEWAY_NETWORKS=web,db-again", NULL };

	config(f, db_again);
	assert_int_equal(
		vw_policy_compile(v, 1, more, ELEMENTSOF(more), &f->cfg, &f->names, 0, &f->rs), 0);
	assert_string_equal(bridges(&f->rs), "br-alpha:- br-db:P br-web:P");
	assert_int_equal(f->rs.n_sources, 1);
	assert_non_null(source(&f->rs, AF_INET, "198.18.16.2"));
	assert_null(source(&f->rs, AF_INET, "198.18.18.2"));
	assert_non_null(vw_ruleset_find(&f->rs, "1111111111111111"));
}

static void test_policy_ignore_bridges(void **state)
{
	struct fixture *f = *state;
	const char *env[] = { "IGNORE_BRIDGES=virbr+,lxcbr0", NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", NULL) };

	container(&f->cs[0], "1111111111111111aaaa", e1, 1, NULL);
	config(f, env);
	compile(f, 1);
	/* the ruleset holds its own copy: it outlives the settings */
	vw_config_done(&f->cfg);
	f->has_cfg = false;
	assert_int_equal(f->rs.n_ignore, 2);
	assert_string_equal(f->rs.ignore[0], "virbr+");
	assert_string_equal(f->rs.ignore[1], "lxcbr0");
	/* ignoring host bridges does not change which Docker networks are managed */
	assert_string_equal(bridges(&f->rs), "br-db:P br-web:P");
	assert_int_equal(f->rs.n_containers, 1);
	assert_int_equal(f->rs.n_sources, 1);
}

/* --- fail closed -------------------------------------------------------------------------- */

static void test_policy_optout_exempt(void **state)
{
	struct fixture *f = *state;
	const char *optout[] = { "vpn.enable", "false", "vpn.outbound", "198.51.100.7", NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.4", "2001:db8:1::4"),
				    ep(NET_M, "198.18.99.4", NULL) };
	struct vw_endpoint e2[] = { ep(NET_A, "198.18.16.5", NULL) };

	config(f, NULL);
	container(&f->cs[0], "3333333333333333cccc", e1, 2, optout);
	container(&f->cs[1], "4444444444444444dddd", e2, 1, NULL);
	compile(f, 2);
	/* exempt: its addresses on managed networks map to no container, and it has no chain */
	assert_int_equal(f->rs.n_sources, 3);
	assert_string_equal(source(&f->rs, AF_INET, "198.18.16.4")->key, "");
	assert_string_equal(source(&f->rs, AF_INET6, "2001:db8:1::4")->key, "");
	assert_null(source(&f->rs, AF_INET, "198.18.99.4"));
	assert_null(vw_ruleset_find(&f->rs, "3333333333333333"));
	assert_int_equal(f->rs.n_containers, 1);
	assert_string_equal(source(&f->rs, AF_INET, "198.18.16.5")->key, "4444444444444444");
}

static void test_policy_fail_closed_address_claimed_twice(void **state)
{
	struct fixture *f = *state;
	const char *allow[] = { "vpn.outbound", "198.51.100.10", NULL };
	const char *optout[] = { "vpn.enable", "false", NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", "2001:db8:1::2") };
	struct vw_endpoint e2[] = { ep(NET_B, "198.18.16.2", NULL) };
	struct vw_endpoint e3[] = { ep(NET_A, "198.18.16.6", NULL) };
	struct vw_endpoint e4[] = { ep(NET_A, "198.18.16.6", NULL) };
	struct vw_endpoint e5[] = { ep(NET_A, "198.18.16.7", NULL) };

	config(f, NULL);
	/* two containers claim one address (stale data): neither gets it */
	container(&f->cs[0], "1111111111111111aaaa", e1, 1, allow);
	container(&f->cs[1], "2222222222222222bbbb", e2, 1, allow);
	/* an opted-out container claims a managed one's address: not exempt, not dispatched */
	container(&f->cs[2], "3333333333333333cccc", e3, 1, optout);
	container(&f->cs[3], "4444444444444444dddd", e4, 1, NULL);
	container(&f->cs[4], "5555555555555555eeee", e5, 1, NULL);
	compile(f, 5);
	assert_null(source(&f->rs, AF_INET, "198.18.16.2"));
	assert_null(source(&f->rs, AF_INET, "198.18.16.6"));
	/* the other addresses, and the containers' chains, stay */
	assert_string_equal(source(&f->rs, AF_INET6, "2001:db8:1::2")->key, "1111111111111111");
	assert_string_equal(source(&f->rs, AF_INET, "198.18.16.7")->key, "5555555555555555");
	assert_int_equal(f->rs.n_sources, 2);
	assert_non_null(vw_ruleset_find(&f->rs, "1111111111111111"));
	assert_non_null(vw_ruleset_find(&f->rs, "2222222222222222"));
	assert_non_null(vw_ruleset_find(&f->rs, "4444444444444444"));

	/* a stopped container is not dispatched at all, and no longer conflicts */
	f->cs[1].running = false;
	f->cs[4].running = false;
	compile(f, 5);
	assert_string_equal(source(&f->rs, AF_INET, "198.18.16.2")->key, "1111111111111111");
	assert_null(source(&f->rs, AF_INET, "198.18.16.7"));
	assert_null(vw_ruleset_find(&f->rs, "2222222222222222"));
	assert_null(vw_ruleset_find(&f->rs, "5555555555555555"));
}

static void test_policy_fail_closed_key_collision(void **state)
{
	struct fixture *f = *state;
	const char *allow[] = { "vpn.outbound", "198.51.100.10", NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", "2001:db8:1::2") };
	struct vw_endpoint e2[] = { ep(NET_A, "198.18.16.3", NULL) };
	struct vw_endpoint e3[] = { ep(NET_A, "198.18.16.4", NULL) };

	config(f, NULL);
	/* the first 16 digits are equal: no chain could tell them apart */
	container(&f->cs[0], "1111111111111111bbbb", e1, 1, allow);
	container(&f->cs[1], "2222222222222222cccc", e3, 1, allow);
	container(&f->cs[2], "1111111111111111aaaa", e2, 1, allow);
	compile(f, 3);
	assert_int_equal(f->rs.n_containers, 1);
	assert_null(vw_ruleset_find(&f->rs, "1111111111111111"));
	/* their sources are dropped: their packets hit the unknown-source drop */
	assert_null(source(&f->rs, AF_INET, "198.18.16.2"));
	assert_null(source(&f->rs, AF_INET6, "2001:db8:1::2"));
	assert_null(source(&f->rs, AF_INET, "198.18.16.3"));
	/* the others are unaffected */
	assert_int_equal(f->rs.n_sources, 1);
	assert_string_equal(source(&f->rs, AF_INET, "198.18.16.4")->key, "2222222222222222");
	assert_int_equal(vw_rs_container_boxes(vw_ruleset_find(&f->rs, "2222222222222222")), 1);

	/* a stopped container sharing the prefix collides with nobody */
	vw_ruleset_done(&f->rs);
	f->cs[0].running = false;
	compile(f, 3);
	assert_non_null(vw_ruleset_find(&f->rs, "1111111111111111"));
	assert_string_equal(source(&f->rs, AF_INET, "198.18.16.3")->key, "1111111111111111");
}

/* --- entries: joined containers, order, quota -------------------------------------------- */

struct seen {
	char text[48][300];
	const char *origin[48];
	const char *container[48];
	bool granted[48];
	size_t n;
	size_t stop_at; /* 0: never */
};

static int record(void *ud, const struct vw_entry_ref *e)
{
	struct seen *s = ud;

	assert_true(s->n < ELEMENTSOF(s->text));
	vw_dst_format(e->dst, s->text[s->n], sizeof(s->text[s->n]));
	s->origin[s->n] = e->origin;
	s->container[s->n] = e->container;
	s->granted[s->n] = e->granted;
	s->n++;
	return s->stop_at && s->n == s->stop_at ? -EIO : 0;
}

static void assert_seen(const struct seen *s, size_t i, const char *origin, const char *container,
			const char *text, bool granted)
{
	assert_true(i < s->n);
	assert_string_equal(s->origin[i], origin);
	if (container)
		assert_string_equal(s->container[i], container);
	else
		assert_null(s->container[i]);
	assert_string_equal(s->text[i], text);
	assert_int_equal(s->granted[i], granted);
}

static void test_policy_entries_order(void **state)
{
	struct fixture *f = *state;
	const char *env[] = { "DEFAULT_OUTBOUND=198.51.100.53:53,dns.test", NULL };
	const char *own[] = {
		"vpn.allow", "10.0.0.0/8", "vpn.outbound", "198.51.100.1", "dockerwall.outbound",
		"own.test",  NULL
	};
	const char *la[] = { "vpn.outbound", "198.51.100.2", "vpn.allow", "10.1.0.0/16", NULL };
	const char *lb[] = { "vpn.outbound", "*.b.test", NULL };
	const struct vw_container *sharers[] = { &f->cs[1], &f->cs[2] };
	struct seen s = { 0 };

	config(f, env);
	container(&f->cs[0], "1111111111111111aaaa", NULL, 0, own);
	container(&f->cs[1], "2222222222222222bbbb", NULL, 0, la);
	container(&f->cs[2], "3333333333333333cccc", NULL, 0, lb);

	/* own vpn.outbound (alias included), own vpn.allow, each sharer's in turn, defaults */
	assert_int_equal(vw_policy_entries(&f->cs[0], sharers, 2, &f->cfg, record, &s), 0);
	assert_int_equal(s.n, 8);
	assert_seen(&s, 0, "vpn.outbound", "n-111111", "198.51.100.1", true);
	assert_seen(&s, 1, "vpn.outbound", "n-111111", "own.test", true);
	assert_seen(&s, 2, "vpn.allow", "n-111111", "10.0.0.0/8", true);
	assert_seen(&s, 3, "vpn.outbound", "n-222222", "198.51.100.2", true);
	assert_seen(&s, 4, "vpn.allow", "n-222222", "10.1.0.0/16", true);
	assert_seen(&s, 5, "vpn.outbound", "n-333333", "*.b.test", true);
	assert_seen(&s, 6, "DEFAULT_OUTBOUND", NULL, "198.51.100.53:53", true);
	assert_seen(&s, 7, "DEFAULT_OUTBOUND", NULL, "dns.test", true);

	/* the sharers in the order given */
	sharers[0] = &f->cs[2];
	sharers[1] = &f->cs[1];
	memset(&s, 0, sizeof(s));
	assert_int_equal(vw_policy_entries(&f->cs[0], sharers, 2, &f->cfg, record, &s), 0);
	assert_seen(&s, 3, "vpn.outbound", "n-333333", "*.b.test", true);
	assert_seen(&s, 4, "vpn.outbound", "n-222222", "198.51.100.2", true);

	/* the first negative value of the callback stops the walk and is returned */
	memset(&s, 0, sizeof(s));
	s.stop_at = 4;
	assert_int_equal(vw_policy_entries(&f->cs[0], sharers, 2, &f->cfg, record, &s), -EIO);
	assert_int_equal(s.n, 4);
}

/* A query may grant what the entries naming it, exactly or by wildcard, allow. */
static void test_policy_name_grants(void **state)
{
	struct fixture *f = *state;
	const char *env[] = { "DEFAULT_OUTBOUND=*.cdn.test:443/tcp", "VPN_INTERFACE=wg0", NULL };
	const char *own[] = { "vpn.outbound", "api.test:443/tcp,*.b.test", NULL };
	struct vw_name_grant g[4];

	config(f, env);
	container(&f->cs[0], "1111111111111111aaaa", NULL, 0, own);
	assert_int_equal(vw_policy_name_grants(&f->cs[0], NULL, 0, &f->cfg, "api.test", g, 4), 1);
	assert_int_equal(g[0].path, VW_PATH_VPN);
	assert_int_equal(g[0].protos, VW_PROTO_TCP);
	assert_int_equal(g[0].port_lo, 443);
	assert_int_equal(vw_policy_name_grants(&f->cs[0], NULL, 0, &f->cfg, "x.y.b.test", g, 4), 1);
	assert_int_equal(g[0].protos, 0);
	assert_int_equal(vw_policy_name_grants(&f->cs[0], NULL, 0, &f->cfg, "a.cdn.test", g, 4), 1);
	/* a wildcard is for names below it; the others are not the container's to resolve */
	assert_int_equal(vw_policy_name_grants(&f->cs[0], NULL, 0, &f->cfg, "b.test", g, 4), 0);
	assert_int_equal(vw_policy_name_grants(&f->cs[0], NULL, 0, &f->cfg, "evilb.test", g, 4), 0);
	assert_int_equal(vw_policy_name_grants(&f->cs[0], NULL, 0, &f->cfg, "api.test.evil", g, 4),
			 0);
	/* vpn.tunnel=false: its outbound names by any path too */
	f->cs[0].labels.no_tunnel = true;
	assert_int_equal(vw_policy_name_grants(&f->cs[0], NULL, 0, &f->cfg, "api.test", g, 4), 1);
	assert_int_equal(g[0].path, VW_PATH_ANY);
}

static void test_policy_joined_labels(void **state)
{
	struct fixture *f = *state;
	const char *s1[] = { "vpn.outbound", "198.51.100.11", "vpn.enable", "false", NULL };
	const char *s2[] = { "vpn.allow", "198.51.100.13", NULL };
	const char *s3[] = { "vpn.outbound", "198.51.100.15", NULL };
	const char *s4[] = { "vpn.outbound", "198.51.100.17", NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.5", NULL) };
	struct vw_endpoint e2[] = { ep(NET_A, "198.18.16.6", NULL) };
	const struct box want[] = { { "198.51.100.11", "198.51.100.11", ANY } };
	const struct box lan[] = { { "198.51.100.13", "198.51.100.13", ANY } };
	const struct vw_rs_container *c;

	config(f, NULL);
	/* the owner of a namespace has no labels of its own */
	container(&f->cs[0], "6666666666666666eeee", NULL, 0, s2);
	container(&f->cs[1], "4444444444444444dddd", e1, 1, NULL);
	/* a sharer's opt-out has no effect: its packets carry the owner's address */
	container(&f->cs[2], "5555555555555555eeee", NULL, 0, s1);
	/* a stopped sharer adds nothing */
	container(&f->cs[3], "7777777777777777ffff", NULL, 0, s3);
	f->cs[3].running = false;
	/* a sharer of a container that is not in the list (gone) adds nothing either */
	container(&f->cs[4], "8888888888888888aaaa", NULL, 0, s4);
	container(&f->cs[5], "9999999999999999aaaa", e2, 1, NULL);
	for (size_t i = 0; i < 4; i++)
		if (i != 1)
			(void)vw_strscpy(f->cs[i].netns_owner, f->cs[1].id,
					 sizeof(f->cs[i].netns_owner));
	(void)vw_strscpy(f->cs[4].netns_owner, "0000000000000000ffff",
			 sizeof(f->cs[4].netns_owner));
	compile(f, 6);

	c = vw_ruleset_find(&f->rs, "4444444444444444");
	assert_non_null(c);
	assert_boxes(&c->dst[0], AF_INET, want, ELEMENTSOF(want));
	assert_boxes(&c->dst[2], AF_INET, lan, ELEMENTSOF(lan));
	/* sharers have no address and no chain of their own */
	assert_int_equal(f->rs.n_containers, 2);
	assert_null(vw_ruleset_find(&f->rs, "5555555555555555"));
	assert_null(vw_ruleset_find(&f->rs, "6666666666666666"));
	assert_null(vw_ruleset_find(&f->rs, "8888888888888888"));
	assert_int_equal(f->rs.n_sources, 2);
	assert_string_equal(source(&f->rs, AF_INET, "198.18.16.5")->key, "4444444444444444");
	/* another container's labels do not leak in */
	assert_int_equal(vw_rs_container_boxes(vw_ruleset_find(&f->rs, "9999999999999999")), 0);

	/* when the owner stops, its sharers' labels go with it */
	f->cs[1].running = false;
	compile(f, 6);
	assert_int_equal(f->rs.n_containers, 1);
	assert_null(vw_ruleset_find(&f->rs, "4444444444444444"));
}

/* "n01.test" ... : @n distinct names, comma-separated, starting at @first. */
static void names_value(char *buf, size_t size, unsigned first, unsigned n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned i = first; i < first + n; i++) {
		len += (size_t)snprintf(buf + len, size - len, "%sn%02u.test", len ? "," : "", i);
		assert_true(len < size);
	}
}

static void test_policy_name_quota(void **state)
{
	struct fixture *f = *state;
	const char *env[] = { "DEFAULT_OUTBOUND=dflt.test", NULL };
	char v33[512], v[600];
	const char *l[] = { "vpn.outbound", v, NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", NULL) };
	const struct box want[] = { { "203.0.113.1", "203.0.113.32", ANY } };
	const struct box want_dflt[] = { { "192.0.2.53", "192.0.2.53", ANY },
					 { "203.0.113.1", "203.0.113.32", ANY } };
	struct seen s = { 0 };
	char a[32];

	config(f, env);
	names_value(v33, sizeof(v33), 1, VW_CONTAINER_NAMES_MAX + 1);
	/*
	 * 33 distinct names, then the first again (counts once), a wildcard (not a name) and a
	 * 34th name.
	 */
	snprintf(v, sizeof(v), "%s,n01.test:443/tcp,*.w.test,n34.test", v33);
	container(&f->cs[0], "1111111111111111aaaa", e1, 1, l);
	for (unsigned i = 1; i <= 34; i++) {
		char name[16];

		snprintf(name, sizeof(name), "n%02u.test", i);
		snprintf(a, sizeof(a), "203.0.113.%u", i);
		resolve1(&f->names, name, a, NULL);
	}
	resolve1(&f->names, "dflt.test", "192.0.2.53", NULL);

	assert_int_equal(vw_policy_entries(&f->cs[0], NULL, 0, &f->cfg, record, &s), 0);
	assert_int_equal(s.n, 37);
	for (size_t i = 0; i < VW_CONTAINER_NAMES_MAX; i++)
		assert_true(s.granted[i]);
	assert_seen(&s, 32, "vpn.outbound", "n-111111", "n33.test", false);
	assert_seen(&s, 33, "vpn.outbound", "n-111111", "n01.test:443/tcp", true);
	assert_seen(&s, 34, "vpn.outbound", "n-111111", "*.w.test", true);
	assert_seen(&s, 35, "vpn.outbound", "n-111111", "n34.test", false);
	/* DEFAULT_OUTBOUND names do not count against a container's quota */
	assert_seen(&s, 36, "DEFAULT_OUTBOUND", NULL, "dflt.test", true);

	/* names beyond the quota grant nothing even when resolved, and are noted */
	compile_one(f, &f->cs[0], NULL, 0, &f->names, VW_CONTAINER_COST_MAX);
	assert_string_equal(f->rc.isolated, "");
	assert_string_equal(f->rc.note, "2 entries with names beyond the first 32 grant nothing");
	assert_boxes(&f->rc.dst[0], AF_INET, want_dflt, ELEMENTSOF(want_dflt));

	/* the whole ruleset neither grants nor resolves them */
	compile(f, 1);
	assert_non_null(vw_names_get(&f->names, "n32.test"));
	assert_null(vw_names_get(&f->names, "n33.test"));
	assert_null(vw_names_get(&f->names, "n34.test"));
	assert_non_null(vw_names_get(&f->names, "dflt.test"));
	assert_string_equal(vw_ruleset_find(&f->rs, "1111111111111111")->note,
			    "2 entries with names beyond the first 32 grant nothing");

	/* one name beyond: noted in the singular */
	snprintf(v, sizeof(v), "%s", v33);
	container(&f->cs[0], "1111111111111111aaaa", e1, 1, l);
	config(f, NULL);
	resolve1(&f->names, "n33.test", "203.0.113.33", NULL);
	compile_one(f, &f->cs[0], NULL, 0, &f->names, VW_CONTAINER_COST_MAX);
	assert_boxes(&f->rc.dst[0], AF_INET, want, ELEMENTSOF(want));
	assert_non_null(strstr(f->rc.note, "1 entry with names beyond the first 32"));

	/* exactly the quota: nothing noted */
	names_value(v, sizeof(v), 1, VW_CONTAINER_NAMES_MAX);
	container(&f->cs[0], "1111111111111111aaaa", e1, 1, l);
	compile_one(f, &f->cs[0], NULL, 0, &f->names, VW_CONTAINER_COST_MAX);
	assert_boxes(&f->rc.dst[0], AF_INET, want, ELEMENTSOF(want));
	assert_string_equal(f->rc.note, "");
}

static void test_policy_name_quota_shared(void **state)
{
	struct fixture *f = *state;
	char v31[512];
	const char *own[] = { "vpn.outbound", v31, NULL };
	const char *early[] = { "vpn.outbound", "early.test", NULL };
	const char *late[] = { "vpn.outbound", "late.test", NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", NULL) };
	const struct vw_rs_container *c;

	config(f, NULL);
	names_value(v31, sizeof(v31), 1, VW_CONTAINER_NAMES_MAX - 1);
	/*
	 * The owner and its sharers share one quota; sharers come in id order whatever the
	 * input order, so the lower id gets the last slot.
	 */
	container(&f->cs[0], "6666666666666666aaaa", NULL, 0, late);
	container(&f->cs[1], "4444444444444444aaaa", e1, 1, own);
	container(&f->cs[2], "5555555555555555aaaa", NULL, 0, early);
	(void)vw_strscpy(f->cs[0].netns_owner, f->cs[1].id, sizeof(f->cs[0].netns_owner));
	(void)vw_strscpy(f->cs[2].netns_owner, f->cs[1].id, sizeof(f->cs[2].netns_owner));
	compile(f, 3);
	assert_non_null(vw_names_get(&f->names, "n31.test"));
	assert_non_null(vw_names_get(&f->names, "early.test"));
	assert_null(vw_names_get(&f->names, "late.test"));
	c = vw_ruleset_find(&f->rs, "4444444444444444");
	assert_non_null(c);
	assert_non_null(strstr(c->note, "1 entry with names beyond the first 32"));

	/* the other way round */
	(void)vw_strscpy(f->cs[0].id, "5555555555555555bbbb", sizeof(f->cs[0].id));
	(void)vw_strscpy(f->cs[2].id, "6666666666666666bbbb", sizeof(f->cs[2].id));
	compile(f, 3);
	assert_null(vw_names_get(&f->names, "early.test"));
	assert_non_null(vw_names_get(&f->names, "late.test"));
}

/* --- budget ------------------------------------------------------------------------------ */

/* big.test: 64 IPv4 and 64 IPv6 addresses, none adjacent to another. */
static void resolve_big(struct vw_names *ns)
{
	uint8_t a4[VW_NAME_ADDRS_MAX][16], a6[VW_NAME_ADDRS_MAX][16];

	memset(a4, 0, sizeof(a4));
	memset(a6, 0, sizeof(a6));
	for (size_t i = 0; i < VW_NAME_ADDRS_MAX; i++) {
		pton(AF_INET, "10.0.0.0", a4[i]);
		a4[i][3] = (uint8_t)(2 * i + 2);
		pton(AF_INET6, "2001:db8::", a6[i]);
		a6[i][15] = (uint8_t)(2 * i + 2);
	}
	resolve(ns, "big.test", (const uint8_t(*)[16])a4, VW_NAME_ADDRS_MAX,
		(const uint8_t(*)[16])a6, VW_NAME_ADDRS_MAX);
}

/* "big.test:1,big.test:3,...": @n entries of one port each, TCP and UDP. */
static void big_value(char *buf, size_t size, unsigned n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		len += (size_t)snprintf(buf + len, size - len, "%sbig.test:%u", len ? "," : "",
					2 * i + 1);
		assert_true(len < size);
	}
}

static void test_policy_box_budget(void **state)
{
	struct fixture *f = *state;
	char v[512];
	const char *big[] = { "vpn.outbound", v, "vpn.dryrun", "true", NULL };
	const char *small[] = { "vpn.outbound", "198.51.100.7", NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", NULL) };
	struct vw_endpoint e2[] = { ep(NET_A, "198.18.16.3", NULL) };
	const struct box want[] = { { "198.51.100.7", "198.51.100.7", ANY } };
	const struct vw_rs_container *c;
	const size_t per_entry = 2 * 2 * VW_NAME_ADDRS_MAX; /* protocols x families x addresses */

	config(f, NULL);
	resolve_big(&f->names);

	/* exactly the budget: 16 entries x 256 boxes */
	big_value(v, sizeof(v), VW_CONTAINER_COST_MAX / per_entry);
	container(&f->cs[0], "1111111111111111aaaa", e1, 1, big);
	container(&f->cs[1], "2222222222222222bbbb", e2, 1, small);
	compile(f, 2);
	c = vw_ruleset_find(&f->rs, "1111111111111111");
	assert_string_equal(c->isolated, "");
	assert_int_equal(vw_rs_container_boxes(c), VW_CONTAINER_COST_MAX);
	assert_sorted_disjoint(&c->dst[0]);
	assert_sorted_disjoint(&c->dst[1]);

	/* one entry more needs more than the budget: isolated, it reaches nothing at all */
	big_value(v, sizeof(v), VW_CONTAINER_COST_MAX / per_entry + 1);
	container(&f->cs[0], "1111111111111111aaaa", e1, 1, big);
	compile(f, 2);
	c = vw_ruleset_find(&f->rs, "1111111111111111");
	assert_non_null(c);
	assert_string_equal(c->isolated, "its destinations need more than 4096 kernel range rules");
	assert_int_equal(c->dst[0].n, 0);
	assert_int_equal(c->dst[1].n, 0);
	assert_true(c->audit);
	assert_string_equal(c->note, "");
	/* still dispatched to its own (empty) chain, not exempt */
	assert_string_equal(source(&f->rs, AF_INET, "198.18.16.2")->key, "1111111111111111");
	assert_non_null(vw_names_get(&f->names, "big.test"));

	/* the other container is unaffected */
	c = vw_ruleset_find(&f->rs, "2222222222222222");
	assert_string_equal(c->isolated, "");
	assert_boxes(&c->dst[0], AF_INET, want, ELEMENTSOF(want));

	/* with a larger budget the same policy compiles whole */
	compile_one(f, &f->cs[0], NULL, 0, &f->names, SIZE_MAX);
	assert_string_equal(f->rc.isolated, "");
	assert_int_equal(f->rc.dst[0].n, per_entry / 2 + VW_CONTAINER_COST_MAX / 2);
	assert_int_equal(f->rc.dst[1].n, per_entry / 2 + VW_CONTAINER_COST_MAX / 2);
}

/* Sharers add their entries without bound: past VW_CONTAINER_ATOMS_MAX the policy is refused
 * whole, before the decomposition becomes the cost. */
static void test_policy_sharers_atom_cap(void **state)
{
	enum { PER_LABEL = 80, SHARERS = VW_CONTAINER_ATOMS_MAX / (2 * PER_LABEL) };
	struct fixture *f = *state;
	static struct vw_container sh[SHARERS + 1];
	const struct vw_container *sharers[SHARERS + 1];
	char out[VW_LABEL_VALUE_MAX], allow[VW_LABEL_VALUE_MAX], id[32];
	const char *l[] = { "vpn.outbound", out, "vpn.allow", allow, NULL };
	const char *own[] = { "vpn.outbound", "198.51.100.7", NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", NULL) };

	config(f, NULL);
	container(&f->cs[0], "1111111111111111aaaa", e1, 1, own);
	for (unsigned i = 0; i <= SHARERS; i++) {
		size_t lo = 0, la = 0;

		for (unsigned k = 0; k < PER_LABEL; k++) {
			lo += (size_t)snprintf(out + lo, sizeof(out) - lo, "%s10.%u.%u.1",
					       k ? "," : "", i, k);
			la += (size_t)snprintf(allow + la, sizeof(allow) - la, "%s10.%u.%u.3",
					       k ? "," : "", i, k);
			assert_true(lo < sizeof(out) && la < sizeof(allow));
		}
		snprintf(id, sizeof(id), "%016u", i);
		container(&sh[i], id, NULL, 0, l);
		sharers[i] = &sh[i];
	}

	/* the container's own address and SHARERS x 200: within the cap, compiled whole */
	compile_one(f, &f->cs[0], sharers, SHARERS, NULL, SIZE_MAX);
	assert_string_equal(f->rc.isolated, "");
	assert_int_equal(vw_rs_container_boxes(&f->rc), 1 + SHARERS * 2 * PER_LABEL);

	/* one sharer more: refused whole, it reaches nothing */
	compile_one(f, &f->cs[0], sharers, SHARERS + 1, NULL, SIZE_MAX);
	assert_string_equal(
		f->rc.isolated,
		"its labels and those sharing its network list more than 16384 addresses");
	assert_int_equal(vw_rs_container_boxes(&f->rc), 0);
	for (unsigned i = 0; i <= SHARERS; i++)
		vw_labels_done(&sh[i].labels);
}

static void test_policy_compile_container_budget(void **state)
{
	struct fixture *f = *state;
	const char *l[] = { "vpn.outbound", "198.51.100.1,198.51.100.3,[2001:db8::1]", "vpn.dryrun",
			    "true", NULL };
	struct vw_endpoint e1[] = { ep(NET_A, "198.18.16.2", NULL) };
	const struct box want4[] = { { "198.51.100.1", "198.51.100.1", ANY },
				     { "198.51.100.3", "198.51.100.3", ANY } };
	const struct box want6[] = { { "2001:db8::1", "2001:db8::1", ANY } };
	char v[600], v33[512];
	const char *quota[] = { "vpn.outbound", v, NULL };

	config(f, NULL);
	container(&f->cs[0], "1111111111111111aaaa", e1, 1, l);

	/* enough */
	compile_one(f, &f->cs[0], NULL, 0, NULL, 3);
	assert_string_equal(f->rc.key, "1111111111111111");
	assert_string_equal(f->rc.id, "1111111111111111aaaa");
	assert_string_equal(f->rc.name, "n-111111");
	assert_true(f->rc.audit);
	assert_string_equal(f->rc.isolated, "");
	assert_boxes(&f->rc.dst[0], AF_INET, want4, ELEMENTSOF(want4));
	assert_boxes(&f->rc.dst[1], AF_INET6, want6, ELEMENTSOF(want6));

	/* IPv4 fits, IPv6 then exceeds what is left: all or nothing */
	compile_one(f, &f->cs[0], NULL, 0, NULL, 2);
	assert_string_equal(f->rc.isolated, "its destinations need more than 2 kernel range rules");
	assert_int_equal(vw_rs_container_boxes(&f->rc), 0);
	assert_string_equal(f->rc.key, "1111111111111111");
	assert_string_equal(f->rc.name, "n-111111");
	assert_true(f->rc.audit);

	/* IPv4 alone exceeds it */
	compile_one(f, &f->cs[0], NULL, 0, NULL, 1);
	assert_string_equal(f->rc.isolated, "its destinations need more than 1 kernel range rules");
	assert_int_equal(vw_rs_container_boxes(&f->rc), 0);

	/* no budget at all, but nothing to allow: not isolated */
	container(&f->cs[1], "2222222222222222bbbb", e1, 1, NULL);
	compile_one(f, &f->cs[1], NULL, 0, NULL, 0);
	assert_string_equal(f->rc.isolated, "");
	assert_int_equal(vw_rs_container_boxes(&f->rc), 0);

	/* isolation keeps the quota note */
	names_value(v33, sizeof(v33), 1, VW_CONTAINER_NAMES_MAX + 1);
	snprintf(v, sizeof(v), "198.51.100.1,%s", v33);
	container(&f->cs[2], "3333333333333333cccc", e1, 1, quota);
	compile_one(f, &f->cs[2], NULL, 0, NULL, 0);
	assert_string_equal(f->rc.isolated, "its destinations need more than 0 kernel range rules");
	assert_non_null(strstr(f->rc.note, "beyond the first 32"));
}

/* --- one entry ------------------------------------------------------------------------- */

static void test_policy_entry_atoms(void **state)
{
	struct fixture *f = *state;
	struct vw_atoms atoms[2] = { { .family = AF_INET }, { .family = AF_INET6 } };
	struct vw_dst d;
	const char *reason;
	uint8_t a[16];

	resolve1(&f->names, "both.test", "203.0.113.5", "2001:db8::5");
	assert_int_equal(vw_names_want(&f->names, "pending.test", 0), 0);

	assert_int_equal(vw_dst_parse("198.51.100.0/25:80-90/udp", &d, &reason), 0);
	assert_int_equal(vw_policy_entry_atoms(&d, &f->names, atoms), 0);
	assert_int_equal(atoms[0].n, 1);
	assert_int_equal(atoms[1].n, 0);
	pton(AF_INET, "198.51.100.0", a);
	assert_memory_equal(atoms[0].v[0].lo, a, 4);
	pton(AF_INET, "198.51.100.127", a);
	assert_memory_equal(atoms[0].v[0].hi, a, 4);
	assert_int_equal(atoms[0].v[0].protos, VW_PROTO_UDP);
	assert_int_equal(atoms[0].v[0].port_lo, 80);
	assert_int_equal(atoms[0].v[0].port_hi, 90);

	/* a name: its current addresses of both families, with its port scope */
	vw_dst_done(&d);
	assert_int_equal(vw_dst_parse("both.test:443/tcp", &d, &reason), 0);
	assert_int_equal(vw_policy_entry_atoms(&d, &f->names, atoms), 0);
	assert_int_equal(atoms[0].n, 2);
	assert_int_equal(atoms[1].n, 1);
	pton(AF_INET, "203.0.113.5", a);
	assert_memory_equal(atoms[0].v[1].lo, a, 4);
	assert_memory_equal(atoms[0].v[1].hi, a, 4);
	assert_int_equal(atoms[0].v[1].protos, VW_PROTO_TCP);
	pton(AF_INET6, "2001:db8::5", a);
	assert_memory_equal(atoms[1].v[0].lo, a, 16);
	assert_memory_equal(atoms[1].v[0].hi, a, 16);
	assert_int_equal(atoms[1].v[0].port_lo, 443);

	/* an any-protocol entry spans every port */
	vw_dst_done(&d);
	assert_int_equal(vw_dst_parse("2001:db8::/32", &d, &reason), 0);
	assert_int_equal(vw_policy_entry_atoms(&d, &f->names, atoms), 0);
	assert_int_equal(atoms[1].n, 2);
	assert_int_equal(atoms[1].v[1].protos, 0);
	assert_int_equal(atoms[1].v[1].port_lo, 0);
	assert_int_equal(atoms[1].v[1].port_hi, UINT16_MAX);
	pton(AF_INET6, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", a);
	assert_memory_equal(atoms[1].v[1].hi, a, 16);

	/* nothing: a wildcard, a name not resolved yet, a name without a cache */
	vw_dst_done(&d);
	assert_int_equal(vw_dst_parse("*.both.test", &d, &reason), 0);
	assert_int_equal(vw_policy_entry_atoms(&d, &f->names, atoms), 0);
	vw_dst_done(&d);
	assert_int_equal(vw_dst_parse("pending.test", &d, &reason), 0);
	assert_int_equal(vw_policy_entry_atoms(&d, &f->names, atoms), 0);
	vw_dst_done(&d);
	assert_int_equal(vw_dst_parse("unknown.test", &d, &reason), 0);
	assert_int_equal(vw_policy_entry_atoms(&d, &f->names, atoms), 0);
	vw_dst_done(&d);
	assert_int_equal(vw_dst_parse("both.test", &d, &reason), 0);
	assert_int_equal(vw_policy_entry_atoms(&d, NULL, atoms), 0);
	assert_int_equal(atoms[0].n, 2);
	assert_int_equal(atoms[1].n, 2);
	vw_dst_done(&d);
	vw_atoms_done(&atoms[0]);
	vw_atoms_done(&atoms[1]);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_policy_state_reasons),
		T(test_policy_network_is_managed),
		T(test_policy_compile_basic),
		T(test_policy_compile_ports),
		T(test_policy_overlap_decomposed),
		T(test_policy_whole_space),
		T(test_policy_settings_dry_run),
		T(test_policy_dryrun_label),
		T(test_policy_gateway_networks_skip),
		T(test_policy_ignore_bridges),
		T(test_policy_optout_exempt),
		T(test_policy_fail_closed_address_claimed_twice),
		T(test_policy_fail_closed_key_collision),
		T(test_policy_entries_order),
		T(test_policy_name_grants),
		T(test_policy_joined_labels),
		T(test_policy_paths),
		T(test_policy_name_quota),
		T(test_policy_name_quota_shared),
		T(test_policy_box_budget),
		T(test_policy_sharers_atom_cap),
		T(test_policy_compile_container_budget),
		T(test_policy_entry_atoms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
