// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Name cache bookkeeping. Kept sorted by name so lookups during policy compilation are
 * logarithmic; the number of names is small compared to the number of containers.
 */
#include "vpnwall/names.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/util.h"

/* How long "no such name / no address of this family" is believed before asking again. */
#define NEGATIVE_TTL 60
#define BACKOFF_MAX 60
/* How long past its TTL an answer is kept while the resolver fails. */
#define STALE_GRACE 3600

void vw_names_init(struct vw_names *ns, unsigned ttl_min, unsigned ttl_max)
{
	*ns = (struct vw_names){ .ttl_min = ttl_min, .ttl_max = ttl_max };
}

static void name_done(struct vw_name *n)
{
	free(n->fam[0].addrs);
	free(n->fam[1].addrs);
}

void vw_names_done(struct vw_names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		name_done(&ns->v[i]);
	free(ns->v);
	ns->v = NULL;
	ns->n = ns->cap = 0;
}

void vw_names_begin(struct vw_names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		ns->v[i].wanted = false;
}

/* Index of @name, or of where it would be inserted (with *found false). */
static size_t find(const struct vw_names *ns, const char *name, bool *found)
{
	size_t lo = 0, hi = ns->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, ns->v[mid].name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*found = false;
	return lo;
}

int vw_names_want(struct vw_names *ns, const char *name, uint64_t now)
{
	struct vw_name *n;
	bool found;
	size_t i;
	int r;

	i = find(ns, name, &found);
	if (found) {
		ns->v[i].wanted = true;
		return 0;
	}
	r = vw_grow((void **)&ns->v, &ns->cap, ns->n + 1, sizeof(*ns->v), VW_NAMES_MAX);
	if (r < 0)
		return r;
	memmove(&ns->v[i + 1], &ns->v[i], (ns->n - i) * sizeof(*ns->v));
	ns->n++;
	n = &ns->v[i];
	*n = (struct vw_name){ .wanted = true };
	(void)vw_strscpy(n->name, name, sizeof(n->name));
	n->fam[0].refresh_at = n->fam[1].refresh_at = now;
	return 0;
}

size_t vw_names_sweep(struct vw_names *ns)
{
	size_t out = 0, dropped = 0;

	for (size_t i = 0; i < ns->n; i++) {
		if (ns->v[i].wanted) {
			ns->v[out++] = ns->v[i];
		} else {
			name_done(&ns->v[i]);
			dropped++;
		}
	}
	ns->n = out;
	return dropped;
}

const struct vw_name *vw_names_get(const struct vw_names *ns, const char *name)
{
	bool found;
	size_t i = find(ns, name, &found);

	return found ? &ns->v[i] : NULL;
}

const struct vw_name *vw_names_next_due(struct vw_names *ns, uint64_t now, int *ret_fam)
{
	for (size_t i = 0; i < ns->n; i++)
		for (int f = 0; f < 2; f++) {
			struct vw_name_answer *a = &ns->v[i].fam[f];

			if (!a->in_flight && a->refresh_at <= now) {
				a->in_flight = true;
				*ret_fam = f;
				return &ns->v[i];
			}
		}
	return NULL;
}

uint64_t vw_names_deadline(const struct vw_names *ns)
{
	uint64_t d = UINT64_MAX;

	for (size_t i = 0; i < ns->n; i++)
		for (int f = 0; f < 2; f++) {
			const struct vw_name_answer *a = &ns->v[i].fam[f];

			if (!a->in_flight && a->refresh_at < d)
				d = a->refresh_at;
		}
	if (d == UINT64_MAX)
		return 0;
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

int vw_names_answer(struct vw_names *ns, const char *name, int fam, enum vw_dns_status status,
		    const uint8_t (*addrs)[16], size_t n, unsigned ttl, uint64_t now)
{
	uint8_t(*sorted)[16] = NULL;
	struct vw_name_answer *a;
	size_t i, out = 0;
	bool found, changed;

	i = find(ns, name, &found);
	if (!found || fam < 0 || fam > 1)
		return 0;
	a = &ns->v[i].fam[fam];
	a->in_flight = false;

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
		free(a->addrs);
		a->addrs = NULL;
		a->n = 0;
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
		qsort(sorted, n, sizeof(*sorted), cmp_addr16);
		for (size_t k = 0; k < n; k++)
			if (out == 0 || memcmp(sorted[out - 1], sorted[k], 16) != 0)
				memcpy(sorted[out++], sorted[k], 16);
	}
	changed = !same_addrs(a, (const uint8_t(*)[16])sorted, out);
	free(a->addrs);
	a->addrs = sorted;
	a->n = out;
	a->known = true;
	a->failures = 0;
	ttl = clamp(ttl, ns->ttl_min, ns->ttl_max);
	a->refresh_at = now + (uint64_t)ttl * 1000;
	a->expires_at = a->refresh_at;
	return changed ? 1 : 0;
}

const char *vw_names_reverse(const struct vw_names *ns, uint8_t family, const uint8_t *addr)
{
	int f = family == AF_INET6 ? 1 : 0;
	size_t len = f ? 16 : 4;

	for (size_t i = 0; i < ns->n; i++)
		for (size_t k = 0; k < ns->v[i].fam[f].n; k++)
			if (memcmp(ns->v[i].fam[f].addrs[k], addr, len) == 0)
				return ns->v[i].name;
	return NULL;
}
