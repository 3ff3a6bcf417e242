// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Trace-event sink (-f trace-event): the Trace Event Format (JSON object
 * form, {"traceEvents":[...]}) that ui.perfetto.dev and chrome://tracing
 * open. Each event is built as a json-c object and written as one line.
 *
 *  - a process track per process that called connect() or accept()
 *    ("M" process_name / thread_name), named by comm and pid;
 *  - each connection end an async slice ("b" / "e", cat "tcp", id2.local =
 *    the end's id in hex) on its caller's process, from SYN_SENT (client)
 *    or the child's creation (server) to the end of the handshake (client:
 *    connect()'s return; server: accept()'s), or with --close to its
 *    close; state changes are async instants ("n") on it;
 *  - each traced connect() and accept() a complete slice ("X") on the
 *    caller's thread; one flow (bind_id, flow_out / flow_in) runs
 *    connect() -> client end -> server end -> accept()'s return (a 0-us
 *    slice "accept() returned" nested at its end: the accept() may have
 *    blocked since before the connection existed);
 *  - per listener, counters ("C"): the accept-queue depth (queue_depth.h)
 *    and the SYN-queue depth at each listener record (-i, exit).
 *
 * Times ("ts", "dur") are microseconds of CLOCK_BOOTTIME with ns
 * precision. Ends whose caller is unknown (never accepted, accepted by an
 * unseen caller) and the listeners' counters go to two pseudo processes
 * whose pids lie above the kernel's PID_MAX_LIMIT (4194304): no real
 * process has them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <json-c/json.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "decode.h"
#include "output.h"
#include "queue_depth.h"

#define PID_LISTENERS 4194305 /* the listeners' counters */
#define PID_UNOWNED 4194306   /* ends no traced call owns */

/* An end whose slice stays open until its close record (--close). */
struct open_end {
	__u64 id;
	__u32 pid, tid;
	char name[128];
	char id2[24];
};

struct trace_event_state {
	bool started;
	unsigned long long events;
	unsigned long long last_ts;  /* latest boot-time ns written: open slices end here */
	void *threads;               /* tsearch set of (pid << 32 | tid) already named */
	void *open;                  /* tsearch: struct open_end *, by id */
	void *early_closes;          /* tsearch: struct conn_close * that came before their end */
	unsigned long long closes_without_end;
	struct queue_depth queues;
};

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

static struct trace_event_state *state_of(struct output *out)
{
	if (!out->state)
		out->state = calloc(1, sizeof(struct trace_event_state));
	return out->state;
}

/* Writes one event; the array's opening bracket comes with the first. */
static int put_event(struct output *out, struct trace_event_state *st, json_object *ev)
{
	const char *s = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);

	if (!st->started) {
		fputs("{\"traceEvents\":[\n", out->f);
		st->started = true;
	} else {
		fputs(",\n", out->f);
	}
	fputs(s, out->f);
	st->events++;
	json_object_put(ev);
	return ferror(out->f) ? -EIO : 0;
}

/* Boot-time ns as trace-event microseconds, written exactly ("12.345678" -> 12.345 678 ms). */
static json_object *us_value(unsigned long long ns)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu.%03llu", ns / 1000, ns % 1000);
	return json_object_new_double_s((double)ns / 1000.0, buf);
}

static json_object *event(const char *ph, const char *name, __u32 pid, __u32 tid)
{
	json_object *ev = json_object_new_object();

	json_object_object_add(ev, "ph", json_object_new_string(ph));
	json_object_object_add(ev, "name", json_object_new_string(name));
	json_object_object_add(ev, "pid", json_object_new_int64(pid));
	json_object_object_add(ev, "tid", json_object_new_int64(tid));
	return ev;
}

static void set_ts(struct trace_event_state *st, json_object *ev, unsigned long long ns)
{
	json_object_object_add(ev, "ts", us_value(ns));
	if (ns > st->last_ts)
		st->last_ts = ns;
}

static json_object *args_of(json_object *ev)
{
	json_object *args;

	if (json_object_object_get_ex(ev, "args", &args))
		return args;
	args = json_object_new_object();
	json_object_object_add(ev, "args", args);
	return args;
}

