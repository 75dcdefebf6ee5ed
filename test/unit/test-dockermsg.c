// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Docker API bodies as Engine 20.10 sends them (trimmed), and hostile variants.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vpnwall/dockermsg.h"
#include "vpnwall/policy.h"

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
	/* an id that is not hex never reaches a URL */
	assert_int_equal(vw_dockermsg_parse_event(badid, strlen(badid), &ev), 0);
	assert_int_equal(ev.kind, VW_EV_IGNORED);
	assert_int_equal(vw_dockermsg_parse_event("[1]", 3, &ev), -22);
	assert_int_equal(vw_dockermsg_parse_event("{\"Type\":", 8, &ev), -22);
}

static void test_inspect(void **state)
{
	const char *s =
		"{\"Id\":\"" ID "\",\"Name\":\"/web\",\"State\":{\"Running\":true},"
		"\"HostConfig\":{\"NetworkMode\":\"default\"},"
		"\"Config\":{\"Labels\":{\"vpn.outbound\":\"198.51.100.10,bad/x\",\"other\":\"1\"}},"
		"\"NetworkSettings\":{\"Networks\":{\"bridge\":{\"NetworkID\":\"" NID "\","
		"\"IPAddress\":\"198.18.1.2\",\"GlobalIPv6Address\":\"2001:db8:1::2\"},"
		"\"junk\":{\"NetworkID\":\"zz\",\"IPAddress\":\"1.2.3.4\"}}}}";
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
		cmocka_unit_test(test_event_container), cmocka_unit_test(test_event_network),
		cmocka_unit_test(test_inspect),		cmocka_unit_test(test_list_and_modes),
		cmocka_unit_test(test_networks),	cmocka_unit_test(test_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
