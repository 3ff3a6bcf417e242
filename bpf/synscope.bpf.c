// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * synscope kernel side: one record per TCP connection end, built in the
 * kernel from the state tracepoint and the syscalls that made the end.
 *
 *  client:  connect() entry -> SYN_SENT -> ESTABLISHED | CLOSE -> connect() return
 *  server:  child in SYN_RECV -> ESTABLISHED -> accept() return | CLOSE
 *
 * A handshake record under construction lives in `socks`, keyed by the
 * socket's address, until it leaves (or the socket is destroyed); --close
 * state lives in the socket's own storage. The address never leaves the
 * kernel: records carry per-run ids.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "synscope.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define SOCK_STREAM 1
#define EINPROGRESS 115
#define EALREADY 114
#define EISCONN 106
#define ECONNREFUSED 111
#define ETIMEDOUT 110
#define EHOSTUNREACH 113
#define ENETUNREACH 101
#define EEXIST 17

/* TCP states: the kernel's own TCP_* enum (include/net/tcp_states.h), from vmlinux.h. */

/* Configuration, set by user space before load. */
const volatile __u16 filter_family = 0; /* 0: any, AF_INET (incl. v4-mapped), AF_INET6 */
const volatile bool filter_ports = false; /* only ends with a local or remote port in port_filter */
const volatile bool filter_tgids = false; /* only ends whose caller's tgid is in traced_tgids */
const volatile bool follow_forks = false; /* children of traced tgids are traced too */
/*
 * Wake user space once a CPU has submitted this many bytes since it last
 * did (0: on every record the consumer has caught up with, the kernel's
 * default). User space sets it to --wakeup-bytes divided by the number of
 * CPUs and also drains on a timer, so nothing waits longer than its poll
 * interval. Counting per CPU replaces bpf_ringbuf_query(), whose read of
 * the producer and consumer positions is a cache line the other CPUs and
 * the reader keep writing.
 */
const volatile __u64 wakeup_bytes_per_cpu = 0;
/* --close: keep each established end until its socket dies and report how it closed. */
const volatile bool track_close = false;
/*
 * make bench's floor (--hooks-only): every program returns at once, so a
 * run measures what the attached hooks cost by themselves. The verifier
 * prunes the test when it is false.
 */
const volatile bool hooks_only = false;

static __u64 next_id;

/*
 * Record stamps: CLOCK_MONOTONIC. bpf_ktime_get_boot_ns() also reads the
 * boot offset from the timekeeper's core cache line, written on every tick:
 * 60-80 ns more per read here, at 8 reads per connection. User space adds
 * the boot offset (decode.c).
 */
#define now_ns() bpf_ktime_get_ns()

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

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by user space (--ringbuf-size) */
} rb SEC(".maps");

/*
 * A connection end's handshake record under construction, keyed by struct
 * sock address, from SYN_SENT (or the child's creation) until the record
 * leaves. A hash, not socket storage: the syscall hooks that complete it
 * hold only an untrusted socket pointer.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768); /* resized by user space */
	__type(key, __u64);
	__type(value, struct synscope_handshake);
} socks SEC(".maps");

/* New entries start from this. */
static const struct synscope_handshake zero_end;

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

/*
 * --close: the server id of a local client, set when its server end joins
 * it (after the client's close state was created) and taken when the
 * client is destroyed. Keyed by the client's id, which is never reused.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768); /* resized by user space, as socks */
	__type(key, __u64);
	__type(value, __u64);
} client_peers SEC(".maps");

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
struct listener_key {
	__u64 netns;
	__u16 port; /* host byte order */
	__u16 pad[3];
};

struct listener_info {
	__u32 tgid;        /* caller of listen() */
	__u32 backlog_req; /* backlog argument of listen() */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct listener_key);
	__type(value, struct listener_info);
} listeners SEC(".maps");

