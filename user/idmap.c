// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include "idmap.h"

#define IDMAP_INITIAL 1024

struct idmap_slot {
	unsigned long long id; /* 0: free */
	struct idmap_value v;
};

/* Ids are small counters with the CPU in the low part: spread them. */
static unsigned long long home(const struct idmap *m, unsigned long long id)
{
	return (id * 0x9E3779B97F4A7C15ULL >> 20) & m->mask;
}

static int alloc_slots(struct idmap *m, unsigned long long capacity)
{
	m->slots = calloc(capacity, sizeof(*m->slots));
	if (!m->slots)
		return -ENOMEM;
	m->mask = capacity - 1;
	m->count = 0;
	return 0;
}

int idmap_init(struct idmap *m)
{
	return alloc_slots(m, IDMAP_INITIAL);
}

void idmap_free(struct idmap *m)
{
	free(m->slots);
	m->slots = NULL;
}

static struct idmap_slot *find(const struct idmap *m, unsigned long long id)
{
	unsigned long long i = home(m, id);

	while (m->slots[i].id && m->slots[i].id != id)
		i = (i + 1) & m->mask;
	return &m->slots[i];
}

struct idmap_value *idmap_get(struct idmap *m, unsigned long long id)
{
	struct idmap_slot *s = find(m, id);

	return s->id ? &s->v : NULL;
}

static int grow(struct idmap *m)
{
	struct idmap old = *m;
	unsigned long long i;

	if (alloc_slots(m, (old.mask + 1) * 2)) {
		*m = old;
		return -ENOMEM;
	}
	for (i = 0; i <= old.mask; i++) {
		if (old.slots[i].id) {
			*find(m, old.slots[i].id) = old.slots[i];
			m->count++;
		}
	}
	free(old.slots);
	return 0;
}

int idmap_put(struct idmap *m, unsigned long long id, struct idmap_value v)
{
	struct idmap_slot *s = find(m, id);

	if (!s->id) {
		if ((m->count + 1) * 2 > m->mask + 1) {
			if (grow(m))
				return -ENOMEM;
			s = find(m, id);
		}
		s->id = id;
		m->count++;
	}
	s->v = v;
	return 0;
}

/* Backward-shift deletion: no tombstones, so lookups stay short however long the run. */
void idmap_delete(struct idmap *m, unsigned long long id)
{
	struct idmap_slot *s = find(m, id);
	unsigned long long hole, i;

	if (!s->id)
		return;
	hole = s - m->slots;
	for (i = (hole + 1) & m->mask; m->slots[i].id; i = (i + 1) & m->mask) {
		unsigned long long h = home(m, m->slots[i].id);

		/* Slot i may move to the hole if its home is not in (hole, i]. */
		if (((i - h) & m->mask) >= ((i - hole) & m->mask)) {
			m->slots[hole] = m->slots[i];
			hole = i;
		}
	}
	m->slots[hole].id = 0;
	m->count--;
}
