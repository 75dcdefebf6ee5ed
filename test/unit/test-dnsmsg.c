// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DNS messages: a client's question (EDNS size, case folded), the addresses an answer
 * gives for it through CNAME chains in any order (with the chain's smallest TTL, records
 * of other names ignored), hostile compression (loops, forward pointers), and the replies
 * the proxy writes: REFUSED and a truncated answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "vpnwall/dnsmsg.h"

struct msg {
	uint8_t b[1024];
	size_t n;
};

static void u16(struct msg *m, uint16_t v)
{
	m->b[m->n++] = (uint8_t)(v >> 8);
	m->b[m->n++] = (uint8_t)v;
}

static void u32(struct msg *m, uint32_t v)
{
	u16(m, (uint16_t)(v >> 16));
	u16(m, (uint16_t)v);
}

/* "a.b" as labels; a trailing "@NN" instead ends the name with a pointer to offset NN. */
static void name(struct msg *m, const char *s)
{
	while (*s && *s != '@') {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strcspn(s, "@");

		m->b[m->n++] = (uint8_t)l;
		memcpy(m->b + m->n, s, l);
		m->n += l;
		s += l + (dot != NULL);
	}
	if (*s == '@') {
		u16(m, (uint16_t)(0xc000 | atoi(s + 1)));
		return;
	}
	m->b[m->n++] = 0;
}

static void header(struct msg *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
		   uint16_t ar)
{
	m->n = 0;
	u16(m, id);
	u16(m, flags);
	u16(m, qd);
	u16(m, an);
	u16(m, 0);
	u16(m, ar);
}

static void rr_addr(struct msg *m, const char *owner, int family, const char *addr, uint32_t ttl)
{
	uint8_t a[16];

	name(m, owner);
	u16(m, family == AF_INET ? VW_DNS_TYPE_A : VW_DNS_TYPE_AAAA);
	u16(m, VW_DNS_CLASS_IN);
	u32(m, ttl);
	u16(m, family == AF_INET ? 4 : 16);
	assert_int_equal(inet_pton(family, addr, a), 1);
	memcpy(m->b + m->n, a, family == AF_INET ? 4 : 16);
	m->n += family == AF_INET ? 4 : 16;
}

static void rr_cname(struct msg *m, const char *owner, const char *target, uint32_t ttl)
{
	size_t len_at;

	name(m, owner);
	u16(m, VW_DNS_TYPE_CNAME);
	u16(m, VW_DNS_CLASS_IN);
	u32(m, ttl);
	len_at = m->n;
	u16(m, 0);
	name(m, target);
	m->b[len_at] = (uint8_t)((m->n - len_at - 2) >> 8);
	m->b[len_at + 1] = (uint8_t)(m->n - len_at - 2);
}

static void query(struct msg *m, uint16_t id, const char *qname, uint16_t qtype, bool edns)
{
	header(m, id, 0x0100, 1, 0, edns);
	name(m, qname);
	u16(m, qtype);
	u16(m, VW_DNS_CLASS_IN);
	if (edns) {
		m->b[m->n++] = 0;
		u16(m, VW_DNS_TYPE_OPT);
		u16(m, 1232);
		u32(m, 0);
		u16(m, 0);
	}
}

