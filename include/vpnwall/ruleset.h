/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The desired nftables state as plain data, and the diff that turns one state into another
 * as an ordered plan of operations. Pure: the nft module executes a plan as one atomic
 * batch; this module decides what the batch contains and in which order.
 *
 * Shape of the table (the nft module renders it):
 *   forward (hook forward, priority filter - 10): traffic entering from a managed bridge
 *       goes to "police"; so does traffic from bridges named like Docker's (br-*, docker0)
 *       that we have not learned yet, unless GATEWAY_NETWORKS lists networks explicitly;
 *       bridges of excluded networks are skipped
 *   police: replies to inbound connections and same-bridge traffic return; then the source
 *       address selects the container's chain through the src4/src6 verdict maps; unknown
 *       sources are dropped (fail closed)
 *   c_<key>: one rule per (protocol, port range) group matching the destination against
 *       the group's interval sets; a match returns, everything else is dropped (or only
 *       counted when auditing). Drops are also sent, rate-limited, to NFLOG with the
 *       prefix "D:<key>" ("W:<key>" when auditing) so the daemon learns their destination
 */
#ifndef VW_RULESET_H
#define VW_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VW_KEY_LEN 16 /* hex digits of a container id that name its nft objects */
#define VW_IFNAMSIZ 16
#define VW_KEY_UNKNOWN "unknown" /* the key of traffic from sources no container owns */

/* How Docker names bridges: "br-<12 digits of the network id>", and the default one. */
#define VW_DOCKER_BRIDGE_PREFIX "br-"
#define VW_DOCKER_DEFAULT_BRIDGE "docker0"

struct vw_range {
	uint8_t lo[16]; /* first address, network order; IPv4 uses lo[0..3] */
	uint8_t hi[16]; /* last address, inclusive */
};

/* A sorted list of disjoint, non-adjacent ranges of one family. */
struct vw_rangeset {
	uint8_t family; /* AF_INET or AF_INET6 */
	struct vw_range *v;
	size_t n;
	size_t cap;
};

struct vw_rs_group {
	uint8_t proto; /* 0: any protocol, any port; else IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port_lo; /* destination ports (proto != 0), host order, inclusive */
	uint16_t port_hi;
	bool has4; /* the IPv4 set exists (static v4 entries or names) */
	bool has6; /* the IPv6 set exists */
	struct vw_rangeset set4;
	struct vw_rangeset set6;
};

struct vw_rs_container {
	char key[VW_KEY_LEN + 1]; /* names c_<key>, <key>_<group>_4, ... */
	char id[65]; /* full container id */
	char name[128]; /* container name, for logs and metrics */
	bool audit; /* count what would be dropped, drop nothing */
	struct vw_rs_group *groups; /* sorted by (proto, port_lo, port_hi) */
	size_t n_groups;
};

struct vw_rs_source {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* the container's address on a managed network */
	char key[VW_KEY_LEN + 1]; /* container chain; "" = exempt (vpn.enable=false) */
};

struct vw_ruleset {
	bool dry_run; /* unknown sources are counted, not dropped */
	uint16_t log_group; /* NFLOG group for audited drops; 0 = none */
	unsigned log_rate; /* audited packets per second, per container chain */
	char (*bridges)[VW_IFNAMSIZ]; /* managed bridge interfaces, sorted */
	size_t n_bridges;
	bool police_unknown; /* police bridges named like Docker's that we do not know yet */
	char (*skip)[VW_IFNAMSIZ]; /* Docker bridges deliberately not managed, sorted */
	size_t n_skip;
	struct vw_rs_container *containers; /* sorted by key */
	size_t n_containers;
	struct vw_rs_source *sources; /* sorted by (family, addr) */
	size_t n_sources;
};

