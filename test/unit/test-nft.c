// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nft message building by round trip: render a plan, parse every message back with
 * libnftnl, and check what the kernel would be told. Rules are compared in libnftnl's
 * expression notation (the form `nft --debug=netlink` prints): every register, payload
 * offset, compared value and verdict, so a flipped verdict or a source swapped for a
 * destination fails. Sets, elements (keys and key ends byte by byte), counters, the table
 * tag and the message order are checked the same way.
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
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "vpnwall/labels.h"
#include "vpnwall/nft.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/util.h"

#define KEY "0123456789abcdef"
#define TABLE "vwtest"
#define TAG "vpnwall boot=test"

struct fixture {
	struct vw_ruleset rs;
	struct vw_rs_container c;
	struct vw_rs_container *cp;
	struct vw_rs_source src[2];
	char ignore[2][VW_IFNAMSIZ];
	struct vw_rs_bridge br[1];
	void *buf;
	size_t len;
};

/* Zero the alignment padding after each attribute, recursing into nests. */
static void zero_padding(void *payload, size_t len)
{
	size_t off = 0;

	while (off + sizeof(struct nlattr) <= len) {
		struct nlattr *a = (struct nlattr *)((char *)payload + off);
		size_t alen = a->nla_len, aligned = MNL_ALIGN(alen);

		if (alen < sizeof(*a) || off + alen > len)
			return;
		if (a->nla_type & NLA_F_NESTED)
			zero_padding((char *)a + sizeof(*a), alen - sizeof(*a));
		if (off + aligned <= len)
			memset((char *)a + alen, 0, aligned - alen);
		off += aligned;
	}
}

/*
 * libmnl 1.0.4 leaves attribute padding uninitialised and libnftnl puts strings without
 * their NUL (the kernel bounds them by length); libnftnl's own parser then strdup()s into
 * the padding. Zeroing it makes the parse read what the kernel reads.
 */
static void render(struct fixture *f, const struct vw_plan *plan)
{
	struct nlmsghdr *nlh;
	int rem;

	free(f->buf);
	assert_int_equal(vw_nft_render(TABLE, TAG, plan, &f->buf, &f->len), 0);
	rem = (int)f->len;
	for (nlh = f->buf; mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem))
		if (nlh->nlmsg_len > NLMSG_SPACE(sizeof(struct nfgenmsg)))
			zero_padding((char *)nlh + NLMSG_SPACE(sizeof(struct nfgenmsg)),
				     nlh->nlmsg_len - NLMSG_SPACE(sizeof(struct nfgenmsg)));
}

/*
 * One container: tcp/443 to 198.51.100.0/24 and anything to 2001:db8::1 (through the VPN,
 * when there is one), and its LAN 192.168.1.0/24 by any path.
 */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vw_atoms a4 = { .family = AF_INET }, a6 = { .family = AF_INET6 };
	uint8_t x[16] = { 0 };
	struct vw_plan plan;

	assert_int_equal(inet_pton(AF_INET, "198.51.100.0", x), 1);
	assert_int_equal(vw_atoms_add_prefix(&a4, x, 24, VW_PROTO_TCP, 443, 443), 0);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", x), 1);
	assert_int_equal(vw_atoms_add_prefix(&a6, x, 128, 0, 0, 0), 0);
	vw_rs_container_init(&f->c);
	assert_int_equal(vw_boxset_build(&a4, 10, &f->c.dst[0]), 1);
	assert_int_equal(vw_boxset_build(&a6, 10, &f->c.dst[1]), 1);
	vw_atoms_done(&a4);
	assert_int_equal(inet_pton(AF_INET, "192.168.1.0", x), 1);
	assert_int_equal(vw_atoms_add_prefix(&a4, x, 24, 0, 0, 0), 0);
	assert_int_equal(vw_boxset_build(&a4, 10, &f->c.dst[2]), 1);
	f->c.dst[2].path = VW_PATH_ANY; /* set by init, and not undone by the build */
	vw_atoms_done(&a4);
	vw_atoms_done(&a6);
	snprintf(f->c.key, sizeof(f->c.key), KEY);
	f->cp = &f->c;
	f->src[0].family = f->src[1].family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "198.18.1.2", f->src[0].addr), 1);
	snprintf(f->src[0].key, sizeof(f->src[0].key), KEY);
	assert_int_equal(inet_pton(AF_INET, "198.18.1.3", f->src[1].addr), 1);
	snprintf(f->ignore[0], VW_IFNAMSIZ, "virbr+");
	snprintf(f->ignore[1], VW_IFNAMSIZ, "br0");
	snprintf(f->br[0].name, VW_IFNAMSIZ, "br-excluded");
	f->rs = (struct vw_ruleset){ .log_group = 7811,
				     .log_rate = 20,
				     .ignore = f->ignore,
				     .n_ignore = 2,
				     .bridges = f->br,
				     .n_bridges = 1,
				     .containers = &f->cp,
				     .n_containers = 1,
				     .sources = f->src,
				     .n_sources = 2 };
	assert_int_equal(vw_ruleset_diff(NULL, &f->rs, NULL, &plan), 0);
	render(f, &plan);
	vw_plan_done(&plan);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vw_rs_container_done(&f->c);
	free(f->buf);
	free(f);
	return 0;
}

