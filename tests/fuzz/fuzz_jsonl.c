// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the hand-written JSONL writer fed arbitrary records and
 * comm bytes. Every line must be valid UTF-8, parse with json-c's strict
 * tokener, and hold exactly the fields computed from its record
 * (tests/unit/jsonl_expect.h); a comm that was valid UTF-8 without control
 * bytes must come back byte for byte.
 *
 * Input: chunks of [kind byte][record bytes...], records as the kernel lays
 * them out; role, outcome, family and states are folded into range so that
 * most chunks decode. A handshake chunk's comm may be replaced afterwards by
 * 16 raw bytes without NUL, which decode would have cut.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../unit/jsonl_expect.h"
#include "decode.h"
#include "output.h"

#define MAX_RECS 64

struct rec {
	int kind;
	struct conn_end end;
	struct conn_close close;
	struct conn_link link;
};

static const struct output_ops no_summary_ops;

static size_t take(void *dst, size_t want, const uint8_t **data, size_t *size)
{
	size_t n = want < *size ? want : *size;

	memset(dst, 0, want);
	memcpy(dst, *data, n);
	*data += n;
	*size -= n;
	return n;
}

static bool plain_utf8(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return false;
	return ref_utf8_valid(s, n);
}

static void check(const struct output *out, const struct rec *r, const char *line, size_t len)
{
	struct expect x[EXPECT_MAX];
	unsigned int n;
	const char *why;

	n = r->kind == DECODED_END     ? expect_end(out, &r->end, x)
	    : r->kind == DECODED_CLOSE ? expect_close(out, &r->close, x)
				       : expect_link(&r->link, x);
	if (len >= OUTBUF_RECORD_MAX) {
		fprintf(stderr, "fuzz_jsonl: a %zu-byte line overruns OUTBUF_RECORD_MAX\n", len);
		abort();
	}
	why = check_line(line, len, x, n);
	if (why) {
		fprintf(stderr, "fuzz_jsonl: %s\n%.*s\n", why, (int)len, line);
		abort();
	}
	if (r->kind == DECODED_END) {
		const char *comm = r->end.raw.comm;
		size_t clen = strnlen(comm, SYNSCOPE_COMM_LEN);
		char *at = memmem(line, len, "\"comm\":\"", 8);

		/* Round trip, checked on the raw line too: nothing changed, nothing escaped. */
		if (at && plain_utf8(comm, clen) && !memchr(comm, '"', clen) && !memchr(comm, '\\', clen) &&
		    (memcmp(at + 8, comm, clen) || at[8 + clen] != '"')) {
			fprintf(stderr, "fuzz_jsonl: comm did not round-trip\n%.*s\n", (int)len, line);
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rec recs[MAX_RECS];
	struct conn_end unused_end;
	struct conn_link unused_link;
	struct conn_close unused_close;
	struct output out;
	char *buf = NULL, *line, *nl;
	size_t len = 0;
	unsigned int n = 0, i;
	long long off = 0;
	FILE *f;

	take(&off, sizeof(off), &data, &size);
	f = open_memstream(&buf, &len);
	if (!f)
		return 0;
	output_init(&out, OUTPUT_JSONL, f);
	out.boot_to_real_ns = off;
	while (size && n < MAX_RECS) {
		uint8_t kind = *data++;
		struct rec *r = &recs[n];

		size--;
		switch ((kind & 0x3f) % 3) {
		case 0: {
			struct synscope_handshake h;

			take(&h, sizeof(h), &data, &size);
			h.type = SYNSCOPE_REC_HANDSHAKE;
			h.role = 1 + h.role % 2;
			/* 0 only on a partial record (an end in flight at exit). */
			h.outcome = (h.flags & SYNSCOPE_F_IN_FLIGHT) ? h.outcome % 7 : 1 + h.outcome % 6;
			h.family = h.family & 1 ? AF_INET6 : AF_INET;
			if (decode_record(&h, sizeof(h), &r->end, &unused_link, &unused_close) != DECODED_END)
				continue;
			if (kind & 0x80) /* the full 16 bytes, as a record built elsewhere could hold */
				memcpy(r->end.raw.comm, h.comm, SYNSCOPE_COMM_LEN);
			r->kind = DECODED_END;
			out.ops->end(&out, &r->end);
			break;
		}
		case 1: {
			struct synscope_close c;
			unsigned int k;

			take(&c, sizeof(c), &data, &size);
			c.type = SYNSCOPE_REC_CLOSE;
			c.role = 1 + c.role % 2;
			c.nstates = 1 + c.nstates % SYNSCOPE_CLOSE_STATES;
			for (k = 0; k < SYNSCOPE_CLOSE_STATES; k++)
				c.states[k] = 1 + c.states[k] % 12;
			if (decode_record(&c, sizeof(c), &unused_end, &unused_link, &r->close) != DECODED_CLOSE)
				continue;
			r->kind = DECODED_CLOSE;
			out.ops->close(&out, &r->close);
			break;
		}
		default:
			take(&r->link, sizeof(r->link), &data, &size);
			r->kind = DECODED_LINK;
			out.ops->link(&out, &r->link);
		}
		if (kind & 0x40)
			output_batch_end_all(&out);
		n++;
	}
	out.ops = &no_summary_ops;
	if (output_finish_all(&out, NULL) != 0)
		abort();
	fclose(f);
	line = buf;
	for (i = 0; i < n; i++) {
		nl = memchr(line, '\n', buf + len - line);
		if (!nl)
			abort();
		check(&out, &recs[i], line, nl - line);
		line = nl + 1;
	}
	if (line != buf + len)
		abort();
	free(buf);
	return 0;
}
