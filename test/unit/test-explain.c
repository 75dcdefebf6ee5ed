// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Explanations: the verdict comes from the compiled boxes (an isolated container reaches
 * nothing; a stale name answer is what the kernel enforces until the next compile), and the
 * deciding entry is the first that covers the query fully, else partly, in the compiler's
 * order and under its name quota: CIDR containment, names by their current addresses, port
 * and protocol scope, DEFAULT_OUTBOUND, vpn.allow, labels of containers joining the
 * namespace. Also the partial answer for a port-less query, name queries, wildcards that are
 * shown but not enforced, and the queries that cannot be answered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "vpnwall/config.h"
#include "vpnwall/explain.h"
#include "vpnwall/labels.h"
#include "vpnwall/names.h"
#include "vpnwall/policy.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/util.h"

/* One container ("app"), the containers joining its namespace, and what it compiles into. */
struct world {
	struct vw_container c;
	struct vw_container sharers[2];
	const struct vw_container *sp[2];
	size_t n_sharers;
	struct vw_config cfg;
	struct vw_names ns;
	const struct vw_names *names; /* &ns, or NULL: no name cache */
	struct vw_rs_container rc;
};

static void config(struct world *w, const char *const *env)
{
	const char *none[] = { NULL };
	const char *argv[] = { "vpnwalld", NULL };
	char err[256] = "";

	vw_config_done(&w->cfg);
	if (vw_config_parse(&w->cfg, (char *const *)(env ? env : none), 1, (char *const *)argv, err,
			    sizeof(err)) < 0)
		fail_msg("settings rejected: %s", err);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	const char *argv[] = { "vpnwalld", NULL };
	const char *env[] = { NULL };
	char err[256];

	if (!w)
		return -1;
	*w = (struct world){
		.c = { .running = true, .id = "1111111111111111aaaa", .name = "app" },
		.sharers = { { .running = true, .id = "2222222222222222bbbb", .name = "sidecar" },
			     { .running = true, .id = "3333333333333333cccc", .name = "proxy" } }
	};
	vw_names_init(&w->ns, 5, 3600);
	w->names = &w->ns;
	*state = w;
	return vw_config_parse(&w->cfg, (char *const *)env, 1, (char *const *)argv, err,
			       sizeof(err));
}

static int teardown(void **state)
{
	struct world *w = *state;

	vw_labels_done(&w->c.labels);
	vw_labels_done(&w->sharers[0].labels);
	vw_labels_done(&w->sharers[1].labels);
	vw_config_done(&w->cfg);
	vw_names_done(&w->ns);
	vw_rs_container_done(&w->rc);
	free(w);
	return 0;
}

static struct vw_dst dst(const char *s)
{
	struct vw_dst d;
	const char *reason = NULL;

	if (vw_dst_parse(s, &d, &reason) < 0)
		fail_msg("'%s' rejected: %s", s, reason);
	return d;
}

/* Labels from key, value pairs ending with NULL, replacing the old ones; every entry parses. */
static void labels(struct vw_container *c, const char *const *kv)
{
	vw_labels_done(&c->labels);
	for (; kv && kv[0]; kv += 2)
		assert_int_equal(vw_labels_add(&c->labels, kv[0], kv[1]), 0);
	assert_int_equal(c->labels.n_errors, 0);
}

/* What the container compiles into now, with a box budget. */
static void compile_budget(struct world *w, size_t budget)
{
	vw_rs_container_done(&w->rc);
	memset(&w->rc, 0, sizeof(w->rc));
	assert_int_equal(vw_policy_compile_container(&w->c, w->sp, w->n_sharers, &w->cfg, w->names,
						     budget, &w->rc),
			 0);
}

static void compile(struct world *w)
{
	compile_budget(w, VW_CONTAINER_COST_MAX);
}

/* Explain @query against the boxes compiled last. */
static struct vw_explanation explain_compiled(struct world *w, const char *query)
{
	struct vw_dst q = dst(query);
	struct vw_explanation x;

	memset(&x, 0xaa, sizeof(x));
	assert_int_equal(vw_explain(&(struct vw_explain_input){ .compiled = &w->rc,
								.c = &w->c,
								.sharers = w->sp,
								.n_sharers = w->n_sharers,
								.cfg = &w->cfg,
								.names = w->names },
				    &q, &x),
			 0);
	vw_dst_done(&q);
	return x;
}

/* Compile the current policy, then explain @query. */
static struct vw_explanation explain(struct world *w, const char *query)
{
	compile(w);
	return explain_compiled(w, query);
}

static void assert_verdict(const struct vw_explanation *x, enum vw_verdict v, const char *label,
			   const char *entry, const char *container)
{
	static const char *const names[] = { "allowed", "partial", "blocked" };

	if (x->verdict != v)
		fail_msg("verdict %s, expected %s: %s", names[x->verdict], names[v], x->reason);
	assert_string_equal(x->label, label);
	assert_string_equal(x->entry, entry);
	assert_string_equal(x->container, container);
}

