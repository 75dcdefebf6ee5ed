// SPDX-License-Identifier: GPL-2.0-or-later
#include "vpnwall/netlink.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <libmnl/libmnl.h>

struct index {
	const struct nlattr **tb;
	unsigned max;
};

static int index_cb(const struct nlattr *a, void *data)
{
	const struct index *x = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type <= x->max)
		x->tb[type] = a;
	return MNL_CB_OK;
}

int vw_nl_attrs(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr **tb, unsigned max)
{
	const size_t off = MNL_NLMSG_HDRLEN + MNL_ALIGN(hdrlen);
	struct index x = { .tb = tb, .max = max };

	memset(tb, 0, (max + 1) * sizeof(*tb));
	/* libmnl measures what is left of the attributes in an int. */
	if (nlh->nlmsg_len < off || nlh->nlmsg_len - off > INT_MAX)
		return -EINVAL;
	(void)mnl_attr_parse_payload((const uint8_t *)nlh + off, nlh->nlmsg_len - off, index_cb,
				     &x);
	return 0;
}
