// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The loader: open the skeleton, set its rodata and map sizes from the
 * options, load it (with fexit/inet_csk_accept where the kernel allows it,
 * else with the accept syscall tracepoints), fill the filter maps, attach
 * (fallback programs last); at the end, read the kernel side's counters.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "synscope.h" /* before the skeleton, which uses its types */
#include "synscope.skel.h"
#include "loader.h"
#include "ringbufs.h"
#include "pid_listeners.h"
#include "probe.h"
#include "tracer.h"

static int verbose;
static bool quiet_libbpf; /* while probing fexit: its failure is expected */

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (quiet_libbpf || (level == LIBBPF_DEBUG && verbose < 2) ||
	    (level == LIBBPF_INFO && verbose < 1))
		return 0;
	return vfprintf(stderr, fmt, args);
}

void loader_explain(const char *what, int err)
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
 * CPU's share of --wakeup-bytes keeps the total waiting below it, and half
 * its ring buffer at most. 0 stays 0 (wake on every record).
 */
static __u64 per_cpu_wakeup_bytes(unsigned int wakeup_bytes, unsigned int ringbuf_bytes)
{
	int ncpus = libbpf_num_possible_cpus();
	/* Below the CPU's own ring buffer, or it would never wake synscope. */
	__u64 most = ringbufs_size_per_cpu(ringbuf_bytes, ncpus) / 2;

	if (!wakeup_bytes)
		return 0;
	if (ncpus < 1)
		ncpus = 1;
	if (wakeup_bytes / ncpus > most)
		return most;
	return wakeup_bytes / ncpus ? wakeup_bytes / ncpus : 1;
}

/*
 * The handshake table's sets (bpf/socks.bpf.h): a power of two, at least 4,
 * of SYNSCOPE_SOCK_WAYS slots each, and as many overflow entries: room for
 * max_sockets ends, rounded up to 8 a set.
 */
static unsigned int sock_sets(unsigned int max_sockets)
{
	unsigned int sets = 4;

	while (sets * (SYNSCOPE_SOCK_WAYS + 1) < max_sockets)
		sets <<= 1;
	return sets;
}

static struct synscope_bpf *open_skel(const struct synscope_config *cfg, bool tree, bool with_fexit)
{
	struct synscope_bpf *skel = synscope_bpf__open();
	int ncpus = libbpf_num_possible_cpus();
	unsigned int sets;

	if (!skel)
		return NULL;
	skel->rodata->filter_family = cfg->family;
	skel->rodata->filter_ports = cfg->nports > 0;
	skel->rodata->filter_tgids = cfg->pid > 0 || tree;
	skel->rodata->follow_forks = tree;
	skel->rodata->wakeup_bytes_per_cpu = per_cpu_wakeup_bytes(cfg->wakeup_bytes, cfg->ringbuf_bytes);
	skel->rodata->track_close = cfg->track_close;
	skel->rodata->hooks_only = cfg->hooks_only;
	skel->rodata->aggregate = cfg->metrics_spec != NULL;
	/* The listeners' counters feed the listener records and summary lines as well as
	 * --metrics; the iterator (dump_listeners) loads with them and runs only when read. */
	bpf_program__set_autoload(skel->progs.handle_listen_overflow, probe_listen_overflow_reason());
	skel->rodata->emit_records = !options_metrics_only(cfg);
	skel->rodata->id_stride = ncpus > 0 ? ncpus : 1;
	/* Tests only: see test_unseen_every in bpf/synscope.bpf.c. */
	if (getenv("SYNSCOPE_TEST_UNSEEN"))
		skel->rodata->test_unseen_every = strtoul(getenv("SYNSCOPE_TEST_UNSEEN"), NULL, 10);
	skel->rodata->test_unseen_destroy = getenv("SYNSCOPE_TEST_UNSEEN_DESTROY") != NULL;
	/* Tests only: see test_one_set in bpf/socks.bpf.h. */
	skel->rodata->test_one_set = getenv("SYNSCOPE_TEST_ONE_SET") != NULL;
	bpf_program__set_autoload(skel->progs.handle_receive_reset, cfg->track_close);
	bpf_program__set_autoload(skel->progs.handle_receive_reset_nested, cfg->track_close);
	/* One ring buffer per CPU, created after load (ringbufs.c). */
	bpf_map__set_max_entries(skel->maps.rbs, ncpus > 0 ? ncpus : 1);
	sets = sock_sets(cfg->max_sockets);
	bpf_map__set_max_entries(skel->maps.sock_keys, sets);
	bpf_map__set_max_entries(skel->maps.sock_recs, sets * SYNSCOPE_SOCK_WAYS);
	bpf_map__set_max_entries(skel->maps.sock_overflow, sets);
	skel->rodata->sock_set_shift = 32 - __builtin_ctz(sets);
	bpf_map__set_max_entries(skel->maps.open_ends, cfg->max_sockets);
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
 * Detaches every hook (the listener iterator stays, for the listeners at
 * exit), so that the ring buffer and the socket map hold all there will be:
 * drained and walked after this, no record falls between the two.
 */
void loader_stop_hooks(struct synscope_bpf *skel)
{
	const struct bpf_object_skeleton *s = skel->skeleton;
	int i;

	for (i = 0; i < s->prog_cnt; i++) {
		struct bpf_link **link = s->progs[i].link;

		if (*s->progs[i].prog == skel->progs.dump_listeners || !*link)
			continue;
		bpf_link__destroy(*link);
		*link = NULL;
	}
	/* A program that was already running on another CPU when its link went
	 * finishes after bpf_link__destroy() returns: it runs for microseconds. */
	usleep(20 * 1000);
}

/*
 * Events no program saw: runs the kernel skipped because the program was
 * already running on that CPU (bpf_prog_info.recursion_misses, kernel 5.12+),
 * less those a fallback handled. A fallback's own misses are events its
 * primary ran for.
 */
unsigned long long loader_unhandled_misses(struct synscope_bpf *skel,
					   const struct synscope_stats *k, bool report)
{
	unsigned long long misses = 0;
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		if (report && verbose && info.recursion_misses)
			fprintf(stderr, "synscope: the kernel skipped %llu runs of %s (already running "
					"on that CPU)\n", (unsigned long long)info.recursion_misses,
				bpf_program__name(prog));
		if (!is_nested_fallback(skel, prog))
			misses += info.recursion_misses;
	}
	if (report && verbose && k->nested_handled)
		fprintf(stderr, "synscope: %llu of them handled by a fallback program\n",
			(unsigned long long)k->nested_handled);
	return misses > k->nested_handled ? misses - k->nested_handled : 0;
}

