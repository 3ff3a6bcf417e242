// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * -w FILE: ring-buffer records appended to a capture file. The per-record
 * path is a memcpy into a large buffer; nothing is decoded or formatted.
 * Format: capture.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "capture.h"
#include "decode.h"

_Static_assert(sizeof(struct capture_header) == 1240, "capture_header is part of the file format");
_Static_assert(sizeof(struct capture_header) % 8 == 0, "frames start 8-byte aligned");
_Static_assert(sizeof(struct capture_trailer) == 200, "capture_trailer is part of the file format");

/* Large enough that a write(2) is rare at peak (~140k records/s: one every ~0.15 s). */
#define CAPTURE_BUF_BYTES (4u << 20)
#define FLUSH_AFTER_NS 1000000000ULL

struct capture_writer {
	int fd;
	const char *path;
	unsigned char *buf;
	size_t len;                        /* bytes buffered */
	unsigned long long records;        /* record frames written or buffered */
	unsigned long long bytes;          /* header and frames written or buffered */
	unsigned long long dropped;        /* records longer than CAPTURE_MAX_RECORD */
	unsigned long long oldest_ns;      /* boot ns of the tick that first saw data buffered */
	int err;                           /* first write error (sticky), -errno */
};

static unsigned long long boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static long long real_minus_boot_ns(void)
{
	struct timespec boot, real;

	clock_gettime(CLOCK_BOOTTIME, &boot);
	clock_gettime(CLOCK_REALTIME, &real);
	return (real.tv_sec - boot.tv_sec) * 1000000000LL + (real.tv_nsec - boot.tv_nsec);
}

/* write(2) all of it, through short writes and EINTR. */
static int write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static int flush_buf(struct capture_writer *w)
{
	int err;

	if (w->err)
		return w->err;
	err = write_all(w->fd, w->buf, w->len);
	w->len = 0;
	w->oldest_ns = 0;
	if (err) {
		w->err = err;
		fprintf(stderr, "synscope: couldn't write capture %s: %s; the capture is incomplete\n",
			w->path, strerror(-err));
	}
	return err;
}

/* Copies src into a fixed field, NUL-padded, cut to leave one NUL. */
static void set_field(char *field, size_t size, const char *src)
{
	memset(field, 0, size);
	if (src)
		strncpy(field, src, size - 1);
}

static void fill_header(struct capture_header *h, const struct capture_meta *meta)
{
	struct utsname u;
	size_t used = 0;
	int i;

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, CAPTURE_MAGIC, sizeof(h->magic));
	h->byte_order = CAPTURE_BYTE_ORDER;
	h->version = CAPTURE_VERSION;
	h->header_len = sizeof(*h);
	h->handshake_size = sizeof(struct synscope_handshake);
	h->link_size = sizeof(struct synscope_link);
	h->close_size = sizeof(struct synscope_close);
	h->trailer_size = sizeof(struct capture_trailer);
	h->boot_to_real_ns = real_minus_boot_ns();
	h->start_boot_ns = boot_ns();
	h->mono_to_boot_ns = mono_to_boot_offset_ns();
	set_field(h->accept_hook, sizeof(h->accept_hook), meta->accept_hook);
	h->run_flags = meta->track_close ? CAPTURE_RUN_CLOSE : 0;
	if (uname(&u) == 0) {
		set_field(h->kernel_release, sizeof(h->kernel_release), u.release);
		set_field(h->hostname, sizeof(h->hostname), u.nodename);
	}
	for (i = 0; i < meta->argc && meta->argv && meta->argv[i]; i++) {
		int n = snprintf(h->command + used, sizeof(h->command) - used, "%s%s", i ? " " : "",
				 meta->argv[i]);

		if (n < 0 || (size_t)n >= sizeof(h->command) - used)
			break; /* cut: the field stays NUL-terminated */
		used += n;
	}
}

struct capture_writer *capture_writer_open(const char *path, const struct capture_meta *meta)
{
	struct capture_writer *w = calloc(1, sizeof(*w));
	struct capture_header h;

