/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Listening sockets as the kernel holds them now: their queues from the
 * iter/tcp program (dump_listeners, bpf/metrics.bpf.h) and their counters
 * from the kernel hooks. Read for --metrics at each scrape, and for the
 * "listener" records and the summary's listener lines.
 *
 * The iterator walks the TCP hash tables of the network namespace of the
 * thread that reads it: synscope's own. Listeners in other namespaces are
 * not listed (their counters are, in listener_counts).
 */
#ifndef SYNSCOPE_LISTENERS_H
#define SYNSCOPE_LISTENERS_H

#include <stdbool.h>
#include <stddef.h>
#include "synscope.h"

struct synscope_bpf;

/* One listener's counters from the kernel hooks, summed over the CPUs. */
struct listener_counts {
	struct synscope_listener_key key;
	struct synscope_listener_metrics m;
};

/*
 * The listening sockets on one port of one namespace at one moment (the
 * iter/tcp rows summed: SO_REUSEPORT groups and several bound addresses).
 */
struct listener_queues {
	unsigned long long netns;
	unsigned int port;
	char address[48];  /* the bound address; "*" when the sockets are bound to several */
	unsigned long long acceptq, backlog, synq, drops;
};

/* A listener now: its queues, and its counters since synscope started. */
struct listener_state {
	struct listener_queues q;
	unsigned long long overflows;      /* third ACKs dropped on a full accept queue (6.15+) */
	bool overflows_valid;              /* the kernel names the listener of an overflow */
	unsigned long long synack_retrans; /* SYN-ACKs retransmitted */
};

/* The listener_metrics map summed over the CPUs: *out malloc'd, *n entries. 0 or -errno. */
int listener_counts_read(struct synscope_bpf *skel, struct listener_counts **out, size_t *n);

/*
 * Runs the iterator (0 and no rows if it is not loaded): *out malloc'd, *n
 * entries. 0 or -errno.
 */
int listener_queues_read(struct synscope_bpf *skel, struct listener_queues **out, size_t *n);

/* Whether the kernel names the listener of an accept-queue overflow (its program loaded). */
bool listener_overflows_known(struct synscope_bpf *skel);

/* Both, joined per listener of synscope's namespace: *out malloc'd, *n entries. 0 or -errno. */
int listener_states_read(struct synscope_bpf *skel, struct listener_state **out, size_t *n);

#endif
