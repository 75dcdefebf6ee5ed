// SPDX-License-Identifier: GPL-2.0-or-later
#include "vpnwall/learn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnwall/answers.h"
#include "vpnwall/config.h"
#include "vpnwall/dns.h"
#include "vpnwall/dnsmsg.h"
#include "vpnwall/dnsproxy.h"
#include "vpnwall/hashmap.h"
#include "vpnwall/log.h"
#include "vpnwall/metrics.h"
#include "vpnwall/policy.h"
#include "vpnwall/store.h"
#include "vpnwall/util.h"

#define VW_LOG_MODULE "dnsproxy"

#define ANSWER_ADDRS_MAX 64 /* addresses taken from one answer; the rest are not learned */
#define PRUNE_INTERVAL_MS 5000
/* A full table is pruned when an answer does not fit, at most this often: each prune walks
 * every entry, and a container over its share may send answers that never fit. */
#define PRUNE_FULL_GAP_MS 1000

/* Source addresses of a container's learned elements (see struct client). */
struct vw_srcs {
	struct vw_rs_source *v;
	size_t n;
};

/*
 * Per container: its queries upstream now, and two records of the source addresses its
 * learned elements are under, one for each way of being wrong that is safe where it is
 * used. vw_learner_revoke() deletes by @may, which errs on the large side (an address
 * listed there with nothing under it costs a delete of nothing). A repeated answer is only
 * skipped on the word of @sure, which errs on the small side: while @epoch is the
 * learner's, every entry held in that epoch is in the kernel under every address of @sure.
 */
struct client {
	struct vw_hnode node;
	char key[VW_KEY_LEN + 1];
	unsigned inflight;
	struct vw_srcs may;
	struct vw_srcs sure;
	uint64_t epoch;
};

struct vw_learner {
	const struct vw_config *cfg;
	const struct vw_store *st;
	const struct vw_ruleset *applied;
	struct vw_learn_backend be;
	struct vw_dnsq_stats *stats;
	struct vw_dns *upstream;
	struct vw_dnsproxy *proxy;
	struct vw_answers answers;
	struct vw_hmap clients;
	uint64_t prune_at;
	uint64_t pruned_full_at; /* the last prune because an answer did not fit */
	bool warned_full;
	bool warned_room; /* an entry made room for another container's (see make_room()) */
	bool warned_host; /* a query came from the host itself (see ask_host()) */
	/* Bumped whenever the backend lost every learned element (vw_learner_lost()):
	 * what was held before is then known to be gone. */
	uint64_t epoch;
};

/* --- clients ------------------------------------------------------------------------------ */

static struct client *client_find(const struct vw_learner *l, const char *key)
{
	for (struct vw_hnode *n = vw_hmap_first(&l->clients, vw_hash_str(key)); n;
	     n = vw_hmap_next(n)) {
		struct client *c = vw_container_of(n, struct client, node);

		if (strcmp(c->key, key) == 0)
			return c;
	}
	return NULL;
}

static struct client *client_get(struct vw_learner *l, const char *key)
{
	struct client *c = client_find(l, key);

	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	(void)vw_strscpy(c->key, key, sizeof(c->key));
	if (vw_hmap_add(&l->clients, &c->node, vw_hash_str(key)) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

static void client_free(struct client *c)
{
	free(c->may.v);
	free(c->sure.v);
	free(c);
}

static void client_drop(struct vw_learner *l, struct client *c)
{
	vw_hmap_del(&l->clients, &c->node);
	client_free(c);
}

static bool same_source(const struct vw_rs_source *a, const struct vw_rs_source *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, 16) == 0;
}

static bool has_source(const struct vw_rs_source *v, size_t n, const struct vw_rs_source *src)
{
	for (size_t k = 0; k < n; k++)
		if (same_source(&v[k], src))
			return true;
	return false;
}

/* Every one of @srcs is among @have. */
static bool has_sources(const struct vw_rs_source *have, size_t n_have,
			const struct vw_rs_source *srcs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!has_source(have, n_have, &srcs[i]))
			return false;
	return true;
}

/* @c's sure record, or nothing when it dates from before the backend lost everything. */
static struct vw_srcs sure_of(const struct vw_learner *l, const struct client *c)
{
	return c->epoch == l->epoch ? c->sure : (struct vw_srcs){ 0 };
}

/* *@ret: @a plus those of @b it lacks (@keep: only those of @a also in @keep). */
static int srcs_merge(struct vw_srcs a, const struct vw_srcs *keep, const struct vw_rs_source *b,
		      size_t n_b, struct vw_srcs *ret)
{
	struct vw_rs_source *v = calloc(a.n + n_b + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < a.n; i++)
		if (!keep || has_source(keep->v, keep->n, &a.v[i]))
			v[n++] = a.v[i];
	for (size_t i = 0; i < n_b; i++)
		if (!has_source(v, n, &b[i]))
			v[n++] = b[i];
	*ret = (struct vw_srcs){ .v = v, .n = n };
	return 0;
}

