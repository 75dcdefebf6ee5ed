// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nfnetlink_log client. Binding a group is acknowledged synchronously at start-up so a
 * group already taken by another process is reported as such; afterwards the socket is a
 * plain non-blocking vw_io in the loop.
 */
#include "vpnwall/nflog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

#include "vpnwall/loop.h"
#include "vpnwall/netlink.h"
#include "vpnwall/util.h"

#define COPY_RANGE 128
#define RCVBUF (1024 * 1024)

struct vw_nflog {
	struct vw_io io; /* first: the loop hands us &io */
	struct vw_loop *loop;
	struct mnl_socket *nl;
	uint16_t group;
	vw_nflog_fn cb;
	void *ud;
	uint64_t lost;
};

static int ports_at(const uint8_t *l4, size_t len, uint8_t proto, uint16_t *ret)
{
	switch (proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_SCTP:
		if (len < 4)
			return -EINVAL;
		*ret = (uint16_t)(l4[2] << 8 | l4[3]);
		return 0;
	default:
		*ret = 0;
		return 0;
	}
}

int vw_nflog_parse_payload(uint16_t hw_protocol, const uint8_t *data, size_t len,
			   struct vw_nflog_packet *p)
{
	size_t hl;

	memset(p->src, 0, sizeof(p->src));
	memset(p->dst, 0, sizeof(p->dst));
	if (hw_protocol == ETH_P_IP) {
		if (len < 20 || (data[0] >> 4) != 4)
			return -EINVAL;
		hl = (size_t)(data[0] & 0x0f) * 4;
		if (hl < 20 || hl > len)
			return -EINVAL;
		p->family = AF_INET;
		p->proto = data[9];
		memcpy(p->src, data + 12, 4);
		memcpy(p->dst, data + 16, 4);
		/* Only the first fragment carries ports. */
		if ((data[6] & 0x1f) || data[7])
			return ports_at(NULL, 0, 0, &p->dport);
		return ports_at(data + hl, len - hl, p->proto, &p->dport);
	}
	if (hw_protocol == ETH_P_IPV6) {
		if (len < 40 || (data[0] >> 4) != 6)
			return -EINVAL;
		p->family = AF_INET6;
		p->proto = data[6];
		memcpy(p->src, data + 8, 16);
		memcpy(p->dst, data + 24, 16);
		/* Walk the common extension headers to the transport header. */
		hl = 40;
		for (int i = 0; i < 8; i++) {
			uint8_t nh = p->proto;

			if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS)
				break;
			if (hl + 8 > len)
				return -EINVAL;
			p->proto = data[hl];
			hl += ((size_t)data[hl + 1] + 1) * 8;
		}
		if (hl > len)
			return -EINVAL;
		return ports_at(data + hl, len - hl, p->proto, &p->dport);
	}
	return -EINVAL;
}

/* One message whose nlmsg_len is known to lie within the buffer. */
static int parse_msg(const struct nlmsghdr *nlh, struct vw_nflog_packet *ret)
{
	struct vw_nflog_packet p = { 0 };
	const struct nlattr *a[NFULA_MAX + 1];
	const struct nfulnl_msg_packet_hdr *ph;
	int r;

	if (nlh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET))
		return -ENOMSG;
	if (vw_nl_attrs(nlh, sizeof(struct nfgenmsg), a, NFULA_MAX) < 0)
		return -EINVAL;
	if (!a[NFULA_PACKET_HDR] || !a[NFULA_PAYLOAD] ||
	    mnl_attr_get_payload_len(a[NFULA_PACKET_HDR]) < sizeof(*ph))
		return -EINVAL;
	ph = mnl_attr_get_payload(a[NFULA_PACKET_HDR]);
	if (a[NFULA_PREFIX]) {
		const char *prefix = mnl_attr_get_payload(a[NFULA_PREFIX]);
		size_t len = strnlen(prefix, mnl_attr_get_payload_len(a[NFULA_PREFIX]));

		if (len >= sizeof(p.prefix))
			len = sizeof(p.prefix) - 1;
		memcpy(p.prefix, prefix, len);
	}
	r = vw_nflog_parse_payload(ntohs(ph->hw_protocol), mnl_attr_get_payload(a[NFULA_PAYLOAD]),
				   mnl_attr_get_payload_len(a[NFULA_PAYLOAD]), &p);
	if (r < 0)
		return r;
	*ret = p;
	return 0;
}