/* The @nth message of nf_tables type @type (0-based), or NULL. */
static const struct nlmsghdr *find_msg(const struct fixture *f, uint16_t type, int nth)
{
	const struct nlmsghdr *nlh = f->buf;
	int rem = (int)f->len;

	for (; mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem))
		if (nlh->nlmsg_type == (NFNL_SUBSYS_NFTABLES << 8 | type) && nth-- == 0)
			return nlh;
	return NULL;
}

/*
 * libnftnl writes an objref's map name without its NUL (the kernel takes it so) but reads it
 * back with strdup(), so what it prints runs into the next attribute: cut our object maps'
 * names (8 characters) back to themselves.
 */
static void fix_objref_names(char *s)
{
	static const char *const maps[] = { "allowed", "dropped", "lograte" };

	for (char *p = strstr(s, "set "); p; p = strstr(p + 1, "set ")) {
		char *end;

		for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
			if (strncmp(p + 4, maps[i], 7) == 0 && (end = strstr(p, " ]")))
				memmove(p + 12, end, strlen(end) + 1);
	}
}

/* Every rule of @chain in the batch, in libnftnl's notation, joined. */
static char *chain_rules(const struct fixture *f, const char *chain)
{
	static char out[16384];
	size_t off = 0;

	out[0] = '\0';
	for (int i = 0;; i++) {
		const struct nlmsghdr *nlh = find_msg(f, NFT_MSG_NEWRULE, i);
		struct nftnl_rule *r;
		char buf[2048];

		if (!nlh)
			break;
		r = nftnl_rule_alloc();
		assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
		if (strcmp(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), chain) == 0) {
			nftnl_rule_snprintf(buf, sizeof(buf), r, NFTNL_OUTPUT_DEFAULT, 0);
			fix_objref_names(buf);
			off += (size_t)snprintf(out + off, sizeof(out) - off, "%s", buf);
		}
		nftnl_rule_free(r);
	}
	return out;
}

/*
 * Like assert_string_equal (or only that @got starts with @want, if @prefix), but shows the
 * first differing line (cmocka truncates).
 */
static void compare_rules(const char *got, const char *want, bool prefix)
{
	const char *g = got, *w = want;

	while (*g && *g == *w) {
		g++;
		w++;
	}
	if ((!*g || prefix) && !*w)
		return;
	while (g > got && g[-1] != '\n') {
		g--;
		w--;
	}
	fail_msg("rules differ at:\n got: %.100s\nwant: %.100s", g, w);
}

static void assert_rules(const char *got, const char *want)
{
	compare_rules(got, want, false);
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
	assert_null(find_msg(f, NFT_MSG_NEWTABLE, 2));
}

static int tag_cb(const struct nftnl_udata *attr, void *data)
{
	if (nftnl_udata_type(attr) == NFTNL_UDATA_TABLE_COMMENT)
		*(const char **)data = nftnl_udata_get(attr);
	return 0;
}

/* The table that is created carries the tag, as nft's comment. */
static void test_nft_table_tag(void **state)
{
	struct fixture *f = *state;
	struct nftnl_table *t = nftnl_table_alloc();
	const char *comment = NULL;
	const void *ud;
	uint32_t len;

	assert_int_equal(nftnl_table_nlmsg_parse(find_msg(f, NFT_MSG_NEWTABLE, 1), t), 0);
	assert_string_equal(nftnl_table_get_str(t, NFTNL_TABLE_NAME), TABLE);
	assert_int_equal(nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY), NFPROTO_INET);
	/* no owner flag: the table must outlive the daemon */
	assert_false(nftnl_table_is_set(t, NFTNL_TABLE_FLAGS) &&
		     (nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS) & NFT_TABLE_F_OWNER));
	ud = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &len);
	assert_non_null(ud);
	assert_true(nftnl_udata_parse(ud, len, tag_cb, &comment) >= 0);
	assert_non_null(comment);
	assert_string_equal(comment, TAG);
	nftnl_table_free(t);
}

static void test_nft_base_chains(void **state)
{
	static const char *const names[] = { "dispatch", "police", "police_in", "forward",
					     "input" };
	struct fixture *f = *state;
	struct nftnl_chain *c;
	int i;

	/* what is jumped to exists before what jumps: dispatch, the police chains, the hooks */
	for (i = 0; i < 6; i++) {
		const struct nlmsghdr *nlh = find_msg(f, NFT_MSG_NEWCHAIN, i);
		const char *name;

		if (!nlh)
			break;
		assert_true(i < 5);
		c = nftnl_chain_alloc();
		assert_int_equal(nftnl_chain_nlmsg_parse(nlh, c), 0);
		name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
		assert_string_equal(name, names[i]);
		if (i >= 3) {
			assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM),
					 i == 3 ? NF_INET_FORWARD : NF_INET_LOCAL_IN);
			assert_int_equal(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), -10);
			assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "filter");
			assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY), NF_ACCEPT);
		} else {
			assert_false(nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM));
		}
		nftnl_chain_free(c);
	}
	assert_int_equal(i, 5);
}

