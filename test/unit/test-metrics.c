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

#include <errno.h>
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
	const struct vw_drop_entry *e;
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

	assert_int_equal(t.rows.n, 2);
	e = vw_drops_get(&t, C1);
	assert_non_null(e);
	assert_string_equal(e->row.key, C1);
	assert_int_equal(e->n_dests, 5);
	assert_string_equal(e->dests[0].dest, "api.example.org");
	assert_int_equal(e->dests[0].port, 443);
	assert_int_equal(e->dests[0].proto, IPPROTO_TCP);
	assert_int_equal(e->dests[0].count, 3);
	assert_int_equal(e->dests[1].count, 1);
	assert_int_equal(e->other, 0);
	assert_int_equal(vw_drops_get(&t, C2)->n_dests, 1);
	assert_null(vw_drops_get(&t, C3));

	/* a rename updates the series label of the existing entry */
	assert_int_equal(vw_drops_record(&t, C2, "db-renamed", "api.example.org", 443, IPPROTO_TCP),
			 VW_DROP_REPEAT);
	assert_int_equal(t.rows.n, 2);
	e = vw_drops_get(&t, C2);
	assert_string_equal(e->container, "db-renamed");
	assert_int_equal(e->dests[0].count, 2);
	vw_drops_done(&t);
	assert_int_equal(t.rows.n, 0);
	assert_null(t.rows.first);
	assert_null(vw_drops_get(&t, C1));
}

static void test_drops_cap_other(void **state)
{
	const struct vw_drop_entry *e;
	struct vw_drops t = { 0 };
	struct vw_buf b = { 0 };
	char dest[32];

	for (int i = 0; i < VW_DROP_DESTS_MAX; i++) {
		snprintf(dest, sizeof(dest), "198.51.100.%d", i + 1);
		assert_int_equal(vw_drops_record(&t, C1, "web", dest, 443, IPPROTO_TCP),
				 VW_DROP_FIRST);
	}
	e = vw_drops_get(&t, C1);
	assert_int_equal(e->n_dests, VW_DROP_DESTS_MAX);

	/* the first destination past the cap is reported once, then only counted */
	assert_int_equal(vw_drops_record(&t, C1, "web", "203.0.113.1", 443, IPPROTO_TCP),
			 VW_DROP_OVERFLOW);
	assert_int_equal(vw_drops_record(&t, C1, "web", "203.0.113.2", 443, IPPROTO_TCP),
			 VW_DROP_REPEAT);
	assert_int_equal(vw_drops_record(&t, C1, "web", "203.0.113.1", 443, IPPROTO_TCP),
			 VW_DROP_REPEAT);
	assert_int_equal(e->n_dests, VW_DROP_DESTS_MAX);
	assert_int_equal(e->other, 3);

	/* known destinations keep counting on their own series */
	assert_int_equal(vw_drops_record(&t, C1, "web", "198.51.100.1", 443, IPPROTO_TCP),
			 VW_DROP_REPEAT);
	assert_int_equal(e->dests[0].count, 2);
	assert_int_equal(e->other, 3);

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
	const struct vw_drop_entry *e;
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
	assert_int_equal(t.rows.n, 1);
	assert_null(vw_drops_get(&t, C1));
	assert_null(vw_drops_get(&t, C3));
	e = vw_drops_get(&t, C2);
	assert_non_null(e);
	assert_string_equal(e->container, "db");
	assert_int_equal(e->dests[0].port, 53);

	/* a forgotten container starts afresh */
	assert_int_equal(vw_drops_record(&t, C1, "web", "198.51.100.1", 443, IPPROTO_TCP),
			 VW_DROP_FIRST);
	assert_int_equal(vw_drops_record(&t, C2, "db", "198.51.100.2", 53, IPPROTO_UDP),
			 VW_DROP_REPEAT);
	assert_int_equal(t.rows.n, 2);
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

static void test_totals_deltas(void **state)
{
	struct vw_totals t = { 0 };
	const struct vw_total *e;

	/* first read: the counters' whole values are new */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 10, 1000), 0);
	assert_int_equal(vw_totals_update(&t, C1, "web", true, false, 2, 120), 0);
	vw_totals_end(&t);
	e = vw_totals_get(&t, C1);
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
	e = vw_totals_get(&t, C1);
	assert_int_equal(e->pkts[VW_ACTION_ACCEPTED], 15);
	assert_int_equal(e->bytes[VW_ACTION_ACCEPTED], 1500);
	assert_int_equal(e->pkts[VW_ACTION_DROPPED], 2);
	assert_int_equal(e->bytes[VW_ACTION_DROPPED], 120);

	/* the allow counter went backwards: it was re-created, its whole value is new */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 3, 300), 0);
	assert_int_equal(vw_totals_update(&t, C1, "web", true, false, 5, 400), 0);
	vw_totals_end(&t);
	e = vw_totals_get(&t, C1);
	assert_int_equal(e->pkts[VW_ACTION_ACCEPTED], 18);
	assert_int_equal(e->bytes[VW_ACTION_ACCEPTED], 1800);
	assert_int_equal(e->pkts[VW_ACTION_DROPPED], 5);
	assert_int_equal(e->bytes[VW_ACTION_DROPPED], 400);

	/* and it keeps counting from its new value */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 4, 350), 0);
	assert_int_equal(vw_totals_update(&t, C1, "web", true, false, 5, 400), 0);
	vw_totals_end(&t);
	e = vw_totals_get(&t, C1);
	assert_int_equal(e->pkts[VW_ACTION_ACCEPTED], 19);
	assert_int_equal(e->bytes[VW_ACTION_ACCEPTED], 1850);
	/* a re-created counter that reads 0 adds nothing */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 0, 0), 0);
	vw_totals_end(&t);
	e = vw_totals_get(&t, C1);
	assert_int_equal(e->pkts[VW_ACTION_ACCEPTED], 19);
	assert_int_equal(e->bytes[VW_ACTION_ACCEPTED], 1850);
	vw_totals_done(&t);
	assert_int_equal(t.rows.n, 0);
	assert_null(t.rows.first);
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
	e = vw_totals_get(&t, C1);
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
	e = vw_totals_get(&t, C1);
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
	assert_int_equal(t.rows.n, 3);

	/* C1 and C3 are gone from this read */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C2, "db", false, false, 25, 250), 0);
	vw_totals_end(&t);
	assert_int_equal(t.rows.n, 1);
	assert_null(vw_totals_get(&t, C1));
	assert_null(vw_totals_get(&t, C3));
	e = vw_totals_get(&t, C2);
	assert_non_null(e);
	assert_int_equal(e->pkts[VW_ACTION_ACCEPTED], 25);

	/* a read without any counters empties the table */
	vw_totals_begin(&t);
	vw_totals_end(&t);
	assert_int_equal(t.rows.n, 0);

	/* a container seen again starts from its counters' values */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 12, 120), 0);
	vw_totals_end(&t);
	e = vw_totals_get(&t, C1);
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