/* "M" events naming a process and a thread, the first time they appear. */
static int name_thread(struct output *out, struct trace_event_state *st, __u32 pid, __u32 tid,
		       const char *comm)
{
	__u64 key = (__u64)pid << 32 | tid, *k;
	char name[64];
	json_object *ev;
	int err = 0;

	if (tfind(&key, &st->threads, cmp_u64))
		return 0;
	k = malloc(sizeof(*k));
	if (k)
		*k = key;
	if (!k || !tsearch(k, &st->threads, cmp_u64)) {
		free(k);
		return -ENOMEM;
	}
	/* A process is named by its first thread seen; its other threads share the name. */
	if (pid == PID_LISTENERS)
		snprintf(name, sizeof(name), "listen queues");
	else if (pid == PID_UNOWNED)
		snprintf(name, sizeof(name), "ends no traced call owns");
	else
		snprintf(name, sizeof(name), "%s %u", comm, pid);
	ev = event("M", "process_name", pid, tid);
	json_object_object_add(args_of(ev), "name", json_object_new_string(name));
	err |= put_event(out, st, ev);
	if (pid != PID_LISTENERS && pid != PID_UNOWNED) {
		snprintf(name, sizeof(name), "%s %u", comm, tid);
		ev = event("M", "thread_name", pid, tid);
		json_object_object_add(args_of(ev), "name", json_object_new_string(name));
		err |= put_event(out, st, ev);
	}
	return err;
}

/* An async event of an end's slice: the same cat, name and id2 for b, n and e. */
static json_object *async_event(const char *ph, const char *name, const char *id2, __u32 pid,
				__u32 tid)
{
	json_object *ev = event(ph, name, pid, tid), *id = json_object_new_object();

	json_object_object_add(ev, "cat", json_object_new_string("tcp"));
	json_object_object_add(id, "local", json_object_new_string(id2));
	json_object_object_add(ev, "id2", id);
	return ev;
}

static void add_flow(json_object *ev, __u64 flow, bool in, bool out_)
{
	char id[24];

	snprintf(id, sizeof(id), "0x%llx", (unsigned long long)flow);
	json_object_object_add(ev, "bind_id", json_object_new_string(id));
	if (in)
		json_object_object_add(ev, "flow_in", json_object_new_boolean(1));
	if (out_)
		json_object_object_add(ev, "flow_out", json_object_new_boolean(1));
}

static int instant(struct output *out, struct trace_event_state *st, const struct open_end *o,
		   const char *what, unsigned long long ts)
{
	json_object *ev;

	if (!ts)
		return 0;
	ev = async_event("n", o->name, o->id2, o->pid, o->tid);
	json_object_object_add(args_of(ev), "state", json_object_new_string(what));
	set_ts(st, ev, ts);
	return put_event(out, st, ev);
}

/* The slice's "b", with what the record says in args. */
static int begin_slice(struct output *out, struct trace_event_state *st, const struct open_end *o,
		       const struct conn_end *end, const char *local, const char *remote,
		       unsigned long long ts, __u64 flow, bool in, bool out_)
{
	const struct synscope_handshake *r = &end->raw;
	json_object *ev = async_event("b", o->name, o->id2, o->pid, o->tid), *a = args_of(ev);
	long long us;
	json_object_object_add(a, "id", json_object_new_uint64(r->id));
	json_object_object_add(a, "peer_id", r->peer_id ? json_object_new_uint64(r->peer_id) : NULL);
	json_object_object_add(a, "role", json_object_new_string(role_name(r->role)));
	json_object_object_add(a, "local", json_object_new_string(local));
	json_object_object_add(a, "remote", json_object_new_string(remote));
	json_object_object_add(a, "outcome", json_object_new_string(end_outcome_name(r)));
	if (end_in_flight_state(r))
		json_object_object_add(a, "in_flight_at_exit", json_object_new_string(end_in_flight_state(r)));
	if (r->flags & SYNSCOPE_F_RECOVERED)
		json_object_object_add(a, "recovered", json_object_new_boolean(1));
	json_object_object_add(a, "errno", errno_name(r->err) ? json_object_new_string(errno_name(r->err)) : NULL);
	if (r->outcome == SYNSCOPE_OUT_ESTABLISHED || r->role == SYNSCOPE_ROLE_CLIENT)
		json_object_object_add(a, "iss", json_object_new_int64(r->iss));
	if (r->outcome == SYNSCOPE_OUT_ESTABLISHED)
		json_object_object_add(a, "irs", json_object_new_int64(r->irs));
	json_object_object_add(a, r->role == SYNSCOPE_ROLE_CLIENT ? "syn_retrans" : "synack_retrans",
			       json_object_new_int64(r->retrans));
	if (r->role == SYNSCOPE_ROLE_SERVER) {
		json_object_object_add(a, "acceptq", json_object_new_int64(r->acceptq));
		json_object_object_add(a, "backlog", json_object_new_int64(r->backlog));
		json_object_object_add(a, "accepted", json_object_new_boolean(r->flags & SYNSCOPE_F_ACCEPTED));
		us = end_accept_wait_us(end);
		json_object_object_add(a, "accept_wait_us", us >= 0 ? json_object_new_int64(us) : NULL);
	} else {
		us = end_connect_us(end);
		json_object_object_add(a, "connect_us", us >= 0 ? json_object_new_int64(us) : NULL);
	}
	if (in || out_)
		add_flow(ev, flow, in, out_);
	set_ts(st, ev, ts);
	return put_event(out, st, ev);
}

