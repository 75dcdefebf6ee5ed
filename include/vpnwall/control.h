/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the HTTP endpoints answer: /metrics, /healthz, /readyz on the metrics listener and
 * the control API (/v1/status, /v1/containers, /v1/explain) on its socket. The daemon lends
 * a read-only view of its state for one request; nothing here changes it. Explanations come
 * from the applied ruleset, the data the kernel enforces.
 */
#ifndef VW_CONTROL_H
#define VW_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "vpnwall/api.h"

struct vw_config;
struct vw_drops;
struct vw_http_request;
struct vw_http_response;
struct vw_names;
struct vw_reconcile;
struct vw_stats;
struct vw_store;
struct vw_totals;

struct vw_dnsq_stats;
struct vw_learner;

struct vw_control {
	const struct vw_config *cfg;
	const struct vw_learner *learner; /* the DNS proxy's, or NULL */
	const struct vw_dnsq_stats *dnsq; /* NULL without the DNS proxy */
	const struct vw_store *store;
	const struct vw_names *names;
	const struct vw_reconcile *rc; /* its applied ruleset is what the kernel holds */
	const struct vw_stats *stats;
	const struct vw_totals *totals;
	const struct vw_drops *drops;
	bool ready;
	bool synced;
	const char *not_ready; /* why not ready, or "" */
	const char *docker_api; /* negotiated API version */
	uint64_t rejected; /* container descriptions over the cap */
	uint64_t audit_lost;
	bool audit_active;
	uint64_t spoofed;
	bool vpn_up; /* with a VPN_INTERFACE: one matching it is up */
	const char *vpn_link; /* that interface, or "" */
	uint64_t started_ms;
	struct vw_status_endpoint endpoints[3];
	void (*refresh)(void *ud); /* before /metrics: fold the kernel's counters in */
	uint64_t (*label_errors)(void *ud, const char *id); /* rejected entries counted */
	void *ud;
};

/* vw_control_handle - answer GET @path (@api: through the control socket). */
void vw_control_handle(const struct vw_control *ctl, const struct vw_http_request *req,
		       const char *path, bool api, struct vw_http_response *ret);

#endif
