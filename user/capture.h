/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Capture files (-w FILE, -r FILE): the ring-buffer records exactly as the
 * kernel sent them, so that nothing is decoded while tracing and a capture
 * can be replayed through the decoder, tracker and any sink later.
 *
 * Format, version 1. Every integer is in the byte order of the host that
 * wrote the file (little-endian on x86 and arm64); the header's byte_order
 * field says which, and a reader refuses a file of the other order.
 *
 *   header   struct capture_header, header_len bytes (1240 in version 1)
 *   frames   one per ring-buffer record, in ring-buffer order:
 *              __u32 len       record bytes that follow the frame header
 *                              (1 to CAPTURE_MAX_RECORD)
 *              __u32 reserved  0 in version 1
 *              len bytes       the record: its first __u16 is its type,
 *                              enum synscope_record_type (bpf/synscope.h)
 *              0-7 zero bytes  padding: each frame starts 8-byte aligned
 *   trailer  a last frame holding struct capture_trailer (type
 *            CAPTURE_REC_TRAILER), written at a clean exit only: a file
 *            without it was cut off, and its loss counts are unknown.
 *
 * Compatibility: fields may be appended to the header without a new version
 * (header_len grows; readers skip what they do not know), and kernel
 * counters to the trailer's end (trailer_size grows; a reader reads
 * counters it does not know as absent and those the writer lacked as 0). The version
 * changes when an existing field, the frame layout or the trailer changes;
 * a reader refuses versions newer than its own. The record sizes in the
 * header must equal the reader's: the event ABI has no versioning of its
 * own, so a capture is read by a synscope built with the same bpf/synscope.h.
 */
#ifndef SYNSCOPE_CAPTURE_H
#define SYNSCOPE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "summary.h"
#include "synscope.h"

#define CAPTURE_MAGIC "SYNSCAP" /* with its NUL: 8 bytes */
#define CAPTURE_VERSION 1
#define CAPTURE_BYTE_ORDER 0x01020304u /* read back as 0x04030201: the other byte order */
#define CAPTURE_MAX_RECORD (64u << 10) /* a longer frame is corrupt */
#define CAPTURE_MAX_HEADER (64u << 10)
#define CAPTURE_COMMAND_LEN 1024
/* Records that are not the kernel's: outside enum synscope_record_type. */
#define CAPTURE_REC_TRAILER 0x5354 /* "TS" in a little-endian dump */

/* capture_header.run_flags */
enum capture_run_flags {
	CAPTURE_RUN_CLOSE = 1 << 0, /* --close: close records follow established ends */
};

struct capture_header {
	char magic[8];          /* "SYNSCAP\0" */
	__u32 byte_order;       /* CAPTURE_BYTE_ORDER, in the writer's byte order */
	__u32 version;          /* CAPTURE_VERSION */
	__u32 header_len;       /* bytes from magic to the first frame, multiple of 8 */
	__u16 handshake_size;   /* sizeof(struct synscope_handshake) of the writer */
	__u16 link_size;        /* sizeof(struct synscope_link) */
	__u16 close_size;       /* sizeof(struct synscope_close) */
	__u16 trailer_size;     /* sizeof(struct capture_trailer) */
	__u32 run_flags;        /* enum capture_run_flags: options that shape the records; 0 in
				 * captures written before the field (it was padding) */
	__s64 boot_to_real_ns;  /* CLOCK_REALTIME - CLOCK_BOOTTIME at start, ns: record times to UTC */
	__u64 start_boot_ns;    /* CLOCK_BOOTTIME when the capture started, ns */
	char accept_hook[16];   /* "fexit" or "syscall": how accept() was observed; NUL-padded */
	char kernel_release[72]; /* uname -r, NUL-padded */
	char hostname[72];      /* uname -n, NUL-padded */
	char command[CAPTURE_COMMAND_LEN]; /* synscope's argv joined by spaces, NUL-padded, cut at 1023 */
	__s64 mono_to_boot_ns;  /* CLOCK_BOOTTIME - CLOCK_MONOTONIC at start, ns: the records'
				 * stamps are CLOCK_MONOTONIC (bpf/synscope.h); this makes them boot time */
};

