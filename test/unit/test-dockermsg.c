// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Docker API bodies as Engine 20.10 sends them (trimmed), and hostile variants.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vpnwall/dockermsg.h"
#include "vpnwall/policy.h"
#include "vpnwall/util.h"

#define ID "4e2cba7e1b1d7b4f0e3a4b1f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d"
#define NID "9f1c2b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"

static void test_event_container(void **state)
{
	const char *s = "{\"status\":\"start\",\"id\":\"" ID "\",\"Type\":\"container\","
			"\"Action\":\"start\",\"Actor\":{\"ID\":\"" ID "\",\"Attributes\":"
			"{\"name\":\"web\"}},\"scope\":\"local\",\"time\":1,\"timeNano\":1000}";
	struct vw_docker_event ev;

	assert_int_equal(vw_dockermsg_parse_event(s, strlen(s), &ev), 0);
	assert_int_equal(ev.kind, VW_EV_CONTAINER);
	assert_string_equal(ev.id, ID);
	assert_string_equal(ev.action, "start");
	assert_string_equal(ev.network_id, "");
}

static void test_event_network(void **state)
{
	const char *conn = "{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{\"ID\":\"" NID
			   "\",\"Attributes\":{\"container\":\"" ID "\",\"name\":\"web\"}}}";
	const char *create =
		"{\"Type\":\"network\",\"Action\":\"create\",\"Actor\":{\"ID\":\"" NID "\"}}";
	const char *exec =
		"{\"Type\":\"container\",\"Action\":\"exec_start: sh\",\"Actor\":{\"ID\":\"" ID
		"\"}}";
	const char *badid =
		"{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"../../x\"}}";
	struct vw_docker_event ev;

	assert_int_equal(vw_dockermsg_parse_event(conn, strlen(conn), &ev), 0);
	assert_int_equal(ev.kind, VW_EV_CONTAINER);
	assert_string_equal(ev.id, ID);
	assert_string_equal(ev.network_id, NID);
	assert_int_equal(vw_dockermsg_parse_event(create, strlen(create), &ev), 0);
	assert_int_equal(ev.kind, VW_EV_NETWORKS);
	assert_int_equal(vw_dockermsg_parse_event(exec, strlen(exec), &ev), 0);
	assert_int_equal(ev.kind, VW_EV_IGNORED);
	/* ignored, but named: a log can say which container it was about */
	assert_string_equal(ev.id, ID);
	/* an id that is not hex never reaches a URL */
	assert_int_equal(vw_dockermsg_parse_event(badid, strlen(badid), &ev), 0);
	assert_int_equal(ev.kind, VW_EV_IGNORED);
	assert_int_equal(vw_dockermsg_parse_event("[1]", 3, &ev), -22);
	assert_int_equal(vw_dockermsg_parse_event("{\"Type\":", 8, &ev), -22);
}

/* An event as Docker 20.10 writes it, with @attrs bytes of labels in its attributes. */
static char *event_line(const char *action, size_t attrs)
{
	char *fill = malloc(attrs + 1), *line;

	assert_non_null(fill);
	memset(fill, 'x', attrs);
	fill[attrs] = '\0';
	assert_true(asprintf(&line,
			     "{\"status\":\"%s\",\"id\":\"" ID "\",\"from\":\"busybox\","
			     "\"Type\":\"container\",\"Action\":\"%s\",\"Actor\":{\"ID\":\"" ID
			     "\",\"Attributes\":{\"big\":\"%s\",\"name\":\"web\"}},"
			     "\"scope\":\"local\",\"time\":1,\"timeNano\":1000}",
			     action, action, fill) > 0);
	free(fill);
	return line;
}

/* @a read from a prefix is @b read whole; an ignored event may not name its container. */
static void assert_same_event(const struct vw_docker_event *a, const struct vw_docker_event *b)
{
	assert_int_equal(a->kind, b->kind);
	if (a->kind != VW_EV_IGNORED || a->id[0])
		assert_string_equal(a->id, b->id);
	assert_string_equal(a->network_id, b->network_id);
	assert_string_equal(a->action, b->action);
}

