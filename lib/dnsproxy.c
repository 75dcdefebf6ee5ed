// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DNS proxy sockets. UDP: one socket per family, replies sent from the very address the
 * query was sent to (IP_PKTINFO), since conntrack undoes the redirect only for a reply
 * that matches the redirected flow. TCP (RFC 7766): length-prefixed messages, several
 * queries in flight per connection, answers written in the order they come.
 *
 * Upstream ids: the client's id is replaced by a random one not in flight, so an off-path
 * forger must guess it (c-ares only takes answers on the socket it asked from, with that
 * id and the same question), and two clients' identical ids never meet upstream.
 */
#include "vpnwall/dnsproxy.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vpnwall/dns.h"
#include "vpnwall/log.h"
#include "vpnwall/loop.h"
#include "vpnwall/util.h"

#define VW_LOG_MODULE "dnsproxy"

#define MSG_MAX 65535
#define TCP_OUT_MAX (256 * 1024) /* unsent answers of one connection */
#define TCP_PENDING_MAX 32 /* queries in flight of one connection */
#define TCP_PER_CLIENT 8 /* connections of one client address at once */
#define UDP_BATCH 64 /* datagrams read per wakeup, so TCP and the rest get their turn */
#define UDP_SLOTS 16 /* datagrams read per system call */
#define UDP_QUERY_MAX 4096 /* a UDP query longer than this is dropped */
#define QUESTION_MAX (VW_DNS_HEADER + 256 + 4) /* header, a name's wire form, type, class */

struct udp {
	struct vw_io io; /* first: the loop hands us &io */
	struct vw_dnsproxy *p;
	int family;
};

struct conn {
	struct vw_io io; /* first */
	struct vw_dnsproxy *p;
	size_t idx;
	uint64_t serial; /* pending queries find their connection by (idx, serial) */
	uint8_t family;
	uint8_t addr[16];
	uint8_t in[2 + MSG_MAX];
	size_t in_len;
	uint8_t *out;
	size_t out_len;
	size_t out_cap;
	unsigned pending;
	uint64_t last_ms; /* accepted, or a whole query read or answered: not any byte */
	bool closing; /* peer finished sending: close once the answers it is owed are out */
	bool broken; /* not worth more (answers left unread, no memory): close now */
};

struct listener {
	struct vw_io io; /* first */
	struct vw_dnsproxy *p;
};

struct pending {
	struct vw_dnsproxy *p;
	struct vw_dnsq q;
	uint16_t upstream_id;
	struct sockaddr_storage peer; /* UDP */
	socklen_t peer_len;
	struct in6_pktinfo to6; /* UDP: the address the query came to */
	struct in_pktinfo to4;
	size_t conn_idx; /* TCP */
	uint64_t conn_serial;
	uint64_t t0;
	uint8_t raw[QUESTION_MAX]; /* the query's header and question, for an error reply */
};

struct vw_dnsproxy {
	struct vw_loop *loop;
	struct vw_dns *upstream;
	const struct vw_dnsproxy_ops *ops;
	void *ud;
	struct udp udp[2];
	struct listener tcp[2];
	struct conn *conns[VW_DNSPROXY_TCP_MAX];
	size_t n_conns;
	uint64_t next_serial;
	size_t n_pending;
	uint8_t ids[65536 / 8]; /* upstream ids in flight */
	uint16_t rnd[256];
	size_t n_rnd;
	int lo_index; /* the loopback interface: what the host sends itself comes in by it */
};

/* A TCP peer on a loopback address is the host itself. */
static bool is_loopback(uint8_t family, const uint8_t *a)
{
	static const uint8_t v6[16] = { [15] = 1 };

	return family == AF_INET ? a[0] == 127 : memcmp(a, v6, 16) == 0;
}

/* --- ids ---------------------------------------------------------------------------------- */

static uint16_t random16(struct vw_dnsproxy *p)
{
	if (p->n_rnd == 0) {
		if (getrandom(p->rnd, sizeof(p->rnd), 0) != (ssize_t)sizeof(p->rnd)) {
			/* Never short for 512 bytes once the pool is ready; be safe anyway. */
			for (size_t i = 0; i < ELEMENTSOF(p->rnd); i++)
				p->rnd[i] = (uint16_t)(vw_now_ns() * 2654435761u >> 7);
		}
		p->n_rnd = ELEMENTSOF(p->rnd);
	}
	return p->rnd[--p->n_rnd];
}

