// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * JSONL sink: one JSON object per line, written by hand into the output
 * buffer (the exit stats record with json-c). Field names are documented in
 * README.md ("JSONL fields"); keep the two in step.
 * No kernel address is ever written: ids are per-run counters.
 */
#include <errno.h>
#include <json-c/json.h>
#include <string.h>
#include "json_writer.h"
#include "output.h"

#define KEY_FLAGS (JSON_C_OBJECT_KEY_IS_CONSTANT)

static void put(json_object *obj, const char *key, json_object *val)
{
	json_object_object_add_ex(obj, key, val, KEY_FLAGS);
}

/* The stats record, once per run: json-c, through stdio after the held records. */
static int write_object(struct output *out, json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);

	if (!s || fputs(s, out->f) < 0 || fputc('\n', out->f) < 0)
		return errno ? -errno : -EIO;
	out->lines++;
	return 0;
}

/*
 * The per-record types are written by hand straight into the output buffer
 * (json-c cost ~3.5 us a record, the ring buffer overflowed at 150k records/s).
 * Every number is an int64 as json-c printed it: u64 ids and times of the
 * handshake record through a signed cast, those of the close record unsigned.
 * Keys and their order are README's; tests/unit/test_output_jsonl.c parses
 * every line back with json-c and tests/fuzz/fuzz_jsonl.c feeds hostile input.
 */
static char *int_or_null(char *p, long long v, bool valid)
{
	return valid ? jw_i64(p, v) : JW_LIT(p, "null");
}

