// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nft message building by round trip: render a plan, parse every message back with
 * libnftnl, and check what the kernel would be told: object names and types, interval
 * start/end keys, verdict-map verdicts, the base chain's hook, and each rule's expressions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>

#include "vpnwall/nft.h"
#include "vpnwall/ruleset.h"

#define KEY "0123456789abcdef"

struct fixture {
	struct vw_ruleset rs;
	struct vw_rs_container c;
	struct vw_rs_group g[2];
	struct vw_rs_source src[2];
	char bridges[1][VW_IFNAMSIZ];
	void *buf;
	size_t len;
};

static void add4(struct vw_rangeset *s, const char *lo, const char *hi)
{
	uint8_t a[16] = { 0 }, b[16] = { 0 };

	assert_int_equal(inet_pton(AF_INET, lo, a), 1);
	assert_int_equal(inet_pton(AF_INET, hi, b), 1);
	assert_int_equal(vw_rangeset_add(s, a, b), 0);
}

/* One container: any protocol to 198.51.100.0/24 and 255.255.255.255, tcp/443 to .7. */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vw_plan plan;

	for (int i = 0; i < 2; i++) {
		f->g[i].set4.family = AF_INET;
		f->g[i].set6.family = AF_INET6;
		f->g[i].has4 = true;
	}
	add4(&f->g[0].set4, "198.51.100.0", "198.51.100.255");
	add4(&f->g[0].set4, "255.255.255.255", "255.255.255.255");
	f->g[1].proto = IPPROTO_TCP;
	f->g[1].port_lo = f->g[1].port_hi = 443;
	add4(&f->g[1].set4, "198.51.100.7", "198.51.100.7");
	snprintf(f->c.key, sizeof(f->c.key), KEY);
	f->c.groups = f->g;
	f->c.n_groups = 2;
	f->src[0].family = f->src[1].family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "198.18.1.2", f->src[0].addr), 1);
	snprintf(f->src[0].key, sizeof(f->src[0].key), KEY);
	assert_int_equal(inet_pton(AF_INET, "198.18.1.3", f->src[1].addr), 1);
	snprintf(f->bridges[0], VW_IFNAMSIZ, "docker0");
	f->rs = (struct vw_ruleset){ .log_group = 7811,
				     .log_rate = 20,
				     .police_unknown = true,
				     .bridges = f->bridges,
				     .n_bridges = 1,
				     .containers = &f->c,
				     .n_containers = 1,
				     .sources = f->src,
				     .n_sources = 2 };
	assert_int_equal(vw_ruleset_diff(NULL, &f->rs, &plan), 0);
	assert_int_equal(vw_nft_render("vwtest", &plan, &f->buf, &f->len), 0);
	vw_plan_done(&plan);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->g[0].set4.v);
	free(f->g[1].set4.v);
	free(f->buf);
	free(f);
	return 0;
}

/* The @nth message of nf_tables type @type (0-based), or NULL. */
static const struct nlmsghdr *find_msg(struct fixture *f, uint16_t type, int nth)
{
	const struct nlmsghdr *nlh = f->buf;
	int rem = (int)f->len;

	for (; mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem))
		if (nlh->nlmsg_type == (NFNL_SUBSYS_NFTABLES << 8 | type) && nth-- == 0)
			return nlh;
	return NULL;
}

static void test_nft_batch_frame(void **state)
{
	struct fixture *f = *state;
	const struct nlmsghdr *nlh = f->buf, *last = NULL;
	int rem = (int)f->len, n = 0;

	assert_int_equal(nlh->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
	for (; mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem), n++)
		last = nlh;
	assert_int_equal(rem, 0);
	assert_int_equal(last->nlmsg_type, NFNL_MSG_BATCH_END);
	/* create-delete-create: the replace is valid whether or not the table existed */
	assert_non_null(find_msg(f, NFT_MSG_NEWTABLE, 1));
	assert_non_null(find_msg(f, NFT_MSG_DELTABLE, 0));
	assert_true(n > 20);
}

