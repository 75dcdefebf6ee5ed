// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fakedocker: a synthetic Docker Engine API (1.41) on a unix socket, for the benchmarks.
 * It serves N bench containers (see synth.h) on one bridge network: /version, /info,
 * /networks, /containers/json, /containers/{id}/json and the /events stream (a long-lived
 * chunked response of JSON lines). Ordinary requests are answered with Connection: close.
 * A second unix socket takes one-line commands from the bench script (or from
 * `fakedocker ctl SOCKET COMMAND...`), each answered by one line starting with "ok" or "err":
 *
 *   ping                      liveness
 *   count                     running and known containers
 *   stats                     requests served by endpoint, events sent, open streams
 *   start K [full]            K new containers; their events go out in one write ("full":
 *                             container create, network connect, container start, as
 *                             Docker sends them; default: the start event only)
 *   series K MIN MAX          K single starts, MIN..MAX ms apart; answers when done
 *   die X | destroy X         X: an index or a full id (die keeps the container, stopped)
 *   update all | I-J | X      "update" events for containers that did not change
 *   close-events              end every events stream (the client reconnects and resyncs)
 *   quit
 *
 * Single-threaded poll loop, libc only. Built to hold 10,000s of containers and to push
 * bursts of thousands of events in one write.
 */
#include "synth.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum kind { K_HTTP, K_EVENTS, K_CTL };
enum req { R_VERSION, R_INFO, R_EVENTS, R_NETWORKS, R_LIST, R_INSPECT, R_404, R_N };

static const char *const req_names[R_N] = { "version", "info",	  "events",  "networks",
					    "list",    "inspect", "notfound" };

struct conn {
	int fd;
	enum kind kind;
	char in[8192];
	size_t n_in;
	struct sbuf out;
	size_t sent;
	bool close_when_sent;
	bool dead;
};

struct ctr {
	bool exists; /* destroy removes it (inspect then says 404) */
	bool running;
};