static int jsonl_end(struct output *out, const struct conn_end *end)
{
	const struct synscope_handshake *r = &end->raw;
	bool client = r->role == SYNSCOPE_ROLE_CLIENT;
	bool established = r->outcome == SYNSCOPE_OUT_ESTABLISHED;
	bool has_caller = end_caller_known(r);
	bool returned = r->flags & SYNSCOPE_F_RETURNED;
	struct outbuf *ob = output_buf(out);
	long long us;
	char *p;

	if (!ob)
		return -ENOMEM;
	p = outbuf_reserve(ob);
	p = JW_LIT(p, "{\"type\":\"handshake\",\"id\":");
	p = jw_i64(p, r->id);
	p = JW_LIT(p, ",\"peer\":");
	p = int_or_null(p, r->peer_id, r->peer_id != 0);
	p = JW_LIT(p, ",\"role\":");
	p = jw_cstr_or_null(p, role_name(r->role));
	p = JW_LIT(p, ",\"outcome\":");
	p = jw_cstr_or_null(p, r->outcome ? outcome_name(r->outcome) : NULL);
	p = JW_LIT(p, ",\"errno\":");
	p = jw_cstr_or_null(p, errno_name(r->err));
	if (r->flags & SYNSCOPE_F_IN_FLIGHT) {
		p = JW_LIT(p, ",\"in_flight\":");
		p = jw_cstr_or_null(p, end_in_flight_state(r));
	}
	if (r->flags & SYNSCOPE_F_RECOVERED)
		p = JW_LIT(p, ",\"recovered\":true");
	p = end->family == AF_INET6 ? JW_LIT(p, ",\"family\":\"ipv6\",\"v4mapped\":")
				    : JW_LIT(p, ",\"family\":\"ipv4\",\"v4mapped\":");
	p = jw_bool(p, end->v4mapped);
	p = JW_LIT(p, ",\"saddr\":");
	p = jw_str(p, end->saddr, strnlen(end->saddr, sizeof(end->saddr)));
	p = JW_LIT(p, ",\"sport\":");
	p = jw_u64(p, r->sport);
	p = JW_LIT(p, ",\"daddr\":");
	p = jw_str(p, end->daddr, strnlen(end->daddr, sizeof(end->daddr)));
	p = JW_LIT(p, ",\"dport\":");
	p = jw_u64(p, r->dport);
	p = JW_LIT(p, ",\"netns\":");
	p = jw_i64(p, r->netns);
	/* A failed client sent a SYN (its ISS is known) but received no SYN-ACK. */
	p = JW_LIT(p, ",\"iss\":");
	p = int_or_null(p, r->iss, !(r->flags & SYNSCOPE_F_NO_SYN));
	p = JW_LIT(p, ",\"irs\":");
	p = int_or_null(p, r->irs, established);
	p = JW_LIT(p, ",\"retrans\":");
	p = jw_u64(p, r->retrans);
	p = JW_LIT(p, ",\"pid\":");
	p = int_or_null(p, r->pid, has_caller);
	p = JW_LIT(p, ",\"tid\":");
	p = int_or_null(p, r->tid, has_caller);
	p = JW_LIT(p, ",\"comm\":");
	/* The kernel's comm need not end in a NUL: never read past its 16 bytes. */
	p = has_caller ? jw_str(p, r->comm, strnlen(r->comm, sizeof(r->comm))) : JW_LIT(p, "null");
	p = JW_LIT(p, ",\"fd\":");
	p = int_or_null(p, r->fd, has_caller && r->fd >= 0);
	if (client) {
		us = end_connect_us(end);
		p = JW_LIT(p, ",\"connect_ret\":");
		p = int_or_null(p, r->call_ret, returned && (r->flags & SYNSCOPE_F_CALL_SEEN));
		p = JW_LIT(p, ",\"connect_us\":");
		p = int_or_null(p, us, us >= 0);
	} else {
		us = end_accept_wait_us(end);
		p = JW_LIT(p, ",\"accepted\":");
		p = jw_bool(p, r->flags & SYNSCOPE_F_ACCEPTED);
		p = JW_LIT(p, ",\"closed_in_queue\":");
		p = jw_bool(p, r->flags & SYNSCOPE_F_CLOSED);
		p = JW_LIT(p, ",\"accept_wait_us\":");
		p = int_or_null(p, us, us >= 0);
		p = JW_LIT(p, ",\"acceptq\":");
		p = jw_u64(p, r->acceptq);
		p = JW_LIT(p, ",\"backlog\":");
		p = jw_u64(p, r->backlog);
		p = JW_LIT(p, ",\"backlog_req\":");
		p = int_or_null(p, r->backlog_req, r->backlog_req != 0);
		p = JW_LIT(p, ",\"accept_hook\":");
		p = jw_cstr_or_null(p, accept_hook_name(r));
	}
	p = JW_LIT(p, ",\"t_call_ns\":");
	p = int_or_null(p, r->ts_call, r->flags & SYNSCOPE_F_CALL_SEEN);
	p = JW_LIT(p, ",\"t_syn_ns\":");
	p = int_or_null(p, r->ts_syn, r->ts_syn != 0);
	p = JW_LIT(p, ",\"t_end_ns\":");
	p = int_or_null(p, r->ts_end, r->ts_end != 0);
	p = JW_LIT(p, ",\"t_ret_ns\":");
	p = int_or_null(p, r->ts_ret, returned && r->ts_ret);
	p = JW_LIT(p, ",\"ts\":\"");
	p = rfc3339_cached(&out->when, end_time_ns(r), out->boot_to_real_ns, p);
	p = JW_LIT(p, "\",\"ts_ns\":");
	p = jw_i64(p, end_time_ns(r));
	p = JW_LIT(p, "}\n");
	output_commit_line(out, p);
	return 0;
}

/* A kernel-side count, or null when the run has none (a capture cut off before its trailer). */
static json_object *kernel_count(const struct run_summary *sum, unsigned long long v)
{
	return sum->kernel_valid ? json_object_new_uint64(v) : NULL;
}

