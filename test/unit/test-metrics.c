// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Prometheus exposition and the bookkeeping behind it: label escaping, number formatting,
 * cumulative histograms, the bounded table of dropped destinations, and monotonic totals
 * fed from counter reads (re-created counters, audit mode, containers going away). Rendered
 * text is parsed back to check HELP/TYPE appear once per family and no series repeats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vpnwall/metrics.h"
#include "vpnwall/util.h"

#define C1 "0123456789abcdef"
#define C2 "fedcba9876543210"
#define C3 "00112233445566ff"

/* Render one sample and compare the whole line. */
static void assert_sample(const char *name, const char *const *labels, double v, const char *want)
{
	struct vw_buf b = { 0 };

	vw_metrics_sample(&b, name, labels, v);
	assert_false(b.oom);
	assert_non_null(b.p);
	assert_string_equal(b.p, want);
	vw_buf_done(&b);
}

/* Copy a string that must fit. */
static void copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	assert_true(n < size);
	memcpy(dst, src, n + 1);
}

/*
 * Parse exposition text: every HELP and TYPE line names its family once, HELP comes right
 * before TYPE, every sample belongs to the family declared last (histograms by the
 * _bucket/_sum/_count suffixes), and no series (name plus label set) appears twice.
 * Returns the number of samples.
 */
static size_t check_exposition(const char *text)
{
	char families[64][128], series[512][512], current[128] = "";
	size_t n_families = 0, n_series = 0;
	bool histogram = false, want_type = false;
	const char *line = text;

	assert_non_null(text);
	assert_true(strlen(text) > 0);
	assert_int_equal(text[strlen(text) - 1], '\n');
	while (*line) {
		const char *nl = strchr(line, '\n');
		char l[1024];
		size_t n;

		assert_non_null(nl);
		n = (size_t)(nl - line);
		assert_true(n > 0 && n < sizeof(l));
		memcpy(l, line, n);
		l[n] = '\0';
		line = nl + 1;

		if (strncmp(l, "# HELP ", 7) == 0) {
			char *sp = strchr(l + 7, ' ');

			assert_false(want_type);
			assert_non_null(sp);
			*sp = '\0';
			for (size_t i = 0; i < n_families; i++)
				if (strcmp(families[i], l + 7) == 0)
					fail_msg("HELP for family '%s' appears twice", l + 7);
			assert_true(n_families < ELEMENTSOF(families));
			copy(families[n_families++], sizeof(families[0]), l + 7);
			copy(current, sizeof(current), l + 7);
			want_type = true;
			continue;
		}
		if (strncmp(l, "# TYPE ", 7) == 0) {
			char *sp = strchr(l + 7, ' ');

			assert_true(want_type);
			assert_non_null(sp);
			*sp = '\0';
			assert_string_equal(l + 7, current);
			assert_true(strcmp(sp + 1, "counter") == 0 ||
				    strcmp(sp + 1, "gauge") == 0 ||
				    strcmp(sp + 1, "histogram") == 0);
			histogram = strcmp(sp + 1, "histogram") == 0;
			want_type = false;
			continue;
		}
		assert_int_not_equal(l[0], '#');
		assert_false(want_type);
		assert_true(current[0] != '\0');

		/* "name{labels} value": the series is everything before the last blank */
		{
			char *sp = strrchr(l, ' ');
			size_t name_len = strcspn(l, "{ ");
			char name[128], *end;

			assert_non_null(sp);
			*sp = '\0';
			assert_true(name_len < sizeof(name));
			memcpy(name, l, name_len);
			name[name_len] = '\0';
			if (histogram) {
				size_t fl = strlen(current);

				assert_memory_equal(name, current, fl);
				assert_true(strcmp(name + fl, "_bucket") == 0 ||
					    strcmp(name + fl, "_sum") == 0 ||
					    strcmp(name + fl, "_count") == 0);
			} else {
				assert_string_equal(name, current);
			}
			if (l[name_len] == '{')
				assert_int_equal(l[strlen(l) - 1], '}');
			if (strcmp(sp + 1, "+Inf") != 0 && strcmp(sp + 1, "-Inf") != 0) {
				(void)strtod(sp + 1, &end);
				assert_true(end != sp + 1 && *end == '\0');
			}
			for (size_t i = 0; i < n_series; i++)
				if (strcmp(series[i], l) == 0)
					fail_msg("series '%s' appears twice", l);
			assert_true(n_series < ELEMENTSOF(series));
			copy(series[n_series++], sizeof(series[0]), l);
		}
	}
	assert_false(want_type);
	return n_series;
}