/* A server end accepted by a caller no hook saw, whose record waits for its socket's end. */
static bool accepted_unseen_end(const struct synscope_handshake *rec)
{
	return (rec->flags & (SYNSCOPE_F_GRAFTED | SYNSCOPE_F_ACCEPTED)) == SYNSCOPE_F_GRAFTED;
}

/*
 * Calls fn for each end in the handshake table (bpf/socks.bpf.h), its sets
 * and its overflow map, with its record (entries whose record left,
 * SYNSCOPE_F_EMITTED, skipped); stops at fn's first non-zero return and
 * returns it, or a lookup's error.
 */
static int for_each_socks_entry(struct synscope_bpf *skel,
				int (*fn)(void *ctx, const struct synscope_handshake *rec), void *ctx)
{
	unsigned int sets = bpf_map__max_entries(skel->maps.sock_keys);
	const struct bpf_map *overflow = skel->maps.sock_overflow;
	struct synscope_handshake rec;
	struct synscope_sock_set s;
	__u32 set, slot;
	__u64 key, next;
	int err, way;

	for (set = 0; set < sets; set++) {
		err = bpf_map__lookup_elem(skel->maps.sock_keys, &set, sizeof(set), &s, sizeof(s), 0);
		if (err)
			return err;
		for (way = 0; way < SYNSCOPE_SOCK_WAYS; way++) {
			if (!s.keys[way])
				continue;
			slot = set * SYNSCOPE_SOCK_WAYS + way;
			err = bpf_map__lookup_elem(skel->maps.sock_recs, &slot, sizeof(slot), &rec,
						   sizeof(rec), 0);
			if (!err && !(rec.flags & SYNSCOPE_F_EMITTED))
				err = fn(ctx, &rec);
			if (err)
				return err;
		}
	}
	for (err = bpf_map__get_next_key(overflow, NULL, &next, sizeof(next)); !err;
	     err = bpf_map__get_next_key(overflow, &key, &next, sizeof(next))) {
		key = next;
		if (bpf_map__lookup_elem(overflow, &key, sizeof(key), &rec, sizeof(rec), 0) ||
		    (rec.flags & SYNSCOPE_F_EMITTED))
			continue;
		err = fn(ctx, &rec);
		if (err)
			return err;
	}
	return err == -ENOENT ? 0 : err;
}

/* An end still in flight: not complete (accepted_unseen_end() ends are written whole). */
static int count_in_flight(void *ctx, const struct synscope_handshake *rec)
{
	*(unsigned long long *)ctx += !accepted_unseen_end(rec);
	return 0;
}

/* The entries of a hash map keyed by socket address (open_ends, reset_unseen). */
static int count_entries(const struct bpf_map *map, unsigned long long *n)
{
	__u64 key, next;
	int err;

	*n = 0;
	for (err = bpf_map__get_next_key(map, NULL, &next, sizeof(next)); !err;
	     err = bpf_map__get_next_key(map, &key, &next, sizeof(next))) {
		key = next;
		++*n;
	}
	return err == -ENOENT ? 0 : err;
}