static bool id_used(const struct vw_dnsproxy *p, uint16_t id)
{
	return p->ids[id / 8] & (1u << (id % 8));
}

static uint16_t id_take(struct vw_dnsproxy *p)
{
	uint16_t id = random16(p);

	/* At most VW_DNSPROXY_PENDING_MAX of 65536 are taken: a free one is found quickly. */
	while (id_used(p, id))
		id = random16(p);
	p->ids[id / 8] |= (uint8_t)(1u << (id % 8));
	return id;
}

static void id_release(struct vw_dnsproxy *p, uint16_t id)
{
	p->ids[id / 8] &= (uint8_t) ~(1u << (id % 8));
}

/* --- replies ------------------------------------------------------------------------------- */

static void udp_send(struct vw_dnsproxy *p, const struct pending *x, const uint8_t *msg, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_name = (void *)&x->peer,
			     .msg_namelen = x->peer_len,
			     .msg_iov = &iov,
			     .msg_iovlen = 1 };
	struct cmsghdr *cm;
	int fi = x->q.family == AF_INET ? 0 : 1;

	memset(&ctl, 0, sizeof(ctl));
	mh.msg_control = ctl.buf;
	cm = (struct cmsghdr *)ctl.buf;
	if (fi == 0) {
		mh.msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
		memcpy(CMSG_DATA(cm), &x->to4, sizeof(x->to4));
	} else {
		mh.msg_controllen = CMSG_SPACE(sizeof(struct in6_pktinfo));
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
		memcpy(CMSG_DATA(cm), &x->to6, sizeof(x->to6));
	}
	/* A full send buffer loses the answer like the network would: the client retries. */
	if (sendmsg(p->udp[fi].io.fd, &mh, MSG_DONTWAIT) < 0)
		log_debug("answer not sent: %s", strerror(errno));
}

/*
 * The connection @x came by, NULL once it is closed. Its slot changes when another one
 * closes (conn_close()): then it is found by its serial, and the new slot remembered. A
 * query that lost its connection would never hand its answer over, and a half-closed
 * connection waiting for that answer would never close.
 */
static struct conn *conn_of(struct vw_dnsproxy *p, struct pending *x)
{
	struct conn *c = x->conn_idx < p->n_conns ? p->conns[x->conn_idx] : NULL;

	if (c && c->serial == x->conn_serial)
		return c;
	for (size_t i = 0; i < p->n_conns; i++)
		if (p->conns[i]->serial == x->conn_serial) {
			x->conn_idx = i;
			return p->conns[i];
		}
	return NULL;
}

static void conn_close(struct conn *c);
static void conn_watch(struct conn *c);

static void tcp_send(struct conn *c, const uint8_t *msg, size_t len)
{
	size_t need = c->out_len + 2 + len;

	if (need > TCP_OUT_MAX) {
		/* The client does not read its answers: it is not a client we owe more. */
		log_debug("TCP client does not read its answers, closing");
		c->broken = true;
		c->out_len = 0;
		return;
	}
	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 1024;
		uint8_t *out;

		while (cap < need)
			cap *= 2;
		out = realloc(c->out, cap);
		if (!out) {
			c->broken = true;
			return;
		}
		c->out = out;
		c->out_cap = cap;
	}
	c->out[c->out_len] = (uint8_t)(len >> 8);
	c->out[c->out_len + 1] = (uint8_t)len;
	memcpy(c->out + c->out_len + 2, msg, len);
	c->out_len = need;
}

static void reply(struct vw_dnsproxy *p, struct pending *x, uint8_t *msg, size_t len)
{
	if (!x->q.tcp) {
		size_t limit = x->q.q.udp_size > VW_DNS_UDP_MIN ? x->q.q.udp_size : VW_DNS_UDP_MIN;

		len = vw_dnsmsg_fit(msg, len, limit);
		if (len)
			udp_send(p, x, msg, len);
		return;
	}
	struct conn *c = conn_of(p, x);

	if (!c)
		return;
	tcp_send(c, msg, len);
	conn_watch(c);
}

