/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What Docker told us: the running containers, indexed by id, by name and by the owner of
 * the network namespace they join, and the networks. Pure bookkeeping: every lookup the
 * daemon and the API make on an event or a request is keyed, not a scan.
 */
#ifndef VW_STORE_H
#define VW_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "vpnwall/hashmap.h"
#include "vpnwall/policy.h"

#define VW_STORE_CONTAINERS_MAX 65536

struct vw_store {
	struct vw_hmap by_id;
	struct vw_hmap by_name;
	struct vw_hmap by_owner; /* containers that join another's network namespace */
	struct vw_container **list; /* every container, in no particular order */
	size_t n;
	size_t cap;
	struct vw_network *nets;
	size_t n_nets;
};

/* vw_store_init - an empty store. */
void vw_store_init(struct vw_store *st);

/* vw_store_done - free every container and network. */
void vw_store_done(struct vw_store *st);

/* vw_store_get - the container with id @id, or NULL. Borrowed until it changes. */
struct vw_container *vw_store_get(const struct vw_store *st, const char *id);

/*
 * vw_store_find - the container called @ref, or the only one whose id starts with @ref (at
 * least 4 digits, as docker accepts it), or NULL.
 */
const struct vw_container *vw_store_find(const struct vw_store *st, const char *ref);

/*
 * vw_store_put - store @c (its content moves into the store; @c is emptied), replacing the
 * container with the same id. Returns 0, or -ENOBUFS past VW_STORE_CONTAINERS_MAX or
 * -ENOMEM (@c is then left to the caller).
 */
int vw_store_put(struct vw_store *st, struct vw_container *c);

/* vw_store_del - forget container @id; false when it was not there. */
bool vw_store_del(struct vw_store *st, const char *id);

/* vw_store_set_networks - replace the network list (ownership moves). */
void vw_store_set_networks(struct vw_store *st, struct vw_network *nets, size_t n);

/*
 * vw_store_sharers - the running containers joining @owner's network namespace, sorted by
 * id, into a malloc'd array (NULL when none). Returns their number or -ENOMEM.
 */
int vw_store_sharers(const struct vw_store *st, const struct vw_container *owner,
		     const struct vw_container ***ret);

#endif
