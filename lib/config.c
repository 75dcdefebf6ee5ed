// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Settings. One table lists every setting once; the environment is applied first, then
 * flags, so a flag always overrides the environment. A bad value never falls back to a
 * default: the daemon refuses to start rather than enforce something the user did not ask.
 */
#include "vpnwall/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/labels.h"
#include "vpnwall/util.h"

typedef int (*setting_fn)(struct vw_config *c, const char *value, char *err, size_t errsize);

struct setting {
	const char *env;
	const char *flag;
	bool is_bool; /* the flag may be given without a value, meaning true */
	setting_fn set;
	const char *help;
};

static int set_docker_host(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	const char *path = v;

	if (strncmp(v, "unix://", 7) == 0)
		path = v + 7;
	else if (strstr(v, "://")) {
		snprintf(err, errsize, "DOCKER_HOST='%s': only unix:// sockets are supported", v);
		return -EINVAL;
	}
	if (path[0] != '/') {
		snprintf(err, errsize, "DOCKER_HOST='%s': the socket path must be absolute", v);
		return -EINVAL;
	}
	if (vw_strscpy(c->docker_socket, path, sizeof(c->docker_socket)) < 0) {
		snprintf(err, errsize, "DOCKER_HOST='%s': socket path longer than 107 bytes", v);
		return -EINVAL;
	}
	return 0;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int push_str(char ***v, size_t *n, const char *s, size_t len)
{
	char **p, *d;

	d = strndup(s, len);
	if (!d)
		return -ENOMEM;
	p = reallocarray(*v, *n + 1, sizeof(*p));
	if (!p) {
		free(d);
		return -ENOMEM;
	}
	*v = p;
	p[(*n)++] = d;
	return 0;
}

static bool valid_network_name(const char *s, size_t len)
{
	if (len == 0 || len > 255)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

static int set_networks(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	free_strv(c->networks_include, c->n_include);
	free_strv(c->networks_exclude, c->n_exclude);
	c->networks_include = c->networks_exclude = NULL;
	c->n_include = c->n_exclude = 0;

	const char *p = v, *start;
	size_t len;

	while (vw_next_item(&p, &start, &len)) {
		bool exclude = start[0] == '!';
		int r;

		if (exclude) {
			start++;
			len--;
		}
		if (!valid_network_name(start, len)) {
			snprintf(err, errsize,
				 "GATEWAY_NETWORKS='%s': '%.*s' is not a Docker network name", v,
				 (int)len, start);
			return -EINVAL;
		}
		if (c->n_include + c->n_exclude >= VW_CONFIG_NETWORKS_MAX) {
			snprintf(err, errsize, "GATEWAY_NETWORKS: more than %d networks",
				 VW_CONFIG_NETWORKS_MAX);
			return -EINVAL;
		}
		if (exclude)
			r = push_str(&c->networks_exclude, &c->n_exclude, start, len);
		else
			r = push_str(&c->networks_include, &c->n_include, start, len);
		if (r < 0) {
			snprintf(err, errsize, "out of memory");
			return r;
		}
	}
	return 0;
}

/* Interface names as the kernel allows them (at most 15 bytes), with nft's "+" for a prefix. */
static bool valid_ifname_pattern(const char *s, size_t len)
{
	if (len == 0 || len > 15 || (len == 1 && s[0] == '+'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]) &&
		    !(s[i] == '+' && i == len - 1))
			return false;
	return true;
}

static int set_ignore_bridges(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	const char *p = v, *start;
	size_t len;

	free(c->ignore_bridges);
	c->ignore_bridges = NULL;
	c->n_ignore_bridges = 0;
	while (vw_next_item(&p, &start, &len)) {
		void *q;

		if (!valid_ifname_pattern(start, len)) {
			snprintf(
				err, errsize,
				"IGNORE_BRIDGES='%s': '%.*s' is not an interface name (or a prefix ending in '+')",
				v, (int)len, start);
			return -EINVAL;
		}
		if (c->n_ignore_bridges >= VW_CONFIG_IGNORE_MAX) {
			snprintf(err, errsize, "IGNORE_BRIDGES: more than %d entries",
				 VW_CONFIG_IGNORE_MAX);
			return -EINVAL;
		}
		q = reallocarray(c->ignore_bridges, c->n_ignore_bridges + 1,
				 sizeof(*c->ignore_bridges));
		if (!q) {
			snprintf(err, errsize, "out of memory");
			return -ENOMEM;
		}
		c->ignore_bridges = q;
		memset(c->ignore_bridges[c->n_ignore_bridges], 0, sizeof(*c->ignore_bridges));
		memcpy(c->ignore_bridges[c->n_ignore_bridges++], start, len);
	}
	return 0;
}

static int set_default_outbound(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	struct vw_labels l = { 0 };
	int r;

	r = vw_labels_add(&l, VW_LABEL_OUTBOUND, v);
	if (r < 0) {
		snprintf(err, errsize, "out of memory");
		goto out;
	}
	if (l.n_errors > 0) {
		snprintf(err, errsize, "DEFAULT_OUTBOUND: '%s': %s", l.errors[0].token,
			 l.errors[0].reason);
		r = -EINVAL;
		goto out;
	}
	vw_dsts_free(c->default_outbound, c->n_default_outbound);
	c->default_outbound = TAKE_PTR(l.outbound);
	c->n_default_outbound = l.n_outbound;
	l.n_outbound = 0;
out:
	vw_labels_done(&l);
	return r;
}

static int set_dry_run(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	/* An empty DRY_RUN= (as compose files leave it) means the default. */
	if (!*v) {
		c->dry_run = false;
		return 0;
	}
	if (vw_parse_bool(v, &c->dry_run) < 0) {
		snprintf(err, errsize, "DRY_RUN='%s': must be true or false", v);
		return -EINVAL;
	}
	return 0;
}

static int set_vpn_route(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	if (!*v) {
		c->vpn_route = false;
		return 0;
	}
	if (vw_parse_bool(v, &c->vpn_route) < 0) {
		snprintf(err, errsize, "VPN_ROUTE='%s': must be true or false", v);
		return -EINVAL;
	}
	return 0;
}

static int set_vpn_route_table(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	unsigned long n;

	/* Not main (254), local (255), default (253) or unspec (0); below them is fine too. */
	if (vw_parse_uint(v, 1, 0x7fffffff, &n) < 0 || (n >= 253 && n <= 255)) {
		snprintf(err, errsize,
			 "VPN_ROUTE_TABLE='%s': must be a routing table number other than 253-255",
			 v);
		return -EINVAL;
	}
	c->vpn_route_table = (uint32_t)n;
	return 0;
}

static int set_log_level(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	if (vw_log_parse_level(v, &c->log_level) < 0) {
		snprintf(err, errsize, "LOG_LEVEL='%s': must be error, warn, info or debug", v);
		return -EINVAL;
	}
	return 0;
}

static int set_nft_table(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	size_t n = strlen(v);

	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '_' && v[i] != '-')
			n = 0;
	if (n == 0 || n >= sizeof(c->nft_table) || !isalpha((unsigned char)v[0])) {
		snprintf(
			err, errsize,
			"NFT_TABLE='%s': must be 1 to 64 letters, digits, '_' or '-', starting with a letter",
			v);
		return -EINVAL;
	}
	memcpy(c->nft_table, v, n + 1);
	return 0;
}