struct parse {
	vw_nflog_fn cb;
	void *ud;
	size_t n;
};

static void on_msg(void *ud, const struct nlmsghdr *nlh)
{
	struct parse *x = ud;
	struct vw_nflog_packet p;

	if (parse_msg(nlh, &p) == 0) {
		x->cb(x->ud, &p);
		x->n++;
	}
}

size_t vw_nflog_parse(const void *buf, size_t len, vw_nflog_fn cb, void *ud)
{
	struct parse x = { .cb = cb, .ud = ud };

	vw_nl_messages(buf, len, on_msg, &x);
	return x.n;
}

static void on_io(struct vw_io *io, uint32_t events)
{
	struct vw_nflog *n = (struct vw_nflog *)io;
	_Alignas(struct nlmsghdr) char buf[VW_NL_BUFSZ * 4];

	/* Bounded: a flood must not starve the rest of the loop. */
	for (int i = 0; i < 64; i++) {
		ssize_t len = recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (len < 0) {
			if (errno == ENOBUFS) {
				n->lost++;
				continue;
			}
			return;
		}
		(void)vw_nflog_parse(buf, (size_t)len, n->cb, n->ud);
	}
}

static int config(struct vw_nflog *n, const void *attr, uint16_t type, size_t len)
{
	char buf[VW_NL_BUFSZ];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;
	uint32_t seq = (uint32_t)vw_now_ms();
	ssize_t r;

	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(n->group);
	mnl_attr_put(nlh, type, len, attr);
	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	r = mnl_socket_recvfrom(n->nl, buf, sizeof(buf));
	if (r < 0)
		return -errno;
	if (mnl_cb_run(buf, (size_t)r, seq, mnl_socket_get_portid(n->nl), NULL, NULL) < 0)
		return -errno;
	return 0;
}

int vw_nflog_new(struct vw_loop *loop, uint16_t group, vw_nflog_fn cb, void *ud,
		 struct vw_nflog **ret_nflog)
{
	struct nfulnl_msg_config_cmd bind = { .command = NFULNL_CFG_CMD_BIND };
	struct nfulnl_msg_config_mode mode = { .copy_range = htonl(COPY_RANGE),
					       .copy_mode = NFULNL_COPY_PACKET };
	struct vw_nflog *n;
	int sz = RCVBUF, r;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->loop = loop;
	n->group = group;
	n->cb = cb;
	n->ud = ud;
	n->io.fd = -1;
	n->nl = vw_nl_open(NETLINK_NETFILTER, 0);
	if (!n->nl) {
		r = -errno;
		goto fail;
	}
	r = config(n, &bind, NFULA_CFG_CMD, sizeof(bind));
	if (r >= 0)
		r = config(n, &mode, NFULA_CFG_MODE, sizeof(mode));
	if (r < 0)
		goto fail;
	if (setsockopt(mnl_socket_get_fd(n->nl), SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(mnl_socket_get_fd(n->nl), SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	n->io.fd = mnl_socket_get_fd(n->nl);
	/* Blocking only for the acknowledged set-up above; the loop needs it non-blocking. */
	if (fcntl(n->io.fd, F_SETFL, fcntl(n->io.fd, F_GETFL) | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	n->io.cb = on_io;
	r = vw_loop_watch(loop, &n->io, EPOLLIN);
	if (r < 0)
		goto fail;
	*ret_nflog = n;
	return 0;
fail:
	vw_nflog_free(n);
	return r;
}

void vw_nflog_free(struct vw_nflog *n)
{
	if (!n)
		return;
	vw_loop_unwatch(n->loop, &n->io);
	if (n->nl)
		(void)mnl_socket_close(n->nl);
	free(n);
}

uint64_t vw_nflog_lost(const struct vw_nflog *n)
{
	return n ? n->lost : 0;
}
