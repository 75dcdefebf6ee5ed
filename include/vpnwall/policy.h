/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What Docker told us (containers, networks) plus settings and resolved names -> the
 * desired ruleset. Pure: the inputs are plain data, the output is a vw_ruleset; nothing is
 * read, logged or applied here.
 *
 * Rules it implements:
 *  - a network is managed when its driver is "bridge" and GATEWAY_NETWORKS selects it;
 *  - a running container with an address on a managed network is managed, unless it opted
 *    out with vpn.enable=false (its addresses are then exempt);
 *  - containers that share another's network namespace add their labels to the owner's
 *    policy, since their packets carry the owner's addresses;
 *  - a managed container may reach its vpn.outbound and vpn.allow destinations and
 *    DEFAULT_OUTBOUND; everything else is dropped (or counted when auditing);
 *  - a container whose destinations exceed its budget reaches nothing (isolated), alone;
 *  - an address claimed by two containers is dispatched to neither (fail closed).
 */
#ifndef VW_POLICY_H
#define VW_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnwall/labels.h"
#include "vpnwall/ruleset.h"

struct vw_atoms;
struct vw_config;
struct vw_names;
struct vw_rs_container;
struct vw_ruleset;

#define VW_ID_MAX 64
#define VW_CONTAINER_NAME_MAX 127
#define VW_ENDPOINTS_MAX 64

struct vw_network {
	char id[VW_ID_MAX + 1];
	char name[256];
	char bridge[16]; /* host interface of a bridge network, "" otherwise */
	bool is_bridge; /* driver "bridge" */
};

struct vw_endpoint {
	char network_id[VW_ID_MAX + 1];
	char network[256]; /* network name, for display */
	char endpoint_id[VW_ID_MAX + 1]; /* Docker's endpoint on that network, "" if unknown */
	bool has4;
	bool has6;
	bool has_mac;
	uint8_t addr4[4];
	uint8_t addr6[16];
	uint8_t mac[6]; /* the container's interface on the bridge (layer-2 identity) */
	char veth[16]; /* the host side of its link, once learned; "" until then */
};

struct vw_container {
	char id[VW_ID_MAX + 1];
	char name[VW_CONTAINER_NAME_MAX + 1]; /* without Docker's leading '/' */
	char netns_owner[VW_ID_MAX + 1]; /* "container:<id>" network mode: the owner's id */
	bool host_network; /* network mode "host": never crosses the forward hook */
	bool running;
	struct vw_endpoint *eps;
	size_t n_eps;
	struct vw_labels labels; /* parsed at ingest */
};

enum vw_managed {
	VW_MANAGED, /* policed by its own chain */
	VW_UNMANAGED_OPTOUT, /* vpn.enable=false */
	VW_UNMANAGED_HOST, /* host network: never crosses the forward hook */
	VW_UNMANAGED_NETWORK, /* no address on a managed bridge network */
	VW_JOINED, /* uses another container's network namespace: policed as that one */
	VW_NOT_RUNNING,
};

/* vw_policy_state - whether and why (not) @c is managed. */
enum vw_managed vw_policy_state(const struct vw_container *c, const struct vw_network *networks,
				size_t n_networks, const struct vw_config *cfg);

/* vw_managed_reason - a short human explanation of @m. */
const char *vw_managed_reason(enum vw_managed m);

/* vw_network_find - the network with id @id, or NULL. */
const struct vw_network *vw_network_find(const struct vw_network *nets, size_t n, const char *id);

/* vw_container_joins - whether running @c uses @owner's network namespace. */
bool vw_container_joins(const struct vw_container *c, const struct vw_container *owner);

/* vw_network_is_managed - bridge driver, has a bridge interface, selected by the settings. */
bool vw_network_is_managed(const struct vw_network *net, const struct vw_config *cfg);

/*
 * vw_policy_bridges - set the bridges of @rs from the @n networks: each bridge network's
 * interface, policed when the network is managed. 0 or -ENOMEM.
 */
int vw_policy_bridges(const struct vw_network *nets, size_t n, const struct vw_config *cfg,
		      struct vw_ruleset *rs);

/* vw_container_done - free what @c holds. */
void vw_container_done(struct vw_container *c);

#define VW_CONTAINER_NAMES_MAX 32 /* distinct names one container's labels may use */
#define VW_CONTAINER_ATOMS_MAX 16384 /* addresses and networks one policy may list */

