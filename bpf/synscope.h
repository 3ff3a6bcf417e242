/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * synscope event ABI: the contract between bpf/synscope.bpf.c and user/.
 *
 * Every ring-buffer record starts with a __u16 type. Fields are fixed
 * width with explicit padding; sizes are checked with _Static_assert in
 * user/decode.c. Units and byte order are written beside each field.
 * Timestamps ("mono ns") are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns());
 * user/decode.c turns them into CLOCK_BOOTTIME (CLOCK_MONOTONIC plus the time
 * spent suspended, measured when synscope starts), which is what every
 * output shows.
 */
#ifndef SYNSCOPE_H
#define SYNSCOPE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SYNSCOPE_COMM_LEN 16
#define SYNSCOPE_MAX_PORTS 64 /* entries of the -P port filter */

enum synscope_record_type {
	SYNSCOPE_REC_HANDSHAKE = 1, /* struct synscope_handshake */
	SYNSCOPE_REC_LINK = 2,      /* struct synscope_link */
	SYNSCOPE_REC_CLOSE = 3,     /* struct synscope_close (with --close) */
};

enum synscope_role {
	SYNSCOPE_ROLE_CLIENT = 1, /* the end that called connect() */
	SYNSCOPE_ROLE_SERVER = 2, /* the child socket a listener created */
};

/*
 * Outcome of a handshake, seen from one end. For a client it is derived
 * from sk->sk_err when the socket left SYN_SENT for CLOSE (set by
 * tcp_reset(), tcp_write_err(), tcp_v4_err()/tcp_v6_err()), or from the
 * errno connect() returned when no SYN was ever sent.
 */
enum synscope_outcome {
	SYNSCOPE_OUT_ESTABLISHED = 1, /* reached ESTABLISHED */
	SYNSCOPE_OUT_REFUSED = 2,     /* RST answered the SYN: ECONNREFUSED */
	SYNSCOPE_OUT_TIMEOUT = 3,     /* SYN retransmissions ran out: ETIMEDOUT */
	SYNSCOPE_OUT_UNREACHABLE = 4, /* ICMP unreachable: EHOSTUNREACH, ENETUNREACH */
	SYNSCOPE_OUT_ERROR = 5,       /* any other errno, in .err */
	SYNSCOPE_OUT_ABANDONED = 6,   /* closed by the application before the end */
};

