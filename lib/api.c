// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * API rendering. JSON goes through cJSON (escaping is its job); text is laid out for a
 * terminal, one container per block.
 */
#include "vpnwall/api.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "vpnwall/config.h"
#include "vpnwall/explain.h"
#include "vpnwall/names.h"
#include "vpnwall/util.h"

static char *finish_json(cJSON *j)
{
	char *s = j ? cJSON_Print(j) : NULL;
	char *out = NULL;

	cJSON_Delete(j);
	if (!s)
		return NULL;
	/* cJSON memory is released with cJSON_free(); hand the caller plain malloc memory. */
	if (asprintf(&out, "%s\n", s) < 0)
		out = NULL;
	cJSON_free(s);
	return out;
}

static char *finish_text(struct vw_buf *b)
{
	if (b->oom) {
		vw_buf_done(b);
		return NULL;
	}
	if (!b->p)
		return strdup("");
	return b->p;
}

static const char *verdict_name(enum vw_verdict v)
{
	return v == VW_VERDICT_ALLOWED	 ? "allowed"
	       : v == VW_VERDICT_PARTIAL ? "partial"
					 : "blocked";
}

char *vw_api_status(const struct vw_status *st, bool json)
{
	struct vw_buf b = { 0 };

	if (json) {
		cJSON *j = cJSON_CreateObject(), *d, *r;

		cJSON_AddStringToObject(j, "version", st->version);
		cJSON_AddBoolToObject(j, "ready", st->ready);
		if (!st->ready)
			cJSON_AddStringToObject(j, "reason", st->reason);
		d = cJSON_AddObjectToObject(j, "docker");
		cJSON_AddBoolToObject(d, "synced", st->docker_synced);
		cJSON_AddStringToObject(d, "api_version", st->docker_api);
		r = cJSON_AddObjectToObject(j, "ruleset");
		cJSON_AddStringToObject(r, "table", st->table);
		cJSON_AddBoolToObject(r, "applied", st->ruleset_applied);
		cJSON_AddNumberToObject(r, "updates", (double)st->ruleset_updates);
		cJSON_AddNumberToObject(r, "failures", (double)st->ruleset_failures);
		cJSON_AddBoolToObject(r, "dry_run", st->dry_run);
		if (st->vpn_interface[0]) {
			d = cJSON_AddObjectToObject(j, "vpn");
			cJSON_AddStringToObject(d, "interface", st->vpn_interface);
			cJSON_AddBoolToObject(d, "up", st->vpn_up);
			if (st->vpn_up)
				cJSON_AddStringToObject(d, "link", st->vpn_link);
		}
		cJSON_AddNumberToObject(j, "containers", (double)st->containers);
		cJSON_AddNumberToObject(j, "managed_containers", (double)st->managed);
		cJSON_AddNumberToObject(j, "bridges", (double)st->bridges);
		cJSON_AddNumberToObject(j, "names", (double)st->names);
		cJSON_AddNumberToObject(j, "nflog_group", st->nflog_group);
		cJSON_AddBoolToObject(j, "audit_active", st->audit_active);
		cJSON_AddNumberToObject(j, "isolated_containers", (double)st->isolated);
		cJSON_AddNumberToObject(j, "rejected_containers", (double)st->rejected);
		cJSON_AddNumberToObject(j, "uptime_seconds", (double)st->uptime_s);
		d = cJSON_AddObjectToObject(j, "endpoints");
		for (size_t i = 0; i < ELEMENTSOF(st->endpoints); i++) {
			const struct vw_status_endpoint *e = &st->endpoints[i];
			cJSON *o = cJSON_AddObjectToObject(d, e->what);

			cJSON_AddBoolToObject(o, "enabled", e->enabled);
			cJSON_AddBoolToObject(o, "up", e->up);
			if (e->enabled && !e->up)
				cJSON_AddStringToObject(o, "error", e->error);
		}
		return finish_json(j);
	}
	vw_buf_printf(&b, "vpnwalld %s: %s%s%s\n", st->version, st->ready ? "ready" : "NOT READY",
		      st->ready ? "" : " - ", st->ready ? "" : st->reason);
	vw_buf_printf(&b, "docker:     %s (API %s)\n", st->docker_synced ? "synced" : "not synced",
		      st->docker_api[0] ? st->docker_api : "-");
	vw_buf_printf(&b, "ruleset:    table inet %s, %s, %llu update(s), %llu failure(s)%s\n",
		      st->table, st->ruleset_applied ? "applied" : "not applied",
		      (unsigned long long)st->ruleset_updates,
		      (unsigned long long)st->ruleset_failures, st->dry_run ? ", DRY RUN" : "");
	if (st->vpn_interface[0])
		vw_buf_printf(&b, "vpn:        %s %s%s%s\n", st->vpn_interface,
			      st->vpn_up ? "up (" : "DOWN, only the LAN is reachable",
			      st->vpn_up ? st->vpn_link : "", st->vpn_up ? ")" : "");
	vw_buf_printf(&b, "containers: %zu running, %zu managed, %zu bridge(s), %zu name(s)\n",
		      st->containers, st->managed, st->bridges, st->names);
	if (st->isolated)
		vw_buf_printf(&b, "isolated:   %zu container(s) reach nothing (see explain)\n",
			      st->isolated);
	if (st->rejected)
		vw_buf_printf(
			&b,
			"rejected:   %llu container description(s) over the size cap, dropped\n",
			(unsigned long long)st->rejected);
	if (st->nflog_group)
		vw_buf_printf(&b, "audit:      NFLOG group %u, %s\n", st->nflog_group,
			      st->audit_active ? "active" : "INACTIVE (group unavailable)");
	else
		vw_buf_printf(&b, "audit:      off\n");
	for (size_t i = 0; i < ELEMENTSOF(st->endpoints); i++) {
		const struct vw_status_endpoint *e = &st->endpoints[i];

		if (e->enabled && !e->up)
			vw_buf_printf(&b, "endpoint:   %s NOT UP (%s), retrying\n", e->what,
				      e->error);
	}
	vw_buf_printf(&b, "uptime:     %llus\n", (unsigned long long)st->uptime_s);
	return finish_text(&b);
}

