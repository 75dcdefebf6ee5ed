// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Desired-state data, the decomposition of overlapping policy entries into disjoint boxes,
 * and the diff. Boxes must be disjoint because the kernel's concatenated range sets refuse
 * overlapping elements; they are built by a sweep over the address axis: between two
 * consecutive address breakpoints the set of entries in force is constant, so that stretch
 * becomes one box per merged port range (or a single any-protocol box), and neighbouring
 * stretches with the same ports are merged.
 */
#include "vpnwall/ruleset.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnwall/labels.h"
#include "vpnwall/util.h"

#define ATOMS_MAX (1u << 20)
#define PLAN_MAX (1u << 24)
#define CONTAINERS_MAX 65536
#define SOURCES_MAX (CONTAINERS_MAX * 4)

size_t vw_addr_len(uint8_t family)
{
	return family == AF_INET6 ? 16 : 4;
}

int vw_family_index(uint8_t family)
{
	return family == AF_INET6 ? 1 : 0;
}

int vw_boxset_index(enum vw_path path, uint8_t family)
{
	return (int)path * 2 + vw_family_index(family);
}

const char *vw_path_name(enum vw_path path)
{
	return path == VW_PATH_ANY ? "any" : "vpn";
}

/* Big-endian increment; false on wrap-around (the input was the last address). */
static bool addr_inc(uint8_t *a, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++a[i] != 0)
			return true;
	return false;
}

bool vw_addr_next(uint8_t family, const uint8_t *addr, uint8_t *ret)
{
	size_t len = vw_addr_len(family);

	memcpy(ret, addr, len);
	return addr_inc(ret, len);
}

int vw_atoms_add_prefix(struct vw_atoms *a, const uint8_t *addr, unsigned prefix, uint8_t protos,
			uint16_t port_lo, uint16_t port_hi)
{
	size_t len = vw_addr_len(a->family);
	struct vw_atom *t;
	int r;

	r = vw_grow((void **)&a->v, &a->cap, a->n + 1, sizeof(*a->v), ATOMS_MAX);
	if (r < 0)
		return r;
	t = &a->v[a->n++];
	*t = (struct vw_atom){ .protos = protos, .port_lo = port_lo, .port_hi = port_hi };
	memcpy(t->lo, addr, len);
	memcpy(t->hi, addr, len);
	for (unsigned i = prefix; i < len * 8; i++)
		t->hi[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	if (!protos) {
		t->port_lo = 0;
		t->port_hi = UINT16_MAX;
	}
	return 0;
}

void vw_atoms_done(struct vw_atoms *a)
{
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

void vw_boxset_done(struct vw_boxset *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = s->cost = 0;
}

bool vw_boxset_same(const struct vw_boxset *a, const struct vw_boxset *b)
{
	/* struct vw_box has no padding: equal boxes are equal bytes. */
	_Static_assert(sizeof(struct vw_box) == 2 * 16 + 2 * 2 + 2, "struct vw_box is padded");
	return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof(*a->v)) == 0);
}

/* CIDR prefixes covering [lo, hi] of a @bits-wide big-endian number (bits <= 128). */
static size_t prefixes(const uint8_t *lo, const uint8_t *hi, size_t bytes)
{
	unsigned __int128 a = 0, b = 0;
	size_t n = 0;

	for (size_t i = 0; i < bytes; i++) {
		a = a << 8 | lo[i];
		b = b << 8 | hi[i];
	}
	for (;;) {
		unsigned __int128 size = 1;

		/* The largest aligned block starting at a that ends within b. */
		while (size << 1 != 0 && (a & ((size << 1) - 1)) == 0 && (size << 1) - 1 <= b - a)
			size <<= 1;
		n++;
		if (b - a < size || a + size < a)
			return n;
		a += size;
	}
}

size_t vw_box_cost(uint8_t family, const struct vw_box *b)
{
	uint8_t plo[2] = { (uint8_t)(b->port_lo >> 8), (uint8_t)b->port_lo };
	uint8_t phi[2] = { (uint8_t)(b->port_hi >> 8), (uint8_t)b->port_hi };

	size_t addr = prefixes(b->lo, b->hi, vw_addr_len(family));
	size_t proto = prefixes(&b->proto_lo, &b->proto_hi, 1);
	size_t port = prefixes(plo, phi, 2);

	size_t widest = addr > proto ? addr : proto;

	return widest > port ? widest : port;
}

/* --- decomposition ------------------------------------------------------------------------- */

struct event {
	uint8_t addr[16];
	uint32_t scope;
	bool start;
};

struct port_range {
	uint16_t lo, hi;
};

/*
 * What atoms allow apart from their addresses: any protocol, or some of TCP and UDP over a
 * port range. Policies use few distinct scopes (443/tcp, 53/udp, any) however many addresses
 * they list, so the sweep counts the atoms in force per scope rather than keeping the atoms
 * themselves: the coverage of a stretch then costs one pass over the scopes.
 */
struct scope {
	uint8_t protos;
	uint16_t port_lo, port_hi;
	uint32_t active; /* atoms of this scope in force */
};

/* What is allowed over one stretch of addresses. */
struct coverage {
	bool any;
	struct port_range *ports[2]; /* [0] TCP, [1] UDP: sorted, merged */
	size_t n[2];
	size_t cap[2];
};

struct sweep {
	size_t len; /* address length */
	size_t max; /* cost budget */
	struct vw_boxset *out;
	struct scope *scopes; /* sorted by (port_lo, port_hi, protos), distinct */
	size_t n_scopes;
	uint32_t any; /* atoms of any protocol in force */
	struct coverage cur, prev;
	bool have_prev;
	uint8_t prev_lo[16], prev_hi[16];
};

static int cmp_event(const void *a, const void *b, void *len)
{
	return memcmp(((const struct event *)a)->addr, ((const struct event *)b)->addr,
		      *(size_t *)len);
}

static int cmp_scope(const void *a, const void *b)
{
	const struct scope *x = a, *y = b;

	if (x->port_lo != y->port_lo)
		return x->port_lo < y->port_lo ? -1 : 1;
	if (x->port_hi != y->port_hi)
		return x->port_hi < y->port_hi ? -1 : 1;
	return x->protos < y->protos ? -1 : x->protos > y->protos;
}

