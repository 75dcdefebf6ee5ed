// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Composition of the modules and the reconcile step.
 *
 * Enforcement first, everything else after: at start-up, before Docker is asked anything,
 * a table that this boot's vpnwalld did not write (missing, or restored from an old dump)
 * is replaced by the base ruleset, which drops every policed packet but replies to
 * published ports. A table this boot's daemon wrote stays in force until the first sync.
 * The metrics, control API and drop audit are auxiliary: when one cannot start (a port
 * taken, an NFLOG group held), enforcement goes on and the endpoint is retried.
 */
#include "vpnwall/daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
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
#include "vpnwall/conntrack.h"
#include "vpnwall/control.h"
#include "vpnwall/desired.h"
#include "vpnwall/dns.h"
#include "vpnwall/docker.h"
#include "vpnwall/dockermsg.h"
#include "vpnwall/explain.h"
#include "vpnwall/hashmap.h"
#include "vpnwall/http.h"
#include "vpnwall/labels.h"
#include "vpnwall/learn.h"
#include "vpnwall/log.h"
#include "vpnwall/loop.h"
#include "vpnwall/metrics.h"
#include "vpnwall/names.h"
#include "vpnwall/nflog.h"
#include "vpnwall/nft.h"
#include "vpnwall/pending.h"
#include "vpnwall/policy.h"
#include "vpnwall/reconcile.h"
#include "vpnwall/retry.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/store.h"
#include "vpnwall/vpn.h"
#include "vpnwall/util.h"

#define VW_LOG_MODULE "daemon"

#define UNKNOWN_CONTAINER "(unknown)"
#define SPOOFED_CONTAINER "(spoofed)"
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define SWEEP_INTERVAL_MS 1000 /* at most one conntrack sweep a second */
#define SWEEP_RETRY_MS 5000 /* after the table could not be read */

enum aux_kind { AUX_METRICS, AUX_API, AUX_AUDIT, AUX_N };

/* What was last reported about a container's compiled policy, so it is logged once. */
struct reported {
	char key[VW_KEY_LEN + 1];
	uint64_t what; /* hash of its isolation reason and note */
};

/* Rejected label entries counted per running container, for the metric. */
struct errcount {
	struct vw_hnode node;
	char id[VW_ID_MAX + 1];
	uint64_t n;
};

struct vw_daemon {
	const struct vw_config *cfg;
	struct vw_loop *loop;
	struct vw_docker *docker;
	struct vw_dns *dns;
	struct vw_nft *nft;
	struct vw_io sig;
	bool stopping;

	struct vw_store store;
	struct vw_names names;
	struct vw_desired desired;
	struct vw_reconcile rc;
	bool rebuild; /* the desired ruleset is recomputed from scratch next time */
	uint64_t ignored_managed; /* managed networks IGNORE_BRIDGES matches, last warned */
	struct vw_pending pending; /* events whose outcome is not enforced yet */

	bool synced; /* Docker listed at least once since the last disconnect */
	unsigned down_reports; /* consecutive failures to reach Docker since the last sync */
	bool ever_synced;
	bool dirty; /* the desired state may differ from the applied one */
	bool base_needed; /* before the first sync: (re)apply the base ruleset */
	bool ready;
	uint64_t compile_retry_at; /* a failed compile (out of memory) is retried then */

	struct vw_http *http;
	struct vw_nflog *nflog; /* NULL: audit off or not bound (yet) */
	struct vw_vpn *vpn; /* the tunnel watch and the routing layer */
	struct vw_conntrack *ct; /* NULL: ctnetlink unavailable, revoked flows are only cut */
	struct vw_learner *learner; /* the DNS proxy (DNS_PROXY), or NULL */
	struct vw_dnsq_stats dnsq;
	bool dns_flush; /* port-53 flows may bypass the proxy's redirect: delete them */
	uint64_t sweep_at; /* ms: when to delete revoked flows from conntrack; 0: no need */
	uint64_t last_sweep; /* ms */
	struct vw_retry aux[AUX_N]; /* the endpoints of enum aux_kind */
	uint64_t started_ms;
	char not_ready[256]; /* why not ready, for /readyz */
	struct vw_stats stats;
	struct vw_totals totals;
	struct vw_drops drops;
	struct vw_hmap errs; /* struct errcount by container id */
	struct reported *reported; /* containers with a limit, sorted by key */
	size_t n_reported;
	size_t cap_reported;
	uint64_t spoofed_pkts; /* from the spoofed-source counter, monotonic */
	uint64_t spoofed_last;
};

static const char *const aux_names[AUX_N] = { "metrics", "control API", "drop audit" };

/* --- label errors -------------------------------------------------------------------------- */

static struct errcount *errcount_get(struct vw_daemon *d, const char *id)
{
	for (struct vw_hnode *n = vw_hmap_first(&d->errs, vw_hash_str(id)); n;
	     n = vw_hmap_next(n)) {
		struct errcount *e = vw_container_of(n, struct errcount, node);

		if (strcmp(e->id, id) == 0)
			return e;
	}
	return NULL;
}

