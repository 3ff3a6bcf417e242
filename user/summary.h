/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What a run saw, counted by the tracker and printed at exit. */
#ifndef SYNSCOPE_SUMMARY_H
#define SYNSCOPE_SUMMARY_H

#include <stdbool.h>
#include <stdio.h>
#include "synscope.h"

#define SUMMARY_MAX_LISTENERS 256

/* Server ends grouped by listening port and network namespace. */
struct listener_summary {
	unsigned long long netns;
	unsigned int port;
	unsigned long long completed;   /* server ends that reached ESTABLISHED */
	unsigned long long accepted;
	unsigned long long not_accepted;
	unsigned int max_acceptq;      /* deepest accept queue seen, this connection included */
	unsigned int backlog;          /* effective backlog at the last handshake */
	unsigned long long max_wait_us; /* longest accept-queue wait */
	unsigned long long synack_retrans;
};

struct run_summary {
	unsigned long long ends;          /* records received */
	unsigned long long clients;
	unsigned long long servers;
	unsigned long long joined;        /* ends printed with a peer */
	unsigned long long by_outcome[SYNSCOPE_OUT_ABANDONED + 1];
	unsigned long long not_accepted;
	unsigned long long late_links;    /* a join arrived after its client was printed */
	unsigned long long decode_errors; /* records user space could not decode */
	unsigned long long write_errors;  /* records the sink failed to write */
	struct synscope_stats kernel;     /* the BPF side's counters */
	bool kernel_valid;
	unsigned int nlisteners;
	unsigned long long listeners_untracked; /* server ends beyond SUMMARY_MAX_LISTENERS */
	struct listener_summary listeners[SUMMARY_MAX_LISTENERS];
};

/* Events the kernel side counted as lost, all kinds together. */
unsigned long long summary_kernel_losses(const struct run_summary *sum);
/* The human summary printed to stderr at exit. */
void summary_print(FILE *f, const struct run_summary *sum);

#endif
