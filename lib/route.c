// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The routing layer: a pure plan (vw_route_plan/diff) and the rtnetlink side that reads
 * what of ours is in the kernel and changes the difference, one acknowledged request at a
 * time (a handful of rules and routes; nothing here is on a hot path). Notifications of
 * changes by others arrive on the caller's monitor socket and are sorted by vw_router_msg().
 */
#include "vpnwall/route.h"

#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include "vpnwall/log.h"
#include "vpnwall/netlink.h"
#include "vpnwall/util.h"

#define VW_LOG_MODULE "route"

#define RULES_MAX 1536 /* three per bridge and family: 256 bridges */

/* --- the plan ------------------------------------------------------------------------------ */

static int add_rule(struct vw_route_state *s, const struct vw_route_rule *r)
{
	struct vw_route_rule *v = reallocarray(s->rules, s->n_rules + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	s->rules = v;
	v[s->n_rules++] = *r;
	return 0;
}

static int add_route(struct vw_route_state *s, const struct vw_route_route *r)
{
	struct vw_route_route *v = reallocarray(s->routes, s->n_routes + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	s->routes = v;
	v[s->n_routes++] = *r;
	return 0;
}

int vw_route_plan(const char *const *bridges, size_t n, int vpn_ifindex, uint32_t table,
		  uint32_t pref, struct vw_route_state *ret)
{
	static const uint8_t families[2] = { AF_INET, AF_INET6 };
	struct vw_route_state s = { 0 };
	int r = 0;

	for (int f = 0; r >= 0 && f < 2; f++) {
		for (size_t i = 0; r >= 0 && i < n && s.n_rules < RULES_MAX; i++) {
			struct vw_route_rule rule = { .family = families[f],
						      .pref = pref,
						      .table = RT_TABLE_MAIN,
						      .suppress_default = true };

			(void)vw_strscpy(rule.iif, bridges[i], sizeof(rule.iif));
			r = add_rule(&s, &rule);
			rule.pref = pref + 1;
			rule.table = table;
			rule.suppress_default = false;
			if (r >= 0)
				r = add_rule(&s, &rule);
			/* Should someone empty table T, the bridge still reaches nothing else. */
			rule.pref = pref + 2;
			rule.table = 0;
			rule.unreachable = true;
			if (r >= 0)
				r = add_rule(&s, &rule);
		}
		if (r >= 0)
			r = add_route(
				&s, &(struct vw_route_route){ .family = families[f],
							      .unreachable = true,
							      .metric = VW_ROUTE_METRIC_UNREACHABLE,
							      .protocol = VW_ROUTE_PROTO });
		if (r >= 0 && vpn_ifindex > 0)
			r = add_route(&s,
				      &(struct vw_route_route){ .family = families[f],
								.oif = vpn_ifindex,
								.metric = VW_ROUTE_METRIC_TUNNEL,
								.protocol = VW_ROUTE_PROTO });
	}
	if (r < 0) {
		vw_route_state_done(&s);
		return r;
	}
	*ret = s;
	return 0;
}

static bool same_rule(const struct vw_route_rule *a, const struct vw_route_rule *b)
{
	return !a->foreign && !b->foreign && a->family == b->family && a->pref == b->pref &&
	       a->unreachable == b->unreachable && a->table == b->table &&
	       a->suppress_default == b->suppress_default && strcmp(a->iif, b->iif) == 0;
}

static bool same_route(const struct vw_route_route *a, const struct vw_route_route *b)
{
	return a->family == b->family && a->unreachable == b->unreachable &&
	       a->metric == b->metric && a->protocol == b->protocol &&
	       (a->unreachable || a->oif == b->oif);
}

static bool has_rule(const struct vw_route_state *s, const struct vw_route_rule *r)
{
	for (size_t i = 0; i < s->n_rules; i++)
		if (same_rule(&s->rules[i], r))
			return true;
	return false;
}

static bool has_route(const struct vw_route_state *s, const struct vw_route_route *r)
{
	for (size_t i = 0; i < s->n_routes; i++)
		if (same_route(&s->routes[i], r))
			return true;
	return false;
}

/* Quadratic, on a few hundred entries at most: what a handful of bridges make. */
int vw_route_diff(const struct vw_route_state *have, const struct vw_route_state *want,
		  struct vw_route_state *del, struct vw_route_state *add)
{
	struct vw_route_state d = { 0 }, a = { 0 };
	int r = 0;

	for (size_t i = 0; r >= 0 && i < have->n_rules; i++)
		if (!has_rule(want, &have->rules[i]))
			r = add_rule(&d, &have->rules[i]);
	for (size_t i = 0; r >= 0 && i < have->n_routes; i++)
		if (!has_route(want, &have->routes[i]))
			r = add_route(&d, &have->routes[i]);
	for (size_t i = 0; r >= 0 && i < want->n_rules; i++)
		if (!has_rule(have, &want->rules[i]))
			r = add_rule(&a, &want->rules[i]);
	for (size_t i = 0; r >= 0 && i < want->n_routes; i++)
		if (!has_route(have, &want->routes[i]))
			r = add_route(&a, &want->routes[i]);
	if (r < 0) {
		vw_route_state_done(&d);
		vw_route_state_done(&a);
		return r;
	}
	*del = d;
	*add = a;
	return 0;
}

void vw_route_state_done(struct vw_route_state *s)
{
	free(s->rules);
	free(s->routes);
	*s = (struct vw_route_state){ 0 };
}

/* --- netlink -------------------------------------------------------------------------------- */

struct vw_router {
	struct mnl_socket *nl; /* requests, one at a time */
	uint32_t table;
	uint32_t pref;
	uint32_t seq;
};

struct dump {
	struct vw_router *r;
	struct vw_route_state *s;
	int err;
};

/* @a is there and holds a u32. */
static bool is_u32(const struct nlattr *a)
{
	return a && mnl_attr_validate(a, MNL_TYPE_U32) >= 0;
}

/*
 * One of our rules (our protocol, at one of our priorities), from a dump or a notification;
 * false when not ours. A rule of ours with more to it than we ever put in is kept as
 * "foreign", so that it is replaced rather than taken for ours.
 */
static bool parse_rule(const struct nlmsghdr *nlh, uint32_t pref, struct vw_route_rule *ret)
{
	static const int never[] = {
		FRA_DST,      FRA_SRC,	       FRA_FWMARK,	FRA_FWMASK,	     FRA_OIFNAME,
		FRA_GOTO,     FRA_FLOW,	       FRA_TUN_ID,	FRA_L3MDEV,	     FRA_UID_RANGE,
		FRA_IP_PROTO, FRA_SPORT_RANGE, FRA_DPORT_RANGE, FRA_SUPPRESS_IFGROUP
	};
	const struct nlattr *tb[FRA_MAX + 1];
	const struct fib_rule_hdr *h;

	if (vw_nl_attrs(nlh, sizeof(*h), tb, FRA_MAX) < 0)
		return false;
	h = mnl_nlmsg_get_payload(nlh);
	if (!tb[FRA_PROTOCOL] || mnl_attr_validate(tb[FRA_PROTOCOL], MNL_TYPE_U8) < 0 ||
	    mnl_attr_get_u8(tb[FRA_PROTOCOL]) != VW_ROUTE_PROTO || !is_u32(tb[FRA_PRIORITY]) ||
	    mnl_attr_get_u32(tb[FRA_PRIORITY]) < pref ||
	    mnl_attr_get_u32(tb[FRA_PRIORITY]) > pref + 2)
		return false;
	*ret = (struct vw_route_rule){ .family = h->family,
				       .pref = mnl_attr_get_u32(tb[FRA_PRIORITY]),
				       .unreachable = h->action == FR_ACT_UNREACHABLE,
				       .table = h->table };
	if (is_u32(tb[FRA_TABLE]))
		ret->table = mnl_attr_get_u32(tb[FRA_TABLE]);
	if (tb[FRA_IIFNAME] && mnl_attr_validate(tb[FRA_IIFNAME], MNL_TYPE_NUL_STRING) >= 0)
		(void)vw_strscpy(ret->iif, mnl_attr_get_str(tb[FRA_IIFNAME]), sizeof(ret->iif));
	if (is_u32(tb[FRA_SUPPRESS_PREFIXLEN]))
		ret->suppress_default = mnl_attr_get_u32(tb[FRA_SUPPRESS_PREFIXLEN]) == 0;
	if (ret->unreachable)
		ret->table = 0;
	ret->foreign = (h->action != FR_ACT_TO_TBL && h->action != FR_ACT_UNREACHABLE) ||
		       h->dst_len || h->src_len || h->tos || (h->flags & FIB_RULE_INVERT);
	for (size_t i = 0; i < ELEMENTSOF(never); i++)
		ret->foreign |= tb[never[i]] != NULL;
	return true;
}

/* A default route of table @table; false for any other route. */
static bool parse_route(const struct nlmsghdr *nlh, uint32_t table, struct vw_route_route *ret)
{
	const struct nlattr *tb[RTA_MAX + 1];
	const struct rtmsg *m;
	uint32_t t;

	if (vw_nl_attrs(nlh, sizeof(*m), tb, RTA_MAX) < 0)
		return false;
	m = mnl_nlmsg_get_payload(nlh);
	t = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : m->rtm_table;
	/* Only default routes are ours; more specific ones someone adds are left alone. */
	if (t != table || m->rtm_dst_len != 0)
		return false;
	*ret = (struct vw_route_route){ .family = m->rtm_family,
					.unreachable = m->rtm_type == RTN_UNREACHABLE,
					.protocol = m->rtm_protocol };
	if (tb[RTA_OIF])
		ret->oif = (int)mnl_attr_get_u32(tb[RTA_OIF]);
	if (tb[RTA_PRIORITY])
		ret->metric = mnl_attr_get_u32(tb[RTA_PRIORITY]);
	return true;
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	struct vw_route_rule rule;
	struct vw_route_route route;

	if (nlh->nlmsg_type == RTM_NEWRULE && parse_rule(nlh, d->r->pref, &rule))
		d->err = d->err ? d->err : add_rule(d->s, &rule);
	else if (nlh->nlmsg_type == RTM_NEWROUTE && parse_route(nlh, d->r->table, &route))
		d->err = d->err ? d->err : add_route(d->s, &route);
	return MNL_CB_OK;
}

/* A fresh request socket: after an error, the old one may hold the rest of a reply. */
static void reopen(struct vw_router *r)
{
	struct mnl_socket *nl = vw_nl_open(NETLINK_ROUTE, 0);
	int one = 1;

	if (!nl)
		return; /* keep the old one: the next request fails and is retried */
	(void)mnl_socket_setsockopt(nl, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	(void)mnl_socket_close(r->nl);
	r->nl = nl;
}

/* Send @nlh and run the replies (a dump's, or the ack) through @cb. */
static int request(struct vw_router *r, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[VW_NL_BUFSZ];
	uint32_t portid = mnl_socket_get_portid(r->nl);
	ssize_t len;
	int ret;

	nlh->nlmsg_seq = ++r->seq;
	if (mnl_socket_sendto(r->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		len = mnl_socket_recvfrom(r->nl, buf, sizeof(buf));
		if (len < 0)
			break;
		ret = mnl_cb_run(buf, (size_t)len, r->seq, portid, cb, data);
		if (ret < 0)
			break;
		if (ret == MNL_CB_STOP)
			return 0;
	}
	ret = -errno;
	/* The kernel's refusal of a request is its answer; anything else may leave replies
	 * behind (an interrupted dump, a lost message) that the next request would misread. */
	if (ret != -EEXIST && ret != -ENOENT)
		reopen(r);
	return ret;
}

/*
 * What of ours is in the kernel: rules by their protocol, and with @routes the default
 * routes of our table (the dump is filtered by table in the kernel where it can be).
 */
static int read_state(struct vw_router *r, bool routes, struct vw_route_state *ret)
{
	static const uint8_t families[2] = { AF_INET, AF_INET6 };
	struct vw_route_state s = { 0 };
	struct dump d = { .r = r, .s = &s };
	int err = 0;

	for (int f = 0; !err && f < 2; f++) {
		for (int what = 0; !err && what < 1 + routes; what++) {
			char buf[256];
			struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
			struct rtmsg *m;

			nlh->nlmsg_type = what ? RTM_GETROUTE : RTM_GETRULE;
			nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
			m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));
			m->rtm_family = families[f];
			if (what)
				mnl_attr_put_u32(nlh, RTA_TABLE, r->table);
			err = request(r, nlh, dump_cb, &d);
			/* IPv4 says so when the table does not exist yet: nothing of ours in it. */
			if (err == -ENOENT && what)
				err = 0;
			if (!err)
				err = d.err;
		}
	}
	if (err) {
		vw_route_state_done(&s);
		return err;
	}
	*ret = s;
	return 0;
}

static int change_rule(struct vw_router *r, const struct vw_route_rule *rule, bool add)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *h;

	nlh->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	h = mnl_nlmsg_put_extra_header(nlh, sizeof(*h));
	h->family = rule->family;
	h->action = rule->unreachable ? FR_ACT_UNREACHABLE : FR_ACT_TO_TBL;
	if (!rule->unreachable) {
		h->table = rule->table < 256 ? (uint8_t)rule->table : RT_TABLE_UNSPEC;
		mnl_attr_put_u32(nlh, FRA_TABLE, rule->table);
	}
	mnl_attr_put_u32(nlh, FRA_PRIORITY, rule->pref);
	mnl_attr_put_strz(nlh, FRA_IIFNAME, rule->iif);
	mnl_attr_put_u8(nlh, FRA_PROTOCOL, VW_ROUTE_PROTO);
	if (rule->suppress_default)
		mnl_attr_put_u32(nlh, FRA_SUPPRESS_PREFIXLEN, 0);
	return request(r, nlh, NULL, NULL);
}

static int change_route(struct vw_router *r, const struct vw_route_route *route, bool add)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *m;

	nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));
	m->rtm_family = route->family;
	m->rtm_table = RT_TABLE_UNSPEC;
	m->rtm_protocol = route->protocol;
	m->rtm_type = route->unreachable ? RTN_UNREACHABLE : RTN_UNICAST;
	m->rtm_scope = route->unreachable ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	mnl_attr_put_u32(nlh, RTA_TABLE, r->table);
	mnl_attr_put_u32(nlh, RTA_PRIORITY, route->metric);
	if (!route->unreachable)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)route->oif);
	return request(r, nlh, NULL, NULL);
}

