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
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
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

#include "vpnwall/genwatch.h"
#include "vpnwall/log.h"
#include "vpnwall/loop.h"
#include "vpnwall/netlink.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/util.h"

#define VW_LOG_MODULE "nft"

#define BATCH_PAGE (128 * 1024)
#define BATCH_OVERRUN (UINT16_MAX + 4096) /* the largest single message */
#define ELEMS_PER_MSG 256 /* keeps a NEWSETELEM well below the 64 KiB attribute limit */
#define RCVBUF (4 * 1024 * 1024)
#define HOOK_PRIORITY (-10) /* before Docker's filter chains at priority 0 */
#define NAT_PRIORITY (-110) /* before Docker's DNAT (dstnat, -100) */
#define DNS_PORT 53

/* Debian 12's headers predate it (Linux 6.3): a delete that is fine with "no such element". */
#ifndef NFT_MSG_DESTROYSETELEM
#define NFT_MSG_DESTROYSETELEM 30
#endif

/* nft's datatype ids, so that `nft list ruleset` shows our sets with their real types. */
#define TYPE_IPV4 7
#define TYPE_IPV6 8
#define TYPE_INET_PROTO 12
#define TYPE_INET_SERVICE 13
#define TYPE_IFNAME 41
#define TYPE_BITS 6

/*
 * Chains: forward and input are the hooks; a packet from a bridge goes to police (routed
 * on) or police_in (to the host itself), which check what only that hook can, and both
 * end in dispatch, which applies the container's destinations. Each hook has its own map
 * of Docker's bridges, as a map's verdict names the chain.
 */
#define CHAIN_FORWARD "forward"
#define CHAIN_INPUT "input"
#define CHAIN_POLICE "police"
#define CHAIN_POLICE_IN "police_in"
#define CHAIN_DISPATCH "dispatch"
#define CHAIN_DNS "dns"
#define CHAIN_PROXY_GUARD "proxy_guard"
#define MAP_BRIDGES "bridges"
#define MAP_BRIDGES_IN "bridges_in"
/*
 * No chain and no set per container: every container's destinations live in a few sets
 * shared by all, keyed by the packet's source address first. The kernel looks up sets by
 * name along a list, so a set per container made every change cost O(containers) (and a
 * full load O(containers^2)); shared sets make a change cost what it adds. Per family:
 *
 *   exempt4          saddr of vpn.enable=false containers
 *   exact4           saddr . daddr . l4proto . dport    (hash: one address, one port)
 *   host4            saddr . daddr                      (hash: one address, any protocol)
 *   range4           saddr . daddr . l4proto . dport    (concatenated ranges: the rest)
 *   anyexact4, anyhost4, anyrange4   the same for destinations reached by any path; the
 *                    three above only through the VPN interface, when there is one
 *   audit4           saddr of audited containers
 *   allowed4/dropped4  saddr -> counter a_<key> / d_<key>  (object maps)
 *   lograte4         saddr -> limit l_<key>             (object map, with an NFLOG group)
 *   dnsrate4         saddr -> limit q_<key>, "over"     (object map, with the DNS proxy)
 *
 * A container's destinations are thus stored once per address it sends from (usually one
 * per family). All of it is plain nft syntax: `nft list ruleset` shows it and `nft -f`
 * loads it back. The key is built in registers from REG32_00 on: saddr, daddr, l4proto and
 * th dport, each field 32-bit aligned (the kernel zero-pads the protocol and the port).
 */
static const char *const set_exempt[2] = { "exempt4", "exempt6" };
static const char *const set_audit[2] = { "audit4", "audit6" };
static const char *const map_allowed[2] = { "allowed4", "allowed6" };
static const char *const map_dropped[2] = { "dropped4", "dropped6" };
static const char *const map_lograte[2] = { "lograte4", "lograte6" };
static const char *const map_dnsrate[2] = { "dnsrate4", "dnsrate6" };
/*
 * The DNS proxy's: sources whose DNS it answers (managed containers' addresses), and what it
 * learned from their answers, per path, as saddr . daddr . l4proto . dport ranges with a
 * timeout each. Kept apart from the static destinations: a learned element expires on its
 * own, and an interval set refuses an element inside a range it holds.
 */
static const char *const set_proxied[2] = { "proxied4", "proxied6" };
static const char *const set_learned[VW_PATHS][2] = {
	[VW_PATH_VPN] = { "learned4", "learned6" },
	[VW_PATH_ANY] = { "anylearned4", "anylearned6" },
};

enum box_kind { BOX_EXACT, BOX_HOST, BOX_RANGE, BOX_KINDS };
static const char *const set_boxes[VW_PATHS][BOX_KINDS][2] = {
	[VW_PATH_VPN] = {
		[BOX_EXACT] = { "exact4", "exact6" },
		[BOX_HOST] = { "host4", "host6" },
		[BOX_RANGE] = { "range4", "range6" },
	},
	[VW_PATH_ANY] = {
		[BOX_EXACT] = { "anyexact4", "anyexact6" },
		[BOX_HOST] = { "anyhost4", "anyhost6" },
		[BOX_RANGE] = { "anyrange4", "anyrange6" },
	},
};

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
	char tag[VW_NFT_TAG_MAX + 1];
	uint32_t seq;
	struct monitor mon;
	struct vw_genwatch gens; /* valid while the monitor runs */
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

int vw_nft_new(const char *table, const char *tag, struct vw_nft **ret_nft)
{
	struct vw_nft *n;
	int one = 1, r;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	(void)vw_strscpy(n->table, table, sizeof(n->table));
	(void)vw_strscpy(n->tag, tag, sizeof(n->tag));
	n->seq = (uint32_t)vw_now_ms();
	n->nl = vw_nl_open(NETLINK_NETFILTER, 0);
	if (!n->nl) {
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

/* The object @sreg's key maps to in object map @set (counter name ip saddr map @m, ...). */
static struct nftnl_expr *e_objref_map(uint32_t sreg, const char *set)
{
	struct nftnl_expr *e = nftnl_expr_alloc("objref");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_SET_SREG, sreg);
		nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_SET_NAME, set);
	}
	return e;
}

static struct nftnl_expr *e_limit(unsigned rate)
{
	struct nftnl_expr *e = nftnl_expr_alloc("limit");

	if (e) {
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, rate);
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, rate * 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
	}
	return e;
}

/* log prefix P group G: headers are all the audit needs (IPv6 40 + TCP 20, with room). */
static struct nftnl_expr *e_log(uint16_t group, bool audit, const char *key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("log");
	char prefix[32];

	vw_audit_prefix(prefix, sizeof(prefix), audit, key);
	if (e) {
		nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, group);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOG_SNAPLEN, 128);
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

/* range eq @sreg from @lo to @hi (inclusive, @len bytes, network order) */
static struct nftnl_expr *e_range(uint32_t sreg, const void *lo, const void *hi, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("range");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, sreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, lo, len);
		nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, hi, len);
	}
	return e;
}

/* dreg = (sreg & mask) ^ 0 */
static struct nftnl_expr *e_and(uint32_t reg, const void *mask, uint32_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	}
	return e;
}

/* dreg = (sreg & ~bits) ^ bits: @bits set in a 32-bit register */
static struct nftnl_expr *e_setbits(uint32_t reg, uint32_t bits)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	uint32_t mask = ~bits;

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(bits));
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &bits, sizeof(bits));
	}
	return e;
}

static struct nftnl_expr *e_ct_set(uint32_t key, uint32_t sreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, sreg);
	}
	return e;
}

static struct nftnl_expr *e_data(uint32_t dreg, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, dreg);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
	}
	return e;
}

/* redirect to :<port in @reg> */
static struct nftnl_expr *e_redir(uint32_t reg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("redir");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MAX, reg);
	}
	return e;
}

/*
 * fib <saddr|daddr> . iif oif: the interface a route lookup for the address yields, if that
 * is the packet's input interface, else 0.
 */
static struct nftnl_expr *e_fib_iif(bool saddr, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("fib");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, dreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_OIF);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS,
				   (saddr ? NFTA_FIB_F_SADDR : NFTA_FIB_F_DADDR) | NFTA_FIB_F_IIF);
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

