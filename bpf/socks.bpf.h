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
 * A set fills before the table does when more live sockets hash to it than
 * it has slots (a full accept queue of thousands of children does that to
 * some sets): its next ends go to a hash map, sock_overflow, and the set
 * counts them, so that a lookup reads the map only for a set that has
 * some. An end that finds the map full too is counted sock_map_full.
 *
 * A record is read and written in place through the pointer a lookup
 * returns, as it was in the hash map's preallocated elements: two hooks
 * that may complete one end at once on two CPUs settle it with an atomic OR
 * of its flags (complete(), records.bpf.h).
 */
#ifndef SYNSCOPE_SOCKS_BPF_H
#define SYNSCOPE_SOCKS_BPF_H

#define SOCK_WAYS SYNSCOPE_SOCK_WAYS /* synscope.h */

/*
 * The sets, one cache line each: a lookup reads one. BPF_F_MMAPABLE (never
 * mapped) for its page-aligned values: a set never straddles two lines.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4096); /* the number of sets, a power of two, set by user space */
	__type(key, __u32);
	__type(value, struct synscope_sock_set);
} sock_keys SEC(".maps");

/* The records: slot set * SOCK_WAYS + way holds the record of that set's key `way`. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE); /* aligned, as sock_keys */
	__uint(max_entries, 4096 * SOCK_WAYS); /* sets * SOCK_WAYS, set by user space */
	__type(key, __u32);
	__type(value, struct synscope_handshake);
} sock_recs SEC(".maps");

/* Ends whose set was full, by socket address; memory only for those there. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096); /* as many as sets, set by user space */
	__type(key, __u64);
	__type(value, struct synscope_handshake);
} sock_overflow SEC(".maps");

/* An overflow entry starts from this. */
static const struct synscope_handshake zero_end;

/* 32 - log2(the number of sets), set by user space: a set from the top bits of a product. */
const volatile __u32 sock_set_shift = 32 - 12;
/*
 * Tests only (SYNSCOPE_TEST_ONE_SET in the environment, loader.c): every
 * socket in set 0, so that a few ends fill it and reach sock_overflow. The
 * verifier prunes the test when it is false.
 */
const volatile bool test_one_set = false;

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

	if (test_one_set)
		return 0;
	return (low * 2654435769U) >> sock_set_shift;
}

static __always_inline struct synscope_sock_set *sock_set(__u64 key, __u32 *set)
{
	*set = sock_set_of(key);
	return bpf_map_lookup_elem(&sock_keys, set);
}

/* The way of set s holding `key`, -1 if none. */
static __always_inline int sock_way(const struct synscope_sock_set *s, __u64 key)
{
	int i;

	for (i = 0; i < SOCK_WAYS; i++)
		if (s->keys[i] == key)
			return i;
	return -1;
}

static __always_inline struct synscope_handshake *sock_slot(__u32 set, int way)
{
	__u32 slot = set * SOCK_WAYS + way;

	return bpf_map_lookup_elem(&sock_recs, &slot);
}

/* The record of the socket at `key`, NULL if it has none. */
static __always_inline struct synscope_handshake *socks_lookup(__u64 key)
{
	__u32 set;
	struct synscope_sock_set *s = sock_set(key, &set);
	int way;

	if (!s)
		return NULL;
	way = sock_way(s, key);
	if (way >= 0)
		return sock_slot(set, way);
	return s->overflow ? bpf_map_lookup_elem(&sock_overflow, &key) : NULL;
}

/*
 * A zeroed record for the socket at `key`, in a slot claimed for it (or in
 * sock_overflow); NULL if there is no room. *stale is set when the socket
 * already had one (a dead socket's, whose address was reused unseen, unless
 * its record had left: SYNSCOPE_F_EMITTED): it is zeroed in place.
 */
static __always_inline struct synscope_handshake *socks_insert(__u64 key, bool *stale)
{
	struct synscope_handshake *rec = socks_lookup(key);
	struct synscope_sock_set *s;
	int i, way = -1;
	__u32 set;

	*stale = rec && !(rec->flags & SYNSCOPE_F_EMITTED);
	if (rec) {
		__builtin_memset(rec, 0, sizeof(*rec));
		return rec;
	}
	s = sock_set(key, &set);
	if (!s)
		return NULL;
	/* Claim a free slot; another CPU may claim the same one first. */
	for (i = 0; way < 0 && i < SOCK_WAYS; i++) {
		if (!s->keys[i] && __sync_val_compare_and_swap(&s->keys[i], 0, key) == 0)
			way = i;
	}
	if (way >= 0) {
		rec = sock_slot(set, way);
		if (rec)
			__builtin_memset(rec, 0, sizeof(*rec));
		return rec;
	}
	/* The set is full. Counted first, so that a lookup never misses the entry. */
	__sync_fetch_and_add(&s->overflow, 1);
	if (bpf_map_update_elem(&sock_overflow, &key, &zero_end, BPF_NOEXIST)) {
		__sync_fetch_and_sub(&s->overflow, 1);
		return NULL;
	}
	return bpf_map_lookup_elem(&sock_overflow, &key);
}

/*
 * Frees the socket's entry, rec. Its record must not be used after, unless
 * the entry was in sock_overflow and its delete failed (-EBUSY: this CPU
 * already holds a lock of that bucket in the context this program
 * interrupted): the entry is then marked SYNSCOPE_F_EMITTED, so that
 * neither the socket's destruction writes it again nor a new socket at the
 * address counts it as a lost end.
 */
static __always_inline void socks_delete(__u64 key, struct synscope_handshake *rec)
{
	struct synscope_sock_set *s;
	__u32 set;
	int way;

	s = sock_set(key, &set);
	if (!s)
		return;
	way = sock_way(s, key);
	if (way >= 0) {
		__sync_val_compare_and_swap(&s->keys[way], key, 0);
	} else if (s->overflow) {
		if (!bpf_map_delete_elem(&sock_overflow, &key))
			__sync_fetch_and_sub(&s->overflow, 1);
		else
			__sync_fetch_and_or(&rec->flags, SYNSCOPE_F_EMITTED);
	}
}

#endif /* SYNSCOPE_SOCKS_BPF_H */
