// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Text sink: the hand-written handshake line is the printf one, byte for byte. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include "fixtures.h"
#include "output.h"

/* The line as the sink printed it with snprintf() before it was hand-written. */
static void ref_line(const struct output *out, const struct conn_end *end, char *line, size_t len)
{
	const struct synscope_handshake *r = &end->raw;
	char local[INET6_ADDRSTRLEN + 8], remote[INET6_ADDRSTRLEN + 8], who[80], when[64];
	char timing[96] = "", peer[32] = "", extra[128] = "", stamp[16] = "", irs[16], flight[48] = "";
	const char *err = errno_name(r->err);
	const char *fmt = end->family == AF_INET6 ? "[%s]:%u" : "%s:%u";
	bool known = r->role == SYNSCOPE_ROLE_CLIENT || (r->flags & SYNSCOPE_F_ACCEPTED);
	long long us;

	snprintf(irs, sizeof(irs), "%u", r->irs);
	snprintf(local, sizeof(local), fmt, end->saddr, r->sport);
	snprintf(remote, sizeof(remote), fmt, end->daddr, r->dport);
	if (!known)
		snprintf(who, sizeof(who), (r->flags & SYNSCOPE_F_IN_FLIGHT) ? "not accepted yet"
									 : "never accepted");
	else if (r->fd >= 0)
		snprintf(who, sizeof(who), "%s %u/%u fd %d", r->comm, r->pid, r->tid, r->fd);
	else
		snprintf(who, sizeof(who), "%s %u/%u", r->comm, r->pid, r->tid);
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
	if (r->flags & SYNSCOPE_F_IN_FLIGHT)
		snprintf(flight, sizeof(flight), " (in flight at exit: %s)", end_in_flight_state(r));
	if (out->timestamps) {
		format_rfc3339(end_time_ns(r), out->boot_to_real_ns, when, sizeof(when));
		snprintf(stamp, sizeof(stamp), "%.12s ", when + 11);
	}
	snprintf(line, len, "%s#%llu %s %s %s %s %s%s%s%s %s%s%s%s\n", stamp, (unsigned long long)r->id,
		 role_name(r->role), local, r->role == SYNSCOPE_ROLE_CLIENT ? "->" : "<-", remote,
		 r->outcome ? outcome_name(r->outcome) : "unresolved", err ? " " : "", err ? err : "",
		 flight, who, timing, peer, extra);
}

static unsigned long long rnd(unsigned long long *st)
{
	*st ^= *st >> 12;
	*st ^= *st << 25;
	*st ^= *st >> 27;
	return *st * 2685821657736338717ULL;
}

static const struct output_ops no_summary_ops;

static void handshake_line_matches_printf(void **state)
{
	enum { N = 5000 };
	struct conn_end *ends = calloc(N, sizeof(*ends));
	unsigned long long st = 7;
	struct output out;
	char *buf = NULL, *line, *nl, want[1024];
	size_t len = 0;
	unsigned int i, k, mode;

	(void)state;
	assert_non_null(ends);
	for (mode = 0; mode < 4; mode++) {
		FILE *f = open_memstream(&buf, &len);

		assert_non_null(f);
		output_init(&out, OUTPUT_TEXT, f);
		out.timestamps = mode & 1;
		out.verbose = mode & 2;
		for (i = 0; i < N; i++) {
			unsigned long long v = rnd(&st);
			struct synscope_handshake r = v & 1 ? fixture_client(i, 0) : fixture_server(i, 0, v & 2);

			r.id = rnd(&st);
			r.peer_id = (v >> 2) & 1 ? rnd(&st) : 0;
			r.outcome = 1 + (v >> 3) % 6;
			r.err = (v >> 6) & 1 ? ECONNREFUSED : 0;
			r.flags ^= rnd(&st) & (0xff | SYNSCOPE_F_IN_FLIGHT);
			/* An end in flight at exit may not have resolved its handshake. */
			if ((r.flags & SYNSCOPE_F_IN_FLIGHT) && (v >> 12) % 4 == 0)
				r.outcome = 0;
			r.pid = rnd(&st);
			r.tid = rnd(&st);
			r.fd = (v >> 7) & 1 ? -1 : (int)rnd(&st);
			r.sport = rnd(&st);
			r.dport = rnd(&st);
			r.iss = rnd(&st);
			r.irs = rnd(&st);
			r.retrans = rnd(&st);
			r.acceptq = rnd(&st);
			r.backlog = rnd(&st);
			r.netns = rnd(&st);
			r.ts_end = (v >> 8) & 1 ? rnd(&st) >> 1 : r.ts_end + rnd(&st) % 5000000000ULL;
			r.ts_ret = r.ts_end + rnd(&st) % 100000000;
			if ((v >> 9) & 1) {
				r.family = AF_INET6;
				for (k = 0; k < 16; k++)
					r.saddr[k] = r.daddr[k] = rnd(&st);
			}
			snprintf(r.comm, sizeof(r.comm), "%llx", rnd(&st) >> (v % 64));
			ends[i] = fixture_end(r);
			assert_int_equal(out.ops->end(&out, &ends[i]), 0);
			if (v % 50 == 0)
				output_batch_end_all(&out);
		}
		out.ops = &no_summary_ops;
		assert_int_equal(output_finish_all(&out, NULL), 0);
		fclose(f);
		line = buf;
		for (i = 0; i < N; i++) {
			ref_line(&out, &ends[i], want, sizeof(want));
			nl = strchr(line, '\n');
			assert_non_null(nl);
			if (strlen(want) != (size_t)(nl - line + 1) || memcmp(want, line, nl - line + 1))
				fail_msg("mode %u record %u:\n%.*s\nexpected\n%s", mode, i, (int)(nl - line + 1), line, want);
			line = nl + 1;
		}
		assert_ptr_equal(line, buf + len);
		free(buf);
		buf = NULL;
	}
	free(ends);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(handshake_line_matches_printf),
	};

	return cmocka_run_group_tests_name("output_text", tests, NULL, NULL);
}