static int end_slice(struct output *out, struct trace_event_state *st, const struct open_end *o,
		     unsigned long long ts, bool open_at_exit)
{
	json_object *ev = async_event("e", o->name, o->id2, o->pid, o->tid);

	if (open_at_exit)
		json_object_object_add(args_of(ev), "open_at_exit", json_object_new_boolean(1));
	set_ts(st, ev, ts);
	return put_event(out, st, ev);
}

/* connect() or accept() on the caller's thread. */
static int call_slice(struct output *out, struct trace_event_state *st, const struct conn_end *end,
		      __u64 flow, bool in, bool out_)
{
	const struct synscope_handshake *r = &end->raw;
	bool client = r->role == SYNSCOPE_ROLE_CLIENT;
	json_object *ev = event("X", client ? "connect()" : "accept()", r->pid, r->tid), *a;

	json_object_object_add(ev, "cat", json_object_new_string("syscall"));
	set_ts(st, ev, r->ts_call);
	json_object_object_add(ev, "dur", us_value(r->ts_ret - r->ts_call));
	a = args_of(ev);
	json_object_object_add(a, "fd", json_object_new_int64(r->fd));
	if (client)
		json_object_object_add(a, "ret", r->call_ret == 0 ? json_object_new_string("0")
				       : json_object_new_string(errno_name(-r->call_ret) ? errno_name(-r->call_ret) : "?"));
	else
		json_object_object_add(a, "ret", json_object_new_int64(r->call_ret));
	if (r->ts_ret > st->last_ts)
		st->last_ts = r->ts_ret;
	if (client) {
		add_flow(ev, flow, in, out_);
		return put_event(out, st, ev);
	}
	/* An accept() may block before the connection exists: the flow lands on
	 * its return, a 0-us slice nested at the end, not on its start. */
	if (put_event(out, st, ev))
		return -EIO;
	ev = event("X", "accept() returned", r->pid, r->tid);
	json_object_object_add(ev, "cat", json_object_new_string("syscall"));
	set_ts(st, ev, r->ts_ret);
	json_object_object_add(ev, "dur", us_value(0));
	json_object_object_add(args_of(ev), "fd", json_object_new_int64(r->call_ret));
	add_flow(ev, flow, in, out_);
	return put_event(out, st, ev);
}

static int cmp_open(const void *a, const void *b)
{
	return cmp_u64(&((const struct open_end *)a)->id, &((const struct open_end *)b)->id);
}

static int cmp_close(const void *a, const void *b)
{
	return cmp_u64(&((const struct conn_close *)a)->raw.id, &((const struct conn_close *)b)->raw.id);
}

/* The states after ESTABLISHED as instants, then the slice's end at the last one. */
static int close_slice(struct output *out, struct trace_event_state *st, const struct open_end *o,
		       const struct conn_close *c)
{
	unsigned long long end_ts = c->raw.ts_destroy;
	unsigned int i, n = c->raw.nstates < SYNSCOPE_CLOSE_STATES ? c->raw.nstates : SYNSCOPE_CLOSE_STATES;
	int err = 0;

	for (i = 1; i < n; i++) {
		err |= instant(out, st, o, i == n - 1 ? close_final_state(c) : tcp_state_name(c->raw.states[i]),
			       c->raw.ts[i]);
		if (c->raw.ts[i])
			end_ts = c->raw.ts[i];
	}
	return err | end_slice(out, st, o, end_ts, false);
}

