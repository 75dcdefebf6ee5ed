// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nftables backend. A plan becomes one nfnetlink batch (BEGIN ... END) spread over as many
 * pages as needed and handed to the kernel in a single sendmsg(): nf_tables only commits a
 * transaction that begins and ends within one message buffer, so splitting the batch over
 * several sends would silently turn one atomic change into several.
 *
 * The kernel processes the batch synchronously inside sendmsg(); by the time it returns,
 * every error report is already queued on the socket, so we drain it without blocking.
 * Messages carry no NLM_F_ACK: errors are reported regardless, and success acks for a
 * 100k-message resync would only overflow the receive buffer.
 */
#include "vpnwall/nft.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "vpnwall/log.h"
#include "vpnwall/loop.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/util.h"

#define VW_LOG_MODULE "nft"

#define BATCH_PAGE (128 * 1024)
#define BATCH_OVERRUN (UINT16_MAX + 4096) /* the largest single message */
#define ELEMS_PER_MSG 256 /* keeps a NEWSETELEM well below the 64 KiB attribute limit */
#define RCVBUF (4 * 1024 * 1024)
#define FORWARD_PRIORITY (-10) /* before Docker's filter chains at priority 0 */

/* nft's datatype ids, so that `nft list ruleset` shows our sets with their real types. */
#define TYPE_IPV4 7
#define TYPE_IPV6 8
#define TYPE_IFNAME 41
#define TYPE_BITS 6

#define CHAIN_FORWARD "forward"
#define CHAIN_POLICE "police"
#define SET_BRIDGES "bridges"
#define SET_SKIP "skip"
#define SET_INTRA "intra"
#define MAP_SRC4 "src4"
#define MAP_SRC6 "src6"

struct monitor {
	struct vw_io io; /* first: the loop hands us &io */
	struct vw_nft *n;
	struct mnl_socket *nl;
	struct vw_loop *loop;
	vw_nft_change_fn cb;
	void *ud;
};

struct vw_nft {
	struct mnl_socket *nl;
	char table[65];
	uint32_t seq;
	struct monitor mon;
	uint32_t own_genid; /* ruleset generation after our last commit */
	bool have_genid;
};

struct msginfo {
	uint32_t seq;
	char what[96];
};

struct batch {
	struct vw_nft *n;
	struct nftnl_batch *b;
	struct msginfo *info;
	size_t n_info;
	size_t cap_info;
	uint32_t set_id; /* NFTA_SET_ID is mandatory for a new set, unique in the batch */
};

int vw_nft_new(const char *table, struct vw_nft **ret_nft)
{
	struct vw_nft *n;
	int one = 1, r;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	(void)vw_strscpy(n->table, table, sizeof(n->table));
	n->seq = (uint32_t)vw_now_ms();
	n->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!n->nl) {
		r = -errno;
		goto fail;
	}
	if (mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto fail;
	}
	/* Error reports without a copy of the failed request keep the receive buffer small. */
	(void)mnl_socket_setsockopt(n->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	*ret_nft = n;
	return 0;
fail:
	vw_nft_free(n);
	return r;
}

void vw_nft_free(struct vw_nft *n)
{
	if (!n)
		return;
	if (n->mon.nl) {
		vw_loop_unwatch(n->mon.loop, &n->mon.io);
		(void)mnl_socket_close(n->mon.nl);
	}
	if (n->nl)
		(void)mnl_socket_close(n->nl);
	free(n);
}

static struct nlmsghdr *msg_begin(struct batch *b, uint16_t type, uint16_t flags, const char *what)
{
	struct msginfo *mi;
	uint32_t seq = b->n->seq++;

	if (vw_grow((void **)&b->info, &b->cap_info, b->n_info + 1, sizeof(*b->info),
		    SIZE_MAX / sizeof(*b->info)) == 0) {
		mi = &b->info[b->n_info++];
		mi->seq = seq;
		(void)vw_strscpy(mi->what, what, sizeof(mi->what));
	}
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(b->b), type, NFPROTO_INET, flags, seq);
}

static int msg_end(struct batch *b)
{
	return nftnl_batch_update(b->b) < 0 ? -ENOMEM : 0;
}

/* --- expressions ------------------------------------------------------------------------ */

struct rule {
	struct nftnl_rule *r;
	bool oom;
};

static void put(struct rule *rl, struct nftnl_expr *e)
{
	if (!e || !rl->r) {
		if (e)
			nftnl_expr_free(e);
		rl->oom = true;
		return;
	}
	nftnl_rule_add_expr(rl->r, e);
}

static struct nftnl_expr *e_meta(uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	return e;
}

static struct nftnl_expr *e_cmp(uint32_t sreg, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return e;
}

static struct nftnl_expr *e_payload(uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	}
	return e;
}

/* @dreg < 0: plain membership test. */
static struct nftnl_expr *e_lookup(uint32_t sreg, const char *set, int dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
		if (dreg >= 0)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, (uint32_t)dreg);
	}
	return e;
}

static struct nftnl_expr *e_verdict(int verdict, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
		if (chain)
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	}
	return e;
}

static struct nftnl_expr *e_counter(const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc("objref");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
		nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, name);
	}
	return e;
}