struct in_flight_writer {
	int (*fn)(void *ctx, void *data, size_t size);
	void *ctx;
	int n;
};

static int write_in_flight(void *ctx, const struct synscope_handshake *entry)
{
	struct in_flight_writer *w = ctx;
	struct synscope_handshake rec = *entry;

	/* Complete: written as destroy() would write it. */
	if (accepted_unseen_end(&rec)) {
		rec.flags |= SYNSCOPE_F_ACCEPTED | SYNSCOPE_F_ACCEPT_UNSEEN;
		w->fn(w->ctx, &rec, sizeof(rec));
		return 0;
	}
	rec.flags |= SYNSCOPE_F_IN_FLIGHT;
	w->fn(w->ctx, &rec, sizeof(rec));
	w->n++;
	return 0;
}

int loader_in_flight_records(struct synscope_bpf *skel,
			     int (*fn)(void *ctx, void *data, size_t size), void *ctx)
{
	struct in_flight_writer w = {.fn = fn, .ctx = ctx};
	int err = for_each_socks_entry(skel, write_in_flight, &w);

	return err ? err : w.n;
}

unsigned long long loader_open_ends(struct synscope_bpf *skel)
{
	unsigned long long n;

	return count_entries(skel->maps.open_ends, &n) ? 0 : n;
}

int loader_sum_percpu(const struct bpf_map *map, void *sum, size_t size)
{
	int c, ncpus = libbpf_num_possible_cpus();
	const size_t nfields = size / sizeof(__u64);
	__u64 *per_cpu, *out = sum;
	__u32 zero = 0;
	size_t i;

	memset(sum, 0, size);
	if (ncpus < 0)
		return ncpus;
	if (size % sizeof(__u64))
		return -EINVAL;
	per_cpu = calloc(ncpus, size);
	if (!per_cpu)
		return -ENOMEM;
	if (bpf_map__lookup_elem(map, &zero, sizeof(zero), per_cpu, size * ncpus, 0)) {
		free(per_cpu);
		return -errno;
	}
	for (c = 0; c < ncpus; c++)
		for (i = 0; i < nfields; i++)
			out[i] += per_cpu[c * nfields + i];
	free(per_cpu);
	return 0;
}

int loader_read_stats(struct synscope_bpf *skel, struct synscope_stats *sum)
{
	_Static_assert(sizeof(struct synscope_stats) % sizeof(__u64) == 0, "u64 counters only");
	return loader_sum_percpu(skel->maps.stats, sum, sizeof(*sum));
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
		struct synscope_listener_key key = {.netns = found[i].netns, .port = found[i].port};
		struct synscope_listener val = {.tgid = cfg->pid};

		if (bpf_map__update_elem(skel->maps.listeners, &key, sizeof(key), &val, sizeof(val), 0))
			return -errno;
		if (verbose)
			fprintf(stderr, "synscope: pid %d listens on port %u\n", cfg->pid, found[i].port);
	}
	return 0;
}


int loader_start(const struct synscope_config *cfg, const struct workload *w,
		 struct synscope_bpf **out, int *fexit_err)
{
	struct synscope_bpf *skel = NULL;
	int err;

	verbose = cfg->verbose;
	libbpf_set_print(libbpf_print);
	err = load_skel(cfg, w != NULL, &skel, fexit_err);
	if (err) {
		loader_explain("load BPF programs", err);
		return err;
	}
	err = fill_filters(skel, cfg, w);
	if (err) {
		loader_explain("set filters", err);
		goto fail;
	}
	err = attach_programs(skel);
	if (err) {
		loader_explain("attach BPF programs", err);
		goto fail;
	}
	*out = skel;
	return 0;
fail:
	synscope_bpf__destroy(skel);
	return err;
}

void loader_read_counts(struct synscope_bpf *skel, struct run_summary *sum)
{
	int err = loader_read_stats(skel, &sum->kernel);
	unsigned long long marks;

	if (err)
		fprintf(stderr, "synscope: couldn't read the BPF side's counters: %s\n", strerror(-err));
	sum->kernel_valid = !err;
	sum->prog_misses = loader_unhandled_misses(skel, &sum->kernel, true);
	/* Ends whose record never left the kernel; established ends never destroyed. */
	sum->in_flight = 0;
	sum->in_flight_valid = for_each_socks_entry(skel, count_in_flight, &sum->in_flight) == 0;
	sum->closes_open_valid = count_entries(skel->maps.open_ends, &sum->closes_open) == 0;
	/* Children reset in the queue unseen that no accept() took by now: their
	 * records never come (bpf/maps.bpf.h, reset_unseen). */
	if (sum->kernel_valid && count_entries(skel->maps.reset_unseen, &marks) == 0)
		sum->kernel.handshake_unseen += marks;
}
