// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Label parsing: every accepted form, every rejected form with its reason, and the rule
 * that a bad entry grants nothing while good ones still apply.
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

#include "vpnwall/labels.h"

static struct vw_dst parse_ok(const char *s)
{
	struct vw_dst d;
	const char *reason = NULL;
	int r = vw_dst_parse(s, &d, &reason);

	if (r < 0)
		fail_msg("'%s' rejected: %s", s, reason);
	return d;
}

static const char *parse_bad(const char *s)
{
	struct vw_dst d;
	const char *reason = NULL;

	memset(&d, 0xaa, sizeof(d));
	if (vw_dst_parse(s, &d, &reason) == 0)
		fail_msg("'%s' accepted", s);
	/* ret_dst must stay untouched on failure */
	for (size_t i = 0; i < sizeof(d); i++)
		assert_int_equal(((unsigned char *)&d)[i], 0xaa);
	assert_non_null(reason);
	return reason;
}

static void assert_format(const char *in, const char *out)
{
	struct vw_dst d = parse_ok(in);
	char buf[300];

	vw_dst_format(&d, buf, sizeof(buf));
	vw_dst_done(&d);
	assert_string_equal(buf, out);
}

static void test_dst_ipv4(void **state)
{
	struct vw_dst d = parse_ok("198.51.100.7");
	uint8_t a[4] = { 198, 51, 100, 7 };

	assert_int_equal(d.kind, VW_DST_NET);
	assert_int_equal(d.family, AF_INET);
	assert_int_equal(d.prefix, 32);
	assert_memory_equal(d.addr, a, 4);
	assert_int_equal(d.protos, 0);
}

static void test_dst_cidr_and_ports(void **state)
{
	struct vw_dst d = parse_ok("198.51.100.0/24:443/tcp");

	assert_int_equal(d.prefix, 24);
	assert_int_equal(d.protos, VW_PROTO_TCP);
	assert_int_equal(d.port_lo, 443);
	assert_int_equal(d.port_hi, 443);

	d = parse_ok("198.51.100.7:53");
	assert_int_equal(d.protos, VW_PROTO_TCP | VW_PROTO_UDP);

	d = parse_ok("198.51.100.7:8000-8100/udp");
	assert_int_equal(d.protos, VW_PROTO_UDP);
	assert_int_equal(d.port_lo, 8000);
	assert_int_equal(d.port_hi, 8100);

	d = parse_ok("0.0.0.0/0");
	assert_int_equal(d.prefix, 0);
}

static void test_dst_ipv6(void **state)
{
	struct vw_dst d = parse_ok("2001:db8::1");

	assert_int_equal(d.family, AF_INET6);
	assert_int_equal(d.prefix, 128);
	assert_int_equal(d.protos, 0);

	d = parse_ok("[2001:db8::1]:443");
	assert_int_equal(d.family, AF_INET6);
	assert_int_equal(d.port_lo, 443);

	/* after a prefix length the port is unambiguous, as in the README example */
	d = parse_ok("2001:db8::/32:443/tcp");
	assert_int_equal(d.prefix, 32);
	assert_int_equal(d.protos, VW_PROTO_TCP);
	assert_int_equal(d.port_lo, 443);

	d = parse_ok("[2001:db8::/32]:443/tcp");
	assert_int_equal(d.prefix, 32);
	assert_int_equal(d.port_lo, 443);
}

static void test_dst_names(void **state)
{
	struct vw_dst d = parse_ok("API.GitHub.com.");

	assert_int_equal(d.kind, VW_DST_NAME);
	assert_string_equal(d.name, "api.github.com");
	vw_dst_done(&d);
	assert_null(d.name);

	d = parse_ok("api.github.com:443/tcp");
	assert_string_equal(d.name, "api.github.com");
	assert_int_equal(d.port_lo, 443);
	vw_dst_done(&d);

	d = parse_ok("*.example.org");
	assert_int_equal(d.kind, VW_DST_WILDCARD);
	assert_string_equal(d.name, "example.org");
	vw_dst_done(&d);

	d = parse_ok("_dmarc.example.org");
	assert_int_equal(d.kind, VW_DST_NAME);
	vw_dst_done(&d);

	/* addresses own no name */
	d = parse_ok("198.51.100.7:443/tcp");
	assert_null(d.name);
}