static void count_label_errors(struct vw_daemon *d, const struct vw_container *c)
{
	size_t n = c->labels.n_errors + c->labels.n_errors_dropped;
	struct errcount *e;

	if (n == 0)
		return;
	e = errcount_get(d, c->id);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return;
		(void)vw_strscpy(e->id, c->id, sizeof(e->id));
		if (vw_hmap_add(&d->errs, &e->node, vw_hash_str(e->id)) < 0) {
			free(e);
			return;
		}
	}
	e->n += n;
}

static void forget_label_errors(struct vw_daemon *d, const char *id)
{
	struct errcount *e = errcount_get(d, id);

	if (e) {
		vw_hmap_del(&d->errs, &e->node);
		free(e);
	}
}

/* --- what Docker says about a container ------------------------------------------------- */

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
	else if (c->labels.no_tunnel && d->cfg->vpn_interface[0])
		log_warn("container '%s' opted out of the tunnel with vpn.tunnel=false: its "
			 "destinations are reached by any path, not only through %s",
			 c->name, d->cfg->vpn_interface);
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
	const struct vw_store *st = &d->store;

	if (vw_policy_state(c, st->nets, st->n_nets, d->cfg) != VW_MANAGED)
		return;
	for (size_t i = 0; i < c->n_eps; i++) {
		const struct vw_network *net =
			vw_network_find(st->nets, st->n_nets, c->eps[i].network_id);

		if (!vw_network_is_managed(net, d->cfg))
			log_warn(
				"container '%s' is also on network '%s', which vpnwall does not police: its traffic through it is not restricted",
				c->name, c->eps[i].network);
	}
}

/* --- container store --------------------------------------------------------------------- */

/* Store @c (its content moves) or drop the container when @c is NULL or not running. */
static void store_container(struct vw_daemon *d, const char *id, struct vw_container *c)
{
	struct vw_container *old = vw_store_get(&d->store, id);
	bool keep = c && c->running;
	int r;

	d->dirty = true;
	(void)vw_reconcile_want(&d->rc);
	vw_pending_known(&d->pending, id);
	if (vw_desired_mark(&d->desired, id) < 0)
		d->rebuild = true;
	if (!keep) {
		if (old) {
			char key[VW_KEY_LEN + 1];

			log_info("container '%s' gone", old->name);
			forget_label_errors(d, old->id);
			(void)vw_strscpy(key, old->id, sizeof(key));
			vw_drops_forget_key(&d->drops, key);
			(void)vw_store_del(&d->store, id);
		}
		if (c)
			vw_container_done(c);
		return;
	}
	if (!old || !same_errors(&old->labels, &c->labels) ||
	    old->labels.disabled != c->labels.disabled)
		describe_labels(d, c);
	if (!old || old->n_eps != c->n_eps)
		describe_networks(d, c);
	if (old)
		log_debug("container '%s' updated", c->name);
	else
		log_info("container '%s' (%.12s) running", c->name, c->id);
	r = vw_store_put(&d->store, c);
	if (r < 0) {
		/* Untracked means undispatched: its packets hit the unknown drop. */
		log_error_errno(r, "cannot track container '%s', its traffic is dropped", c->name);
		(void)vw_store_del(&d->store, id);
		vw_container_done(c);
	}
}

struct idnode {
	struct vw_hnode node;
	const char *id;
};

static bool in_set(const struct vw_hmap *m, const char *id)
{
	for (struct vw_hnode *n = vw_hmap_first(m, vw_hash_str(id)); n; n = vw_hmap_next(n))
		if (strcmp(vw_container_of(n, struct idnode, node)->id, id) == 0)
			return true;
	return false;
}

/*
 * A managed network whose bridge an IGNORE_BRIDGES pattern matches is policed all the same
 * (the pattern is meant for host bridges); say so once each time that set changes.
 */
static void warn_ignored_managed(struct vw_daemon *d)
{
	const struct vw_store *st = &d->store;
	uint64_t h = 0;

	for (size_t i = 0; i < st->n_nets; i++)
		if (vw_network_is_managed(&st->nets[i], d->cfg) &&
		    vw_config_bridge_ignored(d->cfg, st->nets[i].bridge))
			h = h * 31 + vw_hash_str(st->nets[i].id);
	if (h == d->ignored_managed)
		return;
	d->ignored_managed = h;
	for (size_t i = 0; i < st->n_nets; i++) {
		const struct vw_network *net = &st->nets[i];
		const char *p = vw_config_bridge_ignored(d->cfg, net->bridge);

		if (p && vw_network_is_managed(net, d->cfg))
			log_warn(
				"IGNORE_BRIDGES pattern '%s' matches bridge %s of Docker network '%s', which vpnwall manages: it is policed all the same (exclude the network with GATEWAY_NETWORKS instead)",
				p, net->bridge, net->name);
	}
}

