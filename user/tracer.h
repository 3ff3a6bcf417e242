/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The tracing lifecycle shared by `synscope`, `synscope -- CMD` and
 * `synscope demo`: probe, load, attach, poll, drain, summary.
 */
#ifndef SYNSCOPE_TRACER_H
#define SYNSCOPE_TRACER_H

#include <stdbool.h>
#include <sys/types.h>
#include "options.h"
#include "output.h"

#define WORKLOAD_MAX_PIDS 8

/*
 * Programs synscope started and traces, with their process trees. Their pids
 * are known before load (they are held until attach); the run ends when the
 * workload says it is finished.
 */
struct workload {
	pid_t pids[WORKLOAD_MAX_PIDS];
	int npids;
	/* After attach: let the programs run. Returns 0, or an exit status to stop with. */
	int (*start)(struct workload *w);
	/* Called every poll round; true once every program has exited. */
	bool (*finished)(struct workload *w);
	/* synscope was asked to stop (signal): pass it on. */
	void (*stop)(struct workload *w, int sig);
	/* After the summary: the workload's own report (optional). */
	void (*report)(struct workload *w, const struct run_summary *sum);
	/* What synscope exits with once finished. */
	int (*exit_status)(struct workload *w);
	/* A sink of the workload's own, fed every record after synscope's (optional). */
	struct output *sink;
};

/*
 * Traces until interrupted, -d elapses, or the workload (if any) finishes.
 * Returns synscope's exit status: 0 (or the workload's) on success, 1 on
 * any failure, after printing what to do.
 */
int run_tracer(const struct synscope_config *cfg, struct workload *w);

#endif
