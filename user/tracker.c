// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tracker.h"

/* Ends held for a late join (established clients, recovered server ends); bounded: the
 * oldest is printed when full. */
#define HOLD_CAPACITY 8192
/* Recently printed joined clients remembered to drop repeated LINKs (tiny race window). */
#define PRINTED_JOINED 64

struct tracker {
	struct output *out;
	unsigned long long hold_ns;
	struct conn_end *held; /* ring of HOLD_CAPACITY */
	unsigned long long *held_at;
	unsigned int head, count;
	/* Clients printed already joined: a LINK for one of them repeats what
	 * it said (the kernel sends one when it cannot tell, see join_server()). */
	unsigned long long printed_joined[PRINTED_JOINED];
	unsigned int printed_next;
	struct run_summary sum;
};

struct tracker *tracker_new(struct output *out, unsigned long long hold_ns)
{
	struct tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->held = calloc(HOLD_CAPACITY, sizeof(*t->held));
	t->held_at = calloc(HOLD_CAPACITY, sizeof(*t->held_at));
	if (!t->held || !t->held_at) {
		tracker_free(t);
		return NULL;
	}
	t->out = out;
	t->hold_ns = hold_ns;
	return t;
}

void tracker_free(struct tracker *t)
{
	if (!t)
		return;
	free(t->held);
	free(t->held_at);
	free(t);
}

struct run_summary *tracker_summary(struct tracker *t)
{
	return &t->sum;
}

static struct listener_summary *listener_of(struct run_summary *sum, const struct conn_end *end)
{
	unsigned int i;

	for (i = 0; i < sum->nlisteners; i++) {
		if (sum->listeners[i].port == end->raw.sport && sum->listeners[i].netns == end->raw.netns)
			return &sum->listeners[i];
	}
	if (sum->nlisteners == SUMMARY_MAX_LISTENERS)
		return NULL;
	sum->listeners[i].port = end->raw.sport;
	sum->listeners[i].netns = end->raw.netns;
	sum->nlisteners++;
	return &sum->listeners[i];
}

static void count_server(struct run_summary *sum, const struct conn_end *end)
{
	const struct synscope_handshake *r = &end->raw;
	/* In the queue when synscope stopped is not "never accepted": it may be yet. */
	bool waiting = r->flags & SYNSCOPE_F_IN_FLIGHT;
	struct listener_summary *l;
	long long wait;

	if (!(r->flags & SYNSCOPE_F_ACCEPTED) && !waiting)
		sum->not_accepted++;
	l = listener_of(sum, end);
	if (!l) {
		sum->listeners_untracked++;
		return;
	}
	if (r->outcome == SYNSCOPE_OUT_ESTABLISHED)
		l->completed++;
	if (r->flags & SYNSCOPE_F_ACCEPTED)
		l->accepted++;
	else if (!waiting)
		l->not_accepted++;
	if (r->acceptq > l->max_acceptq)
		l->max_acceptq = r->acceptq;
	if (r->backlog)
		l->backlog = r->backlog;
	l->synack_retrans += r->retrans;
	if (r->flags & SYNSCOPE_F_CLOSED)
		l->closed_in_queue++;
	wait = end_accept_wait_us(end);
	if (wait >= 0) {
		hist_add(&l->wait_us, wait);
		if ((unsigned long long)wait > l->max_wait_us)
			l->max_wait_us = wait;
	}
}

static struct destination_summary *destination_of(struct run_summary *sum, const struct conn_end *end)
{
	struct destination_summary *d;
	unsigned int i;

	for (i = 0; i < sum->ndestinations; i++) {
		d = &sum->destinations[i];
		if (d->port == end->raw.dport && !strcmp(d->addr, end->daddr))
			return d;
	}
	if (sum->ndestinations == SUMMARY_MAX_DESTINATIONS)
		return NULL;
	d = &sum->destinations[sum->ndestinations++];
	snprintf(d->addr, sizeof(d->addr), "%s", end->daddr);
	d->port = end->raw.dport;
	return d;
}

static void count_client(struct run_summary *sum, const struct conn_end *end)
{
	struct destination_summary *d = destination_of(sum, end);
	long long us;

	sum->syn_retrans += end->raw.retrans;
	if (!d) {
		sum->destinations_untracked++;
		return;
	}
	d->by_outcome[end->raw.outcome]++;
	d->syn_retrans += end->raw.retrans;
	us = end_connect_us(end);
	if (end->raw.outcome == SYNSCOPE_OUT_ESTABLISHED && us >= 0)
		hist_add(&d->connect_us, us);
}

