// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The reconcile state machine against a fake backend that refuses chosen containers, or
 * everything: revocations always apply, a refused container is isolated alone and stays
 * quarantined until its destinations change, the others keep theirs, and finding the
 * culprit costs a logarithmic number of transactions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "vpnwall/reconcile.h"
#include "vpnwall/ruleset.h"

struct fake {
	char poison[4][VW_KEY_LEN + 1]; /* refuse plans adding boxes to these */
	size_t n_poison;
	bool refuse_all;
	bool refuse_incremental; /* drift: until a full replacement went through */
	unsigned calls;
	unsigned refused;
};

static bool poisoned(const struct fake *f, const struct vw_rs_container *c)
{
	for (size_t i = 0; i < f->n_poison; i++)
		if (strcmp(f->poison[i], c->key) == 0)
			return true;
	return false;
}

static int fake_apply(void *ud, const struct vw_plan *p)
{
	struct fake *f = ud;
	bool reset = p->n > 0 && p->ops[0].type == VW_OP_RESET;

	f->calls++;
	if (f->refuse_all || (f->refuse_incremental && !reset))
		goto refuse;
	for (size_t i = 0; i < p->n; i++) {
		const struct vw_op *op = &p->ops[i];

		if ((op->type == VW_OP_BOXES_ADD && poisoned(f, op->c)) ||
		    (op->type == VW_OP_CONTAINER_ADD && poisoned(f, op->c) &&
		     vw_rs_container_boxes(op->c) > 0))
			goto refuse;
	}
	if (reset)
		f->refuse_incremental = false;
	return 0;
refuse:
	f->refused++;
	return -ENOMEM;
}

/* @n containers keyed 0..n-1, each allowed 198.51.100.<i>, dispatched from 198.18.0.<i>. */
static void desired(struct vw_ruleset *rs, size_t n, uint8_t variant)
{
	*rs = (struct vw_ruleset){ 0 };
	rs->containers = calloc(n + 1, sizeof(*rs->containers));
	rs->sources = calloc(n + 1, sizeof(*rs->sources));
	assert_non_null(rs->containers);
	assert_non_null(rs->sources);
	for (size_t i = 0; i < n; i++) {
		struct vw_rs_container *c = &rs->containers[i];
		struct vw_atoms a = { .family = AF_INET };
		uint8_t addr[16] = { 198, 51, 100, (uint8_t)i };

		snprintf(c->key, sizeof(c->key), "%016zx", i);
		c->dst[0].family = AF_INET;
		c->dst[1].family = AF_INET6;
		assert_int_equal(vw_atoms_add_prefix(&a, addr, 32, 0, 0, 0), 0);
		if (variant) {
			addr[2] = variant;
			assert_int_equal(vw_atoms_add_prefix(&a, addr, 32, 0, 0, 0), 0);
		}
		assert_true(vw_boxset_build(&a, 10, &c->dst[0]) > 0);
		vw_atoms_done(&a);
		rs->sources[i] = (struct vw_rs_source){ .family = AF_INET,
							.addr = { 198, 18, 0, (uint8_t)i } };
		memcpy(rs->sources[i].key, c->key, sizeof(c->key));
	}
	rs->n_containers = rs->n_sources = n;
}

static void test_reconcile_applies(void **state)
{
	struct fake f = { 0 };
	struct vw_reconcile rc;
	struct vw_ruleset rs;

	vw_reconcile_init(&rc, &(struct vw_backend){ .apply = fake_apply, .ud = &f });
	assert_true(rc.full);
	desired(&rs, 3, 0);
	assert_int_equal(vw_reconcile_step(&rc, &rs, 1000), 0);
	assert_int_equal(f.calls, 1);
	assert_int_equal(rc.generation, 1);
	assert_false(rc.full);
	assert_int_equal(rc.applied.n_containers, 3);
	/* the same state again sends nothing */
	desired(&rs, 3, 0);
	assert_int_equal(vw_reconcile_step(&rc, &rs, 1000), 0);
	assert_int_equal(f.calls, 1);
	assert_int_equal(rc.generation, 1);
	vw_reconcile_done(&rc);
}

/*
 * One of 64 new containers is refused. Everyone else gets their destinations, the refused
 * one is isolated with the kernel's reason, and a revocation in the same step applies.
 */