static void test_nft_forward_rules(void **state)
{
	struct fixture *f = *state;

	assert_rules(chain_rules(f, "forward"),
		     "inet " TABLE " forward\n"
		     "  [ meta load iifname => reg 1 ]\n"
		     "  [ lookup reg 1 set bridges dreg 0 ]\n"
		     "inet " TABLE " forward\n"
		     "  [ meta load iifname => reg 1 ]\n"
		     /* "virb" "r": a 5-byte prefix, nft's virbr* */
		     "  [ cmp eq reg 1 0x62726976 0x00000072 ]\n"
		     "  [ immediate reg 0 return ]\n"
		     "inet " TABLE " forward\n"
		     "  [ meta load iifname => reg 1 ]\n"
		     /* "br0" padded to all 16 bytes: an exact name */
		     "  [ cmp eq reg 1 0x00307262 0x00000000 0x00000000 0x00000000 ]\n"
		     "  [ immediate reg 0 return ]\n"
		     "inet " TABLE " forward\n"
		     "  [ meta load iifkind => reg 1 ]\n"
		     /* "bridge" */
		     "  [ cmp eq reg 1 0x64697262 0x00006567 0x00000000 0x00000000 ]\n"
		     "  [ immediate reg 0 goto -> police ]\n");
}

/* Traffic to the host itself: the same bridges, its own map and police chain. */
static void test_nft_input_rules(void **state)
{
	struct fixture *f = *state;

	assert_rules(chain_rules(f, "input"),
		     "inet " TABLE " input\n"
		     "  [ meta load iifname => reg 1 ]\n"
		     "  [ lookup reg 1 set bridges_in dreg 0 ]\n"
		     "inet " TABLE " input\n"
		     "  [ meta load iifname => reg 1 ]\n"
		     "  [ cmp eq reg 1 0x62726976 0x00000072 ]\n"
		     "  [ immediate reg 0 return ]\n"
		     "inet " TABLE " input\n"
		     "  [ meta load iifname => reg 1 ]\n"
		     "  [ cmp eq reg 1 0x00307262 0x00000000 0x00000000 0x00000000 ]\n"
		     "  [ immediate reg 0 return ]\n"
		     "inet " TABLE " input\n"
		     "  [ meta load iifkind => reg 1 ]\n"
		     "  [ cmp eq reg 1 0x64697262 0x00006567 0x00000000 0x00000000 ]\n"
		     "  [ immediate reg 0 goto -> police_in ]\n");
	assert_rules(chain_rules(f, "police_in"),
		     /* neighbour discovery and MLD first: DAD comes from "::" */
		     "inet " TABLE " police_in\n"
		     "  [ meta load nfproto => reg 1 ]\n"
		     "  [ cmp eq reg 1 0x0000000a ]\n"
		     "  [ meta load l4proto => reg 1 ]\n"
		     "  [ cmp eq reg 1 0x0000003a ]\n"
		     "  [ payload load 1b @ transport header + 0 => reg 1 ]\n"
		     "  [ range eq reg 1 0x00000082 0x00000085 ]\n"
		     "  [ immediate reg 0 return ]\n"
		     /* not 134 (router advertisement) nor 137 (redirect) */
		     "inet " TABLE " police_in\n"
		     "  [ meta load nfproto => reg 1 ]\n"
		     "  [ cmp eq reg 1 0x0000000a ]\n"
		     "  [ meta load l4proto => reg 1 ]\n"
		     "  [ cmp eq reg 1 0x0000003a ]\n"
		     "  [ payload load 1b @ transport header + 0 => reg 1 ]\n"
		     "  [ range eq reg 1 0x00000087 0x00000088 ]\n"
		     "  [ immediate reg 0 return ]\n"
		     "inet " TABLE " police_in\n"
		     "  [ meta load nfproto => reg 1 ]\n"
		     "  [ cmp eq reg 1 0x0000000a ]\n"
		     "  [ meta load l4proto => reg 1 ]\n"
		     "  [ cmp eq reg 1 0x0000003a ]\n"
		     "  [ payload load 1b @ transport header + 0 => reg 1 ]\n"
		     "  [ cmp eq reg 1 0x0000008f ]\n"
		     "  [ immediate reg 0 return ]\n"
		     "inet " TABLE " police_in\n"
		     "  [ fib saddr . iif oif => reg 1 ]\n"
		     "  [ cmp eq reg 1 0x00000000 ]\n"
		     "  [ objref type 1 name spoofed ]\n"
		     "  [ immediate reg 0 drop ]\n"
		     /* any reply: of connections the host opened to a container */
		     "inet " TABLE " police_in\n"
		     "  [ ct load direction => reg 1 ]\n"
		     "  [ cmp eq reg 1 0x00000001 ]\n"
		     "  [ immediate reg 0 return ]\n"
		     "inet " TABLE " police_in\n"
		     "  [ immediate reg 0 goto -> dispatch ]\n");
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

static struct nftnl_set *set_msg(const struct fixture *f, uint16_t type, const char *name)
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

static int counter_key_cb(const struct nftnl_udata *attr, void *data)
{
	if (nftnl_udata_type(attr) == NFTNL_UDATA_OBJ_COMMENT)
		*(const char **)data = nftnl_udata_get(attr);
	return 0;
}

/* The only element of set @set in the batch is 198.18.1.@last, mapped to @obj (or not). */
static void assert_addr_elem(const struct fixture *f, const char *set, uint8_t last,
			     const char *obj)
{
	const uint8_t addr[4] = { 198, 18, 1, last };
	struct nftnl_set *s = set_msg(f, NFT_MSG_NEWSETELEM, set);
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;
	const void *k;
	uint32_t len;

	assert_non_null(s);
	it = nftnl_set_elems_iter_create(s);
	e = nftnl_set_elems_iter_next(it);
	assert_non_null(e);
	k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(k, addr, 4);
	if (obj)
		assert_string_equal(nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_OBJREF), obj);
	else
		assert_false(nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_OBJREF));
	assert_null(nftnl_set_elems_iter_next(it));
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
}

