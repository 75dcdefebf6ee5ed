/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The DNS proxy's sockets: managed containers' queries arrive here over UDP and TCP (our
 * nft table redirects their port 53), go upstream through c-ares (vw_dns_send) under a
 * random id of ours, and the answers go back with the client's id, truncated for a UDP
 * client that cannot take them whole. What may be asked, and what an answer grants, is
 * decided by the caller (ops): this module only moves messages.
 *
 * Hostile input is the rule here: a datagram that is not a standard query with one
 * question is dropped or answered FORMERR, responses sent to the proxy (spoofed answers)
 * are ignored, and queries in flight, TCP connections and their buffers are bounded.
 */
#ifndef VW_DNSPROXY_H
#define VW_DNSPROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnwall/dnsmsg.h"
#include "vpnwall/ruleset.h"

struct vw_dns;
struct vw_dnsproxy;
struct vw_loop;

#define VW_DNSPROXY_PENDING_MAX 4096 /* queries upstream at once, over all clients */
#define VW_DNSPROXY_TCP_MAX 256 /* TCP connections at once */
#define VW_DNSPROXY_TCP_IDLE_MS 10000 /* an idle TCP connection is closed */

enum vw_dnsq_verdict {
	VW_DNSQ_FORWARD, /* ask upstream, then answered() */
	VW_DNSQ_REFUSE, /* answer REFUSED */
	VW_DNSQ_NXDOMAIN, /* answer NXDOMAIN */
	VW_DNSQ_DROP, /* no answer (the client is over its share: it will retry) */
};

/* What the proxy knows of one query. */
struct vw_dnsq {
	uint8_t family; /* the client's address */
	uint8_t addr[16];
	bool tcp;
	bool local; /* sent by the host itself (over loopback), not by a container */
	struct vw_dns_query q; /* with the client's id */
	char key[VW_KEY_LEN + 1]; /* set by ask(): the container it belongs to, "" if none */
	bool audited; /* set by ask(): forwarded although its policy denies it */
	/*
	 * Set by ask(): counted against its container's queries in flight. done() gives the
	 * slot back whatever the verdict: the proxy may still drop a query ask() let through.
	 */
	bool counted;
};

struct vw_dnsproxy_ops {
	/* A client's query: what to do with it (may fill q->key, q->audited, q->counted). */
	enum vw_dnsq_verdict (*ask)(void *ud, struct vw_dnsq *q);
	/*
	 * The upstream's answer (@msg, with the client's id) to a forwarded query: learn from
	 * it before the client may use it. 0: pass it on; < 0: the client gets SERVFAIL.
	 */
	int (*answered)(void *ud, const struct vw_dnsq *q, const uint8_t *msg, size_t len);
	/*
	 * The query is over: @rcode is what the client got (-1: nothing, it was dropped or the
	 * client went away), @ns how long the proxy held it.
	 */
	void (*done)(void *ud, const struct vw_dnsq *q, enum vw_dnsq_verdict verdict, int rcode,
		     uint64_t ns);
};

/*
 * vw_dnsproxy_new - listen on UDP and TCP @port, every address of both families, and
 * forward through @upstream (a vw_dns_new_forwarder(), not owned).
 */
int vw_dnsproxy_new(struct vw_loop *loop, uint16_t port, struct vw_dns *upstream,
		    const struct vw_dnsproxy_ops *ops, void *ud, struct vw_dnsproxy **ret);

/* vw_dnsproxy_free - close everything; queries in flight end without answer. Accepts NULL. */
void vw_dnsproxy_free(struct vw_dnsproxy *p);

/* vw_dnsproxy_timeout - ms until vw_dnsproxy_process() has something to do, or -1. */
int vw_dnsproxy_timeout(const struct vw_dnsproxy *p);

/* vw_dnsproxy_process - close idle TCP connections. */
void vw_dnsproxy_process(struct vw_dnsproxy *p, uint64_t now_ms);

#endif
