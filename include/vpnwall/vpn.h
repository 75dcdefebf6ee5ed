/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kill switch's moving parts beside the ruleset: the tunnel watch (is a VPN_INTERFACE
 * up, which one) and the routing layer (VPN_ROUTE), kept in step with the managed bridges.
 * The firewall layer needs neither: it matches the interface by name in the kernel. What
 * this module tells the daemon is for reports (readiness, status, metrics).
 */
#ifndef VW_VPN_H
#define VW_VPN_H

#include <stdbool.h>
#include <stdint.h>

struct vw_config;
struct vw_loop;
struct vw_ruleset;
struct vw_vpn;

/* vw_vpn_fn - the tunnel went up, down, or to another interface. */
typedef void (*vw_vpn_fn)(void *ud);

/*
 * vw_vpn_new - watch VPN_INTERFACE (if set) and own the routing layer (VPN_ROUTE). Routes
 * are touched only from the first vw_vpn_sync() on. Returns 0, or -errno when VPN_ROUTE is
 * set and rtnetlink cannot be opened (an unwatchable tunnel is only logged).
 */
int vw_vpn_new(struct vw_loop *loop, const struct vw_config *cfg, vw_vpn_fn changed, void *ud,
	       struct vw_vpn **ret);

/* vw_vpn_free - stop watching; installed routes stay (fail closed). Accepts NULL. */
void vw_vpn_free(struct vw_vpn *v);

/*
 * vw_vpn_sync - the routing layer for the managed bridges of @rs (borrowed until the next
 * call: tunnel and route notifications re-apply from it), once the ruleset of @rs is in
 * force. The first call, without VPN_ROUTE, removes what an earlier run with it left.
 * Cheap when nothing changed.
 */
void vw_vpn_sync(struct vw_vpn *v, const struct vw_ruleset *rs);

/* vw_vpn_deadline - ms when vw_vpn_process() must run (a failed change to retry), or 0. */
uint64_t vw_vpn_deadline(const struct vw_vpn *v);

/* vw_vpn_process - retry what failed, when its time (@now, ms) has come. */
void vw_vpn_process(struct vw_vpn *v, uint64_t now);

/* vw_vpn_up - a VPN_INTERFACE is up (false without one). */
bool vw_vpn_up(const struct vw_vpn *v);

/* vw_vpn_link - the interface that is up, or "". */
const char *vw_vpn_link(const struct vw_vpn *v);

#endif
