// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz the splitting of GET /containers/json as it arrives. Properties:
 *  - the elements do not depend on how the bytes are cut into pieces;
 *  - with a small cap, each element keeps exactly its first bytes and its whole length;
 *  - an array that parses whole yields, element by element, the same containers as
 *    vw_dockermsg_parse_containers() (when no element is over the cap);
 *  - the id read from the beginning of an element is the id its full parse finds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/dockermsg.h"
#include "vpnwall/policy.h"

#define SMALL_MAX 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct element {
	char *buf;
	size_t len;
	size_t size;
};

struct elements {
	struct element *v;
	size_t n;
};

static int collect(void *ud, const char *buf, size_t len, size_t size)
{
	struct elements *e = ud;
	struct element *v = realloc(e->v, (e->n + 1) * sizeof(*v));

	if (!v)
		abort();
	e->v = v;
	v[e->n].buf = malloc(len + 1);
	if (!v[e->n].buf)
		abort();
	if (len)
		memcpy(v[e->n].buf, buf, len);
	v[e->n].len = len;
	v[e->n].size = size;
	e->n++;
	return 0;
}

static void elements_done(struct elements *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].buf);
	free(e->v);
}

/* Split @buf fed in pieces whose sizes come from @seed (0: in one piece). Returns 1 if done. */
static int split(const char *buf, size_t len, size_t max, unsigned seed, struct elements *e)
{
	struct vw_json_splitter *s;
	int r = 0, done;

	if (vw_json_splitter_new(max, &s) < 0)
		abort();
	for (size_t off = 0; off < len && r == 0;) {
		size_t n = seed ? 1 + (seed + off * 7) % 13 : len;

		if (n > len - off)
			n = len - off;
		r = vw_json_splitter_feed(s, buf + off, n, collect, e);
		off += n;
	}
	done = r == 0 && vw_json_splitter_is_done(s);
	vw_json_splitter_free(s);
	return done;
}

static void check_same(const struct vw_container *a, const struct vw_container *b)
{
	if (strcmp(a->id, b->id) != 0 || strcmp(a->name, b->name) != 0 ||
	    strcmp(a->netns_owner, b->netns_owner) != 0 || a->running != b->running ||
	    a->host_network != b->host_network || a->n_eps != b->n_eps ||
	    a->labels.n_outbound != b->labels.n_outbound ||
	    a->labels.n_allow != b->labels.n_allow || a->labels.n_errors != b->labels.n_errors ||
	    a->labels.disabled != b->labels.disabled || a->labels.dry_run != b->labels.dry_run)
		abort();
	for (size_t i = 0; i < a->n_eps; i++)
		if (strcmp(a->eps[i].network_id, b->eps[i].network_id) != 0 ||
		    a->eps[i].has4 != b->eps[i].has4 || a->eps[i].has6 != b->eps[i].has6 ||
		    memcmp(a->eps[i].addr4, b->eps[i].addr4, 4) != 0 ||
		    memcmp(a->eps[i].addr6, b->eps[i].addr6, 16) != 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct elements whole = { 0 }, pieces = { 0 }, small = { 0 };
	struct vw_container *cs, c;
	size_t n, k = 0;
	int done;

	done = split(buf, size, SIZE_MAX, 0, &whole);
	if (split(buf, size, SIZE_MAX, size ? data[0] : 1, &pieces) != done || pieces.n != whole.n)
		abort();
	if (split(buf, size, SMALL_MAX, 0, &small) != done || small.n != whole.n)
		abort();
	for (size_t i = 0; i < whole.n; i++) {
		struct element *w = &whole.v[i], *p = &pieces.v[i], *s = &small.v[i];

		if (w->len != w->size || p->len != w->len || memcmp(p->buf, w->buf, w->len) != 0)
			abort();
		if (s->size != w->size || s->len != (w->size < SMALL_MAX ? w->size : SMALL_MAX) ||
		    memcmp(s->buf, w->buf, s->len) != 0)
			abort();
	}

	/* cJSON skips a byte order mark before the array; Docker never sends one. */
	if (size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		goto out;
	if (vw_dockermsg_parse_containers(buf, size, &cs, &n) == 0) {
		if (!done)
			abort();
		for (size_t i = 0; i < whole.n; i++) {
			char id[VW_ID_MAX + 1];

			if (vw_dockermsg_parse_container(whole.v[i].buf, whole.v[i].len, &c) < 0)
				continue;
			if (k >= n)
				abort();
			check_same(&c, &cs[k++]);
			/* Where the prefix finds an id, it is the one the full parse uses. */
			if (vw_dockermsg_parse_id_prefix(whole.v[i].buf, whole.v[i].len, id) == 0 &&
			    strcmp(id, c.id) != 0)
				abort();
			vw_container_done(&c);
		}
		if (k != n)
			abort();
		for (size_t i = 0; i < n; i++)
			vw_container_done(&cs[i]);
		free(cs);
	}
out:
	elements_done(&whole);
	elements_done(&pieces);
	elements_done(&small);
	return 0;
}
