// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * HTTP answers. Every handler renders from the view it is lent; the cost of a request is
 * the size of its answer (a scrape walks each series once, explain one container).
 */
#include "vpnwall/control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnwall/api.h"
#include "vpnwall/config.h"
#include "vpnwall/explain.h"
#include "vpnwall/http.h"
#include "vpnwall/labels.h"
#include "vpnwall/learn.h"
#include "vpnwall/metrics.h"
#include "vpnwall/names.h"
#include "vpnwall/policy.h"
#include "vpnwall/reconcile.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/store.h"
#include "vpnwall/util.h"

static size_t count_isolated(const struct vw_ruleset *rs)
{
	size_t n = 0;

	for (size_t i = 0; i < rs->n_containers; i++)
		n += rs->containers[i]->isolated[0] != '\0';
	return n;
}

static char *render_metrics(const struct vw_control *ctl)
{
	const struct vw_store *st = ctl->store;
	_cleanup_free_ struct vw_label_count *errs = NULL;
	struct vw_metrics_view v = {
		.totals = ctl->totals,
		.drops = ctl->drops,
		.stats = ctl->stats,
		.dnsq = ctl->dnsq,
		.managed = ctl->rc->applied.n_containers,
		.names = ctl->names->n,
		.audit_lost = ctl->audit_lost,
		.ready = ctl->ready,
		.synced = ctl->synced,
		.vpn_interface = ctl->cfg->vpn_interface,
		.vpn_up = ctl->vpn_up,
		.version = VW_VERSION,
	};
	size_t n = 0;

	/* First: folding the kernel's counters in may drop series of containers now gone. */
	if (ctl->refresh)
		ctl->refresh(ctl->ud);
	errs = calloc(st->n + 1, sizeof(*errs));
	for (size_t i = 0; errs && i < st->n; i++) {
		uint64_t e = ctl->label_errors(ctl->ud, st->list[i]->id);

		if (!e)
			continue;
		(void)vw_strscpy(errs[n].id, st->list[i]->id, sizeof(errs[n].id));
		(void)vw_strscpy(errs[n].name, st->list[i]->name, sizeof(errs[n].name));
		errs[n++].n = e;
	}
	v.label_errors = errs;
	v.n_label_errors = n;
	v.spoofed = ctl->spoofed;
	v.isolated = count_isolated(&ctl->rc->applied);
	v.rejected = ctl->rejected;
	return vw_metrics_render(&v);
}

static void status_of(const struct vw_control *ctl, struct vw_status *st)
{
	*st = (struct vw_status){
		.version = VW_VERSION,
		.ready = ctl->ready,
		.docker_synced = ctl->synced,
		.docker_api = ctl->docker_api,
		.ruleset_applied = ctl->rc->have_applied && !ctl->rc->full,
		.ruleset_updates = ctl->stats->updates_ok,
		.ruleset_failures = ctl->stats->updates_failed,
		.containers = ctl->store->n,
		.managed = ctl->rc->applied.n_containers,
		.isolated = count_isolated(&ctl->rc->applied),
		.rejected = ctl->rejected,
		.names = ctl->names->n,
		.table = ctl->cfg->nft_table,
		.dry_run = ctl->cfg->dry_run,
		.vpn_interface = ctl->cfg->vpn_interface,
		.vpn_up = ctl->vpn_up,
		.vpn_link = ctl->vpn_link,
		.nflog_group = ctl->cfg->nflog_group,
		.audit_active = ctl->audit_active,
		.uptime_s = (vw_now_ms() - ctl->started_ms) / 1000,
	};
	for (size_t i = 0; i < ctl->store->n_nets; i++)
		st->bridges += vw_network_is_managed(&ctl->store->nets[i], ctl->cfg);
	memcpy(st->endpoints, ctl->endpoints, sizeof(st->endpoints));
	(void)vw_strscpy(st->reason, ctl->not_ready[0] ? ctl->not_ready : "starting",
			 sizeof(st->reason));
}

/* The policy @c is enforced with: its own, or that of the container whose namespace it uses. */
static const struct vw_container *policy_owner(const struct vw_control *ctl,
					       const struct vw_container *c, enum vw_managed state)
{
	const struct vw_container *o;

	if (state != VW_JOINED)
		return c;
	o = vw_store_get(ctl->store, c->netns_owner);
	return o && vw_container_joins(c, o) ? o : NULL;
}