/* limit rate N/second burst 2N packets log prefix "D:unknown" group G */
static int emit_unknown_log(struct batch *b, const struct vw_ruleset *rs)
{
	struct rule rl;

	if (!rs->log_group)
		return 0;
	rl = rule_new(); /* after the check: a rule not emitted would leak */
	put(&rl, e_limit(rs->log_rate));
	put(&rl, e_log(rs->log_group, rs->dry_run, VW_KEY_UNKNOWN));
	return rule_emit(b, &rl, CHAIN_DISPATCH, "rule dispatch: log unknown source");
}

/* --- objects ----------------------------------------------------------------------------- */

/* A comment in nft's userdata format: `nft list` shows it as the object's comment. */
static struct nftnl_udata_buf *comment_udata(uint8_t type, const char *text)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 8);

	if (ud && !nftnl_udata_put_strz(ud, type, text)) {
		nftnl_udata_buf_free(ud);
		return NULL;
	}
	return ud;
}

static int emit_table(struct batch *b, uint16_t type)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, b->n->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	if (type == NFT_MSG_NEWTABLE && b->n->tag[0]) {
		struct nftnl_udata_buf *ud = comment_udata(NFTNL_UDATA_TABLE_COMMENT, b->n->tag);

		if (!ud) {
			nftnl_table_free(t);
			return -ENOMEM;
		}
		nftnl_table_set_data(t, NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(ud),
				     nftnl_udata_buf_len(ud));
		nftnl_udata_buf_free(ud);
	}
	nlh = msg_begin(b, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0,
			type == NFT_MSG_NEWTABLE ? "create table" : "delete table");
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	return msg_end(b);
}

/*
 * @hook: NF_INET_FORWARD or NF_INET_LOCAL_IN for a filter base chain, NF_INET_PRE_ROUTING
 * for the nat one, -1 for a regular chain.
 */
static int emit_chain(struct batch *b, uint16_t type, const char *name, int hook)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	char what[96];

	if (!c)
		return -ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, b->n->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	if (hook >= 0) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
		bool nat = hook == NF_INET_PRE_ROUTING;

		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, nat ? NAT_PRIORITY : HOOK_PRIORITY);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, nat ? "nat" : "filter");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	snprintf(what, sizeof(what), "%s chain %s", type == NFT_MSG_NEWCHAIN ? "create" : "delete",
		 name);
	nlh = msg_begin(b, type, type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE | NLM_F_EXCL : 0, what);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	return msg_end(b);
}

/*
 * A counter carries the key it counts for as its comment, so that reading counters back
 * needs no knowledge of how they are named.
 */
static int emit_counter(struct batch *b, uint16_t type, const char *name, const char *key)
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
	if (type == NFT_MSG_NEWOBJ) {
		struct nftnl_udata_buf *ud = comment_udata(NFTNL_UDATA_OBJ_COMMENT, key);

		if (!ud) {
			nftnl_obj_free(o);
			return -ENOMEM;
		}
		nftnl_obj_set_data(o, NFTNL_OBJ_USERDATA, nftnl_udata_buf_data(ud),
				   nftnl_udata_buf_len(ud));
		nftnl_udata_buf_free(ud);
	}
	snprintf(what, sizeof(what), "%s counter %s", type == NFT_MSG_NEWOBJ ? "create" : "delete",
		 name);
	nlh = msg_begin(b, type, type == NFT_MSG_NEWOBJ ? NLM_F_CREATE | NLM_F_EXCL : 0, what);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	return msg_end(b);
}

/*
 * limit rate [over] N/second burst 2N packets, one per container: the audit trail's budget,
 * and (@over: matches past it) the DNS queries it may send the proxy.
 */
static int emit_limit(struct batch *b, uint16_t type, const char *name, unsigned rate, bool over)
{
	struct nftnl_obj *o = nftnl_obj_alloc();
	struct nlmsghdr *nlh;
	char what[96];

	if (!o)
		return -ENOMEM;
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, b->n->table);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, name);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_LIMIT);
	nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, NFPROTO_INET);
	if (type == NFT_MSG_NEWOBJ) {
		nftnl_obj_set_u64(o, NFTNL_OBJ_LIMIT_RATE, rate);
		nftnl_obj_set_u64(o, NFTNL_OBJ_LIMIT_UNIT, 1);
		nftnl_obj_set_u32(o, NFTNL_OBJ_LIMIT_BURST, rate * 2);
		nftnl_obj_set_u32(o, NFTNL_OBJ_LIMIT_TYPE, NFT_LIMIT_PKTS);
		nftnl_obj_set_u32(o, NFTNL_OBJ_LIMIT_FLAGS, over ? NFT_LIMIT_F_INV : 0);
	}
	snprintf(what, sizeof(what), "%s limit %s", type == NFT_MSG_NEWOBJ ? "create" : "delete",
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
	const uint8_t *fields; /* NFT_SET_CONCAT: the length of each field, 0-terminated */
	uint32_t data_type; /* NFT_SET_MAP: 0 for verdicts, else the values' nft type... */
	uint32_t data_len; /* ...and length */
	uint32_t obj_type; /* NFT_SET_OBJECT: NFT_OBJECT_* */
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
		if ((spec->flags & NFT_SET_MAP) && !spec->data_type)
			nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
		if ((spec->flags & NFT_SET_MAP) && spec->data_type) {
			nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, spec->data_type);
			nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, spec->data_len);
		}
		if (spec->flags & NFT_SET_OBJECT)
			nftnl_set_set_u32(s, NFTNL_SET_OBJ_TYPE, spec->obj_type);
		if (spec->fields)
			nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, spec->fields,
					   (uint32_t)strlen((const char *)spec->fields));
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

/* Which shared set holds a box: hash sets for single points, the range set for the rest. */
static enum box_kind box_kind(uint8_t family, const struct vw_box *b)
{
	if (memcmp(b->lo, b->hi, vw_addr_len(family)) != 0)
		return BOX_RANGE;
	if (b->proto_lo == 0 && b->proto_hi == UINT8_MAX && b->port_lo == 0 &&
	    b->port_hi == UINT16_MAX)
		return BOX_HOST;
	if (b->proto_lo == b->proto_hi && b->port_lo == b->port_hi)
		return BOX_EXACT;
	return BOX_RANGE;
}

/* saddr . daddr [. proto . port]: the key of one corner of a box, fields 32-bit aligned. */
static uint32_t box_key(uint8_t family, const uint8_t *saddr, const uint8_t *daddr, bool ports,
			uint8_t proto, uint16_t port, uint8_t *key)
{
	uint32_t alen = (uint32_t)vw_addr_len(family);
	uint16_t be = htons(port);

	memset(key, 0, 2 * alen + 8);
	memcpy(key, saddr, alen);
	memcpy(key + alen, daddr, alen);
	if (!ports)
		return 2 * alen;
	key[2 * alen] = proto;
	memcpy(key + 2 * alen + 4, &be, sizeof(be));
	return 2 * alen + 8;
}

/* @timeout_ms: 0 for none (the set's elements must then have no timeout flag either). */
static int elem_box(struct elems *el, uint8_t family, const uint8_t *saddr, enum box_kind kind,
		    const struct vw_box *bx, uint64_t timeout_ms)
{
	struct nftnl_set_elem *e;
	uint8_t key[40];
	uint32_t len;
	int r;

	e = elem_new(el, &r);
	if (!e)
		return r;
	len = box_key(family, saddr, bx->lo, kind != BOX_HOST, bx->proto_lo, bx->port_lo, key);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len);
	if (kind == BOX_RANGE) {
		len = box_key(family, saddr, bx->hi, true, bx->proto_hi, bx->port_hi, key);
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, key, len);
	}
	if (timeout_ms)
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
	return 0;
}

/* --- names ------------------------------------------------------------------------------- */

static void counter_name(char *buf, size_t size, const struct vw_rs_container *c, bool drop)
{
	snprintf(buf, size, "%c_%s", drop ? 'd' : 'a', c->key);
}

static void limit_name(char *buf, size_t size, const struct vw_rs_container *c)
{
	snprintf(buf, size, "l_%s", c->key);
}

