// SPDX-License-Identifier: GPL-2.0-or-later
#include "vpnwall/answers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnwall/util.h"

/* A container's entries: a list through vw_answer.next_of, and their count. */
struct owner {
	struct vw_hnode node;
	char key[VW_KEY_LEN + 1];
	struct vw_answer *first;
	size_t n;
};

static uint64_t addr_hash(const char *key, uint8_t family, const uint8_t *addr)
{
	uint8_t buf[VW_KEY_LEN + 1 + 1 + 16] = { 0 };

	(void)vw_strscpy((char *)buf, key, VW_KEY_LEN + 1);
	buf[VW_KEY_LEN + 1] = family;
	memcpy(buf + VW_KEY_LEN + 2, addr, vw_addr_len(family));
	return vw_hash(buf, sizeof(buf));
}

static struct owner *owner_find(const struct vw_answers *a, const char *key)
{
	for (struct vw_hnode *n = vw_hmap_first(&a->by_key, vw_hash_str(key)); n;
	     n = vw_hmap_next(n)) {
		struct owner *o = vw_container_of(n, struct owner, node);

		if (strcmp(o->key, key) == 0)
			return o;
	}
	return NULL;
}

void vw_answers_init(struct vw_answers *a, size_t max)
{
	*a = (struct vw_answers){ .max = max };
}

static void entry_free(struct vw_answer *x)
{
	for (int p = 0; p < VW_PATHS; p++)
		vw_boxset_done(&x->held[p]);
	for (size_t i = 0; i < x->n_names; i++)
		free(x->names[i].name);
	free(x->names);
	free(x);
}

void vw_answers_done(struct vw_answers *a)
{
	for (struct vw_hnode *n; (n = vw_hmap_pop(&a->by_addr));)
		entry_free(vw_container_of(n, struct vw_answer, node));
	for (struct vw_hnode *n; (n = vw_hmap_pop(&a->by_key));)
		free(vw_container_of(n, struct owner, node));
	vw_hmap_done(&a->by_addr);
	vw_hmap_done(&a->by_key);
	a->n = 0;
}

struct vw_answer *vw_answers_find(const struct vw_answers *a, const char *key, uint8_t family,
				  const uint8_t *addr)
{
	size_t len = vw_addr_len(family);

	for (struct vw_hnode *n = vw_hmap_first(&a->by_addr, addr_hash(key, family, addr)); n;
	     n = vw_hmap_next(n)) {
		struct vw_answer *x = vw_container_of(n, struct vw_answer, node);

		if (x->family == family && memcmp(x->addr, addr, len) == 0 &&
		    strcmp(x->key, key) == 0)
			return x;
	}
	return NULL;
}

struct vw_answer *vw_answers_first(const struct vw_answers *a, const char *key)
{
	struct owner *o = owner_find(a, key);

	return o ? o->first : NULL;
}

size_t vw_answers_count(const struct vw_answers *a, const char *key)
{
	struct owner *o = owner_find(a, key);

	return o ? o->n : 0;
}

static int entry_new(struct vw_answers *a, const char *key, uint8_t family, const uint8_t *addr,
		     struct vw_answer **ret)
{
	struct owner *o = owner_find(a, key);
	struct vw_answer *x;
	uint64_t h = addr_hash(key, family, addr);

	if (a->n >= a->max || (o && o->n >= VW_ANSWERS_CONTAINER_MAX))
		return -ENOSPC;
	if (!o) {
		o = calloc(1, sizeof(*o));
		if (!o)
			return -ENOMEM;
		(void)vw_strscpy(o->key, key, sizeof(o->key));
		if (vw_hmap_add(&a->by_key, &o->node, vw_hash_str(key)) < 0) {
			free(o);
			return -ENOMEM;
		}
	}
	x = calloc(1, sizeof(*x));
	if (!x || vw_hmap_add(&a->by_addr, &x->node, h) < 0) {
		free(x);
		if (!o->n) {
			vw_hmap_del(&a->by_key, &o->node);
			free(o);
		}
		return -ENOMEM;
	}
	(void)vw_strscpy(x->key, key, sizeof(x->key));
	x->family = family;
	memcpy(x->addr, addr, vw_addr_len(family));
	for (int p = 0; p < VW_PATHS; p++) {
		x->held[p].family = family;
		x->held[p].path = (uint8_t)p;
	}
	x->next_of = o->first;
	if (o->first)
		o->first->pprev_of = &x->next_of;
	x->pprev_of = &o->first;
	o->first = x;
	o->n++;
	a->n++;
	*ret = x;
	return 0;
}

