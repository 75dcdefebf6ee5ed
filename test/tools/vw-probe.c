// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vw-probe: a test tool run inside a test container (a static binary: the image has no
 * libc). It sends numbered UDP datagrams ("vw-probe N") to ADDR:PORT every INTERVAL ms
 * until it is stopped, so that a test can count, at the receiving end and per path, what
 * got out while it changed the world around the container. A send that fails (no route,
 * say) is skipped, not fatal: the next one is tried on time.
 *
 *   vw-probe ADDR PORT [INTERVAL_MS]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

int main(int argc, char **argv)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr *to = (struct sockaddr *)&a4;
	socklen_t tolen = sizeof(a4);
	long interval = argc > 3 ? atol(argv[3]) : 10;
	unsigned long port = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
	struct timespec next;
	int fd;

	if (argc < 3 || port == 0 || port > 65535 || interval <= 0 || interval > 60000) {
		fprintf(stderr, "usage: vw-probe ADDR PORT [INTERVAL_MS]\n");
		return 2;
	}
	if (inet_pton(AF_INET, argv[1], &a4.sin_addr) == 1) {
		a4.sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, argv[1], &a6.sin6_addr) == 1) {
		a6.sin6_port = htons((uint16_t)port);
		to = (struct sockaddr *)&a6;
		tolen = sizeof(a6);
	} else {
		fprintf(stderr, "vw-probe: not an address: %s\n", argv[1]);
		return 2;
	}
	fd = socket(to->sa_family, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("vw-probe: socket");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (unsigned long n = 1;; n++) {
		char msg[32];
		int len = snprintf(msg, sizeof(msg), "vw-probe %lu\n", n);

		(void)sendto(fd, msg, (size_t)len, 0, to, tolen);
		/* Absolute deadlines: the rate stays put however long a send takes. */
		next.tv_nsec += interval * 1000000L;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) != 0)
			;
	}
}
