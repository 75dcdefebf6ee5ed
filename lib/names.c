// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Name cache bookkeeping. Every name is its own allocation, found by a hash of its name, so
 * that pointers handed out stay valid while it is cached. Three structures index it:
 *  - by_name, for the lookups of policy compilation and for DNS answers;
 *  - a min-heap of (name, family) pairs not in flight, keyed by refresh time, for the poll
 *    deadline and the next query: O(log n) instead of a scan of every name;
 *  - by_addr, one node per (family, address) that some answer holds, listing the names that
 *    hold it, for naming the destination of every audited drop: O(1) expected instead of a
 *    scan of every address of every name. One node per address rather than per (name,
 *    address) keeps each hash chain free of duplicates, so that many names resolving to the
 *    same addresses (anyone who controls both labels and a DNS zone can arrange that) cost
 *    nothing extra per lookup or update.
 */
#include "vpnwall/names.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/hashmap.h"
#include "vpnwall/util.h"

/* How long "no such name / no address of this family" is believed before asking again. */
#define NEGATIVE_TTL 60
#define BACKOFF_MAX 60
/* How long past its TTL an answer is kept while the resolver fails. */
#define STALE_GRACE 3600

#define NOT_QUEUED SIZE_MAX

struct addr;

/* One name's hold on one address: a link in that address's list of names. */
struct link {
	struct link *prev, *next; /* names holding the same address, oldest first */
	struct addr *addr;
	struct vw_names_entry *e;
};

/* A (family, address) that at least one answer holds. */
struct addr {
	struct vw_hnode node; /* in vw_names.by_addr */
	struct link *first, *last;
	int fam;
	uint8_t bytes[16]; /* IPv4: 4 bytes, the rest zero */
};

struct vw_names_timer {
	struct vw_names_entry *e;
	int fam;
};

struct vw_names_entry {
	struct vw_name name;
	struct vw_hnode node; /* in vw_names.by_name */
	struct vw_names_entry *prev, *next; /* vw_names.all */
	struct link *links[2]; /* one per address of name.fam[f], in the same order */
	size_t heap_idx[2]; /* position of (this, f) in vw_names.heap, or NOT_QUEUED */
	uint64_t seq[2]; /* when (this, f) was scheduled, for ties */
};

static size_t addr_len(int fam)
{
	return fam ? 16 : 4;
}

/* --- the refresh heap ------------------------------------------------------------------ */

static bool before(const struct vw_names_timer *a, const struct vw_names_timer *b)
{
	uint64_t ta = a->e->name.fam[a->fam].refresh_at, tb = b->e->name.fam[b->fam].refresh_at;

	if (ta != tb)
		return ta < tb;
	return a->e->seq[a->fam] < b->e->seq[b->fam];
}

static void heap_put(struct vw_names *ns, size_t i, struct vw_names_timer t)
{
	ns->heap[i] = t;
	t.e->heap_idx[t.fam] = i;
}

static void sift_up(struct vw_names *ns, size_t i)
{
	struct vw_names_timer t = ns->heap[i];

	while (i > 0 && before(&t, &ns->heap[(i - 1) / 2])) {
		heap_put(ns, i, ns->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_put(ns, i, t);
}

static void sift_down(struct vw_names *ns, size_t i)
{
	struct vw_names_timer t = ns->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= ns->n_heap)
			break;
		if (c + 1 < ns->n_heap && before(&ns->heap[c + 1], &ns->heap[c]))
			c++;
		if (!before(&ns->heap[c], &t))
			break;
		heap_put(ns, i, ns->heap[c]);
		i = c;
	}
	heap_put(ns, i, t);
}

static void unqueue(struct vw_names *ns, struct vw_names_entry *e, int f)
{
	size_t i = e->heap_idx[f];

	if (i == NOT_QUEUED)
		return;
	e->heap_idx[f] = NOT_QUEUED;
	if (i == --ns->n_heap)
		return;
	heap_put(ns, i, ns->heap[ns->n_heap]);
	sift_down(ns, i);
	sift_up(ns, i);
}

/* (Re)schedule (@e, @f) at its refresh_at. The heap has room: see vw_names_want(). */
static void queue(struct vw_names *ns, struct vw_names_entry *e, int f)
{
	unqueue(ns, e, f);
	e->seq[f] = ns->seq++;
	heap_put(ns, ns->n_heap++, (struct vw_names_timer){ .e = e, .fam = f });
	sift_up(ns, e->heap_idx[f]);
}

