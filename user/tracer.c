// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The loader's lifecycle: probe the kernel -> open -> set rodata and map
 * sizes -> load (fexit, else syscall fallback) -> fill filter maps ->
 * attach -> start the workload -> poll -> drain -> summary -> cleanup.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "synscope.h" /* before the skeleton, which uses its types */
#include "synscope.skel.h"
#include "capture.h"
#include "decode.h"
#include "options.h"
#include "output.h"
#include "pid_listeners.h"
#include "probe.h"
#include "netstat.h"
#include "tracker.h"
#include "tracer.h"


static volatile sig_atomic_t exiting; /* the signal that asked us to stop */
static int verbose;
static bool quiet_libbpf; /* while probing fexit: its failure is expected */

static void on_signal(int sig)
{
	/* A second Ctrl-C quits at once, without the drain. */
	if (exiting && sig == SIGINT)
		_exit(130);
	exiting = sig;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (quiet_libbpf || (level == LIBBPF_DEBUG && verbose < 2) ||
	    (level == LIBBPF_INFO && verbose < 1))
		return 0;
	return vfprintf(stderr, fmt, args);
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

/* Explains a load/attach failure in terms of what the user can do. */
static void explain(const char *what, int err)
{
	const char *lockdown = probe_lockdown();

	fprintf(stderr, "synscope: couldn't %s: %s\n", what, strerror(-err));
	if (err == -EACCES && geteuid() == 0) {
		/* As root, EACCES at load is the verifier rejecting a program. */
		fprintf(stderr, "synscope: the BPF verifier rejected a program on this kernel: run with "
				"-vv for its log, and report it as a synscope bug\n");
	} else if (err == -EPERM || err == -EACCES) {
		if (geteuid() != 0)
			fprintf(stderr, "synscope: run as root (needs CAP_BPF, CAP_PERFMON and "
					"CAP_SYS_ADMIN for tracefs)\n");
		else if (lockdown && !strcmp(lockdown, "confidentiality"))
			fprintf(stderr, "synscope: kernel lockdown is 'confidentiality', which forbids "
					"reading kernel memory from BPF; boot with lockdown=integrity or none\n");
		else
			fprintf(stderr, "synscope: the kernel refused BPF: check "
					"/proc/sys/kernel/unprivileged_bpf_disabled, seccomp or an LSM policy\n");
	} else if (err == -ENOENT || err == -ESRCH) {
		fprintf(stderr, "synscope: a tracepoint or kernel function is missing; run with -v for "
				"libbpf's details\n");
	}
}

/*
 * The kernel side wakes the reader per CPU (see wakeup_bytes_per_cpu): each
 * CPU's share of --wakeup-bytes keeps the total waiting below it. 0 stays 0
 * (wake on every record).
 */
static __u64 per_cpu_wakeup_bytes(unsigned int wakeup_bytes)
{
	int ncpus = libbpf_num_possible_cpus();

	if (!wakeup_bytes)
		return 0;
	if (ncpus < 1)
		ncpus = 1;
	return wakeup_bytes / ncpus ? wakeup_bytes / ncpus : 1;
}

static struct synscope_bpf *open_skel(const struct synscope_config *cfg, bool tree, bool with_fexit)
{
	struct synscope_bpf *skel = synscope_bpf__open();

	if (!skel)
		return NULL;
	skel->rodata->filter_family = cfg->family;
	skel->rodata->filter_ports = cfg->nports > 0;
	skel->rodata->filter_tgids = cfg->pid > 0 || tree;
	skel->rodata->follow_forks = tree;
	skel->rodata->wakeup_bytes_per_cpu = per_cpu_wakeup_bytes(cfg->wakeup_bytes);
	skel->rodata->track_close = cfg->track_close;
	skel->rodata->hooks_only = cfg->hooks_only;
	bpf_program__set_autoload(skel->progs.handle_receive_reset, cfg->track_close);
	bpf_program__set_autoload(skel->progs.handle_receive_reset_nested, cfg->track_close);
	bpf_map__set_max_entries(skel->maps.rb, cfg->ringbuf_bytes);
	bpf_map__set_max_entries(skel->maps.socks, cfg->max_sockets);
	bpf_map__set_max_entries(skel->maps.client_peers, cfg->max_sockets);
	bpf_program__set_autoload(skel->progs.handle_accept_fexit, with_fexit);
	/* Forks matter only when tracing a process tree. */
	bpf_program__set_autoload(skel->progs.handle_fork, tree);
	bpf_program__set_autoload(skel->progs.handle_exit, cfg->pid > 0 || tree);
	return skel;
}

/*
 * Loads with fexit/inet_csk_accept if allowed, else without it. Sets
 * *fexit_err to the reason fexit was not used (0 if it is used).
 */
static int load_skel(const struct synscope_config *cfg, bool tree, struct synscope_bpf **out,
		     int *fexit_err)
{
	struct synscope_bpf *skel = NULL;
	int err;

	*fexit_err = 0;
	if (cfg->accept_hook != ACCEPT_HOOK_SYSCALL) {
		skel = open_skel(cfg, tree, true);
		if (!skel)
			return -errno;
		quiet_libbpf = cfg->accept_hook == ACCEPT_HOOK_AUTO && verbose < 2;
		err = synscope_bpf__load(skel);
		quiet_libbpf = false;
		if (!err) {
			*out = skel;
			return 0;
		}
		synscope_bpf__destroy(skel);
		if (cfg->accept_hook == ACCEPT_HOOK_FEXIT) {
			fprintf(stderr, "synscope: fexit/inet_csk_accept did not load (%s); "
					"use --accept-hook=auto or syscall\n", strerror(-err));
			return err;
		}
		*fexit_err = err;
	} else {
		*fexit_err = -ECANCELED;
	}
	skel = open_skel(cfg, tree, false);
	if (!skel)
		return -errno;
	err = synscope_bpf__load(skel);
	if (err) {
		synscope_bpf__destroy(skel);
		return err;
	}
	*out = skel;
	return 0;
}

/* A program that handles what its primary was skipped for (nest_state in the BPF code). */
struct fallback {
	struct bpf_program *prog;
	struct bpf_link **link; /* the skeleton's slot: destroyed with the skeleton */
};

#define NFALLBACKS 3

static void nested_fallbacks(struct synscope_bpf *skel, struct fallback out[NFALLBACKS])
{
	out[0] = (struct fallback){skel->progs.handle_set_state_nested,
				   &skel->links.handle_set_state_nested};
	out[1] = (struct fallback){skel->progs.handle_destroy_nested,
				   &skel->links.handle_destroy_nested};
	out[2] = (struct fallback){skel->progs.handle_receive_reset_nested,
				   &skel->links.handle_receive_reset_nested};
}

static bool is_nested_fallback(struct synscope_bpf *skel, const struct bpf_program *prog)
{
	struct fallback fb[NFALLBACKS];
	int i;

	nested_fallbacks(skel, fb);
	for (i = 0; i < NFALLBACKS; i++)
		if (fb[i].prog == prog)
			return true;
	return false;
}

/*
 * The fallbacks must run after their primaries on each event, so they are
 * attached last: a tracepoint calls its probes in the order they were added.
 */
static int attach_programs(struct synscope_bpf *skel)
{
	struct fallback fb[NFALLBACKS];
	int i, err;

	nested_fallbacks(skel, fb);
	for (i = 0; i < NFALLBACKS; i++)
		bpf_program__set_autoattach(fb[i].prog, false);
	err = synscope_bpf__attach(skel);
	if (err)
		return err;
	for (i = 0; i < NFALLBACKS; i++) {
		if (!bpf_program__autoload(fb[i].prog))
			continue;
		*fb[i].link = bpf_program__attach(fb[i].prog);
		if (!*fb[i].link)
			return -errno;
	}
	return 0;
}

/*
 * Events no program saw: runs the kernel skipped because the program was
 * already running on that CPU (bpf_prog_info.recursion_misses, kernel 5.12+),
 * less those a fallback handled. A fallback's own misses are events its
 * primary ran for.
 */
static unsigned long long program_misses(struct synscope_bpf *skel,
					 const struct synscope_stats *k)
{
	unsigned long long misses = 0;
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		if (verbose && info.recursion_misses)
			fprintf(stderr, "synscope: the kernel skipped %llu runs of %s (already running "
					"on that CPU)\n", (unsigned long long)info.recursion_misses,
				bpf_program__name(prog));
		if (!is_nested_fallback(skel, prog))
			misses += info.recursion_misses;
	}
	if (verbose && k->nested_handled)
		fprintf(stderr, "synscope: %llu of them handled by a fallback program\n",
			(unsigned long long)k->nested_handled);
	return misses > k->nested_handled ? misses - k->nested_handled : 0;
}