static void dns_limit_name(char *buf, size_t size, const struct vw_rs_container *c)
{
	snprintf(buf, size, "q_%s", c->key);
}

/* The inverse of counter_name() for the kind: allow counters are "a_...". */
static bool counter_is_drop(const char *name)
{
	return !name || name[0] != 'a';
}

/* --- operations -------------------------------------------------------------------------- */

static int emit_verdict_rule(struct batch *b, struct rule *rl, int verdict, const char *chain,
			     const char *what)
{
	put(rl, e_verdict(verdict, NULL));
	return rule_emit(b, rl, chain, what);
}

/* meta iifkind bridge: a packet that came in from a bridge (a container's, or one we do not
 * know yet), not from the host's uplink or loopback. */
static void put_iif_bridge(struct rule *rl)
{
	static const char bridge[VW_IFNAMSIZ] = "bridge";

	put(rl, e_meta(NFT_META_IIFKIND, NFT_REG_1));
	put(rl, e_cmp(NFT_REG_1, NFT_CMP_EQ, bridge, sizeof(bridge)));
}

/* <iifname|oifname> <pattern>: nft's "x+" compares only the prefix, a full name 16 bytes. */
static void put_ifname(struct rule *rl, uint32_t key, const char *pattern)
{
	char name[VW_IFNAMSIZ] = { 0 };
	size_t len = strlen(pattern);

	(void)vw_strscpy(name, pattern, sizeof(name));
	if (len > 0 && pattern[len - 1] == '+')
		len--;
	else
		len = sizeof(name);
	put(rl, e_meta(key, NFT_REG_1));
	put(rl, e_cmp(NFT_REG_1, NFT_CMP_EQ, name, (uint32_t)len));
}

/*
 * A hook's base chain: Docker's bridges first (a managed one is policed before the ignored
 * patterns are looked at, so IGNORE_BRIDGES=br-+ cannot wave its containers through), then
 * the bridges the settings ignore, then every other bridge: a network created while we
 * were down, or with a custom bridge name, is policed (its sources are unknown, so
 * dropped) until we learn it.
 */
static int emit_hook_chain(struct batch *b, const struct vw_ruleset *rs, const char *chain,
			   const char *map, const char *police)
{
	char what[96];
	struct rule rl;
	int r;

	rl = rule_new();
	put(&rl, e_meta(NFT_META_IIFNAME, NFT_REG_1));
	put(&rl, e_lookup(NFT_REG_1, map, NFT_REG_VERDICT));
	snprintf(what, sizeof(what), "rule %s: iifname vmap @%s", chain, map);
	r = rule_emit(b, &rl, chain, what);
	for (size_t i = 0; r >= 0 && i < rs->n_ignore; i++) {
		rl = rule_new();
		put_ifname(&rl, NFT_META_IIFNAME, rs->ignore[i]);
		snprintf(what, sizeof(what), "rule %s: iifname %s return", chain, rs->ignore[i]);
		r = emit_verdict_rule(b, &rl, NFT_RETURN, chain, what);
	}
	if (r < 0)
		return r;
	rl = rule_new();
	put_iif_bridge(&rl);
	put(&rl, e_verdict(NFT_GOTO, police));
	snprintf(what, sizeof(what), "rule %s: meta iifkind bridge goto %s", chain, police);
	return rule_emit(b, &rl, chain, what);
}

static int emit_counted_drop(struct batch *b, const char *counter, bool audit, const char *chain,
			     const char *what)
{
	struct rule rl = rule_new();

	put(&rl, e_counter(counter));
	if (!audit)
		put(&rl, e_verdict(NF_DROP, NULL));
	return rule_emit(b, &rl, chain, what);
}

/* meta nfproto F; saddr . daddr [. l4proto . th dport] in the registers from REG32_00 on */
static void put_key(struct rule *rl, int f, bool daddr, bool ports)
{
	/* Registers in 32-bit units: an address takes 1 (IPv4) or 4 (IPv6) of them. */
	uint32_t width = f ? 4 : 1, proto_reg = NFT_REG32_00 + 2 * width;

	put_nfproto(rl, f ? AF_INET6 : AF_INET);
	put(rl, e_payload(NFT_PAYLOAD_NETWORK_HEADER, f ? 8 : 12, 4 * width, NFT_REG32_00));
	if (!daddr)
		return;
	put(rl,
	    e_payload(NFT_PAYLOAD_NETWORK_HEADER, f ? 24 : 16, 4 * width, NFT_REG32_00 + width));
	if (!ports)
		return;
	put(rl, e_meta(NFT_META_L4PROTO, proto_reg));
	/* th dport: the same offset in TCP, UDP, SCTP and UDP-Lite headers. */
	put(rl, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, proto_reg + 1));
}

/*
 * A flow the DNS proxy's answer let start keeps going after the learned address expired:
 * its conntrack mark says so (set by emit_learned()). The path still holds: a flow learned
 * for the tunnel goes on only through it. The source must still be a container's (the
 * counter map has it), and revoked flows are deleted from conntrack with their mark.
 */
static int emit_learned_flows(struct batch *b, const struct vw_ruleset *rs, int f)
{
	static const uint32_t zero = 0;
	int r = 0;

	for (int p = VW_PATHS - 1; r >= 0 && p >= 0; p--) {
		bool tunnel = p == VW_PATH_VPN && rs->vpn_iface[0];
		uint32_t bit = vw_ct_learned((enum vw_path)p);
		struct rule rl = rule_new();
		char what[96];

		if (tunnel)
			put_ifname(&rl, NFT_META_OIFNAME, rs->vpn_iface);
		put(&rl, e_ct(NFT_CT_MARK, NFT_REG_1));
		put(&rl, e_and(NFT_REG_1, &bit, sizeof(bit)));
		put(&rl, e_cmp(NFT_REG_1, NFT_CMP_NEQ, &zero, sizeof(zero)));
		put_key(&rl, f, false, false);
		put(&rl, e_objref_map(NFT_REG32_00, map_allowed[f]));
		snprintf(what, sizeof(what), "rule dispatch: %s%sct mark & 0x%x return",
			 tunnel ? "oifname " : "", tunnel ? rs->vpn_iface : "", bit);
		r = emit_verdict_rule(b, &rl, NFT_RETURN, CHAIN_DISPATCH, what);
	}
	return r;
}

/* A destination the DNS proxy learned: counted, the flow marked (see above), let through. */
static int emit_learned(struct batch *b, const struct vw_ruleset *rs, int f)
{
	int r = 0;

	for (int p = VW_PATHS - 1; r >= 0 && p >= 0; p--) {
		bool tunnel = p == VW_PATH_VPN && rs->vpn_iface[0];
		struct rule rl = rule_new();
		char what[96];

		if (tunnel)
			put_ifname(&rl, NFT_META_OIFNAME, rs->vpn_iface);
		put_key(&rl, f, true, true);
		put(&rl, e_lookup(NFT_REG32_00, set_learned[p][f], -1));
		put(&rl, e_objref_map(NFT_REG32_00, map_allowed[f]));
		/* A register the key does not reach, even for IPv6 (REG32_00..09). */
		put(&rl, e_ct(NFT_CT_MARK, NFT_REG32_15));
		put(&rl, e_setbits(NFT_REG32_15, vw_ct_learned((enum vw_path)p)));
		put(&rl, e_ct_set(NFT_CT_MARK, NFT_REG32_15));
		snprintf(what, sizeof(what), "rule dispatch: %s%s... @%s ct mark set return",
			 tunnel ? "oifname " : "", tunnel ? rs->vpn_iface : "", set_learned[p][f]);
		r = emit_verdict_rule(b, &rl, NFT_RETURN, CHAIN_DISPATCH, what);
	}
	return r;
}

/* meta l4proto @proto th dport @port (network order) */
static void put_dport(struct rule *rl, uint8_t proto, uint16_t port)
{
	put(rl, e_meta(NFT_META_L4PROTO, NFT_REG_1));
	put(rl, e_cmp(NFT_REG_1, NFT_CMP_EQ, &proto, 1));
	put(rl, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1));
	put(rl, e_cmp(NFT_REG_1, NFT_CMP_EQ, &port, sizeof(port)));
}

