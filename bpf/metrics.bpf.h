// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --metrics: every handshake record counted in the kernel as it leaves,
 * into per-CPU counters and histograms that user space reads when scraped.
 * With --metrics alone no record is submitted at all (emit_records).
 */
#ifndef SYNSCOPE_METRICS_BPF_H
#define SYNSCOPE_METRICS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct synscope_metrics);
} metrics SEC(".maps");

/* Bounded: a listener beyond it is counted in metrics_map_full, not created. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct synscope_listener_key);
	__type(value, struct synscope_listener_metrics);
} listener_metrics SEC(".maps");

static const struct synscope_listener_metrics zero_listener_metrics;

/* floor(log2(v)) for v > 0, without loops. */
static __always_inline __u32 log2_floor(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	return r | (__u32)(v >> 1);
}

/* Adds a duration: bucket i holds 2^(i-1) us < d <= 2^i us (synscope.h). */
static __always_inline void hist_add(struct synscope_hist *h, __u64 ns)
{
	__u64 us = (ns + 999) / 1000; /* a part of a microsecond is above the bound below it */
	__u32 i = us <= 1 ? 0 : log2_floor(us - 1) + 1;

	if (i >= SYNSCOPE_HIST_BUCKETS)
		i = SYNSCOPE_HIST_BUCKETS - 1;
	__sync_fetch_and_add(&h->buckets[i], 1);
	__sync_fetch_and_add(&h->sum_ns, ns);
}

static __always_inline struct synscope_listener_metrics *listener_metrics_of(__u64 netns, __u16 port)
{
	struct synscope_listener_key lk = {.netns = netns, .port = port};
	struct synscope_listener_metrics *m = bpf_map_lookup_elem(&listener_metrics, &lk);

	if (m)
		return m;
	if (bpf_map_update_elem(&listener_metrics, &lk, &zero_listener_metrics, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&listener_metrics, &lk)) {
		count(metrics_map_full);
		return NULL;
	}
	return bpf_map_lookup_elem(&listener_metrics, &lk);
}

/* Counts a record as it leaves: by role and outcome, and its durations. */
static __always_inline void account(const struct synscope_handshake *rec)
{
	struct synscope_listener_metrics *lm;
	struct synscope_metrics *m;
	__u32 zero = 0, role = rec->role & 3, outcome = rec->outcome & 7;
	__u64 start, end;

	m = bpf_map_lookup_elem(&metrics, &zero);
	if (!m)
		return;
	__sync_fetch_and_add(&m->handshakes[role][outcome], 1);
	if (rec->role == SYNSCOPE_ROLE_CLIENT) {
		start = rec->flags & SYNSCOPE_F_CALL_SEEN ? rec->ts_call : rec->ts_syn;
		end = rec->ts_end ? rec->ts_end : rec->ts_ret;
		if (start && end >= start)
			hist_add(&m->connect[outcome], end - start);
		return;
	}
	/* Accept-queue wait: only where an accept() was seen returning this end. */
	if (!(rec->flags & SYNSCOPE_F_ACCEPTED) || (rec->flags & SYNSCOPE_F_ACCEPT_UNSEEN) ||
	    !rec->ts_ret || !rec->ts_end)
		return;
	lm = listener_metrics_of(rec->netns, rec->sport);
	if (lm)
		hist_add(&lm->accept_wait, rec->ts_ret > rec->ts_end ? rec->ts_ret - rec->ts_end : 0);
}

#endif /* SYNSCOPE_METRICS_BPF_H */
