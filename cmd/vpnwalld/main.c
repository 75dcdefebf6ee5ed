// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vpnwalld: settings from the environment and flags, then the daemon. Exit codes: 0 on a
 * requested stop, 1 on a runtime failure, 2 on invalid settings.
 *
 * vpnwalld --apply-base: only make sure a ruleset is in force (the table of this boot, or
 * the base computed from the settings) and exit: for a unit ordered before dockerd.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnwall/config.h"
#include "vpnwall/daemon.h"
#include "vpnwall/log.h"

#define VW_LOG_MODULE "main"

extern char **environ;

int main(int argc, char **argv)
{
	struct vw_config cfg;
	struct vw_daemon *d = NULL;
	char err[512] = "";
	bool base_only = false;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--apply-base") == 0) {
			/* Not a setting: take it out before the settings are parsed. */
			base_only = true;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
			argc--;
			i--;
			continue;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(vw_config_usage(), stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			puts("vpnwalld " VW_VERSION);
			return 0;
		}
	}
	r = vw_config_parse(&cfg, environ, argc, argv, err, sizeof(err));
	if (r < 0 && base_only) {
		/*
		 * The base must go in all the same: a typo in the settings must not leave the
		 * host without rules when dockerd starts. Defaults (every bridge policed, nothing
		 * ignored) are the strictest base there is; only the table name is kept, if valid.
		 */
		char *const *none = (char *const[]){ NULL };
		const char *table = getenv("NFT_TABLE");
		char *only[2] = { NULL, NULL };
		char buf[128];

		fprintf(stderr, "vpnwalld: %s; applying the strictest base ruleset anyway\n", err);
		vw_config_done(&cfg);
		if (table && snprintf(buf, sizeof(buf), "NFT_TABLE=%s", table) < (int)sizeof(buf))
			only[0] = buf;
		if (vw_config_parse(&cfg, only, 1, none, err, sizeof(err)) < 0) {
			vw_config_done(&cfg);
			r = vw_config_parse(&cfg, none, 1, none, err, sizeof(err));
		} else {
			r = 0;
		}
	}
	if (r < 0) {
		fprintf(stderr, "vpnwalld: %s\n", err);
		vw_config_done(&cfg);
		return 2;
	}
	vw_log_set_level(cfg.log_level);

	r = vw_daemon_new(&cfg, &d);
	if (r < 0) {
		log_error_errno(r, "cannot start");
		vw_config_done(&cfg);
		return 1;
	}
	r = base_only ? vw_daemon_apply_base(d) : vw_daemon_run(d);
	vw_daemon_free(d);
	vw_config_done(&cfg);
	return r < 0 ? 1 : 0;
}
