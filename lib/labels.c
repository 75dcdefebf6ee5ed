// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Label parsing. Every entry is parsed exactly: no silent masking of host bits, no partial
 * numbers, no guessing between a port and an IPv6 group. The error reasons are what a user
 * sees in logs and in `vpnwall check-labels`, so they say what to write instead.
 */
#include "vpnwall/labels.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpnwall/util.h"

/* Longest entry we try to parse: "[" IPv6 "/128]:65535-65535/tcp" fits easily. */
#define TOKEN_MAX (VW_DOMAIN_MAX + 32)

static int parse_ports(const char *s, struct vw_dst *d, const char **ret_reason)
{
	char buf[32], *proto, *dash;
	unsigned long lo, hi;

	if (vw_strscpy(buf, s, sizeof(buf)) < 0) {
		*ret_reason = "port part too long";
		return -EINVAL;
	}
	proto = strchr(buf, '/');
	if (proto)
		*proto++ = '\0';
	dash = strchr(buf, '-');
	if (dash)
		*dash++ = '\0';
	if (vw_parse_uint(buf, 1, 65535, &lo) < 0 ||
	    (dash && vw_parse_uint(dash, 1, 65535, &hi) < 0)) {
		*ret_reason = "port must be a number from 1 to 65535 (or a range lo-hi)";
		return -EINVAL;
	}
	if (!dash)
		hi = lo;
	if (hi < lo) {
		*ret_reason = "port range is reversed (write lo-hi)";
		return -EINVAL;
	}
	if (!proto)
		d->protos = VW_PROTO_TCP | VW_PROTO_UDP;
	else if (vw_streq_ci(proto, "tcp"))
		d->protos = VW_PROTO_TCP;
	else if (vw_streq_ci(proto, "udp"))
		d->protos = VW_PROTO_UDP;
	else {
		*ret_reason = "protocol must be tcp or udp";
		return -EINVAL;
	}
	d->port_lo = (uint16_t)lo;
	d->port_hi = (uint16_t)hi;
	return 0;
}

static bool host_bits_clear(const uint8_t *addr, unsigned bits, unsigned prefix)
{
	for (unsigned i = prefix; i < bits; i++)
		if (addr[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

/* @s is "addr" or "addr/len" with no port. */
static int parse_net(char *s, int family, struct vw_dst *d, const char **ret_reason)
{
	unsigned bits = family == AF_INET ? 32 : 128;
	unsigned long len = bits;
	char *slash;

	slash = strchr(s, '/');
	if (slash) {
		*slash++ = '\0';
		if (vw_parse_uint(slash, 0, bits, &len) < 0) {
			*ret_reason = family == AF_INET ? "prefix length must be 0 to 32"
							: "prefix length must be 0 to 128";
			return -EINVAL;
		}
	}
	if (inet_pton(family, s, d->addr) != 1) {
		*ret_reason = family == AF_INET ? "invalid IPv4 address" : "invalid IPv6 address";
		return -EINVAL;
	}
	if (!host_bits_clear(d->addr, bits, (unsigned)len)) {
		*ret_reason =
			"CIDR has host bits set (write the network address, e.g. 192.168.1.0/24)";
		return -EINVAL;
	}
	d->kind = VW_DST_NET;
	d->family = (uint8_t)family;
	d->prefix = (uint8_t)len;
	return 0;
}

static bool looks_numeric(const char *s)
{
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && *s != '.' && *s != '/')
			return false;
	return true;
}

/* Validate an RFC 1123 host name in place: lowercase it and drop one final dot. */
static int parse_domain(char *s, const char **ret_reason)
{
	size_t n = strlen(s), labels = 0;
	char *label, *p;

	if (n > 0 && s[n - 1] == '.')
		s[--n] = '\0';
	if (n == 0 || n > VW_DOMAIN_MAX) {
		*ret_reason = "domain name must be 1 to 253 characters";
		return -EINVAL;
	}
	for (label = s; label; label = p) {
		size_t len;
		bool digits = true;

		p = strchr(label, '.');
		len = p ? (size_t)(p - label) : strlen(label);
		if (p)
			p++;
		if (len == 0 || len > 63) {
			*ret_reason = "each part of a domain name must be 1 to 63 characters";
			return -EINVAL;
		}
		if (label[0] == '-' || label[len - 1] == '-') {
			*ret_reason = "a domain name part cannot start or end with '-'";
			return -EINVAL;
		}
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)label[i];

			if (!isalnum(c) && c != '-' && c != '_') {
				*ret_reason = "invalid character in domain name";
				return -EINVAL;
			}
			if (!isdigit(c))
				digits = false;
			label[i] = (char)tolower(c);
		}
		labels++;
		if (!p && digits) {
			*ret_reason = "top-level domain cannot be all digits";
			return -EINVAL;
		}
	}
	if (labels < 2) {
		*ret_reason =
			"not a fully qualified domain name (containers on the same network are always reachable)";
		return -EINVAL;
	}
	return 0;
}

