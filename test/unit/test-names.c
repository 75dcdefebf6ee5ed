// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Name cache: TTL clamping, failure backoff keeping addresses, authoritative removal, and
 * the want/sweep lifecycle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <string.h>

#include <cmocka.h>

#include "vpnwall/names.h"

static const uint8_t A1[16] = { 198, 51, 100, 10 };
static const uint8_t A2[16] = { 198, 51, 100, 11 };

static void test_names_due_and_ttl_clamp(void **state)
{
	struct vw_names ns;
	const struct vw_name *n;
	uint8_t addrs[2][16];
	int fam = -1;

	vw_names_init(&ns, 5, 600);
	assert_int_equal(vw_names_want(&ns, "web.test", 1000), 0);
	assert_int_equal(vw_names_deadline(&ns), 1000);

	n = vw_names_next_due(&ns, 1000, &fam);
	assert_non_null(n);
	assert_int_equal(fam, 0);
	n = vw_names_next_due(&ns, 1000, &fam);
	assert_int_equal(fam, 1);
	assert_null(vw_names_next_due(&ns, 1000, &fam));
	assert_int_equal(vw_names_deadline(&ns), 0);

	memcpy(addrs[0], A2, 16);
	memcpy(addrs[1], A1, 16);
	/* TTL 1 is raised to the floor of 5 s; answer is sorted */
	assert_int_equal(vw_names_answer(&ns, "web.test", 0, VW_DNS_OK, (const uint8_t(*)[16])addrs,
					 2, 1, 2000),
			 1);
	n = vw_names_get(&ns, "web.test");
	assert_int_equal(n->fam[0].n, 2);
	assert_memory_equal(n->fam[0].addrs[0], A1, 16);
	assert_int_equal(n->fam[0].refresh_at, 7000);
	/* same answer again: no change */
	assert_int_equal(vw_names_answer(&ns, "web.test", 0, VW_DNS_OK, (const uint8_t(*)[16])addrs,
					 2, 99999, 3000),
			 0);
	assert_int_equal(n->fam[0].refresh_at, 3000 + 600 * 1000);
	vw_names_done(&ns);
}

static void test_names_failure_keeps_addresses(void **state)
{
	struct vw_names ns;
	const struct vw_name *n;
	int fam;

	vw_names_init(&ns, 1, 60);
	assert_int_equal(vw_names_want(&ns, "web.test", 0), 0);
	(void)vw_names_next_due(&ns, 0, &fam);
	assert_int_equal(
		vw_names_answer(&ns, "web.test", 0, VW_DNS_OK, (const uint8_t(*)[16])A1, 1, 30, 0),
		1);
	n = vw_names_get(&ns, "web.test");
	for (unsigned i = 0; i < 8; i++) {
		uint64_t now = 100000 * (i + 1);

		assert_int_equal(vw_names_answer(&ns, "web.test", 0, VW_DNS_FAIL, NULL, 0, 0, now),
				 0);
		assert_int_equal(n->fam[0].n, 1);
		/* backoff 1, 2, 4, ... capped at 60 s */
		assert_int_equal(n->fam[0].refresh_at - now, (i < 6 ? (1u << i) : 60u) * 1000);
	}
	/* an hour past the TTL, failures no longer keep the old answer */
	assert_int_equal(vw_names_answer(&ns, "web.test", 0, VW_DNS_FAIL, NULL, 0, 0,
					 n->fam[0].expires_at + 3600 * 1000 - 1),
			 0);
	assert_int_equal(n->fam[0].n, 1);
	assert_int_equal(vw_names_answer(&ns, "web.test", 0, VW_DNS_FAIL, NULL, 0, 0,
					 n->fam[0].expires_at + 3600 * 1000),
			 1);
	assert_int_equal(n->fam[0].n, 0);
	assert_int_equal(
		vw_names_answer(&ns, "web.test", 0, VW_DNS_OK, (const uint8_t(*)[16])A1, 1, 30, 0),
		1);
	/* NXDOMAIN removes the addresses */
	assert_int_equal(vw_names_answer(&ns, "web.test", 0, VW_DNS_NONE, NULL, 0, 0, 10), 1);
	assert_int_equal(n->fam[0].n, 0);
	assert_int_equal(n->fam[0].failures, 0);
	vw_names_done(&ns);
}

static void test_names_sweep(void **state)
{
	struct vw_names ns;

	vw_names_init(&ns, 1, 60);
	assert_int_equal(vw_names_want(&ns, "b.test", 0), 0);
	assert_int_equal(vw_names_want(&ns, "a.test", 0), 0);
	assert_int_equal(vw_names_want(&ns, "c.test", 0), 0);
	vw_names_begin(&ns);
	assert_int_equal(vw_names_want(&ns, "c.test", 0), 0);
	assert_int_equal(vw_names_sweep(&ns), 2);
	assert_null(vw_names_get(&ns, "a.test"));
	assert_non_null(vw_names_get(&ns, "c.test"));
	/* an answer for a forgotten name is ignored */
	assert_int_equal(
		vw_names_answer(&ns, "a.test", 0, VW_DNS_OK, (const uint8_t(*)[16])A1, 1, 5, 0), 0);
	vw_names_done(&ns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_due_and_ttl_clamp),
		cmocka_unit_test(test_names_failure_keeps_addresses),
		cmocka_unit_test(test_names_sweep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