	if (!w || !(w->buf = malloc(CAPTURE_BUF_BYTES))) {
		fprintf(stderr, "synscope: out of memory for the capture buffer\n");
		free(w);
		return NULL;
	}
	w->fd = -1;
	w->path = path;
	if (!strcmp(path, "-")) {
		if (isatty(STDOUT_FILENO)) {
			fprintf(stderr, "synscope: -w - writes binary records to stdout, which is a "
					"terminal: redirect it to a file or a pipe\n");
			goto fail;
		}
		w->fd = STDOUT_FILENO;
	} else {
		w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (w->fd < 0) {
			fprintf(stderr, "synscope: couldn't create capture file '%s': %s\n", path,
				strerror(errno));
			goto fail;
		}
	}
	fill_header(&h, meta);
	memcpy(w->buf, &h, sizeof(h));
	w->len = w->bytes = sizeof(h);
	/* Write the header now: a path that cannot take data fails before tracing starts. */
	if (flush_buf(w))
		goto fail;
	return w;
fail:
	capture_writer_free(w);
	return NULL;
}

int capture_writer_record(void *ctx, void *data, size_t size)
{
	struct capture_writer *w = ctx;
	size_t padded = (size + 7) & ~(size_t)7;
	__u32 frame[2] = {(__u32)size, 0};

	if (size == 0 || size > CAPTURE_MAX_RECORD) {
		w->dropped++;
		return 0;
	}
	/* After a failed write the run is stopping (capture_writer_tick): keep libbpf consuming. */
	if (w->err || (w->len + sizeof(frame) + padded > CAPTURE_BUF_BYTES && flush_buf(w)))
		return 0;
	memcpy(w->buf + w->len, frame, sizeof(frame));
	memcpy(w->buf + w->len + sizeof(frame), data, size);
	/* Zero the padding: captures must not carry stale heap bytes. */
	memset(w->buf + w->len + sizeof(frame) + size, 0, padded - size);
	w->len += sizeof(frame) + padded;
	w->bytes += sizeof(frame) + padded;
	w->records++;
	return 0;
}

int capture_writer_tick(struct capture_writer *w, unsigned long long now_boot_ns)
{
	if (w->err)
		return w->err;
	if (!w->len)
		return 0;
	if (!w->oldest_ns) {
		w->oldest_ns = now_boot_ns;
		return 0;
	}
	if (now_boot_ns - w->oldest_ns < FLUSH_AFTER_NS)
		return 0;
	return flush_buf(w);
}

int capture_writer_finish(struct capture_writer *w, const struct run_summary *sum)
{
	struct capture_trailer t = {
		.type = CAPTURE_REC_TRAILER,
		.records = w->records,
		.end_boot_ns = boot_ns(),
		.prog_misses = sum->prog_misses,
		.records_dropped = w->dropped,
		.netstat_valid = sum->netstat.valid,
		.listen_overflows = sum->netstat.listen_overflows,
		.listen_drops = sum->netstat.listen_drops,
		.syncookies_sent = sum->netstat.syncookies_sent,
		.kernel = sum->kernel,
	};
	int err;

	/* Counted in the trailer, not as a record: records stays the record count. */
	capture_writer_record(w, &t, sizeof(t));
	w->records--;
	err = flush_buf(w);
	if (w->fd >= 0 && w->fd != STDOUT_FILENO) {
		if (close(w->fd) && !err) {
			err = -errno;
			fprintf(stderr, "synscope: couldn't write capture %s: %s\n", w->path,
				strerror(-err));
		}
		w->fd = -1;
	}
	return err;
}

unsigned long long capture_writer_records(const struct capture_writer *w)
{
	return w->records;
}

unsigned long long capture_writer_bytes(const struct capture_writer *w)
{
	return w->bytes;
}

void capture_writer_free(struct capture_writer *w)
{
	if (!w)
		return;
	/* What was captured before a failure is still worth keeping. */
	if (w->fd >= 0 && w->len)
		flush_buf(w);
	if (w->fd >= 0 && w->fd != STDOUT_FILENO)
		close(w->fd);
	free(w->buf);
	free(w);
}
