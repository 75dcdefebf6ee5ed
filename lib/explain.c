// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Explanations. The verdict for each address is a lookup in the compiled boxes; only then
 * are the policy's entries walked (in the compiler's order, with the compiler's quota) to
 * name the first one that covers the query fully, or else partly.
 */
#include "vpnwall/explain.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnwall/config.h"
#include "vpnwall/names.h"
#include "vpnwall/policy.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/util.h"

/* The addresses a query stands for: itself, or its name's current addresses. */
struct targets {
	uint8_t family[2 * VW_NAME_ADDRS_MAX];
	const uint8_t *addr[2 * VW_NAME_ADDRS_MAX];
	size_t n;
};

static void targets_of(const struct vw_dst *q, const struct vw_names *names, struct targets *t)
{
	const struct vw_name *n;

	t->n = 0;
	if (q->kind == VW_DST_NET) {
		t->family[0] = q->family;
		t->addr[t->n++] = q->addr;
		return;
	}
	n = names ? vw_names_get(names, q->name) : NULL;
	for (int f = 0; n && f < 2; f++)
		for (size_t i = 0; i < n->fam[f].n && t->n < ELEMENTSOF(t->addr); i++) {
			t->family[t->n] = f ? AF_INET6 : AF_INET;
			t->addr[t->n++] = n->fam[f].addrs[i];
		}
}

/* "host:53" parses as TCP and UDP; as a question it means one connection: TCP. */
static uint8_t query_proto(const struct vw_dst *q)
{
	return q->protos & VW_PROTO_TCP ? IPPROTO_TCP : IPPROTO_UDP;
}

/* 2: every packet to @addr (on the query's port) passes, 1: some do, 0: none. */
static int boxes_cover(const struct vw_boxset *s, const uint8_t *addr, const struct vw_dst *q)
{
	const struct vw_box *b;
	size_t n;

	b = vw_boxset_stretch(s, addr, &n);
	if (q->protos) {
		uint8_t proto = query_proto(q);
		int cover = 0;

		/* Ports of one protocol are merged within a stretch: one box covers all or not. */
		for (size_t i = 0; i < n; i++)
			if (proto >= b[i].proto_lo && proto <= b[i].proto_hi &&
			    b[i].port_lo <= q->port_hi && q->port_lo <= b[i].port_hi)
				cover = b[i].port_lo <= q->port_lo && q->port_hi <= b[i].port_hi
						? 2
						: 1;
		return cover;
	}
	for (size_t i = 0; i < n; i++)
		if (b[i].proto_lo == 0 && b[i].proto_hi == UINT8_MAX && b[i].port_lo == 0 &&
		    b[i].port_hi == UINT16_MAX)
			return 2;
	return n > 0 ? 1 : 0;
}

struct attribution {
	const struct vw_explain_input *in;
	const struct vw_dst *q;
	const struct targets *t;
	int best; /* coverage of the best entry so far */
	struct vw_entry_ref ref;
	bool wildcard; /* a wildcard matches the queried name */
	struct vw_entry_ref wildcard_ref;
};

static int atom_cover(const struct vw_atom *a, uint8_t family, const uint8_t *addr,
		      const struct vw_dst *q)
{
	size_t len = vw_addr_len(family);
	uint8_t proto = query_proto(q);

	if (memcmp(addr, a->lo, len) < 0 || memcmp(addr, a->hi, len) > 0)
		return 0;
	if (!a->protos)
		return 2;
	if (!q->protos)
		return 1;
	if (!(a->protos & (proto == IPPROTO_TCP ? VW_PROTO_TCP : VW_PROTO_UDP)) ||
	    a->port_lo > q->port_hi || q->port_lo > a->port_hi)
		return 0;
	return a->port_lo <= q->port_lo && q->port_hi <= a->port_hi ? 2 : 1;
}

static int attribute(void *ud, const struct vw_entry_ref *e)
{
	struct attribution *x = ud;
	struct vw_atoms atoms[2] = { { .family = AF_INET }, { .family = AF_INET6 } };
	int cover = 0, r;

	if (!e->granted)
		return 0;
	if (e->dst->kind == VW_DST_WILDCARD) {
		if (x->q->kind == VW_DST_NAME && vw_wildcard_matches(e->dst->name, x->q->name)) {
			x->wildcard = true;
			x->wildcard_ref = *e;
		}
		return 0;
	}
	r = vw_policy_entry_atoms(e->dst, x->in->names, atoms);
	/* A name query: fully covered when all its addresses are, in part when any is. */
	for (size_t i = 0, full = 0; r >= 0 && i < x->t->n; i++) {
		const struct vw_atoms *a = &atoms[vw_family_index(x->t->family[i])];
		int best = 0;

		for (size_t k = 0; k < a->n && best < 2; k++) {
			int c = atom_cover(&a->v[k], x->t->family[i], x->t->addr[i], x->q);

			best = c > best ? c : best;
		}
		full += best == 2;
		if (best > 0)
			cover = full == i + 1 ? 2 : 1;
		else if (cover == 2)
			cover = 1;
	}
	vw_atoms_done(&atoms[0]);
	vw_atoms_done(&atoms[1]);
	if (r < 0)
		return r;
	if (cover > x->best) {
		x->best = cover;
		x->ref = *e;
	}
	return 0;
}

