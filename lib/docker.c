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
 *
 * Only a failure to talk to Docker takes us DOWN. When something is merely lost while the
 * stream is fine (an event line too long to keep, a burst that overflows the inspect queue),
 * SYNCED goes back to NETWORKS with the stream still open: a "resync" that delivers a fresh
 * snapshot exactly as after a reconnect, without the gap a reconnect would open.
 *
 * Nothing Docker sends is held whole beyond a fixed cap: event lines are cut (and the rest
 * discarded), the container list is split into its elements as it arrives, and a container
 * described in more than VW_DOCKER_OBJECT_MAX bytes is not tracked: its traffic is dropped.
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
#define CUT_WARN_INTERVAL_MS 60000 /* one warning about cut event lines per interval */
#define REQUEST_TIMEOUT_MS 60000
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 5000 /* a unix-socket connect is cheap; containers wait on us */
/*
 * Inspects in flight at once. Each answers about one container, so their order does not
 * matter; a burst of starts is inspected in parallel and lands in few transactions.
 */
#define INSPECTS_MAX 8
/* A burst beyond this is cheaper to answer with one resync than with inspects. */
#define QUEUE_MAX 4096
/*
 * Docker drops events for a subscriber that falls behind, without saying so (the stream
 * just misses them). A resync this often bounds how long a lost event can leave a stale
 * policy; it costs one list, and the daemon applies only what differs.
 */
#define RESYNC_INTERVAL_MS (300 * 1000)
/*
 * {"type":["container","network"],"event":["start","die","destroy","rename","update",
 * "restart","connect","disconnect","create"]}: only what changes a policy. Exec and health
 * events carry every label too (and the exec's command line before the id); asking for
 * them would let any image's healthcheck make us parse them all day.
 */
#define EVENTS_FILTER                                                                             \
	"%7B%22type%22%3A%5B%22container%22%2C%22network%22%5D%2C%22event%22%3A%5B%22start%22%2C" \
	"%22die%22%2C%22destroy%22%2C%22rename%22%2C%22update%22%2C%22restart%22%2C%22connect%22" \
	"%2C%22disconnect%22%2C%22create%22%5D%7D"

enum state { S_DOWN, S_VERSION, S_INFO, S_STREAM, S_NETWORKS, S_LIST, S_SYNCED };
enum kind { K_VERSION, K_INFO, K_EVENTS, K_NETWORKS, K_LIST, K_INSPECT };

struct req {
	struct vw_docker *d;
	CURL *easy;
	enum kind kind;
	char id[VW_ID_MAX + 1];
	char *buf; /* the reply; for the stream, the current line (its first max bytes) */
	size_t len;
	size_t cap;
	size_t max;
	bool cut; /* the stream's current line is longer than max: the rest is discarded */
	int err; /* why on_write() ended the transfer (-E2BIG: longer than max) */
	bool stale; /* an event about the container arrived meanwhile: the answer is old */
	struct vw_json_splitter *split; /* K_LIST, K_NETWORKS: the reply, split into objects */
	struct vw_container *cs; /* K_LIST: the containers read so far */
	size_t n_cs;
	size_t cap_cs;
	struct vw_network *nets; /* K_NETWORKS: the networks read so far */
	size_t n_nets;
	size_t cap_nets;
	size_t n_over; /* K_LIST, K_NETWORKS: objects beyond VW_DOCKER_LIST_MAX, not kept */
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
	struct req *req; /* the one other request in flight (version, info, lists) */
	struct req *inspects[INSPECTS_MAX]; /* inspects in flight, in any order */
	uint64_t curl_deadline; /* 0: none */
	uint64_t reconnect_at; /* 0: none */
	uint64_t resync_at; /* the next periodic resync; 0: none */
	unsigned backoff_ms;

