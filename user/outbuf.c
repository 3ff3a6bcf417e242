// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include "outbuf.h"

int outbuf_init(struct outbuf *ob, FILE *f, size_t cap)
{
	if (cap < 2 * OUTBUF_RECORD_MAX)
		cap = 2 * OUTBUF_RECORD_MAX;
	ob->buf = malloc(cap);
	if (!ob->buf)
		return -ENOMEM;
	ob->len = 0;
	ob->cap = cap;
	ob->f = f;
	ob->fd = fileno(f);
	ob->records = 0;
	ob->lost = 0;
	ob->err = 0;
	return 0;
}

void outbuf_free(struct outbuf *ob)
{
	if (!ob)
		return;
	free(ob->buf);
	ob->buf = NULL;
	ob->len = ob->cap = 0;
}

/* A stream without a descriptor (a memory stream in the tests): stdio writes it. */
static int write_stream(struct outbuf *ob)
{
	if (fwrite(ob->buf, 1, ob->len, ob->f) != ob->len || fflush(ob->f) != 0)
		return errno ? -errno : -EIO;
	return 0;
}

/* write(2) until all is out: a pipe or a signal may cut a write short. */
static int write_fd(struct outbuf *ob)
{
	size_t off = 0;
	ssize_t n;

	if (fflush(ob->f) != 0)
		return errno ? -errno : -EIO;
	while (off < ob->len) {
		n = write(ob->fd, ob->buf + off, ob->len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		off += n;
	}
	return 0;
}

int outbuf_flush(struct outbuf *ob)
{
	int err;

	if (!ob->len)
		return 0;
	errno = 0;
	err = ob->fd >= 0 ? write_fd(ob) : write_stream(ob);
	if (err) {
		/* Keeping them would only fail again and fill the buffer: drop, count. */
		ob->lost += ob->records;
		ob->err = err;
	}
	ob->len = 0;
	ob->records = 0;
	return err;
}
