// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "options.h"
#include "output.h"

int output_format_parse(const char *name, enum output_format *fmt)
{
	if (!strcmp(name, "text"))
		*fmt = OUTPUT_TEXT;
	else if (!strcmp(name, "jsonl"))
		*fmt = OUTPUT_JSONL;
	else if (!strcmp(name, "trace-event"))
		*fmt = OUTPUT_TRACE_EVENT;
	else if (!strcmp(name, "html"))
		*fmt = OUTPUT_HTML;
	else
		return -EINVAL;
	return 0;
}

void output_init(struct output *out, enum output_format fmt, FILE *f)
{
	memset(out, 0, sizeof(*out));
	static const struct output_ops *const ops[] = {
		[OUTPUT_TEXT] = &output_text_ops,
		[OUTPUT_JSONL] = &output_jsonl_ops,
		[OUTPUT_TRACE_EVENT] = &output_trace_event_ops,
		[OUTPUT_HTML] = &output_html_ops,
	};

	out->ops = ops[fmt];
	out->f = f;
	out->boot_to_real_ns = boot_to_realtime_offset_ns();
}

struct output *output_sinks_init(struct output *out, struct output *timeline,
				 const struct synscope_config *cfg, FILE *f,
				 long long boot_to_real_ns)
{
	output_init(out, cfg->format, f);
	out->timestamps = cfg->timestamps;
	out->verbose = cfg->verbose > 0;
	out->track_close = cfg->track_close;
	out->boot_to_real_ns = boot_to_real_ns;
	if (!cfg->timeline)
		return out;
	/* The ladder goes to stdout; -o FILE gets the -f format as well. */
	output_init(timeline, OUTPUT_TEXT, stdout);
	timeline->ops = &output_timeline_ops;
	timeline->verbose = out->verbose;
	timeline->boot_to_real_ns = boot_to_real_ns;
	if (cfg->output_path)
		timeline->next = out;
	return timeline;
}

char *endpoint_text(char *buf, size_t len, int family, const char *addr, unsigned int port)
{
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr, port);
	return buf;
}

void conn_endpoints(const struct conn_end *client, const struct conn_end *server, char *from,
		    char *to, size_t len)
{
	if (client) {
		endpoint_text(from, len, client->family, client->saddr, client->raw.sport);
		endpoint_text(to, len, client->family, client->daddr, client->raw.dport);
	} else {
		endpoint_text(from, len, server->family, server->daddr, server->raw.dport);
		endpoint_text(to, len, server->family, server->saddr, server->raw.sport);
	}
}

static long long ts_ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

long long boot_to_realtime_offset_ns(void)
{
	struct timespec boot, real;

	clock_gettime(CLOCK_BOOTTIME, &boot);
	clock_gettime(CLOCK_REALTIME, &real);
	return ts_ns(&real) - ts_ns(&boot);
}

/* Unsigned addition: a hostile boot_ns wraps instead of overflowing a signed sum. */
static long long realtime_ns(unsigned long long boot_ns, long long boot_to_real_ns)
{
	return (long long)(boot_ns + (unsigned long long)boot_to_real_ns);
}

char *format_rfc3339(unsigned long long boot_ns, long long boot_to_real_ns, char *buf, size_t len)
{
	long long real = realtime_ns(boot_ns, boot_to_real_ns);
	time_t sec = real / 1000000000LL;
	struct tm tm = {0}; /* if gmtime_r() fails: zeros, not stack garbage */
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%09lldZ", real % 1000000000LL);
	return buf;
}

char *rfc3339_cached(struct rfc3339_cache *c, unsigned long long boot_ns, long long boot_to_real_ns,
		     char *p)
{
	long long real = realtime_ns(boot_ns, boot_to_real_ns);
	long long sec = real / 1000000000LL, ns = real % 1000000000LL;
	char full[64], *dot;
	int i;

	if (real < 0) {
		/* Before 1970: the fraction prints with its sign; leave that to the slow path. */
		format_rfc3339(boot_ns, boot_to_real_ns, full, sizeof(full));
		i = strlen(full);
		memcpy(p, full, i);
		return p + i;
	}
	if (!c->len || c->sec != sec) {
		format_rfc3339(boot_ns, boot_to_real_ns, full, sizeof(full));
		dot = strrchr(full, '.');
		c->len = dot ? (unsigned int)(dot - full) : 0;
		if (c->len >= sizeof(c->prefix))
			c->len = 0;
		memcpy(c->prefix, full, c->len);
		c->sec = sec;
	}
	memcpy(p, c->prefix, c->len);
	p += c->len;
	*p++ = '.';
	for (i = 8; i >= 0; i--) {
		p[i] = '0' + ns % 10;
		ns /= 10;
	}
	p += 9;
	*p++ = 'Z';
	return p;
}

