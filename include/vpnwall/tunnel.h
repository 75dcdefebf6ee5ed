/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whether the VPN interface is there, read from rtnetlink link messages (the socket is the
 * caller's: lib/vpn.c), for the kill switch's reports (log, metrics, readiness). Enforcement never
 * depends on it: the rules match the interface by name in the kernel, so a tunnel that goes, comes
 * back or is re-created with a new index takes effect with no action from the daemon.
 */
#ifndef VW_TUNNEL_H
#define VW_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>

struct nlmsghdr;
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
 * vw_tunnel_new - track interfaces matching @pattern. It knows nothing until a link dump
 * has been fed to it: @cb first runs at the first vw_tunnel_report() after the dump's end,
 * then at every report that changes its answer. Returns 0 or -ENOMEM.
 */
int vw_tunnel_new(const char *pattern, vw_tunnel_fn cb, void *ud, struct vw_tunnel **ret);

/* vw_tunnel_free - Accepts NULL. */
void vw_tunnel_free(struct vw_tunnel *t);

/*
 * vw_tunnel_reset - a new link dump is about to be requested (at start, or because
 * notifications were lost): forget what is known and report nothing until its end.
 */
void vw_tunnel_reset(struct vw_tunnel *t);

/* vw_tunnel_msg - one message of a link dump (NLMSG_DONE ends it) or notification. */
void vw_tunnel_msg(struct vw_tunnel *t, const struct nlmsghdr *nlh);

/* vw_tunnel_report - tell the callback if the answer changed (after a batch of messages). */
void vw_tunnel_report(struct vw_tunnel *t);

#endif
