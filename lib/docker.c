// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Docker client state machine:
 *
 *   DOWN --(backoff expires)--> VERSION --> INFO --> STREAM (events open, waiting for headers)
 *        --> NETWORKS --> LIST --> SYNCED (inspect queued containers one at a time)
 *
 * Any failure returns to DOWN and schedules a reconnect with exponential backoff. The events
 * stream is subscribed before the list is taken, so no change can fall between the two:
 * events that arrive during the list are queued and re-inspected once it is in.
 * Only one request besides the stream is in flight, so replies never overtake each other.
 */
#include "vpnwall/docker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <curl/curl.h>

#include "vpnwall/dockermsg.h"
#include "vpnwall/log.h"
#include "vpnwall/loop.h"
#include "vpnwall/policy.h"
#include "vpnwall/util.h"

#define VW_LOG_MODULE "docker"

#define API_MAX "1.51" /* newest API whose fields we have checked */
#define API_MIN "1.24"
#define EVENT_LINE_MAX (64 * 1024)
#define BODY_MAX (256 * 1024 * 1024) /* a list of 65536 containers */
#define REQUEST_TIMEOUT_MS 60000
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 5000 /* a unix-socket connect is cheap; containers wait on us */
/* A burst beyond this is cheaper to answer with one resync than with inspects. */
#define QUEUE_MAX 4096
/* {"type":["container","network"]} */
#define EVENTS_FILTER "%7B%22type%22%3A%5B%22container%22%2C%22network%22%5D%7D"

enum state { S_DOWN, S_VERSION, S_INFO, S_STREAM, S_NETWORKS, S_LIST, S_SYNCED };
enum kind { K_VERSION, K_INFO, K_EVENTS, K_NETWORKS, K_LIST, K_INSPECT };

struct req {
	struct vw_docker *d;
	CURL *easy;
	enum kind kind;
	char id[65];
	char *buf;
	size_t len;
	size_t cap;
	size_t max;
	bool failed_cap;
	bool stale; /* an event about the container arrived meanwhile: the answer is old */
};

struct csock {
	struct vw_io io;
	struct vw_docker *d;
};

struct vw_docker {
	struct vw_loop *loop;
	CURLM *multi;
	char path[108];
	char api[VW_DOCKER_API_MAX_LEN];
	const struct vw_docker_ops *ops;
	void *ud;

	enum state state;
	struct req *stream;
	struct req *req; /* the one other request in flight */
	uint64_t curl_deadline; /* 0: none */
	uint64_t reconnect_at; /* 0: none */
	unsigned backoff_ms;

	struct vw_network *nets; /* held between NETWORKS and LIST */
	size_t n_nets;
	bool nets_dirty;
	char (*queue)[65]; /* containers to re-inspect, in arrival order, unique */
	size_t n_queue;
	size_t cap_queue;
	bool overflow; /* the queue overflowed: the stream is ended and a resync follows */
	bool live_restore; /* containers outlive dockerd (its LiveRestoreEnabled) */
};

static void go_down(struct vw_docker *d, const char *reason);
static void pump(struct vw_docker *d);

/* --- curl plumbing ----------------------------------------------------------------------- */