static void assert_allowed(const struct vw_explanation *x, const char *label, const char *entry)
{
	assert_verdict(x, VW_VERDICT_ALLOWED, label, entry, "");
}

static void assert_partial(const struct vw_explanation *x, const char *label, const char *entry)
{
	assert_verdict(x, VW_VERDICT_PARTIAL, label, entry, "");
}

static void assert_blocked(const struct vw_explanation *x)
{
	assert_verdict(x, VW_VERDICT_BLOCKED, "", "", "");
	assert_non_null(strstr(x->reason, " is blocked: "));
}

/* @name resolves to @a4 (may be NULL) and @a6 (may be NULL). */
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
		(void)vw_names_answer(ns, name, 0, VW_DNS_NONE, NULL, 0, 0, 0);
	}
	memset(addrs, 0, sizeof(addrs));
	if (a6) {
		assert_int_equal(inet_pton(AF_INET6, a6, addrs[0]), 1);
		assert_int_equal(vw_names_answer(ns, name, 1, VW_DNS_OK,
						 (const uint8_t(*)[16])addrs, 1, 300, 0),
				 1);
	} else {
		(void)vw_names_answer(ns, name, 1, VW_DNS_NONE, NULL, 0, 0, 0);
	}
}

/* "n01.test,...": @n distinct names from @first, each resolving to 203.0.113.<i>. */
static void many_names(struct world *w, char *buf, size_t size, unsigned first, unsigned n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned i = first; i < first + n; i++) {
		char name[24], a[32];

		snprintf(name, sizeof(name), "n%02u.test", i);
		snprintf(a, sizeof(a), "203.0.113.%u", i);
		resolve(&w->ns, name, a, NULL);
		len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "," : "", name);
		assert_true(len < size);
	}
}

/* --- addresses ----------------------------------------------------------------------------- */

static void test_explain_cidr(void **state)
{
	struct world *w = *state;
	struct vw_explanation x;

	labels(&w->c,
	       (const char *const[]){ "vpn.outbound", "198.51.100.0/24,203.0.113.128/25", NULL });
	x = explain(w, "198.51.100.7");
	assert_allowed(&x, "vpn.outbound", "198.51.100.0/24");
	assert_string_equal(x.reason,
			    "198.51.100.7 is allowed by vpn.outbound entry '198.51.100.0/24'");

	/* a prefix that does not end on a byte boundary */
	x = explain(w, "203.0.113.200");
	assert_allowed(&x, "vpn.outbound", "203.0.113.128/25");
	x = explain(w, "203.0.113.128");
	assert_allowed(&x, "vpn.outbound", "203.0.113.128/25");
	x = explain(w, "203.0.113.127");
	assert_blocked(&x);

	/* an explicit /32 is an address, not a range */
	x = explain(w, "198.51.100.255/32");
	assert_allowed(&x, "vpn.outbound", "198.51.100.0/24");

	x = explain(w, "198.51.101.7");
	assert_blocked(&x);
	assert_string_equal(x.reason, "198.51.101.7 is blocked: no entry of the policy allows it");

	/* nothing listed: everything blocked */
	labels(&w->c, NULL);
	x = explain(w, "198.51.100.7");
	assert_blocked(&x);
}

static void test_explain_name_entry_by_address(void **state)
{
	struct world *w = *state;
	struct vw_explanation x;

	resolve(&w->ns, "api.example.org", "203.0.113.5", "2001:db8::5");
	resolve(&w->ns, "v4only.example.org", "203.0.113.9", NULL);
	labels(&w->c,
	       (const char *const[]){ "vpn.outbound", "api.example.org,v4only.example.org", NULL });

	x = explain(w, "203.0.113.5");
	assert_allowed(&x, "vpn.outbound", "api.example.org");
	assert_string_equal(
		x.reason,
		"203.0.113.5 is allowed by vpn.outbound entry 'api.example.org' (the name currently resolves to it)");
	x = explain(w, "2001:db8::5");
	assert_allowed(&x, "vpn.outbound", "api.example.org");
	x = explain(w, "203.0.113.9");
	assert_allowed(&x, "vpn.outbound", "v4only.example.org");

	/* addresses the names do not resolve to */
	x = explain(w, "203.0.113.6");
	assert_blocked(&x);
	x = explain(w, "2001:db8::9");
	assert_blocked(&x);
	/* the IPv4 answer does not match an IPv6 query with the same leading bytes */
	x = explain(w, "cb00:7105::");
	assert_blocked(&x);

	/* without a name cache, or before the name is resolved, a name grants no address */
	w->names = NULL;
	x = explain(w, "203.0.113.5");
	assert_blocked(&x);
	w->names = &w->ns;
	vw_names_done(&w->ns);
	vw_names_init(&w->ns, 5, 3600);
	assert_int_equal(vw_names_want(&w->ns, "api.example.org", 0), 0);
	x = explain(w, "203.0.113.5");
	assert_blocked(&x);
}