static void test_event_prefix_cut(void **state)
{
	char *line = event_line("die", 100 * 1024);
	const char *at = strstr(line, "\"Attributes\"");
	struct vw_docker_event ev, whole;

	assert_int_equal(vw_dockermsg_parse_event(line, strlen(line), &whole), 0);
	assert_int_equal(whole.kind, VW_EV_CONTAINER);

	/* cut inside the labels: everything that matters came before them */
	assert_int_equal(vw_dockermsg_parse_event_prefix(line, 64 * 1024, &ev), 1);
	assert_same_event(&ev, &whole);
	/* the whole line reads the same */
	assert_int_equal(vw_dockermsg_parse_event_prefix(line, strlen(line), &ev), 1);
	assert_same_event(&ev, &whole);

	/* cut before Actor.ID: the top-level id still names the container, to re-inspect */
	assert_int_equal(vw_dockermsg_parse_event_prefix(line, (size_t)(at - line) - 70, &ev), 0);
	assert_int_equal(ev.kind, VW_EV_CONTAINER);
	assert_string_equal(ev.id, ID);
	assert_string_equal(ev.action, "die");

	/* cut inside "Action": the id is known, the action not */
	at = strstr(line, "\"Action\"");
	assert_int_equal(vw_dockermsg_parse_event_prefix(line, (size_t)(at - line) + 11, &ev), 0);
	assert_int_equal(ev.kind, VW_EV_CONTAINER);
	assert_string_equal(ev.id, ID);
	assert_string_equal(ev.action, "");

	/* cut inside "id": nothing names the container */
	assert_int_equal(vw_dockermsg_parse_event_prefix(line, 30, &ev), 0);
	assert_int_equal(ev.kind, VW_EV_IGNORED);
	assert_string_equal(ev.id, "");
	free(line);

	/* an action we ignore stays ignored when cut: no re-inspect for every exec */
	line = event_line("exec_start: sh", 100 * 1024);
	assert_int_equal(vw_dockermsg_parse_event_prefix(line, 64 * 1024, &ev), 1);
	assert_int_equal(ev.kind, VW_EV_IGNORED);
	assert_string_equal(ev.id, ID);
	free(line);
}

static void test_event_prefix_every_cut(void **state)
{
	const char *lines[] = {
		"{\"status\":\"start\",\"id\":\"" ID "\",\"from\":\"b\",\"Type\":\"container\","
		"\"Action\":\"start\",\"Actor\":{\"ID\":\"" ID "\",\"Attributes\":{\"a\":\"1\"}},"
		"\"time\":1}",
		"{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{\"ID\":\"" NID
		"\",\"Attributes\":{\"container\":\"" ID "\",\"name\":\"web\"}},\"time\":1}",
		"{\"Type\":\"network\",\"Action\":\"destroy\",\"Actor\":{\"ID\":\"" NID "\"}}",
		"{\"Type\":\"container\",\"Action\":\"update\",\"Actor\":{},\"id\":\"" ID "\"}",
		"{\"Actor\":\"x\",\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"" ID
		"\"}}",
	};
	/* read in full: not a connect (its container is an attribute), not a second "Actor" */
	const int whole_r[] = { 1, 0, 1, 1, 0 };

	/* Whatever the cut, a prefix read as whole reads as the whole line does. */
	for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
		struct vw_docker_event whole, ev;
		size_t len = strlen(lines[i]);
		int r;

		assert_int_equal(vw_dockermsg_parse_event(lines[i], len, &whole), 0);
		for (size_t cut = 0; cut <= len; cut++) {
			r = vw_dockermsg_parse_event_prefix(lines[i], cut, &ev);
			assert_true(cut > 0 ? r >= 0 : r == -EINVAL);
			if (r == 1)
				assert_same_event(&ev, &whole);
		}
		assert_int_equal(vw_dockermsg_parse_event_prefix(lines[i], len, &ev), whole_r[i]);
	}
}

