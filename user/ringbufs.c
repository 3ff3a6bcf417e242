// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "loader.h"
#include "ringbufs.h"
#include "synscope.h" /* before the skeleton, which uses its types */
#include "synscope.skel.h"

struct ringbufs {
	struct ring_buffer *reader;
	int *fds; /* one map per CPU, kept open while the reader maps them */
	int n;
};

unsigned int ringbufs_size_per_cpu(unsigned int bytes, int ncpus)
{
	unsigned int share = bytes / (ncpus > 0 ? ncpus : 1), size = 4096;

	while (size * 2 <= share)
		size *= 2;
	return size;
}

struct ringbufs *ringbufs_open(struct synscope_bpf *skel, unsigned int bytes,
			       ring_buffer_sample_fn fn, void *ctx)
{
	int ncpus = bpf_map__max_entries(skel->maps.rbs), outer = bpf_map__fd(skel->maps.rbs);
	unsigned int size = ringbufs_size_per_cpu(bytes, ncpus);
	struct ringbufs *r = calloc(1, sizeof(*r));
	__u32 cpu;
	int fd;

	if (!r || !(r->fds = calloc(ncpus, sizeof(*r->fds)))) {
		fprintf(stderr, "synscope: out of memory\n");
		free(r);
		return NULL;
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
		if (!r->reader)
			r->reader = ring_buffer__new(fd, fn, ctx, NULL);
		else if (ring_buffer__add(r->reader, fd, fn, ctx))
			goto fail_reader;
		if (!r->reader)
			goto fail_reader;
	}
	return r;
fail_reader:
	loader_explain("read a ring buffer", -errno);
fail:
	ringbufs_free(r);
	return NULL;
}

struct ring_buffer *ringbufs_reader(struct ringbufs *r)
{
	return r->reader;
}

void ringbufs_free(struct ringbufs *r)
{
	int i;

	if (!r)
		return;
	ring_buffer__free(r->reader);
	for (i = 0; i < r->n; i++)
		close(r->fds[i]);
	free(r->fds);
	free(r);
}
