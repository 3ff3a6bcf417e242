// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Timeline sink (--timeline): each connection drawn as the lecture's
 * handshake ladder, from the timestamps and sequence numbers synscope
 * recorded. Both ends of a local connection share one ladder: an end whose
 * peer is still to come waits here for it.
 *
 *   connection 127.0.0.1:41234 -> 127.0.0.1:8080: established (client #1, server #2)
 *         time  client demo-client 12/12        segments                      server demo-server 10/10
 *     0.000 ms  connect(fd 3)
 *     0.004 ms  SYN_SENT                   SYN seq=100 ---------------->
 *     ...
 *
 * What the kernel does not show is not drawn: the server's SYN reception and
 * SYN-ACK transmission happen on a request socket, before the child exists.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/tcp.h> /* TCP_* states */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "output.h"

#define PENDING_MAX 1024
#define MAX_ROWS 16

struct pending {
	unsigned int n, nclose;
	struct conn_end ends[PENDING_MAX];
	struct conn_close closes[PENDING_MAX];
};

struct row {
	unsigned long long ts;
	int order; /* ties: the order events happen in within one instant */
	char client[40];
	char seg[48];
	char server[64];
};

struct ladder {
	struct row rows[MAX_ROWS];
	int n;
};

static struct row *add_row(struct ladder *l, unsigned long long ts, int order)
{
	struct row *r;

	if (!ts || l->n == MAX_ROWS)
		return NULL;
	r = &l->rows[l->n++];
	memset(r, 0, sizeof(*r));
	r->ts = ts;
	r->order = order;
	return r;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->order - y->order;
}

static const char *err_text(const struct synscope_handshake *r)
{
	const char *name = errno_name(r->err);

	return name ? name : "";
}

static void client_rows(struct ladder *l, const struct synscope_handshake *c)
{
	bool established = c->outcome == SYNSCOPE_OUT_ESTABLISHED;
	struct row *r;

	if ((c->flags & SYNSCOPE_F_CALL_SEEN) && (r = add_row(l, c->ts_call, 0)))
		snprintf(r->client, sizeof(r->client), "connect(fd %d)", c->fd);
	if (!(c->flags & SYNSCOPE_F_NO_SYN) && (r = add_row(l, c->ts_syn, 1))) {
		snprintf(r->client, sizeof(r->client), "SYN_SENT");
		snprintf(r->seg, sizeof(r->seg), "SYN seq=%u -->", c->iss);
	}
	if (established) {
		if ((r = add_row(l, c->ts_end, 2))) {
			snprintf(r->client, sizeof(r->client), "ESTABLISHED");
			snprintf(r->seg, sizeof(r->seg), "<-- SYN-ACK seq=%u ack=%u", c->irs, c->iss + 1);
		}
		if ((r = add_row(l, c->ts_end, 3)))
			snprintf(r->seg, sizeof(r->seg), "ACK ack=%u -->", c->irs + 1);
	} else if (!(c->flags & SYNSCOPE_F_NO_SYN) && (r = add_row(l, c->ts_end, 2))) {
		snprintf(r->client, sizeof(r->client), "CLOSE %s", err_text(c));
		if (c->outcome == SYNSCOPE_OUT_REFUSED)
			snprintf(r->seg, sizeof(r->seg), "<-- RST");
		else if (c->outcome == SYNSCOPE_OUT_UNREACHABLE)
			snprintf(r->seg, sizeof(r->seg), "<-- ICMP unreachable");
		else if (c->outcome == SYNSCOPE_OUT_TIMEOUT)
			snprintf(r->seg, sizeof(r->seg), "(no answer)");
	}
	if (c->retrans && (r = add_row(l, c->ts_end, 4)))
		snprintf(r->seg, sizeof(r->seg), "(%u SYN retransmissions)", c->retrans);
	if ((c->flags & SYNSCOPE_F_RETURNED) && (c->flags & SYNSCOPE_F_CALL_SEEN) &&
	    (r = add_row(l, c->ts_ret, 5))) {
		if (c->call_ret == 0)
			snprintf(r->client, sizeof(r->client), "connect() = 0");
		else
			snprintf(r->client, sizeof(r->client), "connect() = -%s",
				 errno_name(-c->call_ret) ? errno_name(-c->call_ret) : "?");
	}
}

static void server_rows(struct ladder *l, const struct synscope_handshake *s)
{
	struct row *r;

	if ((s->flags & SYNSCOPE_F_CALL_SEEN) && (r = add_row(l, s->ts_call, 0)))
		snprintf(r->server, sizeof(r->server), "accept() called");
	if ((r = add_row(l, s->ts_syn, 6)))
		snprintf(r->server, sizeof(r->server), "SYN_RECV: ACK in, child created");
	if (s->retrans && (r = add_row(l, s->ts_syn, 7)))
		snprintf(r->seg, sizeof(r->seg), "(%u SYN-ACK retransmissions)", s->retrans);
	if (s->outcome == SYNSCOPE_OUT_ESTABLISHED && (r = add_row(l, s->ts_end, 8)))
		snprintf(r->server, sizeof(r->server), "ESTABLISHED, accept queue %u/%u", s->acceptq,
			 s->backlog);
	if ((s->flags & SYNSCOPE_F_CLOSED) && (r = add_row(l, s->ts_end, 9)))
		snprintf(r->server, sizeof(r->server), "CLOSE in the accept queue %s", err_text(s));
	if ((s->flags & SYNSCOPE_F_ACCEPT_UNSEEN) && (r = add_row(l, s->ts_end, 10)))
		snprintf(r->server, sizeof(r->server), "accepted, by a caller no hook saw");
	else if ((s->flags & SYNSCOPE_F_ACCEPTED) && (r = add_row(l, s->ts_ret, 10))) {
		unsigned long long wait = s->ts_ret > s->ts_end ? s->ts_ret - s->ts_end : 0;

		if (s->fd >= 0)
			snprintf(r->server, sizeof(r->server), "accept() = fd %d, queued %.3f ms", s->fd,
				 wait / 1e6);
		else
			snprintf(r->server, sizeof(r->server), "accepted, queued %.3f ms", wait / 1e6);
	}
}

static void endpoint(char *buf, size_t len, int family, const char *addr, unsigned int port)
{
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr, port);
}

