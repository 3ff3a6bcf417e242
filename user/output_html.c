// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTML sink (-f html): one self-contained report, written at exit. Inline
 * CSS and SVG only: no script, no font, nothing fetched. It reads in a light
 * or dark theme (prefers-color-scheme) and on paper (@media print).
 *
 *  1. summary: connection ends by role and outcome, what was lost;
 *  2. listeners: accept-queue wait percentiles, deepest queue, SYN-ACK
 *     retransmissions, and the kernel's own view at exit;
 *  3. histograms of connect() time and accept-queue wait;
 *  4. accept-queue depth over time per listener (queue_depth.h);
 *  5. the handshake ladder of each connection (ladder.h, as --timeline
 *     draws it), at most HTML_MAX_LADDERS, with a note when there are more.
 *
 * Machine-readable attributes carry the figures the text shows, for tests
 * and scrapers: data-count on the summary's cells, data-* on each listener
 * row and each ladder (documented in the README).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "decode.h"
#include "ladder.h"
#include "output.h"
#include "queue_depth.h"

#define HTML_MAX_LADDERS 100
#define HTML_MAX_ENDS (2 * HTML_MAX_LADDERS)
#define HTML_LOG2_BUCKETS 40 /* (2^(k-1), 2^k] us; bucket 0: <= 1 us */
#define HTML_MAX_SNAPSHOTS 64

struct log2_hist {
	unsigned long long n[HTML_LOG2_BUCKETS];
	unsigned long long count;
};

struct html_state {
	struct conn_end ends[HTML_MAX_ENDS];   /* the ends of the connections drawn */
	unsigned int nends;
	struct conn_close closes[HTML_MAX_ENDS];
	unsigned int ncloses;
	unsigned long long connections;        /* all of them: ends minus servers joined to a client */
	unsigned long long connections_drawn;
	struct log2_hist connect_us, wait_us;
	unsigned long long first_ns, last_ns;  /* boot-time span of the ends */
	struct queue_depth queues;
	struct listener_state snapshots[HTML_MAX_SNAPSHOTS]; /* the last listener record of each */
	unsigned long long snapshot_ns[HTML_MAX_SNAPSHOTS];
	unsigned int nsnapshots;
};

static struct html_state *state_of(struct output *out)
{
	if (!out->state)
		out->state = calloc(1, sizeof(struct html_state));
	return out->state;
}

static void log2_add(struct log2_hist *h, long long us)
{
	unsigned int k = 0;

	if (us < 0)
		return;
	while (k < HTML_LOG2_BUCKETS - 1 && (1ULL << k) < (unsigned long long)us)
		k++;
	h->n[k]++;
	h->count++;
}

static void span(struct html_state *st, unsigned long long ns)
{
	if (!ns)
		return;
	if (!st->first_ns || ns < st->first_ns)
		st->first_ns = ns;
	if (ns > st->last_ns)
		st->last_ns = ns;
}

static const struct conn_end *find_end(const struct html_state *st, __u64 id)
{
	unsigned int i;

	for (i = 0; i < st->nends; i++)
		if (st->ends[i].raw.id == id)
			return &st->ends[i];
	return NULL;
}

static int html_end(struct output *out, const struct conn_end *end)
{
	struct html_state *st = state_of(out);
	const struct synscope_handshake *r = &end->raw;
	bool peer_kept;

	if (!st)
		return -ENOMEM;
	span(st, r->ts_syn ? r->ts_syn : r->ts_end);
	span(st, r->ts_ret);
	queue_depth_add(&st->queues, end);
	if (r->role == SYNSCOPE_ROLE_CLIENT)
		log2_add(&st->connect_us, r->outcome == SYNSCOPE_OUT_ESTABLISHED ? end_connect_us(end) : -1);
	else
		log2_add(&st->wait_us, end_accept_wait_us(end));
	/* A server joined to a client is the same connection: counted once. */
	peer_kept = r->peer_id && find_end(st, r->peer_id);
	if (r->role == SYNSCOPE_ROLE_CLIENT || !r->peer_id)
		st->connections++;
	if (st->nends < HTML_MAX_ENDS && (peer_kept || st->connections_drawn < HTML_MAX_LADDERS)) {
		st->ends[st->nends++] = *end;
		if (!peer_kept)
			st->connections_drawn++;
	}
	out->lines++;
	return 0;
}