static void print_end(struct tracker *t, const struct conn_end *end)
{
	if (end->raw.peer_id) {
		t->sum.joined++;
		if (end->raw.role == SYNSCOPE_ROLE_CLIENT) {
			t->printed_joined[t->printed_next] = end->raw.id;
			t->printed_next = (t->printed_next + 1) % PRINTED_JOINED;
		}
	}
	t->sum.write_errors += output_end_all(t->out, end);
}

static void print_oldest(struct tracker *t)
{
	print_end(t, &t->held[t->head]);
	t->head = (t->head + 1) % HOLD_CAPACITY;
	t->count--;
}

void tracker_end(struct tracker *t, const struct conn_end *end, unsigned long long now_ns)
{
	const struct synscope_handshake *r = &end->raw;
	unsigned int slot;

	t->sum.ends++;
	t->sum.by_outcome[r->outcome]++;
	if (r->flags & SYNSCOPE_F_RECOVERED)
		t->sum.recovered++;
	if (r->role == SYNSCOPE_ROLE_CLIENT) {
		t->sum.clients++;
		count_client(&t->sum, end);
	} else {
		t->sum.servers++;
		count_server(&t->sum, end);
	}

	/* Only an established client, or a recovered server end (its client
	 * may be recovered after it), can still be joined by a LINK. */
	if ((r->role != SYNSCOPE_ROLE_CLIENT && !(r->flags & SYNSCOPE_F_RECOVERED)) || r->peer_id ||
	    r->outcome != SYNSCOPE_OUT_ESTABLISHED || !t->hold_ns) {
		print_end(t, end);
		return;
	}
	if (t->count == HOLD_CAPACITY)
		print_oldest(t);
	slot = (t->head + t->count) % HOLD_CAPACITY;
	t->held[slot] = *end;
	t->held_at[slot] = now_ns;
	t->count++;
}

void tracker_link(struct tracker *t, const struct conn_link *link)
{
	unsigned int i;

	for (i = 0; i < t->count; i++) {
		struct conn_end *held = &t->held[(t->head + i) % HOLD_CAPACITY];

		if (held->raw.id == link->client_id) {
			held->raw.peer_id = link->server_id;
			return;
		}
		/* A recovered server end, joined by its client recovered later. */
		if (held->raw.id == link->server_id && held->raw.role == SYNSCOPE_ROLE_SERVER) {
			held->raw.peer_id = link->client_id;
			return;
		}
	}
	for (i = 0; i < PRINTED_JOINED; i++)
		if (t->printed_joined[i] == link->client_id)
			return;
	/* Already written without its peer: the join is written on its own. */
	t->sum.late_links++;
	t->sum.write_errors += output_link_all(t->out, link);
}

void tracker_close(struct tracker *t, const struct conn_close *close)
{
	struct run_summary *sum = &t->sum;

	sum->closes++;
	sum->close_kinds[close->kind]++;
	if (close->raw.flags & SYNSCOPE_CF_TIME_WAIT)
		sum->time_waits[close->raw.role == SYNSCOPE_ROLE_CLIENT ? 0 : 1]++;
	sum->write_errors += output_close_all(t->out, close);
}

void tracker_bad_record(struct tracker *t)
{
	t->sum.decode_errors++;
}

void tracker_tick(struct tracker *t, unsigned long long now_ns)
{
	/* Print in arrival order; a joined client goes as soon as it is first. */
	while (t->count) {
		const struct conn_end *oldest = &t->held[t->head];

		if (!oldest->raw.peer_id && now_ns - t->held_at[t->head] < t->hold_ns)
			break;
		print_oldest(t);
	}
}

void tracker_flush(struct tracker *t)
{
	while (t->count)
		print_oldest(t);
}

void tracker_decoded(struct tracker *t, int kind, const struct conn_end *end,
		     const struct conn_link *link, const struct conn_close *close,
		     unsigned long long now_ns)
{
	switch (kind) {
	case DECODED_END:
		tracker_end(t, end, now_ns);
		break;
	case DECODED_LINK:
		tracker_link(t, link);
		break;
	case DECODED_CLOSE:
		tracker_close(t, close);
		break;
	default:
		tracker_bad_record(t);
	}
}
