/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command line of build/synscope (argp, bcc's option letters). */
#ifndef SYNSCOPE_OPTIONS_H
#define SYNSCOPE_OPTIONS_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "output.h"
#include "synscope.h"

enum accept_hook {
	ACCEPT_HOOK_AUTO,    /* fexit/inet_csk_accept if it loads, else syscall tracepoints */
	ACCEPT_HOOK_FEXIT,   /* fexit only; fail if the kernel refuses it */
	ACCEPT_HOOK_SYSCALL, /* accept/accept4 syscall tracepoints only */
};

struct synscope_config {
	pid_t pid;                    /* -p: 0 = every process */
	unsigned short ports[SYNSCOPE_MAX_PORTS]; /* -P, host byte order */
	unsigned int nports;
	int family;                   /* -4/-6: AF_INET, AF_INET6, or 0 */
	bool timestamps;              /* -T */
	int verbose;                  /* -v: 1 probes and libbpf info, 2 (-vv) libbpf debug */
	unsigned int duration_s;      /* -d: 0 = until interrupted */
	unsigned int interval_s;      /* -i: listener records every this many seconds; 0 = at exit only */
	const char *output_path;      /* -o: NULL = stdout */
	enum output_format format;    /* -f */
	enum accept_hook accept_hook; /* --accept-hook */
	unsigned int ringbuf_bytes;   /* --ringbuf-size (a power of two), or options_default_ringbuf_bytes() */
	unsigned int wakeup_bytes;    /* --wakeup-bytes: wake the reader once this much waits (0: every record) */
	unsigned int poll_ms;         /* --poll-ms: longest a record waits before being read */
	bool wakeup_set;              /* --wakeup-bytes given (else 1/8 of the ring buffer) */
	unsigned int max_sockets;     /* --max-sockets: connection ends in flight */
	bool timeline;                /* --timeline: the handshake ladder of each connection */
	bool track_close;             /* --close: how each established end closed */
	bool hooks_only;              /* --hooks-only (hidden, make bench): programs return at once */
	unsigned int join_hold_ms;    /* how long a client waits for its server end; 0: the tracker's default */
	char **cmd;                   /* -- CMD ARGS...: run and trace it (NULL-terminated), or NULL */
	const char *write_path;       /* -w: raw records to this capture file ("-": stdout), or NULL */
	const char *read_path;        /* -r: replay this capture ("-": stdin) instead of tracing, or NULL */
	bool format_set;              /* -f given */
	const char *metrics_spec;     /* --metrics [ADDR:]PORT as given, or NULL */
	struct sockaddr_storage metrics_addr; /* --metrics: where /metrics is served (port set) */
	const char *kernel_opt;       /* the first option given that only applies while tracing (for -r's error) */
	int argc;                     /* the command line, recorded in a capture's header */
	char **argv;
};

/*
 * Parses argv into *cfg (defaults first). Returns 0, or a non-zero exit
 * status after printing the reason to stderr (argp's behaviour for --help
 * is to print and exit 0 itself).
 */
int parse_options(int argc, char **argv, struct synscope_config *cfg);
/* The same with extra argp flags (the fuzzer passes ARGP_NO_EXIT | ARGP_NO_ERRS | ARGP_NO_HELP). */
int parse_options_flags(int argc, char **argv, struct synscope_config *cfg, unsigned int flags);

/* Defaults shared by the command line and the demo. */
/*
 * The default --ringbuf-size (bytes, all CPUs together) on a host of `cpus`
 * CPUs: 4 MiB up to 16 CPUs, 256 KiB a CPU beyond, at most 64 MiB.
 */
unsigned int options_default_ringbuf_bytes(long cpus);
void options_defaults(struct synscope_config *cfg);

/*
 * Parses --metrics' "[ADDR:]PORT" ("9560", "127.0.0.1:9560", "[::1]:9560",
 * "0.0.0.0:9560"; ADDR defaults to 127.0.0.1) into *out. Returns 0 or -EINVAL.
 */
int parse_listen_address(const char *arg, struct sockaddr_storage *out);

/* --metrics without -f, -o or -w: records stay in the kernel, only counted. */
bool options_metrics_only(const struct synscope_config *cfg);

/* Parses "80,443,8080" into ports[]; returns count or -EINVAL/-E2BIG. */
int parse_port_list(const char *arg, unsigned short *ports, unsigned int max);

#endif