/* An answer of our own (REFUSED, NXDOMAIN, SERVFAIL, FORMERR) to the query in @raw. */
static void reply_error(struct vw_dnsproxy *p, struct pending *x, const uint8_t *raw,
			unsigned rcode)
{
	uint8_t buf[QUESTION_MAX];
	size_t len = vw_dnsmsg_error(raw, &x->q.q, rcode, buf, sizeof(buf));

	if (len)
		reply(p, x, buf, len);
}

static void finish(struct vw_dnsproxy *p, struct pending *x, enum vw_dnsq_verdict v, int rcode)
{
	struct conn *c = x->q.tcp ? conn_of(p, x) : NULL;

	p->ops->done(p->ud, &x->q, v, rcode, vw_now_ns() - x->t0);
	if (c && c->pending) {
		c->pending--;
		c->last_ms = vw_now_ms();
		/* The last answer a half-closed connection waited for (see conn_watch()). */
		if (!c->pending && c->closing)
			conn_watch(c);
	}
}

/* --- forwarding ---------------------------------------------------------------------------- */

static void on_upstream(void *ud, int status, const uint8_t *msg, size_t len)
{
	struct pending *x = ud;
	struct vw_dnsproxy *p = x->p;
	uint8_t *copy = NULL;
	int rcode = -1;

	id_release(p, x->upstream_id);
	p->n_pending--;
	if (status == -ECANCELED) {
		finish(p, x, VW_DNSQ_FORWARD, -1);
		free(x);
		return;
	}
	if (status == 0 && len >= VW_DNS_HEADER && len <= MSG_MAX)
		copy = malloc(len);
	if (copy) {
		memcpy(copy, msg, len);
		vw_dnsmsg_set_id(copy, x->q.q.id);
		if (p->ops->answered(p->ud, &x->q, copy, len) >= 0) {
			rcode = copy[3] & 0x0f;
			reply(p, x, copy, len);
		}
	}
	if (rcode < 0) {
		/* No answer, or one we could not make safe to use: the client hears SERVFAIL. */
		rcode = VW_DNS_RCODE_SERVFAIL;
		reply_error(p, x, x->raw, VW_DNS_RCODE_SERVFAIL);
	}
	free(copy);
	finish(p, x, VW_DNSQ_FORWARD, rcode);
	free(x);
}

/* A query from a client: parsed, judged by the caller, answered or sent upstream. */
static void handle(struct vw_dnsproxy *p, struct pending *proto, const uint8_t *msg, size_t len)
{
	enum vw_dnsq_verdict v;
	struct pending *x;
	uint8_t *fwd;
	int r;

	r = vw_dnsmsg_query(msg, len, &proto->q.q);
	if (r == -ENOTSUP || (r < 0 && len < VW_DNS_HEADER))
		return; /* responses (spoofed answers), other opcodes, noise: no reply */
	proto->t0 = vw_now_ns();
	if (r < 0) {
		/* Malformed: FORMERR with the header only, so nothing of it is echoed. */
		uint8_t hdr[VW_DNS_HEADER] = { msg[0], msg[1], 0x80, 0x80 | VW_DNS_RCODE_FORMERR };

		if (!proto->q.tcp)
			udp_send(p, proto, hdr, sizeof(hdr));
		else if (conn_of(p, proto)) {
			tcp_send(conn_of(p, proto), hdr, sizeof(hdr));
			conn_watch(conn_of(p, proto));
		}
		return;
	}
	if (proto->q.q.question_end > QUESTION_MAX)
		return;
	v = p->ops->ask(p->ud, &proto->q);
	if (v == VW_DNSQ_FORWARD && p->n_pending >= VW_DNSPROXY_PENDING_MAX)
		v = VW_DNSQ_DROP;
	if (v == VW_DNSQ_FORWARD && proto->q.tcp && conn_of(p, proto) &&
	    conn_of(p, proto)->pending >= TCP_PENDING_MAX)
		v = VW_DNSQ_DROP;
	if (v == VW_DNSQ_REFUSE || v == VW_DNSQ_NXDOMAIN) {
		unsigned rcode = v == VW_DNSQ_REFUSE ? VW_DNS_RCODE_REFUSED : VW_DNS_RCODE_NXDOMAIN;

		reply_error(p, proto, msg, rcode);
		p->ops->done(p->ud, &proto->q, v, (int)rcode, vw_now_ns() - proto->t0);
		return;
	}
	if (v == VW_DNSQ_DROP) {
		p->ops->done(p->ud, &proto->q, v, -1, vw_now_ns() - proto->t0);
		return;
	}
	x = malloc(sizeof(*x));
	fwd = malloc(len);
	if (!x || !fwd) {
		free(x);
		free(fwd);
		p->ops->done(p->ud, &proto->q, VW_DNSQ_DROP, -1, vw_now_ns() - proto->t0);
		return;
	}
	*x = *proto;
	x->p = p;
	memcpy(x->raw, msg, len < sizeof(x->raw) ? len : sizeof(x->raw));
	x->upstream_id = id_take(p);
	memcpy(fwd, msg, len);
	vw_dnsmsg_set_id(fwd, x->upstream_id);
	p->n_pending++;
	if (x->q.tcp) {
		struct conn *c = conn_of(p, x);

		if (c)
			c->pending++;
	}
	r = vw_dns_send(p->upstream, fwd, len, on_upstream, x);
	free(fwd);
	if (r < 0) {
		id_release(p, x->upstream_id);
		p->n_pending--;
		reply_error(p, x, msg, VW_DNS_RCODE_SERVFAIL);
		finish(p, x, VW_DNSQ_FORWARD, VW_DNS_RCODE_SERVFAIL);
		free(x);
	}
}

