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

struct sock {
	struct vw_io io; /* first: the loop hands us &io */
	struct vw_dns *d;
};

struct vw_dns {
	struct vw_loop *loop;
	ares_channel ch;
	bool channel_ok;
	bool bind_dev; /* bind every socket to dev ("": fail every socket) */
	char dev[IFNAMSIZ];
	struct sock socks[MAX_SOCKETS];
	/* The forwarder only: its sockets outlive their queries (see rotate()). */
	bool stayopen;
	unsigned pending; /* queries sent and not answered */
	unsigned used; /* queries sent since the sockets were last closed */
	uint64_t first_ms; /* when the first of those was sent */
};

struct query {
	struct vw_dns *d;
	vw_dns_fn cb;
	void *userdata;
	int fam;
	char name[VW_DOMAIN_MAX + 1];
};

/*
 * The forwarder keeps its upstream sockets open between queries (ARES_FLAG_STAYOPEN):
 * opening one per query costs seven system calls, most of what a proxied query costs.
 * The source port must still change often, as it would with a socket per query (with the
 * random id, it is what an off-path spoofer has to guess): once no query is in flight and
 * the sockets carried ROTATE_QUERIES queries or their first was ROTATE_MS ago (@force:
 * at once), they are closed by setting the same servers again, which c-ares 1.18 allows
 * only with nothing in flight, and the next query opens new ones. Never called from
 * inside c-ares: closing sockets under ares_process_fd() would pull them from under it.
 */
static void rotate(struct vw_dns *d, bool force)
{
	struct ares_addr_port_node *servers = NULL;

	if (!d->stayopen || d->pending || !d->used)
		return;
	if (!force && d->used < ROTATE_QUERIES && vw_now_ms() - d->first_ms < ROTATE_MS)
		return;
	if (ares_get_servers_ports(d->ch, &servers) != ARES_SUCCESS)
		return;
	if (ares_set_servers_ports(d->ch, servers) == ARES_SUCCESS)
		d->used = 0;
	ares_free_data(servers);
}

static void on_io(struct vw_io *io, uint32_t events)
{
	struct sock *s = (struct sock *)io;
	struct vw_dns *d = s->d;
	ares_socket_t fd = io->fd;

	ares_process_fd(d->ch, (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD,
			(events & EPOLLOUT) ? fd : ARES_SOCKET_BAD);
	rotate(d, false);
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
	struct vw_dns *d = data;
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
		s->d = d;
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
	/* Sockets already open were bound to the old device: let c-ares open new ones. */
	if (d->channel_ok) {
		ares_cancel(d->ch);
		rotate(d, true);
	}
	return 0;
}

static int dns_new(struct vw_loop *loop, const char *servers, bool forward, struct vw_dns **ret_dns)
{
	struct ares_options opts = { 0 };
	struct vw_dns *d;
	int r;

	r = ares_library_init(ARES_LIB_INIT_ALL);
	if (r != ARES_SUCCESS)
		return -ENOMEM;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->stayopen = forward;
	opts.sock_state_cb = on_sock_state;
	opts.sock_state_cb_data = d;
	opts.timeout = QUERY_TIMEOUT_MS;
	opts.tries = QUERY_TRIES;
	/* EDNS keeps large answers on UDP instead of a TCP retry. A forwarder sends the
	 * client's own message (its EDNS as the client chose) and passes every answer on. */
	opts.flags = forward ? ARES_FLAG_NOCHECKRESP | ARES_FLAG_STAYOPEN : ARES_FLAG_EDNS;
	opts.ednspsz = 1232;
	r = ares_init_options(&d->ch, &opts,
			      ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
				      ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ);
	if (r != ARES_SUCCESS) {
		log_debug("ares_init_options: %s", ares_strerror(r));
		free(d);
		return r == ARES_ENOMEM ? -ENOMEM : -EINVAL;
	}
	d->channel_ok = true;
	ares_set_socket_configure_callback(d->ch, configure_socket, d);
	if (servers && *servers) {
		r = ares_set_servers_ports_csv(d->ch, servers);
		if (r != ARES_SUCCESS) {
			log_debug("ares_set_servers_ports_csv('%s'): %s", servers,
				  ares_strerror(r));
			vw_dns_free(d);
			return -EINVAL;
		}
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
	if (d->channel_ok)
		ares_destroy(d->ch);
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
	ares_query(d->ch, q->name, 1, fam ? 28 : 1, on_answer, q);
	return 0;
}

int vw_dns_timeout(struct vw_dns *d)
{
	struct timeval tv, *t;

	t = ares_timeout(d->ch, NULL, &tv);
	if (!t)
		return -1;
	return (int)(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
}

void vw_dns_process_timeouts(struct vw_dns *d)
{
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rotate(d, false);
}

struct sent {
	struct vw_dns *d;
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
	s->d->pending--;
	if (status == ARES_SUCCESS && abuf && alen > 0)
		s->cb(s->userdata, 0, abuf, (size_t)alen);
	else
		s->cb(s->userdata, map_errno(status), NULL, 0);
	free(s);
}

int vw_dns_send(struct vw_dns *d, const uint8_t *msg, size_t len, vw_dns_msg_fn cb, void *userdata)
{
	struct sent *s;

	if (len > 65535)
		return -EMSGSIZE;
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct sent){ .d = d, .cb = cb, .userdata = userdata };
	if (!d->used++)
		d->first_ms = vw_now_ms();
	d->pending++;
	/* May call on_sent() before it returns (no server, out of memory). */
	ares_send(d->ch, msg, (int)len, on_sent, s);
	return 0;
}
