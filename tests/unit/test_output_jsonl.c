// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* JSONL sink: the README's fields, nulls where a fact is unknown, one object a line. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/tcp.h> /* TCP_* states */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "fixtures.h"
#include "jsonl_expect.h"
#include "output.h"

static const struct output_ops no_summary_ops = {0};

/* What one_line() writes: an end, or else a listener read at boot_ns. */
struct one_record {
	const struct conn_end *end;
	const struct listener_state *listener;
	unsigned long long boot_ns;
};

/* Writes one record through the JSONL sink and parses the line back. */
static json_object *one_line(const struct one_record *rec)
{
	struct output out;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_object *obj;

	assert_non_null(f);
	output_init(&out, OUTPUT_JSONL, f);
	out.boot_to_real_ns = 1700000000LL * 1000000000LL; /* 2023-11-14T22:13:20Z at boot */
	if (rec->end)
		assert_int_equal(out.ops->end(&out, rec->end), 0);
	else
		assert_int_equal(output_listener_all(&out, rec->listener, rec->boot_ns), 0);
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

static json_object *roundtrip(struct synscope_handshake raw)
{
	struct conn_end end = fixture_end(raw);

	return one_line(&(struct one_record){.end = &end});
}

static json_object *listener_roundtrip(const struct listener_state *l, unsigned long long boot_ns)
{
	return one_line(&(struct one_record){.listener = l, .boot_ns = boot_ns});
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

/* No process to name: pid, tid, comm, fd and the accept wait are null. */
static void assert_null_caller(json_object *o)
{
	assert_null(field(o, "pid"));
	assert_null(field(o, "tid"));
	assert_null(field(o, "comm"));
	assert_null(field(o, "fd"));
	assert_null(field(o, "accept_wait_us"));
}

static void never_accepted_server_has_null_caller(void **state)
{
	json_object *o = roundtrip(fixture_server(2, 0, false));

	(void)state;
	assert_false(json_object_get_boolean(field(o, "accepted")));
	assert_null_caller(o);
	assert_null(field(o, "peer"));
	json_object_put(o);
}

/* io_uring accepted it: accepted, but no caller, fd or wait to report. */
static void unseen_accept_is_accepted_with_null_caller(void **state)
{
	struct synscope_handshake raw = fixture_server(2, 1, true);
	json_object *o;

	(void)state;
	raw.flags = SYNSCOPE_F_RESOLVED | SYNSCOPE_F_ACCEPTED | SYNSCOPE_F_ACCEPT_UNSEEN;
	raw.pid = raw.tid = 0;
	raw.fd = -1;
	raw.ts_ret = 0;
	o = roundtrip(raw);
	assert_true(json_object_get_boolean(field(o, "accepted")));
	assert_false(json_object_get_boolean(field(o, "closed_in_queue")));
	assert_string_equal(json_object_get_string(field(o, "accept_hook")), "unseen");
	assert_null_caller(o);
	assert_null(field(o, "t_ret_ns"));
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
	sum.kernel_valid = true;
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

	/* Kernel counts unknown (a capture without its trailer): null, not 0. */
	sum.kernel_valid = false;
	f = open_memstream(&buf, &len);
	output_init(&out, OUTPUT_JSONL, f);
	assert_int_equal(out.ops->summary(&out, &sum), 0);
	fclose(f);
	o = json_tokener_parse(buf);
	free(buf);
	lost = field(o, "lost");
	assert_true(json_object_object_get_ex(lost, "total", NULL));
	assert_null(field(lost, "total"));
	assert_null(field(lost, "ringbuf_full"));
	assert_int_equal(json_object_get_int(field(lost, "undecodable")), 0);
	json_object_put(o);
}

/* xorshift64*: the same records on every run. */
static unsigned long long rnd(unsigned long long *st)
{
	*st ^= *st >> 12;
	*st ^= *st << 25;
	*st ^= *st >> 27;
	return *st * 2685821657736338717ULL;
}

/* comm values a task can set with prctl(PR_SET_NAME): anything but NUL, 15 bytes. */
static const char *const hostile_comms[] = {
	"a\"b\\c",
	"\n\t\r\b\f\x01\x1f\x7f",
	"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", /* é € 😀: valid */
	"\x80\xbf",             /* stray continuation bytes */
	"\xc0\xaf\xc1\xbf",       /* overlong 2-byte */
	"\xe0\x80\xaf",          /* overlong 3-byte */
	"\xf0\x80\x80\xaf",      /* overlong 4-byte */
	"\xed\xa0\x80\xed\xbf\xbf", /* surrogates */
	"\xf4\x90\x80\x80",      /* above U+10FFFF */
	"\xf5\xf8\xfe\xff",      /* never valid lead bytes */
	"x\xe2\x82",             /* truncated at the end */
	"\xe2\x82x\xf0\x9f\x98",  /* truncated before more */
	"</script>",
	"",
};

/* A random handshake record with every field varied, decoded as the tracer does. */
static struct conn_end random_end(unsigned long long *st, unsigned int i)
{
	struct synscope_handshake r;
	struct conn_end end;
	unsigned long long v = rnd(st);
	unsigned int k;

	r = v & 1 ? fixture_client(i, 0) : fixture_server(i, 0, v & 2);
	r.outcome = SYNSCOPE_OUT_ESTABLISHED + (v >> 2) % 6;
	r.err = (const int[]){0, 0, ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, 4095}[(v >> 5) % 6];
	r.flags ^= rnd(st) & (0xff | SYNSCOPE_F_IN_FLIGHT | SYNSCOPE_F_RECOVERED); /* every flag on and off */
	/* An end in flight at exit may not have resolved its handshake. */
	if ((r.flags & SYNSCOPE_F_IN_FLIGHT) && (v >> 12) % 4 == 0)
		r.outcome = 0;
	r.id = v & 4 ? rnd(st) : i;
	r.peer_id = (v >> 8) & 1 ? rnd(st) : 0;
	r.netns = rnd(st);
	r.iss = rnd(st);
	r.irs = rnd(st);
	r.retrans = (v >> 9) & 1 ? rnd(st) : 0;
	r.pid = rnd(st);
	r.tid = rnd(st);
	r.fd = (v >> 10) & 1 ? -1 : (int)rnd(st);
	r.call_ret = rnd(st);
	r.acceptq = rnd(st);
	r.backlog = rnd(st);
	r.backlog_req = (v >> 11) & 1 ? 0 : rnd(st);
	r.ts_call = (v >> 12) & 1 ? 0 : rnd(st) >> 2;
	r.ts_syn = (v >> 13) & 1 ? 0 : r.ts_call + rnd(st) % 1000000000;
	r.ts_end = (v >> 14) & 1 ? 0 : (v >> 15) & 1 ? rnd(st) : r.ts_syn + rnd(st) % 3000000000ULL;
	r.ts_ret = (v >> 16) & 1 ? 0 : r.ts_end + rnd(st) % 1000000;
	r.sport = rnd(st);
	r.dport = rnd(st);
	if ((v >> 17) & 1) {
		r.family = AF_INET6;
		for (k = 0; k < 16; k++) {
			r.saddr[k] = rnd(st);
			r.daddr[k] = rnd(st);
		}
	}
	memset(r.comm, 0, sizeof(r.comm));
	if ((v >> 18) % 3 == 0)
		strcpy(r.comm, hostile_comms[(v >> 20) % (sizeof(hostile_comms) / sizeof(*hostile_comms))]);
	else
		for (k = 0; k < (v >> 24) % 16; k++)
			r.comm[k] = 1 + rnd(st) % 255;
	end = fixture_end(r);
	if ((v >> 30) % 8 == 0) /* 16 bytes, no NUL: decode ends it, the writer must not need it */
		for (k = 0; k < SYNSCOPE_COMM_LEN; k++)
			end.raw.comm[k] = 1 + rnd(st) % 255;
	return end;
}

static struct conn_close random_close(unsigned long long *st, unsigned int i)
{
	struct synscope_close r;
	struct conn_end unused_end;
	struct conn_link unused_link;
	struct conn_close close;
	unsigned long long v = rnd(st), t = rnd(st) >> 4;
	unsigned int k;

	memset(&r, 0, sizeof(r));
	r.type = SYNSCOPE_REC_CLOSE;
	r.role = v & 1 ? SYNSCOPE_ROLE_CLIENT : SYNSCOPE_ROLE_SERVER;
	r.nstates = 1 + (v >> 1) % SYNSCOPE_CLOSE_STATES;
	r.flags = (v >> 4) & 0x1f; /* every close flag */
	r.err = (v >> 8) & 1 ? ECONNRESET : 0;
	r.id = (v >> 9) & 1 ? rnd(st) : i + 1;
	r.peer_id = (v >> 10) & 1 ? rnd(st) : 0;
	for (k = 0; k < r.nstates; k++) {
		r.states[k] = k ? 1 + rnd(st) % 12 : TCP_ESTABLISHED;
		r.ts[k] = t += rnd(st) % 2000000000;
	}
	if ((v >> 11) % 4 == 0)
		r.ts[r.nstates - 1] = rnd(st); /* lifetime may be negative: null */
	assert_int_equal(decode_record(&r, sizeof(r), &unused_end, &unused_link, &close), DECODED_CLOSE);
	return close;
}

enum rec_kind { REC_END, REC_CLOSE, REC_LINK };

struct sample {
	enum rec_kind kind;
	struct conn_end end;
	struct conn_close close;
	struct conn_link link;
	long long boot_to_real_ns; /* when it was written */
};

/*
 * Thousands of records of all three kinds, every field varied, written in
 * batches through the sink; every line parsed back strictly and compared
 * field by field, key order included.
 */
static void every_line_parses_to_its_record(void **state)
{
	enum { N = 20000 };
	struct sample *s = calloc(N, sizeof(*s));
	struct expect x[EXPECT_MAX];
	unsigned long long st = 0x9e3779b97f4a7c15ULL;
	struct output out;
	char *buf = NULL, *line, *nl;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	unsigned int i, n;
	const char *why;

	(void)state;
	assert_non_null(s);
	assert_non_null(f);
	output_init(&out, OUTPUT_JSONL, f);
	for (i = 0; i < N; i++) {
		unsigned long long v = rnd(&st);

		s[i].boot_to_real_ns = out.boot_to_real_ns;
		s[i].kind = v % 10 < 6 ? REC_END : v % 10 < 9 ? REC_CLOSE : REC_LINK;
		if (s[i].kind == REC_END) {
			s[i].end = random_end(&st, i + 1);
			assert_int_equal(out.ops->end(&out, &s[i].end), 0);
		} else if (s[i].kind == REC_CLOSE) {
			s[i].close = random_close(&st, i);
			assert_int_equal(out.ops->close(&out, &s[i].close), 0);
		} else {
			s[i].link.client_id = rnd(&st);
			s[i].link.server_id = v & 1 ? rnd(&st) : i;
			assert_int_equal(out.ops->link(&out, &s[i].link), 0);
		}
		if (v % 97 == 0) /* uneven batches, as the ring buffer hands them */
			assert_int_equal(output_batch_end_all(&out), 0);
		/* Some seconds apart, some within one: both sides of the time cache. */
		if (v % 1000 == 0)
			out.boot_to_real_ns += rnd(&st) % 100000000000ULL;
	}
	out.ops = &no_summary_ops;
	assert_int_equal(output_finish_all(&out, NULL), 0);
	fclose(f);
	assert_int_equal(out.lines, N);
	line = buf;
	for (i = 0; i < N; i++) {
		nl = memchr(line, '\n', buf + len - line);
		assert_non_null(nl);
		out.boot_to_real_ns = s[i].boot_to_real_ns;
		n = s[i].kind == REC_END	 ? expect_end(&out, &s[i].end, x)
		    : s[i].kind == REC_CLOSE ? expect_close(&out, &s[i].close, x)
					     : expect_link(&s[i].link, x);
		why = check_line(line, nl - line, x, n);
		if (why)
			fail_msg("record %u: %s\n%.*s", i, why, (int)(nl - line), line);
		line = nl + 1;
	}
	assert_ptr_equal(line, buf + len);
	free(buf);
	free(s);
}

/* The raw line of one client end whose comm is the n bytes at comm. */
static char *comm_line(const char *comm, size_t n)
{
	struct synscope_handshake raw = fixture_client(1, 0);
	struct conn_end end;
	struct output out;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	end = fixture_end(raw);
	memset(end.raw.comm, 0, sizeof(end.raw.comm));
	memcpy(end.raw.comm, comm, n); /* n = 16: no NUL, as a hostile record could have */
	output_init(&out, OUTPUT_JSONL, f);
	assert_int_equal(out.ops->end(&out, &end), 0);
	out.ops = &no_summary_ops;
	assert_int_equal(output_finish_all(&out, NULL), 0);
	fclose(f);
	return buf;
}

/* Exactly what the writer emits for each kind of hostile byte. */
static void hostile_comm_is_escaped_and_replaced(void **state)
{
	static const struct {
		const char *comm, *json;
	} cases[] = {
		{"a\"b\\c", "\"a\\\"b\\\\c\""},
		{"\n\t\r\b\f\x01\x1f", "\"\\n\\t\\r\\b\\f\\u0001\\u001f\""},
		{"caf\xc3\xa9\xf0\x9f\x98\x80", "\"caf\xc3\xa9\xf0\x9f\x98\x80\""},
		{"\x80x", "\"\\ufffdx\""},
		{"\xc0\xaf", "\"\\ufffd\\ufffd\""},
		{"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""},
		{"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},
		{"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
		{"\xf5\xff", "\"\\ufffd\\ufffd\""},
		{"x\xe2\x82", "\"x\\ufffd\\ufffd\""},
		{"\xe2\x82x", "\"\\ufffd\\ufffdx\""},
		{"\xf4\x8f\xbf\xbf\xef\xbf\xbf", "\"\xf4\x8f\xbf\xbf\xef\xbf\xbf\""}, /* U+10FFFF, U+FFFF */
		{"0123456789abcdef", "\"0123456789abcdef\""}, /* 16 bytes, no NUL */
		{"0123456789abcd\xc3\xa9", "\"0123456789abcd\xc3\xa9\""},
		{"0123456789abcde\xc3", "\"0123456789abcde\\ufffd\""}, /* cut by the 16-byte limit */
	};
	unsigned int i;
	char want[128];

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *line = comm_line(cases[i].comm, strnlen(cases[i].comm, SYNSCOPE_COMM_LEN));

		snprintf(want, sizeof(want), "\"comm\":%s,\"fd\"", cases[i].json);
		if (!strstr(line, want))
			fail_msg("case %u: %s not in\n%s", i, want, line);
		free(line);
	}
}

/* The cached date part gives format_rfc3339()'s string, within a second and across. */
static void cached_time_matches_strftime(void **state)
{
	struct rfc3339_cache c = {0};
	unsigned long long st = 42, boot = 0;
	char want[64], got[64];
	long long off = 1700000000LL * 1000000000LL;
	unsigned int i;

	(void)state;
	for (i = 0; i < 200000; i++) {
		unsigned long long v = rnd(&st);

		/* Mostly forwards by little, sometimes back, sometimes anywhere. */
		if (v % 50 == 0)
			boot = rnd(&st) >> (v % 3 ? 1 : 8);
		else if (v % 7 == 0)
			boot -= rnd(&st) % 2000000000;
		else
			boot += rnd(&st) % 100000000;
		if (v % 1000 == 0)
			off = (long long)(rnd(&st) >> 4) - (1LL << 59);
		format_rfc3339(boot, off, want, sizeof(want));
		*rfc3339_cached(&c, boot, off, got) = '\0';
		if (strcmp(want, got))
			fail_msg("boot %llu off %lld: %s, cached %s", boot, off, want, got);
	}
}

static void listener_record(void **state)
{
	struct listener_state l = {.q = {.netns = 4026531840ULL, .port = 8080, .address = "::",
					 .acceptq = 3, .backlog = 2, .synq = 5, .drops = 7},
				   .overflows = 4, .overflows_valid = true, .synack_retrans = 9};
	json_object *o;

	(void)state;
	o = listener_roundtrip(&l, 5ULL * 1000000000ULL + 250);
	assert_string_equal(json_object_get_string(field(o, "type")), "listener");
	assert_int_equal(json_object_get_uint64(field(o, "netns")), 4026531840ULL);
	assert_int_equal(json_object_get_int(field(o, "port")), 8080);
	assert_string_equal(json_object_get_string(field(o, "address")), "::");
	assert_int_equal(json_object_get_int(field(o, "acceptq")), 3);
	assert_int_equal(json_object_get_int(field(o, "backlog")), 2);
	assert_int_equal(json_object_get_int(field(o, "synq")), 5);
	assert_int_equal(json_object_get_int(field(o, "drops")), 7);
	assert_int_equal(json_object_get_int(field(o, "overflows")), 4);
	assert_int_equal(json_object_get_int(field(o, "synack_retrans")), 9);
	assert_string_equal(json_object_get_string(field(o, "ts")), "2023-11-14T22:13:25.000000250Z");
	assert_int_equal(json_object_get_int64(field(o, "ts_ns")), 5000000250LL);
	assert_int_equal(json_object_object_length(o), 12);
	json_object_put(o);

	l.overflows_valid = false; /* before 6.15 the kernel does not name the listener */
	o = listener_roundtrip(&l, 1);
	assert_true(json_object_is_type(field(o, "overflows"), json_type_null));
	json_object_put(o);
}

/* A sink that cannot write counts every record it dropped; none are lost silently. */
static void write_errors_are_counted(void **state)
{
	struct conn_end end = fixture_end(fixture_client(1, 2));
	FILE *f = fopen("/dev/full", "w");
	struct output out;
	unsigned int i;

	(void)state;
	if (!f)
		skip();
	output_init(&out, OUTPUT_JSONL, f);
	for (i = 0; i < 10; i++)
		assert_int_equal(out.ops->end(&out, &end), 0);
	assert_int_equal(output_batch_end_all(&out), 1); /* ENOSPC */
	assert_int_equal(out.buf->err, -ENOSPC);
	for (i = 0; i < 5; i++)
		assert_int_equal(out.ops->end(&out, &end), 0);
	out.ops = &no_summary_ops;
	assert_int_equal(output_finish_all(&out, NULL), 15);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(client_fields),
		cmocka_unit_test(server_fields),
		cmocka_unit_test(never_accepted_server_has_null_caller),
		cmocka_unit_test(unseen_accept_is_accepted_with_null_caller),
		cmocka_unit_test(refused_client_names_errno_and_has_no_irs),
		cmocka_unit_test(escapes_comm),
		cmocka_unit_test(stats_record),
		cmocka_unit_test(listener_record),
		cmocka_unit_test(every_line_parses_to_its_record),
		cmocka_unit_test(hostile_comm_is_escaped_and_replaced),
		cmocka_unit_test(cached_time_matches_strftime),
		cmocka_unit_test(write_errors_are_counted),
	};

	return cmocka_run_group_tests_name("output_jsonl", tests, NULL, NULL);
}