static void on_sock_io(struct vw_io *io, uint32_t events)
{
	struct csock *s = (struct csock *)io;
	struct vw_docker *d = s->d;
	int flags = 0, running;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	(void)curl_multi_socket_action(d->multi, io->fd, flags, &running);
	pump(d);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct vw_docker *d = userp;
	struct csock *s = socketp;
	uint32_t events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			vw_loop_unwatch(d->loop, &s->io);
			free(s);
			(void)curl_multi_assign(d->multi, fd, NULL);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		s->d = d;
		s->io.fd = fd;
		s->io.cb = on_sock_io;
		(void)curl_multi_assign(d->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	return vw_loop_watch(d->loop, &s->io, events) < 0 ? -1 : 0;
}

/* Only records the deadline: calling curl from inside this callback is not allowed. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct vw_docker *d = userp;

	d->curl_deadline = timeout_ms < 0 ? 0 : vw_now_ms() + (uint64_t)timeout_ms;
	return 0;
}

static int append(struct req *q, const char *data, size_t n)
{
	int r;

	if (q->len + n + 1 > q->max) {
		q->failed_cap = true;
		return -E2BIG;
	}
	r = vw_grow((void **)&q->buf, &q->cap, q->len + n + 1, 1, q->max);
	if (r < 0)
		return r;
	memcpy(q->buf + q->len, data, n);
	q->len += n;
	q->buf[q->len] = '\0';
	return 0;
}

/* Runs inside the stream's write callback: it must not free or end any transfer. */
static void queue_push(struct vw_docker *d, const char *id)
{
	/* The inspect in flight may predate this event: its answer must not win. */
	if (d->req && d->req->kind == K_INSPECT && strcmp(d->req->id, id) == 0)
		d->req->stale = true;
	for (size_t i = 0; i < d->n_queue; i++)
		if (strcmp(d->queue[i], id) == 0)
			return;
	if (vw_grow((void **)&d->queue, &d->cap_queue, d->n_queue + 1, sizeof(*d->queue),
		    QUEUE_MAX) < 0) {
		/* Losing an event would leave stale state: end the stream and resync. */
		d->overflow = true;
		return;
	}
	(void)vw_strscpy(d->queue[d->n_queue++], id, sizeof(*d->queue));
}

static void handle_event_line(struct vw_docker *d, const char *line, size_t len)
{
	struct vw_docker_event ev;

	if (vw_dockermsg_parse_event(line, len, &ev) < 0) {
		log_debug("unparsable event line, ignoring");
		return;
	}
	if (d->ops->event)
		d->ops->event(d->ud, &ev);
	if (ev.kind == VW_EV_CONTAINER)
		queue_push(d, ev.id);
	else if (ev.kind == VW_EV_NETWORKS)
		d->nets_dirty = true;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct req *q = userp;
	size_t n = size * nmemb;

	if (q->kind != K_EVENTS)
		return append(q, data, n) < 0 ? 0 : n;

	/* The stream is JSON lines; keep only the unfinished tail between callbacks. */
	for (size_t off = 0; off < n;) {
		const char *nl = memchr(data + off, '\n', n - off);
		size_t chunk = nl ? (size_t)(nl - (data + off)) : n - off;

		if (append(q, data + off, chunk) < 0) {
			log_warn("event line longer than %d bytes, reconnecting", EVENT_LINE_MAX);
			return 0;
		}
		off += chunk;
		if (nl) {
			if (q->len > 0)
				handle_event_line(q->d, q->buf, q->len);
			q->len = 0;
			off++;
		}
		/* Returning short makes curl end the transfer; on_done() then resyncs. */
		if (q->d->overflow) {
			log_warn("more than %d containers waiting to be inspected, resyncing",
				 QUEUE_MAX);
			return 0;
		}
	}
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct req *q = userp;
	size_t n = size * nmemb;

	/* The blank line ends the headers: Docker sends them once the subscription exists. */
	if (q->kind == K_EVENTS && q->d->state == S_STREAM && n <= 2 &&
	    (data[0] == '\r' || data[0] == '\n')) {
		long code = 0;

		(void)curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code == 200) {
			q->d->state = S_NETWORKS;
			q->d->nets_dirty = true;
		}
	}
	return n;
}

static void req_free(struct vw_docker *d, struct req *q)
{
	if (!q)
		return;
	if (q->easy) {
		(void)curl_multi_remove_handle(d->multi, q->easy);
		curl_easy_cleanup(q->easy);
	}
	free(q->buf);
	free(q);
}

