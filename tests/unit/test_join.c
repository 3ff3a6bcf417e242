// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The join table: mirror images join once; a full set gives up an end whose wait is over,
 * else the table grows, and only at its largest is a waiting end pushed out, counted. */
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
	assert_int_equal(join_find_or_add(t, &c, 11, 100, 0, &tag), 0);
	assert_int_equal(join_find_or_add(t, &s, 22, 100, 1, &tag), 1);
	assert_int_equal(tag, 11);
	/* Taken: the same server record again finds nothing, and waits itself. */
	assert_int_equal(join_find_or_add(t, &s, 22, 100, 2, &tag), 0);
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

/*
 * Clients that all fall in one set at every size of the table: their keys differ in bits
 * above the largest set number only.
 */
static void same_set_clients(struct synscope_handshake *c, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		c[i] = fixture_client(10 + i, 0);
		c[i].iss += (__u32)i * JOIN_MAX_SETS;
	}
}

/* Whether client c's server end finds it (and takes it out). */
static bool server_finds(struct join_table *t, const struct synscope_handshake *c,
			 unsigned long long now)
{
	struct synscope_handshake s = fixture_server(1000, 0, true);
	unsigned long long tag;

	s.irs = c->iss;
	return join_find_or_add(t, &s, 0, now, now, &tag) == c->id;
}

/* One client more than a set holds, the first one's wait over: it gives way, the others join. */
static void a_full_set_gives_up_an_end_whose_wait_is_over(void **state)
{
	struct join_table *t = join_table_new();
	struct synscope_handshake c[JOIN_WAYS + 1];
	unsigned long long tag;
	int i;

	(void)state;
	same_set_clients(c, JOIN_WAYS + 1);
	for (i = 0; i < JOIN_WAYS; i++)
		assert_int_equal(join_find_or_add(t, &c[i], i, i ? 1000 : 50, 10, &tag), 0);
	assert_int_equal(join_find_or_add(t, &c[JOIN_WAYS], JOIN_WAYS, 1000, 60, &tag), 0);
	for (i = 1; i <= JOIN_WAYS; i++)
		assert_true(server_finds(t, &c[i], 70));
	assert_false(server_finds(t, &c[0], 70));
	assert_int_equal(join_table_evicted(t), 0);
	join_table_free(t);
}

/* A full set whose ends all still wait: the table grows, and every one of them joins. */
static void a_set_full_of_waiting_ends_grows_the_table(void **state)
{
	struct join_table *t = join_table_new();
	struct synscope_handshake c[2 * JOIN_WAYS];
	unsigned long long tag;
	int i;

	(void)state;
	for (i = 0; i < 2 * JOIN_WAYS; i++) {
		c[i] = fixture_client(10 + i, 0);
		c[i].iss += (__u32)i * JOIN_SETS; /* one set at the first size, two at the next */
		assert_int_equal(join_find_or_add(t, &c[i], i, 1000, 10, &tag), 0);
	}
	for (i = 0; i < 2 * JOIN_WAYS; i++)
		assert_true(server_finds(t, &c[i], 20));
	assert_int_equal(join_table_evicted(t), 0);
	join_table_free(t);
}

/*
 * Ends that share a set at every size: the table grows to its largest, then the end whose
 * wait ends first gives way, counted as a lost join.
 */
static void at_its_largest_a_waiting_end_is_pushed_out_and_counted(void **state)
{
	struct join_table *t = join_table_new();
	struct synscope_handshake c[JOIN_WAYS + 1];
	unsigned long long tag;
	int i;

	(void)state;
	same_set_clients(c, JOIN_WAYS + 1);
	for (i = 0; i <= JOIN_WAYS; i++)
		assert_int_equal(join_find_or_add(t, &c[i], i, i == 3 ? 500 : 1000, 10, &tag), 0);
	assert_int_equal(join_table_evicted(t), 1);
	for (i = 0; i <= JOIN_WAYS; i++)
		assert_int_equal(server_finds(t, &c[i], 20), i != 3);
	join_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_server_finds_its_client_once),
		cmocka_unit_test(only_established_ends_without_a_peer_are_candidates),
		cmocka_unit_test(a_full_set_gives_up_an_end_whose_wait_is_over),
		cmocka_unit_test(a_set_full_of_waiting_ends_grows_the_table),
		cmocka_unit_test(at_its_largest_a_waiting_end_is_pushed_out_and_counted),
	};

	return cmocka_run_group_tests_name("join", tests, NULL, NULL);
}