/* The value of one series in exposition text, which must be present. */
static double series_value(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	fail_msg("series '%s' not found in:\n%s", series, text);
	return NAN;
}

static void test_metrics_escape(void **state)
{
	struct vw_buf b = { 0 };

	vw_metrics_escape(&b, "plain-text_1.2");
	assert_string_equal(b.p, "plain-text_1.2");
	vw_buf_done(&b);

	vw_metrics_escape(&b, "a\\b\"c\nd");
	assert_string_equal(b.p, "a\\\\b\\\"c\\nd");
	vw_buf_done(&b);

	/* nothing else is escaped: tabs, braces, commas and '=' pass as they are */
	vw_metrics_escape(&b, "x\ty{z},k=v");
	assert_string_equal(b.p, "x\ty{z},k=v");
	vw_buf_done(&b);

	vw_metrics_escape(&b, "");
	assert_int_equal(b.len, 0);
	vw_buf_done(&b);
}

static void test_metrics_sample_labels(void **state)
{
	assert_sample("vpnwall_x", NULL, 3, "vpnwall_x 3\n");
	assert_sample("vpnwall_x", (const char *const[]){ NULL }, 3, "vpnwall_x 3\n");
	assert_sample("vpnwall_x", (const char *const[]){ "result", "success", NULL }, 7,
		      "vpnwall_x{result=\"success\"} 7\n");
	assert_sample("vpnwall_x",
		      (const char *const[]){ "container", "we\"b\\1\n", "action", "dropped", NULL },
		      0, "vpnwall_x{container=\"we\\\"b\\\\1\\n\",action=\"dropped\"} 0\n");
	/* an empty value is still a label */
	assert_sample("vpnwall_x", (const char *const[]){ "a", "", NULL }, 1,
		      "vpnwall_x{a=\"\"} 1\n");
}

static void test_metrics_value_format(void **state)
{
	/* whole numbers print as integers, without exponent or fraction */
	assert_sample("m", NULL, 0, "m 0\n");
	assert_sample("m", NULL, 42, "m 42\n");
	assert_sample("m", NULL, 4294967296.0, "m 4294967296\n");
	assert_sample("m", NULL, 999999999999999.0, "m 999999999999999\n");
	/* other values: the shortest text that reads back as the same double */
	assert_sample("m", NULL, 0.5, "m 0.5\n");
	assert_sample("m", NULL, 1.25, "m 1.25\n");
	assert_sample("m", NULL, 0.001, "m 0.001\n");
	assert_sample("m", NULL, 1.0 / 3.0, "m 0.3333333333333333\n");
	assert_sample("m", NULL, 1e15, "m 1000000000000000\n");
	assert_sample("m", NULL, 1e300, "m 1e+300\n");
	assert_sample("m", NULL, INFINITY, "m +Inf\n");
	assert_sample("m", NULL, -INFINITY, "m -Inf\n");
}

/*
 * Negative values (a gauge may go below zero) print as they are. The integer check in the
 * formatter converts the double to uint64_t first, which is undefined for negative values
 * (clang's -fsanitize=undefined reports it; GCC's does not check float casts).
 */
static void test_metrics_value_negative(void **state)
{
	assert_sample("m", NULL, -2, "m -2\n");
	assert_sample("m", NULL, -1.5, "m -1.5\n");
}

static void test_metrics_family(void **state)
{
	struct vw_buf b = { 0 };

	vw_metrics_family(&b, "vpnwall_ready", "gauge", "1 when ready.");
	assert_string_equal(b.p,
			    "# HELP vpnwall_ready 1 when ready.\n# TYPE vpnwall_ready gauge\n");
	vw_buf_done(&b);
}

