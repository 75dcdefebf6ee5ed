/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An intrusive chained hash table. Entries embed a struct vw_hnode and stay where they are
 * (the table never moves them), so pointers to them remain valid while they are in it.
 * The table only knows hashes: a lookup walks the nodes of one hash and the caller compares
 * keys. Hashes are keyed with a per-process random seed, so that names, addresses and ids
 * chosen by whoever sets labels or sends packets cannot be picked to collide.
 */
#ifndef VW_HASHMAP_H
#define VW_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

struct vw_hnode {
	struct vw_hnode *next; /* next node in the same bucket */
	uint64_t hash;
};

struct vw_hmap {
	struct vw_hnode **buckets; /* power-of-two many, or NULL while empty */
	size_t n_buckets;
	size_t n; /* nodes in the table */
};

/* vw_container_of - the struct that embeds @ptr as @member. */
#define vw_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* vw_hash - the seeded hash of @len bytes at @p. */
uint64_t vw_hash(const void *p, size_t len);

/* vw_hash_str - vw_hash() of a NUL-terminated string (without the NUL). */
uint64_t vw_hash_str(const char *s);

/* vw_hmap_add - insert @node under @hash (duplicates allowed). Returns 0 or -ENOMEM. */
int vw_hmap_add(struct vw_hmap *m, struct vw_hnode *node, uint64_t hash);

/* vw_hmap_del - remove @node, which must be in @m. */
void vw_hmap_del(struct vw_hmap *m, struct vw_hnode *node);

/* vw_hmap_first - the first node with @hash, or NULL. */
struct vw_hnode *vw_hmap_first(const struct vw_hmap *m, uint64_t hash);

/* vw_hmap_next - the next node after @node with the same hash, or NULL. */
struct vw_hnode *vw_hmap_next(const struct vw_hnode *node);

/* vw_hmap_pop - remove and return any node, or NULL when empty (to tear a table down). */
struct vw_hnode *vw_hmap_pop(struct vw_hmap *m);

/* vw_hmap_done - free the bucket array; the nodes belong to the caller. */
void vw_hmap_done(struct vw_hmap *m);

#endif