static void test_dnsmsg_query(void **state)
{
	struct vw_dns_query q;
	struct msg m;

	query(&m, 0x1234, "WWW.Example.ORG", VW_DNS_TYPE_A, true);
	assert_int_equal(vw_dnsmsg_query(m.b, m.n, &q), 0);
	assert_int_equal(q.id, 0x1234);
	assert_string_equal(q.name, "www.example.org");
	assert_int_equal(q.qtype, VW_DNS_TYPE_A);
	assert_int_equal(q.question_end, 12 + 17 + 4);
	assert_int_equal(q.udp_size, 1232);
	query(&m, 1, "example.org", VW_DNS_TYPE_AAAA, false);
	assert_int_equal(vw_dnsmsg_query(m.b, m.n, &q), 0);
	assert_int_equal(q.udp_size, 0);
	/* cut anywhere: refused, never read past */
	for (size_t n = 0; n < m.n; n++)
		assert_int_equal(vw_dnsmsg_query(m.b, n, &q), -EINVAL);
	/* a response, or another opcode, is not a query */
	m.b[2] |= 0x80;
	assert_int_equal(vw_dnsmsg_query(m.b, m.n, &q), -ENOTSUP);
	m.b[2] = 0x28; /* opcode 5, UPDATE */
	assert_int_equal(vw_dnsmsg_query(m.b, m.n, &q), -ENOTSUP);
	/* two questions */
	query(&m, 1, "example.org", VW_DNS_TYPE_A, false);
	m.b[5] = 2;
	assert_int_equal(vw_dnsmsg_query(m.b, m.n, &q), -EINVAL);
	/* a label with a dot or a control byte in it */
	query(&m, 1, "exa\x01mple.org", VW_DNS_TYPE_A, false);
	assert_int_equal(vw_dnsmsg_query(m.b, m.n, &q), -EINVAL);
	/* a name in the header: id 0x0178, flags 0 spell "x", but upstream sees another id */
	header(&m, 0x0178, 0, 1, 0, 0);
	name(&m, "@0");
	u16(&m, VW_DNS_TYPE_A);
	u16(&m, VW_DNS_CLASS_IN);
	assert_int_equal(vw_dnsmsg_query(m.b, m.n, &q), -EINVAL);
}

static void test_dnsmsg_answer_chain(void **state)
{
	struct vw_dns_addr a[4];
	struct vw_dns_query q;
	struct msg m;
	unsigned rcode;
	uint8_t want[16] = { 0 };

	query(&m, 7, "www.example.org", VW_DNS_TYPE_A, false);
	assert_int_equal(vw_dnsmsg_query(m.b, m.n, &q), 0);
	header(&m, 7, 0x8180, 1, 5, 0);
	name(&m, "www.example.org");
	u16(&m, VW_DNS_TYPE_A);
	u16(&m, VW_DNS_CLASS_IN);
	/* out of order: the address first, then the second link, then the first */
	rr_addr(&m, "edge.cdn.test", AF_INET, "198.51.100.7", 300);
	rr_cname(&m, "cdn.example.net", "edge.cdn.test", 60);
	rr_cname(&m, "www@16", "cdn.example.net", 10); /* "www", then a pointer to "example.org" */
	rr_addr(&m, "other.test", AF_INET, "198.51.100.66", 300); /* not on the chain */
	rr_addr(&m, "www.example.org", AF_INET6, "2001:db8::7", 100);
	assert_int_equal(vw_dnsmsg_answer(m.b, m.n, &q, a, 4, &rcode), 2);
	assert_int_equal(rcode, 0);
	assert_int_equal(a[0].family, AF_INET);
	assert_int_equal(inet_pton(AF_INET, "198.51.100.7", want), 1);
	assert_memory_equal(a[0].addr, want, 16);
	assert_int_equal(a[0].ttl, 10); /* the chain's smallest */
	assert_int_equal(a[1].family, AF_INET6);
	assert_int_equal(a[1].ttl, 100);
	/* room for one: the rest are dropped, not written */
	assert_int_equal(vw_dnsmsg_answer(m.b, m.n, &q, a, 1, &rcode), 1);
	/* not the answer to this query: another id, or another question */
	q.id = 8;
	assert_int_equal(vw_dnsmsg_answer(m.b, m.n, &q, a, 4, &rcode), -EINVAL);
	q.id = 7;
	strcpy(q.name, "www.example.com");
	assert_int_equal(vw_dnsmsg_answer(m.b, m.n, &q, a, 4, &rcode), -EINVAL);
	strcpy(q.name, "www.example.org");
	/* cut anywhere: refused */
	for (size_t n = 0; n < m.n; n++)
		assert_true(vw_dnsmsg_answer(m.b, n, &q, a, 4, &rcode) < 0);
}

