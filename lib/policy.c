// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Policy compilation: containers + networks + settings + names -> vw_ruleset.
 */
#include "vpnwall/policy.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnwall/config.h"
#include "vpnwall/names.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/util.h"

#define CONTAINERS_MAX 65536
#define SOURCES_MAX (CONTAINERS_MAX * 4)

void vw_container_done(struct vw_container *c)
{
	free(c->eps);
	c->eps = NULL;
	c->n_eps = 0;
	vw_labels_done(&c->labels);
}

const struct vw_network *vw_network_find(const struct vw_network *nets, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(nets[i].id, id) == 0)
			return &nets[i];
	return NULL;
}

bool vw_network_is_managed(const struct vw_network *net, const struct vw_config *cfg)
{
	return net && net->is_bridge && net->bridge[0] &&
	       vw_config_network_is_selected(cfg, net->name);
}

int vw_policy_bridges(const struct vw_network *nets, size_t n, const struct vw_config *cfg,
		      struct vw_ruleset *rs)
{
	_cleanup_free_ struct vw_rs_bridge *v = calloc(n + 1, sizeof(*v));
	size_t k = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!nets[i].is_bridge || !nets[i].bridge[0])
			continue;
		(void)vw_strscpy(v[k].name, nets[i].bridge, sizeof(v[k].name));
		v[k++].managed = vw_network_is_managed(&nets[i], cfg);
	}
	return vw_ruleset_set_bridges(rs, v, k);
}

enum vw_managed vw_policy_state(const struct vw_container *c, const struct vw_network *networks,
				size_t n_networks, const struct vw_config *cfg)
{
	if (!c->running)
		return VW_NOT_RUNNING;
	if (c->host_network)
		return VW_UNMANAGED_HOST;
	if (c->netns_owner[0])
		return VW_JOINED;
	for (size_t i = 0; i < c->n_eps; i++)
		if ((c->eps[i].has4 || c->eps[i].has6) &&
		    vw_network_is_managed(
			    vw_network_find(networks, n_networks, c->eps[i].network_id), cfg))
			return c->labels.disabled ? VW_UNMANAGED_OPTOUT : VW_MANAGED;
	return VW_UNMANAGED_NETWORK;
}

bool vw_container_joins(const struct vw_container *c, const struct vw_container *owner)
{
	/*
	 * By id only: a "container:<name>" reference outlives the container it named, and a
	 * newcomer taking the name must not inherit the sharer's labels.
	 */
	return c->running && strcmp(c->netns_owner, owner->id) == 0;
}

const char *vw_managed_reason(enum vw_managed m)
{
	switch (m) {
	case VW_MANAGED:
		return "managed";
	case VW_UNMANAGED_OPTOUT:
		return "not managed: opted out with vpn.enable=false";
	case VW_UNMANAGED_HOST:
		return "not managed: host network (never crosses the forward hook)";
	case VW_UNMANAGED_NETWORK:
		return "not managed: no address on a managed bridge network";
	case VW_JOINED:
		return "policed as the container whose network namespace it uses";
	case VW_NOT_RUNNING:
		return "not running";
	}
	return "unknown";
}

/* --- entries ---------------------------------------------------------------------------- */

struct entries_walk {
	vw_entry_fn fn;
	void *ud;
	const char *names[VW_CONTAINER_NAMES_MAX]; /* distinct names granted so far */
	size_t n_names;
};

/* A name counts against the quota once, however many entries use it. */
static bool name_granted(struct entries_walk *w, const char *name)
{
	for (size_t i = 0; i < w->n_names; i++)
		if (strcmp(w->names[i], name) == 0)
			return true;
	if (w->n_names >= VW_CONTAINER_NAMES_MAX)
		return false;
	w->names[w->n_names++] = name;
	return true;
}

