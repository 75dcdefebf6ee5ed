// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Composition of the modules and the reconcile step. Nothing is applied until Docker has
 * been listed once: enforcing a guess would either open the firewall (an empty policy for
 * running containers is not "nothing allowed" if the previous table is replaced by one that
 * does not police their bridge) or break them. Until then the table a previous run left
 * behind keeps enforcing.
 */
#include "vpnwall/daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "vpnwall/api.h"
#include "vpnwall/config.h"
#include "vpnwall/dns.h"
#include "vpnwall/docker.h"
#include "vpnwall/dockermsg.h"
#include "vpnwall/explain.h"
#include "vpnwall/http.h"
#include "vpnwall/labels.h"
#include "vpnwall/log.h"
#include "vpnwall/loop.h"
#include "vpnwall/metrics.h"
#include "vpnwall/names.h"
#include "vpnwall/nflog.h"
#include "vpnwall/nft.h"
#include "vpnwall/policy.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/util.h"

#define VW_LOG_MODULE "daemon"

#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000
#define CONTAINERS_MAX 65536
#define UNKNOWN_CONTAINER "(unknown)"

struct vw_daemon {
	const struct vw_config *cfg;
	struct vw_loop *loop;
	struct vw_docker *docker;
	struct vw_dns *dns;
	struct vw_nft *nft;
	struct vw_io sig;
	bool stopping;

	struct vw_container *cs; /* running containers, as Docker last described them */
	size_t n_cs;
	size_t cap_cs;
	struct vw_network *nets;
	size_t n_nets;
	struct vw_names names;

	bool synced; /* Docker listed at least once since the last disconnect */
	unsigned down_reports; /* consecutive failures to reach Docker since the last sync */
	bool ever_synced;
	bool dirty; /* the desired state may differ from the applied one */
	bool have_applied; /* applied holds what we last committed (else it is empty) */
	bool full_replace; /* the kernel may differ from applied: replace the whole table */
	bool ready;
	struct vw_ruleset applied;
	uint64_t retry_at; /* a failed commit is retried at this time */
	unsigned retry_ms;

	struct vw_http *http;
	struct vw_nflog *nflog; /* NULL: audit off or unavailable */
	uint64_t started_ms;
	char not_ready[256]; /* why not ready, for /readyz */
	struct vw_stats stats;
	struct vw_totals totals;
	struct vw_drops drops;
	struct vw_label_count *errs; /* label errors seen, per container */
	size_t n_errs;
};

/* --- container store --------------------------------------------------------------------- */

static struct vw_container *find_container(struct vw_daemon *d, const char *id)
{
	for (size_t i = 0; i < d->n_cs; i++)
		if (strcmp(d->cs[i].id, id) == 0)
			return &d->cs[i];
	return NULL;
}

static void count_label_errors(struct vw_daemon *d, const struct vw_container *c)
{
	struct vw_label_count *e = NULL;

	if (c->labels.n_errors + c->labels.n_errors_dropped == 0)
		return;
	for (size_t i = 0; i < d->n_errs && !e; i++)
		if (strcmp(d->errs[i].id, c->id) == 0)
			e = &d->errs[i];
	if (!e) {
		e = reallocarray(d->errs, d->n_errs + 1, sizeof(*e));
		if (!e)
			return;
		d->errs = e;
		e = &d->errs[d->n_errs++];
		*e = (struct vw_label_count){ 0 };
		(void)vw_strscpy(e->id, c->id, sizeof(e->id));
	}
	(void)vw_strscpy(e->name, c->name, sizeof(e->name));
	e->n += c->labels.n_errors + c->labels.n_errors_dropped;
}

static void forget_label_errors(struct vw_daemon *d, const char *id)
{
	for (size_t i = 0; i < d->n_errs; i++)
		if (strcmp(d->errs[i].id, id) == 0) {
			d->errs[i] = d->errs[--d->n_errs];
			return;
		}
}