/*
 * The DNS of managed containers goes to the proxy, whatever resolver they ask: UDP and TCP
 * port 53 from a proxied source is redirected to the proxy's port on the address it came
 * in to (a resolver container on the same bridge included: with br_netfilter, bridged
 * packets pass here, by their bridge port). Other ports (DNS over TLS, 853) are ordinary
 * destinations, denied unless allowed. What came from elsewhere with a container's address
 * forged is redirected too, and dropped at the proxy's door (emit_proxy_guard()).
 */
static int emit_dns_chain(struct batch *b, const struct vw_ruleset *rs)
{
	static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_TCP };
	uint16_t dns = htons(DNS_PORT), to = htons(rs->dns_port);
	int r = 0;

	for (int f = 0; r >= 0 && f < 2; f++)
		for (size_t i = 0; r >= 0 && i < ELEMENTSOF(protos); i++) {
			struct rule rl = rule_new();
			char what[96];

			put_key(&rl, f, false, false);
			put(&rl, e_lookup(NFT_REG32_00, set_proxied[f], -1));
			put_dport(&rl, protos[i], dns);
			put(&rl, e_data(NFT_REG_1, &to, sizeof(to)));
			put(&rl, e_redir(NFT_REG_1));
			snprintf(what, sizeof(what), "rule dns: saddr @%s %s dport 53 redirect",
				 set_proxied[f], protos[i] == IPPROTO_UDP ? "udp" : "tcp");
			r = rule_emit(b, &rl, CHAIN_DNS, what);
		}
	return r;
}

/* ct status dnat: redirected (by the dns chain, when it is to the proxy's port). */
static void put_redirected(struct rule *rl)
{
	static const uint32_t zero = 0, dnat = IPS_DST_NAT;

	put(rl, e_ct(NFT_CT_STATUS, NFT_REG_1));
	put(rl, e_and(NFT_REG_1, &dnat, sizeof(dnat)));
	put(rl, e_cmp(NFT_REG_1, NFT_CMP_NEQ, &zero, sizeof(zero)));
}

/* ct status dnat, to the proxy's port: what the dns chain redirected to the proxy. */
static void put_to_proxy(struct rule *rl, const struct vw_ruleset *rs, uint8_t proto)
{
	put_redirected(rl);
	put_dport(rl, proto, htons(rs->dns_port));
}

/*
 * Into the host: what the dns chain redirected to the proxy (UDP and TCP) is let in; UDP
 * only within its container's rate, past which it is counted as the container's drop. All
 * containers' queries share the proxy's one UDP socket: without a limit, one container
 * could fill its buffer and have the kernel drop everybody else's. (TCP has a socket per
 * connection and the proxy's caps per client.)
 */
static int emit_proxy_in(struct batch *b, const struct vw_ruleset *rs)
{
	static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_TCP };
	int r = 0;

	for (int f = 0; r >= 0 && f < 2; f++) {
		struct rule rl = rule_new();
		char what[96];

		/* put_to_proxy() first: its compares use NFT_REG_1, where put_key() puts saddr. */
		put_to_proxy(&rl, rs, IPPROTO_UDP);
		put_key(&rl, f, false, false);
		put(&rl, e_objref_map(NFT_REG32_00, map_dnsrate[f]));
		put(&rl, e_objref_map(NFT_REG32_00, map_dropped[f]));
		snprintf(what, sizeof(what), "rule police_in: udp to the DNS proxy past @%s: drop",
			 map_dnsrate[f]);
		r = emit_verdict_rule(b, &rl, NF_DROP, CHAIN_POLICE_IN, what);
	}
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(protos); i++) {
		struct rule rl = rule_new();

		put_to_proxy(&rl, rs, protos[i]);
		r = emit_verdict_rule(b, &rl, NFT_RETURN, CHAIN_POLICE_IN,
				      protos[i] == IPPROTO_UDP
					      ? "rule police_in: redirected udp to the DNS proxy"
					      : "rule police_in: redirected tcp to the DNS proxy");
	}
	return r;
}

/*
 * The proxy's port takes what the dns chain redirected to it from a bridge and what the
 * host sends itself over loopback, nothing else: the proxy takes a query's source for the
 * container that asked, and a packet from the uplink with a container's address forged
 * (IPv6 has no reverse path filter, IPv4's is often loose), sent to the port or redirected
 * there, would pass for that container's. Bridged traffic redirected with br_netfilter
 * comes in by its bridge too. A chain of its own, ending in a drop: a packet conntrack does
 * not track, whose ct status no rule can read, ends there as well.
 */
static int emit_proxy_guard(struct batch *b, const struct vw_ruleset *rs)
{
	static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_TCP };
	static const uint16_t loopback = ARPHRD_LOOPBACK;
	struct rule rl;
	int r = 0;

	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(protos); i++) {
		rl = rule_new();
		put_dport(&rl, protos[i], htons(rs->dns_port));
		put(&rl, e_verdict(NFT_JUMP, CHAIN_PROXY_GUARD));
		r = rule_emit(b, &rl, CHAIN_INPUT,
			      protos[i] == IPPROTO_UDP
				      ? "rule input: udp to the DNS proxy: jump guard"
				      : "rule input: tcp to the DNS proxy: jump guard");
	}
	if (r < 0)
		return r;
	rl = rule_new();
	put(&rl, e_meta(NFT_META_IIFTYPE, NFT_REG_1));
	put(&rl, e_cmp(NFT_REG_1, NFT_CMP_EQ, &loopback, sizeof(loopback)));
	r = emit_verdict_rule(b, &rl, NFT_RETURN, CHAIN_PROXY_GUARD,
			      "rule proxy_guard: iiftype loopback return");
	if (r < 0)
		return r;
	rl = rule_new();
	put_iif_bridge(&rl);
	put_redirected(&rl);
	r = emit_verdict_rule(b, &rl, NFT_RETURN, CHAIN_PROXY_GUARD,
			      "rule proxy_guard: iifkind bridge ct status dnat return");
	if (r < 0)
		return r;
	rl = rule_new();
	return emit_verdict_rule(b, &rl, NF_DROP, CHAIN_PROXY_GUARD, "rule proxy_guard: drop");
}

/*
 * What a source of family @f may do: exempt sources return; a container's packet to one of
 * its destinations is counted and returns, one reached by any path first, then one only
 * through the VPN (with a VPN interface set, only if the packet leaves by it: sent to the
 * host itself, or routed elsewhere because the tunnel is down, it does not); otherwise it
 * is counted (and logged, within its container's rate) and dropped, or only counted when
 * the container is audited. A source that is no container's falls through all of them
 * (the object maps have no entry for it).
 */
static int emit_dispatch(struct batch *b, const struct vw_ruleset *rs, int f)
{
	struct rule rl;
	char what[128];
	int r;

	rl = rule_new();
	put_key(&rl, f, false, false);
	put(&rl, e_lookup(NFT_REG32_00, set_exempt[f], -1));
	snprintf(what, sizeof(what), "rule dispatch: saddr @%s return", set_exempt[f]);
	r = emit_verdict_rule(b, &rl, NFT_RETURN, CHAIN_DISPATCH, what);
	if (r >= 0 && rs->dns_port)
		r = emit_learned_flows(b, rs, f);
	for (int p = VW_PATHS - 1; r >= 0 && p >= 0; p--)
		for (int k = 0; r >= 0 && k < BOX_KINDS; k++) {
			bool tunnel = p == VW_PATH_VPN && rs->vpn_iface[0];

			rl = rule_new();
			if (tunnel)
				put_ifname(&rl, NFT_META_OIFNAME, rs->vpn_iface);
			put_key(&rl, f, true, k != BOX_HOST);
			put(&rl, e_lookup(NFT_REG32_00, set_boxes[p][k][f], -1));
			put(&rl, e_objref_map(NFT_REG32_00, map_allowed[f]));
			snprintf(what, sizeof(what),
				 "rule dispatch: %s%ssaddr . daddr ... @%s return",
				 tunnel ? "oifname " : "", tunnel ? rs->vpn_iface : "",
				 set_boxes[p][k][f]);
			r = emit_verdict_rule(b, &rl, NFT_RETURN, CHAIN_DISPATCH, what);
		}
	if (r >= 0 && rs->dns_port)
		r = emit_learned(b, rs, f);
	/* Audited: logged within the container's own limit, counted, let through. Then the
	 * others the same way, but dropped. Over the limit, a log rule ends before its log. */
	for (int audit = 1; r >= 0 && audit >= 0; audit--) {
		if (rs->log_group) {
			rl = rule_new();
			put_key(&rl, f, false, false);
			if (audit)
				put(&rl, e_lookup(NFT_REG32_00, set_audit[f], -1));
			put(&rl, e_objref_map(NFT_REG32_00, map_lograte[f]));
			put(&rl, e_log(rs->log_group, audit, ""));
			r = rule_emit(b, &rl, CHAIN_DISPATCH, "rule dispatch: log");
			if (r < 0)
				break;
		}
		rl = rule_new();
		put_key(&rl, f, false, false);
		if (audit)
			put(&rl, e_lookup(NFT_REG32_00, set_audit[f], -1));
		put(&rl, e_objref_map(NFT_REG32_00, map_dropped[f]));
		r = emit_verdict_rule(b, &rl, audit ? NFT_RETURN : NF_DROP, CHAIN_DISPATCH,
				      audit ? "rule dispatch: audited" : "rule dispatch: drop");
	}
	return r;
}

