// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reading netlink messages that may come from anyone (a fuzzer, a misbehaving sender, a
 * kernel newer than our headers): every length is checked against the bytes at hand.
 */
#include "vpnwall/netlink.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <libmnl/libmnl.h>

struct mnl_socket *vw_nl_open(int bus, int flags)
{
	struct mnl_socket *nl = mnl_socket_open2(bus, SOCK_CLOEXEC | flags);
	int e;

	if (nl && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		e = errno;
		(void)mnl_socket_close(nl);
		errno = e;
		return NULL;
	}
	return nl;
}

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

int vw_nl_nest(const struct nlattr *nest, const struct nlattr **tb, unsigned max)
{
	struct index x = { .tb = tb, .max = max };

	memset(tb, 0, (max + 1) * sizeof(*tb));
	if (mnl_attr_validate(nest, MNL_TYPE_NESTED) < 0)
		return -EINVAL;
	(void)mnl_attr_parse_nested(nest, index_cb, &x);
	return 0;
}

void vw_nl_messages(const void *buf, size_t len, vw_nl_msg_fn cb, void *ud)
{
	const uint8_t *msg = buf;

	/*
	 * Not mnl_nlmsg_ok()/mnl_nlmsg_next(): they compare nlmsg_len as a signed int, so a
	 * length of 2^31 or more passes the check, and one within 3 of 2^32 aligns to 0, which
	 * would never advance.
	 */
	while (len >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)msg;
		size_t size = nlh->nlmsg_len;

		if (size < sizeof(*nlh) || size > len)
			break;
		cb(ud, nlh);
		size = MNL_ALIGN(size);
		if (size >= len)
			break;
		msg += size;
		len -= size;
	}
}
