// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The desired ruleset, incrementally. Recomputing a container first withdraws what it
 * contributed (names, addresses, key, destinations), then adds what it contributes now.
 * Whether a key gets a chain (exactly one managed container claims it) and whether an
 * address is dispatched (exactly one container claims it, and that container has a chain
 * or opted out) are then re-decided for the keys and addresses touched, and only those.
 */
#include "vpnwall/desired.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnwall/config.h"
#include "vpnwall/names.h"
#include "vpnwall/policy.h"
#include "vpnwall/store.h"
#include "vpnwall/util.h"

#define IDS_MAX VW_STORE_CONTAINERS_MAX

struct addr {
	uint8_t family;
	uint8_t addr[16];
};

/* What one container contributes. */
struct entry {
	struct vw_hnode node;
	char id[VW_ID_MAX + 1];
	char key[VW_KEY_LEN + 1]; /* the key it claims (managed), or "" */
	char owner[VW_ID_MAX + 1]; /* joined: the container whose namespace it uses */
	bool exempt; /* opted out: its addresses are dispatched to nobody's chain */
	struct addr *addrs; /* the addresses it claims */
	size_t n_addrs;
	size_t cap_addrs;
	char (*names)[VW_DOMAIN_MAX + 1]; /* the names its policy uses */
	size_t n_names;
	size_t cap_names;
	struct vw_rs_container *compiled; /* managed: one reference */
};

/* Who claims a key, an address, or uses a name: a list of container ids. */
struct claim {
	struct vw_hnode node;
	union {
		char key[VW_KEY_LEN + 1];
		struct addr addr;
		char name[VW_DOMAIN_MAX + 1];
	} u;
	char (*ids)[VW_ID_MAX + 1];
	size_t n;
	size_t cap;
};

struct mark {
	struct vw_hnode node;
	char id[VW_ID_MAX + 1];
};

/* Keys and addresses touched while recomputing, decided once everything is recomputed. */
struct touched {
	char (*keys)[VW_KEY_LEN + 1];
	size_t n_keys;
	size_t cap_keys;
	struct addr *addrs;
	size_t n_addrs;
	size_t cap_addrs;
};

static uint64_t hash_addr(const struct addr *a)
{
	return vw_hash(a, sizeof(*a));
}

static struct entry *entry_find(const struct vw_desired *d, const char *id)
{
	for (struct vw_hnode *n = vw_hmap_first(&d->entries, vw_hash_str(id)); n;
	     n = vw_hmap_next(n)) {
		struct entry *e = vw_container_of(n, struct entry, node);

		if (strcmp(e->id, id) == 0)
			return e;
	}
	return NULL;
}

static struct claim *claim_find(const struct vw_hmap *m, uint64_t hash, const void *key, size_t len)
{
	for (struct vw_hnode *n = vw_hmap_first(m, hash); n; n = vw_hmap_next(n)) {
		struct claim *c = vw_container_of(n, struct claim, node);

		if (memcmp(&c->u, key, len) == 0)
			return c;
	}
	return NULL;
}

static struct claim *key_claim(const struct vw_desired *d, const char *key)
{
	char k[VW_KEY_LEN + 1] = { 0 };

	(void)vw_strscpy(k, key, sizeof(k));
	return claim_find(&d->keys, vw_hash_str(k), k, sizeof(k));
}

static struct claim *addr_claim(const struct vw_desired *d, const struct addr *a)
{
	return claim_find(&d->addrs, hash_addr(a), a, sizeof(*a));
}

static struct claim *name_claim(const struct vw_desired *d, const char *name)
{
	char n[VW_DOMAIN_MAX + 1] = { 0 };

	(void)vw_strscpy(n, name, sizeof(n));
	return claim_find(&d->names, vw_hash_str(n), n, sizeof(n));
}