static int emit_dispatch_chain(struct batch *b, const struct vw_ruleset *rs)
{
	int r = 0;

	for (int f = 0; r >= 0 && f < 2; f++)
		r = emit_dispatch(b, rs, f);
	if (r < 0)
		return r;
	/* Unknown source on a bridge: started while we were down, or not yet seen. */
	r = emit_unknown_log(b, rs);
	if (r < 0)
		return r;
	return emit_counted_drop(b, VW_KEY_UNKNOWN, rs->dry_run, CHAIN_DISPATCH,
				 "rule dispatch: unknown source");
}

/*
 * The source must be routable back through the bridge it came from. Checked first: a
 * forged packet must not reach the rules below, least of all create conntrack state (a
 * container sending "X -> itself" via its gateway would otherwise make every later
 * "itself -> X" packet a reply).
 */
static int emit_source_check(struct batch *b, const struct vw_ruleset *rs, const char *chain)
{
	static const uint32_t zero = 0;
	struct rule rl = rule_new();
	char what[96];

	put(&rl, e_fib_iif(true, NFT_REG_1));
	put(&rl, e_cmp(NFT_REG_1, NFT_CMP_EQ, &zero, sizeof(zero)));
	put(&rl, e_counter(VW_KEY_SPOOFED));
	if (!rs->dry_run)
		put(&rl, e_verdict(NF_DROP, NULL));
	snprintf(what, sizeof(what), "rule %s: fib saddr . iif oif missing drop", chain);
	return rule_emit(b, &rl, chain, what);
}

static int emit_goto_dispatch(struct batch *b, const char *chain)
{
	struct rule rl = rule_new();
	char what[64];

	put(&rl, e_verdict(NFT_GOTO, CHAIN_DISPATCH));
	snprintf(what, sizeof(what), "rule %s: goto dispatch", chain);
	return rule_emit(b, &rl, chain, what);
}

/* Routed traffic from a bridge. */
static int emit_police(struct batch *b, const struct vw_ruleset *rs)
{
	static const uint8_t dir_reply = IP_CT_DIR_REPLY;
	static const uint32_t zero = 0, dnat = IPS_DST_NAT;
	struct rule rl;
	int r;

	r = emit_source_check(b, rs, CHAIN_POLICE);
	if (r < 0)
		return r;

	/*
	 * Replies of connections someone opened to a published port (DNAT'd by Docker) are not
	 * egress. Nothing else in the reply direction is exempt: a container's own flows are
	 * checked packet by packet, so a tightened policy (or a tunnel gone) cuts them at once.
	 */
	rl = rule_new();
	put(&rl, e_ct(NFT_CT_DIRECTION, NFT_REG_1));
	put(&rl, e_cmp(NFT_REG_1, NFT_CMP_EQ, &dir_reply, sizeof(dir_reply)));
	put(&rl, e_ct(NFT_CT_STATUS, NFT_REG_1));
	put(&rl, e_and(NFT_REG_1, &dnat, sizeof(dnat)));
	put(&rl, e_cmp(NFT_REG_1, NFT_CMP_NEQ, &zero, sizeof(zero)));
	r = emit_verdict_rule(b, &rl, NFT_RETURN, CHAIN_POLICE,
			      "rule police: ct direction reply ct status dnat return");
	if (r < 0)
		return r;

	/* Same bridge in and out (container to container on one network), whatever bridge. */
	rl = rule_new();
	put(&rl, e_fib_iif(false, NFT_REG_1));
	put(&rl, e_cmp(NFT_REG_1, NFT_CMP_NEQ, &zero, sizeof(zero)));
	r = emit_verdict_rule(b, &rl, NFT_RETURN, CHAIN_POLICE,
			      "rule police: fib daddr . iif oif exists return");
	if (r < 0)
		return r;
	return emit_goto_dispatch(b, CHAIN_POLICE);
}

/*
 * Traffic from a bridge to the host itself: a resolver or a proxy on the host is a way out
 * like any other, so the same destinations apply (with a VPN, only those reached by any
 * path: nothing sent to the host goes through the tunnel). Let through: neighbour discovery
 * and multicast listener messages, without which IPv6 stops working on the bridge (before
 * the source check: duplicate address detection comes from "::"), and the replies of
 * connections the host opened.
 */
static int emit_police_in(struct batch *b, const struct vw_ruleset *rs)
{
	/*
	 * What a host on the link must be told or answered, by ICMPv6 type: MLD query, report,
	 * done and router solicitation (130-133), neighbour solicitation and advertisement
	 * (135-136), MLDv2 report (143). Not router advertisements (134) nor redirects (137):
	 * a container has no business routing the host.
	 */
	static const struct {
		uint8_t lo, hi;
	} types[] = { { 130, 133 }, { 135, 136 }, { 143, 143 } };
	static const uint8_t dir_reply = IP_CT_DIR_REPLY, icmpv6 = IPPROTO_ICMPV6;
	struct rule rl;
	char what[64];
	int r;

	for (size_t k = 0; k < ELEMENTSOF(types); k++) {
		rl = rule_new();
		put_nfproto(&rl, AF_INET6);
		put(&rl, e_meta(NFT_META_L4PROTO, NFT_REG_1));
		put(&rl, e_cmp(NFT_REG_1, NFT_CMP_EQ, &icmpv6, sizeof(icmpv6)));
		put(&rl, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1));
		if (types[k].lo == types[k].hi)
			put(&rl, e_cmp(NFT_REG_1, NFT_CMP_EQ, &types[k].lo, 1));
		else
			put(&rl, e_range(NFT_REG_1, &types[k].lo, &types[k].hi, 1));
		snprintf(what, sizeof(what), "rule police_in: icmpv6 type %u-%u return",
			 types[k].lo, types[k].hi);
		r = emit_verdict_rule(b, &rl, NFT_RETURN, CHAIN_POLICE_IN, what);
		if (r < 0)
			return r;
	}
	r = emit_source_check(b, rs, CHAIN_POLICE_IN);
	if (r < 0)
		return r;
	rl = rule_new();
	put(&rl, e_ct(NFT_CT_DIRECTION, NFT_REG_1));
	put(&rl, e_cmp(NFT_REG_1, NFT_CMP_EQ, &dir_reply, sizeof(dir_reply)));
	r = emit_verdict_rule(b, &rl, NFT_RETURN, CHAIN_POLICE_IN,
			      "rule police_in: ct direction reply return");
	if (r >= 0 && rs->dns_port)
		r = emit_proxy_in(b, rs);
	if (r < 0)
		return r;
	return emit_goto_dispatch(b, CHAIN_POLICE_IN);
}

/* nft's type of a concatenation: each field's type in TYPE_BITS, the first field highest. */
#define CONCAT2(a, b) ((a) << TYPE_BITS | (b))
#define CONCAT4(a, b, c, d) \
	((uint32_t)(a) << 3 * TYPE_BITS | (b) << 2 * TYPE_BITS | (c) << TYPE_BITS | (d))

