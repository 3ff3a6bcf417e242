// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * JSONL sink: one JSON object per line, built with json-c. Field names are
 * documented in README.md ("JSONL fields"); keep the two in step.
 * No kernel address is ever written: ids are per-run counters.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include "output.h"

/*
 * One object per role is built once and its values updated in place for
 * each record: json-c then allocates only when a field turns null or back,
 * instead of ~60 times a record (see `make bench`).
 */
struct jsonl_state {
	json_object *client;
	json_object *server;
};

#define KEY_FLAGS (JSON_C_OBJECT_KEY_IS_CONSTANT)

static void put(json_object *obj, const char *key, json_object *val)
{
	json_object_object_add_ex(obj, key, val, KEY_FLAGS);
}

static json_object *current(json_object *obj, const char *key, json_type type)
{
	json_object *v = NULL;

	if (json_object_object_get_ex(obj, key, &v) && v && json_object_is_type(v, type))
		return v;
	return NULL;
}

static void set_null(json_object *obj, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v) || v)
		put(obj, key, NULL);
}

/*
 * Every number synscope writes fits in an int64 (u32 sequence numbers,
 * boot-time ns, inode numbers, per-run ids), so one setter serves them all.
 */
static void set_int(json_object *obj, const char *key, long long v, bool valid)
{
	json_object *cur;

	if (!valid) {
		set_null(obj, key);
		return;
	}
	cur = current(obj, key, json_type_int);
	if (cur)
		json_object_set_int64(cur, v);
	else
		put(obj, key, json_object_new_int64(v));
}

static void set_str(json_object *obj, const char *key, const char *v)
{
	json_object *cur;

	if (!v) {
		set_null(obj, key);
		return;
	}
	/* json-c 0.16 leaks a string's own buffer when it is set to "": replace it instead. */
	cur = *v ? current(obj, key, json_type_string) : NULL;
	if (cur)
		json_object_set_string(cur, v);
	else
		put(obj, key, json_object_new_string(v));
}

static void set_bool(json_object *obj, const char *key, bool v)
{
	json_object *cur = current(obj, key, json_type_boolean);

	if (cur)
		json_object_set_boolean(cur, v);
	else
		put(obj, key, json_object_new_boolean(v));
}

static int write_object(struct output *out, json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);

	if (!s || fputs(s, out->f) < 0 || fputc('\n', out->f) < 0)
		return errno ? -errno : -EIO;
	out->lines++;
	return 0;
}

/* The object for this role, created on first use with the keys in README order. */
static json_object *template_for(struct output *out, bool client)
{
	struct jsonl_state *st = out->state;
	json_object **slot;

	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return NULL;
		out->state = st;
	}
	slot = client ? &st->client : &st->server;
	if (!*slot)
		*slot = json_object_new_object();
	return *slot;
}

static int jsonl_end(struct output *out, const struct conn_end *end)
{
	const struct synscope_handshake *r = &end->raw;
	bool client = r->role == SYNSCOPE_ROLE_CLIENT;
	bool established = r->outcome == SYNSCOPE_OUT_ESTABLISHED;
	bool has_caller = client || (r->flags & SYNSCOPE_F_ACCEPTED);
	bool returned = r->flags & SYNSCOPE_F_RETURNED;
	json_object *obj = template_for(out, client);
	char ts[40];
	long long us;

	if (!obj)
		return -ENOMEM;
	set_str(obj, "type", "handshake");
	set_int(obj, "id", r->id, true);
	set_int(obj, "peer", r->peer_id, r->peer_id != 0);
	set_str(obj, "role", role_name(r->role));
	set_str(obj, "outcome", outcome_name(r->outcome));
	set_str(obj, "errno", errno_name(r->err));
	set_str(obj, "family", end->family == AF_INET6 ? "ipv6" : "ipv4");
	set_bool(obj, "v4mapped", end->v4mapped);
	set_str(obj, "saddr", end->saddr);
	set_int(obj, "sport", r->sport, true);
	set_str(obj, "daddr", end->daddr);
	set_int(obj, "dport", r->dport, true);
	set_int(obj, "netns", r->netns, true);
	/* A failed client sent a SYN (its ISS is known) but received no SYN-ACK. */
	set_int(obj, "iss", r->iss, !(r->flags & SYNSCOPE_F_NO_SYN));
	set_int(obj, "irs", r->irs, established);
	set_int(obj, "retrans", r->retrans, true);
	set_int(obj, "pid", r->pid, has_caller);
	set_int(obj, "tid", r->tid, has_caller);
	set_str(obj, "comm", has_caller ? r->comm : NULL);
	set_int(obj, "fd", r->fd, has_caller && r->fd >= 0);
	if (client) {
		us = end_connect_us(end);
		set_int(obj, "connect_ret", r->call_ret, returned && (r->flags & SYNSCOPE_F_CALL_SEEN));
		set_int(obj, "connect_us", us, us >= 0);
	} else {
		us = end_accept_wait_us(end);
		set_bool(obj, "accepted", r->flags & SYNSCOPE_F_ACCEPTED);
		set_bool(obj, "closed_in_queue", r->flags & SYNSCOPE_F_CLOSED);
		set_int(obj, "accept_wait_us", us, us >= 0);
		set_int(obj, "acceptq", r->acceptq, true);
		set_int(obj, "backlog", r->backlog, true);
		set_int(obj, "backlog_req", r->backlog_req, r->backlog_req != 0);
		set_str(obj, "accept_hook", !(r->flags & SYNSCOPE_F_ACCEPTED) ? NULL
					    : (r->flags & SYNSCOPE_F_FEXIT) ? "fexit" : "syscall");
	}
	set_int(obj, "t_call_ns", r->ts_call, r->flags & SYNSCOPE_F_CALL_SEEN);
	set_int(obj, "t_syn_ns", r->ts_syn, r->ts_syn != 0);
	set_int(obj, "t_end_ns", r->ts_end, r->ts_end != 0);
	set_int(obj, "t_ret_ns", r->ts_ret, returned && r->ts_ret);
	set_str(obj, "ts", format_rfc3339(r->ts_end, out->boot_to_real_ns, ts, sizeof(ts)));
	set_int(obj, "ts_ns", r->ts_end, true);
	return write_object(out, obj);
}