/* --- the container behind a query --------------------------------------------------------- */

/* The grants @key's policy gives to answers for @name; 0 when none, or -errno. */
static int grants_of(const struct vw_learner *l, const char *key, const char *name,
		     struct vw_name_grant *ret, size_t max)
{
	const struct vw_rs_container *rc = vw_ruleset_find(l->applied, key);
	const struct vw_container *c = rc ? vw_store_get(l->st, rc->id) : NULL;
	_cleanup_free_ const struct vw_container **sharers = NULL;
	int n;

	if (!c)
		return 0;
	n = vw_store_sharers(l->st, c, &sharers);
	if (n < 0)
		return n;
	return vw_policy_name_grants(c, sharers, (size_t)n, l->cfg, name, ret, max);
}

/*
 * A query from the host itself. Docker's embedded DNS (127.0.0.11 on user-defined networks)
 * forwards from the host's namespace when the host's resolver is a loopback address, so a
 * container's query may arrive here without its address. It is answered when some managed
 * container may resolve the name, and the answer is learned for every one that may: no
 * container gains a name its policy does not grant, but which container asked is lost.
 */
static enum vw_dnsq_verdict ask_host(struct vw_learner *l, struct vw_dnsq *q)
{
	for (size_t i = 0; i < l->applied->n_containers; i++) {
		const struct vw_rs_container *rc = l->applied->containers[i];
		struct vw_name_grant g;

		if (grants_of(l, rc->key, q->q.name, &g, 1) <= 0)
			continue;
		if (!l->warned_host)
			log_warn("'%s' asked by the host itself, not by a container: what it "
				 "resolves to is learned for every container allowed that name. "
				 "Docker's embedded DNS forwards from the host when the host's "
				 "resolver is a loopback address: give dockerd a resolver that is "
				 "not (\"dns\" in daemon.json, or --dns) to have each query "
				 "attributed to its container",
				 q->q.name);
		l->warned_host = true;
		return VW_DNSQ_FORWARD;
	}
	return l->cfg->dns_refuse_nxdomain ? VW_DNSQ_NXDOMAIN : VW_DNSQ_REFUSE;
}

static enum vw_dnsq_verdict on_ask(void *ud, struct vw_dnsq *q)
{
	struct vw_learner *l = ud;
	const struct vw_rs_source *s = vw_ruleset_source_find(l->applied, q->family, q->addr);
	const struct vw_rs_container *rc =
		s && s->key[0] ? vw_ruleset_find(l->applied, s->key) : NULL;
	struct vw_name_grant g[VW_ANSWER_GRANTS_MAX];
	struct client *c;
	int n;

	if (!rc && q->local)
		return ask_host(l, q);
	/* Not a managed container's: the proxy is nobody else's resolver. */
	if (!rc)
		return VW_DNSQ_REFUSE;
	(void)vw_strscpy(q->key, rc->key, sizeof(q->key));
	n = grants_of(l, rc->key, q->q.name, g, ELEMENTSOF(g));
	if (n <= 0 && !rc->audit)
		return l->cfg->dns_refuse_nxdomain ? VW_DNSQ_NXDOMAIN : VW_DNSQ_REFUSE;
	q->audited = n <= 0;
	c = client_get(l, rc->key);
	/* One container's flood waits for its own answers; the others are not held up. */
	if (!c || c->inflight >= VW_LEARNER_INFLIGHT_MAX)
		return VW_DNSQ_DROP;
	c->inflight++;
	q->counted = true;
	return VW_DNSQ_FORWARD;
}

/* --- learning ----------------------------------------------------------------------------- */

struct elems {
	struct vw_learned_elem *v;
	size_t n;
	size_t cap;
};

/* The boxes @sets under each source in @srcs of their family, into @out. */
static int add_elems(struct elems *out, const struct vw_boxset sets[VW_PATHS],
		     const struct vw_rs_source *srcs, size_t n_srcs, uint64_t timeout_ms)
{
	for (int p = 0; p < VW_PATHS; p++)
		for (size_t s = 0; s < n_srcs; s++) {
			if (srcs[s].family != sets[p].family)
				continue;
			for (size_t i = 0; i < sets[p].n; i++) {
				int r = vw_grow((void **)&out->v, &out->cap, out->n + 1,
						sizeof(*out->v), SIZE_MAX / sizeof(*out->v));

				if (r < 0)
					return r;
				out->v[out->n++] = (struct vw_learned_elem){
					.family = srcs[s].family,
					.path = (uint8_t)p,
					.box = sets[p].v[i],
					.timeout_ms = timeout_ms,
				};
				memcpy(out->v[out->n - 1].saddr, srcs[s].addr, 16);
			}
		}
	return 0;
}