static void test_histogram_cumulative(void **state)
{
	static const double bounds[] = { 0.1, 1, 10 };
	uint64_t buckets[4] = { 0 };
	struct vw_histogram h;
	struct vw_buf b = { 0 };

	vw_histogram_init(&h, bounds, ELEMENTSOF(bounds), buckets);
	assert_int_equal(h.count, 0);
	vw_histogram_observe(&h, 0.05);
	vw_histogram_observe(&h, 0.1); /* a bound is inclusive: le="0.1" */
	vw_histogram_observe(&h, 0.5);
	vw_histogram_observe(&h, 5);
	vw_histogram_observe(&h, 50);
	vw_histogram_observe(&h, 60);
	assert_int_equal(h.count, 6);
	/* stored per bucket, made cumulative when rendered */
	assert_int_equal(buckets[0], 2);
	assert_int_equal(buckets[1], 1);
	assert_int_equal(buckets[2], 1);
	assert_int_equal(buckets[3], 2);

	vw_metrics_family(&b, "vpnwall_d_seconds", "histogram", "Durations.");
	vw_metrics_histogram(&b, "vpnwall_d_seconds", &h);
	assert_string_equal(b.p, "# HELP vpnwall_d_seconds Durations.\n"
				 "# TYPE vpnwall_d_seconds histogram\n"
				 "vpnwall_d_seconds_bucket{le=\"0.1\"} 2\n"
				 "vpnwall_d_seconds_bucket{le=\"1\"} 3\n"
				 "vpnwall_d_seconds_bucket{le=\"10\"} 4\n"
				 "vpnwall_d_seconds_bucket{le=\"+Inf\"} 6\n"
				 "vpnwall_d_seconds_sum 115.65\n"
				 "vpnwall_d_seconds_count 6\n");
	assert_int_equal(check_exposition(b.p), 6);
	vw_buf_done(&b);
}

static void test_histogram_empty(void **state)
{
	static const double bounds[] = { 0.005, 0.25 };
	uint64_t buckets[3] = { 0 };
	struct vw_histogram h;
	struct vw_buf b = { 0 };

	vw_histogram_init(&h, bounds, ELEMENTSOF(bounds), buckets);
	vw_metrics_histogram(&b, "h", &h);
	assert_string_equal(b.p, "h_bucket{le=\"0.005\"} 0\n"
				 "h_bucket{le=\"0.25\"} 0\n"
				 "h_bucket{le=\"+Inf\"} 0\n"
				 "h_sum 0\n"
				 "h_count 0\n");
	vw_buf_done(&b);

	/* no bounds at all: only +Inf */
	vw_histogram_init(&h, NULL, 0, buckets);
	buckets[0] = 0;
	vw_histogram_observe(&h, 2.5);
	vw_metrics_histogram(&b, "h", &h);
	assert_string_equal(b.p, "h_bucket{le=\"+Inf\"} 1\nh_sum 2.5\nh_count 1\n");
	vw_buf_done(&b);
}

static void test_proto_name(void **state)
{
	char buf[4];

	assert_string_equal(vw_proto_name(IPPROTO_TCP, buf), "tcp");
	assert_string_equal(vw_proto_name(IPPROTO_UDP, buf), "udp");
	assert_string_equal(vw_proto_name(IPPROTO_ICMP, buf), "icmp");
	assert_string_equal(vw_proto_name(IPPROTO_ICMPV6, buf), "icmpv6");
	assert_string_equal(vw_proto_name(IPPROTO_SCTP, buf), "sctp");
	assert_string_equal(vw_proto_name(47, buf), "47");
	assert_string_equal(vw_proto_name(0, buf), "0");
	assert_string_equal(vw_proto_name(255, buf), "255");
}