static void describe_labels(struct vw_daemon *d, const struct vw_container *c)
{
	count_label_errors(d, c);
	for (size_t i = 0; i < c->labels.n_errors; i++) {
		const struct vw_label_error *e = &c->labels.errors[i];

		log_warn("container '%s': label '%s' entry '%s': %s, ignoring", c->name, e->label,
			 e->token, e->reason);
	}
	if (c->labels.n_errors_dropped)
		log_warn("container '%s': %zu more rejected label entries not shown, ignoring",
			 c->name, c->labels.n_errors_dropped);
	if (c->host_network && (c->labels.n_outbound || c->labels.n_allow))
		log_warn(
			"container '%s' uses the host network: its traffic never crosses the forward hook, not managed",
			c->name);
	else if (c->labels.disabled)
		log_info("container '%s' opted out with vpn.enable=false: not managed", c->name);
}

/* Field by field: the bytes after each string's NUL are not part of the value. */
static bool same_errors(const struct vw_labels *a, const struct vw_labels *b)
{
	if (a->n_errors != b->n_errors || a->n_errors_dropped != b->n_errors_dropped)
		return false;
	for (size_t i = 0; i < a->n_errors; i++)
		if (strcmp(a->errors[i].label, b->errors[i].label) != 0 ||
		    strcmp(a->errors[i].token, b->errors[i].token) != 0 ||
		    a->errors[i].reason != b->errors[i].reason)
			return false;
	return true;
}

/* Traffic leaving through a network we do not police is not policed: say so. */
static void describe_networks(struct vw_daemon *d, const struct vw_container *c)
{
	if (vw_policy_state(c, d->nets, d->n_nets, d->cfg) != VW_MANAGED)
		return;
	for (size_t i = 0; i < c->n_eps; i++) {
		const struct vw_network *net =
			vw_network_find(d->nets, d->n_nets, c->eps[i].network_id);

		if (!vw_network_is_managed(net, d->cfg))
			log_warn(
				"container '%s' is also on network '%s', which vpnwall does not police: its traffic through it is not restricted",
				c->name, c->eps[i].network);
	}
}

/* Store @c (ownership moves) or drop the container when @c is NULL or not running. */
static void store_container(struct vw_daemon *d, const char *id, struct vw_container *c)
{
	struct vw_container *old = find_container(d, id);
	bool keep = c && c->running;

	if (keep && (!old || !same_errors(&old->labels, &c->labels) ||
		     old->labels.disabled != c->labels.disabled))
		describe_labels(d, c);
	if (keep && (!old || old->n_eps != c->n_eps))
		describe_networks(d, c);
	if (old) {
		if (keep) {
			log_debug("container '%s' updated", c->name);
		} else {
			log_info("container '%s' gone", old->name);
			forget_label_errors(d, old->id);
		}
		vw_container_done(old);
		if (keep) {
			*old = *c;
		} else {
			*old = d->cs[--d->n_cs];
			if (c)
				vw_container_done(c);
		}
	} else if (keep) {
		if (vw_grow((void **)&d->cs, &d->cap_cs, d->n_cs + 1, sizeof(*d->cs),
			    CONTAINERS_MAX) < 0) {
			/* Untracked means undispatched: its packets hit the unknown drop. */
			log_error("cannot track container '%s': more than %d containers", c->name,
				  CONTAINERS_MAX);
			vw_container_done(c);
			return;
		}
		log_info("container '%s' (%.12s) running", c->name, c->id);
		d->cs[d->n_cs++] = *c;
	} else if (c) {
		vw_container_done(c);
	}
	d->dirty = true;
}

static bool in_list(const struct vw_container *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0)
			return true;
	return false;
}

static void on_synced(void *ud, struct vw_container *cs, size_t n, struct vw_network *nets,
		      size_t n_nets)
{
	struct vw_daemon *d = ud;

	free(d->nets);
	d->nets = nets;
	d->n_nets = n_nets;
	/* Containers that vanished while we were away; the rest is compared, not re-announced. */
	for (size_t i = 0; i < d->n_cs;)
		if (in_list(cs, n, d->cs[i].id))
			i++;
		else
			store_container(d, d->cs[i].id, NULL);
	for (size_t i = 0; i < n; i++)
		store_container(d, cs[i].id, &cs[i]);
	free(cs);
	d->synced = d->ever_synced = true;
	d->down_reports = 0;
	d->dirty = true;
	/*
	 * A fresh snapshot replaces the whole table: whatever drifted while Docker was away
	 * (or before this process started) cannot survive a resync.
	 */
	d->full_replace = true;
}

