/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The routing layer of the kill switch (VPN_ROUTE): policy routing that sends what managed
 * containers send into the tunnel, independently of the firewall. For each managed bridge
 * and family, two rules of ours:
 *
 *   pref P    iif <bridge> lookup main suppress_prefixlength 0   the LAN, other bridges,
 *                                                                 the host: never the default
 *   pref P+1  iif <bridge> lookup T                               the rest: table T
 *   pref P+2  iif <bridge> unreachable                            T emptied: still nowhere
 *
 * and in table T a default route through the VPN interface while one is up, with an
 * unreachable default behind it, so that without a tunnel nothing is routed anywhere else.
 * The host's own traffic is not concerned (a split tunnel). Rules and routes carry our
 * protocol number; whatever of ours someone removes is put back on the next notification.
 *
 * The plan (what should exist, what to change) is pure; vw_router does the netlink.
 */
#ifndef VW_ROUTE_H
#define VW_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nlmsghdr;
struct vw_router;

#define VW_ROUTE_PROTO 118 /* rtm_protocol / FRA_PROTOCOL of what we install */
#define VW_ROUTE_PREF 7810 /* our rules' priorities: this and the next two (main's is 32766) */
#define VW_ROUTE_METRIC_UNREACHABLE 0x7fffffffu
/* Not 0: the kernel turns an IPv6 metric of 0 into 1024, and what it reads back must match. */
#define VW_ROUTE_METRIC_TUNNEL 1

struct vw_route_rule {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint32_t pref;
	char iif[16];
	bool unreachable; /* the action: unreachable; else look up @table */
	uint32_t table; /* RT_TABLE_MAIN with suppress, or the VPN table */
	bool suppress_default; /* suppress_prefixlength 0 */
	bool foreign; /* read back with a selector or an action we never set: never ours */
};

struct vw_route_route {
	uint8_t family;
	bool unreachable; /* else: default dev oif */
	int oif;
	uint32_t metric;
	uint8_t protocol; /* VW_ROUTE_PROTO for ours; a default route of anyone else's in our
			     table is removed (with its own protocol) */
};

struct vw_route_state {
	struct vw_route_rule *rules;
	size_t n_rules;
	struct vw_route_route *routes; /* all in the VPN table */
	size_t n_routes;
};

/*
 * vw_route_plan - what should exist for the @n managed @bridges, with the VPN interface
 * @vpn_ifindex (0: none up) and table @table, rules from @pref. Returns 0 or -ENOMEM.
 */
int vw_route_plan(const char *const *bridges, size_t n, int vpn_ifindex, uint32_t table,
		  uint32_t pref, struct vw_route_state *ret);

/*
 * vw_route_diff - what of @have is not in @want (*@del) and what of @want is not in @have
 * (*@add), as states borrowing nothing. Returns 0 or -ENOMEM.
 */
int vw_route_diff(const struct vw_route_state *have, const struct vw_route_state *want,
		  struct vw_route_state *del, struct vw_route_state *add);

/* vw_route_state_done - free. */
void vw_route_state_done(struct vw_route_state *s);

/* vw_router_new - the netlink side, for table @table and rules from @pref. */
int vw_router_new(uint32_t table, uint32_t pref, struct vw_router **ret);

/*
 * vw_router_msg - whether rtnetlink notification @nlh says that someone else touched one of
 * our rules or our table's default routes (then call vw_router_apply() again).
 */
bool vw_router_msg(const struct vw_router *r, const struct nlmsghdr *nlh);

/*
 * vw_router_clear - remove every rule of ours (when VPN_ROUTE is off: a rule left by an
 * earlier run would send the bridges into a table that only says "unreachable"; routes in a
 * table no rule points at route nothing). Returns the number of changes, or -errno.
 */
int vw_router_clear(struct vw_router *r);

/* vw_router_free - close; what was installed stays (fail closed). Accepts NULL. */
void vw_router_free(struct vw_router *r);

/*
 * vw_router_apply - make the kernel hold exactly the plan for @bridges and @vpn_ifindex:
 * read what of ours is there, remove the rest, add what is missing. Returns the number of
 * changes made, or -errno (what could be applied is).
 */
int vw_router_apply(struct vw_router *r, const char *const *bridges, size_t n, int vpn_ifindex);

#endif