/* synscope_handshake.flags */
enum synscope_flags {
	SYNSCOPE_F_CALL_SEEN = 1 << 0, /* connect()/accept() entry was traced (ts_call valid) */
	SYNSCOPE_F_RETURNED = 1 << 1,  /* connect()/accept() return was traced (ts_ret valid) */
	SYNSCOPE_F_RESOLVED = 1 << 2,  /* handshake ended: ESTABLISHED or CLOSE */
	SYNSCOPE_F_ACCEPTED = 1 << 3,  /* server end: accepted (an accept() returned this socket) */
	SYNSCOPE_F_FEXIT = 1 << 4,     /* server end: accept seen by fexit/inet_csk_accept */
	SYNSCOPE_F_NO_SYN = 1 << 5,    /* client: connect() failed before a SYN was sent */
	SYNSCOPE_F_CLOSED = 1 << 6,    /* reached CLOSE before the record left (e.g. reset in the accept queue) */
	SYNSCOPE_F_PEER = 1 << 7,      /* client: the server end set peer_id in the kernel (captures before 2026-12) */
	/*
	 * server end, with SYNSCOPE_F_ACCEPTED: accepted by a caller no hook saw
	 * (io_uring's IORING_OP_ACCEPT, an in-kernel accept, on the syscall
	 * path). Known from sk->sk_socket, set when accept grafted the child to
	 * a socket, read at the first state change the owner caused (close,
	 * shutdown) or, after one only the peer caused (SYNSCOPE_F_GRAFTED), at
	 * the socket's destruction. Caller, fd and ts_ret are unknown.
	 */
	SYNSCOPE_F_ACCEPT_UNSEEN = 1 << 8,
	/*
	 * Kernel side only, never in a record: the record left (or is not to
	 * be written), but deleting its entry in the handshake table's overflow
	 * map failed (a hash bucket lock already held on this CPU by the
	 * context the program interrupted, -EBUSY), so the entry stays until
	 * the socket's destruction or its address's reuse removes it.
	 */
	SYNSCOPE_F_EMITTED = 1 << 9,
	/*
	 * Set by user space, never by the kernel: the record was read from the
	 * handshake table (bpf/socks.bpf.h) when synscope stopped, its end
	 * still in flight: a client in SYN_SENT (outcome 0: the handshake had
	 * not resolved) or waiting for connect() to return; a server child in
	 * SYN_RECV (outcome 0), in the accept queue, or accepted and waiting
	 * for accept() to return. A
	 * client recorded in SYN_SENT has its remote address and port; its
	 * local port and address are those bound before connect() (0 and the
	 * unspecified address if none): the kernel chooses them after the state
	 * tracepoint fires.
	 */
	SYNSCOPE_F_IN_FLIGHT = 1 << 10,
	/*
	 * Kernel side (readers ignore it): a server end not yet accepted was
	 * grafted to a socket when its peer's FIN or RST moved it (ESTABLISHED
	 * to CLOSE_WAIT or CLOSE). The accept() that grafted it may still be
	 * on its way out, its exit hook about to complete the end with its
	 * caller, so the end is not yet called accepted unseen: that waits for
	 * a state change the owner causes, or the socket's destruction.
	 */
	SYNSCOPE_F_GRAFTED = 1 << 11,
	/*
	 * The state tracepoint never reported how this end's handshake ended
	 * (nor, for a server end, the child's creation), yet the syscall proved
	 * it established: connect() returned 0, or accept() returned the socket.
	 * The record was read from the socket at that return (probe reads):
	 * addresses, ports, ISS and IRS (RFC 9293: SND.UNA and RCV.NXT less the
	 * sequence space acknowledged and received since), SYN retransmissions.
	 * ts_end is 0 (unknown); a server end's ts_syn and acceptq too. A server
	 * end never accepted is recovered likewise from its listener's accept
	 * queue when the listener closes: no caller, SYNSCOPE_F_RETURNED clear,
	 * ts_ret the time of that close. With --close its close record starts
	 * there (recovered_open). Seen when the kernel changed the socket's state
	 * in a softirq that ran no BPF program (README, "What the kernel does not
	 * let synscope see"), and for a child created before synscope started.
	 */
	SYNSCOPE_F_RECOVERED = 1 << 12,
};

/*
 * One record per connection end, emitted once the end is complete:
 *  - client: handshake resolved (SYN_SENT -> ESTABLISHED or CLOSE) and
 *    connect() returned (a non-blocking connect() returns EINPROGRESS first);
 *  - server: handshake resolved (SYN_RECV -> ESTABLISHED) and accept()
 *    returned it, or the child was destroyed without ever being accepted
 *    (tcp:tcp_destroy_sock). A child reset while in the accept queue is
 *    still returned by accept(): it carries SYNSCOPE_F_CLOSED and .err.
 */
