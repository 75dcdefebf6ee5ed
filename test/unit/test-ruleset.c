// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The box decomposition (exact expected boxes, and a property over random entries: the
 * boxes are sorted, disjoint and cover exactly what the entries cover) and the diff (the
 * operations and their order).
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

#include "vpnwall/labels.h"
#include "vpnwall/ruleset.h"

static void prefix4(struct vw_atoms *a, const char *addr, unsigned len, uint8_t protos, uint16_t lo,
		    uint16_t hi)
{
	uint8_t b[16] = { 0 };

	assert_int_equal(inet_pton(AF_INET, addr, b), 1);
	assert_int_equal(vw_atoms_add_prefix(a, b, len, protos, lo, hi), 0);
}

static void assert_box4(const struct vw_box *b, const char *lo, const char *hi, uint8_t plo,
			uint8_t phi, uint16_t portlo, uint16_t porthi)
{
	char l[INET_ADDRSTRLEN], h[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, b->lo, l, sizeof(l));
	inet_ntop(AF_INET, b->hi, h, sizeof(h));
	assert_string_equal(l, lo);
	assert_string_equal(h, hi);
	assert_int_equal(b->proto_lo, plo);
	assert_int_equal(b->proto_hi, phi);
	assert_int_equal(b->port_lo, portlo);
	assert_int_equal(b->port_hi, porthi);
}

/* A /24 for tcp/443, one address of it for anything, udp/53-ish overlaps: exact boxes. */
static void test_boxset_exact(void **state)
{
	struct vw_atoms a = { .family = AF_INET };
	struct vw_boxset s = { 0 };

	prefix4(&a, "198.51.100.0", 24, VW_PROTO_TCP, 443, 443);
	prefix4(&a, "198.51.100.7", 32, 0, 0, 0);
	prefix4(&a, "198.51.100.0", 25, VW_PROTO_TCP | VW_PROTO_UDP, 80, 90);
	prefix4(&a, "198.51.100.0", 25, VW_PROTO_TCP, 91, 100); /* adjacent ports merge */
	assert_int_equal(vw_boxset_build(&a, 100, &s), 8);
	assert_box4(&s.v[0], "198.51.100.0", "198.51.100.6", 6, 6, 80, 100);
	assert_box4(&s.v[1], "198.51.100.0", "198.51.100.6", 6, 6, 443, 443);
	assert_box4(&s.v[2], "198.51.100.0", "198.51.100.6", 17, 17, 80, 90);
	assert_box4(&s.v[3], "198.51.100.7", "198.51.100.7", 0, 255, 0, 65535);
	assert_box4(&s.v[4], "198.51.100.8", "198.51.100.127", 6, 6, 80, 100);
	assert_box4(&s.v[5], "198.51.100.8", "198.51.100.127", 6, 6, 443, 443);
	assert_box4(&s.v[6], "198.51.100.8", "198.51.100.127", 17, 17, 80, 90);
	assert_box4(&s.v[7], "198.51.100.128", "198.51.100.255", 6, 6, 443, 443);

	/* the budget is all or nothing */
	assert_int_equal(vw_boxset_build(&a, 7, &s), -E2BIG);
	assert_int_equal(s.n, 0);
	vw_boxset_done(&s);
	vw_atoms_done(&a);
}

