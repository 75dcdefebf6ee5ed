// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Explanations. Entries are tried in a fixed order (vpn.outbound, vpn.allow,
 * DEFAULT_OUTBOUND) and a full match wins over a port-restricted one, so the answer names
 * the broadest reason a packet passes.
 */
#include "vpnwall/explain.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnwall/names.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/util.h"

static bool prefix_contains(const struct vw_dst *net, uint8_t family, const uint8_t *addr)
{
	unsigned full = net->prefix / 8, rest = net->prefix % 8;

	if (net->family != family)
		return false;
	if (memcmp(net->addr, addr, full) != 0)
		return false;
	return rest == 0 || ((net->addr[full] ^ addr[full]) & (0xff << (8 - rest))) == 0;
}

static bool name_resolves_to(const struct vw_names *names, const char *name, uint8_t family,
			     const uint8_t *addr)
{
	const struct vw_name *n = names ? vw_names_get(names, name) : NULL;
	const struct vw_name_answer *a;

	if (!n)
		return false;
	a = &n->fam[family == AF_INET6 ? 1 : 0];
	for (size_t i = 0; i < a->n; i++)
		if (memcmp(a->addrs[i], addr, vw_addr_len(family)) == 0)
			return true;
	return false;
}

/* How the entry's port scope covers the query: 2 fully, 1 partly, 0 not at all. */
static int port_cover(const struct vw_dst *e, const struct vw_dst *q)
{
	/* "host:53" parses as TCP and UDP; as a question it means one connection: TCP. */
	uint8_t qp = q->protos == (VW_PROTO_TCP | VW_PROTO_UDP) ? VW_PROTO_TCP : q->protos;

	if (e->protos == 0)
		return 2;
	if (q->protos == 0)
		return 1;
	if (!(e->protos & qp))
		return 0;
	return q->port_lo >= e->port_lo && q->port_hi <= e->port_hi ? 2 : 0;
}

struct best {
	int cover;
	const char *label;
	const struct vw_dst *entry;
	const char *how;
};

static void consider(struct best *b, const char *label, const struct vw_dst *e,
		     const struct vw_dst *q, const struct vw_names *names, bool *wildcard_hit,
		     struct vw_dst *wildcard)
{
	bool dst_match = false;
	const char *how = "";
	int cover;

	if (q->kind == VW_DST_NET) {
		if (e->kind == VW_DST_NET)
			dst_match = prefix_contains(e, q->family, q->addr);
		else if (e->kind == VW_DST_NAME) {
			dst_match = name_resolves_to(names, e->name, q->family, q->addr);
			how = " (the name currently resolves to it)";
		}
	} else if (e->kind == VW_DST_NAME) {
		dst_match = strcmp(e->name, q->name) == 0;
	} else if (e->kind == VW_DST_WILDCARD && vw_wildcard_matches(e->name, q->name)) {
		/* Parsed and shown, but not enforced until the DNS proxy exists. */
		*wildcard_hit = true;
		*wildcard = *e;
		return;
	}
	if (!dst_match)
		return;
	cover = port_cover(e, q);
	if (cover > b->cover) {
		b->cover = cover;
		b->label = label;
		b->entry = e;
		b->how = how;
	}
}

int vw_explain(const struct vw_labels *l, const struct vw_dst *defaults, size_t n_defaults,
	       const struct vw_names *names, const struct vw_dst *q, struct vw_explanation *ret)
{
	struct vw_explanation x = { .verdict = VW_VERDICT_BLOCKED };
	struct best b = { 0 };
	struct vw_dst wildcard;
	bool wildcard_hit = false;
	char qtext[300], etext[300];

	if (q->kind == VW_DST_WILDCARD ||
	    (q->kind == VW_DST_NET && q->prefix != (q->family == AF_INET ? 32 : 128)))
		return -EINVAL;
	for (size_t i = 0; i < l->n_outbound; i++)
		consider(&b, "vpn.outbound", &l->outbound[i], q, names, &wildcard_hit, &wildcard);
	for (size_t i = 0; i < l->n_allow; i++)
		consider(&b, "vpn.allow", &l->allow[i], q, names, &wildcard_hit, &wildcard);
	for (size_t i = 0; i < n_defaults; i++)
		consider(&b, "DEFAULT_OUTBOUND", &defaults[i], q, names, &wildcard_hit, &wildcard);

	vw_dst_format(q, qtext, sizeof(qtext));
	if (b.cover > 0) {
		vw_dst_format(b.entry, etext, sizeof(etext));
		(void)vw_strscpy(x.label, b.label, sizeof(x.label));
		(void)vw_strscpy(x.entry, etext, sizeof(x.entry));
		x.verdict = b.cover == 2 ? VW_VERDICT_ALLOWED : VW_VERDICT_PARTIAL;
		snprintf(x.reason, sizeof(x.reason), "%s %s by %s entry '%s'%s", qtext,
			 b.cover == 2 ? "is allowed" : "is allowed only on the entry's ports",
			 b.label, etext, b.how);
	} else if (wildcard_hit) {
		vw_dst_format(&wildcard, etext, sizeof(etext));
		snprintf(
			x.reason, sizeof(x.reason),
			"%s is blocked: it matches wildcard '%s', but wildcards are not enforced yet (they need the DNS proxy)",
			qtext, etext);
	} else {
		snprintf(x.reason, sizeof(x.reason),
			 "%s is blocked: no entry of the policy allows it", qtext);
	}
	*ret = x;
	return 0;
}
