// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rulebench: the daemon's own path from Docker's JSON to a committed nftables transaction,
 * without the daemon's loop, so each stage can be timed on its own. Runs as root inside a
 * private network namespace (the bench script makes one).
 *
 * The N synthetic containers (synth.h) are rendered as Engine API inspect bodies, parsed
 * with vw_dockermsg_parse_container(), put in a vw_store, compiled with vw_desired_rebuild()
 * and committed with vw_reconcile_step() over the real nft backend, exactly as vpnwalld's
 * reconcile() does after its first sync. Then:
 *   - scratch:  no table; the whole ruleset in one transaction (diff + render + commit);
 *   - replace:  the same over a table that already holds it (what a resync costs);
 *   - noop:     every container marked changed, recompiled, reconciled: the diff must be
 *               empty and nothing may reach the kernel (what N "update" events cost);
 *   - diff:     vw_ruleset_diff(applied, desired, NULL): ops must be 0.
 * The table is left in place for `nft list table` / `nft -f` comparisons. Like the daemon,
 * it watches nf_tables notifications (vw_nft_monitor(): the kernel then builds and queues a
 * notification for every object of a transaction) and reads them after each commit
 * (drain_ms); --monitor 0 leaves the watch out.
 *
 * Output: key=value lines on stdout (times in milliseconds).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "synth.h"

#include "vpnwall/config.h"
#include "vpnwall/desired.h"
#include "vpnwall/dockermsg.h"
#include "vpnwall/log.h"
#include "vpnwall/loop.h"
#include "vpnwall/names.h"
#include "vpnwall/nft.h"
#include "vpnwall/policy.h"
#include "vpnwall/reconcile.h"
#include "vpnwall/ruleset.h"
#include "vpnwall/store.h"
#include "vpnwall/util.h"

#define REPS_MAX 32

/* Read what the monitor queued, as the daemon's loop does after a commit. */
static double drain(struct vw_loop *loop)
{
	uint64_t t0 = vw_now_ns();

	while (loop && vw_loop_wait(loop, 0) > 0)
		;
	return (double)(vw_now_ns() - t0) / 1e6;
}

static void on_change(void *ud, const char *what)
{
	(*(unsigned *)ud)++;
}

struct timed_nft {
	struct vw_nft *nft;
	unsigned calls; /* transactions sent */
	size_t ops; /* operations in the last one */
	double last_ms; /* vw_nft_apply() of the last one */
};

static double ms_since(uint64_t t0)
{
	return (double)(vw_now_ns() - t0) / 1e6;
}

static int timed_apply(void *ud, const struct vw_plan *plan)
{
	struct timed_nft *t = ud;
	uint64_t t0 = vw_now_ns();
	int r;

	t->calls++;
	t->ops = plan->n;
	r = vw_nft_apply(t->nft, plan);
	t->last_ms = ms_since(t0);
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void fail(const char *what, int r)
{
	fprintf(stderr, "rulebench: %s: %s\n", what, strerror(-r));
	exit(1);
}

/* "vpnwall boot=<id>", as the daemon tags its table. */
static void make_tag(char *buf, size_t size)
{
	char id[64] = "";
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, id, sizeof(id) - 1) : -1;

	if (fd >= 0)
		(void)close(fd);
	id[n > 0 ? n : 0] = '\0';
	id[strcspn(id, "\n")] = '\0';
	snprintf(buf, size, "vpnwall boot=%s", id);
}