struct synscope_handshake {
	__u16 type;      /* SYNSCOPE_REC_HANDSHAKE */
	__u8 role;       /* enum synscope_role */
	__u8 outcome;    /* enum synscope_outcome */
	__u16 family;    /* AF_INET (2) or AF_INET6 (10), as the socket has it */
	__u16 sport;     /* local port, host byte order (sk->__sk_common.skc_num) */
	__u16 dport;     /* remote port, host byte order */
	__u16 pad0;
	__u32 flags;     /* enum synscope_flags; set with atomic OR (two CPUs may race) */
	__s32 err;       /* positive errno (sk->sk_err, or -connect() return); 0 if none */
	__u8 saddr[16];  /* local address, network byte order; IPv4 in bytes 0..3 */
	__u8 daddr[16];  /* remote address, network byte order; IPv4 in bytes 0..3 */
	__u32 iss;       /* initial send sequence number (RFC 9293 ISS): snd_una - 1 at ESTABLISHED */
	__u32 irs;       /* initial receive sequence number (RFC 9293 IRS): rcv_nxt - 1 at ESTABLISHED */
	__u32 pid;       /* tgid of the connect()/accept() caller; 0 if never accepted */
	__u32 tid;       /* thread id of that caller */
	__s32 fd;        /* fd of the connection in the caller; -1 if unknown */
	__s32 call_ret;  /* connect(): 0 or -errno; accept(): the new fd */
	__u32 retrans;   /* SYN (client) or SYN-ACK (server) retransmissions: tcp_sock.total_retrans */
	__u32 acceptq;   /* server: accept-queue depth including this connection, at completion */
	__u32 backlog;   /* server: effective backlog, sk_max_ack_backlog = min(backlog, somaxconn) */
	__u32 backlog_req; /* server: backlog passed to listen(), 0 if that call was not traced */
	__u32 pad1;
	__u64 id;        /* per-run id of this connection end, unique, from 1; numbered per CPU, not in time order */
	__u64 peer_id;   /* id of the other end on this host, 0 if unknown; set by user space's join (user/join.c) */
	__u64 netns;     /* network namespace inode number */
	__u64 ts_call;   /* connect() entry (client) / accept() entry (server), mono ns */
	__u64 ts_syn;    /* client: SYN_SENT (SYN sent); server: child in SYN_RECV, mono ns */
	__u64 ts_end;    /* ESTABLISHED, or CLOSE for a failed handshake, mono ns */
	__u64 ts_ret;    /* connect()/accept() return, mono ns */
	char comm[SYNSCOPE_COMM_LEN]; /* task comm of the caller, NUL-terminated */
};

/*
 * A late join: client_id's peer is server_id. Sent by synscope's kernel
 * side until 2026-12 (when the join moved to user space, user/join.c), so
 * found only in captures written by those versions; the tracker still
 * reads it, and writes one itself when a join is found after one of the
 * two ends was printed.
 */
struct synscope_link {
	__u16 type; /* SYNSCOPE_REC_LINK */
	__u16 pad[3];
	__u64 client_id;
	__u64 server_id;
};

#define SYNSCOPE_CLOSE_STATES 8

/* synscope_close.flags */
enum synscope_close_flags {
	SYNSCOPE_CF_RST_RECEIVED = 1 << 0, /* tcp:tcp_receive_reset fired on this socket */
	SYNSCOPE_CF_FIN_RECEIVED = 1 << 1, /* the peer's FIN had arrived at CLOSE (SOCK_DONE, set by tcp_fin()) */
	SYNSCOPE_CF_TIME_WAIT = 1 << 2,    /* the final CLOSE handed the connection to a timewait socket */
	SYNSCOPE_CF_TRUNCATED = 1 << 3,    /* more than SYNSCOPE_CLOSE_STATES states: the rest dropped */
	/*
	 * The path holds a state the state tracepoint never reported (a run the
	 * kernel skipped or never made), filled in: a state the next reported
	 * change names as its old state (entered at that change's ts), or CLOSE
	 * at tcp:tcp_destroy_sock (entered then). Each such ts is a little late.
	 */
	SYNSCOPE_CF_STATES_UNREPORTED = 1 << 4,
	/*
	 * The end's handshake was recovered (SYNSCOPE_F_RECOVERED): the state
	 * tracepoint never reported its ESTABLISHED, so ts[0] is the return of
	 * the connect() or accept() that proved it, and the close state began
	 * at the first state change or destruction reported after it.
	 */
	SYNSCOPE_CF_RECOVERED = 1 << 5,
};