/* Neighbours with equal coverage merge; the last address and 0.0.0.0/0 work. */
static void test_boxset_merge_and_edges(void **state)
{
	struct vw_atoms a = { .family = AF_INET };
	struct vw_boxset s = { 0 };
	uint8_t any[16] = { 0 };

	prefix4(&a, "198.51.100.0", 25, 0, 0, 0);
	prefix4(&a, "198.51.100.128", 25, 0, 0, 0);
	prefix4(&a, "255.255.255.255", 32, VW_PROTO_UDP, 53, 53);
	assert_int_equal(vw_boxset_build(&a, 10, &s), 2);
	assert_box4(&s.v[0], "198.51.100.0", "198.51.100.255", 0, 255, 0, 65535);
	assert_box4(&s.v[1], "255.255.255.255", "255.255.255.255", 17, 17, 53, 53);
	vw_atoms_done(&a);

	a = (struct vw_atoms){ .family = AF_INET };
	assert_int_equal(vw_atoms_add_prefix(&a, any, 0, VW_PROTO_TCP, 443, 443), 0);
	prefix4(&a, "198.51.100.7", 32, VW_PROTO_TCP, 443, 443);
	assert_int_equal(vw_boxset_build(&a, 10, &s), 1);
	assert_box4(&s.v[0], "0.0.0.0", "255.255.255.255", 6, 6, 443, 443);
	assert_non_null(vw_boxset_find(&s, any, IPPROTO_TCP, 443));
	assert_null(vw_boxset_find(&s, any, IPPROTO_UDP, 443));
	vw_boxset_done(&s);
	vw_atoms_done(&a);

	/* no entries, no boxes */
	a = (struct vw_atoms){ .family = AF_INET6 };
	assert_int_equal(vw_boxset_build(&a, 10, &s), 0);
	assert_int_equal(s.family, AF_INET6);
}

static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Whether any atom allows (addr, proto, port): the meaning the boxes must keep. */
static bool atoms_allow(const struct vw_atoms *a, uint32_t addr, uint8_t proto, uint16_t port)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct vw_atom *t = &a->v[i];
		uint32_t lo, hi;

		memcpy(&lo, t->lo, 4);
		memcpy(&hi, t->hi, 4);
		if (addr < ntohl(lo) || addr > ntohl(hi))
			continue;
		if (!t->protos)
			return true;
		if (!((proto == IPPROTO_TCP && (t->protos & VW_PROTO_TCP)) ||
		      (proto == IPPROTO_UDP && (t->protos & VW_PROTO_UDP))))
			continue;
		if (port >= t->port_lo && port <= t->port_hi)
			return true;
	}
	return false;
}

static int cmp_box(const struct vw_box *a, const struct vw_box *b)
{
	int c = memcmp(a->lo, b->lo, 4);

	if (c)
		return c;
	if (a->proto_lo != b->proto_lo)
		return a->proto_lo < b->proto_lo ? -1 : 1;
	return a->port_lo < b->port_lo ? -1 : a->port_lo > b->port_lo;
}

static bool overlap(const struct vw_box *a, const struct vw_box *b)
{
	return memcmp(a->lo, b->hi, 4) <= 0 && memcmp(b->lo, a->hi, 4) <= 0 &&
	       a->proto_lo <= b->proto_hi && b->proto_lo <= a->proto_hi &&
	       a->port_lo <= b->port_hi && b->port_lo <= a->port_hi;
}

/*
 * Random overlapping entries inside a small address window: the boxes are sorted,
 * pairwise disjoint, and allow exactly what the entries allow, probed point by point.
 */