/*
 * Established clients, indexed by their 4-tuple and ISS/IRS so that the
 * server end created a moment later on this host finds its peer. LRU:
 * clients of remote servers are never looked up and simply age out.
 */
struct join_key {
	__u8 caddr[16]; /* client address, IPv4 as ::ffff:a.b.c.d */
	__u8 saddr[16]; /* server address, same form */
	__u16 cport;
	__u16 sport;
	__u32 c_iss;
	__u32 c_irs;
};

struct join_val {
	__u64 sk;
	__u64 id;
};

/* Per-CPU LRU lists (BPF_F_NO_COMMON_LRU): no global LRU lock per update. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(max_entries, 16384);
	__type(key, struct join_key);
	__type(value, struct join_val);
} join_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} traced_tgids SEC(".maps");

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

/*
 * The kernel does not run a tp_btf program on a CPU where that same program
 * is already running (__bpf_trace_run() in kernel/trace/bpf_trace.c, 6.2+):
 * a softirq that interrupts handle_set_state() in process context and
 * changes another socket's state would go unseen, counted only in the
 * program's recursion_misses. So each hook that can fire in both contexts
 * has a second program, attached after the first (tracer.c), that handles
 * exactly the events its primary was skipped for.
 *
 * How the fallback knows: the primary notes each event it runs for (the
 * socket and what happened to it) in a per-CPU set, first thing; the
 * fallback, which runs right after it for the same event, takes the note
 * out, and handles the event itself when there is none. A flag "the primary
 * is running" would not do: the kernel marks the primary active before its
 * first instruction and after its last, and a softirq landing in those
 * gaps was skipped unseen (about a third of the skips under the
 * overlapping-teardown load). Notes are per event, so a softirq between
 * the two programs, or a pre-6.2 kernel that runs the primary nested, finds
 * its own note. At most one note per context is outstanding; a note whose
 * fallback the kernel skipped stays behind until its slot is reused.
 */
enum nest_hook { NEST_SET_STATE, NEST_DESTROY, NEST_RESET, NEST_HOOKS };

#define NOTE_SLOTS 8

struct event_note {
	__u64 sk;   /* 0: free */
	__u32 what; /* set_state: old << 8 | new; others 0 */
	__u32 seq;  /* age, for reuse when no slot is free */
};

/* Per-CPU working state: the notes above, and the wakeup accounting. */
struct cpu_state {
	struct event_note notes[NEST_HOOKS][NOTE_SLOTS];
	__u32 seq;
	/*
	 * A fallback is running here (in process context): a softirq's events
	 * skip it, so their notes would never be taken out, and a burst of
	 * them would push out the note the interrupted fallback is about to
	 * look for. The primary notes nothing then.
	 */
	__u8 fallback_running[NEST_HOOKS];
	__u8 pad;
	__u64 unwoken; /* bytes this CPU submitted since it last woke the reader */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_state);
} cpu SEC(".maps");

static __always_inline struct cpu_state *this_cpu(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cpu, &zero);
}

/*
 * In the primary, before anything else: this event is taken care of. The
 * note goes in place of an older one for the same socket address (left by a
 * fallback the kernel skipped: the socket has moved on, or the address was
 * freed and reused), else in a free slot, else in place of the oldest.
 */
static __always_inline void note_event(int hook, const void *sk, __u32 what)
{
	struct cpu_state *c = this_cpu();
	struct event_note *slot = NULL, *free = NULL, *oldest = NULL, *n;
	__u32 age = 0;
	int i;

	if (!c || c->fallback_running[hook])
		return;
	for (i = 0; i < NOTE_SLOTS; i++) {
		n = &c->notes[hook][i];
		if (n->sk == (__u64)sk) {
			slot = n;
			break;
		}
		if (!n->sk) {
			if (!free)
				free = n;
		} else if (!oldest || c->seq - n->seq > age) {
			age = c->seq - n->seq;
			oldest = n;
		}
	}
	if (!slot)
		slot = free ? free : oldest;
	if (!slot)
		return;
	/* The socket first: it claims the slot, so a softirq arriving now
	 * takes another one. */
	slot->sk = (__u64)sk;
	slot->what = what;
	slot->seq = ++c->seq;
}

