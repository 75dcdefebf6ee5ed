// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The tunnel watch and the routing layer, composed: the routes follow the interface the
 * watch reports and the bridges the ruleset manages, and are re-applied when someone else
 * touches them. Only on a change: a sync costs a dump of our rules and table. One rtnetlink
 * socket listens for both (links; rules and routes), and carries the link dump.
 */
#include "vpnwall/vpn.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "vpnwall/config.h"
#include "vpnwall/hashmap.h"
#include "vpnwall/log.h"
#include "vpnwall/loop.h"
#include "vpnwall/netlink.h"
#include "vpnwall/route.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/tunnel.h"
#include "vpnwall/util.h"

#define VW_LOG_MODULE "vpn"

#define BRIDGES_MAX 256 /* routed bridges; more are logged, and only firewalled */
#define ROUTE_RETRY_MS 2000

struct vw_vpn {
	struct vw_io io; /* first: the loop hands us &io; the monitor socket */
	struct vw_loop *loop;
	struct mnl_socket *mon; /* link, rule and route notifications; the link dump */
	uint32_t seq;
	uint32_t dump_seq; /* the link dump under way, 0: none */
	bool redump; /* the picture was lost during that dump: another one after it */
	bool routes_touched; /* in the batch being read: someone touched our routes */
	bool someone; /* ... and not only the kernel */
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
	bool cleared; /* without VPN_ROUTE: an earlier run's rules have been removed */
	uint64_t retry_at; /* ms: apply the routes again after a failure; 0: none due */
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

	/*
	 * Not before the first ruleset is in force: until then the rules of an earlier run,
	 * whatever they are, are all that stands between the bridges and the uplink.
	 */
	if (!v->router || !v->rs)
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
		log_error_errno(r, "cannot apply the VPN routes, retrying in %d ms",
				ROUTE_RETRY_MS);
		v->dirty = true;
		v->retry_at = vw_now_ms() + ROUTE_RETRY_MS;
		return;
	}
	v->retry_at = 0;
	if (r > 0)
		log_info("VPN routing: %d change(s) for %zu bridge(s), %s", r, n,
			 v->up ? "through the tunnel" : "unreachable (no tunnel)");
	v->dirty = false;
	v->applied = h;
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

/*
 * Ask for the whole link picture, into a tunnel watch that forgets what it knew. One dump
 * at a time: asked for while one runs, the next starts when it ends (the kernel would
 * refuse a second, and the first one's end would pass for a whole picture).
 */
static int request_links(struct vw_vpn *v)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *g;

	if (v->dump_seq) {
		v->redump = true;
		return 0;
	}
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++v->seq ? v->seq : ++v->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	vw_tunnel_reset(v->tunnel);
	if (mnl_socket_sendto(v->mon, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	v->dump_seq = nlh->nlmsg_seq;
	return 0;
}

static void on_message(void *ud, const struct nlmsghdr *nlh)
{
	struct vw_vpn *v = ud;

	if (v->dump_seq && nlh->nlmsg_seq == v->dump_seq &&
	    (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR)) {
		/* Our dump's end, or its refusal: whole only if ended and not asked again. */
		bool again = v->redump || nlh->nlmsg_type == NLMSG_ERROR;

		v->dump_seq = 0;
		v->redump = false;
		if (!again) {
			vw_tunnel_msg(v->tunnel, nlh);
		} else if (request_links(v) < 0) {
			log_warn("cannot re-read the interfaces; the next change will tell");
		}
		return;
	}
	if (v->tunnel && nlh->nlmsg_type != NLMSG_DONE)
		vw_tunnel_msg(v->tunnel, nlh);
	if (v->router && vw_router_msg(v->router, nlh)) {
		v->routes_touched = true;
		/* The kernel itself (port id 0) drops the tunnel's route with the tunnel:
		 * housekeeping, not someone undoing our work. */
		v->someone |= nlh->nlmsg_pid != 0;
	}
}

/* Notifications were lost: read the links again, check our routes. */
static void lost(struct vw_vpn *v)
{
	log_warn("rtnetlink notifications lost, re-reading interfaces and routes");
	if (v->tunnel && request_links(v) < 0)
		log_warn("cannot re-read the interfaces; the next change will tell");
	v->routes_touched |= v->router != NULL;
}

static void on_monitor(struct vw_io *io, uint32_t events)
{
	struct vw_vpn *v = (struct vw_vpn *)io;
	_Alignas(struct nlmsghdr) char buf[VW_NL_BUFSZ];

	(void)events;
	v->routes_touched = v->someone = false;
	/* Bounded: a storm of link or route changes must not starve the rest of the loop. */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);
		ssize_t len = recvfrom(io->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
				       (struct sockaddr *)&from, &fromlen);

		if ((len < 0 && errno == ENOBUFS) || len > (ssize_t)sizeof(buf)) {
			lost(v);
			continue;
		}
		if (len <= 0)
			break;
		/* From the kernel only: anyone may send to a netlink socket's port. */
		if (from.nl_pid != 0)
			continue;
		vw_nl_messages(buf, (size_t)len, on_message, v);
	}
	/* The tunnel first: its change re-applies the routes anyway. */
	if (v->tunnel)
		vw_tunnel_report(v->tunnel);
	if (v->routes_touched) {
		if (v->someone)
			log_warn(
				"someone changed vpnwall's routing rules or table: restoring them");
		v->dirty = true;
		route_sync(v);
	}
}

