// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vw-spoof: a test tool run inside a test container (a static binary: the image has no
 * libc). It binds a UDP socket to CPORT. With -f it then sends one datagram with a forged source,
 * ADDR:PORT -> its own address:CPORT, as a raw frame to the gateway's MAC, so that the host routes
 * it straight back to us, and waits up to a second for it to arrive. Then it sends COUNT ordinary
 * datagrams to ADDR:PORT. The test counts what reaches ADDR. Prints "looped 0|1" (with -f) and
 * "sent N"; exits 0 when every packet was sent.
 *
 *   vw-spoof [-f -m GATEWAY_MAC] [-i IFNAME] [-p CPORT] [-n COUNT] ADDR:PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define PAYLOAD "vw-spoof"

struct forged {
	struct iphdr ip;
	struct udphdr udp;
	char data[sizeof(PAYLOAD)];
} __attribute__((packed));

static int fail(const char *what)
{
	fprintf(stderr, "vw-spoof: %s: %s\n", what, strerror(errno));
	return 1;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: vw-spoof [-f -m GATEWAY_MAC] [-i IFNAME] [-p CPORT] [-n COUNT] ADDR:PORT\n");
	return 2;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *ret)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || n < min || n > max) {
		fprintf(stderr, "vw-spoof: bad number '%s'\n", s);
		return -EINVAL;
	}
	*ret = n;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[ETH_ALEN])
{
	int n = -1;

	if (sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx%n", &mac[0], &mac[1], &mac[2], &mac[3],
		   &mac[4], &mac[5], &n) != 6 ||
	    n < 0 || s[n]) {
		fprintf(stderr, "vw-spoof: bad MAC address '%s'\n", s);
		return -EINVAL;
	}
	return 0;
}

static int parse_dst(const char *s, struct sockaddr_in *ret)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(s, ':');
	unsigned long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		goto bad;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	*ret = (struct sockaddr_in){ .sin_family = AF_INET };
	if (inet_pton(AF_INET, host, &ret->sin_addr) != 1 || parse_uint(colon + 1, 1, 65535, &port))
		goto bad;
	ret->sin_port = htons((uint16_t)port);
	return 0;
bad:
	fprintf(stderr, "vw-spoof: bad destination '%s' (want ADDR:PORT)\n", s);
	return -EINVAL;
}

static uint16_t ip_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* ADDR:PORT -> self:CPORT, from the raw socket, so the kernel does not check the source. */
static int send_forged(int ifindex, const uint8_t mac[ETH_ALEN], const struct sockaddr_in *from,
		       const struct sockaddr_in *self)
{
	struct sockaddr_ll ll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IP),
		.sll_ifindex = ifindex,
		.sll_halen = ETH_ALEN,
	};
	struct forged f = {
		.ip = { .version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_UDP },
		.data = PAYLOAD,
	};
	int fd, r;

	memcpy(ll.sll_addr, mac, ETH_ALEN);
	f.ip.tot_len = htons(sizeof(f));
	f.ip.id = htons((uint16_t)getpid());
	f.ip.saddr = from->sin_addr.s_addr;
	f.ip.daddr = self->sin_addr.s_addr;
	f.ip.check = ip_checksum(&f.ip, sizeof(f.ip));
	/* A zero UDP checksum means "none" in IPv4. */
	f.udp.source = from->sin_port;
	f.udp.dest = self->sin_port;
	f.udp.len = htons(sizeof(f) - sizeof(f.ip));

	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
	if (fd < 0)
		return fail("socket(AF_PACKET)");
	r = sendto(fd, &f, sizeof(f), 0, (struct sockaddr *)&ll, sizeof(ll)) == (ssize_t)sizeof(f);
	if (!r)
		(void)fail("sendto(AF_PACKET)");
	(void)close(fd);
	return r ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in dst, self = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 1 };
	socklen_t len = sizeof(self);
	const char *ifname = "eth0";
	unsigned long cport = 40000, count = 5;
	uint8_t mac[ETH_ALEN];
	bool forge = false, have_mac = false;
	char buf[64];
	int fd, c, ifindex;

	while ((c = getopt(argc, argv, "fi:m:p:n:")) != -1) {
		switch (c) {
		case 'f':
			forge = true;
			break;
		case 'i':
			ifname = optarg;
			break;
		case 'm':
			if (parse_mac(optarg, mac) < 0)
				return 2;
			have_mac = true;
			break;
		case 'p':
			if (parse_uint(optarg, 1, 65535, &cport) < 0)
				return 2;
			break;
		case 'n':
			if (parse_uint(optarg, 0, 100000, &count) < 0)
				return 2;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc - 1 || (forge && !have_mac) || parse_dst(argv[optind], &dst) < 0)
		return usage();
	ifindex = (int)if_nametoindex(ifname);
	if (ifindex == 0)
		return fail(ifname);

	/* Our own address: the source the kernel would pick for ADDR. */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail("socket");
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		return fail("connect");
	if (getsockname(fd, (struct sockaddr *)&self, &len) < 0)
		return fail("getsockname");
	(void)close(fd);

	/*
	 * Bound before forging, so the looped-back datagram is ours to read. Not connected: an
	 * ICMP error from ADDR must not fail the next send with ECONNREFUSED.
	 */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail("socket");
	self.sin_port = htons((uint16_t)cport);
	if (bind(fd, (struct sockaddr *)&self, sizeof(self)) < 0)
		return fail("bind");
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return fail("SO_RCVTIMEO");

	if (forge) {
		if (send_forged(ifindex, mac, &dst, &self))
			return 1;
		printf("looped %d\n", recv(fd, buf, sizeof(buf), 0) > 0);
	}
	for (unsigned long i = 0; i < count; i++)
		if (sendto(fd, PAYLOAD, sizeof(PAYLOAD) - 1, 0, (struct sockaddr *)&dst,
			   sizeof(dst)) < 0)
			return fail("send");
	printf("sent %lu\n", count);
	(void)close(fd);
	return 0;
}