/*
 * libnftnl numbers the element nests of a message it builds 1, 2, 3, ... (the kernel reads
 * any type) but its own parser accepts only NFTA_LIST_ELEM: renumber a copy before parsing.
 */
static struct nlmsghdr *elems_copy(const struct nlmsghdr *nlh)
{
	struct nlmsghdr *c = malloc(nlh->nlmsg_len);
	struct nlattr *a, *e;

	memcpy(c, nlh, nlh->nlmsg_len);
	mnl_attr_for_each(a, c, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(e, a) {
			e->nla_type = (uint16_t)((e->nla_type & ~NLA_TYPE_MASK) | NFTA_LIST_ELEM);
		}
	}
	return c;
}

static struct nftnl_set *set_msg(struct fixture *f, uint16_t type, const char *name)
{
	for (int i = 0;; i++) {
		const struct nlmsghdr *nlh = find_msg(f, type, i);
		struct nftnl_set *s;

		if (!nlh)
			return NULL;
		s = nftnl_set_alloc();
		if (type == NFT_MSG_NEWSET) {
			assert_int_equal(nftnl_set_nlmsg_parse(nlh, s), 0);
		} else {
			struct nlmsghdr *c = elems_copy(nlh);

			assert_int_equal(nftnl_set_elems_nlmsg_parse(c, s), 0);
			free(c);
		}
		if (strcmp(nftnl_set_get_str(s, NFTNL_SET_NAME), name) == 0)
			return s;
		nftnl_set_free(s);
	}
}

static void test_nft_interval_set(void **state)
{
	struct fixture *f = *state;
	struct nftnl_set *s = set_msg(f, NFT_MSG_NEWSET, "s_" KEY "_0_4");
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;
	const uint8_t *k;
	uint32_t len;
	int n = 0;

	assert_non_null(s);
	assert_true(nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_INTERVAL);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), 4);
	assert_true(nftnl_set_get_u32(s, NFTNL_SET_ID) != 0);
	nftnl_set_free(s);

	s = set_msg(f, NFT_MSG_NEWSETELEM, "s_" KEY "_0_4");
	assert_non_null(s);
	it = nftnl_set_elems_iter_create(s);
	/* 198.51.100.0 start, 198.51.101.0 end; 255.255.255.255 start without an end */
	while ((e = nftnl_set_elems_iter_next(it))) {
		uint32_t flags = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS)
					 ? nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS)
					 : 0;

		k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
		assert_int_equal(len, 4);
		if (n == 0) {
			assert_memory_equal(k, ((uint8_t[]){ 198, 51, 100, 0 }), 4);
			assert_false(flags & NFT_SET_ELEM_INTERVAL_END);
		} else if (n == 1) {
			assert_memory_equal(k, ((uint8_t[]){ 198, 51, 101, 0 }), 4);
			assert_true(flags & NFT_SET_ELEM_INTERVAL_END);
		} else {
			assert_memory_equal(k, ((uint8_t[]){ 255, 255, 255, 255 }), 4);
			assert_false(flags & NFT_SET_ELEM_INTERVAL_END);
		}
		n++;
	}
	assert_int_equal(n, 3);
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
}

static void test_nft_verdict_map(void **state)
{
	struct fixture *f = *state;
	struct nftnl_set *s = set_msg(f, NFT_MSG_NEWSETELEM, "src4");
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;
	int n = 0;

	assert_non_null(s);
	it = nftnl_set_elems_iter_create(s);
	while ((e = nftnl_set_elems_iter_next(it))) {
		uint32_t len;
		const uint8_t *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);

		assert_int_equal(len, 4);
		if (k[3] == 2) {
			/* goto, so that the container chain's return ends our table */
			assert_int_equal((int)nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT),
					 NFT_GOTO);
			assert_string_equal(nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN),
					    "c_" KEY);
		} else {
			assert_int_equal((int)nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT),
					 NFT_RETURN);
		}
		n++;
	}
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	/* the two sources travel in two messages; this one was either */
	assert_int_equal(n, 1);
	s = set_msg(f, NFT_MSG_NEWSETELEM, "intra");
	assert_non_null(s);
	nftnl_set_free(s);
}