static void test_dnsmsg_hostile_names(void **state)
{
	struct vw_dns_addr a[4];
	struct vw_dns_query q;
	struct msg m;
	unsigned rcode;

	query(&m, 9, "loop.test", VW_DNS_TYPE_A, false);
	assert_int_equal(vw_dnsmsg_query(m.b, m.n, &q), 0);
	/* an answer whose owner points at itself: a loop */
	header(&m, 9, 0x8180, 1, 1, 0);
	name(&m, "loop.test");
	u16(&m, VW_DNS_TYPE_A);
	u16(&m, VW_DNS_CLASS_IN);
	u16(&m, (uint16_t)(0xc000 | m.n));
	assert_int_equal(vw_dnsmsg_answer(m.b, m.n + 14, &q, a, 4, &rcode), -EINVAL);
	/* a forward pointer */
	m.n -= 2;
	u16(&m, (uint16_t)(0xc000 | (m.n + 10)));
	assert_int_equal(vw_dnsmsg_answer(m.b, m.n + 14, &q, a, 4, &rcode), -EINVAL);
	/* a CNAME to itself ends the chain, and the A record of the name still counts */
	header(&m, 9, 0x8180, 1, 2, 0);
	name(&m, "loop.test");
	u16(&m, VW_DNS_TYPE_A);
	u16(&m, VW_DNS_CLASS_IN);
	rr_cname(&m, "loop.test", "loop.test", 5);
	rr_addr(&m, "loop.test", AF_INET, "198.51.100.9", 5);
	assert_int_equal(vw_dnsmsg_answer(m.b, m.n, &q, a, 4, &rcode), 1);
}

static void test_dnsmsg_replies(void **state)
{
	uint8_t buf[512];
	struct vw_dns_query q;
	struct msg m;
	size_t n;

	query(&m, 0x4242, "blocked.test", VW_DNS_TYPE_A, true);
	assert_int_equal(vw_dnsmsg_query(m.b, m.n, &q), 0);
	n = vw_dnsmsg_error(m.b, &q, VW_DNS_RCODE_REFUSED, buf, sizeof(buf));
	assert_int_equal(n, q.question_end);
	assert_int_equal(buf[0] << 8 | buf[1], 0x4242);
	assert_int_equal(buf[2], 0x81); /* QR, RD as asked */
	assert_int_equal(buf[3], 0x85); /* RA, REFUSED */
	assert_int_equal(buf[7] + buf[9] + buf[11], 0); /* no records; the OPT is not copied */
	assert_int_equal(vw_dnsmsg_error(m.b, &q, 5, buf, 10), 0);

	/* an answer too long for a UDP client is cut to its question, with TC */
	header(&m, 0x4242, 0x8180, 1, 30, 0);
	name(&m, "blocked.test");
	u16(&m, VW_DNS_TYPE_A);
	u16(&m, VW_DNS_CLASS_IN);
	for (int i = 0; i < 30; i++)
		rr_addr(&m, "blocked.test", AF_INET, "198.51.100.9", 5);
	assert_int_equal(vw_dnsmsg_fit(m.b, m.n, 2048), m.n);
	n = vw_dnsmsg_fit(m.b, m.n, VW_DNS_UDP_MIN);
	assert_int_equal(n, 12 + 14 + 4);
	assert_true(m.b[2] & 0x02);
	assert_int_equal(m.b[7], 0);
	vw_dnsmsg_set_id(m.b, 0x0102);
	assert_int_equal(m.b[0], 1);
	assert_int_equal(m.b[1], 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dnsmsg_query),
		cmocka_unit_test(test_dnsmsg_answer_chain),
		cmocka_unit_test(test_dnsmsg_hostile_names),
		cmocka_unit_test(test_dnsmsg_replies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
