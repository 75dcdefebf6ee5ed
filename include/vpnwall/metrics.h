/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Prometheus text exposition and the bookkeeping behind the metrics that are not plain
 * counters: the per-container table of dropped destinations (bounded: past a cap, further
 * destinations are folded into destination="other") and histograms. Pure.
 */
#ifndef VW_METRICS_H
#define VW_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnwall/hashmap.h"

struct vw_buf;

#define VW_DROP_DESTS_MAX 32 /* destination series per container before "other" */
#define VW_DROP_CONTAINERS_MAX 65536

/* vw_metrics_family - the HELP and TYPE lines of a metric family. */
void vw_metrics_family(struct vw_buf *b, const char *name, const char *type, const char *help);

/*
 * vw_metrics_sample - one sample line. @labels alternates names and values and ends with
 * NULL (or is NULL); values are escaped as the text format requires.
 */
void vw_metrics_sample(struct vw_buf *b, const char *name, const char *const *labels, double value);

/* vw_metrics_escape - append @s escaped for a label value (backslash, quote, newline). */
void vw_metrics_escape(struct vw_buf *b, const char *s);

struct vw_histogram {
	const double *bounds; /* upper bounds, ascending, without +Inf */
	size_t n_bounds;
	uint64_t *buckets; /* n_bounds + 1 cumulative-at-render counts (last is +Inf) */
	uint64_t count;
	double sum;
};

/* vw_histogram_init - bind @buckets (n_bounds + 1 zeroed slots) to @bounds. */
void vw_histogram_init(struct vw_histogram *h, const double *bounds, size_t n_bounds,
		       uint64_t *buckets);

/* vw_histogram_observe - record one value. */
void vw_histogram_observe(struct vw_histogram *h, double v);

/* vw_metrics_histogram - the _bucket, _sum and _count samples of @h (family line separate). */
void vw_metrics_histogram(struct vw_buf *b, const char *name, const struct vw_histogram *h);

/* vw_proto_name - "tcp", "udp", "icmp", "icmpv6", "sctp", or the number in @buf. */
const char *vw_proto_name(uint8_t proto, char buf[4]);

/*
 * A container's row in a per-container table: indexed by key for O(1) expected updates,
 * and listed in insertion order so that rendering is deterministic. Rows are allocated one
 * by one and never move while indexed (see lib/metrics.c).
 */
struct vw_metrics_row {
	struct vw_hnode node; /* in vw_metrics_rows.by_key */
	struct vw_metrics_row *prev, *next; /* insertion order */
	char key[17]; /* container key, or "unknown" */
};

struct vw_metrics_rows {
	struct vw_hmap by_key;
	struct vw_metrics_row *first, *last;
	size_t n;
};

struct vw_drop_dest {
	char dest[254]; /* name, address, or "other" */
	uint16_t port; /* 0 when the protocol has none */
	uint8_t proto;
	uint64_t count;
};

struct vw_drop_entry {
	struct vw_metrics_row row; /* first: row_get() allocates the whole entry through it */
	char container[128]; /* container name for the series */
	struct vw_drop_dest *dests; /* at most VW_DROP_DESTS_MAX, in order of first drop */
	size_t n_dests;
	uint64_t other; /* drops past VW_DROP_DESTS_MAX distinct destinations */
};

/* Dropped destinations per container; a zeroed struct is an empty table. */
struct vw_drops {
	struct vw_metrics_rows rows; /* of struct vw_drop_entry */
};

enum vw_drop_seen {
	VW_DROP_REPEAT, /* known (container, destination, port, protocol): count only */
	VW_DROP_FIRST, /* first time: worth a log line */
	VW_DROP_OVERFLOW, /* the container hit the cap: counted as "other" */
};

/*
 * vw_drops_record - count one audited drop. Returns a vw_drop_seen value, -ENOMEM,
 * -ENOBUFS past VW_DROP_CONTAINERS_MAX containers, or -EINVAL for a key over 16 characters.
 * The container name of an existing entry is updated (renames).
 */