/* Written at a clean exit: what the live run prints as "lost" and the netstat deltas. */
struct capture_trailer {
	__u16 type;             /* CAPTURE_REC_TRAILER */
	__u16 pad[3];
	__u64 records;          /* record frames written before this one */
	__u64 end_boot_ns;      /* CLOCK_BOOTTIME at the end, ns */
	__u64 prog_misses;      /* program runs the kernel skipped, no fallback handled */
	__u64 records_dropped;  /* records not written: longer than CAPTURE_MAX_RECORD */
	__u32 netstat_valid;    /* 1: the three deltas below were read */
	__u32 pad1;
	__u64 listen_overflows; /* TcpExt ListenOverflows delta over the run */
	__u64 listen_drops;     /* TcpExt ListenDrops delta */
	__u64 syncookies_sent;  /* TcpExt SyncookiesSent delta */
	struct synscope_stats kernel; /* the BPF side's counters at the end; last: it grows
				       * as counters are appended to struct synscope_stats */
};

/* ---- writing (-w) ---- */

/* What the header records about the run, besides the record sizes and clocks. */
struct capture_meta {
	const char *accept_hook; /* "fexit" / "syscall" */
	bool track_close;        /* --close */
	int argc;                /* synscope's command line, for the header's command field */
	char **argv;
};

struct capture_writer;

/*
 * Creates `path` ("-": stdout, refused if it is a terminal), writes the
 * header. Returns NULL after printing "synscope: ..." with the reason.
 */
struct capture_writer *capture_writer_open(const char *path, const struct capture_meta *meta);

/*
 * Appends one ring-buffer record (the libbpf ring_buffer_sample_fn
 * signature: ctx is the writer). A memcpy into the buffer; one write(2)
 * when it is full. Returns 0 always: a failed write is printed once and
 * kept, later records are dropped, and capture_writer_tick() returns the
 * error so that the run stops.
 */
int capture_writer_record(void *ctx, void *data, size_t size);

/*
 * Called each poll round: writes what is buffered once it is older than a
 * second, so a killed synscope loses at most that. Returns 0, or -errno
 * when this or an earlier write failed (already printed): stop the run.
 */
int capture_writer_tick(struct capture_writer *w, unsigned long long now_boot_ns);

/*
 * Appends the trailer from the run's counts (kernel, prog_misses, netstat of
 * `sum`), writes everything, closes the file. Returns 0 or -errno (printed).
 * Call capture_writer_free() afterwards either way.
 */
int capture_writer_finish(struct capture_writer *w, const struct run_summary *sum);

/* Record frames written so far, and bytes (header and frames). */
unsigned long long capture_writer_records(const struct capture_writer *w);
unsigned long long capture_writer_bytes(const struct capture_writer *w);

/* Writes what is buffered (no trailer: a reader reports the capture as cut off), closes, frees. NULL-safe. */
void capture_writer_free(struct capture_writer *w);

/* ---- reading (-r) ---- */

struct capture_reader {
	FILE *f;
	struct capture_header hdr;
	unsigned long long offset;       /* bytes consumed so far */
	unsigned long long frame_offset; /* where the last frame returned starts */
	unsigned long long records;      /* record frames returned */
	bool trailer_seen;
	struct capture_trailer trailer;
	char error[160];                 /* why the last call failed, without the file name */
	unsigned char buf[CAPTURE_MAX_RECORD + 8];
};

/* capture_reader_next() results besides a record (1). */
enum capture_read_status {
	CAPTURE_END = 0,       /* the trailer, then end of file */
	CAPTURE_CUT = -1,      /* end of file at a frame boundary, no trailer: cut off */
	CAPTURE_CORRUPT = -2,  /* a frame that is truncated or malformed; r->error says which, where */
	CAPTURE_IO_ERROR = -3, /* read(2) failed; r->error says why */
};

/*
 * Reads and checks the header from `f` (the caller keeps ownership of f).
 * Returns 0, or -EINVAL (not a capture, other byte order, newer version,
 * record sizes this build cannot decode) / -EIO with r->error set to a
 * sentence that says what to do.
 */
int capture_reader_init(struct capture_reader *r, FILE *f);

/*
 * Reads the next frame. Returns 1 with *data, *size pointing at the record
 * (valid until the next call; r->frame_offset is where its frame starts), or
 * an enum capture_read_status. A record whose length disagrees with the
 * header's size for its type is corrupt; decoding it is the caller's job.
 */
int capture_reader_next(struct capture_reader *r, const void **data, size_t *size);

#endif