struct fake {
	struct synth s;
	int http_fd;
	int ctl_fd;
	char http_path[108];
	char ctl_path[108];
	struct conn **conns;
	size_t n_conns;
	size_t cap_conns;
	struct ctr *ctrs; /* by index; the next new container gets index n_ctrs */
	size_t n_ctrs;
	size_t cap_ctrs;
	size_t n_running;
	unsigned long reqs[R_N];
	unsigned long events_sent;
	/* a series of single starts in progress */
	unsigned series_left;
	unsigned series_min_ms;
	unsigned series_max_ms;
	uint64_t series_next_ms;
	long series_first;
	struct conn *series_conn;
	bool quit;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void die_msg(const char *what)
{
	fprintf(stderr, "fakedocker: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* --- connections ------------------------------------------------------------------------ */

static void conn_add(struct fake *f, int fd, enum kind kind)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		abort();
	c->fd = fd;
	c->kind = kind;
	if (f->n_conns == f->cap_conns) {
		f->cap_conns = f->cap_conns ? f->cap_conns * 2 : 16;
		f->conns = realloc(f->conns, f->cap_conns * sizeof(*f->conns));
		if (!f->conns)
			abort();
	}
	f->conns[f->n_conns++] = c;
}

/* Marked here, freed by the loop: a connection may die while others are being walked. */
static void conn_kill(struct fake *f, struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	(void)close(c->fd);
	if (f->series_conn == c)
		f->series_conn = NULL;
}

static void conn_reap(struct fake *f)
{
	size_t out = 0;

	for (size_t i = 0; i < f->n_conns; i++) {
		struct conn *c = f->conns[i];

		if (c->dead) {
			sbuf_done(&c->out);
			free(c);
		} else {
			f->conns[out++] = c;
		}
	}
	f->n_conns = out;
}

static void conn_flush(struct fake *f, struct conn *c)
{
	while (!c->dead && c->sent < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			conn_kill(f, c);
			return;
		}
		c->sent += (size_t)n;
	}
	if (c->dead)
		return;
	c->out.len = c->sent = 0;
	if (c->close_when_sent)
		conn_kill(f, c);
}

static void ctl_reply(struct fake *f, struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void ctl_reply(struct fake *f, struct conn *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!c)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sbuf_printf(&c->out, "%s\n", line);
	conn_flush(f, c);
}

/* --- the Engine API ----------------------------------------------------------------------- */

static void http_reply(struct fake *f, struct conn *c, int code, const char *body, size_t len)
{
	sbuf_printf(&c->out,
		    "HTTP/1.1 %d %s\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n"
		    "Docker-Experimental: false\r\nOstype: linux\r\n"
		    "Server: Docker/20.10.24+dfsg1 (linux)\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n",
		    code, code == 200 ? "OK" : "Not Found", len);
	sbuf_append(&c->out, body, len);
	c->close_when_sent = true;
	conn_flush(f, c);
}

static void http_json(struct fake *f, struct conn *c, struct sbuf *body)
{
	http_reply(f, c, 200, body->p, body->len);
	sbuf_done(body);
}

/* Push @lines (JSON lines) to every open events stream as one chunk. */
static void push_events(struct fake *f, const struct sbuf *lines, unsigned n)
{
	if (!lines->len)
		return;
	for (size_t i = 0; i < f->n_conns; i++) {
		struct conn *c = f->conns[i];

		if (c->dead || c->kind != K_EVENTS)
			continue;
		sbuf_printf(&c->out, "%zx\r\n", lines->len);
		sbuf_append(&c->out, lines->p, lines->len);
		sbuf_append(&c->out, "\r\n", 2);
		conn_flush(f, c);
	}
	f->events_sent += n;
}

static long find_container(const struct fake *f, const char *ref)
{
	long idx;
	char *end;

	if (strlen(ref) == 64) {
		idx = synth_index(ref);
	} else {
		idx = strtol(ref, &end, 10);
		if (*end || !*ref)
			idx = -1;
	}
	if (idx < 0 || (size_t)idx >= f->n_ctrs || !f->ctrs[idx].exists)
		return -1;
	return idx;
}

static void handle_http(struct fake *f, struct conn *c, char *target)
{
	char *path = target, id[65];
	struct sbuf b = { 0 };
	long idx;
	int n = 0;

	/* "/v1.41/info?x" -> "/info" */
	if (strncmp(path, "/v1.", 4) == 0 && strchr(path + 1, '/'))
		path = strchr(path + 1, '/');
	path[strcspn(path, "?")] = '\0';

	if (strcmp(path, "/_ping") == 0) {
		http_reply(f, c, 200, "OK", 2);
	} else if (strcmp(path, "/version") == 0) {
		f->reqs[R_VERSION]++;
		sbuf_printf(&b,
			    "{\"Platform\":{\"Name\":\"\"},\"Version\":\"20.10.24+dfsg1\","
			    "\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"1.12\","
			    "\"GitCommit\":\"5d6db84\",\"GoVersion\":\"go1.19.8\",\"Os\":\"linux\","
			    "\"Arch\":\"amd64\",\"KernelVersion\":\"6.1.0\"}");
		http_json(f, c, &b);
	} else if (strcmp(path, "/info") == 0) {
		f->reqs[R_INFO]++;
		sbuf_printf(
			&b,
			"{\"ID\":\"BENC:HFAK:EDOC:KER0:0000:0000:0000:0000:0000:0000:0000:0000\","
			"\"Containers\":%zu,\"ContainersRunning\":%zu,\"ContainersPaused\":0,"
			"\"ContainersStopped\":%zu,\"Images\":1,\"Driver\":\"overlay2\","
			"\"ServerVersion\":\"20.10.24+dfsg1\",\"LiveRestoreEnabled\":false}",
			f->n_ctrs, f->n_running, f->n_ctrs - f->n_running);
		http_json(f, c, &b);
	} else if (strcmp(path, "/events") == 0) {
		f->reqs[R_EVENTS]++;
		c->kind = K_EVENTS;
		sbuf_printf(&c->out, "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\n"
				     "Content-Type: application/json\r\n"
				     "Server: Docker/20.10.24+dfsg1 (linux)\r\n"
				     "Transfer-Encoding: chunked\r\n\r\n");
		conn_flush(f, c);
	} else if (strcmp(path, "/networks") == 0) {
		f->reqs[R_NETWORKS]++;
		synth_networks(&b);
		http_json(f, c, &b);
	} else if (strcmp(path, "/containers/json") == 0) {
		bool first = true;

		f->reqs[R_LIST]++;
		sbuf_append(&b, "[", 1);
		for (size_t i = 0; i < f->n_ctrs; i++) {
			if (!f->ctrs[i].exists || !f->ctrs[i].running)
				continue;
			if (!first)
				sbuf_append(&b, ",", 1);
			first = false;
			synth_list_item(&f->s, (unsigned)i, &b);
		}
		sbuf_append(&b, "]\n", 2);
		http_json(f, c, &b);
	} else if (sscanf(path, "/containers/%64[0-9a-f]/json%n", id, &n) == 1 && !path[n] &&
		   (idx = find_container(f, id)) >= 0) {
		f->reqs[R_INSPECT]++;
		synth_inspect(&f->s, (unsigned)idx, f->ctrs[idx].running, &b);
		http_json(f, c, &b);
	} else {
		static const char nf[] = "{\"message\":\"No such container or endpoint\"}";

		f->reqs[R_404]++;
		http_reply(f, c, 404, nf, sizeof(nf) - 1);
	}
}

/* --- containers ---------------------------------------------------------------------------- */

static long add_container(struct fake *f)
{
	if (f->n_ctrs >= SYNTH_MAX_CONTAINERS)
		return -1;
	if (f->n_ctrs == f->cap_ctrs) {
		f->cap_ctrs = f->cap_ctrs ? f->cap_ctrs * 2 : 1024;
		f->ctrs = realloc(f->ctrs, f->cap_ctrs * sizeof(*f->ctrs));
		if (!f->ctrs)
			abort();
	}
	f->ctrs[f->n_ctrs] = (struct ctr){ .exists = true, .running = true };
	f->n_running++;
	return (long)f->n_ctrs++;
}

/* K new running containers, announced in one write. Returns the first index, or -1. */
static long start_containers(struct fake *f, unsigned k, bool full)
{
	struct sbuf ev = { 0 };
	long first = -1;

	for (unsigned i = 0; i < k; i++) {
		long idx = add_container(f);

		if (idx < 0)
			break;
		if (first < 0)
			first = idx;
		if (full) {
			synth_event(&f->s, "create", (unsigned)idx, &ev);
			synth_event(&f->s, "connect", (unsigned)idx, &ev);
		}
		synth_event(&f->s, "start", (unsigned)idx, &ev);
	}
	push_events(f, &ev, full ? 3 * k : k);
	sbuf_done(&ev);
	return first;
}

static void series_step(struct fake *f)
{
	uint64_t now = now_ms();
	unsigned span;
	long idx;

	if (!f->series_left || now < f->series_next_ms)
		return;
	idx = start_containers(f, 1, false);
	if (f->series_first < 0)
		f->series_first = idx;
	f->series_left--;
	span = f->series_max_ms - f->series_min_ms;
	f->series_next_ms = now + f->series_min_ms + (span ? (unsigned)rand() % (span + 1) : 0);
	if (!f->series_left) {
		ctl_reply(f, f->series_conn, "ok first=%ld last=%zu", f->series_first,
			  f->n_ctrs - 1);
		f->series_conn = NULL;
	}
}

/* --- control -------------------------------------------------------------------------------- */

static void cmd_kill(struct fake *f, struct conn *c, const char *action, const char *ref)
{
	struct sbuf ev = { 0 };
	long idx = ref ? find_container(f, ref) : -1;

	if (idx < 0) {
		ctl_reply(f, c, "err no such container '%s'", ref ? ref : "");
		return;
	}
	if (f->ctrs[idx].running)
		f->n_running--;
	f->ctrs[idx].running = false;
	if (strcmp(action, "destroy") == 0)
		f->ctrs[idx].exists = false;
	synth_event(&f->s, action, (unsigned)idx, &ev);
	push_events(f, &ev, 1);
	sbuf_done(&ev);
	ctl_reply(f, c, "ok %s %ld", action, idx);
}

/* "update all", "update I-J" (indices) or "update X": events about unchanged containers. */
static void cmd_update(struct fake *f, struct conn *c, const char *ref)
{
	struct sbuf ev = { 0 };
	unsigned long from = 0, to = f->n_ctrs ? f->n_ctrs - 1 : 0;
	unsigned n = 0;
	long idx;

	if (strcmp(ref, "all") == 0) {
		/* every container */
	} else if (sscanf(ref, "%lu-%lu", &from, &to) == 2) {
		if (to >= f->n_ctrs)
			to = f->n_ctrs ? f->n_ctrs - 1 : 0;
	} else if ((idx = find_container(f, ref)) >= 0) {
		from = to = (unsigned long)idx;
	} else {
		ctl_reply(f, c, "err no such container '%s'", ref);
		return;
	}
	for (size_t i = from; f->n_ctrs && i <= to; i++) {
		if (!f->ctrs[i].exists || !f->ctrs[i].running)
			continue;
		synth_event(&f->s, "update", (unsigned)i, &ev);
		n++;
	}
	push_events(f, &ev, n);
	sbuf_done(&ev);
	ctl_reply(f, c, "ok n=%u", n);
}

static void handle_command(struct fake *f, struct conn *c, char *line)
{
	char *argv[8] = { 0 }, *save = NULL, *tok;
	int argc = 0;

	for (tok = strtok_r(line, " \t\r", &save); tok && argc < 8;
	     tok = strtok_r(NULL, " \t\r", &save))
		argv[argc++] = tok;
	if (argc == 0)
		return;
	if (strcmp(argv[0], "ping") == 0) {
		ctl_reply(f, c, "ok pong");
	} else if (strcmp(argv[0], "count") == 0) {
		ctl_reply(f, c, "ok running=%zu total=%zu", f->n_running, f->n_ctrs);
	} else if (strcmp(argv[0], "stats") == 0) {
		struct sbuf b = { 0 };
		unsigned streams = 0;

		for (size_t i = 0; i < f->n_conns; i++)
			streams += !f->conns[i]->dead && f->conns[i]->kind == K_EVENTS;
		sbuf_printf(&b, "ok running=%zu streams=%u events_sent=%lu", f->n_running, streams,
			    f->events_sent);
		for (int i = 0; i < R_N; i++)
			sbuf_printf(&b, " %s=%lu", req_names[i], f->reqs[i]);
		ctl_reply(f, c, "%s", b.p);
		sbuf_done(&b);
	} else if (strcmp(argv[0], "start") == 0 && argc >= 2) {
		unsigned k = (unsigned)strtoul(argv[1], NULL, 10);
		long first = start_containers(f, k, argc > 2 && strcmp(argv[2], "full") == 0);

		if (first < 0)
			ctl_reply(f, c, "err cannot add containers");
		else
			ctl_reply(f, c, "ok first=%ld last=%zu", first, f->n_ctrs - 1);
	} else if (strcmp(argv[0], "series") == 0 && argc == 4) {
		if (f->series_left) {
			ctl_reply(f, c, "err a series is running");
			return;
		}
		f->series_left = (unsigned)strtoul(argv[1], NULL, 10);
		f->series_min_ms = (unsigned)strtoul(argv[2], NULL, 10);
		f->series_max_ms = (unsigned)strtoul(argv[3], NULL, 10);
		if (f->series_max_ms < f->series_min_ms)
			f->series_max_ms = f->series_min_ms;
		f->series_next_ms = now_ms();
		f->series_first = -1;
		f->series_conn = c;
		if (!f->series_left)
			ctl_reply(f, c, "ok first=-1 last=-1");
	} else if ((strcmp(argv[0], "die") == 0 || strcmp(argv[0], "destroy") == 0) && argc == 2) {
		cmd_kill(f, c, argv[0], argv[1]);
	} else if (strcmp(argv[0], "update") == 0 && argc == 2) {
		cmd_update(f, c, argv[1]);
	} else if (strcmp(argv[0], "close-events") == 0) {
		unsigned n = 0;

		for (size_t i = 0; i < f->n_conns; i++) {
			struct conn *e = f->conns[i];

			if (e->dead || e->kind != K_EVENTS)
				continue;
			sbuf_printf(&e->out, "0\r\n\r\n");
			e->close_when_sent = true;
			conn_flush(f, e);
			n++;
		}
		ctl_reply(f, c, "ok closed=%u", n);
	} else if (strcmp(argv[0], "quit") == 0) {
		ctl_reply(f, c, "ok bye");
		f->quit = true;
	} else {
		ctl_reply(f, c, "err unknown command '%s'", argv[0]);
	}
}

/* --- the loop --------------------------------------------------------------------------------- */

static void on_readable(struct fake *f, struct conn *c)
{
	ssize_t n;
	char *end;

	if (c->n_in >= sizeof(c->in) - 1) {
		conn_kill(f, c);
		return;
	}
	n = recv(c->fd, c->in + c->n_in, sizeof(c->in) - 1 - c->n_in, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_kill(f, c);
		return;
	}
	c->n_in += (size_t)n;
	c->in[c->n_in] = '\0';
	if (c->kind == K_CTL) {
		char *nl;

		while (!c->dead && (nl = memchr(c->in, '\n', c->n_in))) {
			size_t used = (size_t)(nl - c->in) + 1;

			*nl = '\0';
			handle_command(f, c, c->in);
			memmove(c->in, c->in + used, c->n_in - used);
			c->n_in -= used;
		}
		return;
	}
	if (c->kind != K_HTTP || c->close_when_sent)
		return; /* a client of the stream only ever sends its request */
	end = strstr(c->in, "\r\n\r\n");
	if (!end)
		return;
	if (strncmp(c->in, "GET ", 4) != 0 || !strchr(c->in + 4, ' ')) {
		http_reply(f, c, 404, "{}", 2);
		return;
	}
	*strchr(c->in + 4, ' ') = '\0';
	handle_http(f, c, c->in + 4);
}

static void on_accept(struct fake *f, int lfd, enum kind kind)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		conn_add(f, fd, kind);
	}
}

