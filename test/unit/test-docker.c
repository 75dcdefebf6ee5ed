// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Docker client (real libcurl) against a fake Engine API that this test serves on a unix
 * socket. The fake server runs on the client's own loop, which the test drives the way
 * vw_daemon_run() does, so every exchange happens in a deterministic order. What the client
 * reports through its ops and what the server is asked go to one log, whose order the tests
 * check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "vpnwall/docker.h"
#include "vpnwall/dockermsg.h"
#include "vpnwall/loop.h"
#include "vpnwall/policy.h"
#include "vpnwall/util.h"

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define NID "9f1c2b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"
#define A12 "aaaaaaaaaaaa"
#define B12 "bbbbbbbbbbbb"
#define WAIT_MS 20000
#define LONG_LABELS (80 * 1024) /* makes every event of the container over 64 KiB */
#define HUGE_LABELS (VW_DOCKER_OBJECT_MAX + 256 * 1024)
#define BURST 4300 /* distinct containers in one burst: more than the inspect queue holds */

struct fake;

struct conn {
	struct vw_io io;
	struct fake *srv;
	char in[4096];
	size_t n_in;
	bool handled; /* its request was answered (or parked) */
	struct vw_buf out;
	size_t sent;
	bool close_when_sent;
	struct conn *next;
};

struct answer {
	char id[VW_ID_MAX + 1];
	char *body; /* NULL: 404 */
};

struct fake {
	struct vw_loop *loop;
	struct vw_io listener;
	char path[108];
	struct vw_buf *log;
	struct conn *conns;
	struct conn *events; /* the open events stream */
	struct conn *parked; /* an inspect held back while hold_inspects */
	bool hold_inspects;
	bool hold_list; /* park GET /containers/json too */
	char *networks;
	char *list;
	struct answer answers[4];
	unsigned n_streams; /* GET /events so far */
	unsigned n_inspected; /* GET /containers/{id}/json so far */
};

struct t {
	char dir[64];
	struct vw_loop *loop;
	struct fake srv;
	struct vw_docker *d;
	struct vw_buf log;
};

/* --- the fake Engine API ----------------------------------------------------------------- */

