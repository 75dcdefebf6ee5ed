// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * udprelay: the least a userspace DNS proxy can do, to measure what one more process on the
 * path costs on this machine. It reads datagrams on LISTEN:PORT, sends each unchanged to the
 * upstream from one connected socket, and sends each answer back to the client that used
 * that DNS id last. No parsing beyond the id, no policy, no nftables, no c-ares: two sockets,
 * one poll(), one recvfrom() and one sendto() per datagram and direction. Its added latency
 * is the floor under any proxy that answers from userspace (vpnwalld's included).
 *
 *   udprelay -l LISTEN_ADDR [-p PORT] -u UPSTREAM_ADDR [-P UPSTREAM_PORT]
 *
 * Runs until killed. Prints "ready" on stdout once both sockets are bound.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MSG_MAX 4096

static int usage(void)
{
	fprintf(stderr, "usage: udprelay -l LISTEN_ADDR [-p PORT] -u UPSTREAM_ADDR [-P PORT]\n");
	return 2;
}

static int parse_addr(struct sockaddr_in *sa, const char *addr, const char *port)
{
	char *end;
	long p = strtol(port, &end, 10);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (*end || p <= 0 || p > 65535 || inet_pton(AF_INET, addr, &sa->sin_addr) != 1)
		return -1;
	sa->sin_port = htons((uint16_t)p);
	return 0;
}

int main(int argc, char **argv)
{
	/* Who asked each DNS id last: enough for a benchmark whose ids are unique in flight. */
	static struct sockaddr_in client_of[65536];
	const char *laddr = NULL, *lport = "53", *uaddr = NULL, *uport = "53";
	struct sockaddr_in listen_sa, up_sa;
	struct pollfd pfd[2];
	uint8_t buf[MSG_MAX];
	int opt, ls, us;

	while ((opt = getopt(argc, argv, "l:p:u:P:")) != -1) {
		switch (opt) {
		case 'l':
			laddr = optarg;
			break;
		case 'p':
			lport = optarg;
			break;
		case 'u':
			uaddr = optarg;
			break;
		case 'P':
			uport = optarg;
			break;
		default:
			return usage();
		}
	}
	if (!laddr || !uaddr || parse_addr(&listen_sa, laddr, lport) < 0 ||
	    parse_addr(&up_sa, uaddr, uport) < 0)
		return usage();
	ls = socket(AF_INET, SOCK_DGRAM, 0);
	us = socket(AF_INET, SOCK_DGRAM, 0);
	if (ls < 0 || us < 0 || bind(ls, (struct sockaddr *)&listen_sa, sizeof(listen_sa)) < 0 ||
	    connect(us, (struct sockaddr *)&up_sa, sizeof(up_sa)) < 0) {
		perror("udprelay");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	pfd[0] = (struct pollfd){ .fd = ls, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = us, .events = POLLIN };
	for (;;) {
		struct sockaddr_in from;
		socklen_t fromlen = sizeof(from);
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("poll");
			return 1;
		}
		if (pfd[0].revents & POLLIN) {
			n = recvfrom(ls, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
				     &fromlen);
			if (n >= 2) {
				client_of[(buf[0] << 8) | buf[1]] = from;
				(void)send(us, buf, (size_t)n, MSG_DONTWAIT);
			}
		}
		if (pfd[1].revents & POLLIN) {
			n = recv(us, buf, sizeof(buf), MSG_DONTWAIT);
			if (n >= 2) {
				const struct sockaddr_in *to = &client_of[(buf[0] << 8) | buf[1]];

				if (to->sin_family == AF_INET)
					(void)sendto(ls, buf, (size_t)n, MSG_DONTWAIT,
						     (const struct sockaddr *)to, sizeof(*to));
			}
		}
	}
}