static int emit_base(struct batch *b, const struct vw_ruleset *rs)
{
	static const uint8_t range_fields[2][5] = { { 4, 4, 1, 2, 0 }, { 16, 16, 1, 2, 0 } };
	struct set_spec sets[2 * 15 + 2] = {
		{ .name = MAP_BRIDGES,
		  .key_type = TYPE_IFNAME,
		  .key_len = VW_IFNAMSIZ,
		  .flags = NFT_SET_MAP },
		{ .name = MAP_BRIDGES_IN,
		  .key_type = TYPE_IFNAME,
		  .key_len = VW_IFNAMSIZ,
		  .flags = NFT_SET_MAP },
	};
	size_t n = 2;
	int r;

	for (int f = 0; f < 2; f++) {
		uint32_t t = f ? TYPE_IPV6 : TYPE_IPV4, alen = f ? 16 : 4;
		uint32_t dst = CONCAT4(t, t, TYPE_INET_PROTO, TYPE_INET_SERVICE);

		sets[n++] =
			(struct set_spec){ .name = set_exempt[f], .key_type = t, .key_len = alen };
		for (int p = 0; p < VW_PATHS; p++) {
			sets[n++] = (struct set_spec){ .name = set_boxes[p][BOX_EXACT][f],
						       .key_type = dst,
						       .key_len = 2 * alen + 8 };
			sets[n++] = (struct set_spec){ .name = set_boxes[p][BOX_HOST][f],
						       .key_type = CONCAT2(t, t),
						       .key_len = 2 * alen };
			sets[n++] = (struct set_spec){ .name = set_boxes[p][BOX_RANGE][f],
						       .key_type = dst,
						       .key_len = 2 * alen + 8,
						       .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT,
						       .fields = range_fields[f] };
		}
		for (int p = 0; rs->dns_port && p < VW_PATHS; p++)
			sets[n++] = (struct set_spec){ .name = set_learned[p][f],
						       .key_type = dst,
						       .key_len = 2 * alen + 8,
						       .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT |
								NFT_SET_TIMEOUT,
						       .fields = range_fields[f] };
		if (rs->dns_port)
			sets[n++] = (struct set_spec){ .name = set_proxied[f],
						       .key_type = t,
						       .key_len = alen };
		sets[n++] =
			(struct set_spec){ .name = set_audit[f], .key_type = t, .key_len = alen };
		sets[n++] = (struct set_spec){ .name = map_allowed[f],
					       .key_type = t,
					       .key_len = alen,
					       .flags = NFT_SET_OBJECT,
					       .obj_type = NFT_OBJECT_COUNTER };
		sets[n++] = (struct set_spec){ .name = map_dropped[f],
					       .key_type = t,
					       .key_len = alen,
					       .flags = NFT_SET_OBJECT,
					       .obj_type = NFT_OBJECT_COUNTER };
		sets[n++] = (struct set_spec){ .name = map_lograte[f],
					       .key_type = t,
					       .key_len = alen,
					       .flags = NFT_SET_OBJECT,
					       .obj_type = NFT_OBJECT_LIMIT };
		sets[n++] = (struct set_spec){ .name = map_dnsrate[f],
					       .key_type = t,
					       .key_len = alen,
					       .flags = NFT_SET_OBJECT,
					       .obj_type = NFT_OBJECT_LIMIT };
	}

	/* Creating before deleting makes the delete valid whether or not the table existed. */
	r = emit_table(b, NFT_MSG_NEWTABLE);
	if (r >= 0)
		r = emit_table(b, NFT_MSG_DELTABLE);
	if (r >= 0)
		r = emit_table(b, NFT_MSG_NEWTABLE);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = emit_set(b, NFT_MSG_NEWSET, &sets[i]);
	if (r >= 0)
		r = emit_counter(b, NFT_MSG_NEWOBJ, VW_KEY_UNKNOWN, VW_KEY_UNKNOWN);
	if (r >= 0)
		r = emit_counter(b, NFT_MSG_NEWOBJ, VW_KEY_SPOOFED, VW_KEY_SPOOFED);
	if (r >= 0)
		r = emit_chain(b, NFT_MSG_NEWCHAIN, CHAIN_DISPATCH, -1);
	if (r >= 0)
		r = emit_chain(b, NFT_MSG_NEWCHAIN, CHAIN_POLICE, -1);
	if (r >= 0)
		r = emit_chain(b, NFT_MSG_NEWCHAIN, CHAIN_POLICE_IN, -1);
	if (r >= 0 && rs->dns_port)
		r = emit_chain(b, NFT_MSG_NEWCHAIN, CHAIN_PROXY_GUARD, -1);
	if (r >= 0)
		r = emit_chain(b, NFT_MSG_NEWCHAIN, CHAIN_FORWARD, NF_INET_FORWARD);
	if (r >= 0)
		r = emit_chain(b, NFT_MSG_NEWCHAIN, CHAIN_INPUT, NF_INET_LOCAL_IN);
	if (r >= 0)
		r = emit_dispatch_chain(b, rs);
	if (r >= 0)
		r = emit_police(b, rs);
	if (r >= 0)
		r = emit_police_in(b, rs);
	if (r >= 0)
		r = emit_hook_chain(b, rs, CHAIN_FORWARD, MAP_BRIDGES, CHAIN_POLICE);
	if (r >= 0 && rs->dns_port)
		r = emit_proxy_guard(b, rs);
	if (r >= 0)
		r = emit_hook_chain(b, rs, CHAIN_INPUT, MAP_BRIDGES_IN, CHAIN_POLICE_IN);
	if (r >= 0 && rs->dns_port)
		r = emit_chain(b, NFT_MSG_NEWCHAIN, CHAIN_DNS, NF_INET_PRE_ROUTING);
	if (r >= 0 && rs->dns_port)
		r = emit_dns_chain(b, rs);
	return r;
}

/* Boxes @v of family @f and path @p, for each source of that family in @srcs, in the sets
 * they go in. */
static int emit_boxes(struct batch *b, uint16_t type, int p, int f, const struct vw_box *v,
		      size_t n, const struct vw_rs_source *srcs, size_t n_srcs)
{
	uint8_t family = f ? AF_INET6 : AF_INET;
	int r = 0;

	/* One pass per set keeps each message to one set. */
	for (int k = 0; r >= 0 && k < BOX_KINDS; k++) {
		struct elems el = { .b = b, .type = type, .set = set_boxes[p][k][f] };

		for (size_t s = 0; r >= 0 && s < n_srcs; s++)
			for (size_t i = 0; r >= 0 && srcs[s].family == family && i < n; i++)
				if (box_kind(family, &v[i]) == (enum box_kind)k)
					r = elem_box(&el, family, srcs[s].addr, (enum box_kind)k,
						     &v[i], 0);
		r = elems_finish(&el, r);
	}
	return r;
}

/* The element @addr in set @set, mapped to object @obj when @set is an object map. */
static int addr_elem(struct batch *b, uint16_t type, const char *set, uint8_t family,
		     const uint8_t *addr, const char *obj)
{
	struct elems el = { .b = b, .type = type, .set = set };
	struct nftnl_set_elem *e;
	int r;

	e = elem_new(&el, &r);
	if (e) {
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, addr, (uint32_t)vw_addr_len(family));
		if (obj && type == NFT_MSG_NEWSETELEM)
			nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_OBJREF, obj);
	}
	return elems_finish(&el, r);
}

/* A container's own objects: its counters, its log limit with an NFLOG group, and its DNS
 * limit with the DNS proxy. */
static int container_objects(struct batch *b, uint16_t type, const struct vw_ruleset *rs,
			     const struct vw_rs_container *c)
{
	char name[64];
	int r = 0;

	for (int drop = 0; r >= 0 && drop < 2; drop++) {
		counter_name(name, sizeof(name), c, drop);
		r = emit_counter(b, type, name, c->key);
	}
	if (r >= 0 && rs->log_group) {
		limit_name(name, sizeof(name), c);
		r = emit_limit(b, type, name, rs->log_rate, false);
	}
	if (r >= 0 && rs->dns_port) {
		dns_limit_name(name, sizeof(name), c);
		r = emit_limit(b, type, name, rs->dns_rate, true);
	}
	return r;
}

