/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Loading synscope's BPF side: skeleton, options, fexit or the syscall
 * fallback, filters, attach; and the kernel side's counters at the end.
 */
#ifndef SYNSCOPE_LOADER_H
#define SYNSCOPE_LOADER_H

#include "options.h"
#include "summary.h"

struct bpf_map;
struct synscope_bpf;
struct workload;

/*
 * Opens, loads and attaches the BPF side for cfg (w: the programs synscope
 * started, whose process trees are traced; NULL if none). *fexit_err is 0
 * when fexit/inet_csk_accept is used, else why not (-ECANCELED: the user
 * asked for the syscalls). Returns 0 with *out set, or -errno after
 * printing what to do.
 */
int loader_start(const struct synscope_config *cfg, const struct workload *w,
		 struct synscope_bpf **out, int *fexit_err);

/*
 * Fills sum's kernel-side figures: the counters summed over the CPUs
 * (kernel, kernel_valid; handshake_unseen also counts the marks of children
 * reset unseen that no accept() took), runs the kernel skipped that no
 * fallback handled (prog_misses), ends still in the handshake table
 * (in_flight, in_flight_valid).
 */
void loader_read_counts(struct synscope_bpf *skel, struct run_summary *sum);

/*
 * Sums the one entry of a per-CPU array whose value is `size` bytes of u64
 * fields over the CPUs, into sum. Returns 0 or -errno.
 */
int loader_sum_percpu(const struct bpf_map *map, void *sum, size_t size);

/* The BPF side's counters, summed over the CPUs. Returns 0 or -errno. */
int loader_read_stats(struct synscope_bpf *skel, struct synscope_stats *sum);
/*
 * Ends still in flight (the handshake table's entries, bpf/socks.bpf.h), each
 * handed to fn as a ring-buffer record would be, with SYNSCOPE_F_IN_FLIGHT
 * set; a server end accepted by a caller no hook saw (SYNSCOPE_F_GRAFTED)
 * is complete and handed over as accepted unseen, without it, and not
 * counted. Returns how many, or -errno if the table could not be read.
 */
int loader_in_flight_records(struct synscope_bpf *skel,
			     int (*fn)(void *ctx, void *data, size_t size), void *ctx);
/*
 * Detaches every hook but the listener iterator and waits for programs
 * already running to finish: after it, no record is submitted and no entry
 * changes. Call before the last drain of the ring buffer.
 */
void loader_stop_hooks(struct synscope_bpf *skel);
/* --close: established ends not yet destroyed (the open_ends map); 0 on a read error. */
unsigned long long loader_open_ends(struct synscope_bpf *skel);

/*
 * Runs the kernel skipped (bpf_prog_info.recursion_misses) that no fallback
 * handled, given the counters k; with report and -v, prints them per program.
 */
unsigned long long loader_unhandled_misses(struct synscope_bpf *skel,
					   const struct synscope_stats *k, bool report);

/* Prints why `what` failed with err (-errno), in terms of what the user can do. */
void loader_explain(const char *what, int err);

#endif
