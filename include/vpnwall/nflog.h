/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The drop audit trail: packets our rules log to an NFLOG group (nfnetlink_log over libmnl)
 * arrive here, are reduced to the fields the audit needs and handed to a callback. The
 * ruleset rate-limits what it logs, so a flood cannot overwhelm the daemon; if the socket
 * still overflows, the loss is counted, not fatal.
 */
#ifndef VW_NFLOG_H
#define VW_NFLOG_H

#include <stddef.h>
#include <stdint.h>

struct vw_loop;
struct vw_nflog;

struct vw_nflog_packet {
	char prefix[64]; /* the log rule's prefix, e.g. "D:<key>" */
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t src[16]; /* network order; IPv4 in the first 4 bytes */
	uint8_t dst[16];
	uint8_t proto; /* IPPROTO_* of the transport header, or the last IPv6 next header */
	uint16_t dport; /* destination port (TCP, UDP, SCTP, UDPLite), host order; 0 if none */
};

typedef void (*vw_nflog_fn)(void *ud, const struct vw_nflog_packet *p);

/* vw_nflog_new - bind NFLOG @group; -EBUSY if another process has it. */
int vw_nflog_new(struct vw_loop *loop, uint16_t group, vw_nflog_fn cb, void *ud,
		 struct vw_nflog **ret_nflog);

/* vw_nflog_free - unbind and close. Accepts NULL. */
void vw_nflog_free(struct vw_nflog *n);

/* vw_nflog_lost - packets the kernel could not deliver (receive buffer overruns). */
uint64_t vw_nflog_lost(const struct vw_nflog *n);

/*
 * vw_nflog_parse_payload - fill the address fields of @p from a logged packet that starts
 * at its network header (@hw_protocol: ETH_P_IP or ETH_P_IPV6, host order).
 * Returns 0 or -EINVAL for a truncated or malformed header. Pure, for fuzzing.
 */
int vw_nflog_parse_payload(uint16_t hw_protocol, const uint8_t *data, size_t len,
			   struct vw_nflog_packet *p);

/*
 * vw_nflog_parse - call @cb for each logged packet in @len bytes received from the NFLOG
 * group at @buf (aligned for struct nlmsghdr): one or more netlink messages. Messages of
 * other types and malformed packets are skipped; a message whose length does not fit the
 * buffer ends the walk. Returns the number of packets passed to @cb. Pure, for fuzzing.
 */
size_t vw_nflog_parse(const void *buf, size_t len, vw_nflog_fn cb, void *ud);

#endif
