// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The tracker: joins, hold window, late joins, print order, close records, counts. */
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
	unsigned int n, links, closes;
	__u64 id[64], peer[64];                  /* ends and close records, in print order */
	bool close[64];                          /* entry i is a close record */
	__u64 link_client[8], link_server[8];
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
	printed.link_client[printed.links] = link->client_id;
	printed.link_server[printed.links] = link->server_id;
	printed.links++;
	return 0;
}

static int capture_close(struct output *out, const struct conn_close *close)
{
	(void)out;
	printed.id[printed.n] = close->raw.id;
	printed.peer[printed.n] = close->raw.peer_id;
	printed.close[printed.n] = true;
	printed.n++;
	printed.closes++;
	return 0;
}

static const struct output_ops capture_ops = {
	.end = capture_end, .link = capture_link, .close = capture_close};

static struct conn_close close_of(__u64 id, __u8 role)
{
	struct conn_close c;

	memset(&c, 0, sizeof(c));
	c.raw.type = SYNSCOPE_REC_CLOSE;
	c.raw.role = role;
	c.raw.id = id;
	c.kind = CLOSE_RESET_OUT;
	return c;
}
static struct output capture = {.ops = &capture_ops};

static int reset(void **state)
{
	(void)state;
	memset(&printed, 0, sizeof(printed));
	return 0;
}

/* Client first, then its server: each is printed with the other's id, at once. */
static void ends_join_by_ports_and_isns(void **state)
{
	struct tracker *t = tracker_new(&capture, 200 * MS);
	struct conn_end c = fixture_end(fixture_client(1, 0)), s = fixture_end(fixture_server(2, 0, true));

	(void)state;
	tracker_end(t, &c, 0);
	assert_int_equal(printed.n, 0); /* waits for its server */
	tracker_end(t, &s, 0);
	assert_int_equal(printed.n, 2);
	assert_int_equal(printed.id[0], 1); /* the end that waited, then the one that joined it */
	assert_int_equal(printed.peer[0], 2);
	assert_int_equal(printed.id[1], 2);
	assert_int_equal(printed.peer[1], 1);
	assert_int_equal(tracker_summary(t)->joined, 2);
	assert_int_equal(printed.links, 0);
	tracker_free(t);
}

/* The server's record may leave the kernel first: it waits for its client the same way. */
static void server_first_waits_for_its_client(void **state)
{
	struct tracker *t = tracker_new(&capture, 200 * MS);
	struct conn_end c = fixture_end(fixture_client(1, 0)), s = fixture_end(fixture_server(2, 0, true));

	(void)state;
	tracker_end(t, &s, 0);
	tracker_tick(t, 5 * MS);
	assert_int_equal(printed.n, 0);
	tracker_end(t, &c, 5 * MS);
	assert_int_equal(printed.n, 2);
	assert_int_equal(printed.id[0], 2); /* the held server, patched */
	assert_int_equal(printed.peer[0], 1);
	assert_int_equal(printed.id[1], 1);
	assert_int_equal(printed.peer[1], 2);
	tracker_free(t);
}

/* Another connection (other ISS, or other ports) is not a peer; two clients never join. */
static void only_the_mirror_image_joins(void **state)
{
	struct tracker *t = tracker_new(&capture, 200 * MS);
	struct synscope_handshake other_iss = fixture_server(2, 0, true), other_port = other_iss;
	struct conn_end c = fixture_end(fixture_client(1, 0)), c2 = fixture_end(fixture_client(5, 0));
	struct conn_end s1, s2;

	(void)state;
	other_iss.irs += 1;
	other_port.id = 3;
	other_port.dport += 1;
	s1 = fixture_end(other_iss);
	s2 = fixture_end(other_port);
	tracker_end(t, &c, 0);
	tracker_end(t, &c2, 0);
	tracker_end(t, &s1, 0);
	tracker_end(t, &s2, 0);
	tracker_flush(t);
	assert_int_equal(printed.n, 4);
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(printed.peer[i], 0);
	assert_int_equal(tracker_summary(t)->joined, 0);
	tracker_free(t);
}

/* A peer that comes after the hold: it is printed joined, and the printed end's half is a link. */
static void peer_after_the_hold_is_a_late_link(void **state)
{
	struct tracker *t = tracker_new(&capture, 200 * MS);
	struct conn_end c = fixture_end(fixture_client(1, 0)), s = fixture_end(fixture_server(2, 0, true));

	(void)state;
	tracker_end(t, &c, 0);
	tracker_tick(t, 201 * MS);
	assert_int_equal(printed.n, 1);
	assert_int_equal(printed.peer[0], 0);
	tracker_end(t, &s, 300 * MS);
	tracker_tick(t, 300 * MS);
	assert_int_equal(printed.n, 2);
	assert_int_equal(printed.peer[1], 1);
	assert_int_equal(printed.links, 1);
	assert_int_equal(printed.link_client[0], 1);
	assert_int_equal(printed.link_server[0], 2);
	assert_int_equal(tracker_summary(t)->late_links, 1);
	tracker_free(t);
}

