// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Explanations: which entry lets a destination through (CIDR containment, names by their
 * current addresses, port and protocol scope, DEFAULT_OUTBOUND, vpn.allow), the partial
 * answer for a port-less query, wildcards that are shown but not enforced, and the queries
 * that cannot be answered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "vpnwall/explain.h"
#include "vpnwall/labels.h"
#include "vpnwall/names.h"
#include "vpnwall/util.h"

static struct vw_dst dst(const char *s)
{
	struct vw_dst d;
	const char *reason = NULL;

	if (vw_dst_parse(s, &d, &reason) < 0)
		fail_msg("'%s' rejected: %s", s, reason);
	return d;
}

/* Labels from key, value pairs ending with NULL; every entry must parse. */
static void labels(struct vw_labels *l, const char *const *kv)
{
	*l = (struct vw_labels){ 0 };
	for (; kv && kv[0]; kv += 2)
		assert_int_equal(vw_labels_add(l, kv[0], kv[1]), 0);
	assert_int_equal(l->n_errors, 0);
}

static struct vw_explanation explain(const struct vw_labels *l, const struct vw_dst *defaults,
				     size_t n_defaults, const struct vw_names *names,
				     const char *query)
{
	struct vw_dst q = dst(query);
	struct vw_explanation x;

	memset(&x, 0xaa, sizeof(x));
	assert_int_equal(vw_explain(l, defaults, n_defaults, names, &q, &x), 0);
	return x;
}

static void assert_allowed(const struct vw_explanation *x, const char *label, const char *entry)
{
	if (x->verdict != VW_VERDICT_ALLOWED)
		fail_msg("verdict %d, expected allowed: %s", x->verdict, x->reason);
	assert_string_equal(x->label, label);
	assert_string_equal(x->entry, entry);
}

static void assert_partial(const struct vw_explanation *x, const char *label, const char *entry)
{
	if (x->verdict != VW_VERDICT_PARTIAL)
		fail_msg("verdict %d, expected partial: %s", x->verdict, x->reason);
	assert_string_equal(x->label, label);
	assert_string_equal(x->entry, entry);
}

static void assert_blocked(const struct vw_explanation *x)
{
	if (x->verdict != VW_VERDICT_BLOCKED)
		fail_msg("verdict %d, expected blocked: %s", x->verdict, x->reason);
	assert_string_equal(x->label, "");
	assert_string_equal(x->entry, "");
	assert_non_null(strstr(x->reason, " is blocked: "));
}

/* A name cache where @name resolves to @a4 (may be NULL) and @a6 (may be NULL). */
static void resolve(struct vw_names *ns, const char *name, const char *a4, const char *a6)
{
	uint8_t addrs[1][16];
	int fam = -1;

	assert_int_equal(vw_names_want(ns, name, 0), 0);
	while (vw_names_next_due(ns, 0, &fam))
		;
	memset(addrs, 0, sizeof(addrs));
	if (a4) {
		assert_int_equal(inet_pton(AF_INET, a4, addrs[0]), 1);
		assert_int_equal(vw_names_answer(ns, name, 0, VW_DNS_OK,
						 (const uint8_t(*)[16])addrs, 1, 300, 0),
				 1);
	} else {
		assert_int_equal(vw_names_answer(ns, name, 0, VW_DNS_NONE, NULL, 0, 0, 0), 0);
	}
	memset(addrs, 0, sizeof(addrs));
	if (a6) {
		assert_int_equal(inet_pton(AF_INET6, a6, addrs[0]), 1);
		assert_int_equal(vw_names_answer(ns, name, 1, VW_DNS_OK,
						 (const uint8_t(*)[16])addrs, 1, 300, 0),
				 1);
	} else {
		assert_int_equal(vw_names_answer(ns, name, 1, VW_DNS_NONE, NULL, 0, 0, 0), 0);
	}
}