static int html_close(struct output *out, const struct conn_close *close)
{
	struct html_state *st = state_of(out);

	if (!st)
		return -ENOMEM;
	if (st->ncloses < HTML_MAX_ENDS)
		st->closes[st->ncloses++] = *close;
	return 0;
}

static int html_listener(struct output *out, const struct listener_state *l, unsigned long long boot_ns)
{
	struct html_state *st = state_of(out);
	unsigned int i;

	if (!st)
		return -ENOMEM;
	for (i = 0; i < st->nsnapshots; i++)
		if (st->snapshots[i].q.netns == l->q.netns && st->snapshots[i].q.port == l->q.port &&
		    !strcmp(st->snapshots[i].q.address, l->q.address))
			break;
	if (i == HTML_MAX_SNAPSHOTS)
		return 0;
	if (i == st->nsnapshots)
		st->nsnapshots++;
	st->snapshots[i] = *l;
	st->snapshot_ns[i] = boot_ns;
	return 0;
}

/* Text for HTML content and attribute values. */
static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			/* Control bytes have no place in a report; comm may carry them. */
			fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
		}
	}
}

static const char style[] =
	":root{--fg:#1f2328;--bg:#fff;--muted:#59636e;--line:#d1d9e0;--seg:#0969da;--back:#8250df;"
	"--bad:#cf222e;--bar:#54aeff;--panel:#f6f8fa}\n"
	"@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;"
	"--line:#3d444d;--seg:#4493f8;--back:#ab7df8;--bad:#f85149;--bar:#1f6feb;--panel:#151b23}}\n"
	"@media print{:root{--fg:#000;--bg:#fff;--muted:#444;--line:#999;--seg:#000;--back:#000;"
	"--bad:#000;--bar:#888;--panel:#fff}section.ladder,figure{break-inside:avoid}}\n"
	"body{font:14px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg);"
	"max-width:1080px;margin:0 auto;padding:1em 1.5em}\n"
	"h1{font-size:1.6em;margin:.2em 0}h2{border-bottom:1px solid var(--line);padding-bottom:.2em;"
	"margin-top:1.6em}h3{font-size:1em;margin:1.2em 0 .3em;font-family:ui-monospace,monospace}\n"
	"p.meta,p.note,figcaption{color:var(--muted)}\n"
	"table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid var(--line);"
	"padding:.25em .6em;text-align:right}th{background:var(--panel)}td.l,th.l{text-align:left}\n"
	"td.bad{color:var(--bad);font-weight:600}\n"
	"svg{display:block;max-width:100%;height:auto}svg text{fill:var(--fg);"
	"font:12px ui-monospace,monospace}svg .muted{fill:var(--muted)}\n"
	"svg .axis,svg .life{stroke:var(--line);stroke-width:1}svg .life{stroke-width:2}\n"
	"svg .to-server{stroke:var(--seg);stroke-width:1.5}svg .to-client{stroke:var(--back);"
	"stroke-width:1.5}svg .arrow-s{fill:var(--seg)}svg .arrow-c{fill:var(--back)}\n"
	"svg .bar{fill:var(--bar)}svg .depth{fill:none;stroke:var(--seg);stroke-width:1.5}"
	"svg .limit{stroke:var(--bad);stroke-dasharray:4 3}svg text.note{font-style:italic}\n"
	"ul.checks{margin:.2em 0 0;color:var(--muted)}\n";

static void head(FILE *f)
{
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		   "<meta name=\"color-scheme\" content=\"light dark\">\n"
		   "<title>synscope report</title>\n<style>\n%s</style>\n</head>\n<body>\n", style);
}

static void count_row(FILE *f, const char *label, const char *id, unsigned long long n, bool bad)
{
	fprintf(f, "<tr><td class=\"l\">%s</td><td id=\"%s\" data-count=\"%llu\"%s>%llu</td></tr>\n",
		label, id, n, bad && n ? " class=\"bad\"" : "", n);
}