static uint64_t lifetime_ms(const struct vw_config *cfg, uint32_t ttl)
{
	uint64_t s = ttl;

	if (s < cfg->dns_min_ttl)
		s = cfg->dns_min_ttl;
	if (s > cfg->dns_ttl_max)
		s = cfg->dns_ttl_max;
	return (s + cfg->dns_grace) * 1000;
}

/* A client's records once a batch is in. */
struct sources {
	struct client *c;
	struct vw_srcs may, sure;
	uint64_t epoch;
};

struct source_updates {
	struct sources *v;
	size_t n;
	size_t cap;
};

/*
 * Queue @c's records to become @may and @sure (taken over), confirmed in @epoch, once the
 * batch is in. On failure they are freed and nothing changes.
 */
static int sources_set(struct source_updates *u, struct client *c, struct vw_srcs may,
		       struct vw_srcs sure, uint64_t epoch)
{
	int r = vw_grow((void **)&u->v, &u->cap, u->n + 1, sizeof(*u->v), SIZE_MAX / sizeof(*u->v));

	if (r < 0) {
		free(may.v);
		free(sure.v);
		return r;
	}
	u->v[u->n++] = (struct sources){ .c = c, .may = may, .sure = sure, .epoch = epoch };
	return 0;
}

/* The kernel took the batch (@committed) or nothing of it: the records follow it. */
static void sources_done(struct source_updates *u, bool committed)
{
	for (size_t i = 0; i < u->n; i++) {
		struct sources *x = &u->v[i];

		if (committed) {
			free(x->c->may.v);
			free(x->c->sure.v);
			x->c->may = x->may;
			x->c->sure = x->sure;
			x->c->epoch = x->epoch;
		} else {
			free(x->may.v);
			free(x->sure.v);
		}
	}
	free(u->v);
	*u = (struct source_updates){ 0 };
}

/* One answer's worth of backend changes, and the entries to update once they are in. */
struct hold {
	struct vw_answer *x;
	struct vw_boxset sets[VW_PATHS];
};

struct batch {
	struct elems del, add;
	struct hold *h;
	size_t n_h;
	size_t cap_h;
	struct source_updates up;
	/* The containers it learns for: their entries are in it, none may make room (see
	 * make_room()). Their clients' keys, not copies: a client outlives the batch. */
	const char **keys;
	size_t n_keys;
	size_t cap_keys;
};

static void batch_done(struct batch *b, uint64_t epoch, bool committed)
{
	for (size_t i = 0; i < b->n_h; i++) {
		if (committed) {
			vw_answer_hold(b->h[i].x, b->h[i].sets, b->h[i].x->expires);
			b->h[i].x->held_epoch = epoch;
		}
		for (int p = 0; p < VW_PATHS; p++)
			vw_boxset_done(&b->h[i].sets[p]);
	}
	sources_done(&b->up, committed);
	free(b->keys);
	free(b->h);
	free(b->del.v);
	free(b->add.v);
}

/*
 * The kernel already holds what @x allows now (@sets) long enough: a repeated answer (the
 * same name again within its TTL, another name for the same address) needs no transaction,
 * which is what keeps the proxy fast under load. The kernel's elements outlive
 * held_expires (their timeouts started at the commit, after it was computed); an answer is
 * refreshed once that would add more than half the grace period, so every answer keeps
 * its TTL and at least half the grace.
 */
static bool held_enough(const struct vw_learner *l, const struct vw_answer *x,
			const struct vw_boxset sets[VW_PATHS], uint64_t now)
{
	uint64_t slack = (uint64_t)l->cfg->dns_grace * 1000 / 2;

	if (x->held_epoch != l->epoch || x->held_expires <= now ||
	    x->held_expires + slack < x->expires)
		return false;
	for (int p = 0; p < VW_PATHS; p++)
		if (!vw_boxset_same(&x->held[p], &sets[p]))
			return false;
	return true;
}

/*
 * Into @add: what @c learned, under those of @srcs not in its sure record (a container
 * that gained an address, or whose elements the backend lost), except entries @skip
 * refreshes anyway. Once @up is committed, both records hold @srcs too.
 */
static int extend_sources(struct vw_learner *l, struct client *c, const struct vw_rs_source *srcs,
			  size_t n, const struct batch *skip, uint64_t now, struct elems *add,
			  struct source_updates *up)
{
	struct vw_srcs sure = sure_of(l, c), may2 = { 0 }, sure2 = { 0 };
	int r = 0;