static void test_boxset_property(void **state)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP };
	uint32_t seed = 0x1234567;

	for (int round = 0; round < 300; round++) {
		struct vw_atoms a = { .family = AF_INET };
		struct vw_boxset s = { 0 };
		int n = 1 + (int)(rnd(&seed) % 12);

		for (int i = 0; i < n; i++) {
			uint32_t base =
				htonl(0xc6336400 | (rnd(&seed) & 0x3f)); /* 198.51.100.0/26 */
			unsigned len = 26 + rnd(&seed) % 7;
			uint8_t p = (uint8_t)(rnd(&seed) % 4); /* 0 any, 1 tcp, 2 udp, 3 both */
			uint16_t lo = (uint16_t)(rnd(&seed) % 40),
				 hi = (uint16_t)(lo + rnd(&seed) % 10);
			uint8_t addr[16] = { 0 };

			base &= htonl(~0u << (32 - len));
			memcpy(addr, &base, 4);
			assert_int_equal(vw_atoms_add_prefix(&a, addr, len, p, lo, hi), 0);
		}
		assert_true(vw_boxset_build(&a, 100000, &s) >= 0);
		for (size_t i = 0; i < s.n; i++) {
			if (i > 0)
				assert_true(cmp_box(&s.v[i - 1], &s.v[i]) < 0);
			for (size_t k = i + 1; k < s.n; k++)
				assert_false(overlap(&s.v[i], &s.v[k]));
		}
		for (uint32_t addr = 0xc63363fe; addr <= 0xc6336441; addr++) {
			uint32_t be = htonl(addr);
			uint8_t b[16] = { 0 };

			memcpy(b, &be, 4);
			for (size_t p = 0; p < sizeof(protos); p++)
				for (uint16_t port = 0; port < 52; port++)
					if ((vw_boxset_find(&s, b, protos[p], port) != NULL) !=
					    atoms_allow(&a, addr, protos[p], port))
						fail_msg("round %d: %08x proto %u port %u differs",
							 round, addr, protos[p], port);
		}
		vw_boxset_done(&s);
		vw_atoms_done(&a);
	}
}

static void test_boxset_ipv6_last_address(void **state)
{
	struct vw_atoms a = { .family = AF_INET6 };
	struct vw_boxset s = { 0 };
	uint8_t top[16], net[16];

	memset(top, 0xff, sizeof(top));
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::", net), 1);
	assert_int_equal(vw_atoms_add_prefix(&a, top, 128, 0, 0, 0), 0);
	assert_int_equal(vw_atoms_add_prefix(&a, net, 32, VW_PROTO_TCP, 443, 443), 0);
	assert_int_equal(vw_boxset_build(&a, 10, &s), 2);
	assert_memory_equal(s.v[1].lo, top, 16);
	assert_memory_equal(s.v[1].hi, top, 16);
	assert_non_null(vw_boxset_find(&s, top, IPPROTO_ICMPV6, 0));
	assert_non_null(vw_boxset_find(&s, net, IPPROTO_TCP, 443));
	assert_null(vw_boxset_find(&s, net, IPPROTO_TCP, 80));
	vw_boxset_done(&s);
	vw_atoms_done(&a);
}

/* --- diff ----------------------------------------------------------------------------------- */

struct fixture {
	struct vw_ruleset rs;
	struct vw_rs_container c[2];
	struct vw_rs_container *cp[2];
	struct vw_rs_source src[2];
	struct vw_rs_bridge br[1];
};

/* @n containers, each allowed any protocol to the given addresses. */
static void build(struct fixture *f, size_t n, const char *const *addrs, bool audit)
{
	*f = (struct fixture){ 0 };
	for (size_t i = 0; i < n; i++) {
		struct vw_atoms a = { .family = AF_INET };

		for (const char *const *p = addrs; *p; p++)
			prefix4(&a, *p, 32, 0, 0, 0);
		f->c[i].dst[0].family = AF_INET;
		f->c[i].dst[1].family = AF_INET6;
		assert_true(vw_boxset_build(&a, 100, &f->c[i].dst[0]) >= 0);
		vw_atoms_done(&a);
		snprintf(f->c[i].key, sizeof(f->c[i].key), "%016u", (unsigned)i);
		f->c[i].audit = audit;
		f->src[i].family = AF_INET;
		f->src[i].addr[0] = 198;
		f->src[i].addr[3] = (uint8_t)(i + 1);
		memcpy(f->src[i].key, f->c[i].key, sizeof(f->src[i].key));
	}
	snprintf(f->br[0].name, VW_IFNAMSIZ, "br-a");
	for (size_t i = 0; i < 2; i++)
		f->cp[i] = &f->c[i];
	f->rs.containers = f->cp;
	f->rs.n_containers = n;
	f->rs.sources = f->src;
	f->rs.n_sources = n;
	f->rs.bridges = f->br;
	f->rs.n_bridges = 1;
}