static void summary_section(struct output *out, const struct html_state *st,
			    const struct run_summary *sum)
{
	FILE *f = out->f;
	char from[64] = "", to[64] = "", id[48];
	int o;

	if (st->first_ns) {
		format_rfc3339(st->first_ns, out->boot_to_real_ns, from, sizeof(from));
		format_rfc3339(st->last_ns, out->boot_to_real_ns, to, sizeof(to));
	}
	fprintf(f, "<header>\n<h1>synscope report</h1>\n<p class=\"meta\">");
	if (st->first_ns)
		fprintf(f, "Connections from %.23sZ to %.23sZ (UTC). ", from, to);
	fprintf(f, "%llu connection ends in %llu connections.</p>\n</header>\n",
		sum->ends, st->connections);
	fprintf(f, "<section id=\"summary\">\n<h2>Summary</h2>\n<table>\n"
		   "<tr><th class=\"l\">connection ends</th><th>count</th></tr>\n");
	count_row(f, "client ends (connect())", "clients", sum->clients, false);
	count_row(f, "server ends (accept())", "servers", sum->servers, false);
	count_row(f, "ends joined to their peer on this host", "joined", sum->joined, false);
	for (o = SYNSCOPE_OUT_ESTABLISHED; o <= SYNSCOPE_OUT_ABANDONED; o++) {
		char label[48];

		snprintf(label, sizeof(label), "outcome: %s", outcome_name(o));
		snprintf(id, sizeof(id), "outcome-%s", outcome_name(o));
		count_row(f, label, id, sum->by_outcome[o], o != SYNSCOPE_OUT_ESTABLISHED);
	}
	count_row(f, "server ends never accepted", "not-accepted", sum->not_accepted, true);
	count_row(f, "ends recovered from the socket (the state tracepoint never reported their "
		     "handshake)", "recovered", sum->recovered, false);
	count_row(f, "client SYN retransmissions", "syn-retrans", sum->syn_retrans, true);
	fprintf(f, "</table>\n<table>\n<tr><th class=\"l\">lost or unfinished</th><th>count</th></tr>\n");
	if (sum->kernel_valid)
		count_row(f, "events the kernel side lost (ring buffer, maps, skipped runs)", "lost",
			  summary_kernel_losses(sum), true);
	else
		fprintf(f, "<tr><td class=\"l\">events the kernel side lost</td><td id=\"lost\">"
			   "unknown</td></tr>\n");
	count_row(f, "records that did not decode", "decode-errors", sum->decode_errors, true);
	count_row(f, "records a sink failed to write", "write-errors", sum->write_errors, true);
	if (sum->in_flight_valid)
		count_row(f, "ends still in their handshake or queue at exit (no record)", "in-flight",
			  sum->in_flight, false);
	if (sum->netstat.valid) {
		count_row(f, "ListenOverflows (accept queue full, /proc/net/netstat)", "listen-overflows",
			  sum->netstat.listen_overflows, true);
		count_row(f, "ListenDrops", "listen-drops", sum->netstat.listen_drops, true);
	}
	fprintf(f, "</table>\n</section>\n");
}