	for (size_t i = 0; r >= 0 && i < n; i++) {
		if (has_source(sure.v, sure.n, &srcs[i]))
			continue;
		for (struct vw_answer *x = vw_answers_first(&l->answers, c->key); r >= 0 && x;
		     x = x->next_of) {
			bool refreshed = false;

			for (size_t k = 0; skip && k < skip->n_h && !refreshed; k++)
				refreshed = skip->h[k].x == x;
			if (!refreshed && x->held_expires > now + 1)
				r = add_elems(add, x->held, &srcs[i], 1, x->held_expires - now);
		}
	}
	if (r >= 0)
		r = srcs_merge(c->may, NULL, srcs, n, &may2);
	if (r >= 0)
		r = srcs_merge(sure, NULL, srcs, n, &sure2);
	if (r >= 0)
		return sources_set(up, c, may2, sure2, l->epoch);
	free(may2.v);
	free(sure2.v);
	return r;
}

/* A container's name for logs, its key if it is gone. */
static const char *name_of(const struct vw_learner *l, const char *key)
{
	const struct vw_rs_container *rc = vw_ruleset_find(l->applied, key);

	return rc ? rc->name : key;
}

static bool in_batch(void *ud, const char *key)
{
	const struct batch *b = ud;

	for (size_t i = 0; i < b->n_keys; i++)
		if (strcmp(b->keys[i], key) == 0)
			return true;
	return false;
}

/*
 * Every learned address is taken: when container @key is under its share, the entry of
 * an over-share learner that expires first makes room (vw_answers_victim()). Its elements
 * leave the kernel first, in a transaction of their own, and only then is it forgotten:
 * had it been forgotten with its elements still there (a batch that failed), they would
 * outlive their container, which has only what its entries name deleted when it stops,
 * and serve a new one given its address. Removing before adding never lets more through.
 * -ENOSPC when nothing may go.
 */
static int make_room(struct vw_learner *l, const char *key, struct batch *b)
{
	struct vw_answer *v = vw_answers_victim(&l->answers, key, in_batch, b);
	const struct vw_rs_source *srcs;
	struct vw_srcs anywhere = { 0 };
	struct elems del = { 0 };
	const struct client *c;
	size_t n_srcs;
	int r;

	if (!v)
		return -ENOSPC;
	c = client_find(l, v->key);
	srcs = vw_ruleset_sources_of(l->applied, v->key, &n_srcs);
	r = srcs_merge(c ? c->may : (struct vw_srcs){ 0 }, NULL, srcs, n_srcs, &anywhere);
	if (r >= 0)
		r = add_elems(&del, v->held, anywhere.v, anywhere.n, 0);
	if (r >= 0 && del.n)
		r = l->be.learn(l->be.ud, del.v, del.n, NULL, 0);
	free(anywhere.v);
	free(del.v);
	if (r < 0)
		return r;
	if (!l->warned_room)
		log_warn("every learned address is taken: '%s' learned less than an equal share, "
			 "an address '%s' learned makes room",
			 name_of(l, key), name_of(l, v->key));
	l->warned_room = true;
	vw_answers_remove(&l->answers, v);
	return 0;
}