/* The API view of @c; ret->sharers is malloc'd (NULL when none), freed by the caller. */
static void api_container(const struct vw_control *ctl, const struct vw_container *c,
			  struct vw_api_container *ret)
{
	const struct vw_store *st = ctl->store;
	enum vw_managed state = vw_policy_state(c, st->nets, st->n_nets, ctl->cfg);
	const struct vw_container **sharers = NULL;
	const struct vw_container *owner = policy_owner(ctl, c, state);
	const struct vw_rs_container *rc = NULL;
	char key[VW_KEY_LEN + 1];
	int n;

	n = vw_store_sharers(st, c, &sharers);
	if (owner) {
		(void)vw_strscpy(key, owner->id, sizeof(key));
		rc = vw_ruleset_find(&ctl->rc->applied, key);
	}
	*ret = (struct vw_api_container){
		.c = c,
		.state = state,
		.audit = ctl->cfg->dry_run || (owner ? owner : c)->labels.dry_run,
		.sharers = sharers,
		.n_sharers = n > 0 ? (size_t)n : 0,
		.owner = owner != c ? owner : NULL,
		.isolated = rc && rc->isolated[0] ? rc->isolated : NULL,
		.note = rc && rc->note[0] ? rc->note : NULL,
	};
	if (rc && ctl->learner) {
		struct vw_learned_info *l = calloc(VW_API_LEARNED_MAX, sizeof(*l));

		if (l) {
			ret->n_learned = vw_learner_list(ctl->learner, rc->key, vw_now_ms(), l,
							 VW_API_LEARNED_MAX);
			ret->learned = l;
		}
	}
}

/* What api_container() allocated. */
static void api_container_done(struct vw_api_container *ac)
{
	free((void *)ac->sharers);
	free((void *)ac->learned);
}

static void respond(struct vw_http_response *ret, unsigned status, const char *type, char *body)
{
	ret->status = body ? status : 500;
	ret->content_type = type;
	ret->body = body;
	ret->len = body ? strlen(body) : 0;
}

/* An address the static policy blocks may still be one the DNS proxy learned. */
static void explain_learned(const struct vw_control *ctl, const char *key, const struct vw_dst *q,
			    struct vw_explanation *x)
{
	struct vw_learned_info l;
	uint64_t now = vw_now_ms();
	char addr[64];

	if (!vw_learner_holds(ctl->learner, key, q->family, q->addr, now, &l))
		return;
	if (!inet_ntop(q->family, q->addr, addr, sizeof(addr)))
		snprintf(addr, sizeof(addr), "?");
	x->verdict = VW_VERDICT_ALLOWED;
	x->path = (enum vw_path)l.grant.path;
	snprintf(x->reason, sizeof(x->reason),
		 "%s is allowed: the DNS proxy learned it from the answer for '%s' (%llus left; "
		 "the entry that allows that name scopes its ports)",
		 addr, l.name,
		 (unsigned long long)(l.expires_ms > now ? (l.expires_ms - now + 999) / 1000 : 0));
}

static int explain_one(const struct vw_control *ctl, const struct vw_api_container *ac,
		       const struct vw_dst *q, struct vw_explanation *x)
{
	const struct vw_container *owner = ac->owner ? ac->owner : ac->c;
	_cleanup_free_ const struct vw_container **sharers = NULL;
	const struct vw_rs_container *compiled;
	char key[VW_KEY_LEN + 1], msg[1024];
	int n, r;

	if (ac->state != VW_MANAGED && !(ac->state == VW_JOINED && ac->owner)) {
		*x = (struct vw_explanation){ .verdict = VW_VERDICT_ALLOWED };
		snprintf(x->reason, sizeof(x->reason), "vpnwall does not restrict it (%s)",
			 vw_managed_reason(ac->state));
		return 0;
	}
	(void)vw_strscpy(key, owner->id, sizeof(key));
	compiled = vw_ruleset_find(&ctl->rc->applied, key);
	if (!compiled) {
		*x = (struct vw_explanation){ .verdict = VW_VERDICT_BLOCKED };
		snprintf(x->reason, sizeof(x->reason),
			 "everything is blocked: its policy is not applied (yet)");
		return 0;
	}
	n = vw_store_sharers(ctl->store, owner, &sharers);
	if (n < 0)
		return n;
	r = vw_explain(&(struct vw_explain_input){ .compiled = compiled,
						   .c = owner,
						   .sharers = sharers,
						   .n_sharers = (size_t)n,
						   .cfg = ctl->cfg,
						   .names = ctl->names },
		       q, x);
	if (r < 0)
		return r;
	if (x->verdict == VW_VERDICT_BLOCKED && q->kind == VW_DST_NET)
		explain_learned(ctl, compiled->key, q, x);
	if (ac->audit && x->verdict == VW_VERDICT_BLOCKED) {
		(void)vw_strscpy(msg, x->reason, sizeof(msg));
		snprintf(x->reason, sizeof(x->reason), "%.960s (dry run: counted, not dropped)",
			 msg);
	}
	return 0;
}

