/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Daemon settings from the environment and equivalent command-line flags (flags win).
 * Every setting NAME has the flag --name (lowercase, '_' -> '-'). Pure: the caller passes
 * the environment and argv; nothing is read or printed here.
 */
#ifndef VW_CONFIG_H
#define VW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnwall/log.h"

struct vw_dst;

#define VW_CONFIG_NETWORKS_MAX 256
#define VW_CONFIG_IGNORE_MAX 32

struct vw_config {
	char docker_socket[108]; /* unix socket path from DOCKER_HOST (sun_path size) */
	char **networks_include; /* GATEWAY_NETWORKS names; none = every bridge network */
	size_t n_include;
	char **networks_exclude; /* GATEWAY_NETWORKS !names */
	size_t n_exclude;
	char (*ignore_bridges)[16]; /* IGNORE_BRIDGES: host bridges never policed; "x+" = prefix */
	size_t n_ignore_bridges;
	struct vw_dst *default_outbound; /* DEFAULT_OUTBOUND, granted to every managed container */
	size_t n_default_outbound;
	char vpn_interface[16]; /* VPN_INTERFACE: the tunnel, "x+" = prefix; "" = no kill switch */
	struct vw_dst *vpn_allow; /* VPN_ALLOW: networks every managed container reaches by any
				     path (the LAN), tunnel or not */
	size_t n_vpn_allow;
	char vpn_allow_warning[200]; /* VPN_ALLOW is valid but suspiciously broad: log this */
	bool vpn_route; /* VPN_ROUTE: route managed bridges into the tunnel (policy routing) */
	uint32_t vpn_route_table; /* VPN_ROUTE_TABLE: our routing table (rules at VW_ROUTE_PREF..+2)
				   */
	bool dry_run; /* DRY_RUN: count what would be dropped, drop nothing */
	enum vw_log_level log_level; /* LOG_LEVEL */
	char nft_table[65]; /* NFT_TABLE: name of our table in the inet family */
	char dns_servers[512]; /* DNS_SERVERS: "ip[:port],..."; empty = /etc/resolv.conf */
	unsigned dns_ttl_min; /* DNS_TTL_MIN: seconds, floor for refreshing a name */
	unsigned dns_ttl_max; /* DNS_TTL_MAX: seconds, ceiling for refreshing a name */
	bool dns_proxy; /* DNS_PROXY: answer managed containers' DNS, learn what they may reach */
	uint16_t dns_proxy_port; /* DNS_PROXY_PORT: where it listens (UDP and TCP) */
	char dns_upstream[512]; /* DNS_UPSTREAM: the proxy's resolvers; "" = DNS_SERVERS */
	bool dns_refuse_nxdomain; /* DNS_PROXY_REFUSE=nxdomain: deny with NXDOMAIN, not REFUSED */
	unsigned dns_grace; /* DNS_PROXY_GRACE: seconds a learned address outlives its TTL */
	unsigned dns_rate; /* DNS_PROXY_RATE: UDP queries per second per container */
	unsigned dns_learned_max; /* DNS_PROXY_LEARNED_MAX: learned addresses in all */
	unsigned dns_min_ttl; /* DNS_MIN_TTL: the least TTL a learned address gets (DNS_TTL_MIN) */
	char metrics_host[46]; /* METRICS_ADDR address part; "" = no metrics endpoint */
	uint16_t metrics_port; /* METRICS_ADDR port */
	char api_socket[108]; /* API_SOCKET: control API unix socket; "" = none */
	uint16_t nflog_group; /* NFLOG_GROUP: drop audit group; 0 = no audit */
	unsigned audit_rate; /* AUDIT_RATE: audited packets per second per container */
};

/*
 * vw_config_parse - fill @c from @envp (NULL-terminated "NAME=value") and @argv.
 * Returns 0, or -EINVAL with a one-line message naming the setting and the bad value in
 * @err. @c must be released with vw_config_done() either way.
 */
int vw_config_parse(struct vw_config *c, char *const *envp, int argc, char *const *argv, char *err,
		    size_t errsize);

/* vw_config_done - free what @c holds. */
void vw_config_done(struct vw_config *c);

/* vw_config_usage - the --help text (static). */
const char *vw_config_usage(void);

/* vw_config_network_is_selected - whether GATEWAY_NETWORKS selects network @name. */
bool vw_config_network_is_selected(const struct vw_config *c, const char *name);

/* vw_config_bridge_ignored - the IGNORE_BRIDGES pattern matching bridge @name, or NULL. */
const char *vw_config_bridge_ignored(const struct vw_config *c, const char *name);

#endif
