// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Policy compilation: containers + networks + settings + names -> vw_ruleset.
 */
#include "vpnwall/policy.h"

#include <errno.h>
#include <netinet/in.h>
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

struct compiler {
	struct vw_ruleset rs;
	size_t cap_containers;
	size_t cap_sources;
	size_t cap_bridges;
	size_t cap_skip;
	struct vw_names *names;
	uint64_t now;
};

static struct vw_rs_group *group_get(struct vw_rs_container *c, uint8_t proto, uint16_t lo,
				     uint16_t hi)
{
	struct vw_rs_group *g;

	for (size_t i = 0; i < c->n_groups; i++) {
		g = &c->groups[i];
		if (g->proto == proto && g->port_lo == lo && g->port_hi == hi)
			return g;
	}
	g = reallocarray(c->groups, c->n_groups + 1, sizeof(*g));
	if (!g)
		return NULL;
	c->groups = g;
	g = &c->groups[c->n_groups++];
	*g = (struct vw_rs_group){ .proto = proto, .port_lo = lo, .port_hi = hi };
	g->set4.family = AF_INET;
	g->set6.family = AF_INET6;
	return g;
}

static int add_name_addrs(struct vw_rs_group *g, const struct vw_name *n)
{
	int r;

	g->has4 = g->has6 = true;
	if (!n)
		return 0;
	for (size_t i = 0; i < n->fam[0].n; i++) {
		r = vw_rangeset_add(&g->set4, n->fam[0].addrs[i], n->fam[0].addrs[i]);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n->fam[1].n; i++) {
		r = vw_rangeset_add(&g->set6, n->fam[1].addrs[i], n->fam[1].addrs[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_dst_to_group(struct compiler *cc, struct vw_rs_group *g, const struct vw_dst *d)
{
	int r;

	switch (d->kind) {
	case VW_DST_NET:
		if (d->family == AF_INET) {
			g->has4 = true;
			return vw_rangeset_add_prefix(&g->set4, d->addr, d->prefix);
		}
		g->has6 = true;
		return vw_rangeset_add_prefix(&g->set6, d->addr, d->prefix);
	case VW_DST_NAME:
		r = vw_names_want(cc->names, d->name, cc->now);
		if (r < 0 && r != -ENOBUFS)
			return r;
		/* Past the name cap the name stays unresolved: it grants nothing. */
		return add_name_addrs(g, vw_names_get(cc->names, d->name));
	case VW_DST_WILDCARD:
		/* Enforced by the DNS proxy (a later issue); until then it grants nothing. */
		return 0;
	}
	return 0;
}

static int add_dst(struct compiler *cc, struct vw_rs_container *c, const struct vw_dst *d)
{
	static const struct {
		uint8_t bit, proto;
	} protos[] = { { VW_PROTO_TCP, IPPROTO_TCP }, { VW_PROTO_UDP, IPPROTO_UDP } };
	struct vw_rs_group *g;
	int r;

	if (d->kind == VW_DST_WILDCARD)
		return 0;
	if (d->protos == 0) {
		g = group_get(c, 0, 0, 0);
		return g ? add_dst_to_group(cc, g, d) : -ENOMEM;
	}
	for (size_t i = 0; i < ELEMENTSOF(protos); i++) {
		if (!(d->protos & protos[i].bit))
			continue;
		g = group_get(c, protos[i].proto, d->port_lo, d->port_hi);
		if (!g)
			return -ENOMEM;
		r = add_dst_to_group(cc, g, d);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_dsts(struct compiler *cc, struct vw_rs_container *c, const struct vw_dst *v,
		    size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		r = add_dst(cc, c, &v[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_labels(struct compiler *cc, struct vw_rs_container *c, const struct vw_labels *l)
{
	int r;

	r = add_dsts(cc, c, l->outbound, l->n_outbound);
	if (r < 0)
		return r;
	return add_dsts(cc, c, l->allow, l->n_allow);
}

static int cmp_group(const void *a, const void *b)
{
	const struct vw_rs_group *x = a, *y = b;

	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->port_lo != y->port_lo)
		return x->port_lo < y->port_lo ? -1 : 1;
	if (x->port_hi != y->port_hi)
		return x->port_hi < y->port_hi ? -1 : 1;
	return 0;
}

static int add_source(struct compiler *cc, uint8_t family, const uint8_t *addr, const char *key)
{
	struct vw_rs_source *s;
	int r;

	r = vw_grow((void **)&cc->rs.sources, &cc->cap_sources, cc->rs.n_sources + 1,
		    sizeof(*cc->rs.sources), SOURCES_MAX);
	if (r < 0)
		return r;
	s = &cc->rs.sources[cc->rs.n_sources++];
	*s = (struct vw_rs_source){ .family = family };
	memcpy(s->addr, addr, vw_addr_len(family));
	(void)vw_strscpy(s->key, key, sizeof(s->key));
	return 0;
}

static int add_container(struct compiler *cc, const struct vw_container *c,
			 const struct vw_container *all, size_t n_all,
			 const struct vw_network *nets, size_t n_nets, const struct vw_config *cfg)
{
	struct vw_rs_container *rc;
	char key[VW_KEY_LEN + 1];
	int r;

	(void)vw_strscpy(key, c->id, sizeof(key));
	for (size_t i = 0; i < c->n_eps; i++) {
		const struct vw_endpoint *ep = &c->eps[i];

		if (!vw_network_is_managed(vw_network_find(nets, n_nets, ep->network_id), cfg))
			continue;
		if (ep->has4) {
			r = add_source(cc, AF_INET, ep->addr4, c->labels.disabled ? "" : key);
			if (r < 0)
				return r;
		}
		if (ep->has6) {
			r = add_source(cc, AF_INET6, ep->addr6, c->labels.disabled ? "" : key);
			if (r < 0)
				return r;
		}
	}
	/* Opted out: its addresses are exempt, it has no chain of its own. */
	if (c->labels.disabled)
		return 0;

	r = vw_grow((void **)&cc->rs.containers, &cc->cap_containers, cc->rs.n_containers + 1,
		    sizeof(*cc->rs.containers), CONTAINERS_MAX);
	if (r < 0)
		return r;
	rc = &cc->rs.containers[cc->rs.n_containers++];
	*rc = (struct vw_rs_container){ .audit = cfg->dry_run || c->labels.dry_run };
	memcpy(rc->key, key, sizeof(key));
	(void)vw_strscpy(rc->id, c->id, sizeof(rc->id));
	(void)vw_strscpy(rc->name, c->name, sizeof(rc->name));

	r = add_labels(cc, rc, &c->labels);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_all; i++)
		if (vw_container_joins(&all[i], c)) {
			r = add_labels(cc, rc, &all[i].labels);
			if (r < 0)
				return r;
		}
	r = add_dsts(cc, rc, cfg->default_outbound, cfg->n_default_outbound);
	if (r < 0)
		return r;

	for (size_t i = 0; i < rc->n_groups; i++) {
		vw_rangeset_normalize(&rc->groups[i].set4);
		vw_rangeset_normalize(&rc->groups[i].set6);
	}
	if (rc->n_groups > 1)
		qsort(rc->groups, rc->n_groups, sizeof(*rc->groups), cmp_group);
	return 0;
}

static int cmp_container(const void *a, const void *b)
{
	const struct vw_rs_container *x = a, *y = b;

	return strcmp(x->key, y->key);
}

static int cmp_source(const void *a, const void *b)
{
	const struct vw_rs_source *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->addr, y->addr, vw_addr_len(x->family));
}

static int cmp_bridge(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int add_bridge(char (**v)[VW_IFNAMSIZ], size_t *n, size_t *cap, const char *name)
{
	int r;

	r = vw_grow((void **)v, cap, *n + 1, sizeof(**v), CONTAINERS_MAX);
	if (r < 0)
		return r;
	(void)vw_strscpy((*v)[(*n)++], name, VW_IFNAMSIZ);
	return 0;
}

/* Sorted and unique: two networks may name the same bridge. */
static void sort_bridges(char (*v)[VW_IFNAMSIZ], size_t *n)
{
	size_t out = 1;

	if (*n < 2)
		return;
	qsort(v, *n, sizeof(*v), cmp_bridge);
	for (size_t i = 1; i < *n; i++)
		if (strcmp(v[i], v[out - 1]) != 0)
			memcpy(v[out++], v[i], VW_IFNAMSIZ);
	*n = out;
}

/* Drop every container whose key is not unique: two ids sharing a 16-digit prefix. */
static void drop_key_collisions(struct vw_ruleset *rs)
{
	size_t out = 0;

	for (size_t i = 0; i < rs->n_containers;) {
		size_t j = i + 1;

		while (j < rs->n_containers &&
		       strcmp(rs->containers[i].key, rs->containers[j].key) == 0)
			j++;
		if (j - i == 1) {
			rs->containers[out++] = rs->containers[i];
		} else {
			for (size_t k = i; k < j; k++)
				vw_rs_container_done(&rs->containers[k]);
		}
		i = j;
	}
	rs->n_containers = out;
}

/*
 * Drop sources claimed twice, and sources pointing at a chain that does not exist (after a
 * key collision): such packets then hit the unknown-source drop.
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

int vw_policy_compile(const struct vw_container *containers, size_t n_containers,
		      const struct vw_network *networks, size_t n_networks,
		      const struct vw_config *cfg, struct vw_names *names, uint64_t now,
		      struct vw_ruleset *ret_rs)
{
	struct compiler cc = { .rs = { .dry_run = cfg->dry_run,
				       .log_group = cfg->nflog_group,
				       .log_rate = cfg->audit_rate },
			       .names = names,
			       .now = now };
	int r;

	/*
	 * Without an explicit list every bridge network is ours, including ones we have not
	 * heard of yet: Docker-named bridges are policed before we learn them.
	 */
	cc.rs.police_unknown = cfg->n_include == 0;
	for (size_t i = 0; i < n_networks; i++) {
		const struct vw_network *net = &networks[i];

		if (!net->is_bridge || !net->bridge[0])
			continue;
		if (vw_network_is_managed(net, cfg))
			r = add_bridge(&cc.rs.bridges, &cc.rs.n_bridges, &cc.cap_bridges,
				       net->bridge);
		else
			r = add_bridge(&cc.rs.skip, &cc.rs.n_skip, &cc.cap_skip, net->bridge);
		if (r < 0)
			goto fail;
	}
	sort_bridges(cc.rs.bridges, &cc.rs.n_bridges);
	sort_bridges(cc.rs.skip, &cc.rs.n_skip);

	for (size_t i = 0; i < n_containers; i++) {
		const struct vw_container *c = &containers[i];

		enum vw_managed st = vw_policy_state(c, networks, n_networks, cfg);

		/* Only these have addresses on our bridges; joined ones add labels to the owner. */
		if (st != VW_MANAGED && st != VW_UNMANAGED_OPTOUT)
			continue;
		r = add_container(&cc, c, containers, n_containers, networks, n_networks, cfg);
		if (r < 0)
			goto fail;
	}

	/* qsort() must not see the NULL of an empty array. */
	if (cc.rs.n_containers > 1)
		qsort(cc.rs.containers, cc.rs.n_containers, sizeof(*cc.rs.containers),
		      cmp_container);
	drop_key_collisions(&cc.rs);
	if (cc.rs.n_sources > 1)
		qsort(cc.rs.sources, cc.rs.n_sources, sizeof(*cc.rs.sources), cmp_source);
	drop_bad_sources(&cc.rs);

	*ret_rs = cc.rs;
	return 0;
fail:
	vw_ruleset_done(&cc.rs);
	return r;
}