static void test_nft_police_rules(void **state)
{
	struct fixture *f = *state;
	const char *rules;

	assert_rules(chain_rules(f, "police"),
		     /* the source check first, before conntrack state can matter */
		     "inet " TABLE " police\n"
		     "  [ fib saddr . iif oif => reg 1 ]\n"
		     "  [ cmp eq reg 1 0x00000000 ]\n"
		     "  [ objref type 1 name spoofed ]\n"
		     "  [ immediate reg 0 drop ]\n"
		     /* only replies (direction 1) of DNAT'd (status bit 0x20) flows */
		     "inet " TABLE " police\n"
		     "  [ ct load direction => reg 1 ]\n"
		     "  [ cmp eq reg 1 0x00000001 ]\n"
		     "  [ ct load status => reg 1 ]\n"
		     "  [ bitwise reg 1 = ( reg 1 & 0x00000020 ) ^ 0x00000000 ]\n"
		     "  [ cmp neq reg 1 0x00000000 ]\n"
		     "  [ immediate reg 0 return ]\n"
		     "inet " TABLE " police\n"
		     "  [ fib daddr . iif oif => reg 1 ]\n"
		     "  [ cmp neq reg 1 0x00000000 ]\n"
		     "  [ immediate reg 0 return ]\n"
		     "inet " TABLE " police\n"
		     "  [ immediate reg 0 goto -> dispatch ]\n");

	rules = chain_rules(f, "dispatch");
	compare_rules(rules, /* as a prefix: IPv6 and the tail are checked below */
		      /* IPv4: exempt sources, then the shared sets keyed by source address */
		      "inet " TABLE " dispatch\n"
		      "  [ meta load nfproto => reg 1 ]\n"
		      "  [ cmp eq reg 1 0x00000002 ]\n"
		      "  [ payload load 4b @ network header + 12 => reg 8 ]\n"
		      "  [ lookup reg 8 set exempt4 ]\n"
		      "  [ immediate reg 0 return ]\n"
		      /* destinations reached by any path first, then through the VPN */
		      "inet " TABLE " dispatch\n"
		      "  [ meta load nfproto => reg 1 ]\n"
		      "  [ cmp eq reg 1 0x00000002 ]\n"
		      "  [ payload load 4b @ network header + 12 => reg 8 ]\n"
		      "  [ payload load 4b @ network header + 16 => reg 9 ]\n"
		      "  [ meta load l4proto => reg 10 ]\n"
		      "  [ payload load 2b @ transport header + 2 => reg 11 ]\n"
		      "  [ lookup reg 8 set anyexact4 ]\n"
		      "  [ objref sreg 8 set allowed4 ]\n"
		      "  [ immediate reg 0 return ]\n"
		      "inet " TABLE " dispatch\n"
		      "  [ meta load nfproto => reg 1 ]\n"
		      "  [ cmp eq reg 1 0x00000002 ]\n"
		      "  [ payload load 4b @ network header + 12 => reg 8 ]\n"
		      "  [ payload load 4b @ network header + 16 => reg 9 ]\n"
		      "  [ lookup reg 8 set anyhost4 ]\n"
		      "  [ objref sreg 8 set allowed4 ]\n"
		      "  [ immediate reg 0 return ]\n"
		      "inet " TABLE " dispatch\n"
		      "  [ meta load nfproto => reg 1 ]\n"
		      "  [ cmp eq reg 1 0x00000002 ]\n"
		      "  [ payload load 4b @ network header + 12 => reg 8 ]\n"
		      "  [ payload load 4b @ network header + 16 => reg 9 ]\n"
		      "  [ meta load l4proto => reg 10 ]\n"
		      "  [ payload load 2b @ transport header + 2 => reg 11 ]\n"
		      "  [ lookup reg 8 set anyrange4 ]\n"
		      "  [ objref sreg 8 set allowed4 ]\n"
		      "  [ immediate reg 0 return ]\n"
		      /* saddr . daddr . l4proto . th dport, one 32-bit register each */
		      "inet " TABLE " dispatch\n"
		      "  [ meta load nfproto => reg 1 ]\n"
		      "  [ cmp eq reg 1 0x00000002 ]\n"
		      "  [ payload load 4b @ network header + 12 => reg 8 ]\n"
		      "  [ payload load 4b @ network header + 16 => reg 9 ]\n"
		      "  [ meta load l4proto => reg 10 ]\n"
		      "  [ payload load 2b @ transport header + 2 => reg 11 ]\n"
		      "  [ lookup reg 8 set exact4 ]\n"
		      "  [ objref sreg 8 set allowed4 ]\n"
		      "  [ immediate reg 0 return ]\n"
		      "inet " TABLE " dispatch\n"
		      "  [ meta load nfproto => reg 1 ]\n"
		      "  [ cmp eq reg 1 0x00000002 ]\n"
		      "  [ payload load 4b @ network header + 12 => reg 8 ]\n"
		      "  [ payload load 4b @ network header + 16 => reg 9 ]\n"
		      "  [ lookup reg 8 set host4 ]\n"
		      "  [ objref sreg 8 set allowed4 ]\n"
		      "  [ immediate reg 0 return ]\n"
		      "inet " TABLE " dispatch\n"
		      "  [ meta load nfproto => reg 1 ]\n"
		      "  [ cmp eq reg 1 0x00000002 ]\n"
		      "  [ payload load 4b @ network header + 12 => reg 8 ]\n"
		      "  [ payload load 4b @ network header + 16 => reg 9 ]\n"
		      "  [ meta load l4proto => reg 10 ]\n"
		      "  [ payload load 2b @ transport header + 2 => reg 11 ]\n"
		      "  [ lookup reg 8 set range4 ]\n"
		      "  [ objref sreg 8 set allowed4 ]\n"
		      "  [ immediate reg 0 return ]\n"
		      /* audited: logged within the container's own limit, counted, let through */
		      "inet " TABLE " dispatch\n"
		      "  [ meta load nfproto => reg 1 ]\n"
		      "  [ cmp eq reg 1 0x00000002 ]\n"
		      "  [ payload load 4b @ network header + 12 => reg 8 ]\n"
		      "  [ lookup reg 8 set audit4 ]\n"
		      "  [ objref sreg 8 set lograte4 ]\n"
		      "  [ log prefix W: group 7811 snaplen 128 qthreshold 0 ]\n"
		      "inet " TABLE " dispatch\n"
		      "  [ meta load nfproto => reg 1 ]\n"
		      "  [ cmp eq reg 1 0x00000002 ]\n"
		      "  [ payload load 4b @ network header + 12 => reg 8 ]\n"
		      "  [ lookup reg 8 set audit4 ]\n"
		      "  [ objref sreg 8 set dropped4 ]\n"
		      "  [ immediate reg 0 return ]\n"
		      /* any other container's source: logged, counted, dropped */
		      "inet " TABLE " dispatch\n"
		      "  [ meta load nfproto => reg 1 ]\n"
		      "  [ cmp eq reg 1 0x00000002 ]\n"
		      "  [ payload load 4b @ network header + 12 => reg 8 ]\n"
		      "  [ objref sreg 8 set lograte4 ]\n"
		      "  [ log prefix D: group 7811 snaplen 128 qthreshold 0 ]\n"
		      "inet " TABLE " dispatch\n"
		      "  [ meta load nfproto => reg 1 ]\n"
		      "  [ cmp eq reg 1 0x00000002 ]\n"
		      "  [ payload load 4b @ network header + 12 => reg 8 ]\n"
		      "  [ objref sreg 8 set dropped4 ]\n"
		      "  [ immediate reg 0 drop ]\n",
		      true);
	/* IPv6 the same way: the source at 8 and daddr at 24, four registers each */
	assert_non_null(strstr(rules, "  [ payload load 16b @ network header + 8 => reg 8 ]\n"
				      "  [ payload load 16b @ network header + 24 => reg 12 ]\n"
				      "  [ meta load l4proto => reg 16 ]\n"
				      "  [ payload load 2b @ transport header + 2 => reg 17 ]\n"
				      "  [ lookup reg 8 set exact6 ]\n"
				      "  [ objref sreg 8 set allowed6 ]\n"));
	assert_non_null(strstr(rules, "  [ lookup reg 8 set host6 ]\n"));
	assert_non_null(strstr(rules, "  [ lookup reg 8 set range6 ]\n"));
	assert_non_null(
		strstr(rules, "  [ objref sreg 8 set dropped6 ]\n  [ immediate reg 0 drop ]\n"));
	/* and last, unknown sources: logged (globally limited), counted, dropped */
	assert_non_null(strstr(rules,
			       "inet " TABLE " dispatch\n"
			       "  [ limit rate 20/second burst 40 type packets flags 0x0 ]\n"
			       "  [ log prefix D:unknown group 7811 snaplen 128 qthreshold 0 ]\n"
			       "inet " TABLE " dispatch\n"
			       "  [ objref type 1 name unknown ]\n"
			       "  [ immediate reg 0 drop ]\n"));
	assert_int_equal(strlen(strstr(rules, "  [ objref type 1 name unknown ]\n")),
			 strlen("  [ objref type 1 name unknown ]\n  [ immediate reg 0 drop ]\n"));
}