static void on_synced(void *ud, struct vw_container *cs, size_t n, struct vw_network *nets,
		      size_t n_nets)
{
	struct vw_daemon *d = ud;
	_cleanup_free_ struct idnode *ids = calloc(n + 1, sizeof(*ids));
	struct vw_hmap present = { 0 };
	bool indexed = ids != NULL;

	vw_store_set_networks(&d->store, nets, n_nets);
	warn_ignored_managed(d);
	/* Containers that vanished while we were away; the rest is compared, not re-announced. */
	for (size_t i = 0; indexed && i < n; i++) {
		ids[i].id = cs[i].id;
		indexed = vw_hmap_add(&present, &ids[i].node, vw_hash_str(cs[i].id)) >= 0;
	}
	for (size_t i = 0; i < d->store.n;) {
		const char *id = d->store.list[i]->id;

		/* Without the index, forget everyone: the snapshot puts back who is there. */
		if (indexed && in_set(&present, id))
			i++;
		else
			store_container(d, id, NULL);
	}
	vw_hmap_done(&present);
	for (size_t i = 0; i < n; i++)
		store_container(d, cs[i].id, &cs[i]);
	free(cs);
	/*
	 * The first snapshot replaces the whole table, whatever an earlier process left in it.
	 * Later ones (reconnects, resyncs) only apply what differs: the table is ours, and a
	 * change by anyone else is caught by the generation watch, which forces a full replace
	 * of its own.
	 */
	if (!d->ever_synced)
		vw_reconcile_force_full(&d->rc);
	d->synced = d->ever_synced = true;
	d->down_reports = 0;
	d->dirty = true;
	d->rebuild = true;
}

static void on_container(void *ud, const char *id, struct vw_container *c)
{
	store_container(ud, id, c);
}

static void on_networks(void *ud, struct vw_network *nets, size_t n)
{
	struct vw_daemon *d = ud;

	vw_store_set_networks(&d->store, nets, n);
	warn_ignored_managed(d);
	/* Which networks are managed decides about every container: recompute them all. */
	d->dirty = true;
	d->rebuild = true;
	(void)vw_reconcile_want(&d->rc);
}

/* Everything Docker told us is void: every container falls to the unknown-source drop. */
static void forget_containers(struct vw_daemon *d)
{
	while (d->store.n > 0)
		store_container(d, d->store.list[0]->id, NULL);
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
	if (!synced && ++d->down_reports == 2 && d->store.n > 0 &&
	    !vw_docker_live_restore(d->docker)) {
		log_warn(
			"Docker is down and live-restore is off: revoking the allowances of its %zu container(s) until it is back",
			d->store.n);
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
	vw_pending_note(&d->pending, ev->id, vw_now_ns());
	c = vw_store_get(&d->store, ev->id);
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
		if (vw_desired_mark(&d->desired, ev->id) < 0)
			d->rebuild = true;
		d->dirty = true;
		(void)vw_reconcile_want(&d->rc);
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
		if (vw_desired_mark_name(&d->desired, name) < 0)
			d->rebuild = true;
		d->dirty = true;
		(void)vw_reconcile_want(&d->rc);
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

/* --- counters ------------------------------------------------------------------------------ */

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

		if (strcmp(k->key, VW_KEY_SPOOFED) == 0) {
			d->spoofed_pkts += k->packets >= d->spoofed_last
						   ? k->packets - d->spoofed_last
						   : k->packets;
			d->spoofed_last = k->packets;
			continue;
		}
		if (strcmp(k->key, VW_KEY_UNKNOWN) == 0) {
			(void)vw_totals_update(&d->totals, k->key, UNKNOWN_CONTAINER, true,
					       d->cfg->dry_run, k->packets, k->bytes);
			continue;
		}
		c = vw_ruleset_find(&d->rc.applied, k->key);
		if (c)
			(void)vw_totals_update(&d->totals, c->key, c->name, k->drop, c->audit,
					       k->packets, k->bytes);
	}
	vw_totals_end(&d->totals);
	return 0;
}

/* --- reconcile --------------------------------------------------------------------------- */

static void set_ready(struct vw_daemon *d)
{
	bool ready = d->synced && d->rc.have_applied && !d->rc.full && !d->rc.retry_at;

	/* Not a safety matter (the rules hold either way), but what anyone alerting wants. */
	if (ready && d->cfg->vpn_interface[0] && !vw_vpn_up(d->vpn)) {
		snprintf(d->not_ready, sizeof(d->not_ready),
			 "VPN interface %s is down: managed containers reach only what they may "
			 "reach outside the VPN",
			 d->cfg->vpn_interface);
		ready = false;
	}

	if (ready && !d->ready)
		log_info("ready: %zu managed container(s)%s", d->rc.applied.n_containers,
			 d->cfg->dry_run ? " (dry run: nothing is dropped)" : "");
	d->ready = ready;
}

/* Whether a container reaches nothing, or lost entries: worth a line when it changes. */
static uint64_t limits_of(const struct vw_rs_container *c)
{
	if (!c || (!c->isolated[0] && !c->note[0]))
		return 0;
	return (vw_hash_str(c->isolated) * 31 + vw_hash_str(c->note)) | 1;
}

static int cmp_reported(const void *a, const void *b)
{
	return strcmp(((const struct reported *)a)->key, ((const struct reported *)b)->key);
}

