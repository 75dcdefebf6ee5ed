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
	vw_ruleset_done(rs);
	for (size_t i = 0; i < n; i++) {
		struct vw_rs_container *c = vw_rs_container_new();
		struct vw_atoms a = { .family = AF_INET };
		uint8_t addr[16] = { 198, 51, 100, (uint8_t)i };
		struct vw_rs_source s = { .family = AF_INET, .addr = { 198, 18, 0, (uint8_t)i } };

		assert_non_null(c);
		snprintf(c->key, sizeof(c->key), "%016zx", i);
		assert_int_equal(vw_atoms_add_prefix(&a, addr, 32, 0, 0, 0), 0);
		if (variant) {
			addr[2] = variant;
			assert_int_equal(vw_atoms_add_prefix(&a, addr, 32, 0, 0, 0), 0);
		}
		assert_true(vw_boxset_build(&a, 10, &c->dst[0]) > 0);
		vw_atoms_done(&a);
		assert_int_equal(vw_ruleset_put(rs, c), 0);
		vw_rs_container_unref(c);
		memcpy(s.key, c->key, sizeof(c->key));
		assert_int_equal(vw_ruleset_put_source(rs, &s), 0);
	}
}

static void test_reconcile_applies(void **state)
{
	struct fake f = { 0 };
	struct vw_reconcile rc;
	struct vw_ruleset rs = { 0 };

	vw_reconcile_init(&rc, &(struct vw_backend){ .apply = fake_apply, .ud = &f });
	assert_true(rc.full);
	desired(&rs, 3, 0);
	assert_int_equal(vw_reconcile_step(&rc, &rs, NULL, 1000), 0);
	assert_int_equal(f.calls, 1);
	assert_int_equal(rc.generation, 1);
	assert_false(rc.full);
	assert_int_equal(rc.applied.n_containers, 3);
	/* the same state again sends nothing */
	desired(&rs, 3, 0);
	assert_int_equal(vw_reconcile_step(&rc, &rs, NULL, 1000), 0);
	assert_int_equal(f.calls, 1);
	assert_int_equal(rc.generation, 1);
	vw_reconcile_done(&rc);
	vw_ruleset_done(&rs);
}

/*
 * One of 64 new containers is refused. Everyone else gets their destinations, the refused
 * one is isolated with the kernel's reason, and a revocation in the same step applies.
 */