static cJSON *dst_array(const struct vw_dst *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	char buf[300];

	for (size_t i = 0; i < n; i++) {
		vw_dst_format(&v[i], buf, sizeof(buf));
		cJSON_AddItemToArray(a, cJSON_CreateString(buf));
	}
	return a;
}

static void text_list(struct vw_buf *b, const char *title, const struct vw_dst *v, size_t n)
{
	char buf[300];

	if (n == 0)
		return;
	vw_buf_printf(b, "  %-10s", title);
	for (size_t i = 0; i < n; i++) {
		vw_dst_format(&v[i], buf, sizeof(buf));
		vw_buf_printf(b, "%s%s", i ? ", " : "", buf);
	}
	vw_buf_append(b, "\n", 1);
}

static void addr_text(uint8_t family, const uint8_t *a, char *buf, size_t size)
{
	if (!inet_ntop(family, a, buf, (socklen_t)size))
		snprintf(buf, size, "?");
}

/* Every name a container's policy uses, with its addresses and expiry. */
static void each_name(const struct vw_labels *l, const struct vw_config *cfg,
		      void (*fn)(const char *name, void *ud), void *ud)
{
	for (size_t i = 0; i < l->n_outbound; i++)
		if (l->outbound[i].kind == VW_DST_NAME)
			fn(l->outbound[i].name, ud);
	for (size_t i = 0; i < cfg->n_default_outbound; i++)
		if (cfg->default_outbound[i].kind == VW_DST_NAME)
			fn(cfg->default_outbound[i].name, ud);
}

struct names_ctx {
	const struct vw_names *names;
	uint64_t now;
	cJSON *json;
	struct vw_buf *b;
};

static void name_json(const char *name, void *ud)
{
	struct names_ctx *x = ud;
	const struct vw_name *n = vw_names_get(x->names, name);
	cJSON *o = cJSON_CreateObject(), *a4, *a6;
	char buf[64];

	cJSON_AddStringToObject(o, "name", name);
	a4 = cJSON_AddArrayToObject(o, "ipv4");
	a6 = cJSON_AddArrayToObject(o, "ipv6");
	for (int f = 0; n && f < 2; f++) {
		for (size_t i = 0; i < n->fam[f].n; i++) {
			addr_text(f ? AF_INET6 : AF_INET, n->fam[f].addrs[i], buf, sizeof(buf));
			cJSON_AddItemToArray(f ? a6 : a4, cJSON_CreateString(buf));
		}
	}
	if (n && n->fam[0].known) {
		uint64_t exp = n->fam[0].expires_at;

		cJSON_AddNumberToObject(o, "expires_in_seconds",
					exp > x->now ? (double)((exp - x->now) / 1000) : 0);
	}
	cJSON_AddBoolToObject(o, "resolved", n && (n->fam[0].known || n->fam[1].known));
	cJSON_AddItemToArray(x->json, o);
}

