// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * JSONL sink: one JSON object per line, built with json-c. Field names are
 * documented in README.md ("JSONL fields"); keep the two in step.
 * No kernel address is ever written: ids are per-run counters.
 */
#include <errno.h>
#include <json-c/json.h>
#include "output.h"

static json_object *u64_or_null(unsigned long long v, bool valid)
{
	return valid ? json_object_new_uint64(v) : NULL;
}

static json_object *int_or_null(long long v, bool valid)
{
	return valid ? json_object_new_int64(v) : NULL;
}

static int write_object(struct output *out, json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	int err = 0;

	if (!s || fputs(s, out->f) < 0 || fputc('\n', out->f) < 0)
		err = errno ? -errno : -EIO;
	else
		out->lines++;
	json_object_put(obj);
	return err;
}

static void add(json_object *obj, const char *key, json_object *val)
{
	json_object_object_add(obj, key, val);
}

static int jsonl_end(struct output *out, const struct conn_end *end)
{
	const struct synscope_handshake *r = &end->raw;
	bool client = r->role == SYNSCOPE_ROLE_CLIENT;
	bool established = r->outcome == SYNSCOPE_OUT_ESTABLISHED;
	bool has_caller = client || (r->flags & SYNSCOPE_F_ACCEPTED);
	bool returned = r->flags & SYNSCOPE_F_RETURNED;
	const char *err = errno_name(r->err);
	json_object *obj = json_object_new_object();
	char ts[40];
	long long us;

	if (!obj)
		return -ENOMEM;
	add(obj, "type", json_object_new_string("handshake"));
	add(obj, "id", json_object_new_uint64(r->id));
	add(obj, "peer", u64_or_null(r->peer_id, r->peer_id != 0));
	add(obj, "role", json_object_new_string(role_name(r->role)));
	add(obj, "outcome", json_object_new_string(outcome_name(r->outcome)));
	add(obj, "errno", err ? json_object_new_string(err) : NULL);
	add(obj, "family", json_object_new_string(end->family == AF_INET6 ? "ipv6" : "ipv4"));
	add(obj, "v4mapped", json_object_new_boolean(end->v4mapped));
	add(obj, "saddr", json_object_new_string(end->saddr));
	add(obj, "sport", json_object_new_int(r->sport));
	add(obj, "daddr", json_object_new_string(end->daddr));
	add(obj, "dport", json_object_new_int(r->dport));
	add(obj, "netns", json_object_new_uint64(r->netns));
	/* A failed client sent a SYN (its ISS is known) but received no SYN-ACK. */
	add(obj, "iss", u64_or_null(r->iss, !(r->flags & SYNSCOPE_F_NO_SYN)));
	add(obj, "irs", u64_or_null(r->irs, established));
	add(obj, "retrans", json_object_new_int64(r->retrans));
	add(obj, "pid", u64_or_null(r->pid, has_caller));
	add(obj, "tid", u64_or_null(r->tid, has_caller));
	add(obj, "comm", has_caller ? json_object_new_string(r->comm) : NULL);
	add(obj, "fd", int_or_null(r->fd, has_caller && r->fd >= 0));
	if (client) {
		us = end_connect_us(end);
		add(obj, "connect_ret", int_or_null(r->call_ret, returned && (r->flags & SYNSCOPE_F_CALL_SEEN)));
		add(obj, "connect_us", int_or_null(us, us >= 0));
	} else {
		us = end_accept_wait_us(end);
		add(obj, "accepted", json_object_new_boolean(r->flags & SYNSCOPE_F_ACCEPTED));
		add(obj, "closed_in_queue", json_object_new_boolean(r->flags & SYNSCOPE_F_CLOSED));
		add(obj, "accept_wait_us", int_or_null(us, us >= 0));
		add(obj, "acceptq", json_object_new_int64(r->acceptq));
		add(obj, "backlog", json_object_new_int64(r->backlog));
		add(obj, "backlog_req", u64_or_null(r->backlog_req, r->backlog_req != 0));
		add(obj, "accept_hook", (r->flags & SYNSCOPE_F_ACCEPTED)
					    ? json_object_new_string(r->flags & SYNSCOPE_F_FEXIT ? "fexit" : "syscall")
					    : NULL);
	}
	add(obj, "t_call_ns", u64_or_null(r->ts_call, r->flags & SYNSCOPE_F_CALL_SEEN));
	add(obj, "t_syn_ns", u64_or_null(r->ts_syn, r->ts_syn != 0));
	add(obj, "t_end_ns", u64_or_null(r->ts_end, r->ts_end != 0));
	add(obj, "t_ret_ns", u64_or_null(r->ts_ret, returned && r->ts_ret));
	add(obj, "ts", json_object_new_string(format_rfc3339(r->ts_end, out->boot_to_real_ns, ts, sizeof(ts))));
	add(obj, "ts_ns", json_object_new_uint64(r->ts_end));
	return write_object(out, obj);
}