/*
 * A source address: exempt, or dispatched to container @c, whose destinations, counters,
 * log limit and audit mark then apply to it (and are taken back from it on deletion).
 */
static int source_op(struct batch *b, uint16_t type, const struct vw_ruleset *rs,
		     const struct vw_rs_source *s, const struct vw_rs_container *c)
{
	int f = vw_family_index(s->family);
	char a[64], d[64], l[64], q[64];
	int r;

	if (!s->key[0] || !c)
		return addr_elem(b, type, set_exempt[f], s->family, s->addr, NULL);
	counter_name(a, sizeof(a), c, false);
	counter_name(d, sizeof(d), c, true);
	limit_name(l, sizeof(l), c);
	dns_limit_name(q, sizeof(q), c);
	r = addr_elem(b, type, map_allowed[f], s->family, s->addr, a);
	if (r >= 0)
		r = addr_elem(b, type, map_dropped[f], s->family, s->addr, d);
	if (r >= 0 && rs->log_group)
		r = addr_elem(b, type, map_lograte[f], s->family, s->addr, l);
	if (r >= 0 && c->audit)
		r = addr_elem(b, type, set_audit[f], s->family, s->addr, NULL);
	if (r >= 0 && rs->dns_port)
		r = addr_elem(b, type, set_proxied[f], s->family, s->addr, NULL);
	/* An audited container is never dropped, not even its DNS flood. */
	if (r >= 0 && rs->dns_port && !c->audit)
		r = addr_elem(b, type, map_dnsrate[f], s->family, s->addr, q);
	for (int p = 0; r >= 0 && p < VW_PATHS; p++) {
		const struct vw_boxset *bs = &c->dst[vw_boxset_index(p, s->family)];

		r = emit_boxes(b, type, p, f, bs->v, bs->n, s, 1);
	}
	return r;
}

/* A Docker bridge in both hooks' maps: managed, it goes to that hook's police chain. */
static int bridge_op(struct batch *b, uint16_t type, const struct vw_rs_bridge *br)
{
	static const char *const maps[2][2] = { { MAP_BRIDGES, CHAIN_POLICE },
						{ MAP_BRIDGES_IN, CHAIN_POLICE_IN } };
	char key[VW_IFNAMSIZ] = { 0 };
	int r = 0;

	(void)vw_strscpy(key, br->name, sizeof(key));
	for (int m = 0; r >= 0 && m < 2; m++) {
		struct elems el = { .b = b, .type = type, .set = maps[m][0] };
		struct nftnl_set_elem *e = elem_new(&el, &r);

		if (e) {
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, sizeof(key));
			if (type == NFT_MSG_NEWSETELEM && br->managed) {
				nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT,
						       (uint32_t)NFT_GOTO);
				nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, maps[m][1]);
			} else if (type == NFT_MSG_NEWSETELEM) {
				nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT,
						       (uint32_t)NFT_RETURN);
			}
		}
		r = elems_finish(&el, r);
	}
	return r;
}

static int emit_op(struct batch *b, const struct vw_op *op)
{
	switch (op->type) {
	case VW_OP_RESET:
		return emit_base(b, op->rs);
	case VW_OP_CONTAINER_DEL:
		return container_objects(b, NFT_MSG_DELOBJ, op->rs, op->c);
	case VW_OP_CONTAINER_ADD:
		return container_objects(b, NFT_MSG_NEWOBJ, op->rs, op->c);
	case VW_OP_BOXES_DEL:
	case VW_OP_BOXES_ADD:
		return emit_boxes(
			b, op->type == VW_OP_BOXES_ADD ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
			op->path, vw_family_index(op->family), op->boxes, op->n_boxes, op->srcs,
			op->n_srcs);
	case VW_OP_SOURCE_DEL:
		return source_op(b, NFT_MSG_DELSETELEM, op->rs, op->src, op->c);
	case VW_OP_SOURCE_ADD:
		return source_op(b, NFT_MSG_NEWSETELEM, op->rs, op->src, op->c);
	case VW_OP_BRIDGE_DEL:
		return bridge_op(b, NFT_MSG_DELSETELEM, op->bridge);
	case VW_OP_BRIDGE_ADD:
		return bridge_op(b, NFT_MSG_NEWSETELEM, op->bridge);
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

int vw_nft_apply(struct vw_nft *n, const struct vw_plan *plan)
{
	int r;

	if (plan->n == 0)
		return 0;
	r = run_batch(n, build_plan, plan);
	if (r < 0)
		return r;
	/* Every plan changes something, so the commit bumped the generation exactly once. */
	vw_genwatch_own_commit(&n->gens);
	return 0;
}

struct learn_args {
	const struct vw_learned_elem *v[2]; /* deletions, additions */
	size_t n[2];
};

static int build_learn(struct batch *b, const void *arg)
{
	const struct learn_args *a = arg;
	int r = 0;

	/* One message per set and kind: deletions first, so a re-added element is new. */
	for (int add = 0; r >= 0 && add < 2; add++)
		for (int p = 0; r >= 0 && p < VW_PATHS; p++)
			for (int f = 0; r >= 0 && f < 2; f++) {
				struct elems el = { .b = b,
						    .type = add ? NFT_MSG_NEWSETELEM
								: NFT_MSG_DESTROYSETELEM,
						    .set = set_learned[p][f] };

				for (size_t i = 0; r >= 0 && i < a->n[add]; i++) {
					const struct vw_learned_elem *x = &a->v[add][i];

					if (x->path == p && vw_family_index(x->family) == f)
						r = elem_box(&el, x->family, x->saddr, BOX_RANGE,
							     &x->box, add ? x->timeout_ms : 0);
				}
				r = elems_finish(&el, r);
			}
	return r;
}

int vw_nft_learn(struct vw_nft *n, const struct vw_learned_elem *del, size_t n_del,
		 const struct vw_learned_elem *add, size_t n_add)
{
	struct learn_args a = { .v = { del, add }, .n = { n_del, n_add } };
	int r;

	if (!n_del && !n_add)
		return 0;
	r = run_batch(n, build_learn, &a);
	if (r < 0)
		return r;
	vw_genwatch_own_commit(&n->gens);
	return 0;
}

int vw_nft_render(const char *table, const char *tag, const struct vw_plan *plan, void **ret_buf,
		  size_t *ret_len)
{
	struct vw_nft n = { .seq = 1 };
	_cleanup_free_ struct iovec *iov = NULL;
	struct vw_buf out = { 0 };
	struct batch b;
	int r, iovlen;

	(void)vw_strscpy(n.table, table, sizeof(n.table));
	(void)vw_strscpy(n.tag, tag, sizeof(n.tag));
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

struct table_query {
	bool found;
	bool dormant;
	char *tag;
	size_t size;
};

static int comment_cb(const struct nftnl_udata *attr, void *data)
{
	struct table_query *q = data;
	const char *v = nftnl_udata_get(attr);
	uint8_t len = nftnl_udata_len(attr);

	if (nftnl_udata_type(attr) == NFTNL_UDATA_TABLE_COMMENT && len > 0 && v[len - 1] == '\0')
		(void)vw_strscpy(q->tag, v, q->size);
	return 0;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct table_query *q = data;
	struct nftnl_table *t = nftnl_table_alloc();
	const void *ud;
	uint32_t len = 0;

	q->found = true;
	if (t && nftnl_table_nlmsg_parse(nlh, t) == 0 && nftnl_table_is_set(t, NFTNL_TABLE_FLAGS))
		q->dormant = nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS) & NFT_TABLE_F_DORMANT;
	if (t && nftnl_table_is_set(t, NFTNL_TABLE_USERDATA)) {
		ud = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &len);
		(void)nftnl_udata_parse(ud, len, comment_cb, q);
	}
	nftnl_table_free(t);
	return MNL_CB_OK;
}

int vw_nft_table_tag(struct vw_nft *n, char *buf, size_t size, bool *ret_dormant)
{
	char req[VW_NL_BUFSZ];
	struct nftnl_table *t = nftnl_table_alloc();
	struct table_query q = { .tag = buf, .size = size };
	struct nlmsghdr *nlh;
	int r;

	if (!t)
		return -ENOMEM;
	if (size > 0)
		buf[0] = '\0';
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, n->table);
	nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, n->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	r = query(n, nlh, table_cb, &q);
	if (r < 0)
		return r;
	if (!q.found)
		return -ENOENT;
	*ret_dormant = q.dormant;
	return 0;
}

