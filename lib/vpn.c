// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The tunnel watch and the routing layer, composed: the routes follow the interface the
 * watch reports and the bridges the ruleset manages, and are re-applied when someone else
 * touches them. Only on a change: a sync costs a dump of our rules and table.
 */
#include "vpnwall/vpn.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "vpnwall/config.h"
#include "vpnwall/hashmap.h"
#include "vpnwall/log.h"
#include "vpnwall/route.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/tunnel.h"
#include "vpnwall/util.h"

#define VW_LOG_MODULE "vpn"

#define BRIDGES_MAX 256 /* routed bridges; more are logged, and only firewalled */

struct vw_vpn {
	const struct vw_config *cfg;
	struct vw_tunnel *tunnel; /* NULL: no VPN_INTERFACE, or not watchable */
	struct vw_router *router; /* NULL: no VPN_ROUTE */
	const struct vw_ruleset *rs; /* the bridges of the last sync */
	bool up;
	bool reported; /* the watch has said something */
	int ifindex;
	char link[16];
	bool dirty; /* the routes must be checked whatever the hash says */
	bool capped; /* warned that there are more bridges than it routes */
	uint64_t applied; /* hash of the bridges and the index last applied */
	vw_vpn_fn changed;
	void *ud;
};

static void route_sync(struct vw_vpn *v)
{
	const char *names[BRIDGES_MAX];
	uint64_t h = 1469598103934665603ull;
	size_t n = 0;
	int r;

	if (!v->router)
		return;
	for (size_t i = 0; v->rs && i < v->rs->n_bridges && n < ELEMENTSOF(names); i++)
		if (v->rs->bridges[i].managed) {
			names[n++] = v->rs->bridges[i].name;
			h = (h ^ vw_hash_str(v->rs->bridges[i].name)) * 1099511628211ull;
		}
	h = (h ^ (uint64_t)(unsigned)(v->up ? v->ifindex : 0)) * 1099511628211ull;
	if (!v->dirty && h == v->applied)
		return;
	if (n == ELEMENTSOF(names) && !v->capped) {
		log_warn("VPN_ROUTE covers the first %zu managed bridges only: the others are "
			 "not routed into the tunnel (the firewall still holds)",
			 n);
		v->capped = true;
	}
	r = vw_router_apply(v->router, names, n, v->up ? v->ifindex : 0);
	if (r < 0) {
		log_error_errno(r, "cannot apply the VPN routes, retrying at the next change");
		v->dirty = true;
		return;
	}
	if (r > 0)
		log_info("VPN routing: %d change(s) for %zu bridge(s), %s", r, n,
			 v->up ? "through the tunnel" : "unreachable (no tunnel)");
	v->dirty = false;
	v->applied = h;
}

static void on_routes_changed(void *ud)
{
	struct vw_vpn *v = ud;

	log_warn("someone changed vpnwall's routing rules or table: restoring them");
	v->dirty = true;
	route_sync(v);
}

static void on_tunnel(void *ud, bool up, const char *ifname, int ifindex)
{
	struct vw_vpn *v = ud;
	bool was = v->up;

	v->up = up;
	v->ifindex = ifindex;
	(void)vw_strscpy(v->link, ifname, sizeof(v->link));
	if (up)
		log_info("VPN interface %s is up (index %d)", ifname, ifindex);
	else if (was || !v->reported)
		log_warn("no VPN interface %s is up: managed containers reach only vpn.allow "
			 "and VPN_ALLOW until one is (nothing leaks)",
			 v->cfg->vpn_interface);
	v->reported = true;
	v->dirty = true;
	route_sync(v);
	v->changed(v->ud);
}

int vw_vpn_new(struct vw_loop *loop, const struct vw_config *cfg, vw_vpn_fn changed, void *ud,
	       struct vw_vpn **ret)
{
	struct vw_vpn *v = calloc(1, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	*v = (struct vw_vpn){ .cfg = cfg, .changed = changed, .ud = ud, .dirty = true };
	if (cfg->vpn_route) {
		r = vw_router_new(loop, cfg->vpn_route_table, VW_ROUTE_PREF, on_routes_changed, v,
				  &v->router);
		if (r < 0) {
			log_error_errno(r, "cannot open rtnetlink for VPN_ROUTE");
			vw_vpn_free(v);
			return r;
		}
	} else {
		struct vw_router *old = NULL;

		/* An earlier run's rules would send the bridges into a table that says only
		 * "unreachable": without VPN_ROUTE, none of ours may stay. */
		if (vw_router_new(loop, cfg->vpn_route_table, VW_ROUTE_PREF, on_routes_changed, v,
				  &old) == 0) {
			r = vw_router_clear(old);
			if (r > 0)
				log_info("VPN_ROUTE is off: removed %d rule(s) and route(s) of an "
					 "earlier run",
					 r);
			vw_router_free(old);
		}
	}
	if (cfg->vpn_interface[0]) {
		/* For reports and routes: the kill switch is in the rules, not in this watch. */
		r = vw_tunnel_new(loop, cfg->vpn_interface, on_tunnel, v, &v->tunnel);
		if (r < 0)
			log_error_errno(r, "cannot watch network interfaces; the kill switch "
					   "holds, but the VPN's state is not reported");
	}
	*ret = v;
	return 0;
}

void vw_vpn_free(struct vw_vpn *v)
{
	if (!v)
		return;
	vw_tunnel_free(v->tunnel);
	vw_router_free(v->router);
	free(v);
}

void vw_vpn_sync(struct vw_vpn *v, const struct vw_ruleset *rs)
{
	v->rs = rs;
	route_sync(v);
}

bool vw_vpn_up(const struct vw_vpn *v)
{
	return v && v->up;
}

const char *vw_vpn_link(const struct vw_vpn *v)
{
	return v && v->up ? v->link : "";
}
