/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What a run saw, counted by the tracker and printed at exit. */
#ifndef SYNSCOPE_SUMMARY_H
#define SYNSCOPE_SUMMARY_H

#include <stdbool.h>
#include <stdio.h>
#include "decode.h"
#include "histogram.h"
#include "listeners.h"
#include "synscope.h"

#define SUMMARY_MAX_LISTENERS 256
#define SUMMARY_MAX_DESTINATIONS 256
#define SUMMARY_ADDR_LEN 46 /* INET6_ADDRSTRLEN */

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
	unsigned long long closed_in_queue; /* reset or closed while waiting for accept() */
	struct histogram wait_us;       /* accept-queue waits of accepted ends */
};

/* Client ends grouped by remote address and port. */
struct destination_summary {
	char addr[SUMMARY_ADDR_LEN];
	unsigned int port;
	unsigned long long by_outcome[SYNSCOPE_OUT_ABANDONED + 1];
	unsigned long long syn_retrans;
	struct histogram connect_us;    /* connect() to ESTABLISHED of established ends */
};

/*
 * TcpExt counters of /proc/net/netstat in synscope's own network namespace,
 * as deltas over the run: drops of the listen path the state tracepoint
 * cannot see (SYNs and third ACKs dropped on a full accept queue).
 */
struct netstat_delta {
	bool valid;
	unsigned long long listen_overflows; /* ListenOverflows: accept queue full */
	unsigned long long listen_drops;     /* ListenDrops: any drop on a listener */
	unsigned long long syncookies_sent;  /* SyncookiesSent: SYN queue full, cookie answered */
};

struct run_summary {
	unsigned long long ends;          /* records received */
	unsigned long long clients;
	unsigned long long servers;
	unsigned long long joined;        /* ends printed with a peer */
	unsigned long long by_outcome[SYNSCOPE_OUT_ABANDONED + 1];
	unsigned long long not_accepted;
	/* ends whose handshake the state tracepoint never reported, read from
	 * the socket at connect()/accept() return (SYNSCOPE_F_RECOVERED) */
	unsigned long long recovered;
	unsigned long long late_links;    /* a join arrived after its client was printed */
	/* ends pushed out of the full join table while they waited: joins lost
	 * (user/join.h); reported with the kernel's index_map_full, which
	 * counted the same loss when the kernel joined */
	unsigned long long joins_evicted;
	unsigned long long decode_errors; /* records user space could not decode */
	unsigned long long write_errors;  /* records the sink failed to write */
	struct synscope_stats kernel;     /* the BPF side's counters */
	bool kernel_valid;
	unsigned long long prog_misses;   /* program runs the kernel skipped (recursion_misses) */
	/* Ends still under construction when synscope stopped (their record had
	 * not left the kernel: a client in SYN_SENT, a child waiting in the
	 * accept queue...); valid when in_flight_valid (a live run). */
	unsigned long long in_flight;
	bool in_flight_valid;
	/* --close: established ends whose socket was not destroyed when synscope
	 * stopped (no close record); valid when closes_open_valid (a live run). */
	unsigned long long closes_open;
	bool closes_open_valid;
	unsigned int nlisteners;
	unsigned long long listeners_untracked; /* server ends beyond SUMMARY_MAX_LISTENERS */
	struct listener_summary listeners[SUMMARY_MAX_LISTENERS];
	/* The listeners of synscope's network namespace as the kernel held them at
	 * exit (iter/tcp): a live run's, not a capture's; owned by the caller. */
	const struct listener_state *listeners_now;
	size_t nlisteners_now;
	unsigned int ndestinations;
	unsigned long long destinations_untracked; /* client ends beyond SUMMARY_MAX_DESTINATIONS */
	struct destination_summary destinations[SUMMARY_MAX_DESTINATIONS];
	unsigned long long syn_retrans;   /* SYN retransmissions of all client ends */
	struct netstat_delta netstat;
	unsigned long long closes;        /* --close: close records */
	unsigned long long close_kinds[CLOSE_UNKNOWN + 1]; /* by enum close_kind */
	unsigned long long time_waits[2]; /* TIME_WAIT kept by [0] clients, [1] servers */
};

/* Joins lost to a full join index: the kernel's (captures before 2026-12) and the tracker's. */
unsigned long long summary_join_index_full(const struct run_summary *sum);
/* Events the kernel side counted as lost, all kinds together, with the joins the tracker lost. */
unsigned long long summary_kernel_losses(const struct run_summary *sum);
/* The kernel-side loss line of the summary (nothing if the counts are unknown). */
void summary_print_lost(FILE *f, const struct run_summary *sum);
/* One line per listener of sum->listeners_now (nothing without them). */
void summary_print_listeners_now(FILE *f, const struct run_summary *sum);
/* The human summary printed to stderr at exit. */
void summary_print(FILE *f, const struct run_summary *sum);

#endif