static int walk(struct entries_walk *w, const char *origin, const char *container,
		enum vw_path path, const struct vw_dst *v, size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		struct vw_entry_ref e = { .origin = origin,
					  .container = container,
					  .dst = &v[i],
					  .granted = true,
					  .path = path };

		if (container && v[i].kind == VW_DST_NAME)
			e.granted = name_granted(w, v[i].name);
		r = w->fn(w->ud, &e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* @outbound: the path of the outbound entries (the namespace owner's vpn.tunnel decides). */
static int walk_labels(struct entries_walk *w, const struct vw_container *c, enum vw_path outbound)
{
	int r;

	r = walk(w, VW_LABEL_OUTBOUND, c->name, outbound, c->labels.outbound, c->labels.n_outbound);
	if (r < 0)
		return r;
	return walk(w, VW_LABEL_ALLOW, c->name, VW_PATH_ANY, c->labels.allow, c->labels.n_allow);
}

int vw_policy_entries(const struct vw_container *c, const struct vw_container *const *sharers,
		      size_t n_sharers, const struct vw_config *cfg, vw_entry_fn fn, void *ud)
{
	struct entries_walk w = { .fn = fn, .ud = ud };
	enum vw_path outbound = c->labels.no_tunnel ? VW_PATH_ANY : VW_PATH_VPN;
	int r;

	r = walk_labels(&w, c, outbound);
	for (size_t i = 0; r >= 0 && i < n_sharers; i++)
		r = walk_labels(&w, sharers[i], outbound);
	if (r >= 0)
		r = walk(&w, "DEFAULT_OUTBOUND", NULL, outbound, cfg->default_outbound,
			 cfg->n_default_outbound);
	if (r >= 0)
		r = walk(&w, "VPN_ALLOW", NULL, VW_PATH_ANY, cfg->vpn_allow, cfg->n_vpn_allow);
	return r;
}

struct grants_walk {
	const char *name;
	struct vw_name_grant *v;
	size_t max;
	size_t n;
};

static int grant(void *ud, const struct vw_entry_ref *e)
{
	struct grants_walk *w = ud;
	const struct vw_dst *d = e->dst;

	if (!e->granted || !((d->kind == VW_DST_NAME && strcmp(d->name, w->name) == 0) ||
			     (d->kind == VW_DST_WILDCARD && vw_wildcard_matches(d->name, w->name))))
		return 0;
	if (w->n < w->max)
		w->v[w->n++] = (struct vw_name_grant){ .path = e->path,
						       .protos = d->protos,
						       .port_lo = d->port_lo,
						       .port_hi = d->port_hi };
	return 0;
}

int vw_policy_name_grants(const struct vw_container *c, const struct vw_container *const *sharers,
			  size_t n_sharers, const struct vw_config *cfg, const char *name,
			  struct vw_name_grant *ret, size_t max)
{
	struct grants_walk w = { .name = name, .v = ret, .max = max };
	int r = vw_policy_entries(c, sharers, n_sharers, cfg, grant, &w);

	return r < 0 ? r : (int)w.n;
}

int vw_policy_entry_atoms(const struct vw_dst *d, const struct vw_names *names,
			  struct vw_atoms *atoms)
{
	const struct vw_name *n;
	int r;

	switch (d->kind) {
	case VW_DST_NET:
		return vw_atoms_add_prefix(&atoms[vw_family_index(d->family)], d->addr, d->prefix,
					   d->protos, d->port_lo, d->port_hi);
	case VW_DST_NAME:
		n = names ? vw_names_get(names, d->name) : NULL;
		for (int f = 0; n && f < 2; f++)
			for (size_t i = 0; i < n->fam[f].n; i++) {
				r = vw_atoms_add_prefix(&atoms[f], n->fam[f].addrs[i], f ? 128 : 32,
							d->protos, d->port_lo, d->port_hi);
				if (r < 0)
					return r;
			}
		return 0;
	case VW_DST_WILDCARD:
		/* Enforced by the DNS proxy (a later issue); until then it grants nothing. */
		return 0;
	}
	return 0;
}

/* --- one container ------------------------------------------------------------------------ */

struct compile_ctx {
	const struct vw_names *names;
	struct vw_atoms atoms[VW_BOXSETS]; /* at vw_boxset_index(path, family) */
	size_t over_quota; /* name entries beyond the quota */
	bool too_many; /* more than VW_CONTAINER_ATOMS_MAX atoms */
};

static int collect(void *ud, const struct vw_entry_ref *e)
{
	struct compile_ctx *x = ud;
	size_t n = 0;

	if (!e->granted) {
		x->over_quota++;
		return 0;
	}
	/* Containers sharing the network namespace add their entries without bound; stop
	 * before their atoms make the decomposition itself the cost. */

	for (int i = 0; i < VW_BOXSETS; i++)
		n += x->atoms[i].n;
	if (n > VW_CONTAINER_ATOMS_MAX) {
		x->too_many = true;
		return -E2BIG;
	}
	return vw_policy_entry_atoms(e->dst, x->names,
				     &x->atoms[vw_boxset_index(e->path, AF_INET)]);
}

/* @global: @budget is what the whole ruleset has left, not the container's own. */
static int compile_container(const struct vw_container *c,
			     const struct vw_container *const *sharers, size_t n_sharers,
			     const struct vw_config *cfg, const struct vw_names *names,
			     size_t budget, bool global, struct vw_rs_container *ret)
{
	struct compile_ctx x = { .names = names };
	struct vw_rs_container rc = { .audit = cfg->dry_run || c->labels.dry_run };
	int r;

	vw_rs_container_init(&rc);
	for (int i = 0; i < VW_BOXSETS; i++)
		x.atoms[i].family = rc.dst[i].family;

	(void)vw_strscpy(rc.key, c->id, sizeof(rc.key));
	(void)vw_strscpy(rc.id, c->id, sizeof(rc.id));
	(void)vw_strscpy(rc.name, c->name, sizeof(rc.name));
	r = vw_policy_entries(c, sharers, n_sharers, cfg, collect, &x);
	for (int i = 0; r >= 0 && i < VW_BOXSETS; i++) {
		size_t left = budget - vw_rs_container_cost(&rc);

		r = vw_boxset_build(&x.atoms[i], left, &rc.dst[i]);
	}
	for (int i = 0; i < VW_BOXSETS; i++)
		vw_atoms_done(&x.atoms[i]);
	if (r == -E2BIG) {
		/* All or nothing: a policy cut short could allow some of what it means and not the
		 * rest, which nobody can reason about; reaching nothing is at least obvious. */
		if (x.too_many)
			snprintf(rc.isolated, sizeof(rc.isolated),
				 "its labels and those sharing its network list more than %u "
				 "addresses",
				 VW_CONTAINER_ATOMS_MAX);
		else if (global)
			snprintf(
				rc.isolated, sizeof(rc.isolated),
				"the ruleset holds %u kernel range rules, the most vpnwall applies",
				VW_RULESET_COST_MAX);
		else
			snprintf(rc.isolated, sizeof(rc.isolated),
				 "its destinations need more than %zu kernel range rules", budget);
		vw_rs_container_isolate(&rc, rc.isolated);
		r = 0;
	}
	if (r < 0) {
		vw_rs_container_done(&rc);
		return r;
	}
	rc.refs = ret->refs;
	if (x.over_quota)
		snprintf(rc.note, sizeof(rc.note),
			 "%zu entr%s with names beyond the first %d grant%s nothing", x.over_quota,
			 x.over_quota == 1 ? "y" : "ies", VW_CONTAINER_NAMES_MAX,
			 x.over_quota == 1 ? "s" : "");
	*ret = rc;
	return 0;
}

int vw_policy_compile_container(const struct vw_container *c,
				const struct vw_container *const *sharers, size_t n_sharers,
				const struct vw_config *cfg, const struct vw_names *names,
				size_t budget, struct vw_rs_container *ret)
{
	return compile_container(c, sharers, n_sharers, cfg, names, budget, false, ret);
}

/* --- the whole ruleset ------------------------------------------------------------------- */

struct compiler {
	struct vw_ruleset rs;
	size_t boxes; /* over all containers so far */
};

struct want_ctx {
	struct vw_names *names;
	uint64_t now;
};

static int want_name(void *ud, const struct vw_entry_ref *e)
{
	struct want_ctx *x = ud;
	int r;

	if (!e->granted || e->dst->kind != VW_DST_NAME)
		return 0;
	r = vw_names_want(x->names, e->dst->name, x->now);
	/* Past the global cap the name stays unresolved: it grants nothing. */
	return r == -ENOBUFS ? 0 : r;
}

static int add_source(struct compiler *cc, uint8_t family, const uint8_t *addr, const char *key)
{
	struct vw_rs_source *s;
	int r;

	r = vw_grow((void **)&cc->rs.sources, &cc->rs.cap_sources, cc->rs.n_sources + 1,
		    sizeof(*cc->rs.sources), SOURCES_MAX);
	if (r < 0)
		return r;
	s = &cc->rs.sources[cc->rs.n_sources++];
	*s = (struct vw_rs_source){ .family = family };
	memcpy(s->addr, addr, vw_addr_len(family));
	(void)vw_strscpy(s->key, key, sizeof(s->key));
	return 0;
}

static int add_sources(struct compiler *cc, const struct vw_container *c,
		       const struct vw_network *nets, size_t n_nets, const struct vw_config *cfg)
{
	char key[VW_KEY_LEN + 1];
	int r;

	/* Opted out: its addresses are exempt. */
	(void)vw_strscpy(key, c->labels.disabled ? "" : c->id, sizeof(key));
	for (size_t i = 0; i < c->n_eps; i++) {
		const struct vw_endpoint *ep = &c->eps[i];

		if (!vw_network_is_managed(vw_network_find(nets, n_nets, ep->network_id), cfg))
			continue;
		if (ep->has4) {
			r = add_source(cc, AF_INET, ep->addr4, key);
			if (r < 0)
				return r;
		}
		if (ep->has6) {
			r = add_source(cc, AF_INET6, ep->addr6, key);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int vw_policy_build_container(const struct vw_container *c,
			      const struct vw_container *const *sharers, size_t n_sharers,
			      const struct vw_config *cfg, const struct vw_names *names,
			      size_t used, struct vw_rs_container **ret)
{
	struct vw_rs_container *rc = vw_rs_container_new();
	size_t budget = VW_CONTAINER_COST_MAX;
	int r;

	if (!rc)
		return -ENOMEM;
	if (used > VW_RULESET_COST_MAX)
		used = VW_RULESET_COST_MAX;
	if (VW_RULESET_COST_MAX - used < budget)
		budget = VW_RULESET_COST_MAX - used;
	r = compile_container(c, sharers, n_sharers, cfg, names, budget,
			      budget < VW_CONTAINER_COST_MAX, rc);
	if (r < 0) {
		vw_rs_container_unref(rc);
		return r;
	}
	*ret = rc;
	return 0;
}

static int add_container(struct compiler *cc, const struct vw_container *c,
			 const struct vw_container *const *sharers, size_t n_sharers,
			 const struct vw_config *cfg, struct vw_names *names, uint64_t now)
{
	struct want_ctx wx = { .names = names, .now = now };
	struct vw_rs_container *rc;
	int r;

	r = vw_policy_entries(c, sharers, n_sharers, cfg, want_name, &wx);
	if (r < 0)
		return r;
	r = vw_policy_build_container(c, sharers, n_sharers, cfg, names, cc->boxes, &rc);
	if (r < 0)
		return r;
	/* Containers come in key order: appending keeps the array sorted. */
	r = vw_ruleset_put(&cc->rs, rc);
	cc->boxes += vw_rs_container_cost(rc);
	vw_rs_container_unref(rc);
	return r;
}

static int cmp_source(const void *a, const void *b)
{
	const struct vw_rs_source *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->addr, y->addr, vw_addr_len(x->family));
}

static int cmp_by_id(const void *a, const void *b)
{
	return strcmp((*(const struct vw_container *const *)a)->id,
		      (*(const struct vw_container *const *)b)->id);
}

static int cmp_by_owner(const void *a, const void *b)
{
	const struct vw_container *x = *(const struct vw_container *const *)a;
	const struct vw_container *y = *(const struct vw_container *const *)b;
	int c = strcmp(x->netns_owner, y->netns_owner);

	/* Ties by id: the order of a container's sharers (and of their labels) is stable. */
	return c ? c : strcmp(x->id, y->id);
}

/*
 * Drop sources claimed twice, and sources pointing at a container that has no chain (two
 * ids sharing their first 16 digits): such packets then hit the unknown-source drop.
 */
static void drop_bad_sources(struct vw_ruleset *rs)
{
	size_t out = 0;

	for (size_t i = 0; i < rs->n_sources;) {
		size_t j = i + 1;

		while (j < rs->n_sources && cmp_source(&rs->sources[i], &rs->sources[j]) == 0)
			j++;
		if (j - i == 1 &&
		    (!rs->sources[i].key[0] || vw_ruleset_find(rs, rs->sources[i].key)))
			rs->sources[out++] = rs->sources[i];
		i = j;
	}
	rs->n_sources = out;
}

/*
 * Whether another managed container shares @i's key. Containers come sorted by id, so those
 * sharing a key are adjacent; the ones in between that are not managed do not count.
 */
static bool key_collides(const struct vw_container *const *v, const bool *managed, size_t n,
			 size_t i)
{
	for (size_t k = i; k-- > 0 && strncmp(v[k]->id, v[i]->id, VW_KEY_LEN) == 0;)
		if (managed[k])
			return true;
	for (size_t k = i + 1; k < n && strncmp(v[k]->id, v[i]->id, VW_KEY_LEN) == 0; k++)
		if (managed[k])
			return true;
	return false;
}

int vw_policy_settings(const struct vw_config *cfg, struct vw_ruleset *rs)
{
	rs->dry_run = cfg->dry_run;
	rs->log_group = cfg->nflog_group;
	rs->log_rate = cfg->audit_rate;
	rs->dns_port = cfg->dns_proxy ? cfg->dns_proxy_port : 0;
	rs->dns_rate = cfg->dns_rate;
	(void)vw_strscpy(rs->vpn_iface, cfg->vpn_interface, sizeof(rs->vpn_iface));
	if (cfg->n_ignore_bridges) {
		rs->ignore = calloc(cfg->n_ignore_bridges, sizeof(*rs->ignore));
		if (!rs->ignore)
			return -ENOMEM;
		memcpy(rs->ignore, cfg->ignore_bridges,
		       cfg->n_ignore_bridges * sizeof(*rs->ignore));
		rs->n_ignore = cfg->n_ignore_bridges;
	}
	return 0;
}

int vw_policy_compile(const struct vw_container *const *cs, size_t n_cs,
		      const struct vw_network *networks, size_t n_networks,
		      const struct vw_config *cfg, struct vw_names *names, uint64_t now,
		      struct vw_ruleset *ret_rs)
{
	struct compiler cc = { 0 };
	_cleanup_free_ const struct vw_container **byid = NULL;
	_cleanup_free_ const struct vw_container **joined = NULL;
	_cleanup_free_ enum vw_managed *states = NULL;
	_cleanup_free_ bool *managed = NULL;
	size_t n_joined = 0;
	int r = 0;

	r = vw_policy_settings(cfg, &cc.rs);
	if (r < 0)
		goto fail;
	r = vw_policy_bridges(networks, n_networks, cfg, &cc.rs);
	if (r < 0)
		goto fail;

	byid = calloc(n_cs + 1, sizeof(*byid));
	joined = calloc(n_cs + 1, sizeof(*joined));
	states = calloc(n_cs + 1, sizeof(*states));
	managed = calloc(n_cs + 1, sizeof(*managed));
	if (!byid || !joined || !states || !managed) {
		r = -ENOMEM;
		goto fail;
	}
	if (n_cs)
		memcpy(byid, cs, n_cs * sizeof(*cs));
	if (n_cs > 1)
		qsort(byid, n_cs, sizeof(*byid), cmp_by_id);
	for (size_t i = 0; i < n_cs; i++) {
		states[i] = vw_policy_state(byid[i], networks, n_networks, cfg);
		managed[i] = states[i] == VW_MANAGED;
		if (states[i] == VW_JOINED)
			joined[n_joined++] = byid[i];
	}
	if (n_joined > 1)
		qsort(joined, n_joined, sizeof(*joined), cmp_by_owner);

	vw_names_begin(names);
	for (size_t i = 0; i < n_cs; i++) {
		const struct vw_container *c = byid[i];
		enum vw_managed st = states[i];
		size_t lo = 0, hi = n_joined, first;

		/* Only these have addresses on our bridges; joined ones add labels to the owner. */
		if (st != VW_MANAGED && st != VW_UNMANAGED_OPTOUT)
			continue;
		r = add_sources(&cc, c, networks, n_networks, cfg);
		if (r < 0)
			goto fail;
		if (st != VW_MANAGED || key_collides(byid, managed, n_cs, i))
			continue;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (strcmp(joined[mid]->netns_owner, c->id) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		first = lo;
		while (lo < n_joined && strcmp(joined[lo]->netns_owner, c->id) == 0)
			lo++;
		r = add_container(&cc, c, (const struct vw_container *const *)joined + first,
				  lo - first, cfg, names, now);
		if (r < 0)
			goto fail;
	}
	(void)vw_names_sweep(names);

	if (cc.rs.n_sources > 1)
		qsort(cc.rs.sources, cc.rs.n_sources, sizeof(*cc.rs.sources), cmp_source);
	drop_bad_sources(&cc.rs);
	r = vw_ruleset_index_sources(&cc.rs);
	if (r < 0)
		goto fail;
	*ret_rs = cc.rs;
	return 0;
fail:
	vw_ruleset_done(&cc.rs);
	return r;
}