static void test_reconcile_isolates_the_refused(void **state)
{
	struct fake f = { .n_poison = 1 };
	struct vw_reconcile rc;
	struct vw_ruleset rs = { 0 };
	const struct vw_rs_container *c;
	unsigned calls;

	snprintf(f.poison[0], sizeof(f.poison[0]), "%016x", 37);
	vw_reconcile_init(&rc, &(struct vw_backend){ .apply = fake_apply, .ud = &f });
	desired(&rs, 64, 0);
	assert_int_equal(vw_reconcile_step(&rc, &rs, NULL, 1000), 0);
	assert_int_equal(rc.applied.n_containers, 64);
	for (size_t i = 0; i < 64; i++) {
		c = rc.applied.containers[i];
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
	assert_int_equal(vw_reconcile_step(&rc, &rs, NULL, 2000), 0);
	assert_int_equal(f.calls, calls);
	c = vw_ruleset_find(&rc.applied, f.poison[0]);
	assert_non_null(strstr(c->isolated, "the kernel refused"));

	/* a revocation next to a refused change still applies: container 5 goes away */
	desired(&rs, 64, 7);
	assert_true(vw_ruleset_remove(&rs, "0000000000000005"));
	assert_true(vw_ruleset_remove_source(&rs, AF_INET, (uint8_t[]){ 198, 18, 0, 5 }));
	calls = f.calls;
	assert_int_equal(vw_reconcile_step(&rc, &rs, NULL, 3000), 0);
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
	assert_int_equal(vw_reconcile_step(&rc, &rs, NULL, 4000), 0);
	c = vw_ruleset_find(&rc.applied, f.poison[0]);
	assert_int_equal(vw_rs_container_boxes(c), 2);
	assert_string_equal(c->isolated, "");
	assert_null(vw_reconcile_isolation(&rc, f.poison[0]));
	vw_reconcile_done(&rc);
	vw_ruleset_done(&rs);
}

/* Drift (the incremental change no longer fits the kernel): a full replacement follows. */
static void test_reconcile_drift_replaces(void **state)
{
	struct fake f = { 0 };
	struct vw_reconcile rc;
	struct vw_ruleset rs = { 0 };

	vw_reconcile_init(&rc, &(struct vw_backend){ .apply = fake_apply, .ud = &f });
	desired(&rs, 4, 0);
	assert_int_equal(vw_reconcile_step(&rc, &rs, NULL, 1000), 0);
	f.refuse_incremental = true;
	desired(&rs, 4, 3);
	assert_int_equal(vw_reconcile_step(&rc, &rs, NULL, 2000), 0);
	assert_false(rc.full);
	/* nobody is left isolated: the refusal was not theirs */
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(vw_rs_container_boxes(rc.applied.containers[i]), 2);
	vw_reconcile_done(&rc);
	vw_ruleset_done(&rs);
}

/* Nothing goes through: an error, a retry time with backoff, and a full replace next. */
static void test_reconcile_backend_down(void **state)
{
	struct fake f = { .refuse_all = true };
	struct vw_reconcile rc;
	struct vw_ruleset rs = { 0 };

	vw_reconcile_init(&rc, &(struct vw_backend){ .apply = fake_apply, .ud = &f });
	desired(&rs, 2, 0);
	assert_int_equal(vw_reconcile_step(&rc, &rs, NULL, 1000), -ENOMEM);
	assert_true(rc.full);
	assert_int_equal(rc.retry_at, 2000);
	assert_int_equal(rc.last_error, -ENOMEM);
	desired(&rs, 2, 0);
	assert_int_equal(vw_reconcile_step(&rc, &rs, NULL, 2000), -ENOMEM);
	assert_int_equal(rc.retry_at, 4000);
	assert_false(rc.have_applied);

	f.refuse_all = false;
	desired(&rs, 2, 0);
	assert_int_equal(vw_reconcile_step(&rc, &rs, NULL, 4000), 0);
	assert_int_equal(rc.retry_at, 0);
	assert_int_equal(rc.applied.n_containers, 2);
	vw_reconcile_done(&rc);
	vw_ruleset_done(&rs);
}

struct heard {
	uint64_t gens[8];
	bool ok[8];
	size_t n;
};

static void heard(void *ud, uint64_t gen, bool ok)
{
	struct heard *h = ud;

	h->gens[h->n] = gen;
	h->ok[h->n++] = ok;
}

/* A change's generation is acknowledged by the step that puts it in the backend, not before. */
static void test_reconcile_generations(void **state)
{
	struct fake f = { 0 };
	struct vw_reconcile rc;
	struct vw_ruleset rs = { 0 };
	struct heard h = { 0 };
	uint64_t g1, g2;

	vw_reconcile_init(&rc, &(struct vw_backend){ .apply = fake_apply, .ud = &f });
	desired(&rs, 2, 0);
	g1 = vw_reconcile_want(&rc);
	assert_int_equal(vw_reconcile_when_applied(&rc, g1, heard, &h), 0);
	assert_int_equal(h.n, 0);
	f.refuse_all = true;
	assert_true(vw_reconcile_step(&rc, &rs, NULL, 1000) < 0);
	assert_int_equal(h.n, 0); /* refused: not acknowledged */
	f.refuse_all = false;
	g2 = vw_reconcile_want(&rc);
	assert_int_equal(vw_reconcile_when_applied(&rc, g2, heard, &h), 0);
	assert_int_equal(vw_reconcile_step(&rc, &rs, NULL, 2000), 0);
	assert_int_equal(h.n, 2);
	assert_true(h.gens[0] == g1 && h.ok[0]);
	assert_true(h.gens[1] == g2 && h.ok[1]);
	/* already acknowledged: told at once */
	assert_int_equal(vw_reconcile_when_applied(&rc, g1, heard, &h), 0);
	assert_int_equal(h.n, 3);
	/* torn down before it happens: told it will not */
	assert_int_equal(vw_reconcile_when_applied(&rc, vw_reconcile_want(&rc), heard, &h), 0);
	vw_reconcile_done(&rc);
	assert_int_equal(h.n, 4);
	assert_false(h.ok[3]);
	vw_ruleset_done(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconcile_applies),
		cmocka_unit_test(test_reconcile_isolates_the_refused),
		cmocka_unit_test(test_reconcile_drift_replaces),
		cmocka_unit_test(test_reconcile_backend_down),
		cmocka_unit_test(test_reconcile_generations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
