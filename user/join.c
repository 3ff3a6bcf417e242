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
	__u8 role;  /* of the end waiting here; 0: free */
	__u32 age;  /* the table's clock when added: the smallest goes first */
	__u64 id;
	unsigned long long tag;
};

struct join_table {
	struct join_entry (*sets)[JOIN_WAYS];
	__u32 clock;
};

struct join_table *join_table_new(void)
{
	struct join_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->sets = calloc(JOIN_SETS, sizeof(*t->sets));
	if (!t->sets) {
		free(t);
		return NULL;
	}
	return t;
}

void join_table_free(struct join_table *t)
{
	if (!t)
		return;
	free(t->sets);
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
	/* The ISS and IRS are hashes already: mixing in the ports spreads a set's load. */
	struct join_entry *set = t->sets[(k.c_iss ^ k.c_irs ^ ((__u32)k.cport << 16 | k.sport)) %
					 JOIN_SETS];
	struct join_entry *victim = &set[0];
	int i;

	for (i = 0; i < JOIN_WAYS; i++) {
		struct join_entry *e = &set[i];

		if (e->role && e->role != r->role && same_key(&e->key, &k)) {
			e->role = 0;
			*peer_tag = e->tag;
			return e->id;
		}
		if (!e->role)
			victim = e;
		else if (victim->role && t->clock - e->age > t->clock - victim->age)
			victim = e;
	}
	*victim = (struct join_entry){.key = k, .role = r->role, .age = t->clock++, .id = r->id,
				      .tag = tag};
	return 0;
}