/* The number of sample lines in @text (HELP and TYPE lines aside). */
static size_t count_samples(const char *text)
{
	size_t n = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (*p != '#')
			n++;
	return n;
}

/* The container label of the sample at line @i (0-based, samples only) of @text. */
static void sample_container(const char *text, size_t i, char *buf, size_t size)
{
	const char *p = text, *q, *end;

	for (;;) {
		assert_non_null(p);
		if (*p != '#' && i-- == 0)
			break;
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	q = strstr(p, "container=\"");
	assert_non_null(q);
	q += strlen("container=\"");
	end = strchr(q, '"');
	assert_non_null(end);
	assert_true((size_t)(end - q) < size);
	memcpy(buf, q, (size_t)(end - q));
	buf[end - q] = '\0';
}

static void test_totals_forget(void **state)
{
	struct vw_totals t = { 0 };
	struct vw_buf b = { 0 };
	char name[32];

	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 10, 100), 0);
	assert_int_equal(vw_totals_update(&t, C2, "db", false, false, 20, 200), 0);
	assert_int_equal(vw_totals_update(&t, C3, "cache", false, false, 30, 300), 0);
	vw_totals_end(&t);

	/* only that container goes; unknown keys are ignored */
	vw_totals_forget(&t, C2);
	vw_totals_forget(&t, C2);
	vw_totals_forget(&t, "unknown");
	assert_int_equal(t.rows.n, 2);
	assert_null(vw_totals_get(&t, C2));
	assert_int_equal(vw_totals_get(&t, C1)->pkts[VW_ACTION_ACCEPTED], 10);
	assert_int_equal(vw_totals_get(&t, C3)->pkts[VW_ACTION_ACCEPTED], 30);

	/* seen again, it starts from its counters' values and renders after the others */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 10, 100), 0);
	assert_int_equal(vw_totals_update(&t, C2, "db", false, false, 25, 250), 0);
	assert_int_equal(vw_totals_update(&t, C3, "cache", false, false, 30, 300), 0);
	vw_totals_end(&t);
	assert_int_equal(vw_totals_get(&t, C2)->pkts[VW_ACTION_ACCEPTED], 25);
	vw_totals_render(&b, &t);
	assert_int_equal(check_exposition(b.p), 18);
	sample_container(b.p, 0, name, sizeof(name));
	assert_string_equal(name, "web");
	sample_container(b.p, 3, name, sizeof(name));
	assert_string_equal(name, "cache");
	sample_container(b.p, 6, name, sizeof(name));
	assert_string_equal(name, "db");
	vw_buf_done(&b);

	/* forgetting in the middle of a read */
	vw_totals_begin(&t);
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 11, 110), 0);
	vw_totals_forget(&t, C1);
	vw_totals_forget(&t, C3);
	vw_totals_end(&t);
	assert_int_equal(t.rows.n, 0);
	assert_null(t.rows.first);
	assert_null(t.rows.last);
	vw_totals_done(&t);
}