static void on_container(void *ud, const char *id, struct vw_container *c)
{
	store_container(ud, id, c);
}

static void on_networks(void *ud, struct vw_network *nets, size_t n)
{
	struct vw_daemon *d = ud;

	free(d->nets);
	d->nets = nets;
	d->n_nets = n;
	d->dirty = true;
}

/* Everything Docker told us is void: every container falls to the unknown-source drop. */
static void forget_containers(struct vw_daemon *d)
{
	while (d->n_cs > 0)
		store_container(d, d->cs[0].id, NULL);
}

static void on_docker_state(void *ud, bool synced, const char *reason)
{
	struct vw_daemon *d = ud;

	d->synced = synced;
	/*
	 * The stream ended and reconnecting failed too: dockerd is down. Without live-restore
	 * its containers stopped with it, and the addresses they held can be handed to others
	 * before we see the new state, so nobody keeps an allowance until we resync.
	 */
	if (!synced && ++d->down_reports == 2 && d->n_cs > 0 &&
	    !vw_docker_live_restore(d->docker)) {
		log_warn(
			"Docker is down and live-restore is off: revoking the allowances of its %zu container(s) until it is back",
			d->n_cs);
		forget_containers(d);
	}
	if (!synced)
		snprintf(d->not_ready, sizeof(d->not_ready), "Docker unreachable: %s", reason);
	if (!synced && d->ready) {
		d->ready = false;
		log_warn("not ready: Docker unreachable (%s); the last applied rules stay in force",
			 reason);
	}
}

static void on_docker_event(void *ud, const struct vw_docker_event *ev)
{
	struct vw_daemon *d = ud;
	struct vw_container *c;

	vw_stats_count_event(&d->stats, ev->action);
	if (ev->kind != VW_EV_CONTAINER)
		return;
	c = find_container(d, ev->id);
	if (!c)
		return;
	/*
	 * Revocations take effect now, not after the inspect queued behind other work: the
	 * address may be handed to another container at any moment.
	 */
	if (strcmp(ev->action, "die") == 0 || strcmp(ev->action, "destroy") == 0) {
		store_container(d, ev->id, NULL);
	} else if (strcmp(ev->action, "disconnect") == 0) {
		for (size_t k = 0; k < c->n_eps;)
			if (strcmp(c->eps[k].network_id, ev->network_id) == 0)
				c->eps[k] = c->eps[--c->n_eps];
			else
				k++;
		d->dirty = true;
	}
}

static const struct vw_docker_ops docker_ops = {
	.synced = on_synced,
	.container = on_container,
	.networks = on_networks,
	.event = on_docker_event,
	.state = on_docker_state,
};

/* --- names ------------------------------------------------------------------------------- */

static void on_dns(void *ud, const char *name, int fam, enum vw_dns_status status,
		   const uint8_t (*addrs)[16], size_t n, unsigned ttl)
{
	struct vw_daemon *d = ud;
	int r;

	r = vw_names_answer(&d->names, name, fam, status, addrs, n, ttl, vw_now_ms());
	if (r < 0) {
		log_warn_errno(r, "cannot record addresses of '%s', ignoring", name);
		return;
	}
	d->stats.dns[status == VW_DNS_OK     ? VW_DNS_RESULT_OK
		     : status == VW_DNS_NONE ? VW_DNS_RESULT_NONE
					     : VW_DNS_RESULT_FAIL]++;
	if (status == VW_DNS_FAIL)
		log_warn("cannot resolve '%s' (%s), keeping its last addresses, retrying", name,
			 fam ? "AAAA" : "A");
	if (r > 0) {
		log_info("'%s' now resolves to %zu %s address(es)", name, n, fam ? "IPv6" : "IPv4");
		d->dirty = true;
	}
}

