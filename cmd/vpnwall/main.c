// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vpnwall: the command-line tool. `flush` talks to the kernel directly so it works whether
 * or not the daemon runs; the other commands talk to the daemon's API.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/log.h"
#include "vpnwall/nft.h"

#define VW_LOG_MODULE "vpnwall"

static int usage(FILE *f)
{
	fputs("usage: vpnwall [--table NAME] COMMAND\n"
	      "commands:\n"
	      "  flush    remove the vpnwall nftables table: managed containers are no longer\n"
	      "           restricted (stop vpnwalld first, or it puts the table back)\n",
	      f);
	return f == stdout ? 0 : 2;
}

static int cmd_flush(const char *table)
{
	struct vw_nft *n = NULL;
	int r;

	r = vw_nft_new(table, &n);
	if (r < 0) {
		fprintf(stderr, "vpnwall: cannot open netlink: %s\n", strerror(-r));
		return 1;
	}
	r = vw_nft_delete_table(n);
	vw_nft_free(n);
	if (r == -ENOENT) {
		printf("table inet %s does not exist, nothing to flush\n", table);
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "vpnwall: cannot delete table inet %s: %s\n", table, strerror(-r));
		return 1;
	}
	printf("table inet %s removed\n", table);
	return 0;
}

int main(int argc, char **argv)
{
	const char *table = getenv("NFT_TABLE");
	int i = 1;

	if (!table || !*table)
		table = "vpnwall";
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return usage(stdout);
		if (strcmp(argv[i], "--table") == 0 && i + 1 < argc)
			table = argv[++i];
		else
			return usage(stderr);
	}
	if (i >= argc)
		return usage(stderr);
	if (strcmp(argv[i], "flush") == 0)
		return cmd_flush(table);
	fprintf(stderr, "vpnwall: unknown command '%s'\n", argv[i]);
	return usage(stderr);
}