/* Columns are padded; the line's end is not. */
static void put_trimmed(FILE *f, char *line)
{
	size_t n = strlen(line);

	while (n && line[n - 1] == ' ')
		line[--n] = '\0';
	fprintf(f, "%s\n", line);
}

static const char *yes_no(bool ok)
{
	return ok ? "yes" : "NO";
}

/*
 * The lecture's claims, checked on the two sockets: each side's initial
 * receive sequence is the other's initial send sequence, and each call
 * returns only after its end reached ESTABLISHED.
 */
static void print_checks(FILE *f, const struct synscope_handshake *c,
			 const struct synscope_handshake *s)
{
	fprintf(f, "  lecture vs kernel: server IRS = client ISS (j): %s; server ISS = client IRS (k): %s\n",
		yes_no(s->irs == c->iss), yes_no(s->iss == c->irs));
	if ((c->flags & SYNSCOPE_F_CALL_SEEN) && (c->flags & SYNSCOPE_F_RETURNED) && c->call_ret == 0)
		fprintf(f, "                     connect() returned after client ESTABLISHED: %s\n",
			yes_no(c->ts_ret >= c->ts_end));
	if ((s->flags & SYNSCOPE_F_ACCEPTED) && s->ts_ret)
		fprintf(f, "                     accept() returned after server ESTABLISHED: %s\n",
			yes_no(s->ts_ret >= s->ts_end));
}

