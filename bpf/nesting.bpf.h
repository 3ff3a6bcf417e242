// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The fallback machinery: a second program per hook that handles the
 * events the kernel skipped the first one for (recursion protection), and
 * the per-CPU working state it shares with submit().
 */
#ifndef SYNSCOPE_NESTING_BPF_H
#define SYNSCOPE_NESTING_BPF_H

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
 * fallback the kernel skipped (a softirq in the gap around a running
 * fallback) stays behind until its slot is reused. So that such a note
 * cannot answer for a later socket at the same address making the same
 * move (a destroy note matches any destroy at that address), a note also
 * holds the connection's ports and remote address, and answers only while
 * it is young (NOTE_MAX_AGE): the ports recur too, once the client's
 * ephemeral range has cycled.
 */
enum nest_hook { NEST_SET_STATE, NEST_DESTROY, NEST_RESET, NEST_HOOKS };

#define NOTE_SLOTS 8
/*
 * A note answers only for events at most this many notes old. Between a
 * primary and its fallback only the events of one interrupting softirq
 * can note (a net_rx_action() run is bounded to 2 ms, a few hundred state
 * changes here); a note left behind by a skipped fallback is far older by
 * the time its socket address and ports come round again (a child's ports
 * recur only after the client's ephemeral range has cycled, at least tens
 * of thousands of connections), and then no longer hides a skipped event.
 */
#define NOTE_MAX_AGE (1U << 14)
/*
 * Notes pushed out of a full set of slots. A softirq that lands in a
 * fallback's entry gap (the kernel has marked it running; its first
 * instruction, which stops the softirq's primaries from noting, has not
 * run) leaves a note per event, since those events' fallbacks are skipped:
 * 64 of them in one 680-us softirq were seen to push out the note the
 * interrupted fallback then looked for, and it handled its event a second
 * time. A fallback that finds no note in the slots looks here before
 * handling its event: a rare path (the primary's real skips), so the ring
 * can be long. Same age bound as the slots.
 */
#define NOTE_EVICTED 256

struct event_note {
	__u64 sk;    /* 0: free */
	__u32 what;  /* set_state: old << 8 | new; others 0 */
	__u32 seq;   /* age, for reuse when no slot is free */
	__u32 tuple; /* event_tuple() of the socket */
	__u32 hook;  /* in evicted[]: the hook whose slot it left */
};

/*
 * The socket's ports, IPv4 remote address and 4-tuple hash, folded: the
 * same for a primary and its fallback (one event), rarely for two
 * connections. The hash (skc_hash, set when the socket is hashed, kept
 * after it is unhashed) tells apart two clients of one server at the same
 * socket address once CLOSE has released their local port (skc_num 0):
 * without it their destroy notes were the same.
 */
static __always_inline __u32 event_tuple(const struct sock *sk)
{
	return sk->__sk_common.skc_portpair ^ sk->__sk_common.skc_daddr ^ sk->__sk_common.skc_hash;
}

/* Per-CPU working state: the notes above, the wakeup accounting, the ids. */
struct cpu_state {
	struct event_note notes[NEST_HOOKS][NOTE_SLOTS];
	struct event_note evicted[NOTE_EVICTED]; /* a ring, evicted_next the next to write */
	__u32 evicted_next;
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
	__u64 ids;     /* connection ends this CPU has numbered (see id_stride) */
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
static __always_inline void note_event(int hook, const struct sock *sk, __u32 what)
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
	/* Pushing out another socket's note: keep it for its fallback. */
	if (slot == oldest) {
		struct event_note *e = &c->evicted[c->evicted_next++ & (NOTE_EVICTED - 1)];

		*e = *slot;
		e->hook = hook;
	}
	/* The socket first: it claims the slot, so a softirq arriving now
	 * takes another one. */
	slot->sk = (__u64)sk;
	slot->what = what;
	slot->tuple = event_tuple(sk);
	slot->seq = ++c->seq;
}

/* Whether note n is the primary's for this event (and young enough to say so). */
static __always_inline bool note_answers(const struct cpu_state *c, const struct event_note *n,
					 const struct sock *sk, __u32 what, __u32 tuple)
{
	return n->sk == (__u64)sk && n->what == what && n->tuple == tuple &&
	       c->seq - n->seq < NOTE_MAX_AGE;
}

/* In the fallback: true when the primary did not run for this event. */
static __always_inline bool primary_was_skipped(struct cpu_state *c, int hook,
						const struct sock *sk, __u32 what)
{
	__u32 tuple = event_tuple(sk);
	struct event_note *n;
	int i;

	for (i = 0; i < NOTE_SLOTS; i++) {
		n = &c->notes[hook][i];
		if (note_answers(c, n, sk, what, tuple)) {
			n->sk = 0;
			return false;
		}
	}
	for (i = 0; i < NOTE_EVICTED; i++) {
		n = &c->evicted[i];
		if (n->hook == (__u32)hook && note_answers(c, n, sk, what, tuple)) {
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

#endif /* SYNSCOPE_NESTING_BPF_H */
