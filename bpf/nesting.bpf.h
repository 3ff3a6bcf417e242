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
 * has a second program, attached after the first (loader.c), that handles
 * exactly the events its primary was skipped for.
 *
 * How the fallback knows: it asks the kernel. __bpf_trace_run() raises the
 * primary's own per-CPU counter (struct bpf_prog.active) before the
 * primary's first instruction, skips the primary when it was already
 * raised, and lowers it after the primary returns. The fallback runs right
 * after the primary for the same event, so it finds the counter raised on
 * its CPU exactly when the primary is mid-run at a lower level of this CPU
 * (process context, interrupted by this softirq): when the primary was
 * skipped for this event. Gaps included (a softirq landing after the kernel
 * raised the counter but before the primary's first instruction), which a
 * flag the primary sets itself cannot cover. A pre-6.2 kernel never raises
 * it for a tp_btf program and runs the primary nested instead: its
 * fallback never handles anything.
 *
 * The counter is a per-CPU int the kernel allocated (alloc_percpu()): user
 * space (recursion.c) runs find_primaries() and find_cpu_map() once, after
 * load, for its per-CPU pointer and that of this object's `cpu` map; a
 * fallback adds the distance between the `cpu` map's element on its CPU and
 * that element's per-CPU pointer (the CPU's per-CPU offset) and reads the
 * counter with a probe read (the address is a number to the verifier).
 *
 * The earlier design had each primary note its event in a per-CPU set for
 * the fallback to take out: 40-60 ns more per primary run, and notes left
 * behind by a skipped fallback that needed an age bound and an overflow
 * ring to be told apart from fresh ones.
 */
/* Per-CPU working state: the fallbacks' counter addresses, the wakeup accounting, the ids. */
struct cpu_state {
	__u64 self;    /* the address of this CPU's copy of this struct (primary_was_skipped()) */
	__u64 unwoken; /* bytes this CPU submitted since it last woke the reader */
	__u64 ids;     /* connection ends this CPU has numbered (see id_stride) */
	/* Address of this CPU's copy of each primary's struct bpf_prog.active; 0: not known yet. */
	__u64 active_at[SYNSCOPE_NEST_HOOKS];
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

/* Set by user space before it runs the iterators below (recursion.c). */
__u32 primary_prog_id[SYNSCOPE_NEST_HOOKS]; /* each hook's primary program (0: not loaded) */
__u32 cpu_map_id;                  /* the `cpu` map */
/* Found by them: per-CPU pointers (add a CPU's per-CPU offset for its copy); 0: not found. */
__u64 primary_active[SYNSCOPE_NEST_HOOKS]; /* each primary's struct bpf_prog.active */
__u64 cpu_pptr;                   /* the `cpu` map's element 0 (struct bpf_array.pptrs[0]) */

SEC("iter/bpf_prog")
int find_primaries(struct bpf_iter__bpf_prog *ctx)
{
	struct bpf_prog *prog = ctx->prog;
	__u32 id;
	int h;

	if (!prog)
		return 0;
	id = BPF_CORE_READ(prog, aux, id);
	for (h = 0; h < SYNSCOPE_NEST_HOOKS; h++)
		if (primary_prog_id[h] && id == primary_prog_id[h])
			primary_active[h] = (__u64)BPF_CORE_READ(prog, active);
	return 0;
}

SEC("iter/bpf_map")
int find_cpu_map(struct bpf_iter__bpf_map *ctx)
{
	struct bpf_map *map = ctx->map;

	if (!map || map->id != cpu_map_id)
		return 0;
	/* A per-CPU array's struct bpf_map is the head of its struct bpf_array. */
	bpf_core_read(&cpu_pptr, sizeof(cpu_pptr), &((struct bpf_array *)map)->pptrs[0]);
	return 0;
}

/* In the fallback: true when the kernel skipped the primary for this event (see above). */
static __always_inline bool primary_was_skipped(int hook)
{
	struct cpu_state *c = this_cpu();
	int active = 0;
	__u64 at;

	if (!c)
		return false;
	at = c->active_at[hook];
	if (!at) {
		if (!primary_active[hook] || !cpu_pptr)
			return false;
		/* The verifier lets a pointer become a number only through memory. */
		c->self = (__u64)c;
		at = *(volatile __u64 *)&c->self - cpu_pptr + primary_active[hook];
		c->active_at[hook] = at;
	}
	if (bpf_probe_read_kernel(&active, sizeof(active), (void *)at) || !active)
		return false;
	count(nested_handled);
	return true;
}

/*
 * A hook's two programs on tracepoint TP: NAME runs CALL for every event,
 * NAME_nested only for the events the kernel skipped NAME for.
 */
#define PRIMARY_AND_FALLBACK(TP, NAME, HOOK, CALL, ...)				\
	SEC("tp_btf/" TP)							\
	int BPF_PROG(NAME, __VA_ARGS__)						\
	{									\
		if (hooks_only)							\
			return 0;						\
		CALL;								\
		return 0;							\
	}									\
										\
	SEC("tp_btf/" TP)							\
	int BPF_PROG(NAME##_nested, __VA_ARGS__)				\
	{									\
		if (hooks_only)							\
			return 0;						\
		if (primary_was_skipped(HOOK))					\
			CALL;							\
		return 0;							\
	}

#endif /* SYNSCOPE_NESTING_BPF_H */