static void coverage_done(struct coverage *c)
{
	free(c->ports[0]);
	free(c->ports[1]);
}

static bool coverage_eq(const struct coverage *a, const struct coverage *b)
{
	if (a->any != b->any)
		return false;
	if (a->any)
		return true;
	for (int p = 0; p < 2; p++)
		if (a->n[p] != b->n[p] ||
		    (a->n[p] && memcmp(a->ports[p], b->ports[p], a->n[p] * sizeof(**a->ports))))
			return false;
	return true;
}

static bool coverage_empty(const struct coverage *c)
{
	return !c->any && c->n[0] == 0 && c->n[1] == 0;
}

/* The coverage of the atoms in force: the union of their scopes' port ranges, merged. */
static int coverage_compute(struct sweep *s)
{
	struct coverage *c = &s->cur;
	int r;

	c->n[0] = c->n[1] = 0;
	c->any = s->any > 0;
	if (c->any)
		return 0;
	for (size_t i = 0; i < s->n_scopes; i++) {
		const struct scope *sc = &s->scopes[i];

		if (!sc->active)
			continue;
		for (int p = 0; p < 2; p++) {
			struct port_range *last;

			if (!(sc->protos & (p == 0 ? VW_PROTO_TCP : VW_PROTO_UDP)))
				continue;
			/* Scopes come by port_lo, so a range either extends the last or follows it.
			 */
			last = c->n[p] ? &c->ports[p][c->n[p] - 1] : NULL;
			if (last && (uint32_t)sc->port_lo <= (uint32_t)last->hi + 1) {
				if (sc->port_hi > last->hi)
					last->hi = sc->port_hi;
				continue;
			}
			r = vw_grow((void **)&c->ports[p], &c->cap[p], c->n[p] + 1,
				    sizeof(**c->ports), ATOMS_MAX);
			if (r < 0)
				return r;
			c->ports[p][c->n[p]++] = (struct port_range){ sc->port_lo, sc->port_hi };
		}
	}
	return 0;
}

static int emit_box(struct sweep *s, uint8_t proto_lo, uint8_t proto_hi, uint16_t port_lo,
		    uint16_t port_hi)
{
	struct vw_box box = {
		.port_lo = port_lo, .port_hi = port_hi, .proto_lo = proto_lo, .proto_hi = proto_hi
	};
	size_t cost;
	int r;

	memcpy(box.lo, s->prev_lo, s->len);
	memcpy(box.hi, s->prev_hi, s->len);
	/* Every box costs at least one rule, so the budget also bounds the boxes kept. */
	cost = vw_box_cost(s->out->family, &box);
	if (cost > s->max - s->out->cost)
		return -E2BIG;
	r = vw_grow((void **)&s->out->v, &s->out->cap, s->out->n + 1, sizeof(*s->out->v), s->max);
	if (r < 0)
		return r == -ENOBUFS ? -E2BIG : r;
	s->out->v[s->out->n++] = box;
	s->out->cost += cost;
	return 0;
}

/* Turn the pending stretch into boxes: one any-protocol box, or one per port range. */
static int flush(struct sweep *s)
{
	static const uint8_t protos[2] = { IPPROTO_TCP, IPPROTO_UDP };
	int r = 0;

	if (!s->have_prev)
		return 0;
	s->have_prev = false;
	if (s->prev.any)
		return emit_box(s, 0, UINT8_MAX, 0, UINT16_MAX);
	/* Boxes of one stretch stay sorted by (proto, port): TCP (6) before UDP (17). */
	for (int p = 0; p < 2 && r >= 0; p++)
		for (size_t i = 0; i < s->prev.n[p] && r >= 0; i++)
			r = emit_box(s, protos[p], protos[p], s->prev.ports[p][i].lo,
				     s->prev.ports[p][i].hi);
	return r;
}

/* The stretch [lo, hi] has the coverage in s->cur. */
static int stretch(struct sweep *s, const uint8_t *lo, const uint8_t *hi)
{
	struct coverage tmp;
	uint8_t next[16];
	int r;

	if (coverage_empty(&s->cur))
		return flush(s);
	/* Extend the pending stretch when it ends right before this one with equal coverage. */
	if (s->have_prev && coverage_eq(&s->prev, &s->cur) &&
	    addr_inc(memcpy(next, s->prev_hi, 16), s->len) && memcmp(next, lo, s->len) == 0) {
		memcpy(s->prev_hi, hi, s->len);
		return 0;
	}
	r = flush(s);
	if (r < 0)
		return r;
	tmp = s->prev;
	s->prev = s->cur;
	s->cur = tmp;
	memcpy(s->prev_lo, lo, s->len);
	memcpy(s->prev_hi, hi, s->len);
	s->have_prev = true;
	return 0;
}

static int sweep_run(struct sweep *s, struct event *ev, size_t n_ev)
{
	size_t i = 0;
	int r;

	while (i < n_ev) {
		const uint8_t *at = ev[i].addr;
		uint8_t last[16];

		for (; i < n_ev && memcmp(ev[i].addr, at, s->len) == 0; i++) {
			struct scope *sc = &s->scopes[ev[i].scope];
			int d = ev[i].start ? 1 : -1;

			sc->active += (uint32_t)d;
			if (!sc->protos)
				s->any += (uint32_t)d;
		}
		r = coverage_compute(s);
		if (r < 0)
			return r;
		/* The stretch runs to the next breakpoint, or to the last address. */
		if (i < n_ev) {
			memcpy(last, ev[i].addr, s->len);
			for (size_t k = s->len; k-- > 0;)
				if (last[k]-- != 0)
					break;
		} else {
			memset(last, 0xff, s->len);
		}
		r = stretch(s, at, last);
		if (r < 0)
			return r;
	}
	return flush(s);
}

