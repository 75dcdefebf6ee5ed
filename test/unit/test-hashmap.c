// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The hash table: lookups find exactly what was added, duplicates and deletions in chains,
 * growth keeps every node reachable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vpnwall/hashmap.h"

struct item {
	struct vw_hnode node;
	char key[16];
	int value;
};

static struct item *lookup(const struct vw_hmap *m, const char *key)
{
	for (struct vw_hnode *n = vw_hmap_first(m, vw_hash_str(key)); n; n = vw_hmap_next(n)) {
		struct item *it = vw_container_of(n, struct item, node);

		if (strcmp(it->key, key) == 0)
			return it;
	}
	return NULL;
}

static void test_hmap_add_find_del(void **state)
{
	enum { N = 5000 };
	struct item *items = calloc(N, sizeof(*items));
	struct vw_hmap m = { 0 };

	assert_non_null(items);
	assert_null(lookup(&m, "absent"));
	for (int i = 0; i < N; i++) {
		snprintf(items[i].key, sizeof(items[i].key), "k%d", i);
		items[i].value = i;
		assert_int_equal(vw_hmap_add(&m, &items[i].node, vw_hash_str(items[i].key)), 0);
	}
	assert_int_equal(m.n, N);
	assert_true(m.n_buckets >= N);
	for (int i = 0; i < N; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%d", i);
		assert_ptr_equal(lookup(&m, key), &items[i]);
	}
	for (int i = 0; i < N; i += 2)
		vw_hmap_del(&m, &items[i].node);
	assert_int_equal(m.n, N / 2);
	for (int i = 0; i < N; i++)
		assert_ptr_equal(lookup(&m, items[i].key), i % 2 ? &items[i] : NULL);
	vw_hmap_done(&m);
	assert_null(lookup(&m, "k1"));
	free(items);
}

/* Same hash twice: both are found through first/next and can be removed independently. */
static void test_hmap_duplicates(void **state)
{
	struct item a = { .key = "same", .value = 1 }, b = { .key = "same", .value = 2 };
	struct vw_hmap m = { 0 };
	struct vw_hnode *n;
	int seen = 0;

	assert_int_equal(vw_hmap_add(&m, &a.node, 42), 0);
	assert_int_equal(vw_hmap_add(&m, &b.node, 42), 0);
	for (n = vw_hmap_first(&m, 42); n; n = vw_hmap_next(n))
		seen += vw_container_of(n, struct item, node)->value;
	assert_int_equal(seen, 3);
	vw_hmap_del(&m, &b.node);
	assert_ptr_equal(vw_hmap_first(&m, 42), &a.node);
	assert_null(vw_hmap_next(&a.node));
	vw_hmap_done(&m);
}

static void test_hash_differs(void **state)
{
	assert_int_equal(vw_hash("abc", 3), vw_hash_str("abc"));
	assert_true(vw_hash("abc", 3) != vw_hash("abd", 3));
	assert_true(vw_hash("", 0) != vw_hash("\0", 1));
	assert_true(vw_hash("12345678a", 9) != vw_hash("12345678b", 9));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hmap_add_find_del),
		cmocka_unit_test(test_hmap_duplicates),
		cmocka_unit_test(test_hash_differs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