static void test_event_prefix_network(void **state)
{
	const char *conn = "{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{\"ID\":\"" NID
			   "\",\"Attributes\":{\"container\":\"" ID "\"";
	const char *create = "{\"Type\":\"network\",\"Action\":\"create\",\"Actor\":{\"ID\":\"" NID
			     "\",\"Attributes\":{\"name\":\"n";
	struct vw_docker_event ev;

	/* the container of a connect is inside the attributes: the caller must resync */
	assert_int_equal(vw_dockermsg_parse_event_prefix(conn, strlen(conn), &ev), 0);
	assert_int_equal(ev.kind, VW_EV_IGNORED);
	assert_string_equal(ev.id, "");
	assert_string_equal(ev.network_id, NID);
	assert_int_equal(vw_dockermsg_parse_event_prefix(create, strlen(create), &ev), 1);
	assert_int_equal(ev.kind, VW_EV_NETWORKS);
}

static void test_event_prefix_escapes(void **state)
{
	/* escaped keys and values decode as cJSON decodes them, surrogate pairs included */
	const char *esc =
		"{\"from\":\"a\\\"b\\\\c\\/\\ud83d\\ude00\\u00e9\\n\",\"T\\u0079pe\":"
		"\"c\\u006fntainer\",\"Action\":\"d\\u0069e\",\"Actor\":{\"\\u0049D\":\"" ID
		"\",\"Attributes\":{\"x\":\"";
	/* a lone low surrogate is malformed: the walk stops before the type */
	const char *lone = "{\"from\":\"\\udc00\",\"Type\":\"container\",\"Action\":\"die\",";
	/* a quote inside a value does not end it */
	const char *quote =
		"{\"Type\":\"container\",\"status\":\"\\\",\\\"Action\\\":\\\"die\",\"id\":\"" ID
		"\",\"Action\":\"exec_create: x\",\"Actor\":{\"ID\":\"" ID "\",\"Attr";
	/* an over-long key or value is cut, never mistaken for a shorter one */
	const char *longkey =
		"{\"Typeeeeeeeeeeeeeeeeeeeeeeeeeeee\":\"container\",\"Action\":\"die\",\"id\":"
		"\"" ID "0\",\"Actor\":{\"Attributes\":{";
	struct vw_docker_event ev;

	assert_int_equal(vw_dockermsg_parse_event_prefix(esc, strlen(esc), &ev), 1);
	assert_int_equal(ev.kind, VW_EV_CONTAINER);
	assert_string_equal(ev.id, ID);
	assert_string_equal(ev.action, "die");

	assert_int_equal(vw_dockermsg_parse_event_prefix(lone, strlen(lone), &ev), 0);
	assert_int_equal(ev.kind, VW_EV_IGNORED);

	assert_int_equal(vw_dockermsg_parse_event_prefix(quote, strlen(quote), &ev), 1);
	assert_int_equal(ev.kind, VW_EV_IGNORED);
	assert_string_equal(ev.action, "exec_create: x");

	assert_int_equal(vw_dockermsg_parse_event_prefix(longkey, strlen(longkey), &ev), 0);
	assert_int_equal(ev.kind, VW_EV_IGNORED);
	assert_string_equal(ev.id, "");

	assert_int_equal(vw_dockermsg_parse_event_prefix("", 0, &ev), -EINVAL);
	assert_int_equal(vw_dockermsg_parse_event_prefix(" [{}]", 5, &ev), -EINVAL);
	assert_int_equal(vw_dockermsg_parse_event_prefix(" {", 2, &ev), 0);
}

