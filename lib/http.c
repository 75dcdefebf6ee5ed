// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libmicrohttpd in external-select epoll mode: each MHD daemon exposes one epoll fd, which
 * our loop watches like any other fd. MHD_run() runs when that fd is ready or when the
 * timeout MHD last reported is due, not after every wait: each run is a system call, and
 * the DNS proxy wakes the loop several times per query.
 */
#include "vpnwall/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "vpnwall/log.h"
#include "vpnwall/loop.h"
#include "vpnwall/util.h"

#define VW_LOG_MODULE "http"

#define MAX_SERVERS 2
#define CONNECTION_LIMIT 64
#define CONNECTION_TIMEOUT_S 10

struct server {
	struct vw_io io; /* first: the loop hands us &io */
	struct vw_http *h;
	struct MHD_Daemon *mhd;
	bool api;
	int listen_fd; /* ours to close (unix socket), or -1 */
	uint64_t due_ms; /* MHD asked to be run by then (0: only when its fd is ready) */
	bool rerun; /* run once more at once (see run()) */
	char path[108]; /* unix socket path to unlink, or "" */
};

struct vw_http {
	struct vw_loop *loop;
	vw_http_fn fn;
	void *ud;
	struct server servers[MAX_SERVERS];
	size_t n;
};

struct vw_http_request {
	struct MHD_Connection *conn;
};

const char *vw_http_arg(const struct vw_http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct vw_http_response *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(r->len, r->body ? r->body : (char *)"",
					       r->body ? MHD_RESPMEM_MUST_FREE
						       : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(r->body);
		return MHD_NO;
	}
	if (r->content_type)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct vw_http_request req = { .conn = conn };
	struct vw_http_response r = { .status = 500, .content_type = "text/plain" };
	static int marker;

	/* The first call only announces the headers; answer on the second. */
	if (!*con_cls) {
		*con_cls = &marker;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		r.status = 405;
		r.body = strdup("only GET is supported\n");
		r.len = r.body ? strlen(r.body) : 0;
		return send_response(conn, &r);
	}
	s->h->fn(s->h->ud, &req, url, s->api, &r);
	return send_response(conn, &r);
}

static unsigned connections(const struct server *s)
{
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return info ? info->num_connections : 0;
}

/*
 * A run that closed connections is followed by another at once: at its connection limit
 * MHD takes the listening socket out of its epoll set and puts it back only at the start
 * of a later run; with no connection left there would be no fd event and no timeout to
 * bring that run, and the server would never accept again.
 */
static void run(struct server *s)
{
	unsigned before = connections(s);

	s->rerun = false;
	(void)MHD_run(s->mhd);
	if (connections(s) < before)
		s->rerun = true;
}

static void on_io(struct vw_io *io, uint32_t events)
{
	(void)events;
	run((struct server *)io);
}

int vw_http_new(struct vw_loop *loop, vw_http_fn fn, void *ud, struct vw_http **ret_http)
{
	struct vw_http *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->loop = loop;
	h->fn = fn;
	h->ud = ud;
	*ret_http = h;
	return 0;
}

static int start(struct vw_http *h, struct server *s, unsigned flags, struct MHD_OptionItem *opts)
{
	const union MHD_DaemonInfo *info;

	s->h = h;
	s->mhd = MHD_start_daemon(flags | MHD_USE_EPOLL | MHD_USE_TURBO, 0, NULL, NULL, on_request,
				  s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!s->mhd)
		return -errno ? -errno : -EADDRINUSE;
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info)
		return -EINVAL;
	s->io.fd = info->epoll_fd;
	s->io.cb = on_io;
	return vw_loop_watch(h->loop, &s->io, EPOLLIN);
}

static void server_done(struct vw_http *h, struct server *s)
{
	vw_loop_unwatch(h->loop, &s->io);
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	if (s->listen_fd >= 0)
		(void)close(s->listen_fd);
	if (s->path[0])
		(void)unlink(s->path);
	*s = (struct server){ .listen_fd = -1 };
}

void vw_http_free(struct vw_http *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		server_done(h, &h->servers[i]);
	free(h);
}

int vw_http_listen_tcp(struct vw_http *h, const char *host, uint16_t port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct server *s;
	unsigned flags = 0;
	int r;

	if (h->n >= MAX_SERVERS)
		return -ENOBUFS;
	s = &h->servers[h->n];
	*s = (struct server){ .listen_fd = -1 };
	if (inet_pton(AF_INET, host, &a4.sin_addr) != 1) {
		if (inet_pton(AF_INET6, host, &a6.sin6_addr) != 1)
			return -EINVAL;
		flags |= MHD_USE_IPv6;
	}
	{
		struct MHD_OptionItem opts[] = {
			{ MHD_OPTION_SOCK_ADDR, 0, flags ? (void *)&a6 : (void *)&a4 },
			{ MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT, NULL },
			{ MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S, NULL },
			{ MHD_OPTION_END, 0, NULL },
		};

		r = start(h, s, flags, opts);
	}
	if (r < 0) {
		server_done(h, s);
		return r;
	}
	h->n++;
	return 0;
}

int vw_http_listen_unix(struct vw_http *h, const char *path, unsigned mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct server *s;
	char dir[108], *slash;
	int r;

	if (h->n >= MAX_SERVERS)
		return -ENOBUFS;
	if (vw_strscpy(sa.sun_path, path, sizeof(sa.sun_path)) < 0)
		return -ENAMETOOLONG;
	s = &h->servers[h->n];
	*s = (struct server){ .listen_fd = -1, .api = true };

	(void)vw_strscpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->listen_fd < 0)
		return -errno;
	/* A socket file left by a previous run would make bind() fail. */
	(void)unlink(path);
	if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, mode) < 0 ||
	    listen(s->listen_fd, 16) < 0) {
		r = -errno;
		server_done(h, s);
		return r;
	}
	(void)vw_strscpy(s->path, path, sizeof(s->path));
	{
		struct MHD_OptionItem opts[] = {
			{ MHD_OPTION_LISTEN_SOCKET, s->listen_fd, NULL },
			{ MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT, NULL },
			{ MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S, NULL },
			{ MHD_OPTION_END, 0, NULL },
		};

		r = start(h, s, 0, opts);
	}
	/* From here on MHD owns the listening socket and closes it when stopped. */
	if (s->mhd)
		s->listen_fd = -1;
	if (r < 0) {
		server_done(h, s);
		return r;
	}
	h->n++;
	return 0;
}

int vw_http_timeout(struct vw_http *h)
{
	uint64_t now = vw_now_ms();
	int t = -1;

	for (size_t i = 0; h && i < h->n; i++) {
		MHD_UNSIGNED_LONG_LONG ms;

		h->servers[i].due_ms = 0;
		if (h->servers[i].rerun)
			ms = 0;
		else if (MHD_get_timeout(h->servers[i].mhd, &ms) != MHD_YES)
			continue;
		if (ms > 60000)
			ms = 60000;
		h->servers[i].due_ms = now + ms;
		t = vw_timeout_min(t, (int)ms);
	}
	return t;
}

void vw_http_process(struct vw_http *h)
{
	uint64_t now = vw_now_ms();

	for (size_t i = 0; h && i < h->n; i++)
		if (h->servers[i].due_ms && h->servers[i].due_ms <= now) {
			h->servers[i].due_ms = 0;
			run(&h->servers[i]);
		}
}