/* Learn @addrs (the answer for @name) for container @key into @b. */
static int learn_for(struct vw_learner *l, const char *key, const char *name,
		     const struct vw_dns_addr *addrs, size_t n, uint64_t now, struct batch *b)
{
	struct vw_name_grant g[VW_ANSWER_GRANTS_MAX];
	const struct vw_rs_source *srcs;
	struct vw_srcs sure, anywhere = { 0 };
	struct client *c;
	bool covered;
	size_t n_srcs;
	int ng, r = 0;

	/* Still that container's, with that policy? It may have gone while we waited. */
	ng = grants_of(l, key, name, g, ELEMENTSOF(g));
	if (ng <= 0)
		return ng < 0 ? ng : -EPERM;
	srcs = vw_ruleset_sources_of(l->applied, key, &n_srcs);
	c = client_get(l, key);
	if (!c)
		return -ENOMEM;
	r = vw_grow((void **)&b->keys, &b->cap_keys, b->n_keys + 1, sizeof(*b->keys),
		    SIZE_MAX / sizeof(*b->keys));
	if (r < 0)
		return r;
	b->keys[b->n_keys++] = c->key;
	sure = sure_of(l, c);
	covered = has_sources(sure.v, sure.n, srcs, n_srcs);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		uint64_t expires = now + lifetime_ms(l->cfg, addrs[i].ttl);
		struct vw_answer *x;
		struct hold *h;

		r = vw_answers_learn(&l->answers, key, addrs[i].family, addrs[i].addr, name, g,
				     (size_t)ng, expires, now, &x);
		if (r == -ENOSPC && now >= l->pruned_full_at + PRUNE_FULL_GAP_MS) {
			l->pruned_full_at = now;
			(void)vw_answers_prune(&l->answers, now);
			r = vw_answers_learn(&l->answers, key, addrs[i].family, addrs[i].addr, name,
					     g, (size_t)ng, expires, now, &x);
		}
		if (r == -ENOSPC) {
			r = make_room(l, key, b);
			if (r >= 0)
				r = vw_answers_learn(&l->answers, key, addrs[i].family,
						     addrs[i].addr, name, g, (size_t)ng, expires,
						     now, &x);
		}
		if (r == -ENOSPC) {
			if (!l->warned_full)
				log_warn("learned addresses at their limit (%d per container, %zu "
					 "in all, or an equal share of them when all are taken): "
					 "'%s' answered, its new addresses not learned",
					 VW_ANSWERS_CONTAINER_MAX, l->answers.max, name);
			l->warned_full = true;
			r = 0;
			continue;
		}
		if (r >= 0)
			r = vw_grow((void **)&b->h, &b->cap_h, b->n_h + 1, sizeof(*b->h),
				    SIZE_MAX / sizeof(*b->h));
		if (r < 0)
			break;
		h = &b->h[b->n_h];
		r = vw_answer_boxes(x, now, h->sets);
		if (r < 0)
			break;
		if (covered && held_enough(l, x, h->sets, now)) {
			for (int p = 0; p < VW_PATHS; p++)
				vw_boxset_done(&h->sets[p]);
			continue;
		}
		h->x = x;
		b->n_h++;
		/* Everything it held goes and comes back with the new expiry, in one batch:
		 * the one way to refresh a timeout that every kernel honours. The old boxes
		 * go from wherever they may be (an address it lost, if a revoke failed). */
		if (!anywhere.v) /* only a refresh needs it: not on the skip path */
			r = srcs_merge(c->may, NULL, srcs, n_srcs, &anywhere);
		if (r >= 0)
			r = add_elems(&b->del, x->held, anywhere.v, anywhere.n, 0);
		if (r >= 0)
			r = add_elems(&b->add, h->sets, srcs, n_srcs, x->expires - now);
	}
	/* Its other entries follow it to an address they are not surely under yet. */
	if (r >= 0 && !covered)
		r = extend_sources(l, c, srcs, n_srcs, b, now, &b->add, &b->up);
	free(anywhere.v);
	return r;
}

/* An answer repeats an address at most by mistake; learning it once is enough. */
static size_t dedupe(struct vw_dns_addr *v, size_t n)
{
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		bool seen = false;

		for (size_t k = 0; k < out && !seen; k++)
			seen = v[k].family == v[i].family && memcmp(v[k].addr, v[i].addr, 16) == 0;
		if (!seen)
			v[out++] = v[i];
	}
	return out;
}

static int on_answered(void *ud, const struct vw_dnsq *q, const uint8_t *msg, size_t len)
{
	struct vw_learner *l = ud;
	struct vw_dns_addr addrs[ANSWER_ADDRS_MAX];
	struct batch b = { 0 };
	uint64_t now = vw_now_ms();
	unsigned rcode;
	int n, r = 0;

	if (q->audited)
		return 0;
	if (q->q.qtype != VW_DNS_TYPE_A && q->q.qtype != VW_DNS_TYPE_AAAA)
		return 0; /* MX, TXT, ...: nothing to reach by them */
	n = vw_dnsmsg_answer(msg, len, &q->q, addrs, ELEMENTSOF(addrs), &rcode);
	if (n < 0) {
		log_debug("malformed answer for '%s' withheld", q->q.name);
		return n;
	}
	n = (int)dedupe(addrs, (size_t)n);
	if (n == 0)
		return 0;
	if (q->key[0]) {
		r = learn_for(l, q->key, q->q.name, addrs, (size_t)n, now, &b);
	} else {
		/* The host asked (see on_ask()): every container allowed that name learns it. */
		for (size_t i = 0; r >= 0 && i < l->applied->n_containers; i++) {
			const struct vw_rs_container *rc = l->applied->containers[i];
			struct vw_name_grant g;

			if (!rc->audit && grants_of(l, rc->key, q->q.name, &g, 1) > 0)
				r = learn_for(l, rc->key, q->q.name, addrs, (size_t)n, now, &b);
		}
	}
	if (r >= 0)
		r = l->be.learn(l->be.ud, b.del.v, b.del.n, b.add.v, b.add.n);
	batch_done(&b, l->epoch, r >= 0);
	if (r < 0)
		log_warn_errno(r, "cannot learn the answer for '%s': the client gets SERVFAIL",
			       q->q.name);
	return r;
}

