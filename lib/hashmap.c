// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Hash table and hash function. The function is a seeded multiply-xorshift mix over 8-byte
 * words (the same construction as wyhash's core), the seed drawn once from getrandom().
 * The table doubles at a load factor of 1, so chains stay short on average.
 */
#include "vpnwall/hashmap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define MIN_BUCKETS 16

static uint64_t seed;
static bool seeded;

static uint64_t mix(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint64_t get_seed(void)
{
	if (!seeded) {
		/* Without entropy the table still works; only collision resistance suffers. */
		if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
			seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&seed;
		seeded = true;
	}
	return seed;
}

uint64_t vw_hash(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = get_seed() ^ mix(len, 0xa0761d6478bd642full);

	while (len >= 8) {
		uint64_t w;

		memcpy(&w, s, 8);
		h = mix(h ^ w, 0xe7037ed1a0b428dbull);
		s += 8;
		len -= 8;
	}
	if (len) {
		uint64_t w = 0;

		memcpy(&w, s, len);
		h = mix(h ^ w, 0x8ebc6af09c88c6e3ull);
	}
	return mix(h, 0x589965cc75374cc3ull);
}

uint64_t vw_hash_str(const char *s)
{
	return vw_hash(s, strlen(s));
}

static int resize(struct vw_hmap *m, size_t n_buckets)
{
	struct vw_hnode **b = calloc(n_buckets, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct vw_hnode *node = m->buckets[i], *next;

		for (; node; node = next) {
			size_t k = node->hash & (n_buckets - 1);

			next = node->next;
			node->next = b[k];
			b[k] = node;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->n_buckets = n_buckets;
	return 0;
}

int vw_hmap_add(struct vw_hmap *m, struct vw_hnode *node, uint64_t hash)
{
	size_t k;
	int r;

	if (m->n + 1 > m->n_buckets) {
		r = resize(m, m->n_buckets ? m->n_buckets * 2 : MIN_BUCKETS);
		/* A full table still works, only slower: refuse only when there is none. */
		if (r < 0 && !m->n_buckets)
			return r;
	}
	node->hash = hash;
	k = hash & (m->n_buckets - 1);
	node->next = m->buckets[k];
	m->buckets[k] = node;
	m->n++;
	return 0;
}

void vw_hmap_del(struct vw_hmap *m, struct vw_hnode *node)
{
	struct vw_hnode **p = &m->buckets[node->hash & (m->n_buckets - 1)];

	for (; *p; p = &(*p)->next)
		if (*p == node) {
			*p = node->next;
			node->next = NULL;
			m->n--;
			return;
		}
}

struct vw_hnode *vw_hmap_first(const struct vw_hmap *m, uint64_t hash)
{
	struct vw_hnode *node;

	if (!m->n_buckets)
		return NULL;
	for (node = m->buckets[hash & (m->n_buckets - 1)]; node; node = node->next)
		if (node->hash == hash)
			return node;
	return NULL;
}

struct vw_hnode *vw_hmap_next(const struct vw_hnode *node)
{
	struct vw_hnode *n;

	for (n = node->next; n; n = n->next)
		if (n->hash == node->hash)
			return n;
	return NULL;
}

struct vw_hnode *vw_hmap_pop(struct vw_hmap *m)
{
	for (size_t i = 0; m->n && i < m->n_buckets; i++) {
		struct vw_hnode *node = m->buckets[i];

		if (node) {
			m->buckets[i] = node->next;
			node->next = NULL;
			m->n--;
			return node;
		}
	}
	return NULL;
}

void vw_hmap_done(struct vw_hmap *m)
{
	free(m->buckets);
	*m = (struct vw_hmap){ 0 };
}
