// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The handshake ladder's rows (ladder.h), shared by --timeline and -f html. */
#include <netinet/tcp.h> /* TCP_* states */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "decode.h"
#include "ladder.h"
#include "output.h"

static struct ladder_row *add_row(struct ladder *l, unsigned long long ts, int order)
{
	struct ladder_row *r;

	if (!ts || l->n == LADDER_MAX_ROWS)
		return NULL;
	r = &l->rows[l->n++];
	memset(r, 0, sizeof(*r));
	r->ts = ts;
	r->order = order;
	return r;
}

static void set_seg(struct ladder_row *r, enum ladder_dir dir, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_seg(struct ladder_row *r, enum ladder_dir dir, const char *fmt, ...)
{
	va_list ap;

	r->dir = dir;
	va_start(ap, fmt);
	vsnprintf(r->seg, sizeof(r->seg), fmt, ap);
	va_end(ap);
}

static const char *err_text(const struct synscope_handshake *r)
{
	const char *name = errno_name(r->err);

	return name ? name : "";
}

static void client_rows(struct ladder *l, const struct synscope_handshake *c)
{
	bool established = c->outcome == SYNSCOPE_OUT_ESTABLISHED;
	struct ladder_row *r;

	if ((c->flags & SYNSCOPE_F_CALL_SEEN) && (r = add_row(l, c->ts_call, 0)))
		snprintf(r->client, sizeof(r->client), "connect(fd %d)", c->fd);
	if (!(c->flags & SYNSCOPE_F_NO_SYN) && (r = add_row(l, c->ts_syn, 1))) {
		snprintf(r->client, sizeof(r->client), "SYN_SENT");
		set_seg(r, LADDER_TO_SERVER, "SYN seq=%u", c->iss);
	}
	if (established) {
		if ((r = add_row(l, c->ts_end, 2))) {
			snprintf(r->client, sizeof(r->client), "ESTABLISHED");
			set_seg(r, LADDER_TO_CLIENT, "SYN-ACK seq=%u ack=%u", c->irs, c->iss + 1);
		}
		if ((r = add_row(l, c->ts_end, 3)))
			set_seg(r, LADDER_TO_SERVER, "ACK ack=%u", c->irs + 1);
	} else if (!(c->flags & SYNSCOPE_F_NO_SYN) && (r = add_row(l, c->ts_end, 2))) {
		snprintf(r->client, sizeof(r->client), "CLOSE %s", err_text(c));
		if (c->outcome == SYNSCOPE_OUT_REFUSED)
			set_seg(r, LADDER_TO_CLIENT, "RST");
		else if (c->outcome == SYNSCOPE_OUT_UNREACHABLE)
			set_seg(r, LADDER_TO_CLIENT, "ICMP unreachable");
		else if (c->outcome == SYNSCOPE_OUT_TIMEOUT)
			set_seg(r, LADDER_NOTE, "(no answer)");
	}
	if (c->retrans && (r = add_row(l, c->ts_end, 4)))
		set_seg(r, LADDER_NOTE, "(%u SYN retransmissions)", c->retrans);
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
	struct ladder_row *r;

	if ((s->flags & SYNSCOPE_F_CALL_SEEN) && (r = add_row(l, s->ts_call, 0)))
		snprintf(r->server, sizeof(r->server), "accept() called");
	if ((r = add_row(l, s->ts_syn, 6)))
		snprintf(r->server, sizeof(r->server), "SYN_RECV: ACK in, child created");
	if (s->retrans && (r = add_row(l, s->ts_syn, 7)))
		set_seg(r, LADDER_NOTE, "(%u SYN-ACK retransmissions)", s->retrans);
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

void ladder_add_handshake(struct ladder *l, const struct synscope_handshake *client,
			  const struct synscope_handshake *server)
{
	if (client)
		client_rows(l, client);
	if (server)
		server_rows(l, server);
}

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

void ladder_add_close(struct ladder *l, const struct synscope_close *r)
{
	bool client = r->role == SYNSCOPE_ROLE_CLIENT;
	unsigned int i;
	struct ladder_row *row;

	for (i = 1; i < r->nstates && i < SYNSCOPE_CLOSE_STATES; i++) {
		bool last = i == r->nstates - 1u;
		const char *name = last ? close_final_state(&(struct conn_close){.raw = *r})
					: tcp_state_name(r->states[i]);
		const char *seg = sent_on(r->states[i - 1], r->states[i], r, last);

		/* After the handshake's rows at the same instant (orders 0-10). */
		row = add_row(l, r->ts[i], 16 + (client ? 2 * (int)i : 2 * (int)i + 1));
		if (!row)
			return;
		snprintf(client ? row->client : row->server, client ? sizeof(row->client)
								     : sizeof(row->server), "%s", name);
		if (seg)
			set_seg(row, client ? LADDER_TO_SERVER : LADDER_TO_CLIENT, "%s", seg);
		else if (last && (r->flags & SYNSCOPE_CF_RST_RECEIVED))
			set_seg(row, LADDER_NOTE, "(RST in)");
	}
}

static int cmp_rows(const void *a, const void *b)
{
	const struct ladder_row *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->order - y->order;
}

void ladder_sort(struct ladder *l)
{
	qsort(l->rows, l->n, sizeof(l->rows[0]), cmp_rows);
}

char *ladder_seg_arrow(const struct ladder_row *r, char *buf, size_t len)
{
	if (r->dir == LADDER_TO_SERVER)
		snprintf(buf, len, "%s -->", r->seg);
	else if (r->dir == LADDER_TO_CLIENT)
		snprintf(buf, len, "<-- %s", r->seg);
	else
		snprintf(buf, len, "%s", r->seg);
	return buf;
}

char *ladder_who(char *buf, size_t len, const char *role, const struct synscope_handshake *r)
{
	if (!r)
		snprintf(buf, len, "%s (not traced)", role);
	else if (r->role == SYNSCOPE_ROLE_SERVER && !(r->flags & SYNSCOPE_F_ACCEPTED))
		snprintf(buf, len, "%s (never accepted)", role);
	else if (!end_caller_known(r))
		snprintf(buf, len, "%s (accepted, caller unknown)", role);
	else
		snprintf(buf, len, "%s %s %u/%u", role, r->comm, r->pid, r->tid);
	return buf;
}
