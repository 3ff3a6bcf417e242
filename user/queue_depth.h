/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Accept-queue depth over time, per listener, rebuilt from server ends for
 * -f trace-event and -f html.
 *
 * Each accepted server end gives two points: at its ESTABLISHED (ts_end)
 * the depth the kernel had, this connection included (the record's
 * acceptq: the child's sk_ack_backlog + 1, inet_csk_clone_lock() and
 * inet_csk_reqsk_queue_add()); at its accept() return (ts_ret) one less
 * than the depth just before. Sorted by time, every arrival resets the
 * depth to the kernel's own figure, so a connection synscope did not see
 * (filtered out, or queued before it started) skews the line only until
 * the next arrival. Ends never accepted, or accepted by a caller no hook
 * saw, leave at an unknown time: they add no departure.
 */
#ifndef SYNSCOPE_QUEUE_DEPTH_H
#define SYNSCOPE_QUEUE_DEPTH_H

#include <stddef.h>
#include "decode.h"

/* Points kept over all listeners; later ones are counted in `dropped`. */
#define QUEUE_DEPTH_MAX_POINTS (1u << 21)
#define QUEUE_DEPTH_MAX_LISTENERS 64

struct queue_point {
	unsigned long long ts; /* boot-time ns */
	unsigned int depth;    /* arrival: the kernel's depth; departure: 0 (computed) */
	unsigned int leave;    /* 1: a departure */
};

struct queue_listener {
	unsigned long long netns; /* network namespace inode */
	unsigned int port;        /* local port of the server ends */
	unsigned int backlog;     /* effective backlog (sk_max_ack_backlog) at the last arrival */
	unsigned int max_depth;   /* deepest arrival */
	size_t n, cap;
	struct queue_point *points;
};

struct queue_depth {
	struct queue_listener listeners[QUEUE_DEPTH_MAX_LISTENERS];
	unsigned int nlisteners;
	size_t npoints;                /* over all listeners */
	unsigned long long dropped;    /* points not kept: QUEUE_DEPTH_MAX_POINTS or listeners full, or ENOMEM */
};

/* Adds a server end's points (a client end adds nothing). */
void queue_depth_add(struct queue_depth *q, const struct conn_end *end);
/*
 * Sorts a listener's points by time and fills in each departure's depth;
 * call once, after the last queue_depth_add(). The points then read as a
 * step function: the depth from each point's ts to the next one's.
 */
void queue_depth_finish(struct queue_listener *l);
/* Frees the points. */
void queue_depth_free(struct queue_depth *q);

#endif
