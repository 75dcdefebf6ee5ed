// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Prometheus text format helpers and drop bookkeeping.
 */
#include "vpnwall/metrics.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/hashmap.h"
#include "vpnwall/util.h"

void vw_metrics_family(struct vw_buf *b, const char *name, const char *type, const char *help)
{
	vw_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void vw_metrics_escape(struct vw_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			vw_buf_append(b, "\\\\", 2);
		else if (*s == '"')
			vw_buf_append(b, "\\\"", 2);
		else if (*s == '\n')
			vw_buf_append(b, "\\n", 2);
		else
			vw_buf_append(b, s, 1);
	}
}

/* The shortest %g text that reads back as exactly @v (Prometheus values are float64). */
static const char *shortest(double v, char *buf, size_t size)
{
	for (int prec = 6; prec < 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return buf;
	}
	snprintf(buf, size, "%.17g", v);
	return buf;
}

static void value(struct vw_buf *b, double v)
{
	char buf[40];

	if (isnan(v))
		vw_buf_printf(b, "NaN");
	else if (isinf(v))
		vw_buf_printf(b, "%s", v > 0 ? "+Inf" : "-Inf");
	/* Range first: converting a negative or huge double to an integer is undefined. */
	else if (v >= 0 && v < 9007199254740992.0 && v == floor(v))
		vw_buf_printf(b, "%llu", (unsigned long long)v);
	else
		vw_buf_printf(b, "%s", shortest(v, buf, sizeof(buf)));
}

void vw_metrics_sample(struct vw_buf *b, const char *name, const char *const *labels, double v)
{
	vw_buf_printf(b, "%s", name);
	if (labels && labels[0]) {
		vw_buf_append(b, "{", 1);
		for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
			vw_buf_printf(b, "%s%s=\"", i ? "," : "", labels[i]);
			vw_metrics_escape(b, labels[i + 1]);
			vw_buf_append(b, "\"", 1);
		}
		vw_buf_append(b, "}", 1);
	}
	vw_buf_append(b, " ", 1);
	value(b, v);
	vw_buf_append(b, "\n", 1);
}

void vw_histogram_init(struct vw_histogram *h, const double *bounds, size_t n_bounds,
		       uint64_t *buckets)
{
	*h = (struct vw_histogram){ .bounds = bounds, .n_bounds = n_bounds, .buckets = buckets };
}

void vw_histogram_observe(struct vw_histogram *h, double v)
{
	size_t i = 0;

	while (i < h->n_bounds && v > h->bounds[i])
		i++;
	h->buckets[i]++;
	h->count++;
	h->sum += v;
}

void vw_metrics_histogram(struct vw_buf *b, const char *name, const struct vw_histogram *h)
{
	char metric[128], le[32];
	uint64_t cum = 0;

	snprintf(metric, sizeof(metric), "%s_bucket", name);
	for (size_t i = 0; i <= h->n_bounds; i++) {
		const char *labels[] = { "le", le, NULL };

		cum += h->buckets[i];
		if (i < h->n_bounds)
			snprintf(le, sizeof(le), "%g", h->bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		vw_metrics_sample(b, metric, labels, (double)cum);
	}
	snprintf(metric, sizeof(metric), "%s_sum", name);
	vw_metrics_sample(b, metric, NULL, h->sum);
	snprintf(metric, sizeof(metric), "%s_count", name);
	vw_metrics_sample(b, metric, NULL, (double)h->count);
}

const char *vw_proto_name(uint8_t proto, char buf[4])
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	case IPPROTO_SCTP:
		return "sctp";
	default:
		snprintf(buf, 4, "%u", proto);
		return buf;
	}
}

/*
 * Per-container rows. Each row is its own allocation: the index and the insertion-order
 * list point into it, so it must not move while listed, and forgetting one container must
 * not shift the others (as compacting an array would, forcing a re-index).
 */
static struct vw_metrics_row *row_find(const struct vw_metrics_rows *t, const char *key)
{
	for (struct vw_hnode *n = vw_hmap_first(&t->by_key, vw_hash_str(key)); n;
	     n = vw_hmap_next(n)) {
		struct vw_metrics_row *row = vw_container_of(n, struct vw_metrics_row, node);

		if (strcmp(row->key, key) == 0)
			return row;
	}
	return NULL;
}

/* The row of @key, or a zeroed one of @size bytes (starting with the row) added for it. */
static int row_get(struct vw_metrics_rows *t, const char *key, size_t size,
		   struct vw_metrics_row **ret)
{
	struct vw_metrics_row *row = row_find(t, key);
	int r;