/* --- the reverse index ----------------------------------------------------------------- */

static struct addr *addr_find(const struct vw_names *ns, int fam, const uint8_t *bytes)
{
	size_t len = addr_len(fam);

	for (struct vw_hnode *n = vw_hmap_first(&ns->by_addr, vw_hash(bytes, len)); n;
	     n = vw_hmap_next(n)) {
		struct addr *x = vw_container_of(n, struct addr, node);

		if (x->fam == fam && memcmp(x->bytes, bytes, len) == 0)
			return x;
	}
	return NULL;
}

/* A new (family, address) in the index, with no names yet. */
static int addr_new(struct vw_names *ns, int fam, const uint8_t *bytes, struct addr **ret)
{
	struct addr *x = calloc(1, sizeof(*x));
	int r;

	if (!x)
		return -ENOMEM;
	x->fam = fam;
	memcpy(x->bytes, bytes, addr_len(fam));
	r = vw_hmap_add(&ns->by_addr, &x->node, vw_hash(bytes, addr_len(fam)));
	if (r < 0) {
		free(x);
		return r;
	}
	*ret = x;
	return 0;
}

static void addr_free(struct vw_names *ns, struct addr *x)
{
	vw_hmap_del(&ns->by_addr, &x->node);
	free(x);
}

static void link_append(struct link *l)
{
	struct addr *x = l->addr;

	l->next = NULL;
	l->prev = x->last;
	if (x->last)
		x->last->next = l;
	else
		x->first = l;
	x->last = l;
}

/* Put @l where @old was, so the name keeps its seniority for that address. */
static void link_move(struct link *old, struct link *l)
{
	struct addr *x = old->addr;

	l->addr = x;
	l->prev = old->prev;
	l->next = old->next;
	if (l->prev)
		l->prev->next = l;
	else
		x->first = l;
	if (l->next)
		l->next->prev = l;
	else
		x->last = l;
}

/* Unlink @l; an address no name holds any more leaves the index. */
static void link_del(struct vw_names *ns, struct link *l)
{
	struct addr *x = l->addr;

	if (l->prev)
		l->prev->next = l->next;
	else
		x->first = l->next;
	if (l->next)
		l->next->prev = l->prev;
	else
		x->last = l->prev;
	if (!x->first)
		addr_free(ns, x);
}

/*
 * Replace the addresses of (@e, @f) by @addrs (sorted, unique, @n of them; ownership moves
 * in on success), keeping the reverse index in step. Everything that can fail happens
 * before anything changes, so on failure the old addresses and index stay as they were.
 */
static int set_addrs(struct vw_names *ns, struct vw_names_entry *e, int f, uint8_t (*addrs)[16],
		     size_t n)
{
	struct vw_name_answer *a = &e->name.fam[f];
	struct link *old = e->links[f], *links = NULL;
	size_t i, j;
	int r = 0;

	if (n > 0) {
		links = calloc(n, sizeof(*links));
		if (!links)
			return -ENOMEM;
	}
	/* Both lists are sorted: walk them side by side, finding the index node of each new one. */
	for (i = 0, j = 0; j < n;) {
		int c = i < a->n ? memcmp(a->addrs[i], addrs[j], 16) : 1;

		if (c < 0) {
			i++;
			continue;
		}
		if (c == 0) {
			links[j++].addr = old[i++].addr;
			continue;
		}
		links[j].addr = addr_find(ns, f, addrs[j]);
		if (!links[j].addr) {
			r = addr_new(ns, f, addrs[j], &links[j].addr);
			if (r < 0)
				break;
		}
		j++;
	}
	if (r < 0) {
		/* Only the nodes made above have no names yet. */
		for (size_t k = 0; k < j; k++)
			if (!links[k].addr->first)
				addr_free(ns, links[k].addr);
		free(links);
		return r;
	}
	for (i = 0, j = 0; i < a->n || j < n;) {
		int c = i >= a->n ? 1 : j >= n ? -1 : memcmp(a->addrs[i], addrs[j], 16);

		if (c < 0) {
			link_del(ns, &old[i++]);
		} else if (c == 0) {
			links[j].e = e;
			link_move(&old[i++], &links[j++]);
		} else {
			links[j].e = e;
			link_append(&links[j++]);
		}
	}
	free(old);
	free(a->addrs);
	e->links[f] = links;
	a->addrs = addrs;
	a->n = n;
	return 0;
}

