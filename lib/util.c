// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Small domain-free helpers: string copies, array growth, time and number parsing.
 */
#include "vpnwall/util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int vw_strscpy(char *dst, const char *src, size_t size)
{
	size_t n;

	if (size == 0)
		return -E2BIG;
	n = strnlen(src, size);
	if (n == size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -E2BIG;
	}
	memcpy(dst, src, n + 1);
	return (int)n;
}

int vw_grow(void **p, size_t *cap, size_t need, size_t elem_size, size_t max)
{
	size_t n;
	void *q;

	if (need <= *cap)
		return 0;
	if (need > max)
		return -ENOBUFS;
	n = *cap ? *cap * 2 : 8;
	if (n < need)
		n = need;
	if (n > max)
		n = max;
	q = reallocarray(*p, n, elem_size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

uint64_t vw_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t vw_now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

int vw_timeout_min(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

int vw_deadline_to_timeout(uint64_t deadline, uint64_t now)
{
	if (deadline == 0)
		return -1;
	if (deadline <= now)
		return 0;
	if (deadline - now > INT_MAX)
		return INT_MAX;
	return (int)(deadline - now);
}

bool vw_next_item(const char **p, const char **ret_start, size_t *ret_len)
{
	const char *s = *p, *start, *end;

	while (*s == ',' || isspace((unsigned char)*s))
		s++;
	if (!*s) {
		*p = s;
		return false;
	}
	start = s;
	while (*s && *s != ',')
		s++;
	end = s;
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	*p = s;
	*ret_start = start;
	*ret_len = (size_t)(end - start);
	return true;
}

int vw_parse_bool(const char *s, bool *ret)
{
	if (vw_streq_ci(s, "true") || vw_streq_ci(s, "yes") || strcmp(s, "1") == 0)
		*ret = true;
	else if (vw_streq_ci(s, "false") || vw_streq_ci(s, "no") || strcmp(s, "0") == 0)
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

void vw_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

bool vw_streq_ci(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
	return *a == *b;
}

int vw_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *ret)
{
	unsigned long v;
	char *end;

	/* strtoul skips blanks and accepts a sign; a setting or port must be plain digits. */
	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

void vw_buf_append(struct vw_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (vw_grow((void **)&b->p, &b->cap, b->len + n + 1, 1, SIZE_MAX / 2) < 0) {
		b->oom = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void vw_buf_printf(struct vw_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 ||
	    vw_grow((void **)&b->p, &b->cap, b->len + (size_t)n + 1, 1, SIZE_MAX / 2) < 0) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	(void)vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void vw_buf_done(struct vw_buf *b)
{
	free(b->p);
	*b = (struct vw_buf){ 0 };
}
