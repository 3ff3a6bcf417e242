/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --metrics: the kernel side's counters and histograms served in the
 * Prometheus text exposition format (version 0.0.4) by libmicrohttpd.
 */
#ifndef SYNSCOPE_METRICS_H
#define SYNSCOPE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "listeners.h"
#include "synscope.h"

struct join_table;
struct synscope_bpf;
struct synscope_config;

/* What one scrape reports, read from the maps (summed over the CPUs). */
struct metrics_snapshot {
	struct synscope_metrics m;
	struct synscope_stats stats;
	unsigned long long prog_skipped; /* runs the kernel skipped that no fallback handled */
	unsigned long long joins_evicted; /* joins the tracker lost to a full join table */
	struct listener_counts *listeners; /* nlisteners entries, malloc'd */
	size_t nlisteners;
	struct listener_queues *queues;    /* nqueues entries, malloc'd: synscope's netns only */
	size_t nqueues;
	bool overflows_per_listener;     /* the kernel names accept-queue overflows (6.15+) */
	bool netstat_valid;              /* the TcpExt counters below were read */
	unsigned long long netns;        /* synscope's own network namespace */
	unsigned long long listen_overflows, listen_drops, syncookies_sent; /* its TcpExt counters */
	const char *version;             /* synscope's */
	const char *accept_hook;         /* "fexit" or "syscall" */
	const char *kernel;              /* uname -r */
};

/*
 * Writes the exposition of s to f: HELP and TYPE lines, then the samples.
 * Durations are in seconds (histogram bounds 2^i us, i = 0..26, and +Inf).
 * Returns 0, or -EIO if f failed.
 */
int metrics_write(FILE *f, const struct metrics_snapshot *s);

struct metrics_server;

/* Connection ends counted in the kernel so far (all roles and outcomes); -errno on failure. */
long long metrics_count_ends(struct synscope_bpf *skel);

/* "http://ADDR:PORT/metrics" for cfg->metrics_addr, in buf. */
const char *metrics_url(const struct synscope_config *cfg, char *buf, size_t len);

/*
 * Starts serving GET /metrics at cfg->metrics_addr on a thread of its own
 * (libmicrohttpd's): a scrape reads the maps and never waits for the record
 * consumer. join: the tracker's join table, whose losses a scrape reads
 * too (NULL: none). Returns NULL after printing why (address in use, bad address).
 */
struct metrics_server *metrics_serve(const struct synscope_config *cfg, struct synscope_bpf *skel,
				     const char *accept_hook, const struct join_table *join);
void metrics_stop(struct metrics_server *srv);

#endif
