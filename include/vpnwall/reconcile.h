/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The reconcile state machine: brings a backend from the state it was last told to the
 * desired one, one atomic transaction per step, and decides what happens when the backend
 * refuses. Pure: the backend is a function pointer (nft in the daemon, a fake in tests).
 *
 * A refused transaction must neither freeze everyone else's changes nor leave a policy half
 * applied. When it held new or changed destinations, those containers are suspects: the
 * same transaction is retried with every suspect isolated (it reaches nothing), so that
 * revocations and all other changes take effect at once; then the suspects get their
 * destinations back in halves, and a suspect the backend still refuses alone stays isolated
 * (quarantined, with the reason) until its destinations change. A refusal that no container
 * explains is retried as a full replacement, then with backoff.
 */
#ifndef VW_RECONCILE_H
#define VW_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnwall/ruleset.h"

struct vw_plan;

/* A container the backend refused alone, isolated until its destinations change. */
struct vw_quarantined {
	char key[VW_KEY_LEN + 1];
	uint64_t fingerprint; /* of the refused destinations */
	char reason[128];
};

/* Called once the backend holds the changes made up to generation @gen (or they were
 * abandoned: @ok false when the reconcile state machine was torn down first). */
typedef void (*vw_applied_fn)(void *ud, uint64_t gen, bool ok);

struct vw_waiter {
	uint64_t gen;
	vw_applied_fn fn;
	void *ud;
};

struct vw_backend {
	/* Commit @plan as one transaction: all of it or nothing. 0 or -errno. */
	int (*apply)(void *ud, const struct vw_plan *plan);
	void *ud;
};

struct vw_reconcile {
	struct vw_backend be;
	struct vw_ruleset applied; /* what the backend holds, when have_applied */
	bool have_applied;
	bool full; /* the backend may differ from applied: the next step replaces everything */
	uint64_t generation; /* successful transactions so far */
	uint64_t failures; /* refused transactions so far */
	uint64_t replacements; /* transactions that replaced the table whole (learned sets too) */
	int last_error; /* -errno of the last refusal, 0 after a success */
	uint64_t retry_at; /* ms; 0 = nothing to retry */
	unsigned retry_ms;
	uint64_t wanted; /* the generation of the latest change to the desired state */
	uint64_t acked; /* every change up to this generation is in the backend */
	struct vw_waiter *waiters; /* callers waiting for a generation */
	size_t n_waiters;
	size_t cap_waiters;
	/* Sources whose established flows the applied changes may have revoked (see
	 * vw_plan_revocations()); the caller takes them (and resets) after a step. */
	struct vw_revocations revoked;
	struct vw_quarantined *quarantine; /* sorted by key */
	size_t n_quarantined;
	size_t cap_quarantined;
};

/* vw_reconcile_init - nothing applied yet; the first step replaces everything. */
void vw_reconcile_init(struct vw_reconcile *rc, const struct vw_backend *be);

/* vw_reconcile_done - free the applied state and the quarantine. */
void vw_reconcile_done(struct vw_reconcile *rc);

/* vw_reconcile_force_full - the backend may have drifted: replace everything next time. */
void vw_reconcile_force_full(struct vw_reconcile *rc);

/*
 * vw_reconcile_step - make the backend hold @desired, looking only at what @ch marks as
 * changed since the last step (NULL, or ch->all: everything). Containers the backend
 * refuses are replaced in @desired by isolated copies (see vw_reconcile_isolation()), so
 * that @desired keeps saying what the backend holds. Returns 0, or the backend's -errno
 * when nothing could be applied; rc->retry_at then says when to try again.
 */
int vw_reconcile_step(struct vw_reconcile *rc, struct vw_ruleset *desired, struct vw_changes *ch,
		      uint64_t now);

/*
 * vw_reconcile_want - the desired state just changed: its generation number. The next
 * successful step acknowledges it (and every earlier one).
 */
uint64_t vw_reconcile_want(struct vw_reconcile *rc);

/*
 * vw_reconcile_when_applied - call @fn once generation @gen is acknowledged: from the step
 * that acknowledges it, or at once when it already is. Returns 0 or -ENOMEM.
 */
int vw_reconcile_when_applied(struct vw_reconcile *rc, uint64_t gen, vw_applied_fn fn, void *ud);

/*
 * vw_reconcile_isolation - why container @key is quarantined, or NULL. Borrowed until the
 * next step.
 */
const char *vw_reconcile_isolation(const struct vw_reconcile *rc, const char *key);

#endif