struct vw_answer *vw_answers_victim(const struct vw_answers *a, const char *key,
				    bool (*busy)(void *ud, const char *key), void *ud)
{
	const struct owner *mine = owner_find(a, key), *most = NULL;
	size_t have = mine ? mine->n : 0;
	size_t share = a->max / (a->by_key.n + (mine ? 0 : 1));
	struct vw_answer *victim = NULL;

	if (a->n < a->max || have >= share)
		return NULL;
	for (size_t b = 0; b < a->by_key.n_buckets; b++)
		for (struct vw_hnode *n = a->by_key.buckets[b]; n; n = n->next) {
			const struct owner *o = vw_container_of(n, struct owner, node);

			if (o != mine && (!most || o->n > most->n) && !(busy && busy(ud, o->key)))
				most = o;
		}
	/* Only from one over its share: with the table full and @key under its share, the
	 * biggest is; when @busy ruled that one out, the modest are not drained instead. */
	if (!most || most->n <= share)
		return NULL;
	for (struct vw_answer *x = most->first; x; x = x->next_of)
		if (!victim || x->held_expires < victim->held_expires ||
		    (x->held_expires == victim->held_expires && x->expires < victim->expires))
			victim = x;
	return victim;
}

void vw_answers_remove(struct vw_answers *a, struct vw_answer *x)
{
	struct owner *o = owner_find(a, x->key);

	*x->pprev_of = x->next_of;
	if (x->next_of)
		x->next_of->pprev_of = x->pprev_of;
	vw_hmap_del(&a->by_addr, &x->node);
	a->n--;
	if (o && --o->n == 0) {
		vw_hmap_del(&a->by_key, &o->node);
		free(o);
	}
	entry_free(x);
}

/* Room for one more name: one at first, then twice as many, up to VW_ANSWER_NAMES_MAX. */
static int names_grow(struct vw_answer *x)
{
	size_t cap = x->cap_names ? x->cap_names * 2 : 1;
	struct vw_answer_name *v;

	if (x->n_names < x->cap_names)
		return 0;
	if (cap > VW_ANSWER_NAMES_MAX)
		cap = VW_ANSWER_NAMES_MAX;
	v = reallocarray(x->names, cap, sizeof(*v));
	if (!v)
		return -ENOMEM;
	x->names = v;
	x->cap_names = cap;
	return 0;
}

/* Names whose answers ran out go; the entry's expiry is the latest of the rest. */
static void expire_names(struct vw_answer *x, uint64_t now)
{
	size_t out = 0;

	x->expires = 0;
	for (size_t i = 0; i < x->n_names; i++) {
		if (x->names[i].expires <= now) {
			free(x->names[i].name);
			continue;
		}
		x->names[out++] = x->names[i];
		if (x->names[i].expires > x->expires)
			x->expires = x->names[i].expires;
	}
	x->n_names = out;
}