static void test_nft_base_chain(void **state)
{
	struct fixture *f = *state;

	for (int i = 0;; i++) {
		const struct nlmsghdr *nlh = find_msg(f, NFT_MSG_NEWCHAIN, i);
		struct nftnl_chain *c = nftnl_chain_alloc();

		assert_non_null(nlh);
		assert_int_equal(nftnl_chain_nlmsg_parse(nlh, c), 0);
		if (strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), "forward") == 0) {
			assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM),
					 NF_INET_FORWARD);
			assert_int_equal(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), -10);
			assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY), NF_ACCEPT);
			assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "filter");
			nftnl_chain_free(c);
			return;
		}
		nftnl_chain_free(c);
	}
}

/* The expression names of every rule of @chain, one string per rule ("meta,cmp,..."). */
static int rules_of(struct fixture *f, const char *chain, char out[][256], int max)
{
	int n = 0;

	for (int i = 0; n < max; i++) {
		const struct nlmsghdr *nlh = find_msg(f, NFT_MSG_NEWRULE, i);
		struct nftnl_rule *r;
		struct nftnl_expr_iter *it;
		struct nftnl_expr *e;

		if (!nlh)
			break;
		r = nftnl_rule_alloc();
		assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
		if (strcmp(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), chain) != 0) {
			nftnl_rule_free(r);
			continue;
		}
		out[n][0] = '\0';
		it = nftnl_expr_iter_create(r);
		while ((e = nftnl_expr_iter_next(it))) {
			const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

			if (out[n][0])
				strcat(out[n], ",");
			strcat(out[n], name);
			if (strcmp(name, "log") == 0) {
				assert_int_equal(nftnl_expr_get_u16(e, NFTNL_EXPR_LOG_GROUP), 7811);
				assert_string_equal(nftnl_expr_get_str(e, NFTNL_EXPR_LOG_PREFIX),
						    "D:" KEY);
			}
		}
		nftnl_expr_iter_destroy(it);
		nftnl_rule_free(r);
		n++;
	}
	return n;
}

static void test_nft_container_rules(void **state)
{
	struct fixture *f = *state;
	char rules[8][256];
	int n = rules_of(f, "c_" KEY, rules, 8);

	assert_int_equal(n, 4);
	/* any protocol: meta nfproto, ip daddr @set, counter, return */
	assert_string_equal(rules[0], "meta,cmp,payload,lookup,objref,immediate");
	/* tcp 443: plus l4proto and th dport */
	assert_string_equal(rules[1],
			    "meta,cmp,meta,cmp,payload,cmp,payload,lookup,objref,immediate");
	/* the rate-limited audit, then count and drop */
	assert_string_equal(rules[2], "limit,log");
	assert_string_equal(rules[3], "objref,immediate");
}

static void test_nft_forward_rules(void **state)
{
	struct fixture *f = *state;
	char rules[8][256];

	/* skip set, managed set, then the two fail-closed rules for unknown Docker bridges */
	assert_int_equal(rules_of(f, "forward", rules, 8), 4);
	assert_string_equal(rules[0], "meta,lookup,immediate");
	assert_string_equal(rules[2], "meta,cmp,immediate");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nft_batch_frame),
		cmocka_unit_test(test_nft_interval_set),
		cmocka_unit_test(test_nft_verdict_map),
		cmocka_unit_test(test_nft_base_chain),
		cmocka_unit_test(test_nft_container_rules),
		cmocka_unit_test(test_nft_forward_rules),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
