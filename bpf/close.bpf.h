// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --close: the state path of an established end, in socket storage, and
 * the socket's destruction, where the last records leave.
 */
#ifndef SYNSCOPE_CLOSE_BPF_H
#define SYNSCOPE_CLOSE_BPF_H

/* --close: a close state's first state, ESTABLISHED at ts, for end `id`. */
static __always_inline void begin_path(struct synscope_close *cl, __u8 role, __u64 id, __u64 ts)
{
	cl->type = SYNSCOPE_REC_CLOSE;
	cl->role = role;
	cl->id = id;
	cl->states[0] = TCP_ESTABLISHED;
	cl->ts[0] = ts;
	cl->nstates = 1;
}

/* --close: the end is established; its close state starts with that. */
static __always_inline void start_close(const struct sock *sk, const struct synscope_handshake *rec)
{
	struct synscope_close *cl;

	cl = bpf_sk_storage_get(&closes, (struct sock *)sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!cl) {
		count(close_storage_full);
		return;
	}
	if (!cl->nstates) { /* not a second look at the same end */
		__u64 key = (__u64)sk;

		if (bpf_map_update_elem(&open_ends, &key, &rec->id, BPF_ANY))
			count(close_storage_full);
	}
	begin_path(cl, rec->role, rec->id, rec->ts_end);
}

/* Takes the recovered end at key out of recovered_open (expect_close()). */
static __always_inline void forget_recovered(__u64 key)
{
	if (!bpf_map_delete_elem(&recovered_open, &key))
		__sync_fetch_and_sub(&recovered_marks, 1);
}

/*
 * --close: a new socket at address key (SYN_SENT, a listener's child, or a
 * recovered end): an end still listed there was freed without the kernel
 * reporting it.
 */
static __always_inline void check_address_reuse(__u64 key)
{
	if (recovered_marks)
		forget_recovered(key); /* its open_ends entry, below, counts it */
	if (!bpf_map_lookup_elem(&open_ends, &key))
		return;
	bpf_map_delete_elem(&open_ends, &key);
	count(close_unseen);
}

/*
 * What tells a recovered end's socket from a later one at its address: its
 * ports and (the low 32 bits of) its remote address. The local port from
 * inet_sport, which CLOSE keeps; nothing here is cleared before the socket
 * is destroyed but by tcp_disconnect(), which an accepted or connected end
 * reaches only through its owner.
 */
static __always_inline __u32 end_tuple(__u16 sport, __u16 dport, __u32 daddr_low)
{
	return ((__u32)sport | (__u32)dport << 16) ^ daddr_low;
}

static __always_inline __u32 end_tuple_btf(const struct sock *sk)
{
	__u32 d = sk->__sk_common.skc_family == AF_INET6
			  ? sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[3]
			  : sk->__sk_common.skc_daddr;

	return end_tuple(local_port_btf(sk), bpf_ntohs(sk->__sk_common.skc_dport), d);
}

/*
 * --close: a recovered end's close state, started at its socket's first
 * state change or destruction reported after the recovery (expect_close()),
 * with its ESTABLISHED at the syscall's return. NULL if sk is not such an
 * end (or its storage found no room, counted).
 */
static __always_inline struct synscope_close *take_recovered(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct recovered_end *r = bpf_map_lookup_elem(&recovered_open, &key);
	struct synscope_close *cl = NULL;

	if (!r)
		return NULL;
	/* Else a later socket at the address: the end's open_ends entry counts it. */
	if (r->tuple == end_tuple_btf(sk)) {
		cl = bpf_sk_storage_get(&closes, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
		if (cl && !cl->nstates) {
			begin_path(cl, r->role, r->id, r->ts);
			cl->flags |= SYNSCOPE_CF_RECOVERED;
		} else if (!cl) {
			count(close_storage_full);
		}
	}
	forget_recovered(key);
	return cl;
}

/* --close: the path's i-th state (the mask keeps the verifier's bounds). */
static __always_inline int path_state(const struct synscope_close *cl, int i)
{
	return cl->states[i & (SYNSCOPE_CLOSE_STATES - 1)];
}

/* --close: the state path of an established end. */
static __always_inline void append_state(struct synscope_close *cl, int state)
{
	__u8 n = cl->nstates;

	/* Entering the state it is in is no move (nor a second look at one). */
	if (n && path_state(cl, n - 1) == state)
		return;

	if (n >= SYNSCOPE_CLOSE_STATES) {
		cl->flags |= SYNSCOPE_CF_TRUNCATED;
		return;
	}
	cl->states[n & (SYNSCOPE_CLOSE_STATES - 1)] = state;
	cl->ts[n & (SYNSCOPE_CLOSE_STATES - 1)] = now_ns();
	cl->nstates = n + 1;
}

/* --close: a state change of an established end with close state cl (nstates > 0). */
static __always_inline void close_path_change(struct synscope_close *cl, const struct sock *sk,
					      int oldstate, int newstate)
{
	__u8 n = cl->nstates;

	/*
	 * The change just recorded, seen a second time, moves nothing: the
	 * state machine has no cycle an established end could make. (Seen
	 * once under overlapping teardown: ESTABLISHED -> FIN_WAIT1 twice,
	 * which the fill-in below turned into a path through ESTABLISHED again.)
	 */
	if (n >= 2 && path_state(cl, n - 2) == oldstate && path_state(cl, n - 1) == newstate)
		return;
	/* The change before this one was not reported: its state is this one's old state. */
	if (oldstate != path_state(cl, n - 1) && oldstate != newstate) {
		cl->flags |= SYNSCOPE_CF_STATES_UNREPORTED;
		append_state(cl, oldstate);
	}
	append_state(cl, newstate);
	if (newstate != TCP_CLOSE)
		return;
	cl->err = sk->sk_err;
	/* tcp_fin() marks the socket SOCK_DONE when the peer's FIN arrives
	 * (sk_shutdown cannot tell: close() sets RCV_SHUTDOWN itself). */
	if (sk->__sk_common.skc_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE)))
		cl->flags |= SYNSCOPE_CF_FIN_RECEIVED;
	/* From FIN_WAIT1/2 or CLOSING without an error, CLOSE is tcp_time_wait()
	 * handing the connection to a timewait socket. */
	if ((oldstate == TCP_FIN_WAIT2 || oldstate == TCP_CLOSING || oldstate == TCP_FIN_WAIT1) &&
	    !(cl->flags & SYNSCOPE_CF_RST_RECEIVED) && !cl->err)
		cl->flags |= SYNSCOPE_CF_TIME_WAIT;
}

