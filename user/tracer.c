// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The run loop: probe the kernel -> load (loader.c) -> start the workload
 * -> poll the ring buffer into the tracker or a capture -> drain ->
 * summary -> cleanup.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "synscope.h" /* before the skeleton, which uses its types */
#include "synscope.skel.h"
#include "capture.h"
#include "decode.h"
#include "listeners.h"
#include "loader.h"
#include "metrics.h"
#include "options.h"
#include "output.h"
#include "probe.h"
#include "netstat.h"
#include "ringbufs.h"
#include "tracker.h"
#include "tracer.h"

static volatile sig_atomic_t exiting; /* the signal that asked us to stop */
static volatile sig_atomic_t reopen;  /* SIGHUP with -o FILE: reopen it (log rotation) */

static void on_reopen(int sig)
{
	(void)sig;
	reopen = 1;
}

static void on_signal(int sig)
{
	/* A second Ctrl-C quits at once, without the drain. */
	if (exiting && sig == SIGINT)
		_exit(130);
	exiting = sig;
}

static unsigned long long now_boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* What the ring-buffer callback needs: the tracker and when this batch was read. */
struct reader {
	struct tracker *tracker;
	unsigned long long now_ns; /* boot ns, once per batch rather than per record */
};

static int handle_record(void *ctx, void *data, size_t size)
{
	struct reader *rd = ctx;
	struct conn_link link;
	struct conn_close close;
	struct conn_end end;

	tracker_decoded(rd->tracker, decode_record(data, size, &end, &link, &close), &end, &link,
			&close, rd->now_ns);
	return 0;
}

static FILE *open_output(const struct synscope_config *cfg)
{
	FILE *f;

	if (!cfg->output_path)
		return stdout;
	f = fopen(cfg->output_path, "w");
	if (!f)
		fprintf(stderr, "synscope: couldn't open output file '%s': %s\n", cfg->output_path,
			strerror(errno));
	return f;
}

