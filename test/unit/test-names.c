// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Name cache: TTL clamping, failure backoff keeping addresses, authoritative removal, the
 * want/sweep lifecycle, the reverse index (address -> name) and the refresh schedule, also at
 * the caps (every name, every address).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vpnwall/names.h"

static const uint8_t A1[16] = { 198, 51, 100, 10 };
static const uint8_t A2[16] = { 198, 51, 100, 11 };

static void test_names_due_and_ttl_clamp(void **state)
{
	struct vw_names ns;
	const struct vw_name *n;
	uint8_t addrs[2][16];
	int fam = -1;

	vw_names_init(&ns, 5, 600);
	assert_int_equal(vw_names_want(&ns, "web.test", 1000), 0);
	assert_int_equal(vw_names_deadline(&ns), 1000);

	n = vw_names_next_due(&ns, 1000, &fam);
	assert_non_null(n);
	assert_int_equal(fam, 0);
	n = vw_names_next_due(&ns, 1000, &fam);
	assert_int_equal(fam, 1);
	assert_null(vw_names_next_due(&ns, 1000, &fam));
	assert_int_equal(vw_names_deadline(&ns), 0);

	memcpy(addrs[0], A2, 16);
	memcpy(addrs[1], A1, 16);
	/* TTL 1 is raised to the floor of 5 s; answer is sorted */
	assert_int_equal(vw_names_answer(&ns, "web.test", 0, VW_DNS_OK, (const uint8_t(*)[16])addrs,
					 2, 1, 2000),
			 1);
	n = vw_names_get(&ns, "web.test");
	assert_int_equal(n->fam[0].n, 2);
	assert_memory_equal(n->fam[0].addrs[0], A1, 16);
	assert_int_equal(n->fam[0].refresh_at, 7000);
	/* same answer again: no change */
	assert_int_equal(vw_names_answer(&ns, "web.test", 0, VW_DNS_OK, (const uint8_t(*)[16])addrs,
					 2, 99999, 3000),
			 0);
	assert_int_equal(n->fam[0].refresh_at, 3000 + 600 * 1000);
	vw_names_done(&ns);
}

static void test_names_failure_keeps_addresses(void **state)
{
	struct vw_names ns;
	const struct vw_name *n;
	int fam;

	vw_names_init(&ns, 1, 60);
	assert_int_equal(vw_names_want(&ns, "web.test", 0), 0);
	(void)vw_names_next_due(&ns, 0, &fam);
	assert_int_equal(
		vw_names_answer(&ns, "web.test", 0, VW_DNS_OK, (const uint8_t(*)[16])A1, 1, 30, 0),
		1);
	n = vw_names_get(&ns, "web.test");
	for (unsigned i = 0; i < 8; i++) {
		uint64_t now = 100000 * (i + 1);

		assert_int_equal(vw_names_answer(&ns, "web.test", 0, VW_DNS_FAIL, NULL, 0, 0, now),
				 0);
		assert_int_equal(n->fam[0].n, 1);
		/* backoff 1, 2, 4, ... capped at 60 s */
		assert_int_equal(n->fam[0].refresh_at - now, (i < 6 ? (1u << i) : 60u) * 1000);
	}
	/* an hour past the TTL, failures no longer keep the old answer */
	assert_int_equal(vw_names_answer(&ns, "web.test", 0, VW_DNS_FAIL, NULL, 0, 0,
					 n->fam[0].expires_at + 3600 * 1000 - 1),
			 0);
	assert_int_equal(n->fam[0].n, 1);
	assert_int_equal(vw_names_answer(&ns, "web.test", 0, VW_DNS_FAIL, NULL, 0, 0,
					 n->fam[0].expires_at + 3600 * 1000),
			 1);
	assert_int_equal(n->fam[0].n, 0);
	assert_int_equal(
		vw_names_answer(&ns, "web.test", 0, VW_DNS_OK, (const uint8_t(*)[16])A1, 1, 30, 0),
		1);
	/* NXDOMAIN removes the addresses */
	assert_int_equal(vw_names_answer(&ns, "web.test", 0, VW_DNS_NONE, NULL, 0, 0, 10), 1);
	assert_int_equal(n->fam[0].n, 0);
	assert_int_equal(n->fam[0].failures, 0);
	vw_names_done(&ns);
}