static int listen_unix(const char *path, char *saved, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "fakedocker: socket path too long: %s\n", path);
		exit(2);
	}
	strcpy(sa.sun_path, path);
	snprintf(saved, size, "%s", path);
	(void)unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die_msg("socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die_msg(path);
	if (listen(fd, 512) < 0)
		die_msg("listen");
	return fd;
}

static int run(struct fake *f)
{
	struct pollfd *pfd = NULL;
	size_t cap = 0;

	while (!f->quit) {
		size_t n = 2;
		int timeout = -1, r;

		if (f->series_left) {
			uint64_t now = now_ms();

			timeout = f->series_next_ms > now ? (int)(f->series_next_ms - now) : 0;
		}
		if (cap < f->n_conns + 2) {
			cap = (f->n_conns + 2) * 2;
			pfd = realloc(pfd, cap * sizeof(*pfd));
			if (!pfd)
				abort();
		}
		pfd[0] = (struct pollfd){ .fd = f->http_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = f->ctl_fd, .events = POLLIN };
		for (size_t i = 0; i < f->n_conns; i++) {
			struct conn *c = f->conns[i];

			pfd[n++] = (struct pollfd){
				.fd = c->fd,
				.events = (short)(POLLIN | (c->sent < c->out.len ? POLLOUT : 0))
			};
		}
		r = poll(pfd, n, timeout);
		if (r < 0 && errno != EINTR)
			die_msg("poll");
		if (r > 0) {
			size_t n_conns = f->n_conns; /* accepted below: polled next time */

			for (size_t i = 0; i < n_conns; i++) {
				struct conn *c = f->conns[i];
				short ev = pfd[i + 2].revents;

				if (c->dead || !ev)
					continue;
				if (ev & POLLOUT)
					conn_flush(f, c);
				if (!c->dead && (ev & (POLLIN | POLLHUP | POLLERR)))
					on_readable(f, c);
			}
			if (pfd[0].revents & POLLIN)
				on_accept(f, f->http_fd, K_HTTP);
			if (pfd[1].revents & POLLIN)
				on_accept(f, f->ctl_fd, K_CTL);
		}
		series_step(f);
		conn_reap(f);
	}
	/* Let the last replies (quit's "ok bye") leave. */
	for (size_t i = 0; i < f->n_conns; i++)
		if (!f->conns[i]->dead && f->conns[i]->kind == K_CTL)
			conn_flush(f, f->conns[i]);
	free(pfd);
	(void)unlink(f->http_path);
	(void)unlink(f->ctl_path);
	return 0;
}

