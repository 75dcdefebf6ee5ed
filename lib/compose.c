// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A line-oriented reader for the labels of docker-compose services. It tracks only the
 * three indentation levels that matter (services, a service, its labels) and skips every
 * other key with whatever it contains.
 */
#include "vpnwall/compose.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/util.h"

#define LINE_MAX_LEN 4096
#define SCALAR_MAX 2048

struct reader {
	vw_compose_fn fn;
	void *ud;
	char *err;
	size_t errsize;
	unsigned line;
};

static int fail(struct reader *rd, const char *msg)
{
	snprintf(rd->err, rd->errsize, "line %u: %s", rd->line, msg);
	return -EINVAL;
}

/*
 * Parse one scalar at *p (quoted or plain, ending at @stop characters outside quotes or at
 * the end of the line) into @out. Advances *p past it.
 */
static int scalar(struct reader *rd, const char **p, const char *stop, char *out)
{
	const char *s = *p;
	size_t n = 0;

	while (*s == ' ')
		s++;
	if (*s == '"' || *s == '\'') {
		char q = *s++;

		for (;; s++) {
			if (!*s)
				return fail(
					rd,
					"unterminated quoted string (multi-line strings are not supported)");
			if (n >= SCALAR_MAX - 1)
				return fail(rd, "string too long");
			if (q == '\'' && *s == '\'') {
				if (s[1] != '\'')
					break;
				s++;
			} else if (q == '"' && *s == '"') {
				break;
			} else if (q == '"' && *s == '\\') {
				s++;
				switch (*s) {
				case 'n':
					out[n++] = '\n';
					continue;
				case 't':
					out[n++] = '\t';
					continue;
				case '"':
				case '\\':
				case '/':
					break;
				default:
					return fail(rd,
						    "unsupported escape in a double-quoted string");
				}
			}
			out[n++] = *s;
		}
		s++;
		while (*s == ' ')
			s++;
		if (*s && !strchr(stop, *s))
			return fail(rd, "unexpected text after a quoted string");
	} else {
		if (*s == '&' || *s == '*' || *s == '|' || *s == '>' || *s == '!')
			return fail(
				rd,
				"anchors, aliases, tags and block scalars are not supported in labels");
		while (*s && !strchr(stop, *s)) {
			if (n >= SCALAR_MAX - 1)
				return fail(rd, "string too long");
			out[n++] = *s++;
		}
		while (n > 0 && out[n - 1] == ' ')
			n--;
	}
	out[n] = '\0';
	*p = s;
	return 0;
}

/* "key=value" list item, or key and value of a mapping entry. */
static int emit(struct reader *rd, const char *service, const char *key, const char *value)
{
	return rd->fn(rd->ud, service, key, value);
}

static int list_item(struct reader *rd, const char *service, const char *item)
{
	char key[SCALAR_MAX];
	const char *eq = strchr(item, '=');
	size_t n = eq ? (size_t)(eq - item) : strlen(item);

	if (n >= sizeof(key))
		return fail(rd, "label key too long");
	memcpy(key, item, n);
	key[n] = '\0';
	return emit(rd, service, key, eq ? eq + 1 : "");
}

/* The key of a "key: ..." line into @key; *p is left after the ':'. */
static int key_of(struct reader *rd, const char **p, char *key)
{
	int r;

	r = scalar(rd, p, ":", key);
	if (r < 0)
		return r;
	if (**p != ':')
		return fail(rd, "expected 'key: value'");
	(*p)++;
	if (**p && **p != ' ')
		return fail(rd, "expected a space after ':'");
	while (**p == ' ')
		(*p)++;
	return 0;
}

/* key: value on one line; @key and @value receive the scalars ("" when absent). */
static int mapping_entry(struct reader *rd, const char *p, char *key, char *value)
{
	int r;

	r = key_of(rd, &p, key);
	if (r < 0)
		return r;
	return scalar(rd, &p, "", value);
}

