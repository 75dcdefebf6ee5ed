/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event-to-commit clock: Docker events about containers whose outcome is not enforced
 * yet. The clock of a container starts at its first such event, its outcome becomes known
 * when the store has it (inspected, or gone), and the next commit after that stops it.
 * Pure; bounded (past the cap, further events are simply not timed).
 */
#ifndef VW_PENDING_H
#define VW_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include "vpnwall/hashmap.h"

#define VW_PENDING_MAX 4096

struct vw_pending_entry;

struct vw_pending {
	struct vw_hmap by_id;
	struct vw_pending_entry *list[VW_PENDING_MAX];
	size_t n;
};

/* vw_pending_note - an event about container @id arrived at @now_ns. */
void vw_pending_note(struct vw_pending *p, const char *id, uint64_t now_ns);

/* vw_pending_known - the store now holds the outcome for @id. */
void vw_pending_known(struct vw_pending *p, const char *id);

/*
 * vw_pending_committed - a commit went through at @now_ns: @fn gets the seconds each known
 * outcome waited, and those clocks stop.
 */
void vw_pending_committed(struct vw_pending *p, uint64_t now_ns, void (*fn)(void *ud, double s),
			  void *ud);

/* vw_pending_done - forget everything. */
void vw_pending_done(struct vw_pending *p);

#endif