/* No chain or set per container: only its counters and log limit are objects of its own. */
static void test_nft_container_objects(void **state)
{
	static const char *const want[][2] = { { "unknown", "unknown" },
					       { "spoofed", "spoofed" },
					       { "a_" KEY, KEY },
					       { "d_" KEY, KEY } };
	struct fixture *f = *state;
	struct nftnl_obj *o;

	assert_null(find_msg(f, NFT_MSG_NEWCHAIN, 5)); /* the five shared chains only */
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *comment = NULL;
		const void *ud;
		uint32_t len;

		/* A fresh object per message: parsing into a used one leaks its old strings. */
		o = nftnl_obj_alloc();
		assert_int_equal(nftnl_obj_nlmsg_parse(find_msg(f, NFT_MSG_NEWOBJ, (int)i), o), 0);
		assert_string_equal(nftnl_obj_get_str(o, NFTNL_OBJ_NAME), want[i][0]);
		assert_int_equal(nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE), NFT_OBJECT_COUNTER);
		/* counters carry the key they count for */
		ud = nftnl_obj_get_data(o, NFTNL_OBJ_USERDATA, &len);
		assert_true(nftnl_udata_parse(ud, len, counter_key_cb, &comment) >= 0);
		assert_string_equal(comment, want[i][1]);
		nftnl_obj_free(o);
	}
	o = nftnl_obj_alloc();
	assert_int_equal(nftnl_obj_nlmsg_parse(find_msg(f, NFT_MSG_NEWOBJ, 4), o), 0);
	assert_string_equal(nftnl_obj_get_str(o, NFTNL_OBJ_NAME), "l_" KEY);
	assert_int_equal(nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE), NFT_OBJECT_LIMIT);
	assert_int_equal(nftnl_obj_get_u64(o, NFTNL_OBJ_LIMIT_RATE), 20);
	assert_int_equal(nftnl_obj_get_u32(o, NFTNL_OBJ_LIMIT_BURST), 40);
	assert_null(find_msg(f, NFT_MSG_NEWOBJ, 5));
	nftnl_obj_free(o);

	/* found through its source address */
	assert_addr_elem(f, "allowed4", 2, "a_" KEY);
	assert_addr_elem(f, "dropped4", 2, "d_" KEY);
	assert_addr_elem(f, "lograte4", 2, "l_" KEY);
	assert_null(set_msg(f, NFT_MSG_NEWSETELEM, "audit4"));
}