static int set_vpn_interface(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	size_t len = strlen(v);

	if (len == 0) {
		c->vpn_interface[0] = '\0';
		return 0;
	}
	if (!valid_ifname_pattern(v, len)) {
		snprintf(err, errsize,
			 "VPN_INTERFACE='%s': not an interface name (or a prefix ending in '+', "
			 "like wg+ or tun+)",
			 v);
		return -EINVAL;
	}
	memcpy(c->vpn_interface, v, len + 1);
	return 0;
}

/* Whether @d lies in a range that is no one's on the internet: private, CGN, link-local. */
static bool is_private(const struct vw_dst *d)
{
	static const struct {
		uint8_t family;
		uint8_t prefix;
		uint8_t addr[16];
	} lans[] = {
		{ AF_INET, 8, { 10 } },		  { AF_INET, 12, { 172, 16 } },
		{ AF_INET, 16, { 192, 168 } },	  { AF_INET, 10, { 100, 64 } },
		{ AF_INET, 16, { 169, 254 } },	  { AF_INET6, 7, { 0xfc } },
		{ AF_INET6, 10, { 0xfe, 0x80 } },
	};

	for (size_t i = 0; i < ELEMENTSOF(lans); i++) {
		unsigned bits = lans[i].prefix;

		if (lans[i].family != d->family || d->prefix < bits)
			continue;
		if (memcmp(d->addr, lans[i].addr, bits / 8) == 0 &&
		    (bits % 8 == 0 || ((d->addr[bits / 8] ^ lans[i].addr[bits / 8]) &
				       (uint8_t)(0xff << (8 - bits % 8))) == 0))
			return true;
	}
	return false;
}