static int jsonl_summary(struct output *out, const struct run_summary *sum)
{
	const struct synscope_stats *k = &sum->kernel;
	json_object *obj = json_object_new_object();
	json_object *outcomes = json_object_new_object();
	json_object *lost = json_object_new_object();
	json_object *listeners = json_object_new_array();
	json_object *destinations = json_object_new_array();
	unsigned int i;
	int o, err;

	if (!obj || !outcomes || !lost || !listeners || !destinations) {
		json_object_put(obj);
		json_object_put(outcomes);
		json_object_put(lost);
		json_object_put(listeners);
		json_object_put(destinations);
		return -ENOMEM;
	}
	put(obj, "type", json_object_new_string("stats"));
	put(obj, "ends", json_object_new_uint64(sum->ends));
	put(obj, "clients", json_object_new_uint64(sum->clients));
	put(obj, "servers", json_object_new_uint64(sum->servers));
	put(obj, "joined", json_object_new_uint64(sum->joined));
	put(obj, "not_accepted", json_object_new_uint64(sum->not_accepted));
	put(obj, "recovered", json_object_new_uint64(sum->recovered));
	put(obj, "syn_retrans", json_object_new_uint64(sum->syn_retrans));
	put(obj, "nested_handled", kernel_count(sum, k->nested_handled));
	put(obj, "in_flight", sum->in_flight_valid ? json_object_new_uint64(sum->in_flight) : NULL);
	put(obj, "closes_open", sum->closes_open_valid ? json_object_new_uint64(sum->closes_open) : NULL);
	for (o = SYNSCOPE_OUT_ESTABLISHED; o <= SYNSCOPE_OUT_ABANDONED; o++)
		put(outcomes, outcome_name(o), json_object_new_uint64(sum->by_outcome[o]));
	put(obj, "outcomes", outcomes);
	for (i = 0; i < sum->nlisteners; i++) {
		const struct listener_summary *l = &sum->listeners[i];
		json_object *lo = json_object_new_object();

		put(lo, "port", json_object_new_int(l->port));
		put(lo, "netns", json_object_new_uint64(l->netns));
		put(lo, "handshakes", json_object_new_uint64(l->completed));
		put(lo, "accepted", json_object_new_uint64(l->accepted));
		put(lo, "not_accepted", json_object_new_uint64(l->not_accepted));
		put(lo, "max_acceptq", json_object_new_int64(l->max_acceptq));
		put(lo, "backlog", json_object_new_int64(l->backlog));
		put(lo, "max_accept_wait_us", json_object_new_uint64(l->max_wait_us));
		put(lo, "synack_retrans", json_object_new_uint64(l->synack_retrans));
		put(lo, "closed_in_queue", json_object_new_uint64(l->closed_in_queue));
		put(lo, "accept_wait_p50_us", json_object_new_uint64(hist_percentile(&l->wait_us, 50)));
		put(lo, "accept_wait_p99_us", json_object_new_uint64(hist_percentile(&l->wait_us, 99)));
		json_object_array_add(listeners, lo);
	}
	put(obj, "listeners", listeners);
	for (i = 0; i < sum->ndestinations; i++) {
		const struct destination_summary *d = &sum->destinations[i];
		json_object *dobj = json_object_new_object(), *douts = json_object_new_object();

		put(dobj, "daddr", json_object_new_string(d->addr));
		put(dobj, "dport", json_object_new_int(d->port));
		for (o = SYNSCOPE_OUT_ESTABLISHED; o <= SYNSCOPE_OUT_ABANDONED; o++)
			put(douts, outcome_name(o), json_object_new_uint64(d->by_outcome[o]));
		put(dobj, "outcomes", douts);
		put(dobj, "syn_retrans", json_object_new_uint64(d->syn_retrans));
		put(dobj, "connect_p50_us", d->connect_us.count ? json_object_new_uint64(hist_percentile(&d->connect_us, 50)) : NULL);
		put(dobj, "connect_p99_us", d->connect_us.count ? json_object_new_uint64(hist_percentile(&d->connect_us, 99)) : NULL);
		json_object_array_add(destinations, dobj);
	}
	put(obj, "destinations", destinations);
	if (sum->netstat.valid) {
		json_object *ns = json_object_new_object();

		put(ns, "listen_overflows", json_object_new_uint64(sum->netstat.listen_overflows));
		put(ns, "listen_drops", json_object_new_uint64(sum->netstat.listen_drops));
		put(ns, "syncookies_sent", json_object_new_uint64(sum->netstat.syncookies_sent));
		put(obj, "netstat", ns);
	} else {
		put(obj, "netstat", NULL);
	}
	put(lost, "total", kernel_count(sum, summary_kernel_losses(sum)));
	put(lost, "ringbuf_full", kernel_count(sum, k->ringbuf_drops));
	put(lost, "ringbuf_full_joins", kernel_count(sum, k->link_drops));
	put(lost, "sock_map_full", kernel_count(sum, k->sock_map_full));
	put(lost, "sock_stale", kernel_count(sum, k->sock_stale));
	put(lost, "close_storage_full", kernel_count(sum, k->close_storage_full));
	put(lost, "close_unseen", kernel_count(sum, k->close_unseen));
	put(lost, "handshake_unseen", kernel_count(sum, k->handshake_unseen));
	put(lost, "metrics_map_full", kernel_count(sum, k->metrics_map_full));
	put(lost, "call_map_full", kernel_count(sum, k->call_map_full));
	put(lost, "join_index_full", kernel_count(sum, summary_join_index_full(sum)));
	put(lost, "listener_map_full", kernel_count(sum, k->listener_map_full));
	put(lost, "tgid_map_full", kernel_count(sum, k->tgid_map_full));
	put(lost, "prog_skipped", kernel_count(sum, sum->prog_misses));
	put(lost, "undecodable", json_object_new_uint64(sum->decode_errors));
	put(lost, "late_joins", json_object_new_uint64(sum->late_links));
	if (sum->closes) {
		json_object *cl = json_object_new_object();

		put(cl, "total", json_object_new_uint64(sum->closes));
		for (o = CLOSE_ACTIVE; o <= CLOSE_UNKNOWN; o++)
			put(cl, close_kind_name(o), json_object_new_uint64(sum->close_kinds[o]));
		put(cl, "time_wait_clients", json_object_new_uint64(sum->time_waits[0]));
		put(cl, "time_wait_servers", json_object_new_uint64(sum->time_waits[1]));
		put(obj, "closes", cl);
	}
	put(obj, "lost", lost);
	err = write_object(out, obj);
	json_object_put(obj);
	return err;
}