const char *vw_names_reverse(const struct vw_names *ns, uint8_t family, const uint8_t *addr)
{
	const struct addr *x = addr_find(ns, family == AF_INET6 ? 1 : 0, addr);

	return x ? x->first->e->name.name : NULL;
}

/* --- names ------------------------------------------------------------------------------ */

void vw_names_init(struct vw_names *ns, unsigned ttl_min, unsigned ttl_max)
{
	*ns = (struct vw_names){ .ttl_min = ttl_min, .ttl_max = ttl_max };
}

static struct vw_names_entry *find(const struct vw_names *ns, const char *name)
{
	for (struct vw_hnode *n = vw_hmap_first(&ns->by_name, vw_hash_str(name)); n;
	     n = vw_hmap_next(n)) {
		struct vw_names_entry *e = vw_container_of(n, struct vw_names_entry, node);

		if (strcmp(e->name.name, name) == 0)
			return e;
	}
	return NULL;
}

static void entry_free(struct vw_names *ns, struct vw_names_entry *e)
{
	for (int f = 0; f < 2; f++) {
		/* Dropping every address cannot fail: it allocates nothing. */
		(void)set_addrs(ns, e, f, NULL, 0);
		unqueue(ns, e, f);
	}
	vw_hmap_del(&ns->by_name, &e->node);
	if (e->prev)
		e->prev->next = e->next;
	else
		ns->all = e->next;
	if (e->next)
		e->next->prev = e->prev;
	ns->n--;
	free(e);
}

void vw_names_done(struct vw_names *ns)
{
	while (ns->all)
		entry_free(ns, ns->all);
	vw_hmap_done(&ns->by_name);
	vw_hmap_done(&ns->by_addr);
	free(ns->heap);
	vw_names_init(ns, ns->ttl_min, ns->ttl_max);
}

void vw_names_begin(struct vw_names *ns)
{
	for (struct vw_names_entry *e = ns->all; e; e = e->next)
		e->name.wanted = false;
}

int vw_names_want(struct vw_names *ns, const char *name, uint64_t now)
{
	struct vw_names_entry *e = find(ns, name);
	int r;

	if (e) {
		e->name.wanted = true;
		return 0;
	}
	if (strlen(name) >= sizeof(e->name.name))
		return -EINVAL;
	if (ns->n >= VW_NAMES_MAX)
		return -ENOBUFS;
	/* Room for both families of every name, so that scheduling never has to allocate. */
	r = vw_grow((void **)&ns->heap, &ns->cap_heap, 2 * (ns->n + 1), sizeof(*ns->heap),
		    2 * VW_NAMES_MAX);
	if (r < 0)
		return r;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	memcpy(e->name.name, name, strlen(name) + 1);
	r = vw_hmap_add(&ns->by_name, &e->node, vw_hash_str(name));
	if (r < 0) {
		free(e);
		return r;
	}
	e->next = ns->all;
	if (ns->all)
		ns->all->prev = e;
	ns->all = e;
	ns->n++;
	e->name.wanted = true;
	for (int f = 0; f < 2; f++) {
		e->name.fam[f].refresh_at = now;
		e->heap_idx[f] = NOT_QUEUED;
		queue(ns, e, f);
	}
	return 0;
}

size_t vw_names_sweep(struct vw_names *ns)
{
	struct vw_names_entry *e, *next;
	size_t dropped = 0;

	for (e = ns->all; e; e = next) {
		next = e->next;
		if (!e->name.wanted) {
			entry_free(ns, e);
			dropped++;
		}
	}
	return dropped;
}

bool vw_names_forget(struct vw_names *ns, const char *name)
{
	struct vw_names_entry *e = find(ns, name);

	if (!e)
		return false;
	entry_free(ns, e);
	return true;
}

const struct vw_name *vw_names_get(const struct vw_names *ns, const char *name)
{
	struct vw_names_entry *e = find(ns, name);

	return e ? &e->name : NULL;
}

