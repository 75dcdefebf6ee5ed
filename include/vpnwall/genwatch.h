/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Accounting of nf_tables ruleset generations, to tell whether a change of our table can
 * have gone unnoticed. Every committed transaction, by anyone, bumps the generation by one
 * and ends its notifications with a NEWGEN message naming the committing process. We count
 * our own commits and the generations whose notifications we read; when notifications are
 * lost (the socket overflowed), the generations that cannot be accounted for as ours are
 * someone else's, and we cannot know what they touched. Pure.
 */
#ifndef VW_GENWATCH_H
#define VW_GENWATCH_H

#include <stdbool.h>
#include <stdint.h>

struct vw_genwatch {
	uint32_t known; /* every generation up to this one is accounted for */
	uint32_t own_pending; /* our commits after @known whose NEWGEN was not read yet */
};

/* vw_genwatch_init - start accounting at generation @gen (read from the kernel). */
void vw_genwatch_init(struct vw_genwatch *w, uint32_t gen);

/* vw_genwatch_own_commit - we committed one transaction. */
void vw_genwatch_own_commit(struct vw_genwatch *w);

/*
 * vw_genwatch_newgen - a NEWGEN notification for @gen arrived, committed by us when @own.
 * Returns true when generations were skipped (notifications went missing unannounced).
 */
bool vw_genwatch_newgen(struct vw_genwatch *w, uint32_t gen, bool own);

/*
 * vw_genwatch_lost - notifications were lost; the kernel is at generation @now. Returns
 * true when some commit since the last accounted one was not ours: our table may have been
 * changed without us seeing it. Accounting restarts at @now either way.
 */
bool vw_genwatch_lost(struct vw_genwatch *w, uint32_t now);

#endif
