// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Capture files: write then read back, truncation at every byte, refused headers, trailer. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>
#include "capture.h"
#include "fixtures.h"
#include "replay.h"

#define NRECORDS 4

static struct synscope_handshake client, server;
static struct synscope_link link_rec = {.type = SYNSCOPE_REC_LINK, .client_id = 9, .server_id = 10};
static struct synscope_close close_rec;
static const void *records[NRECORDS];
static size_t sizes[NRECORDS];

/* The whole capture file in memory. */
static unsigned char *file;
static size_t file_len;

static void make_records(void)
{
	client = fixture_client(1, 2);
	server = fixture_server(2, 1, true);
	memset(&close_rec, 0, sizeof(close_rec));
	close_rec.type = SYNSCOPE_REC_CLOSE;
	close_rec.role = SYNSCOPE_ROLE_CLIENT;
	close_rec.nstates = 2;
	close_rec.id = 1;
	close_rec.states[0] = 1; /* ESTABLISHED */
	close_rec.states[1] = 4; /* FIN_WAIT1 */
	close_rec.ts[0] = 1000300000ull;
	close_rec.ts[1] = 1000400000ull;
	records[0] = &client, sizes[0] = sizeof(client);
	records[1] = &server, sizes[1] = sizeof(server);
	records[2] = &link_rec, sizes[2] = sizeof(link_rec);
	records[3] = &close_rec, sizes[3] = sizeof(close_rec);
}

/* Writes the records to a temporary capture (with the trailer if `finish`), loads it into `file`. */
static void write_capture(bool finish)
{
	char path[] = "/tmp/synscope-test-capture-XXXXXX";
	char *argv[] = {"synscope", "-w", path, NULL};
	struct capture_meta meta = {.accept_hook = "syscall", .argc = 3, .argv = argv};
	struct run_summary sum = {0};
	struct capture_writer *w;
	FILE *f;
	int fd = mkstemp(path), i;

	assert_true(fd >= 0);
	close(fd);
	w = capture_writer_open(path, &meta);
	assert_non_null(w);
	for (i = 0; i < NRECORDS; i++)
		assert_int_equal(capture_writer_record(w, (void *)records[i], sizes[i]), 0);
	assert_int_equal(capture_writer_records(w), NRECORDS);
	sum.kernel.ringbuf_drops = 7;
	sum.kernel.sock_map_full = 3;
	sum.prog_misses = 2;
	sum.netstat.valid = true;
	sum.netstat.listen_overflows = 5;
	if (finish)
		assert_int_equal(capture_writer_finish(w, &sum), 0);
	capture_writer_free(w);

	f = fopen(path, "r");
	assert_non_null(f);
	free(file);
	file = malloc(1 << 16);
	file_len = fread(file, 1, 1 << 16, f);
	fclose(f);
	unlink(path);
}

/* A reader over the first `len` bytes of `file` (a stream of zero bytes for len 0). */
static FILE *open_prefix(size_t len)
{
	return len ? fmemopen(file, len, "r") : fopen("/dev/null", "r");
}

static int setup(void **state)
{
	(void)state;
	make_records();
	write_capture(true);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(file);
	file = NULL;
	return 0;
}

static size_t frame_len(size_t size)
{
	return 8 + ((size + 7) & ~(size_t)7);
}

static void reads_back_what_was_written(void **state)
{
	struct capture_reader *r = calloc(1, sizeof(*r));
	FILE *f = open_prefix(file_len);
	const void *data;
	size_t size, expect_len = sizeof(struct capture_header);
	int i;

	(void)state;
	for (i = 0; i < NRECORDS; i++)
		expect_len += frame_len(sizes[i]);
	expect_len += frame_len(sizeof(struct capture_trailer));
	assert_int_equal(file_len, expect_len);
	assert_int_equal(capture_reader_init(r, f), 0);
	assert_string_equal(r->hdr.accept_hook, "syscall");
	assert_non_null(strstr(r->hdr.command, "synscope -w /tmp/synscope-test-capture-"));
	assert_int_equal(r->hdr.version, CAPTURE_VERSION);
	for (i = 0; i < NRECORDS; i++) {
		assert_int_equal(capture_reader_next(r, &data, &size), 1);
		assert_int_equal(size, sizes[i]);
		assert_memory_equal(data, records[i], size);
	}
	assert_int_equal(capture_reader_next(r, &data, &size), CAPTURE_END);
	assert_true(r->trailer_seen);
	assert_int_equal(r->trailer.records, NRECORDS);
	assert_int_equal(r->trailer.kernel.ringbuf_drops, 7);
	assert_int_equal(r->trailer.prog_misses, 2);
	fclose(f);
	free(r);
}

/* A sink that counts what reaches it. */
static unsigned int ends_out, closes_out;

static int count_end(struct output *out, const struct conn_end *end)
{
	(void)out;
	(void)end;
	ends_out++;
	return 0;
}

static int count_close(struct output *out, const struct conn_close *c)
{
	(void)out;
	(void)c;
	closes_out++;
	return 0;
}

static const struct output_ops count_ops = {.end = count_end, .close = count_close};

