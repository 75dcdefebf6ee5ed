// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vpnwall: the command-line tool.
 *   status, explain     ask the running daemon (control API on a unix socket)
 *   check-labels        offline lint of labels, for users' CI (exit 1 on errors)
 *   flush               remove the table, talking to the kernel directly
 * Human output by default, --json for scripts; errors go to stderr with a non-zero exit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/api.h"
#include "vpnwall/client.h"
#include "vpnwall/compose.h"
#include "vpnwall/labels.h"
#include "vpnwall/nft.h"
#include "vpnwall/util.h"

#define COMPOSE_MAX (4 * 1024 * 1024)

struct opts {
	const char *api;
	const char *table;
	bool json;
};

static int usage(FILE *f)
{
	fputs("usage: vpnwall [--json] [--api SOCKET] [--table NAME] COMMAND [ARGS]\n"
	      "\n"
	      "  status                          daemon, Docker and ruleset state\n"
	      "  explain CONTAINER [DEST]        what CONTAINER may reach; with DEST (address or\n"
	      "                                  name, optionally :port[/tcp|udp]) whether it may\n"
	      "                                  reach it and by which label entry\n"
	      "  check-labels LABEL=VALUE...     check labels offline; exit 1 on errors\n"
	      "  check-labels --compose FILE     check the labels of every service in a compose file\n"
	      "  flush                           remove the nftables table: containers are no\n"
	      "                                  longer restricted (stop vpnwalld first, or it\n"
	      "                                  puts the table back)\n"
	      "\n"
	      "  --api SOCKET   control API (default $VPNWALL_API or /run/vpnwall/api.sock)\n"
	      "  --table NAME   nftables table for flush (default $NFT_TABLE or vpnwall)\n"
	      "  --json         machine-readable output\n",
	      f);
	return f == stdout ? 0 : 2;
}

/* GET from the daemon and print the body; the exit code follows the HTTP status. */
static int api_get(const struct opts *o, const char *path)
{
	char url[2048];
	char *body = NULL;
	long status = 0;
	int r;

	snprintf(url, sizeof(url), "%s%sformat=%s", path, strchr(path, '?') ? "&" : "?",
		 o->json ? "json" : "text");
	r = vw_client_get(o->api, url, &status, &body);
	if (r < 0) {
		fprintf(stderr,
			"vpnwall: cannot reach vpnwalld at %s: %s (is it running? see --api)\n",
			o->api, r == -ECONNREFUSED ? "connection refused" : strerror(-r));
		return 1;
	}
	if (status == 200)
		fputs(body, stdout);
	else
		fprintf(stderr, "vpnwall: %s", body);
	free(body);
	return status == 200 ? 0 : 1;
}

static int cmd_explain(const struct opts *o, int argc, char **argv)
{
	_cleanup_free_ char *c = NULL, *d = NULL;
	char path[1024];

	if (argc < 1 || argc > 2)
		return usage(stderr);
	c = vw_client_escape(argv[0]);
	d = argc > 1 ? vw_client_escape(argv[1]) : NULL;
	if (!c || (argc > 1 && !d))
		return 1;
	snprintf(path, sizeof(path), "/v1/explain?container=%s%s%s", c, d ? "&destination=" : "",
		 d ? d : "");
	return api_get(o, path);
}

struct checks {
	struct vw_label_check *v;
	size_t n;
};

static struct vw_label_check *check_for(struct checks *cs, const char *source)
{
	struct vw_label_check *p;

	for (size_t i = 0; i < cs->n; i++)
		if ((!source && !cs->v[i].source) ||
		    (source && cs->v[i].source && strcmp(source, cs->v[i].source) == 0))
			return &cs->v[i];
	p = reallocarray(cs->v, cs->n + 1, sizeof(*p));
	if (!p)
		return NULL;
	cs->v = p;
	p = &cs->v[cs->n++];
	*p = (struct vw_label_check){ .source = source ? strdup(source) : NULL };
	return p;
}

static int on_compose_label(void *ud, const char *service, const char *key, const char *value)
{
	struct vw_label_check *c = check_for(ud, service);

	if (!c)
		return -ENOMEM;
	return vw_labels_add(&c->labels, key, value);
}

