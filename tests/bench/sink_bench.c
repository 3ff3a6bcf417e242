// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Sink micro-benchmark: CPU time (user + system, write(2) included) per
 * record through the JSONL, text, trace-event and HTML sinks, to /dev/null or a file given as
 * the first argument. Records alternate client/server, with and without
 * close records; the ring buffer's batches are imitated every BATCH records.
 *
 *   build/sink_bench [FILE] [RECORDS]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../unit/fixtures.h"
#include "output.h"

#define BATCH 512

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void make_records(struct conn_end *ends, struct conn_close *closes, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct synscope_handshake raw = i % 2 ? fixture_server(i + 1, i, i % 4 == 1)
						      : fixture_client(i + 1, i + 2);
		struct synscope_close *c = &closes[i].raw;

		raw.ts_end += i * 1000ull;
		raw.sport = 30000 + i % 30000;
		snprintf(raw.comm, sizeof(raw.comm), "worker-%u", i % 97);
		ends[i] = fixture_end(raw);
		memset(&closes[i], 0, sizeof(closes[i]));
		c->type = SYNSCOPE_REC_CLOSE;
		c->role = raw.role;
		c->id = raw.id;
		c->peer_id = raw.peer_id;
		c->nstates = 4;
		c->states[0] = 1; /* ESTABLISHED FIN_WAIT1 FIN_WAIT2 CLOSE */
		c->states[1] = 4;
		c->states[2] = 5;
		c->states[3] = 7;
		c->flags = SYNSCOPE_CF_TIME_WAIT | SYNSCOPE_CF_FIN_RECEIVED;
		c->ts[0] = raw.ts_end;
		c->ts[1] = raw.ts_end + 5000;
		c->ts[2] = raw.ts_end + 6000;
		c->ts[3] = raw.ts_end + 9000;
		closes[i].kind = CLOSE_ACTIVE;
	}
}

static void run(const char *name, enum output_format fmt, bool closes_too, FILE *f,
		const struct conn_end *ends, const struct conn_close *closes, unsigned int n)
{
	struct output out;
	struct run_summary sum = {0};
	unsigned int i, records = 0;
	double t0, t1;

	output_init(&out, fmt, f);
	out.timestamps = fmt == OUTPUT_TEXT;
	out.track_close = closes_too; /* the trace's slices then wait for their close */
	t0 = cpu_ns();
	for (i = 0; i < n; i++) {
		out.ops->end(&out, &ends[i]);
		records++;
		if (closes_too) {
			out.ops->close(&out, &closes[i]);
			records++;
		}
		if (i % BATCH == BATCH - 1)
			output_batch_end_all(&out);
	}
	output_finish_all(&out, &sum);
	fflush(f);
	t1 = cpu_ns();
	printf("%-22s %8u records %8.0f ns/record\n", name, records, (t1 - t0) / records);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/null";
	unsigned int n = argc > 2 ? strtoul(argv[2], NULL, 0) : 100000;
	struct conn_end *ends = calloc(n, sizeof(*ends));
	struct conn_close *closes = calloc(n, sizeof(*closes));
	FILE *f = fopen(path, "w");

	if (!ends || !closes || !f) {
		perror("sink_bench");
		return 1;
	}
	make_records(ends, closes, n);
	printf("sink_bench: %u handshakes to %s\n", n, path);
	run("jsonl handshake", OUTPUT_JSONL, false, f, ends, closes, n);
	run("jsonl handshake+close", OUTPUT_JSONL, true, f, ends, closes, n);
	run("text handshake -T", OUTPUT_TEXT, false, f, ends, closes, n);
	run("text handshake+close", OUTPUT_TEXT, true, f, ends, closes, n);
	run("trace-event handshake", OUTPUT_TRACE_EVENT, false, f, ends, closes, n);
	run("trace-event hs+close", OUTPUT_TRACE_EVENT, true, f, ends, closes, n);
	run("html handshake", OUTPUT_HTML, false, f, ends, closes, n);
	fclose(f);
	free(ends);
	free(closes);
	return 0;
}
