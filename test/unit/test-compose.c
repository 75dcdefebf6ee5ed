// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Labels out of docker-compose files: list and mapping forms in block and flow style,
 * quoting, comments, several services, keys that must not be mistaken for container
 * labels, CRLF files, and the errors (with their line) for what the reader does not
 * support.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vpnwall/compose.h"
#include "vpnwall/util.h"

/* Every label seen, as "service|key|value\n" lines. */
struct seen {
	char text[8192];
	size_t len;
	int calls;
	int stop_after; /* > 0: return -ECANCELED on that call */
};

static int collect(void *ud, const char *service, const char *key, const char *value)
{
	struct seen *s = ud;
	int n;

	s->calls++;
	n = snprintf(s->text + s->len, sizeof(s->text) - s->len, "%s|%s|%s\n", service, key, value);
	assert_true(n > 0 && (size_t)n < sizeof(s->text) - s->len);
	s->len += (size_t)n;
	return s->stop_after > 0 && s->calls >= s->stop_after ? -ECANCELED : 0;
}

static void assert_labels(const char *yaml, const char *want)
{
	struct seen s = { 0 };
	char err[256] = "";
	int r = vw_compose_labels(yaml, strlen(yaml), collect, &s, err, sizeof(err));

	if (r != 0)
		fail_msg("vw_compose_labels() = %d: %s", r, err);
	assert_string_equal(s.text, want);
}