/*
 * Make the kernel hold exactly @want of ours; the number of changes, or the first error.
 * With @rules_only, only our rules are compared (when clearing: a table no rule of ours
 * points at routes nothing, and without VPN_ROUTE it may be someone else's).
 */
static int apply_state(struct vw_router *r, const struct vw_route_state *want, bool rules_only)
{
	struct vw_route_state have, del, add;
	int err, first = 0, changes = 0;

	err = read_state(r, !rules_only, &have);
	if (err)
		return err;
	err = vw_route_diff(&have, want, &del, &add);
	vw_route_state_done(&have);
	if (err)
		return err;
	/*
	 * Additions first, and of each bridge's rules the one into our table before the one
	 * that skips main's default (the plan lists them the other way round): at no point
	 * may a bridge reach main's default route for want of ours.
	 */
	for (size_t i = 0; i < add.n_routes; i++) {
		err = change_route(r, &add.routes[i], true);
		first = first ? first : err;
		changes += !err;
	}
	for (size_t i = add.n_rules; i-- > 0;) {
		err = change_rule(r, &add.rules[i], true);
		first = first ? first : err;
		changes += !err;
	}
	for (size_t i = 0; i < del.n_rules; i++) {
		err = change_rule(r, &del.rules[i], false);
		first = first ? first : err;
		changes += !err;
	}
	for (size_t i = 0; i < del.n_routes; i++) {
		err = change_route(r, &del.routes[i], false);
		first = first ? first : err;
		changes += !err;
	}
	vw_route_state_done(&del);
	vw_route_state_done(&add);
	return first ? first : changes;
}

