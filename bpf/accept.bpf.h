// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The accept path: fexit/inet_csk_accept where the kernel allows it, else
 * the accept/accept4 syscall tracepoints and the new fd.
 */
#ifndef SYNSCOPE_ACCEPT_BPF_H
#define SYNSCOPE_ACCEPT_BPF_H

static __always_inline void begin_accept(struct trace_event_raw_sys_enter *ctx)
{
	struct inflight_call call = {.kind = CALL_ACCEPT, .fd = (__s32)ctx->args[0]};

	begin_call(&call);
}

SEC("tracepoint/syscalls/sys_enter_accept4")
int handle_accept4_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (hooks_only)
		return 0;
	begin_accept(ctx);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_accept")
int handle_accept_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (hooks_only)
		return 0;
	begin_accept(ctx);
	return 0;
}

static __always_inline void on_accept_return(int ret)
{
	struct synscope_handshake *rec;
	struct inflight_call call = {};
	bool seen = end_call(CALL_ACCEPT, &call);
	bool closed;
	__u64 key;

	if (ret < 0)
		return;
	/* fexit handed over the socket; otherwise resolve the new fd (a socket
	 * accept() just made: the lookup below is the only check it needs). */
	if (call.sk) {
		key = call.sk;
	} else {
		struct file *file;

		key = (__u64)fd_to_sock_unchecked(ret, &file);
	}
	if (!key)
		return;
	rec = socks_lookup(key);
	if (!rec) {
		recover_server(key, ret, &call, seen);
		return;
	}
	if (rec->role != SYNSCOPE_ROLE_SERVER)
		return;
	read_caller(rec);
	rec->fd = ret;
	rec->call_ret = ret;
	rec->ts_ret = now_ns();
	if (seen)
		rec->ts_call = call.ts;
	/* Reset while it waited in the queue: accept() returns it all the same. */
	closed = BPF_CORE_READ((struct sock *)key, __sk_common.skc_state) == TCP_CLOSE;
	if (closed)
		rec->err = BPF_CORE_READ((struct sock *)key, sk_err);
	complete(rec, key, SYNSCOPE_F_ACCEPTED | SYNSCOPE_F_RETURNED |
				   (seen ? SYNSCOPE_F_CALL_SEEN : 0) | (closed ? SYNSCOPE_F_CLOSED : 0));
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int handle_accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	if (hooks_only)
		return 0;
	on_accept_return(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int handle_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	if (hooks_only)
		return 0;
	on_accept_return(ctx->ret);
	return 0;
}

/*
 * fexit/inet_csk_accept: the socket handed to accept() without walking the
 * fd table. The prototype changed in 6.10 from (sk, flags, err, kern) to
 * (sk, struct proto_accept_arg *): read only the return value, which both
 * share. The fd is filled in by the syscall exit above.
 */
SEC("fexit/inet_csk_accept")
int handle_accept_fexit(__u64 *ctx)
{
	if (hooks_only)
		return 0;
	struct synscope_handshake *rec;
	struct inflight_call *call;
	__u64 key = 0;

	bpf_get_func_ret(ctx, &key);
	if (!key)
		return 0;
	rec = socks_lookup(key);
	if (!rec || rec->role != SYNSCOPE_ROLE_SERVER)
		return 0;
	call = current_call(false);
	if (call && call->kind == CALL_ACCEPT) {
		call->sk = key;
		__sync_fetch_and_or(&rec->flags, SYNSCOPE_F_FEXIT);
		return 0;
	}
	/* An in-kernel accept (no syscall): complete the end here, without fd. */
	read_caller(rec);
	rec->ts_ret = now_ns();
	complete(rec, key, SYNSCOPE_F_FEXIT | SYNSCOPE_F_ACCEPTED);
	return 0;
}

#endif /* SYNSCOPE_ACCEPT_BPF_H */
