// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The conntrack dump reader on what the kernel wrote (fuzz seeds): dump-3-entries (TCP to
 * 127.0.0.1:8080, UDP to 127.0.0.1:9999, UDP to [::1]:5353), every entry's original
 * direction with its destination port and nothing from NLMSG_DONE; and entry-v4-dnat (UDP
 * from 198.18.0.1 to 198.51.100.1:9999, DNAT'd to 198.18.0.2:7777), where source,
 * destination and the one answering all differ.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "vpnwall/conntrack.h"
#include "vpnwall/ruleset.h"

static const char *dump_path, *dnat_path;

struct seen {
	struct vw_flow v[8];
	size_t n;
};

static bool collect(void *ud, const struct vw_flow *f)
{
	struct seen *s = ud;

	if (s->n < 8)
		s->v[s->n++] = *f;
	return false;
}

static void assert_flow(const struct vw_flow *f, int family, const char *addr, uint8_t proto,
			uint16_t dport)
{
	uint8_t a[16] = { 0 };

	assert_int_equal(f->family, family);
	assert_int_equal(inet_pton(family, addr, a), 1);
	assert_memory_equal(f->saddr, a, sizeof(a));
	assert_memory_equal(f->daddr, a, sizeof(a));
	assert_memory_equal(f->raddr, a, sizeof(a));
	assert_int_equal(f->proto, proto);
	assert_int_equal(f->has_ports, dport != 0);
	assert_int_equal(f->dport, dport);
}

static size_t load(const char *path, uint8_t *buf, size_t size)
{
	FILE *f = fopen(path, "rb");
	size_t len;

	assert_non_null(f);
	len = fread(buf, 1, size, f);
	fclose(f);
	return len;
}

static void test_conntrack_parse_dump(void **state)
{
	_Alignas(16) uint8_t buf[4096];
	struct seen s = { 0 };
	size_t len = load(dump_path, buf, sizeof(buf));

	assert_int_equal(vw_conntrack_parse(buf, len, collect, &s), 3);
	assert_int_equal(s.n, 3);
	assert_flow(&s.v[0], AF_INET, "127.0.0.1", IPPROTO_TCP, 8080);
	assert_flow(&s.v[1], AF_INET, "127.0.0.1", IPPROTO_UDP, 9999);
	assert_flow(&s.v[2], AF_INET6, "::1", IPPROTO_UDP, 5353);
	/* cut short: the whole messages before the cut are read, the rest is not */
	s.n = 0;
	assert_int_equal(vw_conntrack_parse(buf, 300, collect, &s), 1);
}

static void test_conntrack_parse_dnat(void **state)
{
	_Alignas(16) uint8_t buf[4096];
	uint8_t a[16] = { 0 };
	struct seen s = { 0 };
	size_t len = load(dnat_path, buf, sizeof(buf));

	assert_int_equal(vw_conntrack_parse(buf, len, collect, &s), 1);
	assert_int_equal(s.v[0].family, AF_INET);
	assert_int_equal(inet_pton(AF_INET, "198.18.0.1", a), 1);
	assert_memory_equal(s.v[0].saddr, a, 16);
	assert_int_equal(inet_pton(AF_INET, "198.51.100.1", a), 1);
	assert_memory_equal(s.v[0].daddr, a, 16);
	assert_int_equal(inet_pton(AF_INET, "198.18.0.2", a), 1);
	assert_memory_equal(s.v[0].raddr, a, 16); /* the DNAT target answers */
	assert_int_equal(s.v[0].proto, IPPROTO_UDP);
	assert_int_equal(s.v[0].dport, 9999); /* as the client sent it */
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conntrack_parse_dump),
		cmocka_unit_test(test_conntrack_parse_dnat),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: %s DUMP DNAT-ENTRY\n", argv[0]);
		return 2;
	}
	dump_path = argv[1];
	dnat_path = argv[2];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