static void test_drops_first_repeat(void **state)
{
	struct vw_drops t = { 0 };

	assert_int_equal(vw_drops_record(&t, C1, "web", "api.example.org", 443, IPPROTO_TCP),
			 VW_DROP_FIRST);
	assert_int_equal(vw_drops_record(&t, C1, "web", "api.example.org", 443, IPPROTO_TCP),
			 VW_DROP_REPEAT);
	assert_int_equal(vw_drops_record(&t, C1, "web", "api.example.org", 443, IPPROTO_TCP),
			 VW_DROP_REPEAT);
	/* port, protocol and destination each make a new series */
	assert_int_equal(vw_drops_record(&t, C1, "web", "api.example.org", 80, IPPROTO_TCP),
			 VW_DROP_FIRST);
	assert_int_equal(vw_drops_record(&t, C1, "web", "api.example.org", 443, IPPROTO_UDP),
			 VW_DROP_FIRST);
	assert_int_equal(vw_drops_record(&t, C1, "web", "198.51.100.7", 443, IPPROTO_TCP),
			 VW_DROP_FIRST);
	assert_int_equal(vw_drops_record(&t, C1, "web", "198.51.100.7", 0, IPPROTO_ICMP),
			 VW_DROP_FIRST);
	/* the same destination from another container is new for that container */
	assert_int_equal(vw_drops_record(&t, C2, "db", "api.example.org", 443, IPPROTO_TCP),
			 VW_DROP_FIRST);

	assert_int_equal(t.n, 2);
	assert_string_equal(t.v[0].key, C1);
	assert_int_equal(t.v[0].n_dests, 5);
	assert_string_equal(t.v[0].dests[0].dest, "api.example.org");
	assert_int_equal(t.v[0].dests[0].port, 443);
	assert_int_equal(t.v[0].dests[0].proto, IPPROTO_TCP);
	assert_int_equal(t.v[0].dests[0].count, 3);
	assert_int_equal(t.v[0].dests[1].count, 1);
	assert_int_equal(t.v[0].other, 0);
	assert_int_equal(t.v[1].n_dests, 1);

	/* a rename updates the series label of the existing entry */
	assert_int_equal(vw_drops_record(&t, C2, "db-renamed", "api.example.org", 443, IPPROTO_TCP),
			 VW_DROP_REPEAT);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.v[1].container, "db-renamed");
	assert_int_equal(t.v[1].dests[0].count, 2);
	vw_drops_done(&t);
	assert_int_equal(t.n, 0);
	assert_null(t.v);
}

static void test_drops_cap_other(void **state)
{
	struct vw_drops t = { 0 };
	struct vw_buf b = { 0 };
	char dest[32];

	for (int i = 0; i < VW_DROP_DESTS_MAX; i++) {
		snprintf(dest, sizeof(dest), "198.51.100.%d", i + 1);
		assert_int_equal(vw_drops_record(&t, C1, "web", dest, 443, IPPROTO_TCP),
				 VW_DROP_FIRST);
	}
	assert_int_equal(t.v[0].n_dests, VW_DROP_DESTS_MAX);

	/* the first destination past the cap is reported once, then only counted */
	assert_int_equal(vw_drops_record(&t, C1, "web", "203.0.113.1", 443, IPPROTO_TCP),
			 VW_DROP_OVERFLOW);
	assert_int_equal(vw_drops_record(&t, C1, "web", "203.0.113.2", 443, IPPROTO_TCP),
			 VW_DROP_REPEAT);
	assert_int_equal(vw_drops_record(&t, C1, "web", "203.0.113.1", 443, IPPROTO_TCP),
			 VW_DROP_REPEAT);
	assert_int_equal(t.v[0].n_dests, VW_DROP_DESTS_MAX);
	assert_int_equal(t.v[0].other, 3);

	/* known destinations keep counting on their own series */
	assert_int_equal(vw_drops_record(&t, C1, "web", "198.51.100.1", 443, IPPROTO_TCP),
			 VW_DROP_REPEAT);
	assert_int_equal(t.v[0].dests[0].count, 2);
	assert_int_equal(t.v[0].other, 3);

	/* the cap is per container */
	assert_int_equal(vw_drops_record(&t, C2, "db", "203.0.113.1", 443, IPPROTO_TCP),
			 VW_DROP_FIRST);

	vw_drops_render(&b, &t);
	assert_false(b.oom);
	assert_int_equal(check_exposition(b.p), VW_DROP_DESTS_MAX + 1 + 1);
	assert_true(series_value(b.p,
				 "vpnwall_dropped_destinations_total{container=\"web\","
				 "destination=\"other\",port=\"other\",protocol=\"other\"}") == 3);
	assert_true(series_value(b.p,
				 "vpnwall_dropped_destinations_total{container=\"web\","
				 "destination=\"198.51.100.1\",port=\"443\",protocol=\"tcp\"}") ==
		    2);
	assert_true(series_value(b.p,
				 "vpnwall_dropped_destinations_total{container=\"db\","
				 "destination=\"203.0.113.1\",port=\"443\",protocol=\"tcp\"}") ==
		    1);
	vw_buf_done(&b);
	vw_drops_done(&t);
}

static bool keep_only_c2(const char *key, void *ud)
{
	(*(int *)ud)++;
	return strcmp(key, C2) == 0;
}

