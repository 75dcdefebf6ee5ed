// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reconcile steps. The common case is one diff over what changed and one transaction. Only
 * a refusal takes the slow path: isolate the suspects, commit, then give their destinations
 * back in halves (each half one small transaction of added elements), so k bad containers
 * among n cost O(k log n) transactions and the good ones lose nothing but a moment.
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

/* A suspect: its compiled container, put aside while an isolated copy stands in for it. */
struct saved {
	struct vw_rs_container *c; /* one reference */
	uint64_t fingerprint;
};

void vw_reconcile_init(struct vw_reconcile *rc, const struct vw_backend *be)
{
	*rc = (struct vw_reconcile){ .be = *be, .full = true, .retry_ms = RETRY_MIN_MS };
}

void vw_reconcile_done(struct vw_reconcile *rc)
{
	/* Nobody waits forever: whoever still waits hears that it will not happen. */
	for (size_t i = 0; i < rc->n_waiters; i++)
		rc->waiters[i].fn(rc->waiters[i].ud, rc->waiters[i].gen, false);
	free(rc->waiters);
	vw_ruleset_done(&rc->applied);
	vw_revocations_done(&rc->revoked);
	free(rc->quarantine);
	*rc = (struct vw_reconcile){ 0 };
}

uint64_t vw_reconcile_want(struct vw_reconcile *rc)
{
	return ++rc->wanted;
}

int vw_reconcile_when_applied(struct vw_reconcile *rc, uint64_t gen, vw_applied_fn fn, void *ud)
{
	int r;

	if (gen <= rc->acked) {
		fn(ud, gen, true);
		return 0;
	}
	r = vw_grow((void **)&rc->waiters, &rc->cap_waiters, rc->n_waiters + 1,
		    sizeof(*rc->waiters), 1u << 20);
	if (r < 0)
		return r;
	rc->waiters[rc->n_waiters++] = (struct vw_waiter){ .gen = gen, .fn = fn, .ud = ud };
	return 0;
}

/* Generation @gen is in the backend: tell whoever waited for it or an earlier one. */
static void acknowledge(struct vw_reconcile *rc, uint64_t gen)
{
	size_t out = 0, n;

	if (gen > rc->acked)
		rc->acked = gen;
	/* Callbacks may register new waiters: only those present now are looked at. */
	n = rc->n_waiters;
	for (size_t i = 0; i < n; i++) {
		struct vw_waiter w = rc->waiters[i];

		if (w.gen <= rc->acked)
			w.fn(w.ud, w.gen, true);
		else
			rc->waiters[out++] = w;
	}
	if (out < n) {
		memmove(&rc->waiters[out], &rc->waiters[n],
			(rc->n_waiters - n) * sizeof(*rc->waiters));
		rc->n_waiters -= n - out;
	}
}

void vw_reconcile_force_full(struct vw_reconcile *rc)
{
	rc->full = true;
}

static uint64_t fingerprint(const struct vw_rs_container *c)
{
	uint64_t h = c->audit ? 0x5bd1e995u : 0;

	for (int i = 0; i < VW_BOXSETS; i++)
		if (c->dst[i].n)
			h = h * 31 + vw_hash(c->dst[i].v, c->dst[i].n * sizeof(*c->dst[i].v));
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

	q = quarantine_find(rc, s->c->key, &pos);
	if (!q) {
		/* Without room it is merely not remembered: the next step tries it again. */
		if (vw_grow((void **)&rc->quarantine, &rc->cap_quarantined, rc->n_quarantined + 1,
			    sizeof(*rc->quarantine), 1u << 16) < 0)
			return;
		memmove(&rc->quarantine[pos + 1], &rc->quarantine[pos],
			(rc->n_quarantined - pos) * sizeof(*rc->quarantine));
		rc->n_quarantined++;
		q = &rc->quarantine[pos];
		(void)vw_strscpy(q->key, s->c->key, sizeof(q->key));
	}
	q->fingerprint = s->fingerprint;
	(void)vw_strscpy(q->reason, reason, sizeof(q->reason));
}

static void quarantine_del(struct vw_reconcile *rc, struct vw_quarantined *q)
{
	size_t i = (size_t)(q - rc->quarantine);

	memmove(q, q + 1, (rc->n_quarantined - i - 1) * sizeof(*q));
	rc->n_quarantined--;
}

const char *vw_reconcile_isolation(const struct vw_reconcile *rc, const char *key)
{
	const struct vw_quarantined *q = quarantine_find(rc, key, NULL);

	return q ? q->reason : NULL;
}

/* Put an isolated copy of @c in its place in @rs. The original is not touched. */
static int isolate_in(struct vw_ruleset *rs, const struct vw_rs_container *c, const char *why)
{
	struct vw_rs_container *iso = vw_rs_container_new();
	int r;

	if (!iso)
		return -ENOMEM;
	memcpy(iso->key, c->key, sizeof(iso->key));
	memcpy(iso->id, c->id, sizeof(iso->id));
	memcpy(iso->name, c->name, sizeof(iso->name));
	memcpy(iso->note, c->note, sizeof(iso->note));
	iso->audit = c->audit;
	(void)vw_strscpy(iso->isolated, why, sizeof(iso->isolated));
	r = vw_ruleset_put(rs, iso);
	vw_rs_container_unref(iso);
	return r;
}