static int join(struct mnl_socket *nl, int group)
{
	return mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group));
}

/* The monitor socket, subscribed to what the tunnel watch and the router need. */
static int monitor(struct vw_vpn *v)
{
	static const int link[] = { RTNLGRP_LINK };
	/* The IPv6 rule group has no legacy bind() bit: join each group by number. */
	static const int route[] = { RTNLGRP_IPV4_RULE, RTNLGRP_IPV6_RULE, RTNLGRP_IPV4_ROUTE,
				     RTNLGRP_IPV6_ROUTE };
	int size = 4 << 20, r;

	v->mon = vw_nl_open(NETLINK_ROUTE, SOCK_NONBLOCK);
	if (!v->mon)
		return -errno;
	/*
	 * Every veth Docker creates brings a burst of IPv6 route notifications: room for them,
	 * beyond the default limit when we may (a loss costs a re-read, not safety).
	 */
	if (setsockopt(mnl_socket_get_fd(v->mon), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) <
	    0)
		(void)setsockopt(mnl_socket_get_fd(v->mon), SOL_SOCKET, SO_RCVBUF, &size,
				 sizeof(size));
	for (size_t i = 0; v->tunnel && i < ELEMENTSOF(link); i++)
		if (join(v->mon, link[i]) < 0)
			return -errno;
	for (size_t i = 0; v->router && i < ELEMENTSOF(route); i++)
		if (join(v->mon, route[i]) < 0)
			return -errno;
	if (v->tunnel) {
		r = request_links(v);
		if (r < 0)
			return r;
	}
	v->io.fd = mnl_socket_get_fd(v->mon);
	return vw_loop_watch(v->loop, &v->io, EPOLLIN);
}

int vw_vpn_new(struct vw_loop *loop, const struct vw_config *cfg, vw_vpn_fn changed, void *ud,
	       struct vw_vpn **ret)
{
	struct vw_vpn *v = calloc(1, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	*v = (struct vw_vpn){ .io = { .fd = -1, .cb = on_monitor },
			      .loop = loop,
			      .cfg = cfg,
			      .changed = changed,
			      .ud = ud,
			      .dirty = true };
	if (cfg->vpn_route) {
		r = vw_router_new(cfg->vpn_route_table, VW_ROUTE_PREF, &v->router);
		if (r < 0) {
			log_error_errno(r, "cannot open rtnetlink for VPN_ROUTE");
			goto fail;
		}
	}
	/* For reports and routes: the kill switch is in the rules, not in this watch. */
	if (cfg->vpn_interface[0] &&
	    vw_tunnel_new(cfg->vpn_interface, on_tunnel, v, &v->tunnel) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	if (v->tunnel || v->router) {
		r = monitor(v);
		if (r < 0 && v->router) {
			log_error_errno(r, "cannot watch rtnetlink for VPN_ROUTE");
			goto fail;
		}
		if (r < 0) {
			log_error_errno(r, "cannot watch network interfaces; the kill switch "
					   "holds, but the VPN's state is not reported");
			vw_tunnel_free(v->tunnel);
			v->tunnel = NULL;
			if (v->io.events)
				vw_loop_unwatch(v->loop, &v->io);
			if (v->mon)
				(void)mnl_socket_close(v->mon);
			v->mon = NULL;
		}
	}
	*ret = v;
	return 0;
fail:
	vw_vpn_free(v);
	return r;
}

void vw_vpn_free(struct vw_vpn *v)
{
	if (!v)
		return;
	if (v->io.events)
		vw_loop_unwatch(v->loop, &v->io);
	if (v->mon)
		(void)mnl_socket_close(v->mon);
	vw_tunnel_free(v->tunnel);
	vw_router_free(v->router);
	free(v);
}

/*
 * Without VPN_ROUTE, an earlier run's rules would send the bridges into a table that says
 * only "unreachable" once the tunnel goes: none of ours may stay. Once the firewall of this
 * run is in force, so that removing them opens nothing it does not allow.
 */
static void clear_earlier(struct vw_vpn *v)
{
	struct vw_router *old;
	int r;

	r = vw_router_new(v->cfg->vpn_route_table, VW_ROUTE_PREF, &old);
	if (r >= 0) {
		r = vw_router_clear(old);
		vw_router_free(old);
	}
	if (r < 0) {
		log_error_errno(r, "cannot look for VPN_ROUTE rules of an earlier run; "
				   "retrying at the next change");
		return;
	}
	v->cleared = true;
	if (r > 0)
		log_info("VPN_ROUTE is off: removed %d rule(s) of an earlier run", r);
}

void vw_vpn_sync(struct vw_vpn *v, const struct vw_ruleset *rs)
{
	v->rs = rs;
	if (!v->router && !v->cleared)
		clear_earlier(v);
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

uint64_t vw_vpn_deadline(const struct vw_vpn *v)
{
	return v->retry_at;
}

void vw_vpn_process(struct vw_vpn *v, uint64_t now)
{
	if (!v->retry_at || now < v->retry_at)
		return;
	v->retry_at = 0;
	v->dirty = true;
	route_sync(v);
}