/* In the fallback: true when the primary did not run for this event. */
static __always_inline bool primary_was_skipped(struct cpu_state *c, int hook, const void *sk,
						__u32 what)
{
	struct event_note *n;
	int i;

	for (i = 0; i < NOTE_SLOTS; i++) {
		n = &c->notes[hook][i];
		if (n->sk == (__u64)sk && n->what == what) {
			n->sk = 0;
			return false;
		}
	}
	count(nested_handled);
	return true;
}

/*
 * A hook's two programs on tracepoint TP: NAME runs CALL for every event,
 * NAME_nested only for the events the kernel skipped NAME for. SK and WHAT
 * identify an event (a socket cannot make the same move twice in a row).
 */
#define PRIMARY_AND_FALLBACK(TP, NAME, HOOK, SK, WHAT, CALL, ...)		\
	SEC("tp_btf/" TP)							\
	int BPF_PROG(NAME, __VA_ARGS__)						\
	{									\
		if (hooks_only)							\
			return 0;						\
		note_event(HOOK, SK, WHAT);					\
		CALL;								\
		return 0;							\
	}									\
										\
	SEC("tp_btf/" TP)							\
	int BPF_PROG(NAME##_nested, __VA_ARGS__)				\
	{									\
		struct cpu_state *c_ = this_cpu();				\
										\
		if (hooks_only || !c_)						\
			return 0;						\
		c_->fallback_running[HOOK] = 1;					\
		if (primary_was_skipped(c_, HOOK, SK, WHAT))			\
			CALL;							\
		c_->fallback_running[HOOK] = 0;					\
		return 0;							\
	}

static __always_inline bool tgid_allowed(__u32 tgid)
{
	return !filter_tgids || bpf_map_lookup_elem(&traced_tgids, &tgid);
}

static __always_inline bool ports_allowed(__u16 sport, __u16 dport)
{
	__u32 s = sport, d = dport;
	__u8 *hit;

	if (!filter_ports)
		return true;
	hit = bpf_map_lookup_elem(&port_filter, &s);
	if (hit && *hit)
		return true;
	hit = bpf_map_lookup_elem(&port_filter, &d);
	return hit && *hit;
}

static __always_inline bool is_v4mapped(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
}

static __always_inline bool is_unspecified(const __u8 *a)
{
	const __u64 *w = (const __u64 *)a;

	return w[0] == 0 && w[1] == 0;
}

/* -4 counts IPv4 carried by an IPv6 socket (::ffff:a.b.c.d) as IPv4. */
static __always_inline bool family_allowed(__u16 family, const __u8 *daddr)
{
	if (!filter_family)
		return true;
	if (family == AF_INET6 && is_v4mapped(daddr))
		family = AF_INET;
	return family == filter_family;
}

static __always_inline void to_v6(__u8 *out, const __u8 *addr, __u16 family)
{
	if (family == AF_INET6) {
		__builtin_memcpy(out, addr, 16);
		return;
	}
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, addr, 4);
}

/*
 * Two ways to read a socket: direct loads where the verifier knows the
 * pointer (tp_btf/fexit arguments: cheap, on every handshake), and
 * BPF_CORE_READ() probe reads for a socket found through an fd table.
 */
static __always_inline __u64 sock_netns_btf(const struct sock *sk)
{
	return sk->__sk_common.skc_net.net->ns.inum;
}