static void test_dst_rejects(void **state)
{
	assert_string_equal(
		parse_bad("198.51.100.7/24"),
		"CIDR has host bits set (write the network address, e.g. 192.168.1.0/24)");
	assert_string_equal(parse_bad("198.51.100.256"), "invalid IPv4 address");
	assert_string_equal(parse_bad("198.51.100"), "invalid IPv4 address");
	assert_string_equal(parse_bad("198.51.100.0/33"), "prefix length must be 0 to 32");
	assert_string_equal(parse_bad("198.51.100.0/"), "prefix length must be 0 to 32");
	assert_string_equal(parse_bad("198.51.100.7:0"),
			    "port must be a number from 1 to 65535 (or a range lo-hi)");
	assert_string_equal(parse_bad("198.51.100.7:65536"),
			    "port must be a number from 1 to 65535 (or a range lo-hi)");
	assert_string_equal(parse_bad("198.51.100.7:+80"),
			    "port must be a number from 1 to 65535 (or a range lo-hi)");
	assert_string_equal(parse_bad("198.51.100.7:80x"),
			    "port must be a number from 1 to 65535 (or a range lo-hi)");
	assert_string_equal(parse_bad("198.51.100.7:90-80"),
			    "port range is reversed (write lo-hi)");
	assert_string_equal(parse_bad("198.51.100.7:80/sctp"), "protocol must be tcp or udp");
	assert_string_equal(parse_bad("198.51.100.7:"), "empty port after ':'");
	assert_string_equal(parse_bad(":443"), "missing destination before ':'");
	assert_string_equal(parse_bad("2001:db8::1:443:x"),
			    "invalid IPv6 address (to give a port, write [2001:db8::1]:443)");
	assert_string_equal(parse_bad("[2001:db8::1"), "missing ']' after IPv6 address");
	assert_string_equal(parse_bad("[2001:db8::1]443"), "expected ':port' after ']'");
	assert_string_equal(parse_bad("[198.51.100.7]:80"), "invalid IPv6 address");
	assert_string_equal(parse_bad("2001:db8::1/129"), "prefix length must be 0 to 128");
	assert_string_equal(parse_bad("api.github.com/tcp"),
			    "a protocol needs a port (write name:443/tcp)");
	assert_string_equal(
		parse_bad("localhost"),
		"not a fully qualified domain name (containers on the same network are always reachable)");
	assert_string_equal(parse_bad("-bad.example.org"),
			    "a domain name part cannot start or end with '-'");
	assert_string_equal(parse_bad("a..example.org"),
			    "each part of a domain name must be 1 to 63 characters");
	assert_string_equal(parse_bad("exa mple.org"), "invalid character in domain name");
	assert_string_equal(parse_bad("example.123"), "top-level domain cannot be all digits");
	assert_string_equal(parse_bad("*example.org"),
			    "a wildcard must be '*.' followed by a domain");
	assert_string_equal(parse_bad("a.*.example.org"), "invalid character in domain name");
	(void)parse_bad("*");
	(void)parse_bad("*.org");
	(void)parse_bad("");
}

static void test_dst_format_roundtrip(void **state)
{
	assert_format("198.51.100.7", "198.51.100.7");
	assert_format("198.51.100.0/24:443/tcp", "198.51.100.0/24:443/tcp");
	assert_format("198.51.100.7:53", "198.51.100.7:53");
	assert_format("2001:db8::/32:443/tcp", "[2001:db8::/32]:443/tcp");
	assert_format("[2001:db8::1]:8000-8100/udp", "[2001:db8::1]:8000-8100/udp");
	assert_format("2001:db8::1", "2001:db8::1");
	assert_format("Api.GitHub.com:443", "api.github.com:443");
	assert_format("*.example.org", "*.example.org");
}

static void test_wildcard_matches(void **state)
{
	assert_true(vw_wildcard_matches("example.org", "a.example.org"));
	assert_true(vw_wildcard_matches("example.org", "a.b.example.org"));
	assert_false(vw_wildcard_matches("example.org", "example.org"));
	assert_false(vw_wildcard_matches("example.org", "evilexample.org"));
	assert_false(vw_wildcard_matches("example.org", ".example.org"));
	assert_false(vw_wildcard_matches("example.org", "example.org.evil.com"));
}

static void test_labels_partial_errors(void **state)
{
	struct vw_labels l = { 0 };

	assert_int_equal(vw_labels_add(&l, "vpn.outbound",
				       " api.github.com , 198.51.100.7/24,, 198.51.100.9:443/tcp,"),
			 0);
	assert_int_equal(l.n_outbound, 2);
	assert_string_equal(l.outbound[0].name, "api.github.com");
	assert_int_equal(l.outbound[1].port_lo, 443);
	assert_int_equal(l.n_errors, 1);
	assert_string_equal(l.errors[0].label, "vpn.outbound");
	assert_string_equal(l.errors[0].token, "198.51.100.7/24");
	vw_labels_done(&l);
}

