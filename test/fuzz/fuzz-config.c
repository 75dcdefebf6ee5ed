// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz settings parsing. The input is split on newlines into at most 16 entries, parsed as
 * the environment, as raw command-line arguments, and as the flag form of its well-formed
 * entries ("NAME=value" -> "--name=value"). Beyond not crashing, for any input:
 *   - parsing is deterministic: the same input gives the same result, field by field;
 *   - a success leaves every field within its documented range;
 *   - a failure is -EINVAL (or -ENOMEM) with a non-empty one-line message, NUL-terminated;
 *   - distinct settings mean the same in the environment and as flags;
 *   - flags override the environment, and only the settings they name.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnwall/config.h"
#include "vpnwall/labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENTRIES 16
#define ERR_SIZE 256

/* Fields a comparison leaves out because the flags of check_override() set them. */
#define SKIP_OVERRIDDEN 0x1

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static bool is_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static bool only_chars(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return false;
	return true;
}

static void check_dst(const struct vw_dst *d)
{
	check(d->kind == VW_DST_NET || d->kind == VW_DST_NAME || d->kind == VW_DST_WILDCARD);
	check((d->kind == VW_DST_NET) == (d->name == NULL));
	if (d->kind == VW_DST_NET)
		check((d->family == AF_INET && d->prefix <= 32) ||
		      (d->family == AF_INET6 && d->prefix <= 128));
	else
		check(d->name[0] != '\0' && strlen(d->name) <= VW_DOMAIN_MAX);
	if (d->protos)
		check(!(d->protos & ~(VW_PROTO_TCP | VW_PROTO_UDP)) && d->port_lo <= d->port_hi);
}

static void check_ranges(const struct vw_config *c)
{
	uint8_t addr[16];
	size_t n;

	check(is_terminated(c->docker_socket, sizeof(c->docker_socket)));
	check(c->docker_socket[0] == '/');

	check(c->n_include + c->n_exclude <= VW_CONFIG_NETWORKS_MAX);
	check(c->n_include == 0 || c->networks_include);
	check(c->n_exclude == 0 || c->networks_exclude);
	for (size_t i = 0; i < c->n_include + c->n_exclude; i++) {
		const char *s = i < c->n_include ? c->networks_include[i]
						 : c->networks_exclude[i - c->n_include];

		n = strlen(s);
		check(n >= 1 && n <= 255 && only_chars(s, "_.-"));
	}

	check(c->n_ignore_bridges <= VW_CONFIG_IGNORE_MAX);
	check(c->n_ignore_bridges == 0 || c->ignore_bridges);
	for (size_t i = 0; i < c->n_ignore_bridges; i++) {
		const char *s = c->ignore_bridges[i];

		check(is_terminated(s, sizeof(c->ignore_bridges[i])));
		n = strlen(s);
		check(n >= 1 && n <= 15 && strcmp(s, "+") != 0);
		check(only_chars(s, "_.-+") && (!strchr(s, '+') || strchr(s, '+') == s + n - 1));
	}

	check(c->n_default_outbound == 0 || c->default_outbound);
	for (size_t i = 0; i < c->n_default_outbound; i++)
		check_dst(&c->default_outbound[i]);

	check(c->log_level >= VW_LOG_ERROR && c->log_level <= VW_LOG_DEBUG);

	check(is_terminated(c->nft_table, sizeof(c->nft_table)));
	check(isalpha((unsigned char)c->nft_table[0]) && only_chars(c->nft_table, "_-"));

	check(is_terminated(c->dns_servers, sizeof(c->dns_servers)));
	for (const char *p = c->dns_servers; *p; p++)
		check(isxdigit((unsigned char)*p) || strchr(".:[],", *p));

	check(c->dns_ttl_min >= 1 && c->dns_ttl_min <= c->dns_ttl_max && c->dns_ttl_max <= 86400);

	check(is_terminated(c->metrics_host, sizeof(c->metrics_host)));
	if (c->metrics_host[0])
		check((inet_pton(AF_INET, c->metrics_host, addr) == 1 ||
		       inet_pton(AF_INET6, c->metrics_host, addr) == 1) &&
		      c->metrics_port != 0);

	check(is_terminated(c->api_socket, sizeof(c->api_socket)));
	check(c->api_socket[0] == '\0' || c->api_socket[0] == '/');

	check(c->audit_rate >= 1 && c->audit_rate <= 100000);

	check(is_terminated(c->vpn_interface, sizeof(c->vpn_interface)));
	check(only_chars(c->vpn_interface, "_-.+"));
	check(c->n_vpn_allow == 0 || c->vpn_allow);
	for (size_t i = 0; i < c->n_vpn_allow; i++) {
		/* addresses only, and never a default route: it would switch the VPN off */
		check(c->vpn_allow[i].kind == VW_DST_NET && c->vpn_allow[i].prefix > 0);
		check_dst(&c->vpn_allow[i]);
	}
	check(is_terminated(c->vpn_allow_warning, sizeof(c->vpn_allow_warning)));
	check(!c->vpn_route || c->vpn_interface[0]);
	check(c->vpn_route_table < 253 || c->vpn_route_table > 255);
}

