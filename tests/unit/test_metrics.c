// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The Prometheus exposition of made-up snapshots: histograms, listener labels, escaping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "metrics.h"

/* The exposition of s, malloc'd. */
static char *expose(const struct metrics_snapshot *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(metrics_write(f, s), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void assert_line(const char *text, const char *line)
{
	const char *p = strstr(text, line);

	if (!p || (p != text && p[-1] != '\n') || p[strlen(line)] != '\n')
		fail_msg("no line '%s' in:\n%s", line, text);
}

static struct metrics_snapshot base(void)
{
	struct metrics_snapshot s = {.version = "0.1", .accept_hook = "syscall", .kernel = "6.18"};

	return s;
}

static void histograms_are_cumulative_in_seconds(void **state)
{
	struct metrics_snapshot s = base();
	char *text;

	(void)state;
	/* 2 ends of 1 us or less, 3 of (1, 2] us, 1 above 2^26 us; sum 2.5 s. */
	s.m.connect[SYNSCOPE_OUT_ESTABLISHED].buckets[0] = 2;
	s.m.connect[SYNSCOPE_OUT_ESTABLISHED].buckets[1] = 3;
	s.m.connect[SYNSCOPE_OUT_ESTABLISHED].buckets[SYNSCOPE_HIST_BUCKETS - 1] = 1;
	s.m.connect[SYNSCOPE_OUT_ESTABLISHED].sum_ns = 2500000000ULL;
	s.m.handshakes[SYNSCOPE_ROLE_CLIENT][SYNSCOPE_OUT_REFUSED] = 7;
	s.m.recovered[SYNSCOPE_ROLE_SERVER] = 4;
	text = expose(&s);
	assert_line(text, "synscope_recovered_handshakes_total{role=\"server\"} 4");
	assert_line(text, "synscope_recovered_handshakes_total{role=\"client\"} 0");
	assert_line(text, "synscope_handshakes_total{role=\"client\",outcome=\"refused\"} 7");
	assert_line(text, "synscope_handshakes_total{role=\"server\",outcome=\"established\"} 0");
	assert_line(text, "synscope_connect_duration_seconds_bucket{outcome=\"established\",le=\"1e-06\"} 2");
	assert_line(text, "synscope_connect_duration_seconds_bucket{outcome=\"established\",le=\"2e-06\"} 5");
	assert_line(text, "synscope_connect_duration_seconds_bucket{outcome=\"established\",le=\"67.108864\"} 5");
	assert_line(text, "synscope_connect_duration_seconds_bucket{outcome=\"established\",le=\"+Inf\"} 6");
	assert_line(text, "synscope_connect_duration_seconds_sum{outcome=\"established\"} 2.500000000");
	assert_line(text, "synscope_connect_duration_seconds_count{outcome=\"established\"} 6");
	assert_line(text, "# TYPE synscope_connect_duration_seconds histogram");
	free(text);
}

static void listeners_carry_their_bound_address(void **state)
{
	struct listener_counts counts[2] = {
		{.key = {.netns = 11, .port = 80}, .m = {.synack_retrans = 4, .overflows = 2}},
		{.key = {.netns = 12, .port = 443}, .m = {.synack_retrans = 1}},
	};
	struct listener_queues queues[2] = {
		{.netns = 11, .port = 80, .address = "*", .acceptq = 3, .backlog = 256, .synq = 9, .drops = 5},
		{.netns = 11, .port = 22, .address = "10.0.0.1", .backlog = 128},
	};
	struct metrics_snapshot s = base();
	char *text;

	(void)state;
	s.listeners = counts;
	s.nlisteners = 2;
	s.queues = queues;
	s.nqueues = 2;
	s.overflows_per_listener = true;
	text = expose(&s);
	assert_line(text, "synscope_synack_retransmits_total{netns=\"11\",port=\"80\",address=\"*\"} 4");
	/* Not in synscope's namespace: no address known. */
	assert_line(text, "synscope_synack_retransmits_total{netns=\"12\",port=\"443\",address=\"\"} 1");
	assert_line(text, "synscope_listen_overflows_total{netns=\"11\",port=\"80\",address=\"*\"} 2");
	assert_line(text, "synscope_accept_queue_length{netns=\"11\",port=\"80\",address=\"*\"} 3");
	assert_line(text, "synscope_accept_queue_backlog{netns=\"11\",port=\"22\",address=\"10.0.0.1\"} 128");
	assert_line(text, "synscope_syn_queue_length{netns=\"11\",port=\"80\",address=\"*\"} 9");
	assert_line(text, "synscope_listen_drops_total{netns=\"11\",port=\"80\",address=\"*\"} 5");
	assert_line(text, "# TYPE synscope_listen_drops_total counter");
	free(text);

	/* A kernel that cannot attribute overflows: no such metric, and build_info says so. */
	s.overflows_per_listener = false;
	text = expose(&s);
	assert_null(strstr(text, "synscope_listen_overflows_total"));
	assert_non_null(strstr(text, "overflow_source=\"netstat\""));
	free(text);
}

static void label_values_are_escaped(void **state)
{
	struct metrics_snapshot s = base();
	char *text;

	(void)state;
	s.kernel = "6.1 \"x\"\\y\nz";
	s.netstat_valid = true;
	s.netns = 4026531840ULL;
	s.syncookies_sent = 12;
	s.stats.ringbuf_drops = 3;
	text = expose(&s);
	assert_line(text, "synscope_build_info{version=\"0.1\",accept_hook=\"syscall\","
			  "kernel=\"6.1 \\\"x\\\"\\\\y\\nz\",overflow_source=\"netstat\"} 1");
	assert_line(text, "synscope_syncookies_sent_total{netns=\"4026531840\"} 12");
	assert_line(text, "synscope_events_lost_total{reason=\"ringbuf_full\"} 3");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(histograms_are_cumulative_in_seconds),
		cmocka_unit_test(listeners_carry_their_bound_address),
		cmocka_unit_test(label_values_are_escaped),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