static int jsonl_summary(struct output *out, const struct run_summary *sum)
{
	const struct synscope_stats *k = &sum->kernel;
	json_object *obj = json_object_new_object();
	json_object *outcomes = json_object_new_object();
	json_object *lost = json_object_new_object();
	json_object *listeners = json_object_new_array();
	unsigned int i;
	int o;

	if (!obj || !outcomes || !lost || !listeners) {
		json_object_put(obj);
		json_object_put(outcomes);
		json_object_put(lost);
		json_object_put(listeners);
		return -ENOMEM;
	}
	add(obj, "type", json_object_new_string("stats"));
	add(obj, "ends", json_object_new_uint64(sum->ends));
	add(obj, "clients", json_object_new_uint64(sum->clients));
	add(obj, "servers", json_object_new_uint64(sum->servers));
	add(obj, "joined", json_object_new_uint64(sum->joined));
	add(obj, "not_accepted", json_object_new_uint64(sum->not_accepted));
	for (o = SYNSCOPE_OUT_ESTABLISHED; o <= SYNSCOPE_OUT_ABANDONED; o++)
		add(outcomes, outcome_name(o), json_object_new_uint64(sum->by_outcome[o]));
	add(obj, "outcomes", outcomes);
	for (i = 0; i < sum->nlisteners; i++) {
		const struct listener_summary *l = &sum->listeners[i];
		json_object *lo = json_object_new_object();

		add(lo, "port", json_object_new_int(l->port));
		add(lo, "netns", json_object_new_uint64(l->netns));
		add(lo, "handshakes", json_object_new_uint64(l->completed));
		add(lo, "accepted", json_object_new_uint64(l->accepted));
		add(lo, "not_accepted", json_object_new_uint64(l->not_accepted));
		add(lo, "max_acceptq", json_object_new_int64(l->max_acceptq));
		add(lo, "backlog", json_object_new_int64(l->backlog));
		add(lo, "max_accept_wait_us", json_object_new_uint64(l->max_wait_us));
		add(lo, "synack_retrans", json_object_new_uint64(l->synack_retrans));
		json_object_array_add(listeners, lo);
	}
	add(obj, "listeners", listeners);
	add(lost, "total", json_object_new_uint64(summary_kernel_losses(sum)));
	add(lost, "ringbuf_full", json_object_new_uint64(k->ringbuf_drops));
	add(lost, "sock_map_full", json_object_new_uint64(k->sock_map_full));
	add(lost, "call_map_full", json_object_new_uint64(k->call_map_full));
	add(lost, "join_index_full", json_object_new_uint64(k->index_map_full));
	add(lost, "listener_map_full", json_object_new_uint64(k->listener_map_full));
	add(lost, "tgid_map_full", json_object_new_uint64(k->tgid_map_full));
	add(lost, "undecodable", json_object_new_uint64(sum->decode_errors));
	add(lost, "late_joins", json_object_new_uint64(sum->late_links));
	add(obj, "lost", lost);
	return write_object(out, obj);
}

const struct output_ops output_jsonl_ops = {
	.end = jsonl_end,
	.summary = jsonl_summary,
};