/* Add @id to the claim of @key (len bytes of it) in @m, creating it. 1 if it was new. */
static int claim_add(struct vw_hmap *m, uint64_t hash, const void *key, size_t len, const char *id,
		     struct claim **ret)
{
	struct claim *c = claim_find(m, hash, key, len);
	bool created = false;
	int r;

	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		memcpy(&c->u, key, len);
		r = vw_hmap_add(m, &c->node, hash);
		if (r < 0) {
			free(c);
			return r;
		}
		created = true;
	}
	r = vw_grow((void **)&c->ids, &c->cap, c->n + 1, sizeof(*c->ids), IDS_MAX);
	if (r < 0)
		return r;
	(void)vw_strscpy(c->ids[c->n++], id, sizeof(*c->ids));
	if (ret)
		*ret = c;
	return created ? 1 : 0;
}

/* Remove @id from claim @c; the claim goes when nobody is left. True if it went. */
static bool claim_del(struct vw_hmap *m, struct claim *c, const char *id)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->ids[i], id) == 0) {
			memmove(&c->ids[i], &c->ids[i + 1], (c->n - i - 1) * sizeof(*c->ids));
			c->n--;
			break;
		}
	if (c->n > 0)
		return false;
	vw_hmap_del(m, &c->node);
	free(c->ids);
	free(c);
	return true;
}

static int touch_key(struct touched *t, const char *key)
{
	int r;

	r = vw_grow((void **)&t->keys, &t->cap_keys, t->n_keys + 1, sizeof(*t->keys), IDS_MAX * 4);
	if (r < 0)
		return r;
	(void)vw_strscpy(t->keys[t->n_keys++], key, sizeof(*t->keys));
	return 0;
}

static int touch_addr(struct touched *t, const struct addr *a)
{
	int r;

	r = vw_grow((void **)&t->addrs, &t->cap_addrs, t->n_addrs + 1, sizeof(*t->addrs),
		    IDS_MAX * 4 * VW_ENDPOINTS_MAX);
	if (r < 0)
		return r;
	t->addrs[t->n_addrs++] = *a;
	return 0;
}

static void entry_free(struct entry *e)
{
	vw_rs_container_unref(e->compiled);
	free(e->addrs);
	free(e->names);
	free(e);
}

/* Take back everything @e contributed; the entry is freed. */
/* Take @e's contribution out. Its names stay cached: the caller forgets the unused ones. */
static int withdraw(struct vw_desired *d, struct entry *e, struct touched *t)
{
	struct claim *c;
	int r = 0;

	for (size_t i = 0; i < e->n_names; i++) {
		c = name_claim(d, e->names[i]);
		if (c)
			(void)claim_del(&d->names, c, e->id);
	}
	for (size_t i = 0; i < e->n_addrs; i++) {
		c = addr_claim(d, &e->addrs[i]);
		if (c)
			(void)claim_del(&d->addrs, c, e->id);
		if (r >= 0)
			r = touch_addr(t, &e->addrs[i]);
	}
	if (e->key[0]) {
		c = key_claim(d, e->key);
		if (c)
			(void)claim_del(&d->keys, c, e->id);
		if (r >= 0)
			r = touch_key(t, e->key);
	}
	if (e->compiled)
		d->boxes -= vw_rs_container_cost(e->compiled);
	vw_hmap_del(&d->entries, &e->node);
	entry_free(e);
	return r;
}

struct name_ctx {
	struct vw_desired *d;
	struct vw_names *names;
	struct entry *e;
	uint64_t now;
};

/* Remember every granted name of the policy, once, and want it resolved. */
static int use_name(void *ud, const struct vw_entry_ref *ref)
{
	struct name_ctx *x = ud;
	struct entry *e = x->e;
	char n[VW_DOMAIN_MAX + 1] = { 0 };
	int r;

	if (!ref->granted || ref->dst->kind != VW_DST_NAME)
		return 0;
	for (size_t i = 0; i < e->n_names; i++)
		if (strcmp(e->names[i], ref->dst->name) == 0)
			return 0;
	r = vw_grow((void **)&e->names, &e->cap_names, e->n_names + 1, sizeof(*e->names),
		    VW_CONTAINER_NAMES_MAX + VW_LABEL_ENTRIES_MAX);
	if (r < 0)
		return r;
	(void)vw_strscpy(e->names[e->n_names++], ref->dst->name, sizeof(*e->names));
	(void)vw_strscpy(n, ref->dst->name, sizeof(n));
	r = claim_add(&x->d->names, vw_hash_str(n), n, sizeof(n), e->id, NULL);
	if (r < 0)
		return r;
	/* Wanted again on every use: a rebuild marks the cache first and sweeps after. */
	r = vw_names_want(x->names, n, x->now);
	/* Past the global cap the name stays unresolved: it grants nothing. */
	return r == -ENOBUFS ? 0 : r;
}

