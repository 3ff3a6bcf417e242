// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The handshake, from the state tracepoint: SYN_SENT, the child's
 * creation, ESTABLISHED or CLOSE, and errors reported on a connecting
 * socket. The two ends of a local connection are joined in user space
 * (user/join.c), from the ports, ISS and IRS each record carries.
 */
#ifndef SYNSCOPE_HANDSHAKE_BPF_H
#define SYNSCOPE_HANDSHAKE_BPF_H

/* CLOSE -> SYN_SENT runs inside connect(), in the caller's context. */
static __always_inline void on_syn_sent(const struct sock *sk, __u64 key)
{
	struct synscope_handshake *rec;
	struct inflight_call *call;
	__u16 family, sport, dport;

	if (!tgid_allowed(bpf_get_current_pid_tgid() >> 32))
		return;
	/* The source port is not chosen yet (inet_hash_connect() runs after). */
	sport = sk->__sk_common.skc_num;
	dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (!ports_allowed(sport, dport))
		return;
	family = sk->__sk_common.skc_family;
	if (filter_family) {
		__u8 daddr[16];

		BPF_CORE_READ_INTO(&daddr, sk, __sk_common.skc_v6_daddr);
		if (!family_allowed(family, daddr))
			return;
	}

	rec = new_end(key, SYNSCOPE_ROLE_CLIENT);
	if (!rec)
		return;
	/* What is known now (the destination), for a record of an end still in
	 * SYN_SENT at exit; ESTABLISHED or CLOSE reads them again. */
	read_endpoints_btf(rec, sk);
	read_caller(rec);
	rec->netns = sock_netns_btf(sk);
	rec->ts_syn = now_ns();
	call = current_call(false);
	if (call && call->kind == CALL_CONNECT) {
		call->sk = key;
		rec->fd = call->fd;
		rec->ts_call = call->ts;
		rec->flags |= SYNSCOPE_F_CALL_SEEN;
	} else {
		/* TCP Fast Open sendmsg(), io_uring, or a connect() begun before
		 * synscope started: no return to wait for. */
		rec->flags |= SYNSCOPE_F_RETURNED;
	}
}

/*
 * Whether server child sk passes the filters (-P, -4/-6, -p: its listener's
 * process), with its listener's key and listen() record (NULL if none).
 * Before 6.x reordered inet_csk_clone_lock(), the child's creation was
 * reported before it got its remote port and (IPv6) addresses: what is
 * still zero is undecided here and checked again at ESTABLISHED.
 */
static __always_inline bool child_traced(const struct sock *sk, struct synscope_listener_key *lk,
					 struct synscope_listener **li)
{
	__u8 daddr[16];
	__u16 dport;

	lk->port = local_port_btf(sk);
	dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (dport && !ports_allowed(lk->port, dport))
		return false;
	if (filter_family) {
		__builtin_memcpy(daddr, &sk->__sk_common.skc_v6_daddr, 16);
		if (!is_unspecified(daddr) && !family_allowed(sk->__sk_common.skc_family, daddr))
			return false;
	}
	lk->netns = sock_netns_btf(sk);
	*li = bpf_map_lookup_elem(&listeners, lk);
	/* With a process filter, the child belongs to a traced listener. */
	return !filter_tgids || (*li && tgid_allowed((*li)->tgid));
}

/* LISTEN -> SYN_RECV on the child, created by inet_csk_clone_lock() when the
 * third ACK arrives (or at the SYN, with TCP Fast Open). */
static __always_inline void on_child_created(const struct sock *sk, __u64 key)
{
	struct synscope_listener_key lk = {};
	struct synscope_listener *li;
	struct synscope_handshake *rec;

	if (!child_traced(sk, &lk, &li))
		return;
	rec = new_end(key, SYNSCOPE_ROLE_SERVER);
	if (!rec) {
		bpf_map_update_elem(&untracked, &key, &lk.port, BPF_ANY);
		return;
	}
	read_endpoints_btf(rec, sk); /* again at ESTABLISHED: see above */
	rec->netns = lk.netns;
	rec->ts_syn = now_ns();
	/* The clone copied the listener's counters before this child was queued
	 * (inet_csk_reqsk_queue_add() runs after the clone): +1 counts it. */
	rec->acceptq = sk->sk_ack_backlog + 1;
	rec->backlog = sk->sk_max_ack_backlog;
	if (li)
		rec->backlog_req = li->backlog_req;
}

