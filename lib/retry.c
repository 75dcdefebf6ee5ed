// SPDX-License-Identifier: GPL-2.0-or-later
/* Retry with a doubling backoff: see retry.h. */
#include "vpnwall/retry.h"

#include <stdio.h>
#include <string.h>

bool vw_retry_due(const struct vw_retry *r, uint64_t now)
{
	return r->wanted && !r->up && (!r->at || r->at <= now);
}

int vw_retry_result(struct vw_retry *r, int err, uint64_t now)
{
	bool failing = r->error[0] != '\0';

	if (err >= 0) {
		r->up = true;
		r->error[0] = '\0';
		r->at = 0;
		r->backoff_ms = 0;
		return failing ? 1 : 0;
	}
	snprintf(r->error, sizeof(r->error), "%s", strerror(-err));
	r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : VW_RETRY_MIN_MS;
	if (r->backoff_ms > VW_RETRY_MAX_MS)
		r->backoff_ms = VW_RETRY_MAX_MS;
	r->at = now + r->backoff_ms;
	return failing ? 0 : -1;
}

uint64_t vw_retry_deadline(const struct vw_retry *v, int n)
{
	uint64_t t = 0;

	for (int k = 0; k < n; k++)
		if (v[k].wanted && !v[k].up && v[k].at && (!t || v[k].at < t))
			t = v[k].at;
	return t;
}