static int claim_addrs(struct vw_desired *d, struct entry *e, const struct vw_container *c,
		       const struct vw_store *st, struct touched *t)
{
	int r;

	for (size_t i = 0; i < c->n_eps; i++) {
		const struct vw_endpoint *ep = &c->eps[i];

		if (!vw_network_is_managed(vw_network_find(st->nets, st->n_nets, ep->network_id),
					   d->cfg))
			continue;
		for (int f = 0; f < 2; f++) {
			struct addr a = { .family = f ? AF_INET6 : AF_INET };

			if (!(f ? ep->has6 : ep->has4))
				continue;
			memcpy(a.addr, f ? ep->addr6 : ep->addr4, f ? 16 : 4);
			r = vw_grow((void **)&e->addrs, &e->cap_addrs, e->n_addrs + 1,
				    sizeof(*e->addrs), 2 * VW_ENDPOINTS_MAX);
			if (r < 0)
				return r;
			e->addrs[e->n_addrs++] = a;
			r = claim_add(&d->addrs, hash_addr(&a), &a, sizeof(a), e->id, NULL);
			if (r >= 0)
				r = touch_addr(t, &a);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* What container @id contributes now (if anything): compiled, claimed, used. */
static int contribute(struct vw_desired *d, const struct vw_store *st, struct vw_names *names,
		      const char *id, uint64_t now, struct touched *t)
{
	const struct vw_container *c = vw_store_get(st, id);
	_cleanup_free_ const struct vw_container **sharers = NULL;
	struct entry *e;
	enum vw_managed state;
	int n, r;

	if (!c)
		return 0;
	state = vw_policy_state(c, st->nets, st->n_nets, d->cfg);
	if (state != VW_MANAGED && state != VW_UNMANAGED_OPTOUT && state != VW_JOINED)
		return 0;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	(void)vw_strscpy(e->id, id, sizeof(e->id));
	r = vw_hmap_add(&d->entries, &e->node, vw_hash_str(e->id));
	if (r < 0) {
		free(e);
		return r;
	}
	if (state == VW_JOINED) {
		/* Nothing of its own; remembered so that its owner is recomputed when it leaves. */
		(void)vw_strscpy(e->owner, c->netns_owner, sizeof(e->owner));
		return 0;
	}
	e->exempt = state == VW_UNMANAGED_OPTOUT;
	r = claim_addrs(d, e, c, st, t);
	if (r < 0 || state != VW_MANAGED)
		return r;

	(void)vw_strscpy(e->key, c->id, sizeof(e->key));
	r = claim_add(&d->keys, vw_hash_str(e->key), e->key, sizeof(e->key), e->id, NULL);
	if (r >= 0)
		r = touch_key(t, e->key);
	if (r < 0)
		return r;
	n = vw_store_sharers(st, c, &sharers);
	if (n < 0)
		return n;
	r = vw_policy_entries(c, sharers, (size_t)n, d->cfg, use_name,
			      &(struct name_ctx){ .d = d, .names = names, .e = e, .now = now });
	if (r < 0)
		return r;
	r = vw_policy_build_container(c, sharers, (size_t)n, d->cfg, names, d->boxes, &e->compiled);
	if (r < 0)
		return r;
	d->boxes += vw_rs_container_cost(e->compiled);
	return 0;
}

static bool key_has_chain(const struct vw_desired *d, const char *key)
{
	const struct claim *c = key_claim(d, key);

	return c && c->n == 1;
}

/* Decide the touched keys and addresses, and mark them changed. */
static int settle(struct vw_desired *d, struct touched *t)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < t->n_keys; i++) {
		const struct claim *c = key_claim(d, t->keys[i]);
		const struct entry *e = c && c->n == 1 ? entry_find(d, c->ids[0]) : NULL;

		/* A key two containers claim has no chain: neither could be told apart. */
		if (e && e->compiled)
			r = vw_ruleset_put(&d->rs, e->compiled);
		else
			(void)vw_ruleset_remove(&d->rs, t->keys[i]);
		if (r >= 0)
			r = vw_changes_key(&d->changes, t->keys[i]);
		/* Whether the key has a chain decides whether its claimants' addresses dispatch. */
		for (size_t k = 0; c && r >= 0 && k < c->n; k++) {
			const struct entry *ce = entry_find(d, c->ids[k]);

			for (size_t a = 0; ce && r >= 0 && a < ce->n_addrs; a++)
				r = touch_addr(t, &ce->addrs[a]);
		}
	}
	for (size_t i = 0; r >= 0 && i < t->n_addrs; i++) {
		const struct addr *a = &t->addrs[i];
		const struct claim *c = addr_claim(d, a);
		const struct entry *e = c && c->n == 1 ? entry_find(d, c->ids[0]) : NULL;

		/* Claimed twice, or by a container without a chain: nobody's (fail closed). */
		if (e && (e->exempt || key_has_chain(d, e->key))) {
			struct vw_rs_source s = { .family = a->family };

			memcpy(s.addr, a->addr, sizeof(s.addr));
			if (!e->exempt)
				(void)vw_strscpy(s.key, e->key, sizeof(s.key));
			r = vw_ruleset_put_source(&d->rs, &s);
		} else {
			(void)vw_ruleset_remove_source(&d->rs, a->family, a->addr);
		}
		if (r >= 0)
			r = vw_changes_addr(&d->changes, a->family, a->addr);
	}
	return r;
}

/* --- public ------------------------------------------------------------------------------- */

int vw_desired_init(struct vw_desired *d, const struct vw_config *cfg)
{
	*d = (struct vw_desired){ .cfg = cfg };
	return vw_policy_settings(cfg, &d->rs);
}

static void clear_maps(struct vw_desired *d)
{
	struct vw_hnode *n;

	while ((n = vw_hmap_pop(&d->entries)))
		entry_free(vw_container_of(n, struct entry, node));
	for (struct vw_hmap *m = &d->keys; m <= &d->names; m++)
		while ((n = vw_hmap_pop(m))) {
			struct claim *c = vw_container_of(n, struct claim, node);

			free(c->ids);
			free(c);
		}
	while ((n = vw_hmap_pop(&d->dirty)))
		free(vw_container_of(n, struct mark, node));
	d->boxes = 0;
}

void vw_desired_done(struct vw_desired *d)
{
	clear_maps(d);
	vw_hmap_done(&d->entries);
	vw_hmap_done(&d->keys);
	vw_hmap_done(&d->addrs);
	vw_hmap_done(&d->names);
	vw_hmap_done(&d->dirty);
	vw_ruleset_done(&d->rs);
	vw_changes_done(&d->changes);
}

int vw_desired_mark(struct vw_desired *d, const char *id)
{
	struct mark *m;
	int r;

	for (struct vw_hnode *n = vw_hmap_first(&d->dirty, vw_hash_str(id)); n; n = vw_hmap_next(n))
		if (strcmp(vw_container_of(n, struct mark, node)->id, id) == 0)
			return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	(void)vw_strscpy(m->id, id, sizeof(m->id));
	r = vw_hmap_add(&d->dirty, &m->node, vw_hash_str(m->id));
	if (r < 0)
		free(m);
	return r;
}

int vw_desired_mark_name(struct vw_desired *d, const char *name)
{
	const struct claim *c = name_claim(d, name);
	int r = 0;

	for (size_t i = 0; c && r >= 0 && i < c->n; i++)
		r = vw_desired_mark(d, c->ids[i]);
	return r;
}

bool vw_desired_is_dirty(const struct vw_desired *d)
{
	return d->dirty.n > 0;
}

/* Recompute @id: the old contribution out, the new one in. */
static int recompute(struct vw_desired *d, const struct vw_store *st, struct vw_names *names,
		     const char *id, uint64_t now, struct touched *t, bool rebuilding)
{
	struct entry *old = entry_find(d, id);
	char copy[VW_ID_MAX + 1];
	char(*used)[VW_DOMAIN_MAX + 1] = NULL;
	size_t n_used = 0;
	int r;

	(void)vw_strscpy(copy, id, sizeof(copy));
	if (old) {
		/*
		 * Its names are forgotten only if the new policy no longer uses them either:
		 * forgetting first would drop the answers it is about to be compiled with, and
		 * re-resolving them would mark it again, for ever.
		 */
		if (old->n_names && !rebuilding) {
			used = malloc(old->n_names * sizeof(*used));
			if (!used)
				return -ENOMEM;
			n_used = old->n_names;
			memcpy(used, old->names, n_used * sizeof(*used));
		}
		r = withdraw(d, old, t);
		if (r < 0) {
			free(used);
			return r;
		}
	}
	r = contribute(d, st, names, copy, now, t);
	/* A rebuild sweeps the unused names once at the end. */
	for (size_t i = 0; i < n_used; i++)
		if (!name_claim(d, used[i]))
			(void)vw_names_forget(names, used[i]);
	free(used);
	return r;
}

static int flush(struct vw_desired *d, const struct vw_store *st, struct vw_names *names,
		 uint64_t now, bool rebuilding)
{
	struct touched t = { 0 };
	struct vw_hnode *n;
	int r = 0;

	while (r >= 0 && (n = vw_hmap_pop(&d->dirty))) {
		struct mark *m = vw_container_of(n, struct mark, node);
		const struct entry *old = entry_find(d, m->id);
		const struct vw_container *c = vw_store_get(st, m->id);

		/*
		 * A container joining another's namespace changes its owner's policy, and so does
		 * one that stops joining it: the owner is recomputed too (from the store as it is
		 * now, so the order does not matter).
		 */
		if (old && old->owner[0])
			r = vw_desired_mark(d, old->owner);
		if (r >= 0 && c && c->netns_owner[0])
			r = vw_desired_mark(d, c->netns_owner);
		if (r >= 0)
			r = recompute(d, st, names, m->id, now, &t, rebuilding);
		free(m);
	}
	if (r >= 0)
		r = settle(d, &t);
	free(t.keys);
	free(t.addrs);
	/* Half-recomputed state is no basis for a diff: start over next time. */
	if (r < 0)
		d->changes.all = true;
	return r;
}

int vw_desired_flush(struct vw_desired *d, const struct vw_store *st, struct vw_names *names,
		     uint64_t now)
{
	if (!vw_desired_is_dirty(d))
		return 0;
	return flush(d, st, names, now, false);
}

static int set_bridges(struct vw_desired *d, const struct vw_store *st)
{
	d->changes.bridges = true;
	return vw_policy_bridges(st->nets, st->n_nets, d->cfg, &d->rs);
}

int vw_desired_rebuild(struct vw_desired *d, const struct vw_store *st, struct vw_names *names,
		       uint64_t now)
{
	int r;

	clear_maps(d);
	while (d->rs.n_containers > 0)
		(void)vw_ruleset_remove(&d->rs, d->rs.containers[0]->key);
	vw_ruleset_clear_sources(&d->rs);
	d->changes.all = true;
	r = set_bridges(d, st);
	for (size_t i = 0; r >= 0 && i < st->n; i++)
		r = vw_desired_mark(d, st->list[i]->id);
	if (r < 0)
		return r;
	/* Names nobody uses any more go after the recount, not one by one during it. */
	vw_names_begin(names);
	r = flush(d, st, names, now, true);
	(void)vw_names_sweep(names);
	return r;
}