/*
 * Say once why a container reaches nothing, or lost entries, and when that ends. Only the
 * containers of this step are looked at (@ch marks them; everything after a full step).
 */
static void report_limits(struct vw_daemon *d, const struct vw_changes *ch, bool all)
{
	const struct vw_ruleset *rs = &d->rc.applied;
	size_t n = all ? rs->n_containers : ch->n_keys;
	bool resort = false;

	for (size_t i = 0; i < n; i++) {
		const char *key = all ? rs->containers[i]->key : ch->keys[i];
		const struct vw_rs_container *c = vw_ruleset_find(rs, key);
		struct reported probe = { 0 }, *p;
		uint64_t what = limits_of(c);

		(void)vw_strscpy(probe.key, key, sizeof(probe.key));
		/* bsearch() wants a real array even for none. */
		p = d->n_reported
			    ? bsearch(&probe, d->reported, d->n_reported, sizeof(*p), cmp_reported)
			    : NULL;
		if (what == (p ? p->what : 0))
			continue;
		if (c && c->isolated[0])
			log_warn("container '%s' is isolated, it reaches nothing: %s", c->name,
				 c->isolated);
		else if (c && p && !c->note[0])
			log_info("container '%s' has its whole policy again", c->name);
		if (c && c->note[0])
			log_warn("container '%s': %s", c->name, c->note);
		if (p) {
			p->what = what;
			continue;
		}
		if (vw_grow((void **)&d->reported, &d->cap_reported, d->n_reported + 1,
			    sizeof(*d->reported), SIZE_MAX / sizeof(*d->reported)) < 0)
			continue;
		d->reported[d->n_reported++] = probe;
		d->reported[d->n_reported - 1].what = what;
		resort = true;
	}
	/* Entries of containers whose limits ended go; the rest stays sorted for bsearch. */
	if (resort || n) {
		size_t out = 0;

		for (size_t i = 0; i < d->n_reported; i++)
			if (d->reported[i].what)
				d->reported[out++] = d->reported[i];
		d->n_reported = out;
		if (resort)
			qsort(d->reported, d->n_reported, sizeof(*d->reported), cmp_reported);
	}
}

static void observe_latency(void *ud, double s)
{
	struct vw_stats *st = ud;

	vw_histogram_observe(&st->event_to_commit, s);
}

static bool is_revoked(void *ud, const struct vw_flow *f)
{
	const struct vw_daemon *d = ud;

	/* Judged by what the kernel holds, not by what is still to be committed. */
	return vw_ruleset_revokes(&d->rc.applied, &d->rc.revoked, f);
}

/*
 * The committed steps tightened some policies: end the flows they no longer allow. A sweep
 * reads the whole conntrack table while the loop waits, so sweeps are spaced: the
 * revocations of the steps in between add up, and the rules cut those flows meanwhile.
 */
static void revoke_flows(struct vw_daemon *d, uint64_t now)
{
	struct vw_revocations *rv = &d->rc.revoked;
	bool more = false;
	int r;

	d->sweep_at = 0;
	if (!vw_revocations_pending(rv))
		return;
	if (!d->ct) {
		vw_revocations_reset(rv);
		return;
	}
	vw_revocations_normalize(rv);
	d->last_sweep = now;
	r = vw_conntrack_sweep(d->ct, is_revoked, d, &more);
	if (r < 0) {
		log_warn_errno(r, "cannot read the conntrack table; revoked flows are cut by the "
				  "rules, their entries are deleted at the next try");
		d->sweep_at = now + SWEEP_RETRY_MS;
		return;
	}
	if (r > 0)
		log_info("revoked %d established flow(s) that the policies no longer allow", r);
	d->stats.flows_revoked += (unsigned)r;
	if (more) {
		log_warn("more flows to cut than one sweep deletes: the rest at the next one");
		d->sweep_at = now + SWEEP_INTERVAL_MS;
		return;
	}
	vw_revocations_reset(rv);
}

/* A container's DNS flow from before the redirect (UDP or TCP to port 53, not to us). */
static bool is_dns_flow(void *ud, const struct vw_flow *f)
{
	const struct vw_daemon *d = ud;
	const struct vw_rs_source *s;

	if (!f->has_ports || f->dport != 53 || (f->proto != IPPROTO_UDP && f->proto != IPPROTO_TCP))
		return false;
	s = vw_ruleset_source_find(&d->rc.applied, f->family, f->saddr);
	/* Redirected flows answer from our port: they are the proxy's own, keep them. */
	return s && s->key[0] && memcmp(f->raddr, f->daddr, sizeof(f->daddr)) == 0;
}

/*
 * The redirect only applies to new flows: conntrack keeps sending an established one (a
 * resolver's UDP "connection" lives as long as queries keep it alive) where it went.
 */
static void flush_dns_flows(struct vw_daemon *d)
{
	bool more = false;
	int r;

	d->dns_flush = false;
	if (!d->ct)
		return;
	r = vw_conntrack_sweep(d->ct, is_dns_flow, d, &more);
	if (r < 0)
		log_warn_errno(r, "cannot flush DNS flows that predate the proxy's redirect");
	else if (r > 0)
		log_info("flushed %d DNS flow(s) that predate the proxy's redirect", r);
	d->dns_flush = more;
}