static __always_inline void read_endpoints_btf(struct synscope_handshake *rec,
					       const struct sock *sk)
{
	rec->family = sk->__sk_common.skc_family;
	rec->sport = sk->__sk_common.skc_num;
	/* tcp_set_state(CLOSE) releases the port (inet_put_port() zeroes
	 * inet_num) before the tracepoint fires; inet_sport keeps it. */
	if (!rec->sport) /* the verifier allows direct loads only within struct sock */
		rec->sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
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

/* Addresses and ports of a socket, as the socket holds them now. */
static __always_inline void read_endpoints(struct synscope_handshake *rec, const struct sock *sk)
{
	rec->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	rec->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	/* tcp_set_state(CLOSE) releases the port (inet_put_port() zeroes
	 * inet_num) before the tracepoint fires; inet_sport keeps it. */
	if (!rec->sport)
		rec->sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	rec->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (rec->family == AF_INET6) {
		BPF_CORE_READ_INTO(&rec->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&rec->daddr, sk, __sk_common.skc_v6_daddr);
	} else {
		BPF_CORE_READ_INTO((__u32 *)rec->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)rec->daddr, sk, __sk_common.skc_daddr);
	}
}

static __always_inline void read_caller(struct synscope_handshake *rec)
{
	__u64 id = bpf_get_current_pid_tgid();

	rec->pid = id >> 32;
	rec->tid = (__u32)id;
	bpf_get_current_comm(&rec->comm, sizeof(rec->comm));
}

/*
 * Sends one record to user space and counts it (or its loss: a record, or
 * a link, which is a join and no record). A CPU wakes
 * the reader once it has submitted wakeup_bytes_per_cpu since it last did;
 * a softirq interleaving the unlocked count here only shifts one wakeup.
 */
static __always_inline void submit(void *data, __u64 size, bool link)
{
	struct cpu_state *c;
	__u64 flags = 0;

	if (wakeup_bytes_per_cpu) {
		c = this_cpu();
		flags = BPF_RB_NO_WAKEUP;
		if (c && (c->unwoken += size) >= wakeup_bytes_per_cpu) {
			c->unwoken = 0;
			flags = BPF_RB_FORCE_WAKEUP;
		}
	}
	if (bpf_ringbuf_output(&rb, data, size, flags)) {
		if (link)
			count(link_drops);
		else
			count(ringbuf_drops);
	} else if (link)
		count(links_emitted);
	else
		count(records_emitted);
}

/* The handshake record leaves, and its entry with it. */
static __always_inline void emit(struct synscope_handshake *rec, __u64 key)
{
	submit(rec, sizeof(*rec), false);
	bpf_map_delete_elem(&socks, &key);
}

/*
 * Publishes `set` in rec->flags and emits the record if that completed it:
 * handshake resolved, and connect() returned (client) or accept() returned
 * it (server). The two halves can arrive at once on two CPUs (accept() may
 * dequeue a child before its softirq marks it ESTABLISHED): the atomic OR
 * lets exactly one of them see the record complete. Fields are written
 * before calling this.
 */
static __always_inline void complete(struct synscope_handshake *rec, __u64 key, __u32 set)
{
	__u32 need = SYNSCOPE_F_RESOLVED | (rec->role == SYNSCOPE_ROLE_CLIENT ? SYNSCOPE_F_RETURNED
									       : SYNSCOPE_F_ACCEPTED);
	__u32 old = __sync_fetch_and_or(&rec->flags, set);

	if ((old & need) != need && ((old | set) & need) == need)
		emit(rec, key);
}

static __always_inline __u8 outcome_of(int err)
{
	switch (err) {
	case 0:
		return SYNSCOPE_OUT_ABANDONED;
	case ECONNREFUSED:
		return SYNSCOPE_OUT_REFUSED;
	case ETIMEDOUT:
		return SYNSCOPE_OUT_TIMEOUT;
	case EHOSTUNREACH:
	case ENETUNREACH:
		return SYNSCOPE_OUT_UNREACHABLE;
	default:
		return SYNSCOPE_OUT_ERROR;
	}
}

