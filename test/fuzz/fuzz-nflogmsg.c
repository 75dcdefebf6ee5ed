// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz the NFLOG receive path: the input is one datagram as read from the nfnetlink_log
 * socket (any number of netlink messages, each a nlmsghdr, a nfgenmsg and NFULA_*
 * attributes), handed to vw_nflog_parse() exactly as the daemon does. Every packet it
 * reports must be plausible and made of the input's bytes: a known family, a terminated
 * prefix found in the input, addresses found in the input, a port only for protocols that
 * have one.
 *
 * The seeds in corpus/nflogmsg/ were written with libmnl (mnl_nlmsg_put_header,
 * mnl_nlmsg_put_extra_header, mnl_attr_put*), type NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET,
 * NFULA_PACKET_HDR (hw_protocol ETH_P_IP or ETH_P_IPV6, hook 2), NFULA_MARK,
 * NFULA_IFINDEX_INDEV, NFULA_PREFIX with its NUL (as the kernel sends it) and NFULA_PAYLOAD
 * holding the packet from its network header:
 *   ipv4-tcp, ipv6-udp, ipv4-icmp-audit  one message each ("D:<key>" / "A:<key>" prefixes)
 *   three-messages   IPv4 TCP, then an NLMSG_NOOP, then IPv6 TCP after a hop-by-hop header
 *   truncated        ipv4-tcp cut in the middle of its payload attribute
 *   long-prefix      a 100-byte prefix (kept to 63)
 *   odd-attrs        an attribute type past NFULA_MAX, a short NFULA_PACKET_HDR first and a
 *                    good one after it, and a message length that is not a multiple of 4
 *   huge-length      ipv4-tcp, then a header claiming 2^32 - 3 bytes (by hand: aligned as
 *                    libmnl does it, that length wraps to 0)
 *   short-length     ipv4-tcp cut to 95 bytes after a 24-byte packet, nlmsg_len 95 (by hand:
 *                    its destination port ends in the alignment padding, past the input)
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnwall/nflog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *buf;
	size_t len;
	size_t packets;
};

static void must(int cond)
{
	if (!cond)
		abort();
}

static void check(void *ud, const struct vw_nflog_packet *p)
{
	static const uint8_t zero[12];
	struct input *in = ud;
	size_t alen = p->family == AF_INET ? 4 : 16, plen = strnlen(p->prefix, sizeof(p->prefix));

	in->packets++;
	must(p->family == AF_INET || p->family == AF_INET6);
	must(plen < sizeof(p->prefix));
	must(plen == 0 || memmem(in->buf, in->len, p->prefix, plen));
	must(memmem(in->buf, in->len, p->src, alen) != NULL);
	must(memmem(in->buf, in->len, p->dst, alen) != NULL);
	if (p->family == AF_INET)
		must(memcmp(p->src + 4, zero, 12) == 0 && memcmp(p->dst + 4, zero, 12) == 0);
	if (p->dport != 0)
		must(p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP ||
		     p->proto == IPPROTO_UDPLITE || p->proto == IPPROTO_SCTP);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in;
	uint8_t *buf;
	size_t n;

	if (size > 65536)
		return 0;
	/* malloc'd for alignment, and exactly the input's size so ASan sees reads past it */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	in = (struct input){ .buf = buf, .len = size };
	n = vw_nflog_parse(buf, size, check, &in);
	must(n == in.packets);
	/* every packet takes a message header at least */
	must(n * 16 <= size);
	free(buf);
	return 0;
}
