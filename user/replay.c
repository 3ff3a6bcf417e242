// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * synscope -r FILE: open the capture -> check its header -> set up the sinks
 * with the capture's clock offset -> decode and track every record -> apply
 * the trailer's loss counts -> summary.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "decode.h"
#include "replay.h"

/* The latest boot time a record carries: where the capture's clock stood. */
static unsigned long long record_time(int kind, const struct conn_end *end,
				      const struct conn_close *close)
{
	unsigned long long t = 0;
	int i;

	if (kind == DECODED_END) {
		const __u64 ts[] = {end->raw.ts_call, end->raw.ts_syn, end->raw.ts_end,
				    end->raw.ts_ret};

		for (i = 0; i < 4; i++)
			if (ts[i] > t)
				t = ts[i];
	} else if (kind == DECODED_CLOSE) {
		t = close->raw.ts_destroy;
	}
	return t;
}

int replay_records(struct capture_reader *r, struct tracker *t)
{
	unsigned long long now = 0, at;
	struct conn_close close;
	struct conn_link link;
	struct conn_end end;
	const void *data;
	size_t size;
	int st, kind;

	while ((st = capture_reader_next(r, &data, &size)) == 1) {
		kind = decode_record(data, size, &end, &link, &close);
		if (kind < 0) {
			__u16 type;

			memcpy(&type, data, sizeof(type));
			snprintf(r->error, sizeof(r->error), "corrupt record at byte %llu: type %u "
				 "record does not decode (a field out of range)", r->frame_offset, type);
			return CAPTURE_CORRUPT;
		}
		at = record_time(kind, &end, &close);
		if (at > now)
			now = at;
		tracker_decoded(t, kind, &end, &link, &close, now);
		tracker_tick(t, now);
	}
	return st;
}

void replay_apply_trailer(const struct capture_reader *r, struct run_summary *sum)
{
	const struct capture_trailer *tr = &r->trailer;

	if (!r->trailer_seen)
		return;
	sum->kernel = tr->kernel;
	sum->kernel_valid = true;
	sum->prog_misses = tr->prog_misses;
	sum->netstat.valid = tr->netstat_valid != 0;
	sum->netstat.listen_overflows = tr->listen_overflows;
	sum->netstat.listen_drops = tr->listen_drops;
	sum->netstat.syncookies_sent = tr->syncookies_sent;
}

/* One line on stderr: where and how the capture was made (tcpdump's "reading from file"). */
static void describe_capture(const char *name, const struct capture_header *h)
{
	char when[40];

	format_rfc3339(h->start_boot_ns, h->boot_to_real_ns, when, sizeof(when));
	fprintf(stderr, "synscope: reading %s: captured on %s (kernel %s) from %s, accept path: "
			"%s; command: %s\n",
		name, h->hostname[0] ? h->hostname : "?", h->kernel_release[0] ? h->kernel_release : "?",
		when, h->accept_hook[0] ? h->accept_hook : "?", h->command[0] ? h->command : "?");
}

int run_replay(const struct synscope_config *cfg)
{
	bool from_stdin = !strcmp(cfg->read_path, "-");
	const char *name = from_stdin ? "stdin" : cfg->read_path;
	struct capture_reader *r = calloc(1, sizeof(*r));
	struct tracker *tracker = NULL;
	struct output out, timeline, *sinks;
	struct run_summary *sum;
	FILE *in = NULL, *f = NULL;
	int st, status = 1;

	if (!r) {
		fprintf(stderr, "synscope: out of memory\n");
		return 1;
	}
	in = from_stdin ? stdin : fopen(cfg->read_path, "r");
	if (!in) {
		fprintf(stderr, "synscope: couldn't open capture file '%s': %s\n", cfg->read_path,
			strerror(errno));
		goto cleanup;
	}
	if (capture_reader_init(r, in)) {
		fprintf(stderr, "synscope: %s: %s\n", name, r->error);
		goto cleanup;
	}
	f = cfg->output_path ? fopen(cfg->output_path, "w") : stdout;
	if (!f) {
		fprintf(stderr, "synscope: couldn't open output file '%s': %s\n", cfg->output_path,
			strerror(errno));
		goto cleanup;
	}
	decode_set_mono_to_boot_ns(r->hdr.mono_to_boot_ns);
	/* The sinks as a live run sets them up, on the capture's clock. */
	sinks = output_sinks_init(&out, &timeline, cfg, f, r->hdr.boot_to_real_ns);
	out.track_close = r->hdr.run_flags & CAPTURE_RUN_CLOSE;
	tracker = tracker_new(sinks, TRACKER_DEFAULT_HOLD_NS);
	if (!tracker) {
		fprintf(stderr, "synscope: out of memory\n");
		goto cleanup;
	}
	tracker_expect_closes(tracker, out.track_close);
	describe_capture(name, &r->hdr);

	st = replay_records(r, tracker);
	tracker_flush(tracker);
	sum = tracker_summary(tracker);
	replay_apply_trailer(r, sum);
	sum->write_errors += output_finish_all(sinks, sum);
	if (fflush(f) != 0 || fflush(stdout) != 0) {
		fprintf(stderr, "synscope: couldn't write output: %s\n", strerror(errno));
		goto cleanup;
	}
	summary_print(stderr, sum);
	if (r->trailer_seen && r->trailer.records_dropped)
		fprintf(stderr, "synscope: %s: the writer dropped %llu records too long to capture\n",
			name, (unsigned long long)r->trailer.records_dropped);
	switch (st) {
	case CAPTURE_END:
		status = sum->write_errors ? 1 : 0; /* counted in the summary above */
		break;
	case CAPTURE_CUT:
		fprintf(stderr, "synscope: %s: capture ended without its trailer (synscope was "
				"killed?): loss counts unknown\n", name);
		break;
	default:
		fprintf(stderr, "synscope: %s: %s; the records before it were read\n", name,
			r->error);
		break;
	}

cleanup:
	tracker_free(tracker);
	if (in && in != stdin)
		fclose(in);
	if (f && f != stdout && fclose(f) != 0 && status == 0) {
		fprintf(stderr, "synscope: couldn't write %s: %s\n", cfg->output_path, strerror(errno));
		status = 1;
	}
	free(r);
	return status;
}
