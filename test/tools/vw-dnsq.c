// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vw-dnsq: DNS clients that behave badly, for the DNS proxy's tests. Run in a container's
 * (or a fake host's) network namespace (nsenter --net; static like the other tools). ADDR
 * is an IPv4 address; port 53 unless given.
 *
 *   vw-dnsq halfclose ADDR NAME    one query for NAME (A, id 0x1234), then shutdown(WR)
 *                                    at once; prints the answer's "rcode R an N", or "eof"
 *   vw-dnsq moved ADDR NAME          the same, on a connection opened after another one
 *                                    that closes while the query is upstream (the proxy
 *                                    moves the first to the closed one's slot)
 *   vw-dnsq pipeline ADDR N SUFFIX N queries for q1.SUFFIX ... qN.SUFFIX in one write,
 *                                    then waits a second and closes
 *   vw-dnsq hold ADDR N SECONDS    opens N connections; prints "refused K", those the
 *                                    peer closed within a second; then sends each open one
 *                                    byte of a message that never completes every second,
 *                                    and prints "open M", those still open after SECONDS
 *   vw-dnsq burst ADDR N NAME        N UDP queries for NAME from one socket as fast as it
 *                                    goes; prints "answered K", the answers within 2 s
 *   vw-dnsq forge SRC ADDR PORT NAME  one UDP query for NAME from SRC (an address of this
 *                                    namespace, bound) to ADDR:PORT; waits for nothing
 *
 * Exits 0 unless something local failed (a socket, a connect, a send).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNS_MAX 64

static int fail(const char *what)
{
	fprintf(stderr, "vw-dnsq: %s: %s\n", what, strerror(errno));
	return 1;
}

static bool sin_of(const char *addr, int port, struct sockaddr_in *ret)
{
	*ret = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, addr, &ret->sin_addr) == 1)
		return true;
	errno = EINVAL;
	return false;
}

static int dial(const char *addr)
{
	struct sockaddr_in sin;
	int fd;

	if (!sin_of(addr, 53, &sin))
		return -1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		(void)close(fd);
		fd = -1;
	}
	return fd;
}

/* Append a length-prefixed query for @name (type A, id @id) to @out; its new length. */
static size_t put_query(uint8_t *out, size_t n, const char *name, uint16_t id)
{
	static const uint8_t hdr[] = { 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0 }; /* RD, 1 question */
	size_t start = n;

	n += 2;
	memcpy(out + n, hdr, sizeof(hdr));
	out[n] = (uint8_t)(id >> 8);
	out[n + 1] = (uint8_t)id;
	n += sizeof(hdr);
	for (const char *s = name; *s;) {
		size_t l = strcspn(s, ".");

		out[n++] = (uint8_t)l;
		memcpy(out + n, s, l);
		n += l;
		s += l + (s[l] == '.');
	}
	out[n++] = 0;
	memcpy(out + n, "\0\1\0\1", 4); /* A, IN */
	n += 4;
	out[start] = (uint8_t)((n - start - 2) >> 8);
	out[start + 1] = (uint8_t)(n - start - 2);
	return n;
}

static bool send_all(int fd, const uint8_t *b, size_t n)
{
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w <= 0)
			return false;
		b += w;
		n -= (size_t)w;
	}
	return true;
}

/* With @moved, a connection opened before this one closes while the query is upstream. */
static int halfclose(const char *addr, const char *name, bool moved)
{
	uint8_t q[300], a[4096];
	size_t n, got = 0;
	int fd, other = -1;

	if (strlen(name) > 250) {
		errno = EINVAL;
		return fail("name");
	}
	n = put_query(q, 0, name, 0x1234);
	if (moved && (other = dial(addr)) < 0)
		return fail("connect");
	fd = dial(addr);
	if (fd < 0)
		return fail("connect");
	if (!send_all(fd, q, n) || shutdown(fd, SHUT_WR) < 0)
		return fail("send");
	if (moved) {
		usleep(300000);
		(void)close(other);
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		/* Well past the proxy's SERVFAIL when the upstream never answers (6 s). */
		if (poll(&p, 1, 15000) <= 0)
			break;
		r = recv(fd, a + got, sizeof(a) - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got >= 2 + 12 && got >= 2 + (size_t)(a[0] << 8 | a[1]))
			break;
	}
	if (got < 2 + 12)
		printf("eof\n");
	else
		printf("rcode %d an %d\n", a[5] & 0xf, a[8] << 8 | a[9]);
	(void)close(fd);
	return 0;
}