static void fixture_done(struct fixture *f)
{
	for (size_t i = 0; i < 2; i++)
		vw_rs_container_done(&f->c[i]);
	free(f->rs.by_key);
}

/* A box costs its widest field's CIDR prefixes; budgets count that, all or nothing. */
static void test_box_cost(void **state)
{
	struct vw_box b = {
		.proto_lo = IPPROTO_TCP, .proto_hi = IPPROTO_TCP, .port_lo = 443, .port_hi = 443
	};
	struct vw_atoms a = { .family = AF_INET };
	struct vw_boxset s = { 0 };

	(void)state;
	inet_pton(AF_INET, "198.51.100.0", b.lo);
	inet_pton(AF_INET, "198.51.100.255", b.hi);
	assert_int_equal(vw_box_cost(AF_INET, &b), 1); /* a /24, one port */
	inet_pton(AF_INET, "198.51.100.1", b.lo);
	inet_pton(AF_INET, "198.51.100.254", b.hi);
	assert_int_equal(vw_box_cost(AF_INET, &b), 14); /* .1/32 .2/31 ... .128/26 ... .254/32 */
	b.port_lo = 1;
	b.port_hi = 65534;
	assert_int_equal(vw_box_cost(AF_INET, &b), 30); /* the port range is now the widest */
	b.proto_lo = 0;
	b.proto_hi = 255;
	b.port_lo = 0;
	b.port_hi = 65535;
	memset(b.lo, 0, 16);
	memset(b.hi, 0xff, 16);
	b.lo[15] = 1;
	b.hi[15] = 0xfe;
	assert_int_equal(vw_box_cost(AF_INET6, &b), 2 * 127); /* ::1 to ff..fe over 128 bits */

	/* hosts of a narrower scope inside an any-protocol network change nothing */
	prefix4(&a, "198.51.100.0", 24, 0, 0, 0);
	prefix4(&a, "198.51.100.0", 32, VW_PROTO_TCP, 1, 1);
	prefix4(&a, "198.51.100.255", 32, VW_PROTO_TCP, 1, 1);
	assert_int_equal(vw_boxset_build(&a, 1, &s), 1);
	assert_int_equal(s.cost, 1);
	vw_atoms_done(&a);

	/* hosts of another scope at the edges cut the network into an unaligned stretch */
	prefix4(&a, "198.51.100.0", 24, VW_PROTO_TCP, 443, 443);
	prefix4(&a, "198.51.100.0", 32, VW_PROTO_UDP, 53, 53);
	prefix4(&a, "198.51.100.255", 32, VW_PROTO_UDP, 53, 53);
	/* .0: tcp/443 + udp/53, .1-.254: tcp/443 (14 rules), .255: tcp/443 + udp/53 */
	assert_int_equal(vw_boxset_build(&a, 18, &s), 5);
	assert_int_equal(s.cost, 18);
	assert_int_equal(vw_boxset_build(&a, 17, &s), -E2BIG);
	assert_int_equal(s.n, 0);
	assert_int_equal(s.cost, 0);
	vw_boxset_done(&s);
	vw_atoms_done(&a);
}

static void test_diff_full(void **state)
{
	const char *addrs[] = { "198.51.100.7", NULL };
	struct fixture f;
	struct vw_plan p;

	build(&f, 2, addrs, false);
	assert_int_equal(vw_ruleset_diff(NULL, &f.rs, NULL, &p), 0);
	assert_int_equal(p.n, 1 + 2 + 2 + 1);
	assert_int_equal(p.ops[0].type, VW_OP_RESET);
	assert_int_equal(p.ops[1].type, VW_OP_CONTAINER_ADD);
	assert_ptr_equal(p.ops[1].c, &f.c[0]);
	assert_int_equal(p.ops[3].type, VW_OP_SOURCE_ADD);
	assert_int_equal(p.ops[5].type, VW_OP_BRIDGE_ADD);
	assert_string_equal(p.ops[5].bridge->name, "br-a");
	assert_false(p.ops[5].bridge->managed);
	vw_plan_done(&p);
	fixture_done(&f);
}

