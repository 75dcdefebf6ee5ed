/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every netlink reader here needs (nf_tables, nfnetlink_log, rtnetlink): a buffer size
 * and an index of a message's attributes by type, bounded by the message's own length.
 */
#ifndef VW_NETLINK_H
#define VW_NETLINK_H

#include <stddef.h>

struct nlattr;
struct nlmsghdr;

#define VW_NL_BUFSZ 8192

/*
 * vw_nl_attrs - set @tb[type] (zeroed first, @max + 1 entries) to each attribute of @nlh
 * that follows its @hdrlen-byte family header; types above @max are skipped. The walk stops
 * at nlmsg_len itself, never at its aligned end, which may lie past the buffer. Returns 0,
 * or -EINVAL when the message is shorter than its headers.
 */
int vw_nl_attrs(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr **tb, unsigned max);

#endif