static void replay_feeds_tracker_and_trailer_counts(void **state)
{
	struct capture_reader *r = calloc(1, sizeof(*r));
	struct output out = {.ops = &count_ops};
	struct tracker *t = tracker_new(&out, TRACKER_DEFAULT_HOLD_NS);
	FILE *f = open_prefix(file_len);
	struct run_summary *sum;

	(void)state;
	ends_out = closes_out = 0;
	assert_int_equal(capture_reader_init(r, f), 0);
	assert_int_equal(replay_records(r, t), CAPTURE_END);
	tracker_flush(t);
	sum = tracker_summary(t);
	replay_apply_trailer(r, sum);
	assert_int_equal(ends_out, 2);
	assert_int_equal(closes_out, 1);
	assert_int_equal(sum->joined, 2);
	assert_int_equal(sum->late_links, 1); /* client 9 was never seen */
	assert_true(sum->kernel_valid);
	assert_int_equal(summary_kernel_losses(sum), 7 + 3 + 2);
	assert_true(sum->netstat.valid);
	assert_int_equal(sum->netstat.listen_overflows, 5);
	tracker_free(t);
	fclose(f);
	free(r);
}

/* Cut at every byte: the header is refused, or the complete frames come out and the cut is named. */
static void truncation_at_every_offset(void **state)
{
	struct capture_reader *r = calloc(1, sizeof(*r));
	size_t cut, starts[NRECORDS + 2];
	char where[64];
	int i;

	(void)state;
	starts[0] = sizeof(struct capture_header);
	for (i = 0; i < NRECORDS; i++)
		starts[i + 1] = starts[i] + frame_len(sizes[i]);
	starts[NRECORDS + 1] = file_len;
	for (cut = 0; cut < file_len; cut++) {
		FILE *f = open_prefix(cut);
		unsigned int complete = 0;
		const void *data;
		size_t size;
		int st;

		assert_non_null(f);
		if (cut < sizeof(struct capture_header)) {
			assert_int_equal(capture_reader_init(r, f), -EINVAL);
			assert_true(strlen(r->error) > 0);
			fclose(f);
			continue;
		}
		assert_int_equal(capture_reader_init(r, f), 0);
		while ((st = capture_reader_next(r, &data, &size)) == 1) {
			assert_memory_equal(data, records[complete], sizes[complete]);
			complete++;
		}
		for (i = 0; i <= NRECORDS && starts[i + 1] <= cut; i++)
			;
		/* i: the frame the cut falls in (NRECORDS: the trailer) */
		assert_int_equal(complete, i < NRECORDS ? i : NRECORDS);
		if (cut == starts[i]) {
			assert_int_equal(st, CAPTURE_CUT);
		} else {
			assert_int_equal(st, CAPTURE_CORRUPT);
			snprintf(where, sizeof(where), "corrupt record at byte %zu: ", starts[i]);
			if (!strstr(r->error, where))
				fail_msg("cut at %zu: '%s' does not name byte %zu", cut, r->error, starts[i]);
		}
		assert_false(r->trailer_seen);
		fclose(f);
	}
	free(r);
}

static void refuse_header(size_t field, const void *value, size_t len, const char *message)
{
	struct capture_reader *r = calloc(1, sizeof(*r));
	unsigned char saved[8];
	FILE *f;

	memcpy(saved, file + field, len);
	memcpy(file + field, value, len);
	f = open_prefix(file_len);
	assert_int_equal(capture_reader_init(r, f), -EINVAL);
	if (!strstr(r->error, message))
		fail_msg("'%s' does not say '%s'", r->error, message);
	fclose(f);
	memcpy(file + field, saved, len);
	free(r);
}

static void refuses_newer_version_bad_magic_other_order(void **state)
{
	__u32 v2 = CAPTURE_VERSION + 1, swapped = __builtin_bswap32(CAPTURE_BYTE_ORDER);
	__u16 bigger = sizeof(struct synscope_handshake) + 8;

	(void)state;
	refuse_header(offsetof(struct capture_header, version), &v2, 4,
		      "capture format version 2, this synscope reads up to version 1: upgrade synscope");
	refuse_header(0, "PCAPNG\0\0", 8, "not a synscope capture");
	refuse_header(offsetof(struct capture_header, byte_order), &swapped, 4, "other byte order");
	refuse_header(offsetof(struct capture_header, handshake_size), &bigger, 2,
		      "handshake records are 176 bytes, this synscope's are 168");
}

static void missing_trailer_is_reported(void **state)
{
	struct capture_reader *r = calloc(1, sizeof(*r));
	struct run_summary sum = {0};
	const void *data;
	size_t size;
	FILE *f;
	int n = 0, st;

	(void)state;
	write_capture(false); /* freed without finish: buffered records written, no trailer */
	f = open_prefix(file_len);
	assert_int_equal(capture_reader_init(r, f), 0);
	while ((st = capture_reader_next(r, &data, &size)) == 1)
		n++;
	assert_int_equal(n, NRECORDS);
	assert_int_equal(st, CAPTURE_CUT);
	replay_apply_trailer(r, &sum);
	assert_false(sum.kernel_valid);
	fclose(f);
	free(r);
	write_capture(true);
}