static void name_text(const char *name, void *ud)
{
	struct names_ctx *x = ud;
	const struct vw_name *n = vw_names_get(x->names, name);
	char buf[64];
	size_t shown = 0;

	vw_buf_printf(x->b, "  %-10s%s ->", "name", name);
	for (int f = 0; n && f < 2; f++)
		for (size_t i = 0; i < n->fam[f].n; i++, shown++) {
			addr_text(f ? AF_INET6 : AF_INET, n->fam[f].addrs[i], buf, sizeof(buf));
			vw_buf_printf(x->b, " %s", buf);
		}
	if (!n || !(n->fam[0].known || n->fam[1].known))
		vw_buf_printf(x->b, " (not resolved yet)");
	else if (shown == 0)
		vw_buf_printf(x->b, " (no addresses)");
	else if (n->fam[0].expires_at > x->now)
		vw_buf_printf(x->b, " (refresh in %llus)",
			      (unsigned long long)((n->fam[0].expires_at - x->now) / 1000));
	vw_buf_append(x->b, "\n", 1);
}

/* "tcp 80-90 through the VPN": what a learned address may be reached by. */
static void grant_text(const struct vw_learned_info *l, char *buf, size_t size)
{
	const struct vw_name_grant_view *g = &l->grant;
	char ports[32] = "any protocol";

	if (g->protos) {
		const char *p = g->protos == (VW_PROTO_TCP | VW_PROTO_UDP) ? "tcp+udp"
				: g->protos & VW_PROTO_TCP		   ? "tcp"
									   : "udp";

		if (g->port_lo == g->port_hi)
			snprintf(ports, sizeof(ports), "%s %u", p, g->port_lo);
		else
			snprintf(ports, sizeof(ports), "%s %u-%u", p, g->port_lo, g->port_hi);
	}
	snprintf(buf, size, "%s, %s path", ports, vw_path_name((enum vw_path)g->path));
}

static uint64_t left_s(const struct vw_learned_info *l, uint64_t now)
{
	return l->expires_ms > now ? (l->expires_ms - now + 999) / 1000 : 0;
}

static void learned_json(cJSON *o, const struct vw_api_container *v, uint64_t now)
{
	cJSON *a = cJSON_AddArrayToObject(o, "learned");
	char buf[64];

	for (size_t i = 0; i < v->n_learned; i++) {
		const struct vw_learned_info *l = &v->learned[i];
		cJSON *x = cJSON_CreateObject();

		cJSON_AddStringToObject(x, "name", l->name);
		addr_text(l->family, l->addr, buf, sizeof(buf));
		cJSON_AddStringToObject(x, "address", buf);
		grant_text(l, buf, sizeof(buf));
		cJSON_AddStringToObject(x, "allows", buf);
		cJSON_AddNumberToObject(x, "expires_in_seconds", (double)left_s(l, now));
		cJSON_AddItemToArray(a, x);
	}
}

static void learned_text(struct vw_buf *b, const struct vw_api_container *v, uint64_t now)
{
	char addr[64], g[64];

	for (size_t i = 0; i < v->n_learned; i++) {
		const struct vw_learned_info *l = &v->learned[i];

		addr_text(l->family, l->addr, addr, sizeof(addr));
		grant_text(l, g, sizeof(g));
		vw_buf_printf(b, "  %-10s%s -> %s (%s, %llus left)\n", "learned", l->name, addr, g,
			      (unsigned long long)left_s(l, now));
	}
}