static void test_names_sweep(void **state)
{
	struct vw_names ns;

	vw_names_init(&ns, 1, 60);
	assert_int_equal(vw_names_want(&ns, "b.test", 0), 0);
	assert_int_equal(vw_names_want(&ns, "a.test", 0), 0);
	assert_int_equal(vw_names_want(&ns, "c.test", 0), 0);
	vw_names_begin(&ns);
	assert_int_equal(vw_names_want(&ns, "c.test", 0), 0);
	assert_int_equal(vw_names_sweep(&ns), 2);
	assert_null(vw_names_get(&ns, "a.test"));
	assert_non_null(vw_names_get(&ns, "c.test"));
	/* an answer for a forgotten name is ignored */
	assert_int_equal(
		vw_names_answer(&ns, "a.test", 0, VW_DNS_OK, (const uint8_t(*)[16])A1, 1, 5, 0), 0);
	vw_names_done(&ns);
}

/* Address number @v of family @fam (0 IPv4, 1 IPv6): distinct numbers, distinct addresses. */
static void make_addr(int fam, unsigned v, uint8_t out[16])
{
	memset(out, 0, 16);
	if (fam == 0) {
		/* from 198.18.0.0 on: past the /15 at the largest numbers, harmless here */
		uint32_t x = (198u << 24 | 18u << 16) + v;

		out[0] = (uint8_t)(x >> 24);
		out[1] = (uint8_t)(x >> 16);
		out[2] = (uint8_t)(x >> 8);
		out[3] = (uint8_t)x;
	} else {
		out[0] = 0x20;
		out[1] = 0x01;
		out[2] = 0x0d;
		out[3] = 0xb8;
		out[12] = (uint8_t)(v >> 24);
		out[13] = (uint8_t)(v >> 16);
		out[14] = (uint8_t)(v >> 8);
		out[15] = (uint8_t)v;
	}
}

/* Answer (@name, @fam) with addresses number @first to @first + @n - 1, TTL 60 s. */
static int answer(struct vw_names *ns, const char *name, int fam, unsigned first, size_t n,
		  uint64_t now)
{
	uint8_t a[VW_NAME_ADDRS_MAX][16];

	assert_true(n <= VW_NAME_ADDRS_MAX);
	for (size_t i = 0; i < n; i++)
		make_addr(fam, first + (unsigned)i, a[i]);
	return vw_names_answer(ns, name, fam, VW_DNS_OK, (const uint8_t(*)[16])a, n, 60, now);
}

static const char *reverse(const struct vw_names *ns, int fam, unsigned v)
{
	uint8_t a[16];

	make_addr(fam, v, a);
	return vw_names_reverse(ns, fam ? AF_INET6 : AF_INET, a);
}

static void test_names_reverse(void **state)
{
	static const uint8_t v4_in_v6[16] = { 198, 51, 100, 10 };
	uint8_t garbage[2][16];
	struct vw_names ns;

	vw_names_init(&ns, 1, 60);
	assert_null(vw_names_reverse(&ns, AF_INET, A1));
	assert_int_equal(vw_names_want(&ns, "a.test", 0), 0);
	assert_int_equal(vw_names_want(&ns, "b.test", 0), 0);
	assert_int_equal(
		vw_names_answer(&ns, "a.test", 0, VW_DNS_OK, (const uint8_t(*)[16])A1, 1, 30, 0),
		1);
	assert_string_equal(vw_names_reverse(&ns, AF_INET, A1), "a.test");
	assert_null(vw_names_reverse(&ns, AF_INET, A2));
	/* an IPv4 address is not the IPv6 address with the same leading bytes */
	assert_null(vw_names_reverse(&ns, AF_INET6, v4_in_v6));
	/* only the 4 bytes of an IPv4 address count, in answers and lookups alike */
	memcpy(garbage[0], A2, 16);
	memset(garbage[0] + 4, 0xee, 12);
	memcpy(garbage[1], A2, 16);
	assert_int_equal(vw_names_answer(&ns, "b.test", 0, VW_DNS_OK, (const uint8_t(*)[16])garbage,
					 2, 30, 0),
			 1);
	assert_int_equal(vw_names_get(&ns, "b.test")->fam[0].n, 1);
	assert_string_equal(vw_names_reverse(&ns, AF_INET, garbage[0]), "b.test");

	/* IPv6 */
	assert_int_equal(answer(&ns, "a.test", 1, 7, 3, 0), 1);
	assert_string_equal(reverse(&ns, 1, 8), "a.test");
	assert_null(reverse(&ns, 0, 8));

	/* a changed answer: gone addresses are forgotten, new ones found */
	assert_int_equal(answer(&ns, "a.test", 1, 9, 3, 0), 1);
	assert_null(reverse(&ns, 1, 7));
	assert_null(reverse(&ns, 1, 8));
	assert_string_equal(reverse(&ns, 1, 9), "a.test");
	assert_string_equal(reverse(&ns, 1, 11), "a.test");

	/* NXDOMAIN, the end of the grace period and a sweep each remove addresses */
	assert_int_equal(vw_names_answer(&ns, "a.test", 1, VW_DNS_NONE, NULL, 0, 0, 0), 1);
	assert_null(reverse(&ns, 1, 9));
	assert_int_equal(
		vw_names_answer(&ns, "a.test", 0, VW_DNS_FAIL, NULL, 0, 0,
				vw_names_get(&ns, "a.test")->fam[0].expires_at + 3600 * 1000),
		1);
	assert_null(vw_names_reverse(&ns, AF_INET, A1));
	vw_names_begin(&ns);
	assert_int_equal(vw_names_sweep(&ns), 2);
	assert_null(vw_names_reverse(&ns, AF_INET, A2));
	assert_int_equal(ns.by_addr.n, 0);
	vw_names_done(&ns);
}