static void on_done(void *ud, const struct vw_dnsq *q, enum vw_dnsq_verdict v, int rcode,
		    uint64_t ns)
{
	struct vw_learner *l = ud;
	struct client *c = q->counted ? client_find(l, q->key) : NULL;
	const struct vw_rs_container *rc = q->key[0] ? vw_ruleset_find(l->applied, q->key) : NULL;

	enum vw_dnsq_result res;

	if (c && c->inflight)
		c->inflight--;
	if (!l->stats)
		return;
	if (v == VW_DNSQ_REFUSE || v == VW_DNSQ_NXDOMAIN)
		res = VW_DNSQ_REFUSED;
	else if (v == VW_DNSQ_DROP)
		res = VW_DNSQ_DROPPED;
	else if (rcode < 0 || (rcode == VW_DNS_RCODE_SERVFAIL && !q->audited))
		res = VW_DNSQ_FAILED;
	else
		res = q->audited ? VW_DNSQ_AUDITED : VW_DNSQ_ALLOWED;
	vw_dnsq_stats_count(l->stats, rc ? rc->key : NULL, rc ? rc->name : NULL, res, rcode >= 0,
			    ns);
}

static const struct vw_dnsproxy_ops proxy_ops = {
	.ask = on_ask,
	.answered = on_answered,
	.done = on_done,
};

/* --- the backend's view ------------------------------------------------------------------- */

/*
 * Into @del: @c's elements under the addresses it is losing (@now: those it keeps). Its
 * records shrink to @now once @up is committed.
 */
static int revoke_client(struct vw_learner *l, struct client *c, const struct vw_rs_source *now,
			 size_t n_now, struct elems *del, struct source_updates *up)
{
	struct vw_srcs keep = { .v = (struct vw_rs_source *)now, .n = n_now };
	struct vw_srcs sure = sure_of(l, c), may2 = { 0 }, sure2 = { 0 };
	int r = 0;

	if (has_sources(now, n_now, c->may.v, c->may.n))
		return 0; /* it loses none */
	for (size_t i = 0; r >= 0 && i < c->may.n; i++) {
		if (has_source(now, n_now, &c->may.v[i]))
			continue;
		for (struct vw_answer *x = vw_answers_first(&l->answers, c->key); r >= 0 && x;
		     x = x->next_of)
			r = add_elems(del, x->held, &c->may.v[i], 1, 0);
	}
	if (r >= 0)
		r = srcs_merge(c->may, &keep, NULL, 0, &may2);
	if (r >= 0)
		r = srcs_merge(sure, &keep, NULL, 0, &sure2);
	if (r >= 0)
		return sources_set(up, c, may2, sure2, c->epoch == l->epoch ? l->epoch : 0);
	free(may2.v);
	free(sure2.v);
	return r;
}

/* @key is among the containers @ch (normalized: sorted) marks. */
static bool changed(const struct vw_changes *ch, const char *key)
{
	return bsearch(key, ch->keys, ch->n_keys, sizeof(*ch->keys),
		       (int (*)(const void *, const void *))strcmp) != NULL;
}