static void listeners_section(FILE *f, const struct html_state *st, const struct run_summary *sum)
{
	char name[64], state[192];
	unsigned int i;

	if (!sum->nlisteners && !st->nsnapshots)
		return;
	fprintf(f, "<section id=\"listeners\">\n<h2>Listeners</h2>\n");
	if (sum->nlisteners) {
		fprintf(f, "<table>\n<tr><th class=\"l\">port</th><th>netns</th><th>handshakes</th>"
			   "<th>accepted</th><th>never accepted</th><th>wait p50 µs</th>"
			   "<th>p90 µs</th><th>p99 µs</th><th>max µs</th><th>deepest queue</th>"
			   "<th>SYN-ACK retrans</th></tr>\n");
		for (i = 0; i < sum->nlisteners; i++) {
			const struct listener_summary *l = &sum->listeners[i];
			bool w = l->wait_us.count > 0;

			fprintf(f, "<tr class=\"listener\" data-port=\"%u\" data-completed=\"%llu\" "
				   "data-accepted=\"%llu\" data-max-wait-us=\"%llu\" data-max-acceptq=\"%u\">"
				   "<td class=\"l\">%u</td><td>%llu</td><td>%llu</td><td>%llu</td><td%s>%llu</td>",
				l->port, l->completed, l->accepted, w ? l->max_wait_us : 0, l->max_acceptq,
				l->port, l->netns, l->completed, l->accepted,
				l->not_accepted ? " class=\"bad\"" : "", l->not_accepted);
			if (w)
				fprintf(f, "<td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td>",
					hist_percentile(&l->wait_us, 50), hist_percentile(&l->wait_us, 90),
					hist_percentile(&l->wait_us, 99), l->max_wait_us);
			else
				fprintf(f, "<td>-</td><td>-</td><td>-</td><td>-</td>");
			fprintf(f, "<td%s>%u/%u</td><td>%llu</td></tr>\n",
				l->backlog && l->max_acceptq > l->backlog ? " class=\"bad\"" : "",
				l->max_acceptq, l->backlog, l->synack_retrans);
		}
		fprintf(f, "</table>\n<p class=\"note\">Wait: from the server end's ESTABLISHED to "
			   "the accept() that returned it (percentiles within 12.5%%; the maximum is "
			   "exact). Deepest queue: the accept queue at a handshake, that connection "
			   "included, against the effective backlog.</p>\n");
	}
	if (st->nsnapshots) {
		fprintf(f, "<p>As the kernel held them at the last listener record:</p>\n<ul>\n");
		for (i = 0; i < st->nsnapshots; i++) {
			fprintf(f, "<li><code>");
			esc(f, listener_name(&st->snapshots[i], name, sizeof(name)));
			fprintf(f, "</code> netns %llu: ", st->snapshots[i].q.netns);
			esc(f, listener_state_text(&st->snapshots[i], state, sizeof(state)));
			fprintf(f, "</li>\n");
		}
		fprintf(f, "</ul>\n");
	}
	fprintf(f, "</section>\n");
}

static void bucket_label(char *buf, size_t len, unsigned int k)
{
	unsigned long long us = 1ULL << k;

	if (us >= 1000000)
		snprintf(buf, len, "%llus", us / 1000000);
	else if (us >= 1000)
		snprintf(buf, len, "%llums", us / 1000);
	else
		snprintf(buf, len, "%lluµs", us);
}

/* Bars from the first to the last bucket used; each labelled with its upper bound and count. */
static void histogram_svg(FILE *f, const char *id, const char *title, const struct log2_hist *h)
{
	unsigned int lo = HTML_LOG2_BUCKETS, hi = 0, k, nb;
	unsigned long long peak = 0;
	const int bw = 40, height = 150, top = 16, base = 150 + 16;
	char label[16];

	fprintf(f, "<figure id=\"%s\" data-count=\"%llu\">\n", id, h->count);
	for (k = 0; k < HTML_LOG2_BUCKETS; k++) {
		if (!h->n[k])
			continue;
		if (k < lo)
			lo = k;
		hi = k;
		if (h->n[k] > peak)
			peak = h->n[k];
	}
	if (!h->count) {
		fprintf(f, "<figcaption>%s: none</figcaption>\n</figure>\n", title);
		return;
	}
	nb = hi - lo + 1;
	fprintf(f, "<svg viewBox=\"0 0 %u %d\" width=\"%u\" role=\"img\" aria-label=\"%s\">\n",
		nb * bw + 20, base + 34, nb * bw + 20, title);
	fprintf(f, "<line class=\"axis\" x1=\"10\" y1=\"%d\" x2=\"%u\" y2=\"%d\"/>\n", base,
		nb * bw + 10, base);
	for (k = lo; k <= hi; k++) {
		int x = 10 + (int)(k - lo) * bw, bh = (int)(h->n[k] * height / peak);

		if (h->n[k] && bh < 1)
			bh = 1;
		bucket_label(label, sizeof(label), k);
		fprintf(f, "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
			   "data-le-us=\"%llu\" data-count=\"%llu\"><title>%llu ≤ %s</title></rect>\n",
			x + 4, base - bh, bw - 8, bh, 1ULL << k, h->n[k], h->n[k], label);
		if (h->n[k])
			fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%llu</text>\n",
				x + bw / 2, base - bh - 3 < top ? top : base - bh - 3, h->n[k]);
		fprintf(f, "<text class=\"muted\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
			x + bw / 2, base + 14, label);
	}
	fprintf(f, "</svg>\n<figcaption>%s: %llu, by upper bound of power-of-two buckets "
		   "(each bar counts the values above the previous bound up to its own).</figcaption>\n"
		   "</figure>\n", title, h->count);
}

