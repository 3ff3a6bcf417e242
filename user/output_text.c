// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Text sink: one line per connection end, as it completes.
 *
 *   #12 client 127.0.0.1:51234 -> 127.0.0.1:8080 established connect 45us
 *       curl 1234/1234 fd 5 peer #13
 * (one line; -v appends ISS/IRS, retransmissions and the netns)
 *
 * Lines are formatted with snprintf() straight into the output buffer, which
 * is written once a ring-buffer batch (output_batch_end_all()).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "output.h"

static void endpoint(char *buf, size_t len, int family, const char *addr, unsigned int port)
{
	if (family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", addr, port);
	else
		snprintf(buf, len, "%s:%u", addr, port);
}

static void caller(char *buf, size_t len, const struct synscope_handshake *r)
{
	bool known = r->role == SYNSCOPE_ROLE_CLIENT || (r->flags & SYNSCOPE_F_ACCEPTED);

	if (!known)
		snprintf(buf, len, "never accepted");
	else if (r->fd >= 0)
		snprintf(buf, len, "%s %u/%u fd %d", r->comm, r->pid, r->tid, r->fd);
	else
		snprintf(buf, len, "%s %u/%u", r->comm, r->pid, r->tid);
}

static int text_end(struct output *out, const struct conn_end *end)
{
	const struct synscope_handshake *r = &end->raw;
	char local[INET6_ADDRSTRLEN + 8], remote[INET6_ADDRSTRLEN + 8], who[80], when[40];
	char timing[64] = "", peer[32] = "", extra[128] = "";
	const char *err = errno_name(r->err);
	struct outbuf *ob = output_buf(out);
	char irs[16], *p;
	long long us;

	snprintf(irs, sizeof(irs), "%u", r->irs);
	endpoint(local, sizeof(local), end->family, end->saddr, r->sport);
	endpoint(remote, sizeof(remote), end->family, end->daddr, r->dport);
	caller(who, sizeof(who), r);
	if (r->role == SYNSCOPE_ROLE_CLIENT) {
		us = end_connect_us(end);
		if (us >= 0)
			snprintf(timing, sizeof(timing), " connect %lldus", us);
	} else {
		us = end_accept_wait_us(end);
		if (us >= 0)
			snprintf(timing, sizeof(timing), " wait %lldus", us);
		snprintf(timing + strlen(timing), sizeof(timing) - strlen(timing), " q %u/%u%s",
			 r->acceptq, r->backlog, (r->flags & SYNSCOPE_F_CLOSED) ? " closed in queue" : "");
	}
	if (r->peer_id)
		snprintf(peer, sizeof(peer), " peer #%llu", (unsigned long long)r->peer_id);
	if (out->verbose)
		snprintf(extra, sizeof(extra), " iss %u irs %s retrans %u netns %llu", r->iss,
			 r->outcome == SYNSCOPE_OUT_ESTABLISHED ? irs : "-", r->retrans,
			 (unsigned long long)r->netns);
	if (!ob)
		return -ENOMEM;
	p = outbuf_reserve(ob);
	if (out->timestamps) {
		*rfc3339_cached(&out->when, r->ts_end, out->boot_to_real_ns, when) = '\0';
		p += snprintf(p, OUTBUF_RECORD_MAX, "%.12s ", when + 11); /* HH:MM:SS.mmm UTC */
	}
	p += snprintf(p, OUTBUF_RECORD_MAX / 2, "#%llu %s %s %s %s %s%s%s %s%s%s%s\n",
		      (unsigned long long)r->id, role_name(r->role), local,
		      r->role == SYNSCOPE_ROLE_CLIENT ? "->" : "<-", remote, outcome_name(r->outcome),
		      err ? " " : "", err ? err : "", who, timing, peer, extra);
	outbuf_commit(ob, p);
	out->lines++;
	return 0;
}

static int text_link(struct output *out, const struct conn_link *link)
{
	struct outbuf *ob = output_buf(out);
	char *p;

	if (!ob)
		return -ENOMEM;
	p = outbuf_reserve(ob);
	p += snprintf(p, OUTBUF_RECORD_MAX, "#%llu client joined to #%llu server (server end completed later)\n",
		      (unsigned long long)link->client_id, (unsigned long long)link->server_id);
	outbuf_commit(ob, p);
	out->lines++;
	return 0;
}

static int text_close(struct output *out, const struct conn_close *close)
{
	const struct synscope_close *r = &close->raw;
	const char *err = errno_name(r->err);
	struct outbuf *ob = output_buf(out);
	char path[160], *p;

	if (!ob)
		return -ENOMEM;
	close_path_text(close, path, sizeof(path), " > ");
	p = outbuf_reserve(ob);
	p += snprintf(p, OUTBUF_RECORD_MAX, "#%llu %s closed %s%s%s: %s, lifetime %.3f ms\n",
		      (unsigned long long)r->id, role_name(r->role), close_kind_name(close->kind),
		      err ? " " : "", err ? err : "", path, close_lifetime_us(close) / 1e3);
	outbuf_commit(ob, p);
	out->lines++;
	return 0;
}

const struct output_ops output_text_ops = {
	.end = text_end,
	.link = text_link,
	.close = text_close,
};