static int jsonl_flush(struct output *out)
{
	struct jsonl_state *st = out->state;

	if (st) {
		json_object_put(st->client);
		json_object_put(st->server);
		free(st);
		out->state = NULL;
	}
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
	put(obj, "syn_retrans", json_object_new_uint64(sum->syn_retrans));
	put(obj, "nested_handled", kernel_count(sum, k->nested_handled));
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
	put(lost, "sock_map_full", kernel_count(sum, k->sock_map_full));
	put(lost, "call_map_full", kernel_count(sum, k->call_map_full));
	put(lost, "join_index_full", kernel_count(sum, k->index_map_full));
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
	json_object *obj = json_object_new_object();
	int err;

	if (!obj)
		return -ENOMEM;
	put(obj, "type", json_object_new_string("link"));
	put(obj, "client", json_object_new_uint64(link->client_id));
	put(obj, "server", json_object_new_uint64(link->server_id));
	err = write_object(out, obj);
	json_object_put(obj);
	return err;
}

static int jsonl_close(struct output *out, const struct conn_close *close)
{
	const struct synscope_close *r = &close->raw;
	json_object *obj = json_object_new_object(), *path = json_object_new_array();
	json_object *times = json_object_new_array();
	unsigned int i;
	char ts[40];
	long long us = close_lifetime_us(close);
	int err;

	if (!obj || !path || !times) {
		json_object_put(obj);
		json_object_put(path);
		json_object_put(times);
		return -ENOMEM;
	}
	for (i = 0; i < r->nstates; i++) {
		bool last = i == r->nstates - 1u;

		json_object_array_add(path, json_object_new_string(last ? close_final_state(close)
								     : tcp_state_name(r->states[i])));
		json_object_array_add(times, json_object_new_uint64(r->ts[i]));
	}
	put(obj, "type", json_object_new_string("close"));
	put(obj, "id", json_object_new_uint64(r->id));
	put(obj, "peer", r->peer_id ? json_object_new_uint64(r->peer_id) : NULL);
	put(obj, "role", json_object_new_string(role_name(r->role)));
	put(obj, "closer", json_object_new_string(close_kind_name(close->kind)));
	put(obj, "path", path);
	put(obj, "t_path_ns", times);
	put(obj, "time_wait", json_object_new_boolean(r->flags & SYNSCOPE_CF_TIME_WAIT));
	put(obj, "fin_received", json_object_new_boolean(r->flags & SYNSCOPE_CF_FIN_RECEIVED));
	put(obj, "rst_received", json_object_new_boolean(r->flags & SYNSCOPE_CF_RST_RECEIVED));
	put(obj, "truncated", json_object_new_boolean(r->flags & SYNSCOPE_CF_TRUNCATED));
	put(obj, "errno", errno_name(r->err) ? json_object_new_string(errno_name(r->err)) : NULL);
	put(obj, "lifetime_us", us >= 0 ? json_object_new_int64(us) : NULL);
	put(obj, "ts", json_object_new_string(format_rfc3339(r->ts[r->nstates - 1], out->boot_to_real_ns,
							     ts, sizeof(ts))));
	put(obj, "ts_ns", json_object_new_uint64(r->ts[r->nstates - 1]));
	err = write_object(out, obj);
	json_object_put(obj);
	return err;
}

const struct output_ops output_jsonl_ops = {
	.end = jsonl_end,
	.summary = jsonl_summary,
	.flush = jsonl_flush,
	.link = jsonl_link,
	.close = jsonl_close,
};