static int trace_event_end(struct output *out, const struct conn_end *end)
{
	struct trace_event_state *st = state_of(out);
	const struct synscope_handshake *r;
	bool client, owned, call, to_server, from_client;
	char from[INET6_ADDRSTRLEN + 8], to[INET6_ADDRSTRLEN + 8];
	struct open_end o = {0}, *kept;
	unsigned long long start, stop;
	__u64 flow;
	int err = 0;

	if (!st)
		return -ENOMEM;
	r = &end->raw;
	client = r->role == SYNSCOPE_ROLE_CLIENT;
	owned = end_caller_known(r);
	o.id = r->id;
	o.pid = owned ? r->pid : PID_UNOWNED;
	o.tid = owned ? r->tid : PID_UNOWNED;
	snprintf(o.id2, sizeof(o.id2), "0x%llx", (unsigned long long)r->id);
	endpoint_text(from, sizeof(from), end->family, end->saddr, r->sport);
	endpoint_text(to, sizeof(to), end->family, end->daddr, r->dport);
	snprintf(o.name, sizeof(o.name), client ? "client %s -> %s" : "server %s <- %s", from, to);
	err |= name_thread(out, st, o.pid, o.tid, r->comm);
	queue_depth_add(&st->queues, end);

	/* One flow per connection, named by the client's id: connect() -> client
	 * -> server -> accept(); an end without a local peer has its own. */
	call = owned && (r->flags & SYNSCOPE_F_CALL_SEEN) && (r->flags & SYNSCOPE_F_RETURNED) &&
	       r->ts_ret >= r->ts_call && (client || (r->flags & SYNSCOPE_F_ACCEPTED));
	flow = client || !r->peer_id ? r->id : r->peer_id;
	to_server = client && r->peer_id;
	from_client = !client && r->peer_id;
	if (client && call)
		err |= call_slice(out, st, end, flow, false, true);

	start = r->ts_syn ? r->ts_syn : r->ts_end;
	if (!start)
		start = r->ts_ret;
	err |= begin_slice(out, st, &o, end, from, to, start, flow, (client && call) || from_client,
			   to_server || (!client && call));
	err |= instant(out, st, &o, client ? "SYN_SENT" : "SYN_RECV", r->ts_syn);
	err |= instant(out, st, &o, r->outcome == SYNSCOPE_OUT_ESTABLISHED ? "ESTABLISHED" : "CLOSE",
		       r->ts_end);
	if (!client && call)
		err |= call_slice(out, st, end, flow, true, false);

	stop = r->ts_end > start ? r->ts_end : start;
	if (r->ts_ret > stop)
		stop = r->ts_ret;
	/* Open until its close record, or, in flight at exit, until the trace ends. */
	if ((out->track_close && r->outcome == SYNSCOPE_OUT_ESTABLISHED && !(r->flags & SYNSCOPE_F_CLOSED)) ||
	    (r->flags & SYNSCOPE_F_IN_FLIGHT)) {
		struct conn_close key = {.raw.id = r->id}, **early;

		early = tfind(&key, &st->early_closes, cmp_close);
		if (early) {
			struct conn_close *c = *early;

			tdelete(c, &st->early_closes, cmp_close);
			err |= close_slice(out, st, &o, c);
			free(c);
			return err ? -EIO : 0;
		}
		kept = malloc(sizeof(*kept));
		if (kept) {
			struct open_end **node;

			*kept = o;
			node = tsearch(kept, &st->open, cmp_open);
			if (node && *node == kept)
				return err ? -EIO : 0;
			/* No memory, or an id already open (a corrupt capture): end it now. */
			err |= node ? 0 : -ENOMEM;
		}
		free(kept);
	}
	err |= end_slice(out, st, &o, stop, false);
	return err ? -EIO : 0;
}

static int trace_event_close(struct output *out, const struct conn_close *close)
{
	struct trace_event_state *st = state_of(out);
	struct open_end key = {.id = close->raw.id}, **found, *o;
	struct conn_close *c, **found_close;
	int err;

	if (!st)
		return -ENOMEM;
	found = tfind(&key, &st->open, cmp_open);
	if (found) {
		o = *found;
		tdelete(o, &st->open, cmp_open);
		err = close_slice(out, st, o, close);
		free(o);
		return err ? -EIO : 0;
	}
	/* Its end is still held by the tracker (waiting for its peer). */
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = *close;
	found_close = tsearch(c, &st->early_closes, cmp_close);
	if (found_close && *found_close == c)
		return 0;
	/* No memory, or a second close for one id (a corrupt capture): the first stays. */
	free(c);
	return found_close ? 0 : -ENOMEM;
}

