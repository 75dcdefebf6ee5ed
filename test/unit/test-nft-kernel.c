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
				     .n_sources = 3 };
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
				     .n_sources = 3 };
}

static void rs_done(struct rs *r)
{
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

static void key_of(uint8_t family, const uint8_t *addr, uint8_t proto, uint16_t port, uint8_t *key)
{
	size_t alen = vw_addr_len(family);
	uint16_t be = htons(port);

	memset(key, 0, alen + 8);
	memcpy(key, addr, alen);
	key[alen] = proto;
	memcpy(key + alen + 4, &be, 2);
}

/* The kernel's set of container @c, family @f, holds exactly its boxes. */
static void assert_set_is(const struct vw_rs_container *c, int f)
{
	const struct vw_boxset *bs = &c->dst[f];
	size_t klen = f ? 24 : 12, n = 0;
	char name[32];
	struct nftnl_set *s;
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;

	snprintf(name, sizeof(name), "d%c_%s", f ? '6' : '4', c->key);
	s = dump_set(name);
	it = nftnl_set_elems_iter_create(s);
	while ((e = nftnl_set_elems_iter_next(it))) {
		uint8_t want[24];
		const void *k;
		uint32_t len;
		bool found = false;

		k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
		assert_int_equal(len, klen);
		for (size_t i = 0; i < bs->n && !found; i++) {
			key_of(bs->family, bs->v[i].lo, bs->v[i].proto_lo, bs->v[i].port_lo, want);
			if (memcmp(k, want, klen) != 0)
				continue;
			found = true;
			k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len);
			key_of(bs->family, bs->v[i].hi, bs->v[i].proto_hi, bs->v[i].port_hi, want);
			assert_int_equal(len, klen);
			assert_memory_equal(k, want, klen);
		}
		if (!found)
			fail_msg("set %s holds an element that is not a box", name);
		n++;
	}
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	assert_int_equal(n, bs->n);
}

static void assert_sets(const struct vw_ruleset *rs)
{
	for (size_t i = 0; i < rs->n_containers; i++)
		for (int f = 0; f < 2; f++)
			assert_set_is(rs->containers[i], f);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_full_then_incremental),
		cmocka_unit_test(test_kernel_monitor),
	};

	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		printf("SKIP: needs root to create a private network namespace\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
