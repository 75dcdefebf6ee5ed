// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * c-ares glue. c-ares tells us which sockets it wants watched through its socket-state
 * callback; we mirror that into the loop and hand readiness back with ares_process_fd().
 * Timeouts are not timers: the daemon asks vw_dns_timeout() for the next deadline.
 */
#include "vpnwall/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <ares.h>

#include "vpnwall/log.h"
#include "vpnwall/loop.h"
#include "vpnwall/util.h"

#define VW_LOG_MODULE "dns"

#define MAX_SOCKETS 64
#define QUERY_TIMEOUT_MS 2000
#define QUERY_TRIES 2
#define ROTATE_QUERIES 32 /* the forwarder's upstream sockets: queries each may carry */
#define ROTATE_MS 1000 /* ... and how long after their first */
#define FORWARD_CHANNELS 8 /* the forwarder's ring (see rotate()) */

struct vw_dns;

/* One c-ares channel. A forwarder has a ring of them (see rotate()), a resolver one. */
struct chan {
	struct vw_dns *d;
	ares_channel ch;
	bool ok; /* initialised */
	unsigned pending; /* vw_dns_send() queries not yet called back */
	unsigned used; /* queries sent since its sockets were last closed */
	uint64_t first_ms; /* when the first of those was sent */
};

struct sock {
	struct vw_io io; /* first: the loop hands us &io */
	struct chan *c;
};

struct vw_dns {
	struct vw_loop *loop;
	struct chan chans[FORWARD_CHANNELS];
	size_t n_chans;
	size_t active; /* the channel new queries go to */
	bool bind_dev; /* bind every socket to dev ("": fail every socket) */
	bool stale_dev; /* sockets bound to an old device may still be open: send nothing */
	char dev[IFNAMSIZ];
	struct sock socks[MAX_SOCKETS];
};

struct query {
	struct vw_dns *d;
	vw_dns_fn cb;
	void *userdata;
	int fam;
	char name[VW_DOMAIN_MAX + 1];
};

/* Close @c's sockets: setting the same servers again does it, and c-ares 1.18 allows
 * that only with no query in flight. The next query opens new ones. */
static int close_sockets(struct chan *c)
{
	struct ares_addr_port_node *servers = NULL;
	int r;

	if (c->pending)
		return -EBUSY;
	if (ares_get_servers_ports(c->ch, &servers) != ARES_SUCCESS)
		return -ENOMEM;
	r = ares_set_servers_ports(c->ch, servers);
	ares_free_data(servers);
	if (r != ARES_SUCCESS)
		return -ENOMEM;
	c->used = 0;
	return 0;
}

static bool worn(const struct chan *c)
{
	return c->used >= ROTATE_QUERIES || (c->used && vw_now_ms() - c->first_ms >= ROTATE_MS);
}

/*
 * The forwarder keeps its upstream sockets open between queries (ARES_FLAG_STAYOPEN):
 * opening one per query costs seven system calls, most of what a proxied query costs.
 * Its source port must still change often, as with a socket per query (with the random
 * id, it is what an off-path spoofer has to guess), under load too. So it has a ring of
 * channels: new queries go to one until its sockets carried ROTATE_QUERIES queries or
 * their first is ROTATE_MS old, then to the next one whose sockets are closed. A channel's
 * sockets are closed once it has nothing in flight (here, after c-ares returned: never from
 * inside it, where closing would pull sockets from under it). Queries an upstream never
 * answers keep their channel open until c-ares gives them up (2 + 4 s): with a ring of
 * FORWARD_CHANNELS, rotation goes on meanwhile; with two, one port would carry everything
 * for those seconds. Only when every other channel is still draining does a worn one stay.
 */
static void rotate(struct vw_dns *d)
{
	bool clean = true;

	for (size_t i = 0; i < d->n_chans; i++) {
		struct chan *c = &d->chans[i];

		/* The others as soon as they are idle; the active one once worn and idle (one
		 * query at a time never makes it switch); every one after a device change. */
		if (c->used && !c->pending && (i != d->active || worn(c) || d->stale_dev))
			(void)close_sockets(c);
		clean = clean && !c->used;
	}
	if (clean)
		d->stale_dev = false;
}

static void on_io(struct vw_io *io, uint32_t events)
{
	struct sock *s = (struct sock *)io;
	struct vw_dns *d = s->c->d;
	ares_socket_t fd = io->fd;

	ares_process_fd(s->c->ch, (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD,
			(events & EPOLLOUT) ? fd : ARES_SOCKET_BAD);
	rotate(d);
}

static struct sock *find_sock(struct vw_dns *d, int fd)
{
	for (size_t i = 0; i < MAX_SOCKETS; i++)
		if (d->socks[i].io.events && d->socks[i].io.fd == fd)
			return &d->socks[i];
	return NULL;
}

static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct chan *c = data;
	struct vw_dns *d = c->d;
	struct sock *s = find_sock(d, fd);
	uint32_t events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
	int r;

	if (!events) {
		if (s)
			vw_loop_unwatch(d->loop, &s->io);
		return;
	}
	if (!s) {
		for (size_t i = 0; i < MAX_SOCKETS && !s; i++)
			if (!d->socks[i].io.events)
				s = &d->socks[i];
		if (!s) {
			/* c-ares then times the query out: a failure we report, not a hang. */
			log_warn("more than %d resolver sockets, ignoring fd %d", MAX_SOCKETS, fd);
			return;
		}
		s->c = c;
		s->io.fd = fd;
		s->io.cb = on_io;
	}
	r = vw_loop_watch(d->loop, &s->io, events);
	if (r < 0)
		log_warn_errno(r, "cannot watch resolver socket %d, ignoring", fd);
}

