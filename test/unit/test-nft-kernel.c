// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The nft backend against the real kernel, in a private network namespace of its own (no
 * Docker, nothing outside the namespace is touched): a full replacement and incremental
 * plans are accepted, the destination sets hold exactly the boxes, a no-op sends nothing,
 * counters and the table tag read back, and the monitor tells foreign changes from ours.
 * Needs root (CAP_NET_ADMIN to create the namespace); skipped (77) otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/set.h>

#include "vpnwall/labels.h"
#include "vpnwall/loop.h"
#include "vpnwall/nft.h"
#include "vpnwall/ruleset.h"

#define TABLE "vwktest"
#define TAG "vpnwall boot=kernel-test"

/* A ruleset of up to 4 containers whose boxes are built from label-like atoms. */
struct rs {
	struct vw_ruleset rs;
	struct vw_rs_container c[4];
	struct vw_rs_container *cp[4];
	struct vw_rs_source src[4];
	struct vw_rs_bridge br[2];
	char ignore[1][VW_IFNAMSIZ];
};

static void atom4(struct vw_atoms *a, const char *addr, unsigned len, uint8_t protos, uint16_t lo,
		  uint16_t hi)
{
	uint8_t b[16] = { 0 };

	assert_int_equal(inet_pton(AF_INET, addr, b), 1);
	assert_int_equal(vw_atoms_add_prefix(a, b, len, protos, lo, hi), 0);
}

static void atom6(struct vw_atoms *a, const char *addr, unsigned len, uint8_t protos, uint16_t lo,
		  uint16_t hi)
{
	uint8_t b[16] = { 0 };

	assert_int_equal(inet_pton(AF_INET6, addr, b), 1);
	assert_int_equal(vw_atoms_add_prefix(a, b, len, protos, lo, hi), 0);
}

static void container(struct rs *r, size_t i, const char *key, bool audit, struct vw_atoms *a4,
		      struct vw_atoms *a6)
{
	struct vw_rs_container *c = &r->c[i];

	r->cp[i] = c;

	snprintf(c->key, sizeof(c->key), "%s", key);
	c->audit = audit;
	c->dst[0].family = AF_INET;
	c->dst[1].family = AF_INET6;
	assert_true(vw_boxset_build(a4, 1000, &c->dst[0]) >= 0);
	assert_true(vw_boxset_build(a6, 1000, &c->dst[1]) >= 0);
	vw_atoms_done(a4);
	vw_atoms_done(a6);
	r->src[i] = (struct vw_rs_source){ .family = AF_INET,
					   .addr = { 198, 18, 1, (uint8_t)(i + 2) } };
	snprintf(r->src[i].key, sizeof(r->src[i].key), "%s", key);
}

/* a's IPv6 address as a fourth source (sorted after the IPv4 ones), and the by-key index. */
static void add_v6_and_index(struct rs *r)
{
	r->src[3] = (struct vw_rs_source){ .family = AF_INET6, .key = "aaaaaaaaaaaaaaaa" };
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1::2", r->src[3].addr), 1);
	assert_int_equal(vw_ruleset_index_sources(&r->rs), 0);
}

/* Version 1: three containers, overlapping entries, IPv6, one audited. */
static void build_v1(struct rs *r)
{
	struct vw_atoms a4 = { .family = AF_INET }, a6 = { .family = AF_INET6 };

	*r = (struct rs){ 0 };
	atom4(&a4, "198.51.100.0", 24, VW_PROTO_TCP, 443, 443);
	atom4(&a4, "198.51.100.7", 32, 0, 0, 0);
	atom4(&a4, "198.51.100.0", 25, VW_PROTO_TCP | VW_PROTO_UDP, 80, 90);
	atom6(&a6, "2001:db8::", 32, VW_PROTO_TCP, 443, 443);
	container(r, 0, "aaaaaaaaaaaaaaaa", false, &a4, &a6);
	atom4(&a4, "198.18.0.0", 15, 0, 0, 0);
	container(r, 1, "bbbbbbbbbbbbbbbb", true, &a4, &a6);
	container(r, 2, "cccccccccccccccc", false, &a4, &a6); /* nothing allowed */
	snprintf(r->br[0].name, VW_IFNAMSIZ, "br-excluded");
	/* a Docker bridge the ignored pattern matches: policed all the same */
	snprintf(r->br[1].name, VW_IFNAMSIZ, "virbr9");
	r->br[1].managed = true;
	snprintf(r->ignore[0], VW_IFNAMSIZ, "virbr+");
	r->rs = (struct vw_ruleset){ .log_group = 7811,
				     .log_rate = 20,
				     .ignore = r->ignore,
				     .n_ignore = 1,
				     .bridges = r->br,
				     .n_bridges = 2,
				     .containers = r->cp,
				     .n_containers = 3,
				     .sources = r->src,
				     .n_sources = 4 };
	add_v6_and_index(r);
}