static void who(char *buf, size_t len, const char *role, const struct synscope_handshake *r)
{
	if (!r)
		snprintf(buf, len, "%s (not traced)", role);
	else if (r->role == SYNSCOPE_ROLE_SERVER && !(r->flags & SYNSCOPE_F_ACCEPTED))
		snprintf(buf, len, "%s (never accepted)", role);
	else if (!end_caller_known(r))
		snprintf(buf, len, "%s (accepted, caller unknown)", role);
	else
		snprintf(buf, len, "%s %s %u/%u", role, r->comm, r->pid, r->tid);
}

static int draw(struct output *out, const struct conn_end *client, const struct conn_end *server)
{
	const struct conn_end *any = client ? client : server;
	const struct synscope_handshake *c = client ? &client->raw : NULL;
	const struct synscope_handshake *s = server ? &server->raw : NULL;
	char ids[64], cw[48], sw[64], line[256], from[INET6_ADDRSTRLEN + 8], to[INET6_ADDRSTRLEN + 8];
	struct ladder l = {.n = 0};
	unsigned long long t0;
	int i;

	if (c)
		client_rows(&l, c);
	if (s)
		server_rows(&l, s);
	if (!l.n)
		return 0;
	qsort(l.rows, l.n, sizeof(l.rows[0]), cmp_rows);
	t0 = l.rows[0].ts;
	if (c && s)
		snprintf(ids, sizeof(ids), "client #%llu, server #%llu", (unsigned long long)c->id,
			 (unsigned long long)s->id);
	else
		snprintf(ids, sizeof(ids), "%s #%llu", role_name(any->raw.role),
			 (unsigned long long)any->raw.id);
	/* Drawn from the client's side: its local end first. */
	if (c) {
		endpoint(from, sizeof(from), client->family, client->saddr, c->sport);
		endpoint(to, sizeof(to), client->family, client->daddr, c->dport);
	} else {
		endpoint(from, sizeof(from), server->family, server->daddr, s->dport);
		endpoint(to, sizeof(to), server->family, server->saddr, s->sport);
	}
	fprintf(out->f, "\nconnection %s -> %s: %s%s%s (%s)\n", from, to, outcome_name(any->raw.outcome),
		any->raw.err ? " " : "", err_text(&any->raw), ids);
	who(cw, sizeof(cw), "client", c);
	who(sw, sizeof(sw), "server", s);
	snprintf(line, sizeof(line), "%12s  %-30s %-40s %s", "time", cw, "segments", sw);
	put_trimmed(out->f, line);
	for (i = 0; i < l.n; i++) {
		const struct row *r = &l.rows[i];

		snprintf(line, sizeof(line), "%9.3f ms  %-30s %-40s %s", (r->ts - t0) / 1e6, r->client,
			 r->seg, r->server);
		put_trimmed(out->f, line);
	}
	if (c && s)
		print_checks(out->f, c, s);
	out->lines++;
	/* A ladder is read as it happens: do not leave it in a pipe's buffer. */
	fflush(out->f);
	return ferror(out->f) ? -EIO : 0;
}

static struct pending *pending_of(struct output *out)
{
	if (!out->state)
		out->state = calloc(1, sizeof(struct pending));
	return out->state;
}

static int draw_end(struct output *out, const struct conn_end *end)
{
	bool client = end->raw.role == SYNSCOPE_ROLE_CLIENT;

	return draw(out, client ? end : NULL, client ? NULL : end);
}

/*
 * A record waits here until its peer's arrives, oldest first; when the room
 * is full the oldest is drawn alone rather than lost. Ends and closes each
 * have a room of their own.
 */
struct room {
	void *recs;        /* PENDING_MAX records of `size` bytes */
	unsigned int *n;
	size_t size;
	__u64 (*id_of)(const void *rec);
	int (*draw_alone)(struct output *out, const void *rec);
};

