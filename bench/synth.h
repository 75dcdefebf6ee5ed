/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The synthetic Docker world of the benchmarks, as Engine API JSON: container ids, addresses,
 * labels, list items, inspect bodies, events and the network list. fakedocker serves it and
 * rulebench parses the very same text with the daemon's parser, so both see one world.
 * Plain libc: fakedocker must not depend on anything else.
 *
 * Container i (0-based) has address 198.18.0.0 + 2 + i on bridge vwbench0 (198.18.0.1/16),
 * name "c<i>", and a vpn.outbound label of D entries "198.19.<i/256>.<i%256>:<1000+2j>/tcp":
 * one address per container and ports two apart, so no two elements merge into one.
 */
#ifndef BENCH_SYNTH_H
#define BENCH_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYNTH_NET_ID "b3e7c1d2a4f5061728394a5b6c7d8e9f00112233445566778899aabbccddeeff"
#define SYNTH_NET_NAME "bench"
#define SYNTH_BRIDGE "vwbench0"
#define SYNTH_GATEWAY "198.18.0.1"
#define SYNTH_PREFIX 16
#define SYNTH_MAX_CONTAINERS 65000 /* addresses left in 198.18.0.0/16 */
#define SYNTH_DESTS_MAX 40 /* a label value stays under the daemon's 1 KiB cap */

/* A growable byte buffer; alloc failures abort (a benchmark tool, not the daemon). */
struct sbuf {
	char *p;
	size_t len;
	size_t cap;
};

void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_append(struct sbuf *b, const char *s, size_t n);
void sbuf_done(struct sbuf *b);

/* The world's shape, shared by every generator call. */
struct synth {
	unsigned dests; /* D: vpn.outbound entries per container */
	long extra_idx; /* this container also gets @extra in its label; -1: none */
	const char *extra; /* e.g. "198.51.100.2:5201/tcp" */
};

/* synth_id - the 64-hex id of container @idx (its first 16 digits are unique). */
void synth_id(unsigned idx, char out[65]);

/* synth_addr - "198.18.x.y" of container @idx. */
void synth_addr(unsigned idx, char out[16]);

/* synth_index - the index of a container id made by synth_id(), or -1. */
long synth_index(const char *id);

/* synth_label - the vpn.outbound value of container @idx. */
void synth_label(const struct synth *s, unsigned idx, struct sbuf *out);

/* synth_list_item - one element of GET /containers/json. */
void synth_list_item(const struct synth *s, unsigned idx, struct sbuf *out);

/* synth_inspect - GET /containers/{id}/json of container @idx. */
void synth_inspect(const struct synth *s, unsigned idx, bool running, struct sbuf *out);

/* synth_event - one events-stream line (with its newline) about container @idx. */
void synth_event(const struct synth *s, const char *action, unsigned idx, struct sbuf *out);

/* synth_networks - GET /networks: the one bench bridge network. */
void synth_networks(struct sbuf *out);

#endif
