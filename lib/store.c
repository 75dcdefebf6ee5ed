// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Container store. Each container is allocated on its own together with its index nodes,
 * so pointers handed out stay valid until that container is replaced or deleted.
 */
#include "vpnwall/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/util.h"

struct entry {
	struct vw_container c; /* first: the store hands out &c */
	struct vw_hnode by_id;
	struct vw_hnode by_name;
	struct vw_hnode by_owner; /* only when c.netns_owner is set */
	size_t idx; /* position in list */
};

void vw_store_init(struct vw_store *st)
{
	*st = (struct vw_store){ 0 };
}

static void entry_free(struct entry *e)
{
	vw_container_done(&e->c);
	free(e);
}

void vw_store_done(struct vw_store *st)
{
	for (size_t i = 0; i < st->n; i++)
		entry_free((struct entry *)st->list[i]);
	free(st->list);
	free(st->nets);
	vw_hmap_done(&st->by_id);
	vw_hmap_done(&st->by_name);
	vw_hmap_done(&st->by_owner);
	*st = (struct vw_store){ 0 };
}

static struct entry *by_id(const struct vw_store *st, const char *id)
{
	for (struct vw_hnode *n = vw_hmap_first(&st->by_id, vw_hash_str(id)); n;
	     n = vw_hmap_next(n)) {
		struct entry *e = vw_container_of(n, struct entry, by_id);

		if (strcmp(e->c.id, id) == 0)
			return e;
	}
	return NULL;
}

struct vw_container *vw_store_get(const struct vw_store *st, const char *id)
{
	struct entry *e = by_id(st, id);

	return e ? &e->c : NULL;
}

const struct vw_container *vw_store_find(const struct vw_store *st, const char *ref)
{
	const struct vw_container *hit = NULL;
	size_t len = strlen(ref);

	for (struct vw_hnode *n = vw_hmap_first(&st->by_name, vw_hash_str(ref)); n;
	     n = vw_hmap_next(n)) {
		struct entry *e = vw_container_of(n, struct entry, by_name);

		if (strcmp(e->c.name, ref) == 0)
			return &e->c;
	}
	if (len == VW_ID_MAX)
		return vw_store_get(st, ref);
	/* An id prefix: a scan, but only for a human's request, never on an event. */
	for (size_t i = 0; len >= 4 && i < st->n; i++)
		if (strncmp(st->list[i]->id, ref, len) == 0) {
			if (hit)
				return NULL;
			hit = st->list[i];
		}
	return hit;
}

static void unlink_entry(struct vw_store *st, struct entry *e)
{
	struct entry *last = (struct entry *)st->list[--st->n];

	vw_hmap_del(&st->by_id, &e->by_id);
	vw_hmap_del(&st->by_name, &e->by_name);
	if (e->c.netns_owner[0])
		vw_hmap_del(&st->by_owner, &e->by_owner);
	st->list[e->idx] = &last->c;
	last->idx = e->idx;
}

static int link_entry(struct vw_store *st, struct entry *e)
{
	bool owned = e->c.netns_owner[0] != '\0';
	int r;

	r = vw_grow((void **)&st->list, &st->cap, st->n + 1, sizeof(*st->list),
		    VW_STORE_CONTAINERS_MAX);
	if (r < 0)
		return r;
	r = vw_hmap_add(&st->by_id, &e->by_id, vw_hash_str(e->c.id));
	if (r < 0)
		return r;
	r = vw_hmap_add(&st->by_name, &e->by_name, vw_hash_str(e->c.name));
	if (r < 0)
		goto out_id;
	if (owned) {
		r = vw_hmap_add(&st->by_owner, &e->by_owner, vw_hash_str(e->c.netns_owner));
		if (r < 0)
			goto out_name;
	}
	e->idx = st->n;
	st->list[st->n++] = &e->c;
	return 0;
out_name:
	vw_hmap_del(&st->by_name, &e->by_name);
out_id:
	vw_hmap_del(&st->by_id, &e->by_id);
	return r;
}

int vw_store_put(struct vw_store *st, struct vw_container *c)
{
	struct entry *old = by_id(st, c->id), *e;
	int r;

	if (!old && st->n >= VW_STORE_CONTAINERS_MAX)
		return -ENOBUFS;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->c = *c;
	if (old)
		unlink_entry(st, old);
	r = link_entry(st, e);
	if (r < 0) {
		/* The old one goes back: the store never loses what it had. */
		if (old)
			(void)link_entry(st, old);
		free(e);
		return r;
	}
	if (old)
		entry_free(old);
	*c = (struct vw_container){ 0 };
	return 0;
}

bool vw_store_del(struct vw_store *st, const char *id)
{
	struct entry *e = by_id(st, id);

	if (!e)
		return false;
	unlink_entry(st, e);
	entry_free(e);
	return true;
}

void vw_store_set_networks(struct vw_store *st, struct vw_network *nets, size_t n)
{
	free(st->nets);
	st->nets = nets;
	st->n_nets = n;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp((*(const struct vw_container *const *)a)->id,
		      (*(const struct vw_container *const *)b)->id);
}

int vw_store_sharers(const struct vw_store *st, const struct vw_container *owner,
		     const struct vw_container ***ret)
{
	const struct vw_container **v = NULL;
	size_t n = 0, cap = 0;
	int r;

	for (struct vw_hnode *h = vw_hmap_first(&st->by_owner, vw_hash_str(owner->id)); h;
	     h = vw_hmap_next(h)) {
		struct entry *e = vw_container_of(h, struct entry, by_owner);

		if (!vw_container_joins(&e->c, owner))
			continue;
		r = vw_grow((void **)&v, &cap, n + 1, sizeof(*v), VW_STORE_CONTAINERS_MAX);
		if (r < 0) {
			free(v);
			return r;
		}
		v[n++] = &e->c;
	}
	/* The policy compiler takes sharers in id order; so must everyone who explains it. */
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_id);
	*ret = v;
	return (int)n;
}