/* Starts a connection end's record: type, role, no fd yet, a per-run id. */
static __always_inline void init_end(struct synscope_handshake *rec, __u8 role)
{
	count(ends_tracked);
	rec->type = SYNSCOPE_REC_HANDSHAKE;
	rec->role = role;
	rec->fd = -1;
	rec->id = __sync_fetch_and_add(&next_id, 1) + 1;
}

/*
 * A new entry for the socket at `key`. One already there belongs to a dead
 * socket whose address was reused without the hooks seeing it end (a
 * skipped run, or an end lost to a full map): it is replaced, and counted.
 */
static __always_inline struct synscope_handshake *new_end(__u64 key, __u8 role)
{
	struct synscope_handshake *rec;
	long err;

	err = bpf_map_update_elem(&socks, &key, &zero_end, BPF_NOEXIST);
	if (err == -EEXIST) {
		count(sock_stale);
		err = bpf_map_update_elem(&socks, &key, &zero_end, BPF_ANY);
	}
	if (err) {
		count(sock_map_full);
		return NULL;
	}
	rec = bpf_map_lookup_elem(&socks, &key);
	if (rec)
		init_end(rec, role);
	return rec;
}

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

static __always_inline void index_client(struct synscope_handshake *rec, __u64 key)
{
	struct join_key jk = {};
	struct join_val jv = {.sk = key, .id = rec->id};

	to_v6(jk.caddr, rec->saddr, rec->family);
	to_v6(jk.saddr, rec->daddr, rec->family);
	jk.cport = rec->sport;
	jk.sport = rec->dport;
	jk.c_iss = rec->iss;
	jk.c_irs = rec->irs;
	if (bpf_map_update_elem(&join_index, &jk, &jv, BPF_ANY))
		count(index_map_full);
}

/* Tells user space that client_id's peer is server_id (its record has left). */
static __always_inline void send_link(__u64 client_id, __u64 server_id)
{
	struct synscope_link link = {.type = SYNSCOPE_REC_LINK,
				     .client_id = client_id,
				     .server_id = server_id};

	submit(&link, sizeof(link), true);
}