/*
 * c-ares 1.18's own ares_set_local_dev() ignores a failed bind and sends anyway, by the
 * main routes: the very leak a tunnel-only upstream must not have. Bind here and fail the
 * socket instead.
 */
static int configure_socket(ares_socket_t fd, int type, void *data)
{
	struct vw_dns *d = data;

	(void)type;
	if (!d->bind_dev)
		return 0;
	if (!d->dev[0] ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, d->dev, (socklen_t)strlen(d->dev)) < 0) {
		log_debug("upstream socket not bound to '%s': query fails", d->dev);
		return -1;
	}
	return 0;
}

int vw_dns_set_device(struct vw_dns *d, const char *dev)
{
	d->bind_dev = dev != NULL;
	d->dev[0] = '\0';
	if (dev && vw_strscpy(d->dev, dev, sizeof(d->dev)) < 0)
		return -EINVAL;
	/* A pattern names no interface: nothing until the real one is known. */
	if (dev && *dev && dev[strlen(dev) - 1] == '+')
		d->dev[0] = '\0';
	/* Sockets already open were bound to the old device: their queries are cancelled and
	 * they are closed; until they are, nothing is sent (see vw_dns_send()). */
	for (size_t i = 0; i < d->n_chans; i++)
		if (d->chans[i].ok)
			ares_cancel(d->chans[i].ch);
	d->stale_dev = true;
	rotate(d);
	return 0;
}

static int chan_init(struct vw_dns *d, struct chan *c, const char *servers, bool forward)
{
	struct ares_options opts = { 0 };
	int r;

	c->d = d;
	opts.sock_state_cb = on_sock_state;
	opts.sock_state_cb_data = c;
	opts.timeout = QUERY_TIMEOUT_MS;
	opts.tries = QUERY_TRIES;
	/* EDNS keeps large answers on UDP instead of a TCP retry. A forwarder sends the
	 * client's own message (its EDNS as the client chose) and passes every answer on. */
	opts.flags = forward ? ARES_FLAG_NOCHECKRESP | ARES_FLAG_STAYOPEN : ARES_FLAG_EDNS;
	opts.ednspsz = 1232;
	r = ares_init_options(&c->ch, &opts,
			      ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
				      ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ);
	if (r != ARES_SUCCESS) {
		log_debug("ares_init_options: %s", ares_strerror(r));
		return r == ARES_ENOMEM ? -ENOMEM : -EINVAL;
	}
	c->ok = true;
	ares_set_socket_configure_callback(c->ch, configure_socket, d);
	if (servers && *servers) {
		r = ares_set_servers_ports_csv(c->ch, servers);
		if (r != ARES_SUCCESS) {
			log_debug("ares_set_servers_ports_csv('%s'): %s", servers,
				  ares_strerror(r));
			return -EINVAL;
		}
	}
	return 0;
}

static int dns_new(struct vw_loop *loop, const char *servers, bool forward, struct vw_dns **ret_dns)
{
	struct vw_dns *d;
	int r = 0;

	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		return -ENOMEM;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->n_chans = forward ? FORWARD_CHANNELS : 1;
	for (size_t i = 0; r >= 0 && i < d->n_chans; i++)
		r = chan_init(d, &d->chans[i], servers, forward);
	if (r < 0) {
		vw_dns_free(d);
		return r;
	}
	*ret_dns = d;
	return 0;
}

int vw_dns_new(struct vw_loop *loop, const char *servers, struct vw_dns **ret_dns)
{
	return dns_new(loop, servers, false, ret_dns);
}

int vw_dns_new_forwarder(struct vw_loop *loop, const char *servers, struct vw_dns **ret_dns)
{
	return dns_new(loop, servers, true, ret_dns);
}

void vw_dns_free(struct vw_dns *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_chans; i++)
		if (d->chans[i].ok)
			ares_destroy(d->chans[i].ch);
	for (size_t i = 0; i < MAX_SOCKETS; i++)
		vw_loop_unwatch(d->loop, &d->socks[i].io);
	free(d);
}

