/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The CLI's side of the control API: one blocking GET over the daemon's unix socket
 * (libcurl). The CLI is a short-lived process, so blocking is what it wants.
 */
#ifndef VW_CLIENT_H
#define VW_CLIENT_H

#include <stddef.h>

/*
 * vw_client_get - GET @path_and_query from the API socket at @socket. On success *ret_body
 * (malloc'd, NUL-terminated) and *ret_status are set. Returns 0, -ECONNREFUSED/-ENOENT when
 * no daemon listens, or another -errno.
 */
int vw_client_get(const char *socket, const char *path_and_query, long *ret_status,
		  char **ret_body);

/* vw_client_escape - URL-encode @s into a malloc'd string, or NULL. */
char *vw_client_escape(const char *s);

#endif