/* Several names on one address: the one that has held it longest names it. */
static void test_names_reverse_shared(void **state)
{
	struct vw_names ns;

	vw_names_init(&ns, 1, 60);
	assert_int_equal(vw_names_want(&ns, "z.test", 0), 0);
	assert_int_equal(vw_names_want(&ns, "a.test", 0), 0);
	assert_int_equal(vw_names_want(&ns, "m.test", 0), 0);
	assert_int_equal(answer(&ns, "z.test", 0, 100, 2, 0), 1);
	assert_int_equal(answer(&ns, "a.test", 0, 101, 2, 0), 1);
	assert_int_equal(answer(&ns, "m.test", 0, 101, 1, 0), 1);
	assert_string_equal(reverse(&ns, 0, 100), "z.test");
	assert_string_equal(reverse(&ns, 0, 101), "z.test");
	assert_string_equal(reverse(&ns, 0, 102), "a.test");

	/* a new answer that still holds the address keeps the name's seniority */
	assert_int_equal(answer(&ns, "z.test", 0, 99, 3, 10), 1);
	assert_string_equal(reverse(&ns, 0, 101), "z.test");
	assert_string_equal(reverse(&ns, 0, 99), "z.test");

	/* once it lets go, the next oldest holder names it */
	assert_int_equal(answer(&ns, "z.test", 0, 200, 1, 20), 1);
	assert_string_equal(reverse(&ns, 0, 101), "a.test");
	assert_int_equal(vw_names_answer(&ns, "a.test", 0, VW_DNS_NONE, NULL, 0, 0, 30), 1);
	assert_string_equal(reverse(&ns, 0, 101), "m.test");
	vw_names_begin(&ns);
	assert_int_equal(vw_names_want(&ns, "a.test", 0), 0);
	assert_int_equal(vw_names_want(&ns, "z.test", 0), 0);
	assert_int_equal(vw_names_sweep(&ns), 1);
	assert_null(reverse(&ns, 0, 101));
	assert_string_equal(reverse(&ns, 0, 200), "z.test");
	vw_names_done(&ns);
}

/* The names holding address @v when name i holds [i * @spread, i * @spread + 64). */
static void holders(unsigned v, unsigned spread, unsigned *lo, unsigned *hi)
{
	*hi = v / spread < VW_NAMES_MAX ? v / spread : VW_NAMES_MAX - 1;
	*lo = v / spread > 0 ? v / spread - 1 : 0;
}

/*
 * Every name the cache allows with every address it keeps, in both families: each address
 * maps back to its name, addresses shared by neighbouring names to the older holder, and
 * names past the cap are refused.
 */
