// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Handshakes the state tracepoint never reported, recovered at the syscall
 * that proves them established: connect() returning 0 on a socket whose
 * ESTABLISHED no program saw, accept() returning a socket no program saw
 * created; and the children no program saw created that are still in the
 * accept queue when their listener closes. The kernel can change a
 * socket's state in a softirq that runs no BPF program and counts no
 * skipped run (README, "What the kernel does not let synscope see"); a
 * child created before synscope started looks the same. The end is then
 * read from the socket (probe reads: neither hook holds a trusted pointer
 * to it) and marked SYNSCOPE_F_RECOVERED.
 */
#ifndef SYNSCOPE_RECOVER_BPF_H
#define SYNSCOPE_RECOVER_BPF_H

/*
 * ISS and IRS of an established socket at a syscall's return: SND.UNA is
 * ISS + 1 + the sequence space acknowledged since, RCV.NXT is IRS + 1 + the
 * sequence space received (RFC 9293 3.4). tcp_sock.bytes_acked and
 * bytes_received count those advances, a FIN included (tcp_snd_una_update()
 * and tcp_rcv_nxt_update()). A client's bytes_acked counts its SYN too: the
 * SYN-ACK moved SND.UNA from ISS through tcp_ack(); a child's SND.UNA and
 * both ends' RCV.NXT are set at ESTABLISHED without them.
 */
static __always_inline void read_isn_at_return(struct synscope_handshake *rec, struct sock *sk)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u32 syn_uncounted = rec->role == SYNSCOPE_ROLE_CLIENT ? 0 : 1;

	rec->iss = BPF_CORE_READ(tp, snd_una) - syn_uncounted - (__u32)BPF_CORE_READ(tp, bytes_acked);
	rec->irs = BPF_CORE_READ(tp, rcv_nxt) - 1 - (__u32)BPF_CORE_READ(tp, bytes_received);
	rec->retrans = BPF_CORE_READ(tp, total_retrans);
}

/*
 * --close: a recovered end's close state cannot start here (socket storage
 * needs a trusted socket, which the syscall hooks do not hold): it waits in
 * recovered_open for the socket's first reported state change or
 * destruction (take_recovered()). It is an open end from now on.
 */
static __always_inline void expect_close(__u64 key, const struct synscope_handshake *rec)
{
	struct recovered_end r = {.id = rec->id, .ts = rec->ts_ret, .role = rec->role};
	__u32 d;

	__builtin_memcpy(&d, rec->family == AF_INET6 ? rec->daddr + 12 : rec->daddr, 4);
	r.tuple = end_tuple(rec->sport, rec->dport, d);
	/* An earlier end at this address, freed unreported, is counted here:
	 * this end's creation, which would have counted it, ran no program. */
	check_address_reuse(key);
	if (bpf_map_update_elem(&recovered_open, &key, &r, BPF_NOEXIST)) {
		count(close_unseen); /* no room: this end's close record is lost */
		return;
	}
	__sync_fetch_and_add(&recovered_marks, 1);
	if (bpf_map_update_elem(&open_ends, &key, &rec->id, BPF_ANY))
		count(close_storage_full);
}

/*
 * connect() returned 0 on a socket the tracepoint last saw in SYN_SENT: its
 * ESTABLISHED went unreported. (The state changes before the connecting
 * thread wakes, and a program that ran for it had resolved the end.)
 */
static __always_inline void recover_client(struct synscope_handshake *rec, __u64 key)
{
	struct sock *sk = (struct sock *)key;

	read_endpoints(rec, sk);
	read_isn_at_return(rec, sk);
	rec->outcome = SYNSCOPE_OUT_ESTABLISHED;
	if (track_close)
		expect_close(key, rec);
}

/* Takes the mark of a child reset in the queue unseen, counting a stale one. */
static __always_inline void take_reset_mark(const struct sock *sk, __u64 key)
{
	__u64 *mark = bpf_map_lookup_elem(&reset_unseen, &key);

	if (!mark)
		return;
	if (*mark != (__u64)BPF_CORE_READ(sk, __sk_common.skc_cookie.counter))
		count(handshake_unseen);
	drop_reset_mark(key);
}

/*
 * accept() returned a TCP socket with no entry: no program saw the child
 * created. Unless its entry found no room (counted sock_map_full then), its
 * record is written now, from the socket, with its caller.
 */
static __always_inline void recover_server(__u64 key, int fd, const struct inflight_call *call,
					   bool seen)
{
	struct sock *sk = (struct sock *)key;
	struct synscope_handshake rec = {};
	__u16 *port;

	/* The cheap filters first: accept() on every other socket comes here. */
	if (!tgid_allowed(bpf_get_current_pid_tgid() >> 32))
		return;
	read_ports(&rec, sk); /* a child reset before accept() has released inet_num */
	if (!ports_allowed(rec.sport, rec.dport) || !is_tcp(sk))
		return;
	port = bpf_map_lookup_elem(&untracked, &key);
	if (port && *port == rec.sport) {
		bpf_map_delete_elem(&untracked, &key);
		return;
	}
	read_endpoints(&rec, sk);
	if ((rec.family != AF_INET && rec.family != AF_INET6) || !family_allowed(rec.family, rec.daddr))
		return;
	/* Reset in the queue unseen (unseen_child_closed()), and accepted after all;
	 * a mark under another cookie is a stale one's, whose end was lost. */
	if (reset_unseen_marks)
		take_reset_mark(sk, key);
	init_end(&rec, SYNSCOPE_ROLE_SERVER);
	read_isn_at_return(&rec, sk);
	read_caller(&rec);
	rec.netns = sock_netns(sk);
	rec.backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	rec.outcome = SYNSCOPE_OUT_ESTABLISHED;
	rec.fd = fd;
	rec.call_ret = fd;
	rec.ts_ret = now_ns();
	rec.flags = SYNSCOPE_F_RESOLVED | SYNSCOPE_F_ACCEPTED | SYNSCOPE_F_RETURNED |
		    SYNSCOPE_F_RECOVERED;
	if (seen) {
		rec.ts_call = call->ts;
		rec.flags |= SYNSCOPE_F_CALL_SEEN;
	}
	if (BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_CLOSE) {
		rec.err = BPF_CORE_READ(sk, sk_err);
		rec.flags |= SYNSCOPE_F_CLOSED;
	}
	if (track_close)
		expect_close(key, &rec);
	if (aggregate)
		account(&rec);
	submit(&rec, sizeof(rec));
}