struct outbuf *output_buf(struct output *out)
{
	if (out->buf)
		return out->buf;
	out->buf = malloc(sizeof(*out->buf));
	if (!out->buf)
		return NULL;
	if (outbuf_init(out->buf, out->f, OUTBUF_SIZE)) {
		free(out->buf);
		out->buf = NULL;
	}
	return out->buf;
}

void output_commit_line(struct output *out, char *end)
{
	outbuf_commit(out->buf, end);
	out->lines++;
}

int output_batch_end_all(struct output *out)
{
	int failed = 0;

	for (; out; out = out->next)
		if (out->buf)
			failed += outbuf_flush(out->buf) != 0;
	return failed;
}

int output_end_all(struct output *out, const struct conn_end *end)
{
	int failed = 0;

	for (; out; out = out->next)
		failed += out->ops->end(out, end) != 0;
	return failed;
}

int output_close_all(struct output *out, const struct conn_close *close)
{
	int failed = 0;

	for (; out; out = out->next)
		if (out->ops->close)
			failed += out->ops->close(out, close) != 0;
	return failed;
}

void output_append(struct output *head, struct output *tail)
{
	while (head->next)
		head = head->next;
	head->next = tail;
}

char *listener_name(const struct listener_state *l, char *buf, size_t len)
{
	bool v6 = strchr(l->q.address, ':') != NULL;

	snprintf(buf, len, "%s%s%s:%u", v6 ? "[" : "", l->q.address, v6 ? "]" : "", l->q.port);
	return buf;
}

char *listener_state_text(const struct listener_state *l, char *buf, size_t len)
{
	char overflows[32] = "n/a (before Linux 6.15)";

	if (l->overflows_valid)
		snprintf(overflows, sizeof(overflows), "%llu", l->overflows);
	snprintf(buf, len, "accept queue %llu/%llu, SYN queue %llu, drops %llu, third ACKs dropped "
			   "on a full queue %s, SYN-ACK retransmits %llu",
		 l->q.acceptq, l->q.backlog, l->q.synq, l->q.drops, overflows, l->synack_retrans);
	return buf;
}

int output_listener_all(struct output *out, const struct listener_state *l, unsigned long long boot_ns)
{
	int failed = 0;

	for (; out; out = out->next)
		if (out->ops->listener)
			failed += out->ops->listener(out, l, boot_ns) != 0;
	return failed;
}

const char *close_final_state(const struct conn_close *close)
{
	const struct synscope_close *r = &close->raw;

	if (!(r->flags & SYNSCOPE_CF_TIME_WAIT))
		return tcp_state_name(r->states[r->nstates - 1]);
	return (r->flags & SYNSCOPE_CF_FIN_RECEIVED) ? "TIME_WAIT" : "TIME_WAIT(FIN_WAIT2)";
}

void close_path_text(const struct conn_close *close, char *buf, size_t len, const char *sep)
{
	const struct synscope_close *r = &close->raw;
	size_t used = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < r->nstates && used < len; i++) {
		bool last = i == r->nstates - 1u;
		const char *name = last ? close_final_state(close) : tcp_state_name(r->states[i]);

		used += snprintf(buf + used, len - used, "%s%s", i ? sep : "", name);
	}
}

int output_link_all(struct output *out, const struct conn_link *link)
{
	int failed = 0;

	for (; out; out = out->next)
		if (out->ops->link)
			failed += out->ops->link(out, link) != 0;
	return failed;
}

int output_finish_all(struct output *out, const struct run_summary *sum)
{
	int failed = 0;

	for (; out; out = out->next) {
		if (out->ops->flush)
			failed += out->ops->flush(out) != 0;
		/* The records before the summary, which a sink may write through stdio. */
		if (out->buf)
			outbuf_flush(out->buf);
		if (out->ops->summary)
			failed += out->ops->summary(out, sum) != 0;
		if (out->buf) {
			outbuf_flush(out->buf);
			failed += out->buf->lost;
			outbuf_free(out->buf);
			free(out->buf);
			out->buf = NULL;
		}
	}
	return failed;
}
