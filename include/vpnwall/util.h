/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small helpers every module uses: scope-bound cleanup, ownership hand-off, bounded string
 * copies, a growable-array helper and monotonic time. Nothing here knows about vpnwall's
 * domain.
 */
#ifndef VW_UTIL_H
#define VW_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Hand a value out of a cleanup variable: the variable is reset so cleanup does nothing. */
#define TAKE_PTR(p)                       \
	({                                \
		__typeof__(p) _tp_ = (p); \
		(p) = NULL;               \
		_tp_;                     \
	})
#define TAKE_FD(fd)              \
	({                       \
		int _tf_ = (fd); \
		(fd) = -1;       \
		_tf_;            \
	})

/*
 * vw_strscpy - copy @src into @dst of @size bytes, always NUL-terminated.
 * Returns the length copied, or -E2BIG (with @dst truncated) when @src did not fit.
 */
int vw_strscpy(char *dst, const char *src, size_t size);

/*
 * vw_grow - make room for @need elements of @elem_size in the array *@p of capacity *@cap.
 * Returns 0, -ENOMEM, or -ENOBUFS when @need exceeds @max.
 */
int vw_grow(void **p, size_t *cap, size_t need, size_t elem_size, size_t max);

/* A growable text buffer; once an allocation fails, oom is set and further appends do nothing. */
struct vw_buf {
	char *p; /* NUL-terminated text, or NULL when empty */
	size_t len;
	size_t cap;
	bool oom;
};

/* vw_buf_printf - append formatted text. */
void vw_buf_printf(struct vw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* vw_buf_append - append @n bytes of @s. */
void vw_buf_append(struct vw_buf *b, const char *s, size_t n);

/* vw_buf_done - free the text. */
void vw_buf_done(struct vw_buf *b);

/* vw_now_ms - CLOCK_MONOTONIC in milliseconds. */
uint64_t vw_now_ms(void);

/* vw_now_ns - CLOCK_MONOTONIC in nanoseconds, for measuring durations. */
uint64_t vw_now_ns(void);

/*
 * vw_timeout_min - combine two poll timeouts in milliseconds, where -1 means "none".
 */
int vw_timeout_min(int a, int b);

/* vw_deadline_to_timeout - milliseconds from @now until @deadline (0 = none) as a poll timeout. */
int vw_deadline_to_timeout(uint64_t deadline, uint64_t now);

/*
 * vw_next_item - the next item of the comma-separated list at *@p, without surrounding
 * blanks; empty items are skipped. Advances *@p. Returns false at the end of the list.
 */
bool vw_next_item(const char **p, const char **ret_start, size_t *ret_len);

/* vw_parse_bool - true/yes/1 or false/no/0, any case. Returns 0 or -EINVAL. */
int vw_parse_bool(const char *s, bool *ret);

/*
 * vw_sanitize - replace control characters, DEL and non-ASCII bytes of untrusted text by '?'
 * in place, so that it can be written to logs and terminals.
 */
void vw_sanitize(char *s);

/* vw_streq_ci - ASCII case-insensitive equality. */
bool vw_streq_ci(const char *a, const char *b);

/*
 * vw_parse_uint - parse a whole decimal string into [min, max]. Returns 0 or -EINVAL / -ERANGE;
 * *ret is written only on success.
 */
int vw_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *ret);

#endif