static void test_names_many(void **state)
{
	enum { SPREAD = VW_NAME_ADDRS_MAX / 2 };
	struct vw_names ns;
	char name[32];
	int fam;

	vw_names_init(&ns, 1, 3600);
	for (unsigned i = 0; i < VW_NAMES_MAX; i++) {
		snprintf(name, sizeof(name), "n%u.test", i);
		assert_int_equal(vw_names_want(&ns, name, i), 0);
	}
	assert_int_equal(vw_names_want(&ns, "one-too-many.test", 0), -ENOBUFS);
	assert_null(vw_names_get(&ns, "one-too-many.test"));
	assert_int_equal(ns.n, VW_NAMES_MAX);

	/* name i holds [i * SPREAD, i * SPREAD + 64): half of it shared with name i + 1 */
	for (unsigned i = 0; i < VW_NAMES_MAX; i++) {
		snprintf(name, sizeof(name), "n%u.test", i);
		for (int f = 0; f < 2; f++)
			assert_int_equal(answer(&ns, name, f, i * SPREAD, VW_NAME_ADDRS_MAX, 0), 1);
	}
	for (unsigned v = 0; v < (VW_NAMES_MAX + 1) * SPREAD; v++) {
		unsigned lo, hi;

		/* the older holder of a shared address is the lower-numbered name */
		holders(v, SPREAD, &lo, &hi);
		snprintf(name, sizeof(name), "n%u.test", lo);
		for (int f = 0; f < 2; f++)
			assert_string_equal(reverse(&ns, f, v), name);
	}
	assert_null(reverse(&ns, 0, (VW_NAMES_MAX + 1) * SPREAD));

	/* all due at the same time (TTL 60 s): once each, in the order they were answered */
	assert_int_equal(vw_names_deadline(&ns), 60 * 1000);
	for (unsigned i = 0; i < VW_NAMES_MAX; i++) {
		snprintf(name, sizeof(name), "n%u.test", i);
		for (int f = 0; f < 2; f++) {
			const struct vw_name *n = vw_names_next_due(&ns, UINT64_MAX, &fam);

			assert_non_null(n);
			assert_string_equal(n->name, name);
			assert_int_equal(fam, f);
		}
	}
	assert_null(vw_names_next_due(&ns, UINT64_MAX, &fam));
	assert_int_equal(vw_names_deadline(&ns), 0);

	/* forget the odd names: their addresses go, or pass to the remaining holder */
	vw_names_begin(&ns);
	for (unsigned i = 0; i < VW_NAMES_MAX; i += 2) {
		snprintf(name, sizeof(name), "n%u.test", i);
		assert_int_equal(vw_names_want(&ns, name, 0), 0);
	}
	assert_int_equal(vw_names_sweep(&ns), VW_NAMES_MAX / 2);
	for (unsigned v = 0; v < (VW_NAMES_MAX + 1) * SPREAD; v++) {
		const char *got = reverse(&ns, 1, v);
		unsigned lo, hi;

		holders(v, SPREAD, &lo, &hi);
		if (lo % 2 == 0 || hi % 2 == 0) {
			snprintf(name, sizeof(name), "n%u.test", lo % 2 == 0 ? lo : hi);
			assert_non_null(got);
			assert_string_equal(got, name);
		} else {
			assert_null(got);
		}
	}
	vw_names_done(&ns);
	assert_int_equal(ns.n, 0);
}

/* A tiny deterministic generator, so that a failure reproduces. */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/*
 * Random wants, answers, failures and sweeps: the deadline and every name handed out as
 * due always agree with a scan of every name, the way the cache used to find them.
 */