static bool same_dst(const struct vw_dst *a, const struct vw_dst *b)
{
	return a->kind == b->kind && a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0 && a->protos == b->protos &&
	       a->port_lo == b->port_lo && a->port_hi == b->port_hi &&
	       (a->name == NULL) == (b->name == NULL) &&
	       (!a->name || strcmp(a->name, b->name) == 0);
}

static bool same_strv(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static void check_same(const struct vw_config *a, const struct vw_config *b, unsigned skip)
{
	check(strcmp(a->docker_socket, b->docker_socket) == 0);
	check(same_strv(a->networks_include, a->n_include, b->networks_include, b->n_include));
	check(same_strv(a->networks_exclude, a->n_exclude, b->networks_exclude, b->n_exclude));
	check(a->n_ignore_bridges == b->n_ignore_bridges);
	for (size_t i = 0; i < a->n_ignore_bridges; i++)
		check(strcmp(a->ignore_bridges[i], b->ignore_bridges[i]) == 0);
	check(a->n_default_outbound == b->n_default_outbound);
	for (size_t i = 0; i < a->n_default_outbound; i++)
		check(same_dst(&a->default_outbound[i], &b->default_outbound[i]));
	check(strcmp(a->dns_servers, b->dns_servers) == 0);
	check(a->dns_ttl_min == b->dns_ttl_min && a->dns_ttl_max == b->dns_ttl_max);
	check(a->nflog_group == b->nflog_group && a->audit_rate == b->audit_rate);
	check(strcmp(a->vpn_interface, b->vpn_interface) == 0 && a->n_vpn_allow == b->n_vpn_allow);
	for (size_t i = 0; i < a->n_vpn_allow; i++)
		check(same_dst(&a->vpn_allow[i], &b->vpn_allow[i]));
	check(a->vpn_route == b->vpn_route && a->vpn_route_table == b->vpn_route_table);
	if (skip & SKIP_OVERRIDDEN)
		return;
	check(a->dry_run == b->dry_run && a->log_level == b->log_level);
	check(strcmp(a->nft_table, b->nft_table) == 0);
	check(strcmp(a->api_socket, b->api_socket) == 0);
	/* Without an address there is no endpoint, and the port means nothing. */
	check(strcmp(a->metrics_host, b->metrics_host) == 0);
	check(!a->metrics_host[0] || a->metrics_port == b->metrics_port);
}

/* Parse; check the outcome in isolation; leave the result in @c (always to be freed). */
static int parse(struct vw_config *c, char *const *envp, int argc, char *const *argv,
		 char err[ERR_SIZE])
{
	int r;

	memset(err, 0xff, ERR_SIZE);
	r = vw_config_parse(c, envp, argc, argv, err, ERR_SIZE);
	if (r == 0) {
		check_ranges(c);
	} else {
		check(r == -EINVAL || r == -ENOMEM);
		check(is_terminated(err, ERR_SIZE) && err[0] != '\0' && !strchr(err, '\n'));
	}
	return r;
}

/* Parse twice: the same input must give the same result. Returns the first result in @c. */
static int parse_twice(struct vw_config *c, char *const *envp, int argc, char *const *argv)
{
	char err[ERR_SIZE], err2[ERR_SIZE];
	struct vw_config c2;
	int r, r2;

	r = parse(c, envp, argc, argv, err);
	r2 = parse(&c2, envp, argc, argv, err2);
	check(r == r2);
	if (r == 0)
		check_same(c, &c2, 0);
	else
		check(strcmp(err, err2) == 0);
	vw_config_done(&c2);
	return r;
}

/*
 * "NAME=value" -> "--name=value" into @buf, if NAME is a setting: upper case, and its flag
 * is listed in the usage text. Returns the length of NAME, or 0.
 */
static size_t to_flag(const char *entry, char *buf, size_t size)
{
	const char *eq = strchr(entry, '=');
	size_t n = eq ? (size_t)(eq - entry) : 0, len = strlen(entry);
	char pat[64];

	if (n == 0 || n + 6 > sizeof(pat) || len + 3 > size)
		return 0;
	buf[0] = buf[1] = '-';
	for (size_t i = 0; i < n; i++) {
		char ch = entry[i];

		if (!(isupper((unsigned char)ch) || isdigit((unsigned char)ch) || ch == '_'))
			return 0;
		buf[i + 2] = ch == '_' ? '-' : (char)tolower((unsigned char)ch);
	}
	memcpy(buf + n + 2, eq, len - n + 1);
	/* The usage text lists every flag as "  --name" followed by padding. */
	pat[0] = pat[1] = ' ';
	memcpy(pat + 2, buf, n + 2);
	pat[n + 4] = ' ';
	pat[n + 5] = '\0';
	return strstr(vw_config_usage(), pat) ? n : 0;
}

/* The well-formed settings among @entries, each once, in both forms. */
static void check_env_equals_flags(char **entries, int n)
{
	static char flags[MAX_ENTRIES][8192 + 3];
	char *env[MAX_ENTRIES + 1] = { 0 }, *argv[MAX_ENTRIES + 1] = { 0 };
	struct vw_config ce, cf;
	int k = 0, re, rf;

	argv[0] = (char *)"vpnwalld";
	for (int i = 0; i < n; i++) {
		size_t len = to_flag(entries[i], flags[k], sizeof(flags[k]));
		bool dup = false;

		for (int j = 0; len && j < k; j++)
			dup |= strncmp(env[j], entries[i], len + 1) == 0;
		if (!len || dup)
			continue;
		env[k] = entries[i];
		argv[k + 1] = flags[k];
		k++;
	}
	re = parse_twice(&ce, env, 0, NULL);
	rf = parse_twice(&cf, NULL, k + 1, argv);
	check(re == rf);
	if (re == 0)
		check_same(&ce, &cf, 0);
	vw_config_done(&ce);
	vw_config_done(&cf);
}

static void check_override(char *const *env, const struct vw_config *base)
{
	char *const argv[] = { (char *)"vpnwalld",	    (char *)"--nft-table=fuzzflag",
			       (char *)"--log-level",	    (char *)"debug",
			       (char *)"--dry-run",	    (char *)"--api-socket=",
			       (char *)"--metrics-addr=off" };
	struct vw_config c;

	check(parse_twice(&c, env, sizeof(argv) / sizeof(argv[0]), argv) == 0);
	check(strcmp(c.nft_table, "fuzzflag") == 0 && c.log_level == VW_LOG_DEBUG && c.dry_run);
	check(c.api_socket[0] == '\0' && c.metrics_host[0] == '\0');
	check_same(&c, base, SKIP_OVERRIDDEN);
	vw_config_done(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *env[MAX_ENTRIES + 1] = { 0 }, *argv[MAX_ENTRIES + 2] = { 0 };
	struct vw_config c;
	char *s, *p;
	int n = 0;

	if (size > 8192)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (p = s; p && n < MAX_ENTRIES; n++) {
		env[n] = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = '\0';
	}

	if (parse_twice(&c, env, 0, NULL) == 0)
		check_override(env, &c);
	vw_config_done(&c);

	argv[0] = (char *)"vpnwalld";
	for (int i = 0; i < n; i++)
		argv[i + 1] = env[i];
	(void)parse_twice(&c, NULL, n + 1, argv);
	vw_config_done(&c);

	check_env_equals_flags(env, n);
	free(s);
	return 0;
}
