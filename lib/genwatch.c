// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Generation accounting. Arithmetic is modulo 2^32, like the kernel's counter (which skips
 * 0 on wrap-around; a difference of one generation too many only costs a spurious replace).
 */
#include "vpnwall/genwatch.h"

void vw_genwatch_init(struct vw_genwatch *w, uint32_t gen)
{
	*w = (struct vw_genwatch){ .known = gen };
}

void vw_genwatch_own_commit(struct vw_genwatch *w)
{
	w->own_pending++;
}

bool vw_genwatch_newgen(struct vw_genwatch *w, uint32_t gen, bool own)
{
	uint32_t ahead = gen - w->known;

	/* Already accounted for (e.g. read again after a loss was resolved). */
	if (ahead == 0 || ahead > UINT32_MAX / 2)
		return false;
	if (own && w->own_pending > 0)
		w->own_pending--;
	w->known = gen;
	return ahead > 1;
}

bool vw_genwatch_lost(struct vw_genwatch *w, uint32_t now)
{
	uint32_t unaccounted = now - w->known;
	bool foreign = unaccounted != w->own_pending;

	w->known = now;
	w->own_pending = 0;
	return foreign;
}