static struct nftnl_expr *e_ct(uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
	}
	return e;
}

/* meta nfproto <family>: an inet chain sees both families; payload offsets differ. */
static void put_nfproto(struct rule *rl, uint8_t family)
{
	uint8_t nfproto = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;

	put(rl, e_meta(NFT_META_NFPROTO, NFT_REG_1));
	put(rl, e_cmp(NFT_REG_1, NFT_CMP_EQ, &nfproto, sizeof(nfproto)));
}

static void put_addr(struct rule *rl, uint8_t family, bool source)
{
	if (family == AF_INET)
		put(rl, e_payload(NFT_PAYLOAD_NETWORK_HEADER, source ? 12 : 16, 4, NFT_REG_1));
	else
		put(rl, e_payload(NFT_PAYLOAD_NETWORK_HEADER, source ? 8 : 24, 16, NFT_REG_1));
}

static struct rule rule_new(void)
{
	struct rule rl = { .r = nftnl_rule_alloc() };

	rl.oom = !rl.r;
	return rl;
}

static int rule_emit(struct batch *b, struct rule *rl, const char *chain, const char *what)
{
	struct nlmsghdr *nlh;

	if (rl->oom) {
		nftnl_rule_free(rl->r);
		return -ENOMEM;
	}
	nftnl_rule_set_str(rl->r, NFTNL_RULE_TABLE, b->n->table);
	nftnl_rule_set_str(rl->r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(rl->r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nlh = msg_begin(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, what);
	nftnl_rule_nlmsg_build_payload(nlh, rl->r);
	nftnl_rule_free(rl->r);
	return msg_end(b);
}

/* limit rate N/second burst 2N packets log prefix P group G: the audit trail of a drop. */
static int emit_audit_rule(struct batch *b, const struct vw_ruleset *rs, const char *chain,
			   bool audit, const char *key)
{
	struct rule rl = rule_new();
	struct nftnl_expr *e;
	char prefix[32];

	if (!rs->log_group)
		return 0;
	e = nftnl_expr_alloc("limit");
	if (e) {
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, rs->log_rate);
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, rs->log_rate * 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
	}
	put(&rl, e);
	vw_audit_prefix(prefix, sizeof(prefix), audit, key);
	e = nftnl_expr_alloc("log");
	if (e) {
		nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, rs->log_group);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix);
		/* Headers are all the audit needs: IPv6 (40) + TCP (20) with room to spare. */
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOG_SNAPLEN, 128);
	}
	put(&rl, e);
	return rule_emit(b, &rl, chain, "rule: audit log");
}

/* --- objects ----------------------------------------------------------------------------- */

static int emit_table(struct batch *b, uint16_t type)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, b->n->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nlh = msg_begin(b, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0,
			type == NFT_MSG_NEWTABLE ? "create table" : "delete table");
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	return msg_end(b);
}

static int emit_chain(struct batch *b, uint16_t type, const char *name, bool base)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	char what[96];

	if (!c)
		return -ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, b->n->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	if (base) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_FORWARD);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, FORWARD_PRIORITY);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	snprintf(what, sizeof(what), "%s chain %s", type == NFT_MSG_NEWCHAIN ? "create" : "delete",
		 name);
	nlh = msg_begin(b, type, type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE | NLM_F_EXCL : 0, what);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	return msg_end(b);
}

static int emit_counter(struct batch *b, uint16_t type, const char *name)
{
	struct nftnl_obj *o = nftnl_obj_alloc();
	struct nlmsghdr *nlh;
	char what[96];

	if (!o)
		return -ENOMEM;
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, b->n->table);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, name);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, NFPROTO_INET);
	snprintf(what, sizeof(what), "%s counter %s", type == NFT_MSG_NEWOBJ ? "create" : "delete",
		 name);
	nlh = msg_begin(b, type, type == NFT_MSG_NEWOBJ ? NLM_F_CREATE | NLM_F_EXCL : 0, what);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	return msg_end(b);
}

struct set_spec {
	const char *name;
	uint32_t key_type;
	uint32_t key_len;
	uint32_t flags;
};

/* nft's byte-order tag for a set key; without it `nft list` prints interface names as "". */
#define NFT_BYTEORDER_HOST 1

static struct nftnl_set *set_alloc(struct batch *b, const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (s) {
		nftnl_set_set_str(s, NFTNL_SET_TABLE, b->n->table);
		nftnl_set_set_str(s, NFTNL_SET_NAME, name);
		nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	}
	return s;
}

static int emit_set(struct batch *b, uint16_t type, const struct set_spec *spec)
{
	struct nftnl_set *s = set_alloc(b, spec->name);
	struct nlmsghdr *nlh;
	char what[96];

	if (!s)
		return -ENOMEM;
	if (type == NFT_MSG_NEWSET) {
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, spec->key_type);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, spec->key_len);
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, spec->flags);
		nftnl_set_set_u32(s, NFTNL_SET_ID, ++b->set_id);
		if (spec->flags & NFT_SET_MAP)
			nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
		if (spec->key_type == TYPE_IFNAME) {
			struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(64);

			if (!ud) {
				nftnl_set_free(s);
				return -ENOMEM;
			}
			(void)nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER,
						  NFT_BYTEORDER_HOST);
			nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
					   nftnl_udata_buf_len(ud));
			nftnl_udata_buf_free(ud);
		}
	}
	snprintf(what, sizeof(what), "%s set %s", type == NFT_MSG_NEWSET ? "create" : "delete",
		 spec->name);
	nlh = msg_begin(b, type, type == NFT_MSG_NEWSET ? NLM_F_CREATE | NLM_F_EXCL : 0, what);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return msg_end(b);
}

