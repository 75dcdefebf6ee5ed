// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Composition of the modules and the reconcile step. Nothing is applied until Docker has
 * been listed once: enforcing a guess would either open the firewall (an empty policy for
 * running containers is not "nothing allowed" if the previous table is replaced by one that
 * does not police their bridge) or break them. Until then the table a previous run left
 * behind keeps enforcing.
 */
#include "vpnwall/daemon.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "vpnwall/config.h"
#include "vpnwall/dns.h"
#include "vpnwall/docker.h"
#include "vpnwall/dockermsg.h"
#include "vpnwall/labels.h"
#include "vpnwall/log.h"
#include "vpnwall/loop.h"
#include "vpnwall/names.h"
#include "vpnwall/nft.h"
#include "vpnwall/policy.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/util.h"

#define VW_LOG_MODULE "daemon"

#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000
#define CONTAINERS_MAX 65536

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
	bool ever_synced;
	bool dirty; /* the desired state may differ from the applied one */
	bool have_applied; /* applied reflects the kernel; false forces a full replace */
	bool ready;
	struct vw_ruleset applied;
	uint64_t retry_at; /* a failed commit is retried at this time */
	unsigned retry_ms;
};

/* --- container store --------------------------------------------------------------------- */

static struct vw_container *find_container(struct vw_daemon *d, const char *id)
{
	for (size_t i = 0; i < d->n_cs; i++)
		if (strcmp(d->cs[i].id, id) == 0)
			return &d->cs[i];
	return NULL;
}

static void describe_labels(const struct vw_container *c)
{
	for (size_t i = 0; i < c->labels.n_errors; i++) {
		const struct vw_label_error *e = &c->labels.errors[i];

		log_warn("container '%s': label '%s' entry '%s': %s, ignoring", c->name, e->label,
			 e->token, e->reason);
	}
	if (c->host_network && (c->labels.n_outbound || c->labels.n_allow))
		log_warn("container '%s' uses the host network: its traffic never crosses the forward hook, not managed",
			 c->name);
	else if (c->labels.disabled)
		log_info("container '%s' opted out with vpn.enable=false: not managed", c->name);
}

static bool same_errors(const struct vw_labels *a, const struct vw_labels *b)
{
	return a->n_errors == b->n_errors &&
	       (a->n_errors == 0 ||
		memcmp(a->errors, b->errors, a->n_errors * sizeof(*a->errors)) == 0);
}

/* Store @c (ownership moves) or drop the container when @c is NULL or not running. */
static void store_container(struct vw_daemon *d, const char *id, struct vw_container *c)
{
	struct vw_container *old = find_container(d, id);
	bool keep = c && c->running;

	if (keep && (!old || !same_errors(&old->labels, &c->labels) ||
		     old->labels.disabled != c->labels.disabled))
		describe_labels(c);
	if (old) {
		if (keep)
			log_debug("container '%s' updated", c->name);
		else
			log_info("container '%s' gone", old->name);
		vw_container_done(old);
		if (keep) {
			*old = *c;
		} else {
			*old = d->cs[--d->n_cs];
			if (c)
				vw_container_done(c);
		}
	} else if (keep) {
		if (vw_grow((void **)&d->cs, &d->cap_cs, d->n_cs + 1, sizeof(*d->cs), CONTAINERS_MAX) <
		    0) {
			/* Not tracked means not dispatched: its packets hit the unknown-source drop. */
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

static void on_synced(void *ud, struct vw_container *cs, size_t n, struct vw_network *nets,
		      size_t n_nets)
{
	struct vw_daemon *d = ud;

	for (size_t i = 0; i < d->n_cs; i++)
		vw_container_done(&d->cs[i]);
	d->n_cs = 0;
	for (size_t i = 0; i < n; i++)
		store_container(d, cs[i].id, &cs[i]);
	free(cs);
	free(d->nets);
	d->nets = nets;
	d->n_nets = n_nets;
	d->synced = d->ever_synced = true;
	d->dirty = true;
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

static void on_docker_state(void *ud, bool synced, const char *reason)
{
	struct vw_daemon *d = ud;

	d->synced = synced;
	if (!synced && d->ready) {
		d->ready = false;
		log_warn("not ready: Docker unreachable (%s); the last applied rules stay in force",
			 reason);
	}
}

static const struct vw_docker_ops docker_ops = {
	.synced = on_synced,
	.container = on_container,
	.networks = on_networks,
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
			(void)vw_names_answer(&d->names, n->name, fam, VW_DNS_FAIL, NULL, 0, 0, now);
			log_warn_errno(r, "cannot query '%s', retrying", n->name);
		}
	}
}

/* --- reconcile --------------------------------------------------------------------------- */

static void reconcile(struct vw_daemon *d)
{
	struct vw_ruleset desired;
	struct vw_plan plan;
	uint64_t now = vw_now_ms();
	size_t swept;
	int r;

	d->dirty = false;
	vw_names_begin(&d->names);
	r = vw_policy_compile(d->cs, d->n_cs, d->nets, d->n_nets, d->cfg, &d->names, now, &desired);
	if (r < 0) {
		log_error_errno(r, "cannot compile the policy, keeping the applied rules, retrying");
		d->retry_at = now + RETRY_MIN_MS;
		return;
	}
	swept = vw_names_sweep(&d->names);
	if (swept)
		log_debug("forgot %zu unused name(s)", swept);

	r = vw_ruleset_diff(d->have_applied ? &d->applied : NULL, &desired, &plan);
	if (r < 0) {
		vw_ruleset_done(&desired);
		log_error_errno(r, "cannot compute the ruleset change, retrying");
		d->retry_at = now + RETRY_MIN_MS;
		return;
	}
	r = vw_nft_apply(d->nft, &plan);
	if (r < 0) {
		log_error_errno(r, "nftables commit of %zu operation(s) failed, nothing changed; retrying with a full replace in %ums",
				plan.n, d->retry_ms);
		vw_plan_done(&plan);
		vw_ruleset_done(&desired);
		/* The kernel may differ from what we think (someone flushed us): start over. */
		d->have_applied = false;
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
	d->retry_at = 0;
	d->retry_ms = RETRY_MIN_MS;
	if (!d->ready && d->synced) {
		d->ready = true;
		log_info("ready: %zu managed container(s) on %zu bridge(s)%s", d->applied.n_containers,
			 d->applied.n_bridges, d->cfg->dry_run ? " (dry run: nothing is dropped)" : "");
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
			d->have_applied = false;
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
	vw_names_init(&d->names, cfg->dns_ttl_min, cfg->dns_ttl_max);

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
	r = vw_dns_new(d->loop, cfg->dns_servers, &d->dns);
	if (r < 0) {
		log_error_errno(r, "cannot set up the resolver (DNS_SERVERS='%s')", cfg->dns_servers);
		goto fail;
	}
	r = vw_docker_new(d->loop, cfg->docker_socket, &docker_ops, d, &d->docker);
	if (r < 0)
		goto fail;
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
	free(d);
}

int vw_daemon_run(struct vw_daemon *d)
{
	int r;

	r = vw_nft_table_exists(d->nft);
	if (r < 0)
		return log_error_errno(r, "cannot talk to nf_tables (is the module available, are we root?)");
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
		timeout = vw_timeout_min(timeout,
					 vw_deadline_to_timeout(vw_names_deadline(&d->names), now));

		r = vw_loop_wait(d->loop, timeout);
		if (r < 0)
			return log_error_errno(r, "event loop failed");

		vw_docker_process_timeouts(d->docker);
		vw_dns_process_timeouts(d->dns);
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