/* SIGHUP reopens -o FILE (a rotated log); without one, it stops synscope as SIGTERM does. */
static void install_signals(bool reopens)
{
	struct sigaction sa = {.sa_handler = on_signal}, hup = {.sa_handler = on_reopen};

	sigemptyset(&sa.sa_mask);
	sigemptyset(&hup.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, reopens ? &hup : &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void describe_start(const struct synscope_config *cfg, const struct workload *w,
			   int fexit_err, bool mounted)
{
	char why[96] = "", what[64] = "TCP handshakes", url[80];

	if (fexit_err == -ECANCELED)
		snprintf(why, sizeof(why), " (--accept-hook=syscall)");
	else if (fexit_err)
		snprintf(why, sizeof(why), " (fexit/inet_csk_accept refused: %s)", strerror(-fexit_err));
	if (w)
		snprintf(what, sizeof(what), "TCP handshakes of pid %d and its children", w->pids[0]);
	fprintf(stderr, "synscope: tracing %s; accept path: %s%s%s.%s\n", what,
		fexit_err ? "accept/accept4 syscall tracepoints" : "fexit/inet_csk_accept", why,
		mounted ? "; mounted tracefs at " TRACEFS_PATH : "",
		cfg->duration_s || w ? "" : " Ctrl-C to stop.");
	if (cfg->metrics_spec)
		fprintf(stderr, "synscope: Prometheus metrics at %s%s\n",
			metrics_url(cfg, url, sizeof(url)), options_metrics_only(cfg) ?
			"; records are counted in the kernel, not written (add -f or -o for them)" : "");
}

/*
 * Hands each listener's state now to the sinks (after the records read so
 * far). Returns the states read (the caller frees them), NULL when there
 * are none or they could not be read (said once).
 */
static struct listener_state *write_listeners(struct synscope_bpf *skel, struct output *sinks,
					      struct run_summary *sum, size_t *n)
{
	static bool warned;
	unsigned long long now = now_boot_ns();
	struct listener_state *v;
	size_t i;
	int err = listener_states_read(skel, &v, n);

	if (err) {
		if (!warned)
			fprintf(stderr, "synscope: couldn't read the listeners (iter/tcp): %s; no "
					"listener records\n", strerror(-err));
		warned = true;
		*n = 0;
		return NULL;
	}
	for (i = 0; i < *n; i++)
		sum->write_errors += output_listener_all(sinks, &v[i], now);
	return v;
}

int run_tracer(const struct synscope_config *cfg, struct workload *w)
{
	struct synscope_bpf *skel = NULL;
	struct capture_writer *cap = NULL; /* -w: records go to it undecoded */
	struct metrics_server *metrics = NULL;
	struct ringbufs *rbs = NULL;
	struct tracker *tracker = NULL;
	struct run_summary *sum;
	struct output out, timeline, *sinks = NULL;
	unsigned long long deadline = 0, next_listeners = 0, close_grace = 0;
	struct listener_state *listeners = NULL;
	size_t nlisteners = 0;
	struct tcpext_counters netstat0, netstat1;
	struct reader rd = {0};
	struct epoll_event ev;
	bool mounted = false, stop_sent = false, netstat_ok = false;
	FILE *f = NULL;
	int err, fexit_err = 0, status = 1, in_flight = -1; /* partial records written at exit */

	if (cfg->pid > 0 && kill(cfg->pid, 0) != 0 && errno == ESRCH) {
		fprintf(stderr, "synscope: no process with pid %d\n", cfg->pid);
		return 1;
	}
	f = open_output(cfg);
	if (!f)
		return 1;
	if (probe_privileges() || probe_btf() || probe_tracefs(&mounted))
		goto cleanup;
	if (!probe_raise_memlock() && cfg->verbose)
		fprintf(stderr, "synscope: RLIMIT_MEMLOCK not raised (fine on kernels >= 5.11)\n");

	if (loader_start(cfg, w, &skel, &fexit_err))
		goto cleanup;

	sinks = output_sinks_init(&out, &timeline, cfg, f, boot_to_realtime_offset_ns());
	if (w && w->sink)
		output_append(sinks, w->sink);
	tracker = tracker_new(sinks, cfg->join_hold_ms ? cfg->join_hold_ms * 1000000ULL
						     : TRACKER_DEFAULT_HOLD_NS);
	if (!tracker) {
		fprintf(stderr, "synscope: out of memory\n");
		goto cleanup;
	}
	if (cfg->metrics_spec) {
		metrics = metrics_serve(cfg, skel, fexit_err ? "syscall" : "fexit",
					tracker_join_table(tracker));
		if (!metrics)
			goto cleanup;
	}
	tracker_expect_closes(tracker, cfg->track_close);
	rd.tracker = tracker;
	decode_set_mono_to_boot_ns(mono_to_boot_offset_ns());
	if (cfg->write_path) {
		struct capture_meta meta = {fexit_err ? "syscall" : "fexit", cfg->track_close, cfg->argc,
					    cfg->argv};

		cap = capture_writer_open(cfg->write_path, &meta);
		if (!cap)
			goto cleanup;
	}
	rbs = ringbufs_open(skel, cfg->ringbuf_bytes, cap ? capture_writer_record : handle_record,
			    cap ? (void *)cap : &rd);
	if (!rbs)
		goto cleanup;

	install_signals(cfg->output_path && !cap);
	netstat_ok = tcpext_read_self(&netstat0) == 0;
	describe_start(cfg, w, fexit_err, mounted);
	if (w) {
		status = w->start(w);
		if (status)
			goto cleanup;
		status = 1;
	}
	if (cfg->duration_s)
		deadline = now_boot_ns() + cfg->duration_s * 1000000000ULL;
	if (cfg->interval_s)
		next_listeners = now_boot_ns() + cfg->interval_s * 1000000000ULL;
	for (;;) {
		if (exiting && !w)
			break;
		if (exiting && !stop_sent) {
			w->stop(w, exiting);
			stop_sent = true;
		}
		/* Wait for a wakeup or the poll interval, then consume either way:
		 * records submitted without a wakeup are only seen by consuming. */
		err = epoll_wait(ringbufs_epoll_fd(rbs), &ev, 1, cfg->poll_ms);
		if (err < 0 && errno != EINTR) {
			fprintf(stderr, "synscope: ring buffer poll failed: %s\n", strerror(errno));
			goto cleanup;
		}
		rd.now_ns = now_boot_ns();
		err = ringbufs_consume(rbs);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "synscope: ring buffer read failed: %s\n", strerror(-err));
			goto cleanup;
		}
		tracker_tick(tracker, rd.now_ns);
		if (cap && capture_writer_tick(cap, rd.now_ns))
			goto cleanup;
		if (next_listeners && !cap && rd.now_ns >= next_listeners) {
			free(write_listeners(skel, sinks, tracker_summary(tracker), &nlisteners));
			/* A stalled loop skips the intervals it missed rather than catching up. */
			while (next_listeners <= rd.now_ns)
				next_listeners += cfg->interval_s * 1000000000ULL;
		}
		/* One write(2) per batch; a failed write is counted at exit. */
		if (!cap)
			output_batch_end_all(sinks);
		if (reopen) {
			/* Everything read so far went to the old file; the same FILE,
			 * shared by the sinks, now appends to the path. */
			reopen = 0;
			fflush(f);
			if (!freopen(cfg->output_path, "a", f)) {
				fprintf(stderr, "synscope: couldn't reopen '%s' after SIGHUP: %s\n",
					cfg->output_path, strerror(errno));
				f = NULL;
				goto cleanup;
			}
		}
		/* --close: the programs' last ends may still be closing (a LAST_ACK waiting
		 * for its ACK in a softirq backlog): up to a second for their destruction. */
		if (w && w->finished(w)) {
			if (!cfg->track_close || !loader_open_ends(skel) ||
			    (close_grace && rd.now_ns >= close_grace))
				break;
			if (!close_grace)
				close_grace = rd.now_ns + 1000000000ULL;
		}
		if (deadline && now_boot_ns() >= deadline) {
			if (!w)
				break;
			exiting = SIGTERM;
		}
	}

	/* Stop the hooks, drain what the kernel submitted, then the ends still in
	 * flight as partial records, then print all. With the hooks still
	 * attached, an end that completed between the drain and the walk of the
	 * socket map would be in neither. */
	loader_stop_hooks(skel);
	rd.now_ns = now_boot_ns();
	ringbufs_consume(rbs);
	if (!options_metrics_only(cfg)) {
		in_flight = loader_in_flight_records(skel, cap ? capture_writer_record : handle_record,
						     cap ? (void *)cap : &rd);
		if (in_flight < 0)
			fprintf(stderr, "synscope: couldn't read the ends still in flight: their "
					"records are missing (counted as in flight)\n");
	}
	tracker_flush(tracker);
	sum = tracker_summary(tracker);
	if (!cap) {
		listeners = write_listeners(skel, sinks, sum, &nlisteners);
		sum->listeners_now = listeners;
		sum->nlisteners_now = nlisteners;
	}
	loader_read_counts(skel, sum);
	/* The partial records written are the count. */
	if (in_flight >= 0) {
		sum->in_flight = in_flight;
		sum->in_flight_valid = true;
	}
	if (netstat_ok && tcpext_read_self(&netstat1) == 0) {
		sum->netstat.valid = true;
		sum->netstat.listen_overflows = netstat1.listen_overflows - netstat0.listen_overflows;
		sum->netstat.listen_drops = netstat1.listen_drops - netstat0.listen_drops;
		sum->netstat.syncookies_sent = netstat1.syncookies_sent - netstat0.syncookies_sent;
	}
	if (cap) {
		if (capture_writer_finish(cap, sum))
			goto cleanup;
		fprintf(stderr, "synscope: wrote %llu records (%llu bytes) to %s; read them with "
				"synscope -r\n", capture_writer_records(cap), capture_writer_bytes(cap),
			cfg->write_path);
		summary_print_lost(stderr, sum);
	} else {
		sum->write_errors += output_finish_all(sinks, sum);
		if (fflush(f) != 0 || fflush(stdout) != 0) {
			fprintf(stderr, "synscope: couldn't write output: %s\n", strerror(errno));
			goto cleanup;
		}
		if (options_metrics_only(cfg)) {
			/* No record reached user space: the kernel's count is the summary. */
			fprintf(stderr, "synscope: %lld connection ends counted in the kernel (metrics "
					"only, no records)\n", metrics_count_ends(skel));
			summary_print_lost(stderr, sum);
		} else {
			summary_print(stderr, sum);
		}
	}
	if (w && w->report)
		w->report(w, sum);
	status = w ? w->exit_status(w) : 0;
	if (sum->write_errors && status == 0)
		status = 1; /* records were lost on the way out: counted in the summary */

cleanup:
	metrics_stop(metrics); /* before the maps it reads go */
	ringbufs_free(rbs);
	tracker_free(tracker);
	free(listeners);
	capture_writer_free(cap);
	synscope_bpf__destroy(skel);
	if (f && f != stdout && fclose(f) != 0 && status == 0) {
		fprintf(stderr, "synscope: couldn't write %s: %s\n", cfg->output_path, strerror(errno));
		status = 1;
	}
	return status;
}