static void test_drops_forget(void **state)
{
	struct vw_drops t = { 0 };
	int calls = 0;

	assert_int_equal(vw_drops_record(&t, C1, "web", "198.51.100.1", 443, IPPROTO_TCP),
			 VW_DROP_FIRST);
	assert_int_equal(vw_drops_record(&t, C2, "db", "198.51.100.2", 53, IPPROTO_UDP),
			 VW_DROP_FIRST);
	assert_int_equal(vw_drops_record(&t, C3, "cache", "198.51.100.3", 0, IPPROTO_ICMP),
			 VW_DROP_FIRST);
	vw_drops_forget(&t, keep_only_c2, &calls);
	assert_int_equal(calls, 3);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.v[0].key, C2);
	assert_string_equal(t.v[0].container, "db");
	assert_int_equal(t.v[0].dests[0].port, 53);

	/* a forgotten container starts afresh */
	assert_int_equal(vw_drops_record(&t, C1, "web", "198.51.100.1", 443, IPPROTO_TCP),
			 VW_DROP_FIRST);
	assert_int_equal(vw_drops_record(&t, C2, "db", "198.51.100.2", 53, IPPROTO_UDP),
			 VW_DROP_REPEAT);
	assert_int_equal(t.n, 2);
	vw_drops_done(&t);
}

static void test_drops_render(void **state)
{
	struct vw_drops t = { 0 };
	struct vw_buf b = { 0 };

	/* an empty table still declares its family */
	vw_drops_render(&b, &t);
	assert_non_null(strstr(b.p, "# TYPE vpnwall_dropped_destinations_total counter\n"));
	assert_int_equal(check_exposition(b.p), 0);
	vw_buf_done(&b);

	assert_int_equal(vw_drops_record(&t, C1, "we\"b", "api.example.org", 443, IPPROTO_TCP),
			 VW_DROP_FIRST);
	assert_int_equal(vw_drops_record(&t, C1, "we\"b", "api.example.org", 443, IPPROTO_TCP),
			 VW_DROP_REPEAT);
	assert_int_equal(vw_drops_record(&t, C1, "we\"b", "2001:db8::1", 0, 47), VW_DROP_FIRST);
	assert_int_equal(
		vw_drops_record(&t, "unknown", "(unknown)", "198.51.100.9", 123, IPPROTO_UDP),
		VW_DROP_FIRST);
	vw_drops_render(&b, &t);
	assert_int_equal(check_exposition(b.p), 3);
	assert_string_equal(
		strchr(strstr(b.p, "# TYPE"), '\n') + 1,
		"vpnwall_dropped_destinations_total{container=\"we\\\"b\",destination=\"api.example.org\",port=\"443\",protocol=\"tcp\"} 2\n"
		"vpnwall_dropped_destinations_total{container=\"we\\\"b\",destination=\"2001:db8::1\",port=\"0\",protocol=\"47\"} 1\n"
		"vpnwall_dropped_destinations_total{container=\"(unknown)\",destination=\"198.51.100.9\",port=\"123\",protocol=\"udp\"} 1\n");
	vw_buf_done(&b);
	vw_drops_done(&t);
}

static const struct vw_total *total(const struct vw_totals *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].key, key) == 0)
			return &t->v[i];
	return NULL;
}

