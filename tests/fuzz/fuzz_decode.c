// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: ring-buffer records as the kernel could send them,
 * through decoding, the tracker and every sink (text, JSONL, timeline, HTML,
 * trace-event).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "decode.h"
#include "output.h"
#include "tracker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct output text, jsonl, timeline, html, trace;
	struct tracker *t;
	struct conn_end end;
	struct conn_link link;
	struct conn_close close;
	size_t off = 0, len;

	if (!null)
		null = fopen("/dev/null", "w");
	output_init(&text, OUTPUT_TEXT, null);
	output_init(&jsonl, OUTPUT_JSONL, null);
	output_init(&timeline, OUTPUT_TEXT, null);
	timeline.ops = &output_timeline_ops;
	text.verbose = true;
	output_init(&html, OUTPUT_HTML, null);
	output_init(&trace, OUTPUT_TRACE_EVENT, null);
	trace.track_close = size & 1;
	text.next = &jsonl;
	jsonl.next = &timeline;
	timeline.next = &html;
	html.next = &trace;
	t = tracker_new(&text, 1000);
	if (!t)
		return 0;
	/* Records are length-prefixed by one byte (times 2) so one input holds several. */
	while (off < size) {
		len = (size_t)data[off++] * 2;
		if (len > size - off)
			len = size - off;
		switch (decode_record(data + off, len, &end, &link, &close)) {
		case DECODED_END:
			tracker_end(t, &end, off);
			break;
		case DECODED_LINK:
			tracker_link(t, &link);
			break;
		default:
			tracker_bad_record(t);
		}
		tracker_tick(t, off);
		off += len;
	}
	tracker_flush(t);
	output_finish_all(&text, tracker_summary(t));
	tracker_free(t);
	return 0;
}
