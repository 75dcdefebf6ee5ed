/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The desired enforcement state as plain, backend-neutral data, and the diff that turns one
 * state into another as an ordered plan of operations. Pure: a backend (the nft module)
 * renders a plan as one atomic transaction; this module decides what changes and in which
 * order, the backend decides how objects are named and built.
 *
 * What the state says:
 *   - traffic entering from a bridge is policed, except from Docker bridges vpnwall does
 *     not manage (networks it is told to leave alone) and host bridges the settings tell it
 *     to ignore; a managed bridge is policed whatever those settings say;
 *   - a policed packet's source must be routable back through the bridge it came from
 *     (anti-spoofing); replies of inbound, DNAT'd flows (published ports) and traffic that
 *     stays on its bridge pass; everything else is dispatched by source address to its
 *     container, or dropped when no container owns the source (fail closed);
 *   - a container may reach exactly its destination boxes (address range x protocol range
 *     x port range, pairwise disjoint); everything else it sends is dropped, or only
 *     counted when it is audited. An isolated container has no boxes: it reaches nothing.
 */
#ifndef VW_RULESET_H
#define VW_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VW_KEY_LEN 16 /* hex digits of a container id that identify it to a backend */
#define VW_IFNAMSIZ 16
#define VW_KEY_UNKNOWN "unknown" /* the key of traffic from sources no container owns */

/* How Docker names bridges: "br-<12 digits of the network id>", and the default one. */
#define VW_DOCKER_BRIDGE_PREFIX "br-"
#define VW_DOCKER_DEFAULT_BRIDGE "docker0"

/*
 * What a box costs the kernel: a concatenated range set (pipapo) expands each field's range
 * into the CIDR prefixes covering it (an unaligned IPv6 range up to 254, a port range up to
 * 30), and each field's lookup bitmaps are as wide as that field's expanded rules. A box is
 * counted as its widest field, so a plain address, network or port is one rule. Budgets
 * count these rules, not boxes: the time and memory of a commit follow them.
 */
#define VW_CONTAINER_COST_MAX 4096 /* kernel range rules per container (both families) */
#define VW_RULESET_COST_MAX (1u << 19) /* kernel range rules over all containers */

/* One destination element: every address in [lo, hi], protocol in [proto_lo, proto_hi],
 * port in [port_lo, port_hi]. A box for "any protocol" spans 0-255 and ports 0-65535. */
struct vw_box {
	uint8_t lo[16]; /* first address, network order; IPv4 uses lo[0..3] */
	uint8_t hi[16]; /* last address, inclusive */
	uint16_t port_lo; /* host order, inclusive */
	uint16_t port_hi;
	uint8_t proto_lo; /* IPPROTO_*, inclusive */
	uint8_t proto_hi;
};

/*
 * Which way a destination may be reached. With a VPN interface set (the kill switch), a
 * VW_PATH_VPN destination only through it; a VW_PATH_ANY one (the LAN: vpn.allow,
 * VPN_ALLOW, or every entry of a container with vpn.tunnel=false) by whatever route the
 * host has, the host itself included. Without one, both mean "allowed".
 */
enum vw_path {
	VW_PATH_VPN,
	VW_PATH_ANY,
	VW_PATHS,
};

#define VW_BOXSETS (2 * VW_PATHS) /* a container's boxes: per path, per family */

/* Boxes of one family and path, sorted by (lo, proto_lo, port_lo) and pairwise disjoint. */
struct vw_boxset {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t path; /* enum vw_path */
	struct vw_box *v;
	size_t n;
	size_t cap;
	size_t cost; /* kernel range rules they take, see VW_CONTAINER_COST_MAX */
};

/* One entry of a policy before decomposition: the same shape as a box, but atoms overlap. */
struct vw_atom {
	uint8_t lo[16];
	uint8_t hi[16];
	uint8_t protos; /* 0: any protocol and port; else VW_PROTO_* bits (labels.h) */
	uint16_t port_lo;
	uint16_t port_hi;
};

struct vw_atoms {
	uint8_t family;
	struct vw_atom *v;
	size_t n;
	size_t cap;
};

/*
 * What one container may reach. Shared by reference between the desired and the applied
 * ruleset, and immutable while shared: a change makes a new one.
 */
