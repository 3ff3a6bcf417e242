// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Decoding of kernel records: validation, normalisation, derived timings. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "fixtures.h"

static void decodes_a_client_end(void **state)
{
	struct synscope_handshake raw = fixture_client(1, 2);
	struct conn_end end;
	struct conn_link link;
	struct conn_close close;

	(void)state;
	assert_int_equal(decode_record(&raw, sizeof(raw), &end, &link, &close), DECODED_END);
	assert_int_equal(end.family, AF_INET);
	assert_false(end.v4mapped);
	assert_string_equal(end.saddr, "10.0.0.1");
	assert_string_equal(end.daddr, "10.0.0.2");
	assert_int_equal(end.raw.iss, 1000);
	assert_int_equal(end.raw.irs, 4000000000u);
	assert_int_equal(end_connect_us(&end), 250);
	assert_int_equal(end_accept_wait_us(&end), -1);
}

static void normalises_ipv4_mapped_server_end(void **state)
{
	struct conn_end end = fixture_end(fixture_server(2, 1, true));

	(void)state;
	assert_int_equal(end.family, AF_INET);
	assert_true(end.v4mapped);
	assert_string_equal(end.saddr, "10.0.0.2");
	assert_string_equal(end.daddr, "10.0.0.1");
	assert_int_equal(end_accept_wait_us(&end), 3000);
	assert_int_equal(end_connect_us(&end), -1);
}

/* The hand-written IPv4 text equals inet_ntop()'s, for every value of each
 * byte and for a spread of whole addresses, plain and v4-mapped. */
static void ipv4_text_matches_inet_ntop(void **state)
{
	struct synscope_handshake raw = fixture_client(1, 2);
	struct conn_end end;
	struct conn_link link;
	struct conn_close close;
	char want[INET6_ADDRSTRLEN];
	uint32_t x = 2463534242u;
	__u8 a[4];
	int i, v;

	(void)state;
	for (i = 0; i < 4 * 256 + 100000; i++) {
		if (i < 4 * 256) {
			memset(a, i % 3 ? 255 : 0, 4);
			a[i / 256] = (__u8)(i % 256);
		} else {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift32 */
			memcpy(a, &x, 4);
		}
		for (v = 0; v < 2; v++) {
			raw.family = v ? AF_INET6 : AF_INET;
			memset(raw.saddr, 0, 16);
			memset(raw.daddr, 0, 16);
			if (v) {
				raw.saddr[10] = raw.saddr[11] = raw.daddr[10] = raw.daddr[11] = 0xff;
				memcpy(raw.saddr + 12, a, 4);
				memcpy(raw.daddr + 12, a, 4);
			} else {
				memcpy(raw.saddr, a, 4);
				memcpy(raw.daddr, a, 4);
			}
			assert_int_equal(decode_record(&raw, sizeof(raw), &end, &link, &close),
					 DECODED_END);
			assert_non_null(inet_ntop(AF_INET, a, want, sizeof(want)));
			assert_int_equal(end.family, AF_INET);
			assert_string_equal(end.saddr, want);
			assert_string_equal(end.daddr, want);
		}
	}
}

static void keeps_real_ipv6(void **state)
{
	struct synscope_handshake raw = fixture_client(1, 0);
	struct conn_end end;
	struct conn_link link;
	struct conn_close close;

	(void)state;
	raw.family = AF_INET6;
	memset(raw.saddr, 0, 16);
	memset(raw.daddr, 0, 16);
	raw.saddr[15] = 1;                 /* ::1 */
	raw.daddr[0] = 0x20, raw.daddr[1] = 0x01, raw.daddr[2] = 0x0d, raw.daddr[3] = 0xb8;
	raw.daddr[15] = 2;                 /* 2001:db8::2 */
	assert_int_equal(decode_record(&raw, sizeof(raw), &end, &link, &close), DECODED_END);
	assert_int_equal(end.family, AF_INET6);
	assert_false(end.v4mapped);
	assert_string_equal(end.saddr, "::1");
	assert_string_equal(end.daddr, "2001:db8::2");
}

static void never_accepted_has_no_wait(void **state)
{
	struct conn_end end = fixture_end(fixture_server(2, 1, false));

	(void)state;
	assert_int_equal(end_accept_wait_us(&end), -1);
}