/* Server child reached ESTABLISHED: find the client end of the same connection. */
static __always_inline void join_server(struct synscope_handshake *srv)
{
	const __u32 client_done = SYNSCOPE_F_RESOLVED | SYNSCOPE_F_RETURNED;
	struct synscope_handshake *cli;
	struct join_key jk = {};
	struct join_val *jv;
	__u32 old;

	to_v6(jk.caddr, srv->daddr, srv->family);
	to_v6(jk.saddr, srv->saddr, srv->family);
	jk.cport = srv->dport;
	jk.sport = srv->sport;
	jk.c_iss = srv->irs;
	jk.c_irs = srv->iss;
	jv = bpf_map_lookup_elem(&join_index, &jk);
	if (!jv)
		return;
	srv->peer_id = jv->id;
	cli = bpf_map_lookup_elem(&socks, &jv->sk);
	old = client_done;
	/*
	 * The client record may be leaving on another CPU right now: complete()
	 * copies it only after its own atomic OR on flags. If our OR comes first
	 * (the client is not complete in `old`), that copy carries peer_id;
	 * otherwise it may not, and a LINK says it again.
	 */
	if (cli && cli->id == jv->id) {
		cli->peer_id = srv->id;
		old = __sync_fetch_and_or(&cli->flags, SYNSCOPE_F_PEER);
	}
	if ((old & client_done) == client_done)
		send_link(jv->id, srv->id);
	/* The client's close state is out of reach here (its socket pointer
	 * is a plain number): its destroy picks the peer up. */
	if (track_close && bpf_map_update_elem(&client_peers, &jv->id, &srv->id, BPF_ANY))
		count(index_map_full);
	bpf_map_delete_elem(&join_index, &jk);
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

/* LISTEN -> SYN_RECV on the child, created by inet_csk_clone_lock() when the
 * third ACK arrives (or at the SYN, with TCP Fast Open). */
static __always_inline void on_child_created(const struct sock *sk, __u64 key)
{
	struct listener_key lk = {};
	struct listener_info *li;
	struct synscope_handshake *rec;
	__u8 daddr[16];
	__u16 dport;

	/*
	 * Before 6.x reordered inet_csk_clone_lock(), this tracepoint fired
	 * before the child got its remote port and (IPv6) addresses: what is
	 * still zero is undecided here and checked again at ESTABLISHED.
	 */
	lk.port = sk->__sk_common.skc_num;
	dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (dport && !ports_allowed(lk.port, dport))
		return;
	if (filter_family) {
		__builtin_memcpy(daddr, &sk->__sk_common.skc_v6_daddr, 16);
		if (!is_unspecified(daddr) && !family_allowed(sk->__sk_common.skc_family, daddr))
			return;
	}
	lk.netns = sock_netns_btf(sk);
	li = bpf_map_lookup_elem(&listeners, &lk);
	/* With a process filter, the child belongs to a traced listener. */
	if (filter_tgids && !(li && tgid_allowed(li->tgid)))
		return;

	rec = new_end(key, SYNSCOPE_ROLE_SERVER);
	if (!rec)
		return;
	rec->netns = lk.netns;
	rec->ts_syn = now_ns();
	/* The clone copied the listener's counters before this child was queued
	 * (inet_csk_reqsk_queue_add() runs after the clone): +1 counts it. */
	rec->acceptq = sk->sk_ack_backlog + 1;
	rec->backlog = sk->sk_max_ack_backlog;
	if (li)
		rec->backlog_req = li->backlog_req;
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
	cl->type = SYNSCOPE_REC_CLOSE;
	cl->role = rec->role;
	cl->id = rec->id;
	cl->peer_id = rec->peer_id;
	cl->states[0] = TCP_ESTABLISHED;
	cl->ts[0] = rec->ts_end;
	cl->nstates = 1;
}

static __always_inline void on_resolved(const struct sock *sk, __u64 key, int newstate)
{
	struct synscope_handshake *rec = bpf_map_lookup_elem(&socks, &key);
	struct tcp_sock *tp;

	if (!rec)
		return;
	rec->ts_end = now_ns();
	read_endpoints_btf(rec, sk);
	/* The filters a server child could not decide at creation (see there). */
	if (rec->role == SYNSCOPE_ROLE_SERVER && (filter_ports || filter_family) &&
	    !(ports_allowed(rec->sport, rec->dport) && family_allowed(rec->family, rec->daddr))) {
		bpf_map_delete_elem(&socks, &key);
		return;
	}
	if (newstate == TCP_ESTABLISHED) {
		rec->outcome = SYNSCOPE_OUT_ESTABLISHED;
		rec->err = 0; /* a soft error reported on the way (error_report()) */
		read_isn(rec, sk);
		if (rec->role == SYNSCOPE_ROLE_CLIENT)
			index_client(rec, key);
		else
			join_server(rec);
		if (track_close)
			start_close(sk, rec);
		complete(rec, key, SYNSCOPE_F_RESOLVED);
		return;
	}
	/*
	 * CLOSE before ESTABLISHED: the SYN went out, nothing was acknowledged,
	 * so snd_una is still the ISS. The error is sk_err when the kernel gave
	 * up; else the one reported earlier (error_report(), which the
	 * application may have taken with SO_ERROR before its close() got
	 * here); else a soft error it never collected (errno only: the
	 * application gave up first, the end stays abandoned).
	 */
	if (sk->sk_err)
		rec->err = sk->sk_err;
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
	}
	complete(rec, key, SYNSCOPE_F_RESOLVED);
}