struct vw_rs_container {
	unsigned refs;
	char key[VW_KEY_LEN + 1]; /* identifies the container's objects to the backend */
	char id[65]; /* full container id */
	char name[128]; /* container name, for logs, counters and metrics */
	bool audit; /* count what would be dropped, drop nothing */
	char isolated[128]; /* why it reaches nothing at all ("" = not isolated) */
	char note[160]; /* a limit hit while compiling that did not isolate it, or "" */
	struct vw_boxset dst[VW_BOXSETS]; /* at vw_boxset_index(path, family) */
};

struct vw_rs_source {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* the container's address on a managed network */
	char key[VW_KEY_LEN + 1]; /* its container; "" = exempt (vpn.enable=false) */
};

/* A bridge of a Docker network, which vpnwall polices (managed) or leaves alone. */
struct vw_rs_bridge {
	char name[VW_IFNAMSIZ];
	bool managed; /* policed even when the settings' ignored bridges match its name */
};

struct vw_ruleset {
	bool dry_run; /* unknown and spoofed sources are counted, not dropped */
	/* The kill switch: VW_PATH_VPN destinations leave only through an interface of this
	 * name ("x+": any name starting with x); "" = no VPN, every path is fine. */
	char vpn_iface[VW_IFNAMSIZ];
	uint16_t log_group; /* NFLOG group for audited drops; 0 = none */
	/* The DNS proxy's port: managed containers' DNS (UDP and TCP port 53) is redirected to
	 * it, and what it learns from their answers is allowed; 0 = no proxy. */
	uint16_t dns_port;
	unsigned log_rate; /* audited packets per second, per container */
	unsigned dns_rate; /* UDP queries to the DNS proxy per second, per container */
	char (*ignore)[VW_IFNAMSIZ]; /* bridges never policed (settings); "x+" is a prefix */
	size_t n_ignore;
	struct vw_rs_bridge *bridges; /* Docker's bridges, sorted by name, unique */
	size_t n_bridges;
	struct vw_rs_container **containers; /* sorted by key; one reference each */
	size_t n_containers;
	size_t cap_containers;
	struct vw_rs_source *sources; /* sorted by (family, addr) */
	size_t n_sources;
	size_t cap_sources;
	/* The dispatched (keyed) sources again, by (key, family, addr): a container's own. */
	struct vw_rs_source *by_key;
	size_t n_by_key;
	size_t cap_by_key;
};

/* What may differ between two rulesets: the diff looks at nothing else. */
struct vw_changes {
	bool all; /* anything may differ */
	bool bridges; /* Docker's bridges */
	char (*keys)[VW_KEY_LEN + 1]; /* containers; sorted and unique once normalized */
	size_t n_keys;
	size_t cap_keys;
	struct vw_rs_source *addrs; /* dispatched addresses (key unused); same */
	size_t n_addrs;
	size_t cap_addrs;
};

enum vw_op_type {
	VW_OP_RESET, /* replace everything by the base of op.rs: no containers, no sources */
	VW_OP_CONTAINER_DEL, /* delete c's own objects (no source points at c any more) */
	VW_OP_CONTAINER_ADD, /* create c's own objects (its sources follow) */
	VW_OP_BOXES_DEL, /* delete boxes from c's destinations of one family, for srcs */
	VW_OP_BOXES_ADD,
	VW_OP_SOURCE_DEL, /* stop dispatching an address: c's destinations no longer apply */
	VW_OP_SOURCE_ADD, /* dispatch an address to c: c's destinations apply to it whole */
	VW_OP_BRIDGE_DEL, /* forget what a Docker bridge is */
	VW_OP_BRIDGE_ADD, /* police a Docker bridge, or leave it alone */
};

struct vw_op {
	enum vw_op_type type;
	const struct vw_ruleset *rs; /* RESET, CONTAINER_*, SOURCE_*: the desired ruleset */
	/* CONTAINER_*, BOXES_*; SOURCE_*: the container the source points at (NULL: exempt) */
	const struct vw_rs_container *c;
	uint8_t family; /* BOXES_* */
	uint8_t path; /* BOXES_*: enum vw_path */
	struct vw_box *boxes; /* BOXES_*: owned by the plan */
	size_t n_boxes;
	struct vw_rs_source *srcs; /* BOXES_*: c's sources before and after, owned by the plan */
	size_t n_srcs;
	const struct vw_rs_source *src; /* SOURCE_* */
	const struct vw_rs_bridge *bridge; /* BRIDGE_* */
};