static int jsonl_link(struct output *out, const struct conn_link *link)
{
	struct outbuf *ob = output_buf(out);
	char *p;

	if (!ob)
		return -ENOMEM;
	p = outbuf_reserve(ob);
	p = JW_LIT(p, "{\"type\":\"link\",\"client\":");
	p = jw_u64(p, link->client_id);
	p = JW_LIT(p, ",\"server\":");
	p = jw_u64(p, link->server_id);
	p = JW_LIT(p, "}\n");
	output_commit_line(out, p);
	return 0;
}

static int jsonl_close(struct output *out, const struct conn_close *close)
{
	const struct synscope_close *r = &close->raw;
	struct outbuf *ob = output_buf(out);
	unsigned int i, n = r->nstates;
	long long us = close_lifetime_us(close);
	char *p;

	if (!ob)
		return -ENOMEM;
	p = outbuf_reserve(ob);
	p = JW_LIT(p, "{\"type\":\"close\",\"id\":");
	p = jw_u64(p, r->id);
	p = JW_LIT(p, ",\"peer\":");
	p = r->peer_id ? jw_u64(p, r->peer_id) : JW_LIT(p, "null");
	p = JW_LIT(p, ",\"role\":");
	p = jw_cstr_or_null(p, role_name(r->role));
	p = JW_LIT(p, ",\"closer\":");
	p = jw_cstr_or_null(p, close_kind_name(close->kind));
	p = JW_LIT(p, ",\"path\":[");
	for (i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		p = jw_cstr_or_null(p, i == n - 1 ? close_final_state(close)
						    : tcp_state_name(r->states[i]));
	}
	p = JW_LIT(p, "],\"t_path_ns\":[");
	for (i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		p = jw_u64(p, r->ts[i]);
	}
	p = JW_LIT(p, "],\"time_wait\":");
	p = jw_bool(p, r->flags & SYNSCOPE_CF_TIME_WAIT);
	p = JW_LIT(p, ",\"fin_received\":");
	p = jw_bool(p, r->flags & SYNSCOPE_CF_FIN_RECEIVED);
	p = JW_LIT(p, ",\"rst_received\":");
	p = jw_bool(p, r->flags & SYNSCOPE_CF_RST_RECEIVED);
	p = JW_LIT(p, ",\"truncated\":");
	p = jw_bool(p, r->flags & SYNSCOPE_CF_TRUNCATED);
	p = JW_LIT(p, ",\"states_unreported\":");
	p = jw_bool(p, r->flags & SYNSCOPE_CF_STATES_UNREPORTED);
	p = JW_LIT(p, ",\"recovered\":");
	p = jw_bool(p, r->flags & SYNSCOPE_CF_RECOVERED);
	p = JW_LIT(p, ",\"errno\":");
	p = jw_cstr_or_null(p, errno_name(r->err));
	p = JW_LIT(p, ",\"lifetime_us\":");
	p = int_or_null(p, us, us >= 0);
	p = JW_LIT(p, ",\"ts\":\"");
	p = rfc3339_cached(&out->when, r->ts[n - 1], out->boot_to_real_ns, p);
	p = JW_LIT(p, "\",\"ts_ns\":");
	p = jw_u64(p, r->ts[n - 1]);
	p = JW_LIT(p, "}\n");
	output_commit_line(out, p);
	return 0;
}