/* Collects elements for one set and flushes them in messages of ELEMS_PER_MSG. */
struct elems {
	struct batch *b;
	uint16_t type; /* NFT_MSG_NEWSETELEM or NFT_MSG_DELSETELEM */
	const char *set;
	struct nftnl_set *s;
	size_t n;
};

static int elems_flush(struct elems *el)
{
	struct nlmsghdr *nlh;
	char what[96];

	if (!el->s)
		return 0;
	snprintf(what, sizeof(what), "%s %zu element(s) of set %s",
		 el->type == NFT_MSG_NEWSETELEM ? "add" : "delete", el->n, el->set);
	nlh = msg_begin(el->b, el->type, el->type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0, what);
	nftnl_set_elems_nlmsg_build_payload(nlh, el->s);
	nftnl_set_free(el->s);
	el->s = NULL;
	el->n = 0;
	return msg_end(el->b);
}

/* Send what is pending (unless @r already failed) and release the collector. */
static int elems_finish(struct elems *el, int r)
{
	if (r >= 0)
		r = elems_flush(el);
	if (el->s)
		nftnl_set_free(el->s);
	el->s = NULL;
	return r;
}

static struct nftnl_set_elem *elem_new(struct elems *el, int *ret_r)
{
	struct nftnl_set_elem *e;

	*ret_r = 0;
	if (el->s && el->n >= ELEMS_PER_MSG) {
		*ret_r = elems_flush(el);
		if (*ret_r < 0)
			return NULL;
	}
	if (!el->s) {
		el->s = set_alloc(el->b, el->set);
		if (!el->s) {
			*ret_r = -ENOMEM;
			return NULL;
		}
	}
	e = nftnl_set_elem_alloc();
	if (!e) {
		*ret_r = -ENOMEM;
		return NULL;
	}
	nftnl_set_elem_add(el->s, e);
	el->n++;
	return e;
}

static int elem_key(struct elems *el, const void *key, uint32_t len, uint32_t flags)
{
	struct nftnl_set_elem *e;
	int r;

	e = elem_new(el, &r);
	if (!e)
		return r;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len);
	if (flags)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, flags);
	return 0;
}

/* An interval element is a start key and, unless it runs to the last address, an end key. */
static int elem_range(struct elems *el, uint8_t family, const struct vw_range *rg)
{
	uint32_t len = (uint32_t)vw_addr_len(family);
	uint8_t end[16];
	int r;

	r = elem_key(el, rg->lo, len, 0);
	if (r < 0 || !vw_range_end_key(rg, family, end))
		return r;
	return elem_key(el, end, len, NFT_SET_ELEM_INTERVAL_END);
}

/* --- names ------------------------------------------------------------------------------- */

static void chain_name(char *buf, size_t size, const struct vw_rs_container *c)
{
	snprintf(buf, size, "c_%s", c->key);
}

static void set_name(char *buf, size_t size, const struct vw_rs_container *c, unsigned group,
		     uint8_t family)
{
	snprintf(buf, size, "s_%s_%u_%c", c->key, group, family == AF_INET ? '4' : '6');
}

static void counter_name(char *buf, size_t size, const struct vw_rs_container *c, bool drop)
{
	snprintf(buf, size, "%c_%s", drop ? 'd' : 'a', c->key);
}

/* --- operations -------------------------------------------------------------------------- */