struct vw_plan {
	struct vw_op *ops;
	size_t n;
	size_t cap;
};

/* vw_addr_len - 4 for AF_INET, 16 for AF_INET6. */
size_t vw_addr_len(uint8_t family);

/* vw_family_index - 0 for AF_INET, 1 for AF_INET6. */
int vw_family_index(uint8_t family);

/* vw_boxset_index - where a container keeps its boxes of @path and @family. */
int vw_boxset_index(enum vw_path path, uint8_t family);

/* vw_path_name - "vpn" or "any", for logs and tests. */
const char *vw_path_name(enum vw_path path);

/* vw_atoms_add_prefix - add addr/prefix with a port scope (@protos 0: any). */
int vw_atoms_add_prefix(struct vw_atoms *a, const uint8_t *addr, unsigned prefix, uint8_t protos,
			uint16_t port_lo, uint16_t port_hi);

/* vw_atoms_done - free the atoms. */
void vw_atoms_done(struct vw_atoms *a);

/*
 * vw_boxset_build - the smallest set of disjoint boxes that covers exactly the union of
 * @atoms, merged where neighbours allow it, into @ret (cleared first). Returns the number
 * of boxes, -E2BIG when they would cost the kernel more than @max range rules (@ret is then
 * empty), or -ENOMEM.
 */
int vw_boxset_build(const struct vw_atoms *atoms, size_t max, struct vw_boxset *ret);

/* vw_boxset_done - free the boxes. */
void vw_boxset_done(struct vw_boxset *s);

/* vw_boxset_same - @a and @b hold the same boxes (both as vw_boxset_build() orders them). */
bool vw_boxset_same(const struct vw_boxset *a, const struct vw_boxset *b);

/*
 * vw_boxset_stretch - the boxes whose address range contains @addr (they share it: boxes
 * of one stretch differ only in protocol and ports), and their number in *ret_n.
 */
const struct vw_box *vw_boxset_stretch(const struct vw_boxset *s, const uint8_t *addr,
				       size_t *ret_n);

/* vw_boxset_find - the box containing (@addr, @proto, @port), or NULL. */
const struct vw_box *vw_boxset_find(const struct vw_boxset *s, const uint8_t *addr, uint8_t proto,
				    uint16_t port);

/* vw_addr_next - the address after @addr into @ret; false when @addr is the last one. */
bool vw_addr_next(uint8_t family, const uint8_t *addr, uint8_t *ret);

/*
 * vw_audit_prefix - the NFLOG prefix of a drop rule: "D:<key>", or "W:<key>" when @audit
 * (the packet would be dropped, but is not). The key is VW_KEY_UNKNOWN for unknown sources,
 * or "" for "the container that owns the packet's source address".
 */
void vw_audit_prefix(char *buf, size_t size, bool audit, const char *key);

/* vw_audit_prefix_parse - the reverse; -EINVAL for a prefix that is not ours. */
int vw_audit_prefix_parse(const char *prefix, bool *ret_audit, const char **ret_key);

/* vw_rs_container_init - label the (empty) boxsets of @c with their path and family. */
void vw_rs_container_init(struct vw_rs_container *c);

/* vw_rs_container_new - an empty container (no boxes), one reference. NULL without memory. */
struct vw_rs_container *vw_rs_container_new(void);

/* vw_rs_container_ref - take a reference. */
struct vw_rs_container *vw_rs_container_ref(struct vw_rs_container *c);

/* vw_rs_container_unref - drop a reference; the last one frees. Accepts NULL. */
void vw_rs_container_unref(struct vw_rs_container *c);

/* vw_rs_container_clone - a private deep copy with one reference, or NULL. */
struct vw_rs_container *vw_rs_container_clone(const struct vw_rs_container *c);

/* vw_rs_container_boxes - the number of boxes of @c over both families. */
size_t vw_rs_container_boxes(const struct vw_rs_container *c);

/* vw_rs_container_cost - the kernel range rules of @c over both families. */
size_t vw_rs_container_cost(const struct vw_rs_container *c);

