// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The handshake table: a connection end's record under construction, by
 * struct sock address, from SYN_SENT (or the child's creation) until the
 * record leaves or the socket dies. Not socket storage: the syscall hooks
 * that complete a record hold only an untrusted socket pointer.
 *
 * A set-associative table in two arrays, without locks: the socket's
 * address picks a set of SOCK_WAYS slots; a slot is claimed by a
 * compare-and-swap of its key from 0 and freed by one back to 0. A hash map
 * took a bucket lock with interrupts off, and an element off a free list,
 * for each insert and each delete: an insert and a delete cost 240 ns
 * together here, twice a connection (a client's entry, a server child's).
 *
 * A set can fill before the table does, when more live sockets hash to it
 * than it has ways: the new end is then counted sock_map_full, as with a
 * full table. With 8 ways (the keys of a set in one cache line), an eighth
 * of all slots in use (one end a set on average) overflows a set about once
 * in 200 fills at the default size.
 *
 * A record is read and written in place through the pointer a lookup
 * returns, as it was in the hash map's preallocated elements: two hooks
 * that may complete one end at once on two CPUs settle it with an atomic OR
 * of its flags (complete(), records.bpf.h).
 */
#ifndef SYNSCOPE_SOCKS_BPF_H
#define SYNSCOPE_SOCKS_BPF_H

#define SOCK_WAYS SYNSCOPE_SOCK_WAYS /* synscope.h */

struct sock_set {
	__u64 keys[SOCK_WAYS]; /* socket addresses; 0: free */
};

/*
 * The keys, one set (one cache line) an entry: a lookup reads one set.
 * BPF_F_MMAPABLE (never mapped) for its page-aligned values: a set never
 * straddles two cache lines, a record spans three.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4096); /* the number of sets, a power of two, set by user space */
	__type(key, __u32);
	__type(value, struct sock_set);
} sock_keys SEC(".maps");

/* The records: slot set * SOCK_WAYS + way holds the record of that set's key `way`. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE); /* aligned, as sock_keys */
	__uint(max_entries, 4096 * SOCK_WAYS); /* sets * SOCK_WAYS, set by user space */
	__type(key, __u32);
	__type(value, struct synscope_handshake);
} sock_recs SEC(".maps");

/* 32 - log2(the number of sets), set by user space: a set from the top bits of a product. */
const volatile __u32 sock_set_shift = 32 - 12;

/*
 * The set of a socket address, from its low 32 bits (the verifier allows no
 * other arithmetic on a socket pointer a tp_btf hook holds; live sockets
 * differ there, and a set is only where to look: keys compare in full).
 * Slab addresses share their lowest bits: multiply by 2^32 / golden ratio
 * (Fibonacci hashing) and keep the top bits.
 */
static __always_inline __u32 sock_set_of(__u64 key)
{
	__u32 low = (__u32)key;

	return (low * 2654435769U) >> sock_set_shift;
}

/* The record of the socket at `key`, NULL if it has none. */
static __always_inline struct synscope_handshake *socks_lookup(__u64 key)
{
	__u32 set = sock_set_of(key), slot;
	struct sock_set *s = bpf_map_lookup_elem(&sock_keys, &set);
	int i;

	if (!s)
		return NULL;
	for (i = 0; i < SOCK_WAYS; i++) {
		if (s->keys[i] == key) {
			slot = set * SOCK_WAYS + i;
			return bpf_map_lookup_elem(&sock_recs, &slot);
		}
	}
	return NULL;
}

/*
 * A zeroed record for the socket at `key`, in a slot claimed for it; NULL if
 * its set is full. *stale is set when the socket already had one (a dead
 * socket's, whose address was reused unseen): it is zeroed in place.
 */
static __always_inline struct synscope_handshake *socks_insert(__u64 key, bool *stale)
{
	__u32 set = sock_set_of(key), slot;
	struct sock_set *s = bpf_map_lookup_elem(&sock_keys, &set);
	struct synscope_handshake *rec;
	int i, way = -1;

	*stale = false;
	if (!s)
		return NULL;
	for (i = 0; i < SOCK_WAYS; i++) {
		if (s->keys[i] == key) {
			*stale = true;
			way = i;
			break;
		}
	}
	/* Claim a free slot; another CPU may claim the same one first. */
	for (i = 0; way < 0 && i < SOCK_WAYS; i++) {
		if (!s->keys[i] && __sync_val_compare_and_swap(&s->keys[i], 0, key) == 0)
			way = i;
	}
	if (way < 0)
		return NULL;
	slot = set * SOCK_WAYS + way;
	rec = bpf_map_lookup_elem(&sock_recs, &slot);
	if (rec)
		__builtin_memset(rec, 0, sizeof(*rec));
	return rec;
}

/* Frees the socket's slot, if it has one. Its record must not be used after. */
static __always_inline void socks_delete(__u64 key)
{
	__u32 set = sock_set_of(key);
	struct sock_set *s = bpf_map_lookup_elem(&sock_keys, &set);
	int i;

	if (!s)
		return;
	for (i = 0; i < SOCK_WAYS; i++) {
		if (s->keys[i] == key) {
			__sync_val_compare_and_swap(&s->keys[i], key, 0);
			return;
		}
	}
}

#endif /* SYNSCOPE_SOCKS_BPF_H */