static void test_names_schedule_matches_scan(void **state)
{
	enum { NAMES = 300, STEPS = 20000 };
	bool cached[NAMES] = { 0 };
	struct vw_names ns;
	uint32_t seed = 12345;
	uint64_t now = 0;
	char name[32];

	vw_names_init(&ns, 1, 120);
	for (int step = 0; step < STEPS; step++) {
		unsigned i = rnd(&seed) % NAMES, op = rnd(&seed) % 10;
		uint64_t want_deadline = UINT64_MAX;
		const struct vw_name *n;
		int fam;

		snprintf(name, sizeof(name), "s%u.test", i);
		now += rnd(&seed) % 3000;
		if (op < 3) {
			assert_int_equal(vw_names_want(&ns, name, now), 0);
			cached[i] = true;
		} else if (op < 6) {
			(void)answer(&ns, name, (int)(op % 2), rnd(&seed) % 100, rnd(&seed) % 4,
				     now);
		} else if (op < 7) {
			(void)vw_names_answer(&ns, name, (int)(op % 2), VW_DNS_FAIL, NULL, 0, 0,
					      now);
		} else if (op < 8) {
			vw_names_begin(&ns);
			for (unsigned k = 0; k < NAMES; k++) {
				if (!cached[k] || rnd(&seed) % 8 == 0) {
					cached[k] = false;
					continue;
				}
				snprintf(name, sizeof(name), "s%u.test", k);
				assert_int_equal(vw_names_want(&ns, name, now), 0);
			}
			(void)vw_names_sweep(&ns);
		} else {
			uint64_t first = UINT64_MAX;

			/* what a scan finds due first must be due; then take it */
			for (unsigned k = 0; k < NAMES; k++) {
				const struct vw_name *m;

				snprintf(name, sizeof(name), "s%u.test", k);
				m = vw_names_get(&ns, name);
				for (int f = 0; m && f < 2; f++)
					if (!m->fam[f].in_flight && m->fam[f].refresh_at < first)
						first = m->fam[f].refresh_at;
			}
			n = vw_names_next_due(&ns, now, &fam);
			if (first > now) {
				assert_null(n);
			} else {
				assert_non_null(n);
				assert_true(n->fam[fam].in_flight);
				assert_int_equal(n->fam[fam].refresh_at, first);
			}
		}
		for (unsigned k = 0; k < NAMES; k++) {
			const struct vw_name *m;

			snprintf(name, sizeof(name), "s%u.test", k);
			m = vw_names_get(&ns, name);
			assert_true(!m == !cached[k]);
			for (int f = 0; m && f < 2; f++)
				if (!m->fam[f].in_flight && m->fam[f].refresh_at < want_deadline)
					want_deadline = m->fam[f].refresh_at;
		}
		if (want_deadline == UINT64_MAX)
			want_deadline = 0;
		else if (want_deadline == 0)
			want_deadline = 1;
		assert_int_equal(vw_names_deadline(&ns), want_deadline);
	}
	vw_names_done(&ns);
}

/* A name swept and wanted again while its query was out takes the late answer. */
static void test_names_late_answer(void **state)
{
	struct vw_names ns;
	const struct vw_name *n;
	int fam;

	vw_names_init(&ns, 1, 60);
	assert_int_equal(vw_names_want(&ns, "web.test", 0), 0);
	assert_non_null(vw_names_next_due(&ns, 0, &fam));
	assert_int_equal(fam, 0);
	vw_names_begin(&ns);
	assert_int_equal(vw_names_sweep(&ns), 1);
	assert_int_equal(vw_names_want(&ns, "web.test", 5), 0);
	assert_int_equal(vw_names_deadline(&ns), 5);
	assert_int_equal(
		vw_names_answer(&ns, "web.test", 0, VW_DNS_OK, (const uint8_t(*)[16])A1, 1, 30, 10),
		1);
	n = vw_names_get(&ns, "web.test");
	assert_false(n->fam[0].in_flight);
	assert_int_equal(n->fam[0].refresh_at, 30010);
	/* AAAA is still due at 5, A no longer */
	assert_int_equal(vw_names_deadline(&ns), 5);
	assert_non_null(vw_names_next_due(&ns, 10, &fam));
	assert_int_equal(fam, 1);
	assert_null(vw_names_next_due(&ns, 10, &fam));
	assert_int_equal(vw_names_deadline(&ns), 30010);
	vw_names_done(&ns);
}

static void test_names_bad_input(void **state)
{
	char long_name[VW_DOMAIN_MAX + 2];
	struct vw_names ns;
	int fam;

	vw_names_init(&ns, 1, 60);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(vw_names_want(&ns, long_name, 0), -EINVAL);
	long_name[VW_DOMAIN_MAX] = '\0';
	assert_int_equal(vw_names_want(&ns, long_name, 0), 0);
	assert_non_null(vw_names_get(&ns, long_name));
	/* a name due at time 0 still reads as a deadline */
	assert_int_equal(vw_names_deadline(&ns), 1);
	/* an unknown family is ignored */
	assert_int_equal(
		vw_names_answer(&ns, long_name, 2, VW_DNS_OK, (const uint8_t(*)[16])A1, 1, 30, 0),
		0);
	assert_non_null(vw_names_next_due(&ns, 0, &fam));
	vw_names_done(&ns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_due_and_ttl_clamp),
		cmocka_unit_test(test_names_failure_keeps_addresses),
		cmocka_unit_test(test_names_sweep),
		cmocka_unit_test(test_names_reverse),
		cmocka_unit_test(test_names_reverse_shared),
		cmocka_unit_test(test_names_many),
		cmocka_unit_test(test_names_schedule_matches_scan),
		cmocka_unit_test(test_names_late_answer),
		cmocka_unit_test(test_names_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
