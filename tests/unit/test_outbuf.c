// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The output buffer: every byte out across short writes and signals; failures counted. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>
#include "outbuf.h"

struct reader {
	int fd;
	char *data;
	size_t len, cap;
};

/* A slow reader: small reads, so the writer blocks on a full pipe and signals cut its writes. */
static void *read_all(void *arg)
{
	struct reader *r = arg;
	ssize_t n;

	for (;;) {
		if (r->cap - r->len < 4096) {
			r->cap = r->cap * 2 + 65536;
			r->data = realloc(r->data, r->cap);
			if (!r->data)
				return NULL;
		}
		n = read(r->fd, r->data + r->len, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		r->len += n;
		/* Pauses longer than the 1 ms alarm: some writes are cut before any byte (EINTR). */
		if (r->len % 262144 < 4096)
			usleep(3000);
		else if (r->len % 65536 < 4096)
			usleep(200);
	}
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void all_bytes_arrive_across_signals(void **state)
{
	struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART: writes see EINTR */
	struct itimerval every_ms = {{0, 1000}, {0, 1000}}, off = {{0, 0}, {0, 0}};
	struct reader r = {0};
	struct outbuf ob;
	sigset_t block;
	pthread_t th;
	int fds[2], rec;
	size_t want = 0;
	char *expect = malloc(4 << 20), *p;
	FILE *f;

	(void)state;
	assert_non_null(expect);
	assert_int_equal(pipe(fds), 0);
	f = fdopen(fds[1], "w");
	assert_non_null(f);
	r.fd = fds[0];
	/* The reader thread keeps SIGALRM blocked: the writer takes them. */
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	assert_int_equal(pthread_create(&th, NULL, read_all, &r), 0);
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &every_ms, NULL);

	assert_int_equal(outbuf_init(&ob, f, 1 << 20), 0);
	for (rec = 0; rec < 20000; rec++) {
		int n = 40 + rec % 300;

		p = outbuf_reserve(&ob);
		memset(p, 'a' + rec % 26, n);
		p[n] = '\n';
		memcpy(expect + want, p, n + 1);
		want += n + 1;
		outbuf_commit(&ob, p + n + 1);
		if (rec % 5000 == 4999)
			assert_int_equal(outbuf_flush(&ob), 0);
	}
	assert_int_equal(outbuf_flush(&ob), 0);
	setitimer(ITIMER_REAL, &off, NULL);
	assert_int_equal(ob.lost, 0);
	assert_int_equal(ob.err, 0);
	outbuf_free(&ob);
	fclose(f);
	pthread_join(th, NULL);
	assert_true(alarms > 0);
	assert_int_equal(r.len, want);
	assert_memory_equal(r.data, expect, want);
	close(fds[0]);
	free(r.data);
	free(expect);
}

static void broken_pipe_counts_lost_records(void **state)
{
	struct outbuf ob;
	int fds[2], i;
	FILE *f;
	char *p;

	(void)state;
	signal(SIGPIPE, SIG_IGN); /* as synscope does */
	assert_int_equal(pipe(fds), 0);
	close(fds[0]);
	f = fdopen(fds[1], "w");
	assert_non_null(f);
	assert_int_equal(outbuf_init(&ob, f, 0), 0); /* the smallest buffer: flushes on the way */
	for (i = 0; i < 7; i++) {
		p = outbuf_reserve(&ob);
		memset(p, 'x', 5000);
		outbuf_commit(&ob, p + 5000);
	}
	assert_int_equal(outbuf_flush(&ob), -EPIPE);
	assert_int_equal(ob.lost, 7);
	assert_int_equal(ob.len, 0);
	assert_int_equal(outbuf_flush(&ob), 0); /* nothing held */
	outbuf_free(&ob);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(all_bytes_arrive_across_signals),
		cmocka_unit_test(broken_pipe_counts_lost_records),
	};

	return cmocka_run_group_tests_name("outbuf", tests, NULL, NULL);
}