static cJSON *container_json(const struct vw_api_container *v, const struct vw_config *cfg,
			     const struct vw_names *names, uint64_t now)
{
	const struct vw_container *c = v->c;
	cJSON *o = cJSON_CreateObject(), *eps, *pol, *errs;
	struct names_ctx nx = { .names = names, .now = now };
	char buf[64];

	cJSON_AddStringToObject(o, "name", c->name);
	cJSON_AddStringToObject(o, "id", c->id);
	cJSON_AddBoolToObject(o, "managed", v->state == VW_MANAGED);
	cJSON_AddStringToObject(o, "state", vw_managed_reason(v->state));
	cJSON_AddStringToObject(o, "audit",
				v->state != VW_MANAGED ? "none"
				: v->audit	       ? "dry_run"
						       : "enforced");
	eps = cJSON_AddArrayToObject(o, "addresses");
	for (size_t i = 0; i < c->n_eps; i++) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "network", c->eps[i].network);
		if (c->eps[i].endpoint_id[0])
			cJSON_AddStringToObject(e, "endpoint_id", c->eps[i].endpoint_id);
		if (c->eps[i].has_mac) {
			const uint8_t *m = c->eps[i].mac;

			snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
				 m[2], m[3], m[4], m[5]);
			cJSON_AddStringToObject(e, "mac", buf);
		}
		if (c->eps[i].has4) {
			addr_text(AF_INET, c->eps[i].addr4, buf, sizeof(buf));
			cJSON_AddStringToObject(e, "ipv4", buf);
		}
		if (c->eps[i].has6) {
			addr_text(AF_INET6, c->eps[i].addr6, buf, sizeof(buf));
			cJSON_AddStringToObject(e, "ipv6", buf);
		}
		cJSON_AddItemToArray(eps, e);
	}
	if (c->netns_owner[0])
		cJSON_AddStringToObject(o, "network_namespace_of", c->netns_owner);
	if (v->owner)
		cJSON_AddStringToObject(o, "policed_as", v->owner->name);
	if (v->isolated)
		cJSON_AddStringToObject(o, "isolated", v->isolated);
	if (v->note)
		cJSON_AddStringToObject(o, "note", v->note);
	pol = cJSON_AddObjectToObject(o, "policy");
	cJSON_AddItemToObject(pol, "outbound", dst_array(c->labels.outbound, c->labels.n_outbound));
	cJSON_AddItemToObject(pol, "allow", dst_array(c->labels.allow, c->labels.n_allow));
	cJSON_AddItemToObject(pol, "default_outbound",
			      dst_array(cfg->default_outbound, cfg->n_default_outbound));
	cJSON_AddBoolToObject(pol, "dry_run", c->labels.dry_run);
	nx.json = cJSON_AddArrayToObject(o, "names");
	each_name(&c->labels, cfg, name_json, &nx);
	if (cfg->dns_proxy)
		learned_json(o, v, now);
	errs = cJSON_AddArrayToObject(o, "label_errors");
	for (size_t i = 0; i < c->labels.n_errors; i++) {
		const struct vw_label_error *e = &c->labels.errors[i];
		cJSON *x = cJSON_CreateObject();

		cJSON_AddStringToObject(x, "label", e->label);
		cJSON_AddStringToObject(x, "entry", e->token);
		cJSON_AddStringToObject(x, "reason", e->reason);
		cJSON_AddItemToArray(errs, x);
	}
	return o;
}

static void container_text(struct vw_buf *b, const struct vw_api_container *v,
			   const struct vw_config *cfg, const struct vw_names *names, uint64_t now)
{
	const struct vw_container *c = v->c;
	struct names_ctx nx = { .names = names, .now = now, .b = b };
	char buf[64];

	vw_buf_printf(b, "%s (%.12s): %s%s\n", c->name, c->id, vw_managed_reason(v->state),
		      v->state == VW_MANAGED && v->audit ? ", dry run (nothing dropped)" : "");
	for (size_t i = 0; i < c->n_eps; i++) {
		vw_buf_printf(b, "  %-10s", i ? "" : "address");
		if (c->eps[i].has4) {
			addr_text(AF_INET, c->eps[i].addr4, buf, sizeof(buf));
			vw_buf_printf(b, "%s ", buf);
		}
		if (c->eps[i].has6) {
			addr_text(AF_INET6, c->eps[i].addr6, buf, sizeof(buf));
			vw_buf_printf(b, "%s ", buf);
		}
		vw_buf_printf(b, "(%s)\n", c->eps[i].network);
	}
	if (v->owner)
		vw_buf_printf(b, "  %-10s'%s' (whose network namespace it uses)\n", "policed as",
			      v->owner->name);
	if (v->isolated)
		vw_buf_printf(b, "  %-10sISOLATED, reaches nothing: %s\n", "policy", v->isolated);
	if (v->note)
		vw_buf_printf(b, "  %-10s%s\n", "note", v->note);
	text_list(b, "outbound", c->labels.outbound, c->labels.n_outbound);
	text_list(b, "allow", c->labels.allow, c->labels.n_allow);
	if (v->state == VW_MANAGED)
		text_list(b, "default", cfg->default_outbound, cfg->n_default_outbound);
	for (size_t i = 0; i < v->n_sharers; i++)
		vw_buf_printf(b,
			      "  %-10s%s (shares this network namespace; its labels apply here)\n",
			      "joined", v->sharers[i]->name);
	each_name(&c->labels, cfg, name_text, &nx);
	learned_text(b, v, now);
	for (size_t i = 0; i < c->labels.n_errors; i++) {
		const struct vw_label_error *e = &c->labels.errors[i];

		vw_buf_printf(b, "  %-10s%s '%s': %s (ignored)\n", "error", e->label, e->token,
			      e->reason);
	}
	if (c->labels.n_errors_dropped)
		vw_buf_printf(b, "  %-10s%zu more rejected entries not shown\n", "error",
			      c->labels.n_errors_dropped);
	if (v->state == VW_MANAGED &&
	    c->labels.n_outbound + c->labels.n_allow + cfg->n_default_outbound == 0 &&
	    v->n_sharers == 0)
		vw_buf_printf(b, "  %-10severything outside its network is blocked\n", "policy");
}

