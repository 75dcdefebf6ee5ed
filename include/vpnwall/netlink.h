/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every netlink reader here needs (nf_tables, nfnetlink_log, rtnetlink): a buffer size
 * and an index of a message's attributes by type, bounded by the message's own length.
 */
#ifndef VW_NETLINK_H
#define VW_NETLINK_H

#include <stddef.h>

struct mnl_socket;
struct nlattr;
struct nlmsghdr;

#define VW_NL_BUFSZ 8192

/*
 * vw_nl_nest - the same index for the attributes nested in @nest. Returns 0, or -EINVAL
 * when @nest is not a nest.
 */
int vw_nl_nest(const struct nlattr *nest, const struct nlattr **tb, unsigned max);

/* vw_nl_msg_fn - one message of a buffer, whose nlmsg_len lies within it. */
typedef void (*vw_nl_msg_fn)(void *ud, const struct nlmsghdr *nlh);

/*
 * vw_nl_messages - call @cb for each whole message in the @len bytes of @buf, as received
 * from a netlink socket (or from anyone: lengths are checked, never trusted). Stops at the
 * first message whose length is impossible.
 */
void vw_nl_messages(const void *buf, size_t len, vw_nl_msg_fn cb, void *ud);

/*
 * vw_nl_open - a netlink socket of @bus (NETLINK_ROUTE, ...), bound to a port of its own;
 * @flags: SOCK_NONBLOCK or 0 (SOCK_CLOEXEC is always added). NULL with errno on failure.
 */
struct mnl_socket *vw_nl_open(int bus, int flags);

/*
 * vw_nl_attrs - set @tb[type] (zeroed first, @max + 1 entries) to each attribute of @nlh
 * that follows its @hdrlen-byte family header; types above @max are skipped. The walk stops
 * at nlmsg_len itself, never at its aligned end, which may lie past the buffer. Returns 0,
 * or -EINVAL when the message is shorter than its headers.
 */
int vw_nl_attrs(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr **tb, unsigned max);

#endif
