// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Settings: defaults, environment, flags overriding the environment, and a clear error for
 * every kind of bad value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "vpnwall/config.h"
#include "vpnwall/labels.h"

/* String literals are const under -Wwrite-strings; the parser never writes through them. */
static int parse(struct vw_config *c, const char **env, int argc, const char **argv, char *err)
{
	return vw_config_parse(c, (char *const *)env, argc, (char *const *)argv, err, 256);
}

static void test_config_defaults(void **state)
{
	const char *env[] = { NULL };
	const char *argv[] = { "vpnwalld", NULL };
	struct vw_config c;
	char err[256];

	assert_int_equal(parse(&c, env, 1, argv, err), 0);
	assert_string_equal(c.docker_socket, "/var/run/docker.sock");
	assert_string_equal(c.nft_table, "vpnwall");
	assert_false(c.dry_run);
	assert_int_equal(c.log_level, VW_LOG_INFO);
	assert_int_equal(c.n_include, 0);
	assert_int_equal(c.n_default_outbound, 0);
	assert_true(vw_config_network_is_selected(&c, "anything"));
	assert_false(c.dns_proxy);
	assert_int_equal(c.dns_proxy_port, 1053);
	assert_int_equal(c.dns_grace, 30);
	assert_int_equal(c.dns_rate, 1000);
	assert_int_equal(c.dns_learned_max, 65536);
	assert_int_equal(c.dns_min_ttl, c.dns_ttl_min);
	assert_false(c.dns_refuse_nxdomain);
	vw_config_done(&c);
}

static void test_config_dns_proxy(void **state)
{
	const char *env[] = { "DNS_PROXY=true",
			      "DNS_PROXY_PORT=5300",
			      "DNS_UPSTREAM=198.51.100.53,[2001:db8::53]:53",
			      "DNS_PROXY_REFUSE=nxdomain",
			      "DNS_PROXY_GRACE=2",
			      "DNS_MIN_TTL=60",
			      "DNS_PROXY_RATE=50",
			      "DNS_PROXY_LEARNED_MAX=100",
			      NULL };
	const char *argv[] = { "vpnwalld", NULL };
	struct vw_config c;
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, env, 1, argv, err), 0);
	assert_true(c.dns_proxy);
	assert_int_equal(c.dns_proxy_port, 5300);
	assert_string_equal(c.dns_upstream, "198.51.100.53,[2001:db8::53]:53");
	assert_true(c.dns_refuse_nxdomain);
	assert_int_equal(c.dns_grace, 2);
	assert_int_equal(c.dns_min_ttl, 60);
	assert_int_equal(c.dns_rate, 50);
	assert_int_equal(c.dns_learned_max, 100);
	assert_int_equal(c.dns_ttl_min, 5); /* the resolver's floor is its own */
	vw_config_done(&c);
}

static void test_config_env_and_flags(void **state)
{
	const char *env[] = { "DOCKER_HOST=unix:///run/d.sock",
			      "GATEWAY_NETWORKS=web, !db ,app",
			      "DEFAULT_OUTBOUND=198.51.100.53:53,ntp.example.org",
			      "DRY_RUN=true",
			      "LOG_LEVEL=debug",
			      "NFT_TABLE=env",
			      "UNRELATED=x",
			      NULL };
	const char *argv[] = { "vpnwalld", "--nft-table", "flag", "--dry-run=false", NULL };
	struct vw_config c;
	char err[256];

	assert_int_equal(parse(&c, env, 4, argv, err), 0);
	assert_string_equal(c.docker_socket, "/run/d.sock");
	assert_string_equal(c.nft_table, "flag");
	assert_false(c.dry_run);
	assert_int_equal(c.log_level, VW_LOG_DEBUG);
	assert_int_equal(c.n_include, 2);
	assert_int_equal(c.n_exclude, 1);
	assert_true(vw_config_network_is_selected(&c, "web"));
	assert_false(vw_config_network_is_selected(&c, "db"));
	assert_false(vw_config_network_is_selected(&c, "other"));
	assert_int_equal(c.n_default_outbound, 2);
	assert_int_equal(c.default_outbound[0].port_lo, 53);
	vw_config_done(&c);
}