static __always_inline void on_resolved(const struct sock *sk, __u64 key, int newstate)
{
	struct synscope_handshake *rec = socks_lookup(key);
	struct tcp_sock *tp;

	if (!rec)
		return;
	rec->ts_end = now_ns();
	read_endpoints_btf(rec, sk);
	/* The filters a server child could not decide at creation (see there). */
	if (rec->role == SYNSCOPE_ROLE_SERVER && (filter_ports || filter_family) &&
	    !(ports_allowed(rec->sport, rec->dport) && family_allowed(rec->family, rec->daddr))) {
		socks_delete(key, rec);
		return;
	}
	if (newstate == TCP_ESTABLISHED) {
		rec->outcome = SYNSCOPE_OUT_ESTABLISHED;
		read_isn(rec, sk);
		if (track_close)
			start_close(sk, rec);
		complete(rec, key, SYNSCOPE_F_RESOLVED);
		return;
	}
	/*
	 * CLOSE before ESTABLISHED: the SYN went out, nothing was acknowledged,
	 * so snd_una is still the ISS. The error, by how it reached the socket
	 * (tcp_v4_err(), tcp_v6_err(), tcp_reset(), tcp_write_err()):
	 *  - sk_err: the kernel gave up, or an RST or ICMP arrived while the
	 *    application did not hold the socket; it is closed at once;
	 *  - an ICMP that came back while connect() still held the socket
	 *    leaves the socket in SYN_SENT with sk_err_soft set, and is queued
	 *    on the error queue (IPv4; IPv6 with IPV6_RECVERR), which wakes a
	 *    poll(). A non-blocking client then takes sk_err_soft with SO_ERROR
	 *    and calls close(): the queued ICMP, purged only when the socket is
	 *    freed, still says what it got;
	 *  - sk_err_soft still set: an error the application never collected
	 *    (errno only: it gave up first, the end stays abandoned).
	 */
	if (sk->sk_err)
		rec->err = sk->sk_err;
	else if (!sk->sk_err_soft)
		rec->err = queued_icmp_errno(sk);
	if (rec->err) {
		rec->outcome = outcome_of(rec->err);
	} else {
		rec->err = sk->sk_err_soft;
		rec->outcome = SYNSCOPE_OUT_ABANDONED;
	}
	tp = bpf_skc_to_tcp_sock((void *)sk);
	if (tp) {
		rec->iss = tp->snd_una;
		rec->retrans = tp->total_retrans;
		/* tcp_v4_connect()/tcp_v6_connect() enter SYN_SENT before
		 * inet_hash_connect() settles the 4-tuple: a connect() refused
		 * there (EADDRNOTAVAIL) goes back to CLOSE having sent nothing. */
		if (rec->role == SYNSCOPE_ROLE_CLIENT && !tp->segs_out)
			__sync_fetch_and_or(&rec->flags, SYNSCOPE_F_NO_SYN);
	}
	complete(rec, key, SYNSCOPE_F_RESOLVED);
}

/*
 * A listener closed: its listen() record goes, so a long run does not fill
 * the map and a later listener on the port starts afresh. Listeners sharing
 * the port (SO_REUSEPORT) share the record: the first to close takes it.
 */
static __always_inline void forget_listener(const struct sock *sk)
{
	struct synscope_listener_key lk = {};

	lk.netns = sock_netns_btf(sk);
	lk.port = local_port_btf(sk);
	bpf_map_delete_elem(&listeners, &lk);
}

/*
 * A server end still waiting for its accept() when its established
 * connection moves on (ESTABLISHED or CLOSE_WAIT to anything): if the child
 * is grafted to a socket, someone accepted it unseen, and a move the owner
 * made (close, shutdown: FIN_WAIT1, LAST_ACK, or CLOSE without an error)
 * completes the end as accepted unseen. (At tcp_destroy_sock it is too late
 * to tell: close() orphans the socket, clearing sk_socket, as listener
 * teardown does to a child never accepted.) A move the peer made (its FIN
 * or RST) can land between accept() grafting the child and its syscall exit
 * hook, which would complete the end with its caller: it only marks the end
 * (SYNSCOPE_F_GRAFTED), and destroy() or the owner's move completes it.
 * Completing it here would also race that hook for the entry: whichever
 * emits second would write through a pointer to an entry the other had
 * deleted, and the map hands a deleted entry to the next new end at once.
 * With fexit, the syscall exit that follows completes the end.
 */
static __always_inline void accepted_unseen(const struct sock *sk, __u64 key, int newstate)
{
	struct synscope_handshake *rec = socks_lookup(key);

	if (!rec || rec->role != SYNSCOPE_ROLE_SERVER ||
	    (rec->flags & (SYNSCOPE_F_ACCEPTED | SYNSCOPE_F_FEXIT)))
		return;
	if (newstate == TCP_CLOSE_WAIT || (newstate == TCP_CLOSE && sk->sk_err)) {
		__sync_fetch_and_or(&rec->flags, SYNSCOPE_F_GRAFTED);
		return;
	}
	complete(rec, key, SYNSCOPE_F_ACCEPTED | SYNSCOPE_F_ACCEPT_UNSEEN);
}

