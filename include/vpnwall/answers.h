/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the DNS proxy learned for each container: the addresses its answers gave, which
 * names they came from, what those names' entries allow (their grants) and until when.
 * Pure bookkeeping; the learner turns it into backend elements.
 *
 * One entry per (container, address). The backend holds an entry as disjoint boxes (the
 * union of its live names' grants), all with the entry's latest expiry: two names may
 * give one address with different port scopes, and the backend's interval sets refuse
 * overlapping elements. When a name with a narrower scope outlives the others, the wider
 * scope stays until the entry's expiry: the over-grant is bounded by one TTL of an
 * answer the container was allowed to get for that very address.
 *
 * Bounded: addresses per container, over all containers, and names per entry (a CDN
 * address shared by many names keeps the ones that expire last).
 */
#ifndef VW_ANSWERS_H
#define VW_ANSWERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnwall/dnsmsg.h"
#include "vpnwall/hashmap.h"
#include "vpnwall/policy.h"
#include "vpnwall/ruleset.h"

#define VW_ANSWERS_CONTAINER_MAX 4096 /* learned addresses of one container */
#define VW_ANSWER_NAMES_MAX 8 /* names remembered for one learned address */
#define VW_ANSWER_GRANTS_MAX 8 /* grants of one name (its matching label entries) */

struct vw_answer_name {
	char *name; /* owned; most names are far shorter than VW_DNS_NAME_MAX */
	struct vw_name_grant grants[VW_ANSWER_GRANTS_MAX];
	size_t n_grants;
	uint64_t expires; /* ms */
};

/* One address learned for one container. */
struct vw_answer {
	struct vw_hnode node; /* in by_addr */
	struct vw_answer *next_of; /* the container's other entries */
	struct vw_answer **pprev_of;
	char key[VW_KEY_LEN + 1];
	uint8_t family;
	uint8_t addr[16];
	/* Grown as needed (up to VW_ANSWER_NAMES_MAX): most addresses have one name, and an
	 * entry is one of up to vw_answers.max. */
	struct vw_answer_name *names;
	size_t n_names;
	size_t cap_names;
	uint64_t expires; /* ms: the latest of its names' */
	/* What the backend holds for it (set by the caller after a commit), per path. */
	struct vw_boxset held[VW_PATHS];
	uint64_t held_expires; /* ms: when the backend lets those go */
	uint64_t held_epoch; /* the caller's count of backend losses when they were committed */
};

struct vw_answers {
	struct vw_hmap by_addr; /* struct vw_answer by (key, family, addr) */
	struct vw_hmap by_key; /* per container: its entries and their number */
	size_t n;
	size_t max; /* entries over all containers (DNS_PROXY_LEARNED_MAX) */
};

void vw_answers_init(struct vw_answers *a, size_t max);

/* vw_answers_done - free every entry. */
void vw_answers_done(struct vw_answers *a);

/*
 * vw_answers_learn - record that container @key's answer for @name gave @addr, with
 * @grants (1..VW_ANSWER_GRANTS_MAX), valid until @expires (ms). A name seen before has its
 * grants and expiry replaced. *@ret is the entry. Returns 0, -ENOSPC when a cap is reached
 * (nothing recorded) or -ENOMEM.
 */
int vw_answers_learn(struct vw_answers *a, const char *key, uint8_t family, const uint8_t *addr,
		     const char *name, const struct vw_name_grant *grants, size_t n_grants,
		     uint64_t expires, uint64_t now, struct vw_answer **ret);

/* vw_answers_find - the entry of @key for @addr, or NULL. */
struct vw_answer *vw_answers_find(const struct vw_answers *a, const char *key, uint8_t family,
				  const uint8_t *addr);

/*
 * vw_answer_boxes - the disjoint boxes entry @x's live names (at @now) allow, per path,
 * into @ret (cleared first; vw_boxset_done() them). 0 or -ENOMEM.
 */
int vw_answer_boxes(const struct vw_answer *x, uint64_t now, struct vw_boxset ret[VW_PATHS]);

/* vw_answer_hold - the backend now holds @boxes (taken over) for @x until @expires. */
void vw_answer_hold(struct vw_answer *x, struct vw_boxset boxes[VW_PATHS], uint64_t expires);

/* vw_answers_first - the first entry of container @key (then ->next_of), or NULL. */
struct vw_answer *vw_answers_first(const struct vw_answers *a, const char *key);

/* vw_answers_count - the entries of container @key. */
size_t vw_answers_count(const struct vw_answers *a, const char *key);

/*
 * vw_answers_victim - the entry to drop so that container @key may learn one more address
 * when all @a->max are taken, or NULL. Every container that learned anything (@key
 * counted) has an equal share; one under its share takes from the container holding the
 * most, its entry the backend lets go first. Containers @busy(@ud, key) says are in the
 * transaction being built give nothing, nor does one at or under its share (then nothing
 * is taken). NULL when @key holds its share already: a few greedy containers cannot keep
 * the others from learning, and the greedy ones themselves get no more (fail closed:
 * their lookups are answered, the connections dropped).
 */
struct vw_answer *vw_answers_victim(const struct vw_answers *a, const char *key,
				    bool (*busy)(void *ud, const char *key), void *ud);

/* vw_answers_remove - drop entry @x (free it). */
void vw_answers_remove(struct vw_answers *a, struct vw_answer *x);

/* vw_answers_prune - drop the entries whose backend elements expired by @now. */
size_t vw_answers_prune(struct vw_answers *a, uint64_t now);

/*
 * vw_answers_each - call @fn for every entry (it may remove the entry it is given).
 */
void vw_answers_each(struct vw_answers *a, void (*fn)(void *ud, struct vw_answer *x), void *ud);

#endif