enum vw_op_type {
	VW_OP_RESET, /* replace the whole table by the base objects of op.rs */
	VW_OP_CONTAINER_DEL, /* delete c's chain, sets and counters */
	VW_OP_CONTAINER_ADD, /* create c's sets (filled), counters and chain */
	VW_OP_RANGES_DEL, /* delete ranges from c's set (group, family) */
	VW_OP_RANGES_ADD,
	VW_OP_SOURCE_DEL, /* delete a verdict-map element */
	VW_OP_SOURCE_ADD,
	VW_OP_BRIDGE_DEL, /* stop policing a bridge */
	VW_OP_BRIDGE_ADD,
};

struct vw_op {
	enum vw_op_type type;
	const struct vw_ruleset *rs; /* RESET, CONTAINER_ADD: the desired ruleset */
	const struct vw_rs_container *c; /* CONTAINER_*, RANGES_* */
	unsigned group; /* RANGES_*: index into c->groups */
	uint8_t family; /* RANGES_* */
	struct vw_range *ranges; /* RANGES_*: owned by the plan */
	size_t n_ranges;
	const struct vw_rs_source *src; /* SOURCE_* */
	const char *ifname; /* BRIDGE_* */
	bool skip; /* BRIDGE_*: the set of skipped bridges, else the managed ones */
};

struct vw_plan {
	struct vw_op *ops;
	size_t n;
	size_t cap;
};

/* vw_rangeset_add - add [lo, hi]; call vw_rangeset_normalize() before use. */
int vw_rangeset_add(struct vw_rangeset *s, const uint8_t *lo, const uint8_t *hi);

/* vw_rangeset_add_prefix - add addr/prefix (host bits of addr must be zero). */
int vw_rangeset_add_prefix(struct vw_rangeset *s, const uint8_t *addr, unsigned prefix);

/* vw_rangeset_normalize - sort and merge overlapping and adjacent ranges. */
void vw_rangeset_normalize(struct vw_rangeset *s);

/* vw_rangeset_contains - whether @addr lies in a normalized set. */
bool vw_rangeset_contains(const struct vw_rangeset *s, const uint8_t *addr);

/* vw_range_end_key - hi + 1 into @ret; false when hi is the last address (no end key). */
bool vw_range_end_key(const struct vw_range *r, uint8_t family, uint8_t *ret);

/* vw_addr_len - 4 for AF_INET, 16 for AF_INET6. */
size_t vw_addr_len(uint8_t family);

/*
 * vw_audit_prefix - the NFLOG prefix of a container's (or VW_KEY_UNKNOWN's) drop rule:
 * "D:<key>", or "W:<key>" when @audit (the packet would be dropped, but is not).
 */
void vw_audit_prefix(char *buf, size_t size, bool audit, const char *key);

/* vw_audit_prefix_parse - the reverse; -EINVAL for a prefix that is not ours. */
int vw_audit_prefix_parse(const char *prefix, bool *ret_audit, const char **ret_key);

/* vw_rs_container_done - free what @c holds. */
void vw_rs_container_done(struct vw_rs_container *c);

/* vw_ruleset_done - free what @rs holds. */
void vw_ruleset_done(struct vw_ruleset *rs);

/* vw_ruleset_find - the container with @key, or NULL. */
const struct vw_rs_container *vw_ruleset_find(const struct vw_ruleset *rs, const char *key);

/* vw_ruleset_source_find - the source entry for an address, or NULL. */
const struct vw_rs_source *vw_ruleset_source_find(const struct vw_ruleset *rs, uint8_t family,
						  const uint8_t *addr);

/*
 * vw_ruleset_diff - the operations that turn @applied (NULL: unknown, replace everything)
 * into @desired, in an order the kernel accepts within one transaction. The plan borrows
 * from both rulesets; they must outlive it.
 */
int vw_ruleset_diff(const struct vw_ruleset *applied, const struct vw_ruleset *desired,
		    struct vw_plan *ret_plan);

/* vw_plan_done - free what @p holds. */
void vw_plan_done(struct vw_plan *p);

#endif
