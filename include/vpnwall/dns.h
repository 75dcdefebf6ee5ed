/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Asynchronous A/AAAA lookups with c-ares, driven by the daemon's event loop. The module
 * only asks and reports; which names to ask for and what the answers mean for policy is
 * decided elsewhere (names, policy).
 */
#ifndef VW_DNS_H
#define VW_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "vpnwall/names.h"

struct vw_dns;
struct vw_loop;

/*
 * Called once per query. @fam: 0 = A, 1 = AAAA. @addrs: addresses 16 bytes apart (IPv4 in
 * the first 4, rest zero). @ttl: seconds, the smallest over the answer.
 */
typedef void (*vw_dns_fn)(void *userdata, const char *name, int fam, enum vw_dns_status status,
			  const uint8_t (*addrs)[16], size_t n, unsigned ttl);

/* vw_dns_new - a resolver using @servers ("ip[:port],..."; "" = /etc/resolv.conf). */
int vw_dns_new(struct vw_loop *loop, const char *servers, struct vw_dns **ret_dns);

/*
 * vw_dns_new_forwarder - the same for forwarding whole messages (vw_dns_send): every answer
 * is passed on, REFUSED and SERVFAIL included, and a truncated UDP answer is asked again
 * over TCP.
 */
int vw_dns_new_forwarder(struct vw_loop *loop, const char *servers, struct vw_dns **ret_dns);

/*
 * vw_dns_set_device - send queries only through interface @dev ("x+": none until
 * vw_dns_set_device() names a real one; NULL: whatever the routes say). A socket that cannot
 * be bound fails its query: nothing leaves by another way.
 */
int vw_dns_set_device(struct vw_dns *d, const char *dev);

/*
 * Called once per vw_dns_send(): @status 0 with the answer (@msg, @len), or -ETIMEDOUT,
 * -ECONNREFUSED, -ECANCELED (freed) or another -errno without one.
 */
typedef void (*vw_dns_msg_fn)(void *userdata, int status, const uint8_t *msg, size_t len);

/*
 * vw_dns_send - send the query @msg (its id is what the answer must carry) to the servers
 * and call @cb with the answer. c-ares takes only answers from the server asked, with the
 * same id and question.
 */
int vw_dns_send(struct vw_dns *d, const uint8_t *msg, size_t len, vw_dns_msg_fn cb, void *userdata);

/* vw_dns_free - cancel outstanding queries (their callbacks are not called). Accepts NULL. */
void vw_dns_free(struct vw_dns *d);

/* vw_dns_query - start a lookup of @name (an FQDN, no search list). */
int vw_dns_query(struct vw_dns *d, const char *name, int fam, vw_dns_fn cb, void *userdata);

/* vw_dns_timeout - ms until c-ares needs vw_dns_process_timeouts(), or -1. */
int vw_dns_timeout(struct vw_dns *d);

/* vw_dns_process_timeouts - let c-ares retry or fail queries whose time ran out. */
void vw_dns_process_timeouts(struct vw_dns *d);

#endif