	struct vw_network *nets; /* held between NETWORKS and LIST */
	size_t n_nets;
	bool nets_dirty;
	struct queued *queue; /* containers to re-inspect, in arrival order, unique */
	size_t n_queue;
	size_t cap_queue;
	bool resync; /* something was lost: re-list everything while the stream stays up */
	bool resyncing; /* the sync under way is such a resync, not a reconnect */
	bool routine; /* the resync requested is the periodic one, nothing was lost */
	bool live_restore; /* containers outlive dockerd (its LiveRestoreEnabled) */
	size_t rejected; /* containers not tracked for being described at excessive length */
	uint64_t cut_warn_at; /* warnings about cut event lines are muted until then */
	unsigned cut_muted; /* cut lines not warned about since the last warning */
};

/* A container to re-inspect. */
struct queued {
	char id[VW_ID_MAX + 1];
	/* It died since the list under way was asked for, which may still show it running. */
	bool revoked;
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

	if (n > q->max - q->len)
		return -E2BIG;
	r = vw_grow((void **)&q->buf, &q->cap, q->len + n, 1, q->max);
	if (r < 0)
		return r;
	memcpy(q->buf + q->len, data, n);
	q->len += n;
	return 0;
}

/*
 * A lost event leaves stale state; a fresh snapshot covers it. The networks are marked too:
 * should a sync already be past its network list, the list of containers under way covers
 * only the containers.
 */
static void request_resync(struct vw_docker *d)
{
	d->resync = true;
	d->routine = false;
	d->nets_dirty = true;
}

/* Runs inside the stream's write callback: it must not free or end any transfer. */
static void queue_push(struct vw_docker *d, const char *id, bool revoked)
{
	/* An inspect in flight may predate this event: its answer must not win. */
	for (size_t i = 0; i < INSPECTS_MAX; i++)
		if (d->inspects[i] && strcmp(d->inspects[i]->id, id) == 0)
			d->inspects[i]->stale = true;
	for (size_t i = 0; i < d->n_queue; i++)
		if (strcmp(d->queue[i].id, id) == 0) {
			d->queue[i].revoked |= revoked;
			return;
		}
	if (vw_grow((void **)&d->queue, &d->cap_queue, d->n_queue + 1, sizeof(*d->queue),
		    QUEUE_MAX) < 0) {
		if (!d->resync)
			log_warn("more than %d containers waiting to be inspected, resyncing",
				 QUEUE_MAX);
		request_resync(d);
		return;
	}
	d->queue[d->n_queue].revoked = revoked;
	(void)vw_strscpy(d->queue[d->n_queue++].id, id, sizeof(d->queue->id));
}

static void dispatch(struct vw_docker *d, const struct vw_docker_event *ev)
{
	if (d->ops->event)
		d->ops->event(d->ud, ev);
	if (ev->kind == VW_EV_CONTAINER)
		queue_push(d, ev->id,
			   strcmp(ev->action, "die") == 0 || strcmp(ev->action, "destroy") == 0);
	else if (ev->kind == VW_EV_NETWORKS)
		d->nets_dirty = true;
}

static void handle_event_line(struct vw_docker *d, const char *line, size_t len)
{
	struct vw_docker_event ev;

	if (vw_dockermsg_parse_event(line, len, &ev) < 0) {
		log_debug("unparsable event line, ignoring");
		return;
	}
	dispatch(d, &ev);
}

/* Big labels make every event of a container this long: one warning a minute is enough. */
static void warn_cut(struct vw_docker *d, const struct vw_docker_event *ev, const char *outcome)
{
	uint64_t now = vw_now_ms();
	char action[sizeof(ev->action)], muted[64] = "";

	(void)vw_strscpy(action, ev->action, sizeof(action));
	vw_sanitize(action);
	if (now < d->cut_warn_at) {
		d->cut_muted++;
		log_debug("event over %d bytes, container %.12s, action '%s': %s", EVENT_LINE_MAX,
			  ev->id[0] ? ev->id : "unknown", action, outcome);
		return;
	}
	if (d->cut_muted > 0)
		snprintf(muted, sizeof(muted), "; %u more since the last warning", d->cut_muted);
	log_warn("event over %d bytes (labels too large?), container %.12s, action '%s': %s%s",
		 EVENT_LINE_MAX, ev->id[0] ? ev->id : "unknown", action, outcome, muted);
	d->cut_warn_at = now + CUT_WARN_INTERVAL_MS;
	d->cut_muted = 0;
}