/* The depth as a step line, one column per pixel drawn at its deepest. */
static void depth_svg(FILE *f, struct queue_listener *l)
{
	enum { W = 900, H = 140, L = 40, T = 10 };
	int col[W], c, c0, c1, ymax;
	unsigned long long t0, t1, dt;
	unsigned int limit;
	size_t i;

	queue_depth_finish(l);
	if (!l->n)
		return;
	t0 = l->points[0].ts;
	t1 = l->points[l->n - 1].ts;
	dt = t1 > t0 ? t1 - t0 : 1;
	for (c = 0; c < W; c++)
		col[c] = -1;
	for (i = 0; i < l->n; i++) {
		unsigned long long until = i + 1 < l->n ? l->points[i + 1].ts : t1;

		c0 = (int)((l->points[i].ts - t0) * (W - 1) / dt);
		c1 = (int)((until - t0) * (W - 1) / dt);
		/* The next point's own column is its own. */
		if (c1 > c0)
			c1--;
		for (c = c0; c <= c1 && c < W; c++)
			if ((int)l->points[i].depth > col[c])
				col[c] = l->points[i].depth;
	}
	limit = l->backlog > l->max_depth ? l->backlog : l->max_depth;
	ymax = limit ? (int)limit : 1;
	fprintf(f, "<figure class=\"queue\" data-port=\"%u\" data-max-depth=\"%u\" data-backlog=\"%u\">\n"
		   "<svg viewBox=\"0 0 %d %d\" width=\"%d\" role=\"img\" aria-label=\"accept queue of port %u\">\n",
		l->port, l->max_depth, l->backlog, W + L + 10, H + T + 24, W + L + 10, l->port);
	fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
		   "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
		L, T + H, L + W, T + H, L, T, L, T + H);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%d</text><text x=\"%d\" y=\"%d\" "
		   "text-anchor=\"end\">0</text>\n", L - 4, T + 10, ymax, L - 4, T + H);
	if (l->backlog)
		fprintf(f, "<line class=\"limit\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
			   "<text class=\"muted\" x=\"%d\" y=\"%d\">backlog %u</text>\n",
			L, T + H - (int)(l->backlog * H / ymax), L + W, T + H - (int)(l->backlog * H / ymax),
			L + 6, T + H - (int)(l->backlog * H / ymax) + 12, l->backlog);
	fprintf(f, "<path class=\"depth\" d=\"");
	for (c = 0, i = 0; c < W; c++) {
		int y;

		if (col[c] < 0)
			continue;
		y = T + H - col[c] * H / ymax;
		fprintf(f, i++ ? "H%d V%d " : "M%d %d ", L + c, y);
	}
	fprintf(f, "\"/>\n<text class=\"muted\" x=\"%d\" y=\"%d\">0 ms</text><text class=\"muted\" "
		   "x=\"%d\" y=\"%d\" text-anchor=\"end\">%.3f ms</text>\n</svg>\n",
		L, T + H + 16, L + W, T + H + 16, dt / 1e6);
	fprintf(f, "<figcaption>Port %u: accept-queue depth over %.3f ms (deepest %u, backlog %u): "
		   "the kernel's depth at each handshake, one less at each accept().</figcaption>\n"
		   "</figure>\n", l->port, dt / 1e6, l->max_depth, l->backlog);
}

static const struct conn_close *find_close(const struct html_state *st, __u64 id)
{
	unsigned int i;

	for (i = 0; i < st->ncloses; i++)
		if (st->closes[i].raw.id == id)
			return &st->closes[i];
	return NULL;
}

static void svg_text(FILE *f, int x, int y, const char *anchor, const char *cls, const char *s)
{
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"%s\"%s%s%s>", x, y, anchor,
		cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
	esc(f, s);
	fputs("</text>\n", f);
}