int vw_drops_record(struct vw_drops *t, const char *key, const char *container, const char *dest,
		    uint16_t port, uint8_t proto);

/* vw_drops_get - the entry of container @key, or NULL. Borrowed until the next change. */
const struct vw_drop_entry *vw_drops_get(const struct vw_drops *t, const char *key);

/* vw_drops_forget_key - drop the series of container @key, if any. */
void vw_drops_forget_key(struct vw_drops *t, const char *key);

/* vw_drops_forget - drop the series of containers for which @keep(key) is false. */
void vw_drops_forget(struct vw_drops *t, bool (*keep)(const char *key, void *ud), void *ud);

/* vw_drops_done - free the table. */
void vw_drops_done(struct vw_drops *t);

/* Monotonic packet/byte totals per container, fed from nft counter reads. */
enum vw_action {
	VW_ACTION_ACCEPTED,
	VW_ACTION_DROPPED,
	VW_ACTION_WOULD_DROP,
	VW_ACTION_N,
};

struct vw_total {
	struct vw_metrics_row row; /* first: row_get() allocates the whole entry through it */
	char container[128]; /* series label */
	uint64_t last_pkts[2]; /* last read of the allow [0] and drop [1] counters */
	uint64_t last_bytes[2];
	uint64_t pkts[VW_ACTION_N]; /* totals since the daemon started */
	uint64_t bytes[VW_ACTION_N];
	bool present; /* seen in the current read */
};

/* Totals per container; a zeroed struct is an empty table. */
struct vw_totals {
	struct vw_metrics_rows rows; /* of struct vw_total */
};

/* vw_totals_begin - start a read: entries not updated before vw_totals_end() go away. */
void vw_totals_begin(struct vw_totals *t);

/*
 * vw_totals_update - one counter value. @drop: the drop counter (else the allow counter);
 * @audit: drops are only counted (would_drop). A value below the last read means the
 * counter was re-created: its whole value is new traffic. Returns 0, -ENOMEM, -ENOBUFS past
 * VW_DROP_CONTAINERS_MAX containers, or -EINVAL for a key over 16 characters.
 */
int vw_totals_update(struct vw_totals *t, const char *key, const char *container, bool drop,
		     bool audit, uint64_t pkts, uint64_t bytes);

/* vw_totals_end - forget containers whose counters are gone. */
void vw_totals_end(struct vw_totals *t);

/* vw_totals_get - the totals of container @key, or NULL. Borrowed until the next change. */
const struct vw_total *vw_totals_get(const struct vw_totals *t, const char *key);

/*
 * vw_totals_forget - drop the series of container @key, if any. A container seen again
 * later starts from its counters' values, as after vw_totals_end().
 */
void vw_totals_forget(struct vw_totals *t, const char *key);

/* vw_totals_render - the vpnwall_packets_total and vpnwall_bytes_total families. */
void vw_totals_render(struct vw_buf *b, const struct vw_totals *t);

/* vw_totals_done - free. */
void vw_totals_done(struct vw_totals *t);

/* vw_drops_render - the vpnwall_dropped_destinations_total family. */
void vw_drops_render(struct vw_buf *b, const struct vw_drops *t);

/* The DNS proxy's queries per container, by what became of them, and its latency. */
enum vw_dnsq_result {
	VW_DNSQ_ALLOWED, /* forwarded, answered, its addresses learned */
	VW_DNSQ_REFUSED, /* the container may not resolve that name: REFUSED or NXDOMAIN */
	VW_DNSQ_AUDITED, /* would have been refused, forwarded because the container is audited */
	VW_DNSQ_DROPPED, /* over the container's share of queries in flight: no answer */
	VW_DNSQ_FAILED, /* the upstream did not answer, or the answer could not be learned */
	VW_DNSQ_RESULT_N,
};

#define VW_DNSQ_BUCKETS 14

struct vw_dnsq_row {
	struct vw_metrics_row row; /* first: row_get() allocates the whole entry through it */
	char container[128];
	uint64_t n[VW_DNSQ_RESULT_N];
};

