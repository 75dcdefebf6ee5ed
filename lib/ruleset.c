// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Desired-state data and its diff. The plan's order follows what nf_tables accepts inside
 * one transaction: a chain can only be deleted once no verdict-map element points at it,
 * and a set only once no rule uses it, so deletions of references come first and their
 * re-creations last.
 */
#include "vpnwall/ruleset.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnwall/util.h"

#define RANGES_MAX (1u << 20)
#define PLAN_MAX (1u << 24)

size_t vw_addr_len(uint8_t family)
{
	return family == AF_INET6 ? 16 : 4;
}

int vw_rangeset_add(struct vw_rangeset *s, const uint8_t *lo, const uint8_t *hi)
{
	size_t len = vw_addr_len(s->family);
	struct vw_range *r;
	int e;

	e = vw_grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v), RANGES_MAX);
	if (e < 0)
		return e;
	r = &s->v[s->n++];
	memset(r, 0, sizeof(*r));
	memcpy(r->lo, lo, len);
	memcpy(r->hi, hi, len);
	return 0;
}

int vw_rangeset_add_prefix(struct vw_rangeset *s, const uint8_t *addr, unsigned prefix)
{
	size_t len = vw_addr_len(s->family);
	uint8_t hi[16];

	memcpy(hi, addr, len);
	for (unsigned i = prefix; i < len * 8; i++)
		hi[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	return vw_rangeset_add(s, addr, hi);
}

static int cmp_range(const void *a, const void *b, void *len)
{
	const struct vw_range *x = a, *y = b;
	int c = memcmp(x->lo, y->lo, *(size_t *)len);

	return c ? c : memcmp(x->hi, y->hi, *(size_t *)len);
}

/* Big-endian increment; false on wrap-around (the input was the last address). */
static bool addr_inc(uint8_t *a, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++a[i] != 0)
			return true;
	return false;
}

void vw_rangeset_normalize(struct vw_rangeset *s)
{
	size_t len = vw_addr_len(s->family), out = 0;

	if (s->n < 2)
		return;
	qsort_r(s->v, s->n, sizeof(*s->v), cmp_range, &len);
	for (size_t i = 1; i < s->n; i++) {
		struct vw_range *cur = &s->v[out];
		uint8_t next[16];
		bool touches;

		memcpy(next, cur->hi, len);
		/* cur ends at the last address: everything after is inside it. */
		touches = !addr_inc(next, len) || memcmp(s->v[i].lo, next, len) <= 0;
		if (touches) {
			if (memcmp(s->v[i].hi, cur->hi, len) > 0)
				memcpy(cur->hi, s->v[i].hi, len);
		} else {
			s->v[++out] = s->v[i];
		}
	}
	s->n = out + 1;
}

bool vw_rangeset_contains(const struct vw_rangeset *s, const uint8_t *addr)
{
	size_t len = vw_addr_len(s->family), lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(addr, s->v[mid].lo, len) < 0)
			hi = mid;
		else if (memcmp(addr, s->v[mid].hi, len) > 0)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

bool vw_range_end_key(const struct vw_range *r, uint8_t family, uint8_t *ret)
{
	size_t len = vw_addr_len(family);

	memcpy(ret, r->hi, len);
	return addr_inc(ret, len);
}

void vw_audit_prefix(char *buf, size_t size, bool audit, const char *key)
{
	snprintf(buf, size, "%c:%s", audit ? 'W' : 'D', key);
}

int vw_audit_prefix_parse(const char *prefix, bool *ret_audit, const char **ret_key)
{
	if ((prefix[0] != 'D' && prefix[0] != 'W') || prefix[1] != ':' || !prefix[2])
		return -EINVAL;
	*ret_audit = prefix[0] == 'W';
	*ret_key = prefix + 2;
	return 0;
}

void vw_rs_container_done(struct vw_rs_container *c)
{
	for (size_t j = 0; j < c->n_groups; j++) {
		free(c->groups[j].set4.v);
		free(c->groups[j].set6.v);
	}
	free(c->groups);
	c->groups = NULL;
	c->n_groups = 0;
}

void vw_ruleset_done(struct vw_ruleset *rs)
{
	for (size_t i = 0; i < rs->n_containers; i++)
		vw_rs_container_done(&rs->containers[i]);
	free(rs->containers);
	free(rs->sources);
	free(rs->bridges);
	free(rs->skip);
	*rs = (struct vw_ruleset){ 0 };
}