static enum vw_dns_status map_status(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return VW_DNS_OK;
	case ARES_ENODATA:
	case ARES_ENOTFOUND:
		return VW_DNS_NONE;
	default:
		return VW_DNS_FAIL;
	}
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct query *q = arg;
	uint8_t addrs[VW_NAME_ADDRS_MAX][16];
	enum vw_dns_status st = map_status(status);
	unsigned ttl = 0;
	int n = VW_NAME_ADDRS_MAX;

	/* The channel is being destroyed: nobody is left to tell. */
	if (status == ARES_EDESTRUCTION) {
		free(q);
		return;
	}
	memset(addrs, 0, sizeof(addrs));
	if (st == VW_DNS_OK) {
		int r;

		if (q->fam == 0) {
			struct ares_addrttl at[VW_NAME_ADDRS_MAX];

			r = ares_parse_a_reply(abuf, alen, NULL, at, &n);
			for (int i = 0; r == ARES_SUCCESS && i < n; i++) {
				memcpy(addrs[i], &at[i].ipaddr, 4);
				if (i == 0 || (unsigned)at[i].ttl < ttl)
					ttl = (unsigned)(at[i].ttl < 0 ? 0 : at[i].ttl);
			}
		} else {
			struct ares_addr6ttl at[VW_NAME_ADDRS_MAX];

			r = ares_parse_aaaa_reply(abuf, alen, NULL, at, &n);
			for (int i = 0; r == ARES_SUCCESS && i < n; i++) {
				memcpy(addrs[i], &at[i].ip6addr, 16);
				if (i == 0 || (unsigned)at[i].ttl < ttl)
					ttl = (unsigned)(at[i].ttl < 0 ? 0 : at[i].ttl);
			}
		}
		st = map_status(r);
		if (r != ARES_SUCCESS) {
			if (st == VW_DNS_OK)
				st = VW_DNS_FAIL;
			n = 0;
		}
	} else {
		n = 0;
	}
	if (st == VW_DNS_FAIL)
		log_debug("%s lookup of '%s' failed: %s", q->fam ? "AAAA" : "A", q->name,
			  ares_strerror(status));
	q->cb(q->userdata, q->name, q->fam, st, (const uint8_t(*)[16])addrs, (size_t)n, ttl);
	free(q);
}

int vw_dns_query(struct vw_dns *d, const char *name, int fam, vw_dns_fn cb, void *userdata)
{
	struct query *q;

	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	*q = (struct query){ .d = d, .cb = cb, .userdata = userdata, .fam = fam };
	(void)vw_strscpy(q->name, name, sizeof(q->name));
	/* ns_c_in = 1, ns_t_a = 1, ns_t_aaaa = 28 */
	ares_query(d->chans[0].ch, q->name, 1, fam ? 28 : 1, on_answer, q);
	return 0;
}

int vw_dns_timeout(struct vw_dns *d)
{
	int ms = -1;

	for (size_t i = 0; i < d->n_chans; i++) {
		struct timeval tv, *t = ares_timeout(d->chans[i].ch, NULL, &tv);

		if (t)
			ms = vw_timeout_min(ms,
					    (int)(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000));
	}
	/* Stale sockets are closed as soon as their queries are gone. */
	return d->stale_dev ? vw_timeout_min(ms, 100) : ms;
}

void vw_dns_process_timeouts(struct vw_dns *d)
{
	for (size_t i = 0; i < d->n_chans; i++)
		ares_process_fd(d->chans[i].ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rotate(d);
}

struct sent {
	struct chan *c;
	vw_dns_msg_fn cb;
	void *userdata;
};

static int map_errno(int status)
{
	switch (status) {
	case ARES_ETIMEOUT:
		return -ETIMEDOUT;
	case ARES_ECONNREFUSED:
		return -ECONNREFUSED;
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		return -ECANCELED;
	case ARES_ENOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static void on_sent(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct sent *s = arg;

	(void)timeouts;
	s->c->pending--;
	if (status == ARES_SUCCESS && abuf && alen > 0)
		s->cb(s->userdata, 0, abuf, (size_t)alen);
	else
		s->cb(s->userdata, map_errno(status), NULL, 0);
	free(s);
}

int vw_dns_send(struct vw_dns *d, const uint8_t *msg, size_t len, vw_dns_msg_fn cb, void *userdata)
{
	struct chan *c = &d->chans[d->active];
	struct sent *s;

	if (len > 65535)
		return -EMSGSIZE;
	if (d->stale_dev)
		return -EAGAIN; /* it would go out by the device we left */
	/* Worn out: on to the next channel whose sockets are closed (see rotate()). */
	for (size_t i = 1; worn(c) && i < d->n_chans; i++) {
		size_t next = (d->active + i) % d->n_chans;

		if (!d->chans[next].used) {
			d->active = next;
			c = &d->chans[next];
		}
	}
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct sent){ .c = c, .cb = cb, .userdata = userdata };
	if (!c->used++)
		c->first_ms = vw_now_ms();
	c->pending++;
	/* May call on_sent() before it returns (no server, out of memory). */
	ares_send(c->ch, msg, (int)len, on_sent, s);
	return 0;
}
