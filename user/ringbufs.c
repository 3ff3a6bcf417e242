// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <bpf/bpf.h>
#include "loader.h"
#include "ringbufs.h"
#include "synscope.h" /* before the skeleton, which uses its types */
#include "synscope.skel.h"

/*
 * Records taken from one CPU's ring before the next CPU's: the reader goes
 * round the rings in chunks, so that a backlog (a reader that fell behind,
 * or the drain at exit) comes out roughly in time order across the CPUs.
 * Emptying one CPU's ring first would hand the tracker one end of every
 * connection in it long before the other: all of them wait in the join
 * table, and most are printed alone and joined by link records.
 */
#define CHUNK 64

/* Returned by the reader's callback to move on to the next ring (not an errno). */
#define NEXT_RING (-100000)

struct ringbufs {
	struct ring_buffer **readers; /* one per CPU: libbpf 1.1 cannot bound one ring's read */
	int *fds;                     /* the maps, kept open while the readers map them */
	int n;
	int epfd;                     /* readable when any ring has records */
	ring_buffer_sample_fn fn;
	void *ctx;
	int left; /* records the current ring may still hand over in this round */
	int err;  /* fn's error, if it returned one */
};

unsigned int ringbufs_size_per_cpu(unsigned int bytes, int ncpus)
{
	unsigned int share = bytes / (ncpus > 0 ? ncpus : 1), size = 4096;

	while (size * 2 <= share)
		size *= 2;
	return size;
}

static int take(void *ctx, void *data, size_t size)
{
	struct ringbufs *r = ctx;
	int err = r->fn(r->ctx, data, size);

	if (err < 0) {
		r->err = err;
		return err;
	}
	return --r->left ? 0 : NEXT_RING;
}

struct ringbufs *ringbufs_open(struct synscope_bpf *skel, unsigned int bytes,
			       ring_buffer_sample_fn fn, void *ctx)
{
	int ncpus = bpf_map__max_entries(skel->maps.rbs), outer = bpf_map__fd(skel->maps.rbs);
	unsigned int size = ringbufs_size_per_cpu(bytes, ncpus);
	struct ringbufs *r = calloc(1, sizeof(*r));
	struct epoll_event ev = {.events = EPOLLIN};
	__u32 cpu;
	int fd;

	if (!r || !(r->fds = calloc(ncpus, sizeof(*r->fds))) ||
	    !(r->readers = calloc(ncpus, sizeof(*r->readers)))) {
		fprintf(stderr, "synscope: out of memory\n");
		if (r)
			free(r->fds);
		free(r);
		return NULL;
	}
	r->fn = fn;
	r->ctx = ctx;
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epfd < 0) {
		r->epfd = -errno;
		loader_explain("wait for the ring buffers", r->epfd);
		goto fail;
	}
	for (cpu = 0; cpu < (__u32)ncpus; cpu++) {
		fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "synscope_rb", 0, 0, size, NULL);
		if (fd < 0) {
			loader_explain("create a ring buffer", -errno);
			goto fail;
		}
		r->fds[r->n++] = fd;
		if (bpf_map_update_elem(outer, &cpu, &fd, BPF_ANY)) {
			loader_explain("place a CPU's ring buffer", -errno);
			goto fail;
		}
		r->readers[cpu] = ring_buffer__new(fd, take, r, NULL);
		if (!r->readers[cpu]) {
			loader_explain("read a ring buffer", -errno);
			goto fail;
		}
		if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			loader_explain("wait for the ring buffers", -errno);
			goto fail;
		}
	}
	return r;
fail:
	ringbufs_free(r);
	return NULL;
}

int ringbufs_epoll_fd(const struct ringbufs *r)
{
	return r->epfd;
}

int ringbufs_consume(struct ringbufs *r)
{
	bool more;
	int i, got, total = 0;

	do {
		more = false;
		for (i = 0; i < r->n; i++) {
			r->left = CHUNK;
			r->err = 0;
			got = ring_buffer__consume(r->readers[i]);
			if (got == NEXT_RING) {
				more = true;
				got = CHUNK;
			} else if (got < 0) {
				return r->err ? r->err : got;
			}
			total += got;
		}
	} while (more);
	return total;
}

void ringbufs_free(struct ringbufs *r)
{
	int i;

	if (!r)
		return;
	for (i = 0; r->readers && i < r->n; i++)
		ring_buffer__free(r->readers[i]);
	for (i = 0; i < r->n; i++)
		close(r->fds[i]);
	if (r->epfd >= 0)
		close(r->epfd);
	free(r->readers);
	free(r->fds);
	free(r);
}