static void test_explain_cidr(void **state)
{
	struct vw_labels l;
	struct vw_explanation x;

	labels(&l,
	       (const char *const[]){ "vpn.outbound", "198.51.100.0/24,203.0.113.128/25", NULL });
	x = explain(&l, NULL, 0, NULL, "198.51.100.7");
	assert_allowed(&x, "vpn.outbound", "198.51.100.0/24");
	assert_string_equal(x.reason,
			    "198.51.100.7 is allowed by vpn.outbound entry '198.51.100.0/24'");

	/* a prefix that does not end on a byte boundary */
	x = explain(&l, NULL, 0, NULL, "203.0.113.200");
	assert_allowed(&x, "vpn.outbound", "203.0.113.128/25");
	x = explain(&l, NULL, 0, NULL, "203.0.113.127");
	assert_blocked(&x);

	/* an explicit /32 is an address, not a range */
	x = explain(&l, NULL, 0, NULL, "198.51.100.255/32");
	assert_allowed(&x, "vpn.outbound", "198.51.100.0/24");

	x = explain(&l, NULL, 0, NULL, "198.51.101.7");
	assert_blocked(&x);
	assert_string_equal(x.reason, "198.51.101.7 is blocked: no entry of the policy allows it");
	vw_labels_done(&l);
}

static void test_explain_name_entry_by_address(void **state)
{
	struct vw_labels l;
	struct vw_names ns;
	struct vw_explanation x;

	vw_names_init(&ns, 5, 3600);
	resolve(&ns, "api.example.org", "203.0.113.5", "2001:db8::5");
	resolve(&ns, "v4only.example.org", "203.0.113.9", NULL);
	labels(&l,
	       (const char *const[]){ "vpn.outbound", "api.example.org,v4only.example.org", NULL });

	x = explain(&l, NULL, 0, &ns, "203.0.113.5");
	assert_allowed(&x, "vpn.outbound", "api.example.org");
	assert_string_equal(
		x.reason,
		"203.0.113.5 is allowed by vpn.outbound entry 'api.example.org' (the name currently resolves to it)");
	x = explain(&l, NULL, 0, &ns, "2001:db8::5");
	assert_allowed(&x, "vpn.outbound", "api.example.org");
	x = explain(&l, NULL, 0, &ns, "203.0.113.9");
	assert_allowed(&x, "vpn.outbound", "v4only.example.org");

	/* addresses the names do not resolve to */
	x = explain(&l, NULL, 0, &ns, "203.0.113.6");
	assert_blocked(&x);
	x = explain(&l, NULL, 0, &ns, "2001:db8::9");
	assert_blocked(&x);
	/* the IPv4 answer does not match an IPv6 query with the same leading bytes */
	x = explain(&l, NULL, 0, &ns, "cb00:7105::");
	assert_blocked(&x);

	/* without a name cache, or before the name is resolved, a name grants no address */
	x = explain(&l, NULL, 0, NULL, "203.0.113.5");
	assert_blocked(&x);
	vw_names_done(&ns);
	vw_names_init(&ns, 5, 3600);
	assert_int_equal(vw_names_want(&ns, "api.example.org", 0), 0);
	x = explain(&l, NULL, 0, &ns, "203.0.113.5");
	assert_blocked(&x);
	vw_names_done(&ns);
	vw_labels_done(&l);
}

