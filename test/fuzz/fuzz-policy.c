// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz policy compilation and the diff together. The input describes two states of up to
 * six containers (labels, addresses, whether they run, what their names resolve to); both
 * are compiled, and the plan diff(a, b) is executed against a model of what the kernel
 * holds, starting from a. Properties:
 *   - every compiled box set is sorted and pairwise disjoint (the kernel refuses overlaps);
 *   - executing the plan never deletes what is absent, never adds what is present, never
 *     adds a box overlapping one still in the set, never points a source at a container
 *     that does not exist, and never deletes a container still referenced;
 *   - destinations are held per source address, as the nft backend stores them: a source
 *     gets its container's boxes whole when added and loses exactly them when deleted, and
 *     box changes reach exactly the sources that keep their container;
 *   - afterwards the model equals b.
 *
 * Input: lines. "A<i> key=value" / "B<i> key=value" give container i a label in state A or
 * B; "R<i> <addr>" makes name n<i>.test resolve to <addr> (in both states); "M<i>" moves
 * container i to another address in B; "D<i>" stops it in B; "X<i>" opts it out in B.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnwall/config.h"
#include "vpnwall/labels.h"
#include "vpnwall/names.h"
#include "vpnwall/policy.h"
#include "vpnwall/ruleset.h"

#define N 6 /* containers */

#define NET_ID "aaaaaaaaaaaaaaaa"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mbox {
	uint8_t family;
	struct vw_box b;
};

/* The kernel as the plan leaves it. */
struct model {
	char keys[64][VW_KEY_LEN + 1];
	bool audit[64];
	size_t n_keys;
	struct vw_rs_source src[64];
	size_t n_src;
	struct vw_rs_bridge br[64];
	size_t n_br;
	struct {
		struct vw_rs_source src; /* the source the box applies to (key unused) */
		struct mbox b;
	} boxes[2 * N * VW_CONTAINER_COST_MAX];
	size_t n_boxes;
};

static void check(bool ok)
{
	if (!ok)
		abort();
}

static int key_index(const struct model *m, const char *key)
{
	for (size_t i = 0; i < m->n_keys; i++)
		if (strcmp(m->keys[i], key) == 0)
			return (int)i;
	return -1;
}

static bool box_eq(const struct vw_box *a, const struct vw_box *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static bool overlap(uint8_t family, const struct vw_box *a, const struct vw_box *b)
{
	size_t len = vw_addr_len(family);

	return memcmp(a->lo, b->hi, len) <= 0 && memcmp(b->lo, a->hi, len) <= 0 &&
	       a->proto_lo <= b->proto_hi && b->proto_lo <= a->proto_hi &&
	       a->port_lo <= b->port_hi && b->port_lo <= a->port_hi;
}

static bool same_src(const struct vw_rs_source *a, const struct vw_rs_source *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, vw_addr_len(a->family)) == 0;
}

static int box_index(const struct model *m, const struct vw_rs_source *src, const struct vw_box *b)
{
	for (size_t i = 0; i < m->n_boxes; i++)
		if (same_src(&m->boxes[i].src, src) && box_eq(&m->boxes[i].b.b, b))
			return (int)i;
	return -1;
}

static void add_box(struct model *m, const struct vw_rs_source *src, const struct vw_box *b)
{
	check(box_index(m, src, b) < 0);
	for (size_t i = 0; i < m->n_boxes; i++)
		if (same_src(&m->boxes[i].src, src))
			check(!overlap(src->family, &m->boxes[i].b.b, b));
	check(m->n_boxes < sizeof(m->boxes) / sizeof(m->boxes[0]));
	m->boxes[m->n_boxes].src = *src;
	m->boxes[m->n_boxes].b.family = src->family;
	m->boxes[m->n_boxes++].b.b = *b;
}

static void del_box(struct model *m, const struct vw_rs_source *src, const struct vw_box *b)
{
	int i = box_index(m, src, b);

	check(i >= 0);
	m->boxes[i] = m->boxes[--m->n_boxes];
}

static size_t boxes_of(const struct model *m, const struct vw_rs_source *src)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n_boxes; i++)
		n += same_src(&m->boxes[i].src, src);
	return n;
}

static int src_index(const struct model *m, const struct vw_rs_source *s)
{
	for (size_t i = 0; i < m->n_src; i++)
		if (m->src[i].family == s->family &&
		    memcmp(m->src[i].addr, s->addr, vw_addr_len(s->family)) == 0)
			return (int)i;
	return -1;
}