static int pipeline(const char *addr, int count, const char *suffix)
{
	uint8_t *b = malloc((size_t)count * 300);
	size_t n = 0;
	int fd = dial(addr);

	if (!b || fd < 0)
		return fail("connect");
	for (int i = 1; i <= count; i++) {
		char name[256];

		snprintf(name, sizeof(name), "q%d.%s", i, suffix);
		n = put_query(b, n, name, (uint16_t)i);
	}
	if (!send_all(fd, b, n))
		return fail("send");
	sleep(1);
	(void)close(fd);
	free(b);
	return 0;
}

/* Whether the peer closed @fd (EOF or an error); what it sent is read and thrown away. */
static bool peer_closed(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t buf[512];

	if (poll(&p, 1, 0) <= 0)
		return false;
	return recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0;
}

static int hold(const char *addr, int count, int seconds)
{
	static const uint8_t never[] = { 0xff, 0xff }; /* a 65535-byte message: never whole */
	int fds[CONNS_MAX], refused = 0, open = 0;

	if (count > CONNS_MAX)
		count = CONNS_MAX;
	for (int i = 0; i < count; i++)
		if ((fds[i] = dial(addr)) < 0)
			return fail("connect");
	sleep(1);
	for (int i = 0; i < count; i++)
		if (peer_closed(fds[i])) {
			(void)close(fds[i]);
			fds[i] = -1;
			refused++;
		}
	printf("refused %d\n", refused);
	fflush(stdout);
	for (int t = 0; t < seconds; t++) {
		for (int i = 0; i < count; i++)
			if (fds[i] >= 0)
				(void)send(fds[i], t < 2 ? &never[t] : (const uint8_t *)"x", 1,
					   MSG_NOSIGNAL);
		sleep(1);
	}
	for (int i = 0; i < count; i++)
		if (fds[i] >= 0) {
			open += !peer_closed(fds[i]);
			(void)close(fds[i]);
		}
	printf("open %d\n", open);
	return 0;
}

static int burst(const char *addr, int count, const char *name)
{
	struct sockaddr_in to;
	uint8_t q[300], a[4096];
	int fd, answered = 0;
	size_t n;

	if (strlen(name) > 250 || !sin_of(addr, 53, &to))
		return fail("arguments");
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0)
		return fail("connect");
	for (int i = 1; i <= count; i++) {
		n = put_query(q, 0, name, (uint16_t)i);
		if (send(fd, q + 2, n - 2, 0) < 0 && errno != ECONNREFUSED)
			return fail("send");
	}
	/* Answers stop coming well within 2 s: each was sent as soon as its query came in. */
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 2000) <= 0)
			break;
		if (recv(fd, a, sizeof(a), 0) >= 12)
			answered++;
	}
	printf("answered %d\n", answered);
	(void)close(fd);
	return 0;
}

static int forge(const char *src, const char *addr, int port, const char *name)
{
	struct sockaddr_in from, to;
	uint8_t q[300];
	size_t n;
	int fd;

	if (strlen(name) > 250 || !sin_of(src, 0, &from) || !sin_of(addr, port, &to))
		return fail("arguments");
	n = put_query(q, 0, name, 0x1234);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0)
		return fail("bind");
	/* The message without TCP's length prefix. */
	if (sendto(fd, q + 2, n - 2, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return fail("sendto");
	(void)close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "halfclose") == 0)
		return halfclose(argv[2], argv[3], false);
	if (argc == 4 && strcmp(argv[1], "moved") == 0)
		return halfclose(argv[2], argv[3], true);
	if (argc == 5 && strcmp(argv[1], "pipeline") == 0)
		return pipeline(argv[2], atoi(argv[3]), argv[4]);
	if (argc == 5 && strcmp(argv[1], "hold") == 0)
		return hold(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && strcmp(argv[1], "burst") == 0)
		return burst(argv[2], atoi(argv[3]), argv[4]);
	if (argc == 6 && strcmp(argv[1], "forge") == 0)
		return forge(argv[2], argv[3], atoi(argv[4]), argv[5]);
	fprintf(stderr, "usage: vw-dnsq halfclose|moved ADDR NAME | pipeline ADDR N SUFFIX | "
			"hold ADDR N SECONDS | burst ADDR N NAME | forge SRC ADDR PORT NAME\n");
	return 2;
}