static __always_inline void on_later_state(const struct sock *sk, int oldstate, int newstate)
{
	struct synscope_close *cl = bpf_sk_storage_get(&closes, (struct sock *)sk, NULL, 0);

	if (!cl && recovered_marks)
		cl = take_recovered((struct sock *)sk);
	if (cl && cl->nstates)
		close_path_change(cl, sk, oldstate, newstate);
}

static __always_inline void receive_reset(struct sock *sk)
{
	struct synscope_close *cl = bpf_sk_storage_get(&closes, sk, NULL, 0);

	if (cl)
		cl->flags |= SYNSCOPE_CF_RST_RECEIVED;
}

PRIMARY_AND_FALLBACK("tcp_receive_reset", handle_receive_reset, NEST_RESET, sk, 0,
		     receive_reset(sk), struct sock *sk)

/*
 * Last chance for an end still waiting: a server child never accepted (its
 * listener closed), or a client whose connect() never returned. With
 * --close, an established end's close record leaves here.
 */
/*
 * An end destroyed before the state tracepoint said how its handshake ended
 * (ESTABLISHED or CLOSE never came: a run the kernel skipped or never
 * made). A client whose connect() returned an error is resolved by it, as
 * at CLOSE; true then. Anything else cannot be told: false.
 */
static __always_inline bool resolved_by_call(struct synscope_handshake *rec, struct sock *sk)
{
	int ret = rec->call_ret;

	if (rec->role != SYNSCOPE_ROLE_CLIENT || !(rec->flags & SYNSCOPE_F_RETURNED) || ret >= 0 ||
	    ret == -EINPROGRESS || ret == -EALREADY)
		return false;
	rec->err = -ret;
	rec->outcome = outcome_of(-ret);
	rec->ts_end = now_ns();
	read_endpoints_btf(rec, sk);
	rec->flags |= SYNSCOPE_F_RESOLVED;
	return true;
}

/* A child reset in the queue unseen (unseen_child_closed()) that no accept() took: lost. */
static __always_inline void unseen_child_destroyed(struct sock *sk, __u64 key)
{
	__u64 *cookie = bpf_map_lookup_elem(&reset_unseen, &key);

	if (!cookie || (test_unseen_destroy && *cookie == bpf_get_socket_cookie(sk)))
		return;
	/* This child's mark, or a stale one (another cookie): either way one end lost. */
	count(handshake_unseen);
	drop_reset_mark(key);
}

static __always_inline void destroy(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct synscope_handshake *rec = socks_lookup(key);
	struct synscope_close *cl;
	int last;

	if (reset_unseen_marks && !rec)
		unseen_child_destroyed(sk, key);
	if (rec && !(rec->flags & (SYNSCOPE_F_EMITTED | SYNSCOPE_F_RESOLVED)) &&
	    !resolved_by_call(rec, sk)) {
		count(handshake_unseen);
		rec->flags |= SYNSCOPE_F_EMITTED; /* the entry goes, nothing is written */
	}
	if (rec && (rec->flags & SYNSCOPE_F_EMITTED)) {
		socks_delete(key, rec); /* its record left: the entry only */
	} else if (rec) {
		if (rec->role == SYNSCOPE_ROLE_SERVER && !(rec->flags & SYNSCOPE_F_ACCEPTED)) {
			if (rec->flags & SYNSCOPE_F_GRAFTED) {
				/* Accepted by a caller no hook saw (accepted_unseen()). */
				rec->flags |= SYNSCOPE_F_ACCEPTED | SYNSCOPE_F_ACCEPT_UNSEEN;
			} else {
				/* Never accepted: it died in the accept queue. */
				rec->err = sk->sk_err;
				rec->flags |= SYNSCOPE_F_CLOSED;
			}
		}
		emit(rec, key);
	}
	if (!track_close)
		return;
	cl = bpf_sk_storage_get(&closes, sk, NULL, 0);
	if (!cl && recovered_marks)
		cl = take_recovered(sk);
	if (!cl || !cl->nstates)
		return;
	/* A destroyed socket is in CLOSE, whether or not the tracepoint said so. */
	last = path_state(cl, cl->nstates - 1);
	if (last != TCP_CLOSE && !(cl->flags & SYNSCOPE_CF_TRUNCATED)) {
		cl->flags |= SYNSCOPE_CF_STATES_UNREPORTED;
		close_path_change(cl, sk, last, TCP_CLOSE);
	}
	cl->ts_destroy = now_ns();
	bpf_map_delete_elem(&open_ends, &key);
	submit(cl, sizeof(*cl));
}

PRIMARY_AND_FALLBACK("tcp_destroy_sock", handle_destroy, NEST_DESTROY, sk, 0, destroy(sk),
		     struct sock *sk)

#endif /* SYNSCOPE_CLOSE_BPF_H */