/*
 * Version 2: a's entries change so that old and new boxes overlap (delete and add in one
 * transaction), b flips to enforced (re-created), c goes away, d arrives, a source moves.
 */
static void build_v2(struct rs *r)
{
	struct vw_atoms a4 = { .family = AF_INET }, a6 = { .family = AF_INET6 };

	*r = (struct rs){ 0 };
	atom4(&a4, "198.51.100.0", 24, VW_PROTO_TCP, 443, 444);
	atom4(&a4, "198.51.100.0", 26, 0, 0, 0);
	atom6(&a6, "2001:db8::1", 128, 0, 0, 0);
	container(r, 0, "aaaaaaaaaaaaaaaa", false, &a4, &a6);
	atom4(&a4, "198.18.0.0", 15, 0, 0, 0);
	container(r, 1, "bbbbbbbbbbbbbbbb", false, &a4, &a6);
	atom4(&a4, "198.51.100.128", 25, VW_PROTO_UDP, 53, 53);
	container(r, 2, "dddddddddddddddd", false, &a4, &a6);
	r->src[2].addr[3] = 9;
	snprintf(r->br[0].name, VW_IFNAMSIZ, "br-other");
	snprintf(r->br[1].name, VW_IFNAMSIZ, "virbr9"); /* left alone now */
	snprintf(r->ignore[0], VW_IFNAMSIZ, "virbr+");
	r->rs = (struct vw_ruleset){ .log_group = 7811,
				     .log_rate = 20,
				     .ignore = r->ignore,
				     .n_ignore = 1,
				     .bridges = r->br,
				     .n_bridges = 2,
				     .containers = r->cp,
				     .n_containers = 3,
				     .sources = r->src,
				     .n_sources = 4 };
	add_v6_and_index(r);
}

static void rs_done(struct rs *r)
{
	free(r->rs.by_key);
	for (size_t i = 0; i < 4; i++)
		vw_rs_container_done(&r->c[i]);
}

static int apply(struct vw_nft *n, const struct vw_ruleset *from, const struct vw_ruleset *to,
		 size_t *ret_ops)
{
	struct vw_plan p;
	int r;

	assert_int_equal(vw_ruleset_diff(from, to, NULL, &p), 0);
	*ret_ops = p.n;
	r = vw_nft_apply(n, &p);
	vw_plan_done(&p);
	return r;
}

static int elems_cb(const struct nlmsghdr *nlh, void *data)
{
	assert_int_equal(nftnl_set_elems_nlmsg_parse(nlh, data), 0);
	return MNL_CB_OK;
}

/* The elements the kernel holds in set @name, dumped. */
static struct nftnl_set *dump_set(const char *name)
{
	char buf[32768];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	uint32_t seq = 1, portid;
	ssize_t len;
	int r = 1;

	assert_non_null(nl);
	assert_int_equal(mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID), 0);
	portid = mnl_socket_get_portid(nl);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK,
				    seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	assert_true(mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) > 0);
	while (r > 0) {
		len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		assert_true(len > 0);
		r = mnl_cb_run(buf, (size_t)len, seq, portid, elems_cb, s);
		assert_true(r >= 0);
	}
	mnl_socket_close(nl);
	return s;
}