static void test_diff_noop_and_elements(void **state)
{
	const char *a1[] = { "198.51.100.7", "198.51.100.9", NULL };
	const char *a2[] = { "198.51.100.7", "198.51.100.8", "198.51.100.20", NULL };
	struct fixture f1, f2;
	struct vw_plan p;

	build(&f1, 2, a1, false);
	build(&f2, 2, a1, false);
	assert_int_equal(vw_ruleset_diff(&f1.rs, &f2.rs, NULL, &p), 0);
	assert_int_equal(p.n, 0);
	vw_plan_done(&p);
	fixture_done(&f2);

	/* .7 and .9 become .7-.8 (merged) and .20: per container one delete of both old
	 * boxes before any addition, then one addition of both new ones */
	build(&f2, 2, a2, false);
	assert_int_equal(vw_ruleset_diff(&f1.rs, &f2.rs, NULL, &p), 0);
	assert_int_equal(p.n, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(p.ops[i].type, i < 2 ? VW_OP_BOXES_DEL : VW_OP_BOXES_ADD);
		assert_int_equal(p.ops[i].n_boxes, 2);
		assert_int_equal(p.ops[i].family, AF_INET);
	}
	assert_box4(&p.ops[0].boxes[0], "198.51.100.7", "198.51.100.7", 0, 255, 0, 65535);
	assert_box4(&p.ops[2].boxes[0], "198.51.100.7", "198.51.100.8", 0, 255, 0, 65535);
	assert_box4(&p.ops[2].boxes[1], "198.51.100.20", "198.51.100.20", 0, 255, 0, 65535);
	vw_plan_done(&p);
	fixture_done(&f1);
	fixture_done(&f2);
}

static void test_diff_replace_orders_references(void **state)
{
	const char *a[] = { "198.51.100.7", NULL };
	struct fixture f1, f2;
	struct vw_plan p;

	build(&f1, 2, a, false);
	build(&f2, 1, a, false);
	f2.c[0].audit = true; /* shape change: container 0 is re-created, 1 is gone */
	snprintf(f2.br[0].name, VW_IFNAMSIZ, "br-b");
	assert_int_equal(vw_ruleset_diff(&f1.rs, &f2.rs, NULL, &p), 0);
	assert_int_equal(p.n, 2 + 1 + 2 + 1 + 1 + 1);
	/* revocations first: dispatch entries, then the entry that leaves br-a alone */
	assert_int_equal(p.ops[0].type, VW_OP_SOURCE_DEL);
	assert_int_equal(p.ops[1].type, VW_OP_SOURCE_DEL);
	assert_int_equal(p.ops[2].type, VW_OP_BRIDGE_DEL);
	assert_string_equal(p.ops[2].bridge->name, "br-a");
	assert_int_equal(p.ops[3].type, VW_OP_CONTAINER_DEL);
	assert_int_equal(p.ops[4].type, VW_OP_CONTAINER_DEL);
	assert_int_equal(p.ops[5].type, VW_OP_CONTAINER_ADD);
	assert_true(p.ops[5].c->audit);
	assert_int_equal(p.ops[6].type, VW_OP_SOURCE_ADD);
	assert_int_equal(p.ops[7].type, VW_OP_BRIDGE_ADD);
	assert_string_equal(p.ops[7].bridge->name, "br-b");
	vw_plan_done(&p);

	/* a dry-run change replaces the whole table, so does a different ignore list */
	f2.rs.dry_run = true;
	assert_int_equal(vw_ruleset_diff(&f1.rs, &f2.rs, NULL, &p), 0);
	assert_int_equal(p.ops[0].type, VW_OP_RESET);
	vw_plan_done(&p);
	f2.rs.dry_run = false;
	{
		char ign[1][VW_IFNAMSIZ] = { "virbr+" };

		f2.rs.ignore = ign;
		f2.rs.n_ignore = 1;
		assert_int_equal(vw_ruleset_diff(&f1.rs, &f2.rs, NULL, &p), 0);
		assert_int_equal(p.ops[0].type, VW_OP_RESET);
		vw_plan_done(&p);
		f2.rs.ignore = NULL;
		f2.rs.n_ignore = 0;
	}
	fixture_done(&f1);
	fixture_done(&f2);
}

