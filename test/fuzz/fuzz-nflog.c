// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz the NFLOG payload parser. Input: two bytes that choose the link-layer protocol
 * (big-endian value modulo 4: 0 ETH_P_IP, 1 ETH_P_IPV6, otherwise the raw value, usually
 * neither), then the packet from its network header. On success the family must match
 * the protocol and the addresses must be the packet's.
 */
#include <errno.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnwall/nflog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[16];
	struct vw_nflog_packet p;
	uint16_t sel, hw;
	uint8_t *pkt;
	size_t len;
	int r;

	if (size < 2 || size > 65536)
		return 0;
	sel = (uint16_t)(data[0] << 8 | data[1]);
	hw = sel % 4 == 0 ? ETH_P_IP : sel % 4 == 1 ? ETH_P_IPV6 : sel;
	len = size - 2;
	/* an exact-size copy so that ASan sees any read past the packet */
	pkt = malloc(len ? len : 1);
	if (!pkt)
		return 0;
	memcpy(pkt, data + 2, len);
	memset(&p, 0xa5, sizeof(p));
	r = vw_nflog_parse_payload(hw, pkt, len, &p);
	if (r == 0) {
		if (p.family != AF_INET && p.family != AF_INET6)
			abort();
		if ((hw == ETH_P_IP) != (p.family == AF_INET))
			abort();
		if (p.family == AF_INET &&
		    (memcmp(p.src, pkt + 12, 4) != 0 || memcmp(p.dst, pkt + 16, 4) != 0 ||
		     memcmp(p.src + 4, zero, 12) != 0 || memcmp(p.dst + 4, zero, 12) != 0))
			abort();
		if (p.family == AF_INET6 &&
		    (memcmp(p.src, pkt + 8, 16) != 0 || memcmp(p.dst, pkt + 24, 16) != 0))
			abort();
		/* only transport protocols with ports have one */
		if (p.dport != 0 && p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP &&
		    p.proto != IPPROTO_UDPLITE && p.proto != IPPROTO_SCTP)
			abort();
		/* the prefix is not the parser's business */
		for (size_t i = 0; i < sizeof(p.prefix); i++)
			if ((uint8_t)p.prefix[i] != 0xa5)
				abort();
	} else if (r != -EINVAL) {
		abort();
	}
	free(pkt);
	return 0;
}