/* saddr . daddr [. proto . port], fields 32-bit aligned, as the shared sets key boxes. */
static size_t key_of(uint8_t family, const uint8_t *saddr, const uint8_t *daddr, bool ports,
		     uint8_t proto, uint16_t port, uint8_t *key)
{
	size_t alen = vw_addr_len(family);
	uint16_t be = htons(port);

	memset(key, 0, 2 * alen + 8);
	memcpy(key, saddr, alen);
	memcpy(key + alen, daddr, alen);
	if (!ports)
		return 2 * alen;
	key[2 * alen] = proto;
	memcpy(key + 2 * alen + 4, &be, 2);
	return 2 * alen + 8;
}

enum kind { EXACT, HOST, RANGE };

static enum kind kind_of(uint8_t family, const struct vw_box *b)
{
	if (memcmp(b->lo, b->hi, vw_addr_len(family)) != 0)
		return RANGE;
	if (b->proto_lo == 0 && b->proto_hi == 255 && b->port_lo == 0 && b->port_hi == 65535)
		return HOST;
	return b->proto_lo == b->proto_hi && b->port_lo == b->port_hi ? EXACT : RANGE;
}

/*
 * The kernel's shared sets hold, under source @s, exactly the boxes of its container @c in
 * the source's family: single points in the hash sets, the rest in the range set.
 */
static void assert_source_is(const struct vw_rs_source *s, const struct vw_rs_container *c)
{
	static const char *const names[3][2] = { { "exact4", "exact6" },
						 { "host4", "host6" },
						 { "range4", "range6" } };
	int f = vw_family_index(s->family);
	const struct vw_boxset *bs = &c->dst[f];
	size_t alen = vw_addr_len(s->family), n = 0;

	for (int k = EXACT; k <= RANGE; k++) {
		struct nftnl_set *set = dump_set(names[k][f]);
		struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(set);
		struct nftnl_set_elem *e;

		while ((e = nftnl_set_elems_iter_next(it))) {
			uint8_t want[40];
			const void *key;
			uint32_t len;
			size_t wlen;
			bool found = false;

			key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
			if (memcmp(key, s->addr, alen) != 0)
				continue; /* another source's */
			for (size_t i = 0; i < bs->n && !found; i++) {
				const struct vw_box *b = &bs->v[i];

				if (kind_of(s->family, b) != (enum kind)k)
					continue;
				wlen = key_of(s->family, s->addr, b->lo, k != HOST, b->proto_lo,
					      b->port_lo, want);
				if (wlen != len || memcmp(key, want, len) != 0)
					continue;
				found = true;
				if (k != RANGE)
					continue;
				key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len);
				wlen = key_of(s->family, s->addr, b->hi, true, b->proto_hi,
					      b->port_hi, want);
				assert_int_equal(len, wlen);
				assert_memory_equal(key, want, wlen);
			}
			if (!found)
				fail_msg(
					"set %s holds an element of %s's source that is not one of its boxes",
					names[k][f], c->key);
			n++;
		}
		nftnl_set_elems_iter_destroy(it);
		nftnl_set_free(set);
	}
	assert_int_equal(n, bs->n);
}

/* Every dispatched source carries its container's boxes, and nothing else is in the sets. */
static void assert_sets(const struct vw_ruleset *rs)
{
	static const char *const all[] = {
		"exact4", "exact6", "host4", "host6", "range4", "range6"
	};
	size_t total = 0, want = 0;

	for (size_t i = 0; i < rs->n_sources; i++) {
		const struct vw_rs_source *s = &rs->sources[i];
		const struct vw_rs_container *c = s->key[0] ? vw_ruleset_find(rs, s->key) : NULL;

		if (!c)
			continue;
		assert_source_is(s, c);
		want += c->dst[vw_family_index(s->family)].n;
	}
	for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
		struct nftnl_set *set = dump_set(all[k]);
		struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(set);

		while (nftnl_set_elems_iter_next(it))
			total++;
		nftnl_set_elems_iter_destroy(it);
		nftnl_set_free(set);
	}
	assert_int_equal(total, want);
}

