/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The BPF side's ring buffers: one per possible CPU (bpf/maps.bpf.h, rbs),
 * created here after the skeleton is loaded, and read in turn, a chunk of
 * each at a time (a libbpf ring_buffer each). --ringbuf-size is shared among
 * them: each gets its share, rounded down to a power of two, at least a
 * page.
 */
#ifndef SYNSCOPE_RINGBUFS_H
#define SYNSCOPE_RINGBUFS_H

#include <bpf/libbpf.h>

struct synscope_bpf;
struct ringbufs;

/* The size of each CPU's ring buffer for a total of `bytes`, a power of two >= 4096. */
unsigned int ringbufs_size_per_cpu(unsigned int bytes, int ncpus);

/*
 * Creates the ring buffers of a loaded skeleton (its rbs map sized to the
 * possible CPUs before load) and a reader that hands every record to
 * fn(ctx). NULL on failure, after saying why.
 */
struct ringbufs *ringbufs_open(struct synscope_bpf *skel, unsigned int bytes,
			       ring_buffer_sample_fn fn, void *ctx);
/* An epoll fd, readable when a ring buffer holds records (after a wakeup). */
int ringbufs_epoll_fd(const struct ringbufs *r);
/*
 * Hands every record in the ring buffers to fn, going round them in chunks
 * of a few dozen records until all are empty. Returns the number of
 * records, or fn's or libbpf's negative error.
 */
int ringbufs_consume(struct ringbufs *r);
void ringbufs_free(struct ringbufs *r);

#endif
