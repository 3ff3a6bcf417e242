// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Text sink: one line per connection end, as it completes.
 *
 *   #12 client 127.0.0.1:51234 -> 127.0.0.1:8080 established connect 45us
 *       curl 1234/1234 fd 5 peer #13
 * (one line; -v appends ISS/IRS, retransmissions and the netns)
 *
 * Lines are formatted straight into the output buffer, which is written once
 * a ring-buffer batch (output_batch_end_all()).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "json_writer.h" /* its integer writers */
#include "output.h"

/* Appenders for the handshake line, the one text line per connection end. */
static char *put_n(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

static char *put_s(char *p, const char *s)
{
	return put_n(p, s, strlen(s));
}

static char *endpoint(char *p, int family, const char *addr, unsigned int port)
{
	if (family == AF_INET6)
		*p++ = '[';
	p = put_s(p, addr);
	if (family == AF_INET6)
		*p++ = ']';
	*p++ = ':';
	return jw_u64(p, port);
}

static char *caller(char *p, const struct synscope_handshake *r)
{
	if (!(r->flags & SYNSCOPE_F_ACCEPTED) && r->role == SYNSCOPE_ROLE_SERVER)
		return (r->flags & SYNSCOPE_F_IN_FLIGHT) ? JW_LIT(p, "not accepted yet")
							  : JW_LIT(p, "never accepted");
	if (!end_caller_known(r))
		return JW_LIT(p, "accepted, caller unknown");
	p = put_n(p, r->comm, strnlen(r->comm, sizeof(r->comm)));
	*p++ = ' ';
	p = jw_u64(p, r->pid);
	*p++ = '/';
	p = jw_u64(p, r->tid);
	if (r->fd >= 0) {
		p = JW_LIT(p, " fd ");
		p = jw_i64(p, r->fd);
	}
	return p;
}

/*
 * Written by hand, not with printf: its format parsing was most of the
 * ~0.8 us a line cost (make bench-sinks). tests/unit/test_output_text.c
 * compares it with the printf version.
 */
static int text_end(struct output *out, const struct conn_end *end)
{
	const struct synscope_handshake *r = &end->raw;
	bool client = r->role == SYNSCOPE_ROLE_CLIENT;
	const char *err = errno_name(r->err);
	struct outbuf *ob = output_buf(out);
	char when[64], *p;
	long long us;

	if (!ob)
		return -ENOMEM;
	p = outbuf_reserve(ob);
	if (out->timestamps) {
		*rfc3339_cached(&out->when, end_time_ns(r), out->boot_to_real_ns, when) = '\0';
		p = put_n(p, when + 11, strnlen(when + 11, 12)); /* HH:MM:SS.mmm UTC */
		*p++ = ' ';
	}
	*p++ = '#';
	p = jw_u64(p, r->id);
	*p++ = ' ';
	p = put_s(p, role_name(r->role));
	*p++ = ' ';
	p = endpoint(p, end->family, end->saddr, r->sport);
	p = client ? JW_LIT(p, " -> ") : JW_LIT(p, " <- ");
	p = endpoint(p, end->family, end->daddr, r->dport);
	*p++ = ' ';
	p = put_s(p, end_outcome_name(r));
	if (err) {
		*p++ = ' ';
		p = put_s(p, err);
	}
	if (r->flags & SYNSCOPE_F_IN_FLIGHT) {
		p = JW_LIT(p, " (in flight at exit: ");
		p = put_s(p, end_in_flight_state(r));
		*p++ = ')';
	}
	if (r->flags & SYNSCOPE_F_RECOVERED)
		p = JW_LIT(p, " (handshake unreported: read at return)");
	*p++ = ' ';
	p = caller(p, r);
	if (client) {
		us = end_connect_us(end);
		if (us >= 0) {
			p = JW_LIT(p, " connect ");
			p = jw_i64(p, us);
			p = JW_LIT(p, "us");
		}
	} else {
		us = end_accept_wait_us(end);
		if (us >= 0) {
			p = JW_LIT(p, " wait ");
			p = jw_i64(p, us);
			p = JW_LIT(p, "us");
		}
		p = JW_LIT(p, " q ");
		p = jw_u64(p, r->acceptq);
		*p++ = '/';
		p = jw_u64(p, r->backlog);
		if (r->flags & SYNSCOPE_F_CLOSED)
			p = JW_LIT(p, " closed in queue");
	}
	if (r->peer_id) {
		p = JW_LIT(p, " peer #");
		p = jw_u64(p, r->peer_id);
	}
	if (out->verbose) {
		p = JW_LIT(p, " iss ");
		p = jw_u64(p, r->iss);
		p = JW_LIT(p, " irs ");
		p = r->outcome == SYNSCOPE_OUT_ESTABLISHED ? jw_u64(p, r->irs) : JW_LIT(p, "-");
		p = JW_LIT(p, " retrans ");
		p = jw_u64(p, r->retrans);
		p = JW_LIT(p, " netns ");
		p = jw_u64(p, r->netns);
	}
	*p++ = '\n';
	output_commit_line(out, p);
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
	output_commit_line(out, p);
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
	output_commit_line(out, p);
	return 0;
}

static int text_listener(struct output *out, const struct listener_state *l,
			 unsigned long long boot_ns)
{
	struct outbuf *ob = output_buf(out);
	char when[64], name[64], state[192], *start, *p;

	if (!ob)
		return -ENOMEM;
	p = start = outbuf_reserve(ob);
	if (out->timestamps) {
		*rfc3339_cached(&out->when, boot_ns, out->boot_to_real_ns, when) = '\0';
		p = put_n(p, when + 11, strnlen(when + 11, 12)); /* HH:MM:SS.mmm UTC */
		*p++ = ' ';
	}
	p += snprintf(p, OUTBUF_RECORD_MAX - (p - start), "listener %s netns %llu: %s\n",
		      listener_name(l, name, sizeof(name)), l->q.netns,
		      listener_state_text(l, state, sizeof(state)));
	output_commit_line(out, p);
	return 0;
}

const struct output_ops output_text_ops = {
	.end = text_end,
	.link = text_link,
	.close = text_close,
	.listener = text_listener,
};