/*
 * Isolate quarantined containers whose destinations are what the backend refused; forget
 * quarantines of containers that are gone or whose destinations changed (worth a try).
 * Only what changed is looked at: the others are as they were.
 */
static void apply_quarantine(struct vw_reconcile *rc, struct vw_ruleset *desired,
			     const struct vw_changes *ch)
{
	for (size_t i = 0; i < rc->n_quarantined;) {
		struct vw_quarantined *q = &rc->quarantine[i];
		const struct vw_rs_container *c;
		bool found;

		if (ch) {
			found = false;
			for (size_t lo = 0, hi = ch->n_keys; lo < hi && !found;) {
				size_t mid = lo + (hi - lo) / 2;
				int cmp = strcmp(q->key, ch->keys[mid]);

				if (cmp == 0)
					found = true;
				else if (cmp < 0)
					hi = mid;
				else
					lo = mid + 1;
			}
			if (!found) {
				i++;
				continue;
			}
		}
		c = vw_ruleset_find(desired, q->key);
		if (!c || c->isolated[0] || fingerprint(c) != q->fingerprint) {
			quarantine_del(rc, q);
			continue;
		}
		if (isolate_in(desired, c, q->reason) < 0)
			rc->full = true;
		i++;
	}
}

/* Diff against what the backend holds and commit; on success the backend holds @desired. */
static int commit(struct vw_reconcile *rc, const struct vw_ruleset *desired,
		  const struct vw_changes *ch)
{
	bool full = rc->full || !rc->have_applied;
	struct vw_plan plan;
	size_t n;
	int r;

	r = vw_ruleset_diff(full ? NULL : &rc->applied, desired, full ? NULL : ch, &plan);
	if (r < 0)
		return r;
	n = plan.n;
	r = n ? rc->be.apply(rc->be.ud, &plan) : 0;
	for (size_t i = 0; r >= 0 && i < n; i++)
		if (plan.ops[i].type == VW_OP_RESET) {
			rc->replacements++;
			break;
		}
	if (r >= 0 && vw_plan_revocations(&plan, &rc->revoked) < 0)
		rc->revoked.judge.all = true; /* out of memory: better too many than too few */
	vw_plan_done(&plan);
	if (r < 0) {
		rc->failures++;
		rc->last_error = r;
		return r;
	}
	if (n)
		rc->generation++;
	r = vw_ruleset_adopt(&rc->applied, desired, full ? NULL : ch);
	if (r < 0) {
		/* We no longer know what the backend holds: say so. */
		rc->full = true;
		return r;
	}
	rc->have_applied = true;
	rc->full = false;
	rc->last_error = 0;
	return 0;
}

/* New or changed destinations: what a refusal can be blamed on. */
static bool is_suspect(const struct vw_reconcile *rc, const struct vw_rs_container *c)
{
	const struct vw_rs_container *old;

	if (vw_rs_container_boxes(c) == 0)
		return false;
	old = rc->have_applied && !rc->full ? vw_ruleset_find(&rc->applied, c->key) : NULL;
	if (!old || old->audit != c->audit)
		return true;
	for (int i = 0; i < VW_BOXSETS; i++)
		if (!vw_boxset_same(&old->dst[i], &c->dst[i]))
			return true;
	return false;
}

static int add_suspect(struct saved **v, size_t *n, size_t *cap, struct vw_rs_container *c)
{
	int r;

	r = vw_grow((void **)v, cap, *n + 1, sizeof(**v), SIZE_MAX / sizeof(**v));
	if (r < 0)
		return r;
	(*v)[(*n)++] = (struct saved){ .c = vw_rs_container_ref(c), .fingerprint = fingerprint(c) };
	return 0;
}

/* Isolate the suspects among what @ch marks (everything when NULL), keeping the originals. */
static void isolate_suspects(struct vw_reconcile *rc, struct vw_ruleset *desired,
			     const struct vw_changes *ch, int err, struct saved **ret,
			     size_t *ret_n)
{
	size_t n_keys = ch ? ch->n_keys : desired->n_containers, n = 0, cap = 0;
	struct saved *v = NULL;
	char why[128];

	snprintf(why, sizeof(why), "the kernel refused its destinations (%s)", strerror(-err));
	for (size_t i = 0; i < n_keys; i++) {
		struct vw_rs_container *c =
			ch ? vw_ruleset_find(desired, ch->keys[i]) : desired->containers[i];

		if (!c || !is_suspect(rc, c))
			continue;
		/* Without a way back it is isolated all the same: the next change restores it. */
		if (add_suspect(&v, &n, &cap, c) < 0) {
			(void)isolate_in(desired, c, why);
			continue;
		}
		if (isolate_in(desired, c, why) < 0)
			rc->full = true;
	}
	*ret = v;
	*ret_n = n;
}