/* One connection: the two ends' lifelines, a row per event, arrows for the segments. */
static void ladder_svg(FILE *f, const struct conn_end *client, const struct conn_end *server,
		       const struct html_state *st)
{
	enum { CX = 400, SX = 760, W = 1060, ROW = 22, TOP = 40 };
	const struct conn_end *any = client ? client : server;
	const struct synscope_handshake *c = client ? &client->raw : NULL;
	const struct synscope_handshake *s = server ? &server->raw : NULL;
	const struct conn_close *cc = c ? find_close(st, c->id) : NULL;
	const struct conn_close *sc = s ? find_close(st, s->id) : NULL;
	const char *in_flight = end_in_flight_state(s && end_in_flight_state(s) ? s : &any->raw);
	/* Ends read from the socket at the syscall's return: some of their times are unknown. */
	bool rc = c && (c->flags & SYNSCOPE_F_RECOVERED), rs = s && (s->flags & SYNSCOPE_F_RECOVERED);
	const char *recovered = rc && rs ? "both" : rc ? "client" : rs ? "server" : NULL;
	char from[INET6_ADDRSTRLEN + 8], to[INET6_ADDRSTRLEN + 8], who[80], t[32];
	struct ladder l = {.n = 0};
	int i, h;

	ladder_add_handshake(&l, c, s);
	if (cc)
		ladder_add_close(&l, &cc->raw);
	if (sc)
		ladder_add_close(&l, &sc->raw);
	if (!l.n)
		return;
	ladder_sort(&l);
	conn_endpoints(client, server, from, to, sizeof(from));
	fprintf(f, "<section class=\"ladder\" data-outcome=\"%s\"", end_outcome_name(&any->raw));
	if (in_flight)
		fprintf(f, " data-in-flight=\"%s\"", in_flight);
	if (recovered)
		fprintf(f, " data-recovered=\"%s\"", recovered);
	if (c)
		fprintf(f, " data-client-id=\"%llu\" data-iss=\"%u\" data-irs=\"%u\"",
			(unsigned long long)c->id, c->iss, c->irs);
	if (s)
		fprintf(f, " data-server-id=\"%llu\" data-server-iss=\"%u\" data-server-irs=\"%u\"",
			(unsigned long long)s->id, s->iss, s->irs);
	if (s && end_accept_wait_us(server) >= 0)
		fprintf(f, " data-accept-wait-us=\"%lld\"", end_accept_wait_us(server));
	fprintf(f, ">\n<h3>");
	esc(f, from);
	fputs(" → ", f);
	esc(f, to);
	fprintf(f, ": %s%s%s%s%s%s%s%s%s</h3>\n", end_outcome_name(&any->raw), any->raw.err ? " " : "",
		errno_name(any->raw.err) ? errno_name(any->raw.err) : "",
		in_flight ? " (in flight at exit: " : "", in_flight ? in_flight : "", in_flight ? ")" : "",
		recovered ? " (recovered from the socket: " : "", recovered ? recovered : "",
		recovered ? ")" : "");
	h = TOP + l.n * ROW + 10;
	fprintf(f, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" role=\"img\" aria-label=\"handshake "
		   "ladder\">\n<defs><marker id=\"as\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
		   "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path class=\"arrow-s\" "
		   "d=\"M0 0L10 5L0 10z\"/></marker><marker id=\"ac\" viewBox=\"0 0 10 10\" refX=\"10\" "
		   "refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path "
		   "class=\"arrow-c\" d=\"M0 0L10 5L0 10z\"/></marker></defs>\n", W, h, W);
	svg_text(f, 70, 16, "end", "muted", "time");
	svg_text(f, CX, 16, "middle", NULL, ladder_who(who, sizeof(who), "client", c));
	svg_text(f, SX, 16, "middle", NULL, ladder_who(who, sizeof(who), "server", s));
	fprintf(f, "<line class=\"life\" x1=\"%d\" y1=\"24\" x2=\"%d\" y2=\"%d\"/>"
		   "<line class=\"life\" x1=\"%d\" y1=\"24\" x2=\"%d\" y2=\"%d\"/>\n",
		CX, CX, h - 4, SX, SX, h - 4);
	for (i = 0; i < l.n; i++) {
		const struct ladder_row *r = &l.rows[i];
		int y = TOP + i * ROW + 6;

		snprintf(t, sizeof(t), "%.3f ms", (r->ts - l.rows[0].ts) / 1e6);
		svg_text(f, 70, y + 4, "end", "muted", t);
		if (r->client[0])
			svg_text(f, CX - 8, y + 4, "end", NULL, r->client);
		if (r->server[0])
			svg_text(f, SX + 8, y + 4, "start", NULL, r->server);
		if (r->dir == LADDER_TO_SERVER)
			fprintf(f, "<line class=\"to-server\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
				   "marker-end=\"url(#as)\"/>\n", CX, y, SX, y);
		else if (r->dir == LADDER_TO_CLIENT)
			fprintf(f, "<line class=\"to-client\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
				   "marker-end=\"url(#ac)\"/>\n", SX, y, CX, y);
		if (r->seg[0])
			svg_text(f, (CX + SX) / 2, r->dir == LADDER_NOTE ? y + 4 : y - 4, "middle",
				 r->dir == LADDER_NOTE ? "note" : NULL, r->seg);
	}
	fprintf(f, "</svg>\n");
	if (c && s)
		fprintf(f, "<ul class=\"checks\"><li>server IRS = client ISS (j): %s</li>"
			   "<li>server ISS = client IRS (k): %s</li></ul>\n",
			s->irs == c->iss ? "yes" : "NO", s->iss == c->irs ? "yes" : "NO");
	fprintf(f, "</section>\n");
}