int main(int argc, char **argv)
{
	struct synth s = { .dests = 20, .extra_idx = -1 };
	const char *table = "vwbench";
	unsigned long n = 5000;
	unsigned reps = 5, monitor = 1, foreign = 0;
	struct vw_loop *loop = NULL;
	double drains[REPS_MAX];
	char tag[VW_NFT_TAG_MAX + 1], err[256], env_table[96];
	char *envp[] = { env_table, (char *)"NFLOG_GROUP=off", (char *)"METRICS_ADDR=off",
			 (char *)"API_SOCKET=", NULL };
	char *no_argv[] = { argv[0], NULL };
	double scratch[REPS_MAX], scratch_apply[REPS_MAX], replace[REPS_MAX];
	double noop[REPS_MAX], noop_compile[REPS_MAX], t_parse, t_compile, t_diff;
	struct timed_nft tn = { 0 };
	struct vw_config cfg;
	struct vw_store st;
	struct vw_names names;
	struct vw_desired want;
	struct vw_reconcile rc;
	struct vw_network *nets;
	struct vw_plan plan;
	struct sbuf body = { 0 };
	size_t n_nets, elements = 0;
	uint64_t t0;
	int r;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--table") == 0)
			table = argv[i + 1];
		else if (strcmp(argv[i], "-n") == 0)
			n = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--dests") == 0)
			s.dests = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--reps") == 0)
			reps = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--monitor") == 0)
			monitor = (unsigned)strtoul(argv[i + 1], NULL, 10);
	}
	if (reps < 1 || reps > REPS_MAX || n > SYNTH_MAX_CONTAINERS || s.dests > SYNTH_DESTS_MAX) {
		fputs("usage: rulebench [--table T] [-n N] [--dests D] [--reps R<=32] [--monitor 0|1]\n",
		      stderr);
		return 2;
	}
	vw_log_set_level(VW_LOG_WARN);
	snprintf(env_table, sizeof(env_table), "NFT_TABLE=%s", table);
	r = vw_config_parse(&cfg, envp, 1, no_argv, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "rulebench: %s\n", err);
		return 2;
	}
	make_tag(tag, sizeof(tag));
	vw_store_init(&st);
	vw_names_init(&names, cfg.dns_ttl_min, cfg.dns_ttl_max);
	if (vw_desired_init(&want, &cfg) < 0)
		fail("desired", -ENOMEM);

	/* Docker's JSON through the daemon's parser into its store. */
	t0 = vw_now_ns();
	synth_networks(&body);
	r = vw_dockermsg_parse_networks(body.p, body.len, &nets, &n_nets);
	if (r < 0)
		fail("parse networks", r);
	vw_store_set_networks(&st, nets, n_nets);
	for (unsigned long i = 0; i < n; i++) {
		struct vw_container c;

		body.len = 0;
		synth_inspect(&s, (unsigned)i, true, &body);
		r = vw_dockermsg_parse_container(body.p, body.len, &c);
		if (r < 0)
			fail("parse container", r);
		r = vw_store_put(&st, &c);
		if (r < 0)
			fail("store", r);
	}
	t_parse = ms_since(t0);
	sbuf_done(&body);

	t0 = vw_now_ns();
	r = vw_desired_rebuild(&want, &st, &names, vw_now_ms());
	if (r < 0)
		fail("compile", r);
	t_compile = ms_since(t0);
	for (size_t i = 0; i < want.rs.n_containers; i++)
		elements += vw_rs_container_boxes(want.rs.containers[i]);

	r = vw_nft_new(table, tag, &tn.nft);
	if (r < 0)
		fail("nft", r);
	if (monitor) {
		r = vw_loop_new(&loop);
		if (r >= 0)
			r = vw_nft_monitor(tn.nft, loop, on_change, &foreign);
		if (r < 0)
			fail("monitor", r);
	}

	/* From scratch: no table, nothing applied. */
	for (unsigned k = 0; k < reps; k++) {
		r = vw_nft_delete_table(tn.nft);
		if (r < 0 && r != -ENOENT)
			fail("delete table", r);
		vw_reconcile_init(&rc, &(struct vw_backend){ .apply = timed_apply, .ud = &tn });
		t0 = vw_now_ns();
		r = vw_reconcile_step(&rc, &want.rs, NULL, vw_now_ms());
		scratch[k] = ms_since(t0);
		scratch_apply[k] = tn.last_ms;
		if (r < 0)
			fail("apply from scratch", r);
		drains[k] = drain(loop);
		if (k + 1 < reps)
			vw_reconcile_done(&rc);
	}
	printf("scratch_ops=%zu\n", tn.ops);

	/* A full replacement over the same table (a resync, SIGHUP, a restart). */
	for (unsigned k = 0; k < reps; k++) {
		vw_reconcile_force_full(&rc);
		t0 = vw_now_ns();
		r = vw_reconcile_step(&rc, &want.rs, NULL, vw_now_ms());
		replace[k] = ms_since(t0);
		if (r < 0)
			fail("replace", r);
		(void)drain(loop);
	}

	/* Everything marked changed, nothing did: recompile, diff, send nothing. */
	tn.calls = 0;
	for (unsigned k = 0; k < reps; k++) {
		t0 = vw_now_ns();
		for (size_t i = 0; i < st.n; i++)
			if (vw_desired_mark(&want, st.list[i]->id) < 0)
				fail("mark", -ENOMEM);
		r = vw_desired_flush(&want, &st, &names, vw_now_ms());
		if (r < 0)
			fail("flush", r);
		noop_compile[k] = ms_since(t0);
		r = vw_reconcile_step(&rc, &want.rs, &want.changes, vw_now_ms());
		noop[k] = ms_since(t0);
		vw_changes_reset(&want.changes);
		if (r < 0)
			fail("noop step", r);
	}
	t0 = vw_now_ns();
	r = vw_ruleset_diff(&rc.applied, &want.rs, NULL, &plan);
	t_diff = ms_since(t0);
	if (r < 0)
		fail("diff", r);

	printf("containers=%zu\nelements=%zu\nsources=%zu\n", want.rs.n_containers, elements,
	       want.rs.n_sources);
	printf("parse_ms=%.2f\ncompile_ms=%.2f\n", t_parse, t_compile);
	printf("scratch_ms=%.2f\n", median(scratch, reps));
	printf("scratch_min_ms=%.2f\n", scratch[0]); /* sorted by median() */
	printf("scratch_apply_ms=%.2f\n", median(scratch_apply, reps));
	printf("drain_ms=%.2f\n", median(drains, reps));
	printf("monitor=%u\n", monitor);
	printf("replace_ms=%.2f\n", median(replace, reps));
	printf("noop_ms=%.2f\n", median(noop, reps));
	printf("noop_compile_ms=%.2f\n", median(noop_compile, reps));
	printf("noop_transactions=%u\n", tn.calls);
	printf("diff_ops=%zu\ndiff_ms=%.3f\n", plan.n, t_diff);
	vw_plan_done(&plan);

	vw_reconcile_done(&rc);
	vw_nft_free(tn.nft);
	vw_loop_free(loop);
	vw_desired_done(&want);
	vw_names_done(&names);
	vw_store_done(&st);
	vw_config_done(&cfg);
	return 0;
}