/* --close: the state path of an established end. */
static __always_inline void append_state(struct synscope_close *cl, int state)
{
	__u8 n = cl->nstates;

	/* Entering the state it is in is no move (nor a second look at one). */
	if (n && cl->states[(n - 1) & (SYNSCOPE_CLOSE_STATES - 1)] == state)
		return;

	if (n >= SYNSCOPE_CLOSE_STATES) {
		cl->flags |= SYNSCOPE_CF_TRUNCATED;
		return;
	}
	cl->states[n & (SYNSCOPE_CLOSE_STATES - 1)] = state;
	cl->ts[n & (SYNSCOPE_CLOSE_STATES - 1)] = now_ns();
	cl->nstates = n + 1;
}

static __always_inline void on_later_state(const struct sock *sk, int oldstate, int newstate)
{
	struct synscope_close *cl = bpf_sk_storage_get(&closes, (struct sock *)sk, NULL, 0);

	if (!cl || !cl->nstates)
		return;
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

static __always_inline void receive_reset(struct sock *sk)
{
	struct synscope_close *cl = bpf_sk_storage_get(&closes, sk, NULL, 0);

	if (cl)
		cl->flags |= SYNSCOPE_CF_RST_RECEIVED;
}

PRIMARY_AND_FALLBACK("tcp_receive_reset", handle_receive_reset, NEST_RESET, sk, 0,
		     receive_reset(sk), struct sock *sk)

/*
 * A listener closed: its listen() record goes, so a long run does not fill
 * the map and a later listener on the port starts afresh. Listeners sharing
 * the port (SO_REUSEPORT) share the record: the first to close takes it.
 */
static __always_inline void forget_listener(const struct sock *sk)
{
	struct listener_key lk = {};

	lk.netns = sock_netns_btf(sk);
	lk.port = sk->__sk_common.skc_num;
	if (!lk.port) /* inet_put_port() may have run: inet_sport keeps it */
		lk.port = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	bpf_map_delete_elem(&listeners, &lk);
}

/*
 * A server end still waiting for its accept() when its established
 * connection moves on (ESTABLISHED or CLOSE_WAIT to anything): if the child
 * is grafted to a socket, someone accepted it unseen, and the move is the
 * owner's close or shutdown. (At tcp_destroy_sock it is too late to tell:
 * close() orphans the socket, clearing sk_socket, as listener teardown
 * does to a child never accepted.) With fexit, the syscall exit that
 * follows completes the end.
 */
static __always_inline void accepted_unseen(const struct sock *sk, __u64 key)
{
	struct synscope_handshake *rec = bpf_map_lookup_elem(&socks, &key);

	if (!rec || rec->role != SYNSCOPE_ROLE_SERVER ||
	    (rec->flags & (SYNSCOPE_F_ACCEPTED | SYNSCOPE_F_FEXIT)))
		return;
	complete(rec, key, SYNSCOPE_F_ACCEPTED | SYNSCOPE_F_ACCEPT_UNSEEN);
}

static __always_inline void set_state(const struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk;

	if (sk->sk_protocol != IPPROTO_TCP)
		return;

	if (newstate == TCP_SYN_SENT) {
		on_syn_sent(sk, key);
	} else if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE) {
		forget_listener(sk);
	} else if (newstate == TCP_SYN_RECV && oldstate == TCP_LISTEN) {
		on_child_created(sk, key);
	} else if ((oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV) &&
		   (newstate == TCP_ESTABLISHED || newstate == TCP_CLOSE)) {
		on_resolved(sk, key, newstate);
	} else {
		/* Only sockets with a file: a child still in the queue has none. */
		if ((oldstate == TCP_ESTABLISHED || oldstate == TCP_CLOSE_WAIT) && sk->sk_socket)
			accepted_unseen(sk, key);
		if (track_close)
			on_later_state(sk, oldstate, newstate);
	}
}

PRIMARY_AND_FALLBACK("inet_sock_set_state", handle_set_state, NEST_SET_STATE, sk,
		     (__u32)oldstate << 8 | (__u32)newstate, set_state(sk, oldstate, newstate),
		     const struct sock *sk, const int oldstate, const int newstate)