static void test_explain_ports(void **state)
{
	struct world *w = *state;
	struct vw_explanation x;

	labels(&w->c,
	       (const char *const[]){
		       "vpn.outbound",
		       "198.51.100.7:443/tcp,198.51.100.8:8000-8100/udp,198.51.100.9:53", NULL });
	x = explain(w, "198.51.100.7:443/tcp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.7:443/tcp");
	/* a query port without protocol means tcp */
	x = explain(w, "198.51.100.7:443");
	assert_allowed(&x, "vpn.outbound", "198.51.100.7:443/tcp");
	assert_string_equal(
		x.reason,
		"198.51.100.7:443 is allowed by vpn.outbound entry '198.51.100.7:443/tcp'");
	x = explain(w, "198.51.100.7:443/udp");
	assert_blocked(&x);
	x = explain(w, "198.51.100.7:80");
	assert_blocked(&x);
	/* a range of which only one port passes is allowed in part, never whole */
	x = explain(w, "198.51.100.7:442-443");
	assert_verdict(&x, VW_VERDICT_PARTIAL, "vpn.outbound", "198.51.100.7:443/tcp", "");
	x = explain(w, "198.51.100.7:443-444/tcp");
	assert_verdict(&x, VW_VERDICT_PARTIAL, "vpn.outbound", "198.51.100.7:443/tcp", "");
	x = explain(w, "198.51.100.7:440-442");
	assert_blocked(&x);

	/* without a port only some traffic passes */
	x = explain(w, "198.51.100.7");
	assert_partial(&x, "vpn.outbound", "198.51.100.7:443/tcp");
	assert_string_equal(
		x.reason,
		"198.51.100.7 is allowed only in part by vpn.outbound entry '198.51.100.7:443/tcp'");

	/* port ranges, and a udp-only entry against the tcp default */
	x = explain(w, "198.51.100.8:8050/udp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.8:8000-8100/udp");
	x = explain(w, "198.51.100.8:8000/udp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.8:8000-8100/udp");
	x = explain(w, "198.51.100.8:8100/udp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.8:8000-8100/udp");
	x = explain(w, "198.51.100.8:8010-8020/udp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.8:8000-8100/udp");
	x = explain(w, "198.51.100.8:7999/udp");
	assert_blocked(&x);
	x = explain(w, "198.51.100.8:8101/udp");
	assert_blocked(&x);
	x = explain(w, "198.51.100.8");
	assert_partial(&x, "vpn.outbound", "198.51.100.8:8000-8100/udp");

	/* a port without protocol in the label covers both */
	x = explain(w, "198.51.100.9:53");
	assert_allowed(&x, "vpn.outbound", "198.51.100.9:53");
	x = explain(w, "198.51.100.9:53/udp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.9:53");
	x = explain(w, "198.51.100.9:54/udp");
	assert_blocked(&x);

	/* an entry without port scope covers every port and protocol */
	labels(&w->c, (const char *const[]){ "vpn.outbound", "198.51.100.0/24", NULL });
	x = explain(w, "198.51.100.7:12345/udp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.0/24");
	x = explain(w, "198.51.100.7:65535");
	assert_allowed(&x, "vpn.outbound", "198.51.100.0/24");
}

/*
 * explain.h: "A query port without protocol means TCP." A UDP-only entry must therefore
 * not allow a query that gives a port but no protocol (a TCP connection there is dropped).
 */
static void test_explain_port_without_proto_means_tcp(void **state)
{
	struct world *w = *state;
	struct vw_explanation x;

	labels(&w->c,
	       (const char *const[]){ "vpn.outbound",
				      "198.51.100.8:8000-8100/udp,198.51.100.9:53/udp", NULL });
	x = explain(w, "198.51.100.9:53/udp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.9:53/udp");
	x = explain(w, "198.51.100.9:53/tcp");
	assert_blocked(&x);
	x = explain(w, "198.51.100.9:53");
	assert_blocked(&x);
	x = explain(w, "198.51.100.8:8050");
	assert_blocked(&x);
}