static int jsonl_listener(struct output *out, const struct listener_state *l,
			  unsigned long long boot_ns)
{
	struct outbuf *ob = output_buf(out);
	char *p;

	if (!ob)
		return -ENOMEM;
	p = outbuf_reserve(ob);
	p = JW_LIT(p, "{\"type\":\"listener\",\"netns\":");
	p = jw_u64(p, l->q.netns);
	p = JW_LIT(p, ",\"port\":");
	p = jw_u64(p, l->q.port);
	p = JW_LIT(p, ",\"address\":");
	p = jw_cstr_or_null(p, l->q.address);
	p = JW_LIT(p, ",\"acceptq\":");
	p = jw_u64(p, l->q.acceptq);
	p = JW_LIT(p, ",\"backlog\":");
	p = jw_u64(p, l->q.backlog);
	p = JW_LIT(p, ",\"synq\":");
	p = jw_u64(p, l->q.synq);
	p = JW_LIT(p, ",\"drops\":");
	p = jw_u64(p, l->q.drops);
	p = JW_LIT(p, ",\"overflows\":");
	p = l->overflows_valid ? jw_u64(p, l->overflows) : JW_LIT(p, "null");
	p = JW_LIT(p, ",\"synack_retrans\":");
	p = jw_u64(p, l->synack_retrans);
	p = JW_LIT(p, ",\"ts\":\"");
	p = rfc3339_cached(&out->when, boot_ns, out->boot_to_real_ns, p);
	p = JW_LIT(p, "\",\"ts_ns\":");
	p = jw_u64(p, boot_ns);
	p = JW_LIT(p, "}\n");
	output_commit_line(out, p);
	return 0;
}

const struct output_ops output_jsonl_ops = {
	.end = jsonl_end,
	.summary = jsonl_summary,
	.link = jsonl_link,
	.close = jsonl_close,
	.listener = jsonl_listener,
};