/* --- UDP ----------------------------------------------------------------------------------- */

/* Fill @x's addresses from a received datagram's header; false without PKTINFO. */
static bool udp_origin(struct vw_dnsproxy *p, const struct udp *u, struct msghdr *mh,
		       struct pending *x)
{
	bool have_to = false;

	x->peer_len = mh->msg_namelen;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			memcpy(&x->to4, CMSG_DATA(cm), sizeof(x->to4));
			x->q.local = x->to4.ipi_ifindex == p->lo_index;
			/* Reply from that address, whatever interface routes back. */
			x->to4.ipi_ifindex = 0;
			x->to4.ipi_spec_dst = x->to4.ipi_addr;
			have_to = true;
		} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			memcpy(&x->to6, CMSG_DATA(cm), sizeof(x->to6));
			x->q.local = (int)x->to6.ipi6_ifindex == p->lo_index;
			have_to = true;
		}
	}
	x->q.family = (uint8_t)u->family;
	if (u->family == AF_INET)
		memcpy(x->q.addr, &((const struct sockaddr_in *)&x->peer)->sin_addr, 4);
	else
		memcpy(x->q.addr, &((const struct sockaddr_in6 *)&x->peer)->sin6_addr, 16);
	return have_to;
}

/*
 * Datagrams come in batches of UDP_SLOTS, one recvmmsg() each, and a batch that is not full
 * ends the turn: the socket is watched level-triggered, so nothing waiting is missed, and
 * a lone query costs one system call instead of a second one that only says EAGAIN.
 */
static void on_udp(struct vw_io *io, uint32_t events)
{
	struct udp *u = (struct udp *)io;
	struct vw_dnsproxy *p = u->p;
	static uint8_t bufs[UDP_SLOTS][UDP_QUERY_MAX];

	(void)events;
	for (int turn = 0; turn < UDP_BATCH / UDP_SLOTS; turn++) {
		union {
			char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
				 CMSG_SPACE(sizeof(struct in_pktinfo))];
			struct cmsghdr align;
		} ctl[UDP_SLOTS];
		struct pending x[UDP_SLOTS];
		struct iovec iov[UDP_SLOTS];
		struct mmsghdr mm[UDP_SLOTS];
		int n;

		for (int i = 0; i < UDP_SLOTS; i++) {
			x[i] = (struct pending){ .p = p };
			iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = sizeof(bufs[i]) };
			mm[i] = (struct mmsghdr){
				.msg_hdr = { .msg_name = &x[i].peer,
					     .msg_namelen = sizeof(x[i].peer),
					     .msg_iov = &iov[i],
					     .msg_iovlen = 1,
					     .msg_control = ctl[i].buf,
					     .msg_controllen = sizeof(ctl[i].buf) },
			};
		}
		n = recvmmsg(io->fd, mm, UDP_SLOTS, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return; /* EAGAIN, or an ICMP error of an earlier send */
		for (int i = 0; i < n; i++) {
			/* No query is that long; its cut-off rest would be forwarded as is. */
			if (mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
				log_debug("a %u-byte datagram is no query: dropped", mm[i].msg_len);
				continue;
			}
			if (udp_origin(p, u, &mm[i].msg_hdr, &x[i]))
				handle(p, &x[i], bufs[i], mm[i].msg_len);
		}
		if (n < UDP_SLOTS)
			return;
	}
}