static void test_id_prefix(void **state)
{
	const char *list = "{\"Id\":\"" ID "\",\"Names\":[\"/web\"],\"Labels\":{\"a\":\"xxxx";
	const char *later = "{\"Names\":[\"/web\"],\"Id\":\"" ID "\"}";
	const char *bad = "{\"Image\":\"x\",\"Id\":\"../x\",\"Names\":[";
	char id[VW_ID_MAX + 1] = "unchanged";

	assert_int_equal(vw_dockermsg_parse_id_prefix(list, strlen(list), id), 0);
	assert_string_equal(id, ID);
	strcpy(id, "unchanged");
	/* only what precedes the first value that is not a string can be read */
	assert_int_equal(vw_dockermsg_parse_id_prefix(later, strlen(later), id), -ENOENT);
	assert_int_equal(vw_dockermsg_parse_id_prefix(list, 10, id), -ENOENT);
	assert_int_equal(vw_dockermsg_parse_id_prefix(bad, strlen(bad), id), -EINVAL);
	assert_int_equal(vw_dockermsg_parse_id_prefix("[]", 2, id), -EINVAL);
	assert_string_equal(id, "unchanged");
}

struct split {
	char out[1024]; /* the elements seen, "<kept>|<size>\n" each */
	int fail_at; /* make the callback fail on this element (1-based), 0: never */
	int n;
};

static int on_element(void *ud, const char *buf, size_t len, size_t size)
{
	struct split *sp = ud;
	size_t o = strlen(sp->out);

	if (++sp->n == sp->fail_at)
		return -ECANCELED;
	snprintf(sp->out + o, sizeof(sp->out) - o, "%.*s|%zu\n", (int)len, buf, size);
	return 0;
}

/* Split @s with elements cut to @max bytes, fed in pieces of @step bytes. Returns the result. */
static int split(const char *s, size_t max, size_t step, struct split *sp)
{
	struct vw_json_splitter *js;
	size_t len = strlen(s);
	int r = 0;

	assert_int_equal(vw_json_splitter_new(max, &js), 0);
	for (size_t off = 0; off < len && r == 0; off += step)
		r = vw_json_splitter_feed(js, s + off, len - off < step ? len - off : step,
					  on_element, sp);
	if (r == 0 && !vw_json_splitter_is_done(js))
		r = -ENODATA;
	vw_json_splitter_free(js);
	return r;
}

static void test_splitter(void **state)
{
	const char *s =
		" [ {\"a\":\"]}\\\"[{\",\"b\":[1,{}]} , \"s,]\\\\\",-1.5e3,true\t,{ },[[]] ] trailing";
	const char *want = "{\"a\":\"]}\\\"[{\",\"b\":[1,{}]}|25\n\"s,]\\\\\"|7\n-1.5e3|6\n"
			   "true|4\n{ }|3\n[[]]|4\n";

	/* any piece size gives the same elements */
	for (size_t step = 1; step <= strlen(s); step++) {
		struct split sp = { 0 };

		assert_int_equal(split(s, 1024, step, &sp), 0);
		assert_string_equal(sp.out, want);
	}
}

static void test_splitter_cut_and_errors(void **state)
{
	struct split sp = { 0 };

	/* an element over the cap keeps its first bytes and reports its whole length */
	assert_int_equal(split("[{\"Id\":\"abc\",\"x\":\"}}}}\"},{}]", 8, 3, &sp), 0);
	assert_string_equal(sp.out, "{\"Id\":\"a|23\n{}|2\n");

	memset(&sp, 0, sizeof(sp));
	assert_int_equal(split("[]", 8, 1, &sp), 0);
	assert_string_equal(sp.out, "");

	/* not an array, or broken between elements */
	assert_int_equal(split("{\"a\":1}", 8, 1, &sp), -EINVAL);
	assert_int_equal(split("[1 2]", 8, 1, &sp), -EINVAL);
	assert_int_equal(split("[1,]", 8, 1, &sp), -EINVAL);
	assert_int_equal(split("[,1]", 8, 1, &sp), -EINVAL);
	assert_int_equal(split("[tr\"ue]", 8, 1, &sp), -EINVAL);
	/* the input ends before the array does */
	assert_int_equal(split("[{\"a\":\"]\"}", 8, 1, &sp), -ENODATA);

	/* the callback's error stops the split, and every later feed fails */
	memset(&sp, 0, sizeof(sp));
	sp.fail_at = 2;
	assert_int_equal(split("[1,2,3]", 8, 100, &sp), -ECANCELED);
	assert_string_equal(sp.out, "1|1\n");
}