int vw_learner_revoke(struct vw_learner *l, const struct vw_ruleset *desired,
		      const struct vw_changes *ch)
{
	bool incremental = ch && !ch->all;
	struct elems del = { 0 }, add = { 0 };
	struct source_updates up = { 0 };
	struct client **gone = NULL;
	size_t n_gone = 0, cap_gone = 0;
	uint64_t now_ms = vw_now_ms();
	int r = 0, e = 0;

	for (size_t b = 0; r >= 0 && b < l->clients.n_buckets; b++)
		for (struct vw_hnode *n = l->clients.buckets[b]; r >= 0 && n; n = n->next) {
			struct client *c = vw_container_of(n, struct client, node);
			const struct vw_rs_source *now;
			size_t n_now;

			if (incremental && !changed(ch, c->key))
				continue;
			now = vw_ruleset_sources_of(desired, c->key, &n_now);
			r = revoke_client(l, c, now, n_now, &del, &up);
			if (r >= 0 && !vw_ruleset_find(desired, c->key))
				r = vw_grow((void **)&gone, &cap_gone, n_gone + 1, sizeof(*gone),
					    SIZE_MAX / sizeof(*gone));
			if (r >= 0 && !vw_ruleset_find(desired, c->key))
				gone[n_gone++] = c;
		}
	if (r >= 0)
		r = l->be.learn(l->be.ud, del.v, del.n, NULL, 0);
	sources_done(&up, r >= 0);
	/*
	 * An address a container gains gets what it learned at once (a full step puts
	 * everything back afterwards instead). Its own transaction, after the deletes (a source
	 * may change hands): it may fail without holding up the step, the next answer adds.
	 */
	for (size_t b = 0; r >= 0 && e >= 0 && incremental && b < l->clients.n_buckets; b++)
		for (struct vw_hnode *n = l->clients.buckets[b]; e >= 0 && n; n = n->next) {
			struct client *c = vw_container_of(n, struct client, node);
			const struct vw_rs_source *now;
			struct vw_srcs sure = sure_of(l, c);
			size_t n_now;

			if (!changed(ch, c->key))
				continue;
			now = vw_ruleset_sources_of(desired, c->key, &n_now);
			if (n_now && !has_sources(sure.v, sure.n, now, n_now))
				e = extend_sources(l, c, now, n_now, NULL, now_ms, &add, &up);
			if (e < 0)
				break;
		}
	/* Half a batch would put elements under addresses no record names. */
	if (r >= 0 && e >= 0)
		e = l->be.learn(l->be.ud, NULL, 0, add.v, add.n);
	if (r >= 0) {
		if (e < 0)
			log_debug("learned addresses not extended to new sources: %s",
				  strerror(-e));
		sources_done(&up, e >= 0);
	}
	/* A container that is gone forgets what it learned (its queries in flight learn
	 * nothing: their container is no longer found). */
	for (size_t i = 0; r >= 0 && i < n_gone; i++) {
		struct vw_answer *x;

		while ((x = vw_answers_first(&l->answers, gone[i]->key)))
			vw_answers_remove(&l->answers, x);
		if (l->stats)
			vw_dnsq_stats_forget(l->stats, gone[i]->key);
		if (!gone[i]->inflight)
			client_drop(l, gone[i]);
	}
	free(gone);
	free(del.v);
	free(add.v);
	return r;
}

void vw_learner_lost(struct vw_learner *l)
{
	if (l)
		l->epoch++;
}

struct restore {
	struct vw_learner *l;
	struct elems add;
	uint64_t now;
	bool mark; /* second pass: the commit went through */
	int r;
};

static void restore_one(void *ud, struct vw_answer *x)
{
	struct restore *st = ud;
	const struct vw_rs_source *srcs;
	size_t n;

	if (st->r < 0 || x->held_expires <= st->now + 1)
		return;
	if (st->mark) {
		x->held_epoch = st->l->epoch;
		return;
	}
	srcs = vw_ruleset_sources_of(st->l->applied, x->key, &n);
	st->r = add_elems(&st->add, x->held, srcs, n, x->held_expires - st->now);
}

int vw_learner_restore(struct vw_learner *l, bool replaced)
{
	struct restore st = { .l = l, .now = vw_now_ms() };
	struct source_updates up = { 0 };

	vw_answers_each(&l->answers, restore_one, &st);
	/* Every client's entries go back under its sources now. */
	for (size_t b = 0; st.r >= 0 && b < l->clients.n_buckets; b++)
		for (struct vw_hnode *n = l->clients.buckets[b]; st.r >= 0 && n; n = n->next) {
			struct client *c = vw_container_of(n, struct client, node);
			struct vw_srcs may2 = { 0 }, sure2 = { 0 };
			const struct vw_rs_source *srcs;
			size_t n_srcs;

			srcs = vw_ruleset_sources_of(l->applied, c->key, &n_srcs);
			/* After a replacement nothing is anywhere else: @may starts afresh. */
			st.r = srcs_merge(replaced ? (struct vw_srcs){ 0 } : c->may, NULL, srcs,
					  n_srcs, &may2);
			if (st.r >= 0)
				st.r = srcs_merge((struct vw_srcs){ 0 }, NULL, srcs, n_srcs,
						  &sure2);
			if (st.r >= 0)
				st.r = sources_set(&up, c, may2, sure2, l->epoch);
			else
				free(may2.v);
		}
	if (st.r >= 0)
		st.r = l->be.learn(l->be.ud, NULL, 0, st.add.v, st.add.n);
	sources_done(&up, st.r >= 0);
	free(st.add.v);
	if (st.r >= 0) {
		st.mark = true;
		vw_answers_each(&l->answers, restore_one, &st);
	} else {
		/* The records stay as they were: whatever the kernel still holds is in @may, and
		 * entries it lost are not trusted once vw_learner_lost() said so. */
		log_warn_errno(st.r, "cannot put the learned addresses back; they are learned "
				     "again at the next lookups");
	}
	return st.r;
}

/* --- lifetime ----------------------------------------------------------------------------- */

