/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Why may (or may not) a container reach a destination? The verdict comes from the
 * container's compiled destination boxes, the very data the kernel enforces; the deciding
 * label entry is then found among the entries that compiled into them, each evaluated with
 * the same function the compiler uses. Pure.
 */
#ifndef VW_EXPLAIN_H
#define VW_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "vpnwall/labels.h"
#include "vpnwall/ruleset.h"

struct vw_config;
struct vw_container;
struct vw_names;
struct vw_rs_container;

enum vw_verdict {
	VW_VERDICT_ALLOWED, /* every packet to the destination (and port, when given) passes */
	VW_VERDICT_PARTIAL, /* no port given (or a name), and only part of it is allowed */
	VW_VERDICT_BLOCKED,
};

struct vw_explanation {
	enum vw_verdict verdict;
	enum vw_path path; /* how the deciding entry may be reached (when allowed) */
	char label[32]; /* the deciding entry's origin: vpn.outbound, vpn.allow, DEFAULT_OUTBOUND */
	char entry[300]; /* the deciding entry, canonical text; "" when blocked */
	char container[128]; /* whose label the entry is, when another container's; else "" */
	char reason[1024]; /* one sentence for humans */
};

/* What a container's policy is made of, borrowed for one question. */
struct vw_explain_input {
	const struct vw_rs_container *compiled; /* its destinations as enforced */
	const struct vw_container *c; /* the container whose namespace it is */
	const struct vw_container *const *sharers; /* containers joining its namespace */
	size_t n_sharers;
	const struct vw_config *cfg;
	const struct vw_names *names;
};

/*
 * vw_explain - evaluate @q (an address or a name, optional port, as the user typed it).
 * A query port without protocol means TCP. Returns 0, or -EINVAL for a query that is a
 * CIDR or a wildcard.
 */
int vw_explain(const struct vw_explain_input *in, const struct vw_dst *q,
	       struct vw_explanation *ret);

#endif