static void test_totals_deltas(void **state)
{
	struct vw_totals t = { 0 };
	const struct vw_total *e;

	/* first read: the counters' whole values are new */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 10, 1000), 0);
	assert_int_equal(vw_totals_update(&t, C1, "web", true, false, 2, 120), 0);
	vw_totals_end(&t);
	e = total(&t, C1);
	assert_non_null(e);
	assert_string_equal(e->container, "web");
	assert_int_equal(e->pkts[VW_ACTION_ACCEPTED], 10);
	assert_int_equal(e->bytes[VW_ACTION_ACCEPTED], 1000);
	assert_int_equal(e->pkts[VW_ACTION_DROPPED], 2);
	assert_int_equal(e->bytes[VW_ACTION_DROPPED], 120);
	assert_int_equal(e->pkts[VW_ACTION_WOULD_DROP], 0);

	/* second read: only the growth counts; an unchanged counter adds nothing */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 15, 1500), 0);
	assert_int_equal(vw_totals_update(&t, C1, "web", true, false, 2, 120), 0);
	vw_totals_end(&t);
	e = total(&t, C1);
	assert_int_equal(e->pkts[VW_ACTION_ACCEPTED], 15);
	assert_int_equal(e->bytes[VW_ACTION_ACCEPTED], 1500);
	assert_int_equal(e->pkts[VW_ACTION_DROPPED], 2);
	assert_int_equal(e->bytes[VW_ACTION_DROPPED], 120);

	/* the allow counter went backwards: it was re-created, its whole value is new */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 3, 300), 0);
	assert_int_equal(vw_totals_update(&t, C1, "web", true, false, 5, 400), 0);
	vw_totals_end(&t);
	e = total(&t, C1);
	assert_int_equal(e->pkts[VW_ACTION_ACCEPTED], 18);
	assert_int_equal(e->bytes[VW_ACTION_ACCEPTED], 1800);
	assert_int_equal(e->pkts[VW_ACTION_DROPPED], 5);
	assert_int_equal(e->bytes[VW_ACTION_DROPPED], 400);

	/* and it keeps counting from its new value */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 4, 350), 0);
	assert_int_equal(vw_totals_update(&t, C1, "web", true, false, 5, 400), 0);
	vw_totals_end(&t);
	e = total(&t, C1);
	assert_int_equal(e->pkts[VW_ACTION_ACCEPTED], 19);
	assert_int_equal(e->bytes[VW_ACTION_ACCEPTED], 1850);
	/* a re-created counter that reads 0 adds nothing */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 0, 0), 0);
	vw_totals_end(&t);
	e = total(&t, C1);
	assert_int_equal(e->pkts[VW_ACTION_ACCEPTED], 19);
	assert_int_equal(e->bytes[VW_ACTION_ACCEPTED], 1850);
	vw_totals_done(&t);
	assert_int_equal(t.n, 0);
	assert_null(t.v);
}

static void test_totals_audit(void **state)
{
	struct vw_totals t = { 0 };
	const struct vw_total *e;

	/* in audit mode the drop counter only counts would-be drops */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", true, true, 4, 240), 0);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, true, 1, 60), 0);
	vw_totals_end(&t);
	e = total(&t, C1);
	assert_int_equal(e->pkts[VW_ACTION_WOULD_DROP], 4);
	assert_int_equal(e->bytes[VW_ACTION_WOULD_DROP], 240);
	assert_int_equal(e->pkts[VW_ACTION_DROPPED], 0);
	assert_int_equal(e->bytes[VW_ACTION_DROPPED], 0);
	/* the audit flag does not change what the allow counter means */
	assert_int_equal(e->pkts[VW_ACTION_ACCEPTED], 1);

	/* leaving audit mode: further growth of the drop counter is real drops */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", true, false, 7, 420), 0);
	vw_totals_end(&t);
	e = total(&t, C1);
	assert_int_equal(e->pkts[VW_ACTION_WOULD_DROP], 4);
	assert_int_equal(e->pkts[VW_ACTION_DROPPED], 3);
	assert_int_equal(e->bytes[VW_ACTION_DROPPED], 180);
	vw_totals_done(&t);
}

static void test_totals_end_removes_absent(void **state)
{
	struct vw_totals t = { 0 };
	const struct vw_total *e;

	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 10, 100), 0);
	assert_int_equal(vw_totals_update(&t, C2, "db", false, false, 20, 200), 0);
	assert_int_equal(vw_totals_update(&t, C3, "cache", false, false, 30, 300), 0);
	vw_totals_end(&t);
	assert_int_equal(t.n, 3);

	/* C1 and C3 are gone from this read */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C2, "db", false, false, 25, 250), 0);
	vw_totals_end(&t);
	assert_int_equal(t.n, 1);
	assert_null(total(&t, C1));
	assert_null(total(&t, C3));
	e = total(&t, C2);
	assert_non_null(e);
	assert_int_equal(e->pkts[VW_ACTION_ACCEPTED], 25);

	/* a read without any counters empties the table */
	vw_totals_begin(&t);
	vw_totals_end(&t);
	assert_int_equal(t.n, 0);

	/* a container seen again starts from its counters' values */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 12, 120), 0);
	vw_totals_end(&t);
	e = total(&t, C1);
	assert_non_null(e);
	assert_int_equal(e->pkts[VW_ACTION_ACCEPTED], 12);
	assert_int_equal(e->bytes[VW_ACTION_ACCEPTED], 120);
	vw_totals_done(&t);
}

