// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include "join.h"

/* A connection as its client sees it. */
struct join_key {
	__u32 c_iss;
	__u32 c_irs;
	__u16 cport;
	__u16 sport;
};

struct join_entry {
	struct join_key key;
	__u8 role; /* of the end waiting here */
	__u64 id;
	unsigned long long tag;
};

/*
 * Every record looks a set up: what that reads is the set's fingerprints,
 * 32 bytes, in an array small enough to stay in cache (128 KiB at first).
 * An entry is read where a fingerprint matches (a join, or 1 in 65536 per
 * way), the deadlines only where a full set gives an entry up.
 */
struct join_table {
	__u16 (*fps)[JOIN_WAYS];                /* the key's fingerprint per way; 0: free */
	unsigned long long (*untils)[JOIN_WAYS]; /* until when the end waits for its peer */
	struct join_entry *entries;            /* JOIN_WAYS per set */
	__u32 nsets;                           /* a power of two, JOIN_SETS .. JOIN_MAX_SETS */
	unsigned long long evicted;            /* ends pushed out before their deadline */
};

static struct join_table *table_alloc(__u32 nsets)
{
	struct join_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nsets = nsets;
	t->fps = calloc(nsets, sizeof(*t->fps));
	t->untils = calloc(nsets, sizeof(*t->untils));
	t->entries = calloc((size_t)nsets * JOIN_WAYS, sizeof(*t->entries));
	if (!t->fps || !t->untils || !t->entries) {
		join_table_free(t);
		return NULL;
	}
	return t;
}

struct join_table *join_table_new(void)
{
	return table_alloc(JOIN_SETS);
}

static void table_release(struct join_table *t)
{
	free(t->fps);
	free(t->untils);
	free(t->entries);
}

void join_table_free(struct join_table *t)
{
	if (!t)
		return;
	table_release(t);
	free(t);
}

unsigned long long join_table_evicted(const struct join_table *t)
{
	return __atomic_load_n(&t->evicted, __ATOMIC_RELAXED);
}

bool join_candidate(const struct synscope_handshake *r)
{
	return r->outcome == SYNSCOPE_OUT_ESTABLISHED && !r->peer_id && r->sport && r->dport &&
	       (r->role == SYNSCOPE_ROLE_CLIENT || r->role == SYNSCOPE_ROLE_SERVER);
}

static struct join_key key_of(const struct synscope_handshake *r)
{
	bool client = r->role == SYNSCOPE_ROLE_CLIENT;

	return (struct join_key){.c_iss = client ? r->iss : r->irs,
				 .c_irs = client ? r->irs : r->iss,
				 .cport = client ? r->sport : r->dport,
				 .sport = client ? r->dport : r->sport};
}

static bool same_key(const struct join_key *a, const struct join_key *b)
{
	return a->c_iss == b->c_iss && a->c_irs == b->c_irs && a->cport == b->cport &&
	       a->sport == b->sport;
}

/*
 * The ISS and IRS are keyed hashes already: mixing in the ports is enough.
 * The set is the low bits (at most 16, JOIN_MAX_SETS), the fingerprint the
 * high 16, never 0.
 */
static __u32 hash_of(const struct join_key *k)
{
	return k->c_iss ^ k->c_irs ^ ((__u32)k->cport << 16 | k->sport);
}

static __u16 fingerprint(__u32 h)
{
	return (h >> 16) | 1;
}

/* Places an entry in its set's way `way`, which must be free. */
static void place(struct join_table *t, __u32 set_no, int way, const struct join_entry *e,
		  __u16 fp, unsigned long long until)
{
	t->fps[set_no][way] = fp;
	t->untils[set_no][way] = until;
	t->entries[(size_t)set_no * JOIN_WAYS + way] = *e;
}

/*
 * Twice the sets, every entry moved to its set in the new size. Set s
 * splits into s and s + nsets, so no set of the new table can overflow.
 * Returns false when out of memory (the table is left as it was).
 */
static bool grow(struct join_table *t)
{
	struct join_table *n = table_alloc(t->nsets * 2);
	const struct join_entry *e;
	__u32 s, h, to;
	int i, way;

	if (!n)
		return false;
	for (s = 0; s < t->nsets; s++) {
		for (i = 0; i < JOIN_WAYS; i++) {
			if (!t->fps[s][i])
				continue;
			e = &t->entries[(size_t)s * JOIN_WAYS + i];
			h = hash_of(&e->key);
			to = h & (n->nsets - 1);
			for (way = 0; n->fps[to][way]; way++)
				;
			place(n, to, way, e, t->fps[s][i], t->untils[s][i]);
		}
	}
	table_release(t);
	t->fps = n->fps;
	t->untils = n->untils;
	t->entries = n->entries;
	t->nsets = n->nsets;
	free(n);
	return true;
}

__u64 join_find_or_add(struct join_table *t, const struct synscope_handshake *r,
		       unsigned long long tag, unsigned long long until_ns,
		       unsigned long long now_ns, unsigned long long *peer_tag)
{
	struct join_key k = key_of(r);
	__u32 h = hash_of(&k), set_no;
	__u16 fp = fingerprint(h), *fps;
	unsigned long long *untils;
	struct join_entry *entries;
	int i, victim;

	for (;;) {
		set_no = h & (t->nsets - 1);
		fps = t->fps[set_no];
		untils = t->untils[set_no];
		entries = &t->entries[(size_t)set_no * JOIN_WAYS];
		victim = -1;
		for (i = 0; i < JOIN_WAYS; i++) {
			if (fps[i] == fp && entries[i].role != r->role && same_key(&entries[i].key, &k)) {
				fps[i] = 0;
				*peer_tag = entries[i].tag;
				return entries[i].id;
			}
			if (!fps[i] && victim < 0)
				victim = i;
		}
		if (victim >= 0)
			break;
		/* Full: the end whose wait ends first gives way, if it has ended. */
		victim = 0;
		for (i = 1; i < JOIN_WAYS; i++)
			if (untils[i] < untils[victim])
				victim = i;
		if (untils[victim] <= now_ns)
			break;
		/* All still waiting: room for them, else one is lost, and counted. */
		if (t->nsets < JOIN_MAX_SETS && grow(t))
			continue;
		__atomic_fetch_add(&t->evicted, 1, __ATOMIC_RELAXED); /* read by --metrics' thread */
		break;
	}
	place(t, set_no, victim,
	      &(struct join_entry){.key = k, .role = r->role, .id = r->id, .tag = tag}, fp, until_ns);
	return 0;
}
