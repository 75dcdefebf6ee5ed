/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HTTP servers (libmicrohttpd) inside the daemon's event loop: a TCP listener for metrics
 * and health, and a unix-socket listener for the control API. Both hand GET requests to
 * one handler; this module only moves bytes, the handler decides what to answer.
 */
#ifndef VW_HTTP_H
#define VW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vw_http;
struct vw_http_request;
struct vw_loop;

struct vw_http_response {
	unsigned status; /* HTTP status code */
	const char *content_type; /* static string */
	char *body; /* malloc'd; ownership moves to the http module */
	size_t len;
};

/*
 * Handle GET @path. @api: the request came through the control socket (else the metrics
 * listener). Must fill @ret; a NULL body is sent as an empty one.
 */
typedef void (*vw_http_fn)(void *ud, const struct vw_http_request *req, const char *path, bool api,
			   struct vw_http_response *ret);

/* vw_http_arg - a query-string argument of @req, or NULL. */
const char *vw_http_arg(const struct vw_http_request *req, const char *name);

/* vw_http_new - an empty server set; add listeners with vw_http_listen_*(). */
int vw_http_new(struct vw_loop *loop, vw_http_fn fn, void *ud, struct vw_http **ret_http);

/* vw_http_free - close every listener. Accepts NULL. */
void vw_http_free(struct vw_http *h);

/* vw_http_listen_tcp - serve on @host (IPv4 or IPv6 literal) : @port. */
int vw_http_listen_tcp(struct vw_http *h, const char *host, uint16_t port);

/*
 * vw_http_listen_unix - serve on a unix socket at @path with file mode @mode, creating the
 * parent directory (0755) if needed and replacing a stale socket.
 */
int vw_http_listen_unix(struct vw_http *h, const char *path, unsigned mode);

/* vw_http_timeout - ms until vw_http_process() must run, or -1. */
int vw_http_timeout(struct vw_http *h);

/* vw_http_process - after every loop wait: run libmicrohttpd if its timeout is due. */
void vw_http_process(struct vw_http *h);

#endif