static void rejects_short_and_unknown_records(void **state)
{
	struct synscope_handshake raw = fixture_client(1, 2);
	struct conn_end end;
	struct conn_link link;
	struct conn_close close;
	__u16 bogus = 99;

	(void)state;
	assert_int_equal(decode_record(&raw, sizeof(raw) - 1, &end, &link, &close), -EINVAL);
	assert_int_equal(decode_record(&raw, 1, &end, &link, &close), -EINVAL);
	assert_int_equal(decode_record(NULL, 0, &end, &link, &close), -EINVAL);
	assert_int_equal(decode_record(&bogus, sizeof(bogus), &end, &link, &close), -EINVAL);
	raw.role = 3;
	assert_int_equal(decode_record(&raw, sizeof(raw), &end, &link, &close), -EINVAL);
	raw = fixture_client(1, 2);
	raw.outcome = 0;
	assert_int_equal(decode_record(&raw, sizeof(raw), &end, &link, &close), -EINVAL);
	raw = fixture_client(1, 2);
	raw.family = 1; /* AF_UNIX */
	assert_int_equal(decode_record(&raw, sizeof(raw), &end, &link, &close), -EINVAL);
}

static void terminates_comm(void **state)
{
	struct synscope_handshake raw = fixture_client(1, 2);
	struct conn_end end;
	struct conn_link link;
	struct conn_close close;

	(void)state;
	memset(raw.comm, 'x', sizeof(raw.comm));
	assert_int_equal(decode_record(&raw, sizeof(raw), &end, &link, &close), DECODED_END);
	assert_int_equal(strlen(end.raw.comm), SYNSCOPE_COMM_LEN - 1);
}

static void decodes_links(void **state)
{
	struct synscope_link raw = {.type = SYNSCOPE_REC_LINK, .client_id = 5, .server_id = 9};
	struct conn_end end;
	struct conn_link link;
	struct conn_close close;

	(void)state;
	assert_int_equal(decode_record(&raw, sizeof(raw), &end, &link, &close), DECODED_LINK);
	assert_int_equal(link.client_id, 5);
	assert_int_equal(link.server_id, 9);
	raw.client_id = 0;
	assert_int_equal(decode_record(&raw, sizeof(raw), &end, &link, &close), -EINVAL);
}

/* Records read from the socket map at exit: outcome 0 only with the flag; where each was. */
static void in_flight_records(void **state)
{
	struct synscope_handshake c = fixture_client(1, 0), sv = fixture_server(2, 1, false);
	struct conn_end end;
	struct conn_link link;
	struct conn_close close;

	(void)state;
	c.outcome = 0;
	assert_int_equal(decode_record(&c, sizeof(c), &end, &link, &close), -EINVAL);
	c.flags = SYNSCOPE_F_CALL_SEEN | SYNSCOPE_F_RETURNED | SYNSCOPE_F_IN_FLIGHT;
	c.ts_end = 0;
	assert_int_equal(decode_record(&c, sizeof(c), &end, &link, &close), DECODED_END);
	assert_string_equal(end_in_flight_state(&end.raw), "SYN_SENT");
	assert_string_equal(end_outcome_name(&end.raw), "unresolved");
	assert_int_equal(end_time_ns(&end.raw), end.raw.ts_syn);
	c.flags |= SYNSCOPE_F_RESOLVED;
	c.flags &= ~SYNSCOPE_F_RETURNED;
	c.outcome = SYNSCOPE_OUT_ESTABLISHED;
	assert_string_equal(end_in_flight_state(&c), "connect_return");
	sv.flags |= SYNSCOPE_F_IN_FLIGHT;
	assert_string_equal(end_in_flight_state(&sv), "accept_queue");
	sv.flags |= SYNSCOPE_F_ACCEPTED;
	assert_string_equal(end_in_flight_state(&sv), "accept_return");
	sv.flags &= ~SYNSCOPE_F_RESOLVED;
	assert_string_equal(end_in_flight_state(&sv), "SYN_RECV");
	sv.flags &= ~SYNSCOPE_F_IN_FLIGHT;
	assert_null(end_in_flight_state(&sv));
	assert_string_equal(end_outcome_name(&sv), "established");
}

static void names(void **state)
{
	(void)state;
	assert_string_equal(role_name(SYNSCOPE_ROLE_CLIENT), "client");
	assert_string_equal(role_name(0), "?");
	assert_string_equal(outcome_name(SYNSCOPE_OUT_REFUSED), "refused");
	assert_string_equal(outcome_name(SYNSCOPE_OUT_ABANDONED), "abandoned");
	assert_string_equal(outcome_name(99), "?");
	assert_string_equal(errno_name(ECONNREFUSED), "ECONNREFUSED");
	assert_null(errno_name(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decodes_a_client_end),
		cmocka_unit_test(normalises_ipv4_mapped_server_end),
		cmocka_unit_test(ipv4_text_matches_inet_ntop),
		cmocka_unit_test(keeps_real_ipv6),
		cmocka_unit_test(never_accepted_has_no_wait),
		cmocka_unit_test(rejects_short_and_unknown_records),
		cmocka_unit_test(terminates_comm),
		cmocka_unit_test(decodes_links),
		cmocka_unit_test(in_flight_records),
		cmocka_unit_test(names),
	};

	return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
