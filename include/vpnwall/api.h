/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Control API bodies: the daemon's state rendered as JSON (cJSON) for scripts or as text
 * for the CLI's human output. One function per resource; both formats come from the same
 * data so they cannot disagree. Every function returns a malloc'd NUL-terminated string or
 * NULL when out of memory.
 */
#ifndef VW_API_H
#define VW_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnwall/labels.h"
#include "vpnwall/learn.h"
#include "vpnwall/policy.h"

struct vw_config;
struct vw_explanation;
struct vw_names;

/* An endpoint enforcement does not depend on: it is retried until it works. */
struct vw_status_endpoint {
	const char *what; /* "metrics", "control API", "drop audit" */
	bool enabled; /* configured at all */
	bool up;
	const char *error; /* why not up, "" when up */
};

struct vw_status {
	const char *version;
	bool ready;
	char reason[256]; /* why not ready */
	struct vw_status_endpoint endpoints[3];
	size_t isolated; /* managed containers that reach nothing because of a limit */
	uint64_t rejected; /* containers not tracked: their description exceeded a cap */
	bool docker_synced;
	const char *docker_api; /* negotiated API version */
	bool ruleset_applied;
	uint64_t ruleset_updates; /* successful commits */
	uint64_t ruleset_failures;
	size_t containers; /* running containers known */
	size_t managed; /* with their own chain */
	size_t bridges;
	size_t names;
	const char *table;
	bool dry_run;
	const char *vpn_interface; /* VPN_INTERFACE, "" = no kill switch */
	bool vpn_up; /* an interface matching it is up */
	const char *vpn_link; /* that interface */
	uint16_t nflog_group; /* 0 = audit off */
	bool audit_active; /* the group is bound */
	uint64_t uptime_s;
};

#define VW_API_LEARNED_MAX 256 /* learned addresses shown per container */

struct vw_api_container {
	const struct vw_container *c;
	enum vw_managed state;
	bool audit; /* DRY_RUN or vpn.dryrun: counted, not dropped */
	const struct vw_container *const *sharers; /* containers in its network namespace */
	size_t n_sharers;
	const struct vw_container *owner; /* VW_JOINED: whose namespace (and policy), or NULL */
	const char *isolated; /* why it reaches nothing, or NULL */
	const char *note; /* a limit that cost it some entries, or NULL */
	const struct vw_learned_info *learned; /* what the DNS proxy learned for it */
	size_t n_learned;
};

char *vw_api_status(const struct vw_status *st, bool json);

/* vw_api_containers - every known container with its policy, names and errors. */
char *vw_api_containers(const struct vw_api_container *v, size_t n, const struct vw_config *cfg,
			const struct vw_names *names, uint64_t now, bool json);

/*
 * vw_api_explain - one container's policy, and the verdict for @query (text as given) when
 * @x is not NULL.
 */
char *vw_api_explain(const struct vw_api_container *c, const struct vw_config *cfg,
		     const struct vw_names *names, uint64_t now, const char *query,
		     const struct vw_explanation *x, bool json);

struct vw_label_check {
	const char *source; /* compose service, or NULL for labels given on the command line */
	struct vw_labels labels;
};

/* vw_api_check_labels - the result of an offline label check. */
char *vw_api_check_labels(const struct vw_label_check *v, size_t n, bool json);

/* vw_api_error - {"error": msg} or msg + newline. */
char *vw_api_error(const char *msg, bool json);

#endif