struct counters {
	struct vw_nft_counter *v;
	size_t n;
	size_t cap;
	int err;
};

static int key_cb(const struct nftnl_udata *attr, void *data)
{
	struct vw_nft_counter *c = data;
	const char *v = nftnl_udata_get(attr);
	uint8_t len = nftnl_udata_len(attr);

	if (nftnl_udata_type(attr) == NFTNL_UDATA_OBJ_COMMENT && len > 0 && v[len - 1] == '\0')
		(void)vw_strscpy(c->key, v, sizeof(c->key));
	return 0;
}

static int counter_cb(const struct nlmsghdr *nlh, void *data)
{
	struct counters *cs = data;
	struct nftnl_obj *o = nftnl_obj_alloc();
	struct vw_nft_counter *c;
	const void *ud;
	uint32_t len = 0;

	if (!o) {
		cs->err = -ENOMEM;
		return MNL_CB_OK;
	}
	if (nftnl_obj_nlmsg_parse(nlh, o) == 0 &&
	    nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE) == NFT_OBJECT_COUNTER &&
	    nftnl_obj_is_set(o, NFTNL_OBJ_USERDATA) &&
	    vw_grow((void **)&cs->v, &cs->cap, cs->n + 1, sizeof(*cs->v), 1u << 20) == 0) {
		const char *name = nftnl_obj_get_str(o, NFTNL_OBJ_NAME);

		c = &cs->v[cs->n];
		*c = (struct vw_nft_counter){ .packets = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS),
					      .bytes = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES) };
		ud = nftnl_obj_get_data(o, NFTNL_OBJ_USERDATA, &len);
		(void)nftnl_udata_parse(ud, len, key_cb, c);
		c->drop = counter_is_drop(name);
		if (c->key[0])
			cs->n++;
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

static int gen_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type == NFTA_GEN_ID && mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int table_attr_cb(const struct nlattr *attr, void *data)
{
	/* Attribute 1 is the table name in every nf_tables object message. */
	if (mnl_attr_get_type(attr) == 1 && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		*(const char **)data = mnl_attr_get_str(attr);
	return MNL_CB_OK;
}

static const char *change_name(unsigned type)
{
	switch (type) {
	case NFT_MSG_NEWTABLE:
		return "table changed (e.g. made dormant)";
	case NFT_MSG_DELTABLE:
		return "table deleted";
	case NFT_MSG_NEWCHAIN:
	case NFT_MSG_DELCHAIN:
		return "chain changed";
	case NFT_MSG_NEWRULE:
	case NFT_MSG_DELRULE:
		return "rule changed";
	case NFT_MSG_NEWSET:
	case NFT_MSG_DELSET:
		return "set changed";
	case NFT_MSG_NEWSETELEM:
	case NFT_MSG_DELSETELEM:
		return "element changed";
	case NFT_MSG_NEWOBJ:
	case NFT_MSG_DELOBJ:
		return "object changed";
	default:
		/* Any other notification naming our table is a change too (e.g. a reset). */
		return "table touched";
	}
}

void vw_nft_parse_notifications(const void *buf, size_t len, const char *table,
				uint32_t self_portid, struct vw_nft_notes *ret)
{
	const size_t hdrlen = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));
	const uint8_t *msg = buf;

	*ret = (struct vw_nft_notes){ 0 };
	/*
	 * Not mnl_nlmsg_ok()/next() nor mnl_attr_parse(): libmnl compares lengths as signed
	 * ints (a length near 2^32 would never advance) and ends attributes at the message's
	 * aligned length, past the end of a last message whose length is not a multiple of 4.
	 */
	while (len >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)msg;
		size_t size = nlh->nlmsg_len;
		unsigned type = nlh->nlmsg_type & 0xff;
		const struct nfgenmsg *g = (const struct nfgenmsg *)(msg + MNL_NLMSG_HDRLEN);
		const void *attrs = msg + hdrlen;
		size_t alen = size - hdrlen;
		const char *t = NULL;

		if (size < sizeof(*nlh) || size > len)
			break;
		if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES || size < hdrlen ||
		    alen > INT32_MAX) {
			/* not ours to read */
		} else if (type == NFT_MSG_NEWGEN) {
			const struct nlattr *tb[NFTA_GEN_MAX + 1] = { 0 };

			if (mnl_attr_parse_payload(attrs, alen, gen_attr_cb, tb) >= 0 &&
			    tb[NFTA_GEN_ID]) {
				if (ret->n_gens >= ELEMENTSOF(ret->gens)) {
					ret->gens_truncated = true;
				} else {
					ret->gens[ret->n_gens] =
						ntohl(mnl_attr_get_u32(tb[NFTA_GEN_ID]));
					/*
					 * By the committing socket, like the object messages: the
					 * PID attribute is the global one, which is not ours to
					 * compare with inside a PID namespace.
					 */
					ret->gen_own[ret->n_gens++] = nlh->nlmsg_pid == self_portid;
				}
			}
		} else if (nlh->nlmsg_pid != self_portid && g->nfgen_family == NFPROTO_INET &&
			   !ret->changed) {
			(void)mnl_attr_parse_payload(attrs, alen, table_attr_cb, &t);
			if (t && strcmp(t, table) == 0)
				ret->changed = change_name(type);
		}
		size = MNL_ALIGN(size);
		if (size >= len)
			break;
		msg += size;
		len -= size;
	}
}

/* The socket overflowed: which commits did we miss, and were they all ours? */
static void notifications_lost(struct monitor *m)
{
	char buf[VW_NL_BUFSZ];
	uint32_t now;

	while (recv(m->io.fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	if (genid(m->n, &now) < 0 || vw_genwatch_lost(&m->n->gens, now))
		m->cb(m->ud, "notifications lost while another process committed");
}

static void on_monitor(struct vw_io *io, uint32_t events)
{
	struct monitor *m = (struct monitor *)io;
	uint32_t self = mnl_socket_get_portid(m->n->nl);
	char buf[VW_NL_BUFSZ * 4];

	for (int i = 0; i < 64; i++) {
		ssize_t len = recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT);
		struct vw_nft_notes notes;
		bool skipped = false;

		if (len < 0) {
			if (errno == ENOBUFS)
				notifications_lost(m);
			return;
		}
		vw_nft_parse_notifications(buf, (size_t)len, m->n->table, self, &notes);
		for (size_t k = 0; k < notes.n_gens; k++)
			skipped |= vw_genwatch_newgen(&m->n->gens, notes.gens[k], notes.gen_own[k]);
		if (notes.changed)
			m->cb(m->ud, notes.changed);
		else if (skipped || notes.gens_truncated)
			m->cb(m->ud, "ruleset generations skipped");
	}
}

int vw_nft_monitor(struct vw_nft *n, struct vw_loop *loop, vw_nft_change_fn cb, void *ud)
{
	struct monitor *m = &n->mon;
	int sz = 16 * 1024 * 1024, r;
	uint32_t gen;

	m->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!m->nl)
		return -errno;
	if (setsockopt(mnl_socket_get_fd(m->nl), SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(mnl_socket_get_fd(m->nl), SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (mnl_socket_bind(m->nl, 1u << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto fail;
	}
	/* Subscribed first, then the generation: nothing can fall between the two. */
	r = genid(n, &gen);
	if (r < 0)
		goto fail;
	vw_genwatch_init(&n->gens, gen);
	m->n = n;
	m->loop = loop;
	m->cb = cb;
	m->ud = ud;
	m->io.fd = mnl_socket_get_fd(m->nl);
	m->io.cb = on_monitor;
	return vw_loop_watch(loop, &m->io, EPOLLIN);
fail:
	(void)mnl_socket_close(m->nl);
	m->nl = NULL;
	return r;
}