/* vw_box_cost - the kernel range rules one box of @family takes. */
size_t vw_box_cost(uint8_t family, const struct vw_box *b);

/* vw_rs_container_isolate - drop every box of @c and record @why. */
void vw_rs_container_isolate(struct vw_rs_container *c, const char *why);

/* vw_rs_container_done - free the boxes of an unshared @c (it stays usable, empty). */
void vw_rs_container_done(struct vw_rs_container *c);

/* vw_ruleset_done - free what @rs holds and drop its references. */
void vw_ruleset_done(struct vw_ruleset *rs);

/* vw_ruleset_find - the container with @key, or NULL. */
struct vw_rs_container *vw_ruleset_find(const struct vw_ruleset *rs, const char *key);

/*
 * vw_ruleset_put - add @c, or replace the container with its key. The ruleset takes a
 * reference of its own. Returns 0 or -ENOMEM.
 */
int vw_ruleset_put(struct vw_ruleset *rs, struct vw_rs_container *c);

/* vw_ruleset_remove - drop the container with @key; false when there is none. */
bool vw_ruleset_remove(struct vw_ruleset *rs, const char *key);

/* vw_ruleset_put_source - dispatch an address (replacing its entry). 0 or -ENOMEM. */
int vw_ruleset_put_source(struct vw_ruleset *rs, const struct vw_rs_source *s);

/* vw_ruleset_remove_source - stop dispatching an address; false when it was not. */
bool vw_ruleset_remove_source(struct vw_ruleset *rs, uint8_t family, const uint8_t *addr);

/* vw_ruleset_clear_sources - dispatch nothing. */
void vw_ruleset_clear_sources(struct vw_ruleset *rs);

/*
 * vw_ruleset_index_sources - rebuild the by-key index after writing @rs->sources directly
 * (sorted); put_source() and remove_source() keep it up to date. 0 or -ENOMEM.
 */
int vw_ruleset_index_sources(struct vw_ruleset *rs);

/* vw_ruleset_sources_of - the sources dispatched to container @key (*ret_n of them). */
const struct vw_rs_source *vw_ruleset_sources_of(const struct vw_ruleset *rs, const char *key,
						 size_t *ret_n);

/*
 * vw_ruleset_set_bridges - replace Docker's bridges by @n (sorted here; of two entries for
 * one name the managed one is kept).
 */
int vw_ruleset_set_bridges(struct vw_ruleset *rs, const struct vw_rs_bridge *v, size_t n);

/*
 * vw_ruleset_base - the settings of @rs into @ret, with nothing dispatched: every policed
 * packet is dropped. The ignored bridges are borrowed from @rs (set ret->ignore to NULL
 * before vw_ruleset_done(@ret)).
 */
void vw_ruleset_base(const struct vw_ruleset *rs, struct vw_ruleset *ret);

/*
 * vw_ruleset_clone - a copy of @rs sharing its containers (by reference). *ret is written
 * only on success. Returns 0 or -ENOMEM.
 */
int vw_ruleset_clone(const struct vw_ruleset *rs, struct vw_ruleset *ret);

/* vw_changes_key - mark container @key changed. 0 or -ENOMEM (then everything is). */
int vw_changes_key(struct vw_changes *ch, const char *key);

/* vw_changes_addr - mark the dispatch of an address changed. 0 or -ENOMEM. */
int vw_changes_addr(struct vw_changes *ch, uint8_t family, const uint8_t *addr);

/* vw_changes_normalize - sort and deduplicate the marks. */
void vw_changes_normalize(struct vw_changes *ch);

/* vw_changes_reset - nothing changed (keeps the memory). */
void vw_changes_reset(struct vw_changes *ch);

/* vw_changes_done - free the marks. */
void vw_changes_done(struct vw_changes *ch);

/*
 * vw_ruleset_adopt - make @applied equal @desired where @ch (normalized) says they may
 * differ, sharing @desired's containers. Returns 0 or -ENOMEM.
 */
int vw_ruleset_adopt(struct vw_ruleset *applied, const struct vw_ruleset *desired,
		     const struct vw_changes *ch);

/* vw_ruleset_source_find - the source entry for an address, or NULL. */
const struct vw_rs_source *vw_ruleset_source_find(const struct vw_ruleset *rs, uint8_t family,
						  const uint8_t *addr);

