// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The VPN interface's presence, from one rtnetlink socket subscribed to link changes. A
 * dump at start (and again when the socket overflowed, as notifications were then lost)
 * says what exists; notifications keep it current. Only names matching the pattern are
 * kept, by interface index, as a rename or a re-creation changes one or the other.
 */
#include "vpnwall/tunnel.h"

#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "vpnwall/log.h"
#include "vpnwall/loop.h"
#include "vpnwall/nft.h"
#include "vpnwall/util.h"

#define VW_LOG_MODULE "tunnel"

#define LINKS_MAX 256 /* matching interfaces tracked; a pattern like "tun+" matches few */

struct link {
	int index;
	char name[IFNAMSIZ];
	bool up;
};

struct vw_tunnel {
	struct vw_io io; /* first: the loop hands us &io */
	struct vw_loop *loop;
	struct mnl_socket *nl;
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

static int link_attr(const struct nlattr *a, void *data)
{
	const char **name = data;

	if (mnl_attr_get_type(a) == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
		*name = mnl_attr_get_str(a);
	return MNL_CB_OK;
}

static int on_msg(const struct nlmsghdr *nlh, void *data)
{
	struct vw_tunnel *t = data;
	const struct ifinfomsg *ifi;
	const char *name = NULL;
	struct link *l;

	if ((nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return MNL_CB_OK;
	ifi = mnl_nlmsg_get_payload(nlh);
	(void)mnl_attr_parse(nlh, sizeof(*ifi), link_attr, &name);
	if (nlh->nlmsg_type == RTM_DELLINK || !name || !vw_ifname_matches(t->pattern, name)) {
		/* gone, or renamed to something else */
		forget(t, ifi->ifi_index);
		return MNL_CB_OK;
	}
	l = find(t, ifi->ifi_index);
	if (!l) {
		if (t->n >= LINKS_MAX)
			return MNL_CB_OK;
		l = &t->links[t->n++];
		l->index = ifi->ifi_index;
	}
	(void)vw_strscpy(l->name, name, sizeof(l->name));
	l->up = (ifi->ifi_flags & IFF_UP) != 0;
	return MNL_CB_OK;
}

static void report(struct vw_tunnel *t)
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

static int request_dump(struct vw_tunnel *t)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *g;

	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = (uint32_t)vw_now_ms();
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	if (mnl_socket_sendto(t->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	t->dumping = true;
	return 0;
}

static void on_io(struct vw_io *io, uint32_t events)
{
	struct vw_tunnel *t = (struct vw_tunnel *)io;
	_Alignas(struct nlmsghdr) char buf[VW_NL_BUFSZ];

	(void)events;
	/* Bounded: a storm of link changes must not starve the rest of the loop. */
	for (int i = 0; i < 64; i++) {
		ssize_t len = recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (len < 0 && errno == ENOBUFS) {
			/* Changes were lost: ask again for the whole picture. */
			log_warn("link notifications lost, re-reading the interfaces");
			t->n = 0;
			if (request_dump(t) < 0) /* one is still running: its end will do */
				t->dumping = true;
			continue;
		}
		if (len <= 0)
			break;
		/*
		 * Dump replies and notifications alike (seq and portid are not checked); the
		 * dump's NLMSG_DONE makes mnl_cb_run() stop: the picture is whole again.
		 */
		if (mnl_cb_run(buf, (size_t)len, 0, 0, on_msg, t) == MNL_CB_STOP)
			t->dumping = false;
	}
	report(t);
}

int vw_tunnel_new(struct vw_loop *loop, const char *pattern, vw_tunnel_fn cb, void *ud,
		  struct vw_tunnel **ret)
{
	struct vw_tunnel *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->cb = cb;
	t->ud = ud;
	t->io.fd = -1;
	(void)vw_strscpy(t->pattern, pattern, sizeof(t->pattern));
	t->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!t->nl || mnl_socket_bind(t->nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto fail;
	}
	r = request_dump(t);
	if (r < 0)
		goto fail;
	t->io.fd = mnl_socket_get_fd(t->nl);
	t->io.cb = on_io;
	r = vw_loop_watch(loop, &t->io, EPOLLIN);
	if (r < 0)
		goto fail;
	*ret = t;
	return 0;
fail:
	vw_tunnel_free(t);
	return r;
}

void vw_tunnel_free(struct vw_tunnel *t)
{
	if (!t)
		return;
	if (t->io.fd >= 0)
		vw_loop_unwatch(t->loop, &t->io);
	if (t->nl)
		(void)mnl_socket_close(t->nl);
	free(t);
}
