/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a JSONL line must hold, derived from the input record by README's
 * rules ("JSONL fields"), and a check of one written line against it with
 * json-c's strict parser. Shared by tests/unit/test_output_jsonl.c and
 * tests/fuzz/fuzz_jsonl.c; independent of user/json_writer.c on purpose
 * (its own UTF-8 decoder, the slow format_rfc3339()).
 */
#ifndef SYNSCOPE_TEST_JSONL_EXPECT_H
#define SYNSCOPE_TEST_JSONL_EXPECT_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>
#include "output.h"

enum expect_kind { E_NULL, E_INT, E_UINT, E_STR, E_BOOL, E_STRS, E_UINTS };

struct expect {
	const char *key;
	enum expect_kind kind;
	long long i;               /* E_INT, E_BOOL */
	unsigned long long u;      /* E_UINT */
	char s[128];               /* E_STR (s_len bytes, may hold control bytes) */
	size_t s_len;
	const char *strs[SYNSCOPE_CLOSE_STATES]; /* E_STRS */
	unsigned long long us[SYNSCOPE_CLOSE_STATES]; /* E_UINTS */
	unsigned int n;            /* E_STRS, E_UINTS */
};

#define EXPECT_MAX 48

/*
 * The code point of the UTF-8 sequence at s (n bytes left) and its length,
 * or 0 if it is not valid: decoded first, then overlongs, surrogates and
 * values above U+10FFFF refused (the writer checks byte ranges instead).
 */