static int read_file(const char *path, char **ret, size_t *ret_len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	struct vw_buf b = { 0 };
	char chunk[65536];
	size_t n;

	if (!f)
		return -errno;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.len + n > COMPOSE_MAX) {
			vw_buf_done(&b);
			if (f != stdin)
				fclose(f);
			return -E2BIG;
		}
		vw_buf_append(&b, chunk, n);
	}
	if (f != stdin)
		fclose(f);
	if (b.oom)
		return -ENOMEM;
	*ret = b.p ? b.p : strdup("");
	*ret_len = b.len;
	return 0;
}

static int cmd_check_labels(const struct opts *o, int argc, char **argv)
{
	struct checks cs = { 0 };
	size_t errors = 0;
	char *out;
	int r = 0;

	if (argc == 0)
		return usage(stderr);
	if (strcmp(argv[0], "--compose") == 0) {
		_cleanup_free_ char *text = NULL;
		char err[256];
		size_t len;

		if (argc != 2)
			return usage(stderr);
		r = read_file(argv[1], &text, &len);
		if (r < 0) {
			fprintf(stderr, "vpnwall: cannot read '%s': %s\n", argv[1], strerror(-r));
			return 1;
		}
		r = vw_compose_labels(text, len, on_compose_label, &cs, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "vpnwall: %s: %s\n", argv[1],
				r == -EINVAL ? err : strerror(-r));
			r = 1;
			goto out;
		}
	} else {
		for (int i = 0; i < argc; i++) {
			struct vw_label_check *c = check_for(&cs, NULL);
			char *eq = strchr(argv[i], '=');

			if (!eq) {
				fprintf(stderr, "vpnwall: '%s' is not LABEL=VALUE\n", argv[i]);
				r = 1;
				goto out;
			}
			*eq = '\0';
			if (!c || vw_labels_add(&c->labels, argv[i], eq + 1) < 0) {
				r = 1;
				goto out;
			}
			*eq = '=';
		}
	}
	out = vw_api_check_labels(cs.v, cs.n, o->json);
	if (out)
		fputs(out, stdout);
	free(out);
	for (size_t i = 0; i < cs.n; i++)
		errors += cs.v[i].labels.n_errors;
	r = errors > 0 || !out ? 1 : 0;
out:
	for (size_t i = 0; i < cs.n; i++) {
		free((char *)cs.v[i].source);
		vw_labels_done(&cs.v[i].labels);
	}
	free(cs.v);
	return r;
}

static int cmd_flush(const struct opts *o)
{
	struct vw_nft *n = NULL;
	int r;

	r = vw_nft_new(o->table, "", &n);
	if (r < 0) {
		fprintf(stderr, "vpnwall: cannot open netlink: %s\n", strerror(-r));
		return 1;
	}
	r = vw_nft_delete_table(n);
	vw_nft_free(n);
	if (r == -ENOENT) {
		printf("table inet %s does not exist, nothing to flush\n", o->table);
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "vpnwall: cannot delete table inet %s: %s\n", o->table,
			strerror(-r));
		return 1;
	}
	printf("table inet %s removed: containers are no longer restricted\n", o->table);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .api = getenv("VPNWALL_API"), .table = getenv("NFT_TABLE") };
	const char *cmd;
	int i = 1;

	if (!o.api || !*o.api)
		o.api = "/run/vpnwall/api.sock";
	if (!o.table || !*o.table)
		o.table = "vpnwall";
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return usage(stdout);
		if (strcmp(argv[i], "--json") == 0)
			o.json = true;
		else if (strcmp(argv[i], "--api") == 0 && i + 1 < argc)
			o.api = argv[++i];
		else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc)
			o.table = argv[++i];
		else
			return usage(stderr);
	}
	if (i >= argc)
		return usage(stderr);
	cmd = argv[i++];
	/* Allow --json after the command too: "vpnwall status --json". */
	if (i < argc && strcmp(argv[argc - 1], "--json") == 0) {
		o.json = true;
		argc--;
	}
	if (strcmp(cmd, "status") == 0 && i == argc)
		return api_get(&o, "/v1/status");
	if (strcmp(cmd, "explain") == 0)
		return cmd_explain(&o, argc - i, argv + i);
	if (strcmp(cmd, "check-labels") == 0)
		return cmd_check_labels(&o, argc - i, argv + i);
	if (strcmp(cmd, "flush") == 0 && i == argc)
		return cmd_flush(&o);
	fprintf(stderr, "vpnwall: unknown command or arguments: '%s'\n", cmd);
	return usage(stderr);
}
