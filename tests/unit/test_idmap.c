// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The tracker's id map: random puts, gets and deletes against a plain array of the same pairs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "idmap.h"

#define IDS 5000

/* The oracle: value per id (id = index + 1, spread like the kernel's ids), 0 = absent. */
static unsigned long long oracle[IDS];

static unsigned long long id_of(unsigned int i)
{
	/* per-CPU counters interleaved: count * stride + cpu + 1, as bpf/records.bpf.h numbers ends */
	return (i / 2) * 2 + i % 2 + 1;
}

static void matches_a_plain_array_under_random_operations(void **state)
{
	struct idmap m;
	unsigned long long n = 0;
	unsigned int i, k, op;

	(void)state;
	memset(oracle, 0, sizeof(oracle));
	assert_int_equal(idmap_init(&m), 0);
	srand(7);
	for (k = 0; k < 200000; k++) {
		i = rand() % IDS;
		op = rand() % 3;
		if (op == 0) {
			assert_int_equal(idmap_put(&m, id_of(i), (struct idmap_value){k + 1, k}), 0);
			n += !oracle[i];
			oracle[i] = k + 1;
		} else if (op == 1) {
			idmap_delete(&m, id_of(i));
			n -= !!oracle[i];
			oracle[i] = 0;
		} else {
			struct idmap_value *v = idmap_get(&m, id_of(i));

			if (oracle[i]) {
				assert_non_null(v);
				assert_int_equal(v->peer_id, oracle[i]);
				assert_int_equal(v->hold_no, oracle[i] - 1);
			} else {
				assert_null(v);
			}
		}
		assert_int_equal(m.count, n);
	}
	/* Every id, once more, after all the moves deletion made. */
	for (i = 0; i < IDS; i++) {
		struct idmap_value *v = idmap_get(&m, id_of(i));

		if (oracle[i])
			assert_true(v && v->peer_id == oracle[i]);
		else
			assert_null(v);
	}
	idmap_free(&m);
}

/* Grows past its first capacity and keeps everything. */
static void grows_and_keeps_every_entry(void **state)
{
	struct idmap m;
	unsigned long long id;

	(void)state;
	assert_int_equal(idmap_init(&m), 0);
	for (id = 1; id <= 100000; id++)
		assert_int_equal(idmap_put(&m, id, (struct idmap_value){id * 3, IDMAP_NOT_HELD}), 0);
	for (id = 1; id <= 100000; id++) {
		struct idmap_value *v = idmap_get(&m, id);

		assert_non_null(v);
		assert_int_equal(v->peer_id, id * 3);
	}
	for (id = 1; id <= 100000; id += 2)
		idmap_delete(&m, id);
	assert_int_equal(m.count, 50000);
	for (id = 1; id <= 100000; id++)
		assert_int_equal(idmap_get(&m, id) != NULL, id % 2 == 0);
	idmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(matches_a_plain_array_under_random_operations),
		cmocka_unit_test(grows_and_keeps_every_entry),
	};

	return cmocka_run_group_tests_name("idmap", tests, NULL, NULL);
}