static int emit_base(struct batch *b, const struct vw_ruleset *rs)
{
	static const struct set_spec sets[] = {
		{ SET_BRIDGES, TYPE_IFNAME, 16, 0 },
		{ SET_SKIP, TYPE_IFNAME, 16, 0 },
		{ SET_INTRA, TYPE_IFNAME << TYPE_BITS | TYPE_IFNAME, 32, 0 },
		{ MAP_SRC4, TYPE_IPV4, 4, NFT_SET_MAP },
		{ MAP_SRC6, TYPE_IPV6, 16, NFT_SET_MAP },
	};
	static const uint8_t dir_reply = IP_CT_DIR_REPLY;
	struct rule rl;
	int r;

	/* Creating before deleting makes the delete valid whether or not the table existed. */
	r = emit_table(b, NFT_MSG_NEWTABLE);
	if (r >= 0)
		r = emit_table(b, NFT_MSG_DELTABLE);
	if (r >= 0)
		r = emit_table(b, NFT_MSG_NEWTABLE);
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(sets); i++)
		r = emit_set(b, NFT_MSG_NEWSET, &sets[i]);
	if (r >= 0)
		r = emit_counter(b, NFT_MSG_NEWOBJ, VW_KEY_UNKNOWN);
	if (r >= 0)
		r = emit_chain(b, NFT_MSG_NEWCHAIN, CHAIN_POLICE, false);
	if (r >= 0)
		r = emit_chain(b, NFT_MSG_NEWCHAIN, CHAIN_FORWARD, true);
	if (r < 0)
		return r;

	/* forward: iifname @skip return; iifname @bridges goto police */
	rl = rule_new();
	put(&rl, e_meta(NFT_META_IIFNAME, NFT_REG_1));
	put(&rl, e_lookup(NFT_REG_1, SET_SKIP, -1));
	put(&rl, e_verdict(NFT_RETURN, NULL));
	r = rule_emit(b, &rl, CHAIN_FORWARD, "rule forward: iifname @skip return");
	if (r < 0)
		return r;
	rl = rule_new();
	put(&rl, e_meta(NFT_META_IIFNAME, NFT_REG_1));
	put(&rl, e_lookup(NFT_REG_1, SET_BRIDGES, -1));
	put(&rl, e_verdict(NFT_GOTO, CHAIN_POLICE));
	r = rule_emit(b, &rl, CHAIN_FORWARD, "rule forward: iifname @bridges goto police");
	if (r < 0)
		return r;
	/*
	 * A bridge Docker created a moment ago, before we listed it: fail closed. Its
	 * containers' sources are unknown to police, so their traffic is dropped until then.
	 * "br-" is a prefix match (nft's "br-*"); "docker0" is exact, padded to IFNAMSIZ.
	 */
	for (int i = 0; rs->police_unknown && i < 2; i++) {
		static const char docker0[VW_IFNAMSIZ] = VW_DOCKER_DEFAULT_BRIDGE;

		rl = rule_new();
		put(&rl, e_meta(NFT_META_IIFNAME, NFT_REG_1));
		put(&rl, i == 0 ? e_cmp(NFT_REG_1, NFT_CMP_EQ, VW_DOCKER_BRIDGE_PREFIX,
					strlen(VW_DOCKER_BRIDGE_PREFIX))
				: e_cmp(NFT_REG_1, NFT_CMP_EQ, docker0, sizeof(docker0)));
		put(&rl, e_verdict(NFT_GOTO, CHAIN_POLICE));
		r = rule_emit(b, &rl, CHAIN_FORWARD, "rule forward: unknown Docker bridge");
		if (r < 0)
			return r;
	}

	/*
	 * police: the reply direction of a connection someone else opened (a published port)
	 * is not egress. Only that direction: a container's own flows are checked packet by
	 * packet, so a tightened policy cuts them at once.
	 */
	rl = rule_new();
	put(&rl, e_ct(NFT_CT_DIRECTION, NFT_REG_1));
	put(&rl, e_cmp(NFT_REG_1, NFT_CMP_EQ, &dir_reply, sizeof(dir_reply)));
	put(&rl, e_verdict(NFT_RETURN, NULL));
	r = rule_emit(b, &rl, CHAIN_POLICE, "rule police: ct direction reply return");
	if (r < 0)
		return r;

	/* Same bridge in and out: container to container on one network. */
	rl = rule_new();
	put(&rl, e_meta(NFT_META_IIFNAME, NFT_REG_1));
	put(&rl, e_meta(NFT_META_OIFNAME, NFT_REG_2));
	put(&rl, e_lookup(NFT_REG_1, SET_INTRA, -1));
	put(&rl, e_verdict(NFT_RETURN, NULL));
	r = rule_emit(b, &rl, CHAIN_POLICE, "rule police: iifname . oifname @intra return");
	if (r < 0)
		return r;

	for (int f = 0; f < 2; f++) {
		uint8_t family = f == 0 ? AF_INET : AF_INET6;

		rl = rule_new();
		put_nfproto(&rl, family);
		put_addr(&rl, family, true);
		put(&rl, e_lookup(NFT_REG_1, f == 0 ? MAP_SRC4 : MAP_SRC6, NFT_REG_VERDICT));
		r = rule_emit(b, &rl, CHAIN_POLICE, "rule police: saddr vmap");
		if (r < 0)
			return r;
	}

	/* Unknown source on a managed bridge: started while we were down, or not yet seen. */
	r = emit_audit_rule(b, rs, CHAIN_POLICE, rs->dry_run, VW_KEY_UNKNOWN);
	if (r < 0)
		return r;
	rl = rule_new();
	put(&rl, e_counter(VW_KEY_UNKNOWN));
	if (!rs->dry_run)
		put(&rl, e_verdict(NF_DROP, NULL));
	return rule_emit(b, &rl, CHAIN_POLICE, "rule police: unknown source");
}

