// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * -r FILE: the frames of a capture file, checked. Everything in the file is
 * outside data: every length is bounded before it is used. Format: capture.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "capture.h"

#define SWAP32(x) __builtin_bswap32(x)

/* Reads up to len bytes; returns how many (short only at end of file or error). */
static size_t read_some(struct capture_reader *r, void *buf, size_t len)
{
	size_t n = fread(buf, 1, len, r->f);

	r->offset += n;
	return n;
}

static int io_error(struct capture_reader *r)
{
	snprintf(r->error, sizeof(r->error), "read failed at byte %llu: %s", r->offset,
		 strerror(errno));
	return -EIO;
}

static int refuse(struct capture_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int refuse(struct capture_reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static size_t size_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

static int check_size(struct capture_reader *r, const char *what, unsigned int have,
		      unsigned int want)
{
	if (have == want)
		return 0;
	return refuse(r, "its %s records are %u bytes, this synscope's are %u: read it with the "
			 "synscope build that wrote it", what, have, want);
}

int capture_reader_init(struct capture_reader *r, FILE *f)
{
	struct capture_header *h = &r->hdr;
	unsigned long long skip;
	size_t n;

	memset(r, 0, offsetof(struct capture_reader, buf));
	r->f = f;
	n = read_some(r, h, sizeof(*h));
	if (n < sizeof(*h) && ferror(f))
		return io_error(r);
	if (n < sizeof(h->magic) || memcmp(h->magic, CAPTURE_MAGIC, sizeof(h->magic)))
		return refuse(r, "not a synscope capture (no SYNSCAP magic): write one with synscope -w");
	if (n < offsetof(struct capture_header, handshake_size))
		return refuse(r, "capture header cut off after %zu bytes", n);
	if (h->byte_order == SWAP32(CAPTURE_BYTE_ORDER))
		return refuse(r, "capture written on a host of the other byte order: read it on "
				 "such a host");
	if (h->byte_order != CAPTURE_BYTE_ORDER)
		return refuse(r, "corrupt capture header: byte-order mark 0x%08x", h->byte_order);
	if (h->version > CAPTURE_VERSION)
		return refuse(r, "capture format version %u, this synscope reads up to version %u: "
				 "upgrade synscope", h->version, CAPTURE_VERSION);
	if (h->version == 0)
		return refuse(r, "corrupt capture header: format version 0");
	if (n < sizeof(*h))
		return refuse(r, "capture header cut off after %zu bytes", n);
	if (h->header_len < sizeof(*h) || h->header_len > CAPTURE_MAX_HEADER || h->header_len % 8)
		return refuse(r, "corrupt capture header: header length %u", h->header_len);
	if (check_size(r, "handshake", h->handshake_size, sizeof(struct synscope_handshake)) ||
	    check_size(r, "link", h->link_size, sizeof(struct synscope_link)) ||
	    check_size(r, "close", h->close_size, sizeof(struct synscope_close)))
		return -EINVAL;
	/* Kernel counters are appended to the trailer's end: any length that
	 * holds the fixed part is read (see struct capture_trailer). */
	if (h->trailer_size < offsetof(struct capture_trailer, kernel) ||
	    h->trailer_size % 8)
		return refuse(r, "corrupt capture header: trailer size %u", h->trailer_size);
	/* Text fields are printed: make sure they end. */
	h->accept_hook[sizeof(h->accept_hook) - 1] = '\0';
	h->kernel_release[sizeof(h->kernel_release) - 1] = '\0';
	h->hostname[sizeof(h->hostname) - 1] = '\0';
	h->command[sizeof(h->command) - 1] = '\0';
	/* Fields a later writer appended. */
	for (skip = h->header_len - sizeof(*h); skip;) {
		size_t want = skip < sizeof(r->buf) ? skip : sizeof(r->buf);

		n = read_some(r, r->buf, want);
		if (n < want)
			return ferror(f) ? io_error(r)
					 : refuse(r, "capture header cut off at byte %llu", r->offset);
		skip -= n;
	}
	return 0;
}

static int corrupt(struct capture_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int corrupt(struct capture_reader *r, const char *fmt, ...)
{
	int n = snprintf(r->error, sizeof(r->error), "corrupt record at byte %llu: ",
			 r->frame_offset);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error + n, sizeof(r->error) - n, fmt, ap);
	va_end(ap);
	return CAPTURE_CORRUPT;
}

/* The size the header gives records of `type`; 0 for a type the format does not have. */
static unsigned int size_of_type(const struct capture_reader *r, __u16 type)
{
	switch (type) {
	case SYNSCOPE_REC_HANDSHAKE: return r->hdr.handshake_size;
	case SYNSCOPE_REC_LINK: return r->hdr.link_size;
	case SYNSCOPE_REC_CLOSE: return r->hdr.close_size;
	case CAPTURE_REC_TRAILER: return r->hdr.trailer_size;
	default: return 0;
	}
}

int capture_reader_next(struct capture_reader *r, const void **data, size_t *size)
{
	__u32 frame[2];
	size_t n, padded;
	__u16 type;

	r->frame_offset = r->offset;
	n = read_some(r, frame, sizeof(frame));
	if (n == 0 && !ferror(r->f))
		return r->trailer_seen ? CAPTURE_END : CAPTURE_CUT;
	if (n < sizeof(frame))
		return ferror(r->f) ? (io_error(r), CAPTURE_IO_ERROR)
				    : corrupt(r, "file ends %zu bytes into a frame header", n);
	if (r->trailer_seen)
		return corrupt(r, "data after the trailer");
	if (frame[0] == 0 || frame[0] > CAPTURE_MAX_RECORD)
		return corrupt(r, "record length %u (1 to %u)", frame[0], CAPTURE_MAX_RECORD);
	if (frame[1] != 0)
		return corrupt(r, "reserved frame field 0x%x is not 0", frame[1]);
	padded = (frame[0] + 7) & ~7u;
	n = read_some(r, r->buf, padded);
	if (n < padded)
		return ferror(r->f) ? (io_error(r), CAPTURE_IO_ERROR)
				    : corrupt(r, "file ends %zu bytes into a %zu-byte record", n, padded);
	if (frame[0] < sizeof(type))
		return corrupt(r, "record of %u byte has no type", frame[0]);
	memcpy(&type, r->buf, sizeof(type));
	if (!size_of_type(r, type))
		return corrupt(r, "unknown record type %u", type);
	if (frame[0] != size_of_type(r, type))
		return corrupt(r, "type %u record of %u bytes, the header says %u", type, frame[0],
			       size_of_type(r, type));
	if (type == CAPTURE_REC_TRAILER) {
		memset(&r->trailer, 0, sizeof(r->trailer));
		memcpy(&r->trailer, r->buf, size_min(frame[0], sizeof(r->trailer)));
		if (r->trailer.records != r->records)
			return corrupt(r, "the trailer counts %llu records, the file holds %llu",
				       (unsigned long long)r->trailer.records, r->records);
		r->trailer_seen = true;
		return capture_reader_next(r, data, size);
	}
	r->records++;
	*data = r->buf;
	*size = frame[0];
	return 1;
}