char *vw_api_containers(const struct vw_api_container *v, size_t n, const struct vw_config *cfg,
			const struct vw_names *names, uint64_t now, bool json)
{
	struct vw_buf b = { 0 };

	if (json) {
		cJSON *a = cJSON_CreateArray();

		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(a, container_json(&v[i], cfg, names, now));
		return finish_json(a);
	}
	for (size_t i = 0; i < n; i++)
		container_text(&b, &v[i], cfg, names, now);
	if (n == 0)
		vw_buf_printf(&b, "no running containers\n");
	return finish_text(&b);
}

char *vw_api_explain(const struct vw_api_container *c, const struct vw_config *cfg,
		     const struct vw_names *names, uint64_t now, const char *query,
		     const struct vw_explanation *x, bool json)
{
	struct vw_buf b = { 0 };

	if (json) {
		cJSON *o = container_json(c, cfg, names, now);

		if (x) {
			cJSON *e = cJSON_AddObjectToObject(o, "explain");

			cJSON_AddStringToObject(e, "destination", query);
			cJSON_AddStringToObject(e, "verdict", verdict_name(x->verdict));
			if (x->entry[0]) {
				cJSON_AddStringToObject(e, "label", x->label);
				cJSON_AddStringToObject(e, "entry", x->entry);
				cJSON_AddStringToObject(e, "path", vw_path_name(x->path));
			}
			if (x->container[0])
				cJSON_AddStringToObject(e, "label_of", x->container);
			cJSON_AddStringToObject(e, "reason", x->reason);
		}
		return finish_json(o);
	}
	container_text(&b, c, cfg, names, now);
	if (x)
		vw_buf_printf(&b, "%s: %s\n", verdict_name(x->verdict), x->reason);
	return finish_text(&b);
}

char *vw_api_check_labels(const struct vw_label_check *v, size_t n, bool json)
{
	struct vw_buf b = { 0 };
	size_t errors = 0;

	if (json) {
		cJSON *a = cJSON_CreateArray();

		for (size_t i = 0; i < n; i++) {
			const struct vw_labels *l = &v[i].labels;
			cJSON *o = cJSON_CreateObject(), *errs;

			if (v[i].source)
				cJSON_AddStringToObject(o, "service", v[i].source);
			cJSON_AddItemToObject(o, "outbound", dst_array(l->outbound, l->n_outbound));
			cJSON_AddItemToObject(o, "allow", dst_array(l->allow, l->n_allow));
			cJSON_AddBoolToObject(o, "enabled", !l->disabled);
			cJSON_AddBoolToObject(o, "dry_run", l->dry_run);
			errs = cJSON_AddArrayToObject(o, "errors");
			for (size_t k = 0; k < l->n_errors; k++) {
				cJSON *x = cJSON_CreateObject();

				cJSON_AddStringToObject(x, "label", l->errors[k].label);
				cJSON_AddStringToObject(x, "entry", l->errors[k].token);
				cJSON_AddStringToObject(x, "reason", l->errors[k].reason);
				cJSON_AddItemToArray(errs, x);
			}
			cJSON_AddItemToArray(a, o);
		}
		return finish_json(a);
	}
	for (size_t i = 0; i < n; i++) {
		const struct vw_labels *l = &v[i].labels;

		if (v[i].source)
			vw_buf_printf(&b, "%s:\n", v[i].source);
		text_list(&b, "outbound", l->outbound, l->n_outbound);
		text_list(&b, "allow", l->allow, l->n_allow);
		if (l->disabled)
			vw_buf_printf(&b, "  %-10snot managed (vpn.enable=false)\n", "enable");
		if (l->dry_run)
			vw_buf_printf(&b, "  %-10scounted, never dropped (vpn.dryrun=true)\n",
				      "dry run");
		for (size_t k = 0; k < l->n_errors; k++)
			vw_buf_printf(&b, "  %-10s%s '%s': %s\n", "error", l->errors[k].label,
				      l->errors[k].token, l->errors[k].reason);
		errors += l->n_errors;
	}
	vw_buf_printf(&b, "%zu error(s)\n", errors);
	return finish_text(&b);
}

char *vw_api_error(const char *msg, bool json)
{
	char *out = NULL;

	if (json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "error", msg);
		return finish_json(o);
	}
	if (asprintf(&out, "%s\n", msg) < 0)
		return NULL;
	return out;
}