/* The BPF side's counters, summed over the CPUs. Returns 0 or -errno. */
/* Entries left in the socket map: ends whose record never left the kernel. */
static int count_in_flight(struct synscope_bpf *skel, unsigned long long *n)
{
	__u64 key, next;
	int err;

	*n = 0;
	for (err = bpf_map__get_next_key(skel->maps.socks, NULL, &next, sizeof(next)); !err;
	     err = bpf_map__get_next_key(skel->maps.socks, &key, &next, sizeof(next))) {
		key = next;
		(*n)++;
	}
	return err == -ENOENT ? 0 : err;
}

static int read_kernel_stats(struct synscope_bpf *skel, struct synscope_stats *sum)
{
	int i, c, ncpus = libbpf_num_possible_cpus();
	const size_t nfields = sizeof(*sum) / sizeof(__u64);
	struct synscope_stats *per_cpu;
	__u32 zero = 0;

	_Static_assert(sizeof(struct synscope_stats) % sizeof(__u64) == 0, "u64 counters only");
	memset(sum, 0, sizeof(*sum));
	if (ncpus < 0)
		return ncpus;
	per_cpu = calloc(ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	if (bpf_map__lookup_elem(skel->maps.stats, &zero, sizeof(zero), per_cpu,
				 sizeof(*per_cpu) * ncpus, 0)) {
		free(per_cpu);
		return -errno;
	}
	for (c = 0; c < ncpus; c++)
		for (i = 0; i < (int)nfields; i++)
			((__u64 *)sum)[i] += ((const __u64 *)&per_cpu[c])[i];
	free(per_cpu);
	return 0;
}

static int trace_tgid(struct synscope_bpf *skel, pid_t pid)
{
	__u32 tgid = pid;
	__u8 one = 1;

	if (bpf_map__update_elem(skel->maps.traced_tgids, &tgid, sizeof(tgid), &one, sizeof(one), 0))
		return -errno;
	return 0;
}

static int fill_filters(struct synscope_bpf *skel, const struct synscope_config *cfg,
			const struct workload *w)
{
	struct pid_listener found[64];
	__u8 one = 1;
	unsigned int i;
	int n, err;

	for (i = 0; i < cfg->nports; i++) {
		__u32 port = cfg->ports[i];

		if (bpf_map__update_elem(skel->maps.port_filter, &port, sizeof(port), &one, sizeof(one), 0))
			return -errno;
	}
	for (n = 0; w && n < w->npids; n++) {
		err = trace_tgid(skel, w->pids[n]);
		if (err)
			return err;
	}
	if (cfg->pid <= 0)
		return 0;
	err = trace_tgid(skel, cfg->pid);
	if (err)
		return err;
	/* Server ends of -p PID: its listeners opened before synscope started. */
	n = pid_listeners(cfg->pid, found, 64);
	if (n < 0) {
		fprintf(stderr, "synscope: couldn't read the listeners of pid %d: %s\n", cfg->pid,
			strerror(-n));
		return n;
	}
	for (i = 0; i < (unsigned int)n; i++) {
		struct {
			__u64 netns;
			__u16 port;
			__u16 pad[3];
		} key = {.netns = found[i].netns, .port = found[i].port};
		struct {
			__u32 tgid;
			__u32 backlog_req;
		} val = {.tgid = cfg->pid};

		if (bpf_map__update_elem(skel->maps.listeners, &key, sizeof(key), &val, sizeof(val), 0))
			return -errno;
		if (verbose)
			fprintf(stderr, "synscope: pid %d listens on port %u\n", cfg->pid, found[i].port);
	}
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

static void install_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void describe_start(const struct synscope_config *cfg, const struct workload *w,
			   int fexit_err, bool mounted)
{
	char why[96] = "", what[64] = "TCP handshakes";

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
}

int run_tracer(const struct synscope_config *cfg, struct workload *w)
{
	struct synscope_bpf *skel = NULL;
	struct capture_writer *cap = NULL; /* -w: records go to it undecoded */
	struct ring_buffer *rb = NULL;
	struct tracker *tracker = NULL;
	struct run_summary *sum;
	struct output out, timeline, *sinks = NULL;
	unsigned long long deadline = 0;
	struct tcpext_counters netstat0, netstat1;
	struct reader rd = {0};
	struct epoll_event ev;
	bool mounted = false, stop_sent = false, netstat_ok = false;
	FILE *f = NULL;
	int err, fexit_err = 0, status = 1;

	verbose = cfg->verbose;
	libbpf_set_print(libbpf_print);

	if (cfg->pid > 0 && kill(cfg->pid, 0) != 0 && errno == ESRCH) {
		fprintf(stderr, "synscope: no process with pid %d\n", cfg->pid);
		return 1;
	}
	f = open_output(cfg);
	if (!f)
		return 1;
	if (probe_privileges() || probe_btf() || probe_tracefs(&mounted))
		goto cleanup;
	if (!probe_raise_memlock() && verbose)
		fprintf(stderr, "synscope: RLIMIT_MEMLOCK not raised (fine on kernels >= 5.11)\n");

	err = load_skel(cfg, w != NULL, &skel, &fexit_err);
	if (err) {
		explain("load BPF programs", err);
		goto cleanup;
	}
	err = fill_filters(skel, cfg, w);
	if (err) {
		explain("set filters", err);
		goto cleanup;
	}
	err = attach_programs(skel);
	if (err) {
		explain("attach BPF programs", err);
		goto cleanup;
	}

	sinks = output_sinks_init(&out, &timeline, cfg, f, boot_to_realtime_offset_ns());
	tracker = tracker_new(sinks, TRACKER_DEFAULT_HOLD_NS);
	if (!tracker) {
		fprintf(stderr, "synscope: out of memory\n");
		goto cleanup;
	}
	rd.tracker = tracker;
	decode_set_mono_to_boot_ns(mono_to_boot_offset_ns());
	if (cfg->write_path) {
		struct capture_meta meta = {fexit_err ? "syscall" : "fexit", cfg->argc, cfg->argv};

		cap = capture_writer_open(cfg->write_path, &meta);
		if (!cap)
			goto cleanup;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.rb), cap ? capture_writer_record : handle_record,
			      cap ? (void *)cap : &rd, NULL);
	if (!rb) {
		explain("create ring buffer", -errno);
		goto cleanup;
	}

	install_signals();
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
	for (;;) {
		if (exiting && !w)
			break;
		if (exiting && !stop_sent) {
			w->stop(w, exiting);
			stop_sent = true;
		}
		/* Wait for a wakeup or the poll interval, then consume either way:
		 * records submitted without a wakeup are only seen by consuming. */
		err = epoll_wait(ring_buffer__epoll_fd(rb), &ev, 1, cfg->poll_ms);
		if (err < 0 && errno != EINTR) {
			fprintf(stderr, "synscope: ring buffer poll failed: %s\n", strerror(errno));
			goto cleanup;
		}
		rd.now_ns = now_boot_ns();
		err = ring_buffer__consume(rb);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "synscope: ring buffer read failed: %s\n", strerror(-err));
			goto cleanup;
		}
		tracker_tick(tracker, rd.now_ns);
		if (cap && capture_writer_tick(cap, rd.now_ns))
			goto cleanup;
		/* One write(2) per batch; a failed write is counted at exit. */
		if (!cap)
			output_batch_end_all(sinks);
		if (w && w->finished(w))
			break;
		if (deadline && now_boot_ns() >= deadline) {
			if (!w)
				break;
			exiting = SIGTERM;
		}
	}

	/* Drain what the kernel submitted before we stopped, then print all. */
	rd.now_ns = now_boot_ns();
	ring_buffer__consume(rb);
	tracker_flush(tracker);
	sum = tracker_summary(tracker);
	err = read_kernel_stats(skel, &sum->kernel);
	if (err)
		fprintf(stderr, "synscope: couldn't read the BPF side's counters: %s\n", strerror(-err));
	sum->kernel_valid = !err;
	sum->prog_misses = program_misses(skel, &sum->kernel);
	sum->in_flight_valid = count_in_flight(skel, &sum->in_flight) == 0;
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
		summary_print(stderr, sum);
	}
	if (w && w->report)
		w->report(w, sum);
	status = w ? w->exit_status(w) : 0;
	if (sum->write_errors && status == 0)
		status = 1; /* records were lost on the way out: counted in the summary */

cleanup:
	ring_buffer__free(rb);
	tracker_free(tracker);
	capture_writer_free(cap);
	synscope_bpf__destroy(skel);
	if (f && f != stdout && fclose(f) != 0 && status == 0) {
		fprintf(stderr, "synscope: couldn't write %s: %s\n", cfg->output_path, strerror(errno));
		status = 1;
	}
	return status;
}