static void test_explain_ports(void **state)
{
	struct vw_labels l;
	struct vw_explanation x;

	labels(&l,
	       (const char *const[]){
		       "vpn.outbound",
		       "198.51.100.7:443/tcp,198.51.100.8:8000-8100/udp,198.51.100.9:53", NULL });
	x = explain(&l, NULL, 0, NULL, "198.51.100.7:443/tcp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.7:443/tcp");
	/* a query port without protocol means tcp */
	x = explain(&l, NULL, 0, NULL, "198.51.100.7:443");
	assert_allowed(&x, "vpn.outbound", "198.51.100.7:443/tcp");
	assert_string_equal(
		x.reason,
		"198.51.100.7:443 is allowed by vpn.outbound entry '198.51.100.7:443/tcp'");
	x = explain(&l, NULL, 0, NULL, "198.51.100.7:443/udp");
	assert_blocked(&x);
	x = explain(&l, NULL, 0, NULL, "198.51.100.7:80");
	assert_blocked(&x);
	x = explain(&l, NULL, 0, NULL, "198.51.100.7:442-443");
	assert_blocked(&x);

	/* without a port only some traffic passes */
	x = explain(&l, NULL, 0, NULL, "198.51.100.7");
	assert_partial(&x, "vpn.outbound", "198.51.100.7:443/tcp");
	assert_string_equal(
		x.reason,
		"198.51.100.7 is allowed only on the entry's ports by vpn.outbound entry '198.51.100.7:443/tcp'");

	/* port ranges, and a udp-only entry against the tcp default */
	x = explain(&l, NULL, 0, NULL, "198.51.100.8:8050/udp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.8:8000-8100/udp");
	x = explain(&l, NULL, 0, NULL, "198.51.100.8:8000/udp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.8:8000-8100/udp");
	x = explain(&l, NULL, 0, NULL, "198.51.100.8:8100/udp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.8:8000-8100/udp");
	x = explain(&l, NULL, 0, NULL, "198.51.100.8:8010-8020/udp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.8:8000-8100/udp");
	x = explain(&l, NULL, 0, NULL, "198.51.100.8:8101/udp");
	assert_blocked(&x);
	x = explain(&l, NULL, 0, NULL, "198.51.100.8");
	assert_partial(&x, "vpn.outbound", "198.51.100.8:8000-8100/udp");

	/* a port without protocol in the label covers both */
	x = explain(&l, NULL, 0, NULL, "198.51.100.9:53");
	assert_allowed(&x, "vpn.outbound", "198.51.100.9:53");
	x = explain(&l, NULL, 0, NULL, "198.51.100.9:53/udp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.9:53");
	x = explain(&l, NULL, 0, NULL, "198.51.100.9:54/udp");
	assert_blocked(&x);
	vw_labels_done(&l);

	/* an entry without port scope covers every port and protocol */
	labels(&l, (const char *const[]){ "vpn.outbound", "198.51.100.0/24", NULL });
	x = explain(&l, NULL, 0, NULL, "198.51.100.7:12345/udp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.0/24");
	vw_labels_done(&l);
}

/* Freed by teardown, so a failing assertion does not leak. */
static struct vw_labels bug_labels;

static int free_bug_labels(void **state)
{
	vw_labels_done(&bug_labels);
	return 0;
}

/*
 * explain.h: "A query port without protocol means TCP." A UDP-only entry must therefore
 * not allow a query that gives a port but no protocol (a TCP connection there is dropped).
 */
static void test_explain_port_without_proto_means_tcp(void **state)
{
	struct vw_explanation x;

	labels(&bug_labels,
	       (const char *const[]){ "vpn.outbound",
				      "198.51.100.8:8000-8100/udp,198.51.100.9:53/udp", NULL });
	x = explain(&bug_labels, NULL, 0, NULL, "198.51.100.9:53/udp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.9:53/udp");
	x = explain(&bug_labels, NULL, 0, NULL, "198.51.100.9:53/tcp");
	assert_blocked(&x);
	x = explain(&bug_labels, NULL, 0, NULL, "198.51.100.9:53");
	assert_blocked(&x);
	x = explain(&bug_labels, NULL, 0, NULL, "198.51.100.8:8050");
	assert_blocked(&x);
}

static void test_explain_full_beats_partial(void **state)
{
	struct vw_labels l;
	struct vw_dst defaults[] = { dst("198.51.100.0/24") };
	struct vw_explanation x;

	labels(&l, (const char *const[]){ "vpn.outbound", "198.51.100.7:443/tcp", NULL });
	/* the port-scoped label entry only partly covers it, the default fully */
	x = explain(&l, defaults, ELEMENTSOF(defaults), NULL, "198.51.100.7");
	assert_allowed(&x, "DEFAULT_OUTBOUND", "198.51.100.0/24");
	/* with a port both cover it fully: the first in order (vpn.outbound) is named */
	x = explain(&l, defaults, ELEMENTSOF(defaults), NULL, "198.51.100.7:443");
	assert_allowed(&x, "vpn.outbound", "198.51.100.7:443/tcp");
	vw_labels_done(&l);
}