static void start_due_queries(struct vw_daemon *d)
{
	uint64_t now = vw_now_ms();
	const struct vw_name *n;
	int fam, r;

	while ((n = vw_names_next_due(&d->names, now, &fam))) {
		r = vw_dns_query(d->dns, n->name, fam, on_dns, d);
		if (r < 0) {
			/* Report it as a failure so the name backs off instead of spinning. */
			(void)vw_names_answer(&d->names, n->name, fam, VW_DNS_FAIL, NULL, 0, 0,
					      now);
			log_warn_errno(r, "cannot query '%s', retrying", n->name);
		}
	}
}

static int read_counters(struct vw_daemon *d);

/* --- reconcile --------------------------------------------------------------------------- */

static void reconcile(struct vw_daemon *d)
{
	struct vw_ruleset desired;
	struct vw_plan plan;
	uint64_t now = vw_now_ms(), t0;
	size_t swept;
	int r;

	d->dirty = false;
	vw_names_begin(&d->names);
	r = vw_policy_compile(d->cs, d->n_cs, d->nets, d->n_nets, d->cfg, &d->names, now, &desired);
	if (r < 0) {
		log_error_errno(r,
				"cannot compile the policy, keeping the applied rules, retrying");
		d->retry_at = now + RETRY_MIN_MS;
		return;
	}
	swept = vw_names_sweep(&d->names);
	if (swept)
		log_debug("forgot %zu unused name(s)", swept);

	/* Replacing re-creates the counters: keep what they counted so far. */
	if (d->full_replace && d->have_applied)
		(void)read_counters(d);
	r = vw_ruleset_diff(d->have_applied && !d->full_replace ? &d->applied : NULL, &desired,
			    &plan);
	if (r < 0) {
		vw_ruleset_done(&desired);
		log_error_errno(r, "cannot compute the ruleset change, retrying");
		d->retry_at = now + RETRY_MIN_MS;
		return;
	}
	t0 = vw_now_ns();
	r = vw_nft_apply(d->nft, &plan);
	if (plan.n > 0) {
		vw_histogram_observe(&d->stats.update_duration, (double)(vw_now_ns() - t0) / 1e9);
		if (r < 0)
			d->stats.updates_failed++;
		else
			d->stats.updates_ok++;
	}
	if (r < 0) {
		snprintf(d->not_ready, sizeof(d->not_ready), "ruleset not applied: %s",
			 strerror(-r));
		log_error_errno(
			r,
			"nftables commit of %zu operation(s) failed, nothing changed; retrying with a full replace in %ums",
			plan.n, d->retry_ms);
		vw_plan_done(&plan);
		vw_ruleset_done(&desired);
		/* The kernel may differ from what we think (someone flushed us): start over. */
		d->full_replace = true;
		d->retry_at = now + d->retry_ms;
		d->retry_ms = d->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : d->retry_ms * 2;
		if (d->ready) {
			d->ready = false;
			log_warn("not ready: ruleset not applied");
		}
		return;
	}
	if (plan.n > 0)
		log_debug("applied %zu operation(s): %zu containers, %zu sources, %zu bridges",
			  plan.n, desired.n_containers, desired.n_sources, desired.n_bridges);
	vw_plan_done(&plan);
	vw_ruleset_done(&d->applied);
	d->applied = desired;
	d->have_applied = true;
	d->full_replace = false;
	d->retry_at = 0;
	d->retry_ms = RETRY_MIN_MS;
	if (!d->ready && d->synced) {
		d->ready = true;
		log_info("ready: %zu managed container(s) on %zu bridge(s)%s",
			 d->applied.n_containers, d->applied.n_bridges,
			 d->cfg->dry_run ? " (dry run: nothing is dropped)" : "");
	}
}

/* Someone else touched our table: put the whole intended state back. */
static void on_table_changed(void *ud, const char *what)
{
	struct vw_daemon *d = ud;

	if (!d->full_replace)
		log_warn("table inet %s changed by another process (%s), restoring it",
			 d->cfg->nft_table, what);
	d->full_replace = true;
	d->dirty = true;
}

/* --- drop audit -------------------------------------------------------------------------- */

