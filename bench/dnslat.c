// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dnslat: a closed-loop DNS latency client. It sends one A query over UDP, waits for its
 * answer, and only then sends the next, N times, each for a new name (q<BASE+i>.<ZONE>), so
 * no resolver on the way answers from a cache. Each round trip is timed with the monotonic
 * clock from just before send() to just after the answer's recv(); a query unanswered
 * within the timeout is counted lost and not timed. The first WARMUP queries are not
 * counted.
 *
 *   dnslat -s ADDR [-p PORT] [-n N] [-z ZONE] [-b BASE] [-w WARMUP] [-t TIMEOUT_MS]
 *
 * Output: key=value lines on stdout (latencies in microseconds): sent, answered, lost,
 * noerror (answers with rcode 0 and at least one answer record), warmup_answered, min_us,
 * mean_us, p50_us, p90_us, p99_us, max_us.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG_MAX 512
#define HEADER 12

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* An A query for @name with id @id, recursion desired; its length, or -EINVAL. */
static int build_query(uint8_t *buf, size_t size, uint16_t id, const char *name)
{
	size_t off = HEADER;
	const char *p = name;

	memset(buf, 0, HEADER);
	buf[0] = (uint8_t)(id >> 8);
	buf[1] = (uint8_t)id;
	buf[2] = 0x01; /* RD */
	buf[5] = 1; /* QDCOUNT */
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		if (len == 0 || len > 63 || off + 1 + len + 5 > size)
			return -EINVAL;
		buf[off++] = (uint8_t)len;
		memcpy(buf + off, p, len);
		off += len;
		p += len;
		if (*p == '.')
			p++;
	}
	buf[off++] = 0;
	buf[off++] = 0;
	buf[off++] = 1; /* QTYPE A */
	buf[off++] = 0;
	buf[off++] = 1; /* QCLASS IN */
	return (int)off;
}

static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least @q of the (sorted) values at or below it. */
static double quantile_us(const uint64_t *v, size_t n, double q)
{
	size_t rank = (size_t)(q * (double)n);

	if ((double)rank < q * (double)n)
		rank++;
	if (rank < 1)
		rank = 1;
	return (double)v[rank - 1] / 1000.0;
}

static int usage(void)
{
	fputs("usage: dnslat -s ADDR [-p PORT] [-n N] [-z ZONE] [-b BASE] [-w WARMUP] "
	      "[-t TIMEOUT_MS]\n",
	      stderr);
	return 2;
}

/*
 * One query and its answer: the round trip in ns, 0 when lost; *ret_ok tells whether the
 * answer was NOERROR with an answer record. A datagram that is not this query's answer (a
 * late answer to a lost one) is skipped.
 */
static uint64_t ask(int fd, const char *name, int timeout_ms, bool *ret_ok)
{
	uint8_t q[MSG_MAX], a[MSG_MAX];
	uint16_t id;
	uint64_t t0, deadline;
	int len;

	if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id))
		id = (uint16_t)now_ns();
	len = build_query(q, sizeof(q), id, name);
	if (len < 0)
		return 0;
	t0 = now_ns();
	deadline = t0 + (uint64_t)timeout_ms * 1000000u;
	if (send(fd, q, (size_t)len, 0) != len)
		return 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t t = now_ns();
		ssize_t n;

		if (t >= deadline)
			return 0;
		if (poll(&p, 1, (int)((deadline - t + 999999) / 1000000)) <= 0)
			continue;
		n = recv(fd, a, sizeof(a), 0);
		t = now_ns();
		/* Same id, a response, the same question. */
		if (n < len || a[0] != q[0] || a[1] != q[1] || !(a[2] & 0x80) ||
		    memcmp(a + HEADER, q + HEADER, (size_t)len - HEADER) != 0)
			continue;
		*ret_ok = (a[3] & 0x0f) == 0 && (a[6] || a[7]);
		return t - t0 ? t - t0 : 1;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53) };
	unsigned long n = 10000, base = 0, warmup = 100, timeout_ms = 1000, v;
	const char *zone = "bench.test", *addr = NULL;
	size_t answered = 0, lost = 0, ok = 0, warm = 0;
	uint64_t *lat, sum = 0;
	int fd, c;

	while ((c = getopt(argc, argv, "s:p:n:z:b:w:t:")) != -1) {
		switch (c) {
		case 's':
			addr = optarg;
			break;
		case 'p':
			if (parse_ulong(optarg, 1, 65535, &v) < 0)
				return usage();
			sa.sin_port = htons((uint16_t)v);
			break;
		case 'n':
			if (parse_ulong(optarg, 1, 100000000, &n) < 0)
				return usage();
			break;
		case 'z':
			zone = optarg;
			break;
		case 'b':
			if (parse_ulong(optarg, 0, UINT_MAX, &base) < 0)
				return usage();
			break;
		case 'w':
			if (parse_ulong(optarg, 0, 100000000, &warmup) < 0)
				return usage();
			break;
		case 't':
			if (parse_ulong(optarg, 1, 60000, &timeout_ms) < 0)
				return usage();
			break;
		default:
			return usage();
		}
	}
	if (!addr || optind != argc || inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return usage();
	lat = calloc(n, sizeof(*lat));
	if (!lat) {
		fputs("dnslat: out of memory\n", stderr);
		return 1;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "dnslat: %s: %s\n", addr, strerror(errno));
		return 1;
	}
	for (unsigned long i = 0; i < warmup + n; i++) {
		char name[256];
		bool good = false;
		uint64_t t;

		snprintf(name, sizeof(name), "q%lu.%s", base + i, zone);
		t = ask(fd, name, (int)timeout_ms, &good);
		if (i < warmup) {
			warm += t != 0;
			continue;
		}
		if (!t) {
			lost++;
			continue;
		}
		lat[answered++] = t;
		sum += t;
		ok += good;
	}
	(void)close(fd);
	printf("sent=%lu\nanswered=%zu\nlost=%zu\nnoerror=%zu\nwarmup_answered=%zu\n", n, answered,
	       lost, ok, warm);
	if (answered) {
		qsort(lat, answered, sizeof(*lat), cmp_u64);
		printf("min_us=%.1f\nmean_us=%.1f\np50_us=%.1f\np90_us=%.1f\np99_us=%.1f\n"
		       "max_us=%.1f\n",
		       (double)lat[0] / 1000.0, (double)sum / (double)answered / 1000.0,
		       quantile_us(lat, answered, 0.5), quantile_us(lat, answered, 0.9),
		       quantile_us(lat, answered, 0.99), (double)lat[answered - 1] / 1000.0);
	}
	free(lat);
	return answered ? 0 : 1;
}
