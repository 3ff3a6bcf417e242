// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "idmap.h"
#include "join.h"
#include "tracker.h"

/* Ends held for their peer; bounded: the oldest is printed when full. */
#define HOLD_CAPACITY 16384
/* Recently printed joined clients remembered to drop repeated LINKs (tiny race window). */
#define PRINTED_JOINED 64

/* In an idmap value's hold_no: the end's close record waits (early_close number in the low bits). */
#define EARLY_CLOSE (1ULL << 62)

static bool close_waits(const struct idmap_value *v)
{
	return v->hold_no != IDMAP_NOT_HELD && (v->hold_no & EARLY_CLOSE);
}

/* How long an end whose peer is surely on this host waits for it, at least (peer_is_local()). */
#define LOCAL_HOLD_NS (10ULL * 1000 * 1000 * 1000)

/* An end waiting for its peer. */
struct held_end {
	struct conn_end end;
	unsigned long long until; /* boot ns: printed without a peer from then on */
	bool local;               /* waits LOCAL_HOLD_NS (peer_is_local()) */
	bool done;                /* printed: the slot is freed once the older ones are */
	bool has_close;           /* its close record came first: in closes[] at the same slot */
};

/*
 * A close record that came before its end's handshake record (the two left
 * the kernel on different CPUs' ring buffers): it waits up to hold_ns for it.
 */
struct early_close {
	struct conn_close close;
	unsigned long long until; /* boot ns: printed on its own from then on */
	bool done;
};

/* Hold numbers of the ends waiting one length of time, in the order they came. */
struct wait_queue {
	unsigned long long nos[HOLD_CAPACITY];
	unsigned int head, count;
};

struct tracker {
	struct output *out;
	unsigned long long hold_ns;
	/* A ring of HOLD_CAPACITY: hold numbers head_no .. head_no + count - 1
	 * are held, number n at n % HOLD_CAPACITY. */
	struct held_end *held;
	unsigned long long head_no;
	unsigned int count;
	/* Close records that came while their end was held (rare), by slot. */
	struct conn_close *closes;
	/* [0]: ends waiting hold_ns, [1]: ends waiting LOCAL_HOLD_NS: each expires in order. */
	struct wait_queue *waits;
	/* A ring of HOLD_CAPACITY, numbers early_head .. early_head + nearly - 1 in use. */
	struct early_close *early;
	unsigned long long early_head;
	unsigned int nearly;
	struct join_table *join;
	/* With close records to come: ends held, and joined ends printed (idmap.h). */
	bool expect_closes;
	struct idmap ends;
	/* Clients printed already joined: a LINK for one of them repeats what it
	 * said (captures of versions that joined in the kernel sent one when
	 * they could not tell). */
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
	t->closes = calloc(HOLD_CAPACITY, sizeof(*t->closes));
	t->waits = calloc(2, sizeof(*t->waits));
	t->early = calloc(HOLD_CAPACITY, sizeof(*t->early));
	t->join = join_table_new();
	if (!t->held || !t->closes || !t->waits || !t->early || !t->join || idmap_init(&t->ends)) {
		tracker_free(t);
		return NULL;
	}
	t->out = out;
	t->hold_ns = hold_ns;
	return t;
}

void tracker_expect_closes(struct tracker *t, bool closes)
{
	t->expect_closes = closes;
}

void tracker_free(struct tracker *t)
{
	if (!t)
		return;
	free(t->held);
	free(t->closes);
	free(t->waits);
	free(t->early);
	join_table_free(t->join);
	idmap_free(&t->ends);
	free(t);
}

const struct join_table *tracker_join_table(const struct tracker *t)
{
	return t->join;
}

struct run_summary *tracker_summary(struct tracker *t)
{
	t->sum.joins_evicted = join_table_evicted(t->join);
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

static void print_close(struct tracker *t, const struct conn_close *close)
{
	struct run_summary *sum = &t->sum;

	sum->closes++;
	sum->close_kinds[close->kind]++;
	if (close->raw.flags & SYNSCOPE_CF_TIME_WAIT)
		sum->time_waits[close->raw.role == SYNSCOPE_ROLE_CLIENT ? 0 : 1]++;
	sum->write_errors += output_close_all(t->out, close);
}

/* The held end with hold number no, NULL if it was printed. */
static struct held_end *held_by_no(struct tracker *t, unsigned long long no)
{
	struct held_end *h;

