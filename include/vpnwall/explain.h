/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Why may (or may not) a container reach a destination? Answers with the label entry that
 * decides it. Pure: it evaluates the same parsed labels, settings and resolved names the
 * policy compiler uses, with the same semantics (CIDR containment, port ranges, protocols,
 * names by their current addresses).
 */
#ifndef VW_EXPLAIN_H
#define VW_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "vpnwall/labels.h"

struct vw_names;

enum vw_verdict {
	VW_VERDICT_ALLOWED, /* every packet to the destination (and port, when given) passes */
	VW_VERDICT_PARTIAL, /* no port given, and only some ports/protocols are allowed */
	VW_VERDICT_BLOCKED,
};

struct vw_explanation {
	enum vw_verdict verdict;
	char label[32]; /* the deciding entry's origin: vpn.outbound, vpn.allow, DEFAULT_OUTBOUND */
	char entry[300]; /* the deciding entry, canonical text; "" when blocked */
	char reason[1024]; /* one sentence for humans */
};

/*
 * vw_explain - evaluate @q (an address, or a name, with optional port; "as the user typed
 * it") against a container's labels plus @defaults. A query port without protocol means
 * TCP. Returns 0, or -EINVAL for a query that is a CIDR or a wildcard.
 */
int vw_explain(const struct vw_labels *l, const struct vw_dst *defaults, size_t n_defaults,
	       const struct vw_names *names, const struct vw_dst *q, struct vw_explanation *ret);

#endif