static void test_explain_default_outbound(void **state)
{
	struct vw_labels l = { 0 };
	struct vw_dst defaults[] = { dst("203.0.113.0/24:123/udp"), dst("2001:db8:53::/48") };
	struct vw_explanation x;

	x = explain(&l, defaults, ELEMENTSOF(defaults), NULL, "203.0.113.1:123/udp");
	assert_allowed(&x, "DEFAULT_OUTBOUND", "203.0.113.0/24:123/udp");
	assert_string_equal(
		x.reason,
		"203.0.113.1:123/udp is allowed by DEFAULT_OUTBOUND entry '203.0.113.0/24:123/udp'");
	x = explain(&l, defaults, ELEMENTSOF(defaults), NULL, "203.0.113.1");
	assert_partial(&x, "DEFAULT_OUTBOUND", "203.0.113.0/24:123/udp");
	x = explain(&l, defaults, ELEMENTSOF(defaults), NULL, "2001:db8:53:1::1");
	assert_allowed(&x, "DEFAULT_OUTBOUND", "2001:db8:53::/48");
	/* without defaults, nothing */
	x = explain(&l, NULL, 0, NULL, "203.0.113.1:123/udp");
	assert_blocked(&x);
}

static void test_explain_vpn_allow(void **state)
{
	struct vw_labels l;
	struct vw_explanation x;

	labels(&l, (const char *const[]){ "vpn.allow", "192.168.1.0/24", "vpn.outbound",
					  "198.51.100.7", NULL });
	x = explain(&l, NULL, 0, NULL, "192.168.1.20:8080");
	assert_allowed(&x, "vpn.allow", "192.168.1.0/24");
	assert_string_equal(x.reason,
			    "192.168.1.20:8080 is allowed by vpn.allow entry '192.168.1.0/24'");
	x = explain(&l, NULL, 0, NULL, "198.51.100.7");
	assert_allowed(&x, "vpn.outbound", "198.51.100.7");
	x = explain(&l, NULL, 0, NULL, "192.168.2.1");
	assert_blocked(&x);
	vw_labels_done(&l);
}

static void test_explain_name_query(void **state)
{
	struct vw_labels l;
	struct vw_explanation x;

	labels(&l, (const char *const[]){ "vpn.outbound",
					  "api.example.org:443/tcp,files.example.net", NULL });
	x = explain(&l, NULL, 0, NULL, "API.example.org:443");
	assert_allowed(&x, "vpn.outbound", "api.example.org:443/tcp");
	assert_string_equal(
		x.reason,
		"api.example.org:443 is allowed by vpn.outbound entry 'api.example.org:443/tcp'");
	x = explain(&l, NULL, 0, NULL, "api.example.org");
	assert_partial(&x, "vpn.outbound", "api.example.org:443/tcp");
	x = explain(&l, NULL, 0, NULL, "api.example.org:80");
	assert_blocked(&x);
	x = explain(&l, NULL, 0, NULL, "files.example.net:21");
	assert_allowed(&x, "vpn.outbound", "files.example.net");
	/* names match exactly, not by suffix */
	x = explain(&l, NULL, 0, NULL, "www.files.example.net");
	assert_blocked(&x);
	x = explain(&l, NULL, 0, NULL, "example.org");
	assert_blocked(&x);
	assert_string_equal(x.reason, "example.org is blocked: no entry of the policy allows it");
	vw_labels_done(&l);
}

static void test_explain_wildcard_not_enforced(void **state)
{
	struct vw_labels l;
	struct vw_explanation x;

	labels(&l, (const char *const[]){ "vpn.outbound", "*.example.org", NULL });
	x = explain(&l, NULL, 0, NULL, "api.example.org");
	assert_blocked(&x);
	assert_non_null(strstr(x.reason, "wildcard '*.example.org'"));
	assert_non_null(strstr(x.reason, "not enforced yet"));
	x = explain(&l, NULL, 0, NULL, "a.b.example.org:443");
	assert_blocked(&x);
	assert_non_null(strstr(x.reason, "not enforced yet"));
	/* the suffix itself is not below the wildcard */
	x = explain(&l, NULL, 0, NULL, "example.org");
	assert_blocked(&x);
	assert_null(strstr(x.reason, "wildcard"));
	vw_labels_done(&l);

	/* an exact entry for the name wins over the wildcard */
	labels(&l, (const char *const[]){ "vpn.outbound", "*.example.org,api.example.org", NULL });
	x = explain(&l, NULL, 0, NULL, "api.example.org");
	assert_allowed(&x, "vpn.outbound", "api.example.org");
	vw_labels_done(&l);
}