static void conn_close(struct conn *c)
{
	struct fake *srv = c->srv;

	for (struct conn **p = &srv->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	if (srv->events == c)
		srv->events = NULL;
	if (srv->parked == c)
		srv->parked = NULL;
	vw_loop_unwatch(srv->loop, &c->io);
	(void)close(c->io.fd);
	vw_buf_done(&c->out);
	free(c);
}

/* Send what is pending. Returns false when the connection is gone. */
static bool conn_flush(struct conn *c)
{
	while (c->sent < c->out.len) {
		ssize_t n = send(c->io.fd, c->out.p + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			assert_int_equal(vw_loop_watch(c->srv->loop, &c->io, EPOLLIN | EPOLLOUT),
					 0);
			return true;
		}
		if (n < 0) { /* the client hung up, e.g. on a reply over its cap */
			conn_close(c);
			return false;
		}
		c->sent += (size_t)n;
	}
	if (c->close_when_sent) {
		conn_close(c);
		return false;
	}
	c->out.len = c->sent = 0;
	assert_int_equal(vw_loop_watch(c->srv->loop, &c->io, EPOLLIN), 0);
	return true;
}

static void reply(struct conn *c, const char *body)
{
	if (body)
		vw_buf_printf(&c->out,
			      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			      "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			      strlen(body), body);
	else
		vw_buf_printf(&c->out,
			      "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
			      "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
	assert_false(c->out.oom);
	c->close_when_sent = true;
	(void)conn_flush(c);
}

static struct answer *answer_for(struct fake *srv, const char *id)
{
	for (size_t i = 0; i < ELEMENTSOF(srv->answers); i++)
		if (strcmp(srv->answers[i].id, id) == 0)
			return &srv->answers[i];
	return NULL;
}

static void handle(struct conn *c, char *target)
{
	struct fake *srv = c->srv;
	char *path = target, id[VW_ID_MAX + 1];
	struct answer *a;
	int n = 0;

	c->handled = true;
	/* "/v1.41/info?x" -> "/info" */
	if (strncmp(path, "/v1.", 4) == 0)
		path = strchr(path + 1, '/');
	assert_non_null(path);
	path[strcspn(path, "?")] = '\0';
	vw_buf_printf(srv->log, "GET %s\n", path);

	if (strcmp(path, "/version") == 0) {
		reply(c,
		      "{\"Version\":\"20.10.24\",\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"1.12\"}");
	} else if (strcmp(path, "/info") == 0) {
		reply(c, "{\"LiveRestoreEnabled\":false}");
	} else if (strcmp(path, "/events") == 0) {
		vw_buf_printf(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				       "Transfer-Encoding: chunked\r\n\r\n");
		srv->events = c;
		srv->n_streams++;
		(void)conn_flush(c);
	} else if (strcmp(path, "/networks") == 0) {
		reply(c, srv->networks);
	} else if (strcmp(path, "/containers/json") == 0) {
		if (srv->hold_list)
			srv->parked = c;
		else
			reply(c, srv->list);
	} else if (sscanf(path, "/containers/%64[0-9a-f]/json%n", id, &n) == 1 && !path[n]) {
		srv->n_inspected++;
		a = answer_for(srv, id);
		if (srv->hold_inspects)
			srv->parked = c;
		else
			reply(c, a ? a->body : NULL);
	} else {
		fail_msg("unexpected request %s", path);
	}
}

static void on_conn(struct vw_io *io, uint32_t events)
{
	struct conn *c = (struct conn *)io;
	char *end, *sp;
	ssize_t n;

	if ((events & EPOLLOUT) && !conn_flush(c))
		return;
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	n = recv(io->fd, c->in + c->n_in, sizeof(c->in) - 1 - c->n_in, 0);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->n_in += (size_t)n;
	c->in[c->n_in] = '\0';
	if (c->handled)
		return;
	end = strstr(c->in, "\r\n\r\n");
	if (!end) {
		assert_true(c->n_in < sizeof(c->in) - 1);
		return;
	}
	assert_int_equal(strncmp(c->in, "GET ", 4), 0);
	sp = strchr(c->in + 4, ' ');
	assert_non_null(sp);
	*sp = '\0';
	handle(c, c->in + 4);
}

static void on_accept(struct vw_io *io, uint32_t events)
{
	struct fake *srv = (struct fake *)((char *)io - offsetof(struct fake, listener));

	for (;;) {
		int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			assert_int_equal(errno, EAGAIN);
			return;
		}
		c = calloc(1, sizeof(*c));
		assert_non_null(c);
		c->srv = srv;
		c->io.fd = fd;
		c->io.cb = on_conn;
		c->next = srv->conns;
		srv->conns = c;
		assert_int_equal(vw_loop_watch(srv->loop, &c->io, EPOLLIN), 0);
	}
}

static void fake_start(struct fake *srv, struct vw_loop *loop, const char *dir, struct vw_buf *log)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	srv->loop = loop;
	srv->log = log;
	snprintf(srv->path, sizeof(srv->path), "%s/docker.sock", dir);
	(void)vw_strscpy(sa.sun_path, srv->path, sizeof(sa.sun_path));
	srv->listener.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(srv->listener.fd >= 0);
	srv->listener.cb = on_accept;
	assert_int_equal(bind(srv->listener.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(srv->listener.fd, 16), 0);
	assert_int_equal(vw_loop_watch(loop, &srv->listener, EPOLLIN), 0);
}

static void fake_stop(struct fake *srv)
{
	while (srv->conns)
		conn_close(srv->conns);
	vw_loop_unwatch(srv->loop, &srv->listener);
	(void)close(srv->listener.fd);
	(void)unlink(srv->path);
	free(srv->networks);
	free(srv->list);
	for (size_t i = 0; i < ELEMENTSOF(srv->answers); i++)
		free(srv->answers[i].body);
}

/* What GET /containers/{id}/json answers from now on (@body NULL: 404). Takes @body. */
static void fake_set_inspect(struct fake *srv, const char *id, char *body)
{
	struct answer *a = answer_for(srv, id);

	if (!a)
		a = answer_for(srv, "");
	assert_non_null(a);
	(void)vw_strscpy(a->id, id, sizeof(a->id));
	free(a->body);
	a->body = body;
}

static void fake_set_list(struct fake *srv, char *body)
{
	free(srv->list);
	srv->list = body;
}

/* Answer the parked inspect with @body (NULL: 404), whatever the table says now. */
static void fake_release(struct fake *srv, const char *body)
{
	struct conn *c = srv->parked;

	assert_non_null(c);
	srv->parked = NULL;
	reply(c, body);
}

/* One chunk of the events stream holding @lines (each ending in a newline). */
static void fake_push(struct fake *srv, const char *lines)
{
	struct conn *c = srv->events;

	assert_non_null(c);
	vw_buf_printf(&c->out, "%zx\r\n", strlen(lines));
	vw_buf_append(&c->out, lines, strlen(lines));
	vw_buf_append(&c->out, "\r\n", 2);
	assert_false(c->out.oom);
	(void)conn_flush(c);
}

static void fake_end_stream(struct fake *srv)
{
	struct conn *c = srv->events;

	assert_non_null(c);
	vw_buf_printf(&c->out, "0\r\n\r\n");
	c->close_when_sent = true;
	(void)conn_flush(c);
}

/* --- what Docker says -------------------------------------------------------------------- */

static char *filler(size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, 'x', n);
	s[n] = '\0';
	return s;
}

static char *list_item(const char *id, const char *name, size_t labels)
{
	char *fill = filler(labels), *s;

	assert_true(asprintf(&s,
			     "{\"Id\":\"%s\",\"Names\":[\"/%s\"],\"Image\":\"busybox\","
			     "\"State\":\"running\",\"Labels\":{\"filler\":\"%s\","
			     "\"vpn.outbound\":\"198.51.100.10\"},"
			     "\"HostConfig\":{\"NetworkMode\":\"default\"},"
			     "\"NetworkSettings\":{\"Networks\":{\"bridge\":{\"NetworkID\":\"" NID
			     "\",\"IPAddress\":\"198.18.0.%d\"}}}}",
			     id, name, fill, name[0]) > 0);
	free(fill);
	return s;
}

/* GET /containers/json with up to three items. Takes them. */
static char *list_of(char *a, char *b, char *c)
{
	char *s;

	assert_true(asprintf(&s, "[%s%s%s%s%s]\n", a, b ? "," : "", b ? b : "", c ? "," : "",
			     c ? c : "") > 0);
	free(a);
	free(b);
	free(c);
	return s;
}

static char *inspect(const char *id, const char *name, bool running, size_t labels)
{
	char *fill = filler(labels), *s;

	assert_true(asprintf(&s,
			     "{\"Id\":\"%s\",\"Name\":\"/%s\",\"State\":{\"Running\":%s},"
			     "\"Config\":{\"Labels\":{\"filler\":\"%s\"}},"
			     "\"HostConfig\":{\"NetworkMode\":\"default\"},"
			     "\"NetworkSettings\":{\"Networks\":{\"bridge\":{\"NetworkID\":\"" NID
			     "\",\"IPAddress\":\"198.18.0.%d\"}}}}",
			     id, name, running ? "true" : "false", fill, name[0]) > 0);
	free(fill);
	return s;
}

/* A container event as Engine 20.10 writes it: every label is copied into the attributes. */
static char *container_event(const char *action, const char *id, size_t labels)
{
	char *fill = filler(labels), *s;

	assert_true(asprintf(&s,
			     "{\"status\":\"%s\",\"id\":\"%s\",\"from\":\"busybox\","
			     "\"Type\":\"container\",\"Action\":\"%s\",\"Actor\":{\"ID\":\"%s\","
			     "\"Attributes\":{\"filler\":\"%s\",\"image\":\"busybox\","
			     "\"name\":\"web\"}},\"scope\":\"local\",\"time\":1700000000,"
			     "\"timeNano\":1700000000000000000}\n",
			     action, id, action, id, fill) > 0);
	free(fill);
	return s;
}

static void push_event(struct t *t, const char *action, const char *id, size_t labels)
{
	char *line = container_event(action, id, labels);

	fake_push(&t->srv, line);
	free(line);
}

/* --- what the client reports ------------------------------------------------------------- */

static void on_synced(void *ud, struct vw_container *cs, size_t n, struct vw_network *nets,
		      size_t n_nets)
{
	struct t *t = ud;

	vw_buf_printf(&t->log, "synced %zu %zu:", n, n_nets);
	for (size_t i = 0; i < n; i++) {
		vw_buf_printf(&t->log, " %.12s", cs[i].id);
		vw_container_done(&cs[i]);
	}
	vw_buf_printf(&t->log, "\n");
	free(cs);
	free(nets);
}

static void on_container(void *ud, const char *id, struct vw_container *c)
{
	struct t *t = ud;
	const char *what = "gone";

	if (c)
		what = c->running ? "running" : "stopped";
	vw_buf_printf(&t->log, "container %.12s %s\n", id, what);
	if (c)
		vw_container_done(c);
}

static void on_networks(void *ud, struct vw_network *nets, size_t n)
{
	struct t *t = ud;

	vw_buf_printf(&t->log, "networks %zu\n", n);
	free(nets);
}

static void on_event(void *ud, const struct vw_docker_event *ev)
{
	struct t *t = ud;

	vw_buf_printf(&t->log, "event %s %.12s\n", ev->action, ev->id[0] ? ev->id : "-");
}

static void on_state(void *ud, bool synced, const char *reason)
{
	struct t *t = ud;

	if (synced)
		vw_buf_printf(&t->log, "up\n");
	else
		vw_buf_printf(&t->log, "down %s\n", reason);
}

static const struct vw_docker_ops ops = {
	.synced = on_synced,
	.container = on_container,
	.networks = on_networks,
	.event = on_event,
	.state = on_state,
};

/* --- driving the loop -------------------------------------------------------------------- */

static size_t count(const struct t *t, const char *s)
{
	size_t n = 0;

	for (const char *p = t->log.p; p && (p = strstr(p, s)); p++)
		n++;
	return n;
}

/* Whether the first @a of the log comes before its first @b. */
static bool before(const struct t *t, const char *a, const char *b)
{
	const char *pa = t->log.p ? strstr(t->log.p, a) : NULL;
	const char *pb = t->log.p ? strstr(t->log.p, b) : NULL;

	return pa && pb && pa < pb;
}

/* One turn of the loop, as vw_daemon_run() takes it. */
static void step(struct t *t)
{
	int timeout = vw_timeout_min(vw_docker_timeout(t->d), 50);

	assert_true(vw_loop_wait(t->loop, timeout) >= 0);
	vw_docker_process_timeouts(t->d);
}

static void wait_count(struct t *t, const char *s, size_t n)
{
	uint64_t end = vw_now_ms() + WAIT_MS;

	while (count(t, s) < n) {
		if (vw_now_ms() > end) {
			size_t len = t->log.len;

			fprintf(stderr, "timed out waiting for '%s' x%zu, log (tail):\n%s\n", s, n,
				t->log.p ? t->log.p + (len > 4000 ? len - 4000 : 0) : "");
			fail();
		}
		step(t);
	}
}

static void wait_for(struct t *t, const char *s)
{
	wait_count(t, s, 1);
}

static void start_synced(struct t *t)
{
	assert_int_equal(vw_docker_start(t->d), 0);
	wait_for(t, "up\n");
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/vw-test-docker-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	assert_int_equal(vw_loop_new(&t->loop), 0);
	fake_start(&t->srv, t->loop, t->dir, &t->log);
	t->srv.networks = strdup("[{\"Name\":\"bridge\",\"Id\":\"" NID "\",\"Driver\":\"bridge\","
				 "\"Options\":{\"com.docker.network.bridge.name\":\"docker0\"}}]");
	assert_non_null(t->srv.networks);
	fake_set_list(&t->srv, list_of(list_item(ID_A, "a", 0), list_item(ID_B, "b", 0), NULL));
	fake_set_inspect(&t->srv, ID_A, inspect(ID_A, "a", true, 0));
	fake_set_inspect(&t->srv, ID_B, inspect(ID_B, "b", true, 0));
	assert_int_equal(vw_docker_new(t->loop, t->srv.path, &ops, t, &t->d), 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	vw_docker_free(t->d);
	fake_stop(&t->srv);
	vw_loop_free(t->loop);
	(void)rmdir(t->dir);
	vw_buf_done(&t->log);
	free(t);
	return 0;
}

/* --- tests ------------------------------------------------------------------------------- */

static void test_docker_initial_sync(void **state)
{
	struct t *t = *state;

	start_synced(t);
	assert_int_equal(count(t, "synced 2 1: " A12 " " B12 "\n"), 1);
	/* subscribed before listing, so no change can fall between the two */
	assert_true(before(t, "GET /version\n", "GET /info\n"));
	assert_true(before(t, "GET /info\n", "GET /events\n"));
	assert_true(before(t, "GET /events\n", "GET /networks\n"));
	assert_true(before(t, "GET /networks\n", "GET /containers/json\n"));
	assert_true(before(t, "synced", "up\n"));
	assert_string_equal(vw_docker_api_version(t->d), "1.41");
	assert_false(vw_docker_live_restore(t->d));
	assert_int_equal(vw_docker_rejected(t->d), 0);
}

static void test_docker_event_inspect(void **state)
{
	struct t *t = *state;

	start_synced(t);
	fake_set_inspect(&t->srv, ID_A, inspect(ID_A, "a", false, 0));
	push_event(t, "start", ID_A, 0);
	wait_for(t, "container " A12 " stopped\n");
	assert_true(before(t, "event start " A12, "GET /containers/" ID_A "/json"));
	assert_true(before(t, "GET /containers/" ID_A "/json", "container " A12));
	/* an event we do not act upon is reported, never inspected */
	push_event(t, "exec_start: sh -c true", ID_B, 0);
	push_event(t, "rename", ID_A, 0);
	wait_count(t, "container " A12, 2);
	assert_int_equal(count(t, "event exec_start: sh -c true " B12), 1);
	assert_int_equal(count(t, "GET /containers/" ID_B), 0);
}

static void test_docker_die_before_inspect(void **state)
{
	struct t *t = *state;

	start_synced(t);
	fake_set_inspect(&t->srv, ID_A, NULL);
	push_event(t, "die", ID_A, 0);
	wait_for(t, "container " A12 " gone\n");
	/* the revocation reaches the daemon before the inspect is even asked */
	assert_true(before(t, "event die " A12, "GET /containers/" ID_A "/json"));
}

static void test_docker_stale_inspect(void **state)
{
	struct t *t = *state;
	char *running = inspect(ID_A, "a", true, 0);

	start_synced(t);
	t->srv.hold_inspects = true;
	push_event(t, "start", ID_A, 0);
	wait_for(t, "GET /containers/" ID_A "/json");
	/* the container dies while the answer about its start is on its way */
	push_event(t, "die", ID_A, 0);
	wait_for(t, "event die " A12);
	t->srv.hold_inspects = false;
	fake_set_inspect(&t->srv, ID_A, NULL);
	fake_release(&t->srv, running);
	wait_for(t, "container " A12 " gone\n");
	assert_int_equal(count(t, "container " A12), 1);
	assert_int_equal(count(t, "GET /containers/" ID_A "/json"), 2);
	free(running);
}

static void test_docker_long_event_line(void **state)
{
	struct t *t = *state;

	start_synced(t);
	fake_set_inspect(&t->srv, ID_A, NULL);
	push_event(t, "die", ID_A, LONG_LABELS);
	wait_for(t, "container " A12 " gone\n");
	assert_true(before(t, "event die " A12, "GET /containers/" ID_A "/json"));

	/* no action we act upon: reported, not inspected */
	push_event(t, "exec_start: sh", ID_B, LONG_LABELS);
	push_event(t, "start", ID_A, 0);
	wait_count(t, "container " A12 " gone\n", 2);
	assert_int_equal(count(t, "event exec_start: sh " B12), 1);
	assert_int_equal(count(t, "GET /containers/" ID_B), 0);

	/* the stream was never dropped */
	assert_int_equal(count(t, "down"), 0);
	assert_int_equal(t->srv.n_streams, 1);
	assert_int_equal(count(t, "synced"), 1);
}

static void test_docker_long_line_resync(void **state)
{
	struct t *t = *state;
	char *fill = filler(LONG_LABELS), *line;

	start_synced(t);
	/* a connect names its container among the attributes, which are lost when cut */
	assert_true(asprintf(&line,
			     "{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{\"ID\":\"" NID
			     "\",\"Attributes\":{\"filler\":\"%s\",\"container\":\"" ID_A "\"}},"
			     "\"scope\":\"local\",\"time\":1,\"timeNano\":1}\n",
			     fill) > 0);
	fake_set_list(&t->srv, list_of(list_item(ID_A, "a", 0), NULL, NULL));
	fake_push(&t->srv, line);
	wait_count(t, "synced", 2);
	assert_int_equal(count(t, "synced 1 1: " A12 "\n"), 1);
	assert_true(before(t, "event connect -", "synced 1 1"));
	/* a resync with the stream still open: nothing went down, nothing came back */
	assert_int_equal(count(t, "down"), 0);
	assert_int_equal(count(t, "up\n"), 1);
	assert_int_equal(t->srv.n_streams, 1);
	assert_int_equal(count(t, "GET /networks"), 2);
	free(line);
	free(fill);
}

/* A cut connect line: its container is unknown, so the client resyncs. */
static void push_resync(struct t *t)
{
	char *fill = filler(LONG_LABELS), *line;

	assert_true(asprintf(&line,
			     "{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{\"ID\":\"" NID
			     "\",\"Attributes\":{\"filler\":\"%s\",\"container\":\"" ID_A "\"}},"
			     "\"scope\":\"local\",\"time\":1,\"timeNano\":1}\n",
			     fill) > 0);
	fake_push(&t->srv, line);
	free(line);
	free(fill);
}

static void test_docker_die_during_list(void **state)
{
	struct t *t = *state;
	char *stale = list_of(list_item(ID_A, "a", 0), list_item(ID_B, "b", 0), NULL);

	start_synced(t);
	t->srv.hold_list = true;
	push_resync(t);
	wait_count(t, "GET /containers/json", 2);
	/* A dies after Docker took the list that still shows it running */
	fake_set_inspect(&t->srv, ID_A, NULL);
	push_event(t, "die", ID_A, 0);
	wait_for(t, "event die " A12);
	fake_release(&t->srv, stale);
	/* the snapshot does not put it back; its inspect confirms it is gone */
	wait_count(t, "synced", 2);
	assert_int_equal(count(t, "synced 1 1: " B12 "\n"), 1);
	wait_for(t, "container " A12 " gone\n");
	assert_true(before(t, "synced 1 1", "container " A12 " gone"));

	/* a restart meanwhile: left out of the snapshot, put back by its inspect */
	push_resync(t);
	wait_count(t, "GET /containers/json", 3);
	fake_set_inspect(&t->srv, ID_A, inspect(ID_A, "a", true, 0));
	push_event(t, "die", ID_A, 0);
	push_event(t, "start", ID_A, 0);
	wait_count(t, "event start " A12, 1);
	fake_release(&t->srv, stale);
	wait_count(t, "synced", 3);
	assert_int_equal(count(t, "synced 1 1: " B12 "\n"), 2);
	wait_for(t, "container " A12 " running\n");
	free(stale);
}

static void test_docker_queue_overflow(void **state)
{
	struct t *t = *state;
	struct vw_buf burst = { 0 };
	char id[VW_ID_MAX + 1], last[64];

	start_synced(t);
	t->srv.hold_inspects = true;
	for (int i = 1; i <= BURST; i++) {
		char *line;

		snprintf(id, sizeof(id), "%08x%056d", i, 0);
		line = container_event("start", id, 0);
		vw_buf_append(&burst, line, strlen(line));
		free(line);
	}
	assert_false(burst.oom);
	fake_push(&t->srv, burst.p);
	snprintf(last, sizeof(last), "event start %.12s\n", id);
	wait_for(t, last);
	/* eight inspects in flight at once, not more */
	assert_int_equal(t->srv.n_inspected, 8);

	t->srv.hold_inspects = false;
	fake_release(&t->srv, NULL);
	wait_count(t, "synced", 2);
	/* one resync instead of thousands of inspects, and the stream stayed open */
	assert_int_equal(t->srv.n_inspected, 8);
	assert_int_equal(count(t, "down"), 0);
	assert_int_equal(t->srv.n_streams, 1);
	/* the answers of inspects older than the list were not delivered over it */
	assert_int_equal(count(t, "container 00000001"), 0);
	/* afterwards, events are inspected again */
	push_event(t, "start", ID_B, 0);
	wait_for(t, "container " B12 " running\n");
	assert_int_equal(t->srv.n_inspected, 9);
	vw_buf_done(&burst);
}

static void test_docker_stream_closed(void **state)
{
	struct t *t = *state;

	start_synced(t);
	fake_set_list(&t->srv, list_of(list_item(ID_A, "a", 0), NULL, NULL));
	fake_end_stream(&t->srv);
	wait_for(t, "down events stream closed\n");
	/* reconnects, and the fresh snapshot tells what changed meanwhile */
	wait_count(t, "up\n", 2);
	assert_int_equal(count(t, "synced 1 1: " A12 "\n"), 1);
	assert_true(before(t, "down", "synced 1 1"));
	assert_int_equal(t->srv.n_streams, 2);
	assert_int_equal(count(t, "GET /version"), 2);
}

static void test_docker_oversized_list_item(void **state)
{
	struct t *t = *state;

	fake_set_list(&t->srv, list_of(list_item(ID_A, "a", 0), list_item(ID_C, "c", HUGE_LABELS),
				       list_item(ID_B, "b", 0)));
	start_synced(t);
	/* the others are delivered; that one is not tracked, so its traffic is dropped */
	assert_int_equal(count(t, "synced 2 1: " A12 " " B12 "\n"), 1);
	assert_int_equal(vw_docker_rejected(t->d), 1);
}

static void test_docker_list_cap(void **state)
{
	struct t *t = *state;
	struct vw_buf list = { 0 };
	char want[64];

	/* one container more than a list may hold: it is counted, the rest is delivered */
	vw_buf_append(&list, "[", 1);
	for (int i = 0; i <= VW_DOCKER_LIST_MAX; i++)
		vw_buf_printf(&list, "%s{\"Id\":\"%064x\",\"State\":\"running\"}", i ? "," : "",
			      i + 1);
	vw_buf_append(&list, "]", 1);
	assert_false(list.oom);
	fake_set_list(&t->srv, list.p);
	start_synced(t);
	snprintf(want, sizeof(want), "synced %d 1:", VW_DOCKER_LIST_MAX);
	assert_int_equal(count(t, want), 1);
	assert_int_equal(vw_docker_rejected(t->d), 1);
}

static void test_docker_oversized_inspect(void **state)
{
	struct t *t = *state;

	start_synced(t);
	fake_set_inspect(&t->srv, ID_A, inspect(ID_A, "a", true, HUGE_LABELS));
	push_event(t, "update", ID_A, 0);
	wait_for(t, "container " A12 " gone\n");
	assert_int_equal(vw_docker_rejected(t->d), 1);
	/* it concerns that container only */
	push_event(t, "start", ID_B, 0);
	wait_for(t, "container " B12 " running\n");
	assert_int_equal(count(t, "down"), 0);
	assert_int_equal(t->srv.n_streams, 1);
}

static void test_docker_oversized_network(void **state)
{
	struct t *t = *state;
	char *fill = filler(HUGE_LABELS);

	/* the network list is split as it arrives: one huge network costs only itself */
	free(t->srv.networks);
	assert_true(asprintf(&t->srv.networks,
			     "[{\"Name\":\"bridge\",\"Id\":\"" NID "\",\"Driver\":\"bridge\"},"
			     "{\"Name\":\"big\",\"Id\":\"" ID_C "\",\"Driver\":\"bridge\","
			     "\"Labels\":{\"filler\":\"%s\"}},"
			     "{\"Name\":\"web\",\"Id\":\"" ID_B "\",\"Driver\":\"bridge\"}]",
			     fill) > 0);
	start_synced(t);
	assert_int_equal(count(t, "synced 2 2:"), 1);
	assert_int_equal(count(t, "down"), 0);
	free(fill);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_docker_initial_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_event_inspect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_die_before_inspect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_stale_inspect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_long_event_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_long_line_resync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_die_during_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_queue_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_stream_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_oversized_list_item, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_list_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_oversized_inspect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_oversized_network, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
