// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The tracker: late joins, hold window, print order, counts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "fixtures.h"
#include "tracker.h"

#define MS 1000000ULL

/* A sink that remembers what it was given. */
static struct {
	unsigned int n, links;
	__u64 id[64], peer[64];
} printed;

static int capture_end(struct output *out, const struct conn_end *end)
{
	(void)out;
	printed.id[printed.n] = end->raw.id;
	printed.peer[printed.n] = end->raw.peer_id;
	printed.n++;
	return 0;
}

static int capture_link(struct output *out, const struct conn_link *link)
{
	(void)out;
	(void)link;
	printed.links++;
	return 0;
}

static const struct output_ops capture_ops = {
	.end = capture_end, .link = capture_link};
static struct output capture = {.ops = &capture_ops};

static int reset(void **state)
{
	(void)state;
	memset(&printed, 0, sizeof(printed));
	return 0;
}

static void joined_ends_print_at_once(void **state)
{
	struct tracker *t = tracker_new(&capture, 200 * MS);
	struct conn_end c = fixture_end(fixture_client(1, 2)), s = fixture_end(fixture_server(2, 1, true));

	(void)state;
	tracker_end(t, &c, 0);
	tracker_end(t, &s, 0);
	assert_int_equal(printed.n, 2);
	assert_int_equal(printed.peer[0], 2);
	assert_int_equal(printed.peer[1], 1);
	assert_int_equal(tracker_summary(t)->joined, 2);
	tracker_free(t);
}

static void late_link_patches_held_client(void **state)
{
	struct tracker *t = tracker_new(&capture, 200 * MS);
	struct conn_end c = fixture_end(fixture_client(1, 0));
	struct conn_link link = {.client_id = 1, .server_id = 2};

	(void)state;
	tracker_end(t, &c, 10 * MS);
	assert_int_equal(printed.n, 0); /* held, waiting for a join */
	tracker_link(t, &link);
	tracker_tick(t, 11 * MS);
	assert_int_equal(printed.n, 1);
	assert_int_equal(printed.peer[0], 2);
	assert_int_equal(tracker_summary(t)->late_links, 0);
	tracker_free(t);
}

static void unjoined_client_prints_after_hold(void **state)
{
	struct tracker *t = tracker_new(&capture, 200 * MS);
	struct conn_end c = fixture_end(fixture_client(1, 0));
	struct conn_link link = {.client_id = 1, .server_id = 2};

	(void)state;
	tracker_end(t, &c, 10 * MS);
	tracker_tick(t, 100 * MS);
	assert_int_equal(printed.n, 0);
	tracker_tick(t, 210 * MS);
	assert_int_equal(printed.n, 1);
	assert_int_equal(printed.peer[0], 0);
	tracker_link(t, &link); /* too late: counted and written on its own */
	assert_int_equal(tracker_summary(t)->late_links, 1);
	assert_int_equal(printed.links, 1);
	tracker_free(t);
}

static void repeated_link_for_joined_client_is_dropped(void **state)
{
	struct tracker *t = tracker_new(&capture, 200 * MS);
	struct conn_end c = fixture_end(fixture_client(1, 2));
	struct conn_link link = {.client_id = 1, .server_id = 2};

	(void)state;
	tracker_end(t, &c, 0); /* printed at once, already joined in the kernel */
	tracker_link(t, &link); /* the kernel could not tell and said it again */
	assert_int_equal(printed.n, 1);
	assert_int_equal(printed.links, 0);
	assert_int_equal(tracker_summary(t)->late_links, 0);
	assert_int_equal(tracker_summary(t)->joined, 1);
	tracker_free(t);
}

static void held_clients_keep_arrival_order(void **state)
{
	struct tracker *t = tracker_new(&capture, 200 * MS);
	struct conn_end a = fixture_end(fixture_client(1, 0)), b = fixture_end(fixture_client(3, 0));
	struct conn_link link_b = {.client_id = 3, .server_id = 4};

	(void)state;
	tracker_end(t, &a, 0);
	tracker_end(t, &b, 1 * MS);
	tracker_link(t, &link_b);
	tracker_tick(t, 2 * MS);
	assert_int_equal(printed.n, 0); /* b is joined but a, older, still waits */
	tracker_tick(t, 201 * MS);
	assert_int_equal(printed.n, 2);
	assert_int_equal(printed.id[0], 1);
	assert_int_equal(printed.id[1], 3);
	assert_int_equal(printed.peer[1], 4);
	tracker_free(t);
}