static int emit_group_rule(struct batch *b, const struct vw_rs_container *c, unsigned gi,
			   uint8_t family, const char *chain)
{
	const struct vw_rs_group *g = &c->groups[gi];
	char set[64], ctr[64], what[160];
	struct rule rl = rule_new();

	set_name(set, sizeof(set), c, gi, family);
	counter_name(ctr, sizeof(ctr), c, false);
	put_nfproto(&rl, family);
	if (g->proto) {
		uint16_t lo = htons(g->port_lo), hi = htons(g->port_hi);

		put(&rl, e_meta(NFT_META_L4PROTO, NFT_REG_1));
		put(&rl, e_cmp(NFT_REG_1, NFT_CMP_EQ, &g->proto, sizeof(g->proto)));
		/* th dport: the same offset in TCP and UDP headers. Big-endian compares as numbers.
		 */
		put(&rl, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1));
		if (lo == hi) {
			put(&rl, e_cmp(NFT_REG_1, NFT_CMP_EQ, &lo, sizeof(lo)));
		} else {
			put(&rl, e_cmp(NFT_REG_1, NFT_CMP_GTE, &lo, sizeof(lo)));
			put(&rl, e_cmp(NFT_REG_1, NFT_CMP_LTE, &hi, sizeof(hi)));
		}
	}
	put_addr(&rl, family, false);
	put(&rl, e_lookup(NFT_REG_1, set, -1));
	put(&rl, e_counter(ctr));
	put(&rl, e_verdict(NFT_RETURN, NULL));
	snprintf(what, sizeof(what), "rule %s: daddr @%s", chain, set);
	return rule_emit(b, &rl, chain, what);
}

static int emit_ranges(struct batch *b, uint16_t type, const char *set, uint8_t family,
		       const struct vw_range *v, size_t n)
{
	struct elems el = { .b = b, .type = type, .set = set };
	int r = 0;

	for (size_t i = 0; r >= 0 && i < n; i++)
		r = elem_range(&el, family, &v[i]);
	return elems_finish(&el, r);
}

static int container_add(struct batch *b, const struct vw_ruleset *rs,
			 const struct vw_rs_container *c)
{
	char chain[64], name[64];
	struct rule rl;
	int r;

	for (unsigned gi = 0; gi < c->n_groups; gi++) {
		const struct vw_rs_group *g = &c->groups[gi];
		const struct vw_rangeset *sets[2] = { g->has4 ? &g->set4 : NULL,
						      g->has6 ? &g->set6 : NULL };

		for (int f = 0; f < 2; f++) {
			uint8_t family = f == 0 ? AF_INET : AF_INET6;
			struct set_spec spec = { name, f == 0 ? TYPE_IPV4 : TYPE_IPV6,
						 (uint32_t)vw_addr_len(family), NFT_SET_INTERVAL };

			if (!sets[f])
				continue;
			set_name(name, sizeof(name), c, gi, family);
			r = emit_set(b, NFT_MSG_NEWSET, &spec);
			if (r >= 0)
				r = emit_ranges(b, NFT_MSG_NEWSETELEM, name, family, sets[f]->v,
						sets[f]->n);
			if (r < 0)
				return r;
		}
	}
	for (int drop = 0; drop < 2; drop++) {
		counter_name(name, sizeof(name), c, drop);
		r = emit_counter(b, NFT_MSG_NEWOBJ, name);
		if (r < 0)
			return r;
	}
	chain_name(chain, sizeof(chain), c);
	r = emit_chain(b, NFT_MSG_NEWCHAIN, chain, false);
	if (r < 0)
		return r;
	for (unsigned gi = 0; gi < c->n_groups; gi++)
		for (int f = 0; f < 2; f++) {
			if (!(f == 0 ? c->groups[gi].has4 : c->groups[gi].has6))
				continue;
			r = emit_group_rule(b, c, gi, f == 0 ? AF_INET : AF_INET6, chain);
			if (r < 0)
				return r;
		}

	r = emit_audit_rule(b, rs, chain, c->audit, c->key);
	if (r < 0)
		return r;
	rl = rule_new();
	counter_name(name, sizeof(name), c, true);
	put(&rl, e_counter(name));
	if (!c->audit)
		put(&rl, e_verdict(NF_DROP, NULL));
	return rule_emit(b, &rl, chain, c->audit ? "rule: audit" : "rule: drop");
}

static int container_del(struct batch *b, const struct vw_rs_container *c)
{
	char name[64];
	int r;

	/* Deleting the chain deletes its rules, which releases the sets and counters. */
	chain_name(name, sizeof(name), c);
	r = emit_chain(b, NFT_MSG_DELCHAIN, name, false);
	for (unsigned gi = 0; r >= 0 && gi < c->n_groups; gi++)
		for (int f = 0; r >= 0 && f < 2; f++) {
			uint8_t family = f == 0 ? AF_INET : AF_INET6;
			struct set_spec spec = { name, 0, 0, 0 };

			if (!(f == 0 ? c->groups[gi].has4 : c->groups[gi].has6))
				continue;
			set_name(name, sizeof(name), c, gi, family);
			r = emit_set(b, NFT_MSG_DELSET, &spec);
		}
	for (int drop = 0; r >= 0 && drop < 2; drop++) {
		counter_name(name, sizeof(name), c, drop);
		r = emit_counter(b, NFT_MSG_DELOBJ, name);
	}
	return r;
}