static void assert_error(const char *yaml, const char *want)
{
	struct seen s = { 0 };
	char err[256] = "";

	assert_int_equal(vw_compose_labels(yaml, strlen(yaml), collect, &s, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, want);
}

static void test_compose_list_form(void **state)
{
	assert_labels("services:\n"
		      "  web:\n"
		      "    image: nginx:1.25\n"
		      "    labels:\n"
		      "      - vpn.outbound=api.github.com:443/tcp,198.51.100.7\n"
		      "      - \"vpn.allow=192.168.1.0/24\"\n"
		      "      - 'vpn.dryrun=true'\n"
		      "      -   com.example.spaces=a b  \n"
		      "      - com.example.empty=\n"
		      "      - com.example.novalue\n"
		      "      - com.example.eq=a=b\n"
		      "    restart: unless-stopped\n",
		      "web|vpn.outbound|api.github.com:443/tcp,198.51.100.7\n"
		      "web|vpn.allow|192.168.1.0/24\n"
		      "web|vpn.dryrun|true\n"
		      "web|com.example.spaces|a b\n"
		      "web|com.example.empty|\n"
		      "web|com.example.novalue|\n"
		      "web|com.example.eq|a=b\n");
}

static void test_compose_mapping_form(void **state)
{
	assert_labels("services:\n"
		      "  web:\n"
		      "    labels:\n"
		      "      vpn.outbound: \"198.51.100.7, example.org\"\n"
		      "      \"vpn.allow\": '10.0.0.0/8'\n"
		      "      'vpn.enable' : true\n"
		      "      com.example.quote: 'it''s'\n"
		      "      com.example.dq: \"a \\\"b\\\" \\\\ c\\td\"\n"
		      "      com.example.url: http://example.org:8080/x?a=b\n"
		      "      com.example.empty:\n"
		      "      com.example.blank: \"\"\n",
		      "web|vpn.outbound|198.51.100.7, example.org\n"
		      "web|vpn.allow|10.0.0.0/8\n"
		      "web|vpn.enable|true\n"
		      "web|com.example.quote|it's\n"
		      "web|com.example.dq|a \"b\" \\ c\td\n"
		      "web|com.example.url|http://example.org:8080/x?a=b\n"
		      "web|com.example.empty|\n"
		      "web|com.example.blank|\n");
}

static void test_compose_flow_style(void **state)
{
	assert_labels("services:\n"
		      "  a:\n"
		      "    labels: [\"vpn.outbound=198.51.100.7\", 'x=y', plain=z ,last=1]\n"
		      "  b:\n"
		      "    labels: {vpn.outbound: \"example.org:443/tcp\", 'k': v , n: 'it''s'}\n"
		      "  c:\n"
		      "    labels: []\n"
		      "  d:\n"
		      "    labels: {}\n"
		      "  e:\n"
		      "    labels: [ \"trailing=comma\", ]\n",
		      "a|vpn.outbound|198.51.100.7\n"
		      "a|x|y\n"
		      "a|plain|z\n"
		      "a|last|1\n"
		      "b|vpn.outbound|example.org:443/tcp\n"
		      "b|k|v\n"
		      "b|n|it's\n"
		      "e|trailing|comma\n");
}

static void test_compose_compact_list(void **state)
{
	/* list items at the same indentation as "labels:" still belong to it */
	assert_labels("services:\n"
		      "  web:\n"
		      "    labels:\n"
		      "    - vpn.outbound=198.51.100.7\n"
		      "    - vpn.dryrun=true\n"
		      "    image: nginx\n"
		      "    environment:\n"
		      "    - NOT=a-label\n"
		      "  db:\n"
		      "    environment:\n"
		      "    - NOT=a-label\n"
		      "    labels:\n"
		      "    - vpn.allow=10.0.0.0/8\n",
		      "web|vpn.outbound|198.51.100.7\n"
		      "web|vpn.dryrun|true\n"
		      "db|vpn.allow|10.0.0.0/8\n");
}

static void test_compose_comments(void **state)
{
	assert_labels("# a compose file\n"
		      "services: # the services\n"
		      "  # web is the front end\n"
		      "  web:  # comment after a service\n"
		      "    labels: # block follows\n"
		      "      # a comment line inside labels\n"
		      "      - vpn.outbound=198.51.100.7 # trailing comment\n"
		      "      - \"com.example.a=# not a comment\"\n"
		      "      - 'com.example.b=x # not a comment either'\n"
		      "      - com.example.c=a#b\n"
		      "      - com.example.d=a\n"
		      "\n"
		      "      - com.example.e=after-blank\n"
		      "    image: nginx\n",
		      "web|vpn.outbound|198.51.100.7\n"
		      "web|com.example.a|# not a comment\n"
		      "web|com.example.b|x # not a comment either\n"
		      "web|com.example.c|a#b\n"
		      "web|com.example.d|a\n"
		      "web|com.example.e|after-blank\n");
	assert_labels("services:\n"
		      "  web:\n"
		      "    labels:\n"
		      "      com.example.m: 'v' # comment\n"
		      "      com.example.n: \"#x\"   # comment\n",
		      "web|com.example.m|v\n"
		      "web|com.example.n|#x\n");
}

static void test_compose_other_keys_skipped(void **state)
{
	assert_labels("version: \"3.8\"\n"
		      "x-common:\n"
		      "  labels:\n"
		      "    - x.common=1\n"
		      "services:\n"
		      "  web:\n"
		      "    image: nginx\n"
		      "    environment:\n"
		      "      - labels=not-a-label\n"
		      "      - FOO=bar\n"
		      "    deploy:\n"
		      "      replicas: 2\n"
		      "      labels:\n"
		      "        deploy.only: \"service label, not container\"\n"
		      "    build:\n"
		      "      context: .\n"
		      "      labels:\n"
		      "        - build.label=image\n"
		      "    logging:\n"
		      "      options:\n"
		      "        labels: \"not,these\"\n"
		      "    command: |\n"
		      "      labels:\n"
		      "        - in.a.block.scalar=1\n"
		      "    healthcheck:\n"
		      "      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost\"]\n"
		      "    labels:\n"
		      "      - web.label=1\n"
		      "    ports:\n"
		      "      - \"8080:80\"\n"
		      "  db:\n"
		      "    command: [\"sh\", \"-c\", \"echo labels: x\"]\n"
		      "    labels:\n"
		      "      db.label: \"2\"\n"
		      "  cache:\n"
		      "    image: redis\n"
		      "volumes:\n"
		      "  data:\n"
		      "    labels:\n"
		      "      volume.label: x\n"
		      "networks:\n"
		      "  front:\n"
		      "    labels:\n"
		      "      - network.label=y\n",
		      "web|web.label|1\n"
		      "db|db.label|2\n");
}

static void test_compose_several_services(void **state)
{
	assert_labels("services:\n"
		      "    web:\n"
		      "        labels:\n"
		      "            - a=1\n"
		      "    \"api\":\n"
		      "        image: x\n"
		      "        labels:\n"
		      "            b: \"2\"\n"
		      "    worker: {image: busybox}\n"
		      "    proxy:\n"
		      "        labels: [c=3]\n"
		      "---\n"
		      "...\n"
		      "services:\n"
		      "  after-document-end:\n"
		      "    labels:\n"
		      "      - d=4\n",
		      "web|a|1\n"
		      "api|b|2\n"
		      "proxy|c|3\n");
}

static void test_compose_crlf(void **state)
{
	assert_labels("services:\r\n"
		      "  web:\r\n"
		      "    labels:\r\n"
		      "      - vpn.outbound=198.51.100.7\r\n"
		      "      - \"q=quoted\"\r\n"
		      "      - c=comment # here\r\n"
		      "    image: nginx\r\n"
		      "  db:\r\n"
		      "    labels:\r\n"
		      "      k: 'v'\r\n"
		      "      e:\r\n"
		      "    labels2: [x]\r\n",
		      "web|vpn.outbound|198.51.100.7\n"
		      "web|q|quoted\n"
		      "web|c|comment\n"
		      "db|k|v\n"
		      "db|e|\n");
	/* the line number counts CRLF lines */
	assert_error("services:\r\n  web:\r\n    labels:\r\n      - \"open\r\n",
		     "line 4: unterminated quoted string (multi-line strings are not supported)");
}

static void test_compose_length_bounds_input(void **state)
{
	static const char text[] = "services:\n  web:\n    labels:\n      - a=1\n      - b=2\n";
	struct seen s = { 0 };
	char err[64] = "";

	/* only @len bytes are read: the text need not be NUL-terminated there */
	assert_int_equal(vw_compose_labels(text, strlen(text) - 10, collect, &s, err, sizeof(err)),
			 0);
	assert_string_equal(s.text, "web|a|1\n");

	/* no trailing newline */
	memset(&s, 0, sizeof(s));
	assert_int_equal(vw_compose_labels(text, strlen(text) - 1, collect, &s, err, sizeof(err)),
			 0);
	assert_string_equal(s.text, "web|a|1\nweb|b|2\n");

	/* nothing at all */
	memset(&s, 0, sizeof(s));
	assert_int_equal(vw_compose_labels("", 0, collect, &s, err, sizeof(err)), 0);
	assert_int_equal(s.calls, 0);
}

static void test_compose_errors(void **state)
{
	assert_error("services:\n  web:\n\tlabels:\n      - a=b\n",
		     "line 3: tab in indentation (YAML allows spaces only)");
	assert_error("services:\n  web:\n    labels:\n  \t  - a=b\n",
		     "line 4: tab in indentation (YAML allows spaces only)");
	assert_error("services:\n  web:\n    labels:\n      - \"a=b\n",
		     "line 4: unterminated quoted string (multi-line strings are not supported)");
	assert_error("services:\n  web:\n    labels:\n      k: 'it''s\n",
		     "line 4: unterminated quoted string (multi-line strings are not supported)");
	assert_error(
		"services:\n  web:\n    labels:\n      - a=b\n      k: |\n        text\n",
		"line 5: anchors, aliases, tags and block scalars are not supported in labels");
	assert_error(
		"services:\n  web:\n    labels: |\n      a=b\n",
		"line 3: anchors, aliases, tags and block scalars are not supported in labels");
	assert_error(
		"services:\n  web:\n    labels: >-\n      a=b\n",
		"line 3: anchors, aliases, tags and block scalars are not supported in labels");
	assert_error(
		"services:\n  web:\n    labels:\n      - |\n        a=b\n",
		"line 4: anchors, aliases, tags and block scalars are not supported in labels");
	assert_error(
		"services:\n  web:\n    labels: *common\n",
		"line 3: anchors, aliases, tags and block scalars are not supported in labels");
	assert_error("services:\n  web:\n    labels: vpn.outbound=198.51.100.7\n",
		     "line 3: 'labels' must be a list or a mapping");
	assert_error("services:\n  web:\n    labels: \"a=b\"\n",
		     "line 3: 'labels' must be a list or a mapping");
	assert_error(
		"services:\n  web:\n    labels: [\"a=b\",\n      \"c=d\"]\n",
		"line 3: unterminated flow collection (multi-line flow style is not supported)");
	assert_error("services:\n  web:\n    labels: [a=b] extra\n",
		     "line 3: unexpected text after a flow collection");
	assert_error("services:\n  web:\n    labels: {a}\n",
		     "line 3: expected 'key: value' in a flow mapping");
	assert_error("services:\n  web:\n    labels:\n      just-a-word\n",
		     "line 4: expected 'key: value'");
	assert_error("services:\n  web:\n    labels:\n      a:b\n",
		     "line 4: expected a space after ':'");
	assert_error("services:\n  web:\n    labels:\n      - \"a=b\" c\n",
		     "line 4: unexpected text after a quoted string");
	assert_error("services:\n  web:\n    labels:\n      a: \"\\x41\"\n",
		     "line 4: unsupported escape in a double-quoted string");
}

static void test_compose_error_truncated(void **state)
{
	static const char yaml[] = "services:\n  web:\n    labels: nope\n";
	struct seen s = { 0 };
	char err[8];

	/* a short error buffer gets a truncated, terminated message */
	memset(err, 'x', sizeof(err));
	assert_int_equal(vw_compose_labels(yaml, strlen(yaml), collect, &s, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "line 3:");
}

static void test_compose_callback_stops(void **state)
{
	static const char yaml[] = "services:\n"
				   "  web:\n"
				   "    labels:\n"
				   "      - a=1\n"
				   "      - b=2\n"
				   "      - c=3\n"
				   "  db:\n"
				   "    labels: [d=4, e=5]\n";
	struct seen s = { .stop_after = 2 };
	char err[64] = "";

	assert_int_equal(vw_compose_labels(yaml, strlen(yaml), collect, &s, err, sizeof(err)),
			 -ECANCELED);
	assert_int_equal(s.calls, 2);
	assert_string_equal(s.text, "web|a|1\nweb|b|2\n");

	/* also from inside a flow collection */
	memset(&s, 0, sizeof(s));
	s.stop_after = 4;
	assert_int_equal(vw_compose_labels(yaml, strlen(yaml), collect, &s, err, sizeof(err)),
			 -ECANCELED);
	assert_int_equal(s.calls, 4);
	assert_string_equal(s.text, "web|a|1\nweb|b|2\nweb|c|3\ndb|d|4\n");
}

/*
 * A '#' inside a double-quoted string is not a comment, also after an escaped quote.
 * The comment stripper treats \" as the closing quote.
 */
static void test_compose_hash_after_escaped_quote(void **state)
{
	assert_labels("services:\n"
		      "  web:\n"
		      "    labels:\n"
		      "      com.example.a: \"x\\\"y # z\"\n"
		      "  db:\n"
		      "    labels:\n"
		      "      - \"com.example.b=say \\\"hi # there\"\n",
		      "web|com.example.a|x\"y # z\n"
		      "db|com.example.b|say \"hi # there\n");
}

/* An apostrophe inside a plain scalar opens no quote: the comment after it is a comment. */
static void test_compose_apostrophe_in_plain_scalar(void **state)
{
	assert_labels("services:\n"
		      "  web:\n"
		      "    labels:\n"
		      "      - com.example.owner=O'Brien # the owner\n"
		      "  db:\n"
		      "    labels:\n"
		      "      com.example.owner: O'Brien # the owner\n",
		      "web|com.example.owner|O'Brien\n"
		      "db|com.example.owner|O'Brien\n");
}

/* An anchor on a service (not on its labels) is no reason to fail; its labels count. */
static void test_compose_anchor_on_service(void **state)
{
	assert_labels("services:\n"
		      "  web: &web\n"
		      "    image: nginx\n"
		      "    labels:\n"
		      "      - vpn.outbound=198.51.100.7\n",
		      "web|vpn.outbound|198.51.100.7\n");
}

/* A quoted "labels" key is the same key: an unsupported value is an error there too. */
static void test_compose_quoted_labels_key_error(void **state)
{
	assert_error(
		"services:\n  web:\n    \"labels\": |\n      a=b\n",
		"line 3: anchors, aliases, tags and block scalars are not supported in labels");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose_list_form),
		cmocka_unit_test(test_compose_mapping_form),
		cmocka_unit_test(test_compose_flow_style),
		cmocka_unit_test(test_compose_compact_list),
		cmocka_unit_test(test_compose_comments),
		cmocka_unit_test(test_compose_other_keys_skipped),
		cmocka_unit_test(test_compose_several_services),
		cmocka_unit_test(test_compose_crlf),
		cmocka_unit_test(test_compose_length_bounds_input),
		cmocka_unit_test(test_compose_errors),
		cmocka_unit_test(test_compose_error_truncated),
		cmocka_unit_test(test_compose_callback_stops),
		cmocka_unit_test(test_compose_hash_after_escaped_quote),
		cmocka_unit_test(test_compose_apostrophe_in_plain_scalar),
		cmocka_unit_test(test_compose_anchor_on_service),
		cmocka_unit_test(test_compose_quoted_labels_key_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