static void test_config_exclude_only(void **state)
{
	const char *env[] = { "GATEWAY_NETWORKS=!db", NULL };
	const char *argv[] = { "vpnwalld", "--dry-run", NULL };
	struct vw_config c;
	char err[256];

	assert_int_equal(parse(&c, env, 2, argv, err), 0);
	assert_true(c.dry_run);
	assert_true(vw_config_network_is_selected(&c, "web"));
	assert_false(vw_config_network_is_selected(&c, "db"));
	vw_config_done(&c);
}

static void test_config_ignore_bridges(void **state)
{
	const char *env[] = { "IGNORE_BRIDGES=virbr+,lxcbr0", NULL };
	const char *argv[] = { "vpnwalld", NULL };
	struct vw_config c;
	char err[256];

	assert_int_equal(parse(&c, env, 1, argv, err), 0);
	/* "+" ends a prefix, anything else is a whole name */
	assert_string_equal(vw_config_bridge_ignored(&c, "virbr0"), "virbr+");
	assert_string_equal(vw_config_bridge_ignored(&c, "virbr"), "virbr+");
	assert_string_equal(vw_config_bridge_ignored(&c, "lxcbr0"), "lxcbr0");
	assert_null(vw_config_bridge_ignored(&c, "lxcbr01"));
	assert_null(vw_config_bridge_ignored(&c, "virb"));
	assert_null(vw_config_bridge_ignored(&c, "br-1234"));
	vw_config_done(&c);
}

static void test_config_vpn(void **state)
{
	const char *env[] = { "VPN_INTERFACE=wg+", "VPN_ALLOW=192.168.1.0/24, fd00::/8", NULL };
	const char *argv[] = { "vpnwalld", NULL };
	const char *broad[] = { "VPN_ALLOW=10.1.0.0/16,8.0.0.0/7", NULL };
	struct vw_config c;
	char err[256];

	assert_int_equal(parse(&c, env, 1, argv, err), 0);
	assert_string_equal(c.vpn_interface, "wg+");
	assert_int_equal(c.n_vpn_allow, 2);
	assert_int_equal(c.vpn_allow[0].prefix, 24);
	assert_int_equal(c.vpn_allow[1].family, AF_INET6);
	assert_string_equal(c.vpn_allow_warning, "");
	assert_false(c.vpn_route);
	assert_int_equal(c.vpn_route_table, 7811);
	vw_config_done(&c);

	/* no interface by default: no kill switch */
	assert_int_equal(parse(&c, broad, 1, argv, err), 0);
	assert_string_equal(c.vpn_interface, "");
	/* a public range is allowed (a LAN may be numbered so), with a warning to log */
	assert_non_null(strstr(c.vpn_allow_warning, "'8.0.0.0/7' is not a private network"));
	vw_config_done(&c);
}

static void expect_error(const char *envvar, const char *needle)
{
	const char *env[] = { envvar, NULL };
	const char *argv[] = { "vpnwalld", NULL };
	struct vw_config c;
	char err[256] = "";

	assert_int_equal(parse(&c, env, 1, argv, err), -22);
	if (!strstr(err, needle))
		fail_msg("'%s': error '%s' lacks '%s'", envvar, err, needle);
	vw_config_done(&c);
}

