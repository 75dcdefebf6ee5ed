// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz the conntrack dump reader: the input is what one recv() on the ctnetlink socket
 * returns (any number of netlink messages, each a nlmsghdr, a nfgenmsg and CTA_*
 * attributes with nests), handed to vw_conntrack_parse() as the sweep does. Every flow it
 * reports must be made of the input's bytes: a known family, both addresses found in the
 * input, a port only for protocols that have one.
 *
 * The seeds in corpus/ctmsg/ are a real dump, taken in a scratch network namespace with TCP
 * and UDP over IPv4 and UDP over IPv6 on loopback: dump-3-entries whole (three entries and
 * NLMSG_DONE), and each entry alone; entry-v4-dnat, a UDP flow DNAT'd to another address.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnwall/conntrack.h"
#include "vpnwall/ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *buf;
	size_t len;
	size_t flows;
};

static void must(int cond)
{
	if (!cond)
		abort();
}

static bool check(void *ud, const struct vw_flow *f)
{
	static const uint8_t zero[12];
	struct input *in = ud;
	size_t alen = f->family == AF_INET ? 4 : 16;

	in->flows++;
	must(f->family == AF_INET || f->family == AF_INET6);
	must(memmem(in->buf, in->len, f->saddr, alen) != NULL);
	must(memmem(in->buf, in->len, f->daddr, alen) != NULL);
	must(memmem(in->buf, in->len, f->raddr, alen) != NULL);
	if (f->family == AF_INET)
		must(memcmp(f->saddr + 4, zero, 12) == 0 && memcmp(f->daddr + 4, zero, 12) == 0 &&
		     memcmp(f->raddr + 4, zero, 12) == 0);
	if (!f->has_ports)
		must(f->dport == 0);
	else
		must(f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP ||
		     f->proto == IPPROTO_UDPLITE || f->proto == IPPROTO_SCTP ||
		     f->proto == IPPROTO_DCCP);
	return false;
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
	n = vw_conntrack_parse(buf, size, check, &in);
	must(n == in.flows);
	/* every flow takes a message header and a tuple at least */
	must(n * 16 <= size);
	free(buf);
	return 0;
}
