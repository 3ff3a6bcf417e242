/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Output sinks: one call per connection end, one at exit with the counts. */
#ifndef SYNSCOPE_OUTPUT_H
#define SYNSCOPE_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>
#include "decode.h"
#include "listeners.h"
#include "outbuf.h"
#include "summary.h"

enum output_format {
	OUTPUT_TEXT,
	OUTPUT_JSONL,
	OUTPUT_TRACE_EVENT, /* Trace Event Format JSON (Perfetto, chrome://tracing) */
	OUTPUT_HTML,        /* one self-contained HTML report, written at exit */
};

struct output;

/* The date-and-time part of the last RFC 3339 time written: a new one each second. */
struct rfc3339_cache {
	long long sec;   /* the second it is for; valid when len > 0 */
	unsigned int len;
	char prefix[40]; /* "2026-11-21T14:35:03" */
};

struct output_ops {
	/*
	 * One completed connection end. Returns 0 or -errno (write failed). The
	 * text and JSONL sinks only buffer it (-ENOMEM at worst): their failed
	 * writes are counted by output_finish_all().
	 */
	int (*end)(struct output *out, const struct conn_end *end);
	/* Counts at exit, written into the same stream (JSONL: a "stats" record). Optional:
	 * the human summary goes to stderr for every format. */
	int (*summary)(struct output *out, const struct run_summary *sum);
	/* Prints whatever the sink still holds (at exit). Optional. */
	int (*flush)(struct output *out);
	/*
	 * A join that came after its client end was written (the server end
	 * completed much later, e.g. its third ACK was dropped on a full accept
	 * queue). Optional.
	 */
	int (*link)(struct output *out, const struct conn_link *link);
	/* How an established end closed (--close). Optional. */
	int (*close)(struct output *out, const struct conn_close *close);
	/*
	 * A listener as the kernel held it at boot time `boot_ns` (its queues
	 * now, its counters since synscope started): at exit, and every
	 * --interval. Optional.
	 */
	int (*listener)(struct output *out, const struct listener_state *l, unsigned long long boot_ns);
};

struct output {
	const struct output_ops *ops;
	FILE *f;
	bool timestamps;          /* -T: text lines start with the wall-clock time */
	bool verbose;             /* -v: text lines carry ISS/IRS and timestamps */
	bool track_close;         /* --close: close records will follow established ends */
	long long boot_to_real_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME, for RFC 3339 times */
	unsigned long lines;      /* records written */
	void *state;              /* the sink's own, if it keeps any */
	struct outbuf *buf;       /* text and JSONL: records held until the batch ends */
	struct rfc3339_cache when; /* text and JSONL: for rfc3339_cached() */
	struct output *next;      /* a further sink fed the same records, or NULL */
};

extern const struct output_ops output_text_ops;
extern const struct output_ops output_jsonl_ops;
extern const struct output_ops output_timeline_ops;
extern const struct output_ops output_trace_event_ops;
extern const struct output_ops output_html_ops;

/* Hands an end to every sink of the chain; returns how many failed. */
int output_end_all(struct output *out, const struct conn_end *end);
/* Hands a close record to every sink of the chain; returns how many failed. */
int output_close_all(struct output *out, const struct conn_close *close);
/*
 * The name of an end's last state: its CLOSE shown as "TIME_WAIT" when it was
 * the hand-over to a timewait socket, "TIME_WAIT(FIN_WAIT2)" while that
 * socket still waits for the peer's FIN.
 */
const char *close_final_state(const struct conn_close *close);
/* "ESTABLISHED FIN_WAIT1 FIN_WAIT2 TIME_WAIT", with close_final_state() last. */
void close_path_text(const struct conn_close *close, char *buf, size_t len, const char *sep);
/* "10.0.0.1:8080" or "[::1]:8080": an address (text) and a port, in buf; returns buf. */
char *endpoint_text(char *buf, size_t len, int family, const char *addr, unsigned int port);
/*
 * A connection's two endpoints seen from its client, "from" its local end
 * "to" the server, each as endpoint_text(); from the server end when the
 * client is NULL (not traced). At least one end is given.
 */
void conn_endpoints(const struct conn_end *client, const struct conn_end *server, char *from,
		    char *to, size_t len);
/* "0.0.0.0:8080", "[::]:8080" or "*:8080" for a listener, in buf; returns buf. */
char *listener_name(const struct listener_state *l, char *buf, size_t len);
/*
 * "accept queue 3/4, SYN queue 0, drops 2, third ACKs dropped on a full queue 0,
 * SYN-ACK retransmits 1" (overflows "n/a (before Linux 6.15)" when the kernel does
 * not name the listener), in buf; returns buf.
 */
char *listener_state_text(const struct listener_state *l, char *buf, size_t len);
/* Hands a listener's state to every sink of the chain; returns how many failed. */
int output_listener_all(struct output *out, const struct listener_state *l, unsigned long long boot_ns);
/* Hands a late join to every sink of the chain; returns how many failed. */
int output_link_all(struct output *out, const struct conn_link *link);
/*
 * Flushes held records and writes the summary, in every sink, then frees the
 * sinks' buffers. Returns how many records failed: the summaries that could
 * not be written and the records lost to write errors during the run.
 */
int output_finish_all(struct output *out, const struct run_summary *sum);
/*
 * End of a ring-buffer batch: writes what the sinks of the chain hold, one
 * write(2) each, so live output stays live. A failed write drops the held
 * records and counts them for output_finish_all(). Returns how many sinks
 * failed to write.
 */
int output_batch_end_all(struct output *out);
/*
 * The buffer `out` formats records into, created on first use. Returns NULL
 * if it cannot be allocated (ENOMEM).
 */
struct outbuf *output_buf(struct output *out);
/* Ends a record formatted into output_buf(out) at `end` (past its newline) and counts the line. */
void output_commit_line(struct output *out, char *end);

/* Parses "text" / "jsonl" / "trace-event" / "html"; returns 0 or -EINVAL. */
int output_format_parse(const char *name, enum output_format *fmt);
/* Sets up `out` to write `fmt` to `f` (not closed by synscope's sinks). */
void output_init(struct output *out, enum output_format fmt, FILE *f);
struct synscope_config;
/*
 * Sets up the sinks the command line asks for: `out` writes cfg->format to
 * `f`; with --timeline, `timeline` draws the ladder on stdout and, when -o
 * names a file, feeds `out` too. Times print with `boot_to_real_ns`.
 * Returns the head of the chain: the sink to hand records to.
 */
struct output *output_sinks_init(struct output *out, struct output *timeline,
				 const struct synscope_config *cfg, FILE *f,
				 long long boot_to_real_ns);
/* Appends `tail` (its ops set, its own `next` NULL) to the chain that starts at `head`. */
void output_append(struct output *head, struct output *tail);
/* CLOCK_REALTIME - CLOCK_BOOTTIME now, in ns. */
long long boot_to_realtime_offset_ns(void);
/* Writes "2026-11-21T14:35:03.123456789Z" for a boot-time stamp; returns buf. */
char *format_rfc3339(unsigned long long boot_ns, long long boot_to_real_ns, char *buf, size_t len);
/*
 * The same string as format_rfc3339(), without its NUL, written at `p` (at
 * most 60 bytes); gmtime_r() and strftime() run only when the second changes.
 * Returns the end of what it wrote.
 */
char *rfc3339_cached(struct rfc3339_cache *c, unsigned long long boot_ns, long long boot_to_real_ns,
		     char *p);

#endif