	if (row) {
		*ret = row;
		return 0;
	}
	if (strlen(key) >= sizeof(row->key))
		return -EINVAL;
	if (t->n >= VW_DROP_CONTAINERS_MAX)
		return -ENOBUFS;
	row = calloc(1, size);
	if (!row)
		return -ENOMEM;
	memcpy(row->key, key, strlen(key) + 1);
	r = vw_hmap_add(&t->by_key, &row->node, vw_hash_str(key));
	if (r < 0) {
		free(row);
		return r;
	}
	row->prev = t->last;
	if (t->last)
		t->last->next = row;
	else
		t->first = row;
	t->last = row;
	t->n++;
	*ret = row;
	return 0;
}

/* Unlink @row; the caller frees it. */
static void row_del(struct vw_metrics_rows *t, struct vw_metrics_row *row)
{
	vw_hmap_del(&t->by_key, &row->node);
	if (row->prev)
		row->prev->next = row->next;
	else
		t->first = row->next;
	if (row->next)
		row->next->prev = row->prev;
	else
		t->last = row->prev;
	t->n--;
}

static void drop_entry_free(struct vw_drops *t, struct vw_drop_entry *e)
{
	row_del(&t->rows, &e->row);
	free(e->dests);
	free(e);
}

int vw_drops_record(struct vw_drops *t, const char *key, const char *container, const char *dest,
		    uint16_t port, uint8_t proto)
{
	struct vw_metrics_row *row;
	struct vw_drop_entry *e;
	struct vw_drop_dest *d;
	int r;

	r = row_get(&t->rows, key, sizeof(*e), &row);
	if (r < 0)
		return r;
	e = vw_container_of(row, struct vw_drop_entry, row);
	(void)vw_strscpy(e->container, container, sizeof(e->container));
	/* Linear, but bounded by VW_DROP_DESTS_MAX. */
	for (size_t i = 0; i < e->n_dests; i++) {
		d = &e->dests[i];
		if (d->port == port && d->proto == proto && strcmp(d->dest, dest) == 0) {
			d->count++;
			return VW_DROP_REPEAT;
		}
	}
	if (e->n_dests >= VW_DROP_DESTS_MAX) {
		e->other++;
		return e->other == 1 ? VW_DROP_OVERFLOW : VW_DROP_REPEAT;
	}
	d = reallocarray(e->dests, e->n_dests + 1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	e->dests = d;
	d = &e->dests[e->n_dests++];
	*d = (struct vw_drop_dest){ .port = port, .proto = proto, .count = 1 };
	(void)vw_strscpy(d->dest, dest, sizeof(d->dest));
	return VW_DROP_FIRST;
}

const struct vw_drop_entry *vw_drops_get(const struct vw_drops *t, const char *key)
{
	struct vw_metrics_row *row = row_find(&t->rows, key);

	return row ? vw_container_of(row, struct vw_drop_entry, row) : NULL;
}

void vw_drops_forget_key(struct vw_drops *t, const char *key)
{
	struct vw_metrics_row *row = row_find(&t->rows, key);

	if (row)
		drop_entry_free(t, vw_container_of(row, struct vw_drop_entry, row));
}

void vw_drops_forget(struct vw_drops *t, bool (*keep)(const char *key, void *ud), void *ud)
{
	struct vw_metrics_row *row, *next;

	for (row = t->rows.first; row; row = next) {
		next = row->next;
		if (!keep(row->key, ud))
			drop_entry_free(t, vw_container_of(row, struct vw_drop_entry, row));
	}
}

void vw_drops_done(struct vw_drops *t)
{
	while (t->rows.first)
		drop_entry_free(t, vw_container_of(t->rows.first, struct vw_drop_entry, row));
	vw_hmap_done(&t->rows.by_key);
}

static void total_free(struct vw_totals *t, struct vw_total *e)
{
	row_del(&t->rows, &e->row);
	free(e);
}

void vw_totals_begin(struct vw_totals *t)
{
	for (struct vw_metrics_row *row = t->rows.first; row; row = row->next)
		vw_container_of(row, struct vw_total, row)->present = false;
}

static uint64_t delta(uint64_t *last, uint64_t now)
{
	uint64_t d = now >= *last ? now - *last : now;

	*last = now;
	return d;
}

int vw_totals_update(struct vw_totals *t, const char *key, const char *container, bool drop,
		     bool audit, uint64_t pkts, uint64_t bytes)
{
	enum vw_action a = !drop   ? VW_ACTION_ACCEPTED
			   : audit ? VW_ACTION_WOULD_DROP
				   : VW_ACTION_DROPPED;
	struct vw_metrics_row *row;
	struct vw_total *e;
	int r;

	r = row_get(&t->rows, key, sizeof(*e), &row);
	if (r < 0)
		return r;
	e = vw_container_of(row, struct vw_total, row);
	(void)vw_strscpy(e->container, container, sizeof(e->container));
	e->present = true;
	e->pkts[a] += delta(&e->last_pkts[drop], pkts);
	e->bytes[a] += delta(&e->last_bytes[drop], bytes);
	return 0;
}

void vw_totals_end(struct vw_totals *t)
{
	struct vw_metrics_row *row, *next;

	for (row = t->rows.first; row; row = next) {
		struct vw_total *e = vw_container_of(row, struct vw_total, row);

		next = row->next;
		if (!e->present)
			total_free(t, e);
	}
}

const struct vw_total *vw_totals_get(const struct vw_totals *t, const char *key)
{
	struct vw_metrics_row *row = row_find(&t->rows, key);

	return row ? vw_container_of(row, struct vw_total, row) : NULL;
}

void vw_totals_forget(struct vw_totals *t, const char *key)
{
	struct vw_metrics_row *row = row_find(&t->rows, key);

	if (row)
		total_free(t, vw_container_of(row, struct vw_total, row));
}

void vw_totals_render(struct vw_buf *b, const struct vw_totals *t)
{
	static const char *const actions[VW_ACTION_N] = { "accepted", "dropped", "would_drop" };

	for (int bytes = 0; bytes < 2; bytes++) {
		const char *name = bytes ? "vpnwall_bytes_total" : "vpnwall_packets_total";

		vw_metrics_family(
			b, name, "counter",
			bytes ? "Bytes sent by managed containers out of their network, by verdict."
			      : "Packets sent by managed containers out of their network, by verdict.");
		for (const struct vw_metrics_row *row = t->rows.first; row; row = row->next) {
			const struct vw_total *e = vw_container_of(row, struct vw_total, row);

			for (int a = 0; a < VW_ACTION_N; a++) {
				const char *labels[] = { "container", e->container, "action",
							 actions[a], NULL };

				vw_metrics_sample(b, name, labels,
						  (double)(bytes ? e->bytes[a] : e->pkts[a]));
			}
		}
	}
}

void vw_totals_done(struct vw_totals *t)
{
	while (t->rows.first)
		total_free(t, vw_container_of(t->rows.first, struct vw_total, row));
	vw_hmap_done(&t->rows.by_key);
}

/* From 20 µs (a cached answer on the host) to 5 s (an upstream retried). */
static const double dnsq_bounds[VW_DNSQ_BUCKETS] = { 0.00002, 0.00005, 0.0001, 0.00025, 0.0005,
						     0.001,   0.0025,  0.005,  0.01,	0.025,
						     0.05,    0.1,     1,      5 };

void vw_dnsq_stats_init(struct vw_dnsq_stats *s)
{
	*s = (struct vw_dnsq_stats){ 0 };
	vw_histogram_init(&s->latency, dnsq_bounds, VW_DNSQ_BUCKETS, s->buckets);
}

void vw_dnsq_stats_count(struct vw_dnsq_stats *s, const char *key, const char *container,
			 enum vw_dnsq_result r, bool answered, uint64_t ns)
{
	struct vw_metrics_row *row;

	if (answered)
		vw_histogram_observe(&s->latency, (double)ns / 1e9);
	if (row_get(&s->rows, key ? key : "unknown", sizeof(struct vw_dnsq_row), &row) < 0)
		return;
	struct vw_dnsq_row *e = vw_container_of(row, struct vw_dnsq_row, row);

	(void)vw_strscpy(e->container, key && container ? container : "(unknown)",
			 sizeof(e->container));
	e->n[r]++;
}

void vw_dnsq_stats_forget(struct vw_dnsq_stats *s, const char *key)
{
	struct vw_metrics_row *row = row_find(&s->rows, key);

	if (row) {
		row_del(&s->rows, row);
		free(vw_container_of(row, struct vw_dnsq_row, row));
	}
}

void vw_dnsq_stats_render(struct vw_buf *b, const struct vw_dnsq_stats *s)
{
	static const char *const results[VW_DNSQ_RESULT_N] = { "allowed", "refused", "audited",
							       "dropped", "failed" };
	const char *name = "vpnwall_dns_queries_total";

	vw_metrics_family(b, name, "counter",
			  "Queries the DNS proxy got from containers, by what became of them.");
	for (const struct vw_metrics_row *row = s->rows.first; row; row = row->next) {
		const struct vw_dnsq_row *e = vw_container_of(row, struct vw_dnsq_row, row);

		for (int r = 0; r < VW_DNSQ_RESULT_N; r++) {
			const char *labels[] = { "container", e->container, "verdict", results[r],
						 NULL };

			vw_metrics_sample(b, name, labels, (double)e->n[r]);
		}
	}
	vw_metrics_family(
		b, "vpnwall_dns_proxy_seconds", "histogram",
		"Time from a container's query to the proxy's answer, upstream included.");
	vw_metrics_histogram(b, "vpnwall_dns_proxy_seconds", &s->latency);
}

void vw_dnsq_stats_done(struct vw_dnsq_stats *s)
{
	while (s->rows.first) {
		struct vw_metrics_row *row = s->rows.first;

		row_del(&s->rows, row);
		free(vw_container_of(row, struct vw_dnsq_row, row));
	}
	vw_hmap_done(&s->rows.by_key);
}

void vw_drops_render(struct vw_buf *b, const struct vw_drops *t)
{
	const char *name = "vpnwall_dropped_destinations_total";

	vw_metrics_family(
		b, name, "counter",
		"Audited drops (rate-limited sample) by destination: the name it resolved from when known, else the address.");
	for (const struct vw_metrics_row *row = t->rows.first; row; row = row->next) {
		const struct vw_drop_entry *e = vw_container_of(row, struct vw_drop_entry, row);
		char port[8], pbuf[4];

		for (size_t k = 0; k < e->n_dests; k++) {
			const char *labels[] = {
				"container",   e->container,
				"destination", e->dests[k].dest,
				"port",	       port,
				"protocol",    vw_proto_name(e->dests[k].proto, pbuf),
				NULL
			};

			snprintf(port, sizeof(port), "%u", e->dests[k].port);
			vw_metrics_sample(b, name, labels, (double)e->dests[k].count);
		}
		if (e->other) {
			const char *labels[] = { "container", e->container, "destination",
						 "other",     "port",	    "other",
						 "protocol",  "other",	    NULL };

			vw_metrics_sample(b, name, labels, (double)e->other);
		}
	}
}

static const char *const event_actions[VW_EVENT_ACTIONS] = { "start",	"die",	      "destroy",
							     "rename",	"update",     "restart",
							     "connect", "disconnect", "create",
							     "other" };

static const double update_bounds[VW_UPDATE_BUCKETS] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
							 0.05,	 0.1,	0.25,	0.5,   1,    2.5 };

