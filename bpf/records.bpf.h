// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A connection end's record: creation in the handshake table, completion,
 * submission to the ring buffer, and the loss counters on the way.
 */
#ifndef SYNSCOPE_RECORDS_BPF_H
#define SYNSCOPE_RECORDS_BPF_H

/*
 * Sends one record to user space and counts it, or its loss. A CPU wakes
 * the reader once it has submitted wakeup_bytes_per_cpu since it last did;
 * a softirq interleaving the unlocked count here only shifts one wakeup.
 */
static __always_inline void submit(void *data, __u64 size)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct cpu_state *c;
	__u64 flags = 0;
	void *rb;

	if (!emit_records)
		return;
	if (wakeup_bytes_per_cpu) {
		c = this_cpu();
		flags = BPF_RB_NO_WAKEUP;
		if (c && (c->unwoken += size) >= wakeup_bytes_per_cpu) {
			c->unwoken = 0;
			flags = BPF_RB_FORCE_WAKEUP;
		}
	}
	rb = bpf_map_lookup_elem(&rbs, &cpu); /* this CPU's ring buffer (maps.bpf.h) */
	if (!rb || bpf_ringbuf_output(rb, data, size, flags))
		count(ringbuf_drops);
	else
		count(records_emitted);
}

/* The handshake record leaves, and its entry with it (socks_delete()). */
static __always_inline void emit(struct synscope_handshake *rec, __u64 key)
{
	if (aggregate)
		account(rec);
	submit(rec, sizeof(*rec));
	socks_delete(key, rec);
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
	struct cpu_state *c = this_cpu();

	count(ends_tracked);
	rec->type = SYNSCOPE_REC_HANDSHAKE;
	rec->role = role;
	rec->fd = -1;
	/* Atomic: a softirq may number an end in the middle of this one. */
	if (c)
		rec->id = __sync_fetch_and_add(&c->ids, 1) * id_stride +
			  bpf_get_smp_processor_id() + 1;
}

/*
 * A new entry for the socket at `key`. One already there belongs to a dead
 * socket whose address was reused without the hooks seeing it end (a
 * skipped run, or an end lost to a full table): it is replaced, and counted,
 * unless its record had left (SYNSCOPE_F_EMITTED, socks_delete()).
 */
static __always_inline struct synscope_handshake *new_end(__u64 key, __u8 role)
{
	struct synscope_handshake *rec;
	bool stale;

	rec = socks_insert(key, &stale);
	if (stale)
		count(sock_stale);
	if (!rec) {
		count(sock_map_full);
		return NULL;
	}
	init_end(rec, role);
	return rec;
}

#endif /* SYNSCOPE_RECORDS_BPF_H */
