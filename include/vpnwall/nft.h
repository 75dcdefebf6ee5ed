/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nftables over netlink (libnftnl + libmnl): renders a vw_plan into one atomic batch and
 * commits it. This module decides nothing: the plan says what changes, the ruleset layout
 * (documented in ruleset.h) says how each object looks. Our table never has the owner flag,
 * so it outlives the daemon: a crash leaves the last enforced state in place.
 */
#ifndef VW_NFT_H
#define VW_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vw_nft;
struct vw_plan;

#define VW_NL_BUFSZ 8192
#define VW_NFT_KEY_SIZE 17 /* VW_KEY_LEN + 1 */

/* vw_nft_new - open a netlink socket for table @table (family inet). */
int vw_nft_new(const char *table, struct vw_nft **ret_nft);

/* vw_nft_free - close; the table stays in the kernel. Accepts NULL. */
void vw_nft_free(struct vw_nft *n);

/*
 * vw_nft_apply - commit @plan as one transaction: either all of it takes effect or none.
 * Returns 0, or the kernel's -errno for the first failing message (logged at debug level
 * with the operation that caused it).
 */
int vw_nft_apply(struct vw_nft *n, const struct vw_plan *plan);

/*
 * vw_nft_render - the netlink messages vw_nft_apply() would send for @plan, without
 * sending them (for tests: parse them back with libnftnl). *ret_buf is malloc'd.
 */
int vw_nft_render(const char *table, const struct vw_plan *plan, void **ret_buf, size_t *ret_len);

/* vw_nft_table_exists - 1 if our table exists, 0 if not, or -errno. */
int vw_nft_table_exists(struct vw_nft *n);

/* vw_nft_delete_table - remove our table and everything in it; -ENOENT if absent. */
int vw_nft_delete_table(struct vw_nft *n);

struct vw_loop;

/* Called when someone else changed our table; @what names the change. */
typedef void (*vw_nft_change_fn)(void *ud, const char *what);

/*
 * vw_nft_monitor - watch nf_tables change notifications and report changes to our table
 * made by any other process (a flush, `nft flush ruleset`, a firewall reload).
 */
int vw_nft_monitor(struct vw_nft *n, struct vw_loop *loop, vw_nft_change_fn cb, void *ud);

struct vw_nft_counter {
	char key[VW_NFT_KEY_SIZE]; /* container key, or VW_KEY_UNKNOWN */
	bool drop; /* the drop counter (else the allow counter) */
	uint64_t packets;
	uint64_t bytes;
};

/*
 * vw_nft_counters - dump our table's per-container counters (and the unknown-source one).
 * *ret is a malloc'd array owned by the caller. Returns the number of counters or -errno.
 */
int vw_nft_counters(struct vw_nft *n, struct vw_nft_counter **ret);

#endif