int vw_learner_new(struct vw_loop *loop, const struct vw_config *cfg, const struct vw_store *st,
		   const struct vw_ruleset *applied, const struct vw_learn_backend *be,
		   struct vw_dnsq_stats *stats, struct vw_learner **ret)
{
	const char *servers = cfg->dns_upstream[0] ? cfg->dns_upstream : cfg->dns_servers;
	struct vw_learner *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	*l = (struct vw_learner){
		.cfg = cfg, .st = st, .applied = applied, .be = *be, .stats = stats, .epoch = 1
	};
	vw_answers_init(&l->answers, cfg->dns_learned_max);
	r = vw_dns_new_forwarder(loop, servers, &l->upstream);
	if (r < 0) {
		log_error_errno(r, "cannot set up the DNS proxy's upstream ('%s')",
				servers[0] ? servers : "resolv.conf");
		goto fail;
	}
	/* Through the tunnel only: an interface pattern binds nothing until one is up. */
	if (cfg->vpn_interface[0])
		(void)vw_dns_set_device(l->upstream, cfg->vpn_interface);
	r = vw_dnsproxy_new(loop, cfg->dns_proxy_port, l->upstream, &proxy_ops, l, &l->proxy);
	if (r < 0) {
		log_error_errno(r, "cannot listen on port %u for the DNS proxy",
				cfg->dns_proxy_port);
		goto fail;
	}
	*ret = l;
	return 0;
fail:
	vw_learner_free(l);
	return r;
}

void vw_learner_free(struct vw_learner *l)
{
	if (!l)
		return;
	/* The upstream first: its cancelled queries report to the proxy, which must exist. */
	vw_dns_free(l->upstream);
	vw_dnsproxy_free(l->proxy);
	vw_answers_done(&l->answers);
	for (struct vw_hnode *n; (n = vw_hmap_pop(&l->clients));)
		client_free(vw_container_of(n, struct client, node));
	vw_hmap_done(&l->clients);
	free(l);
}

void vw_learner_tunnel(struct vw_learner *l, const char *ifname)
{
	if (l && l->cfg->vpn_interface[0])
		(void)vw_dns_set_device(l->upstream, ifname ? ifname : "");
}

int vw_learner_timeout(const struct vw_learner *l)
{
	int t;

	if (!l)
		return -1;
	t = vw_timeout_min(vw_dns_timeout(l->upstream), vw_dnsproxy_timeout(l->proxy));
	return vw_timeout_min(t, PRUNE_INTERVAL_MS);
}

void vw_learner_process(struct vw_learner *l, uint64_t now_ms)
{
	if (!l)
		return;
	vw_dns_process_timeouts(l->upstream);
	vw_dnsproxy_process(l->proxy, now_ms);
	if (now_ms >= l->prune_at) {
		(void)vw_answers_prune(&l->answers, now_ms);
		l->warned_full = false;
		l->warned_room = false;
		l->prune_at = now_ms + PRUNE_INTERVAL_MS;
	}
}

/* --- views -------------------------------------------------------------------------------- */

static void info_of(const struct vw_answer *x, uint64_t now, struct vw_learned_info *ret)
{
	const struct vw_answer_name *best = NULL;

	for (size_t i = 0; i < x->n_names; i++)
		if (x->names[i].expires > now && (!best || x->names[i].expires > best->expires))
			best = &x->names[i];
	*ret = (struct vw_learned_info){ .family = x->family, .expires_ms = x->held_expires };
	memcpy(ret->addr, x->addr, 16);
	if (best) {
		(void)vw_strscpy(ret->name, best->name, sizeof(ret->name));
		ret->grant = (struct vw_name_grant_view){ .path = (uint8_t)best->grants[0].path,
							  .protos = best->grants[0].protos,
							  .port_lo = best->grants[0].port_lo,
							  .port_hi = best->grants[0].port_hi };
	}
}

size_t vw_learner_list(const struct vw_learner *l, const char *key, uint64_t now,
		       struct vw_learned_info *ret, size_t max)
{
	size_t n = 0;

	if (!l)
		return 0;
	for (const struct vw_answer *x = vw_answers_first(&l->answers, key); x && n < max;
	     x = x->next_of)
		if (x->held_expires > now)
			info_of(x, now, &ret[n++]);
	return n;
}

bool vw_learner_holds(const struct vw_learner *l, const char *key, uint8_t family,
		      const uint8_t *addr, uint64_t now, struct vw_learned_info *ret)
{
	const struct vw_answer *x = l ? vw_answers_find(&l->answers, key, family, addr) : NULL;

	if (!x || x->held_expires <= now)
		return false;
	info_of(x, now, ret);
	return true;
}