/* A bridge that becomes managed is replaced, not kept: its verdict changes. */
static void test_diff_bridge_managed(void **state)
{
	const char *a[] = { "198.51.100.7", NULL };
	struct fixture f1, f2;
	struct vw_plan p;
	struct vw_changes ch = { .bridges = true };

	(void)state;
	build(&f1, 1, a, false);
	build(&f2, 1, a, false);
	f2.br[0].managed = true;
	assert_int_equal(vw_ruleset_diff(&f1.rs, &f2.rs, &ch, &p), 0);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.ops[0].type, VW_OP_BRIDGE_DEL);
	assert_false(p.ops[0].bridge->managed);
	assert_int_equal(p.ops[1].type, VW_OP_BRIDGE_ADD);
	assert_true(p.ops[1].bridge->managed);
	vw_plan_done(&p);
	/* unmarked, the bridges are not compared */
	ch.bridges = false;
	assert_int_equal(vw_ruleset_diff(&f1.rs, &f2.rs, &ch, &p), 0);
	assert_int_equal(p.n, 0);
	vw_plan_done(&p);
	fixture_done(&f1);
	fixture_done(&f2);
}

static void test_diff_source_moves(void **state)
{
	const char *a[] = { "198.51.100.7", NULL };
	struct fixture f1, f2;
	struct vw_plan p;

	/* the address of container 0 now belongs to container 1 (reuse): re-pointed */
	build(&f1, 2, a, false);
	build(&f2, 2, a, false);
	memcpy(f2.src[0].key, f2.c[1].key, sizeof(f2.src[0].key));
	f2.src[1].addr[3] = 99;
	assert_int_equal(vw_ruleset_diff(&f1.rs, &f2.rs, NULL, &p), 0);
	assert_int_equal(p.n, 4);
	assert_int_equal(p.ops[0].type, VW_OP_SOURCE_DEL);
	assert_int_equal(p.ops[1].type, VW_OP_SOURCE_DEL);
	assert_int_equal(p.ops[2].type, VW_OP_SOURCE_ADD);
	assert_string_equal(p.ops[2].src->key, f2.c[1].key);
	assert_int_equal(p.ops[3].type, VW_OP_SOURCE_ADD);
	vw_plan_done(&p);
	fixture_done(&f1);
	fixture_done(&f2);
}

/* Isolating a container deletes its boxes and keeps its objects. */
static void test_diff_isolation(void **state)
{
	const char *a[] = { "198.51.100.7", "198.51.100.9", NULL };
	struct fixture f1, f2;
	struct vw_plan p;

	build(&f1, 1, a, false);
	build(&f2, 1, a, false);
	vw_rs_container_isolate(&f2.c[0], "too big");
	assert_string_equal(f2.c[0].isolated, "too big");
	assert_int_equal(vw_rs_container_boxes(&f2.c[0]), 0);
	assert_int_equal(vw_ruleset_diff(&f1.rs, &f2.rs, NULL, &p), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.ops[0].type, VW_OP_BOXES_DEL);
	assert_int_equal(p.ops[0].n_boxes, 2);
	vw_plan_done(&p);
	fixture_done(&f1);
	fixture_done(&f2);
}