static void saved_free(struct saved *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vw_rs_container_unref(v[i].c);
	free(v);
}

/* Give suspects [lo, hi) their destinations back in one transaction. */
static int restore(struct vw_reconcile *rc, struct vw_ruleset *desired, struct saved *v, size_t lo,
		   size_t hi)
{
	struct vw_plan plan = { 0 };
	int r = 0;

	for (size_t i = lo; r >= 0 && i < hi; i++) {
		const struct vw_rs_container *c = vw_ruleset_find(&rc->applied, v[i].c->key);

		for (int k = 0; c && r >= 0 && k < VW_BOXSETS; k++) {
			struct vw_op op = { .type = VW_OP_BOXES_ADD,
					    .c = c,
					    .family = v[i].c->dst[k].family,
					    .path = v[i].c->dst[k].path,
					    .n_boxes = v[i].c->dst[k].n };

			if (!op.n_boxes)
				continue;
			op.boxes = malloc(op.n_boxes * sizeof(*op.boxes));
			r = vw_grow((void **)&plan.ops, &plan.cap, plan.n + 1, sizeof(*plan.ops),
				    SIZE_MAX / sizeof(*plan.ops));
			if (!op.boxes || r < 0) {
				free(op.boxes);
				r = -ENOMEM;
				break;
			}
			memcpy(op.boxes, v[i].c->dst[k].v, op.n_boxes * sizeof(*op.boxes));
			plan.ops[plan.n++] = op;
		}
	}
	if (r >= 0 && plan.n)
		r = rc->be.apply(rc->be.ud, &plan);
	vw_plan_done(&plan);
	if (r < 0)
		return r;
	rc->generation++;
	/* The backend now holds the originals: both rulesets say so. */
	for (size_t i = lo; i < hi; i++)
		if (vw_ruleset_put(&rc->applied, v[i].c) < 0 || vw_ruleset_put(desired, v[i].c) < 0)
			rc->full = true;
	return 0;
}

/* Restore what the backend accepts; quarantine each suspect it refuses on its own. */
static void bisect(struct vw_reconcile *rc, struct vw_ruleset *desired, struct saved *v, size_t lo,
		   size_t hi)
{
	char why[128];
	int r;

	if (lo >= hi)
		return;
	r = restore(rc, desired, v, lo, hi);
	if (r >= 0)
		return;
	if (hi - lo == 1) {
		snprintf(why, sizeof(why), "the kernel refused its destinations (%s)",
			 strerror(-r));
		quarantine_add(rc, &v[lo], why);
		rc->failures++;
		return;
	}
	bisect(rc, desired, v, lo, lo + (hi - lo) / 2);
	bisect(rc, desired, v, lo + (hi - lo) / 2, hi);
}

/*
 * Not even a full replacement went through. Revocations must still take effect: try the
 * base alone (nothing dispatched, every policed packet dropped) before waiting to retry.
 */
static int give_up(struct vw_reconcile *rc, const struct vw_ruleset *desired, int r, uint64_t now)
{
	struct vw_ruleset base;

	vw_ruleset_base(desired, &base);

	rc->full = true;
	(void)commit(rc, &base, NULL);
	/* Borrowed, not ours to free; the applied copy has its own. */
	base.ignore = NULL;
	vw_ruleset_done(&base);
	rc->full = true;
	rc->retry_at = now + rc->retry_ms;
	rc->retry_ms = rc->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : rc->retry_ms * 2;
	return r;
}

int vw_reconcile_step(struct vw_reconcile *rc, struct vw_ruleset *desired, struct vw_changes *ch,
		      uint64_t now)
{
	uint64_t wanted = rc->wanted;
	struct saved *v = NULL;
	size_t n = 0;
	int r;

	if (ch && ch->all)
		ch = NULL;
	if (ch)
		vw_changes_normalize(ch);
	apply_quarantine(rc, desired, ch);
	r = commit(rc, desired, ch);
	if (r < 0) {
		isolate_suspects(rc, desired, ch, r, &v, &n);
		/* Nothing to blame, or isolating did not help: the backend may have drifted. */
		r = commit(rc, desired, ch);
		if (r < 0 && !rc->full) {
			rc->full = true;
			r = commit(rc, desired, NULL);
		}
		if (r < 0) {
			/* Nothing was their fault: they get their destinations at the retry. */
			for (size_t i = 0; i < n; i++)
				(void)vw_ruleset_put(desired, v[i].c);
			saved_free(v, n);
			return give_up(rc, desired, r, now);
		}
		bisect(rc, desired, v, 0, n);
		saved_free(v, n);
	}
	rc->retry_at = 0;
	rc->retry_ms = RETRY_MIN_MS;
	acknowledge(rc, wanted);
	return 0;
}