struct vw_dnsq_stats {
	struct vw_metrics_rows rows; /* of struct vw_dnsq_row, by container key */
	struct vw_histogram latency; /* seconds from a query to its answer, upstream included */
	uint64_t buckets[VW_DNSQ_BUCKETS + 1];
};

/* vw_dnsq_stats_init - empty tables, the histogram set up. */
void vw_dnsq_stats_init(struct vw_dnsq_stats *s);

/*
 * vw_dnsq_stats_count - one query of container @key (NULL: from no container's address)
 * named @container, that took @ns (observed when it was answered: @answered).
 */
void vw_dnsq_stats_count(struct vw_dnsq_stats *s, const char *key, const char *container,
			 enum vw_dnsq_result r, bool answered, uint64_t ns);

/* vw_dnsq_stats_forget - drop the series of container @key. */
void vw_dnsq_stats_forget(struct vw_dnsq_stats *s, const char *key);

/* vw_dnsq_stats_render - vpnwall_dns_queries_total and vpnwall_dns_proxy_seconds. */
void vw_dnsq_stats_render(struct vw_buf *b, const struct vw_dnsq_stats *s);

/* vw_dnsq_stats_done - free. */
void vw_dnsq_stats_done(struct vw_dnsq_stats *s);

/* The daemon's own counters. */
enum vw_dns_result { VW_DNS_RESULT_OK, VW_DNS_RESULT_NONE, VW_DNS_RESULT_FAIL, VW_DNS_RESULT_N };

#define VW_EVENT_ACTIONS 10 /* see vw_stats_count_event() */
#define VW_UPDATE_BUCKETS 12
#define VW_LATENCY_BUCKETS 22

struct vw_stats {
	uint64_t events[VW_EVENT_ACTIONS]; /* Docker events by action */
	uint64_t updates_ok; /* committed nft transactions */
	uint64_t updates_failed;
	struct vw_histogram update_duration; /* seconds per transaction */
	uint64_t update_buckets[VW_UPDATE_BUCKETS + 1];
	struct vw_histogram event_to_commit; /* seconds from a Docker event to its commit */
	uint64_t latency_buckets[VW_LATENCY_BUCKETS + 1];
	uint64_t dns[VW_DNS_RESULT_N]; /* lookups by result */
	uint64_t audited; /* NFLOG messages received */
	uint64_t flows_revoked; /* conntrack entries deleted because a policy tightened */
};

/* vw_stats_init - zero @s and set up its histogram. */
void vw_stats_init(struct vw_stats *s);

/* vw_stats_count_event - count a Docker event ("start", ...; others count as "other"). */
void vw_stats_count_event(struct vw_stats *s, const char *action);

struct vw_label_count {
	char id[65]; /* container id */
	char name[128]; /* series label */
	uint64_t n; /* rejected entries seen */
};

/* Everything /metrics shows, borrowed from the daemon for one rendering. */
struct vw_metrics_view {
	const struct vw_totals *totals;
	const struct vw_drops *drops;
	const struct vw_stats *stats;
	const struct vw_dnsq_stats *dnsq; /* NULL without the DNS proxy */
	const struct vw_label_count *label_errors;
	size_t n_label_errors;
	size_t managed; /* containers with their own chain */
	size_t names; /* names used by policies */
	uint64_t audit_lost;
	uint64_t spoofed; /* packets whose source failed the check, since the daemon started */
	uint64_t isolated; /* containers reaching nothing because of a limit or a refusal */
	uint64_t rejected; /* containers Docker described beyond our caps, not tracked */
	bool ready;
	bool synced;
	const char *vpn_interface; /* VPN_INTERFACE, or "" */
	bool vpn_up; /* an interface matching it is up */
	const char *version;
};

/* vw_metrics_render - the whole exposition; malloc'd, or NULL when out of memory. */
char *vw_metrics_render(const struct vw_metrics_view *v);

#endif
