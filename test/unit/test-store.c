// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The container store: keyed lookups by id, name and id prefix, replacement keeps one entry,
 * sharers of a network namespace come sorted by id, deletion keeps the list consistent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vpnwall/store.h"

static void put(struct vw_store *st, const char *id, const char *name, const char *owner)
{
	struct vw_container c = { .running = true };

	snprintf(c.id, sizeof(c.id), "%s", id);
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.netns_owner, sizeof(c.netns_owner), "%s", owner ? owner : "");
	assert_int_equal(vw_store_put(st, &c), 0);
	/* the content moved into the store */
	assert_string_equal(c.id, "");
}

static void test_store_lookups(void **state)
{
	struct vw_store st;
	const struct vw_container **sh = NULL;

	vw_store_init(&st);
	put(&st, "aaaa1111", "web", NULL);
	put(&st, "aaaa2222", "db", NULL);
	put(&st, "bbbb3333", "side2", "aaaa1111");
	put(&st, "bbbb0000", "side1", "aaaa1111");
	assert_int_equal(st.n, 4);
	assert_string_equal(vw_store_get(&st, "aaaa2222")->name, "db");
	assert_null(vw_store_get(&st, "aaaa"));
	assert_string_equal(vw_store_find(&st, "web")->id, "aaaa1111");
	assert_string_equal(vw_store_find(&st, "bbbb3")->name, "side2");
	assert_null(vw_store_find(&st, "aaaa")); /* ambiguous prefix */
	assert_null(vw_store_find(&st, "aa")); /* too short */

	assert_int_equal(vw_store_sharers(&st, vw_store_get(&st, "aaaa1111"), &sh), 2);
	assert_string_equal(sh[0]->name, "side1");
	assert_string_equal(sh[1]->name, "side2");
	free(sh);
	assert_int_equal(vw_store_sharers(&st, vw_store_get(&st, "aaaa2222"), &sh), 0);

	/* replacing keeps one entry, with the new name indexed and the old one gone */
	put(&st, "aaaa1111", "web2", NULL);
	assert_int_equal(st.n, 4);
	assert_null(vw_store_find(&st, "web"));
	assert_string_equal(vw_store_find(&st, "web2")->id, "aaaa1111");

	assert_true(vw_store_del(&st, "bbbb0000"));
	assert_false(vw_store_del(&st, "bbbb0000"));
	assert_int_equal(st.n, 3);
	for (size_t i = 0; i < st.n; i++)
		assert_ptr_equal(vw_store_get(&st, st.list[i]->id), st.list[i]);
	assert_int_equal(vw_store_sharers(&st, vw_store_get(&st, "aaaa1111"), &sh), 1);
	free(sh);
	vw_store_done(&st);
}

static void test_store_many(void **state)
{
	struct vw_store st;
	char id[32], name[32];

	vw_store_init(&st);
	for (int i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "%08x", i);
		snprintf(name, sizeof(name), "c%d", i);
		put(&st, id, name, NULL);
	}
	for (int i = 0; i < 5000; i += 3) {
		snprintf(id, sizeof(id), "%08x", i);
		assert_true(vw_store_del(&st, id));
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "%08x", i);
		snprintf(name, sizeof(name), "c%d", i);
		if (i % 3 == 0) {
			assert_null(vw_store_get(&st, id));
		} else {
			assert_string_equal(vw_store_get(&st, id)->name, name);
			assert_string_equal(vw_store_find(&st, name)->id, id);
		}
	}
	vw_store_done(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_lookups),
		cmocka_unit_test(test_store_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