static int req_start(struct vw_docker *d, enum kind kind, const char *path, const char *id,
		     struct req **ret)
{
	char url[512];
	struct req *q;

	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->d = d;
	q->kind = kind;
	q->max = kind == K_EVENTS ? EVENT_LINE_MAX : BODY_MAX;
	if (id)
		(void)vw_strscpy(q->id, id, sizeof(q->id));
	q->easy = curl_easy_init();
	if (!q->easy) {
		free(q);
		return -ENOMEM;
	}
	if (kind == K_VERSION)
		snprintf(url, sizeof(url), "http://docker%s", path);
	else
		snprintf(url, sizeof(url), "http://docker/v%s%s", d->api, path);
	(void)curl_easy_setopt(q->easy, CURLOPT_URL, url);
	(void)curl_easy_setopt(q->easy, CURLOPT_UNIX_SOCKET_PATH, d->path);
	(void)curl_easy_setopt(q->easy, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(q->easy, CURLOPT_WRITEFUNCTION, on_write);
	(void)curl_easy_setopt(q->easy, CURLOPT_WRITEDATA, q);
	(void)curl_easy_setopt(q->easy, CURLOPT_HEADERFUNCTION, on_header);
	(void)curl_easy_setopt(q->easy, CURLOPT_HEADERDATA, q);
	(void)curl_easy_setopt(q->easy, CURLOPT_PRIVATE, q);
	(void)curl_easy_setopt(q->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	if (kind != K_EVENTS)
		(void)curl_easy_setopt(q->easy, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS);
	if (curl_multi_add_handle(d->multi, q->easy) != CURLM_OK) {
		req_free(d, q);
		return -ENOMEM;
	}
	*ret = q;
	return 0;
}

/* --- state machine ----------------------------------------------------------------------- */

static void go_down(struct vw_docker *d, const char *reason)
{
	bool was_synced = d->state == S_SYNCED;

	if (d->state == S_DOWN)
		return;
	d->state = S_DOWN;
	req_free(d, d->stream);
	req_free(d, d->req);
	d->stream = d->req = NULL;
	free(d->nets);
	d->nets = NULL;
	d->n_nets = 0;
	d->n_queue = 0;
	d->overflow = false;
	d->reconnect_at = vw_now_ms() + d->backoff_ms;
	if (was_synced || d->backoff_ms == BACKOFF_MIN_MS)
		log_warn("lost Docker at %s (%s), reconnecting in %ums", d->path, reason,
			 d->backoff_ms);
	else
		log_debug("Docker at %s unavailable (%s), retrying in %ums", d->path, reason,
			  d->backoff_ms);
	d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
	if (d->ops->state)
		d->ops->state(d->ud, false, reason);
}

static void connect_now(struct vw_docker *d)
{
	int r;

	d->reconnect_at = 0;
	d->state = S_VERSION;
	r = req_start(d, K_VERSION, "/version", NULL, &d->req);
	if (r < 0)
		go_down(d, "cannot start request");
}

static void on_version(struct vw_docker *d, struct req *q)
{
	char api[VW_DOCKER_API_MAX_LEN], min_api[VW_DOCKER_API_MAX_LEN];
	int r;

	if (vw_dockermsg_parse_version(q->buf, q->len, api, min_api) < 0) {
		go_down(d, "unparsable /version");
		return;
	}
	if (vw_docker_api_cmp(api, API_MIN) < 0) {
		log_error("Docker API %s is older than the oldest supported (%s), retrying", api,
			  API_MIN);
		go_down(d, "API too old");
		return;
	}
	/* Speak the newest version both sides know, never below what the engine accepts. */
	if (vw_docker_api_cmp(api, API_MAX) > 0)
		(void)vw_strscpy(api, vw_docker_api_cmp(min_api, API_MAX) > 0 ? min_api : API_MAX,
				 sizeof(api));
	if (strcmp(d->api, api) != 0)
		log_info("Docker API version %s", api);
	(void)vw_strscpy(d->api, api, sizeof(d->api));

	d->state = S_INFO;
	r = req_start(d, K_INFO, "/info", NULL, &d->req);
	if (r < 0)
		go_down(d, "cannot start request");
}

static void on_info(struct vw_docker *d, struct req *q)
{
	int r;

	if (vw_dockermsg_parse_info(q->buf, q->len, &d->live_restore) < 0) {
		go_down(d, "unparsable /info");
		return;
	}
	d->state = S_STREAM;
	r = req_start(d, K_EVENTS, "/events?filters=" EVENTS_FILTER, NULL, &d->stream);
	if (r < 0)
		go_down(d, "cannot open the events stream");
}

static void on_networks(struct vw_docker *d, struct req *q)
{
	struct vw_network *nets;
	size_t n;
	int r;

	r = vw_dockermsg_parse_networks(q->buf, q->len, &nets, &n);
	if (r < 0) {
		go_down(d, "unparsable network list");
		return;
	}
	if (d->state == S_SYNCED) {
		d->ops->networks(d->ud, nets, n);
		return;
	}
	free(d->nets);
	d->nets = nets;
	d->n_nets = n;
	d->state = S_LIST;
}

static void on_list(struct vw_docker *d, struct req *q)
{
	struct vw_container *cs;
	size_t n;
	int r;

	r = vw_dockermsg_parse_containers(q->buf, q->len, &cs, &n);
	if (r < 0) {
		go_down(d, "unparsable container list");
		return;
	}
	d->state = S_SYNCED;
	d->backoff_ms = BACKOFF_MIN_MS;
	log_info("synced with Docker: %zu running containers, %zu networks", n, d->n_nets);
	d->ops->synced(d->ud, cs, n, TAKE_PTR(d->nets), d->n_nets);
	d->n_nets = 0;
	if (d->ops->state)
		d->ops->state(d->ud, true, NULL);
}

static void on_inspect(struct vw_docker *d, struct req *q, long code)
{
	struct vw_container c;

	/* A newer event re-queued this container; its next inspect tells the truth. */
	if (q->stale)
		return;
	if (code == 404) {
		d->ops->container(d->ud, q->id, NULL);
		return;
	}
	if (vw_dockermsg_parse_container(q->buf, q->len, &c) < 0) {
		go_down(d, "unparsable container");
		return;
	}
	d->ops->container(d->ud, q->id, &c);
}

static void on_done(struct vw_docker *d, struct req *q, CURLcode res)
{
	long code = 0;

	(void)curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &code);
	if (q == d->stream) {
		log_debug("events stream ended: %s (HTTP %ld)", curl_easy_strerror(res), code);
		/* A closed chunked stream reads as CURLE_PARTIAL_FILE: it simply ended. */
		go_down(d, res == CURLE_OK || res == CURLE_PARTIAL_FILE ? "events stream closed"
									: curl_easy_strerror(res));
		return;
	}
	d->req = NULL;
	if (res != CURLE_OK || (code != 200 && !(q->kind == K_INSPECT && code == 404))) {
		char reason[128];

		if (res != CURLE_OK)
			snprintf(reason, sizeof(reason), "%s", curl_easy_strerror(res));
		else
			snprintf(reason, sizeof(reason), "HTTP %ld", code);
		req_free(d, q);
		go_down(d, reason);
		return;
	}
	switch (q->kind) {
	case K_VERSION:
		on_version(d, q);
		break;
	case K_INFO:
		on_info(d, q);
		break;
	case K_NETWORKS:
		on_networks(d, q);
		break;
	case K_LIST:
		on_list(d, q);
		break;
	case K_INSPECT:
		on_inspect(d, q, code);
		break;
	case K_EVENTS:
		break;
	}
	req_free(d, q);
}

/* Drain finished transfers, then start the next request if none is in flight. */
static void pump(struct vw_docker *d)
{
	CURLMsg *m;
	int left;
	char path[128];

	while ((m = curl_multi_info_read(d->multi, &left))) {
		struct req *q = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		(void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&q);
		if (q)
			on_done(d, q, m->data.result);
	}
	if (d->req || d->state == S_DOWN || d->state == S_VERSION || d->state == S_INFO ||
	    d->state == S_STREAM)
		return;

	if (d->nets_dirty && (d->state == S_NETWORKS || d->state == S_SYNCED)) {
		d->nets_dirty = false;
		if (req_start(d, K_NETWORKS, "/networks", NULL, &d->req) < 0)
			go_down(d, "cannot start request");
	} else if (d->state == S_LIST) {
		if (req_start(d, K_LIST, "/containers/json", NULL, &d->req) < 0)
			go_down(d, "cannot start request");
		/* Everything queued so far is covered by the list. */
		d->n_queue = 0;
	} else if (d->state == S_SYNCED && d->n_queue > 0) {
		snprintf(path, sizeof(path), "/containers/%s/json", d->queue[0]);
		if (req_start(d, K_INSPECT, path, d->queue[0], &d->req) < 0) {
			go_down(d, "cannot start request");
			return;
		}
		memmove(d->queue, d->queue + 1, (d->n_queue - 1) * sizeof(*d->queue));
		d->n_queue--;
	}
	/* A new transfer is started by curl's timer (0 ms after add_handle), not from here. */
}

int vw_docker_new(struct vw_loop *loop, const char *path, const struct vw_docker_ops *ops, void *ud,
		  struct vw_docker **ret_docker)
{
	struct vw_docker *d;

