// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The picture sinks and what they draw from: the accept-queue depth series,
 * the trace-event sink's pairing (a close before its end, a slice still open
 * at exit) read back with json-c, and the HTML report's ladders and escaping.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "fixtures.h"
#include "output.h"
#include "queue_depth.h"

static struct conn_end server_at(__u64 id, __u64 ts_end, __u32 acceptq, __u64 ts_ret, __u32 flags)
{
	struct synscope_handshake r = fixture_server(id, 0, true);

	r.ts_syn = ts_end - 10;
	r.ts_end = ts_end;
	r.acceptq = acceptq;
	r.backlog = 4;
	r.ts_ret = ts_ret;
	r.flags = flags;
	return fixture_end(r);
}

static void queue_depth_fifo(void **unused)
{
	const __u32 acc = SYNSCOPE_F_RESOLVED | SYNSCOPE_F_ACCEPTED | SYNSCOPE_F_RETURNED;
	struct queue_depth *q = calloc(1, sizeof(*q));
	struct conn_end e;
	const unsigned long long want_ts[] = {100, 200, 300, 500, 600, 700};
	const unsigned int want_depth[] = {1, 2, 3, 2, 1, 1};
	size_t i;

	(void)unused;
	/* Recorded in completion order, not in time order. */
	e = server_at(2, 200, 2, 600, acc);
	queue_depth_add(q, &e);
	e = server_at(1, 100, 1, 500, acc);
	queue_depth_add(q, &e);
	e = server_at(3, 300, 3, 0, SYNSCOPE_F_RESOLVED); /* never accepted: no departure */
	queue_depth_add(q, &e);
	/* Accepted by a caller no hook saw: it left at an unknown time. */
	e = server_at(4, 700, 1, 0, SYNSCOPE_F_RESOLVED | SYNSCOPE_F_ACCEPTED | SYNSCOPE_F_ACCEPT_UNSEEN);
	queue_depth_add(q, &e);
	e = fixture_end(fixture_client(5, 0)); /* clients add nothing */
	queue_depth_add(q, &e);

	assert_int_equal(q->nlisteners, 1);
	queue_depth_finish(&q->listeners[0]);
	assert_int_equal(q->listeners[0].n, 6);
	assert_int_equal(q->listeners[0].max_depth, 3);
	assert_int_equal(q->listeners[0].backlog, 4);
	for (i = 0; i < 6; i++) {
		assert_int_equal(q->listeners[0].points[i].ts, want_ts[i]);
		assert_int_equal(q->listeners[0].points[i].depth, want_depth[i]);
	}
	queue_depth_free(q);
	free(q);
}

/* Runs a sink over records; returns what it wrote (malloc'd). */
struct feed {
	const struct conn_end *ends[4];
	const struct conn_close *closes[2]; /* each handed over before ends[0] */
	bool track_close;
};

static char *run_sink(const struct output_ops *ops, const struct feed *fd)
{
	struct run_summary *sum = calloc(1, sizeof(*sum));
	struct output out;
	char *text = NULL;
	size_t len = 0;
	int i;

	memset(&out, 0, sizeof(out));
	out.ops = ops;
	out.f = open_memstream(&text, &len);
	out.track_close = fd->track_close;
	for (i = 0; i < 2 && fd->closes[i]; i++)
		assert_int_equal(ops->close(&out, fd->closes[i]), 0);
	for (i = 0; i < 4 && fd->ends[i]; i++) {
		assert_int_equal(ops->end(&out, fd->ends[i]), 0);
		sum->ends++;
	}
	assert_int_equal(output_finish_all(&out, sum), 0);
	fclose(out.f);
	free(sum);
	return text;
}

static json_object *field(json_object *o, const char *k)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v;
}

/* Events of phase ph whose id2.local or bind_id is `id` ("0x1"). */
static int count(json_object *events, const char *ph, const char *key, const char *id)
{
	size_t i;
	int n = 0;

	for (i = 0; i < json_object_array_length(events); i++) {
		json_object *ev = json_object_array_get_idx(events, i), *v = field(ev, key);

		if (strcmp(json_object_get_string(field(ev, "ph")), ph))
			continue;
		if (v && !strcmp(key, "id2"))
			v = field(v, "local");
		if (v && !strcmp(json_object_get_string(v), id))
			n++;
	}
	return n;
}

static json_object *find(json_object *events, const char *ph, const char *id, const char *argname)
{
	size_t i;

	for (i = 0; i < json_object_array_length(events); i++) {
		json_object *ev = json_object_array_get_idx(events, i), *id2 = field(ev, "id2");

		if (!strcmp(json_object_get_string(field(ev, "ph")), ph) && id2 &&
		    !strcmp(json_object_get_string(field(id2, "local")), id) &&
		    (!argname || field(field(ev, "args"), argname)))
			return ev;
	}
	return NULL;
}