int vw_dst_parse(const char *s, struct vw_dst *ret_dst, const char **ret_reason)
{
	char buf[TOKEN_MAX + 1], *host, *ports = NULL, *colon;
	struct vw_dst d = { 0 };
	int r;

	if (vw_strscpy(buf, s, sizeof(buf)) < 0) {
		*ret_reason = "entry too long";
		return -EINVAL;
	}
	host = buf;
	if (buf[0] == '[') {
		/* [v6] or [v6/len], optionally followed by :port */
		char *close = strchr(buf, ']');

		if (!close) {
			*ret_reason = "missing ']' after IPv6 address";
			return -EINVAL;
		}
		*close = '\0';
		host = buf + 1;
		if (close[1] == ':')
			ports = close + 2;
		else if (close[1] != '\0') {
			*ret_reason = "expected ':port' after ']'";
			return -EINVAL;
		}
		r = parse_net(host, AF_INET6, &d, ret_reason);
	} else if (strchr(buf, ':') != strrchr(buf, ':')) {
		/* Two or more colons: IPv6. A port is only unambiguous after a prefix length. */
		char *slash = strchr(buf, '/');

		if (slash) {
			colon = strchr(slash, ':');
			if (colon) {
				*colon = '\0';
				ports = colon + 1;
			}
		}
		r = parse_net(host, AF_INET6, &d, ret_reason);
		if (r < 0 && !slash)
			*ret_reason =
				"invalid IPv6 address (to give a port, write [2001:db8::1]:443)";
	} else {
		colon = strchr(buf, ':');
		if (colon) {
			*colon = '\0';
			ports = colon + 1;
		}
		if (*host == '\0') {
			*ret_reason = "missing destination before ':'";
			r = -EINVAL;
		} else if (looks_numeric(host)) {
			r = parse_net(host, AF_INET, &d, ret_reason);
		} else if (strchr(host, '/')) {
			*ret_reason = "a protocol needs a port (write name:443/tcp)";
			r = -EINVAL;
		} else if (host[0] == '*') {
			if (host[1] != '.') {
				*ret_reason = "a wildcard must be '*.' followed by a domain";
				return -EINVAL;
			}
			r = parse_domain(host + 2, ret_reason);
			d.kind = VW_DST_WILDCARD;
			host += 2;
		} else {
			r = parse_domain(host, ret_reason);
			d.kind = VW_DST_NAME;
		}
	}
	if (r < 0)
		return r;
	if (ports) {
		if (*ports == '\0') {
			*ret_reason = "empty port after ':'";
			return -EINVAL;
		}
		r = parse_ports(ports, &d, ret_reason);
		if (r < 0)
			return r;
	}
	if (d.kind != VW_DST_NET) {
		/* Last, so that no error path above has a name to free. */
		d.name = strdup(host);
		if (!d.name) {
			*ret_reason = "out of memory";
			return -ENOMEM;
		}
	}
	*ret_dst = d;
	return 0;
}

void vw_dst_done(struct vw_dst *d)
{
	free(d->name);
	d->name = NULL;
}

void vw_dsts_free(struct vw_dst *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		vw_dst_done(&v[i]);
	free(v);
}

void vw_dst_format(const struct vw_dst *d, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN + 8 + VW_DOMAIN_MAX], port[32] = "";
	unsigned full = d->family == AF_INET6 ? 128 : 32;
	bool bracket = false;

	switch (d->kind) {
	case VW_DST_NET: {
		char a[INET6_ADDRSTRLEN];

		(void)inet_ntop(d->family, d->addr, a, sizeof(a));
		if (d->prefix == full)
			snprintf(host, sizeof(host), "%s", a);
		else
			snprintf(host, sizeof(host), "%s/%u", a, d->prefix);
		bracket = d->family == AF_INET6 && d->protos;
		break;
	}
	case VW_DST_NAME:
		snprintf(host, sizeof(host), "%s", d->name);
		break;
	case VW_DST_WILDCARD:
		snprintf(host, sizeof(host), "*.%s", d->name);
		break;
	}
	if (d->protos) {
		const char *proto = d->protos == VW_PROTO_TCP	? "/tcp"
				    : d->protos == VW_PROTO_UDP ? "/udp"
								: "";

		if (d->port_lo == d->port_hi)
			snprintf(port, sizeof(port), ":%u%s", d->port_lo, proto);
		else
			snprintf(port, sizeof(port), ":%u-%u%s", d->port_lo, d->port_hi, proto);
	}
	snprintf(buf, size, "%s%s%s%s", bracket ? "[" : "", host, bracket ? "]" : "", port);
}

bool vw_wildcard_matches(const char *suffix, const char *name)
{
	size_t ns = strlen(name), ss = strlen(suffix);

	/* At least one full label before the suffix: "x." + suffix. */
	return ns >= ss + 2 && name[ns - ss - 1] == '.' && strcmp(name + ns - ss, suffix) == 0;
}