/* An audited container's sources are in the audit set; nothing else about it changes. */
static void test_nft_audit_elem(void **state)
{
	struct fixture *f = *state;
	struct vw_plan plan;

	f->c.audit = true;
	assert_int_equal(vw_ruleset_diff(NULL, &f->rs, NULL, &plan), 0);
	render(f, &plan);
	vw_plan_done(&plan);
	f->c.audit = false;
	assert_addr_elem(f, "audit4", 2, NULL);
}

/*
 * The shared destination sets: saddr . daddr . l4proto . dport, a hash for single points and
 * concatenated ranges for the rest; saddr . daddr for one address with any protocol. Each
 * of a container's boxes is there once for each of its sources of that family.
 */
static void test_nft_destination_sets(void **state)
{
	static const uint8_t start4[16] = { 198, 18, 1, 2, 198,	 51,   100, 0,
					    6,	 0,  0, 0, 0x01, 0xbb, 0,   0 };
	uint8_t end4[16];
	struct fixture *f = *state;
	struct nftnl_set *s;
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;
	const void *k;
	uint32_t len;

	s = set_msg(f, NFT_MSG_NEWSET, "range4");
	assert_non_null(s);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_FLAGS), NFT_SET_INTERVAL | NFT_SET_CONCAT);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), 16);
	/* ipv4_addr . ipv4_addr . inet_proto . inet_service, as nft names the types */
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE),
			 7u << 18 | 7 << 12 | 12 << 6 | 13);
	k = nftnl_set_get_data(s, NFTNL_SET_DESC_CONCAT, &len);
	assert_non_null(k);
	assert_memory_equal(k, ((const uint8_t[]){ 4, 4, 1, 2 }), 4);
	nftnl_set_free(s);
	s = set_msg(f, NFT_MSG_NEWSET, "exact6");
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_FLAGS), 0); /* a hash */
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), 40);
	nftnl_set_free(s);
	s = set_msg(f, NFT_MSG_NEWSET, "host4");
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), 8);
	nftnl_set_free(s);
	s = set_msg(f, NFT_MSG_NEWSET, "allowed6");
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_FLAGS), NFT_SET_OBJECT);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_OBJ_TYPE), NFT_OBJECT_COUNTER);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), 16);
	nftnl_set_free(s);

	/* tcp/443 to 198.51.100.0/24 from 198.18.1.2: a range of addresses, the range set */
	memcpy(end4, start4, 16);
	end4[7] = 255;
	s = set_msg(f, NFT_MSG_NEWSETELEM, "range4");
	assert_non_null(s);
	it = nftnl_set_elems_iter_create(s);
	e = nftnl_set_elems_iter_next(it);
	assert_non_null(e);
	k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	assert_int_equal(len, 16);
	assert_memory_equal(k, start4, 16);
	k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len);
	assert_int_equal(len, 16);
	assert_memory_equal(k, end4, 16);
	/* only for its IPv4 source: the exempt one is nobody's */
	assert_null(nftnl_set_elems_iter_next(it));
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	/* its IPv6 destination has no IPv6 source to apply to */
	assert_null(set_msg(f, NFT_MSG_NEWSETELEM, "host6"));
	assert_null(set_msg(f, NFT_MSG_NEWSETELEM, "exact4"));

	/* its LAN, any protocol: 198.18.1.2 . 192.168.1.0-255 . 0-255 . 0-65535, by any path */
	s = set_msg(f, NFT_MSG_NEWSETELEM, "anyrange4");
	assert_non_null(s);
	it = nftnl_set_elems_iter_create(s);
	e = nftnl_set_elems_iter_next(it);
	assert_non_null(e);
	k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	assert_memory_equal(
		k, ((const uint8_t[]){ 198, 18, 1, 2, 192, 168, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 }),
		16);
	k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len);
	assert_memory_equal(k,
			    ((const uint8_t[]){ 198, 18, 1, 2, 192, 168, 1, 255, 255, 0, 0, 0, 0xff,
						0xff, 0, 0 }),
			    16);
	assert_null(nftnl_set_elems_iter_next(it));
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	assert_null(set_msg(f, NFT_MSG_NEWSETELEM, "range6"));
}