	if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK)
		return -ENOMEM;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->ops = ops;
	d->ud = ud;
	d->backoff_ms = BACKOFF_MIN_MS;
	(void)vw_strscpy(d->path, path, sizeof(d->path));
	d->multi = curl_multi_init();
	if (!d->multi) {
		free(d);
		return -ENOMEM;
	}
	(void)curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	(void)curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
	(void)curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	(void)curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
	*ret_docker = d;
	return 0;
}

void vw_docker_free(struct vw_docker *d)
{
	if (!d)
		return;
	req_free(d, d->stream);
	req_free(d, d->req);
	(void)curl_multi_cleanup(d->multi);
	free(d->nets);
	free(d->queue);
	free(d);
}

int vw_docker_start(struct vw_docker *d)
{
	d->reconnect_at = vw_now_ms();
	return 0;
}

int vw_docker_timeout(struct vw_docker *d)
{
	uint64_t now = vw_now_ms();

	return vw_timeout_min(vw_deadline_to_timeout(d->curl_deadline, now),
			      vw_deadline_to_timeout(d->reconnect_at, now));
}

void vw_docker_process_timeouts(struct vw_docker *d)
{
	uint64_t now = vw_now_ms();

	if (d->reconnect_at && d->reconnect_at <= now)
		connect_now(d);
	if (d->curl_deadline && d->curl_deadline <= now) {
		int running;

		d->curl_deadline = 0;
		(void)curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	pump(d);
}

const char *vw_docker_api_version(const struct vw_docker *d)
{
	return d->api;
}

bool vw_docker_live_restore(const struct vw_docker *d)
{
	return d->live_restore;
}
