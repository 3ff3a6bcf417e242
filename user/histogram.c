// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "histogram.h"

static unsigned int bucket_of(unsigned long long v)
{
	unsigned int e;

	if (v < HIST_SUB)
		return (unsigned int)v;
	e = 63 - __builtin_clzll(v); /* v in [2^e, 2^(e+1)), e >= 3 */
	return HIST_SUB + (e - 3) * HIST_SUB + (unsigned int)((v >> (e - 3)) & (HIST_SUB - 1));
}

/* The middle of a bucket's range: the reported value for its samples. */
static unsigned long long bucket_value(unsigned int b)
{
	unsigned int e, sub;
	unsigned long long low, width;

	if (b < HIST_SUB)
		return b;
	e = (b - HIST_SUB) / HIST_SUB + 3;
	sub = (b - HIST_SUB) % HIST_SUB;
	width = 1ULL << (e - 3);
	low = (1ULL << e) + sub * width;
	return low + width / 2;
}

void hist_add(struct histogram *h, unsigned long long value)
{
	unsigned int b = bucket_of(value);

	if (h->buckets[b] != ~0u)
		h->buckets[b]++;
	h->count++;
	if (value > h->max)
		h->max = value;
}

unsigned long long hist_percentile(const struct histogram *h, double percent)
{
	unsigned long long rank, seen = 0, v;
	unsigned int b;

	if (!h->count)
		return 0;
	rank = (unsigned long long)(h->count * percent / 100.0 + 0.999999);
	if (rank == 0)
		rank = 1;
	for (b = 0; b < HIST_BUCKETS; b++) {
		seen += h->buckets[b];
		if (seen >= rank) {
			v = bucket_value(b);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}