/* Takes the waiting record with this id out of the room into *found. */
static bool room_take(const struct room *r, __u64 id, void *found)
{
	char *base = r->recs;
	unsigned int i;

	for (i = 0; i < *r->n; i++) {
		if (r->id_of(base + i * r->size) != id)
			continue;
		memcpy(found, base + i * r->size, r->size);
		memmove(base + i * r->size, base + (i + 1) * r->size, (*r->n - i - 1) * r->size);
		(*r->n)--;
		return true;
	}
	return false;
}

static int room_put(struct output *out, const struct room *r, const void *rec)
{
	char *base = r->recs;
	int err = 0;

	if (*r->n == PENDING_MAX) {
		err = r->draw_alone(out, base);
		memmove(base, base + r->size, (*r->n - 1) * r->size);
		(*r->n)--;
	}
	memcpy(base + *r->n * r->size, rec, r->size);
	(*r->n)++;
	return err;
}

static int room_drain(struct output *out, const struct room *r)
{
	char *base = r->recs;
	unsigned int i;
	int err = 0;

	for (i = 0; i < *r->n; i++)
		err |= r->draw_alone(out, base + i * r->size);
	*r->n = 0;
	return err;
}

static __u64 end_id(const void *rec)
{
	return ((const struct conn_end *)rec)->raw.id;
}

static int draw_end_alone(struct output *out, const void *rec)
{
	return draw_end(out, rec);
}

static struct room ends_room(struct pending *p)
{
	return (struct room){p->ends, &p->n, sizeof(p->ends[0]), end_id, draw_end_alone};
}

static int timeline_end(struct output *out, const struct conn_end *end)
{
	struct pending *p = pending_of(out);
	struct conn_end other;
	struct room room;

	if (!p)
		return -ENOMEM;
	if (!end->raw.peer_id)
		return draw_end(out, end);
	room = ends_room(p);
	if (room_take(&room, end->raw.peer_id, &other))
		return end->raw.role == SYNSCOPE_ROLE_CLIENT ? draw(out, end, &other)
							     : draw(out, &other, end);
	return room_put(out, &room, end);
}

/* ---- the close (--close) ---- */

/* What an end sent when it moved from `from` to `to` (the ladder shows each segment once). */
static const char *sent_on(int from, int to, const struct synscope_close *r, bool last)
{
	if (to == TCP_FIN_WAIT1 || (from == TCP_CLOSE_WAIT && to == TCP_LAST_ACK))
		return "FIN";
	if (to == TCP_CLOSE_WAIT || to == TCP_CLOSING ||
	    (last && (r->flags & SYNSCOPE_CF_TIME_WAIT) && (r->flags & SYNSCOPE_CF_FIN_RECEIVED)))
		return "ACK";
	if (to == TCP_CLOSE && from == TCP_ESTABLISHED && !(r->flags & SYNSCOPE_CF_RST_RECEIVED))
		return "RST";
	return NULL;
}

static void close_rows(struct ladder *l, const struct synscope_close *r)
{
	bool client = r->role == SYNSCOPE_ROLE_CLIENT;
	unsigned int i;
	struct row *row;

	for (i = 1; i < r->nstates; i++) {
		bool last = i == r->nstates - 1u;
		const char *name = last ? close_final_state(&(struct conn_close){.raw = *r})
					: tcp_state_name(r->states[i]);
		const char *seg = sent_on(r->states[i - 1], r->states[i], r, last);

		row = add_row(l, r->ts[i], client ? 2 * (int)i : 2 * (int)i + 1);
		if (!row)
			return;
		snprintf(client ? row->client : row->server, client ? sizeof(row->client)
								     : sizeof(row->server), "%s", name);
		if (seg)
			snprintf(row->seg, sizeof(row->seg), client ? "%s -->" : "<-- %s", seg);
		else if (last && (r->flags & SYNSCOPE_CF_RST_RECEIVED))
			snprintf(row->seg, sizeof(row->seg), "(RST in)");
	}
}

static void close_summary(char *buf, size_t len, const struct conn_close *c)
{
	snprintf(buf, len, "%s %s%s", role_name(c->raw.role), close_kind_name(c->kind),
		 (c->raw.flags & SYNSCOPE_CF_TIME_WAIT) ? ", keeps TIME_WAIT" : "");
}

