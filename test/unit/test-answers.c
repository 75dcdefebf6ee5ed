// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the DNS proxy learned: one entry per container and address; the union of its live
 * names' grants as disjoint boxes, per path; the latest expiry; caps; pruning and removal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vpnwall/answers.h"
#include "vpnwall/labels.h"
#include "vpnwall/util.h"

static const struct vw_name_grant any_vpn = { .path = VW_PATH_VPN };
static const struct vw_name_grant tcp80 = {
	.path = VW_PATH_VPN, .protos = VW_PROTO_TCP, .port_lo = 80, .port_hi = 80
};
static const struct vw_name_grant tcp80_90 = {
	.path = VW_PATH_VPN, .protos = VW_PROTO_TCP, .port_lo = 80, .port_hi = 90
};
static const struct vw_name_grant lan = {
	.path = VW_PATH_ANY, .protos = VW_PROTO_UDP, .port_lo = 53, .port_hi = 53
};

static const uint8_t *a4(const char *s)
{
	static uint8_t b[4][16];
	static int i;
	uint8_t *p = b[i++ % 4];

	memset(p, 0, 16);
	assert_int_equal(inet_pton(AF_INET, s, p), 1);
	return p;
}

static void test_answers_union(void **state)
{
	struct vw_answers a;
	struct vw_answer *x, *y;
	struct vw_boxset bs[VW_PATHS];

	(void)state;
	vw_answers_init(&a, 65536);
	assert_int_equal(vw_answers_learn(&a, "k1", AF_INET, a4("198.51.100.12"), "a.wild.test",
					  &tcp80, 1, 20000, 0, &x),
			 0);
	/* another name, the same address: a wider scope, an earlier expiry */
	assert_int_equal(vw_answers_learn(&a, "k1", AF_INET, a4("198.51.100.12"), "b.wild.test",
					  &tcp80_90, 1, 10000, 0, &y),
			 0);
	assert_ptr_equal(x, y);
	assert_int_equal(x->n_names, 2);
	assert_int_equal(x->expires, 20000);
	assert_int_equal(vw_answer_boxes(x, 0, bs), 0);
	/* 80 and 80-90 merge into one box, disjoint by construction */
	assert_int_equal(bs[VW_PATH_VPN].n, 1);
	assert_int_equal(bs[VW_PATH_VPN].v[0].port_lo, 80);
	assert_int_equal(bs[VW_PATH_VPN].v[0].port_hi, 90);
	assert_int_equal(bs[VW_PATH_VPN].v[0].proto_lo, IPPROTO_TCP);
	assert_int_equal(bs[VW_PATH_ANY].n, 0);
	vw_answer_hold(x, bs, x->expires);
	assert_int_equal(x->held[VW_PATH_VPN].n, 1);
	for (int p = 0; p < VW_PATHS; p++)
		vw_boxset_done(&bs[p]);

	/* once b.wild.test ran out, only a.wild.test's port is left */
	assert_int_equal(vw_answer_boxes(x, 15000, bs), 0);
	assert_int_equal(bs[VW_PATH_VPN].n, 1);
	assert_int_equal(bs[VW_PATH_VPN].v[0].port_hi, 80);
	for (int p = 0; p < VW_PATHS; p++)
		vw_boxset_done(&bs[p]);

	/* grants by path stay apart; "any" covers every port and protocol */
	assert_int_equal(vw_answers_learn(&a, "k1", AF_INET, a4("198.51.100.13"), "c.test",
					  (struct vw_name_grant[]){ any_vpn, lan }, 2, 5000, 0, &x),
			 0);
	assert_int_equal(vw_answer_boxes(x, 0, bs), 0);
	assert_int_equal(bs[VW_PATH_VPN].n, 1);
	assert_int_equal(bs[VW_PATH_VPN].v[0].proto_lo, 0);
	assert_int_equal(bs[VW_PATH_VPN].v[0].proto_hi, 255);
	assert_int_equal(bs[VW_PATH_ANY].n, 1);
	assert_int_equal(bs[VW_PATH_ANY].v[0].proto_lo, IPPROTO_UDP);
	for (int p = 0; p < VW_PATHS; p++)
		vw_boxset_done(&bs[p]);

	/* per container: another container's entry for the same address is its own */
	assert_int_equal(vw_answers_count(&a, "k1"), 2);
	assert_null(vw_answers_find(&a, "k2", AF_INET, a4("198.51.100.13")));
	assert_int_equal(vw_answers_learn(&a, "k2", AF_INET, a4("198.51.100.13"), "c.test",
					  &any_vpn, 1, 5000, 0, &y),
			 0);
	assert_ptr_not_equal(x, y);
	assert_int_equal(vw_answers_count(&a, "k2"), 1);

	/* pruning: an entry goes once its names and what the backend holds ran out */
	assert_int_equal(vw_answers_prune(&a, 6000), 2); /* both c.test entries */
	assert_int_equal(vw_answers_count(&a, "k1"), 1);
	assert_int_equal(vw_answers_count(&a, "k2"), 0);
	assert_int_equal(vw_answers_prune(&a, 19999), 0);
	assert_int_equal(vw_answers_prune(&a, 20000), 1);
	assert_int_equal(a.n, 0);
	vw_answers_done(&a);
}

