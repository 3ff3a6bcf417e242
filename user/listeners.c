// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Listening sockets now: the iter/tcp rows and the per-listener counters. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "synscope.h" /* before the skeleton, which uses its types */
#include "synscope.skel.h"
#include "listeners.h"

static void hist_sum(struct synscope_hist *dst, const struct synscope_hist *src)
{
	int i;

	for (i = 0; i < SYNSCOPE_HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->sum_ns += src->sum_ns;
}

/* Room for one more element in *v (cap elements of size): 0 or -ENOMEM. */
static int grow(void **v, size_t n, size_t *cap, size_t size)
{
	void *bigger;

	if (n < *cap)
		return 0;
	bigger = realloc(*v, (*cap ? 2 * *cap : 16) * size);
	if (!bigger)
		return -ENOMEM;
	*v = bigger;
	*cap = *cap ? 2 * *cap : 16;
	return 0;
}

int listener_counts_read(struct synscope_bpf *skel, struct listener_counts **out, size_t *n)
{
	int ncpus = libbpf_num_possible_cpus();
	struct synscope_listener_metrics *per_cpu;
	struct synscope_listener_key key, next;
	struct listener_counts *l;
	size_t cap = 0;
	void *prev = NULL;
	int c, err;

	*out = NULL;
	*n = 0;
	if (ncpus < 1)
		return ncpus;
	per_cpu = calloc(ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	while (!(err = bpf_map__get_next_key(skel->maps.listener_metrics, prev, &next, sizeof(next)))) {
		key = next;
		prev = &key;
		if (bpf_map__lookup_elem(skel->maps.listener_metrics, &key, sizeof(key), per_cpu,
					 sizeof(*per_cpu) * ncpus, 0))
			continue; /* removed in between */
		err = grow((void **)out, *n, &cap, sizeof(**out));
		if (err)
			break;
		l = &(*out)[(*n)++];
		memset(l, 0, sizeof(*l));
		l->key = key;
		for (c = 0; c < ncpus; c++) {
			hist_sum(&l->m.accept_wait, &per_cpu[c].accept_wait);
			l->m.overflows += per_cpu[c].overflows;
			l->m.synack_retrans += per_cpu[c].synack_retrans;
		}
	}
	free(per_cpu);
	return err == -ENOENT ? 0 : err;
}

/* Adds one iter/tcp row to the listener of its port, or a new one. */
static int add_row(struct listener_queues **v, size_t *n, size_t *cap,
		   const struct synscope_listener_row *row)
{
	struct listener_queues *q = NULL;
	char address[48];
	size_t i;

	inet_ntop(row->family == AF_INET6 ? AF_INET6 : AF_INET, row->addr, address, sizeof(address));
	for (i = 0; i < *n && !q; i++)
		if ((*v)[i].netns == row->netns && (*v)[i].port == row->port)
			q = &(*v)[i];
	if (!q) {
		if (grow((void **)v, *n, cap, sizeof(**v)))
			return -ENOMEM;
		q = &(*v)[(*n)++];
		memset(q, 0, sizeof(*q));
		q->netns = row->netns;
		q->port = row->port;
		snprintf(q->address, sizeof(q->address), "%s", address);
	} else if (strcmp(q->address, address)) {
		snprintf(q->address, sizeof(q->address), "*");
	}
	q->acceptq += row->acceptq;
	q->backlog += row->backlog;
	q->synq += row->synq;
	q->drops += row->drops;
	return 0;
}

int listener_queues_read(struct synscope_bpf *skel, struct listener_queues **out, size_t *n)
{
	struct synscope_listener_row row;
	size_t cap = 0, have = 0;
	ssize_t got;
	int fd, err = 0;

	*out = NULL;
	*n = 0;
	if (!skel->links.dump_listeners)
		return 0;
	fd = bpf_iter_create(bpf_link__fd(skel->links.dump_listeners));
	if (fd < 0)
		return -errno;
	while ((got = read(fd, (char *)&row + have, sizeof(row) - have)) > 0) {
		have += got;
		if (have < sizeof(row))
			continue;
		have = 0;
		err = add_row(out, n, &cap, &row);
		if (err)
			break;
	}
	if (got < 0 && !err)
		err = -errno;
	close(fd);
	return err;
}

bool listener_overflows_known(struct synscope_bpf *skel)
{
	return bpf_program__autoload(skel->progs.handle_listen_overflow);
}

int listener_states_read(struct synscope_bpf *skel, struct listener_state **out, size_t *n)
{
	struct listener_counts *counts = NULL;
	struct listener_queues *queues;
	size_t ncounts = 0, nqueues, i, j;
	int err;

	*out = NULL;
	*n = 0;
	err = listener_queues_read(skel, &queues, &nqueues);
	if (!err)
		err = listener_counts_read(skel, &counts, &ncounts);
	if (!err && nqueues && !(*out = calloc(nqueues, sizeof(**out))))
		err = -ENOMEM;
	for (i = 0; !err && i < nqueues; i++) {
		struct listener_state *l = &(*out)[i];

		l->q = queues[i];
		l->overflows_valid = listener_overflows_known(skel);
		for (j = 0; j < ncounts; j++)
			if (counts[j].key.netns == l->q.netns && counts[j].key.port == l->q.port) {
				l->overflows = counts[j].m.overflows;
				l->synack_retrans = counts[j].m.synack_retrans;
			}
	}
	if (!err)
		*n = nqueues;
	free(queues);
	free(counts);
	return err;
}