static void failed_clients_are_not_held(void **state)
{
	struct tracker *t = tracker_new(&capture, 200 * MS);
	struct synscope_handshake raw = fixture_client(1, 0);
	struct conn_end c;

	(void)state;
	raw.outcome = SYNSCOPE_OUT_REFUSED;
	raw.err = 111;
	c = fixture_end(raw);
	tracker_end(t, &c, 0);
	assert_int_equal(printed.n, 1);
	assert_int_equal(tracker_summary(t)->by_outcome[SYNSCOPE_OUT_REFUSED], 1);
	tracker_free(t);
}

static void flush_prints_everything(void **state)
{
	struct tracker *t = tracker_new(&capture, 200 * MS);
	struct conn_end c = fixture_end(fixture_client(1, 0));

	(void)state;
	tracker_end(t, &c, 0);
	tracker_flush(t);
	assert_int_equal(printed.n, 1);
	tracker_free(t);
}

static void counts_per_listener(void **state)
{
	struct tracker *t = tracker_new(&capture, 0);
	struct conn_end s1 = fixture_end(fixture_server(2, 1, true));
	struct conn_end s2 = fixture_end(fixture_server(4, 3, false));
	struct conn_end c = fixture_end(fixture_client(1, 2));
	struct run_summary *sum;

	(void)state;
	tracker_end(t, &c, 0);
	tracker_end(t, &s1, 0);
	tracker_end(t, &s2, 0);
	sum = tracker_summary(t);
	assert_int_equal(sum->ends, 3);
	assert_int_equal(sum->clients, 1);
	assert_int_equal(sum->servers, 2);
	assert_int_equal(sum->not_accepted, 1);
	assert_int_equal(sum->nlisteners, 1);
	assert_int_equal(sum->listeners[0].port, 8080);
	assert_int_equal(sum->listeners[0].completed, 2);
	assert_int_equal(sum->listeners[0].accepted, 1);
	assert_int_equal(sum->listeners[0].not_accepted, 1);
	assert_int_equal(sum->listeners[0].max_acceptq, 3);
	assert_int_equal(sum->listeners[0].backlog, 128);
	assert_int_equal(sum->listeners[0].max_wait_us, 3000);
	tracker_free(t);
}

/* A recovered server end printed without its peer waits, like a client, for the LINK its
 * client (recovered later) sends; an end the tracepoint saw prints at once. */
static void late_link_patches_held_recovered_server(void **state)
{
	struct tracker *t = tracker_new(&capture, 200 * MS);
	struct synscope_handshake raw = fixture_server(2, 0, true);
	struct conn_end seen = fixture_end(fixture_server(3, 0, true)), s;
	struct conn_link link = {.client_id = 1, .server_id = 2};

	(void)state;
	raw.flags |= SYNSCOPE_F_RECOVERED;
	s = fixture_end(raw);
	tracker_end(t, &seen, 10 * MS);
	assert_int_equal(printed.n, 1);
	tracker_end(t, &s, 10 * MS);
	assert_int_equal(printed.n, 1); /* held, waiting for its client's LINK */
	tracker_link(t, &link);
	tracker_tick(t, 11 * MS);
	assert_int_equal(printed.n, 2);
	assert_int_equal(printed.id[1], 2);
	assert_int_equal(printed.peer[1], 1);
	assert_int_equal(printed.links, 0);
	assert_int_equal(tracker_summary(t)->recovered, 1);
	assert_int_equal(tracker_summary(t)->late_links, 0);
	tracker_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(joined_ends_print_at_once, reset),
		cmocka_unit_test_setup(late_link_patches_held_client, reset),
		cmocka_unit_test_setup(unjoined_client_prints_after_hold, reset),
		cmocka_unit_test_setup(repeated_link_for_joined_client_is_dropped, reset),
		cmocka_unit_test_setup(held_clients_keep_arrival_order, reset),
		cmocka_unit_test_setup(failed_clients_are_not_held, reset),
		cmocka_unit_test_setup(flush_prints_everything, reset),
		cmocka_unit_test_setup(counts_per_listener, reset),
		cmocka_unit_test_setup(late_link_patches_held_recovered_server, reset),
	};

	return cmocka_run_group_tests_name("tracker", tests, NULL, NULL);
}
