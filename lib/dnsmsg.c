// SPDX-License-Identifier: GPL-2.0-or-later
#include "vpnwall/dnsmsg.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#define FLAG_QR 0x8000
#define FLAG_AA 0x0400
#define FLAG_TC 0x0200
#define FLAG_RD 0x0100
#define FLAG_RA 0x0080
#define FLAG_CD 0x0010
#define OPCODE(f) (((f) >> 11) & 0xf)
#define RCODE(f) ((f)&0xf)

#define JUMPS_MAX 32 /* compression pointers followed in one name */
#define CHAIN_MAX 8 /* CNAMEs followed from the name asked */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * The name at @off of @m, as lower-case text into @out (VW_DNS_NAME_MAX bytes), and the
 * offset just past it in *@ret_next. A compression pointer must point before the labels
 * that lead to it, so every jump goes strictly backwards: no loop, whatever the input; and
 * past the header, which is no name's (a query's id there is replaced upstream).
 * Labels are printable ASCII without dots; anything else is refused.
 */
static int read_name(const uint8_t *m, size_t len, size_t off, char *out, size_t *ret_next)
{
	size_t pos = off, limit = off, n = 0, next = 0;
	unsigned jumps = 0;

	for (;;) {
		uint8_t l;

		if (pos >= len)
			return -EINVAL;
		l = m[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t to;

			if (pos + 1 >= len)
				return -EINVAL;
			to = (size_t)(l & 0x3f) << 8 | m[pos + 1];
			if (!next)
				next = pos + 2;
			/* Never into the header: its id is not what the upstream will see. */
			if (to < VW_DNS_HEADER || to >= limit || ++jumps > JUMPS_MAX)
				return -EINVAL;
			pos = limit = to;
			continue;
		}
		if (l & 0xc0)
			return -EINVAL; /* the extended label types were never deployed */
		if (l == 0) {
			if (!next)
				next = pos + 1;
			break;
		}
		if (pos + 1 + l > len || n + (n > 0) + l >= VW_DNS_NAME_MAX)
			return -EINVAL;
		if (n > 0)
			out[n++] = '.';
		for (size_t i = 0; i < l; i++) {
			uint8_t c = m[pos + 1 + i];

			if (c <= 0x20 || c >= 0x7f || c == '.')
				return -EINVAL;
			out[n++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
		}
		pos += 1 + (size_t)l;
	}
	out[n] = '\0';
	*ret_next = next;
	return 0;
}

/* The question at offset 12: name, type and class; the offset past it. */
static int read_question(const uint8_t *m, size_t len, char *name, uint16_t *ret_type,
			 uint16_t *ret_class, size_t *ret_end)
{
	size_t off;

	if (read_name(m, len, VW_DNS_HEADER, name, &off) < 0 || off + 4 > len)
		return -EINVAL;
	*ret_type = get16(m + off);
	*ret_class = get16(m + off + 2);
	*ret_end = off + 4;
	return 0;
}

int vw_dnsmsg_query(const uint8_t *msg, size_t len, struct vw_dns_query *ret)
{
	struct vw_dns_query q = { 0 };
	uint16_t qd, an, ns, ar;
	size_t off;

	if (len < VW_DNS_HEADER)
		return -EINVAL;
	q.id = get16(msg);
	q.flags = get16(msg + 2);
	if ((q.flags & FLAG_QR) || OPCODE(q.flags) != 0)
		return -ENOTSUP;
	qd = get16(msg + 4);
	an = get16(msg + 6);
	ns = get16(msg + 8);
	ar = get16(msg + 10);
	if (qd != 1 || an != 0 || ns != 0 || ar > 1)
		return -EINVAL;
	if (read_question(msg, len, q.name, &q.qtype, &q.qclass, &q.question_end) < 0)
		return -EINVAL;
	off = q.question_end;
	if (ar == 1) {
		/* EDNS: an OPT record for the root, whose class is the client's UDP size. */
		if (off + 11 > len || msg[off] != 0 || get16(msg + off + 1) != VW_DNS_TYPE_OPT ||
		    off + 11 + get16(msg + off + 9) > len)
			return -EINVAL;
		q.udp_size = get16(msg + off + 3);
		if (q.udp_size < VW_DNS_UDP_MIN)
			q.udp_size = VW_DNS_UDP_MIN;
	}
	*ret = q;
	return 0;
}

/* One resource record's fixed part, after its owner name. */
struct rr {
	char owner[VW_DNS_NAME_MAX];
	uint16_t type;
	uint16_t class;
	uint32_t ttl;
	size_t rdata; /* offset */
	uint16_t rdlen;
	size_t next; /* offset of the next record */
};

static int read_rr(const uint8_t *m, size_t len, size_t off, struct rr *ret)
{
	size_t p;

	if (read_name(m, len, off, ret->owner, &p) < 0 || p + 10 > len)
		return -EINVAL;
	ret->type = get16(m + p);
	ret->class = get16(m + p + 2);
	ret->ttl = get32(m + p + 4);
	if (ret->ttl > 0x7fffffffu) /* RFC 2181: a TTL with the top bit set means zero */
		ret->ttl = 0;
	ret->rdlen = get16(m + p + 8);
	ret->rdata = p + 10;
	if (ret->rdata + ret->rdlen > len)
		return -EINVAL;
	ret->next = ret->rdata + ret->rdlen;
	return 0;
}

/* The names reached from the one asked, each with the smallest TTL on its way. */
struct chain {
	char names[CHAIN_MAX + 1][VW_DNS_NAME_MAX];
	uint32_t ttl[CHAIN_MAX + 1];
	size_t n;
};

static int chain_find(const struct chain *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->names[i], name) == 0)
			return (int)i;
	return -1;
}