static int source_op(struct batch *b, uint16_t type, const struct vw_rs_source *s)
{
	struct elems el = { .b = b,
			    .type = type,
			    .set = s->family == AF_INET ? MAP_SRC4 : MAP_SRC6 };
	struct nftnl_set_elem *e;
	char chain[64];
	int r;

	e = elem_new(&el, &r);
	if (e) {
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, s->addr,
				   (uint32_t)vw_addr_len(s->family));
		if (type == NFT_MSG_NEWSETELEM) {
			/* goto, not jump: the container chain's "return" then ends our table. */
			if (s->key[0]) {
				snprintf(chain, sizeof(chain), "c_%s", s->key);
				nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT,
						       (uint32_t)NFT_GOTO);
				nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, chain);
			} else {
				nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT,
						       (uint32_t)NFT_RETURN);
			}
		}
	}
	return elems_finish(&el, r);
}

static int one_key(struct batch *b, uint16_t type, const char *set, const void *key, uint32_t len)
{
	struct elems el = { .b = b, .type = type, .set = set };

	return elems_finish(&el, elem_key(&el, key, len, 0));
}

/* A managed bridge is in @bridges and, paired with itself, in @intra; a skipped one in @skip. */
static int bridge_op(struct batch *b, uint16_t type, const char *ifname, bool skip)
{
	char key[2 * VW_IFNAMSIZ] = { 0 };
	int r;

	(void)vw_strscpy(key, ifname, VW_IFNAMSIZ);
	memcpy(key + VW_IFNAMSIZ, key, VW_IFNAMSIZ);
	if (skip)
		return one_key(b, type, SET_SKIP, key, VW_IFNAMSIZ);
	r = one_key(b, type, SET_BRIDGES, key, VW_IFNAMSIZ);
	return r < 0 ? r : one_key(b, type, SET_INTRA, key, sizeof(key));
}

static int emit_op(struct batch *b, const struct vw_op *op)
{
	char set[64];

	switch (op->type) {
	case VW_OP_RESET:
		return emit_base(b, op->rs);
	case VW_OP_CONTAINER_DEL:
		return container_del(b, op->c);
	case VW_OP_CONTAINER_ADD:
		return container_add(b, op->rs, op->c);
	case VW_OP_RANGES_DEL:
	case VW_OP_RANGES_ADD:
		set_name(set, sizeof(set), op->c, op->group, op->family);
		return emit_ranges(
			b, op->type == VW_OP_RANGES_ADD ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
			set, op->family, op->ranges, op->n_ranges);
	case VW_OP_SOURCE_DEL:
		return source_op(b, NFT_MSG_DELSETELEM, op->src);
	case VW_OP_SOURCE_ADD:
		return source_op(b, NFT_MSG_NEWSETELEM, op->src);
	case VW_OP_BRIDGE_DEL:
		return bridge_op(b, NFT_MSG_DELSETELEM, op->ifname, op->skip);
	case VW_OP_BRIDGE_ADD:
		return bridge_op(b, NFT_MSG_NEWSETELEM, op->ifname, op->skip);
	}
	return -EINVAL;
}

/* --- transport --------------------------------------------------------------------------- */

static const char *describe(const struct batch *b, uint32_t seq)
{
	for (size_t i = 0; i < b->n_info; i++)
		if (b->info[i].seq == seq)
			return b->info[i].what;
	return "batch";
}

/* Drain what the kernel queued while processing the batch; return the first error. */
static int collect_errors(struct batch *b)
{
	char buf[VW_NL_BUFSZ];
	int first = 0;

	for (;;) {
		ssize_t len = recv(mnl_socket_get_fd(b->n->nl), buf, sizeof(buf), MSG_DONTWAIT);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;

		if (len < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return first;
			if (errno == EINTR)
				continue;
			/* ENOBUFS: reports were lost, so the batch certainly failed. */
			return first ? first : -errno;
		}
		for (int rem = (int)len; mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem)) {
			const struct nlmsgerr *err;

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			err = mnl_nlmsg_get_payload(nlh);
			if (err->error == 0)
				continue;
			log_debug("kernel rejected '%s': %s", describe(b, nlh->nlmsg_seq),
				  strerror(-err->error));
			if (!first)
				first = err->error;
		}
	}
}

static int send_batch(struct batch *b)
{
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	int iovlen = nftnl_batch_iovec_len(b->b);
	_cleanup_free_ struct iovec *iov = NULL;
	struct msghdr mh = { 0 };
	size_t total = 0;
	int fd = mnl_socket_get_fd(b->n->nl), sz;

	iov = calloc((size_t)iovlen, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	nftnl_batch_iovec(b->b, iov, (uint32_t)iovlen);
	for (int i = 0; i < iovlen; i++)
		total += iov[i].iov_len;

	/* netlink_sendmsg refuses a buffer larger than the socket's send buffer. */
	sz = total > INT32_MAX / 2 ? INT32_MAX / 2 : (int)total + 4096;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	sz = RCVBUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));

	mh.msg_name = &snl;
	mh.msg_namelen = sizeof(snl);
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)iovlen;
	if (sendmsg(fd, &mh, 0) < 0)
		return -errno;
	return collect_errors(b);
}