/*
 * The kill switch: with a VPN interface, destinations of the VPN path match only packets
 * leaving by it ("wg" as a 2-byte prefix); the any-path sets stay as they were.
 */
static void test_nft_kill_switch(void **state)
{
	struct fixture *f = *state;
	const char *oif = "  [ meta load oifname => reg 1 ]\n"
			  "  [ cmp eq reg 1 0x00006777 ]\n";
	struct vw_plan plan;
	const char *rules, *p;
	char want[256];
	int n;

	(void)vw_strscpy(f->rs.vpn_iface, "wg+", sizeof(f->rs.vpn_iface));
	assert_int_equal(vw_ruleset_diff(NULL, &f->rs, NULL, &plan), 0);
	render(f, &plan);
	vw_plan_done(&plan);
	rules = chain_rules(f, "dispatch");
	for (int fam = 4; fam <= 6; fam += 2)
		for (int k = 0; k < 3; k++) {
			static const char *const kinds[] = { "exact", "host", "range" };

			/* the rule with the VPN set starts with the interface */
			snprintf(want, sizeof(want), "lookup reg 8 set %s%d ]", kinds[k], fam);
			p = strstr(rules, want);
			assert_non_null(p);
			while (p > rules && strncmp(p, "inet ", 5) != 0)
				p--;
			assert_int_equal(strncmp(strchr(p, '\n') + 1, oif, strlen(oif)), 0);
			/* the one with the any-path set does not */
			snprintf(want, sizeof(want), "lookup reg 8 set any%s%d ]", kinds[k], fam);
			p = strstr(rules, want);
			assert_non_null(p);
			while (p > rules && strncmp(p, "inet ", 5) != 0)
				p--;
			assert_int_not_equal(strncmp(strchr(p, '\n') + 1, oif, strlen(oif)), 0);
		}
	/* nothing else asks for the interface: six rules do */
	n = 0;
	for (p = strstr(rules, "oifname"); p; p = strstr(p + 1, "oifname"))
		n++;
	assert_int_equal(n, 6);
}

/* Sources: a container's address gets its maps; an opted-out one is merely exempt. */
static void test_nft_sources(void **state)
{
	struct fixture *f = *state;

	assert_addr_elem(f, "exempt4", 3, NULL);
	assert_addr_elem(f, "allowed4", 2, "a_" KEY);
}