static void test_splitter_matches_whole_parse(void **state)
{
	const char *s = "[{\"Id\":\"" ID "\",\"Names\":[\"/a\"],\"State\":\"running\","
			"\"Labels\":{\"vpn.outbound\":\"198.51.100.1\"},"
			"\"NetworkSettings\":{\"Networks\":{\"bridge\":{\"NetworkID\":\"" NID "\","
			"\"IPAddress\":\"198.18.0.2\"}}}},"
			"\"garbage\",{\"Id\":\"" NID "\",\"Names\":[\"/b\"],\"State\":\"exited\"}]";
	struct vw_json_splitter *js;
	struct vw_container *cs, c;
	struct split sp = { 0 };
	size_t n;
	char *p;
	int k = 0;

	assert_int_equal(vw_dockermsg_parse_containers(s, strlen(s), &cs, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(vw_json_splitter_new(4096, &js), 0);
	assert_int_equal(vw_json_splitter_feed(js, s, strlen(s), on_element, &sp), 0);
	assert_true(vw_json_splitter_is_done(js));
	vw_json_splitter_free(js);
	/* each element parsed alone gives the container the whole parse gives */
	for (char *line = strtok_r(sp.out, "\n", &p); line; line = strtok_r(NULL, "\n", &p)) {
		*strrchr(line, '|') = '\0';
		if (vw_dockermsg_parse_container(line, strlen(line), &c) < 0)
			continue;
		assert_string_equal(c.id, cs[k].id);
		assert_string_equal(c.name, cs[k].name);
		assert_int_equal(c.running, cs[k].running);
		assert_int_equal(c.n_eps, cs[k].n_eps);
		assert_int_equal(c.labels.n_outbound, cs[k].labels.n_outbound);
		vw_container_done(&c);
		k++;
	}
	assert_int_equal(k, 2);
	for (size_t i = 0; i < n; i++)
		vw_container_done(&cs[i]);
	free(cs);
}

static void test_inspect(void **state)
{
	const char *s =
		"{\"Id\":\"" ID "\",\"Name\":\"/web\",\"State\":{\"Running\":true},"
		"\"HostConfig\":{\"NetworkMode\":\"default\"},"
		"\"Config\":{\"Labels\":{\"vpn.outbound\":\"198.51.100.10,bad/x\",\"other\":\"1\"}},"
		"\"NetworkSettings\":{\"Networks\":{\"bridge\":{\"NetworkID\":\"" NID "\","
		"\"IPAddress\":\"198.18.1.2\",\"GlobalIPv6Address\":\"2001:db8:1::2\","
		"\"EndpointID\":\"" ID "\",\"MacAddress\":\"02:42:c6:12:01:02\"},"
		"\"junk\":{\"NetworkID\":\"zz\",\"IPAddress\":\"1.2.3.4\"}}}}";
	static const uint8_t mac[6] = { 0x02, 0x42, 0xc6, 0x12, 0x01, 0x02 };
	struct vw_container c;

	assert_int_equal(vw_dockermsg_parse_container(s, strlen(s), &c), 0);
	assert_string_equal(c.name, "web");
	assert_true(c.running);
	assert_false(c.host_network);
	assert_int_equal(c.n_eps, 1);
	assert_true(c.eps[0].has4);
	assert_true(c.eps[0].has6);
	assert_int_equal(c.eps[0].addr4[3], 2);
	assert_string_equal(c.eps[0].network, "bridge");
	/* the layer-2 identity, for binding addresses to bridge ports */
	assert_string_equal(c.eps[0].endpoint_id, ID);
	assert_true(c.eps[0].has_mac);
	assert_memory_equal(c.eps[0].mac, mac, 6);
	assert_string_equal(c.eps[0].veth, "");
	assert_int_equal(c.labels.n_outbound, 1);
	assert_int_equal(c.labels.n_errors, 1);
	vw_container_done(&c);
}

static void test_list_and_modes(void **state)
{
	const char *s = "[{\"Id\":\"" ID "\",\"Names\":[\"/a\"],\"State\":\"running\","
			"\"Labels\":{\"vpn.enable\":\"false\"},"
			"\"HostConfig\":{\"NetworkMode\":\"container:" NID "\"},"
			"\"NetworkSettings\":{\"Networks\":{}}},"
			"{\"Id\":\"" NID "\",\"Names\":[\"/b\"],\"State\":\"exited\","
			"\"HostConfig\":{\"NetworkMode\":\"host\"}},"
			"{\"Id\":5},\"garbage\"]";
	struct vw_container *cs;
	size_t n;

	assert_int_equal(vw_dockermsg_parse_containers(s, strlen(s), &cs, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(cs[0].name, "a");
	assert_true(cs[0].running);
	assert_true(cs[0].labels.disabled);
	assert_string_equal(cs[0].netns_owner, NID);
	assert_false(cs[1].running);
	assert_true(cs[1].host_network);
	for (size_t i = 0; i < n; i++)
		vw_container_done(&cs[i]);
	free(cs);
}

static void test_networks(void **state)
{
	const char *s = "[{\"Name\":\"bridge\",\"Id\":\"" NID "\",\"Driver\":\"bridge\","
			"\"Options\":{\"com.docker.network.bridge.name\":\"docker0\"}},"
			"{\"Name\":\"web\",\"Id\":\"" ID "\",\"Driver\":\"bridge\",\"Options\":{}},"
			"{\"Name\":\"host\",\"Id\":\"" ID "\",\"Driver\":\"host\"}]";
	struct vw_network *nets;
	size_t n;

	assert_int_equal(vw_dockermsg_parse_networks(s, strlen(s), &nets, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(nets[0].bridge, "docker0");
	assert_string_equal(nets[1].bridge, "br-4e2cba7e1b1d");
	assert_false(nets[2].is_bridge);
	assert_string_equal(nets[2].bridge, "");
	free(nets);
}

static void test_version(void **state)
{
	const char *s =
		"{\"Version\":\"20.10.24\",\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"1.12\"}";
	char api[VW_DOCKER_API_MAX_LEN], min[VW_DOCKER_API_MAX_LEN];

	assert_int_equal(vw_dockermsg_parse_version(s, strlen(s), api, min), 0);
	assert_string_equal(api, "1.41");
	assert_string_equal(min, "1.12");
	assert_int_equal(vw_dockermsg_parse_version("{\"ApiVersion\":\"x\"}", 18, api, min), -22);
	assert_true(vw_docker_api_cmp("1.41", "1.9") > 0);
	assert_true(vw_docker_api_cmp("1.41", "1.51") < 0);
	assert_int_equal(vw_docker_api_cmp("1.41", "1.41"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_container),
		cmocka_unit_test(test_event_network),
		cmocka_unit_test(test_inspect),
		cmocka_unit_test(test_list_and_modes),
		cmocka_unit_test(test_networks),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_event_prefix_cut),
		cmocka_unit_test(test_event_prefix_every_cut),
		cmocka_unit_test(test_event_prefix_network),
		cmocka_unit_test(test_event_prefix_escapes),
		cmocka_unit_test(test_id_prefix),
		cmocka_unit_test(test_splitter),
		cmocka_unit_test(test_splitter_cut_and_errors),
		cmocka_unit_test(test_splitter_matches_whole_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
