/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Container labels -> parsed egress policy. Pure: no I/O, no allocation beyond the result.
 * A label entry either parses exactly or is rejected with a reason; a rejected entry grants
 * nothing while the valid entries of the same label still apply.
 *
 *   vpn.outbound=<dst>[,<dst>...]   dst = FQDN | *.domain | IPv4 | IPv6 | CIDR, each with an
 *                                   optional :port, :lo-hi, and /tcp or /udp
 *                                   (IPv6 with a port in brackets: [2001:db8::1]:443)
 *   dockerwall.outbound=...         alias of vpn.outbound (dockerwall migration)
 *   vpn.allow=<cidr>[,...]          destinations reachable outside the VPN
 *   vpn.enable=true|false           false: the container is not managed at all
 *   vpn.dryrun=true|false           audit this container only: count, never drop
 *   vpn.tunnel=true|false           false: with a VPN_INTERFACE, its destinations may be
 *                                   reached by any path, not only through the tunnel
 *                                   (exactly "true" or "false"; anything else is an error
 *                                   and leaves the default: managed, enforced)
 */
#ifndef VW_LABELS_H
#define VW_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VW_LABEL_VALUE_MAX 1024 /* longer label values are rejected whole */
#define VW_LABEL_ENTRIES_MAX 256 /* entries per container, over all labels */
#define VW_LABEL_ERRORS_MAX 16 /* rejected entries kept per container; more are only counted */
#define VW_DOMAIN_MAX 253 /* RFC 1035 presentation length without the final dot */

#define VW_LABEL_OUTBOUND "vpn.outbound"
#define VW_LABEL_OUTBOUND_DOCKERWALL "dockerwall.outbound"
#define VW_LABEL_ALLOW "vpn.allow"
#define VW_LABEL_ENABLE "vpn.enable"
#define VW_LABEL_DRYRUN "vpn.dryrun"
#define VW_LABEL_TUNNEL "vpn.tunnel"

enum vw_dst_kind {
	VW_DST_NET, /* an address or CIDR */
	VW_DST_NAME, /* an exact domain name, resolved by DNS */
	VW_DST_WILDCARD, /* *.suffix: any name one or more labels below suffix */
};

/* Protocol bits of a port-scoped destination. */
#define VW_PROTO_TCP 0x1
#define VW_PROTO_UDP 0x2

struct vw_dst {
	enum vw_dst_kind kind;
	uint8_t family; /* AF_INET or AF_INET6 (VW_DST_NET only) */
	uint8_t prefix; /* prefix length (VW_DST_NET only) */
	uint8_t addr[16]; /* network byte order, host bits zero (VW_DST_NET only) */
	uint8_t protos; /* 0: every protocol and port; else VW_PROTO_* bits for port_lo..hi */
	uint16_t port_lo; /* first allowed port, host order (protos != 0) */
	uint16_t port_hi; /* last allowed port, inclusive */
	/*
	 * NAME: lowercase FQDN, no final dot; WILDCARD: the suffix; NULL for NET. Owned by the
	 * entry (vw_dst_done). Not inline: most entries are addresses, and a container's labels
	 * are kept for as long as it runs, thousands of them.
	 */
	char *name;
};

struct vw_label_error {
	char label[64]; /* the label key as written, truncated */
	char token[128]; /* the rejected entry as written, truncated */
	const char *reason; /* static, human-readable */
};

struct vw_labels {
	bool disabled; /* vpn.enable=false: explicitly not managed */
	bool dry_run; /* vpn.dryrun=true */
	bool no_tunnel; /* vpn.tunnel=false: its destinations by any path (the kill switch's
			   explicit exception) */
	struct vw_dst *outbound; /* vpn.outbound and its alias, in label order */
	size_t n_outbound;
	struct vw_dst *allow; /* vpn.allow */
	size_t n_allow;
	struct vw_label_error *errors; /* at most VW_LABEL_ERRORS_MAX */
	size_t n_errors;
	size_t n_errors_dropped; /* rejected entries beyond VW_LABEL_ERRORS_MAX */
};

/*
 * vw_dst_parse - parse one destination entry (no surrounding blanks).
 * Returns 0, -ENOMEM, or -EINVAL with *ret_reason set to a static explanation. *ret_dst is
 * written only on success, and then owns a name: release it with vw_dst_done().
 */
int vw_dst_parse(const char *s, struct vw_dst *ret_dst, const char **ret_reason);

/* vw_dst_done - free what @d holds. */
void vw_dst_done(struct vw_dst *d);

/* vw_dsts_free - vw_dst_done() on each of the @n entries of @v, then free(@v). */
void vw_dsts_free(struct vw_dst *v, size_t n);

/* vw_dst_format - canonical text of @d (what a user would write), truncated to @size. */
void vw_dst_format(const struct vw_dst *d, char *buf, size_t size);

/*
 * vw_wildcard_matches - whether @name is one or more labels below @suffix
 * ("a.b.example.org" matches "example.org"; "example.org" and "evilexample.org" do not).
 * Both are lowercase without a final dot.
 */
bool vw_wildcard_matches(const char *suffix, const char *name);

/*
 * vw_labels_add - apply one container label to @l. Keys outside the vpn. and dockerwall.
 * namespaces are ignored; unknown keys inside vpn. are reported as errors.
 * Returns 0 (errors in the value are recorded in @l, not returned) or -ENOMEM.
 */
int vw_labels_add(struct vw_labels *l, const char *key, const char *value);

/* vw_labels_done - free what @l holds and reset it to the empty policy. */
void vw_labels_done(struct vw_labels *l);

#endif
