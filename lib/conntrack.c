// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ctnetlink: one socket, used for a dump of the table and then for the deletions the dump
 * called for (a socket cannot take requests while it dumps). Each deletion names the entry
 * by its original tuple, zone and id, copied from the dump, so an entry that ended and was
 * replaced by another with the same tuple is not hit.
 */
#include "vpnwall/conntrack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "vpnwall/log.h"
#include "vpnwall/netlink.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/util.h"

#define VW_LOG_MODULE "conntrack"

#define DELETIONS_MAX 65536 /* per sweep; the rest waits for the next one */

struct vw_conntrack {
	struct mnl_socket *nl;
	uint32_t seq;
};

/* An entry of the dump: its flow, and what names it for a deletion. */
struct entry {
	struct vw_flow flow;
	uint8_t family;
	const struct nlattr *orig; /* CTA_TUPLE_ORIG, nested */
	const struct nlattr *zone; /* CTA_ZONE, or NULL */
	const struct nlattr *id; /* CTA_ID, or NULL */
};

static bool has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP ||
	       proto == IPPROTO_UDPLITE || proto == IPPROTO_DCCP;
}

/* The addresses of a CTA_TUPLE_IP nest into @src, @dst; false when incomplete. */
static bool parse_ip(const struct nlattr *nest, uint8_t family, uint8_t *src, uint8_t *dst)
{
	const struct nlattr *tb[CTA_IP_MAX + 1];
	int src_type = family == AF_INET ? CTA_IP_V4_SRC : CTA_IP_V6_SRC;
	int dst_type = family == AF_INET ? CTA_IP_V4_DST : CTA_IP_V6_DST;
	size_t len = vw_addr_len(family);

	if (vw_nl_nest(nest, tb, CTA_IP_MAX) < 0 || !tb[src_type] || !tb[dst_type] ||
	    mnl_attr_get_payload_len(tb[src_type]) != len ||
	    mnl_attr_get_payload_len(tb[dst_type]) != len)
		return false;
	memcpy(src, mnl_attr_get_payload(tb[src_type]), len);
	memcpy(dst, mnl_attr_get_payload(tb[dst_type]), len);
	return true;
}

static bool parse_proto(const struct nlattr *nest, struct vw_flow *ret)
{
	const struct nlattr *tb[CTA_PROTO_MAX + 1];

	if (vw_nl_nest(nest, tb, CTA_PROTO_MAX) < 0 || !tb[CTA_PROTO_NUM] ||
	    mnl_attr_validate(tb[CTA_PROTO_NUM], MNL_TYPE_U8) < 0)
		return false;
	ret->proto = mnl_attr_get_u8(tb[CTA_PROTO_NUM]);
	ret->has_ports = has_ports(ret->proto);
	if (!ret->has_ports)
		return true;
	if (!tb[CTA_PROTO_DST_PORT] || mnl_attr_validate(tb[CTA_PROTO_DST_PORT], MNL_TYPE_U16) < 0)
		return false;
	ret->dport = ntohs(mnl_attr_get_u16(tb[CTA_PROTO_DST_PORT]));
	return true;
}

/*
 * One message of a dump: an entry of an IP family with both tuples, or false. Of the reply
 * tuple only its source is kept (its destination is the original's source, NAT aside).
 */
