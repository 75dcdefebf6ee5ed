// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The synthetic Docker world (see synth.h). The JSON follows what Engine 20.10 (API 1.41)
 * sends, fields the daemon ignores included, so parsing costs what it costs for real.
 */
#include "synth.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fputs("out of memory\n", stderr);
		abort();
	}
	return p;
}

static void reserve(struct sbuf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 256;

	if (b->len + n + 1 <= b->cap)
		return;
	while (cap < b->len + n + 1)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void sbuf_append(struct sbuf *b, const char *s, size_t n)
{
	reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	reserve(b, (size_t)n);
	va_start(ap, fmt);
	(void)vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void sbuf_done(struct sbuf *b)
{
	free(b->p);
	*b = (struct sbuf){ 0 };
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* 16 unique digits (mix is a bijection), the index itself, then filler. */
void synth_id(unsigned idx, char out[65])
{
	snprintf(out, 65, "%016llx%08x%016llx%016llx%08x", (unsigned long long)mix(idx), idx,
		 (unsigned long long)mix(idx ^ 0x5a5a5a5aULL), (unsigned long long)mix(idx + 77),
		 (unsigned)(mix(idx + 99) & 0xffffffffu));
}

long synth_index(const char *id)
{
	char buf[9], want[65];
	unsigned long v;
	char *end;

	if (strlen(id) != 64)
		return -1;
	memcpy(buf, id + 16, 8);
	buf[8] = '\0';
	v = strtoul(buf, &end, 16);
	if (*end || v >= SYNTH_MAX_CONTAINERS)
		return -1;
	synth_id((unsigned)v, want);
	return strcmp(want, id) == 0 ? (long)v : -1;
}

static unsigned host_of(unsigned idx)
{
	return idx + 2; /* .0.0 is the network, .0.1 the bridge */
}

void synth_addr(unsigned idx, char out[16])
{
	unsigned h = host_of(idx);

	snprintf(out, 16, "198.18.%u.%u", (h >> 8) & 255, h & 255);
}

static void mac_of(unsigned idx, char out[18])
{
	unsigned h = host_of(idx);

	snprintf(out, 18, "02:42:c6:12:%02x:%02x", (h >> 8) & 255, h & 255);
}

static void endpoint_of(unsigned idx, char out[65])
{
	snprintf(out, 65, "%016llx%016llx%016llx%016llx", (unsigned long long)mix(idx + 1000003),
		 (unsigned long long)mix(idx + 2000003), (unsigned long long)mix(idx + 3000003),
		 (unsigned long long)mix(idx + 4000003));
}

void synth_label(const struct synth *s, unsigned idx, struct sbuf *out)
{
	for (unsigned j = 0; j < s->dests; j++)
		sbuf_printf(out, "%s198.19.%u.%u:%u/tcp", j ? "," : "", (idx >> 8) & 255, idx & 255,
			    1000 + 2 * j);
	if (s->extra && s->extra_idx == (long)idx)
		sbuf_printf(out, "%s%s", s->dests ? "," : "", s->extra);
}

static void labels(const struct synth *s, unsigned idx, struct sbuf *out)
{
	sbuf_printf(out, "{\"com.example.bench\":\"yes\",\"vpn.outbound\":\"");
	synth_label(s, idx, out);
	sbuf_printf(out, "\"}");
}

static void network(unsigned idx, struct sbuf *out)
{
	char addr[16], mac[18], eid[65];

	synth_addr(idx, addr);
	mac_of(idx, mac);
	endpoint_of(idx, eid);
	sbuf_printf(out,
		    "{\"Networks\":{\"" SYNTH_NET_NAME "\":{\"IPAMConfig\":null,\"Links\":null,"
		    "\"Aliases\":null,\"NetworkID\":\"" SYNTH_NET_ID "\",\"EndpointID\":\"%s\","
		    "\"Gateway\":\"" SYNTH_GATEWAY "\",\"IPAddress\":\"%s\",\"IPPrefixLen\":%d,"
		    "\"IPv6Gateway\":\"\",\"GlobalIPv6Address\":\"\",\"GlobalIPv6PrefixLen\":0,"
		    "\"MacAddress\":\"%s\",\"DriverOpts\":null}}}",
		    eid, addr, SYNTH_PREFIX, mac);
}

void synth_list_item(const struct synth *s, unsigned idx, struct sbuf *out)
{
	char id[65];

	synth_id(idx, id);
	sbuf_printf(
		out,
		"{\"Id\":\"%s\",\"Names\":[\"/c%u\"],\"Image\":\"busybox\","
		"\"ImageID\":\"sha256:1a80408de790c0b1075d0a7e23ff7da78b311d85f36ea1b7a1d8d32a5e8bbc9a\","
		"\"Command\":\"sleep infinity\",\"Created\":1700000000,\"Ports\":[],\"Labels\":",
		id, idx);
	labels(s, idx, out);
	sbuf_printf(out, ",\"State\":\"running\",\"Status\":\"Up 5 minutes\","
			 "\"HostConfig\":{\"NetworkMode\":\"default\"},\"NetworkSettings\":");
	network(idx, out);
	sbuf_printf(out, ",\"Mounts\":[]}");
}

void synth_inspect(const struct synth *s, unsigned idx, bool running, struct sbuf *out)
{
	char id[65];

	synth_id(idx, id);
	sbuf_printf(
		out,
		"{\"Id\":\"%s\",\"Created\":\"2023-11-14T22:13:20.000000000Z\","
		"\"Path\":\"sleep\",\"Args\":[\"infinity\"],\"State\":{\"Status\":\"%s\","
		"\"Running\":%s,\"Paused\":false,\"Restarting\":false,\"OOMKilled\":false,"
		"\"Dead\":false,\"Pid\":%u,\"ExitCode\":0,\"Error\":\"\","
		"\"StartedAt\":\"2023-11-14T22:13:21.000000000Z\","
		"\"FinishedAt\":\"0001-01-01T00:00:00Z\"},"
		"\"Image\":\"sha256:1a80408de790c0b1075d0a7e23ff7da78b311d85f36ea1b7a1d8d32a5e8bbc9a\","
		"\"Name\":\"/c%u\",\"RestartCount\":0,\"Driver\":\"overlay2\",\"Platform\":\"linux\","
		"\"HostConfig\":{\"NetworkMode\":\"default\",\"RestartPolicy\":{\"Name\":\"no\","
		"\"MaximumRetryCount\":0},\"CapAdd\":null,\"CapDrop\":null},"
		"\"Config\":{\"Hostname\":\"%.12s\",\"Domainname\":\"\",\"User\":\"\","
		"\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],"
		"\"Cmd\":[\"sleep\",\"infinity\"],\"Image\":\"busybox\",\"Labels\":",
		id, running ? "running" : "exited", running ? "true" : "false", 1000 + idx, idx,
		id);
	labels(s, idx, out);
	sbuf_printf(out,
		    "},\"NetworkSettings\":{\"Bridge\":\"\",\"SandboxID\":\"%.64s\","
		    "\"SandboxKey\":\"/var/run/docker/netns/%.12s\",\"Ports\":{},",
		    id, id);
	/* network() renders {"Networks":{...}}: splice its inside into NetworkSettings. */
	{
		struct sbuf n = { 0 };

		network(idx, &n);
		sbuf_append(out, n.p + 1, n.len - 1);
		sbuf_done(&n);
	}
	sbuf_printf(out, "}");
}

void synth_event(const struct synth *s, const char *action, unsigned idx, struct sbuf *out)
{
	struct timespec ts;
	char id[65];

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	synth_id(idx, id);
	if (strcmp(action, "connect") == 0 || strcmp(action, "disconnect") == 0) {
		sbuf_printf(
			out,
			"{\"Type\":\"network\",\"Action\":\"%s\",\"Actor\":{\"ID\":\"" SYNTH_NET_ID
			"\",\"Attributes\":{\"container\":\"%s\",\"name\":\"" SYNTH_NET_NAME
			"\",\"type\":\"bridge\"}},\"scope\":\"local\",\"time\":%lld,"
			"\"timeNano\":%lld}\n",
			action, id, (long long)ts.tv_sec,
			(long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
		return;
	}
	/* Engine 20.10 copies every label of the container into the attributes. */
	sbuf_printf(out,
		    "{\"status\":\"%s\",\"id\":\"%s\",\"from\":\"busybox\",\"Type\":\"container\","
		    "\"Action\":\"%s\",\"Actor\":{\"ID\":\"%s\",\"Attributes\":{"
		    "\"com.example.bench\":\"yes\",\"image\":\"busybox\",\"name\":\"c%u\","
		    "\"vpn.outbound\":\"",
		    action, id, action, id, idx);
	synth_label(s, idx, out);
	sbuf_printf(out, "\"}},\"scope\":\"local\",\"time\":%lld,\"timeNano\":%lld}\n",
		    (long long)ts.tv_sec, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

void synth_networks(struct sbuf *out)
{
	sbuf_printf(out,
		    "[{\"Name\":\"" SYNTH_NET_NAME "\",\"Id\":\"" SYNTH_NET_ID "\","
		    "\"Created\":\"2023-11-14T22:13:20.000000000Z\",\"Scope\":\"local\","
		    "\"Driver\":\"bridge\",\"EnableIPv6\":false,\"IPAM\":{\"Driver\":\"default\","
		    "\"Options\":null,\"Config\":[{\"Subnet\":\"198.18.0.0/16\","
		    "\"Gateway\":\"" SYNTH_GATEWAY "\"}]},\"Internal\":false,\"Attachable\":false,"
		    "\"Ingress\":false,\"ConfigFrom\":{\"Network\":\"\"},\"ConfigOnly\":false,"
		    "\"Containers\":{},\"Options\":{\"com.docker.network.bridge.name\":"
		    "\"" SYNTH_BRIDGE "\"},\"Labels\":{}}]\n");
}