/*
 * A server child still in the accept queue (no socket file: never
 * accepted) moves from ESTABLISHED or CLOSE_WAIT to CLOSE. If it has no
 * entry, no program saw it created, and its record can only come from
 * recover_server() at an accept() that returns it:
 *  - without an error, its listener is forgetting it (inet_child_forget()'s
 *    tcp_disconnect(); an RST or a timeout sets sk_err first): it will
 *    never be accepted, its record is lost, counted here;
 *  - with one (reset in the queue), accept() may still return it: it is
 *    marked, and destroy() counts it if no accept() took the mark first.
 * A child whose entry found no room is counted already (sock_map_full).
 */
static __always_inline void unseen_child_closed(const struct sock *sk, __u64 key)
{
	struct synscope_listener_key lk = {};
	struct synscope_listener *li;
	__u64 cookie, *mark;
	__u16 *port;
	long err;

	if (socks_lookup(key) || !child_traced(sk, &lk, &li))
		return;
	port = bpf_map_lookup_elem(&untracked, &key);
	if (port) {
		if (!sk->sk_err)
			bpf_map_delete_elem(&untracked, &key);
		return;
	}
	if (!sk->sk_err) {
		count(handshake_unseen);
		return;
	}
	cookie = bpf_get_socket_cookie((void *)sk);
	err = bpf_map_update_elem(&reset_unseen, &key, &cookie, BPF_NOEXIST);
	if (!err) {
		__sync_fetch_and_add(&reset_unseen_marks, 1);
	} else if (err == -EEXIST) {
		/* A stale mark is replaced, its end counted; this child's own (a
		 * primary and its fallback both handling this CLOSE) is kept. */
		mark = bpf_map_lookup_elem(&reset_unseen, &key);
		if (!mark || *mark == cookie)
			return;
		count(handshake_unseen);
		err = bpf_map_update_elem(&reset_unseen, &key, &cookie, BPF_EXIST);
	}
	if (err)
		count(sock_map_full); /* no room for the mark: this end may be lost */
}

/*
 * Tests only: whether to ignore this handshake event (test_unseen_every): a
 * client's ESTABLISHED, or a child's creation (then its ESTABLISHED finds no
 * entry), by the socket's cookie (bpf_get_socket_cookie() gives one the
 * first time it is asked).
 */
static __always_inline bool unseen_for_test(const struct sock *sk, int oldstate, int newstate)
{
	return test_unseen_every &&
	       ((oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV) ||
		(oldstate == TCP_SYN_SENT && newstate == TCP_ESTABLISHED)) &&
	       bpf_get_socket_cookie((void *)sk) % test_unseen_every == 0;
}

static __always_inline void set_state(const struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk;

	if (sk->sk_protocol != IPPROTO_TCP || unseen_for_test(sk, oldstate, newstate))
		return;
	if (track_close && (newstate == TCP_SYN_SENT ||
			    (newstate == TCP_SYN_RECV && oldstate == TCP_LISTEN)))
		check_address_reuse(key);

	if (newstate == TCP_SYN_SENT) {
		on_syn_sent(sk, key);
	} else if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE) {
		recover_queue(sk);
		forget_listener(sk);
	} else if (newstate == TCP_SYN_RECV && oldstate == TCP_LISTEN) {
		on_child_created(sk, key);
	} else if ((oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV) &&
		   (newstate == TCP_ESTABLISHED || newstate == TCP_CLOSE)) {
		on_resolved(sk, key, newstate);
	} else {
		/* Only sockets with a file: a child still in the queue has none. */
		if ((oldstate == TCP_ESTABLISHED || oldstate == TCP_CLOSE_WAIT) && sk->sk_socket)
			accepted_unseen(sk, key, newstate);
		else if ((oldstate == TCP_ESTABLISHED || oldstate == TCP_CLOSE_WAIT) &&
			 newstate == TCP_CLOSE)
			unseen_child_closed(sk, key);
		if (track_close)
			on_later_state(sk, oldstate, newstate);
	}
}

PRIMARY_AND_FALLBACK("inet_sock_set_state", handle_set_state, NEST_SET_STATE, sk,
		     (__u32)oldstate << 8 | (__u32)newstate, set_state(sk, oldstate, newstate),
		     const struct sock *sk, const int oldstate, const int newstate)

#endif /* SYNSCOPE_HANDSHAKE_BPF_H */