static void test_totals_render(void **state)
{
	static const double bounds[] = { 0.01, 0.1 };
	uint64_t buckets[3] = { 0 };
	struct vw_histogram h;
	struct vw_totals t = { 0 };
	struct vw_drops d = { 0 };
	struct vw_buf b = { 0 };

	/* empty: both families declared, no samples */
	vw_totals_render(&b, &t);
	assert_int_equal(check_exposition(b.p), 0);
	assert_non_null(strstr(b.p, "# TYPE vpnwall_packets_total counter\n"));
	assert_non_null(strstr(b.p, "# TYPE vpnwall_bytes_total counter\n"));
	vw_buf_done(&b);

	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 10, 1000), 0);
	assert_int_equal(vw_totals_update(&t, C1, "web", true, false, 2, 120), 0);
	assert_int_equal(vw_totals_update(&t, C2, "db\n2", true, true, 3, 180), 0);
	assert_int_equal(vw_totals_update(&t, "unknown", "(unknown)", true, false, 1, 40), 0);
	vw_totals_end(&t);
	assert_int_equal(vw_drops_record(&d, C1, "web", "198.51.100.7", 443, IPPROTO_TCP),
			 VW_DROP_FIRST);
	assert_int_equal(vw_drops_record(&d, C2, "db\n2", "198.51.100.7", 443, IPPROTO_TCP),
			 VW_DROP_FIRST);
	vw_histogram_init(&h, bounds, ELEMENTSOF(bounds), buckets);
	vw_histogram_observe(&h, 0.02);

	/* everything in one document, as /metrics serves it */
	vw_totals_render(&b, &t);
	vw_drops_render(&b, &d);
	vw_metrics_family(&b, "vpnwall_update_seconds", "histogram", "Update time.");
	vw_metrics_histogram(&b, "vpnwall_update_seconds", &h);
	assert_false(b.oom);
	/* 3 containers x 3 actions x 2 families, 2 drop series, 3 buckets + sum + count */
	assert_int_equal(check_exposition(b.p), 18 + 2 + 5);

	assert_true(
		series_value(b.p, "vpnwall_packets_total{container=\"web\",action=\"accepted\"}") ==
		10);
	assert_true(
		series_value(b.p, "vpnwall_packets_total{container=\"web\",action=\"dropped\"}") ==
		2);
	assert_true(series_value(
			    b.p,
			    "vpnwall_packets_total{container=\"web\",action=\"would_drop\"}") == 0);
	assert_true(
		series_value(b.p,
			     "vpnwall_packets_total{container=\"db\\n2\",action=\"would_drop\"}") ==
		3);
	assert_true(
		series_value(b.p, "vpnwall_bytes_total{container=\"db\\n2\",action=\"dropped\"}") ==
		0);
	assert_true(
		series_value(b.p,
			     "vpnwall_bytes_total{container=\"(unknown)\",action=\"dropped\"}") ==
		40);
	assert_true(
		series_value(b.p, "vpnwall_bytes_total{container=\"web\",action=\"accepted\"}") ==
		1000);
	assert_true(series_value(b.p, "vpnwall_update_seconds_bucket{le=\"0.1\"}") == 1);
	vw_buf_done(&b);
	vw_drops_done(&d);
	vw_totals_done(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_escape),
		cmocka_unit_test(test_metrics_sample_labels),
		cmocka_unit_test(test_metrics_value_format),
		cmocka_unit_test(test_metrics_family),
		cmocka_unit_test(test_histogram_cumulative),
		cmocka_unit_test(test_histogram_empty),
		cmocka_unit_test(test_proto_name),
		cmocka_unit_test(test_drops_first_repeat),
		cmocka_unit_test(test_drops_cap_other),
		cmocka_unit_test(test_drops_forget),
		cmocka_unit_test(test_drops_render),
		cmocka_unit_test(test_totals_deltas),
		cmocka_unit_test(test_totals_audit),
		cmocka_unit_test(test_totals_end_removes_absent),
		cmocka_unit_test(test_totals_render),
		/* last: under clang's UBSan it aborts the binary (see the test) */
		cmocka_unit_test(test_metrics_value_negative),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