/* With no hold (-r of a capture as a stream, or hold 0), nothing waits: joins come as links. */
static void without_hold_nothing_waits(void **state)
{
	struct tracker *t = tracker_new(&capture, 0);
	struct conn_end c = fixture_end(fixture_client(1, 0)), s = fixture_end(fixture_server(2, 0, true));

	(void)state;
	tracker_end(t, &c, 0);
	assert_int_equal(printed.n, 1);
	tracker_end(t, &s, 0);
	assert_int_equal(printed.n, 2);
	assert_int_equal(printed.peer[1], 1);
	assert_int_equal(printed.links, 1);
	tracker_free(t);
}

/* A close record that comes while its end waits for its peer follows that end, with the peer. */
static void close_record_of_a_held_end_follows_it(void **state)
{
	struct tracker *t = tracker_new(&capture, 200 * MS);
	struct conn_end c = fixture_end(fixture_client(1, 0)), s = fixture_end(fixture_server(2, 0, true));
	struct conn_close cc = close_of(1, SYNSCOPE_ROLE_CLIENT), sc = close_of(2, SYNSCOPE_ROLE_SERVER);

	(void)state;
	tracker_expect_closes(t, true);
	tracker_end(t, &c, 0);
	tracker_close(t, &cc, 0); /* RST-closed before its server's accept() returned */
	assert_int_equal(printed.n, 0);
	tracker_end(t, &s, 1 * MS);
	tracker_tick(t, 1 * MS);
	tracker_close(t, &sc, 1 * MS);
	assert_int_equal(printed.n, 4);
	/* the client, its close, the server, the server's close */
	assert_int_equal(printed.id[0], 1);
	assert_true(printed.close[1]);
	assert_int_equal(printed.id[1], 1);
	assert_int_equal(printed.peer[1], 2);
	assert_int_equal(printed.id[2], 2);
	assert_true(printed.close[3]);
	assert_int_equal(printed.id[3], 2);
	assert_int_equal(printed.peer[3], 1);
	assert_int_equal(tracker_summary(t)->closes, 2);
	tracker_free(t);
}

/* Close records come long after their ends were printed: they still name the peer. */
static void close_records_name_the_peer_later(void **state)
{
	struct tracker *t = tracker_new(&capture, 0);
	struct conn_end c = fixture_end(fixture_client(1, 0)), s = fixture_end(fixture_server(2, 0, true));
	struct conn_end lone = fixture_end(fixture_client(7, 0));
	struct conn_close cc = close_of(1, SYNSCOPE_ROLE_CLIENT), sc = close_of(2, SYNSCOPE_ROLE_SERVER);
	struct conn_close lc = close_of(7, SYNSCOPE_ROLE_CLIENT);

	(void)state;
	tracker_expect_closes(t, true);
	lone.raw.iss = 99; /* a remote server's client: never joined */
	tracker_end(t, &c, 0);
	tracker_end(t, &s, 0);
	tracker_end(t, &lone, 0);
	tracker_close(t, &sc, 0);
	tracker_close(t, &lc, 0);
	tracker_close(t, &cc, 0);
	assert_int_equal(printed.closes, 3);
	assert_int_equal(printed.id[3], 2);
	assert_int_equal(printed.peer[3], 1);
	assert_int_equal(printed.id[4], 7);
	assert_int_equal(printed.peer[4], 0);
	assert_int_equal(printed.id[5], 1);
	assert_int_equal(printed.peer[5], 2);
	tracker_free(t);
}

/*
 * A close record that comes before its end's handshake record (the two left
 * the kernel through different CPUs' ring buffers) waits for it, and follows
 * it; one whose end never comes is printed on its own after the hold.
 */