static inline size_t ref_utf8_decode(const unsigned char *s, size_t n, unsigned int *cp)
{
	static const unsigned int min[5] = {0, 0, 0x80, 0x800, 0x10000};
	size_t len, i;
	unsigned int v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		v = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		v = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		v = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min[len] || (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
		return 0;
	*cp = v;
	return len;
}

static inline bool ref_utf8_valid(const void *buf, size_t n)
{
	const unsigned char *s = buf;
	unsigned int cp;
	size_t i = 0, len;

	while (i < n) {
		len = ref_utf8_decode(s + i, n - i, &cp);
		if (!len)
			return false;
		i += len;
	}
	return true;
}

/* The string a reader gets back: each byte outside valid UTF-8 becomes U+FFFD. */
static inline size_t ref_sanitize(const char *in, size_t n, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned int cp;
	size_t i = 0, o = 0, len;

	while (i < n) {
		len = ref_utf8_decode(s + i, n - i, &cp);
		if (len) {
			memcpy(out + o, s + i, len);
			o += len;
			i += len;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	return o;
}

static inline struct expect *ex_add(struct expect *x, unsigned int *n, const char *key,
				    enum expect_kind kind)
{
	struct expect *e = &x[(*n)++];

	memset(e, 0, sizeof(*e));
	e->key = key;
	e->kind = kind;
	return e;
}

static inline void ex_int(struct expect *x, unsigned int *n, const char *key, long long v, bool valid)
{
	ex_add(x, n, key, valid ? E_INT : E_NULL)->i = v;
}

static inline void ex_uint(struct expect *x, unsigned int *n, const char *key,
			   unsigned long long v, bool valid)
{
	ex_add(x, n, key, valid ? E_UINT : E_NULL)->u = v;
}

static inline void ex_bool(struct expect *x, unsigned int *n, const char *key, bool v)
{
	ex_add(x, n, key, E_BOOL)->i = v;
}

static inline void ex_str(struct expect *x, unsigned int *n, const char *key, const char *s, size_t len)
{
	struct expect *e;

	if (!s) {
		ex_add(x, n, key, E_NULL);
		return;
	}
	e = ex_add(x, n, key, E_STR);
	e->s_len = ref_sanitize(s, len, e->s);
}

static inline void ex_cstr(struct expect *x, unsigned int *n, const char *key, const char *s)
{
	ex_str(x, n, key, s, s ? strlen(s) : 0);
}

/* The fields of a handshake record, in README order. Returns how many. */
static inline unsigned int expect_end(const struct output *out, const struct conn_end *end,
				      struct expect *x)
{
	const struct synscope_handshake *r = &end->raw;
	bool client = r->role == SYNSCOPE_ROLE_CLIENT;
	/* An accept no hook saw (io_uring...) has no caller. */
	bool caller = client || ((r->flags & SYNSCOPE_F_ACCEPTED) && !(r->flags & SYNSCOPE_F_ACCEPT_UNSEEN));
	bool returned = r->flags & SYNSCOPE_F_RETURNED;
	char ts[64];
	long long us;
	unsigned int n = 0;

	ex_cstr(x, &n, "type", "handshake");
	/* u64 fields of this record were always printed as json-c int64. */
	ex_int(x, &n, "id", (long long)r->id, true);
	ex_int(x, &n, "peer", (long long)r->peer_id, r->peer_id);
	ex_cstr(x, &n, "role", role_name(r->role));
	ex_cstr(x, &n, "outcome", r->outcome ? outcome_name(r->outcome) : NULL);
	ex_cstr(x, &n, "errno", errno_name(r->err));
	if (end_in_flight_state(r))
		ex_cstr(x, &n, "in_flight", end_in_flight_state(r));
	if (r->flags & SYNSCOPE_F_RECOVERED)
		ex_bool(x, &n, "recovered", true);
	ex_cstr(x, &n, "family", end->family == AF_INET6 ? "ipv6" : "ipv4");
	ex_bool(x, &n, "v4mapped", end->v4mapped);
	ex_cstr(x, &n, "saddr", end->saddr);
	ex_int(x, &n, "sport", r->sport, true);
	ex_cstr(x, &n, "daddr", end->daddr);
	ex_int(x, &n, "dport", r->dport, true);
	ex_int(x, &n, "netns", (long long)r->netns, true);
	ex_int(x, &n, "iss", r->iss, !(r->flags & SYNSCOPE_F_NO_SYN));
	ex_int(x, &n, "irs", r->irs, r->outcome == SYNSCOPE_OUT_ESTABLISHED);
	ex_int(x, &n, "retrans", r->retrans, true);
	ex_int(x, &n, "pid", r->pid, caller);
	ex_int(x, &n, "tid", r->tid, caller);
	ex_str(x, &n, "comm", caller ? r->comm : NULL, strnlen(r->comm, sizeof(r->comm)));
	ex_int(x, &n, "fd", r->fd, caller && r->fd >= 0);
	if (client) {
		us = end_connect_us(end);
		ex_int(x, &n, "connect_ret", r->call_ret, returned && (r->flags & SYNSCOPE_F_CALL_SEEN));
		ex_int(x, &n, "connect_us", us, us >= 0);
	} else {
		us = end_accept_wait_us(end);
		ex_bool(x, &n, "accepted", r->flags & SYNSCOPE_F_ACCEPTED);
		ex_bool(x, &n, "closed_in_queue", r->flags & SYNSCOPE_F_CLOSED);
		ex_int(x, &n, "accept_wait_us", us, us >= 0);
		ex_int(x, &n, "acceptq", r->acceptq, true);
		ex_int(x, &n, "backlog", r->backlog, true);
		ex_int(x, &n, "backlog_req", r->backlog_req, r->backlog_req);
		ex_cstr(x, &n, "accept_hook", !(r->flags & SYNSCOPE_F_ACCEPTED)         ? NULL
					      : (r->flags & SYNSCOPE_F_ACCEPT_UNSEEN) ? "unseen"
					      : (r->flags & SYNSCOPE_F_FEXIT)         ? "fexit"
										      : "syscall");
	}
	ex_int(x, &n, "t_call_ns", (long long)r->ts_call, r->flags & SYNSCOPE_F_CALL_SEEN);
	ex_int(x, &n, "t_syn_ns", (long long)r->ts_syn, r->ts_syn);
	ex_int(x, &n, "t_end_ns", (long long)r->ts_end, r->ts_end);
	ex_int(x, &n, "t_ret_ns", (long long)r->ts_ret, returned && r->ts_ret);
	ex_cstr(x, &n, "ts", format_rfc3339(end_time_ns(r), out->boot_to_real_ns, ts, sizeof(ts)));
	ex_int(x, &n, "ts_ns", (long long)end_time_ns(r), true);
	return n;
}

/* The fields of a close record, in README order. Returns how many. */
static inline unsigned int expect_close(const struct output *out, const struct conn_close *close,
					struct expect *x)
{
	const struct synscope_close *r = &close->raw;
	unsigned int n = 0, i, last = r->nstates - 1u;
	long long us = close_lifetime_us(close);
	struct expect *e;
	char ts[64];

	ex_cstr(x, &n, "type", "close");
	ex_uint(x, &n, "id", r->id, true);
	ex_uint(x, &n, "peer", r->peer_id, r->peer_id);
	ex_cstr(x, &n, "role", role_name(r->role));
	ex_cstr(x, &n, "closer", close_kind_name(close->kind));
	e = ex_add(x, &n, "path", E_STRS);
	for (i = 0; i < r->nstates; i++)
		e->strs[i] = i == last ? close_final_state(close) : tcp_state_name(r->states[i]);
	e->n = r->nstates;
	e = ex_add(x, &n, "t_path_ns", E_UINTS);
	for (i = 0; i < r->nstates; i++)
		e->us[i] = r->ts[i];
	e->n = r->nstates;
	ex_bool(x, &n, "time_wait", r->flags & SYNSCOPE_CF_TIME_WAIT);
	ex_bool(x, &n, "fin_received", r->flags & SYNSCOPE_CF_FIN_RECEIVED);
	ex_bool(x, &n, "rst_received", r->flags & SYNSCOPE_CF_RST_RECEIVED);
	ex_bool(x, &n, "truncated", r->flags & SYNSCOPE_CF_TRUNCATED);
	ex_bool(x, &n, "states_unreported", r->flags & SYNSCOPE_CF_STATES_UNREPORTED);
	ex_bool(x, &n, "recovered", r->flags & SYNSCOPE_CF_RECOVERED);
	ex_cstr(x, &n, "errno", errno_name(r->err));
	ex_int(x, &n, "lifetime_us", us, us >= 0);
	ex_cstr(x, &n, "ts", format_rfc3339(r->ts[last], out->boot_to_real_ns, ts, sizeof(ts)));
	ex_uint(x, &n, "ts_ns", r->ts[last], true);
	return n;
}

static inline unsigned int expect_link(const struct conn_link *link, struct expect *x)
{
	unsigned int n = 0;

	ex_cstr(x, &n, "type", "link");
	ex_uint(x, &n, "client", link->client_id, true);
	ex_uint(x, &n, "server", link->server_id, true);
	return n;
}

static inline bool check_value(json_object *v, const struct expect *e, const char **why)
{
	unsigned int i;

	switch (e->kind) {
	case E_NULL:
		*why = "not null";
		return v == NULL;
	case E_INT:
		*why = "not the int";
		return json_object_is_type(v, json_type_int) && json_object_get_int64(v) == e->i;
	case E_UINT:
		*why = "not the uint";
		return json_object_is_type(v, json_type_int) && json_object_get_uint64(v) == e->u;
	case E_BOOL:
		*why = "not the bool";
		return json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v) == e->i;
	case E_STR:
		*why = "not the string";
		return json_object_is_type(v, json_type_string) &&
		       (size_t)json_object_get_string_len(v) == e->s_len &&
		       !memcmp(json_object_get_string(v), e->s, e->s_len);
	case E_STRS:
	case E_UINTS:
		*why = "not the array";
		if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) != e->n)
			return false;
		for (i = 0; i < e->n; i++) {
			json_object *item = json_object_array_get_idx(v, i);

			if (e->kind == E_STRS ? !json_object_is_type(item, json_type_string) ||
						    strcmp(json_object_get_string(item), e->strs[i])
					      : !json_object_is_type(item, json_type_int) ||
						    json_object_get_uint64(item) != e->us[i])
				return false;
		}
		return true;
	}
	return false;
}