#define SO_EE_ORIGIN_ICMP 2  /* include/uapi/linux/errqueue.h */
#define SO_EE_ORIGIN_ICMP6 3

/*
 * The errno of the ICMP error last queued on sk's error queue (0 if the
 * last entry is something else, a transmit timestamp for instance).
 * ip_icmp_error() queues it, and reports it, before tcp_v4_err() sets
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
 * An error reported on a connecting socket (sk_error_report()). The
 * application may take it with poll() and SO_ERROR, which clears it, and
 * then close() ends the socket with no error left to read: it is kept here
 * for CLOSE. Two ways an ICMP unreachable reaches a SYN_SENT socket
 * (tcp_v4_err(), tcp_v6_err()):
 *  - socket not owned by the user: sk_err is set, reported, and the socket
 *    closed at once (tcp_done_with_error());
 *  - owned (the ICMP came back while connect() still held the socket, as on
 *    a short path): sk_err_soft only, the socket stays in SYN_SENT, and with
 *    IP_RECVERR the ICMP is queued on the error queue and reported first.
 */
SEC("tp_btf/inet_sk_error_report")
int BPF_PROG(handle_error_report, const struct sock *sk)
{
	struct synscope_handshake *rec;
	__u64 key = (__u64)sk;
	int err;

	if (hooks_only || sk->sk_protocol != IPPROTO_TCP ||
	    sk->__sk_common.skc_state != TCP_SYN_SENT)
		return 0;
	rec = bpf_map_lookup_elem(&socks, &key);
	if (!rec)
		return 0;
	err = sk->sk_err;
	if (!err)
		err = queued_icmp_errno(sk);
	if (err)
		rec->err = err;
	return 0;
}

/*
 * Last chance for an end still waiting: a server child never accepted (its
 * listener closed), or a client whose connect() never returned. With
 * --close, an established end's close record leaves here.
 */
static __always_inline void destroy(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct synscope_handshake *rec = bpf_map_lookup_elem(&socks, &key);
	struct synscope_close *cl;
	__u64 *peer;

	if (rec) {
		if (rec->role == SYNSCOPE_ROLE_SERVER && !(rec->flags & SYNSCOPE_F_ACCEPTED)) {
			/* Never accepted: it died in the accept queue. */
			rec->err = sk->sk_err;
			rec->flags |= SYNSCOPE_F_CLOSED;
		}
		emit(rec, key);
	}
	if (!track_close)
		return;
	cl = bpf_sk_storage_get(&closes, sk, NULL, 0);
	if (!cl || !cl->nstates)
		return;
	if (cl->role == SYNSCOPE_ROLE_CLIENT) {
		peer = bpf_map_lookup_elem(&client_peers, &cl->id);
		if (peer) {
			cl->peer_id = *peer;
			bpf_map_delete_elem(&client_peers, &cl->id);
		}
	}
	cl->ts_destroy = now_ns();
	submit(cl, sizeof(*cl), false);
}

PRIMARY_AND_FALLBACK("tcp_destroy_sock", handle_destroy, NEST_DESTROY, sk, 0, destroy(sk),
		     struct sock *sk)

/* ---- syscalls: who made the call, with which fd ---- */

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
	submit(&rec, sizeof(rec), false);
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
	rec = bpf_map_lookup_elem(&socks, &call.sk);
	if (!rec)
		return 0;
	rec->call_ret = ret;
	rec->ts_ret = now_ns();
	complete(rec, call.sk, SYNSCOPE_F_RETURNED);
	return 0;
}

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
	rec = bpf_map_lookup_elem(&socks, &key);
	if (!rec || rec->role != SYNSCOPE_ROLE_SERVER)
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
	rec = bpf_map_lookup_elem(&socks, &key);
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
	struct listener_info li = {};
	struct listener_key lk = {};
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