static struct vw_flow flow4(const char *src, const char *dst, uint8_t proto, uint16_t dport)
{
	struct vw_flow f = { .family = AF_INET,
			     .proto = proto,
			     .has_ports = proto != IPPROTO_ICMP,
			     .dport = dport };

	assert_int_equal(inet_pton(AF_INET, src, f.saddr), 1);
	assert_int_equal(inet_pton(AF_INET, dst, f.daddr), 1);
	memcpy(f.raddr, f.daddr, sizeof(f.raddr)); /* no NAT on the way */
	return f;
}

/* What a tightened policy revokes: the flows it no longer allows, from its own sources. */
static void test_flows_revoked(void **state)
{
	const char *a1[] = { "198.51.100.7", "198.51.100.9", NULL };
	const char *a2[] = { "198.51.100.7", NULL };
	struct vw_revocations rv = { 0 };
	struct vw_flow f;
	struct fixture f1, f2;
	struct vw_plan p;

	build(&f1, 2, a1, false);
	build(&f2, 2, a2, false);
	f2.src[1].key[0] = '\0'; /* the second source left its container (exempt now) */
	assert_int_equal(vw_ruleset_index_sources(&f1.rs), 0);
	assert_int_equal(vw_ruleset_diff(&f1.rs, &f2.rs, NULL, &p), 0);
	assert_int_equal(vw_plan_revocations(&p, &rv), 0);
	vw_revocations_normalize(&rv);
	vw_plan_done(&p);
	assert_false(rv.judge.all);
	/* container 0 lost .9: its source is judged; container 1 lost its source: purged */
	assert_int_equal(rv.judge.n_addrs, 1);
	assert_int_equal(rv.purge.n_addrs, 1);
	f = flow4("198.0.0.1", "198.51.100.9", IPPROTO_TCP, 80);
	assert_false(vw_ruleset_allows(&f2.rs, &f));
	assert_true(vw_ruleset_revokes(&f2.rs, &rv, &f));
	assert_true(vw_ruleset_allows(&f1.rs, &f)); /* control: the old policy allowed it */
	f = flow4("198.0.0.1", "198.51.100.7", IPPROTO_TCP, 80);
	assert_true(vw_ruleset_allows(&f2.rs, &f));
	assert_false(vw_ruleset_revokes(&f2.rs, &rv, &f));
	f = flow4("198.0.0.1", "198.51.100.7", IPPROTO_ICMP, 0);
	assert_true(vw_ruleset_allows(&f2.rs, &f)); /* a box of any protocol and port */
	f = flow4("198.0.0.1", "198.0.0.2", IPPROTO_TCP, 80);
	assert_true(vw_ruleset_allows(&f2.rs, &f)); /* to another container: left to the rules */
	f = flow4("198.0.0.2", "198.51.100.9", IPPROTO_TCP, 80);
	assert_true(vw_ruleset_allows(&f2.rs, &f)); /* an exempt source */
	assert_true(vw_ruleset_revokes(&f2.rs, &rv, &f)); /* but the address left its owner */
	f = flow4("10.1.1.1", "198.51.100.9", IPPROTO_TCP, 80);
	assert_true(vw_ruleset_allows(&f2.rs, &f)); /* no container's source */
	assert_false(vw_ruleset_revokes(&f2.rs, &rv, &f));
	/* a connection to a published port of the container that left: its answers end */
	assert_int_equal(inet_pton(AF_INET, "198.0.0.2", f.raddr), 1);
	assert_true(vw_ruleset_revokes(&f2.rs, &rv, &f));
	f2.c[0].audit = true;
	f = flow4("198.0.0.1", "198.51.100.9", IPPROTO_UDP, 53);
	assert_true(vw_ruleset_allows(&f2.rs, &f)); /* audited: nothing is cut */
	f2.c[0].audit = false;
	assert_false(vw_ruleset_allows(&f2.rs, &f));

	/* a full replacement may revoke anything */
	assert_int_equal(vw_ruleset_diff(NULL, &f2.rs, NULL, &p), 0);
	vw_revocations_reset(&rv);
	assert_false(vw_revocations_pending(&rv));
	assert_int_equal(vw_plan_revocations(&p, &rv), 0);
	assert_true(rv.judge.all);
	assert_true(vw_ruleset_revokes(&f2.rs, &rv, &f));
	vw_plan_done(&p);
	vw_revocations_done(&rv);
	fixture_done(&f1);
	fixture_done(&f2);
}