/* Revocations are waiting: the next sweep, not sooner than the interval allows. */
static void schedule_sweep(struct vw_daemon *d, uint64_t now)
{
	uint64_t at = d->last_sweep ? d->last_sweep + SWEEP_INTERVAL_MS : now;

	if (d->sweep_at || !vw_revocations_pending(&d->rc.revoked))
		return;
	d->sweep_at = at > now ? at : now;
}

/*
 * One step of the reconciler. It may replace the table whatever it set out to do (a refused
 * diff falls back to a full replacement, a failed one to the base): the learned sets go
 * with it, and the learner is told. *@replaced (may be NULL) says whether that happened.
 */
static int step(struct vw_daemon *d, struct vw_ruleset *rs, struct vw_changes *ch, uint64_t now,
		bool *replaced)
{
	uint64_t before = d->rc.replacements;
	int r = vw_reconcile_step(&d->rc, rs, ch, now);

	if (d->rc.replacements != before)
		vw_learner_lost(d->learner);
	if (replaced)
		*replaced = d->rc.replacements != before;
	return r;
}

static void reconcile(struct vw_daemon *d)
{
	uint64_t now = vw_now_ms(), t0, gen = d->rc.generation, failures = d->rc.failures;
	struct vw_changes *ch = &d->desired.changes;
	bool all, replaced;
	int r;

	d->dirty = false;
	if (d->rebuild)
		r = vw_desired_rebuild(&d->desired, &d->store, &d->names, now);
	else
		r = vw_desired_flush(&d->desired, &d->store, &d->names, now);
	d->rebuild = false;
	if (r < 0) {
		log_error_errno(r,
				"cannot compile the policy, keeping the applied rules, retrying");
		d->rebuild = true;
		d->compile_retry_at = now + 1000;
		return;
	}
	d->compile_retry_at = 0;
	all = ch->all || d->rc.full || !d->rc.have_applied;
	/* Learned elements of addresses about to change hands go first (see learn.h). */
	if (d->learner && !all) {
		vw_changes_normalize(ch);
		r = vw_learner_revoke(d->learner, &d->desired.rs, ch);
	} else if (d->learner) {
		r = vw_learner_revoke(d->learner, &d->desired.rs, NULL);
	}
	if (r < 0) {
		/* Replacing the table takes every learned element with it: the way left to
		 * withdraw them (the deletes fail when the table itself is gone, say). */
		log_warn_errno(r, "cannot withdraw learned addresses: replacing the table");
		vw_reconcile_force_full(&d->rc);
		all = true;
	}
	/* Replacing re-creates the counters: keep what they counted so far. */
	if (d->rc.full && d->rc.have_applied)
		(void)read_counters(d);
	t0 = vw_now_ns();
	r = step(d, &d->desired.rs, ch, now, &replaced);
	if (d->rc.generation != gen || d->rc.failures != failures)
		vw_histogram_observe(&d->stats.update_duration, (double)(vw_now_ns() - t0) / 1e9);
	d->stats.updates_ok += d->rc.generation - gen;
	d->stats.updates_failed += d->rc.failures - failures;
	if (r < 0) {
		/* The step left the backend to be replaced whole: nothing to remember. */
		vw_changes_reset(ch);
		snprintf(d->not_ready, sizeof(d->not_ready), "ruleset not applied: %s",
			 strerror(-r));
		log_error_errno(
			r, "nftables rejected the ruleset, nothing dispatched; retrying in %llums",
			(unsigned long long)(d->rc.retry_at - now));
		if (d->ready)
			log_warn("not ready: ruleset not applied");
		d->ready = false;
		return;
	}
	if (d->rc.failures != failures)
		log_warn(
			"nftables refused %llu transaction(s); the containers it refused are isolated, every other change is applied",
			(unsigned long long)(d->rc.failures - failures));
	report_limits(d, ch, all);
	vw_changes_reset(ch);
	/* A full step may have re-created the learned sets empty and installed the redirect:
	 * put back what was learned, and cut DNS flows that predate it. */
	if (d->learner && (all || replaced)) {
		(void)vw_learner_restore(d->learner, replaced);
		d->dns_flush = true;
	}
	/* What the kernel holds: notifications re-apply from it, even after a failed step. */
	vw_vpn_sync(d->vpn, &d->rc.applied);
	schedule_sweep(d, now);
	/*
	 * A full step follows a parse of Docker's whole container list and a compile of every
	 * policy: megabytes of short-lived allocations, freed now but scattered through the
	 * heap. Give those pages back, or the daemon's size stays at that peak for good.
	 */
	if (all)
		(void)malloc_trim(0);
	vw_pending_committed(&d->pending, vw_now_ns(), observe_latency, &d->stats);
	set_ready(d);
}

/*
 * The base ruleset: nothing dispatched, so every policed packet is dropped except replies
 * to published ports. Used before Docker is known, when there is nothing better to enforce.
 */
