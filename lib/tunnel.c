// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The VPN interface's presence, from link messages: a dump says what exists, notifications
 * keep it current. Only names matching the pattern are kept, by interface index, as a
 * rename or a re-creation changes one or the other. The socket is the caller's.
 */
#include "vpnwall/tunnel.h"

#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "vpnwall/netlink.h"
#include "vpnwall/util.h"

#define LINKS_MAX 256 /* matching interfaces tracked; a pattern like "tun+" matches few */

struct link {
	int index;
	char name[IFNAMSIZ];
	bool up;
};

struct vw_tunnel {
	char pattern[IFNAMSIZ];
	struct link links[LINKS_MAX];
	size_t n;
	bool dumping; /* a dump is under way: what we have is incomplete, tell nobody yet */
	bool reported; /* the callback has run at least once */
	bool up; /* what it was last told */
	int ifindex;
	char ifname[IFNAMSIZ];
	vw_tunnel_fn cb;
	void *ud;
};

bool vw_ifname_matches(const char *pattern, const char *name)
{
	size_t len = strlen(pattern);

	if (len > 0 && pattern[len - 1] == '+')
		return strncmp(pattern, name, len - 1) == 0;
	return strcmp(pattern, name) == 0;
}

static struct link *find(struct vw_tunnel *t, int index)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->links[i].index == index)
			return &t->links[i];
	return NULL;
}

static void forget(struct vw_tunnel *t, int index)
{
	struct link *l = find(t, index);

	if (l)
		*l = t->links[--t->n];
}

void vw_tunnel_msg(struct vw_tunnel *t, const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[IFLA_MAX + 1];
	const struct ifinfomsg *ifi;
	const char *name = NULL;
	struct link *l;

	if (nlh->nlmsg_type == NLMSG_DONE) {
		t->dumping = false; /* the only dump on the socket is ours: the picture is whole */
		return;
	}
	if ((nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) ||
	    vw_nl_attrs(nlh, sizeof(*ifi), tb, IFLA_MAX) < 0)
		return;
	ifi = mnl_nlmsg_get_payload(nlh);
	if (tb[IFLA_IFNAME] && mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) >= 0)
		name = mnl_attr_get_str(tb[IFLA_IFNAME]);
	if (nlh->nlmsg_type == RTM_DELLINK || !name || !vw_ifname_matches(t->pattern, name)) {
		/* gone, or renamed to something else */
		forget(t, ifi->ifi_index);
		return;
	}
	l = find(t, ifi->ifi_index);
	if (!l) {
		if (t->n >= LINKS_MAX)
			return;
		l = &t->links[t->n++];
		l->index = ifi->ifi_index;
	}
	(void)vw_strscpy(l->name, name, sizeof(l->name));
	l->up = (ifi->ifi_flags & IFF_UP) != 0;
}

void vw_tunnel_reset(struct vw_tunnel *t)
{
	t->n = 0;
	t->dumping = true;
}

void vw_tunnel_report(struct vw_tunnel *t)
{
	const struct link *pick = NULL;

	if (t->dumping)
		return;
	/* The lowest index: a stable choice among several up, whatever order they came in. */
	for (size_t i = 0; i < t->n; i++)
		if (t->links[i].up && (!pick || t->links[i].index < pick->index))
			pick = &t->links[i];
	if (t->reported && t->up == (pick != NULL) && t->ifindex == (pick ? pick->index : 0) &&
	    strcmp(t->ifname, pick ? pick->name : "") == 0)
		return;
	t->reported = true;
	t->up = pick != NULL;
	t->ifindex = pick ? pick->index : 0;
	(void)vw_strscpy(t->ifname, pick ? pick->name : "", sizeof(t->ifname));
	t->cb(t->ud, t->up, t->ifname, t->ifindex);
}

int vw_tunnel_new(const char *pattern, vw_tunnel_fn cb, void *ud, struct vw_tunnel **ret)
{
	struct vw_tunnel *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->cb = cb;
	t->ud = ud;
	t->dumping = true;
	(void)vw_strscpy(t->pattern, pattern, sizeof(t->pattern));
	*ret = t;
	return 0;
}

void vw_tunnel_free(struct vw_tunnel *t)
{
	free(t);
}
