// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Range sets and the diff: normalization, and that a plan deletes references before what
 * they refer to and only touches what changed.
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

#include <cmocka.h>

#include "vpnwall/ruleset.h"

static void add4(struct vw_rangeset *s, const char *lo, const char *hi)
{
	uint8_t a[16] = { 0 }, b[16] = { 0 };

	assert_int_equal(inet_pton(AF_INET, lo, a), 1);
	assert_int_equal(inet_pton(AF_INET, hi, b), 1);
	assert_int_equal(vw_rangeset_add(s, a, b), 0);
}

static void test_rangeset_normalize(void **state)
{
	struct vw_rangeset s = { .family = AF_INET };
	uint8_t end[16];

	add4(&s, "10.0.0.10", "10.0.0.20");
	add4(&s, "10.0.0.0", "10.0.0.9"); /* adjacent: merges */
	add4(&s, "10.0.0.15", "10.0.0.30"); /* overlapping: merges */
	add4(&s, "10.0.1.0", "10.0.1.0");
	add4(&s, "255.255.255.0", "255.255.255.255");
	add4(&s, "255.255.255.255", "255.255.255.255");
	vw_rangeset_normalize(&s);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.v[0].lo[3], 0);
	assert_int_equal(s.v[0].hi[3], 30);
	assert_false(vw_range_end_key(&s.v[2], AF_INET, end));
	assert_true(vw_range_end_key(&s.v[0], AF_INET, end));
	assert_int_equal(end[3], 31);
	free(s.v);
}

static void test_rangeset_prefix(void **state)
{
	struct vw_rangeset s = { .family = AF_INET6 };
	uint8_t a[16] = { 0 }, x[16] = { 0 };

	assert_int_equal(inet_pton(AF_INET6, "2001:db8::", a), 1);
	assert_int_equal(vw_rangeset_add_prefix(&s, a, 32), 0);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:ffff::1", x), 1);
	assert_true(vw_rangeset_contains(&s, x));
	assert_int_equal(inet_pton(AF_INET6, "2001:db9::", x), 1);
	assert_false(vw_rangeset_contains(&s, x));
	free(s.v);
}

/* A small ruleset: container key K with one any-protocol group holding @addrs. */
struct fixture {
	struct vw_ruleset rs;
	struct vw_rs_container c[2];
	struct vw_rs_group g[2];
	struct vw_rs_source src[2];
	char bridges[2][VW_IFNAMSIZ];
};

static void build(struct fixture *f, size_t n_containers, const char *const *addrs, bool audit)
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < n_containers; i++) {
		struct vw_rs_group *g = &f->g[i];

		g->has4 = true;
		g->set4.family = AF_INET;
		g->set6.family = AF_INET6;
		for (const char *const *a = addrs; *a; a++)
			add4(&g->set4, *a, *a);
		vw_rangeset_normalize(&g->set4);
		snprintf(f->c[i].key, sizeof(f->c[i].key), "%016u", (unsigned)i);
		f->c[i].audit = audit;
		f->c[i].groups = g;
		f->c[i].n_groups = 1;
		f->src[i].family = AF_INET;
		f->src[i].addr[0] = 198;
		f->src[i].addr[3] = (uint8_t)(i + 1);
		memcpy(f->src[i].key, f->c[i].key, sizeof(f->src[i].key));
	}
	snprintf(f->bridges[0], VW_IFNAMSIZ, "br-a");
	f->rs.containers = f->c;
	f->rs.n_containers = n_containers;
	f->rs.sources = f->src;
	f->rs.n_sources = n_containers;
	f->rs.bridges = f->bridges;
	f->rs.n_bridges = 1;
}

static void fixture_done(struct fixture *f)
{
	for (size_t i = 0; i < 2; i++)
		free(f->g[i].set4.v);
}

static void test_diff_full(void **state)
{
	const char *addrs[] = { "198.51.100.7", NULL };
	struct fixture f;
	struct vw_plan p;

	build(&f, 2, addrs, false);
	assert_int_equal(vw_ruleset_diff(NULL, &f.rs, &p), 0);
	assert_int_equal(p.n, 1 + 2 + 2 + 1);
	assert_int_equal(p.ops[0].type, VW_OP_RESET);
	assert_int_equal(p.ops[1].type, VW_OP_CONTAINER_ADD);
	assert_int_equal(p.ops[3].type, VW_OP_SOURCE_ADD);
	assert_int_equal(p.ops[5].type, VW_OP_BRIDGE_ADD);
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
	assert_int_equal(vw_ruleset_diff(&f1.rs, &f2.rs, &p), 0);
	assert_int_equal(p.n, 0);
	vw_plan_done(&p);
	fixture_done(&f2);

	/* .7 and .9 become .7-.8 (merged range) and .20: delete the two changed, add two */
	build(&f2, 2, a2, false);
	assert_int_equal(vw_ruleset_diff(&f1.rs, &f2.rs, &p), 0);
	assert_int_equal(p.n, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(p.ops[i].type, i % 2 ? VW_OP_RANGES_ADD : VW_OP_RANGES_DEL);
		assert_int_equal(p.ops[i].n_ranges, 2);
	}
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
	snprintf(f2.bridges[0], VW_IFNAMSIZ, "br-b");
	assert_int_equal(vw_ruleset_diff(&f1.rs, &f2.rs, &p), 0);
	assert_int_equal(p.n, 2 + 2 + 1 + 1 + 1 + 1);
	assert_int_equal(p.ops[0].type, VW_OP_SOURCE_DEL);
	assert_int_equal(p.ops[1].type, VW_OP_SOURCE_DEL);
	assert_int_equal(p.ops[2].type, VW_OP_CONTAINER_DEL);
	assert_int_equal(p.ops[3].type, VW_OP_CONTAINER_DEL);
	assert_int_equal(p.ops[4].type, VW_OP_BRIDGE_DEL);
	assert_int_equal(p.ops[5].type, VW_OP_CONTAINER_ADD);
	assert_true(p.ops[5].c->audit);
	assert_int_equal(p.ops[6].type, VW_OP_SOURCE_ADD);
	assert_int_equal(p.ops[7].type, VW_OP_BRIDGE_ADD);
	vw_plan_done(&p);

	/* a dry-run change replaces the whole table */
	f2.rs.dry_run = true;
	assert_int_equal(vw_ruleset_diff(&f1.rs, &f2.rs, &p), 0);
	assert_int_equal(p.ops[0].type, VW_OP_RESET);
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
	assert_int_equal(vw_ruleset_diff(&f1.rs, &f2.rs, &p), 0);
	assert_int_equal(p.n, 4);
	assert_int_equal(p.ops[0].type, VW_OP_SOURCE_DEL);
	assert_int_equal(p.ops[1].type, VW_OP_SOURCE_DEL);
	assert_int_equal(p.ops[2].type, VW_OP_SOURCE_ADD);
	assert_int_equal(p.ops[3].type, VW_OP_SOURCE_ADD);
	vw_plan_done(&p);
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
	assert_int_equal(vw_audit_prefix_parse("D:", &audit, &key), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rangeset_normalize),
		cmocka_unit_test(test_rangeset_prefix),
		cmocka_unit_test(test_diff_full),
		cmocka_unit_test(test_diff_noop_and_elements),
		cmocka_unit_test(test_diff_replace_orders_references),
		cmocka_unit_test(test_diff_source_moves),
		cmocka_unit_test(test_audit_prefix_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
