// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Event clocks: a hash by id to find one, a list to walk the known ones after a commit.
 */
#include "vpnwall/pending.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/policy.h"
#include "vpnwall/util.h"

struct vw_pending_entry {
	struct vw_hnode node;
	char id[VW_ID_MAX + 1];
	uint64_t since_ns; /* the first event not yet enforced */
	bool known; /* its outcome is in the store */
};

static struct vw_pending_entry *find(const struct vw_pending *p, const char *id)
{
	for (struct vw_hnode *n = vw_hmap_first(&p->by_id, vw_hash_str(id)); n;
	     n = vw_hmap_next(n)) {
		struct vw_pending_entry *e = vw_container_of(n, struct vw_pending_entry, node);

		if (strcmp(e->id, id) == 0)
			return e;
	}
	return NULL;
}

/* A burst is timed from its start: a later event does not reset the clock. */
void vw_pending_note(struct vw_pending *p, const char *id, uint64_t now_ns)
{
	struct vw_pending_entry *e;

	if (find(p, id) || p->n >= VW_PENDING_MAX)
		return;
	e = calloc(1, sizeof(*e));
	if (!e)
		return;
	(void)vw_strscpy(e->id, id, sizeof(e->id));
	e->since_ns = now_ns;
	if (vw_hmap_add(&p->by_id, &e->node, vw_hash_str(e->id)) < 0) {
		free(e);
		return;
	}
	p->list[p->n++] = e;
}

void vw_pending_known(struct vw_pending *p, const char *id)
{
	struct vw_pending_entry *e = find(p, id);

	if (e)
		e->known = true;
}

void vw_pending_committed(struct vw_pending *p, uint64_t now_ns, void (*fn)(void *ud, double s),
			  void *ud)
{
	size_t out = 0;

	for (size_t i = 0; i < p->n; i++) {
		struct vw_pending_entry *e = p->list[i];

		if (!e->known) {
			p->list[out++] = e;
			continue;
		}
		fn(ud, (double)(now_ns - e->since_ns) / 1e9);
		vw_hmap_del(&p->by_id, &e->node);
		free(e);
	}
	p->n = out;
}

void vw_pending_done(struct vw_pending *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->list[i]);
	p->n = 0;
	vw_hmap_done(&p->by_id);
}
