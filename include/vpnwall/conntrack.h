/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Established flows in the kernel's connection tracking table, over ctnetlink (libmnl): a
 * walk of the table that deletes the entries a caller's predicate condemns. The rules
 * check every packet, so a revoked flow is cut anyway; deleting its entry also ends what
 * conntrack alone holds for it (a NAT binding, a helper's expectation) at once.
 */
#ifndef VW_CONNTRACK_H
#define VW_CONNTRACK_H

#include <stdbool.h>
#include <stddef.h>

struct vw_conntrack;
struct vw_flow;

/* vw_conntrack_fn - for a walk: true to delete the entry of flow @f. */
typedef bool (*vw_conntrack_fn)(void *ud, const struct vw_flow *f);

/*
 * vw_conntrack_parse - call @cb for each conntrack entry in @len bytes received from
 * ctnetlink (a dump's replies), with its original direction; the rest is skipped. Returns
 * the number of entries.
 */
size_t vw_conntrack_parse(const void *buf, size_t len, vw_conntrack_fn cb, void *ud);

/* vw_conntrack_new - open ctnetlink. Returns 0 or -errno. */
int vw_conntrack_new(struct vw_conntrack **ret);

/* vw_conntrack_free - Accepts NULL. */
void vw_conntrack_free(struct vw_conntrack *ct);

/*
 * vw_conntrack_sweep - walk the table (both families) and delete every entry @doomed
 * condemns; blocking, one dump then the deletions, at most 65536 of them (*@ret_more says
 * whether there were more). Returns the number deleted (an entry that ended meanwhile is
 * not counted), or -errno when the table could not be read.
 */
int vw_conntrack_sweep(struct vw_conntrack *ct, vw_conntrack_fn doomed, void *ud, bool *ret_more);

#endif
