// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * firstconn: run as a container's command, it tries TCP connections to ADDR:PORT, a new
 * one every INTERVAL ms (each attempt waits at most that long: a dropped SYN is not retried
 * by the kernel a second later, it is replaced by a new attempt), and prints the wall-clock
 * time of the first that connects, in ns since the epoch (the host's clock: containers share
 * it), then sleeps forever. A static binary: the test image has no libc.
 *
 *   firstconn ADDR PORT [INTERVAL_MS]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int attempt(const struct sockaddr_in *a, int ms)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
	socklen_t len = sizeof(err);
	struct pollfd p;

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) == 0) {
		close(fd);
		return 0;
	}
	if (errno != EINPROGRESS) {
		close(fd);
		usleep((useconds_t)ms * 1000);
		return -1;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    err == 0) {
		close(fd);
		return 0;
	}
	close(fd);
	return -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int ms = argc > 3 ? atoi(argv[3]) : 5;
	struct timespec t;

	if (argc < 3 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 || ms <= 0) {
		fprintf(stderr, "usage: firstconn ADDR PORT [INTERVAL_MS]\n");
		return 2;
	}
	a.sin_port = htons((uint16_t)atoi(argv[2]));
	while (attempt(&a, ms) < 0)
		;
	clock_gettime(CLOCK_REALTIME, &t);
	printf("connected %lld\n", (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
	fflush(stdout);
	for (;;)
		pause();
}