static void test_answers_caps(void **state)
{
	struct vw_answers a;
	struct vw_answer *x = NULL;
	uint8_t addr[16] = { 198, 18, 0, 0 };
	char name[32];

	(void)state;
	vw_answers_init(&a, 65536);
	for (unsigned i = 0; i < VW_ANSWERS_CONTAINER_MAX; i++) {
		addr[2] = (uint8_t)(i >> 8);
		addr[3] = (uint8_t)i;
		assert_int_equal(vw_answers_learn(&a, "flood", AF_INET, addr, "x.test", &tcp80, 1,
						  1000, 0, &x),
				 0);
	}
	addr[1] = 19;
	assert_int_equal(
		vw_answers_learn(&a, "flood", AF_INET, addr, "x.test", &tcp80, 1, 1000, 0, &x),
		-ENOSPC);
	/* the others are not held back by one container's flood */
	assert_int_equal(
		vw_answers_learn(&a, "calm", AF_INET, addr, "x.test", &tcp80, 1, 1000, 0, &x), 0);
	/* names per address: the one expiring first makes room */
	for (int i = 0; i < VW_ANSWER_NAMES_MAX + 3; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		assert_int_equal(vw_answers_learn(&a, "calm", AF_INET, addr, name, &tcp80, 1,
						  (uint64_t)(2000 + i), 0, &x),
				 0);
	}
	assert_int_equal(x->n_names, VW_ANSWER_NAMES_MAX);
	assert_int_equal(x->expires, 2000 + VW_ANSWER_NAMES_MAX + 2);
	for (size_t i = 0; i < x->n_names; i++)
		assert_true(x->names[i].expires >= 2003);
	/* bad input */
	assert_int_equal(
		vw_answers_learn(&a, "calm", AF_INET, addr, "x.test", &tcp80, 0, 1000, 0, &x),
		-EINVAL);
	while ((x = vw_answers_first(&a, "flood")))
		vw_answers_remove(&a, x);
	assert_int_equal(vw_answers_count(&a, "flood"), 0);
	assert_int_equal(a.n, 1);
	vw_answers_done(&a);
}

static bool busy_g00(void *ud, const char *key)
{
	(void)ud;
	return strcmp(key, "g00") == 0;
}