static int udp_open(struct vw_dnsproxy *p, int family, uint16_t port)
{
	struct udp *u = &p->udp[family == AF_INET ? 0 : 1];
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int one = 1, fd, r;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof(*sin);
		r = setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
		r = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (r >= 0)
			r = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	}
	if (r < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	u->p = p;
	u->family = family;
	u->io.fd = fd;
	u->io.cb = on_udp;
	r = vw_loop_watch(p->loop, &u->io, EPOLLIN);
	if (r < 0) {
		(void)close(fd);
		u->io.fd = -1;
	}
	return r;
}

/* --- TCP ----------------------------------------------------------------------------------- */

/*
 * Watch @c for what it waits for, or close it. A peer that finished sending (a client may
 * half-close right after its queries) is still owed the answers to the queries it has
 * upstream: its socket stays open, unwatched, until finish() hands over the last one.
 */
static void conn_watch(struct conn *c)
{
	uint32_t ev = c->closing || c->broken ? 0 : EPOLLIN;

	if (c->out_len && !c->broken)
		ev |= EPOLLOUT;
	if ((!ev && (c->broken || !c->pending)) || vw_loop_watch(c->p->loop, &c->io, ev) < 0)
		conn_close(c);
}

static void conn_close(struct conn *c)
{
	struct vw_dnsproxy *p = c->p;
	size_t last = p->n_conns - 1;

	vw_loop_unwatch(p->loop, &c->io);
	(void)close(c->io.fd);
	/* The last one takes its place: its pending queries find it by serial (conn_of()). */
	p->conns[c->idx] = p->conns[last];
	p->conns[c->idx]->idx = c->idx;
	p->conns[last] = NULL;
	p->n_conns--;
	free(c->out);
	free(c);
}

