// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Accept-queue depth over time per listener (queue_depth.h). */
#include <stdlib.h>
#include <string.h>
#include "queue_depth.h"

static struct queue_listener *listener_of(struct queue_depth *q, const struct synscope_handshake *r)
{
	unsigned int i;

	for (i = 0; i < q->nlisteners; i++)
		if (q->listeners[i].port == r->sport && q->listeners[i].netns == r->netns)
			return &q->listeners[i];
	if (q->nlisteners == QUEUE_DEPTH_MAX_LISTENERS)
		return NULL;
	q->listeners[q->nlisteners].port = r->sport;
	q->listeners[q->nlisteners].netns = r->netns;
	return &q->listeners[q->nlisteners++];
}

static void add_point(struct queue_depth *q, struct queue_listener *l, unsigned long long ts,
		      unsigned int depth, unsigned int leave)
{
	if (q->npoints >= QUEUE_DEPTH_MAX_POINTS) {
		q->dropped++;
		return;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		struct queue_point *p = realloc(l->points, cap * sizeof(*p));

		if (!p) {
			q->dropped++;
			return;
		}
		l->points = p;
		l->cap = cap;
	}
	l->points[l->n++] = (struct queue_point){.ts = ts, .depth = depth, .leave = leave};
	q->npoints++;
}

void queue_depth_add(struct queue_depth *q, const struct conn_end *end)
{
	const struct synscope_handshake *r = &end->raw;
	struct queue_listener *l;

	if (r->role != SYNSCOPE_ROLE_SERVER || r->outcome != SYNSCOPE_OUT_ESTABLISHED ||
	    !r->ts_end || !r->acceptq)
		return;
	l = listener_of(q, r);
	if (!l) {
		q->dropped++;
		return;
	}
	l->backlog = r->backlog;
	if (r->acceptq > l->max_depth)
		l->max_depth = r->acceptq;
	add_point(q, l, r->ts_end, r->acceptq, 0);
	if ((r->flags & SYNSCOPE_F_ACCEPTED) && !(r->flags & SYNSCOPE_F_ACCEPT_UNSEEN) &&
	    r->ts_ret >= r->ts_end)
		add_point(q, l, r->ts_ret, 0, 1);
}

/* By time; at one instant arrivals first (a connection is queued before it can leave). */
static int cmp_points(const void *a, const void *b)
{
	const struct queue_point *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return (int)x->leave - (int)y->leave;
}

void queue_depth_finish(struct queue_listener *l)
{
	unsigned int depth = 0;
	size_t i;

	qsort(l->points, l->n, sizeof(l->points[0]), cmp_points);
	for (i = 0; i < l->n; i++) {
		if (l->points[i].leave)
			depth = depth ? depth - 1 : 0;
		else
			depth = l->points[i].depth;
		l->points[i].depth = depth;
	}
}

void queue_depth_free(struct queue_depth *q)
{
	unsigned int i;

	for (i = 0; i < q->nlisteners; i++) {
		free(q->listeners[i].points);
		q->listeners[i].points = NULL;
		q->listeners[i].n = q->listeners[i].cap = 0;
	}
	q->nlisteners = 0;
	q->npoints = 0;
}
