// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Generation accounting: lost notifications are harmless only when every commit since the
 * last accounted one was ours.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vpnwall/genwatch.h"

static void test_genwatch_in_order(void **state)
{
	struct vw_genwatch w;

	vw_genwatch_init(&w, 100);
	vw_genwatch_own_commit(&w);
	assert_false(vw_genwatch_newgen(&w, 101, true));
	assert_int_equal(w.own_pending, 0);
	assert_false(vw_genwatch_newgen(&w, 102, false)); /* someone else, read in full */
	assert_false(vw_genwatch_newgen(&w, 102, false)); /* already accounted */
	assert_true(vw_genwatch_newgen(&w, 104, false)); /* 103 never showed up */
	assert_int_equal(w.known, 104);
}

/* The review's case: a foreign commit (the dormant flag) just before our big one, lost. */
static void test_genwatch_lost_foreign_before_ours(void **state)
{
	struct vw_genwatch w;

	vw_genwatch_init(&w, 10);
	/* 11: someone else; 12: us. Both notifications overflow the socket. */
	vw_genwatch_own_commit(&w);
	assert_true(vw_genwatch_lost(&w, 12));
	assert_int_equal(w.known, 12);
	assert_int_equal(w.own_pending, 0);
}

static void test_genwatch_lost_only_ours(void **state)
{
	struct vw_genwatch w;

	vw_genwatch_init(&w, 10);
	vw_genwatch_own_commit(&w);
	vw_genwatch_own_commit(&w);
	assert_false(vw_genwatch_lost(&w, 12));
	/* what was queued after the loss is old news */
	assert_false(vw_genwatch_newgen(&w, 12, true));
	assert_int_equal(w.own_pending, 0);
}

static void test_genwatch_wraps(void **state)
{
	struct vw_genwatch w;

	vw_genwatch_init(&w, UINT32_MAX - 1);
	vw_genwatch_own_commit(&w);
	vw_genwatch_own_commit(&w);
	assert_false(vw_genwatch_lost(&w, 0));
	assert_false(vw_genwatch_newgen(&w, 1, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_genwatch_in_order),
		cmocka_unit_test(test_genwatch_lost_foreign_before_ours),
		cmocka_unit_test(test_genwatch_lost_only_ours),
		cmocka_unit_test(test_genwatch_wraps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