/* Incremental operations: boxes removed and added, a bridge to police. */
static void test_nft_incremental(void **state)
{
	struct fixture *f = *state;
	struct vw_box b = f->c.dst[0].v[0];
	struct vw_op ops[3] = {
		{ .type = VW_OP_BOXES_DEL,
		  .c = &f->c,
		  .family = AF_INET,
		  .n_boxes = 1,
		  .srcs = &f->src[0],
		  .n_srcs = 1 },
		{ .type = VW_OP_BOXES_ADD,
		  .c = &f->c,
		  .family = AF_INET,
		  .n_boxes = 1,
		  .srcs = &f->src[0],
		  .n_srcs = 1 },
		{ .type = VW_OP_BRIDGE_ADD, .bridge = &(struct vw_rs_bridge){ "br-new", true } },
	};
	struct vw_plan plan = { .ops = ops, .n = 3 };
	struct nftnl_set *s;
	char key[VW_IFNAMSIZ];
	uint32_t len;
	const void *k;

	ops[0].boxes = &b;
	ops[1].boxes = &b;
	render(f, &plan);
	assert_non_null(find_msg(f, NFT_MSG_DELSETELEM, 0));
	assert_null(find_msg(f, NFT_MSG_NEWTABLE, 0));
	assert_null(find_msg(f, NFT_MSG_NEWCHAIN, 0));
	s = set_msg(f, NFT_MSG_DELSETELEM, "range4");
	assert_non_null(s);
	nftnl_set_free(s);
	s = set_msg(f, NFT_MSG_NEWSETELEM, "bridges");
	assert_non_null(s);
	{
		struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
		struct nftnl_set_elem *e = nftnl_set_elems_iter_next(it);

		k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
		assert_int_equal(len, VW_IFNAMSIZ);
		memset(key, 0, sizeof(key));
		memcpy(key, "br-new", 6);
		assert_memory_equal(k, key, VW_IFNAMSIZ);
		/* managed: policed whatever IGNORE_BRIDGES says */
		assert_int_equal(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT),
				 (uint32_t)NFT_GOTO);
		assert_string_equal(nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN), "police");
		nftnl_set_elems_iter_destroy(it);
	}
	nftnl_set_free(s);
	/* and to the host the same */
	s = set_msg(f, NFT_MSG_NEWSETELEM, "bridges_in");
	assert_non_null(s);
	{
		struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
		struct nftnl_set_elem *e = nftnl_set_elems_iter_next(it);

		assert_string_equal(nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN), "police_in");
		nftnl_set_elems_iter_destroy(it);
	}
	nftnl_set_free(s);

	/* an any-path box goes to the any-path sets */
	ops[0].path = VW_PATH_ANY;
	plan.n = 1;
	render(f, &plan);
	s = set_msg(f, NFT_MSG_DELSETELEM, "anyrange4");
	assert_non_null(s);
	nftnl_set_free(s);
	assert_null(set_msg(f, NFT_MSG_DELSETELEM, "range4"));
}

/* What the monitor makes of notifications: foreign changes of our table, generations. */
static void test_nft_parse_notifications(void **state)
{
	char buf[4096];
	struct mnl_nlmsg_batch *b = mnl_nlmsg_batch_start(buf, sizeof(buf));
	struct nlmsghdr *nlh;
	struct nfgenmsg *g;
	struct vw_nft_notes notes;

	/* a rule deleted in our table by portid 99, then NEWGEN 41 of that commit; the PID
	 * attribute (7) is deliberately not what tells whose commit it was */
	nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
	nlh->nlmsg_type = NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_DELRULE;
	nlh->nlmsg_pid = 99;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = NFPROTO_INET;
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, TABLE);
	mnl_nlmsg_batch_next(b);
	nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
	nlh->nlmsg_type = NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWGEN;
	nlh->nlmsg_pid = 99;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(41));
	mnl_attr_put_u32(nlh, NFTA_GEN_PROC_PID, htonl(7));
	mnl_nlmsg_batch_next(b);

	vw_nft_parse_notifications(buf, mnl_nlmsg_batch_size(b), TABLE, 1234, &notes);
	assert_string_equal(notes.changed, "rule changed");
	assert_int_equal(notes.n_gens, 1);
	assert_int_equal(notes.gens[0], 41);
	assert_false(notes.gen_own[0]);

	/* the same from our own socket is not a change, and its generation is ours */
	vw_nft_parse_notifications(buf, mnl_nlmsg_batch_size(b), TABLE, 99, &notes);
	assert_null(notes.changed);
	assert_true(notes.gen_own[0]);
	/* another table is not ours */
	vw_nft_parse_notifications(buf, mnl_nlmsg_batch_size(b), "other", 1234, &notes);
	assert_null(notes.changed);
	/* truncated input is ignored, not misread */
	vw_nft_parse_notifications(buf, 10, TABLE, 1234, &notes);
	assert_null(notes.changed);
	assert_int_equal(notes.n_gens, 0);
	mnl_nlmsg_batch_stop(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nft_batch_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nft_table_tag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nft_base_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nft_forward_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nft_input_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nft_police_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nft_kill_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nft_container_objects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nft_audit_elem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nft_destination_sets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nft_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nft_incremental, setup, teardown),
		cmocka_unit_test(test_nft_parse_notifications),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
