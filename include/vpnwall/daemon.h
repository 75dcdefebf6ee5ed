/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon: owns every other module and the single event loop. Callbacks only record
 * facts (a container changed, a name resolved) and mark the state dirty; one reconcile step
 * then compiles the desired ruleset, diffs it against what was applied and commits the
 * difference as one atomic nft batch.
 */
#ifndef VW_DAEMON_H
#define VW_DAEMON_H

struct vw_config;
struct vw_daemon;

/* vw_daemon_new - set up every module. Blocks SIGTERM/SIGINT/SIGHUP for the signalfd. */
int vw_daemon_new(const struct vw_config *cfg, struct vw_daemon **ret_daemon);

/* vw_daemon_free - tear down; the nft table stays in place (fail closed). Accepts NULL. */
void vw_daemon_free(struct vw_daemon *d);

/*
 * vw_daemon_apply_base - what the daemon does first, alone: keep a table written during
 * this boot, replace anything else by the base ruleset (computed from the settings, no
 * Docker needed). For `vpnwalld --apply-base`, run before dockerd. Returns 0 or -errno.
 */
int vw_daemon_apply_base(struct vw_daemon *d);

/* vw_daemon_run - run until SIGTERM/SIGINT. Returns 0 or -errno. */
int vw_daemon_run(struct vw_daemon *d);

#endif
