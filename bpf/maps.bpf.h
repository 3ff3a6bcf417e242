// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * synscope's maps: counters, the ring buffer, per-socket and per-thread
 * state, listeners and the filters' tables.
 */
#ifndef SYNSCOPE_MAPS_BPF_H
#define SYNSCOPE_MAPS_BPF_H

/*
 * Counters, one copy per CPU (user space sums them): a global counter
 * bumped on every record is one cache line bouncing between CPUs.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct synscope_stats);
} stats SEC(".maps");

/*
 * One ring buffer per CPU, each its own map (created by user space,
 * --ringbuf-size shared among them): a producer never takes a lock or
 * writes a cache line another CPU's producer does. Records of one end can
 * then reach user space out of order (a close record before its handshake
 * record): the tracker waits for the late one.
 */
struct ringbuf_cpu {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096); /* the template; user space sizes each */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* the number of possible CPUs, set by user space */
	__type(key, __u32);
	__array(values, struct ringbuf_cpu);
} rbs SEC(".maps");

/*
 * --close: established ends not yet destroyed, by socket address (the id).
 * A new socket at an address still listed here means the kernel never
 * reported the old end's destruction (close_unseen).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768); /* resized by user space: --max-sockets */
	__type(key, __u64);
	__type(value, __u64);
} open_ends SEC(".maps");

/*
 * --close: recovered ends (recover.bpf.h) whose close state waits to start.
 * The syscall hooks that recover an end hold no trusted socket, and socket
 * storage needs one: the first state change or destruction of the socket
 * reported after (take_recovered()) starts it, from this. By socket
 * address; recovered_marks counts the entries, and the state hook looks
 * here only while it is not 0.
 */
struct recovered_end {
	__u64 id;    /* the end's handshake record */
	__u64 ts;    /* the syscall's return: its ESTABLISHED, as known */
	__u32 tuple; /* end_tuple() of the socket (close.bpf.h), against a reused address */
	__u8 role;
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct recovered_end);
} recovered_open SEC(".maps");

__u64 recovered_marks = 0;

/*
 * --close: how an established end closes, in the socket's own storage from
 * ESTABLISHED on. Every hook that touches it (state changes, resets,
 * destruction) has the trusted socket, and the kernel frees it with the
 * socket: no entry outlives its socket, none is ever met stale.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct synscope_close);
} closes SEC(".maps");

enum call_kind { CALL_CONNECT = 1, CALL_ACCEPT = 2, CALL_LISTEN = 3 };

/* A connect()/accept()/listen() in progress, in the calling thread's task storage. */
struct inflight_call {
	__u64 ts;    /* syscall entry, CLOCK_MONOTONIC ns */
	__u64 sk;    /* socket the call acted on, once known (SYN_SENT, fexit) */
	__s32 fd;    /* connect/listen: the socket fd argument */
	__u32 kind;  /* enum call_kind */
	__u32 arg;   /* listen: requested backlog; connect: sockaddr length */
	__u64 uaddr; /* connect: the caller's sockaddr (user pointer), read only on failure */
};

/* Task storage: no hashing, no bucket lock, freed with the thread (kind 0 = none). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight_call);
} inflight SEC(".maps");

/* The calling thread's in-flight call slot; NULL if it has none (or, with create, no memory). */
static __always_inline struct inflight_call *current_call(bool create)
{
	return bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* Listeners seen calling listen() (or seeded by user space for -p). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct synscope_listener_key);
	__type(value, struct synscope_listener);
} listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} traced_tgids SEC(".maps");

/*
 * Server children the handshake table had no room for (counted
 * sock_map_full), by socket address, with their local port: their accept()
 * must not write them as recovered (recover.bpf.h), which would count one
 * end twice. LRU: the oldest have long been accepted. A mark left by a
 * child never accepted stops the recovery of a later child at the same
 * address and port.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u16);
} untracked SEC(".maps");

/*
 * Server children no program saw created, reset in the accept queue
 * (unseen_child_closed()), by socket address, with their socket cookie
 * (tcp_disconnect() clears the remote port before the destruction): an
 * accept() that returns one recovers it and takes the mark; its
 * destruction with the mark still there counts it lost. A mark whose
 * destruction ran no program either is stale, its end lost too: the next
 * socket at its address to close, be destroyed or be recovered unseen
 * finds it under another cookie and counts it, and one left at exit is
 * counted by user space (loader_read_counts()). A hash, not LRU:
 * reset_unseen_marks counts the entries exactly, and destroy() looks here
 * only while it is not 0.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u64);
} reset_unseen SEC(".maps");

__u64 reset_unseen_marks = 0;

/* Deletes the reset_unseen mark at `key`, keeping reset_unseen_marks exact. */
static __always_inline void drop_reset_mark(__u64 key)
{
	if (!bpf_map_delete_elem(&reset_unseen, &key))
		__sync_fetch_and_sub(&reset_unseen_marks, 1);
}

/* -P: one flag per port. An array lookup is a few inlined instructions, a
 * hash lookup a helper call, and this runs several times per connection. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} port_filter SEC(".maps");

/*
 * Bumps one counter of this CPU's struct synscope_stats. Atomic even so: a
 * softirq may interrupt a program in process context on the same CPU.
 */
#define count(field)								\
	do {									\
		__u32 zero_ = 0;						\
		struct synscope_stats *s_ = bpf_map_lookup_elem(&stats, &zero_);	\
										\
		if (s_)								\
			__sync_fetch_and_add(&s_->field, 1);			\
	} while (0)

#endif /* SYNSCOPE_MAPS_BPF_H */