static int apply_base(struct vw_daemon *d, const char *why)
{
	struct vw_ruleset base;
	int r;

	vw_ruleset_base(&d->desired.rs, &base);

	d->base_needed = false;
	vw_reconcile_force_full(&d->rc);
	r = step(d, &base, NULL, vw_now_ms(), NULL);
	/* Lent from the desired ruleset, which frees it. */
	base.ignore = NULL;
	vw_ruleset_done(&base);
	if (r < 0) {
		d->base_needed = true;
		return log_error_errno(r, "cannot apply the base ruleset (%s), retrying", why);
	}
	d->stats.updates_ok++;
	if (d->learner)
		d->dns_flush = true;
	log_warn(
		"%s: base ruleset applied, containers on bridges reach nothing until Docker is synced",
		why);
	return 0;
}

/* The tunnel changed: readiness says whether one is up. */
static void on_vpn(void *ud)
{
	struct vw_daemon *d = ud;

	vw_learner_tunnel(d->learner, vw_vpn_link(d->vpn));
	if (!vw_vpn_up(d->vpn) || d->ready || d->synced)
		set_ready(d);
}

/* Someone else touched our table: put the whole intended state back. */
static void on_table_changed(void *ud, const char *what)
{
	struct vw_daemon *d = ud;

	if (!d->rc.full)
		log_warn("table inet %s changed by another process (%s), restoring it",
			 d->cfg->nft_table, what);
	vw_reconcile_force_full(&d->rc);
	/* Learned elements may be gone with it: none is taken as held until put back. */
	vw_learner_lost(d->learner);
	d->dirty = true;
	/* Before the first sync there is no better state than the base to restore. */
	if (!d->ever_synced)
		d->base_needed = true;
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
	if (!key[0]) {
		/* One log rule serves every container: its source tells whose packet it is. */
		const struct vw_rs_source *s =
			vw_ruleset_source_find(&d->rc.applied, p->family, p->src);

		if (!s || !s->key[0])
			return; /* logged just before the address changed hands */
		key = s->key;
	}
	d->stats.audited++;
	if (strcmp(key, VW_KEY_UNKNOWN) != 0) {
		c = vw_ruleset_find(&d->rc.applied, key);
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

/* --- auxiliary endpoints ----------------------------------------------------------------- */

static int aux_start(struct vw_daemon *d, enum aux_kind k)
{
	const struct vw_config *cfg = d->cfg;

	switch (k) {
	case AUX_METRICS:
		return vw_http_listen_tcp(d->http, cfg->metrics_host, cfg->metrics_port);
	case AUX_API:
		return vw_http_listen_unix(d->http, cfg->api_socket, 0600);
	case AUX_AUDIT:
		return vw_nflog_new(d->loop, cfg->nflog_group, on_audit, d, &d->nflog);
	case AUX_N:
		break;
	}
	return -EINVAL;
}

static void aux_describe(struct vw_daemon *d, enum aux_kind k, char *buf, size_t size)
{
	const struct vw_config *cfg = d->cfg;

	if (k == AUX_METRICS)
		snprintf(buf, size, "metrics on %s port %u (METRICS_ADDR)", cfg->metrics_host,
			 cfg->metrics_port);
	else if (k == AUX_API)
		snprintf(buf, size, "the control API on '%s' (API_SOCKET)", cfg->api_socket);
	else
		snprintf(buf, size, "the drop audit on NFLOG group %u (NFLOG_GROUP)",
			 cfg->nflog_group);
}

/* Endpoints enforcement does not depend on: tried until they work (lib/retry.c). */
static void aux_try(struct vw_daemon *d, enum aux_kind k, uint64_t now)
{
	struct vw_retry *a = &d->aux[k];
	char what[160];
	int r;

	if (!vw_retry_due(a, now))
		return;
	aux_describe(d, k, what, sizeof(what));
	r = aux_start(d, k);
	switch (vw_retry_result(a, r, now)) {
	case 1:
		log_info("serving %s now", what);
		break;
	case -1:
		log_warn_errno(r, "cannot serve %s, enforcement goes on without it; retrying",
			       what);
		break;
	}
}

/* --- HTTP: metrics, health, control API --------------------------------------------------- */

static void refresh_counters(void *ud)
{
	int r = read_counters(ud);

	if (r < 0)
		log_debug_errno(r, "cannot read nft counters");
}

static uint64_t label_errors(void *ud, const char *id)
{
	const struct errcount *e = errcount_get(ud, id);

	return e ? e->n : 0;
}

/* A request gets a view of the state as it is now; control.c renders the answer. */
static void on_http(void *ud, const struct vw_http_request *req, const char *path, bool api,
		    struct vw_http_response *ret)
{
	struct vw_daemon *d = ud;
	struct vw_control ctl = {
		.cfg = d->cfg,
		.learner = d->learner,
		.dnsq = d->learner ? &d->dnsq : NULL,
		.store = &d->store,
		.names = &d->names,
		.rc = &d->rc,
		.stats = &d->stats,
		.totals = &d->totals,
		.drops = &d->drops,
		.ready = d->ready,
		.synced = d->synced,
		.not_ready = d->not_ready,
		.docker_api = vw_docker_api_version(d->docker),
		.rejected = vw_docker_rejected(d->docker),
		.audit_lost = vw_nflog_lost(d->nflog),
		.audit_active = d->nflog != NULL,
		.spoofed = d->spoofed_pkts,
		.vpn_up = vw_vpn_up(d->vpn),
		.vpn_link = vw_vpn_link(d->vpn),
		.started_ms = d->started_ms,
		.refresh = refresh_counters,
		.label_errors = label_errors,
		.ud = d,
	};

	for (int k = 0; k < AUX_N; k++)
		ctl.endpoints[k] = (struct vw_status_endpoint){ .what = aux_names[k],
								.enabled = d->aux[k].wanted,
								.up = d->aux[k].up,
								.error = d->aux[k].error };
	vw_control_handle(&ctl, req, path, api, ret);
}

/* --- signals and loop -------------------------------------------------------------------- */

static void on_signal(struct vw_io *io, uint32_t events)
{
	struct vw_daemon *d = (struct vw_daemon *)((char *)io - offsetof(struct vw_daemon, sig));
	struct signalfd_siginfo si;

	while (read(io->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP: re-applying the whole ruleset");
			vw_reconcile_force_full(&d->rc);
			d->dirty = true;
		} else {
			log_info("received %s, stopping; rules stay in place",
				 si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			d->stopping = true;
		}
	}
}

static int backend_apply(void *ud, const struct vw_plan *plan)
{
	return vw_nft_apply(ud, plan);
}

/* "vpnwall boot=<boot id>": who wrote the table, and during which boot. */
static int backend_learn(void *ud, const struct vw_learned_elem *del, size_t n_del,
			 const struct vw_learned_elem *add, size_t n_add)
{
	return vw_nft_learn(ud, del, n_del, add, n_add);
}

static int make_tag(char *buf, size_t size)
{
	char id[64] = "";
	_cleanup_close_ int fd = open(BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, id, sizeof(id) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	id[n] = '\0';
	id[strcspn(id, "\n")] = '\0';
	snprintf(buf, size, "vpnwall boot=%s", id);
	return 0;
}

int vw_daemon_new(const struct vw_config *cfg, struct vw_daemon **ret_daemon)
{
	char tag[VW_NFT_TAG_MAX + 1];
	struct vw_daemon *d;
	sigset_t mask;
	int r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cfg = cfg;
	d->sig.fd = -1;
	d->started_ms = vw_now_ms();
	(void)vw_strscpy(d->not_ready, "waiting for the first Docker sync", sizeof(d->not_ready));
	vw_store_init(&d->store);
	vw_names_init(&d->names, cfg->dns_ttl_min, cfg->dns_ttl_max);
	if (vw_desired_init(&d->desired, cfg) < 0) {
		free(d);
		return -ENOMEM;
	}
	vw_stats_init(&d->stats);
	d->aux[AUX_METRICS].wanted = cfg->metrics_host[0] != '\0';
	d->aux[AUX_API].wanted = cfg->api_socket[0] != '\0';
	d->aux[AUX_AUDIT].wanted = cfg->nflog_group != 0;

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
	r = make_tag(tag, sizeof(tag));
	if (r < 0) {
		log_error_errno(r, "cannot read the boot id from %s", BOOT_ID_PATH);
		goto fail;
	}
	r = vw_nft_new(cfg->nft_table, tag, &d->nft);
	if (r < 0) {
		log_error_errno(r, "cannot open the nftables netlink socket");
		goto fail;
	}
	vw_reconcile_init(&d->rc, &(struct vw_backend){ .apply = backend_apply, .ud = d->nft });
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
	r = vw_vpn_new(d->loop, cfg, on_vpn, d, &d->vpn);
	if (r < 0)
		goto fail;
	if (cfg->dns_proxy) {
		struct vw_learn_backend be = { .learn = backend_learn, .ud = d->nft };

		vw_dnsq_stats_init(&d->dnsq);
		r = vw_learner_new(d->loop, cfg, &d->store, &d->rc.applied, &be, &d->dnsq,
				   &d->learner);
		if (r < 0)
			goto fail;
		vw_learner_tunnel(d->learner, vw_vpn_link(d->vpn));
	}
	r = vw_conntrack_new(&d->ct);
	if (r < 0)
		log_warn_errno(r, "cannot open ctnetlink: flows a tightened policy revokes are cut "
				  "by the rules, but their conntrack entries are left to expire");
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
	vw_learner_free(d->learner);
	if (d->cfg->dns_proxy)
		vw_dnsq_stats_done(&d->dnsq);
	vw_nflog_free(d->nflog);
	vw_vpn_free(d->vpn);
	vw_conntrack_free(d->ct);
	vw_docker_free(d->docker);
	vw_dns_free(d->dns);
	vw_nft_free(d->nft);
	if (d->sig.fd >= 0) {
		vw_loop_unwatch(d->loop, &d->sig);
		(void)close(d->sig.fd);
	}
	vw_loop_free(d->loop);
	vw_store_done(&d->store);
	vw_names_done(&d->names);
	vw_desired_done(&d->desired);
	vw_reconcile_done(&d->rc);
	vw_pending_done(&d->pending);
	vw_totals_done(&d->totals);
	vw_drops_done(&d->drops);
	for (struct vw_hnode *n; (n = vw_hmap_pop(&d->errs));)
		free(vw_container_of(n, struct errcount, node));
	vw_hmap_done(&d->errs);
	free(d->reported);
	free(d);
}

/* Before Docker: keep a table this boot's daemon wrote, replace anything else by the base. */
static int start_enforcing(struct vw_daemon *d)
{
	char tag[VW_NFT_TAG_MAX + 1], want[VW_NFT_TAG_MAX + 1];
	bool dormant = false;
	int r;

	r = make_tag(want, sizeof(want));
	if (r >= 0)
		r = vw_nft_table_tag(d->nft, tag, sizeof(tag), &dormant);
	if (r == -ENOENT)
		return apply_base(d, "no table yet");
	if (r < 0)
		return log_error_errno(
			r, "cannot talk to nf_tables (is the module available, are we root?)");
	if (dormant)
		return apply_base(d, "the table is dormant (enforcing nothing)");
	if (strcmp(tag, want) != 0) {
		char why[300];

		snprintf(why, sizeof(why), "table inet %s is not from this boot ('%s')",
			 d->cfg->nft_table, tag);
		vw_sanitize(why);
		return apply_base(d, why);
	}
	log_info(
		"table inet %s was written during this boot: it stays in force until the first sync",
		d->cfg->nft_table);
	return 0;
}

int vw_daemon_apply_base(struct vw_daemon *d)
{
	int r = start_enforcing(d);

	return r < 0 ? r : d->base_needed ? -EAGAIN : 0;
}

int vw_daemon_run(struct vw_daemon *d)
{
	int r;

	r = start_enforcing(d);
	if (r < 0 && !d->base_needed)
		return r;
	log_info("starting: table inet %s, Docker at %s%s%s%s", d->cfg->nft_table,
		 d->cfg->docker_socket, d->cfg->dry_run ? ", dry run" : "",
		 d->cfg->vpn_interface[0] ? ", internet only through " : "", d->cfg->vpn_interface);
	if (d->cfg->vpn_allow_warning[0])
		log_warn("%s", d->cfg->vpn_allow_warning);
	for (int k = 0; k < AUX_N; k++)
		aux_try(d, k, vw_now_ms());
	r = vw_docker_start(d->docker);
	if (r < 0)
		return r;

	while (!d->stopping) {
		uint64_t now = vw_now_ms();
		int timeout = vw_deadline_to_timeout(d->rc.retry_at, now);

		timeout = vw_timeout_min(timeout, vw_deadline_to_timeout(d->compile_retry_at, now));
		timeout = vw_timeout_min(
			timeout, vw_deadline_to_timeout(vw_retry_deadline(d->aux, AUX_N), now));
		timeout = vw_timeout_min(timeout, vw_docker_timeout(d->docker));
		timeout = vw_timeout_min(timeout, vw_dns_timeout(d->dns));
		timeout = vw_timeout_min(timeout, vw_learner_timeout(d->learner));
		timeout = vw_timeout_min(timeout, vw_http_timeout(d->http));
		timeout = vw_timeout_min(timeout,
					 vw_deadline_to_timeout(vw_names_deadline(&d->names), now));
		timeout = vw_timeout_min(timeout, vw_deadline_to_timeout(d->sweep_at, now));
		timeout = vw_timeout_min(timeout,
					 vw_deadline_to_timeout(vw_vpn_deadline(d->vpn), now));
		if (d->base_needed)
			timeout = vw_timeout_min(timeout, 1000);

		r = vw_loop_wait(d->loop, timeout);
		if (r < 0)
			return log_error_errno(r, "event loop failed");

		now = vw_now_ms();
		vw_docker_process_timeouts(d->docker);
		vw_dns_process_timeouts(d->dns);
		vw_learner_process(d->learner, now);
		vw_http_process(d->http);
		vw_vpn_process(d->vpn, now);
		for (int k = 0; k < AUX_N; k++)
			aux_try(d, k, now);
		if (d->base_needed && !d->ever_synced)
			(void)apply_base(d, "the table changed before Docker was synced");
		if ((d->rc.retry_at && d->rc.retry_at <= now) ||
		    (d->compile_retry_at && d->compile_retry_at <= now)) {
			d->rc.retry_at = 0;
			d->compile_retry_at = 0;
			d->dirty = true;
		}
		if (d->dirty && d->ever_synced && !d->rc.retry_at && !d->compile_retry_at)
			reconcile(d);
		if (d->sweep_at && d->sweep_at <= now)
			revoke_flows(d, now);
		if (d->dns_flush)
			flush_dns_flows(d);
		start_due_queries(d);
	}
	return 0;
}