static void api_explain(const struct vw_control *ctl, const struct vw_http_request *req, bool json,
			const char *type, struct vw_http_response *ret)
{
	const char *ref = vw_http_arg(req, "container"), *dst = vw_http_arg(req, "destination");
	const struct vw_container *c;
	struct vw_api_container ac;
	struct vw_explanation x;
	struct vw_dst q = { 0 };
	const char *reason;
	char msg[512];
	int r;

	if (!ref || !*ref) {
		respond(ret, 400, type, vw_api_error("missing ?container=", json));
		return;
	}
	c = vw_store_find(ctl->store, ref);
	if (!c) {
		char safe[128];

		(void)vw_strscpy(safe, ref, sizeof(safe));
		vw_sanitize(safe);
		snprintf(msg, sizeof(msg),
			 "no running container '%s' (or the id prefix is ambiguous)", safe);
		respond(ret, 404, type, vw_api_error(msg, json));
		return;
	}
	api_container(ctl, c, &ac);
	if (!dst || !*dst) {
		respond(ret, 200, type,
			vw_api_explain(&ac, ctl->cfg, ctl->names, vw_now_ms(), NULL, NULL, json));
		api_container_done(&ac);
		return;
	}
	reason = "give one address or name, not a CIDR or a wildcard";
	r = vw_dst_parse(dst, &q, &reason);
	if (r == 0 && (q.kind == VW_DST_WILDCARD ||
		       (q.kind == VW_DST_NET && q.prefix != (q.family == AF_INET ? 32 : 128))))
		r = -EINVAL;
	if (r == 0)
		r = explain_one(ctl, &ac, &q, &x);
	vw_dst_done(&q);
	if (r < 0) {
		char safe[300];

		(void)vw_strscpy(safe, dst, sizeof(safe));
		vw_sanitize(safe);
		snprintf(msg, sizeof(msg), "destination '%s': %s", safe, reason);
		respond(ret, 400, type, vw_api_error(msg, json));
		api_container_done(&ac);
		return;
	}
	respond(ret, 200, type,
		vw_api_explain(&ac, ctl->cfg, ctl->names, vw_now_ms(), dst, &x, json));
	api_container_done(&ac);
}

static void api_containers(const struct vw_control *ctl, bool json, const char *type,
			   struct vw_http_response *ret)
{
	const struct vw_store *st = ctl->store;
	_cleanup_free_ struct vw_api_container *v = calloc(st->n + 1, sizeof(*v));

	if (!v) {
		respond(ret, 500, type, NULL);
		return;
	}
	for (size_t i = 0; i < st->n; i++)
		api_container(ctl, st->list[i], &v[i]);
	respond(ret, 200, type,
		vw_api_containers(v, st->n, ctl->cfg, ctl->names, vw_now_ms(), json));
	for (size_t i = 0; i < st->n; i++)
		api_container_done(&v[i]);
}

void vw_control_handle(const struct vw_control *ctl, const struct vw_http_request *req,
		       const char *path, bool api, struct vw_http_response *ret)
{
	const char *fmt = vw_http_arg(req, "format");
	bool json = !(fmt && strcmp(fmt, "text") == 0);
	const char *type = json ? "application/json" : "text/plain; charset=utf-8";
	struct vw_status st;

	if (strcmp(path, "/metrics") == 0) {
		respond(ret, 200, "text/plain; version=0.0.4; charset=utf-8", render_metrics(ctl));
	} else if (strcmp(path, "/healthz") == 0) {
		/* Answering at all proves the loop turns. */
		respond(ret, 200, "text/plain", strdup("ok\n"));
	} else if (strcmp(path, "/readyz") == 0) {
		char *body = NULL;

		if (ctl->ready)
			body = strdup("ready\n");
		else if (asprintf(&body, "not ready: %s\n",
				  ctl->not_ready[0] ? ctl->not_ready : "starting") < 0)
			body = NULL;
		respond(ret, ctl->ready ? 200 : 503, "text/plain", body);
	} else if (api && strcmp(path, "/v1/status") == 0) {
		status_of(ctl, &st);
		respond(ret, 200, type, vw_api_status(&st, json));
	} else if (api && strcmp(path, "/v1/containers") == 0) {
		api_containers(ctl, json, type, ret);
	} else if (api && strcmp(path, "/v1/explain") == 0) {
		api_explain(ctl, req, json, type, ret);
	} else {
		respond(ret, 404, type, vw_api_error("not found", json));
	}
}