int vw_dnsmsg_answer(const uint8_t *msg, size_t len, const struct vw_dns_query *q,
		     struct vw_dns_addr *ret, size_t max, unsigned *ret_rcode)
{
	struct chain c = { .n = 1, .ttl = { UINT32_MAX } };
	char name[VW_DNS_NAME_MAX];
	uint16_t flags, an, qtype, qclass;
	size_t off, first, found = 0;
	struct rr rr;
	bool grew;

	if (len < VW_DNS_HEADER || get16(msg) != q->id)
		return -EINVAL;
	flags = get16(msg + 2);
	an = get16(msg + 6);
	if (!(flags & FLAG_QR) || get16(msg + 4) != 1 ||
	    read_question(msg, len, name, &qtype, &qclass, &first) < 0 ||
	    strcmp(name, q->name) != 0 || qtype != q->qtype || qclass != q->qclass)
		return -EINVAL;
	*ret_rcode = RCODE(flags);
	memcpy(c.names[0], q->name, sizeof(c.names[0]));
	if (an > VW_DNS_RRS_MAX)
		an = VW_DNS_RRS_MAX;
	/*
	 * CNAMEs first, until the chain stops growing: a server may list them in any order.
	 * Each pass is linear in the records; there are at most CHAIN_MAX + 1 passes.
	 */
	do {
		grew = false;
		off = first;
		for (unsigned i = 0; i < an; i++, off = rr.next) {
			int k;

			if (read_rr(msg, len, off, &rr) < 0)
				return -EINVAL;
			if (rr.type != VW_DNS_TYPE_CNAME || rr.class != VW_DNS_CLASS_IN ||
			    (k = chain_find(&c, rr.owner)) < 0)
				continue;
			if (read_name(msg, rr.next, rr.rdata, name, &(size_t){ 0 }) < 0)
				return -EINVAL;
			if (chain_find(&c, name) >= 0 || c.n > CHAIN_MAX)
				continue;
			memcpy(c.names[c.n], name, sizeof(name));
			c.ttl[c.n++] = rr.ttl < c.ttl[k] ? rr.ttl : c.ttl[k];
			grew = true;
		}
	} while (grew);
	off = first;
	for (unsigned i = 0; i < an; i++, off = rr.next) {
		int k;

		if (read_rr(msg, len, off, &rr) < 0)
			return -EINVAL;
		if (rr.class != VW_DNS_CLASS_IN ||
		    !((rr.type == VW_DNS_TYPE_A && rr.rdlen == 4) ||
		      (rr.type == VW_DNS_TYPE_AAAA && rr.rdlen == 16)) ||
		    (k = chain_find(&c, rr.owner)) < 0 || found >= max)
			continue;
		ret[found] = (struct vw_dns_addr){
			.family = rr.type == VW_DNS_TYPE_A ? AF_INET : AF_INET6,
			.ttl = rr.ttl < c.ttl[k] ? rr.ttl : c.ttl[k],
		};
		memcpy(ret[found].addr, msg + rr.rdata, rr.rdlen);
		found++;
	}
	return (int)found;
}

size_t vw_dnsmsg_error(const uint8_t *query, const struct vw_dns_query *q, unsigned rcode,
		       uint8_t *buf, size_t size)
{
	uint16_t flags = FLAG_QR | FLAG_RA | (q->flags & (FLAG_RD | FLAG_CD)) | (rcode & 0xf);

	if (size < q->question_end)
		return 0;
	memcpy(buf, query, q->question_end);
	put16(buf + 2, flags);
	put16(buf + 4, 1);
	memset(buf + 6, 0, 6); /* no answer, authority or additional records */
	return q->question_end;
}

size_t vw_dnsmsg_fit(uint8_t *msg, size_t len, size_t limit)
{
	char name[VW_DNS_NAME_MAX];
	uint16_t t, c;
	size_t end;

	if (len <= limit)
		return len;
	if (read_question(msg, len, name, &t, &c, &end) < 0 || end > limit)
		return 0;
	put16(msg + 2, get16(msg + 2) | FLAG_TC);
	put16(msg + 4, 1);
	memset(msg + 6, 0, 6);
	return end;
}

void vw_dnsmsg_set_id(uint8_t *msg, uint16_t id)
{
	put16(msg, id);
}
