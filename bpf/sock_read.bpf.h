// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reading sockets: direct loads through trusted BTF pointers, probe reads
 * for a socket found through an fd table, and the caller.
 */
#ifndef SYNSCOPE_SOCK_READ_BPF_H
#define SYNSCOPE_SOCK_READ_BPF_H

/*
 * Two ways to read a socket: direct loads where the verifier knows the
 * pointer (tp_btf/fexit arguments: cheap, on every handshake), and
 * BPF_CORE_READ() probe reads for a socket found through an fd table.
 */
static __always_inline __u64 sock_netns_btf(const struct sock *sk)
{
	return sk->__sk_common.skc_net.net->ns.inum;
}

/*
 * The local port of a socket the hook holds a trusted pointer to, host byte
 * order. tcp_set_state(CLOSE) releases the port (inet_put_port() zeroes
 * inet_num) before the tracepoint fires; inet_sport keeps it.
 */
static __always_inline __u16 local_port_btf(const struct sock *sk)
{
	__u16 port = sk->__sk_common.skc_num;

	/* The verifier allows direct loads only within struct sock. */
	return port ? port : bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
}

static __always_inline void read_endpoints_btf(struct synscope_handshake *rec,
					       const struct sock *sk)
{
	rec->family = sk->__sk_common.skc_family;
	rec->sport = local_port_btf(sk);
	rec->dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (rec->family == AF_INET6) {
		__builtin_memcpy(rec->saddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
		__builtin_memcpy(rec->daddr, &sk->__sk_common.skc_v6_daddr, 16);
	} else {
		*(__u32 *)rec->saddr = sk->__sk_common.skc_rcv_saddr;
		*(__u32 *)rec->daddr = sk->__sk_common.skc_daddr;
	}
}

static __always_inline __u64 sock_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* Ports of a socket, host byte order, as the socket holds them now. */
static __always_inline void read_ports(struct synscope_handshake *rec, const struct sock *sk)
{
	rec->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	/* tcp_set_state(CLOSE) releases the port (inet_put_port() zeroes
	 * inet_num) before the tracepoint fires; inet_sport keeps it. */
	if (!rec->sport)
		rec->sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	rec->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

/* Addresses and ports of a socket, as the socket holds them now. */
static __always_inline void read_endpoints(struct synscope_handshake *rec, const struct sock *sk)
{
	rec->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	read_ports(rec, sk);
	if (rec->family == AF_INET6) {
		BPF_CORE_READ_INTO(&rec->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&rec->daddr, sk, __sk_common.skc_v6_daddr);
	} else {
		BPF_CORE_READ_INTO((__u32 *)rec->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)rec->daddr, sk, __sk_common.skc_daddr);
	}
}

/*
 * The calling thread. Its comm is copied with two loads through the task's
 * BTF pointer, not bpf_get_current_comm() (a helper call and a string copy):
 * task->comm is always NUL-terminated (__set_task_comm() pads it).
 */
static __always_inline void read_caller(struct synscope_handshake *rec)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid();

	rec->pid = id >> 32;
	rec->tid = (__u32)id;
	_Static_assert(sizeof(rec->comm) == sizeof(task->comm), "comm sizes differ");
	__builtin_memcpy(rec->comm, task->comm, sizeof(rec->comm));
}

/* Read ISS/IRS from a socket that just reached ESTABLISHED. */
static __always_inline void read_isn(struct synscope_handshake *rec, const struct sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

	if (!tp)
		return;
	rec->iss = tp->snd_una - 1;
	rec->irs = tp->rcv_nxt - 1;
	/* Client: SYN retransmits; server child: req->num_retrans, copied into
	 * total_retrans by tcp_create_openreq_child(). */
	rec->retrans = tp->total_retrans;
}

#define SO_EE_ORIGIN_ICMP 2  /* include/uapi/linux/errqueue.h */
#define SO_EE_ORIGIN_ICMP6 3

/*
 * The errno of the ICMP error last queued on sk's error queue (0 if there
 * is none, or the last entry is something else, a transmit timestamp for
 * instance). ip_icmp_error() queues it before tcp_v4_err() sets sk_err or
 * sk_err_soft.
 */
static __always_inline int queued_icmp_errno(const struct sock *sk)
{
	struct sk_buff *skb = sk->sk_error_queue.prev;
	struct sock_exterr_skb *serr;
	__u8 origin;

	if (!skb || (void *)skb == (void *)&sk->sk_error_queue)
		return 0;
	serr = (struct sock_exterr_skb *)skb->cb;
	origin = BPF_CORE_READ(serr, ee.ee_origin);
	if (origin != SO_EE_ORIGIN_ICMP && origin != SO_EE_ORIGIN_ICMP6)
		return 0;
	return BPF_CORE_READ(serr, ee.ee_errno);
}

/*
 * current->files->fdt->fd[fd]->private_data->sk, unchecked: the file may not
 * be a socket, so the result is only good as a key to look up (as accept()'s
 * new fd is) or after fd_to_sock()'s check. The first hops are direct loads
 * through the task's BTF pointer (no helper call each); the fd array holds
 * plain pointers, read with probe reads.
 */
static __always_inline struct sock *fd_to_sock_unchecked(int fd, struct file **filep)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct socket *sock = NULL;
	struct file **fds, *file = NULL;
	struct fdtable *fdt;
	struct sock *sk = NULL;

	if (fd < 0)
		return NULL;
	fdt = task->files->fdt;
	if (!fdt || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	if (bpf_probe_read_kernel(&sock, sizeof(sock), &file->private_data) || !sock)
		return NULL;
	if (bpf_probe_read_kernel(&sk, sizeof(sk), &sock->sk))
		return NULL;
	*filep = file;
	return sk;
}

/* The socket behind fd in the current task; NULL if it is not a socket. */
static __always_inline struct sock *fd_to_sock(int fd)
{
	struct file *file = NULL;
	struct sock *sk = fd_to_sock_unchecked(fd, &file);
	struct socket *sock;

	if (!sk)
		return NULL;
	/* private_data of a socket file points to a socket whose file is it. */
	sock = BPF_CORE_READ(file, private_data);
	if (BPF_CORE_READ(sock, file) != file)
		return NULL;
	return sk;
}

static __always_inline bool is_tcp(struct sock *sk)
{
	return sk && BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP &&
	       BPF_CORE_READ(sk, sk_type) == SOCK_STREAM;
}

#endif /* SYNSCOPE_SOCK_READ_BPF_H */