static void on_audit(void *ud, const struct vw_nflog_packet *p)
{
	struct vw_daemon *d = ud;
	const struct vw_rs_container *c = NULL;
	const char *key, *container = UNKNOWN_CONTAINER, *name;
	char addr[INET6_ADDRSTRLEN], pbuf[4], dest[300], port[16] = "";
	bool would;
	int r;

	if (vw_audit_prefix_parse(p->prefix, &would, &key) < 0)
		return;
	d->stats.audited++;
	if (strcmp(key, VW_KEY_UNKNOWN) != 0) {
		c = vw_ruleset_find(&d->applied, key);
		if (!c)
			return; /* logged just before the container went away */
		container = c->name;
	}
	(void)inet_ntop(p->family, p->dst, addr, sizeof(addr));
	name = vw_names_reverse(&d->names, p->family, p->dst);
	r = vw_drops_record(&d->drops, key, container, name ? name : addr, p->dport, p->proto);
	if (r == VW_DROP_FIRST) {
		if (name)
			snprintf(dest, sizeof(dest), "'%s' (%s)", name, addr);
		else
			snprintf(dest, sizeof(dest), "%s", addr);
		if (p->dport)
			snprintf(port, sizeof(port), " port %u", p->dport);
		log_info("container '%s' %s %s to %s%s; further ones are only counted", container,
			 would ? "would send (dry run)" : "blocked", vw_proto_name(p->proto, pbuf),
			 dest, port);
	} else if (r == VW_DROP_OVERFLOW) {
		log_info(
			"container '%s' reached %d distinct dropped destinations; more are counted as 'other'",
			container, VW_DROP_DESTS_MAX);
	}
}

/* --- HTTP: metrics, health, control API --------------------------------------------------- */

static bool key_is_live(const char *key, void *ud)
{
	struct vw_daemon *d = ud;

	return strcmp(key, VW_KEY_UNKNOWN) == 0 || vw_ruleset_find(&d->applied, key) != NULL;
}

/* Fold the current nft counters into the monotonic totals. */
static int read_counters(struct vw_daemon *d)
{
	_cleanup_free_ struct vw_nft_counter *ctrs = NULL;
	int n;

	n = vw_nft_counters(d->nft, &ctrs);
	if (n < 0)
		return n;
	vw_totals_begin(&d->totals);
	for (int i = 0; i < n; i++) {
		const struct vw_nft_counter *k = &ctrs[i];
		const struct vw_rs_container *c;

		if (strcmp(k->key, VW_KEY_UNKNOWN) == 0) {
			(void)vw_totals_update(&d->totals, k->key, UNKNOWN_CONTAINER, true,
					       d->cfg->dry_run, k->packets, k->bytes);
			continue;
		}
		c = vw_ruleset_find(&d->applied, k->key);
		if (c)
			(void)vw_totals_update(&d->totals, c->key, c->name, k->drop, c->audit,
					       k->packets, k->bytes);
	}
	vw_totals_end(&d->totals);
	vw_drops_forget(&d->drops, key_is_live, d);
	return 0;
}

static char *render_metrics(struct vw_daemon *d)
{
	struct vw_metrics_view v = {
		.totals = &d->totals,
		.drops = &d->drops,
		.stats = &d->stats,
		.label_errors = d->errs,
		.n_label_errors = d->n_errs,
		.managed = d->applied.n_containers,
		.names = d->names.n,
		.audit_lost = vw_nflog_lost(d->nflog),
		.ready = d->ready,
		.synced = d->synced,
		.version = VW_VERSION,
	};
	int r;

	/* First: the counters may drop containers whose chains are gone. */
	r = read_counters(d);
	if (r < 0)
		log_debug_errno(r, "cannot read nft counters");
	return vw_metrics_render(&v);
}

static void status_of(struct vw_daemon *d, struct vw_status *st)
{
	*st = (struct vw_status){
		.version = VW_VERSION,
		.ready = d->ready,
		.docker_synced = d->synced,
		.docker_api = vw_docker_api_version(d->docker),
		.ruleset_applied = d->have_applied && !d->full_replace,
		.ruleset_updates = d->stats.updates_ok,
		.ruleset_failures = d->stats.updates_failed,
		.containers = d->n_cs,
		.managed = d->applied.n_containers,
		.bridges = d->applied.n_bridges,
		.names = d->names.n,
		.table = d->cfg->nft_table,
		.dry_run = d->cfg->dry_run,
		.nflog_group = d->cfg->nflog_group,
		.audit_active = d->nflog != NULL,
		.uptime_s = (vw_now_ms() - d->started_ms) / 1000,
	};
	(void)vw_strscpy(st->reason, d->not_ready, sizeof(st->reason));
}

