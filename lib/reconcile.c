// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reconcile steps. The common case is one diff and one transaction. Only a refusal takes
 * the slow path: isolate the suspects, commit, then give their destinations back in halves
 * (each half one small transaction of added elements), so k bad containers among n cost
 * O(k log n) transactions and the good ones lose nothing but a moment.
 */
#include "vpnwall/reconcile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/hashmap.h"
#include "vpnwall/util.h"

#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000

/* The destinations a suspect had before it was isolated. */
struct saved {
	char key[VW_KEY_LEN + 1];
	struct vw_boxset dst[2];
	uint64_t fingerprint;
};

void vw_reconcile_init(struct vw_reconcile *rc, const struct vw_backend *be)
{
	*rc = (struct vw_reconcile){ .be = *be, .full = true, .retry_ms = RETRY_MIN_MS };
}

void vw_reconcile_done(struct vw_reconcile *rc)
{
	vw_ruleset_done(&rc->applied);
	free(rc->quarantine);
	*rc = (struct vw_reconcile){ 0 };
}

void vw_reconcile_force_full(struct vw_reconcile *rc)
{
	rc->full = true;
}

static uint64_t fingerprint(const struct vw_rs_container *c)
{
	uint64_t h = c->audit ? 0x5bd1e995u : 0;

	for (int f = 0; f < 2; f++)
		if (c->dst[f].n)
			h = h * 31 + vw_hash(c->dst[f].v, c->dst[f].n * sizeof(*c->dst[f].v));
	return h;
}

static struct vw_quarantined *quarantine_find(const struct vw_reconcile *rc, const char *key,
					      size_t *ret_pos)
{
	size_t lo = 0, hi = rc->n_quarantined;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, rc->quarantine[mid].key);

		if (c == 0)
			return &rc->quarantine[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (ret_pos)
		*ret_pos = lo;
	return NULL;
}

static void quarantine_add(struct vw_reconcile *rc, const struct saved *s, const char *reason)
{
	struct vw_quarantined *q;
	size_t pos = 0;

	q = quarantine_find(rc, s->key, &pos);
	if (!q) {
		/* Without room it is merely not remembered: the next step tries it again. */
		if (vw_grow((void **)&rc->quarantine, &rc->cap_quarantined, rc->n_quarantined + 1,
			    sizeof(*rc->quarantine), 1u << 16) < 0)
			return;
		memmove(&rc->quarantine[pos + 1], &rc->quarantine[pos],
			(rc->n_quarantined - pos) * sizeof(*rc->quarantine));
		rc->n_quarantined++;
		q = &rc->quarantine[pos];
		(void)vw_strscpy(q->key, s->key, sizeof(q->key));
	}
	q->fingerprint = s->fingerprint;
	(void)vw_strscpy(q->reason, reason, sizeof(q->reason));
}

const char *vw_reconcile_isolation(const struct vw_reconcile *rc, const char *key)
{
	const struct vw_quarantined *q = quarantine_find(rc, key, NULL);

	return q ? q->reason : NULL;
}

/*
 * Isolate quarantined containers whose destinations are what the backend refused; forget
 * quarantines of containers that are gone or whose destinations changed (worth a try).
 */
static void apply_quarantine(struct vw_reconcile *rc, struct vw_ruleset *desired)
{
	size_t out = 0;

	for (size_t i = 0; i < rc->n_quarantined; i++) {
		struct vw_quarantined *q = &rc->quarantine[i];
		struct vw_rs_container *c =
			(struct vw_rs_container *)vw_ruleset_find(desired, q->key);

		if (!c || c->isolated[0] || fingerprint(c) != q->fingerprint)
			continue;
		vw_rs_container_isolate(c, q->reason);
		rc->quarantine[out++] = *q;
	}
	rc->n_quarantined = out;
}

/* Diff against what the backend holds and commit; on success @desired becomes applied. */
static int commit(struct vw_reconcile *rc, struct vw_ruleset *desired)
{
	struct vw_plan plan;
	size_t n;
	int r;

	r = vw_ruleset_diff(rc->have_applied && !rc->full ? &rc->applied : NULL, desired, &plan);
	if (r < 0)
		return r;
	n = plan.n;
	r = n ? rc->be.apply(rc->be.ud, &plan) : 0;
	vw_plan_done(&plan);
	if (r < 0) {
		rc->failures++;
		rc->last_error = r;
		return r;
	}
	if (n)
		rc->generation++;
	vw_ruleset_done(&rc->applied);
	rc->applied = *desired;
	*desired = (struct vw_ruleset){ 0 };
	rc->have_applied = true;
	rc->full = false;
	rc->last_error = 0;
	return 0;
}

static bool same_boxes(const struct vw_boxset *a, const struct vw_boxset *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof(*a->v)) == 0);
}

/* New or changed destinations: what a refusal can be blamed on. */
static bool is_suspect(const struct vw_reconcile *rc, const struct vw_rs_container *c)
{
	const struct vw_rs_container *old;

	if (vw_rs_container_boxes(c) == 0)
		return false;
	old = rc->have_applied && !rc->full ? vw_ruleset_find(&rc->applied, c->key) : NULL;
	return !old || old->audit != c->audit || !same_boxes(&old->dst[0], &c->dst[0]) ||
	       !same_boxes(&old->dst[1], &c->dst[1]);
}

/* Move the suspects' destinations out of @desired into a list, isolating them. */
static int isolate_suspects(struct vw_reconcile *rc, struct vw_ruleset *desired, int err,
			    struct saved **ret, size_t *ret_n)
{
	struct saved *v = NULL;
	size_t n = 0, cap = 0;
	char why[128];
	int r;