/* BEGIN, whatever @build adds, END: a complete transaction in b->b (freed by batch_done). */
static int make_batch(struct vw_nft *n, int (*build)(struct batch *b, const void *arg),
		      const void *arg, struct batch *b)
{
	int r;

	*b = (struct batch){ .n = n };
	b->b = nftnl_batch_alloc(BATCH_PAGE, BATCH_OVERRUN);
	if (!b->b)
		return -ENOMEM;
	nftnl_batch_begin(nftnl_batch_buffer(b->b), n->seq++);
	r = msg_end(b);
	if (r >= 0)
		r = build(b, arg);
	if (r >= 0) {
		nftnl_batch_end(nftnl_batch_buffer(b->b), n->seq++);
		r = msg_end(b);
	}
	return r;
}

static void batch_done(struct batch *b)
{
	if (b->b)
		nftnl_batch_free(b->b);
	free(b->info);
}

static int run_batch(struct vw_nft *n, int (*build)(struct batch *b, const void *arg),
		     const void *arg)
{
	struct batch b;
	int r;

	r = make_batch(n, build, arg, &b);
	if (r >= 0)
		r = send_batch(&b);
	batch_done(&b);
	return r;
}

static int build_plan(struct batch *b, const void *arg)
{
	const struct vw_plan *plan = arg;
	int r;

	for (size_t i = 0; i < plan->n; i++) {
		r = emit_op(b, &plan->ops[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int genid(struct vw_nft *n, uint32_t *ret);

int vw_nft_apply(struct vw_nft *n, const struct vw_plan *plan)
{
	int r;

	if (plan->n == 0)
		return 0;
	r = run_batch(n, build_plan, plan);
	if (r < 0)
		return r;
	/* Lets the monitor tell, after losing notifications, whether anyone else committed. */
	n->have_genid = genid(n, &n->own_genid) >= 0;
	return 0;
}

int vw_nft_render(const char *table, const struct vw_plan *plan, void **ret_buf, size_t *ret_len)
{
	struct vw_nft n = { .seq = 1 };
	_cleanup_free_ struct iovec *iov = NULL;
	struct vw_buf out = { 0 };
	struct batch b;
	int r, iovlen;

	(void)vw_strscpy(n.table, table, sizeof(n.table));
	r = make_batch(&n, build_plan, plan, &b);
	if (r >= 0) {
		iovlen = nftnl_batch_iovec_len(b.b);
		iov = calloc((size_t)iovlen, sizeof(*iov));
		if (!iov)
			r = -ENOMEM;
		else
			nftnl_batch_iovec(b.b, iov, (uint32_t)iovlen);
		for (int i = 0; r >= 0 && i < iovlen; i++)
			vw_buf_append(&out, iov[i].iov_base, iov[i].iov_len);
		if (r >= 0 && out.oom)
			r = -ENOMEM;
	}
	batch_done(&b);
	if (r < 0) {
		vw_buf_done(&out);
		return r;
	}
	*ret_buf = out.p;
	*ret_len = out.len;
	return 0;
}

static int build_delete(struct batch *b, const void *arg)
{
	return emit_table(b, NFT_MSG_DELTABLE);
}

int vw_nft_delete_table(struct vw_nft *n)
{
	return run_batch(n, build_delete, NULL);
}

/* A request/response exchange outside a batch (GET*), calling @cb for each reply. */
static int query(struct vw_nft *n, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[VW_NL_BUFSZ];
	uint32_t portid = mnl_socket_get_portid(n->nl), seq = nlh->nlmsg_seq;
	int r;

	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(n->nl, buf, sizeof(buf));

		if (len < 0)
			return -errno;
		r = mnl_cb_run(buf, (size_t)len, seq, portid, cb, data);
		if (r < 0)
			return -errno;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *g = nftnl_gen_alloc();

	if (g && nftnl_gen_nlmsg_parse(nlh, g) == 0)
		*(uint32_t *)data = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	nftnl_gen_free(g);
	return MNL_CB_OK;
}

/* The current ruleset generation: it changes with every commit, by anyone. */
static int genid(struct vw_nft *n, uint32_t *ret)
{
	char buf[VW_NL_BUFSZ];
	struct nlmsghdr *nlh;

	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, n->seq++);
	return query(n, nlh, gen_cb, ret);
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	*(int *)data = 1;
	return MNL_CB_OK;
}

int vw_nft_table_exists(struct vw_nft *n)
{
	char buf[VW_NL_BUFSZ];
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	int found = 0, r;

	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, n->table);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, n->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	r = query(n, nlh, table_cb, &found);
	if (r == -ENOENT)
		return 0;
	return r < 0 ? r : found;
}

struct counters {
	struct vw_nft_counter *v;
	size_t n;
	size_t cap;
	int err;
};

static int counter_cb(const struct nlmsghdr *nlh, void *data)
{
	struct counters *cs = data;
	struct nftnl_obj *o = nftnl_obj_alloc();
	struct vw_nft_counter *c;
	const char *name;

	if (!o) {
		cs->err = -ENOMEM;
		return MNL_CB_OK;
	}
	if (nftnl_obj_nlmsg_parse(nlh, o) == 0 &&
	    nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE) == NFT_OBJECT_COUNTER &&
	    vw_grow((void **)&cs->v, &cs->cap, cs->n + 1, sizeof(*cs->v), 1u << 20) == 0) {
		c = &cs->v[cs->n];
		*c = (struct vw_nft_counter){ .packets = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS),
					      .bytes = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES) };
		name = nftnl_obj_get_str(o, NFTNL_OBJ_NAME);
		/* Our names: "a_<key>" allowed, "d_<key>" dropped, and the unknown-source one. */
		if (name && strcmp(name, VW_KEY_UNKNOWN) == 0) {
			(void)vw_strscpy(c->key, name, sizeof(c->key));
			c->drop = true;
			cs->n++;
		} else if (name && (name[0] == 'a' || name[0] == 'd') && name[1] == '_') {
			(void)vw_strscpy(c->key, name + 2, sizeof(c->key));
			c->drop = name[0] == 'd';
			cs->n++;
		}
	}
	nftnl_obj_free(o);
	return MNL_CB_OK;
}

