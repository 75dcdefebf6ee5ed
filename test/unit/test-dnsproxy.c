// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The proxy's TCP connections over real loopback sockets, with an upstream this test plays
 * itself: a connection whose answer was just handed over is not idle, even to a sweep
 * given a clock read before that answer came (the daemon reads its clock once per wakeup).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "vpnwall/dns.h"
#include "vpnwall/dnsproxy.h"
#include "vpnwall/loop.h"
#include "vpnwall/util.h"

struct world {
	struct vw_loop *loop;
	struct vw_dns *up;
	struct vw_dnsproxy *p;
	int up_fd; /* the upstream: reads the forwarded query, answers when told */
	uint16_t port; /* the proxy's */
	int done; /* queries the proxy finished */
	int rcode; /* what the last one got */
};

static enum vw_dnsq_verdict ask(void *ud, struct vw_dnsq *q)
{
	(void)ud;
	(void)q;
	return VW_DNSQ_FORWARD;
}

static int answered(void *ud, const struct vw_dnsq *q, const uint8_t *msg, size_t len)
{
	(void)ud;
	(void)q;
	(void)msg;
	(void)len;
	return 0;
}

static void done(void *ud, const struct vw_dnsq *q, enum vw_dnsq_verdict v, int rcode, uint64_t ns)
{
	struct world *w = ud;

	(void)q;
	(void)v;
	(void)ns;
	w->done++;
	w->rcode = rcode;
}

static const struct vw_dnsproxy_ops ops = { .ask = ask, .answered = answered, .done = done };

/* A loopback port free for TCP right now (the proxy binds UDP too: retried if taken). */
static uint16_t free_port(int type, int *keep)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, type, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	if (keep)
		*keep = fd;
	else
		(void)close(fd);
	return ntohs(sin.sin_port);
}

static int setup(void **state)
{
	static struct world w;
	char servers[64];
	int r = -EADDRINUSE;

	w = (struct world){ .rcode = -2 };
	assert_int_equal(vw_loop_new(&w.loop), 0);
	snprintf(servers, sizeof(servers), "127.0.0.1:%u", free_port(SOCK_DGRAM, &w.up_fd));
	assert_int_equal(vw_dns_new_forwarder(w.loop, servers, &w.up), 0);
	for (int i = 0; i < 20 && r == -EADDRINUSE; i++) {
		w.port = free_port(SOCK_STREAM, NULL);
		r = vw_dnsproxy_new(w.loop, w.port, w.up, &ops, &w, &w.p);
	}
	assert_int_equal(r, 0);
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	vw_dnsproxy_free(w->p);
	vw_dns_free(w->up);
	vw_loop_free(w->loop);
	(void)close(w->up_fd);
	return 0;
}

static int dial(const struct world *w)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(w->port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* Run the proxy's loop until @fd has something to read (or 2 s pass). */
static void pump_until_readable(struct world *w, int fd)
{
	for (int i = 0; i < 200; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 0) == 1)
			return;
		assert_true(vw_loop_wait(w->loop, 10) >= 0);
	}
}

/* What the client @fd reads now: the answer's rcode, -1 at EOF, -2 for nothing yet. */
static int client_read(int fd)
{
	uint8_t a[512];
	ssize_t n = recv(fd, a, sizeof(a), MSG_DONTWAIT);

	if (n == 0)
		return -1;
	if (n < 0)
		return errno == EAGAIN ? -2 : -1;
	assert_true(n >= 2 + 12);
	assert_int_equal(a[2], 0x12); /* the client's id, not the upstream's */
	assert_int_equal(a[3], 0x34);
	return a[5] & 0xf;
}

static void test_fresh_connection_is_not_idle(void **state)
{
	struct world *w = *state;
	uint64_t t0 = vw_now_ms();
	int fd;

	usleep(3000); /* the proxy's clock has moved on when it accepts */
	fd = dial(w);
	for (int i = 0; i < 20; i++)
		assert_true(vw_loop_wait(w->loop, 10) >= 0);
	/* A sweep with a clock read before the connection came: it is not idle. */
	vw_dnsproxy_process(w->p, t0);
	assert_true(vw_loop_wait(w->loop, 10) >= 0);
	assert_int_equal(client_read(fd), -2);
	/* Control: 10 s on, it is, and the client sees the connection close. */
	vw_dnsproxy_process(w->p, vw_now_ms() + VW_DNSPROXY_TCP_IDLE_MS);
	pump_until_readable(w, fd);
	assert_int_equal(client_read(fd), -1);
	(void)close(fd);
}

/*
 * The daemon's order of things in one wakeup: it reads its clock, c-ares hands the answer
 * over (the connection's last activity is now later than that clock), then the idle sweep
 * runs with that clock. A half-closed client, whose last query that was, must still get it.
 */
static void test_answer_handed_over_survives_sweep(void **state)
{
	static const uint8_t query[] = { 0, 24, 0x12, 0x34, 1,	 0,   0,   1,	0, 0, 0, 0, 0,
					 0, 1,	'a',  4,    't', 'e', 's', 't', 0, 0, 1, 0, 1 };
	struct world *w = *state;
	struct sockaddr_storage from;
	socklen_t from_len = sizeof(from);
	uint8_t fwd[512];
	ssize_t n = -1;
	uint64_t t0;
	int fd = dial(w);

	assert_int_equal(send(fd, query, sizeof(query), 0), (ssize_t)sizeof(query));
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	/* The proxy reads it and forwards it: the upstream (us) receives it. */
	for (int i = 0; i < 200 && n < 0; i++) {
		assert_true(vw_loop_wait(w->loop, 10) >= 0);
		n = recvfrom(w->up_fd, fwd, sizeof(fwd), MSG_DONTWAIT, (struct sockaddr *)&from,
			     &from_len);
	}
	assert_true(n >= 12);
	t0 = vw_now_ms();
	usleep(3000);
	fwd[2] = 0x81; /* a response, NOERROR, no records */
	fwd[3] = 0x80;
	assert_int_equal(sendto(w->up_fd, fwd, (size_t)n, 0, (struct sockaddr *)&from, from_len),
			 n);
	/* One wakeup: c-ares reads the answer and the proxy queues it for the client. */
	for (int i = 0; i < 200 && !w->done; i++)
		assert_true(vw_loop_wait(w->loop, 10) >= 0);
	assert_int_equal(w->done, 1);
	assert_int_equal(w->rcode, 0);
	vw_dnsproxy_process(w->p, t0);
	pump_until_readable(w, fd);
	assert_int_equal(client_read(fd), 0);
	(void)close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_connection_is_not_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_handed_over_survives_sweep, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
