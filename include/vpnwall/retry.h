/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Something worth having that enforcement never waits for (the metrics listener, the
 * control API, the drop audit): tried, and on failure retried with a doubling backoff
 * (1 s to 30 s) until it works. Pure: the caller says when it is time and what happened.
 */
#ifndef VW_RETRY_H
#define VW_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#define VW_RETRY_MIN_MS 1000
#define VW_RETRY_MAX_MS 30000

struct vw_retry {
	bool wanted; /* configured at all */
	bool up; /* it worked */
	uint64_t at; /* ms: the next try; 0 = now (or never, once up) */
	unsigned backoff_ms;
	char error[128]; /* the last failure, "" once it worked */
};

/* vw_retry_due - whether to try now (@now in ms). */
bool vw_retry_due(const struct vw_retry *r, uint64_t now);

/*
 * vw_retry_result - the try at @now returned @err (0 or -errno). Returns 1 when it is the
 * first success after failures, -1 for the first failure of a run of them (worth a log
 * line each), 0 otherwise.
 */
int vw_retry_result(struct vw_retry *r, int err, uint64_t now);

/* vw_retry_deadline - the earliest next try of @n, or 0 when none is scheduled. */
uint64_t vw_retry_deadline(const struct vw_retry *v, int n);

#endif
