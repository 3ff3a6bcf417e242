// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The join table: mirror images join once, a full set gives up its oldest entry. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "fixtures.h"
#include "join.h"

static void a_server_finds_its_client_once(void **state)
{
	struct join_table *t = join_table_new();
	struct synscope_handshake c = fixture_client(1, 0), s = fixture_server(2, 0, true);
	unsigned long long tag = 0;

	(void)state;
	assert_true(join_candidate(&c) && join_candidate(&s));
	assert_int_equal(join_find_or_add(t, &c, 11, &tag), 0);
	assert_int_equal(join_find_or_add(t, &s, 22, &tag), 1);
	assert_int_equal(tag, 11);
	/* Taken: the same server record again finds nothing, and waits itself. */
	assert_int_equal(join_find_or_add(t, &s, 22, &tag), 0);
	join_table_free(t);
}

static void only_established_ends_without_a_peer_are_candidates(void **state)
{
	struct synscope_handshake refused = fixture_client(1, 0), joined = fixture_client(1, 2);

	(void)state;
	refused.outcome = SYNSCOPE_OUT_REFUSED;
	assert_false(join_candidate(&refused));
	assert_false(join_candidate(&joined));
}

/* One client more than a set holds, all in one set: the oldest gives way, the others still join. */
static void a_full_set_gives_up_its_oldest(void **state)
{
	struct join_table *t = join_table_new();
	struct synscope_handshake c[JOIN_WAYS + 1], s;
	unsigned long long tag;
	int i;

	(void)state;
	for (i = 0; i <= JOIN_WAYS; i++) {
		c[i] = fixture_client(10 + i, 0);
		c[i].iss += i * JOIN_SETS; /* same set: the index is the key's hash modulo JOIN_SETS */
		assert_int_equal(join_find_or_add(t, &c[i], i, &tag), 0);
	}
	for (i = JOIN_WAYS; i >= 0; i--) {
		s = fixture_server(20 + i, 0, true);
		s.irs = c[i].iss;
		assert_int_equal(join_find_or_add(t, &s, 100, &tag), i ? 10 + i : 0);
		if (i)
			assert_int_equal(tag, i);
	}
	join_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_server_finds_its_client_once),
		cmocka_unit_test(only_established_ends_without_a_peer_are_candidates),
		cmocka_unit_test(a_full_set_gives_up_its_oldest),
	};

	return cmocka_run_group_tests_name("join", tests, NULL, NULL);
}
