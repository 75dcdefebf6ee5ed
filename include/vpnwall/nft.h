/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The nftables backend (libnftnl + libmnl): renders a vw_plan into one atomic batch and
 * commits it. It owns how the backend-neutral ruleset (ruleset.h) becomes nf_tables objects:
 * their names, the order of messages, the counters. Our table never has the owner flag, so
 * it outlives the daemon: a crash leaves the last enforced state in place. Every table we
 * create carries a tag (the daemon passes "vpnwall boot=<boot id>"), so a table restored
 * from an old dump can be told apart from the one this boot's daemon wrote.
 *
 * Layout of table inet <name>:
 *   forward (hook forward, priority filter - 10, policy accept):
 *       iifname vmap @bridges (Docker's: goto police if managed, else return);
 *       iifname <ignored bridge> return; meta iifkind "bridge" goto police
 *   police:
 *       fib saddr . iif oif missing: counted as "spoofed" and dropped
 *       ct direction reply ct status dnat return      (replies of published ports)
 *       fib daddr . iif oif exists return              (stays on its bridge)
 *       ip saddr @exempt4 return                        (vpn.enable=false)
 *       ip saddr . ip daddr . meta l4proto . th dport @exact4
 *           counter name ip saddr map @allowed4 return (also @host4 by saddr . daddr, @range4)
 *       ip saddr @audit4 limit name ip saddr map @lograte4 log prefix "W:"
 *       ip saddr @audit4 counter name ip saddr map @dropped4 return
 *       limit name ip saddr map @lograte4 log prefix "D:"
 *       counter name ip saddr map @dropped4 drop
 *       (the same for IPv6), then rate-limited NFLOG "D:unknown"; counter "unknown"; drop
 * With the DNS proxy (rs->dns_port): a nat chain dns (prerouting, dstnat - 10) redirects
 * UDP and TCP port 53 from @proxied4/6 sources to the proxy's port; police_in lets those
 * redirected packets in; dispatch lets a flow the proxy learned go on (ct mark) and allows
 * saddr . daddr . l4proto . th dport in @learned4/6 (@anylearned4/6), marking the flow.
 * A container owns only its counters a_<key>, d_<key> and its log limit l_<key>; its
 * destinations are elements of the shared sets under each of its source addresses (see
 * nft.c for why). Everything is plain nft syntax: `nft list` shows it, `nft -f` loads it.
 * Nothing in the table accepts: an accept would not override Docker's own rules anyway.
 */
#ifndef VW_NFT_H
#define VW_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnwall/genwatch.h"

struct vw_loop;
struct vw_nft;
struct vw_plan;

#define VW_NFT_KEY_SIZE 17 /* VW_KEY_LEN + 1 */
#define VW_NFT_TAG_MAX 100 /* longest table tag */
#define VW_KEY_SPOOFED "spoofed" /* the counter of packets whose source fails the check */

/* vw_nft_new - open a netlink socket for table @table (family inet), tagged @tag. */
int vw_nft_new(const char *table, const char *tag, struct vw_nft **ret_nft);

/* vw_nft_free - close; the table stays in the kernel. Accepts NULL. */
void vw_nft_free(struct vw_nft *n);

/*
 * vw_nft_apply - commit @plan as one transaction: either all of it takes effect or none.
 * Returns 0, or the kernel's -errno for the first failing message (logged at debug level
 * with the operation that caused it).
 */
int vw_nft_apply(struct vw_nft *n, const struct vw_plan *plan);

/*
 * vw_nft_learn - one transaction: delete the learned elements @del (absent ones are fine:
 * they may have expired) and add @add with their timeouts. An element deleted and added
 * again in one go gets its new timeout on every kernel. 0 once the kernel holds them, or
 * -errno (then nothing changed). Needs Linux 6.3 (NFT_MSG_DESTROYSETELEM).
 */
struct vw_learned_elem;
int vw_nft_learn(struct vw_nft *n, const struct vw_learned_elem *del, size_t n_del,
		 const struct vw_learned_elem *add, size_t n_add);

/*
 * vw_nft_render - the netlink messages vw_nft_apply() would send for @plan, without
 * sending them (for tests: parse them back with libnftnl). *ret_buf is malloc'd.
 */
int vw_nft_render(const char *table, const char *tag, const struct vw_plan *plan, void **ret_buf,
		  size_t *ret_len);

/*
 * vw_nft_table_tag - whether our table exists, its tag and whether it is dormant (enforcing
 * nothing): 0 with the tag in @buf ("" when it has none), -ENOENT when there is no table,
 * or another -errno.
 */
int vw_nft_table_tag(struct vw_nft *n, char *buf, size_t size, bool *ret_dormant);

/* vw_nft_delete_table - remove our table and everything in it; -ENOENT if absent. */
int vw_nft_delete_table(struct vw_nft *n);

/* Called when someone else changed our table (or may have); @what names the change. */
typedef void (*vw_nft_change_fn)(void *ud, const char *what);

/*
 * vw_nft_monitor - watch nf_tables change notifications and report changes to our table
 * made by any other process (a flush, `nft flush ruleset`, a firewall reload), including
 * ones whose notifications were lost.
 */
int vw_nft_monitor(struct vw_nft *n, struct vw_loop *loop, vw_nft_change_fn cb, void *ud);

/* What one buffer of nf_tables notifications says. */
struct vw_nft_notes {
	const char *changed; /* the first change to @table by another socket, or NULL */
	uint32_t gens[64]; /* NEWGEN generations, in order */
	bool gen_own[64]; /* ...committed through @self_portid (by us) */
	size_t n_gens;
	bool gens_truncated; /* more NEWGEN messages than fit */
};

/*
 * vw_nft_parse_notifications - parse a buffer read from an NFNLGRP_NFTABLES socket.
 * Messages sent by @self_portid (our own commits) never count as changes. Pure, for fuzzing.
 */
void vw_nft_parse_notifications(const void *buf, size_t len, const char *table,
				uint32_t self_portid, struct vw_nft_notes *ret);

struct vw_nft_counter {
	char key[VW_NFT_KEY_SIZE]; /* container key, VW_KEY_UNKNOWN or VW_KEY_SPOOFED */
	bool drop; /* the drop counter (else the allow counter) */
	uint64_t packets;
	uint64_t bytes;
};

/*
 * vw_nft_counters - dump our table's counters: per container, and the unknown-source and
 * spoofed-source ones. *ret is a malloc'd array owned by the caller. Returns the number of
 * counters or -errno.
 */
int vw_nft_counters(struct vw_nft *n, struct vw_nft_counter **ret);

#endif