static void ladders_section(FILE *f, const struct html_state *st)
{
	unsigned int i;

	fprintf(f, "<section id=\"ladders\" data-drawn=\"%llu\" data-connections=\"%llu\">\n"
		   "<h2>Handshake ladders</h2>\n", st->connections_drawn, st->connections);
	if (st->connections > st->connections_drawn)
		fprintf(f, "<p class=\"note\" id=\"ladders-capped\">The first %llu of %llu connections "
			   "are drawn; the JSONL output (-f jsonl) or a capture (-w) holds them all.</p>\n",
			st->connections_drawn, st->connections);
	else
		fprintf(f, "<p class=\"note\">Each end's calls and state changes on its lifeline, "
			   "the segments between them with their sequence numbers (RFC 9293 ISS and "
			   "IRS), as the sockets recorded them. The server's SYN and SYN-ACK happen on a "
			   "request socket, which no tracepoint shows.</p>\n");
	/* Clients with their servers, then ends with no traced peer. */
	for (i = 0; i < st->nends; i++) {
		const struct conn_end *e = &st->ends[i];
		const struct conn_end *peer = e->raw.peer_id ? find_end(st, e->raw.peer_id) : NULL;

		if (e->raw.role == SYNSCOPE_ROLE_CLIENT)
			ladder_svg(f, e, peer, st);
		else if (!peer)
			ladder_svg(f, NULL, e, st);
	}
	fprintf(f, "</section>\n");
}

static int html_summary(struct output *out, const struct run_summary *sum)
{
	struct html_state *st = state_of(out);
	FILE *f = out->f;
	unsigned int i;
	int err;

	if (!st)
		return -ENOMEM;
	head(f);
	summary_section(out, st, sum);
	listeners_section(f, st, sum);
	fprintf(f, "<section id=\"histograms\">\n<h2>Latencies</h2>\n");
	histogram_svg(f, "connect-histogram", "connect() to ESTABLISHED, established client ends",
		      &st->connect_us);
	histogram_svg(f, "wait-histogram", "Accept-queue wait, accepted server ends", &st->wait_us);
	fprintf(f, "</section>\n");
	if (st->queues.nlisteners) {
		fprintf(f, "<section id=\"queues\">\n<h2>Accept queues over time</h2>\n");
		for (i = 0; i < st->queues.nlisteners; i++)
			depth_svg(f, &st->queues.listeners[i]);
		fprintf(f, "</section>\n");
	}
	ladders_section(f, st);
	fprintf(f, "<footer><p class=\"meta\">Written by synscope at exit. Times are the kernel's "
		   "(CLOCK_BOOTTIME, shown relative to each ladder's first event).</p></footer>\n"
		   "</body>\n</html>\n");
	err = fflush(f) || ferror(f) ? -EIO : 0;
	queue_depth_free(&st->queues);
	free(st);
	out->state = NULL;
	return err;
}

const struct output_ops output_html_ops = {
	.end = html_end,
	.close = html_close,
	.listener = html_listener,
	.summary = html_summary,
};