/*
 * Checks one line (without its '\n'): valid UTF-8, one JSON object for
 * json-c's strict tokener with nothing after it, exactly the keys of x[0..n)
 * in that order, each with the expected type and value. Returns NULL, or
 * what is wrong (in a static buffer).
 */
static inline const char *check_line(const char *line, size_t len, const struct expect *x,
				     unsigned int n)
{
	static char why[256];
	struct json_tokener *tok;
	json_object *obj;
	const char *what = NULL;
	unsigned int k = 0;

	why[0] = '\0';
	if (!ref_utf8_valid(line, len))
		return "not valid UTF-8";
	if (memchr(line, '\n', len))
		return "a newline inside the record";
	tok = json_tokener_new_ex(8);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		snprintf(why, sizeof(why), "strict parse failed: %s",
			 json_tokener_error_desc(json_tokener_get_error(tok)));
		json_tokener_free(tok);
		json_object_put(obj);
		return why;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return "not an object";
	}
	json_object_object_foreach(obj, key, val) {
		if (k >= n) {
			snprintf(why, sizeof(why), "extra key \"%s\"", key);
			break;
		}
		if (strcmp(key, x[k].key)) {
			snprintf(why, sizeof(why), "key %u is \"%s\", expected \"%s\"", k, key, x[k].key);
			break;
		}
		if (!check_value(val, &x[k], &what)) {
			snprintf(why, sizeof(why), "\"%s\": %s (got %s)", key, what,
				 json_object_to_json_string(val));
			break;
		}
		k++;
	}
	json_object_put(obj);
	if (why[0])
		return why;
	if (k != n) {
		snprintf(why, sizeof(why), "only %u of %u keys, \"%s\" missing", k, n, x[k].key);
		return why;
	}
	return NULL;
}

#endif