/* The API view of @c; ret->sharers is malloc'd (NULL when none), freed by the caller. */
static void api_container(struct vw_daemon *d, const struct vw_container *c,
			  struct vw_api_container *ret)
{
	const struct vw_container **sharers = NULL;
	size_t n = 0;

	for (size_t i = 0; i < d->n_cs; i++)
		n += vw_container_joins(&d->cs[i], c);
	if (n > 0)
		sharers = calloc(n, sizeof(*sharers));
	n = 0;
	for (size_t i = 0; sharers && i < d->n_cs; i++)
		if (vw_container_joins(&d->cs[i], c))
			sharers[n++] = &d->cs[i];
	*ret = (struct vw_api_container){
		.c = c,
		.state = vw_policy_state(c, d->nets, d->n_nets, d->cfg),
		.audit = d->cfg->dry_run || c->labels.dry_run,
		.sharers = sharers,
		.n_sharers = n,
	};
}

static const struct vw_container *container_by_ref(struct vw_daemon *d, const char *ref)
{
	size_t len = strlen(ref);
	const struct vw_container *hit = NULL;

	for (size_t i = 0; i < d->n_cs; i++)
		if (strcmp(d->cs[i].name, ref) == 0)
			return &d->cs[i];
	/* An id prefix, as docker accepts it, if unambiguous. */
	for (size_t i = 0; len >= 4 && i < d->n_cs; i++)
		if (strncmp(d->cs[i].id, ref, len) == 0) {
			if (hit)
				return NULL;
			hit = &d->cs[i];
		}
	return hit;
}

static void respond(struct vw_http_response *ret, unsigned status, const char *type, char *body)
{
	ret->status = body ? status : 500;
	ret->content_type = type;
	ret->body = body;
	ret->len = body ? strlen(body) : 0;
}

static void api_explain(struct vw_daemon *d, const struct vw_http_request *req, bool json,
			const char *type, struct vw_http_response *ret)
{
	const char *ref = vw_http_arg(req, "container"), *dst = vw_http_arg(req, "destination");
	const struct vw_container *c;
	struct vw_api_container ac;
	struct vw_explanation x;
	struct vw_dst q;
	const char *reason;
	char msg[512];

	if (!ref || !*ref) {
		respond(ret, 400, type, vw_api_error("missing ?container=", json));
		return;
	}
	c = container_by_ref(d, ref);
	if (!c) {
		snprintf(msg, sizeof(msg),
			 "no running container '%s' (or the id prefix is ambiguous)", ref);
		respond(ret, 404, type, vw_api_error(msg, json));
		return;
	}
	api_container(d, c, &ac);
	if (!dst || !*dst) {
		respond(ret, 200, type,
			vw_api_explain(&ac, d->cfg, &d->names, vw_now_ms(), NULL, NULL, json));
		free((void *)ac.sharers);
		return;
	}
	reason = "give one address or name, not a CIDR or a wildcard";
	if (vw_dst_parse(dst, &q, &reason) < 0 ||
	    vw_explain(&c->labels, d->cfg->default_outbound, d->cfg->n_default_outbound, &d->names,
		       &q, &x) < 0) {
		snprintf(msg, sizeof(msg), "destination '%s': %s", dst, reason);
		respond(ret, 400, type, vw_api_error(msg, json));
		free((void *)ac.sharers);
		return;
	}
	if (ac.state != VW_MANAGED) {
		x.verdict = VW_VERDICT_ALLOWED;
		snprintf(x.reason, sizeof(x.reason), "vpnwall does not restrict it (%s)",
			 vw_managed_reason(ac.state));
		x.entry[0] = '\0';
	} else if (ac.audit && x.verdict == VW_VERDICT_BLOCKED) {
		(void)vw_strscpy(msg, x.reason, sizeof(msg));
		snprintf(x.reason, sizeof(x.reason), "%s (dry run: counted, not dropped)", msg);
	}
	respond(ret, 200, type, vw_api_explain(&ac, d->cfg, &d->names, vw_now_ms(), dst, &x, json));
	free((void *)ac.sharers);
}

