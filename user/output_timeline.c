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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ladder.h"
#include "output.h"

#define PENDING_MAX 1024

struct pending {
	unsigned int n, nclose;
	struct conn_end ends[PENDING_MAX];
	struct conn_close closes[PENDING_MAX];
};

/* Columns are padded; the line's end is not. */
static void put_trimmed(FILE *f, char *line)
{
	size_t n = strlen(line);

	while (n && line[n - 1] == ' ')
		line[--n] = '\0';
	fprintf(f, "%s\n", line);
}

static void print_rows(FILE *f, const struct ladder *l, unsigned long long t0)
{
	char line[256], seg[64];
	int i;

	for (i = 0; i < l->n; i++) {
		const struct ladder_row *r = &l->rows[i];

		snprintf(line, sizeof(line), "%9.3f ms  %-30s %-40s %s", (r->ts - t0) / 1e6, r->client,
			 ladder_seg_arrow(r, seg, sizeof(seg)), r->server);
		put_trimmed(f, line);
	}
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

static int draw(struct output *out, const struct conn_end *client, const struct conn_end *server)
{
	const struct conn_end *any = client ? client : server;
	const struct synscope_handshake *c = client ? &client->raw : NULL;
	const struct synscope_handshake *s = server ? &server->raw : NULL;
	char ids[64], cw[48], sw[64], line[256], from[INET6_ADDRSTRLEN + 8], to[INET6_ADDRSTRLEN + 8];
	const char *in_flight = end_in_flight_state(s && end_in_flight_state(s) ? s : &any->raw);
	struct ladder l = {.n = 0};
	unsigned long long t0;

	ladder_add_handshake(&l, c, s);
	if (!l.n)
		return 0;
	ladder_sort(&l);
	t0 = l.rows[0].ts;
	if (c && s)
		snprintf(ids, sizeof(ids), "client #%llu, server #%llu", (unsigned long long)c->id,
			 (unsigned long long)s->id);
	else
		snprintf(ids, sizeof(ids), "%s #%llu", role_name(any->raw.role),
			 (unsigned long long)any->raw.id);
	/* Drawn from the client's side: its local end first. */
	conn_endpoints(client, server, from, to, sizeof(from));
	fprintf(out->f, "\nconnection %s -> %s: %s%s%s%s%s%s (%s)\n", from, to,
		end_outcome_name(&any->raw), any->raw.err ? " " : "",
		errno_name(any->raw.err) ? errno_name(any->raw.err) : "",
		in_flight ? " (in flight at exit: " : "", in_flight ? in_flight : "", in_flight ? ")" : "", ids);
	ladder_who(cw, sizeof(cw), "client", c);
	ladder_who(sw, sizeof(sw), "server", s);
	snprintf(line, sizeof(line), "%12s  %-30s %-40s %s", "time", cw, "segments", sw);
	put_trimmed(out->f, line);
	print_rows(out->f, &l, t0);
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

	if (c)
		ladder_add_close(&l, &c->raw);
	if (s)
		ladder_add_close(&l, &s->raw);
	if (!l.n)
		return 0;
	ladder_sort(&l);
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
	print_rows(out->f, &l, t0);
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