int vw_answers_learn(struct vw_answers *a, const char *key, uint8_t family, const uint8_t *addr,
		     const char *name, const struct vw_name_grant *grants, size_t n_grants,
		     uint64_t expires, uint64_t now, struct vw_answer **ret)
{
	struct vw_answer *x = vw_answers_find(a, key, family, addr);
	struct vw_answer_name *slot = NULL;
	bool fresh = !x;
	int r;

	if (n_grants == 0 || n_grants > VW_ANSWER_GRANTS_MAX || strlen(name) >= VW_DNS_NAME_MAX)
		return -EINVAL;
	if (!x) {
		r = entry_new(a, key, family, addr, &x);
		if (r < 0)
			return r;
	}
	expire_names(x, now);
	for (size_t i = 0; i < x->n_names && !slot; i++)
		if (strcmp(x->names[i].name, name) == 0)
			slot = &x->names[i];
	if (!slot) {
		char *copy = strdup(name);

		r = copy ? 0 : -ENOMEM;
		if (r >= 0 && x->n_names < VW_ANSWER_NAMES_MAX)
			r = names_grow(x);
		if (r < 0) {
			free(copy);
			if (fresh)
				vw_answers_remove(a, x);
			return r;
		}
		if (x->n_names < VW_ANSWER_NAMES_MAX) {
			slot = &x->names[x->n_names++];
		} else {
			/* Full: the name that expires first makes room (its grants go with it). */
			slot = &x->names[0];
			for (size_t i = 1; i < x->n_names; i++)
				if (x->names[i].expires < slot->expires)
					slot = &x->names[i];
			free(slot->name);
		}
		slot->name = copy;
	}
	memcpy(slot->grants, grants, n_grants * sizeof(*grants));
	slot->n_grants = n_grants;
	slot->expires = expires;
	expire_names(x, now);
	*ret = x;
	return 0;
}

int vw_answer_boxes(const struct vw_answer *x, uint64_t now, struct vw_boxset ret[VW_PATHS])
{
	unsigned prefix = (unsigned)vw_addr_len(x->family) * 8;
	int r = 0;

	for (int p = 0; r >= 0 && p < VW_PATHS; p++) {
		struct vw_atoms atoms = { .family = x->family };

		ret[p] = (struct vw_boxset){ .family = x->family, .path = (uint8_t)p };
		for (size_t i = 0; r >= 0 && i < x->n_names; i++) {
			const struct vw_answer_name *nm = &x->names[i];

			if (nm->expires <= now)
				continue;
			for (size_t g = 0; r >= 0 && g < nm->n_grants; g++)
				if (nm->grants[g].path == (enum vw_path)p)
					r = vw_atoms_add_prefix(
						&atoms, x->addr, prefix, nm->grants[g].protos,
						nm->grants[g].port_lo, nm->grants[g].port_hi);
		}
		/* A single address: at most a few boxes per protocol, far below any budget. */
		if (r >= 0)
			r = vw_boxset_build(&atoms, VW_CONTAINER_COST_MAX, &ret[p]);
		vw_atoms_done(&atoms);
	}
	if (r < 0)
		for (int p = 0; p < VW_PATHS; p++)
			vw_boxset_done(&ret[p]);
	return r < 0 ? r : 0;
}

void vw_answer_hold(struct vw_answer *x, struct vw_boxset boxes[VW_PATHS], uint64_t expires)
{
	for (int p = 0; p < VW_PATHS; p++) {
		vw_boxset_done(&x->held[p]);
		x->held[p] = boxes[p];
		boxes[p] = (struct vw_boxset){ .family = x->family, .path = (uint8_t)p };
	}
	x->held_expires = expires;
}

void vw_answers_each(struct vw_answers *a, void (*fn)(void *ud, struct vw_answer *x), void *ud)
{
	/* The table never moves nodes; a removal only unlinks the one being visited. */
	for (size_t b = 0; b < a->by_addr.n_buckets; b++) {
		struct vw_hnode *n = a->by_addr.buckets[b];

		while (n) {
			struct vw_hnode *next = n->next;

			fn(ud, vw_container_of(n, struct vw_answer, node));
			n = next;
		}
	}
}

struct prune {
	struct vw_answers *a;
	uint64_t now;
	size_t n;
};

static void prune_one(void *ud, struct vw_answer *x)
{
	struct prune *p = ud;

	if (x->held_expires > p->now)
		return;
	expire_names(x, p->now);
	if (x->n_names)
		return;
	vw_answers_remove(p->a, x);
	p->n++;
}

size_t vw_answers_prune(struct vw_answers *a, uint64_t now)
{
	struct prune p = { .a = a, .now = now };

	vw_answers_each(a, prune_one, &p);
	return p.n;
}
