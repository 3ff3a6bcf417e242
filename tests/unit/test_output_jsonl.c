// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* JSONL sink: the README's fields, nulls where a fact is unknown, one object a line. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "fixtures.h"
#include "output.h"

static const struct output_ops no_summary_ops = {0};

/* Writes one end through the JSONL sink and parses the line back. */
static json_object *roundtrip(struct synscope_handshake raw)
{
	struct conn_end end = fixture_end(raw);
	struct output out;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_object *obj;

	assert_non_null(f);
	output_init(&out, OUTPUT_JSONL, f);
	out.boot_to_real_ns = 1700000000LL * 1000000000LL; /* 2023-11-14T22:13:20Z at boot */
	assert_int_equal(out.ops->end(&out, &end), 0);
	assert_int_equal(output_batch_end_all(&out), 0);
	out.ops = &no_summary_ops; /* frees the buffer without a stats line */
	assert_int_equal(output_finish_all(&out, NULL), 0);
	fclose(f);
	assert_non_null(strchr(buf, '\n'));
	assert_int_equal(strchr(buf, '\n') - buf + 1, (long)len); /* exactly one line */
	obj = json_tokener_parse(buf);
	free(buf);
	assert_non_null(obj);
	return obj;
}

static json_object *field(json_object *obj, const char *key)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(obj, key, &v));
	return v;
}

static void client_fields(void **state)
{
	json_object *o = roundtrip(fixture_client(1, 2));

	(void)state;
	assert_string_equal(json_object_get_string(field(o, "type")), "handshake");
	assert_int_equal(json_object_get_int64(field(o, "id")), 1);
	assert_int_equal(json_object_get_int64(field(o, "peer")), 2);
	assert_string_equal(json_object_get_string(field(o, "role")), "client");
	assert_string_equal(json_object_get_string(field(o, "outcome")), "established");
	assert_string_equal(json_object_get_string(field(o, "family")), "ipv4");
	assert_string_equal(json_object_get_string(field(o, "saddr")), "10.0.0.1");
	assert_int_equal(json_object_get_int(field(o, "sport")), 40000);
	assert_string_equal(json_object_get_string(field(o, "daddr")), "10.0.0.2");
	assert_int_equal(json_object_get_int(field(o, "dport")), 8080);
	assert_int_equal(json_object_get_int64(field(o, "iss")), 1000);
	assert_int_equal(json_object_get_uint64(field(o, "irs")), 4000000000u);
	assert_int_equal(json_object_get_int(field(o, "pid")), 42);
	assert_int_equal(json_object_get_int(field(o, "tid")), 43);
	assert_string_equal(json_object_get_string(field(o, "comm")), "client");
	assert_int_equal(json_object_get_int(field(o, "fd")), 3);
	assert_int_equal(json_object_get_int(field(o, "connect_us")), 250);
	assert_int_equal(json_object_get_int(field(o, "connect_ret")), 0);
	assert_null(field(o, "errno"));
	assert_int_equal(json_object_get_uint64(field(o, "ts_ns")), 1000250000ull);
	assert_string_equal(json_object_get_string(field(o, "ts")), "2023-11-14T22:13:21.000250000Z");
	assert_false(json_object_object_get_ex(o, "accept_wait_us", NULL));
	json_object_put(o);
}

static void server_fields(void **state)
{
	json_object *o = roundtrip(fixture_server(2, 1, true));

	(void)state;
	assert_string_equal(json_object_get_string(field(o, "role")), "server");
	assert_true(json_object_get_boolean(field(o, "v4mapped")));
	assert_string_equal(json_object_get_string(field(o, "saddr")), "10.0.0.2");
	assert_true(json_object_get_boolean(field(o, "accepted")));
	assert_int_equal(json_object_get_int(field(o, "accept_wait_us")), 3000);
	assert_int_equal(json_object_get_int(field(o, "acceptq")), 3);
	assert_int_equal(json_object_get_int(field(o, "backlog")), 128);
	assert_int_equal(json_object_get_int(field(o, "backlog_req")), 511);
	assert_int_equal(json_object_get_int(field(o, "pid")), 7);
	assert_int_equal(json_object_get_int(field(o, "fd")), 5);
	assert_string_equal(json_object_get_string(field(o, "accept_hook")), "syscall");
	assert_false(json_object_object_get_ex(o, "connect_us", NULL));
	json_object_put(o);
}

static void never_accepted_server_has_null_caller(void **state)
{
	json_object *o = roundtrip(fixture_server(2, 0, false));

	(void)state;
	assert_false(json_object_get_boolean(field(o, "accepted")));
	assert_null(field(o, "pid"));
	assert_null(field(o, "tid"));
	assert_null(field(o, "comm"));
	assert_null(field(o, "fd"));
	assert_null(field(o, "accept_wait_us"));
	assert_null(field(o, "peer"));
	json_object_put(o);
}

static void refused_client_names_errno_and_has_no_irs(void **state)
{
	struct synscope_handshake raw = fixture_client(1, 0);
	json_object *o;

	(void)state;
	raw.outcome = SYNSCOPE_OUT_REFUSED;
	raw.err = 111;
	raw.call_ret = -111;
	o = roundtrip(raw);
	assert_string_equal(json_object_get_string(field(o, "outcome")), "refused");
	assert_string_equal(json_object_get_string(field(o, "errno")), "ECONNREFUSED");
	assert_null(field(o, "irs"));
	assert_int_equal(json_object_get_int(field(o, "connect_ret")), -111);
	json_object_put(o);
}

static void escapes_comm(void **state)
{
	struct synscope_handshake raw = fixture_client(1, 0);
	json_object *o;

	(void)state;
	strcpy(raw.comm, "a\"b\\c\n");
	o = roundtrip(raw);
	assert_string_equal(json_object_get_string(field(o, "comm")), "a\"b\\c\n");
	json_object_put(o);
}

static void stats_record(void **state)
{
	struct run_summary sum = {.ends = 3, .clients = 1, .servers = 2, .not_accepted = 1};
	struct output out;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_object *o, *lost;

	(void)state;
	sum.kernel.ringbuf_drops = 4;
	sum.kernel.sock_map_full = 1;
	output_init(&out, OUTPUT_JSONL, f);
	assert_int_equal(out.ops->summary(&out, &sum), 0);
	fclose(f);
	o = json_tokener_parse(buf);
	free(buf);
	assert_non_null(o);
	assert_string_equal(json_object_get_string(field(o, "type")), "stats");
	assert_int_equal(json_object_get_int(field(o, "ends")), 3);
	lost = field(o, "lost");
	assert_int_equal(json_object_get_int(field(lost, "total")), 5);
	assert_int_equal(json_object_get_int(field(lost, "ringbuf_full")), 4);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(client_fields),
		cmocka_unit_test(server_fields),
		cmocka_unit_test(never_accepted_server_has_null_caller),
		cmocka_unit_test(refused_client_names_errno_and_has_no_irs),
		cmocka_unit_test(escapes_comm),
		cmocka_unit_test(stats_record),
	};

	return cmocka_run_group_tests_name("output_jsonl", tests, NULL, NULL);
}
