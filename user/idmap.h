/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A map from a connection end's id (never 0) to two numbers, for the
 * tracker's bookkeeping between an end's handshake record and its close
 * record: open addressing with linear probing, grown by doubling when half
 * full, so an insert allocates only on the rare growth.
 */
#ifndef SYNSCOPE_IDMAP_H
#define SYNSCOPE_IDMAP_H

struct idmap_value {
	unsigned long long peer_id; /* the joined peer's id, 0 if none */
	unsigned long long hold_no; /* the tracker's hold number, IDMAP_NOT_HELD if printed */
};

#define IDMAP_NOT_HELD (~0ULL)

struct idmap {
	struct idmap_slot *slots;
	unsigned long long mask; /* capacity - 1 */
	unsigned long long count;
};

/* 0, or -ENOMEM. */
int idmap_init(struct idmap *m);
void idmap_free(struct idmap *m);
/* The value for id, NULL if none: valid until the next put or delete. */
struct idmap_value *idmap_get(struct idmap *m, unsigned long long id);
/* Sets id's value: 0, or -ENOMEM (the map is unchanged then). */
int idmap_put(struct idmap *m, unsigned long long id, struct idmap_value v);
void idmap_delete(struct idmap *m, unsigned long long id);

#endif