/* Write what is queued; false when the connection is gone. */
static bool conn_flush(struct conn *c)
{
	while (c->out_len) {
		ssize_t n = send(c->io.fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			if (errno == EINTR)
				continue;
			conn_close(c);
			return false;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	return true;
}

static void on_conn(struct vw_io *io, uint32_t events)
{
	struct conn *c = (struct conn *)io;
	struct vw_dnsproxy *p = c->p;
	uint64_t serial = c->serial;
	size_t idx = c->idx;

	if ((events & EPOLLOUT) && !conn_flush(c))
		return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t n =
			recv(io->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			c->closing = true;
		} else if (n > 0) {
			c->in_len += (size_t)n;
			for (;;) {
				size_t len;
				struct pending x = { .p = p };

				if (c->in_len < 2)
					break;
				len = (size_t)c->in[0] << 8 | c->in[1];
				if (c->in_len < 2 + len)
					break;
				c->last_ms = vw_now_ms();
				x.q.family = c->family;
				memcpy(x.q.addr, c->addr, sizeof(c->addr));
				x.q.tcp = true;
				x.q.local = is_loopback(c->family, c->addr);
				x.conn_idx = idx;
				x.conn_serial = serial;
				handle(p, &x, c->in + 2, len);
				/* handle() may have closed it (a write failed). */
				if (!conn_of(p, &x))
					return;
				memmove(c->in, c->in + 2 + len, c->in_len - 2 - len);
				c->in_len -= 2 + len;
			}
		}
	}
	if (conn_flush(c))
		conn_watch(c);
}

/*
 * Room for one more connection from @family/@addr, which a client could otherwise fill
 * with connections that trickle a byte now and then: each address gets TCP_PER_CLIENT (the
 * host's loopback all of them), and when all are taken the longest idle connection with
 * nothing upstream makes way.
 */
static bool conn_admit(struct vw_dnsproxy *p, uint8_t family, const uint8_t *addr)
{
	struct conn *idle = NULL;
	unsigned same = 0;

	for (size_t i = 0; i < p->n_conns; i++) {
		struct conn *c = p->conns[i];

		/* The host itself forwards for every container (see vw_dnsq.local). */
		if (c->family == family && memcmp(c->addr, addr, sizeof(c->addr)) == 0 &&
		    !is_loopback(family, addr))
			same++;
		if (!c->pending && (!idle || c->last_ms < idle->last_ms))
			idle = c;
	}
	if (same >= TCP_PER_CLIENT)
		return false;
	if (p->n_conns < VW_DNSPROXY_TCP_MAX)
		return true;
	if (!idle)
		return false;
	conn_close(idle);
	return true;
}

static void on_accept(struct vw_io *io, uint32_t events)
{
	struct listener *l = (struct listener *)io;
	struct vw_dnsproxy *p = l->p;

	(void)events;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		uint8_t family, addr[16] = { 0 };
		struct conn *c = NULL;
		int fd =
			accept4(io->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (ss.ss_family == AF_INET) {
			family = AF_INET;
			memcpy(addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		} else {
			family = AF_INET6;
			memcpy(addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
		}
		if (conn_admit(p, family, addr))
			c = calloc(1, sizeof(*c));
		if (!c) {
			(void)close(fd);
			continue;
		}
		c->p = p;
		c->io.fd = fd;
		c->io.cb = on_conn;
		c->serial = ++p->next_serial;
		c->last_ms = vw_now_ms();
		c->family = family;
		memcpy(c->addr, addr, sizeof(addr));
		c->idx = p->n_conns;
		p->conns[p->n_conns++] = c;
		conn_watch(c);
	}
}

static int tcp_open(struct vw_dnsproxy *p, int family, uint16_t port)
{
	struct listener *l = &p->tcp[family == AF_INET ? 0 : 1];
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int one = 1, fd, r = 0;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
		r = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (r >= 0)
		r = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (r < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	l->p = p;
	l->io.fd = fd;
	l->io.cb = on_accept;
	r = vw_loop_watch(p->loop, &l->io, EPOLLIN);
	if (r < 0) {
		(void)close(fd);
		l->io.fd = -1;
	}
	return r;
}

/* --- lifetime ------------------------------------------------------------------------------ */

int vw_dnsproxy_new(struct vw_loop *loop, uint16_t port, struct vw_dns *upstream,
		    const struct vw_dnsproxy_ops *ops, void *ud, struct vw_dnsproxy **ret)
{
	static const int families[2] = { AF_INET, AF_INET6 };
	struct vw_dnsproxy *p = calloc(1, sizeof(*p));
	int r = 0;

	if (!p)
		return -ENOMEM;
	p->loop = loop;
	p->upstream = upstream;
	p->lo_index = (int)if_nametoindex("lo");
	p->ops = ops;
	p->ud = ud;
	for (int i = 0; i < 2; i++)
		p->udp[i].io.fd = p->tcp[i].io.fd = -1;
	for (int i = 0; r >= 0 && i < 2; i++) {
		r = udp_open(p, families[i], port);
		if (r >= 0)
			r = tcp_open(p, families[i], port);
		/* A host without IPv6 serves IPv4 only. */
		if (r == -EAFNOSUPPORT && families[i] == AF_INET6)
			r = 0;
	}
	if (r < 0) {
		vw_dnsproxy_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

void vw_dnsproxy_free(struct vw_dnsproxy *p)
{
	if (!p)
		return;
	while (p->n_conns)
		conn_close(p->conns[p->n_conns - 1]);
	for (int i = 0; i < 2; i++) {
		if (p->udp[i].io.fd >= 0) {
			vw_loop_unwatch(p->loop, &p->udp[i].io);
			(void)close(p->udp[i].io.fd);
		}
		if (p->tcp[i].io.fd >= 0) {
			vw_loop_unwatch(p->loop, &p->tcp[i].io);
			(void)close(p->tcp[i].io.fd);
		}
	}
	free(p);
}

int vw_dnsproxy_timeout(const struct vw_dnsproxy *p)
{
	return p && p->n_conns ? 1000 : -1;
}

void vw_dnsproxy_process(struct vw_dnsproxy *p, uint64_t now_ms)
{
	if (!p)
		return;
	for (size_t i = p->n_conns; i-- > 0;) {
		struct conn *c = p->conns[i];

		/* @now_ms may be older than a last_ms set during this very wakeup (finish() of
		 * an answer handed over a moment ago): not idle then, whatever the difference
		 * of the two would say in unsigned arithmetic. */
		if (!c->pending && now_ms >= c->last_ms + VW_DNSPROXY_TCP_IDLE_MS)
			conn_close(c);
	}
}