static bool parse_entry(const struct nlmsghdr *nlh, struct entry *ret)
{
	const struct nlattr *tb[CTA_MAX + 1], *tuple[CTA_TUPLE_MAX + 1];
	const struct nlattr *reply[CTA_TUPLE_MAX + 1];
	const struct nfgenmsg *g;
	struct entry e = { 0 };
	uint8_t unused[16];

	if (nlh->nlmsg_type != ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW) ||
	    vw_nl_attrs(nlh, sizeof(*g), tb, CTA_MAX) < 0)
		return false;
	g = mnl_nlmsg_get_payload(nlh);
	if ((g->nfgen_family != AF_INET && g->nfgen_family != AF_INET6) || !tb[CTA_TUPLE_ORIG] ||
	    vw_nl_nest(tb[CTA_TUPLE_ORIG], tuple, CTA_TUPLE_MAX) < 0 || !tuple[CTA_TUPLE_IP] ||
	    !tuple[CTA_TUPLE_PROTO] || !tb[CTA_TUPLE_REPLY] ||
	    vw_nl_nest(tb[CTA_TUPLE_REPLY], reply, CTA_TUPLE_MAX) < 0 || !reply[CTA_TUPLE_IP])
		return false;
	e.flow.family = g->nfgen_family;
	if (!parse_ip(tuple[CTA_TUPLE_IP], e.flow.family, e.flow.saddr, e.flow.daddr) ||
	    !parse_ip(reply[CTA_TUPLE_IP], e.flow.family, e.flow.raddr, unused) ||
	    !parse_proto(tuple[CTA_TUPLE_PROTO], &e.flow))
		return false;
	if (tb[CTA_MARK] && mnl_attr_validate(tb[CTA_MARK], MNL_TYPE_U32) >= 0)
		e.flow.mark = ntohl(mnl_attr_get_u32(tb[CTA_MARK]));
	e.orig = tb[CTA_TUPLE_ORIG];
	if (tb[CTA_ZONE] && mnl_attr_validate(tb[CTA_ZONE], MNL_TYPE_U16) >= 0)
		e.zone = tb[CTA_ZONE];
	if (tb[CTA_ID] && mnl_attr_validate(tb[CTA_ID], MNL_TYPE_U32) >= 0)
		e.id = tb[CTA_ID];
	*ret = e;
	return true;
}

struct parse {
	vw_conntrack_fn cb;
	void *ud;
	size_t n;
};

static void on_parse(void *ud, const struct nlmsghdr *nlh)
{
	struct parse *x = ud;
	struct entry e;

	if (parse_entry(nlh, &e)) {
		x->n++;
		(void)x->cb(x->ud, &e.flow);
	}
}

size_t vw_conntrack_parse(const void *buf, size_t len, vw_conntrack_fn cb, void *ud)
{
	struct parse x = { .cb = cb, .ud = ud };

	vw_nl_messages(buf, len, on_parse, &x);
	return x.n;
}

/* --- the sweep ------------------------------------------------------------------------------ */

/* A fresh socket: after an error, the old one may hold the rest of a dump or acks. */
static void reopen(struct vw_conntrack *ct)
{
	struct mnl_socket *nl = vw_nl_open(NETLINK_NETFILTER, 0);

	if (!nl)
		return; /* keep the old one: the next sweep fails and retries */
	(void)mnl_socket_close(ct->nl);
	ct->nl = nl;
}

struct sweep {
	vw_conntrack_fn doomed;
	void *ud;
	uint8_t *dels; /* the deletion requests, back to back */
	size_t len;
	size_t cap;
	size_t n;
	int err;
};

/* Queue the deletion of the entry of @nlh when the caller condemns it. */
static void on_entry(void *ud, const struct nlmsghdr *nlh)
{
	struct sweep *s = ud;
	_Alignas(struct nlmsghdr) char buf[512];
	struct nlmsghdr *del;
	struct nfgenmsg *g;
	struct entry e;

	if (s->err || s->n >= DELETIONS_MAX || !parse_entry(nlh, &e) || !s->doomed(s->ud, &e.flow))
		return;
	if (mnl_attr_get_payload_len(e.orig) > 256)
		return; /* no tuple is that long */
	del = mnl_nlmsg_put_header(buf);
	del->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
	del->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	g = mnl_nlmsg_put_extra_header(del, sizeof(*g));
	g->nfgen_family = e.flow.family;
	g->version = NFNETLINK_V0;
	mnl_attr_put(del, CTA_TUPLE_ORIG | NLA_F_NESTED, mnl_attr_get_payload_len(e.orig),
		     mnl_attr_get_payload(e.orig));
	if (e.zone)
		mnl_attr_put_u16(del, CTA_ZONE, mnl_attr_get_u16(e.zone));
	if (e.id)
		mnl_attr_put_u32(del, CTA_ID, mnl_attr_get_u32(e.id));
	if (vw_grow((void **)&s->dels, &s->cap, s->len + del->nlmsg_len, 1, SIZE_MAX) < 0) {
		s->err = -ENOMEM;
		return;
	}
	memcpy(s->dels + s->len, del, del->nlmsg_len);
	s->len += del->nlmsg_len;
	s->n++;
}