static void test_reconcile_isolates_the_refused(void **state)
{
	struct fake f = { .n_poison = 1 };
	struct vw_reconcile rc;
	struct vw_ruleset rs;
	const struct vw_rs_container *c;
	unsigned calls;

	snprintf(f.poison[0], sizeof(f.poison[0]), "%016x", 37);
	vw_reconcile_init(&rc, &(struct vw_backend){ .apply = fake_apply, .ud = &f });
	desired(&rs, 64, 0);
	assert_int_equal(vw_reconcile_step(&rc, &rs, 1000), 0);
	assert_int_equal(rc.applied.n_containers, 64);
	for (size_t i = 0; i < 64; i++) {
		c = &rc.applied.containers[i];
		if (i == 37) {
			assert_int_equal(vw_rs_container_boxes(c), 0);
			assert_non_null(strstr(c->isolated, "the kernel refused"));
			assert_non_null(strstr(c->isolated, strerror(ENOMEM)));
		} else {
			assert_int_equal(vw_rs_container_boxes(c), 1);
			assert_string_equal(c->isolated, "");
		}
	}
	assert_non_null(vw_reconcile_isolation(&rc, f.poison[0]));
	assert_null(vw_reconcile_isolation(&rc, "0000000000000001"));
	/* 1 refused + 1 with suspects isolated + a logarithmic search */
	assert_true(f.calls <= 3 + 2 * 6);
	assert_false(rc.full);
	assert_int_equal(rc.retry_at, 0);

	/* unchanged: the quarantined one is not retried, nothing is sent */
	calls = f.calls;
	desired(&rs, 64, 0);
	assert_int_equal(vw_reconcile_step(&rc, &rs, 2000), 0);
	assert_int_equal(f.calls, calls);
	c = vw_ruleset_find(&rc.applied, f.poison[0]);
	assert_non_null(strstr(c->isolated, "the kernel refused"));

	/* a revocation next to a refused change still applies: container 5 goes away */
	desired(&rs, 64, 7);
	vw_rs_container_done(&rs.containers[5]);
	memmove(&rs.containers[5], &rs.containers[6], 58 * sizeof(*rs.containers));
	memmove(&rs.sources[5], &rs.sources[6], 58 * sizeof(*rs.sources));
	rs.n_containers = rs.n_sources = 63;
	calls = f.calls;
	assert_int_equal(vw_reconcile_step(&rc, &rs, 3000), 0);
	assert_null(vw_ruleset_find(&rc.applied, "0000000000000005"));
	assert_null(vw_ruleset_source_find(&rc.applied, AF_INET, (uint8_t[]){ 198, 18, 0, 5 }));
	/* its destinations changed, so the refused one was tried again, and refused again */
	assert_true(f.calls > calls + 1);
	c = vw_ruleset_find(&rc.applied, f.poison[0]);
	assert_non_null(strstr(c->isolated, "the kernel refused"));
	c = vw_ruleset_find(&rc.applied, "0000000000000006");
	assert_int_equal(vw_rs_container_boxes(c), 2);

	/* the backend takes it now: destinations changed again, it gets them */
	f.n_poison = 0;
	desired(&rs, 64, 9);
	assert_int_equal(vw_reconcile_step(&rc, &rs, 4000), 0);
	c = vw_ruleset_find(&rc.applied, f.poison[0]);
	assert_int_equal(vw_rs_container_boxes(c), 2);
	assert_string_equal(c->isolated, "");
	assert_null(vw_reconcile_isolation(&rc, f.poison[0]));
	vw_reconcile_done(&rc);
}

/* Drift (the incremental change no longer fits the kernel): a full replacement follows. */
static void test_reconcile_drift_replaces(void **state)
{
	struct fake f = { 0 };
	struct vw_reconcile rc;
	struct vw_ruleset rs;

	vw_reconcile_init(&rc, &(struct vw_backend){ .apply = fake_apply, .ud = &f });
	desired(&rs, 4, 0);
	assert_int_equal(vw_reconcile_step(&rc, &rs, 1000), 0);
	f.refuse_incremental = true;
	desired(&rs, 4, 3);
	assert_int_equal(vw_reconcile_step(&rc, &rs, 2000), 0);
	assert_false(rc.full);
	/* nobody is left isolated: the refusal was not theirs */
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(vw_rs_container_boxes(&rc.applied.containers[i]), 2);
	vw_reconcile_done(&rc);
}

/* Nothing goes through: an error, a retry time with backoff, and a full replace next. */
static void test_reconcile_backend_down(void **state)
{
	struct fake f = { .refuse_all = true };
	struct vw_reconcile rc;
	struct vw_ruleset rs;

	vw_reconcile_init(&rc, &(struct vw_backend){ .apply = fake_apply, .ud = &f });
	desired(&rs, 2, 0);
	assert_int_equal(vw_reconcile_step(&rc, &rs, 1000), -ENOMEM);
	assert_true(rc.full);
	assert_int_equal(rc.retry_at, 2000);
	assert_int_equal(rc.last_error, -ENOMEM);
	desired(&rs, 2, 0);
	assert_int_equal(vw_reconcile_step(&rc, &rs, 2000), -ENOMEM);
	assert_int_equal(rc.retry_at, 4000);
	assert_false(rc.have_applied);

	f.refuse_all = false;
	desired(&rs, 2, 0);
	assert_int_equal(vw_reconcile_step(&rc, &rs, 4000), 0);
	assert_int_equal(rc.retry_at, 0);
	assert_int_equal(rc.applied.n_containers, 2);
	vw_reconcile_done(&rc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconcile_applies),
		cmocka_unit_test(test_reconcile_isolates_the_refused),
		cmocka_unit_test(test_reconcile_drift_replaces),
		cmocka_unit_test(test_reconcile_backend_down),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