static void test_kernel_full_then_incremental(void **state)
{
	struct rs v1, v2;
	struct vw_nft *n;
	char tag[VW_NFT_TAG_MAX + 1];
	bool dormant = true;
	struct vw_nft_counter *ctrs = NULL;
	size_t ops;
	int k;

	assert_int_equal(vw_nft_new(TABLE, TAG, &n), 0);
	assert_int_equal(vw_nft_table_tag(n, tag, sizeof(tag), &dormant), -ENOENT);
	build_v1(&v1);
	build_v2(&v2);

	assert_int_equal(apply(n, NULL, &v1.rs, &ops), 0);
	assert_int_equal(vw_nft_table_tag(n, tag, sizeof(tag), &dormant), 0);
	assert_string_equal(tag, TAG);
	assert_false(dormant);
	assert_sets(&v1.rs);
	/* someone makes it dormant: that is seen (and vpnwalld will not trust it) */
	if (system("nft add table inet " TABLE " '{ flags dormant; }'") == 0) {
		assert_int_equal(vw_nft_table_tag(n, tag, sizeof(tag), &dormant), 0);
		assert_true(dormant);
		assert_int_equal(system("nft add table inet " TABLE
					" '{ flags 0; }' 2>/dev/null || "
					"nft add table inet " TABLE),
				 0);
	}

	/* the same state again: nothing to send */
	assert_int_equal(apply(n, &v1.rs, &v1.rs, &ops), 0);
	assert_int_equal(ops, 0);

	/* every kind of change in one transaction, accepted as a whole */
	assert_int_equal(apply(n, &v1.rs, &v2.rs, &ops), 0);
	assert_true(ops > 5);
	assert_sets(&v2.rs);

	/* per container an allow and a drop counter, plus the table's own two */
	k = vw_nft_counters(n, &ctrs);
	assert_int_equal(k, 2 + 3 * 2);
	for (int i = 0; i < k; i++)
		assert_true(strcmp(ctrs[i].key, VW_KEY_UNKNOWN) == 0 ||
			    strcmp(ctrs[i].key, VW_KEY_SPOOFED) == 0 ||
			    vw_ruleset_find(&v2.rs, ctrs[i].key) != NULL);
	free(ctrs);

	/* and back, which deletes what v2 added */
	assert_int_equal(apply(n, &v2.rs, &v1.rs, &ops), 0);
	assert_sets(&v1.rs);

	/* an incremental plan that does not fit the kernel is refused whole */
	assert_true(apply(n, &v2.rs, &v1.rs, &ops) < 0);
	assert_sets(&v1.rs);

	assert_int_equal(vw_nft_delete_table(n), 0);
	assert_int_equal(vw_nft_delete_table(n), -ENOENT);
	rs_done(&v1);
	rs_done(&v2);
	vw_nft_free(n);
}

struct seen {
	int changes;
	char what[64];
};

static void on_change(void *ud, const char *what)
{
	struct seen *s = ud;

	s->changes++;
	snprintf(s->what, sizeof(s->what), "%s", what);
}

/* Our own commits are not changes; another socket's change to our table is. */
static void test_kernel_monitor(void **state)
{
	struct rs v1, v2;
	struct vw_nft *n, *other;
	struct vw_loop *loop;
	struct seen seen = { 0 };
	size_t ops;

	assert_int_equal(vw_loop_new(&loop), 0);
	assert_int_equal(vw_nft_new(TABLE, TAG, &n), 0);
	assert_int_equal(vw_nft_new(TABLE, TAG, &other), 0);
	assert_int_equal(vw_nft_monitor(n, loop, on_change, &seen), 0);
	build_v1(&v1);
	build_v2(&v2);
	assert_int_equal(apply(n, NULL, &v1.rs, &ops), 0);
	assert_int_equal(apply(n, &v1.rs, &v2.rs, &ops), 0);
	while (vw_loop_wait(loop, 100) > 0)
		;
	assert_int_equal(seen.changes, 0);

	assert_int_equal(apply(other, &v2.rs, &v1.rs, &ops), 0);
	while (vw_loop_wait(loop, 100) > 0)
		;
	assert_true(seen.changes > 0);

	assert_int_equal(vw_nft_delete_table(n), 0);
	rs_done(&v1);
	rs_done(&v2);
	vw_nft_free(other);
	vw_nft_free(n);
	vw_loop_free(loop);
}