/* A full table: a container under its share takes from the biggest, never more. */
static void test_answers_fair_share(void **state)
{
	struct vw_answers a;
	struct vw_answer *x = NULL, *v;
	uint8_t addr[16] = { 198, 18, 0, 0 };
	const size_t share = 65536 / 17; /* 16 greedy ones and "calm" */
	char key[8];

	(void)state;
	vw_answers_init(&a, 65536);
	assert_null(vw_answers_victim(&a, "calm", NULL, NULL)); /* room left: nobody gives */
	for (unsigned g = 0; g < 16; g++) {
		snprintf(key, sizeof(key), "g%02u", g);
		for (unsigned i = 0; i < VW_ANSWERS_CONTAINER_MAX; i++) {
			addr[2] = (uint8_t)(i >> 8);
			addr[3] = (uint8_t)i;
			assert_int_equal(vw_answers_learn(&a, key, AF_INET, addr, "x.test", &tcp80,
							  1, 100000, 0, &x),
					 0);
			x->held_expires = 10000 + i; /* the first one goes first */
		}
	}
	assert_int_equal(a.n, 65536);
	addr[1] = 19;
	for (size_t k = 0; k < share; k++) {
		addr[2] = (uint8_t)(k >> 8);
		addr[3] = (uint8_t)k;
		assert_int_equal(vw_answers_learn(&a, "calm", AF_INET, addr, "y.test", &tcp80, 1,
						  100000, 0, &x),
				 -ENOSPC);
		/* g00 in the same transaction at first: it gives nothing then */
		v = vw_answers_victim(&a, "calm", k < 100 ? busy_g00 : NULL, NULL);
		assert_non_null(v);
		assert_string_not_equal(v->key, "calm");
		if (k < 100)
			assert_string_not_equal(v->key, "g00");
		if (k == 0)
			assert_int_equal(v->held_expires, 10000); /* its owner's soonest */
		vw_answers_remove(&a, v);
		assert_int_equal(vw_answers_learn(&a, "calm", AF_INET, addr, "y.test", &tcp80, 1,
						  100000, 0, &x),
				 0);
	}
	/* calm holds its share: no more */
	assert_int_equal(vw_answers_count(&a, "calm"), share);
	assert_null(vw_answers_victim(&a, "calm", NULL, NULL));
	assert_int_equal(
		vw_answers_learn(&a, "calm", AF_INET, addr, "z.test", &tcp80, 1, 100000, 0, &x),
		0); /* a known address learns a new name all the same */
	/* it was taken from the biggest each time: the 16 that gave are even, at their share */
	for (unsigned g = 0; g < 16; g++) {
		snprintf(key, sizeof(key), "g%02u", g);
		assert_in_range(vw_answers_count(&a, key), share, share + 1);
		assert_null(vw_answers_victim(&a, key, NULL, NULL));
	}
	vw_answers_done(&a);
}

static bool busy_a(void *ud, const char *key)
{
	(void)ud;
	return strcmp(key, "a") == 0;
}

/* Nobody gives at or under its share: when the one over it is busy, nothing is taken. */
static void test_answers_share_busy(void **state)
{
	static const struct {
		const char *key;
		unsigned n;
	} fill[] = { { "a", 6 }, { "b", 4 }, { "c", 2 } }; /* 12 of 12: each one's share is 4 */
	struct vw_answers a;
	struct vw_answer *x = NULL, *v;
	uint8_t addr[16] = { 198, 18, 0, 0 };

	(void)state;
	vw_answers_init(&a, 12);
	for (size_t k = 0; k < ELEMENTSOF(fill); k++)
		for (unsigned i = 0; i < fill[k].n; i++) {
			addr[3] = (uint8_t)i;
			assert_int_equal(vw_answers_learn(&a, fill[k].key, AF_INET, addr, "x.test",
							  &tcp80, 1, 1000, 0, &x),
					 0);
		}
	assert_null(vw_answers_victim(&a, "c", busy_a, NULL)); /* not from b, at its share */
	v = vw_answers_victim(&a, "c", NULL, NULL);
	assert_non_null(v);
	assert_string_equal(v->key, "a");
	assert_null(vw_answers_victim(&a, "b", NULL, NULL)); /* b holds its share */
	vw_answers_done(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers_union),
		cmocka_unit_test(test_answers_caps),
		cmocka_unit_test(test_answers_fair_share),
		cmocka_unit_test(test_answers_share_busy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