static void test_explain_rejects_ranges(void **state)
{
	struct vw_labels l;
	struct vw_explanation x, untouched;
	const char *queries[] = { "198.51.100.0/24", "0.0.0.0/0", "2001:db8::/64", "*.example.org",
				  "198.51.100.0/24:443/tcp" };

	labels(&l, (const char *const[]){ "vpn.outbound", "198.51.100.0/24,*.example.org", NULL });
	for (size_t i = 0; i < ELEMENTSOF(queries); i++) {
		struct vw_dst q = dst(queries[i]);

		memset(&x, 0xaa, sizeof(x));
		memcpy(&untouched, &x, sizeof(x));
		assert_int_equal(vw_explain(&l, NULL, 0, NULL, &q, &x), -EINVAL);
		/* ret stays untouched on failure */
		assert_memory_equal(&x, &untouched, sizeof(x));
	}
	vw_labels_done(&l);
}

static void test_explain_ipv6(void **state)
{
	struct vw_labels l;
	struct vw_explanation x;

	labels(&l,
	       (const char *const[]){
		       "vpn.outbound",
		       "2001:db8::/32,[2001:db8:ffff::1]:443/tcp,2001:db9:0:0:8000::/65", NULL });
	x = explain(&l, NULL, 0, NULL, "2001:db8:1::1");
	assert_allowed(&x, "vpn.outbound", "2001:db8::/32");
	assert_string_equal(x.reason,
			    "2001:db8:1::1 is allowed by vpn.outbound entry '2001:db8::/32'");
	x = explain(&l, NULL, 0, NULL, "[2001:db8:1::1]:443/udp");
	assert_allowed(&x, "vpn.outbound", "2001:db8::/32");
	x = explain(&l, NULL, 0, NULL, "2001:db9::1");
	assert_blocked(&x);
	/* /65: the bit after the first 64 must match */
	x = explain(&l, NULL, 0, NULL, "2001:db9::8000:0:0:1");
	assert_allowed(&x, "vpn.outbound", "2001:db9:0:0:8000::/65");
	x = explain(&l, NULL, 0, NULL, "2001:db9::7fff:0:0:1");
	assert_blocked(&x);
	/* an IPv6 entry never covers an IPv4 address with the same leading bytes */
	x = explain(&l, NULL, 0, NULL, "32.1.13.184");
	assert_blocked(&x);
	vw_labels_done(&l);

	/* port-scoped IPv6 entry */
	labels(&l, (const char *const[]){ "vpn.outbound", "[2001:db8::1]:443/tcp", NULL });
	x = explain(&l, NULL, 0, NULL, "[2001:db8::1]:443");
	assert_allowed(&x, "vpn.outbound", "[2001:db8::1]:443/tcp");
	x = explain(&l, NULL, 0, NULL, "2001:db8::1");
	assert_partial(&x, "vpn.outbound", "[2001:db8::1]:443/tcp");
	x = explain(&l, NULL, 0, NULL, "[2001:db8::2]:443");
	assert_blocked(&x);
	vw_labels_done(&l);

	/* the whole address space of one family only */
	labels(&l, (const char *const[]){ "vpn.outbound", "0.0.0.0/0", NULL });
	x = explain(&l, NULL, 0, NULL, "203.0.113.1");
	assert_allowed(&x, "vpn.outbound", "0.0.0.0/0");
	x = explain(&l, NULL, 0, NULL, "2001:db8::1");
	assert_blocked(&x);
	vw_labels_done(&l);
	labels(&l, (const char *const[]){ "vpn.outbound", "::/0", NULL });
	x = explain(&l, NULL, 0, NULL, "2001:db8::1");
	assert_allowed(&x, "vpn.outbound", "::/0");
	x = explain(&l, NULL, 0, NULL, "203.0.113.1");
	assert_blocked(&x);
	vw_labels_done(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_explain_cidr),
		cmocka_unit_test(test_explain_name_entry_by_address),
		cmocka_unit_test(test_explain_ports),
		cmocka_unit_test_teardown(test_explain_port_without_proto_means_tcp,
					  free_bug_labels),
		cmocka_unit_test(test_explain_full_beats_partial),
		cmocka_unit_test(test_explain_default_outbound),
		cmocka_unit_test(test_explain_vpn_allow),
		cmocka_unit_test(test_explain_name_query),
		cmocka_unit_test(test_explain_wildcard_not_enforced),
		cmocka_unit_test(test_explain_rejects_ranges),
		cmocka_unit_test(test_explain_ipv6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