static void test_labels_keys(void **state)
{
	struct vw_labels l = { 0 };
	char big[1100];

	assert_int_equal(vw_labels_add(&l, "dockerwall.outbound", "198.51.100.1"), 0);
	assert_int_equal(vw_labels_add(&l, "vpn.allow", "192.168.1.0/24"), 0);
	assert_int_equal(vw_labels_add(&l, "vpn.allow", "lan.example.org"), 0);
	assert_int_equal(vw_labels_add(&l, "com.example.other", "whatever"), 0);
	assert_int_equal(vw_labels_add(&l, "vpn.outbund", "198.51.100.1"), 0);
	assert_int_equal(vw_labels_add(&l, "vpn.dryrun", "true"), 0);
	assert_int_equal(l.n_outbound, 1);
	assert_int_equal(l.n_allow, 1);
	assert_true(l.dry_run);
	assert_false(l.disabled);
	assert_int_equal(l.n_errors, 2);
	assert_string_equal(l.errors[0].reason, "vpn.allow takes addresses and CIDRs, not names");
	assert_string_equal(l.errors[1].reason, "unknown vpnwall label");

	/* an unparsable opt-out keeps the container managed */
	assert_int_equal(vw_labels_add(&l, "vpn.enable", "nope"), 0);
	assert_false(l.disabled);
	assert_int_equal(vw_labels_add(&l, "vpn.enable", "false"), 0);
	assert_true(l.disabled);
	assert_false(l.no_tunnel);
	assert_int_equal(vw_labels_add(&l, "vpn.tunnel", "false"), 0);
	assert_true(l.no_tunnel);
	assert_int_equal(vw_labels_add(&l, "vpn.tunnel", "true"), 0);
	assert_false(l.no_tunnel);

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(vw_labels_add(&l, "vpn.outbound", big), 0);
	assert_string_equal(l.errors[l.n_errors - 1].reason, "label value longer than 1024 bytes");
	assert_int_equal(l.n_outbound, 1);
	vw_labels_done(&l);
}

/* Only the exact words switch anything: "0", "no", "False" are errors and change nothing. */
static void test_labels_bool_exact(void **state)
{
	static const char *const lax[] = { "0",	     "no",     "NO", "False", "FALSE", "off", "",
					   " false", "false ", "1",  "yes",   "TRUE",  "True" };

	for (size_t i = 0; i < sizeof(lax) / sizeof(lax[0]); i++) {
		struct vw_labels l = { 0 };

		assert_int_equal(vw_labels_add(&l, "vpn.enable", lax[i]), 0);
		assert_int_equal(vw_labels_add(&l, "vpn.dryrun", lax[i]), 0);
		assert_int_equal(vw_labels_add(&l, "vpn.tunnel", lax[i]), 0);
		assert_false(l.disabled);
		assert_false(l.dry_run);
		/* leaving the tunnel takes an exact "false" too */
		assert_false(l.no_tunnel);
		assert_int_equal(l.n_errors, 3);
		assert_string_equal(l.errors[0].label, "vpn.enable");
		assert_string_equal(l.errors[0].reason, "must be true or false (lowercase)");
		vw_labels_done(&l);
	}
}

/* Thousands of unknown vpn.* keys cost a bounded number of records, the rest is counted. */
static void test_labels_error_cap(void **state)
{
	struct vw_labels l = { 0 };
	char key[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "vpn.unknown%d", i);
		assert_int_equal(vw_labels_add(&l, key, "x"), 0);
	}
	assert_int_equal(l.n_errors, VW_LABEL_ERRORS_MAX);
	assert_int_equal(l.n_errors_dropped, 5000 - VW_LABEL_ERRORS_MAX);
	vw_labels_done(&l);
	assert_int_equal(l.n_errors_dropped, 0);
}

static void test_labels_entry_cap(void **state)
{
	struct vw_labels l = { 0 };
	char buf[1024];
	size_t off = 0;

	for (int i = 0; i < 90; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s10.0.%d.1", i ? "," : "",
					i % 256);
	/* the value is capped at 1 KiB; spread entries over two labels to pass 256 */
	for (int k = 0; k < 3; k++)
		assert_int_equal(vw_labels_add(&l, "vpn.outbound", buf), 0);
	assert_int_equal(l.n_outbound, VW_LABEL_ENTRIES_MAX);
	assert_true(l.n_errors > 0);
	assert_string_equal(l.errors[0].reason, "too many entries (at most 256 per container)");
	vw_labels_done(&l);
}

static void test_labels_error_token_is_printable(void **state)
{
	struct vw_labels l = { 0 };

	assert_int_equal(vw_labels_add(&l, "vpn.outbound", "evil\ninfo daemon: forged\x1b[2J"), 0);
	assert_int_equal(l.n_errors, 1);
	assert_string_equal(l.errors[0].token, "evil?info daemon: forged?[2J");
	vw_labels_done(&l);

	/* the key is as untrusted as the value */
	assert_int_equal(vw_labels_add(&l, "vpn.x\x1b]0;owned\x07\n\xc2\x9b", "1"), 0);
	assert_int_equal(l.n_errors, 1);
	assert_string_equal(l.errors[0].label, "vpn.x?]0;owned????");
	assert_string_equal(l.errors[0].token, "vpn.x?]0;owned????");
	vw_labels_done(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dst_ipv4),
		cmocka_unit_test(test_dst_cidr_and_ports),
		cmocka_unit_test(test_dst_ipv6),
		cmocka_unit_test(test_dst_names),
		cmocka_unit_test(test_dst_rejects),
		cmocka_unit_test(test_dst_format_roundtrip),
		cmocka_unit_test(test_wildcard_matches),
		cmocka_unit_test(test_labels_partial_errors),
		cmocka_unit_test(test_labels_keys),
		cmocka_unit_test(test_labels_bool_exact),
		cmocka_unit_test(test_labels_error_cap),
		cmocka_unit_test(test_labels_entry_cap),
		cmocka_unit_test(test_labels_error_token_is_printable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
