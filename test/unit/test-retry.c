// SPDX-License-Identifier: GPL-2.0-or-later
/* Retrying what enforcement does not wait for: backoff doubles to a cap, success stops it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>

#include <cmocka.h>

#include "vpnwall/retry.h"

static void test_retry_backoff(void **state)
{
	struct vw_retry r = { .wanted = true }, v[2] = { { .wanted = true }, { .wanted = false } };
	uint64_t now = 1000;

	assert_true(vw_retry_due(&r, now));
	/* the first failure is worth a log line, the next ones are not */
	assert_int_equal(vw_retry_result(&r, -EADDRINUSE, now), -1);
	assert_string_equal(r.error, "Address already in use");
	assert_int_equal(r.at, now + VW_RETRY_MIN_MS);
	assert_false(vw_retry_due(&r, now + VW_RETRY_MIN_MS - 1));
	assert_true(vw_retry_due(&r, now + VW_RETRY_MIN_MS));
	for (int i = 0; i < 10; i++)
		assert_int_equal(vw_retry_result(&r, -EADDRINUSE, now), 0);
	assert_int_equal(r.backoff_ms, VW_RETRY_MAX_MS); /* capped */
	/* success after failures: worth a line; then never due again */
	assert_int_equal(vw_retry_result(&r, 0, now), 1);
	assert_true(r.up);
	assert_string_equal(r.error, "");
	assert_false(vw_retry_due(&r, UINT64_MAX));

	/* the earliest scheduled try; not-wanted ones never count */
	assert_int_equal(vw_retry_deadline(v, 2), 0);
	(void)vw_retry_result(&v[0], -EACCES, 5000);
	v[1].at = 10;
	assert_int_equal(vw_retry_deadline(v, 2), 5000 + VW_RETRY_MIN_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