/*
 * vw_ruleset_diff - the operations that turn @applied (NULL: unknown, replace everything)
 * into @desired, in an order the kernel accepts within one transaction: references to
 * what goes away are removed before it, and what is referenced is created before the
 * references. Only what @ch (normalized; NULL: everything) marks is compared, so the cost
 * follows the change. @ch must mark every address dispatched to a marked container. The
 * plan borrows from both rulesets; they must outlive it.
 */
int vw_ruleset_diff(const struct vw_ruleset *applied, const struct vw_ruleset *desired,
		    const struct vw_changes *ch, struct vw_plan *ret_plan);

/* vw_plan_done - free what @p holds. */
void vw_plan_done(struct vw_plan *p);

/* A flow as conntrack keeps it: its original direction, and who answers it. */
struct vw_flow {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t saddr[16];
	uint8_t daddr[16];
	uint8_t raddr[16]; /* the reply's source: a container that was connected to */
	uint8_t proto; /* IPPROTO_* */
	bool has_ports; /* TCP, UDP, SCTP, UDP-Lite, DCCP */
	uint16_t dport; /* host order; 0 without ports */
	uint32_t mark; /* its conntrack mark */
};

/*
 * Conntrack mark bits of flows a container opened to an address the DNS proxy learned for
 * it, by path: such a flow goes on after the learned address expires (only new flows need a
 * fresh lookup). Two bits of the mark's top, which Docker and wg-quick leave alone.
 */
#define VW_CT_LEARNED_VPN 0x40000000u
#define VW_CT_LEARNED_ANY 0x20000000u

/*
 * One destination the DNS proxy learned for a container, as the backend holds it: @box (its
 * address range a single address) reached from source @saddr by @path, for @timeout_ms
 * (elements expire in the backend by themselves).
 */
struct vw_learned_elem {
	uint8_t family;
	uint8_t path; /* enum vw_path */
	uint8_t saddr[16];
	struct vw_box box;
	uint64_t timeout_ms;
};

/* vw_ct_learned - the mark bit of flows learned for @path. */
static inline uint32_t vw_ct_learned(enum vw_path path)
{
	return path == VW_PATH_VPN ? VW_CT_LEARNED_VPN : VW_CT_LEARNED_ANY;
}

/*
 * vw_ruleset_allows - whether @rs lets established flow @f go on: false only when its
 * source belongs to an enforcing (not audited) container none of whose destinations, by
 * either path, holds it, and the DNS proxy did not learn its destination (a learned flow's
 * mark). The path is the rules' business, packet by packet.
 */
bool vw_ruleset_allows(const struct vw_ruleset *rs, const struct vw_flow *f);

/*
 * What committed plans revoked, for the established flows: the sources whose flows are to
 * be judged again (a container lost destinations; all of them after a full replace), and
 * the addresses that left their container (it stopped, or the address passed to another),
 * whose flows all end, those connected to it included.
 */
struct vw_revocations {
	struct vw_changes judge;
	struct vw_changes purge;
};

/*
 * vw_plan_revocations - add what @p revokes to @ret. A new container's addresses are not
 * marked: what their previous owner left in conntrack was purged when it left. Returns 0
 * or -ENOMEM.
 */
int vw_plan_revocations(const struct vw_plan *p, struct vw_revocations *ret);

/* vw_revocations_pending - whether @rv marks anything. */
bool vw_revocations_pending(const struct vw_revocations *rv);

/* vw_revocations_normalize, _reset, _done - as vw_changes_* on both sets. */
void vw_revocations_normalize(struct vw_revocations *rv);
void vw_revocations_reset(struct vw_revocations *rv);
void vw_revocations_done(struct vw_revocations *rv);

/*
 * vw_ruleset_revokes - whether the established flow @f is to be cut: it involves a purged
 * address (as its source or as the one answering it), or its source is to be judged and
 * @rs no longer allows it. @rv normalized.
 */
bool vw_ruleset_revokes(const struct vw_ruleset *rs, const struct vw_revocations *rv,
			const struct vw_flow *f);

/* vw_changes_has_addr - whether normalized @ch marks an address (always, when ch->all). */
bool vw_changes_has_addr(const struct vw_changes *ch, uint8_t family, const uint8_t *addr);

#endif