const struct vw_name *vw_names_next_due(struct vw_names *ns, uint64_t now, int *ret_fam)
{
	struct vw_names_timer t;

	if (ns->n_heap == 0 || ns->heap[0].e->name.fam[ns->heap[0].fam].refresh_at > now)
		return NULL;
	t = ns->heap[0];
	unqueue(ns, t.e, t.fam);
	t.e->name.fam[t.fam].in_flight = true;
	*ret_fam = t.fam;
	return &t.e->name;
}

uint64_t vw_names_deadline(const struct vw_names *ns)
{
	uint64_t d;

	if (ns->n_heap == 0)
		return 0;
	d = ns->heap[0].e->name.fam[ns->heap[0].fam].refresh_at;
	/* 0 means "no deadline" to callers, so a name due at time 0 must read as 1. */
	return d == 0 ? 1 : d;
}

static unsigned clamp(unsigned v, unsigned lo, unsigned hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static int cmp_addr16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static bool same_addrs(const struct vw_name_answer *a, const uint8_t (*addrs)[16], size_t n)
{
	return a->n == n && (n == 0 || memcmp(a->addrs, addrs, n * sizeof(*addrs)) == 0);
}

/* Record an answer for (@e, @f), which is no longer in flight. Returns 1 if changed. */
static int record(struct vw_names *ns, struct vw_names_entry *e, int f, enum vw_dns_status status,
		  const uint8_t (*addrs)[16], size_t n, unsigned ttl, uint64_t now)
{
	struct vw_name_answer *a = &e->name.fam[f];
	uint8_t(*sorted)[16] = NULL;
	size_t out = 0;
	bool changed;
	int r;

	if (status == VW_DNS_FAIL) {
		unsigned backoff = a->failures < 6 ? 1u << a->failures : BACKOFF_MAX;

		a->failures++;
		a->refresh_at = now + (uint64_t)clamp(backoff, 1, BACKOFF_MAX) * 1000;
		/*
		 * Riding out a resolver outage is fine; trusting an answer forever is not: the
		 * addresses may have moved to someone else. Past the grace period they go.
		 */
		if (a->n == 0 || now < a->expires_at + (uint64_t)STALE_GRACE * 1000)
			return 0;
		(void)set_addrs(ns, e, f, NULL, 0);
		return 1;
	}
	if (status == VW_DNS_NONE) {
		n = 0;
		ttl = NEGATIVE_TTL;
	}
	if (n > VW_NAME_ADDRS_MAX)
		n = VW_NAME_ADDRS_MAX;
	if (n > 0) {
		sorted = malloc(n * sizeof(*sorted));
		if (!sorted)
			return -ENOMEM;
		memcpy(sorted, addrs, n * sizeof(*sorted));
		/* One IPv4 address is one entry, whatever the caller left in the unused bytes. */
		if (f == 0)
			for (size_t k = 0; k < n; k++)
				memset(sorted[k] + 4, 0, 12);
		qsort(sorted, n, sizeof(*sorted), cmp_addr16);
		for (size_t k = 0; k < n; k++)
			if (out == 0 || memcmp(sorted[out - 1], sorted[k], 16) != 0)
				memcpy(sorted[out++], sorted[k], 16);
	}
	changed = !same_addrs(a, (const uint8_t(*)[16])sorted, out);
	if (changed) {
		r = set_addrs(ns, e, f, sorted, out);
		if (r < 0) {
			free(sorted);
			return r;
		}
	} else {
		free(sorted);
	}
	a->known = true;
	a->failures = 0;
	ttl = clamp(ttl, ns->ttl_min, ns->ttl_max);
	a->refresh_at = now + (uint64_t)ttl * 1000;
	a->expires_at = a->refresh_at;
	return changed ? 1 : 0;
}

int vw_names_answer(struct vw_names *ns, const char *name, int fam, enum vw_dns_status status,
		    const uint8_t (*addrs)[16], size_t n, unsigned ttl, uint64_t now)
{
	struct vw_names_entry *e = find(ns, name);
	int r;

	if (!e || fam < 0 || fam > 1)
		return 0;
	r = record(ns, e, fam, status, addrs, n, ttl, now);
	/* Even when out of memory: not in flight means scheduled (at the old time, then). */
	e->name.fam[fam].in_flight = false;
	queue(ns, e, fam);
	return r;
}
