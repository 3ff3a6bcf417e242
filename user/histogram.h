/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Log-linear histogram of microsecond latencies, for p50/p99 in the exit
 * summary with bounded memory (2 KiB each, whatever the run length).
 * Buckets: exact below 8; above, 8 per power of two, so a percentile is
 * reported within 12.5% of the true value. The maximum is exact.
 */
#ifndef SYNSCOPE_HISTOGRAM_H
#define SYNSCOPE_HISTOGRAM_H

#define HIST_SUB 8
#define HIST_BUCKETS (HIST_SUB + (64 - 3) * HIST_SUB)

struct histogram {
	unsigned long long count;
	unsigned long long max;
	unsigned int buckets[HIST_BUCKETS];
};

void hist_add(struct histogram *h, unsigned long long value);
/* The value below which `percent` (0-100] of the samples fall; 0 if empty. */
unsigned long long hist_percentile(const struct histogram *h, double percent);

#endif
