/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * DNS messages as the DNS proxy sees them (RFC 1035): the question of a container's query,
 * the addresses an upstream answer gives for it (through CNAME chains), and the few replies
 * the proxy writes itself (REFUSED, NXDOMAIN, a truncated answer). Pure and defensive:
 * every input may be hostile, so lengths, label sizes, compression pointers (backwards
 * only, a bounded number of jumps) and counts are checked, never trusted.
 */
#ifndef VW_DNSMSG_H
#define VW_DNSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VW_DNS_HEADER 12
#define VW_DNS_NAME_MAX 254 /* a name's text, dots included, without the root's, plus NUL */
#define VW_DNS_UDP_MIN 512 /* what a UDP client without EDNS can take */
#define VW_DNS_RRS_MAX 512 /* answer records looked at in one message */

#define VW_DNS_TYPE_A 1
#define VW_DNS_TYPE_CNAME 5
#define VW_DNS_TYPE_AAAA 28
#define VW_DNS_TYPE_OPT 41
#define VW_DNS_CLASS_IN 1

#define VW_DNS_RCODE_FORMERR 1
#define VW_DNS_RCODE_SERVFAIL 2
#define VW_DNS_RCODE_NXDOMAIN 3
#define VW_DNS_RCODE_REFUSED 5

/* A client's query: one question, and what of its header a reply must keep. */
struct vw_dns_query {
	uint16_t id;
	uint16_t flags; /* as sent: RD and CD matter to the reply */
	char name[VW_DNS_NAME_MAX]; /* lower case, no trailing dot; "" is the root */
	uint16_t qtype;
	uint16_t qclass;
	size_t question_end; /* offset just past the question in the message */
	uint16_t udp_size; /* the EDNS payload size the client offers; 0: no EDNS */
};

/* An address an answer gives for the name asked. */
struct vw_dns_addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* IPv4 in the first 4 bytes, rest zero */
	uint32_t ttl; /* seconds: the smallest along its CNAME chain */
};

/*
 * vw_dnsmsg_query - parse @len bytes from a client as a standard query (QR 0, opcode 0,
 * exactly one question, no answers). Returns 0, or -EINVAL (malformed: answer FORMERR when
 * at least the header was there) or -ENOTSUP (another opcode, or not a query).
 */
int vw_dnsmsg_query(const uint8_t *msg, size_t len, struct vw_dns_query *ret);

/*
 * vw_dnsmsg_answer - the A and AAAA records of response @msg that belong to @q's name,
 * directly or through a chain of CNAMEs in the answer section (each record's owner must be
 * the name asked or a target already reached; the TTL is the chain's smallest). The
 * response must answer @q: same id, QR set, the same question. Up to @max into @ret;
 * *@ret_rcode gets the response code. Returns the number found (counting beyond @max is
 * not done: the rest are dropped), or -EINVAL.
 */
int vw_dnsmsg_answer(const uint8_t *msg, size_t len, const struct vw_dns_query *q,
		     struct vw_dns_addr *ret, size_t max, unsigned *ret_rcode);

/*
 * vw_dnsmsg_error - a reply to @q (whose message is @query) with response code @rcode and
 * no records: its header and question, RA set. Into @buf; returns the length, or 0 when
 * @size is too small.
 */
size_t vw_dnsmsg_error(const uint8_t *query, const struct vw_dns_query *q, unsigned rcode,
		       uint8_t *buf, size_t size);

/*
 * vw_dnsmsg_fit - make response @msg (@len bytes, in place) fit @limit bytes for a UDP
 * client: if it is longer, keep its header and question only and set TC, so the client
 * asks again over TCP. Returns the new length (0 if the question cannot be read or does
 * not fit either).
 */
size_t vw_dnsmsg_fit(uint8_t *msg, size_t len, size_t limit);

/* vw_dnsmsg_set_id - write @id into the header of @msg (at least VW_DNS_HEADER bytes). */
void vw_dnsmsg_set_id(uint8_t *msg, uint16_t id);

#endif