static int bridge_index(const struct model *m, const char *name)
{
	for (size_t i = 0; i < m->n_br; i++)
		if (strcmp(m->br[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void run_op(struct model *m, const struct vw_op *op)
{
	int i;

	switch (op->type) {
	case VW_OP_RESET:
		memset(m, 0, sizeof(*m));
		break;
	case VW_OP_CONTAINER_DEL:
		i = key_index(m, op->c->key);
		check(i >= 0);
		for (size_t k = 0; k < m->n_src; k++)
			check(strcmp(m->src[k].key, op->c->key) != 0);
		memcpy(m->keys[i], m->keys[m->n_keys - 1], sizeof(m->keys[0]));
		m->audit[i] = m->audit[--m->n_keys];
		break;
	case VW_OP_CONTAINER_ADD:
		check(key_index(m, op->c->key) < 0 && m->n_keys < 64);
		memcpy(m->keys[m->n_keys], op->c->key, sizeof(m->keys[0]));
		m->audit[m->n_keys++] = op->c->audit;
		break;
	case VW_OP_BOXES_DEL:
	case VW_OP_BOXES_ADD:
		check(key_index(m, op->c->key) >= 0);
		for (size_t s = 0; s < op->n_srcs; s++) {
			const struct vw_rs_source *src = &op->srcs[s];

			/* only sources that point at the container, now */
			i = src_index(m, src);
			check(i >= 0 && strcmp(m->src[i].key, op->c->key) == 0);
			for (size_t k = 0; src->family == op->family && k < op->n_boxes; k++)
				if (op->type == VW_OP_BOXES_ADD)
					add_box(m, src, &op->boxes[k]);
				else
					del_box(m, src, &op->boxes[k]);
		}
		/* every source that does gets the change */
		for (size_t s = 0; s < m->n_src; s++) {
			bool listed = false;

			for (size_t k = 0; k < op->n_srcs; k++)
				listed |= same_src(&op->srcs[k], &m->src[s]);
			check(listed || strcmp(m->src[s].key, op->c->key) != 0);
		}
		break;
	case VW_OP_SOURCE_DEL:
		i = src_index(m, op->src);
		check(i >= 0 && strcmp(m->src[i].key, op->src->key) == 0);
		if (op->src->key[0]) {
			const struct vw_boxset *bs = &op->c->dst[vw_family_index(op->src->family)];

			/* the container the source pointed at, with the boxes it holds */
			check(op->c && strcmp(op->c->key, op->src->key) == 0);
			for (size_t k = 0; k < bs->n; k++)
				del_box(m, op->src, &bs->v[k]);
		}
		check(boxes_of(m, op->src) == 0);
		m->src[i] = m->src[--m->n_src];
		break;
	case VW_OP_SOURCE_ADD:
		check(src_index(m, op->src) < 0 && m->n_src < 64);
		check(!op->src->key[0] || key_index(m, op->src->key) >= 0);
		check(boxes_of(m, op->src) == 0);
		if (op->src->key[0]) {
			const struct vw_boxset *bs = &op->c->dst[vw_family_index(op->src->family)];

			check(op->c && strcmp(op->c->key, op->src->key) == 0);
			for (size_t k = 0; k < bs->n; k++)
				add_box(m, op->src, &bs->v[k]);
		}
		m->src[m->n_src++] = *op->src;
		break;
	case VW_OP_BRIDGE_DEL:
		i = bridge_index(m, op->bridge->name);
		check(i >= 0 && m->br[i].managed == op->bridge->managed);
		m->br[i] = m->br[--m->n_br];
		break;
	case VW_OP_BRIDGE_ADD:
		check(bridge_index(m, op->bridge->name) < 0 && m->n_br < 64);
		m->br[m->n_br++] = *op->bridge;
		break;
	}
}

static void load(struct model *m, const struct vw_ruleset *rs)
{
	struct vw_plan p;

	check(vw_ruleset_diff(NULL, rs, NULL, &p) == 0);
	for (size_t i = 0; i < p.n; i++)
		run_op(m, &p.ops[i]);
	vw_plan_done(&p);
}

static void check_equal(const struct model *m, const struct vw_ruleset *rs)
{
	size_t boxes = 0;

	check(m->n_keys == rs->n_containers && m->n_src == rs->n_sources &&
	      m->n_br == rs->n_bridges);
	for (size_t i = 0; i < rs->n_containers; i++) {
		const struct vw_rs_container *c = rs->containers[i];
		int k = key_index(m, c->key);

		check(k >= 0 && m->audit[k] == c->audit);
	}
	/* each source holds exactly its container's boxes of its family */
	for (size_t i = 0; i < rs->n_sources; i++) {
		const struct vw_rs_source *s = &rs->sources[i];
		const struct vw_rs_container *c = s->key[0] ? vw_ruleset_find(rs, s->key) : NULL;
		int k = src_index(m, s);

		check(k >= 0 && strcmp(m->src[k].key, s->key) == 0);
		if (!c)
			continue;
		for (size_t b = 0; b < c->dst[vw_family_index(s->family)].n; b++)
			check(box_index(m, s, &c->dst[vw_family_index(s->family)].v[b]) >= 0);
		boxes += c->dst[vw_family_index(s->family)].n;
	}
	check(boxes == m->n_boxes);
	for (size_t i = 0; i < rs->n_bridges; i++) {
		int k = bridge_index(m, rs->bridges[i].name);

		check(k >= 0 && m->br[k].managed == rs->bridges[i].managed);
	}
}

static void check_boxsets(const struct vw_ruleset *rs)
{
	for (size_t i = 0; i < rs->n_containers; i++)
		for (int f = 0; f < 2; f++) {
			const struct vw_boxset *s = &rs->containers[i]->dst[f];

			for (size_t a = 0; a < s->n; a++) {
				if (a > 0)
					check(memcmp(s->v[a - 1].lo, s->v[a].lo,
						     vw_addr_len(s->family)) <= 0);
				for (size_t b = a + 1; b < s->n; b++)
					check(!overlap(s->family, &s->v[a], &s->v[b]));
			}
		}
}

struct world {
	struct vw_container cs[N];
	const struct vw_container *ptrs[N];
	size_t n;
};

static void container_init(struct vw_container *c, int i, bool moved)
{
	char addr[32];

	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%016x%04x", i + 1, i);
	snprintf(c->name, sizeof(c->name), "c%d", i);
	c->running = true;
	c->eps = calloc(1, sizeof(*c->eps));
	if (!c->eps)
		abort();
	c->n_eps = 1;
	snprintf(c->eps[0].network_id, sizeof(c->eps[0].network_id), NET_ID);
	snprintf(c->eps[0].network, sizeof(c->eps[0].network), "net");
	snprintf(addr, sizeof(addr), "198.18.1.%d", moved ? 100 + i : 2 + i);
	c->eps[0].has4 = inet_pton(AF_INET, addr, c->eps[0].addr4) == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model m;
	struct world w[2];
	struct vw_network net = {
		.id = NET_ID, .name = "net", .bridge = "br-net", .is_bridge = true
	};
	struct vw_network skipped = {
		.id = "bbbbbbbbbbbbbbbb", .name = "other", .bridge = "br-o", .is_bridge = true
	};
	struct vw_network nets[2] = { net, skipped };
	const char *env[] = { "GATEWAY_NETWORKS=!other", NULL };
	char err[256], *text, *line, *save = NULL;
	bool moved[N] = { 0 }, stopped[N] = { 0 }, optout[N] = { 0 };
	struct vw_config cfg;
	struct vw_names names;
	struct vw_ruleset rs[2];
	struct vw_plan plan;

	if (size > 8192)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (vw_config_parse(&cfg, (char *const *)env, 0, NULL, err, sizeof(err)) < 0)
		abort();
	vw_names_init(&names, 1, 60);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int i = line[0] && line[1] >= '0' && line[1] < '0' + N ? line[1] - '0' : -1;

		if (i < 0)
			continue;
		if (line[0] == 'M')
			moved[i] = true;
		else if (line[0] == 'D')
			stopped[i] = true;
		else if (line[0] == 'X')
			optout[i] = true;
	}
	for (int s = 0; s < 2; s++) {
		w[s].n = 0;
		for (int i = 0; i < N; i++) {
			container_init(&w[s].cs[i], i, s == 1 && moved[i]);
			w[s].cs[i].running = !(s == 1 && stopped[i]);
			w[s].cs[i].labels.disabled = s == 1 && optout[i];
			w[s].ptrs[w[s].n++] = &w[s].cs[i];
		}
	}
	memcpy(text, data, size);
	text[size] = '\0';
	save = NULL;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int i = line[0] && line[1] >= '0' && line[1] < '0' + N ? line[1] - '0' : -1;
		char *eq, *val = line + 2 + (line[1] && line[2] == ' ');

		if (i < 0)
			continue;
		if (line[0] == 'A' || line[0] == 'B') {
			eq = strchr(val, '=');
			if (!eq)
				continue;
			*eq = '\0';
			(void)vw_labels_add(&w[line[0] == 'B'].cs[i].labels, val, eq + 1);
		} else if (line[0] == 'R') {
			uint8_t a[16] = { 0 };
			char name[32];
			int fam = strchr(val, ':') ? 1 : 0;

			snprintf(name, sizeof(name), "n%d.test", i);
			if (inet_pton(fam ? AF_INET6 : AF_INET, val, a) == 1 &&
			    vw_names_want(&names, name, 0) == 0)
				(void)vw_names_answer(&names, name, fam, VW_DNS_OK,
						      (const uint8_t(*)[16])a, 1, 30, 0);
		}
	}
	/* (Compiling A forgets names only B uses: B then sees them unresolved. Still valid.) */
	for (int s = 0; s < 2; s++) {
		if (vw_policy_compile(w[s].ptrs, w[s].n, nets, 2, &cfg, &names, 0, &rs[s]) < 0)
			abort();
		check_boxsets(&rs[s]);
	}

	memset(&m, 0, sizeof(m));
	load(&m, &rs[0]);
	check_equal(&m, &rs[0]);
	check(vw_ruleset_diff(&rs[0], &rs[1], NULL, &plan) == 0);
	for (size_t i = 0; i < plan.n; i++)
		run_op(&m, &plan.ops[i]);
	vw_plan_done(&plan);
	check_equal(&m, &rs[1]);

	for (int s = 0; s < 2; s++) {
		vw_ruleset_done(&rs[s]);
		for (int i = 0; i < N; i++)
			vw_container_done(&w[s].cs[i]);
	}
	vw_names_done(&names);
	vw_config_done(&cfg);
	free(text);
	return 0;
}