int vw_router_apply(struct vw_router *r, const char *const *bridges, size_t n, int vpn_ifindex)
{
	struct vw_route_state want;
	int err;

	err = vw_route_plan(bridges, n, vpn_ifindex, r->table, r->pref, &want);
	if (err)
		return err;
	err = apply_state(r, &want, false);
	vw_route_state_done(&want);
	return err;
}

int vw_router_clear(struct vw_router *r)
{
	struct vw_route_state none = { 0 };

	return apply_state(r, &none, true);
}

bool vw_router_msg(const struct vw_router *r, const struct nlmsghdr *nlh)
{
	struct vw_route_rule rule;
	struct vw_route_route route;

	/* Our own changes carry our request socket's port id: not news. */
	if (nlh->nlmsg_pid == mnl_socket_get_portid(r->nl))
		return false;
	if (nlh->nlmsg_type == RTM_NEWRULE || nlh->nlmsg_type == RTM_DELRULE)
		return parse_rule(nlh, r->pref, &rule);
	if (nlh->nlmsg_type == RTM_NEWROUTE || nlh->nlmsg_type == RTM_DELROUTE)
		return parse_route(nlh, r->table, &route);
	return false;
}

int vw_router_new(uint32_t table, uint32_t pref, struct vw_router **ret)
{
	struct vw_router *r = calloc(1, sizeof(*r));
	int one = 1, err;

	if (!r)
		return -ENOMEM;
	r->table = table;
	r->pref = pref;
	r->seq = (uint32_t)time(NULL);
	r->nl = vw_nl_open(NETLINK_ROUTE, 0);
	if (!r->nl) {
		err = -errno;
		vw_router_free(r);
		return err;
	}
	/* Lets a route dump be filtered by table in the kernel (4.20+; without it, all come). */
	(void)mnl_socket_setsockopt(r->nl, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	*ret = r;
	return 0;
}

void vw_router_free(struct vw_router *r)
{
	if (!r)
		return;
	if (r->nl)
		(void)mnl_socket_close(r->nl);
	free(r);
}