static void on_http(void *ud, const struct vw_http_request *req, const char *path, bool api,
		    struct vw_http_response *ret)
{
	struct vw_daemon *d = ud;
	const char *fmt = vw_http_arg(req, "format");
	bool json = !(fmt && strcmp(fmt, "text") == 0);
	const char *type = json ? "application/json" : "text/plain; charset=utf-8";
	struct vw_status st;

	if (strcmp(path, "/metrics") == 0) {
		respond(ret, 200, "text/plain; version=0.0.4; charset=utf-8", render_metrics(d));
	} else if (strcmp(path, "/healthz") == 0) {
		/* Answering at all proves the loop turns. */
		respond(ret, 200, "text/plain", strdup("ok\n"));
	} else if (strcmp(path, "/readyz") == 0) {
		char *body = NULL;

		if (d->ready)
			body = strdup("ready\n");
		else if (asprintf(&body, "not ready: %s\n",
				  d->not_ready[0] ? d->not_ready : "starting") < 0)
			body = NULL;
		respond(ret, d->ready ? 200 : 503, "text/plain", body);
	} else if (api && strcmp(path, "/v1/status") == 0) {
		status_of(d, &st);
		respond(ret, 200, type, vw_api_status(&st, json));
	} else if (api && strcmp(path, "/v1/containers") == 0) {
		_cleanup_free_ struct vw_api_container *v = calloc(d->n_cs + 1, sizeof(*v));

		if (!v) {
			respond(ret, 500, type, NULL);
			return;
		}
		for (size_t i = 0; i < d->n_cs; i++)
			api_container(d, &d->cs[i], &v[i]);
		respond(ret, 200, type,
			vw_api_containers(v, d->n_cs, d->cfg, &d->names, vw_now_ms(), json));
		for (size_t i = 0; i < d->n_cs; i++)
			free((void *)v[i].sharers);
	} else if (api && strcmp(path, "/v1/explain") == 0) {
		api_explain(d, req, json, type, ret);
	} else {
		respond(ret, 404, type, vw_api_error("not found", json));
	}
}

/* --- signals and loop -------------------------------------------------------------------- */

static void on_signal(struct vw_io *io, uint32_t events)
{
	struct vw_daemon *d = (struct vw_daemon *)((char *)io - offsetof(struct vw_daemon, sig));
	struct signalfd_siginfo si;

	while (read(io->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP: re-applying the whole ruleset");
			d->full_replace = true;
			d->dirty = true;
		} else {
			log_info("received %s, stopping; rules stay in place",
				 si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			d->stopping = true;
		}
	}
}

int vw_daemon_new(const struct vw_config *cfg, struct vw_daemon **ret_daemon)
{
	struct vw_daemon *d;
	sigset_t mask;
	int r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cfg = cfg;
	d->sig.fd = -1;
	d->retry_ms = RETRY_MIN_MS;
	d->started_ms = vw_now_ms();
	(void)vw_strscpy(d->not_ready, "waiting for the first Docker sync", sizeof(d->not_ready));
	vw_names_init(&d->names, cfg->dns_ttl_min, cfg->dns_ttl_max);
	vw_stats_init(&d->stats);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		r = -errno;
		goto fail;
	}
	(void)signal(SIGPIPE, SIG_IGN);

	r = vw_loop_new(&d->loop);
	if (r < 0)
		goto fail;
	d->sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sig.fd < 0) {
		r = -errno;
		goto fail;
	}
	d->sig.cb = on_signal;
	r = vw_loop_watch(d->loop, &d->sig, EPOLLIN);
	if (r < 0)
		goto fail;
	r = vw_nft_new(cfg->nft_table, &d->nft);
	if (r < 0) {
		log_error_errno(r, "cannot open the nftables netlink socket");
		goto fail;
	}
	r = vw_nft_monitor(d->nft, d->loop, on_table_changed, d);
	if (r < 0) {
		log_error_errno(r, "cannot watch nf_tables notifications");
		goto fail;
	}
	r = vw_dns_new(d->loop, cfg->dns_servers, &d->dns);
	if (r < 0) {
		log_error_errno(r, "cannot set up the resolver (DNS_SERVERS='%s')",
				cfg->dns_servers);
		goto fail;
	}
	r = vw_docker_new(d->loop, cfg->docker_socket, &docker_ops, d, &d->docker);
	if (r < 0)
		goto fail;
	r = vw_http_new(d->loop, on_http, d, &d->http);
	if (r < 0)
		goto fail;
	if (cfg->metrics_host[0]) {
		r = vw_http_listen_tcp(d->http, cfg->metrics_host, cfg->metrics_port);
		if (r < 0) {
			log_error_errno(r, "cannot serve metrics on %s port %u (METRICS_ADDR)",
					cfg->metrics_host, cfg->metrics_port);
			goto fail;
		}
	}
	if (cfg->api_socket[0]) {
		r = vw_http_listen_unix(d->http, cfg->api_socket, 0600);
		if (r < 0) {
			log_error_errno(r, "cannot serve the control API on '%s' (API_SOCKET)",
					cfg->api_socket);
			goto fail;
		}
	}
	if (cfg->nflog_group) {
		r = vw_nflog_new(d->loop, cfg->nflog_group, on_audit, d, &d->nflog);
		/* Enforcement does not depend on the audit: run without it rather than not at all.
		 */
		if (r < 0)
			log_warn_errno(
				r, "cannot bind NFLOG group %u, drop audit disabled (NFLOG_GROUP)",
				cfg->nflog_group);
	}
	*ret_daemon = d;
	return 0;
