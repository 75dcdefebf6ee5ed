/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The DNS proxy's policy side: which container asks (by its source address, in the
 * ruleset the backend holds), whether the name is one its policy lets it resolve
 * (vw_policy_name_grants: exact names and wildcards), and, for an answer, which addresses
 * it may now reach, put into the backend as one small transaction before the answer is
 * released. Owns the proxy (dnsproxy), its upstream resolver (dns) and the learned
 * addresses (answers).
 *
 * Learned elements are keyed by the container's source address, which Docker hands to
 * the next container once this one is gone: vw_learner_revoke() takes them out of the
 * backend before a commit gives an address to anyone else.
 */
#ifndef VW_LEARN_H
#define VW_LEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnwall/ruleset.h"

struct vw_config;
struct vw_dnsq_stats;
struct vw_learner;
struct vw_loop;
struct vw_store;

/* The backend's side: delete @del (absent ones are fine), add @add; all or nothing. */
struct vw_learn_backend {
	int (*learn)(void *ud, const struct vw_learned_elem *del, size_t n_del,
		     const struct vw_learned_elem *add, size_t n_add);
	void *ud;
};

#define VW_LEARNER_INFLIGHT_MAX 64 /* one container's queries upstream at once */

/*
 * vw_learner_new - start the DNS proxy on cfg->dns_proxy_port. @st and @applied (what the
 * backend holds) are read at every query; they must outlive the learner. With a
 * VPN_INTERFACE, the upstream is asked only through it (see vw_learner_tunnel()).
 */
int vw_learner_new(struct vw_loop *loop, const struct vw_config *cfg, const struct vw_store *st,
		   const struct vw_ruleset *applied, const struct vw_learn_backend *be,
		   struct vw_dnsq_stats *stats, struct vw_learner **ret);

/* vw_learner_free - stop the proxy; the backend keeps what it learned. Accepts NULL. */
void vw_learner_free(struct vw_learner *l);

/*
 * vw_learner_tunnel - the VPN interface that is up (@ifname), or "" when none is: the
 * upstream is then not asked at all. Without VPN_INTERFACE this is never called.
 */
void vw_learner_tunnel(struct vw_learner *l, const char *ifname);

/*
 * vw_learner_revoke - before @desired is committed: take out of the backend what was
 * learned under a source address @desired no longer gives to the same container, for the
 * containers @ch marks (normalized; NULL or ch->all: every one). 0 or -errno (the backend
 * refused: the caller must not give those addresses away yet).
 */
int vw_learner_revoke(struct vw_learner *l, const struct vw_ruleset *desired,
		      const struct vw_changes *ch);

/*
 * vw_learner_lost - the backend was replaced whole: every learned element is gone. Nothing
 * is then taken as held until it is put back (a repeated answer is not skipped).
 */
void vw_learner_lost(struct vw_learner *l);

/*
 * vw_learner_restore - after a step that replaced the backend (@replaced, after
 * vw_learner_lost()) or compared everything: put back what is still learned, under the
 * containers' sources now.
 */
int vw_learner_restore(struct vw_learner *l, bool replaced);

/* vw_learner_timeout - ms until vw_learner_process() has work, or -1. */
int vw_learner_timeout(const struct vw_learner *l);

/* vw_learner_process - timeouts of the upstream and of TCP clients; forget what expired. */
void vw_learner_process(struct vw_learner *l, uint64_t now_ms);

/* A learned address of a container, for explain and the API. */
struct vw_learned_info {
	char name[254]; /* the name whose answer gave it (the one expiring last) */
	uint8_t family;
	uint8_t addr[16];
	uint64_t expires_ms; /* monotonic */
	struct vw_name_grant_view {
		uint8_t path;
		uint8_t protos;
		uint16_t port_lo;
		uint16_t port_hi;
	} grant;
};

/*
 * vw_learner_list - the addresses learned for container @key that are still in force at
 * @now, up to @max into @ret. Returns how many.
 */
size_t vw_learner_list(const struct vw_learner *l, const char *key, uint64_t now,
		       struct vw_learned_info *ret, size_t max);

/* vw_learner_holds - whether @key may reach @addr through a learned entry now (explain). */
bool vw_learner_holds(const struct vw_learner *l, const char *key, uint8_t family,
		      const uint8_t *addr, uint64_t now, struct vw_learned_info *ret);

#endif
