// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The incremental desired ruleset against the full compile: after every random change
 * (containers coming, going, relabelled, joining namespaces, colliding on addresses and
 * keys, opting out, names answering differently, networks changing), the incrementally
 * kept ruleset equals vw_policy_compile() over the whole store, and the change set covers
 * every difference from the previous state (adopting only what it marks reproduces it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "vpnwall/config.h"
#include "vpnwall/desired.h"
#include "vpnwall/labels.h"
#include "vpnwall/names.h"
#include "vpnwall/policy.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/store.h"

#define NET_A "aaaaaaaaaaaaaaaa"
#define NET_B "bbbbbbbbbbbbbbbb"
#define POOL 12

static const char *const label_sets[][2] = {
	{ NULL, NULL },
	{ "vpn.outbound", "198.51.100.10" },
	{ "vpn.outbound", "198.51.100.0/24:443/tcp,n1.test" },
	{ "vpn.outbound", "n2.test:80,n1.test:53/udp" },
	{ "vpn.enable", "false" },
	{ "vpn.dryrun", "true" },
	{ "vpn.allow", "198.18.0.0/15" },
	{ "vpn.outbound", "2001:db8::/32:443/tcp,n3.test" },
};

struct world {
	struct vw_config cfg;
	struct vw_store st;
	struct vw_names names;
	struct vw_desired d;
	struct vw_ruleset applied;
	uint32_t rnd;
};

static uint32_t rnd(struct world *w)
{
	w->rnd ^= w->rnd << 13;
	w->rnd ^= w->rnd >> 17;
	w->rnd ^= w->rnd << 5;
	return w->rnd;
}

static void networks(struct world *w, bool both_managed)
{
	struct vw_network *nets = calloc(2, sizeof(*nets));

	assert_non_null(nets);
	nets[0] = (struct vw_network){
		.id = NET_A, .name = "a", .bridge = "br-a", .is_bridge = true
	};
	nets[1] = (struct vw_network){
		.id = NET_B, .name = "b", .bridge = "br-b", .is_bridge = both_managed
	};
	vw_store_set_networks(&w->st, nets, 2);
}

/* Container i of the pool, in one of its random shapes. */
static void put_container(struct world *w, int i)
{
	struct vw_container c = { .running = true };
	uint32_t r = rnd(w);
	const char *const *l = label_sets[r % 8];

	/* Ids 0 and 1 share their first 16 digits: a key collision when both run. */
	snprintf(c.id, sizeof(c.id), "%016x%04x", i < 2 ? 0x1111 : 0x2000 + i, i);
	snprintf(c.name, sizeof(c.name), "c%d", i);
	if ((r >> 3) % 5 == 0 && i > 2) {
		/* join another pool member's namespace */
		snprintf(c.netns_owner, sizeof(c.netns_owner), "%016x%04x", 0x2000 + 2, 2);
	} else {
		c.eps = calloc(2, sizeof(*c.eps));
		assert_non_null(c.eps);
		c.n_eps = 1 + (r >> 6) % 2;
		for (size_t k = 0; k < c.n_eps; k++) {
			struct vw_endpoint *ep = &c.eps[k];

			snprintf(ep->network_id, sizeof(ep->network_id), "%s", k ? NET_B : NET_A);
			ep->has4 = true;
			/* a small address space: collisions happen */
			ep->addr4[0] = 198;
			ep->addr4[1] = 18;
			ep->addr4[2] = (uint8_t)(1 + k);
			ep->addr4[3] = (uint8_t)(2 + (r >> 8) % 8);
			if ((r >> 12) % 3 == 0) {
				ep->has6 = true;
				assert_int_equal(inet_pton(AF_INET6, "2001:db8:1::", ep->addr6), 1);
				ep->addr6[15] = (uint8_t)(i + 1);
			}
		}
	}
	if (l[0])
		assert_int_equal(vw_labels_add(&c.labels, l[0], l[1]), 0);
	if ((r >> 14) % 4 == 0)
		assert_int_equal(vw_labels_add(&c.labels, "vpn.outbound", "n1.test:8080"), 0);
	char id[VW_ID_MAX + 1];

	memcpy(id, c.id, sizeof(id));
	assert_int_equal(vw_store_put(&w->st, &c), 0);
	assert_int_equal(vw_desired_mark(&w->d, id), 0);
}

static void same_ruleset(const struct vw_ruleset *a, const struct vw_ruleset *b)
{
	assert_int_equal(a->n_containers, b->n_containers);
	for (size_t i = 0; i < a->n_containers; i++) {
		const struct vw_rs_container *x = a->containers[i], *y = b->containers[i];

		assert_string_equal(x->key, y->key);
		assert_int_equal(x->audit, y->audit);
		assert_string_equal(x->isolated, y->isolated);
		assert_string_equal(x->note, y->note);
		for (int f = 0; f < 2; f++) {
			assert_int_equal(x->dst[f].n, y->dst[f].n);
			if (x->dst[f].n)
				assert_memory_equal(x->dst[f].v, y->dst[f].v,
						    x->dst[f].n * sizeof(*x->dst[f].v));
		}
	}
	assert_int_equal(a->n_sources, b->n_sources);
	for (size_t i = 0; i < a->n_sources; i++) {
		assert_int_equal(a->sources[i].family, b->sources[i].family);
		assert_memory_equal(a->sources[i].addr, b->sources[i].addr, 16);
		assert_string_equal(a->sources[i].key, b->sources[i].key);
	}
	assert_int_equal(a->n_bridges, b->n_bridges);
	for (size_t i = 0; i < a->n_bridges; i++) {
		assert_string_equal(a->bridges[i].name, b->bridges[i].name);
		assert_int_equal(a->bridges[i].managed, b->bridges[i].managed);
	}
}

/* Incremental equals full, and adopting only the marked changes reproduces it. */
static void check(struct world *w)
{
	struct vw_ruleset full;
	struct vw_names scratch;

	/* The full compile marks names in a cache of its own: answers are copied in. */
	vw_names_init(&scratch, 1, 60);
	for (int n = 1; n <= 3; n++) {
		char name[32];
		const struct vw_name *e;

		snprintf(name, sizeof(name), "n%d.test", n);
		e = vw_names_get(&w->names, name);
		assert_int_equal(vw_names_want(&scratch, name, 0), 0);
		for (int f = 0; e && f < 2; f++)
			if (e->fam[f].known)
				(void)vw_names_answer(&scratch, name, f, VW_DNS_OK,
						      (const uint8_t(*)[16])e->fam[f].addrs,
						      e->fam[f].n, 60, 0);
	}
	assert_int_equal(vw_policy_compile((const struct vw_container *const *)w->st.list, w->st.n,
					   w->st.nets, w->st.n_nets, &w->cfg, &scratch, 0, &full),
			 0);
	same_ruleset(&w->d.rs, &full);
	vw_ruleset_done(&full);
	vw_names_done(&scratch);

	vw_changes_normalize(&w->d.changes);
	assert_int_equal(vw_ruleset_adopt(&w->applied, &w->d.rs, &w->d.changes), 0);
	same_ruleset(&w->applied, &w->d.rs);
	vw_changes_reset(&w->d.changes);
}

static void answer(struct world *w, const char *name, uint8_t last)
{
	uint8_t a[1][16] = { { 198, 51, 100, last } };

	if (!vw_names_get(&w->names, name))
		return;
	if (vw_names_answer(&w->names, name, 0, VW_DNS_OK, (const uint8_t(*)[16])a, 1, 60, 0) > 0)
		assert_int_equal(vw_desired_mark_name(&w->d, name), 0);
}

static void test_desired_matches_full_compile(void **state)
{
	const char *env[] = { "DEFAULT_OUTBOUND=198.51.100.53:53/udp", NULL };
	struct world w = { .rnd = 0x9e3779b9 };
	char err[256];

	assert_int_equal(vw_config_parse(&w.cfg, (char *const *)env, 0, NULL, err, sizeof(err)), 0);
	vw_store_init(&w.st);
	vw_names_init(&w.names, 1, 60);
	assert_int_equal(vw_desired_init(&w.d, &w.cfg), 0);
	networks(&w, true);
	assert_int_equal(vw_desired_rebuild(&w.d, &w.st, &w.names, 0), 0);
	check(&w);

	for (int step = 0; step < 3000; step++) {
		uint32_t r = rnd(&w);
		int i = (int)(r % POOL);
		char id[VW_ID_MAX + 1];

		snprintf(id, sizeof(id), "%016x%04x", i < 2 ? 0x1111 : 0x2000 + i, i);
		switch ((r >> 8) % 10) {
		case 0:
		case 1:
		case 2:
		case 3:
			put_container(&w, i);
			break;
		case 4:
		case 5:
			(void)vw_store_del(&w.st, id);
			assert_int_equal(vw_desired_mark(&w.d, id), 0);
			break;
		case 6:
			answer(&w, "n1.test", (uint8_t)(r >> 16));
			answer(&w, "n2.test", (uint8_t)(r >> 24));
			break;
		case 7:
			answer(&w, "n3.test", (uint8_t)(r >> 20));
			break;
		case 8:
			/* a stopped container, still known */
			if (vw_store_get(&w.st, id)) {
				vw_store_get(&w.st, id)->running = false;
				assert_int_equal(vw_desired_mark(&w.d, id), 0);
			}
			break;
		case 9:
			if ((r >> 16) % 8 == 0) {
				networks(&w, (r >> 20) % 2);
				assert_int_equal(vw_desired_rebuild(&w.d, &w.st, &w.names, 0), 0);
			}
			break;
		}
		assert_int_equal(vw_desired_flush(&w.d, &w.st, &w.names, 0), 0);
		check(&w);
	}
	vw_ruleset_done(&w.applied);
	vw_desired_done(&w.d);
	vw_names_done(&w.names);
	vw_store_done(&w.st);
	vw_config_done(&w.cfg);
}

/* An answer reaches the container's boxes and is kept: recompiling must not forget it. */
static void test_desired_name_answer_sticks(void **state)
{
	const char *none[] = { NULL };
	struct world w = { 0 };
	struct vw_container c = { .running = true };
	struct vw_endpoint *ep = calloc(1, sizeof(*ep));
	uint8_t want[16] = { 198, 51, 100, 7 };
	const struct vw_rs_container *rc;
	char err[256], id[VW_ID_MAX + 1];
	int fam;

	(void)state;
	assert_non_null(ep);
	assert_int_equal(vw_config_parse(&w.cfg, (char *const *)none, 0, NULL, err, sizeof(err)),
			 0);
	vw_store_init(&w.st);
	vw_names_init(&w.names, 1, 60);
	assert_int_equal(vw_desired_init(&w.d, &w.cfg), 0);
	networks(&w, true);
	assert_int_equal(vw_desired_rebuild(&w.d, &w.st, &w.names, 0), 0);
	snprintf(c.id, sizeof(c.id), "%064x", 7);
	snprintf(c.name, sizeof(c.name), "web");
	snprintf(ep->network_id, sizeof(ep->network_id), NET_A);
	ep->has4 = true;
	memcpy(ep->addr4, (uint8_t[]){ 198, 18, 1, 2 }, 4);
	c.eps = ep;
	c.n_eps = 1;
	assert_int_equal(vw_labels_add(&c.labels, "vpn.outbound", "n1.test"), 0);
	memcpy(id, c.id, sizeof(id));
	assert_int_equal(vw_store_put(&w.st, &c), 0); /* takes what @c holds */
	assert_int_equal(vw_desired_mark(&w.d, id), 0);
	assert_int_equal(vw_desired_flush(&w.d, &w.st, &w.names, 0), 0);
	/* wanted, due now, nothing allowed yet */
	assert_non_null(vw_ruleset_find(&w.d.rs, "0000000000000000"));
	assert_non_null(vw_names_get(&w.names, "n1.test"));
	assert_non_null(vw_names_next_due(&w.names, 0, &fam));

	answer(&w, "n1.test", 7);
	assert_true(vw_desired_is_dirty(&w.d));
	assert_int_equal(vw_desired_flush(&w.d, &w.st, &w.names, 0), 0);
	rc = vw_ruleset_find(&w.d.rs, "0000000000000000");
	assert_non_null(rc);
	assert_non_null(vw_boxset_find(&rc->dst[0], want, IPPROTO_TCP, 443));
	/* the answer is still cached, not due again until its TTL: no re-resolve loop */
	assert_non_null(vw_names_get(&w.names, "n1.test"));
	assert_true(vw_names_get(&w.names, "n1.test")->fam[0].known);
	while (vw_names_next_due(&w.names, 1000, &fam))
		assert_int_equal(fam, 1); /* only AAAA, which was never answered */
	assert_false(vw_desired_is_dirty(&w.d));

	/* a policy without the name lets it go */
	vw_labels_done(&vw_store_get(&w.st, id)->labels);
	memset(&vw_store_get(&w.st, id)->labels, 0, sizeof(c.labels));
	assert_int_equal(vw_desired_mark(&w.d, id), 0);
	assert_int_equal(vw_desired_flush(&w.d, &w.st, &w.names, 0), 0);
	assert_null(vw_names_get(&w.names, "n1.test"));

	vw_desired_done(&w.d);
	vw_names_done(&w.names);
	vw_store_done(&w.st);
	vw_config_done(&w.cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_desired_matches_full_compile),
		cmocka_unit_test(test_desired_name_answer_sticks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
