// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --metrics: every handshake record counted in the kernel as it leaves,
 * into per-CPU counters and histograms that user space reads when scraped.
 * With --metrics alone no record is submitted at all (emit_records).
 * Every run: the listeners' counters (overflows, SYN-ACK retransmits) and
 * the iterator over the listeners, read for the listener records too.
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
	if (rec->flags & SYNSCOPE_F_RECOVERED)
		__sync_fetch_and_add(&m->recovered[role], 1);
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

/*
 * A third ACK dropped because the accept queue was full (tcp_v4_syn_recv_sock():
 * the child is never created). rx_sk, the listener, is there since 6.11 and
 * the reason since 6.15: user space loads this only where the reason exists.
 */
SEC("tp_btf/kfree_skb")
int BPF_PROG(handle_listen_overflow, struct sk_buff *skb, void *location,
	     enum skb_drop_reason reason, struct sock *rx_sk)
{
	struct synscope_listener_metrics *lm;
	__u16 port;

	if (reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW) ||
	    !rx_sk)
		return 0;
	port = rx_sk->__sk_common.skc_num;
	if (!ports_allowed(port, 0))
		return 0;
	lm = listener_metrics_of(sock_netns_btf(rx_sk), port);
	if (lm)
		__sync_fetch_and_add(&lm->overflows, 1);
	return 0;
}

/* The listener retransmitted a SYN-ACK for a request socket in its SYN queue. */
SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(handle_synack_retransmit, const struct sock *sk, const struct request_sock *req)
{
	struct synscope_listener_metrics *lm;
	__u16 port = sk->__sk_common.skc_num;

	if (!ports_allowed(port, 0))
		return 0;
	lm = listener_metrics_of(sock_netns_btf(sk), port);
	if (lm)
		__sync_fetch_and_add(&lm->synack_retrans, 1);
	return 0;
}

/*
 * At each scrape, each listener record and at exit: the listeners of
 * synscope's network namespace and their queues. -P keeps those on its
 * ports; -p (or a command) those a traced process called listen() on.
 */
SEC("iter/tcp")
int dump_listeners(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct synscope_listener_row row = {};
	struct synscope_listener_key lk = {};
	struct tcp_sock *tp;

	if (!skc || skc->skc_state != TCP_LISTEN || !ports_allowed(skc->skc_num, 0))
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	row.netns = skc->skc_net.net->ns.inum;
	lk.netns = row.netns;
	lk.port = skc->skc_num;
	if (filter_tgids && !bpf_map_lookup_elem(&listeners, &lk))
		return 0;
	row.family = skc->skc_family;
	row.port = skc->skc_num;
	if (row.family == AF_INET6)
		__builtin_memcpy(row.addr, &skc->skc_v6_rcv_saddr, 16);
	else
		*(__u32 *)row.addr = skc->skc_rcv_saddr;
	row.acceptq = tp->inet_conn.icsk_inet.sk.sk_ack_backlog;
	row.backlog = tp->inet_conn.icsk_inet.sk.sk_max_ack_backlog;
	row.synq = tp->inet_conn.icsk_accept_queue.qlen.counter;
	row.drops = tp->inet_conn.icsk_inet.sk.sk_drops.counter;
	bpf_seq_write(ctx->meta->seq, &row, sizeof(row));
	return 0;
}

#endif /* SYNSCOPE_METRICS_BPF_H */