int vw_nft_counters(struct vw_nft *n, struct vw_nft_counter **ret)
{
	char buf[VW_NL_BUFSZ];
	struct counters cs = { 0 };
	struct nftnl_obj *o = nftnl_obj_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (!o)
		return -ENOMEM;
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, n->table);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETOBJ, NFPROTO_INET, NLM_F_DUMP, n->seq++);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	r = query(n, nlh, counter_cb, &cs);
	if (r >= 0 && cs.err < 0)
		r = cs.err;
	if (r < 0) {
		free(cs.v);
		return r;
	}
	*ret = cs.v;
	return (int)cs.n;
}

/* --- monitor ----------------------------------------------------------------------------- */

static const char *const msg_names[NFT_MSG_MAX] = {
	[NFT_MSG_NEWTABLE] = "table changed (e.g. made dormant)",
	[NFT_MSG_DELTABLE] = "table deleted",
	[NFT_MSG_NEWCHAIN] = "chain added",
	[NFT_MSG_DELCHAIN] = "chain deleted",
	[NFT_MSG_NEWRULE] = "rule added",
	[NFT_MSG_DELRULE] = "rule deleted",
	[NFT_MSG_NEWSET] = "set added",
	[NFT_MSG_DELSET] = "set deleted",
	[NFT_MSG_NEWSETELEM] = "element added",
	[NFT_MSG_DELSETELEM] = "element deleted",
	[NFT_MSG_NEWOBJ] = "object added",
	[NFT_MSG_DELOBJ] = "object deleted",
};

static int table_attr_cb(const struct nlattr *attr, void *data)
{
	/* Attribute 1 is the table name in every nf_tables object message. */
	if (mnl_attr_get_type(attr) == 1 && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		*(const char **)data = mnl_attr_get_str(attr);
	return MNL_CB_OK;
}

/*
 * The socket overflowed, typically during our own large commit. If nobody committed after
 * us the lost notifications were all ours; otherwise assume the worst.
 */
static void notifications_lost(struct monitor *m)
{
	char buf[VW_NL_BUFSZ];
	uint32_t now;

	while (recv(m->io.fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	if (m->n->have_genid && genid(m->n, &now) >= 0 && now == m->n->own_genid)
		return;
	m->cb(m->ud, "notifications lost");
}

static void on_monitor(struct vw_io *io, uint32_t events)
{
	struct monitor *m = (struct monitor *)io;
	uint32_t self = mnl_socket_get_portid(m->n->nl);
	char buf[VW_NL_BUFSZ * 4];

	for (int i = 0; i < 64; i++) {
		ssize_t len = recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;

		if (len < 0) {
			if (errno == ENOBUFS)
				notifications_lost(m);
			return;
		}
		for (int rem = (int)len; mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem)) {
			const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
			unsigned type = nlh->nlmsg_type & 0xff;
			const char *table = NULL;

			if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES || type >= NFT_MSG_MAX ||
			    !msg_names[type] || nlh->nlmsg_pid == self ||
			    nlh->nlmsg_len < NLMSG_SPACE(sizeof(*g)) ||
			    g->nfgen_family != NFPROTO_INET)
				continue;
			(void)mnl_attr_parse(nlh, sizeof(*g), table_attr_cb, &table);
			if (table && strcmp(table, m->n->table) == 0)
				m->cb(m->ud, msg_names[type]);
		}
	}
}

int vw_nft_monitor(struct vw_nft *n, struct vw_loop *loop, vw_nft_change_fn cb, void *ud)
{
	struct monitor *m = &n->mon;
	int sz = 16 * 1024 * 1024, r;

	m->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!m->nl)
		return -errno;
	if (setsockopt(mnl_socket_get_fd(m->nl), SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(mnl_socket_get_fd(m->nl), SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (mnl_socket_bind(m->nl, 1u << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		(void)mnl_socket_close(m->nl);
		m->nl = NULL;
		return r;
	}
	m->n = n;
	m->loop = loop;
	m->cb = cb;
	m->ud = ud;
	m->io.fd = mnl_socket_get_fd(m->nl);
	m->io.cb = on_monitor;
	return vw_loop_watch(loop, &m->io, EPOLLIN);
}