static void test_totals_bad_key_and_cap(void **state)
{
	struct vw_totals t = { 0 };
	char key[17];

	assert_int_equal(vw_totals_update(&t, C1 "0", "web", false, false, 1, 1), -EINVAL);
	assert_int_equal(t.rows.n, 0);
	assert_null(vw_totals_get(&t, C1 "0"));

	vw_totals_begin(&t);
	for (int i = 0; i < VW_DROP_CONTAINERS_MAX; i++) {
		snprintf(key, sizeof(key), "%016x", i);
		assert_int_equal(vw_totals_update(&t, key, "c", false, false, 1, 1), 0);
	}
	assert_int_equal(vw_totals_update(&t, C1, "web", false, false, 1, 1), -ENOBUFS);
	assert_null(vw_totals_get(&t, C1));
	/* known containers still count at the cap */
	assert_int_equal(vw_totals_update(&t, key, "c", false, false, 5, 5), 0);
	assert_int_equal(vw_totals_get(&t, key)->pkts[VW_ACTION_ACCEPTED], 5);
	vw_totals_end(&t);
	assert_int_equal(t.rows.n, VW_DROP_CONTAINERS_MAX);
	vw_totals_done(&t);
}

/*
 * Many containers: each update finds its own entry, containers missing from a read go, and
 * the rendering lists every series once, in the order the containers first appeared.
 */
static void test_totals_many(void **state)
{
	enum { N = 20000 };
	struct vw_totals t = { 0 };
	struct vw_buf b = { 0 };
	char key[17], name[32], got[32];

	for (int round = 1; round <= 3; round++) {
		vw_totals_begin(&t);
		for (int i = 0; i < N; i++) {
			/* the last round only sees the even ones */
			if (round == 3 && i % 2)
				continue;
			snprintf(key, sizeof(key), "%016x", i);
			snprintf(name, sizeof(name), "c%d", i);
			assert_int_equal(vw_totals_update(&t, key, name, false, false,
							  (uint64_t)round * i, round),
					 0);
			assert_int_equal(vw_totals_update(&t, key, name, true, false, i, 1), 0);
		}
		vw_totals_end(&t);
	}
	assert_int_equal(t.rows.n, N / 2);
	for (int i = 0; i < N; i++) {
		const struct vw_total *e;

		snprintf(key, sizeof(key), "%016x", i);
		e = vw_totals_get(&t, key);
		if (i % 2) {
			assert_null(e);
			continue;
		}
		assert_non_null(e);
		assert_int_equal(e->pkts[VW_ACTION_ACCEPTED], 3 * i);
		assert_int_equal(e->bytes[VW_ACTION_ACCEPTED], 3);
		assert_int_equal(e->pkts[VW_ACTION_DROPPED], i);
	}

	vw_totals_render(&b, &t);
	assert_false(b.oom);
	assert_int_equal(count_samples(b.p), 2 * 3 * (N / 2));
	for (int i = 0; i < N; i += 2 * 997) {
		snprintf(name, sizeof(name), "c%d", i);
		sample_container(b.p, (size_t)(i / 2) * 3, got, sizeof(got));
		assert_string_equal(got, name);
	}
	vw_buf_done(&b);
	vw_totals_done(&t);
}

static bool keep_even(const char *key, void *ud)
{
	(*(int *)ud)++;
	return strtoul(key, NULL, 16) % 2 == 0;
}