/*
 * Networks reached outside the tunnel. A default route here would switch the kill switch
 * off for everything, which is never what "my LAN" means: refused. Anything wider than a
 * private range is allowed but worth a warning.
 */
static int set_vpn_allow(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	struct vw_labels l = { 0 };
	int r;

	c->vpn_allow_warning[0] = '\0';
	r = vw_labels_add(&l, VW_LABEL_ALLOW, v);
	if (r < 0) {
		snprintf(err, errsize, "out of memory");
		goto out;
	}
	if (l.n_errors > 0) {
		snprintf(err, errsize, "VPN_ALLOW: '%s': %s", l.errors[0].token,
			 l.errors[0].reason);
		r = -EINVAL;
		goto out;
	}
	for (size_t i = 0; i < l.n_allow; i++) {
		const struct vw_dst *d = &l.allow[i];
		char text[64];

		vw_dst_format(d, text, sizeof(text));
		if (d->prefix == 0) {
			snprintf(err, errsize,
				 "VPN_ALLOW: '%s' is the whole internet, not a LAN: it would "
				 "bypass the VPN for everything",
				 text);
			r = -EINVAL;
			goto out;
		}
		if (!is_private(d) && !c->vpn_allow_warning[0])
			snprintf(c->vpn_allow_warning, sizeof(c->vpn_allow_warning),
				 "VPN_ALLOW: '%s' is not a private network: everything in it is "
				 "reached outside the VPN",
				 text);
	}
	vw_dsts_free(c->vpn_allow, c->n_vpn_allow);
	c->vpn_allow = TAKE_PTR(l.allow);
	c->n_vpn_allow = l.n_allow;
	l.n_allow = 0;
out:
	vw_labels_done(&l);
	return r;
}

static int set_servers(const char *name, char *out, size_t size, const char *v, char *err,
		       size_t errsize)
{
	/* Only the shape is checked here; c-ares validates each address when it is applied. */
	for (const char *p = v; *p; p++)
		if (!isxdigit((unsigned char)*p) && !strchr(".:[],", *p)) {
			snprintf(err, errsize,
				 "%s='%s': expected addresses like 198.51.100.53,[2001:db8::53]:53",
				 name, v);
			return -EINVAL;
		}
	if (vw_strscpy(out, v, size) < 0) {
		snprintf(err, errsize, "%s: longer than %zu bytes", name, size - 1);
		return -EINVAL;
	}
	return 0;
}

static int set_dns_servers(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	return set_servers("DNS_SERVERS", c->dns_servers, sizeof(c->dns_servers), v, err, errsize);
}

static int set_dns_upstream(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	return set_servers("DNS_UPSTREAM", c->dns_upstream, sizeof(c->dns_upstream), v, err,
			   errsize);
}

static int set_dns_proxy(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	if (vw_parse_bool(v, &c->dns_proxy) < 0) {
		snprintf(err, errsize, "DNS_PROXY='%s': must be true or false", v);
		return -EINVAL;
	}
	return 0;
}

static int set_dns_proxy_port(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	unsigned long n;

	/* Not 53 itself: the redirect would then also catch what the host sends. */
	if (vw_parse_uint(v, 1, 65535, &n) < 0 || n == 53) {
		snprintf(err, errsize,
			 "DNS_PROXY_PORT='%s': must be a port from 1 to 65535, not 53", v);
		return -EINVAL;
	}
	c->dns_proxy_port = (uint16_t)n;
	return 0;
}

static int set_dns_refuse(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	if (strcmp(v, "refused") == 0 || strcmp(v, "nxdomain") == 0) {
		c->dns_refuse_nxdomain = v[0] == 'n';
		return 0;
	}
	snprintf(err, errsize, "DNS_PROXY_REFUSE='%s': must be refused or nxdomain", v);
	return -EINVAL;
}

static int set_seconds(const char *name, unsigned *out, const char *v, char *err, size_t errsize)
{
	unsigned long n;

	if (vw_parse_uint(v, 1, 86400, &n) < 0) {
		snprintf(err, errsize, "%s='%s': must be a number of seconds from 1 to 86400", name,
			 v);
		return -EINVAL;
	}
	*out = (unsigned)n;
	return 0;
}

