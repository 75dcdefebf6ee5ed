/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whether the VPN interface is there: rtnetlink link notifications over libmnl, for the
 * kill switch's reports (log, metrics, readiness). Enforcement never depends on it: the
 * rules match the interface by name in the kernel, so a tunnel that goes, comes back or
 * is re-created with a new index takes effect with no action from the daemon.
 */
#ifndef VW_TUNNEL_H
#define VW_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>

struct vw_loop;
struct vw_tunnel;

/*
 * @up: some interface matching the pattern is up; @ifname and @ifindex: the first such, or
 * "" and 0. Called whenever any of the three changes (a tunnel re-created under the same
 * name has a new index; with "wg+", another may take over).
 */
typedef void (*vw_tunnel_fn)(void *ud, bool up, const char *ifname, int ifindex);

/*
 * vw_ifname_matches - whether interface @name matches @pattern: the same name, or when
 * @pattern ends in '+', any name starting with what precedes it (nft's and iptables' "x+").
 */
bool vw_ifname_matches(const char *pattern, const char *name);

/*
 * vw_tunnel_new - watch interfaces matching @pattern; @cb runs once the first dump is read,
 * then on every change of its answer. Returns 0 or -errno.
 */
int vw_tunnel_new(struct vw_loop *loop, const char *pattern, vw_tunnel_fn cb, void *ud,
		  struct vw_tunnel **ret);

/* vw_tunnel_free - stop watching. Accepts NULL. */
void vw_tunnel_free(struct vw_tunnel *t);

#endif
