// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --metrics: the Prometheus text exposition format (version 0.0.4) of a
 * snapshot of the kernel side's counters (metrics_write()); no libbpf, so
 * the unit tests check it on made-up snapshots.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "decode.h"
#include "metrics.h"

static void write_histogram(FILE *f, const char *name, const char *labels,
			    const struct synscope_hist *h)
{
	unsigned long long cum = 0;
	int i;

	for (i = 0; i < SYNSCOPE_HIST_BUCKETS - 1; i++) {
		cum += h->buckets[i];
		fprintf(f, "%s_bucket{%s%sle=\"%.9g\"} %llu\n", name, labels, *labels ? "," : "",
			ldexp(1e-6, i), cum);
	}
	cum += h->buckets[SYNSCOPE_HIST_BUCKETS - 1];
	fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "", cum);
	fprintf(f, "%s_sum{%s} %.9f\n", name, labels, h->sum_ns / 1e9);
	fprintf(f, "%s_count{%s} %llu\n", name, labels, cum);
}

/* A label value as the exposition format wants it: backslash, quote and newline escaped. */
static void put_label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void write_lost(FILE *f, const char *reason, unsigned long long v)
{
	fprintf(f, "synscope_events_lost_total{reason=\"%s\"} %llu\n", reason, v);
}

/* The labels of a listener: netns, port and the address its sockets are bound to. */
static void listener_labels(char *buf, size_t len, const struct metrics_snapshot *s,
			    unsigned long long netns, unsigned int port)
{
	const char *address = "";
	size_t i;

	for (i = 0; i < s->nqueues; i++)
		if (s->queues[i].netns == netns && s->queues[i].port == port)
			address = s->queues[i].address;
	snprintf(buf, len, "netns=\"%llu\",port=\"%u\",address=\"%s\"", netns, port, address);
}

static void write_gauge_family(FILE *f, const struct metrics_snapshot *s, const char *name,
			       const char *type, const char *help, size_t field)
{
	char labels[160];
	size_t i;

	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (i = 0; i < s->nqueues; i++) {
		listener_labels(labels, sizeof(labels), s, s->queues[i].netns, s->queues[i].port);
		fprintf(f, "%s{%s} %llu\n", name, labels,
			*(const unsigned long long *)((const char *)&s->queues[i] + field));
	}
}

/* A counter of the kernel hooks' listener entries: field is its offset in synscope_listener_metrics. */
static void write_listener_counter(FILE *f, const struct metrics_snapshot *s, const char *name,
				   const char *help, size_t field)
{
	char labels[160];
	size_t i;

	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (i = 0; i < s->nlisteners; i++) {
		listener_labels(labels, sizeof(labels), s, s->listeners[i].key.netns,
				s->listeners[i].key.port);
		fprintf(f, "%s{%s} %llu\n", name, labels,
			*(const unsigned long long *)((const char *)&s->listeners[i].m + field));
	}
}

/* The listeners' queues at scrape time (iter/tcp, synscope's namespace). */
static void write_queues(FILE *f, const struct metrics_snapshot *s)
{
	write_gauge_family(f, s, "synscope_accept_queue_length", "gauge",
			   "Children waiting for accept(): sk_ack_backlog, at scrape time.",
			   offsetof(struct listener_queues, acceptq));
	write_gauge_family(f, s, "synscope_accept_queue_backlog", "gauge",
			   "Accept-queue limit: sk_max_ack_backlog = min(listen() backlog, somaxconn).",
			   offsetof(struct listener_queues, backlog));
	write_gauge_family(f, s, "synscope_syn_queue_length", "gauge",
			   "Request sockets in the SYN queue: icsk_accept_queue.qlen, at scrape time.",
			   offsetof(struct listener_queues, synq));
	write_gauge_family(f, s, "synscope_listen_drops_total", "counter",
			   "Every drop the listener counted, tcp_listendrop()'s and others: sk_drops (ss -ltnm's d).",
			   offsetof(struct listener_queues, drops));
}