/* Overwrites the frame of record `i` with `frame` (length, reserved) or its first bytes with `rec`. */
static int read_patched(size_t i, const __u32 *frame, const void *rec, size_t rec_len, char *err,
			size_t err_len)
{
	struct capture_reader *r = calloc(1, sizeof(*r));
	struct output out = {.ops = &count_ops};
	struct tracker *t = tracker_new(&out, 0);
	unsigned char *copy = malloc(file_len), *saved = file;
	size_t off = sizeof(struct capture_header), k;
	FILE *f;
	int st;

	for (k = 0; k < i; k++)
		off += frame_len(sizes[k]);
	memcpy(copy, file, file_len);
	if (frame)
		memcpy(copy + off, frame, 8);
	if (rec)
		memcpy(copy + off + 8, rec, rec_len);
	file = copy;
	f = open_prefix(file_len);
	file = saved;
	assert_int_equal(capture_reader_init(r, f), 0);
	st = replay_records(r, t);
	snprintf(err, err_len, "%s", r->error);
	fclose(f);
	free(copy);
	tracker_free(t);
	free(r);
	return st;
}

static void corrupt_frames_name_their_offset(void **state)
{
	size_t second = sizeof(struct capture_header) + frame_len(sizes[0]);
	__u32 zero[2] = {0, 0}, huge[2] = {CAPTURE_MAX_RECORD + 1, 0}, reserved[2] = {sizes[1], 1};
	__u32 wrong[2] = {sizes[1] - 8, 0};
	struct synscope_handshake bad = fixture_server(2, 1, true);
	char err[160], where[64];

	(void)state;
	snprintf(where, sizeof(where), "corrupt record at byte %zu: ", second);
	assert_int_equal(read_patched(1, zero, NULL, 0, err, sizeof(err)), CAPTURE_CORRUPT);
	assert_non_null(strstr(err, where));
	assert_non_null(strstr(err, "record length 0"));
	assert_int_equal(read_patched(1, huge, NULL, 0, err, sizeof(err)), CAPTURE_CORRUPT);
	assert_non_null(strstr(err, "record length 65537"));
	assert_int_equal(read_patched(1, reserved, NULL, 0, err, sizeof(err)), CAPTURE_CORRUPT);
	assert_non_null(strstr(err, where));
	assert_int_equal(read_patched(1, wrong, NULL, 0, err, sizeof(err)), CAPTURE_CORRUPT);
	assert_non_null(strstr(err, "the header says 168"));
	bad.role = 9;
	ends_out = 0;
	assert_int_equal(read_patched(1, NULL, &bad, sizeof(bad), err, sizeof(err)), CAPTURE_CORRUPT);
	assert_non_null(strstr(err, where));
	assert_non_null(strstr(err, "does not decode"));
	assert_int_equal(ends_out, 1); /* the client before it */
}

/*
 * An older writer's trailer ends before the counters appended since: the
 * reader takes the shorter trailer and reads the missing counters as 0.
 */
static void shorter_trailer_of_an_older_writer(void **state)
{
	/* The counters from sock_stale on: an older writer had none of them. */
	const size_t cut = sizeof(struct synscope_stats) - offsetof(struct synscope_stats, sock_stale);
	size_t trailer_off = file_len - frame_len(sizeof(struct capture_trailer));
	struct capture_reader *r = calloc(1, sizeof(*r));
	unsigned char *copy = malloc(file_len), *saved = file;
	struct capture_header *h = (struct capture_header *)copy;
	struct capture_trailer *tr;
	const void *data;
	size_t size;
	__u32 *frame;
	FILE *f;

	(void)state;
	memcpy(copy, file, file_len);
	h->trailer_size -= cut;
	frame = (__u32 *)(copy + trailer_off);
	frame[0] -= cut;
	tr = (struct capture_trailer *)(copy + trailer_off + 8);
	tr->kernel.sock_stale = 11; /* beyond the shorter frame: must not be read */
	file = copy;
	f = open_prefix(file_len - cut);
	file = saved;
	assert_int_equal(capture_reader_init(r, f), 0);
	while (capture_reader_next(r, &data, &size) == 1)
		;
	assert_true(r->trailer_seen);
	assert_int_equal(r->trailer.kernel.ringbuf_drops, 7);
	assert_int_equal(r->trailer.kernel.sock_map_full, 3);
	assert_int_equal(r->trailer.kernel.sock_stale, 0);
	fclose(f);
	free(copy);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_back_what_was_written),
		cmocka_unit_test(replay_feeds_tracker_and_trailer_counts),
		cmocka_unit_test(truncation_at_every_offset),
		cmocka_unit_test(refuses_newer_version_bad_magic_other_order),
		cmocka_unit_test(missing_trailer_is_reported),
		cmocka_unit_test(corrupt_frames_name_their_offset),
		cmocka_unit_test(shorter_trailer_of_an_older_writer),
	};

	return cmocka_run_group_tests_name("capture", tests, setup, teardown);
}