/* An address passing to another container, or going, is purged; a new one is not. */
static void test_flows_revoked_reuse(void **state)
{
	const char *a[] = { "198.51.100.7", NULL };
	const uint8_t first[4] = { 198, 0, 0, 1 }, gone[4] = { 198, 0, 0, 2 },
		      fresh[4] = { 198, 0, 0, 99 };
	struct vw_revocations rv = { 0 };
	struct fixture f1, f2;
	struct vw_plan p;

	build(&f1, 2, a, false);
	build(&f2, 2, a, false);
	memcpy(f2.src[0].key, f2.c[1].key, sizeof(f2.src[0].key));
	f2.src[1].addr[3] = 99;
	assert_int_equal(vw_ruleset_diff(&f1.rs, &f2.rs, NULL, &p), 0);
	assert_int_equal(vw_plan_revocations(&p, &rv), 0);
	vw_revocations_normalize(&rv);
	assert_int_equal(rv.purge.n_addrs, 2);
	assert_true(vw_changes_has_addr(&rv.purge, AF_INET, first));
	assert_true(vw_changes_has_addr(&rv.purge, AF_INET, gone));
	assert_false(vw_changes_has_addr(&rv.purge, AF_INET, fresh));
	assert_int_equal(rv.judge.n_addrs, 0);
	vw_plan_done(&p);
	vw_revocations_done(&rv);
	fixture_done(&f1);
	fixture_done(&f2);
}

static void test_audit_prefix_roundtrip(void **state)
{
	const char *key;
	char buf[32];
	bool audit;

	vw_audit_prefix(buf, sizeof(buf), true, "0123456789abcdef");
	assert_string_equal(buf, "W:0123456789abcdef");
	assert_int_equal(vw_audit_prefix_parse(buf, &audit, &key), 0);
	assert_true(audit);
	assert_string_equal(key, "0123456789abcdef");
	vw_audit_prefix(buf, sizeof(buf), false, VW_KEY_UNKNOWN);
	assert_int_equal(vw_audit_prefix_parse(buf, &audit, &key), 0);
	assert_false(audit);
	assert_string_equal(key, VW_KEY_UNKNOWN);
	assert_int_equal(vw_audit_prefix_parse("X:abc", &audit, &key), -EINVAL);
	/* no key: the container that owns the packet's source */
	assert_int_equal(vw_audit_prefix_parse("D:", &audit, &key), 0);
	assert_string_equal(key, "");
	assert_int_equal(vw_audit_prefix_parse("D", &audit, &key), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boxset_exact),
		cmocka_unit_test(test_boxset_merge_and_edges),
		cmocka_unit_test(test_boxset_property),
		cmocka_unit_test(test_boxset_ipv6_last_address),
		cmocka_unit_test(test_box_cost),
		cmocka_unit_test(test_diff_full),
		cmocka_unit_test(test_diff_noop_and_elements),
		cmocka_unit_test(test_diff_replace_orders_references),
		cmocka_unit_test(test_diff_bridge_managed),
		cmocka_unit_test(test_diff_source_moves),
		cmocka_unit_test(test_diff_isolation),
		cmocka_unit_test(test_flows_revoked),
		cmocka_unit_test(test_flows_revoked_reuse),
		cmocka_unit_test(test_audit_prefix_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