static void test_drops_many(void **state)
{
	enum { N = 20000 };
	struct vw_drops t = { 0 };
	struct vw_buf b = { 0 };
	char key[17], name[32], got[32];
	int calls = 0;

	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "%016x", i);
		snprintf(name, sizeof(name), "c%d", i);
		assert_int_equal(vw_drops_record(&t, key, name, "198.51.100.1", 443, IPPROTO_TCP),
				 VW_DROP_FIRST);
		assert_int_equal(vw_drops_record(&t, key, name, "198.51.100.2", 53, IPPROTO_UDP),
				 VW_DROP_FIRST);
	}
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "%016x", i);
		snprintf(name, sizeof(name), "c%d", i);
		assert_int_equal(vw_drops_record(&t, key, name, "198.51.100.1", 443, IPPROTO_TCP),
				 VW_DROP_REPEAT);
	}
	assert_int_equal(t.rows.n, N);

	vw_drops_forget(&t, keep_even, &calls);
	assert_int_equal(calls, N);
	assert_int_equal(t.rows.n, N / 2);
	snprintf(key, sizeof(key), "%016x", 4);
	vw_drops_forget_key(&t, key);
	assert_null(vw_drops_get(&t, key));
	assert_int_equal(t.rows.n, N / 2 - 1);

	vw_drops_render(&b, &t);
	assert_false(b.oom);
	assert_int_equal(count_samples(b.p), 2 * (N / 2 - 1));
	sample_container(b.p, 0, got, sizeof(got));
	assert_string_equal(got, "c0");
	sample_container(b.p, 2, got, sizeof(got));
	assert_string_equal(got, "c2");
	sample_container(b.p, 4, got, sizeof(got));
	assert_string_equal(got, "c6");
	sample_container(b.p, count_samples(b.p) - 1, got, sizeof(got));
	assert_string_equal(got, "c19998");
	vw_buf_done(&b);

	snprintf(key, sizeof(key), "%016x", 6);
	assert_int_equal(vw_drops_get(&t, key)->dests[0].count, 2);
	assert_int_equal(vw_drops_record(&t, C1 "0", "x", "198.51.100.1", 443, IPPROTO_TCP),
			 -EINVAL);
	vw_drops_done(&t);
	assert_int_equal(t.rows.n, 0);
}

/* The DNS proxy's queries: per container and verdict, latency of the answered ones only. */
static void test_dnsq_render(void **state)
{
	struct vw_dnsq_stats s;
	struct vw_buf b = { 0 };

	(void)state;
	vw_dnsq_stats_init(&s);
	vw_dnsq_stats_count(&s, C1, "web", VW_DNSQ_ALLOWED, true, 30000);
	vw_dnsq_stats_count(&s, C1, "web", VW_DNSQ_ALLOWED, true, 3000000);
	vw_dnsq_stats_count(&s, C1, "web", VW_DNSQ_REFUSED, true, 10000);
	vw_dnsq_stats_count(&s, C2, "db", VW_DNSQ_DROPPED, false, 10);
	vw_dnsq_stats_count(&s, NULL, NULL, VW_DNSQ_REFUSED, true, 10000);
	vw_dnsq_stats_render(&b, &s);
	assert_false(b.oom);
	/* 3 rows x 5 verdicts, 14 buckets + +Inf + sum + count */
	assert_int_equal(check_exposition(b.p), 15 + 17);
	assert_true(
		series_value(b.p,
			     "vpnwall_dns_queries_total{container=\"web\",verdict=\"allowed\"}") ==
		2);
	assert_true(
		series_value(b.p,
			     "vpnwall_dns_queries_total{container=\"web\",verdict=\"refused\"}") ==
		1);
	assert_true(
		series_value(b.p,
			     "vpnwall_dns_queries_total{container=\"db\",verdict=\"dropped\"}") ==
		1);
	assert_true(
		series_value(
			b.p,
			"vpnwall_dns_queries_total{container=\"(unknown)\",verdict=\"refused\"}") ==
		1);
	assert_true(series_value(b.p, "vpnwall_dns_proxy_seconds_count") == 4);
	assert_true(series_value(b.p, "vpnwall_dns_proxy_seconds_bucket{le=\"5e-05\"}") == 3);
	vw_buf_done(&b);

	/* a container that is gone leaves no series behind */
	vw_dnsq_stats_forget(&s, C1);
	vw_dnsq_stats_render(&b, &s);
	assert_null(strstr(b.p, "container=\"web\""));
	vw_buf_done(&b);
	vw_dnsq_stats_done(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_escape),
		cmocka_unit_test(test_dnsq_render),
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
		cmocka_unit_test(test_totals_forget),
		cmocka_unit_test(test_totals_bad_key_and_cap),
		cmocka_unit_test(test_totals_many),
		cmocka_unit_test(test_drops_many),
		/* last: under clang's UBSan it aborts the binary (see the test) */
		cmocka_unit_test(test_metrics_value_negative),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
