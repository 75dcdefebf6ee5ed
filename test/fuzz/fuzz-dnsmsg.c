// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz the DNS message reader both ways the proxy uses it: the input as a container's
 * query (then the replies written for it), and as an upstream response to that query or to
 * a fixed one. Whatever it accepts must be made of the input: names within the size
 * limit, addresses found in the input, TTLs without the top bit; a reply written for a
 * query, or an answer cut for UDP, must not grow.
 *
 * Seeds in corpus/dnsmsg/, written by hand (see the unit test for the layout): query-edns
 * (www.example.org A with an OPT record), query-aaaa, answer-cname (a compressed CNAME to
 * cdn.example.net and its A record), answer-loop (an owner name pointing at itself).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnwall/dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int cond)
{
	if (!cond)
		abort();
}

static void check_answer(const uint8_t *buf, size_t size, const struct vw_dns_query *q)
{
	struct vw_dns_addr a[8];
	unsigned rcode = 99;
	int n = vw_dnsmsg_answer(buf, size, q, a, 8, &rcode);

	must(n <= 8);
	if (n >= 0)
		must(rcode < 16);
	for (int i = 0; i < n; i++) {
		size_t alen = a[i].family == AF_INET ? 4 : 16;

		must(a[i].family == AF_INET || a[i].family == AF_INET6);
		must(a[i].ttl <= 0x7fffffffu);
		must(memmem(buf, size, a[i].addr, alen) != NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct vw_dns_query fixed = { .id = 0x1234,
						   .name = "www.example.org",
						   .qtype = VW_DNS_TYPE_A,
						   .qclass = VW_DNS_CLASS_IN };
	struct vw_dns_query q;
	uint8_t *buf, reply[600];

	if (size > 65535)
		return 0;
	/* exactly the input's size, so that ASan sees any read past it */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (vw_dnsmsg_query(buf, size, &q) == 0) {
		size_t n;

		must(strlen(q.name) < VW_DNS_NAME_MAX);
		must(q.question_end <= size);
		must(q.udp_size == 0 || q.udp_size >= VW_DNS_UDP_MIN);
		n = vw_dnsmsg_error(buf, &q, VW_DNS_RCODE_REFUSED, reply, sizeof(reply));
		must(n == 0 || n == q.question_end);
		check_answer(buf, size, &q);
	}
	check_answer(buf, size, &fixed);
	if (size >= VW_DNS_HEADER) {
		size_t n = vw_dnsmsg_fit(buf, size, VW_DNS_UDP_MIN);

		must(n <= size && (n <= VW_DNS_UDP_MIN || n == size));
	}
	free(buf);
	return 0;
}