/* A closing listener's accept queue, walked by recover_queued_child(). */
struct queue_walk {
	__u64 req;     /* the next request_sock; 0 past the last */
	__u64 netns;   /* the listener's */
	__u32 backlog; /* its sk_max_ack_backlog */
	__u16 port;    /* its local port */
};

/*
 * One child of a closing listener's accept queue (a bpf_loop() callback,
 * recover_queue()). A child with no entry was created unseen: it is
 * recovered, never accepted, read from the socket (probe reads: the queue
 * holds no trusted pointer). Its entry then goes the way of any child that
 * dies in the queue: its destruction writes it, closed in the queue.
 */
static long recover_queued_child(__u64 i, void *ctx)
{
	struct queue_walk *w = ctx;
	struct request_sock *req = (void *)w->req;
	struct synscope_handshake *rec;
	struct sock *sk = NULL;
	__u8 state;
	__u16 *port;
	__u64 key;

	if (!req)
		return 1;
	w->req = 0;
	bpf_probe_read_kernel(&w->req, sizeof(w->req), &req->dl_next);
	if (bpf_probe_read_kernel(&sk, sizeof(sk), &req->sk) || !sk)
		return 0;
	key = (__u64)sk;
	if (socks_lookup(key))
		return 0; /* seen created */
	/* A Fast Open child still in SYN_RECV: its ESTABLISHED (or CLOSE) is
	 * yet to come, and finds no entry, as for any child created unseen. */
	state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (state != TCP_ESTABLISHED && state != TCP_CLOSE_WAIT && state != TCP_CLOSE)
		return 0;
	/* The filters a child's creation applies (child_traced()), before it
	 * is numbered. */
	if (!ports_allowed(w->port, bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport))))
		return 0;
	if (filter_family) {
		__u8 daddr[16];

		BPF_CORE_READ_INTO(&daddr, sk, __sk_common.skc_v6_daddr);
		if (!family_allowed(BPF_CORE_READ(sk, __sk_common.skc_family), daddr))
			return 0;
	}
	/* Its entry found no room at its creation: counted sock_map_full. */
	port = bpf_map_lookup_elem(&untracked, &key);
	if (port && *port == w->port)
		return 0;
	rec = new_end(key, SYNSCOPE_ROLE_SERVER);
	if (!rec) {
		bpf_map_update_elem(&untracked, &key, &w->port, BPF_ANY);
		return 0;
	}
	read_endpoints(rec, sk);
	if (reset_unseen_marks)
		take_reset_mark(sk, key);
	read_isn_at_return(rec, sk);
	rec->netns = w->netns;
	rec->backlog = w->backlog;
	rec->outcome = SYNSCOPE_OUT_ESTABLISHED;
	/* No accept() return (SYNSCOPE_F_RETURNED stays clear): the time of
	 * the recovery, the record's `ts`. */
	rec->ts_ret = now_ns();
	rec->flags |= SYNSCOPE_F_RESOLVED | SYNSCOPE_F_RECOVERED;
	if (track_close)
		expect_close(key, rec);
	return 0;
}

/*
 * LISTEN -> CLOSE: the listener's accept queue still holds the children no
 * accept() took, and inet_csk_listen_stop() forgets them right after this
 * state change (__tcp_close(), tcp_disconnect()); no child joins the queue
 * now that the listener is not in LISTEN. A child no program saw created
 * may see its CLOSE and destruction run no program either (README, "What
 * the kernel does not let synscope see"): it would be lost, uncounted. Each
 * is recovered here instead (recover_queued_child()).
 */
static __always_inline void recover_queue(const struct sock *sk)
{
	struct synscope_listener_key lk = {};
	struct synscope_listener *li;
	struct queue_walk w = {};
	__u32 queued;

	if (test_unseen_destroy)
		return; /* tests: as if this change ran no program either */
	lk.netns = sock_netns_btf(sk);
	lk.port = local_port_btf(sk);
	if (filter_tgids) {
		li = bpf_map_lookup_elem(&listeners, &lk);
		if (!li || !tgid_allowed(li->tgid))
			return;
	}
	w.req = (__u64)BPF_CORE_READ((struct inet_connection_sock *)sk,
				     icsk_accept_queue.rskq_accept_head);
	if (!w.req)
		return;
	w.netns = lk.netns;
	w.port = lk.port;
	w.backlog = sk->sk_max_ack_backlog;
	/* The queue can pass its backlog by one child per CPU (README). */
	queued = sk->sk_ack_backlog + 64;
	bpf_loop(queued < (1U << 20) ? queued : (1U << 20), recover_queued_child, &w, 0);
}

#endif /* SYNSCOPE_RECOVER_BPF_H */
