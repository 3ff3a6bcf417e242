// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: arbitrary bytes as a capture file (-r), through the
 * header checks, the frame reader, decoding, the tracker and every sink:
 * text, JSONL, the timeline, the HTML report, and trace-event, whose
 * document must parse back as JSON (json-c) whatever the records hold.
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "capture.h"
#include "output.h"
#include "replay.h"
#include "tracker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct capture_reader *r;
	static FILE *null;
	struct output text, jsonl, timeline, html, trace;
	struct tracker *t;
	char *doc = NULL;
	size_t doc_len = 0;
	json_object *parsed;
	FILE *in, *trace_f;

	if (!null)
		null = fopen("/dev/null", "w");
	if (!r)
		r = malloc(sizeof(*r));
	if (!size || !null || !r)
		return 0;
	in = fmemopen((void *)data, size, "r");
	if (!in)
		return 0;
	if (capture_reader_init(r, in)) {
		fclose(in);
		return 0;
	}
	output_init(&text, OUTPUT_TEXT, null);
	output_init(&jsonl, OUTPUT_JSONL, null);
	output_init(&timeline, OUTPUT_TEXT, null);
	timeline.ops = &output_timeline_ops;
	text.verbose = true;
	text.timestamps = true;
	text.boot_to_real_ns = r->hdr.boot_to_real_ns; /* from the file: any value */
	jsonl.boot_to_real_ns = r->hdr.boot_to_real_ns;
	trace_f = open_memstream(&doc, &doc_len);
	if (!trace_f) {
		fclose(in);
		return 0;
	}
	output_init(&html, OUTPUT_HTML, null);
	output_init(&trace, OUTPUT_TRACE_EVENT, trace_f);
	html.boot_to_real_ns = r->hdr.boot_to_real_ns;
	trace.track_close = r->hdr.run_flags & CAPTURE_RUN_CLOSE;
	text.next = &jsonl;
	jsonl.next = &timeline;
	timeline.next = &html;
	html.next = &trace;
	t = tracker_new(&text, TRACKER_DEFAULT_HOLD_NS);
	if (t) {
		replay_records(r, t);
		tracker_flush(t);
		replay_apply_trailer(r, tracker_summary(t));
		output_finish_all(&text, tracker_summary(t));
		tracker_free(t);
	}
	fclose(trace_f);
	if (t) {
		parsed = json_tokener_parse(doc);
		if (!parsed)
			abort(); /* the trace-event sink wrote something that is not JSON */
		json_object_put(parsed);
	}
	free(doc);
	fclose(in);
	return 0;
}