/* Without a port, a destination is allowed only when every protocol is (ICMP included). */
static void test_explain_portless_needs_any_protocol(void **state)
{
	struct world *w = *state;
	struct vw_explanation x;

	labels(&w->c, (const char *const[]){ "vpn.outbound",
					     "198.51.100.7:1-65535,198.51.100.8:1-65535/tcp,"
					     "198.51.100.8:1-65535/udp,198.51.100.9",
					     NULL });
	x = explain(w, "198.51.100.7");
	assert_partial(&x, "vpn.outbound", "198.51.100.7:1-65535");
	x = explain(w, "198.51.100.7:1/udp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.7:1-65535");
	/* tcp and udp from two entries: still only part of it, the first is named */
	x = explain(w, "198.51.100.8");
	assert_partial(&x, "vpn.outbound", "198.51.100.8:1-65535/tcp");
	x = explain(w, "198.51.100.8:65535/udp");
	assert_allowed(&x, "vpn.outbound", "198.51.100.8:1-65535/udp");
	x = explain(w, "198.51.100.9");
	assert_allowed(&x, "vpn.outbound", "198.51.100.9");

	/* only an any-protocol box will do: every port of tcp and udp is still not all */
	labels(&w->c, (const char *const[]){ "vpn.outbound", "198.51.100.7:1-65535", NULL });
	compile(w);
	assert_int_equal(w->rc.dst[0].n, 2);
	for (size_t i = 0; i < w->rc.dst[0].n; i++)
		w->rc.dst[0].v[i].port_lo = 0;
	x = explain_compiled(w, "198.51.100.7");
	assert_partial(&x, "vpn.outbound", "198.51.100.7:1-65535");
}

static void test_explain_full_beats_partial(void **state)
{
	struct world *w = *state;
	const char *env[] = { "DEFAULT_OUTBOUND=198.51.100.0/24", NULL };
	struct vw_explanation x;

	config(w, env);
	labels(&w->c, (const char *const[]){ "vpn.outbound", "198.51.100.7:443/tcp", NULL });
	/* the port-scoped label entry only partly covers it, the default fully */
	x = explain(w, "198.51.100.7");
	assert_allowed(&x, "DEFAULT_OUTBOUND", "198.51.100.0/24");
	/* with a port both cover it fully: the first in order (vpn.outbound) is named */
	x = explain(w, "198.51.100.7:443");
	assert_allowed(&x, "vpn.outbound", "198.51.100.7:443/tcp");

	/* of two partial entries, the first is named */
	config(w, NULL);
	labels(&w->c, (const char *const[]){ "vpn.outbound", "198.51.100.7:443/tcp", "vpn.allow",
					     "198.51.100.0/24:22/tcp", NULL });
	x = explain(w, "198.51.100.7");
	assert_partial(&x, "vpn.outbound", "198.51.100.7:443/tcp");
	x = explain(w, "198.51.100.7:22");
	assert_allowed(&x, "vpn.allow", "198.51.100.0/24:22/tcp");
}

static void test_explain_default_outbound(void **state)
{
	struct world *w = *state;
	const char *env[] = { "DEFAULT_OUTBOUND=203.0.113.0/24:123/udp,2001:db8:53::/48", NULL };
	struct vw_explanation x;

	config(w, env);
	x = explain(w, "203.0.113.1:123/udp");
	assert_allowed(&x, "DEFAULT_OUTBOUND", "203.0.113.0/24:123/udp");
	assert_string_equal(
		x.reason,
		"203.0.113.1:123/udp is allowed by DEFAULT_OUTBOUND entry '203.0.113.0/24:123/udp'");
	x = explain(w, "203.0.113.1");
	assert_partial(&x, "DEFAULT_OUTBOUND", "203.0.113.0/24:123/udp");
	x = explain(w, "2001:db8:53:1::1");
	assert_allowed(&x, "DEFAULT_OUTBOUND", "2001:db8:53::/48");
	/* without defaults, nothing */
	config(w, NULL);
	x = explain(w, "203.0.113.1:123/udp");
	assert_blocked(&x);
}

/* With a kill switch, explain says which way: only through the VPN, or by any path. */
static void test_explain_paths(void **state)
{
	struct world *w = *state;
	const char *env[] = { "VPN_INTERFACE=wg+", "VPN_ALLOW=192.168.7.0/24", NULL };
	struct vw_explanation x;

	config(w, env);
	labels(&w->c, (const char *const[]){ "vpn.outbound", "198.51.100.7", "vpn.allow",
					     "192.168.1.0/24", NULL });
	x = explain(w, "198.51.100.7:443");
	assert_allowed(&x, "vpn.outbound", "198.51.100.7");
	assert_int_equal(x.path, VW_PATH_VPN);
	assert_string_equal(x.reason, "198.51.100.7:443 is allowed by vpn.outbound entry "
				      "'198.51.100.7', only through wg+");
	x = explain(w, "192.168.1.5");
	assert_allowed(&x, "vpn.allow", "192.168.1.0/24");
	assert_int_equal(x.path, VW_PATH_ANY);
	assert_non_null(strstr(x.reason, ", by any path (not only wg+)"));
	/* the global LAN, for every managed container */
	x = explain(w, "192.168.7.9:22");
	assert_allowed(&x, "VPN_ALLOW", "192.168.7.0/24");
	assert_int_equal(x.path, VW_PATH_ANY);
	/* opted out of the tunnel: its outbound entries too */
	labels(&w->c, (const char *const[]){ "vpn.outbound", "198.51.100.7", "vpn.tunnel", "false",
					     NULL });
	x = explain(w, "198.51.100.7:443");
	assert_allowed(&x, "vpn.outbound", "198.51.100.7");
	assert_int_equal(x.path, VW_PATH_ANY);
}