/* Fine at the low end, where a one-container change should land (the target is 2 ms). */
static const double latency_bounds[VW_LATENCY_BUCKETS] = {
	0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075,
	0.01,	0.015,	0.02,	0.03,	0.05,	 0.075, 0.1,	0.25,  0.5,   1,     5
};

void vw_stats_init(struct vw_stats *s)
{
	*s = (struct vw_stats){ 0 };
	vw_histogram_init(&s->update_duration, update_bounds, VW_UPDATE_BUCKETS, s->update_buckets);
	vw_histogram_init(&s->event_to_commit, latency_bounds, VW_LATENCY_BUCKETS,
			  s->latency_buckets);
}

void vw_stats_count_event(struct vw_stats *s, const char *action)
{
	size_t i = 0;

	while (i < VW_EVENT_ACTIONS - 1 && strcmp(action, event_actions[i]) != 0)
		i++;
	s->events[i]++;
}

/* A family of one sample without labels. */
static void single(struct vw_buf *b, const char *name, const char *type, const char *help, double v)
{
	vw_metrics_family(b, name, type, help);
	vw_metrics_sample(b, name, NULL, v);
}

static void gauge(struct vw_buf *b, const char *name, const char *help, double v)
{
	single(b, name, "gauge", help, v);
}

char *vw_metrics_render(const struct vw_metrics_view *v)
{
	static const char *const dns_results[VW_DNS_RESULT_N] = { "success", "no_data", "failure" };
	const struct vw_stats *st = v->stats;
	struct vw_buf b = { 0 };
	const char *name;

	vw_totals_render(&b, v->totals);
	vw_drops_render(&b, v->drops);
	if (v->dnsq)
		vw_dnsq_stats_render(&b, v->dnsq);
	gauge(&b, "vpnwall_managed_containers", "Containers policed by their own chain.",
	      (double)v->managed);

	name = "vpnwall_docker_events_total";
	vw_metrics_family(&b, name, "counter", "Docker events received, by action.");
	for (size_t i = 0; i < VW_EVENT_ACTIONS; i++) {
		const char *labels[] = { "action", event_actions[i], NULL };

		vw_metrics_sample(&b, name, labels, (double)st->events[i]);
	}

	name = "vpnwall_ruleset_updates_total";
	vw_metrics_family(&b, name, "counter", "nftables transactions, by result.");
	vw_metrics_sample(&b, name, (const char *const[]){ "result", "success", NULL },
			  (double)st->updates_ok);
	vw_metrics_sample(&b, name, (const char *const[]){ "result", "failure", NULL },
			  (double)st->updates_failed);

	single(&b, "vpnwall_flows_revoked_total", "counter",
	       "Established flows (conntrack entries) deleted because their container's policy "
	       "no longer allows them.",
	       (double)st->flows_revoked);

	name = "vpnwall_ruleset_update_duration_seconds";
	vw_metrics_family(&b, name, "histogram", "Time to commit one nftables transaction.");
	vw_metrics_histogram(&b, name, &st->update_duration);

	name = "vpnwall_event_to_commit_seconds";
	vw_metrics_family(
		&b, name, "histogram",
		"Time from a Docker event about a container to the commit that enforces its outcome.");
	vw_metrics_histogram(&b, name, &st->event_to_commit);

	name = "vpnwall_label_errors_total";
	vw_metrics_family(
		&b, name, "counter",
		"Rejected label entries of running containers (each rejection counted when seen).");
	for (size_t i = 0; i < v->n_label_errors; i++) {
		const char *labels[] = { "container", v->label_errors[i].name, NULL };

		vw_metrics_sample(&b, name, labels, (double)v->label_errors[i].n);
	}

	name = "vpnwall_dns_resolutions_total";
	vw_metrics_family(&b, name, "counter", "Lookups of names used in policies, by result.");
	for (int i = 0; i < VW_DNS_RESULT_N; i++) {
		const char *labels[] = { "result", dns_results[i], NULL };

		vw_metrics_sample(&b, name, labels, (double)st->dns[i]);
	}

	name = "vpnwall_audit_packets_total";
	vw_metrics_family(&b, name, "counter",
			  "Dropped packets received through NFLOG for the audit.");
	vw_metrics_sample(&b, name, NULL, (double)st->audited);
	name = "vpnwall_audit_lost_total";
	vw_metrics_family(&b, name, "counter", "Audit messages the kernel could not deliver.");
	vw_metrics_sample(&b, name, NULL, (double)v->audit_lost);

	name = "vpnwall_spoofed_packets_total";
	vw_metrics_family(
		&b, name, "counter",
		"Packets from a bridge whose source address is not routable back through it.");
	vw_metrics_sample(&b, name, NULL, (double)v->spoofed);
	name = "vpnwall_docker_rejected_containers_total";
	vw_metrics_family(
		&b, name, "counter",
		"Containers whose description exceeded a cap: not tracked, their traffic is dropped.");
	vw_metrics_sample(&b, name, NULL, (double)v->rejected);
	gauge(&b, "vpnwall_isolated_containers",
	      "Managed containers that reach nothing: their policy exceeds a limit or the kernel refused it.",
	      (double)v->isolated);

	gauge(&b, "vpnwall_resolved_names", "Names used by policies.", (double)v->names);
	gauge(&b, "vpnwall_ready", "1 when Docker is synced and the ruleset applied.", v->ready);
	gauge(&b, "vpnwall_docker_synced", "1 while the Docker events stream is up and synced.",
	      v->synced);
	if (v->vpn_interface && v->vpn_interface[0]) {
		name = "vpnwall_vpn_up";
		vw_metrics_family(&b, name, "gauge",
				  "1 while an interface matching VPN_INTERFACE is up; else managed "
				  "containers reach only their LAN.");
		vw_metrics_sample(&b, name,
				  (const char *const[]){ "interface", v->vpn_interface, NULL },
				  v->vpn_up);
	}

	name = "vpnwall_build_info";
	vw_metrics_family(&b, name, "gauge", "Build information.");
	vw_metrics_sample(&b, name, (const char *const[]){ "version", v->version, NULL }, 1);

	if (b.oom) {
		vw_buf_done(&b);
		return NULL;
	}
	return b.p;
}