static int add_error(struct vw_labels *l, const char *label, const char *token, size_t len,
		     const char *reason)
{
	struct vw_label_error *e;

	/* Whoever sets labels must not be able to grow our memory or our logs without bound. */
	if (l->n_errors >= VW_LABEL_ERRORS_MAX) {
		l->n_errors_dropped++;
		return 0;
	}
	e = reallocarray(l->errors, l->n_errors + 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	l->errors = e;
	e = &l->errors[l->n_errors++];
	if (strlen(label) >= sizeof(e->label))
		snprintf(e->label, sizeof(e->label), "%.*s...", (int)sizeof(e->label) - 4, label);
	else
		snprintf(e->label, sizeof(e->label), "%s", label);
	if (len >= sizeof(e->token))
		snprintf(e->token, sizeof(e->token), "%.*s...", (int)sizeof(e->token) - 4, token);
	else
		snprintf(e->token, sizeof(e->token), "%.*s", (int)len, token);
	/* Both end up in logs and terminals: no forged log lines, no escape sequences. */
	vw_sanitize(e->label);
	vw_sanitize(e->token);
	e->reason = reason;
	return 0;
}

static int add_dst(struct vw_dst **v, size_t *n, const struct vw_dst *d)
{
	struct vw_dst *p;

	p = reallocarray(*v, *n + 1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	*v = p;
	p[(*n)++] = *d;
	return 0;
}

static int add_list(struct vw_labels *l, const char *key, const char *value, bool nets_only,
		    struct vw_dst **v, size_t *n)
{
	const char *p = value, *start;
	size_t len;

	while (vw_next_item(&p, &start, &len)) {
		char tok[TOKEN_MAX + 1];
		const char *reason;
		struct vw_dst d;
		int r;

		if (len > TOKEN_MAX) {
			r = add_error(l, key, start, len, "entry too long");
		} else if (l->n_outbound + l->n_allow >= VW_LABEL_ENTRIES_MAX) {
			r = add_error(l, key, start, len,
				      "too many entries (at most 256 per container)");
		} else {
			memcpy(tok, start, len);
			tok[len] = '\0';
			r = vw_dst_parse(tok, &d, &reason);
			if (r == -EINVAL) {
				r = add_error(l, key, start, len, reason);
			} else if (r == 0 && nets_only && d.kind != VW_DST_NET) {
				vw_dst_done(&d);
				r = add_error(l, key, start, len,
					      "vpn.allow takes addresses and CIDRs, not names");
			} else if (r == 0) {
				r = add_dst(v, n, &d);
				if (r < 0)
					vw_dst_done(&d);
			}
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Exactly "true" or "false": these labels switch enforcement off, so "0", "no" or "False"
 * must not do it by accident (or by someone's creative spelling).
 */
static int parse_bool(struct vw_labels *l, const char *key, const char *value, bool *ret)
{
	if (strcmp(value, "true") == 0)
		*ret = true;
	else if (strcmp(value, "false") == 0)
		*ret = false;
	else
		return add_error(l, key, value, strlen(value), "must be true or false (lowercase)");
	return 0;
}

int vw_labels_add(struct vw_labels *l, const char *key, const char *value)
{
	size_t vlen = strlen(value);

	if (strncmp(key, "vpn.", 4) != 0 && strcmp(key, VW_LABEL_OUTBOUND_DOCKERWALL) != 0)
		return 0;
	if (vlen > VW_LABEL_VALUE_MAX)
		return add_error(l, key, value, vlen, "label value longer than 1024 bytes");

	if (strcmp(key, VW_LABEL_OUTBOUND) == 0 || strcmp(key, VW_LABEL_OUTBOUND_DOCKERWALL) == 0)
		return add_list(l, key, value, false, &l->outbound, &l->n_outbound);
	if (strcmp(key, VW_LABEL_ALLOW) == 0)
		return add_list(l, key, value, true, &l->allow, &l->n_allow);
	if (strcmp(key, VW_LABEL_ENABLE) == 0) {
		bool on = true;
		int r;

		/* An unparsable opt-out keeps the container managed: fail closed. */
		r = parse_bool(l, key, value, &on);
		l->disabled = !on;
		return r;
	}
	if (strcmp(key, VW_LABEL_DRYRUN) == 0)
		return parse_bool(l, key, value, &l->dry_run);
	if (strcmp(key, VW_LABEL_TUNNEL) == 0) {
		bool on = true;
		int r;

		/* Leaving the tunnel is an exception: only an exact "false" asks for it. */
		r = parse_bool(l, key, value, &on);
		l->no_tunnel = !on;
		return r;
	}
	return add_error(l, key, key, strlen(key), "unknown vpnwall label");
}

void vw_labels_done(struct vw_labels *l)
{
	vw_dsts_free(l->outbound, l->n_outbound);
	vw_dsts_free(l->allow, l->n_allow);
	free(l->errors);
	*l = (struct vw_labels){ 0 };
}
