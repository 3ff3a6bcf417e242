/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A large output buffer the sinks format records straight into, written
 * with one write(2) per ring-buffer batch (or when nearly full).
 */
#ifndef SYNSCOPE_OUTBUF_H
#define SYNSCOPE_OUTBUF_H

#include <stddef.h>
#include <stdio.h>

#define OUTBUF_SIZE (1u << 20)
/*
 * The most one record may take: outbuf_reserve() never hands out less. The
 * longest JSONL record is under 1.5 KiB (a comm of 16 bytes escaped to 96,
 * two IPv6 addresses, ~40 keys and 20-digit numbers), a text line under 1 KiB.
 */
#define OUTBUF_RECORD_MAX 8192u

struct outbuf {
	char *buf;
	size_t len;                /* bytes held */
	size_t cap;
	FILE *f;                   /* the stream written to */
	int fd;                    /* its descriptor, or -1: written through f (open_memstream) */
	unsigned long records;     /* records held */
	unsigned long long lost;   /* records dropped because a write failed */
	int err;                   /* the last write error, -errno; 0 if none */
};

/*
 * Sets `ob` up to write to `f` (not closed here) through a buffer of `cap`
 * bytes (at least 2 * OUTBUF_RECORD_MAX). Returns 0 or -ENOMEM.
 */
int outbuf_init(struct outbuf *ob, FILE *f, size_t cap);
/* Frees the buffer, without writing it (call outbuf_flush() first). NULL-safe. */
void outbuf_free(struct outbuf *ob);
/*
 * Writes what is held: first flushes `f`'s own stdio buffer (so text written
 * to `f` before stays in order), then write(2) until all is out, across short
 * writes and EINTR. On failure the held records are dropped and counted in
 * `lost`. Returns 0 or -errno.
 */
int outbuf_flush(struct outbuf *ob);

/*
 * Room for one record of at most OUTBUF_RECORD_MAX bytes, at the end of the
 * held data; writes the buffer out first if it is nearly full (a failure
 * there is counted in `lost`, and the room is given anyway).
 */
static inline char *outbuf_reserve(struct outbuf *ob)
{
	if (ob->cap - ob->len < OUTBUF_RECORD_MAX)
		outbuf_flush(ob);
	return ob->buf + ob->len;
}

/* Ends the record written from outbuf_reserve() up to `end` (exclusive). */
static inline void outbuf_commit(struct outbuf *ob, char *end)
{
	ob->len = end - ob->buf;
	ob->records++;
}

#endif