static int dump(struct vw_conntrack *ct, struct sweep *s)
{
	_Alignas(struct nlmsghdr) char buf[VW_NL_BUFSZ * 4];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	uint32_t portid = mnl_socket_get_portid(ct->nl);
	struct nfgenmsg *g;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++ct->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC; /* both families */
	g->version = NFNETLINK_V0;
	if (mnl_socket_sendto(ct->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(ct->nl, buf, sizeof(buf));
		int r;

		if (len < 0)
			return -errno;
		vw_nl_messages(buf, (size_t)len, on_entry, s);
		/* The same bytes again, only for the end of the dump and its errors. */
		r = mnl_cb_run(buf, (size_t)len, ct->seq, portid, NULL, NULL);
		if (r < 0)
			return -errno;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

/* Send the deletions in buffers' worth and read their acks; the number that took. */
static int delete_all(struct vw_conntrack *ct, struct sweep *s)
{
	_Alignas(struct nlmsghdr) char buf[VW_NL_BUFSZ];
	size_t off = 0;
	int done = 0;

	while (off < s->len) {
		size_t chunk = 0, sent = 0;

		/* As many whole requests as a buffer holds, each with a sequence of its own. */
		while (off + chunk < s->len && chunk < VW_NL_BUFSZ / 2) {
			struct nlmsghdr *nlh = (struct nlmsghdr *)(s->dels + off + chunk);

			nlh->nlmsg_seq = ++ct->seq;
			chunk += nlh->nlmsg_len;
			sent++;
		}
		if (mnl_socket_sendto(ct->nl, s->dels + off, chunk) < 0)
			return done ? done : -errno;
		off += chunk;
		/* One ack (an error message, 0 or -errno) per request. */
		while (sent > 0) {
			ssize_t len = mnl_socket_recvfrom(ct->nl, buf, sizeof(buf));
			const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
			int rem;

			if (len < 0)
				return done ? done : -errno;
			rem = (int)len;
			for (; mnl_nlmsg_ok(nlh, rem) && sent > 0;
			     nlh = mnl_nlmsg_next(nlh, &rem)) {
				const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

				if (nlh->nlmsg_type != NLMSG_ERROR ||
				    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*err)))
					continue;
				sent--;
				/* ENOENT: it ended meanwhile, which is what we wanted. */
				if (err->error == 0)
					done++;
				else if (err->error != -ENOENT)
					log_debug("conntrack delete: %s", strerror(-err->error));
			}
		}
	}
	return done;
}

int vw_conntrack_sweep(struct vw_conntrack *ct, vw_conntrack_fn doomed, void *ud, bool *ret_more)
{
	struct sweep s = { .doomed = doomed, .ud = ud };
	int r;

	r = dump(ct, &s);
	if (r >= 0)
		r = s.err;
	if (r >= 0)
		r = delete_all(ct, &s);
	if (r < 0)
		reopen(ct); /* replies may still be queued: a clean socket for the next sweep */
	*ret_more = s.n >= DELETIONS_MAX;
	free(s.dels);
	return r;
}

int vw_conntrack_new(struct vw_conntrack **ret)
{
	struct vw_conntrack *ct = calloc(1, sizeof(*ct));
	int r;

	if (!ct)
		return -ENOMEM;
	ct->seq = (uint32_t)time(NULL);
	ct->nl = vw_nl_open(NETLINK_NETFILTER, 0);
	if (!ct->nl) {
		r = -errno;
		vw_conntrack_free(ct);
		return r;
	}
	*ret = ct;
	return 0;
}

void vw_conntrack_free(struct vw_conntrack *ct)
{
	if (!ct)
		return;
	if (ct->nl)
		(void)mnl_socket_close(ct->nl);
	free(ct);
}