/*
 * How one established connection end closed (--close), emitted when the
 * socket is destroyed (tcp:tcp_destroy_sock). states[] lists the kernel TCP
 * states (include/net/tcp_states.h numbers) from ESTABLISHED on, ts[] when
 * each was entered. The state tracepoint never shows TIME_WAIT:
 * tcp_time_wait() hands the connection to a timewait socket and moves the
 * full socket to CLOSE. A CLOSE from FIN_WAIT1, FIN_WAIT2 or CLOSING without
 * error or RST is that hand-over (CF_TIME_WAIT): with the peer's FIN already
 * in (CF_FIN_RECEIVED) it is TIME_WAIT proper, without it the timewait socket
 * waits in its FIN_WAIT2 substate for that FIN. Either way the side that
 * closed first keeps the TIME_WAIT.
 */
struct synscope_close {
	__u16 type;     /* SYNSCOPE_REC_CLOSE */
	__u8 role;      /* enum synscope_role */
	__u8 nstates;   /* entries used in states[] and ts[] */
	__u32 flags;    /* enum synscope_close_flags */
	__s32 err;      /* sk->sk_err at CLOSE (ECONNRESET after an RST), 0 if none */
	__u32 pad;
	__u64 id;       /* the id of this end's handshake record */
	__u64 peer_id;  /* the other end's id, 0 if unknown; set by user space's join (user/join.c) */
	__u8 states[SYNSCOPE_CLOSE_STATES];
	__u64 ts[SYNSCOPE_CLOSE_STATES]; /* mono ns */
	__u64 ts_destroy; /* the socket was freed, mono ns */
};

/*
 * --metrics: handshakes aggregated in the kernel, read by user space at
 * each scrape (user/metrics.c), one copy per CPU.
 *
 * A histogram of durations: buckets[i] counts durations d with
 * 2^(i-1) us < d <= 2^i us (bucket 0: d <= 1 us), the last bucket those
 * above 2^(SYNSCOPE_HIST_BUCKETS-2) us (about 67 s); sum_ns is their sum.
 */
#define SYNSCOPE_HIST_BUCKETS 28

struct synscope_hist {
	__u64 buckets[SYNSCOPE_HIST_BUCKETS];
	__u64 sum_ns;
};

/* The `metrics` per-CPU array's one entry. Index [role][outcome] by the enums above (0 unused). */
struct synscope_metrics {
	__u64 handshakes[3][8];          /* connection ends by role and outcome, as their records */
	__u64 recovered[3];              /* of those, by role: read from the socket (SYNSCOPE_F_RECOVERED) */
	struct synscope_hist connect[8]; /* client: connect() entry (else SYN_SENT) to ESTABLISHED or failure, by outcome */
};

/*
 * A set of the handshake table (bpf/socks.bpf.h), one cache line: the
 * socket addresses of its slots (0: free) and how many of its ends went to
 * the overflow map. User space sizes the table from --max-sockets (a power
 * of two sets, at least 4; as many overflow entries as sets) and reads the
 * ends still in it at exit.
 */
#define SYNSCOPE_SOCK_WAYS 7

struct synscope_sock_set {
	__u64 keys[SYNSCOPE_SOCK_WAYS];
	__u32 overflow;
	__u32 pad;
};

/* The `listener_metrics` per-CPU hash: one entry per listener (struct synscope_listener_key). */
struct synscope_listener_metrics {
	struct synscope_hist accept_wait; /* server: ESTABLISHED to the accept() return, accepted ends seen returned */
	__u64 overflows;      /* third ACKs dropped on a full accept queue: skb:kfree_skb, TCP_LISTEN_OVERFLOW (6.15+) */
	__u64 synack_retrans; /* SYN-ACKs retransmitted: tcp:tcp_retransmit_synack */
};

/*
 * One per listening socket of synscope's network namespace, written by the
 * iter/tcp program (dump_listeners) when user space reads it: at each
 * --metrics scrape, for the listener records (-i, and at exit).
 */