static int flow(struct reader *rd, const char *service, const char *p)
{
	char open = *p++, close = open == '[' ? ']' : '}';
	char a[SCALAR_MAX], b[SCALAR_MAX];
	int r;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == close)
			break;
		if (!*p)
			return fail(
				rd,
				"unterminated flow collection (multi-line flow style is not supported)");
		r = scalar(rd, &p, open == '[' ? ",]" : ":,}", a);
		if (r < 0)
			return r;
		if (open == '[') {
			r = list_item(rd, service, a);
		} else {
			if (*p != ':')
				return fail(rd, "expected 'key: value' in a flow mapping");
			p++;
			r = scalar(rd, &p, ",}", b);
			if (r == 0)
				r = emit(rd, service, a, b);
		}
		if (r < 0)
			return r;
		if (*p == ',')
			p++;
	}
	p++;
	while (*p == ' ')
		p++;
	return *p ? fail(rd, "unexpected text after a flow collection") : 0;
}

/*
 * Strip a comment: a '#' at the start or after a blank, outside quotes. A quote only opens
 * a quoted scalar where a scalar can start (an apostrophe inside O'Brien is a letter).
 */
static void strip_comment(char *s)
{
	char q = 0;

	for (char *p = s; *p; p++) {
		if (q == '"' && *p == '\\' && p[1]) {
			p++;
		} else if (q == '\'' && *p == '\'' && p[1] == '\'') {
			p++;
		} else if (q) {
			if (*p == q)
				q = 0;
		} else if ((*p == '"' || *p == '\'') && (p == s || strchr(" \t[{,:-", p[-1]))) {
			q = *p;
		} else if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
	for (size_t n = strlen(s); n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r'); n--)
		s[n - 1] = '\0';
}

int vw_compose_labels(const char *text, size_t len, vw_compose_fn fn, void *ud, char *err,
		      size_t errsize)
{
	struct reader rd = { .fn = fn, .ud = ud, .err = err, .errsize = errsize };
	int services = -1, service = -1, child = -1, labels = -1;
	char line[LINE_MAX_LEN], name[SCALAR_MAX] = "";
	char key[SCALAR_MAX], value[SCALAR_MAX];
	size_t pos = 0;
	int r;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		const char *p;
		int indent = 0;

		rd.line++;
		if (n >= sizeof(line))
			return fail(&rd, "line too long");
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl ? 1 : 0);
		if (memchr(line, '\0', n))
			return fail(&rd, "NUL byte in the file");
		strip_comment(line);
		while (line[indent] == ' ')
			indent++;
		if (line[indent] == '\t')
			return fail(&rd, "tab in indentation (YAML allows spaces only)");
		if (!line[indent] || strcmp(line, "---") == 0)
			continue;
		if (strcmp(line, "...") == 0)
			break;
		p = line + indent;

		/* Leaving blocks: a line at or left of a block's own key closes it. */
		if (labels >= 0 && (indent < labels || (indent == labels && p[0] != '-')))
			labels = -1;
		if (child >= 0 && indent < child)
			child = -1;
		if (service >= 0 && indent < service)
			service = -1;
		if (services >= 0 && indent <= services)
			services = -1;

		if (labels >= 0) {
			if (p[0] == '-' && (p[1] == ' ' || !p[1])) {
				p++;
				r = scalar(&rd, &p, "", value);
				if (r == 0)
					r = list_item(&rd, name, value);
			} else {
				r = mapping_entry(&rd, p, key, value);
				if (r == 0)
					r = emit(&rd, name, key, value);
			}
			if (r < 0)
				return r;
			continue;
		}
		if (services < 0) {
			if (indent == 0 && strncmp(p, "services:", 9) == 0 &&
			    !p[9 + strspn(p + 9, " ")])
				services = 0;
			continue;
		}
		if (service < 0 || indent == service) {
			/* A service name; what follows it (an anchor, a flow mapping) is not ours.
			 */
			r = key_of(&rd, &p, name);
			if (r < 0)
				return r;
			service = indent;
			child = -1;
			continue;
		}
		if (child < 0)
			child = indent;
		if (indent != child || p[0] == '-')
			continue; /* inside some other key of the service */
		/* Other keys may hold YAML we do not read; only labels must parse. */
		if (key_of(&rd, &p, key) < 0 || strcmp(key, "labels") != 0)
			continue;
		if (!*p) {
			labels = indent;
		} else if (*p == '[' || *p == '{') {
			r = flow(&rd, name, p);
			if (r < 0)
				return r;
		} else if (strchr("|>&*!", *p)) {
			return fail(
				&rd,
				"anchors, aliases, tags and block scalars are not supported in labels");
		} else {
			return fail(&rd, "'labels' must be a list or a mapping");
		}
	}
	return 0;
}