static void a_close_record_before_its_end_waits_for_it(void **state)
{
	struct tracker *t = tracker_new(&capture, 200 * MS);
	struct conn_end c = fixture_end(fixture_client(1, 0)), s = fixture_end(fixture_server(2, 0, true));
	struct conn_close sc = close_of(2, SYNSCOPE_ROLE_SERVER), orphan = close_of(9, SYNSCOPE_ROLE_SERVER);

	(void)state;
	tracker_expect_closes(t, true);
	tracker_end(t, &c, 0);
	tracker_close(t, &sc, 1 * MS);
	tracker_close(t, &orphan, 1 * MS);
	tracker_tick(t, 2 * MS);
	assert_int_equal(printed.n, 0);
	tracker_end(t, &s, 3 * MS);
	/* the client, the server, the server's close with its peer */
	assert_int_equal(printed.n, 3);
	assert_int_equal(printed.id[1], 2);
	assert_false(printed.close[1]);
	assert_true(printed.close[2]);
	assert_int_equal(printed.id[2], 2);
	assert_int_equal(printed.peer[2], 1);
	tracker_tick(t, 200 * MS);
	assert_int_equal(printed.n, 3);
	tracker_tick(t, 201 * MS); /* the orphan's end never came */
	assert_int_equal(printed.n, 4);
	assert_int_equal(printed.id[3], 9);
	assert_int_equal(tracker_summary(t)->closes, 2);
	tracker_free(t);
}

/* A capture of a version that joined in the kernel: its peers are taken as they are. */
static void ends_joined_in_the_kernel_print_at_once(void **state)
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

/* A joined end does not wait behind an older one still waiting; waits end by their own clock. */
static void a_joined_end_does_not_wait_for_older_ones(void **state)
{
	struct tracker *t = tracker_new(&capture, 200 * MS);
	struct conn_end a = fixture_end(fixture_client(1, 0)), b = fixture_end(fixture_client(3, 0));
	struct conn_end local = fixture_end(fixture_client(5, 0));
	struct conn_link link_b = {.client_id = 3, .server_id = 4};
	__u32 lo = htonl(0x7f000001);

	(void)state;
	memcpy(local.raw.daddr, &lo, 4); /* to 127.0.0.1: its server is on this host */
	tracker_end(t, &a, 0);
	tracker_end(t, &local, 0);
	tracker_end(t, &b, 1 * MS);
	tracker_link(t, &link_b);
	tracker_tick(t, 2 * MS);
	assert_int_equal(printed.n, 1);
	assert_int_equal(printed.id[0], 3);
	assert_int_equal(printed.peer[0], 4);
	tracker_tick(t, 201 * MS);
	assert_int_equal(printed.n, 2);
	assert_int_equal(printed.id[1], 1);
	assert_int_equal(printed.peer[1], 0);
	tracker_tick(t, 9 * 1000 * MS); /* a loopback end waits 10 s for its server */
	assert_int_equal(printed.n, 2);
	tracker_tick(t, 10 * 1000 * MS);
	assert_int_equal(printed.n, 3);
	assert_int_equal(printed.id[2], 5);
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

/* A capture of a version that joined in the kernel: a recovered server end waits, like a
 * client, for the LINK its client (recovered later) sent; a joined end prints at once. */
static void late_link_patches_held_recovered_server(void **state)
{
	struct tracker *t = tracker_new(&capture, 200 * MS);
	struct synscope_handshake raw = fixture_server(2, 0, true);
	struct conn_end seen = fixture_end(fixture_server(3, 9, true)), s;
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
		cmocka_unit_test_setup(ends_join_by_ports_and_isns, reset),
		cmocka_unit_test_setup(server_first_waits_for_its_client, reset),
		cmocka_unit_test_setup(only_the_mirror_image_joins, reset),
		cmocka_unit_test_setup(peer_after_the_hold_is_a_late_link, reset),
		cmocka_unit_test_setup(without_hold_nothing_waits, reset),
		cmocka_unit_test_setup(close_record_of_a_held_end_follows_it, reset),
		cmocka_unit_test_setup(close_records_name_the_peer_later, reset),
		cmocka_unit_test_setup(a_close_record_before_its_end_waits_for_it, reset),
		cmocka_unit_test_setup(ends_joined_in_the_kernel_print_at_once, reset),
		cmocka_unit_test_setup(late_link_patches_held_client, reset),
		cmocka_unit_test_setup(unjoined_client_prints_after_hold, reset),
		cmocka_unit_test_setup(repeated_link_for_joined_client_is_dropped, reset),
		cmocka_unit_test_setup(a_joined_end_does_not_wait_for_older_ones, reset),
		cmocka_unit_test_setup(failed_clients_are_not_held, reset),
		cmocka_unit_test_setup(flush_prints_everything, reset),
		cmocka_unit_test_setup(counts_per_listener, reset),
		cmocka_unit_test_setup(late_link_patches_held_recovered_server, reset),
	};

	return cmocka_run_group_tests_name("tracker", tests, NULL, NULL);
}