int vw_explain(const struct vw_explain_input *in, const struct vw_dst *q,
	       struct vw_explanation *ret)
{
	struct vw_explanation x = { .verdict = VW_VERDICT_BLOCKED };
	struct targets t;
	struct attribution at = { .in = in, .q = q, .t = &t };
	char qtext[300], etext[300], via[64] = "";
	int verdict = 0, lowest = 2, highest = 0, r;

	if (q->kind == VW_DST_WILDCARD ||
	    (q->kind == VW_DST_NET && q->prefix != (q->family == AF_INET ? 32 : 128)))
		return -EINVAL;
	vw_dst_format(q, qtext, sizeof(qtext));
	targets_of(q, in->names, &t);
	/* A name is allowed when all its addresses are, in part when some are. */
	for (size_t i = 0; i < t.n; i++) {
		int c = 0;

		/* The kernel tries the paths in turn: the better one decides. */
		for (int p = 0; p < VW_PATHS; p++) {
			int k = vw_boxset_index(p, t.family[i]);
			int cp = boxes_cover(&in->compiled->dst[k], t.addr[i], q);

			c = cp > c ? cp : c;
		}

		lowest = c < lowest ? c : lowest;
		highest = c > highest ? c : highest;
	}
	if (t.n > 0)
		verdict = lowest == 2 ? 2 : highest > 0 ? 1 : 0;
	r = vw_policy_entries(in->c, in->sharers, in->n_sharers, in->cfg, attribute, &at);
	if (r < 0)
		return r;

	if (in->compiled->isolated[0]) {
		snprintf(x.reason, sizeof(x.reason),
			 "%s is blocked: the container is isolated, it reaches nothing (%s)", qtext,
			 in->compiled->isolated);
	} else if (verdict > 0 && at.best > 0) {
		vw_dst_format(at.ref.dst, etext, sizeof(etext));
		(void)vw_strscpy(x.label, at.ref.origin, sizeof(x.label));
		(void)vw_strscpy(x.entry, etext, sizeof(x.entry));
		if (at.ref.container && strcmp(at.ref.container, in->c->name) != 0)
			(void)vw_strscpy(x.container, at.ref.container, sizeof(x.container));
		x.verdict = verdict == 2 ? VW_VERDICT_ALLOWED : VW_VERDICT_PARTIAL;
		x.path = at.ref.path;
		if (in->cfg->vpn_interface[0])
			snprintf(via, sizeof(via),
				 x.path == VW_PATH_VPN ? ", only through %s"
						       : ", by any path (not only %s)",
				 in->cfg->vpn_interface);
		snprintf(x.reason, sizeof(x.reason), "%s %s by %s entry '%s'%s%s%s%s%s", qtext,
			 verdict == 2 ? "is allowed" : "is allowed only in part", at.ref.origin,
			 etext, x.container[0] ? " of container '" : "", x.container,
			 x.container[0] ? "'" : "",
			 at.ref.dst->kind == VW_DST_NAME && q->kind == VW_DST_NET
				 ? " (the name currently resolves to it)"
				 : "",
			 via);
	} else if (verdict > 0) {
		x.verdict = verdict == 2 ? VW_VERDICT_ALLOWED : VW_VERDICT_PARTIAL;
		snprintf(x.reason, sizeof(x.reason), "%s is allowed by the compiled policy", qtext);
	} else if (at.wildcard && in->cfg->dns_proxy) {
		vw_dst_format(at.wildcard_ref.dst, etext, sizeof(etext));
		(void)vw_strscpy(x.label, at.wildcard_ref.origin, sizeof(x.label));
		(void)vw_strscpy(x.entry, etext, sizeof(x.entry));
		x.verdict = VW_VERDICT_ALLOWED;
		x.path = at.wildcard_ref.path;
		snprintf(x.reason, sizeof(x.reason),
			 "%s is allowed by %s entry '%s': the DNS proxy answers the container's "
			 "lookups of it and allows the addresses of each answer until they expire",
			 qtext, at.wildcard_ref.origin, etext);
	} else if (at.wildcard) {
		vw_dst_format(at.wildcard_ref.dst, etext, sizeof(etext));
		snprintf(x.reason, sizeof(x.reason),
			 "%s is blocked: it matches wildcard '%s', but wildcards are only enforced "
			 "with the DNS proxy (DNS_PROXY=true)",
			 qtext, etext);
	} else if (q->kind == VW_DST_NAME && t.n == 0) {
		snprintf(x.reason, sizeof(x.reason),
			 "%s is blocked: the name is not resolved (only names in the policy are)",
			 qtext);
	} else {
		snprintf(x.reason, sizeof(x.reason),
			 "%s is blocked: no entry of the policy allows it", qtext);
	}
	*ret = x;
	return 0;
}