struct synscope_listener_row {
	__u64 netns;    /* network namespace inode number */
	__u8 addr[16];  /* bound address, network byte order; IPv4 in bytes 0..3 */
	__u16 family;   /* AF_INET or AF_INET6 */
	__u16 port;     /* host byte order */
	__u32 acceptq;  /* children waiting for accept(): sk_ack_backlog */
	__u32 backlog;  /* accept-queue limit: sk_max_ack_backlog */
	__u32 synq;     /* request sockets (SYN queue): icsk_accept_queue.qlen */
	__u32 drops;    /* every drop the listener counted (tcp_listendrop()): sk_drops */
	__u32 pad;
};

/*
 * Counters kept by the BPF side, one copy per CPU (the `stats` per-CPU array),
 * summed by user space at exit.
 * Nothing is dropped silently: each failure path bumps one of these.
 */
/*
 * The `listeners` map: listening sockets seen calling listen(), or seeded by
 * user space for -p PID (its listeners opened before synscope started). A
 * server end looks its listener up by the child's netns and local port.
 */
struct synscope_listener_key {
	__u64 netns;  /* network namespace inode number */
	__u16 port;   /* local port, host byte order */
	__u16 pad[3]; /* zero */
};

struct synscope_listener {
	__u32 tgid;        /* the caller of listen() (-p: PID) */
	__u32 backlog_req; /* backlog argument of listen(); 0 when seeded by user space */
};

struct synscope_stats {
	__u64 ends_tracked;      /* connection ends that got an entry */
	__u64 records_emitted;   /* handshake records submitted */
	__u64 ringbuf_drops;     /* bpf_ringbuf_output() failed: ring buffer full */
	__u64 sock_map_full;     /* socket entry could not be created: map full */
	__u64 call_map_full;     /* in-flight syscall could not be recorded (no task storage) */
	__u64 index_map_full;    /* client could not be indexed for joining (captures before 2026-12; 0 since) */
	__u64 listener_map_full; /* listen() could not be recorded */
	__u64 tgid_map_full;     /* forked child could not be added to the traced tree */
	__u64 links_emitted;     /* late joins sent as SYNSCOPE_REC_LINK (captures before 2026-12; 0 since) */
	__u64 nested_handled;    /* events a *_nested program handled for its skipped primary */
	__u64 sock_stale;        /* socket entry found at a new end's address and replaced: its end was lost */
	__u64 close_storage_full; /* --close: no socket storage for an established end's close state */
	__u64 link_drops;        /* a SYNSCOPE_REC_LINK not submitted: ring buffer full (captures before 2026-12; 0 since) */
	__u64 metrics_map_full;  /* --metrics: a listener's histogram could not be created (listener_metrics full) */
	/*
	 * --close: an established end's socket address taken by a new socket
	 * (SYN_SENT, or a listener's new child) while the end was still open
	 * for synscope: the kernel freed it without its CLOSE or
	 * tcp:tcp_destroy_sock tracepoint firing (seen under overlapping
	 * teardown on 6.18, with classic tracepoints as witnesses too). Its
	 * close record is lost. Ends still open at exit are user space's count
	 * of the open_ends map. Also counted: an end recovered at connect() or
	 * accept() (SYNSCOPE_F_RECOVERED), whose close state never started.
	 */
	__u64 close_unseen;
	/*
	 * A connection end destroyed (tcp:tcp_destroy_sock) before the state
	 * tracepoint had reported how its handshake ended (neither ESTABLISHED
	 * nor CLOSE came: a run the kernel skipped or never made), with no
	 * failed connect() to say it: its handshake record is lost. A client
	 * whose connect() failed is written with that errno instead. Also
	 * counted: a server child never seen created that left the accept
	 * queue never accepted (unseen_child_closed(), bpf/handshake.bpf.h).
	 */
	__u64 handshake_unseen;
};

#endif /* SYNSCOPE_H */
