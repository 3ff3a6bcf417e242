// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The syscalls around the handshake: who called connect() and listen(),
 * with which fd, what they returned; the traced process tree.
 */
#ifndef SYNSCOPE_SYSCALLS_BPF_H
#define SYNSCOPE_SYSCALLS_BPF_H

/* Records the thread's call, filled by the caller. */
static __always_inline void begin_call(struct inflight_call *call)
{
	struct inflight_call *slot;

	if (!tgid_allowed(bpf_get_current_pid_tgid() >> 32))
		return;
	slot = current_call(true);
	if (!slot) {
		count(call_map_full);
		return;
	}
	call->ts = now_ns();
	*slot = *call;
}

/* Takes the thread's in-flight call of this kind, leaving the slot empty. */
static __always_inline bool end_call(__u32 kind, struct inflight_call *out)
{
	struct inflight_call *call = current_call(false);

	if (!call || call->kind != kind)
		return false;
	*out = *call;
	call->kind = 0;
	return true;
}

struct user_sockaddr {
	__u16 family;
	__u16 port;          /* network byte order */
	union {
		struct {
			__u32 addr4;
		};
		struct {
			__u32 flowinfo;
			__u8 addr6[16];
		};
	};
};

/*
 * The destination is not read here: SYN_SENT has it in the socket. Only a
 * connect() that fails before any SYN needs the caller's sockaddr, and it is
 * read then (report_no_syn), which keeps user-memory reads and AF_UNIX
 * filtering off the path every connect() takes.
 */
SEC("tracepoint/syscalls/sys_enter_connect")
int handle_connect_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (hooks_only)
		return 0;
	struct inflight_call call = {.kind = CALL_CONNECT, .fd = (__s32)ctx->args[0],
				     .uaddr = ctx->args[1], .arg = (__u32)ctx->args[2]};

	begin_call(&call);
	return 0;
}

/* connect() failed before any SYN (no route, no ephemeral port, EACCES...). */
static __always_inline void report_no_syn(struct inflight_call *call, int err)
{
	struct synscope_handshake rec = {};
	struct user_sockaddr sa = {};
	__u64 len = call->arg;
	__u8 daddr[16] = {};
	struct sock *sk;

	/* Read no more than the caller passed: a 16-byte sockaddr_in may end a
	 * page, and reading past it would fail the whole read. */
	if (len > sizeof(sa))
		len = sizeof(sa);
	if (len < sizeof(sa.family) + sizeof(sa.port) ||
	    bpf_probe_read_user(&sa, len, (void *)call->uaddr))
		return;
	if (sa.family == AF_INET)
		__builtin_memcpy(daddr, &sa.addr4, 4);
	else if (sa.family == AF_INET6)
		__builtin_memcpy(daddr, sa.addr6, 16);
	else
		return; /* AF_UNIX and the rest */
	sk = fd_to_sock(call->fd);
	if (!is_tcp(sk) || !ports_allowed(0, bpf_ntohs(sa.port)) ||
	    !family_allowed(BPF_CORE_READ(sk, __sk_common.skc_family), daddr))
		return;
	init_end(&rec, SYNSCOPE_ROLE_CLIENT);
	read_endpoints(&rec, sk);
	/* The socket may have dropped the destination on failure: use the call's. */
	rec.dport = bpf_ntohs(sa.port);
	if (sa.family == AF_INET6 && rec.family == AF_INET6)
		__builtin_memcpy(rec.daddr, daddr, 16);
	else
		__builtin_memcpy(rec.daddr, daddr, 4);
	read_caller(&rec);
	rec.fd = call->fd;
	rec.netns = sock_netns(sk);
	rec.err = err;
	rec.call_ret = -err;
	rec.outcome = outcome_of(err);
	rec.flags = SYNSCOPE_F_CALL_SEEN | SYNSCOPE_F_RETURNED | SYNSCOPE_F_RESOLVED |
		    SYNSCOPE_F_NO_SYN;
	rec.ts_call = call->ts;
	rec.ts_end = rec.ts_ret = now_ns();
	if (aggregate)
		account(&rec);
	submit(&rec, sizeof(rec));
}