	if (no < t->head_no || no - t->head_no >= t->count)
		return NULL;
	h = &t->held[no % HOLD_CAPACITY];
	return h->done ? NULL : h;
}

/*
 * What a close record needs of its end's handshake record, kept by id until
 * it comes (only with close records): the end's peer and whether it is
 * held; or, where the close record came first, where it waits.
 */
static void keep(struct tracker *t, unsigned long long id, unsigned long long peer_id,
		 unsigned long long hold_no)
{
	/* Out of memory: that close record goes without its peer's id. */
	(void)idmap_put(&t->ends, id, (struct idmap_value){peer_id, hold_no});
}

static void print_close(struct tracker *t, const struct conn_close *close);

/*
 * End r was printed (hold_no IDMAP_NOT_HELD) or is held: keep what its
 * close record will need, or hand it the close record that came first.
 */
static void remember(struct tracker *t, const struct synscope_handshake *r, unsigned long long hold_no)
{
	struct idmap_value *v;
	struct early_close *e;

	if (!t->expect_closes)
		return;
	v = idmap_get(&t->ends, r->id);
	if (v && close_waits(v)) {
		e = &t->early[(v->hold_no & ~EARLY_CLOSE) % HOLD_CAPACITY];
		e->done = true;
		if (hold_no != IDMAP_NOT_HELD) {
			t->closes[hold_no % HOLD_CAPACITY] = e->close;
			t->held[hold_no % HOLD_CAPACITY].has_close = true;
			keep(t, r->id, r->peer_id, hold_no);
			return;
		}
		if (!e->close.raw.peer_id)
			e->close.raw.peer_id = r->peer_id;
		idmap_delete(&t->ends, r->id);
		print_close(t, &e->close);
		return;
	}
	/* Only an established end has a close record to come. */
	if (r->outcome == SYNSCOPE_OUT_ESTABLISHED)
		keep(t, r->id, r->peer_id, hold_no);
	else if (v)
		idmap_delete(&t->ends, r->id);
}

/* A join found after one of its two ends was printed: a link record of its own. */
static void write_link(struct tracker *t, const struct conn_link *link)
{
	t->sum.late_links++;
	t->sum.write_errors += output_link_all(t->out, link);
}

/* Prints a held end, and its close record if that came while it waited. */
static void print_held(struct tracker *t, struct held_end *h)
{
	print_end(t, &h->end);
	remember(t, &h->end.raw, IDMAP_NOT_HELD);
	if (h->has_close) {
		struct conn_close *c = &t->closes[h - t->held];

		c->raw.peer_id = h->end.raw.peer_id;
		idmap_delete(&t->ends, h->end.raw.id);
		print_close(t, c);
	}
	h->done = true;
}

/* Frees the slots of printed ends at the head of the ring. */
static void reclaim(struct tracker *t)
{
	while (t->count && t->held[t->head_no % HOLD_CAPACITY].done) {
		t->head_no++;
		t->count--;
	}
}

/*
 * Whether end's peer is on this host for sure: its remote address is a
 * loopback address, or its own local address. Such an end waits longer
 * (LOCAL_HOLD_NS) for its peer: a server's record leaves at accept(), which
 * may come long after the handshake.
 */
static bool peer_is_local(const struct conn_end *end)
{
	const struct synscope_handshake *r = &end->raw;
	const __u8 *d = end->v4mapped ? r->daddr + 12 : r->daddr;

	if (!memcmp(r->daddr, r->saddr, sizeof(r->daddr)))
		return true;
	if (end->family == AF_INET)
		return d[0] == 127;
	return !memcmp(r->daddr, &in6addr_loopback, sizeof(r->daddr));
}

/* Takes out of q the ends printed already (joined, or pushed out): they are at its front. */
static void drop_printed(struct tracker *t, struct wait_queue *q)
{
	while (q->count && !held_by_no(t, q->nos[q->head])) {
		q->head = (q->head + 1) % HOLD_CAPACITY;
		q->count--;
	}
}

/* Whether end waits LOCAL_HOLD_NS for its peer rather than hold_ns. */
static bool waits_long(const struct tracker *t, const struct conn_end *end)
{
	return peer_is_local(end) && t->hold_ns < LOCAL_HOLD_NS;
}

/* Until when an end held from now_ns waits for its peer. */
static unsigned long long hold_until(const struct tracker *t, const struct conn_end *end,
				     unsigned long long now_ns)
{
	return now_ns + (waits_long(t, end) ? LOCAL_HOLD_NS : t->hold_ns);
}

static void hold(struct tracker *t, const struct conn_end *end, unsigned long long now_ns)
{
	struct wait_queue *q;
	struct held_end *h;

	if (t->count == HOLD_CAPACITY) {
		print_held(t, &t->held[t->head_no % HOLD_CAPACITY]);
		reclaim(t);
	}
	h = &t->held[(t->head_no + t->count) % HOLD_CAPACITY];
	h->local = waits_long(t, end);
	/* Its queue holds no more than the ring once the printed ends are out. */
	q = &t->waits[h->local];
	drop_printed(t, q);
	q->nos[(q->head + q->count++) % HOLD_CAPACITY] = t->head_no + t->count;
	h->end = *end;
	h->until = hold_until(t, end, now_ns);
	h->has_close = false;
	h->done = false;
	remember(t, &end->raw, t->head_no + t->count); /* may hand it its close record */
	t->count++;
}

/*
 * The join (join.h): an end waits, held, for its peer; the peer, when it
 * comes, completes both, and both are printed. A peer already printed gets
 * its half as a link.
 */
static void join(struct tracker *t, struct conn_end *end, unsigned long long now_ns)
{
	bool holding = t->hold_ns != 0;
	unsigned long long peer_no;
	struct held_end *peer;
	struct conn_link link;

	/* It waits in the join table as long as it is held (not at all if not). */
	end->raw.peer_id = join_find_or_add(t->join, &end->raw,
					    holding ? t->head_no + t->count : IDMAP_NOT_HELD,
					    holding ? hold_until(t, end, now_ns) : now_ns, now_ns,
					    &peer_no);
	if (!end->raw.peer_id) {
		if (holding) {
			hold(t, end, now_ns);
		} else {
			print_end(t, end);
			remember(t, &end->raw, IDMAP_NOT_HELD);
		}
		return;
	}
	peer = held_by_no(t, peer_no);
	if (peer && peer->end.raw.id == end->raw.peer_id) {
		peer->end.raw.peer_id = end->raw.id;
		print_held(t, peer);
		reclaim(t);
	} else {
		/* Printed: its close record, if still to come, names the peer. */
		if (t->expect_closes)
			keep(t, end->raw.peer_id, end->raw.id, IDMAP_NOT_HELD);
		link.client_id = end->raw.role == SYNSCOPE_ROLE_CLIENT ? end->raw.id : end->raw.peer_id;
		link.server_id = end->raw.role == SYNSCOPE_ROLE_CLIENT ? end->raw.peer_id : end->raw.id;
		write_link(t, &link);
	}
	print_end(t, end);
	remember(t, &end->raw, IDMAP_NOT_HELD);
}

void tracker_end(struct tracker *t, struct conn_end *in, unsigned long long now_ns)
{
	const struct synscope_handshake *r = &in->raw;

	t->sum.ends++;
	t->sum.by_outcome[r->outcome]++;
	if (r->flags & SYNSCOPE_F_RECOVERED)
		t->sum.recovered++;
	if (r->role == SYNSCOPE_ROLE_CLIENT) {
		t->sum.clients++;
		count_client(&t->sum, in);
	} else {
		t->sum.servers++;
		count_server(&t->sum, in);
	}

	if (join_candidate(r)) {
		join(t, in, now_ns);
		return;
	}
	print_end(t, in);
	remember(t, r, IDMAP_NOT_HELD);
}

/* A link record, from a capture of a version that joined in the kernel. */
void tracker_link(struct tracker *t, const struct conn_link *link)
{
	struct held_end *h;
	unsigned int i;

	for (i = 0; i < t->count; i++) {
		h = &t->held[(t->head_no + i) % HOLD_CAPACITY];
		if (h->done)
			continue;
		/* A held client, or a recovered server end joined by its client recovered later. */
		if (h->end.raw.id == link->client_id ||
		    (h->end.raw.id == link->server_id && h->end.raw.role == SYNSCOPE_ROLE_SERVER)) {
			h->end.raw.peer_id = h->end.raw.id == link->client_id ? link->server_id
									    : link->client_id;
			print_held(t, h);
			reclaim(t);
			return;
		}
	}
	for (i = 0; i < PRINTED_JOINED; i++)
		if (t->printed_joined[i] == link->client_id)
			return;
	/* Already written without its peer: the join is written on its own. */
	write_link(t, link);
}

/* Frees the early closes' slots that were taken or printed, at the ring's head. */
static void reclaim_early(struct tracker *t)
{
	while (t->nearly && t->early[t->early_head % HOLD_CAPACITY].done) {
		t->early_head++;
		t->nearly--;
	}
}

/* An early close whose end did not come in time: printed on its own. */
static void print_early(struct tracker *t, struct early_close *e)
{
	idmap_delete(&t->ends, e->close.raw.id);
	print_close(t, &e->close);
	e->done = true;
}

/*
 * A close record follows its end's handshake record: held with it, or named
 * its peer. One that comes first waits for it (early_close).
 */
void tracker_close(struct tracker *t, const struct conn_close *in, unsigned long long now_ns)
{
	struct idmap_value *v = idmap_get(&t->ends, in->raw.id);
	struct conn_close close = *in;
	struct early_close *e;
	struct held_end *h;

	if (v && !close_waits(v)) {
		h = held_by_no(t, v->hold_no);
		if (h && h->end.raw.id == in->raw.id && !h->has_close) {
			t->closes[h - t->held] = *in;
			h->has_close = true;
			return;
		}
		if (!close.raw.peer_id)
			close.raw.peer_id = v->peer_id;
		idmap_delete(&t->ends, in->raw.id);
	} else if (!v && t->expect_closes && t->hold_ns) {
		if (t->nearly == HOLD_CAPACITY) {
			print_early(t, &t->early[t->early_head % HOLD_CAPACITY]);
			reclaim_early(t);
		}
		e = &t->early[(t->early_head + t->nearly) % HOLD_CAPACITY];
		*e = (struct early_close){.close = *in, .until = now_ns + t->hold_ns};
		keep(t, in->raw.id, 0, EARLY_CLOSE | (t->early_head + t->nearly));
		t->nearly++;
		return;
	}
	print_close(t, &close);
}

void tracker_bad_record(struct tracker *t)
{
	t->sum.decode_errors++;
}

void tracker_tick(struct tracker *t, unsigned long long now_ns)
{
	unsigned int i;

	/* Ends that waited their time go (joined ones went when joined), in order per length. */
	for (i = 0; i < 2; i++) {
		struct wait_queue *q = &t->waits[i];
		struct held_end *h;

		for (drop_printed(t, q); q->count; drop_printed(t, q)) {
			h = held_by_no(t, q->nos[q->head]);
			if (now_ns < h->until)
				break;
			print_held(t, h);
		}
	}
	reclaim(t);
	for (reclaim_early(t); t->nearly; reclaim_early(t)) {
		struct early_close *e = &t->early[t->early_head % HOLD_CAPACITY];

		if (now_ns < e->until)
			break;
		print_early(t, e);
	}
}

void tracker_flush(struct tracker *t)
{
	unsigned int i;

	for (i = 0; i < t->count; i++) {
		struct held_end *h = &t->held[(t->head_no + i) % HOLD_CAPACITY];

		if (!h->done)
			print_held(t, h);
	}
	reclaim(t);
	for (i = 0; i < t->nearly; i++) {
		struct early_close *e = &t->early[(t->early_head + i) % HOLD_CAPACITY];

		if (!e->done)
			print_early(t, e);
	}
	reclaim_early(t);
}

void tracker_decoded(struct tracker *t, int kind, struct conn_end *end,
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
		tracker_close(t, close, now_ns);
		break;
	default:
		tracker_bad_record(t);
	}
}
