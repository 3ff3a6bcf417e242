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
 * Every record looks a set up, at random: what that reads is the set's
 * fingerprints, 32 bytes, in an array small enough to stay in cache
 * (128 KiB). An entry is read where a fingerprint matches (a join, or 1 in
 * 65536 per way), the ages only where a full set gives an entry up.
 */
struct join_table {
	__u16 (*fps)[JOIN_WAYS];     /* the key's fingerprint per way; 0: free */
	__u32 (*ages)[JOIN_WAYS];    /* the table's clock when added: the oldest goes first */
	struct join_entry *entries; /* JOIN_WAYS per set */
	__u32 clock;
};

struct join_table *join_table_new(void)
{
	struct join_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->fps = calloc(JOIN_SETS, sizeof(*t->fps));
	t->ages = calloc(JOIN_SETS, sizeof(*t->ages));
	t->entries = calloc((size_t)JOIN_SETS * JOIN_WAYS, sizeof(*t->entries));
	if (!t->fps || !t->ages || !t->entries) {
		join_table_free(t);
		return NULL;
	}
	return t;
}

void join_table_free(struct join_table *t)
{
	if (!t)
		return;
	free(t->fps);
	free(t->ages);
	free(t->entries);
	free(t);
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

__u64 join_find_or_add(struct join_table *t, const struct synscope_handshake *r,
		       unsigned long long tag, unsigned long long *peer_tag)
{
	struct join_key k = key_of(r);
	/* The ISS and IRS are keyed hashes already: mixing in the ports is enough. */
	__u32 h = k.c_iss ^ k.c_irs ^ ((__u32)k.cport << 16 | k.sport);
	__u32 set_no = h % JOIN_SETS;
	__u16 fp = (h >> 16) | 1; /* bits the set number leaves; never 0 */
	__u16 *fps = t->fps[set_no];
	__u32 *ages = t->ages[set_no];
	struct join_entry *entries = &t->entries[(size_t)set_no * JOIN_WAYS];
	int i, victim = -1;

	for (i = 0; i < JOIN_WAYS; i++) {
		if (fps[i] == fp && entries[i].role != r->role && same_key(&entries[i].key, &k)) {
			fps[i] = 0;
			*peer_tag = entries[i].tag;
			return entries[i].id;
		}
		if (!fps[i] && victim < 0)
			victim = i;
	}
	if (victim < 0) {
		victim = 0;
		for (i = 1; i < JOIN_WAYS; i++)
			if (t->clock - ages[i] > t->clock - ages[victim])
				victim = i;
	}
	fps[victim] = fp;
	ages[victim] = t->clock++;
	entries[victim] = (struct join_entry){.key = k, .role = r->role, .id = r->id, .tag = tag};
	return 0;
}