/* The learned elements of @set: their count, and the timeout (ms) of the one for @port. */
static size_t learned_timeout(const char *set, uint16_t port, uint64_t *ret_timeout)
{
	struct nftnl_set *s = dump_set(set);
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
	size_t n = 0;

	*ret_timeout = 0;
	for (struct nftnl_set_elem *e = nftnl_set_elems_iter_next(it); e;
	     e = nftnl_set_elems_iter_next(it)) {
		uint32_t len;
		const uint8_t *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
		uint16_t be;

		/* An interval set lists each range once, with its start key (and an end). */
		if (!key || len != 16)
			continue;
		n++;
		memcpy(&be, key + 12, 2);
		if (ntohs(be) == port)
			*ret_timeout = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_TIMEOUT);
	}
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return n;
}

static struct vw_learned_elem learned4(const char *saddr, const char *daddr, uint16_t port,
				       uint64_t timeout_ms)
{
	struct vw_learned_elem e = { .family = AF_INET,
				     .path = VW_PATH_VPN,
				     .timeout_ms = timeout_ms };

	assert_int_equal(inet_pton(AF_INET, saddr, e.saddr), 1);
	assert_int_equal(inet_pton(AF_INET, daddr, e.box.lo), 1);
	memcpy(e.box.hi, e.box.lo, 4);
	e.box.proto_lo = e.box.proto_hi = IPPROTO_TCP;
	e.box.port_lo = e.box.port_hi = port;
	return e;
}

/*
 * The DNS proxy's sets: an element is added with its timeout, deleted and added again in
 * one transaction it gets the new one (on every kernel), deleting one that is not there
 * (expired) is fine, and two boxes of one address live side by side.
 */
static void test_kernel_learned(void **state)
{
	struct vw_learned_elem a = learned4("198.18.1.2", "198.51.100.12", 80, 60000);
	struct vw_learned_elem a2 = learned4("198.18.1.2", "198.51.100.12", 80, 120000);
	struct vw_learned_elem b = learned4("198.18.1.2", "198.51.100.12", 443, 60000);
	struct vw_learned_elem gone = learned4("198.18.1.9", "198.51.100.13", 80, 60000);
	uint64_t t;
	struct vw_nft *n;
	struct rs v1;
	size_t ops;

	(void)state;
	assert_int_equal(vw_nft_new(TABLE, TAG, &n), 0);
	build_v1(&v1);
	v1.rs.dns_port = 1053;
	v1.rs.dns_rate = 1000;
	assert_int_equal(apply(n, NULL, &v1.rs, &ops), 0);
	assert_int_equal(learned_timeout("learned4", 80, &t), 0);

	assert_int_equal(vw_nft_learn(n, NULL, 0, &a, 1), 0);
	assert_int_equal(learned_timeout("learned4", 80, &t), 1);
	assert_true(t > 50000 && t <= 60000);

	assert_int_equal(vw_nft_learn(n, &a, 1, &a2, 1), 0);
	assert_int_equal(learned_timeout("learned4", 80, &t), 1);
	assert_true(t > 110000 && t <= 120000);

	assert_int_equal(vw_nft_learn(n, &gone, 1, &b, 1), 0);
	assert_int_equal(learned_timeout("learned4", 80, &t), 2);
	assert_int_equal(learned_timeout("anylearned4", 80, &t), 0);

	assert_int_equal(vw_nft_learn(n, &a2, 1, NULL, 0), 0);
	assert_int_equal(learned_timeout("learned4", 443, &t), 1);
	assert_true(t > 50000 && t <= 60000);

	assert_int_equal(vw_nft_delete_table(n), 0);
	rs_done(&v1);
	vw_nft_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_full_then_incremental),
		cmocka_unit_test(test_kernel_monitor),
		cmocka_unit_test(test_kernel_learned),
	};

	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		printf("SKIP: needs root to create a private network namespace\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