	snprintf(why, sizeof(why), "the kernel refused its destinations (%s)", strerror(-err));
	for (size_t i = 0; i < desired->n_containers; i++) {
		struct vw_rs_container *c = &desired->containers[i];
		struct saved *s;

		if (!is_suspect(rc, c))
			continue;
		r = vw_grow((void **)&v, &cap, n + 1, sizeof(*v), SIZE_MAX / sizeof(*v));
		if (r < 0) {
			/* Isolated without a way back: the next step restores it. */
			vw_rs_container_done(c);
			vw_rs_container_isolate(c, why);
			continue;
		}
		s = &v[n++];
		*s = (struct saved){ .fingerprint = fingerprint(c) };
		memcpy(s->key, c->key, sizeof(s->key));
		for (int f = 0; f < 2; f++) {
			s->dst[f] = c->dst[f];
			c->dst[f] = (struct vw_boxset){ .family = s->dst[f].family };
		}
		(void)vw_strscpy(c->isolated, why, sizeof(c->isolated));
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static void saved_free(struct saved *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		vw_boxset_done(&v[i].dst[0]);
		vw_boxset_done(&v[i].dst[1]);
	}
	free(v);
}

/* Give suspects [lo, hi) their destinations back in one transaction. */
static int restore(struct vw_reconcile *rc, struct saved *v, size_t lo, size_t hi)
{
	struct vw_plan plan = { 0 };
	size_t cap = 0;
	int r = 0;

	for (size_t i = lo; r >= 0 && i < hi; i++) {
		const struct vw_rs_container *c = vw_ruleset_find(&rc->applied, v[i].key);

		for (int f = 0; c && r >= 0 && f < 2; f++) {
			struct vw_op op = { .type = VW_OP_BOXES_ADD,
					    .c = c,
					    .family = v[i].dst[f].family,
					    .n_boxes = v[i].dst[f].n };

			if (!op.n_boxes)
				continue;
			op.boxes = malloc(op.n_boxes * sizeof(*op.boxes));
			r = vw_grow((void **)&plan.ops, &cap, plan.n + 1, sizeof(*plan.ops),
				    SIZE_MAX / sizeof(*plan.ops));
			if (!op.boxes || r < 0) {
				free(op.boxes);
				r = -ENOMEM;
				break;
			}
			memcpy(op.boxes, v[i].dst[f].v, op.n_boxes * sizeof(*op.boxes));
			plan.ops[plan.n++] = op;
		}
	}
	plan.cap = cap;
	if (r >= 0 && plan.n)
		r = rc->be.apply(rc->be.ud, &plan);
	vw_plan_done(&plan);
	if (r < 0)
		return r;
	rc->generation++;
	for (size_t i = lo; i < hi; i++) {
		struct vw_rs_container *c =
			(struct vw_rs_container *)vw_ruleset_find(&rc->applied, v[i].key);

		if (!c)
			continue;
		for (int f = 0; f < 2; f++) {
			vw_boxset_done(&c->dst[f]);
			c->dst[f] = v[i].dst[f];
			v[i].dst[f] = (struct vw_boxset){ .family = c->dst[f].family };
		}
		c->isolated[0] = '\0';
	}
	return 0;
}

/* Restore what the backend accepts; quarantine each suspect it refuses on its own. */
static void bisect(struct vw_reconcile *rc, struct saved *v, size_t lo, size_t hi)
{
	char why[128];
	int r;

	if (lo >= hi)
		return;
	r = restore(rc, v, lo, hi);
	if (r >= 0)
		return;
	if (hi - lo == 1) {
		snprintf(why, sizeof(why), "the kernel refused its destinations (%s)",
			 strerror(-r));
		quarantine_add(rc, &v[lo], why);
		rc->failures++;
		return;
	}
	bisect(rc, v, lo, lo + (hi - lo) / 2);
	bisect(rc, v, lo + (hi - lo) / 2, hi);
}

/*
 * Not even a full replacement went through. Revocations must still take effect: try the
 * base alone (nothing dispatched, every policed packet dropped) before waiting to retry.
 */
static int give_up(struct vw_reconcile *rc, struct vw_ruleset *desired, int r, uint64_t now)
{
	for (size_t i = 0; i < desired->n_containers; i++)
		vw_rs_container_done(&desired->containers[i]);
	desired->n_containers = 0;
	desired->n_sources = 0;
	rc->full = true;
	(void)commit(rc, desired);
	vw_ruleset_done(desired);
	rc->full = true;
	rc->retry_at = now + rc->retry_ms;
	rc->retry_ms = rc->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : rc->retry_ms * 2;
	return r;
}

int vw_reconcile_step(struct vw_reconcile *rc, struct vw_ruleset *desired, uint64_t now)
{
	struct saved *v = NULL;
	size_t n = 0;
	int r;

	apply_quarantine(rc, desired);
	r = commit(rc, desired);
	if (r < 0) {
		(void)isolate_suspects(rc, desired, r, &v, &n);
		/* Nothing to blame, or isolating did not help: the backend may have drifted. */
		r = commit(rc, desired);
		if (r < 0 && !rc->full) {
			rc->full = true;
			r = commit(rc, desired);
		}
		if (r < 0) {
			saved_free(v, n);
			return give_up(rc, desired, r, now);
		}
		bisect(rc, v, 0, n);
		saved_free(v, n);
	}
	rc->retry_at = 0;
	rc->retry_ms = RETRY_MIN_MS;
	return 0;
}