static int set_dns_grace(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	return set_seconds("DNS_PROXY_GRACE", &c->dns_grace, v, err, errsize);
}

static int set_dns_min_ttl(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	return set_seconds("DNS_MIN_TTL", &c->dns_min_ttl, v, err, errsize);
}

static int set_ttl_min(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	return set_seconds("DNS_TTL_MIN", &c->dns_ttl_min, v, err, errsize);
}

static int set_ttl_max(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	return set_seconds("DNS_TTL_MAX", &c->dns_ttl_max, v, err, errsize);
}

static int set_metrics_addr(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	const char *orig = v, *colon;
	char host[64];
	unsigned long port;
	uint8_t buf[16];
	size_t n;

	if (!*v || vw_streq_ci(v, "off")) {
		c->metrics_host[0] = '\0';
		return 0;
	}
	colon = strrchr(v, ':');
	n = colon ? (size_t)(colon - v) : 0;
	if (n >= 2 && v[0] == '[' && v[n - 1] == ']') {
		v++;
		n -= 2;
	}
	if (!colon || n == 0 || n >= sizeof(host) || vw_parse_uint(colon + 1, 1, 65535, &port) < 0)
		goto bad;
	memcpy(host, v, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
		goto bad;
	(void)vw_strscpy(c->metrics_host, host, sizeof(c->metrics_host));
	c->metrics_port = (uint16_t)port;
	return 0;
bad:
	snprintf(
		err, errsize,
		"METRICS_ADDR='%s': expected ADDRESS:PORT (e.g. 127.0.0.1:50000, [::1]:50000) or off",
		orig);
	return -EINVAL;
}

static int set_api_socket(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	if (*v && (v[0] != '/' || vw_strscpy(c->api_socket, v, sizeof(c->api_socket)) < 0)) {
		snprintf(
			err, errsize,
			"API_SOCKET='%s': must be an absolute path shorter than 108 bytes, or empty",
			v);
		return -EINVAL;
	}
	if (!*v)
		c->api_socket[0] = '\0';
	return 0;
}

static int set_nflog_group(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	unsigned long n;

	if (vw_streq_ci(v, "off")) {
		c->nflog_group = 0;
		return 0;
	}
	if (vw_parse_uint(v, 0, 65535, &n) < 0) {
		snprintf(err, errsize,
			 "NFLOG_GROUP='%s': must be a group number from 1 to 65535, or off", v);
		return -EINVAL;
	}
	c->nflog_group = (uint16_t)n;
	return 0;
}

/* A per-container rate for the kernel's limit objects (their burst is twice that). */
static int set_rate(const char *name, const char *what, unsigned long max, unsigned *ret,
		    const char *v, char *err, size_t errsize)
{
	unsigned long n;

	if (vw_parse_uint(v, 1, max, &n) < 0) {
		snprintf(err, errsize, "%s='%s': must be %s per second from 1 to %lu", name, v,
			 what, max);
		return -EINVAL;
	}
	*ret = (unsigned)n;
	return 0;
}

static int set_audit_rate(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	return set_rate("AUDIT_RATE", "packets", 100000, &c->audit_rate, v, err, errsize);
}

static int set_dns_rate(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	return set_rate("DNS_PROXY_RATE", "queries", 1000000, &c->dns_rate, v, err, errsize);
}

/* About 350 bytes each (more for an address of many names): 1M is some 350 MiB. */
static int set_dns_learned_max(struct vw_config *c, const char *v, char *err, size_t errsize)
{
	unsigned long n;

	if (vw_parse_uint(v, 1, 1048576, &n) < 0) {
		snprintf(
			err, errsize,
			"DNS_PROXY_LEARNED_MAX='%s': must be a number of addresses from 1 to 1048576",
			v);
		return -EINVAL;
	}
	c->dns_learned_max = (unsigned)n;
	return 0;
}

static const struct setting settings[] = {
	{ "DOCKER_HOST", "--docker-host", false, set_docker_host,
	  "Docker API socket (default unix:///var/run/docker.sock)" },
	{ "GATEWAY_NETWORKS", "--gateway-networks", false, set_networks,
	  "networks to manage, '!name' excludes (default: every bridge network)" },
	{ "IGNORE_BRIDGES", "--ignore-bridges", false, set_ignore_bridges,
	  "host bridges that are not Docker's, never policed (e.g. br0,virbr+)" },
	{ "DEFAULT_OUTBOUND", "--default-outbound", false, set_default_outbound,
	  "destinations every managed container may reach (vpn.outbound syntax)" },
	{ "VPN_INTERFACE", "--vpn-interface", false, set_vpn_interface,
	  "kill switch: managed containers reach the internet only through it (wg0, tun+)" },
	{ "VPN_ALLOW", "--vpn-allow", false, set_vpn_allow,
	  "networks every managed container reaches outside the VPN (the LAN; CIDRs)" },
	{ "VPN_ROUTE", "--vpn-route", true, set_vpn_route,
	  "route managed bridges into VPN_INTERFACE (policy routing; the host stays off it)" },
	{ "VPN_ROUTE_TABLE", "--vpn-route-table", false, set_vpn_route_table,
	  "routing table of VPN_ROUTE (default 7811; its rules have priorities 7810-7812)" },
	{ "DRY_RUN", "--dry-run", true, set_dry_run, "count what would be dropped, drop nothing" },
	{ "LOG_LEVEL", "--log-level", false, set_log_level,
	  "error, warn, info (default) or debug" },
	{ "NFT_TABLE", "--nft-table", false, set_nft_table,
	  "our nftables table (default vpnwall)" },
	{ "DNS_SERVERS", "--dns-servers", false, set_dns_servers,
	  "resolvers for outbound names (default: /etc/resolv.conf)" },
	{ "DNS_TTL_MIN", "--dns-ttl-min", false, set_ttl_min,
	  "seconds; names are refreshed no more often (default 5)" },
	{ "DNS_TTL_MAX", "--dns-ttl-max", false, set_ttl_max,
	  "seconds; names are refreshed at least this often (default 600)" },
	{ "DNS_PROXY", "--dns-proxy", true, set_dns_proxy,
	  "answer managed containers' DNS (UDP and TCP 53): names match vpn.outbound, wildcards too" },
	{ "DNS_PROXY_PORT", "--dns-proxy-port", false, set_dns_proxy_port,
	  "UDP and TCP port the DNS proxy listens on (default 1053)" },
	{ "DNS_UPSTREAM", "--dns-upstream", false, set_dns_upstream,
	  "resolvers the DNS proxy asks (default: DNS_SERVERS; through VPN_INTERFACE when set)" },
	{ "DNS_PROXY_REFUSE", "--dns-proxy-refuse", false, set_dns_refuse,
	  "answer to a name a container may not reach: refused (default) or nxdomain" },
	{ "DNS_MIN_TTL", "--dns-min-ttl", false, set_dns_min_ttl,
	  "seconds; the least TTL an address the DNS proxy learns gets (default: DNS_TTL_MIN)" },
	{ "DNS_PROXY_GRACE", "--dns-proxy-grace", false, set_dns_grace,
	  "seconds a learned address outlives its TTL (default 30)" },
	{ "DNS_PROXY_RATE", "--dns-proxy-rate", false, set_dns_rate,
	  "UDP queries per second and container the proxy takes, twice that in a burst (default "
	  "1000)" },
	{ "DNS_PROXY_LEARNED_MAX", "--dns-proxy-learned-max", false, set_dns_learned_max,
	  "addresses the DNS proxy keeps learned, all containers together (default 65536; at "
	  "most 4096 each, an equal share once all are taken)" },
	{ "METRICS_ADDR", "--metrics-addr", false, set_metrics_addr,
	  "/metrics, /healthz, /readyz (default 127.0.0.1:50000; off)" },
	{ "API_SOCKET", "--api-socket", false, set_api_socket,
	  "control API socket, mode 0600 (default /run/vpnwall/api.sock)" },
	{ "NFLOG_GROUP", "--nflog-group", false, set_nflog_group,
	  "NFLOG group for the drop audit (default 7811; off)" },
	{ "AUDIT_RATE", "--audit-rate", false, set_audit_rate,
	  "audited drops per second and container (default 20)" },
};

static const char *env_value(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static int defaults(struct vw_config *c)
{
	*c = (struct vw_config){
		.log_level = VW_LOG_INFO,
		.dns_ttl_min = 5,
		.dns_ttl_max = 600,
		.dns_proxy_port = 1053,
		.dns_grace = 30,
		.dns_rate = 1000,
		.dns_learned_max = 65536,
		.metrics_port = 50000,
		.nflog_group = 7811,
		.audit_rate = 20,
		.vpn_route_table = 7811,
	};
	(void)vw_strscpy(c->metrics_host, "127.0.0.1", sizeof(c->metrics_host));
	(void)vw_strscpy(c->api_socket, "/run/vpnwall/api.sock", sizeof(c->api_socket));
	(void)vw_strscpy(c->docker_socket, "/var/run/docker.sock", sizeof(c->docker_socket));
	(void)vw_strscpy(c->nft_table, "vpnwall", sizeof(c->nft_table));
	return 0;
}

int vw_config_parse(struct vw_config *c, char *const *envp, int argc, char *const *argv, char *err,
		    size_t errsize)
{
	int r;

	(void)defaults(c);
	for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
		const char *v = env_value(envp, settings[i].env);

		if (v) {
			r = settings[i].set(c, v, err, errsize);
			if (r < 0)
				return r;
		}
	}

	for (int a = 1; a < argc; a++) {
		const struct setting *s = NULL;
		const char *arg = argv[a], *v = NULL, *eq = strchr(arg, '=');
		size_t n = eq ? (size_t)(eq - arg) : strlen(arg);

		for (size_t i = 0; i < ELEMENTSOF(settings); i++)
			if (strlen(settings[i].flag) == n && strncmp(arg, settings[i].flag, n) == 0)
				s = &settings[i];
		if (!s) {
			snprintf(err, errsize, "unknown option '%s' (see --help)", arg);
			return -EINVAL;
		}
		if (eq)
			v = eq + 1;
		else if (s->is_bool)
			v = "true";
		else if (a + 1 < argc)
			v = argv[++a];
		else {
			snprintf(err, errsize, "option '%s' needs a value", arg);
			return -EINVAL;
		}
		r = s->set(c, v, err, errsize);
		if (r < 0)
			return r;
	}

	if (c->vpn_route && !c->vpn_interface[0]) {
		snprintf(err, errsize,
			 "VPN_ROUTE=true needs VPN_INTERFACE: the tunnel to route into");
		return -EINVAL;
	}
	if (c->dns_ttl_min > c->dns_ttl_max) {
		snprintf(err, errsize, "DNS_TTL_MIN=%u is larger than DNS_TTL_MAX=%u",
			 c->dns_ttl_min, c->dns_ttl_max);
		return -EINVAL;
	}
	if (!c->dns_min_ttl)
		c->dns_min_ttl = c->dns_ttl_min;
	if (c->dns_min_ttl > c->dns_ttl_max) {
		snprintf(err, errsize, "DNS_MIN_TTL=%u is larger than DNS_TTL_MAX=%u",
			 c->dns_min_ttl, c->dns_ttl_max);
		return -EINVAL;
	}
	return 0;
}

void vw_config_done(struct vw_config *c)
{
	free_strv(c->networks_include, c->n_include);
	free_strv(c->networks_exclude, c->n_exclude);
	vw_dsts_free(c->default_outbound, c->n_default_outbound);
	vw_dsts_free(c->vpn_allow, c->n_vpn_allow);
	free(c->ignore_bridges);
	*c = (struct vw_config){ 0 };
}

const char *vw_config_usage(void)
{
	static char buf[4096];
	size_t off;

	off = (size_t)snprintf(buf, sizeof(buf),
			       "usage: vpnwalld [--apply-base] [--option value]...\n"
			       "Every option can also be set by its environment variable.\n"
			       "--apply-base: only put the base ruleset in force (unless this "
			       "boot's table is), then exit; run it before dockerd.\n\n");
	for (size_t i = 0; i < ELEMENTSOF(settings) && off < sizeof(buf); i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "  %-20s %-18s %s\n",
					settings[i].flag, settings[i].env, settings[i].help);
	return buf;
}

const char *vw_config_bridge_ignored(const struct vw_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_ignore_bridges; i++) {
		const char *p = c->ignore_bridges[i];
		size_t len = strlen(p);

		if (len > 0 && p[len - 1] == '+' ? strncmp(p, name, len - 1) == 0
						 : strcmp(p, name) == 0)
			return p;
	}
	return NULL;
}

bool vw_config_network_is_selected(const struct vw_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_exclude; i++)
		if (strcmp(c->networks_exclude[i], name) == 0)
			return false;
	if (c->n_include == 0)
		return true;
	for (size_t i = 0; i < c->n_include; i++)
		if (strcmp(c->networks_include[i], name) == 0)
			return true;
	return false;
}
