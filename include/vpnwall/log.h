/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging: one line per message on stderr, "<level> <module>: <message> key=value ...".
 * Each .c file defines VW_LOG_MODULE before using the log_*() macros. The *_errno variants
 * append ": strerror(-r)" and return r so a call site can log and propagate in one step.
 */
#ifndef VW_LOG_H
#define VW_LOG_H

#include <stdbool.h>

enum vw_log_level {
	VW_LOG_ERROR,
	VW_LOG_WARN,
	VW_LOG_INFO,
	VW_LOG_DEBUG,
};

/* vw_log_set_level - messages above @level are discarded. */
void vw_log_set_level(enum vw_log_level level);

/* vw_log_parse_level - "error", "warn"/"warning", "info", "debug"; -EINVAL otherwise. */
int vw_log_parse_level(const char *s, enum vw_log_level *ret_level);

/* vw_log_is_enabled - whether a message at @level would be printed. */
bool vw_log_is_enabled(enum vw_log_level level);

void vw_log(enum vw_log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* vw_log_errno - log with ": strerror(-r)" appended; returns @r (negative errno). */
int vw_log_errno(enum vw_log_level level, const char *module, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define log_error(...) vw_log(VW_LOG_ERROR, VW_LOG_MODULE, __VA_ARGS__)
#define log_warn(...) vw_log(VW_LOG_WARN, VW_LOG_MODULE, __VA_ARGS__)
#define log_info(...) vw_log(VW_LOG_INFO, VW_LOG_MODULE, __VA_ARGS__)
#define log_debug(...) vw_log(VW_LOG_DEBUG, VW_LOG_MODULE, __VA_ARGS__)
#define log_error_errno(r, ...) vw_log_errno(VW_LOG_ERROR, VW_LOG_MODULE, (r), __VA_ARGS__)
#define log_warn_errno(r, ...) vw_log_errno(VW_LOG_WARN, VW_LOG_MODULE, (r), __VA_ARGS__)
#define log_info_errno(r, ...) vw_log_errno(VW_LOG_INFO, VW_LOG_MODULE, (r), __VA_ARGS__)
#define log_debug_errno(r, ...) vw_log_errno(VW_LOG_DEBUG, VW_LOG_MODULE, (r), __VA_ARGS__)

#endif