/* The distinct scopes of @atoms, sorted, and the index of each atom's scope in @ret_of. */
static int scopes_build(const struct vw_atoms *atoms, struct scope **ret, size_t *ret_n,
			uint32_t *ret_of)
{
	struct scope *v = calloc(atoms->n, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < atoms->n; i++)
		v[i] = (struct scope){ .protos = atoms->v[i].protos,
				       .port_lo = atoms->v[i].port_lo,
				       .port_hi = atoms->v[i].port_hi };
	qsort(v, atoms->n, sizeof(*v), cmp_scope);
	for (size_t i = 0; i < atoms->n; i++)
		if (n == 0 || cmp_scope(&v[n - 1], &v[i]) != 0)
			v[n++] = v[i];
	for (size_t i = 0; i < atoms->n; i++) {
		struct scope key = { .protos = atoms->v[i].protos,
				     .port_lo = atoms->v[i].port_lo,
				     .port_hi = atoms->v[i].port_hi };
		const struct scope *at = bsearch(&key, v, n, sizeof(*v), cmp_scope);

		ret_of[i] = (uint32_t)(at - v);
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int vw_boxset_build(const struct vw_atoms *atoms, size_t max, struct vw_boxset *ret)
{
	struct sweep s = { .len = vw_addr_len(atoms->family), .max = max };
	_cleanup_free_ struct event *ev = NULL;
	_cleanup_free_ uint32_t *of = NULL;
	size_t n_ev = 0;
	int r;

	vw_boxset_done(ret);
	ret->family = atoms->family;
	if (atoms->n == 0)
		return 0;
	ev = calloc(atoms->n * 2, sizeof(*ev));
	of = calloc(atoms->n, sizeof(*of));
	if (!ev || !of)
		return -ENOMEM;
	r = scopes_build(atoms, &s.scopes, &s.n_scopes, of);
	if (r < 0)
		return r;
	for (size_t i = 0; i < atoms->n; i++) {
		const struct vw_atom *a = &atoms->v[i];

		ev[n_ev] = (struct event){ .scope = of[i], .start = true };
		memcpy(ev[n_ev++].addr, a->lo, s.len);
		ev[n_ev] = (struct event){ .scope = of[i] };
		memcpy(ev[n_ev].addr, a->hi, s.len);
		/* An atom reaching the last address is never removed. */
		if (addr_inc(ev[n_ev].addr, s.len))
			n_ev++;
	}
	qsort_r(ev, n_ev, sizeof(*ev), cmp_event, &s.len);
	s.out = ret;
	r = sweep_run(&s, ev, n_ev);
	coverage_done(&s.cur);
	coverage_done(&s.prev);
	free(s.scopes);
	if (r < 0) {
		vw_boxset_done(ret);
		return r;
	}
	return (int)ret->n;
}

const struct vw_box *vw_boxset_stretch(const struct vw_boxset *s, const uint8_t *addr,
				       size_t *ret_n)
{
	size_t len = vw_addr_len(s->family), lo = 0, hi = s->n, first;

	/* The last box starting at or before @addr; its stretch is the only candidate. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(s->v[mid].lo, addr, len) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*ret_n = 0;
	if (lo == 0 || memcmp(s->v[lo - 1].hi, addr, len) < 0)
		return NULL;
	first = lo - 1;
	while (first > 0 && memcmp(s->v[first - 1].lo, s->v[lo - 1].lo, len) == 0)
		first--;
	*ret_n = lo - first;
	return &s->v[first];
}

const struct vw_box *vw_boxset_find(const struct vw_boxset *s, const uint8_t *addr, uint8_t proto,
				    uint16_t port)
{
	size_t n;
	const struct vw_box *b = vw_boxset_stretch(s, addr, &n);

	for (size_t i = 0; i < n; i++)
		if (proto >= b[i].proto_lo && proto <= b[i].proto_hi && port >= b[i].port_lo &&
		    port <= b[i].port_hi)
			return &b[i];
	return NULL;
}

/* --- audit prefixes ------------------------------------------------------------------------ */

void vw_audit_prefix(char *buf, size_t size, bool audit, const char *key)
{
	snprintf(buf, size, "%c:%s", audit ? 'W' : 'D', key);
}

int vw_audit_prefix_parse(const char *prefix, bool *ret_audit, const char **ret_key)
{
	if ((prefix[0] != 'D' && prefix[0] != 'W') || prefix[1] != ':')
		return -EINVAL;
	*ret_audit = prefix[0] == 'W';
	*ret_key = prefix + 2;
	return 0;
}

/* --- the ruleset ----------------------------------------------------------------------------- */

size_t vw_rs_container_boxes(const struct vw_rs_container *c)
{
	size_t n = 0;

	for (int i = 0; i < VW_BOXSETS; i++)
		n += c->dst[i].n;
	return n;
}

size_t vw_rs_container_cost(const struct vw_rs_container *c)
{
	size_t n = 0;

	for (int i = 0; i < VW_BOXSETS; i++)
		n += c->dst[i].cost;
	return n;
}

void vw_rs_container_isolate(struct vw_rs_container *c, const char *why)
{
	for (int i = 0; i < VW_BOXSETS; i++)
		c->dst[i].n = c->dst[i].cost = 0;
	(void)vw_strscpy(c->isolated, why, sizeof(c->isolated));
}

void vw_rs_container_done(struct vw_rs_container *c)
{
	for (int i = 0; i < VW_BOXSETS; i++)
		vw_boxset_done(&c->dst[i]);
}

void vw_rs_container_init(struct vw_rs_container *c)
{
	for (int p = 0; p < VW_PATHS; p++)
		for (int f = 0; f < 2; f++) {
			struct vw_boxset *s = &c->dst[p * 2 + f];

			s->family = f ? AF_INET6 : AF_INET;
			s->path = (uint8_t)p;
		}
}

struct vw_rs_container *vw_rs_container_new(void)
{
	struct vw_rs_container *c = calloc(1, sizeof(*c));

	if (c) {
		c->refs = 1;
		vw_rs_container_init(c);
	}
	return c;
}

struct vw_rs_container *vw_rs_container_ref(struct vw_rs_container *c)
{
	c->refs++;
	return c;
}

void vw_rs_container_unref(struct vw_rs_container *c)
{
	if (!c || --c->refs > 0)
		return;
	vw_rs_container_done(c);
	free(c);
}

static int boxset_copy(const struct vw_boxset *src, struct vw_boxset *dst)
{
	*dst = (struct vw_boxset){ .family = src->family, .path = src->path };
	if (!src->n)
		return 0;
	dst->v = malloc(src->n * sizeof(*dst->v));
	if (!dst->v)
		return -ENOMEM;
	memcpy(dst->v, src->v, src->n * sizeof(*dst->v));
	dst->n = dst->cap = src->n;
	dst->cost = src->cost;
	return 0;
}

struct vw_rs_container *vw_rs_container_clone(const struct vw_rs_container *c)
{
	struct vw_rs_container *n = malloc(sizeof(*n));

	if (!n)
		return NULL;
	*n = *c;
	n->refs = 1;
	for (int i = 0; i < VW_BOXSETS; i++)
		n->dst[i].v = NULL;
	for (int i = 0; i < VW_BOXSETS; i++)
		if (boxset_copy(&c->dst[i], &n->dst[i]) < 0) {
			vw_rs_container_unref(n);
			return NULL;
		}
	return n;
}

void vw_ruleset_done(struct vw_ruleset *rs)
{
	for (size_t i = 0; i < rs->n_containers; i++)
		vw_rs_container_unref(rs->containers[i]);
	free(rs->containers);
	free(rs->sources);
	free(rs->by_key);
	free(rs->ignore);
	free(rs->bridges);
	*rs = (struct vw_ruleset){ 0 };
}

/* Index of @key, or of where it would be inserted (with *found false). */
static size_t find_key(const struct vw_ruleset *rs, const char *key, bool *found)
{
	size_t lo = 0, hi = rs->n_containers;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, rs->containers[mid]->key);

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

struct vw_rs_container *vw_ruleset_find(const struct vw_ruleset *rs, const char *key)
{
	bool found;
	size_t i = find_key(rs, key, &found);

	return found ? rs->containers[i] : NULL;
}

/*
 * Inserting into a sorted array moves pointers, a few KiB at 5,000 containers: cheaper in
 * practice than any tree, and the arrays stay what the full diff and the backend walk.
 */
int vw_ruleset_put(struct vw_ruleset *rs, struct vw_rs_container *c)
{
	bool found;
	size_t i = find_key(rs, c->key, &found);
	int r;

	if (found) {
		if (rs->containers[i] != c) {
			vw_rs_container_unref(rs->containers[i]);
			rs->containers[i] = vw_rs_container_ref(c);
		}
		return 0;
	}
	r = vw_grow((void **)&rs->containers, &rs->cap_containers, rs->n_containers + 1,
		    sizeof(*rs->containers), CONTAINERS_MAX);
	if (r < 0)
		return r;
	memmove(&rs->containers[i + 1], &rs->containers[i],
		(rs->n_containers - i) * sizeof(*rs->containers));
	rs->containers[i] = vw_rs_container_ref(c);
	rs->n_containers++;
	return 0;
}

bool vw_ruleset_remove(struct vw_ruleset *rs, const char *key)
{
	bool found;
	size_t i = find_key(rs, key, &found);

	if (!found)
		return false;
	vw_rs_container_unref(rs->containers[i]);
	memmove(&rs->containers[i], &rs->containers[i + 1],
		(rs->n_containers - i - 1) * sizeof(*rs->containers));
	rs->n_containers--;
	return true;
}

static int cmp_source_key(uint8_t fa, const uint8_t *a, uint8_t fb, const uint8_t *b)
{
	if (fa != fb)
		return fa < fb ? -1 : 1;
	return memcmp(a, b, vw_addr_len(fa));
}

static size_t find_source(const struct vw_ruleset *rs, uint8_t family, const uint8_t *addr,
			  bool *found)
{
	size_t lo = 0, hi = rs->n_sources;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct vw_rs_source *s = &rs->sources[mid];
		int c = cmp_source_key(family, addr, s->family, s->addr);

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

const struct vw_rs_source *vw_ruleset_source_find(const struct vw_ruleset *rs, uint8_t family,
						  const uint8_t *addr)
{
	bool found;
	size_t i = find_source(rs, family, addr, &found);

	return found ? &rs->sources[i] : NULL;
}

static int cmp_by_key(const struct vw_rs_source *a, const struct vw_rs_source *b)
{
	int c = strcmp(a->key, b->key);

	return c ? c : cmp_source_key(a->family, a->addr, b->family, b->addr);
}

static int cmp_by_key_v(const void *a, const void *b)
{
	return cmp_by_key(a, b);
}

/* Index of @s in by_key, or where it would go. */
static size_t find_by_key(const struct vw_ruleset *rs, const struct vw_rs_source *s, bool *found)
{
	size_t lo = 0, hi = rs->n_by_key;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_by_key(s, &rs->by_key[mid]);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static int index_add(struct vw_ruleset *rs, const struct vw_rs_source *s)
{
	bool found;
	size_t i = find_by_key(rs, s, &found);
	int r;

	if (!s->key[0] || found)
		return 0;
	r = vw_grow((void **)&rs->by_key, &rs->cap_by_key, rs->n_by_key + 1, sizeof(*rs->by_key),
		    SOURCES_MAX);
	if (r < 0)
		return r;
	memmove(&rs->by_key[i + 1], &rs->by_key[i], (rs->n_by_key - i) * sizeof(*rs->by_key));
	rs->by_key[i] = *s;
	rs->n_by_key++;
	return 0;
}

static void index_del(struct vw_ruleset *rs, const struct vw_rs_source *s)
{
	bool found;
	size_t i = find_by_key(rs, s, &found);

	if (!found)
		return;
	memmove(&rs->by_key[i], &rs->by_key[i + 1], (rs->n_by_key - i - 1) * sizeof(*rs->by_key));
	rs->n_by_key--;
}

int vw_ruleset_index_sources(struct vw_ruleset *rs)
{
	size_t n = 0;
	int r;

	rs->n_by_key = 0;
	r = vw_grow((void **)&rs->by_key, &rs->cap_by_key, rs->n_sources + 1, sizeof(*rs->by_key),
		    SOURCES_MAX + 1);
	if (r < 0)
		return r;
	for (size_t i = 0; i < rs->n_sources; i++)
		if (rs->sources[i].key[0])
			rs->by_key[n++] = rs->sources[i];
	qsort(rs->by_key, n, sizeof(*rs->by_key), cmp_by_key_v);
	rs->n_by_key = n;
	return 0;
}

const struct vw_rs_source *vw_ruleset_sources_of(const struct vw_ruleset *rs, const char *key,
						 size_t *ret_n)
{
	struct vw_rs_source probe = { 0 };
	size_t first, last;
	bool found;

	(void)vw_strscpy(probe.key, key, sizeof(probe.key));
	/* Family 0 and address zero sort before any real source of the key. */
	first = find_by_key(rs, &probe, &found);
	for (last = first; last < rs->n_by_key && strcmp(rs->by_key[last].key, key) == 0; last++)
		;
	*ret_n = last - first;
	return *ret_n ? &rs->by_key[first] : NULL;
}

void vw_ruleset_clear_sources(struct vw_ruleset *rs)
{
	rs->n_sources = rs->n_by_key = 0;
}

int vw_ruleset_put_source(struct vw_ruleset *rs, const struct vw_rs_source *s)
{
	bool found;
	size_t i = find_source(rs, s->family, s->addr, &found);
	int r;

	/* Room in the index first, so that a failure leaves both as they were. */
	r = vw_grow((void **)&rs->by_key, &rs->cap_by_key, rs->n_by_key + 1, sizeof(*rs->by_key),
		    SOURCES_MAX);
	if (r < 0)
		return r;
	if (found && strcmp(rs->sources[i].key, s->key) != 0)
		index_del(rs, &rs->sources[i]);
	if (!found) {
		r = vw_grow((void **)&rs->sources, &rs->cap_sources, rs->n_sources + 1,
			    sizeof(*rs->sources), SOURCES_MAX);
		if (r < 0)
			return r;
		memmove(&rs->sources[i + 1], &rs->sources[i],
			(rs->n_sources - i) * sizeof(*rs->sources));
		rs->n_sources++;
	}
	rs->sources[i] = *s;
	return index_add(rs, s);
}

bool vw_ruleset_remove_source(struct vw_ruleset *rs, uint8_t family, const uint8_t *addr)
{
	bool found;
	size_t i = find_source(rs, family, addr, &found);

	if (!found)
		return false;
	index_del(rs, &rs->sources[i]);
	memmove(&rs->sources[i], &rs->sources[i + 1],
		(rs->n_sources - i - 1) * sizeof(*rs->sources));
	rs->n_sources--;
	return true;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* By name, the managed one first. */
static int cmp_bridge(const void *a, const void *b)
{
	const struct vw_rs_bridge *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (int)y->managed - (int)x->managed;
}

int vw_ruleset_set_bridges(struct vw_ruleset *rs, const struct vw_rs_bridge *src, size_t n)
{
	struct vw_rs_bridge *v = NULL;
	size_t out = 0;

	if (n) {
		v = malloc(n * sizeof(*v));
		if (!v)
			return -ENOMEM;
		memcpy(v, src, n * sizeof(*v));
		qsort(v, n, sizeof(*v), cmp_bridge);
		/* Unique: two networks may name the same bridge; policing it wins. */
		for (size_t i = 0; i < n; i++)
			if (out == 0 || strcmp(v[i].name, v[out - 1].name) != 0)
				v[out++] = v[i];
	}
	free(rs->bridges);
	rs->bridges = v;
	rs->n_bridges = out;
	return 0;
}

static int dup_names(char (*src)[VW_IFNAMSIZ], size_t n, char (**ret)[VW_IFNAMSIZ])
{
	*ret = NULL;
	if (!n)
		return 0;
	*ret = malloc(n * sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	memcpy(*ret, src, n * sizeof(**ret));
	return 0;
}

void vw_ruleset_base(const struct vw_ruleset *rs, struct vw_ruleset *ret)
{
	*ret = (struct vw_ruleset){ .dry_run = rs->dry_run,
				    .log_group = rs->log_group,
				    .log_rate = rs->log_rate,
				    .dns_port = rs->dns_port,
				    .dns_rate = rs->dns_rate,
				    .ignore = rs->ignore,
				    .n_ignore = rs->n_ignore };
	memcpy(ret->vpn_iface, rs->vpn_iface, sizeof(ret->vpn_iface));
}

int vw_ruleset_clone(const struct vw_ruleset *rs, struct vw_ruleset *ret)
{
	struct vw_ruleset c;

	vw_ruleset_base(rs, &c);
	c.ignore = NULL; /* borrowed: the copy gets its own */
	if (dup_names(rs->ignore, rs->n_ignore, &c.ignore) < 0 ||
	    vw_ruleset_set_bridges(&c, rs->bridges, rs->n_bridges) < 0)
		goto fail;
	if (rs->n_containers) {
		c.containers = malloc(rs->n_containers * sizeof(*c.containers));
		if (!c.containers)
			goto fail;
		for (size_t i = 0; i < rs->n_containers; i++)
			c.containers[i] = vw_rs_container_ref(rs->containers[i]);
		c.n_containers = c.cap_containers = rs->n_containers;
	}
	if (rs->n_sources) {
		c.sources = malloc(rs->n_sources * sizeof(*c.sources));
		if (!c.sources)
			goto fail;
		memcpy(c.sources, rs->sources, rs->n_sources * sizeof(*c.sources));
		c.n_sources = c.cap_sources = rs->n_sources;
	}
	/* Rebuilt rather than copied: a hand-built ruleset may come without one. */
	if (vw_ruleset_index_sources(&c) < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	vw_ruleset_done(&c);
	return -ENOMEM;
}

/* --- change sets ----------------------------------------------------------------------------- */

int vw_changes_key(struct vw_changes *ch, const char *key)
{
	if (ch->all)
		return 0;
	if (vw_grow((void **)&ch->keys, &ch->cap_keys, ch->n_keys + 1, sizeof(*ch->keys),
		    CONTAINERS_MAX * 4) < 0) {
		/* Without room to remember what changed, say that everything may have. */
		ch->all = true;
		return -ENOMEM;
	}
	(void)vw_strscpy(ch->keys[ch->n_keys++], key, sizeof(*ch->keys));
	return 0;
}

int vw_changes_addr(struct vw_changes *ch, uint8_t family, const uint8_t *addr)
{
	struct vw_rs_source *s;

	if (ch->all)
		return 0;
	if (vw_grow((void **)&ch->addrs, &ch->cap_addrs, ch->n_addrs + 1, sizeof(*ch->addrs),
		    SOURCES_MAX * 4) < 0) {
		ch->all = true;
		return -ENOMEM;
	}
	s = &ch->addrs[ch->n_addrs++];
	*s = (struct vw_rs_source){ .family = family };
	memcpy(s->addr, addr, vw_addr_len(family));
	return 0;
}

static int cmp_source(const void *a, const void *b)
{
	const struct vw_rs_source *x = a, *y = b;

	return cmp_source_key(x->family, x->addr, y->family, y->addr);
}

void vw_changes_normalize(struct vw_changes *ch)
{
	size_t out = 0;

	if (ch->n_keys > 1)
		qsort(ch->keys, ch->n_keys, sizeof(*ch->keys), cmp_name);
	for (size_t i = 0; i < ch->n_keys; i++)
		if (out == 0 || strcmp(ch->keys[i], ch->keys[out - 1]) != 0)
			memmove(ch->keys[out++], ch->keys[i], sizeof(*ch->keys));
	ch->n_keys = out;
	out = 0;
	if (ch->n_addrs > 1)
		qsort(ch->addrs, ch->n_addrs, sizeof(*ch->addrs), cmp_source);
	for (size_t i = 0; i < ch->n_addrs; i++)
		if (out == 0 || cmp_source(&ch->addrs[i], &ch->addrs[out - 1]) != 0)
			ch->addrs[out++] = ch->addrs[i];
	ch->n_addrs = out;
}

void vw_changes_reset(struct vw_changes *ch)
{
	ch->all = ch->bridges = false;
	ch->n_keys = ch->n_addrs = 0;
}

void vw_changes_done(struct vw_changes *ch)
{
	free(ch->keys);
	free(ch->addrs);
	*ch = (struct vw_changes){ 0 };
}

int vw_ruleset_adopt(struct vw_ruleset *applied, const struct vw_ruleset *desired,
		     const struct vw_changes *ch)
{
	int r;

	if (!ch || ch->all) {
		struct vw_ruleset c;

		r = vw_ruleset_clone(desired, &c);
		if (r < 0)
			return r;
		vw_ruleset_done(applied);
		*applied = c;
		return 0;
	}
	for (size_t i = 0; i < ch->n_keys; i++) {
		struct vw_rs_container *c = vw_ruleset_find(desired, ch->keys[i]);

		if (!c)
			(void)vw_ruleset_remove(applied, ch->keys[i]);
		else if ((r = vw_ruleset_put(applied, c)) < 0)
			return r;
	}
	for (size_t i = 0; i < ch->n_addrs; i++) {
		const struct vw_rs_source *a = &ch->addrs[i];
		const struct vw_rs_source *s = vw_ruleset_source_find(desired, a->family, a->addr);

		if (!s)
			(void)vw_ruleset_remove_source(applied, a->family, a->addr);
		else if ((r = vw_ruleset_put_source(applied, s)) < 0)
			return r;
	}
	if (ch->bridges)
		return vw_ruleset_set_bridges(applied, desired->bridges, desired->n_bridges);
	return 0;
}

/* --- diff ------------------------------------------------------------------------------------ */
static int push(struct vw_plan *p, const struct vw_op *op)
{
	int r;

	r = vw_grow((void **)&p->ops, &p->cap, p->n + 1, sizeof(*p->ops), PLAN_MAX);
	if (r < 0)
		return r;
	p->ops[p->n++] = *op;
	return 0;
}

/* Same objects in the backend: only destination boxes may differ. */
static bool same_shape(const struct vw_rs_container *a, const struct vw_rs_container *b)
{
	return a->audit == b->audit;
}

static int cmp_box(const struct vw_box *a, const struct vw_box *b, size_t len)
{
	int c = memcmp(a->lo, b->lo, len);

	if (c)
		return c;
	if (a->proto_lo != b->proto_lo)
		return a->proto_lo < b->proto_lo ? -1 : 1;
	if (a->port_lo != b->port_lo)
		return a->port_lo < b->port_lo ? -1 : 1;
	return 0;
}

static bool box_eq(const struct vw_box *a, const struct vw_box *b, size_t len)
{
	return cmp_box(a, b, len) == 0 && memcmp(a->hi, b->hi, len) == 0 &&
	       a->proto_hi == b->proto_hi && a->port_hi == b->port_hi;
}

/* Boxes of @a not present, identically, in @b (both sorted by cmp_box). */
static int boxes_minus(const struct vw_boxset *a, const struct vw_boxset *b, struct vw_box **ret,
		       size_t *ret_n)
{
	size_t len = vw_addr_len(a->family), n = 0, j = 0;
	struct vw_box *out = NULL;

	for (size_t i = 0; i < a->n; i++) {
		while (j < b->n && cmp_box(&b->v[j], &a->v[i], len) < 0)
			j++;
		if (j < b->n && box_eq(&a->v[i], &b->v[j], len))
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

/*
 * The sources of @key that keep pointing at it (dispatched to it before and after): the
 * addresses whose destinations change in place. Others lose or gain them whole through
 * their SOURCE_* ops. A copy the plan owns.
 */
static int kept_sources(const struct vw_ruleset *a, const struct vw_ruleset *d, const char *key,
			struct vw_rs_source **ret, size_t *ret_n)
{
	size_t n, k = 0;
	const struct vw_rs_source *v = vw_ruleset_sources_of(a, key, &n);

	*ret = NULL;
	*ret_n = 0;
	if (!n)
		return 0;
	*ret = malloc(n * sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct vw_rs_source *o = vw_ruleset_source_find(d, v[i].family, v[i].addr);

		if (o && strcmp(o->key, key) == 0)
			(*ret)[k++] = v[i];
	}
	*ret_n = k;
	return 0;
}

static int diff_boxes(struct vw_plan *p, const struct vw_ruleset *a, const struct vw_ruleset *d,
		      const struct vw_rs_container *old, const struct vw_rs_container *new,
		      bool add)
{
	int r;

	for (int i = 0; i < VW_BOXSETS; i++) {
		struct vw_op op = { .type = add ? VW_OP_BOXES_ADD : VW_OP_BOXES_DEL,
				    .c = new,
				    .family = new->dst[i].family,
				    .path = new->dst[i].path };

		r = add ? boxes_minus(&new->dst[i], &old->dst[i], &op.boxes, &op.n_boxes)
			: boxes_minus(&old->dst[i], &new->dst[i], &op.boxes, &op.n_boxes);
		if (r >= 0 && op.n_boxes)
			r = kept_sources(a, d, new->key, &op.srcs, &op.n_srcs);
		if (r >= 0 && op.n_boxes)
			r = push(p, &op);
		if (r < 0 || op.n_boxes == 0) {
			free(op.boxes);
			free(op.srcs);
		}
		if (r < 0)
			return r;
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

static bool has_bridge(const struct vw_ruleset *rs, const struct vw_rs_bridge *b)
{
	const struct vw_rs_bridge *o;

	if (!rs->n_bridges)
		return false;
	o = bsearch(b->name, rs->bridges, rs->n_bridges, sizeof(*rs->bridges),
		    cmp_name); /* the name is the first member */
	return o && o->managed == b->managed;
}

/* Bridges of @from that @other lacks or treats otherwise, as @type ops. */
static int bridge_ops(struct vw_plan *p, enum vw_op_type type, const struct vw_ruleset *from,
		      const struct vw_ruleset *other)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < from->n_bridges; i++)
		if (!other || !has_bridge(other, &from->bridges[i]))
			r = push(p, &(struct vw_op){ .type = type, .bridge = &from->bridges[i] });
	return r;
}

static int diff_full(const struct vw_ruleset *desired, struct vw_plan *p)
{
	int r;

	r = push(p, &(struct vw_op){ .type = VW_OP_RESET, .rs = desired });
	for (size_t i = 0; r >= 0 && i < desired->n_containers; i++)
		r = push(p, &(struct vw_op){ .type = VW_OP_CONTAINER_ADD,
					     .rs = desired,
					     .c = desired->containers[i] });
	for (size_t i = 0; r >= 0 && i < desired->n_sources; i++)
		r = push(p,
			 &(struct vw_op){ .type = VW_OP_SOURCE_ADD,
					  .rs = desired,
					  .src = &desired->sources[i],
					  .c = vw_ruleset_find(desired, desired->sources[i].key) });
	if (r >= 0)
		r = bridge_ops(p, VW_OP_BRIDGE_ADD, desired, NULL);
	return r < 0 ? r : 0;
}

/*
 * What the incremental diff walks: every key and address of both rulesets, or only the
 * marked ones. Keys come from the marks, or from one ruleset's sorted containers.
 */
struct walk {
	const struct vw_changes *ch;
	const struct vw_ruleset *a;
	const struct vw_ruleset *d;
};

static size_t walk_keys(const struct walk *w, const struct vw_ruleset *rs)
{
	return w->ch ? w->ch->n_keys : rs->n_containers;
}

static const char *walk_key(const struct walk *w, const struct vw_ruleset *rs, size_t i)
{
	return w->ch ? w->ch->keys[i] : rs->containers[i]->key;
}

static size_t walk_addrs(const struct walk *w, const struct vw_ruleset *rs)
{
	return w->ch ? w->ch->n_addrs : rs->n_sources;
}

/* The entry of @rs for the i-th walked address, or NULL. */
static const struct vw_rs_source *walk_source(const struct walk *w, const struct vw_ruleset *rs,
					      size_t i)
{
	if (!w->ch)
		return &rs->sources[i];
	return vw_ruleset_source_find(rs, w->ch->addrs[i].family, w->ch->addrs[i].addr);
}

static int diff_incremental(const struct vw_ruleset *a, const struct vw_ruleset *d,
			    const struct vw_changes *ch, struct vw_plan *p)
{
	struct walk w = { .ch = ch, .a = a, .d = d };
	bool bridges = !ch || ch->bridges;
	int r = 0;

	/*
	 * 1. revocations first: dispatch entries that go away or point at a container that is
	 * re-created, and bridges that change
	 */
	for (size_t i = 0; r >= 0 && i < walk_addrs(&w, a); i++) {
		const struct vw_rs_source *s = walk_source(&w, a, i);

		if (s && !source_kept(a, d, s, d))
			r = push(p, &(struct vw_op){ .type = VW_OP_SOURCE_DEL,
						     .rs = d,
						     .src = s,
						     .c = vw_ruleset_find(a, s->key) });
	}
	if (r >= 0 && bridges)
		r = bridge_ops(p, VW_OP_BRIDGE_DEL, a, d);
	/* 2. the containers themselves */
	for (size_t i = 0; r >= 0 && i < walk_keys(&w, a); i++) {
		const struct vw_rs_container *oc = vw_ruleset_find(a, walk_key(&w, a, i));

		if (oc && container_replaced(a, d, oc->key))
			r = push(p,
				 &(struct vw_op){ .type = VW_OP_CONTAINER_DEL, .rs = d, .c = oc });
	}
	/* 3. destinations that shrink, then new and re-created containers, then growth */
	for (size_t i = 0; r >= 0 && i < walk_keys(&w, d); i++) {
		const char *key = walk_key(&w, d, i);
		const struct vw_rs_container *nc = vw_ruleset_find(d, key);
		const struct vw_rs_container *oc = vw_ruleset_find(a, key);

		if (nc && oc && oc != nc && same_shape(oc, nc))
			r = diff_boxes(p, a, d, oc, nc, false);
	}
	for (size_t i = 0; r >= 0 && i < walk_keys(&w, d); i++) {
		const struct vw_rs_container *nc = vw_ruleset_find(d, walk_key(&w, d, i));

		if (nc && container_replaced(a, d, nc->key))
			r = push(p,
				 &(struct vw_op){ .type = VW_OP_CONTAINER_ADD, .rs = d, .c = nc });
	}
	for (size_t i = 0; r >= 0 && i < walk_keys(&w, d); i++) {
		const char *key = walk_key(&w, d, i);
		const struct vw_rs_container *nc = vw_ruleset_find(d, key);
		const struct vw_rs_container *oc = vw_ruleset_find(a, key);

		if (nc && oc && oc != nc && same_shape(oc, nc))
			r = diff_boxes(p, a, d, oc, nc, true);
	}
	/* 4. references last */
	for (size_t i = 0; r >= 0 && i < walk_addrs(&w, d); i++) {
		const struct vw_rs_source *s = walk_source(&w, d, i);

		if (s && !source_kept(a, d, s, a))
			r = push(p, &(struct vw_op){ .type = VW_OP_SOURCE_ADD,
						     .rs = d,
						     .src = s,
						     .c = vw_ruleset_find(d, s->key) });
	}
	if (r >= 0 && bridges)
		r = bridge_ops(p, VW_OP_BRIDGE_ADD, d, a);
	return r < 0 ? r : 0;
}

/* Whether the rules themselves (not the sets) are the same: else only a replace will do. */
static bool same_base(const struct vw_ruleset *a, const struct vw_ruleset *b)
{
	return a->dry_run == b->dry_run && a->log_group == b->log_group &&
	       a->log_rate == b->log_rate && a->dns_port == b->dns_port &&
	       a->dns_rate == b->dns_rate && strcmp(a->vpn_iface, b->vpn_iface) == 0 &&
	       a->n_ignore == b->n_ignore &&
	       (a->n_ignore == 0 ||
		memcmp(a->ignore, b->ignore, a->n_ignore * sizeof(*a->ignore)) == 0);
}

int vw_ruleset_diff(const struct vw_ruleset *applied, const struct vw_ruleset *desired,
		    const struct vw_changes *ch, struct vw_plan *ret_plan)
{
	struct vw_plan p = { 0 };
	int r;

	if (ch && ch->all)
		ch = NULL;
	if (!applied || !same_base(applied, desired))
		r = diff_full(desired, &p);
	else
		r = diff_incremental(applied, desired, ch, &p);
	if (r < 0) {
		vw_plan_done(&p);
		return r;
	}
	*ret_plan = p;
	return 0;
}

void vw_plan_done(struct vw_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->ops[i].boxes);
		free(p->ops[i].srcs);
	}
	free(p->ops);
	*p = (struct vw_plan){ 0 };
}

/* --- established flows ---------------------------------------------------------------------- */

bool vw_ruleset_allows(const struct vw_ruleset *rs, const struct vw_flow *f)
{
	const struct vw_rs_source *s = vw_ruleset_source_find(rs, f->family, f->saddr);
	const struct vw_rs_container *c;

	if (!s || !s->key[0])
		return true; /* not a container's, or exempt (vpn.enable=false) */
	/*
	 * To another container: the rules let it through when it stays on its bridge, and a
	 * conntrack entry does not tell which bridges a flow crossed. Left to the rules,
	 * which check every packet anyway.
	 */
	if (vw_ruleset_source_find(rs, f->family, f->daddr))
		return true;
	c = vw_ruleset_find(rs, s->key);
	if (!c || c->audit)
		return true;
	if (rs->dns_port && (f->mark & (VW_CT_LEARNED_VPN | VW_CT_LEARNED_ANY)))
		return true;
	for (int path = 0; path < VW_PATHS; path++) {
		const struct vw_box *b = vw_boxset_find(&c->dst[vw_boxset_index(path, f->family)],
							f->daddr, f->proto, f->dport);

		/*
		 * Without ports (ICMP, GRE, ...), the rules compare whatever the packet holds
		 * where a port would be: only a box of every port is sure to match it.
		 */
		if (b && (f->has_ports || (b->port_lo == 0 && b->port_hi == UINT16_MAX)))
			return true;
	}
	return false;
}

static int add_addr(struct vw_changes *ret, const struct vw_rs_source *s)
{
	return vw_changes_addr(ret, s->family, s->addr);
}

int vw_plan_revocations(const struct vw_plan *p, struct vw_revocations *ret)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < p->n; i++) {
		const struct vw_op *op = &p->ops[i];

		if (op->type == VW_OP_RESET)
			ret->judge.all = true;
		else if (op->type == VW_OP_BOXES_DEL)
			for (size_t k = 0; r >= 0 && k < op->n_srcs; k++)
				r = add_addr(&ret->judge, &op->srcs[k]);
		else if (op->type == VW_OP_SOURCE_DEL)
			r = add_addr(&ret->purge, op->src);
	}
	return r < 0 ? r : 0;
}

bool vw_revocations_pending(const struct vw_revocations *rv)
{
	return rv->judge.all || rv->judge.n_addrs || rv->purge.n_addrs;
}

void vw_revocations_normalize(struct vw_revocations *rv)
{
	vw_changes_normalize(&rv->judge);
	vw_changes_normalize(&rv->purge);
}

void vw_revocations_reset(struct vw_revocations *rv)
{
	vw_changes_reset(&rv->judge);
	vw_changes_reset(&rv->purge);
}

void vw_revocations_done(struct vw_revocations *rv)
{
	vw_changes_done(&rv->judge);
	vw_changes_done(&rv->purge);
}

bool vw_changes_has_addr(const struct vw_changes *ch, uint8_t family, const uint8_t *addr)
{
	struct vw_rs_source key = { .family = family };

	if (ch->all)
		return true;
	if (ch->n_addrs == 0)
		return false; /* and addrs may be NULL, which bsearch() must not get */
	memcpy(key.addr, addr, vw_addr_len(family));
	return bsearch(&key, ch->addrs, ch->n_addrs, sizeof(*ch->addrs), cmp_source) != NULL;
}

bool vw_ruleset_revokes(const struct vw_ruleset *rs, const struct vw_revocations *rv,
			const struct vw_flow *f)
{
	if (vw_changes_has_addr(&rv->purge, f->family, f->saddr) ||
	    vw_changes_has_addr(&rv->purge, f->family, f->raddr))
		return true;
	return vw_changes_has_addr(&rv->judge, f->family, f->saddr) && !vw_ruleset_allows(rs, f);
}