/* --- the command-line client of the control socket --------------------------------------- */

static int ctl_main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sbuf cmd = { 0 };
	char buf[4096];
	size_t len = 0;
	int fd;

	if (argc < 4 || strlen(argv[2]) >= sizeof(sa.sun_path)) {
		fputs("usage: fakedocker ctl CONTROL_SOCKET COMMAND [ARG...]\n", stderr);
		return 2;
	}
	strcpy(sa.sun_path, argv[2]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "fakedocker ctl: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	for (int i = 3; i < argc; i++)
		sbuf_printf(&cmd, "%s%s", i > 3 ? " " : "", argv[i]);
	sbuf_append(&cmd, "\n", 1);
	if (send(fd, cmd.p, cmd.len, MSG_NOSIGNAL) != (ssize_t)cmd.len) {
		fprintf(stderr, "fakedocker ctl: send: %s\n", strerror(errno));
		return 1;
	}
	sbuf_done(&cmd);
	while (len < sizeof(buf) - 1) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);

		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len))
			break;
	}
	(void)close(fd);
	buf[len] = '\0';
	fputs(buf, stdout);
	return strncmp(buf, "ok", 2) == 0 ? 0 : 1;
}

static void usage(void)
{
	fputs("usage: fakedocker --socket PATH --control PATH [--preload N] [--dests D]\n"
	      "                  [--extra-dest DEST]   (added to the last preloaded container)\n"
	      "       fakedocker ctl CONTROL_PATH COMMAND [ARG...]\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	struct fake f = { .s = { .dests = 20, .extra_idx = -1 } };
	const char *sock = NULL, *ctl = NULL;
	unsigned long preload = 0;

	if (argc > 1 && strcmp(argv[1], "ctl") == 0)
		return ctl_main(argc, argv);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (strcmp(a, "--socket") == 0)
			sock = v;
		else if (strcmp(a, "--control") == 0)
			ctl = v;
		else if (strcmp(a, "--preload") == 0)
			preload = strtoul(v, NULL, 10);
		else if (strcmp(a, "--dests") == 0)
			f.s.dests = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--extra-dest") == 0)
			f.s.extra = v;
		else
			usage();
		i++;
	}
	if (!sock || !ctl || preload > SYNTH_MAX_CONTAINERS || f.s.dests > SYNTH_DESTS_MAX)
		usage();
	if (f.s.extra && preload)
		f.s.extra_idx = (long)preload - 1;
	(void)signal(SIGPIPE, SIG_IGN);
	srand(42);
	for (unsigned long i = 0; i < preload; i++)
		(void)add_container(&f);
	f.http_fd = listen_unix(sock, f.http_path, sizeof(f.http_path));
	f.ctl_fd = listen_unix(ctl, f.ctl_path, sizeof(f.ctl_path));
	return run(&f);
}