fail:
	vw_daemon_free(d);
	return r;
}

void vw_daemon_free(struct vw_daemon *d)
{
	if (!d)
		return;
	vw_http_free(d->http);
	vw_nflog_free(d->nflog);
	vw_docker_free(d->docker);
	vw_dns_free(d->dns);
	vw_nft_free(d->nft);
	if (d->sig.fd >= 0) {
		vw_loop_unwatch(d->loop, &d->sig);
		(void)close(d->sig.fd);
	}
	vw_loop_free(d->loop);
	for (size_t i = 0; i < d->n_cs; i++)
		vw_container_done(&d->cs[i]);
	free(d->cs);
	free(d->nets);
	vw_names_done(&d->names);
	vw_ruleset_done(&d->applied);
	vw_totals_done(&d->totals);
	vw_drops_done(&d->drops);
	free(d->errs);
	free(d);
}

int vw_daemon_run(struct vw_daemon *d)
{
	int r;

	r = vw_nft_table_exists(d->nft);
	if (r < 0)
		return log_error_errno(
			r, "cannot talk to nf_tables (is the module available, are we root?)");
	log_info("starting: table inet %s %s, Docker at %s%s", d->cfg->nft_table,
		 r ? "exists and stays in force until the first sync" : "not present yet",
		 d->cfg->docker_socket, d->cfg->dry_run ? ", dry run" : "");
	r = vw_docker_start(d->docker);
	if (r < 0)
		return r;

	while (!d->stopping) {
		uint64_t now = vw_now_ms();
		int timeout = vw_deadline_to_timeout(d->retry_at, now);

		timeout = vw_timeout_min(timeout, vw_docker_timeout(d->docker));
		timeout = vw_timeout_min(timeout, vw_dns_timeout(d->dns));
		timeout = vw_timeout_min(timeout, vw_http_timeout(d->http));
		timeout = vw_timeout_min(timeout,
					 vw_deadline_to_timeout(vw_names_deadline(&d->names), now));

		r = vw_loop_wait(d->loop, timeout);
		if (r < 0)
			return log_error_errno(r, "event loop failed");

		vw_docker_process_timeouts(d->docker);
		vw_dns_process_timeouts(d->dns);
		vw_http_process(d->http);
		if (d->retry_at && d->retry_at <= vw_now_ms()) {
			d->retry_at = 0;
			d->dirty = true;
		}
		if (d->dirty && d->ever_synced && !d->retry_at)
			reconcile(d);
		start_due_queries(d);
	}
	return 0;
}