/* One destination entry that applies to a container, in the order the policy uses them. */
struct vw_entry_ref {
	const char *origin; /* "vpn.outbound", "vpn.allow", "DEFAULT_OUTBOUND" or "VPN_ALLOW" */
	const char *container; /* whose label it is (a sharer's, for joined containers); NULL for
				  DEFAULT_OUTBOUND */
	const struct vw_dst *dst;
	bool granted; /* false: a name beyond VW_CONTAINER_NAMES_MAX, which grants nothing */
	enum vw_path path; /* the way it may be reached (only through the VPN, or any) */
};

typedef int (*vw_entry_fn)(void *ud, const struct vw_entry_ref *e);

/*
 * vw_policy_entries - call @fn for every destination entry of managed container @c: its own
 * labels, those of the containers sharing its network namespace (@sharers), then
 * DEFAULT_OUTBOUND, then VPN_ALLOW. vpn.allow and VPN_ALLOW entries may be reached by any
 * path, the others only through the VPN unless @c says vpn.tunnel=false (its network
 * namespace, so it decides for the containers sharing it). Stops at and returns the first
 * negative value of @fn.
 */
int vw_policy_entries(const struct vw_container *c, const struct vw_container *const *sharers,
		      size_t n_sharers, const struct vw_config *cfg, vw_entry_fn fn, void *ud);

/* How the addresses of a name a container asked for may be reached. */
struct vw_name_grant {
	enum vw_path path;
	uint8_t protos; /* 0: every protocol and port; else VW_PROTO_* bits for the ports */
	uint16_t port_lo;
	uint16_t port_hi;
};

/*
 * vw_policy_name_grants - what the answer to a query of @c for @name (lower case, no final
 * dot) may grant: one entry per destination of @c (as vw_policy_entries() lists them) that
 * is that very name, or a wildcard it lies below. Up to @max into @ret. Returns how many
 * (0: the name is not @c's to resolve), or -errno.
 */
int vw_policy_name_grants(const struct vw_container *c, const struct vw_container *const *sharers,
			  size_t n_sharers, const struct vw_config *cfg, const char *name,
			  struct vw_name_grant *ret, size_t max);

/*
 * vw_policy_entry_atoms - what one entry allows now: its address, or its name's current
 * addresses in @names, with its port scope, appended to @atoms[0] (IPv4) and [1] (IPv6).
 * Wildcards allow nothing (they need the DNS proxy).
 */
int vw_policy_entry_atoms(const struct vw_dst *d, const struct vw_names *names,
			  struct vw_atoms *atoms);

/*
 * vw_policy_compile_container - the destinations of managed container @c into @ret (its
 * key, id, name, audit flag and boxes). Needing more than @budget boxes isolates it
 * (ret->isolated says why); names beyond the quota are noted in ret->note. Returns 0 or
 * -ENOMEM.
 */
int vw_policy_compile_container(const struct vw_container *c,
				const struct vw_container *const *sharers, size_t n_sharers,
				const struct vw_config *cfg, const struct vw_names *names,
				size_t budget, struct vw_rs_container *ret);

/*
 * vw_policy_build_container - @c's destinations as a new container (one reference in
 * *ret), within what the global budget leaves when others hold @used boxes.
 */
int vw_policy_build_container(const struct vw_container *c,
			      const struct vw_container *const *sharers, size_t n_sharers,
			      const struct vw_config *cfg, const struct vw_names *names,
			      size_t used, struct vw_rs_container **ret);

/*
 * vw_policy_settings - the parts of a ruleset the settings alone decide (audit, logging,
 * the kill switch's interface, ignored bridges) into @rs, which is otherwise empty.
 * Returns 0 or -ENOMEM.
 */
int vw_policy_settings(const struct vw_config *cfg, struct vw_ruleset *rs);

/*
 * vw_policy_compile - the desired ruleset for the containers @cs on @networks under @cfg.
 * Marks every domain name in use as wanted in @names (see vw_names_begin()) and uses the
 * addresses already known there. Returns 0 or -ENOMEM; *ret_rs is written only on success.
 */
int vw_policy_compile(const struct vw_container *const *cs, size_t n_cs,
		      const struct vw_network *networks, size_t n_networks,
		      const struct vw_config *cfg, struct vw_names *names, uint64_t now,
		      struct vw_ruleset *ret_rs);

#endif
