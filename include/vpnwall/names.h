/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cache of domain names that policies refer to: for each name and address family, the
 * current addresses and when to ask again. Pure: time is passed in, queries are made by the
 * caller (the dns module) and their answers fed back here. Refresh follows the answer's TTL
 * clamped to [ttl_min, ttl_max]; a transient failure keeps the last addresses (for at most
 * an hour past their TTL) and retries with backoff; an authoritative "no such name/no data"
 * removes them. Lookups by name and by address are hashed, and the next refresh comes from a
 * min-heap, so that no operation on the query or packet path scans every name.
 */
#ifndef VW_NAMES_H
#define VW_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnwall/hashmap.h"
#include "vpnwall/labels.h"

#define VW_NAMES_MAX 4096 /* distinct names over all containers */
#define VW_NAME_ADDRS_MAX 64 /* addresses kept per name and family */

enum vw_dns_status {
	VW_DNS_OK, /* addresses (possibly none) with a TTL */
	VW_DNS_NONE, /* NXDOMAIN or no data for this family: authoritative, no addresses */
	VW_DNS_FAIL, /* timeout, SERVFAIL, refused, unreachable: keep what we had */
};

struct vw_name_answer {
	uint8_t (*addrs)[16]; /* sorted, unique; IPv4 in the first 4 bytes */
	size_t n;
	bool known; /* an answer (OK or NONE) arrived at least once */
	bool in_flight; /* a query is outstanding */
	unsigned failures; /* consecutive failures, for backoff */
	uint64_t refresh_at; /* ms, monotonic: when to query again */
	uint64_t expires_at; /* ms: when the last answer's TTL runs out (for display) */
};

struct vw_name {
	char name[VW_DOMAIN_MAX + 1];
	bool wanted; /* some policy uses it (maintained by vw_names_begin/want/sweep) */
	struct vw_name_answer fam[2]; /* [0] IPv4 (A), [1] IPv6 (AAAA) */
};

struct vw_names_entry;
struct vw_names_timer;

struct vw_names {
	struct vw_hmap by_name; /* entries by name */
	struct vw_hmap by_addr; /* reverse index: each (family, address) answered, its names */
	struct vw_names_entry *all; /* list of every entry, for marking and sweeping */
	struct vw_names_timer *heap; /* (name, family) not in flight: a min-heap by refresh_at */
	size_t n_heap;
	size_t cap_heap;
	uint64_t seq; /* refreshes due at the same time go in the order they were scheduled */
	size_t n; /* names cached */
	unsigned ttl_min; /* seconds */
	unsigned ttl_max; /* seconds */
};

/* vw_names_init - an empty cache with TTL bounds in seconds. */
void vw_names_init(struct vw_names *ns, unsigned ttl_min, unsigned ttl_max);

/* vw_names_done - free the cache. */
void vw_names_done(struct vw_names *ns);

/* vw_names_begin - start a marking pass: every name becomes unwanted until wanted again. */
void vw_names_begin(struct vw_names *ns);

/*
 * vw_names_want - mark @name wanted, adding it (due now) if new. -ENOBUFS at the cap,
 * -EINVAL for a name longer than VW_DOMAIN_MAX, -ENOMEM.
 */
int vw_names_want(struct vw_names *ns, const char *name, uint64_t now);

/* vw_names_sweep - drop names nobody wanted since vw_names_begin(). Returns how many. */
size_t vw_names_sweep(struct vw_names *ns);

/* vw_names_forget - drop @name now (nobody uses it any more); false if it was not cached. */
bool vw_names_forget(struct vw_names *ns, const char *name);

/* vw_names_get - the entry for @name, or NULL. Borrowed until the name is swept. */
const struct vw_name *vw_names_get(const struct vw_names *ns, const char *name);

/*
 * vw_names_reverse - a name that currently resolves to @addr (4 or 16 bytes by @family), or
 * NULL. When several do, the one that has resolved to it the longest.
 */
const char *vw_names_reverse(const struct vw_names *ns, uint8_t family, const uint8_t *addr);

/*
 * vw_names_next_due - the first name and family (0 = A, 1 = AAAA) whose refresh is due at
 * @now and that has no query in flight; marks it in flight. Returns the entry or NULL.
 */
const struct vw_name *vw_names_next_due(struct vw_names *ns, uint64_t now, int *ret_fam);

/* vw_names_deadline - earliest refresh_at of a name not in flight; 0 if none. */
uint64_t vw_names_deadline(const struct vw_names *ns);

/*
 * vw_names_answer - record the result of a query for (@name, @fam). @addrs are
 * vw_addr_len()-byte addresses packed 16 bytes apart. Returns 1 if the addresses changed,
 * 0 if not (or the name is no longer cached), or -ENOMEM (the old addresses stay).
 */
int vw_names_answer(struct vw_names *ns, const char *name, int fam, enum vw_dns_status status,
		    const uint8_t (*addrs)[16], size_t n, unsigned ttl, uint64_t now);

#endif