SEC("tracepoint/syscalls/sys_exit_connect")
int handle_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	if (hooks_only)
		return 0;
	struct synscope_handshake *rec;
	struct inflight_call call;
	int ret = ctx->ret;

	if (!end_call(CALL_CONNECT, &call))
		return 0;
	if (!call.sk) {
		if (ret < 0 && ret != -EINPROGRESS && ret != -EALREADY && ret != -EISCONN)
			report_no_syn(&call, -ret);
		return 0;
	}
	rec = socks_lookup(call.sk);
	if (!rec)
		return 0;
	rec->call_ret = ret;
	rec->ts_ret = now_ns();
	if (ret == 0 && !(rec->flags & SYNSCOPE_F_RESOLVED)) {
		recover_client(rec, call.sk);
		complete(rec, call.sk, SYNSCOPE_F_RETURNED | SYNSCOPE_F_RESOLVED | SYNSCOPE_F_RECOVERED);
		return 0;
	}
	/* Back to CLOSE with no error on the socket, yet connect() failed: the
	 * call's return says why (EADDRNOTAVAIL: the 4-tuple is taken). */
	if (ret < 0 && ret != -EINPROGRESS && ret != -EALREADY && ret != -EISCONN && !rec->err &&
	    rec->outcome == SYNSCOPE_OUT_ABANDONED && (rec->flags & SYNSCOPE_F_RESOLVED)) {
		rec->err = -ret;
		rec->outcome = outcome_of(-ret);
	}
	complete(rec, call.sk, SYNSCOPE_F_RETURNED);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_listen")
int handle_listen_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (hooks_only)
		return 0;
	struct inflight_call call = {.kind = CALL_LISTEN, .fd = (__s32)ctx->args[0],
				     .arg = (__u32)ctx->args[1]};

	begin_call(&call);
	return 0;
}

/* After listen() the port is final (listen() autobinds an unbound socket). */
SEC("tracepoint/syscalls/sys_exit_listen")
int handle_listen_exit(struct trace_event_raw_sys_exit *ctx)
{
	if (hooks_only)
		return 0;
	struct synscope_listener li = {};
	struct synscope_listener_key lk = {};
	struct inflight_call call;
	struct sock *sk;

	if (!end_call(CALL_LISTEN, &call) || ctx->ret != 0)
		return 0;
	sk = fd_to_sock(call.fd);
	if (!is_tcp(sk))
		return 0;
	lk.netns = sock_netns(sk);
	lk.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	li.tgid = bpf_get_current_pid_tgid() >> 32;
	li.backlog_req = call.arg;
	if (bpf_map_update_elem(&listeners, &lk, &li, BPF_ANY))
		count(listener_map_full);
	return 0;
}

/* Process-tree tracing: children of a traced process are traced too. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	if (hooks_only)
		return 0;
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	__u8 one = 1;

	if (!follow_forks || ptgid == ctgid || !bpf_map_lookup_elem(&traced_tgids, &ptgid))
		return 0;
	if (bpf_map_update_elem(&traced_tgids, &ctgid, &one, BPF_ANY))
		count(tgid_map_full);
	return 0;
}

/*
 * Process-tree tracing: a traced process that exits leaves the map, so its
 * pid, once reused, is not traced by mistake. signal->live reaches 0 when
 * the last thread of the group exits (do_exit(), before this tracepoint).
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *task)
{
	if (hooks_only)
		return 0;
	__u32 tgid = task->tgid;

	if (task->signal->live.counter == 0)
		bpf_map_delete_elem(&traced_tgids, &tgid);
	return 0;
}

#endif /* SYNSCOPE_SYSCALLS_BPF_H */