static void test_config_errors(void **state)
{
	expect_error("DOCKER_HOST=tcp://1.2.3.4:2375", "only unix:// sockets");
	expect_error("DOCKER_HOST=relative.sock", "must be absolute");
	expect_error("GATEWAY_NETWORKS=ok,bad name", "'bad name' is not a Docker network name");
	expect_error("DEFAULT_OUTBOUND=198.51.100.7/24",
		     "DEFAULT_OUTBOUND: '198.51.100.7/24': CIDR has host bits set");
	expect_error("DRY_RUN=maybe", "DRY_RUN='maybe': must be true or false");
	expect_error("LOG_LEVEL=loud", "LOG_LEVEL='loud'");
	expect_error("NFT_TABLE=bad table", "NFT_TABLE='bad table'");
	expect_error("NFT_TABLE=", "NFT_TABLE=''");
	expect_error("DNS_SERVERS=resolver.example", "DNS_SERVERS='resolver.example'");
	expect_error("DNS_TTL_MIN=0", "DNS_TTL_MIN='0'");
	expect_error("DNS_PROXY=yes please", "DNS_PROXY='yes please'");
	/* the redirect would catch the proxy's own port */
	expect_error("DNS_PROXY_PORT=53", "DNS_PROXY_PORT='53'");
	expect_error("DNS_PROXY_PORT=70000", "DNS_PROXY_PORT='70000'");
	expect_error("DNS_UPSTREAM=dns.example", "DNS_UPSTREAM='dns.example'");
	expect_error("DNS_PROXY_REFUSE=drop", "DNS_PROXY_REFUSE='drop'");
	expect_error("DNS_PROXY_GRACE=0", "DNS_PROXY_GRACE='0'");
	expect_error("DNS_PROXY_RATE=0", "DNS_PROXY_RATE='0': must be queries per second from 1");
	expect_error("DNS_PROXY_RATE=1000001", "DNS_PROXY_RATE='1000001'");
	expect_error("DNS_PROXY_LEARNED_MAX=0",
		     "DNS_PROXY_LEARNED_MAX='0': must be a number of addresses from 1 to 1048576");
	expect_error("DNS_PROXY_LEARNED_MAX=1048577", "DNS_PROXY_LEARNED_MAX='1048577'");
	expect_error("DNS_PROXY_LEARNED_MAX=12k", "DNS_PROXY_LEARNED_MAX='12k'");
	expect_error("DNS_MIN_TTL=-1", "DNS_MIN_TTL='-1'");
	expect_error("DNS_MIN_TTL=700", "DNS_MIN_TTL=700 is larger than DNS_TTL_MAX=600");
	expect_error("DNS_TTL_MAX=1x", "DNS_TTL_MAX='1x'");
	expect_error("VPN_INTERFACE=wg 0", "VPN_INTERFACE='wg 0': not an interface name");
	expect_error("VPN_INTERFACE=averylonginterfacename", "VPN_INTERFACE=");
	/* a default route is not a LAN: it would switch the kill switch off */
	expect_error("VPN_ALLOW=0.0.0.0/0", "VPN_ALLOW: '0.0.0.0/0' is the whole internet");
	expect_error("VPN_ALLOW=::/0", "VPN_ALLOW: '::/0' is the whole internet");
	expect_error("VPN_ALLOW=lan.example.org", "VPN_ALLOW: 'lan.example.org': vpn.allow takes");
	expect_error("VPN_ALLOW=192.168.1.1/24", "host bits set");
	expect_error("VPN_ROUTE=true", "VPN_ROUTE=true needs VPN_INTERFACE");
	expect_error("VPN_ROUTE=maybe", "VPN_ROUTE='maybe'");
	expect_error("VPN_ROUTE_TABLE=254", "VPN_ROUTE_TABLE='254'");
}

static void test_config_flag_errors(void **state)
{
	const char *env[] = { NULL };
	const char *argv1[] = { "vpnwalld", "--bogus", NULL };
	const char *argv2[] = { "vpnwalld", "--log-level", NULL };
	const char *argv3[] = { "vpnwalld", "--dns-ttl-min=100", "--dns-ttl-max=10", NULL };
	struct vw_config c;
	char err[256];

	assert_int_equal(parse(&c, env, 2, argv1, err), -22);
	assert_non_null(strstr(err, "unknown option '--bogus'"));
	vw_config_done(&c);
	assert_int_equal(parse(&c, env, 2, argv2, err), -22);
	assert_non_null(strstr(err, "needs a value"));
	vw_config_done(&c);
	assert_int_equal(parse(&c, env, 3, argv3, err), -22);
	assert_non_null(strstr(err, "larger than DNS_TTL_MAX"));
	vw_config_done(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_dns_proxy),
		cmocka_unit_test(test_config_env_and_flags),
		cmocka_unit_test(test_config_exclude_only),
		cmocka_unit_test(test_config_ignore_bridges),
		cmocka_unit_test(test_config_vpn),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_flag_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
