// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The process-wide logger. Lines are formatted into one buffer and written with a single
 * write() so that concurrent writers (the CLI and the daemon share a terminal in tests) never
 * interleave within a line.
 */

#include "vpnwall/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vpnwall/util.h"

static enum vw_log_level max_level = VW_LOG_INFO;

static const char *const level_names[] = {
	[VW_LOG_ERROR] = "error",
	[VW_LOG_WARN] = "warn",
	[VW_LOG_INFO] = "info",
	[VW_LOG_DEBUG] = "debug",
};

void vw_log_set_level(enum vw_log_level level)
{
	max_level = level;
}

bool vw_log_is_enabled(enum vw_log_level level)
{
	return level <= max_level;
}

int vw_log_parse_level(const char *s, enum vw_log_level *ret_level)
{
	for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
		if (vw_streq_ci(s, level_names[i])) {
			*ret_level = (enum vw_log_level)i;
			return 0;
		}
	if (vw_streq_ci(s, "warning")) {
		*ret_level = VW_LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

static void emit(enum vw_log_level level, const char *module, const char *suffix, const char *fmt,
		 va_list ap) __attribute__((format(printf, 4, 0)));

static void emit(enum vw_log_level level, const char *module, const char *suffix, const char *fmt,
		 va_list ap)
{
	char buf[2048];
	int n, m;

	n = snprintf(buf, sizeof(buf), "%s %s: ", level_names[level], module);
	if (n < 0)
		return;
	m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	n = (size_t)(n + m) >= sizeof(buf) - 1 ? (int)sizeof(buf) - 2 : n + m;
	if (suffix) {
		m = snprintf(buf + n, sizeof(buf) - (size_t)n, ": %s", suffix);
		if (m > 0)
			n = (size_t)(n + m) >= sizeof(buf) - 1 ? (int)sizeof(buf) - 2 : n + m;
	}
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, (size_t)n);
}

void vw_log(enum vw_log_level level, const char *module, const char *fmt, ...)
{
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	emit(level, module, NULL, fmt, ap);
	va_end(ap);
}

int vw_log_errno(enum vw_log_level level, const char *module, int r, const char *fmt, ...)
{
	va_list ap;

	if (level > max_level)
		return r;
	va_start(ap, fmt);
	emit(level, module, strerror(r < 0 ? -r : r), fmt, ap);
	va_end(ap);
	return r;
}