static int draw_close(struct output *out, const struct conn_close *a, const struct conn_close *b)
{
	const struct conn_close *c = a && a->raw.role == SYNSCOPE_ROLE_CLIENT ? a : b;
	const struct conn_close *s = c == a ? b : a;
	char line[256], cs[64] = "", ss[64] = "";
	struct ladder l = {.n = 0};
	unsigned long long t0;
	int i;

	if (c)
		close_rows(&l, &c->raw);
	if (s)
		close_rows(&l, &s->raw);
	if (!l.n)
		return 0;
	qsort(l.rows, l.n, sizeof(l.rows[0]), cmp_rows);
	t0 = l.rows[0].ts;
	if (c)
		close_summary(cs, sizeof(cs), c);
	if (s)
		close_summary(ss, sizeof(ss), s);
	if (c && s)
		fprintf(out->f, "\nclose of client #%llu, server #%llu: %s; %s\n",
			(unsigned long long)c->raw.id, (unsigned long long)s->raw.id, cs, ss);
	else
		fprintf(out->f, "\nclose of %s #%llu: %s\n", c ? "client" : "server",
			(unsigned long long)(c ? c->raw.id : s->raw.id), c ? cs : ss);
	snprintf(line, sizeof(line), "%12s  %-30s %-40s %s", "time", c ? "client" : "", "segments",
		 s ? "server" : "");
	put_trimmed(out->f, line);
	for (i = 0; i < l.n; i++) {
		const struct row *r = &l.rows[i];

		snprintf(line, sizeof(line), "%9.3f ms  %-30s %-40s %s", (r->ts - t0) / 1e6, r->client,
			 r->seg, r->server);
		put_trimmed(out->f, line);
	}
	out->lines++;
	fflush(out->f);
	return ferror(out->f) ? -EIO : 0;
}

static __u64 close_id(const void *rec)
{
	return ((const struct conn_close *)rec)->raw.id;
}

static int draw_close_alone(struct output *out, const void *rec)
{
	return draw_close(out, rec, NULL);
}

static struct room closes_room(struct pending *p)
{
	return (struct room){p->closes, &p->nclose, sizeof(p->closes[0]), close_id, draw_close_alone};
}

static int timeline_close(struct output *out, const struct conn_close *close)
{
	struct pending *p = pending_of(out);
	struct conn_close other;
	struct room room;

	if (!p)
		return -ENOMEM;
	if (!close->raw.peer_id)
		return draw_close(out, close, NULL);
	room = closes_room(p);
	if (room_take(&room, close->raw.peer_id, &other))
		return draw_close(out, close, &other);
	return room_put(out, &room, close);
}

static int timeline_flush(struct output *out)
{
	struct pending *p = out->state;
	struct room ends, closes;
	int err;

	if (!p)
		return 0;
	ends = ends_room(p);
	closes = closes_room(p);
	err = room_drain(out, &ends);
	err |= room_drain(out, &closes);
	free(p);
	out->state = NULL;
	return err;
}

/*
 * A listener between connections: its request sockets (SYN queue), which no
 * ladder shows, beside its accept queue, and the SYN-ACKs it retransmitted.
 */
static int timeline_listener(struct output *out, const struct listener_state *l,
			     unsigned long long boot_ns)
{
	char when[64], name[64], state[192];

	format_rfc3339(boot_ns, out->boot_to_real_ns, when, sizeof(when));
	fprintf(out->f, "\nlistener %s at %.12s: %s\n", listener_name(l, name, sizeof(name)),
		when + 11, listener_state_text(l, state, sizeof(state)));
	fflush(out->f);
	return 0;
}

const struct output_ops output_timeline_ops = {
	.end = timeline_end,
	.flush = timeline_flush,
	.close = timeline_close,
	.listener = timeline_listener,
};