int metrics_write(FILE *f, const struct metrics_snapshot *s)
{
	const struct synscope_stats *k = &s->stats;
	static const char *roles[] = {[SYNSCOPE_ROLE_CLIENT] = "client", [SYNSCOPE_ROLE_SERVER] = "server"};
	char labels[160];
	size_t i;
	int r, o;

	fputs("# HELP synscope_handshakes_total TCP connection ends whose handshake record was "
	      "complete, by role and outcome.\n# TYPE synscope_handshakes_total counter\n", f);
	for (r = SYNSCOPE_ROLE_CLIENT; r <= SYNSCOPE_ROLE_SERVER; r++)
		for (o = SYNSCOPE_OUT_ESTABLISHED; o <= SYNSCOPE_OUT_ABANDONED; o++)
			fprintf(f, "synscope_handshakes_total{role=\"%s\",outcome=\"%s\"} %llu\n",
				roles[r], outcome_name(o), (unsigned long long)s->m.handshakes[r][o]);

	fputs("# HELP synscope_recovered_handshakes_total Connection ends whose handshake the state "
	      "tracepoint never reported, read from the socket when connect() returned 0 or accept() "
	      "returned it (the JSONL's recovered), by role.\n"
	      "# TYPE synscope_recovered_handshakes_total counter\n", f);
	for (r = SYNSCOPE_ROLE_CLIENT; r <= SYNSCOPE_ROLE_SERVER; r++)
		fprintf(f, "synscope_recovered_handshakes_total{role=\"%s\"} %llu\n", roles[r],
			(unsigned long long)s->m.recovered[r]);

	fputs("# HELP synscope_connect_duration_seconds Client connect() entry (or SYN_SENT) to "
	      "ESTABLISHED or failure, by outcome.\n"
	      "# TYPE synscope_connect_duration_seconds histogram\n", f);
	for (o = SYNSCOPE_OUT_ESTABLISHED; o <= SYNSCOPE_OUT_ABANDONED; o++) {
		snprintf(labels, sizeof(labels), "outcome=\"%s\"", outcome_name(o));
		write_histogram(f, "synscope_connect_duration_seconds", labels, &s->m.connect[o]);
	}

	fputs("# HELP synscope_accept_queue_wait_seconds Server end's ESTABLISHED to the accept() "
	      "that returned it, by listener.\n"
	      "# TYPE synscope_accept_queue_wait_seconds histogram\n", f);
	for (i = 0; i < s->nlisteners; i++) {
		listener_labels(labels, sizeof(labels), s, s->listeners[i].key.netns,
				s->listeners[i].key.port);
		write_histogram(f, "synscope_accept_queue_wait_seconds", labels,
				&s->listeners[i].m.accept_wait);
	}
	write_listener_counter(f, s, "synscope_synack_retransmits_total",
			       "SYN-ACKs the listener retransmitted (tcp:tcp_retransmit_synack).",
			       offsetof(struct synscope_listener_metrics, synack_retrans));
	if (s->overflows_per_listener)
		write_listener_counter(f, s, "synscope_listen_overflows_total",
				       "Third ACKs dropped on a full accept queue (skb:kfree_skb, "
				       "TCP_LISTEN_OVERFLOW).",
				       offsetof(struct synscope_listener_metrics, overflows));
	write_queues(f, s);
	if (s->netstat_valid) {
		fprintf(f, "# HELP synscope_netns_listen_overflows_total TcpExt ListenOverflows of "
			   "synscope's network namespace (SYNs and third ACKs dropped on a full accept "
			   "queue).\n# TYPE synscope_netns_listen_overflows_total counter\n"
			   "synscope_netns_listen_overflows_total{netns=\"%llu\"} %llu\n",
			s->netns, s->listen_overflows);
		fprintf(f, "# HELP synscope_syncookies_sent_total TcpExt SyncookiesSent of synscope's "
			   "network namespace.\n# TYPE synscope_syncookies_sent_total counter\n"
			   "synscope_syncookies_sent_total{netns=\"%llu\"} %llu\n",
			s->netns, s->syncookies_sent);
	}

	fputs("# HELP synscope_events_lost_total Events synscope lost, by reason (as the JSONL "
	      "stats' lost object).\n# TYPE synscope_events_lost_total counter\n", f);
	write_lost(f, "ringbuf_full", k->ringbuf_drops);
	write_lost(f, "ringbuf_full_joins", k->link_drops);
	write_lost(f, "sock_map_full", k->sock_map_full);
	write_lost(f, "sock_stale", k->sock_stale);
	write_lost(f, "close_storage_full", k->close_storage_full);
	write_lost(f, "close_unseen", k->close_unseen);
	write_lost(f, "handshake_unseen", k->handshake_unseen);
	write_lost(f, "call_map_full", k->call_map_full);
	write_lost(f, "join_index_full", k->index_map_full + s->joins_evicted);
	write_lost(f, "listener_map_full", k->listener_map_full);
	write_lost(f, "tgid_map_full", k->tgid_map_full);
	write_lost(f, "metrics_map_full", k->metrics_map_full);
	write_lost(f, "prog_skipped", s->prog_skipped);

	fputs("# HELP synscope_build_info synscope's version, the accept path in use and the "
	      "kernel.\n# TYPE synscope_build_info gauge\n", f);
	fprintf(f, "synscope_build_info{version=\"%s\",accept_hook=\"%s\",kernel=\"", s->version,
		s->accept_hook);
	put_label_value(f, s->kernel); /* uname -r is the one value from outside */
	fprintf(f, "\",overflow_source=\"%s\"} 1\n",
		s->overflows_per_listener ? "kfree_skb" : "netstat");
	return ferror(f) ? -EIO : 0;
}

