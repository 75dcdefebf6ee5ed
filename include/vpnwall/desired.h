/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The desired ruleset, kept up to date one container at a time. Each container's
 * contribution (its compiled destinations, the addresses it claims, its key, the names it
 * uses) is remembered, so a change recomputes only the containers it concerns: the one that
 * changed, the owner of a network namespace it joins, the users of a name whose answer
 * changed, a container whose key stops colliding. Every recomputed key and address is
 * marked in `changes`, which the reconcile step diffs and then clears. Pure: it reads the
 * container store and the name cache, and marks names wanted or forgotten in the latter.
 *
 * The result is the same as vw_policy_compile() over the whole store (the unit tests and
 * the fuzzer check it), except that which container meets the global element budget first
 * depends on the order of events.
 */
#ifndef VW_DESIRED_H
#define VW_DESIRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnwall/hashmap.h"
#include "vpnwall/ruleset.h"

struct vw_config;
struct vw_names;
struct vw_store;

struct vw_desired {
	const struct vw_config *cfg;
	struct vw_ruleset rs; /* what the backend should hold */
	struct vw_changes changes; /* what may differ from what was applied */
	struct vw_hmap entries; /* what each container contributes, by id */
	struct vw_hmap keys; /* who claims each key */
	struct vw_hmap addrs; /* who claims each address */
	struct vw_hmap names; /* who uses each name */
	struct vw_hmap dirty; /* container ids to recompute */
	size_t boxes; /* destination boxes over all containers */
};

/* vw_desired_init - nothing desired yet; the settings come from @cfg. */
int vw_desired_init(struct vw_desired *d, const struct vw_config *cfg);

/* vw_desired_done - free everything. */
void vw_desired_done(struct vw_desired *d);

/* vw_desired_mark - container @id changed (or is gone): recompute it at the next flush. */
int vw_desired_mark(struct vw_desired *d, const char *id);

/* vw_desired_mark_name - the answer for @name changed: recompute whoever uses it. */
int vw_desired_mark_name(struct vw_desired *d, const char *name);

/* vw_desired_is_dirty - whether a flush has anything to do. */
bool vw_desired_is_dirty(const struct vw_desired *d);

/*
 * vw_desired_flush - recompute what was marked, from the containers in @st and the answers
 * in @names. Returns 0 or -ENOMEM (then everything is marked for the next flush).
 */
int vw_desired_flush(struct vw_desired *d, const struct vw_store *st, struct vw_names *names,
		     uint64_t now);

/*
 * vw_desired_rebuild - recompute everything: the networks or the settings changed, or the
 * store was replaced by a snapshot. Marks everything changed.
 */
int vw_desired_rebuild(struct vw_desired *d, const struct vw_store *st, struct vw_names *names,
		       uint64_t now);

#endif
