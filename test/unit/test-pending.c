// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The event-to-commit clock: it runs from the first event of a container, stops at the
 * first commit after the outcome is known, and never before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>

#include <cmocka.h>

#include "vpnwall/pending.h"

struct seen {
	double s[8];
	int n;
};

static void seen(void *ud, double s)
{
	struct seen *x = ud;

	x->s[x->n++] = s;
}

static void test_pending_clock(void **state)
{
	struct vw_pending p = { 0 };
	struct seen x = { 0 };

	vw_pending_note(&p, "aa", 1000000000);
	vw_pending_note(&p, "aa", 1500000000); /* a second event does not reset it */
	vw_pending_note(&p, "bb", 1200000000);
	vw_pending_committed(&p, 1300000000, seen, &x);
	assert_int_equal(x.n, 0); /* nothing known yet: nothing enforced */
	vw_pending_known(&p, "aa");
	vw_pending_known(&p, "zz"); /* never noted: ignored */
	vw_pending_committed(&p, 2000000000, seen, &x);
	assert_int_equal(x.n, 1);
	assert_true(x.s[0] > 0.999 && x.s[0] < 1.001);
	vw_pending_known(&p, "bb");
	vw_pending_committed(&p, 2200000000, seen, &x);
	assert_int_equal(x.n, 2);
	assert_true(x.s[1] > 0.999 && x.s[1] < 1.001);
	assert_int_equal(p.n, 0);
	vw_pending_done(&p);
}

static void test_pending_cap(void **state)
{
	struct vw_pending p = { 0 };
	char id[16];

	for (int i = 0; i < VW_PENDING_MAX + 100; i++) {
		snprintf(id, sizeof(id), "%d", i);
		vw_pending_note(&p, id, 1);
	}
	assert_int_equal(p.n, VW_PENDING_MAX);
	vw_pending_done(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pending_clock),
		cmocka_unit_test(test_pending_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