static int trace_event_listener(struct output *out, const struct listener_state *l,
				unsigned long long boot_ns)
{
	struct trace_event_state *st = state_of(out);
	char name[64], track[96];
	json_object *ev;
	int err;

	if (!st)
		return -ENOMEM;
	err = name_thread(out, st, PID_LISTENERS, PID_LISTENERS, "");
	snprintf(track, sizeof(track), "SYN queue %s", listener_name(l, name, sizeof(name)));
	ev = event("C", track, PID_LISTENERS, PID_LISTENERS);
	json_object_object_add(args_of(ev), "depth", json_object_new_int64(l->q.synq));
	set_ts(st, ev, boot_ns);
	return err | put_event(out, st, ev);
}

/* twalk() has no context argument: the sink being flushed. */
static struct {
	struct output *out;
	struct trace_event_state *st;
	int err;
} flushing;

static void end_open_slice(const void *node, VISIT which, int depth)
{
	const struct open_end *o = *(struct open_end *const *)node;

	(void)depth;
	if (which == postorder || which == leaf)
		flushing.err |= end_slice(flushing.out, flushing.st, o, flushing.st->last_ts, true);
}

static void count_node(const void *node, VISIT which, int depth)
{
	(void)node;
	(void)depth;
	if (which == postorder || which == leaf)
		flushing.st->closes_without_end++;
}

static int queue_counters(struct output *out, struct trace_event_state *st)
{
	char track[64];
	unsigned int i;
	size_t j;
	int err = 0;

	for (i = 0; i < st->queues.nlisteners; i++) {
		struct queue_listener *l = &st->queues.listeners[i];

		queue_depth_finish(l);
		if (l->n)
			err |= name_thread(out, st, PID_LISTENERS, PID_LISTENERS, "");
		snprintf(track, sizeof(track), "accept queue :%u", l->port);
		for (j = 0; j < l->n; j++) {
			json_object *ev = event("C", track, PID_LISTENERS, PID_LISTENERS);

			json_object_object_add(args_of(ev), "depth", json_object_new_int64(l->points[j].depth));
			set_ts(st, ev, l->points[j].ts);
			err |= put_event(out, st, ev);
		}
	}
	return err;
}

/* Slices still open end where the trace does, marked; then the queues' counters. */
static int trace_event_flush(struct output *out)
{
	struct trace_event_state *st = state_of(out);

	if (!st)
		return -ENOMEM;
	flushing.out = out;
	flushing.st = st;
	flushing.err = 0;
	twalk(st->open, end_open_slice);
	tdestroy(st->open, free);
	st->open = NULL;
	twalk(st->early_closes, count_node);
	tdestroy(st->early_closes, free);
	st->early_closes = NULL;
	flushing.err |= queue_counters(out, st);
	return flushing.err ? -EIO : 0;
}

/* Closes the array; what the run lost goes in "otherData". */
static int trace_event_summary(struct output *out, const struct run_summary *sum)
{
	struct trace_event_state *st = state_of(out);
	json_object *other;
	int err;

	if (!st)
		return -ENOMEM;
	if (!st->started)
		fputs("{\"traceEvents\":[\n", out->f);
	other = json_object_new_object();
	json_object_object_add(other, "generator", json_object_new_string("synscope"));
	json_object_object_add(other, "ends", json_object_new_uint64(sum->ends));
	json_object_object_add(other, "lost", sum->kernel_valid
			       ? json_object_new_uint64(summary_kernel_losses(sum)) : NULL);
	json_object_object_add(other, "decode_errors", json_object_new_uint64(sum->decode_errors));
	json_object_object_add(other, "in_flight", sum->in_flight_valid
			       ? json_object_new_uint64(sum->in_flight) : NULL);
	json_object_object_add(other, "closes_without_end", json_object_new_uint64(st->closes_without_end));
	json_object_object_add(other, "queue_points_dropped", json_object_new_uint64(st->queues.dropped));
	fprintf(out->f, "\n],\"displayTimeUnit\":\"ms\",\"otherData\":%s}\n",
		json_object_to_json_string_ext(other, JSON_C_TO_STRING_PLAIN));
	json_object_put(other);
	err = fflush(out->f) || ferror(out->f) ? -EIO : 0;
	tdestroy(st->threads, free);
	queue_depth_free(&st->queues);
	free(st);
	out->state = NULL;
	return err;
}

const struct output_ops output_trace_event_ops = {
	.end = trace_event_end,
	.close = trace_event_close,
	.listener = trace_event_listener,
	.flush = trace_event_flush,
	.summary = trace_event_summary,
};