const struct vw_rs_container *vw_ruleset_find(const struct vw_ruleset *rs, const char *key)
{
	size_t lo = 0, hi = rs->n_containers;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, rs->containers[mid].key);

		if (c == 0)
			return &rs->containers[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int cmp_source_key(uint8_t fa, const uint8_t *a, uint8_t fb, const uint8_t *b)
{
	if (fa != fb)
		return fa < fb ? -1 : 1;
	return memcmp(a, b, vw_addr_len(fa));
}

const struct vw_rs_source *vw_ruleset_source_find(const struct vw_ruleset *rs, uint8_t family,
						  const uint8_t *addr)
{
	size_t lo = 0, hi = rs->n_sources;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct vw_rs_source *s = &rs->sources[mid];
		int c = cmp_source_key(family, addr, s->family, s->addr);

		if (c == 0)
			return s;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int push(struct vw_plan *p, const struct vw_op *op)
{
	int r;

	r = vw_grow((void **)&p->ops, &p->cap, p->n + 1, sizeof(*p->ops), PLAN_MAX);
	if (r < 0)
		return r;
	p->ops[p->n++] = *op;
	return 0;
}

/* Same objects in the kernel: only set contents may differ. */
static bool same_shape(const struct vw_rs_container *a, const struct vw_rs_container *b)
{
	if (a->audit != b->audit || a->n_groups != b->n_groups)
		return false;
	for (size_t i = 0; i < a->n_groups; i++) {
		const struct vw_rs_group *x = &a->groups[i], *y = &b->groups[i];

		if (x->proto != y->proto || x->port_lo != y->port_lo || x->port_hi != y->port_hi ||
		    x->has4 != y->has4 || x->has6 != y->has6)
			return false;
	}
	return true;
}

static bool range_eq(const struct vw_range *a, const struct vw_range *b, size_t len)
{
	return memcmp(a->lo, b->lo, len) == 0 && memcmp(a->hi, b->hi, len) == 0;
}

/* Ranges of @a not present, identically, in @b (both normalized, hence sorted). */
static int ranges_minus(const struct vw_rangeset *a, const struct vw_rangeset *b,
			struct vw_range **ret, size_t *ret_n)
{
	size_t len = vw_addr_len(a->family), n = 0, j = 0;
	struct vw_range *out = NULL;

	for (size_t i = 0; i < a->n; i++) {
		while (j < b->n && memcmp(b->v[j].lo, a->v[i].lo, len) < 0)
			j++;
		if (j < b->n && range_eq(&a->v[i], &b->v[j], len))
			continue;
		if (!out) {
			out = calloc(a->n, sizeof(*out));
			if (!out)
				return -ENOMEM;
		}
		out[n++] = a->v[i];
	}
	*ret = out;
	*ret_n = n;
	return 0;
}

static int diff_set(struct vw_plan *p, const struct vw_rs_container *c, unsigned group,
		    const struct vw_rangeset *old, const struct vw_rangeset *new, bool add)
{
	struct vw_op op = { .type = add ? VW_OP_RANGES_ADD : VW_OP_RANGES_DEL,
			    .c = c,
			    .group = group,
			    .family = new->family };
	int r;

	r = add ? ranges_minus(new, old, &op.ranges, &op.n_ranges)
		: ranges_minus(old, new, &op.ranges, &op.n_ranges);
	if (r < 0)
		return r;
	if (op.n_ranges == 0) {
		free(op.ranges);
		return 0;
	}
	r = push(p, &op);
	if (r < 0)
		free(op.ranges);
	return r;
}

static int diff_contents(struct vw_plan *p, const struct vw_rs_container *old,
			 const struct vw_rs_container *new, bool add)
{
	int r;

	for (unsigned g = 0; g < new->n_groups; g++) {
		const struct vw_rs_group *a = &old->groups[g], *b = &new->groups[g];

		if (b->has4) {
			r = diff_set(p, new, g, &a->set4, &b->set4, add);
			if (r < 0)
				return r;
		}
		if (b->has6) {
			r = diff_set(p, new, g, &a->set6, &b->set6, add);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Whether the container behind @key is deleted or re-created by this diff. */
static bool container_replaced(const struct vw_ruleset *applied, const struct vw_ruleset *desired,
			       const char *key)
{
	const struct vw_rs_container *a, *d;

	if (!key[0])
		return false;
	a = vw_ruleset_find(applied, key);
	d = vw_ruleset_find(desired, key);
	return !a || !d || !same_shape(a, d);
}

static bool source_kept(const struct vw_ruleset *applied, const struct vw_ruleset *desired,
			const struct vw_rs_source *s, const struct vw_ruleset *other)
{
	const struct vw_rs_source *o = vw_ruleset_source_find(other, s->family, s->addr);

	return o && strcmp(o->key, s->key) == 0 && !container_replaced(applied, desired, s->key);
}

static bool has_name(char (*v)[VW_IFNAMSIZ], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return true;
	return false;
}

/* Bridge-set elements of @from missing in @other, as @type ops. */
static int bridge_ops(struct vw_plan *p, enum vw_op_type type, const struct vw_ruleset *from,
		      const struct vw_ruleset *other)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < from->n_bridges; i++)
		if (!other || !has_name(other->bridges, other->n_bridges, from->bridges[i]))
			r = push(p, &(struct vw_op){ .type = type, .ifname = from->bridges[i] });
	for (size_t i = 0; r >= 0 && i < from->n_skip; i++)
		if (!other || !has_name(other->skip, other->n_skip, from->skip[i]))
			r = push(p, &(struct vw_op){
					    .type = type, .ifname = from->skip[i], .skip = true });
	return r;
}

static int diff_full(const struct vw_ruleset *desired, struct vw_plan *p)
{
	int r;

	r = push(p, &(struct vw_op){ .type = VW_OP_RESET, .rs = desired });
	for (size_t i = 0; r >= 0 && i < desired->n_containers; i++)
		r = push(p, &(struct vw_op){ .type = VW_OP_CONTAINER_ADD,
					     .rs = desired,
					     .c = &desired->containers[i] });
	for (size_t i = 0; r >= 0 && i < desired->n_sources; i++)
		r = push(p,
			 &(struct vw_op){ .type = VW_OP_SOURCE_ADD, .src = &desired->sources[i] });
	if (r >= 0)
		r = bridge_ops(p, VW_OP_BRIDGE_ADD, desired, NULL);
	return r < 0 ? r : 0;
}

static int diff_incremental(const struct vw_ruleset *a, const struct vw_ruleset *d,
			    struct vw_plan *p)
{
	int r = 0;

	/* 1. references to chains that go away or change */
	for (size_t i = 0; r >= 0 && i < a->n_sources; i++)
		if (!source_kept(a, d, &a->sources[i], d))
			r = push(p, &(struct vw_op){ .type = VW_OP_SOURCE_DEL,
						     .src = &a->sources[i] });
	/* 2. the chains, sets and counters themselves */
	for (size_t i = 0; r >= 0 && i < a->n_containers; i++)
		if (container_replaced(a, d, a->containers[i].key))
			r = push(p, &(struct vw_op){ .type = VW_OP_CONTAINER_DEL,
						     .c = &a->containers[i] });
	if (r >= 0)
		r = bridge_ops(p, VW_OP_BRIDGE_DEL, a, d);
	/* 3. new and re-created containers, then set contents of the kept ones */
	for (size_t i = 0; r >= 0 && i < d->n_containers; i++)
		if (container_replaced(a, d, d->containers[i].key))
			r = push(p, &(struct vw_op){ .type = VW_OP_CONTAINER_ADD,
						     .rs = d,
						     .c = &d->containers[i] });
	for (size_t i = 0; r >= 0 && i < d->n_containers; i++) {
		const struct vw_rs_container *nc = &d->containers[i];
		const struct vw_rs_container *oc = vw_ruleset_find(a, nc->key);

		if (oc && same_shape(oc, nc)) {
			/* Deletions first: merged ranges of old and new may share a start key. */
			r = diff_contents(p, oc, nc, false);
			if (r >= 0)
				r = diff_contents(p, oc, nc, true);
		}
	}
	/* 4. references last */
	for (size_t i = 0; r >= 0 && i < d->n_sources; i++)
		if (!source_kept(a, d, &d->sources[i], a))
			r = push(p, &(struct vw_op){ .type = VW_OP_SOURCE_ADD,
						     .src = &d->sources[i] });
	if (r >= 0)
		r = bridge_ops(p, VW_OP_BRIDGE_ADD, d, a);
	return r < 0 ? r : 0;
}

int vw_ruleset_diff(const struct vw_ruleset *applied, const struct vw_ruleset *desired,
		    struct vw_plan *ret_plan)
{
	struct vw_plan p = { 0 };
	int r;

	if (!applied || applied->dry_run != desired->dry_run ||
	    applied->log_group != desired->log_group || applied->log_rate != desired->log_rate ||
	    applied->police_unknown != desired->police_unknown)
		r = diff_full(desired, &p);
	else
		r = diff_incremental(applied, desired, &p);
	if (r < 0) {
		vw_plan_done(&p);
		return r;
	}
	*ret_plan = p;
	return 0;
}

void vw_plan_done(struct vw_plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->ops[i].ranges);
	free(p->ops);
	*p = (struct vw_plan){ 0 };
}