static void test_explain_vpn_allow(void **state)
{
	struct world *w = *state;
	struct vw_explanation x;

	labels(&w->c, (const char *const[]){ "vpn.allow", "192.168.1.0/24", "vpn.outbound",
					     "198.51.100.7", NULL });
	x = explain(w, "192.168.1.20:8080");
	assert_allowed(&x, "vpn.allow", "192.168.1.0/24");
	assert_string_equal(x.reason,
			    "192.168.1.20:8080 is allowed by vpn.allow entry '192.168.1.0/24'");
	x = explain(w, "198.51.100.7");
	assert_allowed(&x, "vpn.outbound", "198.51.100.7");
	x = explain(w, "192.168.2.1");
	assert_blocked(&x);
}

static void test_explain_ipv6(void **state)
{
	struct world *w = *state;
	struct vw_explanation x;

	labels(&w->c,
	       (const char *const[]){
		       "vpn.outbound",
		       "2001:db8::/32,[2001:db8:ffff::1]:443/tcp,2001:db9:0:0:8000::/65", NULL });
	x = explain(w, "2001:db8:1::1");
	assert_allowed(&x, "vpn.outbound", "2001:db8::/32");
	assert_string_equal(x.reason,
			    "2001:db8:1::1 is allowed by vpn.outbound entry '2001:db8::/32'");
	x = explain(w, "[2001:db8:1::1]:443/udp");
	assert_allowed(&x, "vpn.outbound", "2001:db8::/32");
	x = explain(w, "2001:db9::1");
	assert_blocked(&x);
	/* /65: the bit after the first 64 must match */
	x = explain(w, "2001:db9::8000:0:0:1");
	assert_allowed(&x, "vpn.outbound", "2001:db9:0:0:8000::/65");
	x = explain(w, "2001:db9::7fff:0:0:1");
	assert_blocked(&x);
	/* an IPv6 entry never covers an IPv4 address with the same leading bytes */
	x = explain(w, "32.1.13.184");
	assert_blocked(&x);

	/* port-scoped IPv6 entry */
	labels(&w->c, (const char *const[]){ "vpn.outbound", "[2001:db8::1]:443/tcp", NULL });
	x = explain(w, "[2001:db8::1]:443");
	assert_allowed(&x, "vpn.outbound", "[2001:db8::1]:443/tcp");
	x = explain(w, "2001:db8::1");
	assert_partial(&x, "vpn.outbound", "[2001:db8::1]:443/tcp");
	x = explain(w, "[2001:db8::2]:443");
	assert_blocked(&x);

	/* the whole address space of one family only */
	labels(&w->c, (const char *const[]){ "vpn.outbound", "0.0.0.0/0", NULL });
	x = explain(w, "203.0.113.1");
	assert_allowed(&x, "vpn.outbound", "0.0.0.0/0");
	x = explain(w, "255.255.255.255");
	assert_allowed(&x, "vpn.outbound", "0.0.0.0/0");
	x = explain(w, "2001:db8::1");
	assert_blocked(&x);
	labels(&w->c, (const char *const[]){ "vpn.outbound", "::/0", NULL });
	x = explain(w, "2001:db8::1");
	assert_allowed(&x, "vpn.outbound", "::/0");
	x = explain(w, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_allowed(&x, "vpn.outbound", "::/0");
	x = explain(w, "203.0.113.1");
	assert_blocked(&x);
}

/* --- names and wildcards -------------------------------------------------------------------- */

static void test_explain_name_query(void **state)
{
	struct world *w = *state;
	struct vw_explanation x;

	resolve(&w->ns, "api.example.org", "203.0.113.5", "2001:db8::5");
	resolve(&w->ns, "files.example.net", "198.51.100.21", NULL);
	labels(&w->c, (const char *const[]){ "vpn.outbound",
					     "api.example.org:443/tcp,files.example.net", NULL });
	/* a name stands for its current addresses; every one of them is allowed here */
	x = explain(w, "API.example.org:443");
	assert_allowed(&x, "vpn.outbound", "api.example.org:443/tcp");
	assert_string_equal(
		x.reason,
		"api.example.org:443 is allowed by vpn.outbound entry 'api.example.org:443/tcp'");
	x = explain(w, "api.example.org");
	assert_partial(&x, "vpn.outbound", "api.example.org:443/tcp");
	x = explain(w, "api.example.org:80");
	assert_blocked(&x);
	x = explain(w, "files.example.net:21");
	assert_allowed(&x, "vpn.outbound", "files.example.net");
	x = explain(w, "files.example.net");
	assert_allowed(&x, "vpn.outbound", "files.example.net");

	/* names match exactly, not by suffix; a name nobody resolves cannot be answered */
	x = explain(w, "www.files.example.net");
	assert_blocked(&x);
	assert_string_equal(
		x.reason,
		"www.files.example.net is blocked: the name is not resolved (only names in the policy are)");
	x = explain(w, "example.org");
	assert_blocked(&x);

	/* a resolved name the policy does not list, by the entries covering its addresses */
	resolve(&w->ns, "cdn.example.com", "203.0.113.5", NULL);
	x = explain(w, "cdn.example.com:443");
	assert_allowed(&x, "vpn.outbound", "api.example.org:443/tcp");
	assert_string_equal(
		x.reason,
		"cdn.example.com:443 is allowed by vpn.outbound entry 'api.example.org:443/tcp'");
	labels(&w->c, (const char *const[]){ "vpn.outbound", "203.0.113.0/24", NULL });
	x = explain(w, "cdn.example.com");
	assert_allowed(&x, "vpn.outbound", "203.0.113.0/24");
	assert_string_equal(x.reason,
			    "cdn.example.com is allowed by vpn.outbound entry '203.0.113.0/24'");
	/* some of its addresses allowed, some not: partly, by the entry that covers some */
	x = explain(w, "api.example.org");
	assert_partial(&x, "vpn.outbound", "203.0.113.0/24");
	assert_non_null(strstr(x.reason, "is allowed only in part"));
	/* two entries, one address each: still named, still partly */
	labels(&w->c,
	       (const char *const[]){ "vpn.outbound", "203.0.113.5,[2001:db8::5]:443/tcp", NULL });
	x = explain(w, "api.example.org");
	assert_partial(&x, "vpn.outbound", "203.0.113.5");
	/* none of them */
	x = explain(w, "files.example.net");
	assert_blocked(&x);
	assert_string_equal(x.reason,
			    "files.example.net is blocked: no entry of the policy allows it");
}

/* With the DNS proxy, a name below a wildcard is allowed: the proxy learns its answers. */
static void test_explain_wildcard_proxy(void **state)
{
	struct world *w = *state;
	struct vw_explanation x;

	config(w, (const char *const[]){ "DNS_PROXY=true", NULL });
	labels(&w->c, (const char *const[]){ "vpn.outbound", "*.example.org:443/tcp", NULL });
	compile(w);
	x = explain_compiled(w, "a.b.example.org");
	assert_int_equal(x.verdict, VW_VERDICT_ALLOWED);
	assert_string_equal(x.entry, "*.example.org:443/tcp");
	assert_non_null(strstr(x.reason, "the DNS proxy answers"));
	/* the suffix itself is still not below it */
	x = explain_compiled(w, "example.org");
	assert_blocked(&x);
}

static void test_explain_wildcard_not_enforced(void **state)
{
	struct world *w = *state;
	struct vw_explanation x;

	/* resolved because other policies use them */
	resolve(&w->ns, "api.example.org", "203.0.113.5", NULL);
	resolve(&w->ns, "a.b.example.org", "203.0.113.6", NULL);
	resolve(&w->ns, "example.org", "203.0.113.7", NULL);
	labels(&w->c, (const char *const[]){ "vpn.outbound", "*.example.org", NULL });
	compile(w);
	assert_int_equal(vw_rs_container_boxes(&w->rc), 0);
	x = explain_compiled(w, "api.example.org");
	assert_blocked(&x);
	assert_string_equal(
		x.reason,
		"api.example.org is blocked: it matches wildcard '*.example.org', but wildcards are only enforced with the DNS proxy (DNS_PROXY=true)");
	x = explain_compiled(w, "a.b.example.org:443");
	assert_blocked(&x);
	assert_non_null(strstr(x.reason, "DNS_PROXY=true"));
	/* the suffix itself is not below the wildcard */
	x = explain_compiled(w, "example.org");
	assert_blocked(&x);
	assert_null(strstr(x.reason, "wildcard"));
	/* an address is not a name: no wildcard applies */
	x = explain_compiled(w, "203.0.113.5");
	assert_blocked(&x);
	assert_null(strstr(x.reason, "wildcard"));

	/* a name nobody resolved still gets the wildcard explanation */
	x = explain_compiled(w, "never.example.org");
	assert_blocked(&x);
	assert_non_null(strstr(x.reason, "matches wildcard '*.example.org'"));

	/* an exact entry for the name wins over the wildcard */
	labels(&w->c,
	       (const char *const[]){ "vpn.outbound", "*.example.org,api.example.org", NULL });
	x = explain(w, "api.example.org");
	assert_allowed(&x, "vpn.outbound", "api.example.org");
}

static void test_explain_rejects_ranges(void **state)
{
	struct world *w = *state;
	struct vw_explanation x, untouched;
	const char *queries[] = { "198.51.100.0/24", "0.0.0.0/0", "2001:db8::/64", "*.example.org",
				  "198.51.100.0/24:443/tcp" };

	labels(&w->c,
	       (const char *const[]){ "vpn.outbound", "198.51.100.0/24,*.example.org", NULL });
	compile(w);
	for (size_t i = 0; i < ELEMENTSOF(queries); i++) {
		struct vw_dst q = dst(queries[i]);

		memset(&x, 0xaa, sizeof(x));
		memcpy(&untouched, &x, sizeof(x));
		assert_int_equal(vw_explain(&(struct vw_explain_input){ .compiled = &w->rc,
									.c = &w->c,
									.cfg = &w->cfg,
									.names = w->names },
					    &q, &x),
				 -EINVAL);
		/* ret stays untouched on failure */
		assert_memory_equal(&x, &untouched, sizeof(x));
		vw_dst_done(&q);
	}
}

/* --- what is enforced ---------------------------------------------------------------------- */

static void test_explain_isolated_blocks_everything(void **state)
{
	struct world *w = *state;
	struct vw_explanation x;

	resolve(&w->ns, "api.example.org", "203.0.113.5", NULL);
	labels(&w->c,
	       (const char *const[]){ "vpn.outbound", "198.51.100.7,198.51.100.9,api.example.org",
				      "vpn.allow", "192.168.1.0/24", NULL });
	/* over its budget: the container reaches nothing, whatever its labels list */
	compile_budget(w, 3);
	assert_string_equal(w->rc.isolated, "its destinations need more than 3 kernel range rules");
	x = explain_compiled(w, "198.51.100.7");
	assert_blocked(&x);
	assert_string_equal(
		x.reason,
		"198.51.100.7 is blocked: the container is isolated, it reaches nothing (its destinations need more than 3 kernel range rules)");
	x = explain_compiled(w, "198.51.100.9:443");
	assert_blocked(&x);
	x = explain_compiled(w, "api.example.org");
	assert_blocked(&x);
	assert_non_null(strstr(x.reason, "the container is isolated"));

	/* the same policy within its budget */
	compile_budget(w, 4);
	x = explain_compiled(w, "198.51.100.7");
	assert_allowed(&x, "vpn.outbound", "198.51.100.7");

	/* isolated for another reason (the ruleset's budget) */
	vw_rs_container_isolate(&w->rc, "the ruleset holds 1048576 kernel range rules");
	x = explain_compiled(w, "198.51.100.7");
	assert_blocked(&x);
	assert_non_null(strstr(x.reason, "(the ruleset holds 1048576 kernel range rules)"));
}

static void test_explain_stale_name_answer(void **state)
{
	struct world *w = *state;
	uint8_t a[1][16] = { { 203, 0, 113, 6 } };
	struct vw_explanation x;

	resolve(&w->ns, "api.example.org", "203.0.113.5", NULL);
	labels(&w->c, (const char *const[]){ "vpn.outbound", "api.example.org", NULL });
	compile(w);
	/* the name moves; the boxes still hold the old address until the next compile */
	assert_int_equal(vw_names_answer(&w->ns, "api.example.org", 0, VW_DNS_OK,
					 (const uint8_t(*)[16])a, 1, 300, 0),
			 1);
	x = explain_compiled(w, "203.0.113.5");
	assert_allowed(&x, "", "");
	assert_string_equal(x.reason, "203.0.113.5 is allowed by the compiled policy");
	x = explain_compiled(w, "203.0.113.6");
	assert_blocked(&x);
	x = explain_compiled(w, "api.example.org");
	assert_blocked(&x);

	/* compiled again, the verdicts follow */
	compile(w);
	x = explain_compiled(w, "203.0.113.6");
	assert_allowed(&x, "vpn.outbound", "api.example.org");
	assert_non_null(strstr(x.reason, "(the name currently resolves to it)"));
	x = explain_compiled(w, "203.0.113.5");
	assert_blocked(&x);
	x = explain_compiled(w, "api.example.org");
	assert_allowed(&x, "vpn.outbound", "api.example.org");
}

/* --- namespace sharing and the name quota --------------------------------------------------- */

static void test_explain_joined_container_entry(void **state)
{
	struct world *w = *state;
	struct vw_explanation x;

	labels(&w->c, (const char *const[]){ "vpn.outbound", "198.51.100.7:443/tcp", NULL });
	labels(&w->sharers[0], (const char *const[]){ "vpn.outbound", "198.51.100.0/24",
						      "vpn.allow", "192.168.1.0/24", NULL });
	labels(&w->sharers[1], (const char *const[]){ "vpn.outbound", "198.51.100.0/23", NULL });
	w->sp[0] = &w->sharers[0];
	w->n_sharers = 1;

	/* both cover it fully: the container's own entry comes first */
	x = explain(w, "198.51.100.7:443");
	assert_allowed(&x, "vpn.outbound", "198.51.100.7:443/tcp");
	/* its own entry covers only part of it: the sharer's entry decides */
	x = explain(w, "198.51.100.7");
	assert_verdict(&x, VW_VERDICT_ALLOWED, "vpn.outbound", "198.51.100.0/24", "sidecar");
	assert_string_equal(
		x.reason,
		"198.51.100.7 is allowed by vpn.outbound entry '198.51.100.0/24' of container 'sidecar'");
	x = explain(w, "192.168.1.5:53/udp");
	assert_verdict(&x, VW_VERDICT_ALLOWED, "vpn.allow", "192.168.1.0/24", "sidecar");
	x = explain(w, "198.51.101.1");
	assert_blocked(&x);

	/* two sharers: the first in order that covers it fully */
	w->sp[1] = &w->sharers[1];
	w->n_sharers = 2;
	x = explain(w, "198.51.100.7");
	assert_verdict(&x, VW_VERDICT_ALLOWED, "vpn.outbound", "198.51.100.0/24", "sidecar");
	x = explain(w, "198.51.101.1");
	assert_verdict(&x, VW_VERDICT_ALLOWED, "vpn.outbound", "198.51.100.0/23", "proxy");
	w->sp[0] = &w->sharers[1];
	w->sp[1] = &w->sharers[0];
	x = explain(w, "198.51.100.7");
	assert_verdict(&x, VW_VERDICT_ALLOWED, "vpn.outbound", "198.51.100.0/23", "proxy");

	/* without them, their labels no longer apply */
	w->n_sharers = 0;
	x = explain(w, "198.51.100.7");
	assert_partial(&x, "vpn.outbound", "198.51.100.7:443/tcp");
	x = explain(w, "192.168.1.5");
	assert_blocked(&x);
}

static void test_explain_name_quota(void **state)
{
	struct world *w = *state;
	const char *env[] = { "DEFAULT_OUTBOUND=n33.test", NULL };
	char v32[512], v[600];
	struct vw_explanation x;

	many_names(w, v32, sizeof(v32), 1, VW_CONTAINER_NAMES_MAX);
	resolve(&w->ns, "n33.test", "198.51.100.33", NULL);

	/* the 33rd name grants nothing, so a later entry decides although n33 comes first */
	snprintf(v, sizeof(v), "%s,n33.test,198.51.100.0/24", v32);
	labels(&w->c, (const char *const[]){ "vpn.outbound", v, NULL });
	x = explain(w, "198.51.100.33");
	assert_allowed(&x, "vpn.outbound", "198.51.100.0/24");
	assert_string_equal(x.reason,
			    "198.51.100.33 is allowed by vpn.outbound entry '198.51.100.0/24'");
	x = explain(w, "n33.test");
	assert_allowed(&x, "vpn.outbound", "198.51.100.0/24");
	/* the names within the quota still decide */
	x = explain(w, "203.0.113.32");
	assert_allowed(&x, "vpn.outbound", "n32.test");

	/* nothing else covers it: blocked, and the entry beyond the quota is not named */
	snprintf(v, sizeof(v), "%s,n33.test", v32);
	labels(&w->c, (const char *const[]){ "vpn.outbound", v, NULL });
	x = explain(w, "198.51.100.33");
	assert_blocked(&x);
	assert_string_equal(x.reason, "198.51.100.33 is blocked: no entry of the policy allows it");

	/* the same name in DEFAULT_OUTBOUND does not count against the quota */
	config(w, env);
	x = explain(w, "198.51.100.33");
	assert_allowed(&x, "DEFAULT_OUTBOUND", "n33.test");
	assert_string_equal(
		x.reason,
		"198.51.100.33 is allowed by DEFAULT_OUTBOUND entry 'n33.test' (the name currently resolves to it)");
	config(w, NULL);

	/* the quota covers the sharers too: a sharer's 33rd name is never named either */
	labels(&w->c, (const char *const[]){ "vpn.outbound", v32, NULL });
	labels(&w->sharers[0],
	       (const char *const[]){ "vpn.outbound", "n33.test,n01.test:443/tcp", NULL });
	w->sp[0] = &w->sharers[0];
	w->n_sharers = 1;
	x = explain(w, "198.51.100.33:443");
	assert_blocked(&x);
	/* within the quota, the sharer's name decides */
	labels(&w->c, (const char *const[]){ "vpn.outbound", "n01.test:443/tcp", NULL });
	x = explain(w, "198.51.100.33");
	assert_verdict(&x, VW_VERDICT_ALLOWED, "vpn.outbound", "n33.test", "sidecar");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_explain_cidr),
		T(test_explain_name_entry_by_address),
		T(test_explain_ports),
		T(test_explain_port_without_proto_means_tcp),
		T(test_explain_portless_needs_any_protocol),
		T(test_explain_full_beats_partial),
		T(test_explain_default_outbound),
		T(test_explain_vpn_allow),
		T(test_explain_paths),
		T(test_explain_ipv6),
		T(test_explain_name_query),
		T(test_explain_wildcard_not_enforced),
		T(test_explain_wildcard_proxy),
		T(test_explain_rejects_ranges),
		T(test_explain_isolated_blocks_everything),
		T(test_explain_stale_name_answer),
		T(test_explain_joined_container_entry),
		T(test_explain_name_quota),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