/*
 * A line longer than EVENT_LINE_MAX, of which the first EVENT_LINE_MAX bytes were kept.
 * Docker copies every label of a container into each of its events, so big labels make all
 * of them this long; what we act upon comes before the labels.
 */
static void handle_cut_line(struct vw_docker *d, const char *line, size_t len)
{
	struct vw_docker_event ev = { .kind = VW_EV_IGNORED };
	int r;

	r = vw_dockermsg_parse_event_prefix(line, len, &ev);
	if (r > 0) {
		warn_cut(d, &ev, "read from its beginning");
	} else if (ev.kind == VW_EV_CONTAINER) {
		/* Re-inspecting is a resync of that one container. */
		warn_cut(d, &ev, "re-inspecting the container");
	} else {
		warn_cut(d, &ev, "resyncing");
		request_resync(d);
	}
	if (r >= 0)
		dispatch(d, &ev);
}

/* The stream is JSON lines; keep only the unfinished tail between callbacks. */
static int on_event_data(struct req *q, const char *data, size_t n)
{
	for (size_t off = 0; off < n;) {
		const char *nl = memchr(data + off, '\n', n - off);
		size_t chunk = nl ? (size_t)(nl - (data + off)) : n - off;
		size_t keep = chunk < q->max - q->len ? chunk : q->max - q->len;
		int r;

		/* Beyond the cap a line is cut, never the stream: that would lose events. */
		if (keep < chunk)
			q->cut = true;
		r = append(q, data + off, keep);
		if (r < 0)
			return r;
		off += chunk;
		if (!nl)
			break;
		if (q->cut)
			handle_cut_line(q->d, q->buf, q->len);
		else if (q->len > 0)
			handle_event_line(q->d, q->buf, q->len);
		q->len = 0;
		q->cut = false;
		off++;
	}
	return 0;
}

/* Fail closed for this container only: untracked, its packets hit the unknown-source drop. */
static void reject(struct vw_docker *d, const char *id)
{
	d->rejected++;
	log_warn(
		"container %.12s is described in more than %d bytes (labels too large?), not tracking it: its traffic is dropped",
		id[0] ? id : "(no id)", VW_DOCKER_OBJECT_MAX);
}

/* One element of GET /containers/json, as soon as it is complete. */
static int on_list_item(void *ud, const char *buf, size_t len, size_t size)
{
	struct req *q = ud;
	char id[VW_ID_MAX + 1] = "";
	struct vw_container c;
	int r;

	if (size > len) {
		(void)vw_dockermsg_parse_id_prefix(buf, len, id);
		reject(q->d, id);
		return 0;
	}
	r = vw_dockermsg_parse_container(buf, len, &c);
	if (r == -ENOMEM)
		return r;
	if (r < 0) /* not a container we can read: skipped, as in a list parsed whole */
		return 0;
	r = vw_grow((void **)&q->cs, &q->cap_cs, q->n_cs + 1, sizeof(*q->cs), VW_DOCKER_LIST_MAX);
	if (r < 0) {
		vw_container_done(&c);
		if (r != -ENOBUFS)
			return r;
		q->n_over++;
		return 0;
	}
	q->cs[q->n_cs++] = c;
	return 0;
}

/*
 * One element of GET /networks. One described at excessive length is left out: its bridge
 * is then not known to be Docker's, so it stays policed and its containers' addresses are
 * unknown sources there, which are dropped.
 */
