/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the fallback programs (bpf/nesting.bpf.h) ask the kernel: whether it
 * skipped their primary. This finds, once after load, the per-CPU counter
 * the kernel keeps for each primary (struct bpf_prog.active) and the
 * per-CPU pointer of the BPF side's `cpu` map, which the fallbacks need to
 * reach their CPU's copy of the counter.
 */
#ifndef SYNSCOPE_RECURSION_H
#define SYNSCOPE_RECURSION_H

struct synscope_bpf;

/*
 * Runs the iterators find_primaries and find_cpu_map of a loaded skeleton,
 * for every loaded primary. Returns 0 when all were found; -ENOENT when one
 * was not; -errno when an iterator could not run. The fallbacks must not be
 * attached after a failure: they would take every event for a skipped one
 * or none (they return at once while a counter is unknown).
 */
int recursion_find_counters(struct synscope_bpf *skel);

#endif