static void trace_event_pairs_and_flows(void **unused)
{
	struct conn_end client = fixture_end(fixture_client(1, 2));
	struct conn_end server = fixture_end(fixture_server(2, 1, true));
	struct conn_close close = {.kind = CLOSE_ACTIVE};
	struct feed fd = {.ends = {&client, &server}, .closes = {&close}, .track_close = true};
	json_object *doc, *events, *b, *e;
	char *text;

	(void)unused;
	/* The client's close comes first (its end was held for its peer). */
	close.raw.type = SYNSCOPE_REC_CLOSE;
	close.raw.role = SYNSCOPE_ROLE_CLIENT;
	close.raw.id = 1;
	close.raw.peer_id = 2;
	close.raw.nstates = 3;
	close.raw.states[0] = 1; /* ESTABLISHED */
	close.raw.states[1] = 4; /* FIN_WAIT1 */
	close.raw.states[2] = 7; /* CLOSE */
	close.raw.ts[0] = client.raw.ts_end;
	close.raw.ts[1] = 1005000000ull;
	close.raw.ts[2] = 1006000000ull;
	close.raw.flags = SYNSCOPE_CF_TIME_WAIT | SYNSCOPE_CF_FIN_RECEIVED;
	close.raw.ts_destroy = 1006000001ull;
	text = run_sink(&output_trace_event_ops, &fd);
	doc = json_tokener_parse(text);
	assert_non_null(doc);
	events = field(doc, "traceEvents");
	assert_non_null(events);
	/* Each end: one b, one e. */
	assert_int_equal(count(events, "b", "id2", "0x1"), 1);
	assert_int_equal(count(events, "e", "id2", "0x1"), 1);
	assert_int_equal(count(events, "b", "id2", "0x2"), 1);
	assert_int_equal(count(events, "e", "id2", "0x2"), 1);
	/* The client's slice runs to its close: FIN_WAIT1, then TIME_WAIT at 1006000 us. */
	e = find(events, "e", "0x1", NULL);
	assert_string_equal(json_object_get_string(field(e, "ts")), "1006000.000");
	assert_non_null(find(events, "n", "0x1", "state"));
	/* The server's had no close record: it ends at the last time seen, marked. */
	e = find(events, "e", "0x2", "open_at_exit");
	assert_non_null(e);
	b = find(events, "b", "0x2", "iss");
	assert_int_equal(json_object_get_int64(field(field(b, "args"), "irs")), 1000);
	assert_int_equal(json_object_get_int64(field(field(b, "args"), "accept_wait_us")), 3000);
	/* One flow, named by the client: connect() out, client b through, server b
	 * through, accept()'s return in. */
	assert_int_equal(count(events, "X", "bind_id", "0x1"), 2);
	assert_int_equal(count(events, "b", "bind_id", "0x1"), 2);
	/* The counter track of the listener. */
	assert_non_null(strstr(text, "\"name\":\"accept queue :8080\""));
	json_object_put(doc);
	free(text);
}

static void html_ladder_and_escaping(void **unused)
{
	struct synscope_handshake raw = fixture_client(1, 2);
	struct conn_end client, server = fixture_end(fixture_server(2, 1, true));
	struct feed fd = {.ends = {&server, &client}};
	char *text;

	(void)unused;
	strcpy(raw.comm, "<b>&\"'x");
	client = fixture_end(raw);
	text = run_sink(&output_html_ops, &fd);
	assert_non_null(strstr(text, "<!DOCTYPE html>"));
	assert_null(strstr(text, "<script"));
	/* One ladder for the two ends, with the client's ISS on its SYN. */
	assert_non_null(strstr(text, "<section class=\"ladder\" data-outcome=\"established\" "
				     "data-client-id=\"1\" data-iss=\"1000\" data-irs=\"4000000000\" "
				     "data-server-id=\"2\""));
	assert_null(strstr(strstr(text, "<section class=\"ladder\"") + 1, "<section class=\"ladder\""));
	assert_non_null(strstr(text, "SYN seq=1000"));
	assert_non_null(strstr(text, "ACK ack=4000000001"));
	/* comm is text, not markup. */
	assert_non_null(strstr(text, "client &lt;b&gt;&amp;&quot;&#39;x 42/43"));
	assert_null(strstr(text, "<b>&"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(queue_depth_fifo),
		cmocka_unit_test(trace_event_pairs_and_flows),
		cmocka_unit_test(html_ladder_and_escaping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