static int on_network_item(void *ud, const char *buf, size_t len, size_t size)
{
	struct req *q = ud;
	struct vw_network net;
	int r;

	if (size > len) {
		char id[VW_ID_MAX + 1] = "";

		(void)vw_dockermsg_parse_id_prefix(buf, len, id);
		log_warn(
			"network %.12s is described in more than %d bytes, not tracking it: its containers' traffic is dropped",
			id[0] ? id : "(no id)", VW_DOCKER_OBJECT_MAX);
		return 0;
	}
	if (vw_dockermsg_parse_network(buf, len, &net) < 0)
		return 0;
	r = vw_grow((void **)&q->nets, &q->cap_nets, q->n_nets + 1, sizeof(*q->nets),
		    VW_DOCKER_LIST_MAX);
	if (r == -ENOBUFS) {
		q->n_over++;
		return 0;
	}
	if (r < 0)
		return r;
	q->nets[q->n_nets++] = net;
	return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct req *q = userp;
	size_t n = size * nmemb;
	int r;

	if (q->kind == K_EVENTS)
		r = on_event_data(q, data, n);
	else if (q->kind == K_LIST)
		r = vw_json_splitter_feed(q->split, data, n, on_list_item, q);
	else if (q->kind == K_NETWORKS)
		r = vw_json_splitter_feed(q->split, data, n, on_network_item, q);
	else
		r = append(q, data, n);
	if (r < 0) {
		/* Returning short makes curl end the transfer; on_done() finds why in q->err. */
		q->err = r;
		return 0;
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
	vw_json_splitter_free(q->split);
	for (size_t i = 0; i < q->n_cs; i++)
		vw_container_done(&q->cs[i]);
	free(q->cs);
	free(q->nets);
	free(q);
}

static size_t reply_max(enum kind kind)
{
	switch (kind) {
	case K_EVENTS:
		return EVENT_LINE_MAX; /* per line */
	case K_NETWORKS: /* per object: lists are never held whole */
	case K_LIST:
	case K_VERSION:
	case K_INFO:
	case K_INSPECT:
		break;
	}
	return VW_DOCKER_OBJECT_MAX;
}

static int req_start(struct vw_docker *d, enum kind kind, const char *path, const char *id,
		     struct req **ret)
{
	char url[512];
	struct req *q;
	int r;

	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->d = d;
	q->kind = kind;
	q->max = reply_max(kind);
	if (id)
		(void)vw_strscpy(q->id, id, sizeof(q->id));
	if (kind == K_LIST || kind == K_NETWORKS) {
		r = vw_json_splitter_new(q->max, &q->split);
		if (r < 0)
			goto fail;
	}
	q->easy = curl_easy_init();
	if (!q->easy) {
		r = -ENOMEM;
		goto fail;
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
		r = -ENOMEM;
		goto fail;
	}
	*ret = q;
	return 0;
fail:
	req_free(d, q);
	return r;
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
	for (size_t i = 0; i < INSPECTS_MAX; i++) {
		req_free(d, d->inspects[i]);
		d->inspects[i] = NULL;
	}
	free(d->nets);
	d->nets = NULL;
	d->n_nets = 0;
	d->n_queue = 0;
	d->resync = d->resyncing = d->routine = false;
	d->resync_at = 0;
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
	size_t n = q->n_nets;

	if (!vw_json_splitter_is_done(q->split)) {
		go_down(d, "unparsable network list");
		return;
	}
	if (q->n_over > 0)
		log_warn(
			"more than %d networks: not tracking %zu of them, their containers' traffic is dropped",
			VW_DOCKER_LIST_MAX, q->n_over);
	q->n_nets = 0;
	if (d->state == S_SYNCED) {
		d->ops->networks(d->ud, TAKE_PTR(q->nets), n);
		return;
	}
	free(d->nets);
	d->nets = TAKE_PTR(q->nets);
	d->n_nets = n;
	d->state = S_LIST;
}

/*
 * The list may have been taken before a container's death that we have already reported:
 * leave such containers out, or the snapshot would put back the allowance the event took
 * away until their inspect answers. The inspect queued behind the event restores one that
 * is running after all (a restart).
 */
static void drop_revoked(const struct vw_docker *d, struct req *q)
{
	size_t out = 0, n_revoked = 0;

	for (size_t k = 0; k < d->n_queue; k++)
		n_revoked += d->queue[k].revoked;
	for (size_t i = 0; n_revoked > 0 && i < q->n_cs; i++) {
		bool revoked = false;

		for (size_t k = 0; k < d->n_queue && !revoked; k++)
			revoked = d->queue[k].revoked && strcmp(d->queue[k].id, q->cs[i].id) == 0;
		if (revoked)
			vw_container_done(&q->cs[i]);
		else
			q->cs[out++] = q->cs[i];
	}
	if (n_revoked > 0)
		q->n_cs = out;
}

static void on_list(struct vw_docker *d, struct req *q)
{
	if (!vw_json_splitter_is_done(q->split)) {
		go_down(d, "unparsable container list");
		return;
	}
	if (q->n_over > 0) {
		d->rejected += q->n_over;
		log_warn(
			"more than %d containers: not tracking %zu of them, their traffic is dropped",
			VW_DOCKER_LIST_MAX, q->n_over);
	}
	drop_revoked(d, q);
	d->state = S_SYNCED;
	d->backoff_ms = BACKOFF_MIN_MS;
	d->resync_at = vw_now_ms() + RESYNC_INTERVAL_MS;
	if (d->routine)
		log_debug("resynced with Docker: %zu running containers, %zu networks", q->n_cs,
			  d->n_nets);
	else
		log_info("%s with Docker: %zu running containers, %zu networks",
			 d->resyncing ? "resynced" : "synced", q->n_cs, d->n_nets);
	d->routine = false;
	d->ops->synced(d->ud, TAKE_PTR(q->cs), q->n_cs, TAKE_PTR(d->nets), d->n_nets);
	q->n_cs = 0;
	d->n_nets = 0;
	/* A resync happens while connected: there is no comeback to report. */
	if (!d->resyncing && d->ops->state)
		d->ops->state(d->ud, true, NULL);
	d->resyncing = false;
}

static void on_inspect(struct vw_docker *d, struct req *q, long code)
{
	struct vw_container c;

	/* A newer event re-queued this container; its next inspect tells the truth. */
	if (q->stale)
		return;
	if (q->err == -E2BIG) {
		reject(d, q->id);
		d->ops->container(d->ud, q->id, NULL);
		return;
	}
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

/* Why a transfer failed, for the logs and ops->state. */
static const char *failure(const struct req *q, CURLcode res, long code, char *buf, size_t size)
{
	if (code != 0 && code != 200)
		snprintf(buf, size, "HTTP %ld", code);
	else if (q->err == -E2BIG)
		snprintf(buf, size, "reply over %zu bytes", q->max);
	else if (q->err < 0)
		snprintf(buf, size, "%s", strerror(-q->err));
	else
		snprintf(buf, size, "%s", curl_easy_strerror(res));
	return buf;
}

static void on_done(struct vw_docker *d, struct req *q, CURLcode res)
{
	char reason[128];
	long code = 0;
	bool too_big;

	(void)curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &code);
	if (q == d->stream) {
		log_debug("events stream ended: %s (HTTP %ld)", curl_easy_strerror(res), code);
		/* A closed chunked stream reads as CURLE_PARTIAL_FILE: it simply ended. */
		go_down(d, (res == CURLE_OK || res == CURLE_PARTIAL_FILE) && !q->err
				   ? "events stream closed"
				   : failure(q, res, code, reason, sizeof(reason)));
		return;
	}
	if (q->kind == K_INSPECT) {
		for (size_t i = 0; i < INSPECTS_MAX; i++)
			if (d->inspects[i] == q)
				d->inspects[i] = NULL;
	} else {
		d->req = NULL;
	}
	/* An inspect over the cap is an answer about that container, not a failure of Docker. */
	too_big = q->kind == K_INSPECT && q->err == -E2BIG && code == 200;
	if (!too_big &&
	    (res != CURLE_OK || (code != 200 && !(q->kind == K_INSPECT && code == 404)))) {
		(void)failure(q, res, code, reason, sizeof(reason));
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

/* Inspects started before a list must not overwrite what the list says. */
static void stale_inspects(struct vw_docker *d)
{
	for (size_t i = 0; i < INSPECTS_MAX; i++)
		if (d->inspects[i])
			d->inspects[i]->stale = true;
}

/* The next version/info/list request, when one is due. */
static void start_control(struct vw_docker *d)
{
	if (d->state == S_SYNCED && d->resync) {
		/* Events meanwhile are queued and covered by the list, as in the first sync. */
		if (!d->routine)
			log_info("resyncing with Docker, the events stream stays open");
		d->resync = false;
		d->resyncing = true;
		d->state = S_NETWORKS;
		d->nets_dirty = true;
	}
	if (d->nets_dirty && (d->state == S_NETWORKS || d->state == S_SYNCED)) {
		d->nets_dirty = false;
		if (req_start(d, K_NETWORKS, "/networks", NULL, &d->req) < 0)
			go_down(d, "cannot start request");
	} else if (d->state == S_LIST) {
		if (req_start(d, K_LIST, "/containers/json", NULL, &d->req) < 0) {
			go_down(d, "cannot start request");
			return;
		}
		/* Everything queued or lost so far is covered by the list. */
		stale_inspects(d);
		d->n_queue = 0;
		d->resync = false;
	}
}

/* Fill the free inspect slots from the queue, oldest first. */
static void start_inspects(struct vw_docker *d)
{
	char path[128];
	size_t taken = 0;

	for (size_t i = 0; i < INSPECTS_MAX && taken < d->n_queue; i++) {
		if (d->inspects[i])
			continue;
		snprintf(path, sizeof(path), "/containers/%s/json", d->queue[taken].id);
		if (req_start(d, K_INSPECT, path, d->queue[taken].id, &d->inspects[i]) < 0) {
			go_down(d, "cannot start request");
			return;
		}
		taken++;
	}
	if (taken) {
		memmove(d->queue, d->queue + taken, (d->n_queue - taken) * sizeof(*d->queue));
		d->n_queue -= taken;
	}
}

/* Drain finished transfers, then start what is due. */
static void pump(struct vw_docker *d)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(d->multi, &left))) {
		struct req *q = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		(void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&q);
		if (q)
			on_done(d, q, m->data.result);
	}
	if (d->state == S_DOWN || d->state == S_VERSION || d->state == S_INFO ||
	    d->state == S_STREAM)
		return;
	if (!d->req)
		start_control(d);
	if (d->state == S_SYNCED)
		start_inspects(d);
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
	for (size_t i = 0; i < INSPECTS_MAX; i++)
		req_free(d, d->inspects[i]);
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

	return vw_timeout_min(vw_timeout_min(vw_deadline_to_timeout(d->curl_deadline, now),
					     vw_deadline_to_timeout(d->reconnect_at, now)),
			      vw_deadline_to_timeout(d->resync_at, now));
}

void vw_docker_process_timeouts(struct vw_docker *d)
{
	uint64_t now = vw_now_ms();

	if (d->reconnect_at && d->reconnect_at <= now)
		connect_now(d);
	if (d->resync_at && d->resync_at <= now) {
		d->resync_at = 0;
		if (d->state == S_SYNCED && !d->resync) {
			request_resync(d);
			d->routine = true;
		}
	}
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

size_t vw_docker_rejected(const struct vw_docker *d)
{
	return d->rejected;
}
