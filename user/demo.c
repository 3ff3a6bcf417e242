// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * synscope demo: runs demo-server and demo-client under synscope --timeline
 * in network namespaces the demo creates and removes (no traffic leaves
 * them), prints what the lecture says should happen, the ladder of what the
 * kernel did, and the two side by side.
 *
 * Loopback scenarios run in a private namespace made with unshare(); it
 * disappears with its last process. Routed scenarios put the client behind
 * a router namespace (veth) whose routes drop or reject the SYN; those
 * namespaces are named synscope-demo-PID-{client,router} and deleted at exit.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "demo.h"
#include "launch.h"
#include "lost_ack.h"
#include "netstat.h"
#include "options.h"
#include "pid_listeners.h"
#include "tracer.h"

#define DEMO_PORT "8080"
#define NONBLOCKING_CLOSED_PORT "8081" /* nonblocking: nothing listens there */
#define BIND_CLIENT_PORT "40000"       /* bind: the client's fixed port */
/* syn-queue: SYNs from HALF_OPEN_SOURCE (demo-client --half-open) to HALF_OPEN_LOCAL, an
 * address of lo; HALF_OPEN_NET is routed into lo, where nobody answers the SYN-ACKs. */
#define HALF_OPEN_SOURCE "10.9.9.9"
#define HALF_OPEN_LOCAL "10.9.9.1"
#define HALF_OPEN_NET "10.9.9.0/24"
#define LISTEN_WAIT_MS 5000
#define MAX_ARGS 24

/* Routed topology: client 10.99.1.1 -- 10.99.1.254 router -> 10.99.2.0/24 */
#define TIMEOUT_TARGET "10.99.2.2"     /* blackhole route: the SYN vanishes */
#define UNREACHABLE_TARGET "10.99.2.3" /* unreachable route: ICMP host unreachable */

struct demo_opts;

#define DEMO_SEEN_MAX 64

/* The connection ends synscope wrote, in order, for the verdicts (the first DEMO_SEEN_MAX). */
struct demo_seen {
	struct output out; /* first: the sink run_tracer() feeds */
	unsigned int n;
	struct conn_end ends[DEMO_SEEN_MAX];
	/* The demo's listener (DEMO_PORT) as the periodic listener states showed it. */
	unsigned int listener_states;
	struct listener_state listener;          /* the last state */
	unsigned long long max_synq, max_acceptq; /* the deepest queues seen */
};

struct demo_argv {
	char *server[MAX_ARGS];
	char *client[MAX_ARGS];
	int ns, nc;
	const char *backlog; /* what the server passes to listen() */
};

struct scenario {
	const char *name;
	const char *summary;
	const char *lecture;
	bool routed;  /* client behind a router namespace */
	bool server;  /* run demo-server */
	bool track_close;           /* needs --close */
	unsigned long count;        /* connections, unless -n */
	bool fixed_count;           /* the scenario's connections are fixed: -n does not apply */
	bool question;              /* the text asks a question and states the answer to check */
	bool own_syncookies;        /* set net.ipv4.tcp_syncookies in the demo's namespace... */
	int syncookies;             /* ...to this */
	bool half_open;             /* HALF_OPEN_NET routed into loopback, unanswered (raw SYNs) */
	unsigned int interval_s;    /* listener states every this many seconds (0: at exit only) */
	bool lose_third_ack;        /* a tc filter drops each handshake's third ACK (lost_ack.c) */
	unsigned int accept_delay_ms; /* server's sleep before accept(), unless -a */
	void (*build)(struct demo_argv *a, const struct demo_opts *o);
	/* Prints what happened beside the lecture; true if they agree. */
	bool (*verdict)(const struct run_summary *sum, const struct demo_opts *o,
			const struct demo_seen *seen);
};

struct demo_opts {
	const struct scenario *sc;
	unsigned long count;
	unsigned int accept_delay_ms;
	int verbose;
	const char *output_path;  /* -o: the records in a file too */
	enum output_format format; /* -f: their format (default JSONL) */
	bool format_set;
	char server_path[PATH_MAX], client_path[PATH_MAX];
	char count_text[24], delay_text[16], client_ns[64], router_ns[64];
	struct lost_ack *lost_ack; /* lose_third_ack: the filter, for its drop count */
};

static void add(char **argv, int *n, const char *arg)
{
	if (*n < MAX_ARGS - 1)
		argv[(*n)++] = (char *)arg;
	argv[*n] = NULL;
}

/* demo-server on `addr`, accepting `accepts` connections. */
static void server_args_at(struct demo_argv *a, const struct demo_opts *o, bool ipv6,
			   const char *addr, const char *backlog, const char *accepts)
{
	add(a->server, &a->ns, o->server_path);
	if (ipv6)
		add(a->server, &a->ns, "-6");
	add(a->server, &a->ns, "-a");
	add(a->server, &a->ns, addr);
	add(a->server, &a->ns, "-p");
	add(a->server, &a->ns, DEMO_PORT);
	add(a->server, &a->ns, "-b");
	add(a->server, &a->ns, backlog);
	a->backlog = backlog;
	add(a->server, &a->ns, "-n");
	add(a->server, &a->ns, accepts);
	add(a->server, &a->ns, "--accept-delay-ms");
	add(a->server, &a->ns, o->delay_text);
}

/* demo-server on loopback, accepting every connection the client makes. */
static void server_args(struct demo_argv *a, const struct demo_opts *o, bool ipv6, const char *backlog)
{
	server_args_at(a, o, ipv6, ipv6 ? "::1" : "127.0.0.1", backlog, o->count_text);
}

/* The client, in the client namespace when routed. */
static void client_args(struct demo_argv *a, const struct demo_opts *o, const char *addr)
{
	if (o->sc->routed) {
		add(a->client, &a->nc, "ip");
		add(a->client, &a->nc, "netns");
		add(a->client, &a->nc, "exec");
		add(a->client, &a->nc, o->client_ns);
	}
	add(a->client, &a->nc, o->client_path);
	add(a->client, &a->nc, "-n");
	add(a->client, &a->nc, o->count_text);
	add(a->client, &a->nc, addr);
	add(a->client, &a->nc, DEMO_PORT);
}

/* ---- scenarios ---------------------------------------------------------- */

static const char normal_lecture[] =
	"The lecture: the server calls socket(), bind(), listen(fd, backlog) and accept();\n"
	"the client calls socket() and connect(). The kernel then exchanges\n"
	"  SYN seq=j               client SYN_SENT\n"
	"  SYN-ACK seq=k ack=j+1   server side (request socket, SYN_RECV)\n"
	"  ACK ack=k+1             client ESTABLISHED: connect() returns;\n"
	"                          server child ESTABLISHED, queued until accept() returns it.\n"
	"Below, j is the client's ISS and k the server's ISS, read from the sockets.\n";

static void build_handshake(struct demo_argv *a, const struct demo_opts *o)
{
	server_args(a, o, false, "4");
	client_args(a, o, "127.0.0.1");
}

static void build_ipv6(struct demo_argv *a, const struct demo_opts *o)
{
	server_args(a, o, true, "4");
	client_args(a, o, "::1");
}

static unsigned long long outcome(const struct run_summary *sum, int o)
{
	return sum->by_outcome[o];
}

/* What a verdict holds the kernel against: "lecture", or "answer above" for a question. */
static const char *verdict_subject = "lecture";

static bool say(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool say(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("  kernel: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n  agrees with the %s: %s\n", verdict_subject, ok ? "yes" : "NO");
	return ok;
}

static bool verdict_handshake(const struct run_summary *sum, const struct demo_opts *o,
				const struct demo_seen *seen __attribute__((unused)))
{
	/* A join found after its client was printed: the client's half of it. */
	unsigned long long joined = sum->joined + sum->late_links;

	return say(outcome(sum, SYNSCOPE_OUT_ESTABLISHED) == 2 * o->count && joined == 2 * o->count,
		   "%llu of %lu connections established on both ends, %llu ends joined to their peer",
		   outcome(sum, SYNSCOPE_OUT_ESTABLISHED) / 2, o->count, joined);
}

static const char refused_lecture[] =
	"The lecture: connect() to a port where nothing listens. The server host answers\n"
	"the SYN with an RST; the client goes SYN_SENT -> CLOSE and connect() fails with\n"
	"ECONNREFUSED (\"Connection refused\") at once, without retransmitting.\n";

static void build_refused(struct demo_argv *a, const struct demo_opts *o)
{
	client_args(a, o, "127.0.0.1");
}

static bool verdict_refused(const struct run_summary *sum, const struct demo_opts *o,
				const struct demo_seen *seen __attribute__((unused)))
{
	return say(outcome(sum, SYNSCOPE_OUT_REFUSED) == o->count && sum->syn_retrans == 0,
		   "%llu of %lu connects refused (RST, ECONNREFUSED), %llu SYN retransmissions",
		   outcome(sum, SYNSCOPE_OUT_REFUSED), o->count, sum->syn_retrans);
}

static const char timeout_lecture[] =
	"The lecture: connect() to a host that never answers (here a router drops the\n"
	"SYN into a blackhole route). The client retransmits the SYN after 1 s, then\n"
	"2 s, 4 s... until its budget runs out (TCP_SYNCNT, set to 1 here to keep this\n"
	"short; recent kernels add net.ipv4.tcp_syn_linear_timeouts), then connect()\n"
	"fails with ETIMEDOUT (\"Connection timed out\").\n";

static void build_timeout(struct demo_argv *a, const struct demo_opts *o)
{
	client_args(a, o, TIMEOUT_TARGET);
	add(a->client, &a->nc, "--syn-retries");
	add(a->client, &a->nc, "1");
}

static bool verdict_timeout(const struct run_summary *sum, const struct demo_opts *o,
				const struct demo_seen *seen __attribute__((unused)))
{
	return say(outcome(sum, SYNSCOPE_OUT_TIMEOUT) == o->count && sum->syn_retrans >= o->count,
		   "%llu of %lu connects timed out (ETIMEDOUT) after %llu SYN retransmissions in all",
		   outcome(sum, SYNSCOPE_OUT_TIMEOUT), o->count, sum->syn_retrans);
}

static const char unreachable_lecture[] =
	"The lecture: connect() to an address a router cannot reach. The router answers\n"
	"the SYN with an ICMP \"destination unreachable\"; connect() fails with\n"
	"EHOSTUNREACH (\"No route to host\"). Linux adds a detail: an ICMP that arrives\n"
	"while connect() still holds the socket is only a soft error (tcp_v4_err()), so\n"
	"the SYN may be retransmitted a few times before connect() gives up with it.\n";

static void build_unreachable(struct demo_argv *a, const struct demo_opts *o)
{
	client_args(a, o, UNREACHABLE_TARGET);
	add(a->client, &a->nc, "--syn-retries");
	add(a->client, &a->nc, "2");
}

static bool verdict_unreachable(const struct run_summary *sum, const struct demo_opts *o,
				const struct demo_seen *seen __attribute__((unused)))
{
	return say(outcome(sum, SYNSCOPE_OUT_UNREACHABLE) == o->count,
		   "%llu of %lu connects unreachable (ICMP, EHOSTUNREACH), %llu SYN retransmissions",
		   outcome(sum, SYNSCOPE_OUT_UNREACHABLE), o->count, sum->syn_retrans);
}

static const char backlog_lecture[] =
	"The lecture: the server calls listen(fd, 1) and sleeps before each accept().\n"
	"Completed connections wait in the accept queue; Linux holds backlog + 1 = 2 of\n"
	"them. When it is full the server ignores new SYNs (ListenOverflows), so those\n"
	"clients retransmit their SYN (1 s, then 2 s...) and complete only once accept()\n"
	"has made room: their connect() takes seconds, not microseconds. (SYN cookies are\n"
	"off in the demo's namespace: with them, a SYN that finds the SYN queue full is\n"
	"answered, and its third ACK may then meet a full accept queue and be dropped,\n"
	"leaving a client that believes it connected; see synscope demo syn-cookies.)\n";

static void build_backlog(struct demo_argv *a, const struct demo_opts *o)
{
	server_args(a, o, false, "1");
	client_args(a, o, "127.0.0.1");
	add(a->client, &a->nc, "-c"); /* every connection at once */
	add(a->client, &a->nc, o->count_text);
}

/*
 * The deepest accept queue: the records' depth at each handshake, or the
 * listener read every second while the server sleeps. A record's depth is
 * the count cloned into the child, which two handshakes completing at once
 * on two CPUs can both read from before either was queued (README, "What
 * the kernel does not let synscope see"); the listener's own count is not.
 *
 * The queue can also pass backlog + 1: tcp_v4_syn_recv_sock() tests
 * sk_acceptq_is_full() without the listener's lock, before
 * inet_csk_reqsk_queue_add() counts the child, so third ACKs handled at once
 * on several CPUs can all pass the test. With the queue at backlog, at most
 * one per CPU does: backlog + CPUs is the deepest the kernel can reach.
 */
static bool verdict_backlog(const struct run_summary *sum, const struct demo_opts *o,
			    const struct demo_seen *seen)
{
	const struct listener_summary *l = sum->nlisteners ? &sum->listeners[0] : NULL;
	unsigned long long overflows = sum->netstat.valid ? sum->netstat.listen_overflows : 0;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned long long deepest, full;

	if (!l)
		return say(false, "no listener seen");
	deepest = l->max_acceptq > seen->max_acceptq ? l->max_acceptq : seen->max_acceptq;
	full = l->backlog + 1ULL;
	return say(deepest >= full && deepest <= l->backlog + (unsigned long long)(cpus > 1 ? cpus : 1) &&
			   sum->syn_retrans > 0 && overflows > 0 && l->accepted == o->count,
		   "deepest accept queue %llu/%u (at the handshakes %u, in the listener's states "
		   "%llu)%s; ListenOverflows %llu; %llu SYN retransmissions; %llu accepted, accept "
		   "wait p50 %llu us, max %llu us",
		   deepest, l->backlog, l->max_acceptq, seen->max_acceptq,
		   deepest > full ? ", past backlog + 1: third ACKs handled at once on several CPUs "
				    "all passed the full-queue test (tcp_v4_syn_recv_sock())" : "",
		   overflows, sum->syn_retrans, l->accepted, hist_percentile(&l->wait_us, 50),
		   l->max_wait_us);
}

static const char close_lecture[] =
	"The lecture: the four-way close. The side that closes first (active) sends FIN\n"
	"and goes FIN_WAIT1, then FIN_WAIT2 when it is acknowledged; the other side\n"
	"(passive) goes CLOSE_WAIT, and after its own close() sends FIN from LAST_ACK.\n"
	"The active side then waits in TIME_WAIT. Connection 1: the client closes first;\n"
	"connection 2: the server does, and the TIME_WAIT moves to the server.\n";

static void build_close(struct demo_argv *a, const struct demo_opts *o)
{
	server_args(a, o, false, "4");
	add(a->server, &a->ns, "--close-first");
	add(a->server, &a->ns, "alternate");
	client_args(a, o, "127.0.0.1");
	add(a->client, &a->nc, "--close-first");
	add(a->client, &a->nc, "alternate");
	/* One close at a time: each ladder on its own, as in the lecture. */
	add(a->client, &a->nc, "--pause-ms");
	add(a->client, &a->nc, "20");
}

static bool verdict_close(const struct run_summary *sum, const struct demo_opts *o,
				const struct demo_seen *seen __attribute__((unused)))
{
	unsigned long long server_first = o->count / 2, client_first = o->count - server_first;

	return say(sum->close_kinds[CLOSE_ACTIVE] == o->count &&
			   sum->close_kinds[CLOSE_PASSIVE] == o->count &&
			   sum->time_waits[0] == client_first && sum->time_waits[1] == server_first,
		   "%llu active and %llu passive closes; TIME_WAIT kept by %llu clients and %llu "
		   "servers (expected %llu and %llu)",
		   sum->close_kinds[CLOSE_ACTIVE], sum->close_kinds[CLOSE_PASSIVE], sum->time_waits[0],
		   sum->time_waits[1], client_first, server_first);
}

static const char reset_lecture[] =
	"The lecture: close() with SO_LINGER set to {on, 0 s} aborts the connection: the\n"
	"client sends an RST instead of a FIN and goes straight to CLOSE, without\n"
	"TIME_WAIT; the server's connection goes to CLOSE on receiving the RST and its\n"
	"next read() fails with ECONNRESET.\n";

static void build_reset(struct demo_argv *a, const struct demo_opts *o)
{
	server_args(a, o, false, "4");
	client_args(a, o, "127.0.0.1");
	add(a->client, &a->nc, "--linger-rst");
	add(a->client, &a->nc, "--hold-ms"); /* let accept() take it first */
	add(a->client, &a->nc, "300");
}

static bool verdict_reset(const struct run_summary *sum, const struct demo_opts *o,
				const struct demo_seen *seen __attribute__((unused)))
{
	return say(sum->close_kinds[CLOSE_RESET_OUT] == o->count &&
			   sum->close_kinds[CLOSE_RESET_IN] == o->count && !sum->time_waits[0] &&
			   !sum->time_waits[1],
		   "%llu ends aborted with an RST sent, %llu reset by the peer, %llu TIME_WAIT",
		   sum->close_kinds[CLOSE_RESET_OUT], sum->close_kinds[CLOSE_RESET_IN],
		   sum->time_waits[0] + sum->time_waits[1]);
}

static const char nonblocking_lecture[] =
	"Thought question 1: what does a non-blocking connect() do?\n"
	"The answer: on an O_NONBLOCK socket connect() sends the SYN and returns -1 with\n"
	"errno EINPROGRESS at once, without waiting for the handshake. The program learns\n"
	"the outcome later: poll() reports the socket writable when the handshake ends,\n"
	"and getsockopt(SO_ERROR) says how: 0 for established, ECONNREFUSED when the\n"
	"server's host answered the SYN with an RST. Connection 1 goes to demo-server's\n"
	"port, connection 2 to port " NONBLOCKING_CLOSED_PORT ", where nothing listens.\n";

/* The ends of `seen` in `role`, in order; returns how many (at most max). */
static unsigned int seen_ends(const struct demo_seen *seen, const struct conn_end **out,
				 unsigned int max, int role)
{
	unsigned int i, n = 0;

	for (i = 0; i < seen->n && n < max; i++)
		if (seen->ends[i].raw.role == role)
			out[n++] = &seen->ends[i];
	return n;
}

static void build_nonblocking(struct demo_argv *a, const struct demo_opts *o)
{
	server_args_at(a, o, false, "127.0.0.1", "4", "1");
	add(a->client, &a->nc, o->client_path);
	add(a->client, &a->nc, "--nonblock");
	add(a->client, &a->nc, "-n");
	add(a->client, &a->nc, "2");
	add(a->client, &a->nc, "127.0.0.1");
	add(a->client, &a->nc, DEMO_PORT "," NONBLOCKING_CLOSED_PORT);
}

static bool verdict_nonblocking(const struct run_summary *sum, const struct demo_opts *o,
				const struct demo_seen *seen)
{
	const struct conn_end *c[DEMO_SEEN_MAX];
	unsigned int i, n = seen_ends(seen, c, DEMO_SEEN_MAX, SYNSCOPE_ROLE_CLIENT);
	unsigned int in_progress = 0, established = 0, refused = 0;

	(void)sum, (void)o;
	for (i = 0; i < n; i++) {
		const struct synscope_handshake *r = &c[i]->raw;
		bool returned = (r->flags & SYNSCOPE_F_CALL_SEEN) && r->ts_ret >= r->ts_call;

		in_progress += returned && r->call_ret == -EINPROGRESS;
		established += r->outcome == SYNSCOPE_OUT_ESTABLISHED;
		refused += r->outcome == SYNSCOPE_OUT_REFUSED && r->err == ECONNREFUSED;
		if (returned && r->ts_end)
			printf("  connection to port %u: connect() returned %d%s%s after %llu us; the "
			       "handshake ended %s after %llu us\n", r->dport, r->call_ret < 0 ? -1 : 0,
			       r->call_ret < 0 ? " " : "", r->call_ret < 0 ? errno_name(-r->call_ret) : "",
			       (r->ts_ret - r->ts_call) / 1000, outcome_name(r->outcome),
			       r->ts_end >= r->ts_call ? (r->ts_end - r->ts_call) / 1000 : 0);
	}
	return say(n == 2 && in_progress == 2 && established == 1 && refused == 1,
		   "%u of %u connect() calls returned -1 EINPROGRESS; %u handshake established, "
		   "%u refused (ECONNREFUSED, read with SO_ERROR)",
		   in_progress, n, established, refused);
}

static const char bind_lecture[] =
	"Thought question 2: can a client bind() a fixed port, and what happens then?\n"
	"The answer: yes, bind() before connect() fixes the local port. A TCP connection is\n"
	"named by its 4-tuple (local address, local port, remote address, remote port):\n"
	"a second connection from the same port to the same server would repeat it, so\n"
	"connect() refuses it (EADDRNOTAVAIL; without SO_REUSEADDR the second bind()\n"
	"already fails, EADDRINUSE), while one to another destination is another 4-tuple\n"
	"and succeeds. On the server every socket accept() returns has the listener's\n"
	"local port and a new fd: the server tells its clients apart by the 4-tuple.\n"
	"demo-client binds port " BIND_CLIENT_PORT " (SO_REUSEADDR) and connects to 127.0.0.1, 127.0.0.1\n"
	"again, then 127.0.0.2 (loopback too), keeping each connection open.\n";

static void build_bind(struct demo_argv *a, const struct demo_opts *o)
{
	server_args_at(a, o, false, "0.0.0.0", "4", "2");
	add(a->server, &a->ns, "--keep-open");
	add(a->client, &a->nc, o->client_path);
	add(a->client, &a->nc, "--bind-port");
	add(a->client, &a->nc, BIND_CLIENT_PORT);
	add(a->client, &a->nc, "--keep-open");
	add(a->client, &a->nc, "-n");
	add(a->client, &a->nc, "3");
	add(a->client, &a->nc, "127.0.0.1,127.0.0.1,127.0.0.2");
	add(a->client, &a->nc, DEMO_PORT);
}

static bool verdict_bind(const struct run_summary *sum, const struct demo_opts *o,
			 const struct demo_seen *seen)
{
	const struct conn_end *c[DEMO_SEEN_MAX], *s[DEMO_SEEN_MAX];
	unsigned int nc = seen_ends(seen, c, DEMO_SEEN_MAX, SYNSCOPE_ROLE_CLIENT);
	unsigned int ns = seen_ends(seen, s, DEMO_SEEN_MAX, SYNSCOPE_ROLE_SERVER);
	unsigned int i, bound = 0, taken = 0, accepted = 0;
	bool distinct;

	(void)sum, (void)o;
	for (i = 0; i < nc; i++) {
		const struct synscope_handshake *r = &c[i]->raw;

		bound += r->sport == atoi(BIND_CLIENT_PORT);
		taken += r->outcome == SYNSCOPE_OUT_ERROR && r->err == EADDRNOTAVAIL;
		printf("  client %s:%u -> %s:%u: %s%s%s\n", c[i]->saddr, r->sport, c[i]->daddr,
		       r->dport, outcome_name(r->outcome), r->err ? " " : "",
		       r->err ? errno_name(r->err) : "");
	}
	for (i = 0; i < ns; i++) {
		const struct synscope_handshake *r = &s[i]->raw;

		accepted += (r->flags & SYNSCOPE_F_ACCEPTED) && r->sport == atoi(DEMO_PORT) &&
			    r->fd >= 0;
		printf("  server %s:%u <- %s:%u: accept() returned fd %d\n", s[i]->saddr, r->sport,
		       s[i]->daddr, r->dport, r->fd);
	}
	distinct = ns == 2 && s[0]->raw.fd != s[1]->raw.fd && strcmp(s[0]->saddr, s[1]->saddr);
	return say(nc == 3 && bound == 3 && taken == 1 && ns == 2 && accepted == 2 && distinct,
		   "%u of 3 connects from port %s; %u refused with EADDRNOTAVAIL (the same 4-tuple); "
		   "%u accepted ends on the listener's port %s, %s fds and 4-tuples",
		   bound, BIND_CLIENT_PORT, taken, accepted, DEMO_PORT,
		   distinct ? "with distinct" : "WITHOUT distinct");
}

static const char syn_queue_lecture[] =
	"Does listen()'s backlog bound the SYN queue or the accept queue? The lecture says\n"
	"the SYN queue (the incomplete connections); its readers answer that since Linux\n"
	"2.2 it bounds the accept queue, the SYN queue being tcp_max_syn_backlog's.\n"
	"The answer, on this kernel: both. A SYN makes a request socket in the SYN queue;\n"
	"with SYN cookies off (net.ipv4.tcp_syncookies=0, set in the demo's namespace) a\n"
	"SYN that finds backlog (+1) request sockets already waiting is dropped\n"
	"(TCPReqQFullDrop, inet_csk_reqsk_queue_is_full()), and tcp_max_syn_backlog only\n"
	"caps it further (3/4 of it). The accept queue, of completed connections, has the\n"
	"same bound. Here 8 SYNs come from " HALF_OPEN_SOURCE ", routed into loopback and never\n"
	"answered: their handshakes stay half-open, the SYN-ACKs are retransmitted, and\n"
	"the accept queue stays empty. The listener is read every second (iter/tcp).\n";

static const char syn_cookies_lecture[] =
	"Does listen()'s backlog bound the SYN queue, and what do SYN cookies change?\n"
	"The answer, on this kernel: the SYN queue still stops at backlog (+1) request\n"
	"sockets, but with net.ipv4.tcp_syncookies=1 (the default) a SYN that finds it\n"
	"full is not dropped: it is answered with a SYN-ACK whose sequence number is a\n"
	"cookie (SyncookiesSent, TCPReqQFullDoCookies), and no request socket is kept.\n"
	"Here 8 SYNs come from " HALF_OPEN_SOURCE ", routed into loopback and never answered.\n";

/*
 * The listener retransmits each SYN-ACK 1 s and 3 s after its SYN (TCP_TIMEOUT_INIT,
 * doubled: reqsk_timer_handler()) and is read every second: 4.6 s after listen()
 * a read follows both retransmits, so a late client or one retransmit run no BPF
 * program saw ("What the kernel does not let synscope see") still leaves every
 * request socket's retransmit counted (a CI run that stopped at 2.6 s saw none).
 */
static void build_half_open(struct demo_argv *a, const struct demo_opts *o)
{
	server_args_at(a, o, false, "0.0.0.0", "4", "1");
	add(a->server, &a->ns, "--exit-after-ms");
	add(a->server, &a->ns, "4600");
	add(a->client, &a->nc, o->client_path);
	add(a->client, &a->nc, "-n");
	add(a->client, &a->nc, "0");
	add(a->client, &a->nc, "--half-open");
	add(a->client, &a->nc, o->count_text);
	add(a->client, &a->nc, HALF_OPEN_LOCAL);
	add(a->client, &a->nc, DEMO_PORT);
}

/* The namespace's TcpExt counters: the demo's namespace is new, so they count this run only. */
static bool read_tcpext(struct tcpext_counters *c)
{
	if (tcpext_read_self(c) == 0)
		return true;
	printf("  (/proc/net/netstat unreadable)\n");
	return false;
}

/* What both SYN-queue scenarios show; true if the SYN queue stopped at its bound. */
static bool show_syn_queue(const struct demo_opts *o, const struct demo_seen *seen,
			   unsigned long long refused, const char *refused_as)
{
	const struct listener_state *l = &seen->listener;
	unsigned long long backlog = l->q.backlog;

	printf("  listener 0.0.0.0:%s read %u times: deepest SYN queue %llu, deepest accept queue "
	       "%llu, backlog %llu; SYN-ACK retransmits %llu\n", DEMO_PORT, seen->listener_states,
	       seen->max_synq, seen->max_acceptq, backlog, l->synack_retrans);
	printf("  %lu SYNs sent: %llu kept as request sockets, %llu %s\n", o->count,
	       seen->max_synq, refused, refused_as);
	return seen->listener_states > 0 && backlog == 4 &&
	       (seen->max_synq == backlog || seen->max_synq == backlog + 1) && seen->max_acceptq == 0 &&
	       seen->max_synq + refused == o->count && l->synack_retrans >= seen->max_synq;
}

static bool verdict_syn_queue(const struct run_summary *sum, const struct demo_opts *o,
			      const struct demo_seen *seen)
{
	struct tcpext_counters c;

	(void)sum;
	if (!read_tcpext(&c))
		return say(false, "no TcpExt counters");
	return say(show_syn_queue(o, seen, c.req_q_full_drops, "dropped (TCPReqQFullDrop)") &&
			   c.syncookies_sent == 0,
		   "the SYN queue stopped at %llu with backlog %llu, the accept queue stayed at %llu; "
		   "%llu SYNs dropped, %llu SYN cookies", seen->max_synq, seen->listener.q.backlog,
		   seen->max_acceptq, c.req_q_full_drops, c.syncookies_sent);
}

static bool verdict_syn_cookies(const struct run_summary *sum, const struct demo_opts *o,
				const struct demo_seen *seen)
{
	struct tcpext_counters c;

	(void)sum;
	if (!read_tcpext(&c))
		return say(false, "no TcpExt counters");
	return say(show_syn_queue(o, seen, c.syncookies_sent, "answered with a SYN cookie "
				  "(SyncookiesSent)") && c.req_q_full_drops == 0,
		   "the SYN queue stopped at %llu with backlog %llu; %llu SYNs answered with cookies, "
		   "%llu dropped", seen->max_synq, seen->listener.q.backlog, c.syncookies_sent,
		   c.req_q_full_drops);
}

static const char lost_ack_lecture[] =
	"The client's third ACK is lost. What does each side do, and what does the client\n"
	"receive? The answer: the client is ESTABLISHED once it has sent the ACK, and\n"
	"connect() returns; it cannot know the ACK was lost. The server holds only a\n"
	"request socket in its SYN queue: nothing to accept. About 1 s later\n"
	"(TCP_TIMEOUT_INIT) the server retransmits the SYN-ACK; the client, established,\n"
	"answers with another ACK, and that one creates the server's child, ESTABLISHED and\n"
	"queued for accept(). All the client receives is the repeated SYN-ACK: no error.\n"
	"A tc filter on lo (a BPF program of the demo's) drops each connection's first\n"
	"bare ACK to port " DEMO_PORT "; the client sends nothing and keeps the connection open.\n";

static const char lost_ack_data_lecture[] =
	"The client's third ACK is lost, and the client starts sending data. What happens?\n"
	"The answer: the data segment carries the ACK flag and acknowledges the SYN-ACK\n"
	"too, so it completes the handshake on the server: the child is created and\n"
	"established on the data's arrival, with the data queued, long before any SYN-ACK\n"
	"retransmission; accept() returns it and read() gets the data. The client notices\n"
	"nothing. The same tc filter drops the first bare ACK; demo-client then writes\n"
	"\"hello\" and reads the echo.\n";

static void build_lost_ack(struct demo_argv *a, const struct demo_opts *o)
{
	server_args(a, o, false, "4");
	client_args(a, o, "127.0.0.1");
	add(a->client, &a->nc, "--hold-ms");
	add(a->client, &a->nc, "2500");
}

static void build_lost_ack_data(struct demo_argv *a, const struct demo_opts *o)
{
	server_args(a, o, false, "4");
	add(a->server, &a->ns, "--echo");
	client_args(a, o, "127.0.0.1");
	add(a->client, &a->nc, "--payload");
	add(a->client, &a->nc, "hello");
}

/*
 * The joined pairs of `seen` whose server child was created after its
 * client's connect() had returned: the third ACK did not create it. Prints
 * each pair; counts those whose child came after a SYN-ACK retransmission.
 */
static unsigned int late_children(const struct demo_seen *seen, unsigned int *retransmitted,
				  unsigned long long *max_gap_us)
{
	unsigned int i, j, late = 0;

	*retransmitted = 0;
	*max_gap_us = 0;
	for (i = 0; i < seen->n; i++) {
		const struct synscope_handshake *c = &seen->ends[i].raw;

		if (c->role != SYNSCOPE_ROLE_CLIENT || c->outcome != SYNSCOPE_OUT_ESTABLISHED)
			continue;
		for (j = 0; j < seen->n; j++) {
			const struct synscope_handshake *srv = &seen->ends[j].raw;
			unsigned long long gap;

			if (srv->role != SYNSCOPE_ROLE_SERVER || srv->id != c->peer_id ||
			    !(c->flags & SYNSCOPE_F_RETURNED) || srv->ts_syn < c->ts_ret)
				continue;
			gap = (srv->ts_syn - c->ts_end) / 1000;
			printf("  client #%llu ESTABLISHED, connect() returned; server child #%llu created "
			       "%llu us later, after %u SYN-ACK retransmit%s\n",
			       (unsigned long long)c->id, (unsigned long long)srv->id, gap, srv->retrans,
			       srv->retrans == 1 ? "" : "s");
			late++;
			*retransmitted += srv->retrans > 0;
			if (gap > *max_gap_us)
				*max_gap_us = gap;
		}
	}
	return late;
}

static bool verdict_lost_ack(const struct run_summary *sum, const struct demo_opts *o,
			     const struct demo_seen *seen)
{
	unsigned int retransmitted, late = late_children(seen, &retransmitted, &(unsigned long long){0});
	long long dropped = lost_ack_drops(o->lost_ack);

	return say(dropped == (long long)o->count && late == o->count && retransmitted == o->count &&
			   outcome(sum, SYNSCOPE_OUT_ESTABLISHED) == 2 * o->count,
		   "%lld third ACKs dropped; %u of %lu server children created only after the client's "
		   "connect() returned, %u of them after a SYN-ACK retransmission; %llu ends established",
		   dropped, late, o->count, retransmitted, outcome(sum, SYNSCOPE_OUT_ESTABLISHED));
}

static bool verdict_lost_ack_data(const struct run_summary *sum, const struct demo_opts *o,
				  const struct demo_seen *seen)
{
	unsigned long long max_gap_us;
	unsigned int retransmitted, late = late_children(seen, &retransmitted, &max_gap_us);
	long long dropped = lost_ack_drops(o->lost_ack);

	/* The SYN-ACK timer is 1 s (TCP_TIMEOUT_INIT): a child made before it by the data. */
	return say(dropped == (long long)o->count && late == o->count && retransmitted == 0 &&
			   max_gap_us < 1000000 && outcome(sum, SYNSCOPE_OUT_ESTABLISHED) == 2 * o->count,
		   "%lld third ACKs dropped; %u of %lu server children created by the client's data, "
		   "at most %llu us after the client was established, with %u SYN-ACK retransmissions",
		   dropped, late, o->count, max_gap_us, retransmitted);
}

static const struct scenario scenarios[] = {
	{.name = "handshake", .summary = "IPv4 connections on loopback, accepted after a delay",
	 .lecture = normal_lecture, .server = true, .count = 3, .accept_delay_ms = 100,
	 .build = build_handshake, .verdict = verdict_handshake},
	{.name = "ipv6", .summary = "IPv6 connections on ::1, accepted after a delay",
	 .lecture = normal_lecture, .server = true, .count = 3, .accept_delay_ms = 100,
	 .build = build_ipv6, .verdict = verdict_handshake},
	{.name = "refused", .summary = "connect() to a port nobody listens on",
	 .lecture = refused_lecture, .count = 2, .build = build_refused, .verdict = verdict_refused},
	{.name = "timeout", .summary = "connect() whose SYN a router drops", .lecture = timeout_lecture,
	 .routed = true, .count = 2, .build = build_timeout, .verdict = verdict_timeout},
	{.name = "unreachable", .summary = "connect() answered by ICMP host unreachable",
	 .lecture = unreachable_lecture, .routed = true, .count = 2, .build = build_unreachable,
	 .verdict = verdict_unreachable},
	{.name = "backlog", .summary = "listen(fd, 1), slow accept(), five clients at once",
	 .lecture = backlog_lecture, .server = true, .count = 5, .accept_delay_ms = 1500,
	 .own_syncookies = true, .syncookies = 0, .interval_s = 1, .build = build_backlog,
	 .verdict = verdict_backlog},
	{.name = "close", .summary = "the four-way close, client first then server first",
	 .lecture = close_lecture, .server = true, .track_close = true, .count = 2,
	 .accept_delay_ms = 100, .build = build_close, .verdict = verdict_close},
	{.name = "reset", .summary = "close() with SO_LINGER 0: an RST instead of a FIN",
	 .lecture = reset_lecture, .server = true, .track_close = true, .count = 3,
	 .accept_delay_ms = 100, .build = build_reset, .verdict = verdict_reset},
	{.name = "nonblocking", .question = true,
	 .summary = "what does a non-blocking connect() do?",
	 .lecture = nonblocking_lecture, .server = true, .count = 2, .fixed_count = true,
	 .accept_delay_ms = 100, .build = build_nonblocking, .verdict = verdict_nonblocking},
	{.name = "bind", .question = true,
	 .summary = "can a client bind() a fixed port, and what happens then?",
	 .lecture = bind_lecture, .server = true, .count = 3, .fixed_count = true,
	 .accept_delay_ms = 100, .build = build_bind, .verdict = verdict_bind},
	{.name = "lost-ack", .question = true,
	 .summary = "the client's third ACK is lost: what does each side do?",
	 .lecture = lost_ack_lecture, .server = true, .count = 1, .lose_third_ack = true,
	 .build = build_lost_ack, .verdict = verdict_lost_ack},
	{.name = "lost-ack-data", .question = true,
	 .summary = "the third ACK is lost and the client sends data",
	 .lecture = lost_ack_data_lecture, .server = true, .count = 1, .lose_third_ack = true,
	 .build = build_lost_ack_data, .verdict = verdict_lost_ack_data},
	{.name = "syn-queue", .question = true,
	 .summary = "does listen()'s backlog bound the SYN queue?",
	 .lecture = syn_queue_lecture, .server = true, .count = 8, .fixed_count = true,
	 .half_open = true, .own_syncookies = true, .syncookies = 0, .interval_s = 1,
	 .build = build_half_open,
	 .verdict = verdict_syn_queue},
	{.name = "syn-cookies", .question = true,
	 .summary = "the SYN queue full, with SYN cookies on",
	 .lecture = syn_cookies_lecture, .server = true, .count = 8, .fixed_count = true,
	 .half_open = true, .own_syncookies = true, .syncookies = 1, .interval_s = 1,
	 .build = build_half_open,
	 .verdict = verdict_syn_cookies},
};

#define NSCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

/* ---- options ------------------------------------------------------------- */

static const char doc[] =
	"Run the bundled demo-server and demo-client under synscope in network namespaces\n"
	"the demo creates and removes, and print the annotated handshake of each connection\n"
	"beside what the lecture says should happen.\n"
	"\n"
	"SCENARIOS:\n"
	"    handshake   IPv4 connections on loopback, accepted after a delay (default)\n"
	"    ipv6        IPv6 connections on ::1, accepted after a delay\n"
	"    refused     connect() to a port nobody listens on: RST, ECONNREFUSED\n"
	"    timeout     the SYN is dropped by a router: retransmissions, ETIMEDOUT\n"
	"    unreachable the router answers with ICMP: EHOSTUNREACH\n"
	"    backlog     listen(fd, 1) and a slow accept(): full queue, dropped SYNs\n"
	"    close       the four-way close: client first, then server first; TIME_WAIT\n"
	"    reset       close() with SO_LINGER 0: RST, no TIME_WAIT, ECONNRESET\n"
	"    nonblocking what does a non-blocking connect() do? EINPROGRESS, SO_ERROR\n"
	"    bind        can a client bind() a fixed port? the 4-tuple, EADDRNOTAVAIL\n"
	"    lost-ack    the client's third ACK is lost: what does each side do?\n"
	"    lost-ack-data  the same, and the client sends data first\n"
	"    syn-queue   does listen()'s backlog bound the SYN queue? half-open SYNs\n"
	"    syn-cookies the same with SYN cookies on: cookies for a full SYN queue\n"
	"\n"
	"EXAMPLES:\n"
	"    synscope demo              # the normal handshake, IPv4\n"
	"    synscope demo ipv6 -n 5    # five IPv6 connections\n"
	"    synscope demo backlog      # watch the accept queue overflow\n"
	"    synscope demo timeout -o t.jsonl  # keep the records too\n"
	"    synscope demo close -f html -o report.html  # and draw them\n";

static const struct argp_option options[] = {
	{"count", 'n', "COUNT", 0, "Connections to make (1-100; default 3, backlog 5)", 0},
	{"accept-delay-ms", 'a', "MS", 0,
	 "Server's sleep before each accept() (default 100, backlog 1500)", 0},
	{"output", 'o', "FILE", 0, "Also write the records to FILE (JSONL unless -f says otherwise)", 0},
	{"format", 'f', "FORMAT", 0, "Format of -o FILE: jsonl (default), text, trace-event or html", 0},
	{"verbose", 'v', NULL, 0, "More detail", 0},
	{},
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct demo_opts *o = state->input;
	unsigned int i;
	char *end;

	switch (key) {
	case 'n':
		o->count = strtoul(arg, &end, 10);
		if (*end || !*arg || o->count < 1 || o->count > 100)
			argp_error(state, "invalid count '%s' (1-100)", arg);
		break;
	case 'a':
		o->accept_delay_ms = strtoul(arg, &end, 10);
		if (*end || !*arg || o->accept_delay_ms > 10000)
			argp_error(state, "invalid delay '%s' (0-10000 ms)", arg);
		break;
	case 'v':
		o->verbose++;
		break;
	case 'o':
		o->output_path = arg;
		break;
	case 'f':
		if (output_format_parse(arg, &o->format))
			argp_error(state, "unknown format '%s': use jsonl, text, trace-event or html", arg);
		o->format_set = true;
		break;
	case ARGP_KEY_ARG:
		if (state->arg_num > 0)
			argp_error(state, "one scenario at a time");
		for (i = 0; i < NSCENARIOS; i++)
			if (!strcmp(arg, scenarios[i].name))
				break;
		if (i == NSCENARIOS)
			argp_error(state, "unknown scenario '%s': see synscope demo --help", arg);
		o->sc = &scenarios[i];
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ---- namespaces ------------------------------------------------------------ */

/* A private network namespace with loopback up; it dies with its last process. */
static int enter_private_netns(void)
{
	struct ifreq ifr = {0};
	int fd, err = 0;

	if (unshare(CLONE_NEWNET) < 0) {
		err = -errno;
		fprintf(stderr, "synscope: couldn't create a network namespace for the demo: %s "
				"(run as root)\n", strerror(errno));
		return err;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 || (ifr.ifr_flags |= IFF_UP | IFF_RUNNING,
						  ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)) {
		err = -errno;
		fprintf(stderr, "synscope: couldn't bring up lo in the demo namespace: %s\n",
			strerror(errno));
	}
	close(fd);
	return err;
}

/* Runs one `ip` command line; commands are built from constants and our pid. */
static int ip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ip(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	status = system(cmd);
	if (status != 0) {
		fprintf(stderr, "synscope: demo setup failed: '%s' (is iproute2 installed?)\n", cmd);
		return -1;
	}
	return 0;
}

/*
 * In the private namespace: HALF_OPEN_LOCAL on lo, HALF_OPEN_NET routed into lo
 * (a SYN-ACK to HALF_OPEN_SOURCE comes back in, is not for this host, and is
 * dropped: no forwarding).
 */
static int setup_half_open(void)
{
	if (ip("ip addr add " HALF_OPEN_LOCAL "/32 dev lo") ||
	    ip("ip route add " HALF_OPEN_NET " dev lo"))
		return -1;
	return 0;
}

/* In the private namespace: net.ipv4.tcp_syncookies. */
static int set_syncookies(int syncookies)
{
	FILE *f;

	f = fopen("/proc/sys/net/ipv4/tcp_syncookies", "w");
	if (!f || fprintf(f, "%d\n", syncookies) < 0 || fclose(f)) {
		fprintf(stderr, "synscope: couldn't set net.ipv4.tcp_syncookies in the demo namespace: "
				"%s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static void remove_routed(const struct demo_opts *o)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; true",
		 o->client_ns, o->router_ns);
	if (system(cmd) != 0)
		fprintf(stderr, "synscope: couldn't remove the demo namespaces %s, %s\n", o->client_ns,
			o->router_ns);
}

/* client (10.99.1.1) --veth-- (10.99.1.254) router: blackhole and unreachable routes */
static int setup_routed(const struct demo_opts *o)
{
	const char *c = o->client_ns, *r = o->router_ns;

	if (ip("ip netns add %s && ip netns add %s", c, r) ||
	    ip("ip link add c0 netns %s type veth peer name r0 netns %s", c, r) ||
	    ip("ip -n %s link set lo up && ip -n %s link set lo up", c, r) ||
	    ip("ip -n %s addr add 10.99.1.1/24 dev c0 && ip -n %s link set c0 up", c, c) ||
	    ip("ip -n %s addr add 10.99.1.254/24 dev r0 && ip -n %s link set r0 up", r, r) ||
	    ip("ip -n %s route add default via 10.99.1.254", c) ||
	    ip("ip netns exec %s sysctl -q -w net.ipv4.ip_forward=1", r) ||
	    ip("ip -n %s route add blackhole " TIMEOUT_TARGET "/32", r) ||
	    ip("ip -n %s route add unreachable " UNREACHABLE_TARGET "/32", r)) {
		remove_routed(o);
		return -1;
	}
	return 0;
}

/* ---- the workload ----------------------------------------------------------- */

struct demo_workload {
	struct workload w;
	const struct demo_opts *o;
	struct launched server, client;
	struct demo_seen seen;
	bool agrees;
};

static int seen_end(struct output *out, const struct conn_end *end)
{
	struct demo_seen *seen = (struct demo_seen *)out;

	if (seen->n < DEMO_SEEN_MAX)
		seen->ends[seen->n++] = *end;
	return 0;
}

static int seen_listener(struct output *out, const struct listener_state *l, unsigned long long boot_ns)
{
	struct demo_seen *seen = (struct demo_seen *)out;

	(void)boot_ns;
	if (l->q.port != (unsigned int)atoi(DEMO_PORT))
		return 0;
	seen->listener_states++;
	seen->listener = *l;
	if (l->q.synq > seen->max_synq)
		seen->max_synq = l->q.synq;
	if (l->q.acceptq > seen->max_acceptq)
		seen->max_acceptq = l->q.acceptq;
	return 0;
}

/* A join that came after its client: the client's record learns its peer. */
static int seen_link(struct output *out, const struct conn_link *link)
{
	struct demo_seen *seen = (struct demo_seen *)out;
	unsigned int i;

	for (i = 0; i < seen->n; i++)
		if (seen->ends[i].raw.id == link->client_id)
			seen->ends[i].raw.peer_id = link->server_id;
	return 0;
}

static const struct output_ops seen_ops = {.end = seen_end, .listener = seen_listener,
					   .link = seen_link};

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* The client starts once the server's listener exists (read from /proc). */
static int wait_listening(pid_t pid)
{
	struct pid_listener l[4];
	int waited;

	for (waited = 0; waited < LISTEN_WAIT_MS; waited += 10) {
		if (pid_listeners(pid, l, 4) > 0)
			return 0;
		sleep_ms(10);
	}
	return -ETIMEDOUT;
}

static int demo_start(struct workload *w)
{
	struct demo_workload *d = (struct demo_workload *)w;
	int err;

	if (d->o->sc->server) {
		err = launch_release(&d->server);
		if (err) {
			fprintf(stderr, "synscope: couldn't run %s: %s (run 'make' first)\n",
				d->server.name, strerror(-err));
			return 1;
		}
		if (wait_listening(d->server.pid)) {
			fprintf(stderr, "synscope: demo-server did not listen within %d ms\n",
				LISTEN_WAIT_MS);
			return 1;
		}
	}
	err = launch_release(&d->client);
	if (err) {
		fprintf(stderr, "synscope: couldn't run %s: %s\n", d->client.name, strerror(-err));
		return 1;
	}
	return 0;
}

static bool demo_finished(struct workload *w)
{
	struct demo_workload *d = (struct demo_workload *)w;

	return launch_reap(&d->client) && (!d->o->sc->server || launch_reap(&d->server));
}

static void demo_stop(struct workload *w, int sig)
{
	struct demo_workload *d = (struct demo_workload *)w;

	launch_signal(&d->client, sig);
	launch_signal(&d->server, sig);
}

static void demo_report(struct workload *w, const struct run_summary *sum)
{
	struct demo_workload *d = (struct demo_workload *)w;

	if (d->o->sc->question)
		verdict_subject = "answer above";
	printf("\nsynscope demo %s: what the %s says, and what the kernel did\n", d->o->sc->name,
	       verdict_subject);
	d->agrees = d->o->sc->verdict(sum, d->o, &d->seen);
}

/* 0 when the kernel did what the lecture says (a failing connect() included). */
static int demo_exit_status(struct workload *w)
{
	return ((struct demo_workload *)w)->agrees ? 0 : 1;
}

/* demo-server and demo-client live next to the synscope binary. */
static int sibling_path(const char *name, char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n < 0)
		return -errno;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s/%s", self, name) >= len)
		return -ENAMETOOLONG;
	return access(buf, X_OK) == 0 ? 0 : -errno;
}

static void defaults_for(struct demo_opts *o, bool count_set, bool delay_set)
{
	if (!count_set)
		o->count = o->sc->count;
	if (!delay_set)
		o->accept_delay_ms = o->sc->accept_delay_ms;
	snprintf(o->count_text, sizeof(o->count_text), "%lu", o->count);
	snprintf(o->delay_text, sizeof(o->delay_text), "%u", o->accept_delay_ms);
	snprintf(o->client_ns, sizeof(o->client_ns), "synscope-demo-%d-client", getpid());
	snprintf(o->router_ns, sizeof(o->router_ns), "synscope-demo-%d-router", getpid());
}

int demo_main(int argc, char **argv)
{
	struct demo_opts o = {.sc = &scenarios[0], .count = 0, .accept_delay_ms = ~0u,
			      .format = OUTPUT_JSONL};
	struct argp argp = {.options = options, .parser = parse_opt, .args_doc = "[SCENARIO]",
			    .doc = doc};
	struct demo_workload d = {
		.w = {.start = demo_start, .finished = demo_finished, .stop = demo_stop,
		      .report = demo_report, .exit_status = demo_exit_status},
		.o = &o,
		.server = LAUNCHED_NONE,
		.client = LAUNCHED_NONE,
		.seen = {.out = {.ops = &seen_ops}},
	};
	struct demo_argv a = {.ns = 0, .nc = 0};
	struct synscope_config cfg;
	int err = 0, status;

	argp_parse(&argp, argc, argv, 0, NULL, &o);
	if (o.format_set && !o.output_path) {
		fprintf(stderr, "synscope: demo -f names the format of -o FILE: give -o FILE too\n");
		return 64;
	}
	if (o.count && o.sc->fixed_count) {
		fprintf(stderr, "synscope: demo %s makes %lu connections of its own: no -n\n",
			o.sc->name, o.sc->count);
		return 64;
	}
	defaults_for(&o, o.count != 0, o.accept_delay_ms != ~0u);
	/* The demo's programs and synscope share the terminal: keep lines whole and in order. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sibling_path("demo-server", o.server_path, sizeof(o.server_path)) ||
	    sibling_path("demo-client", o.client_path, sizeof(o.client_path))) {
		fprintf(stderr, "synscope: demo-server or demo-client not found next to synscope: "
				"run 'make' (or 'make demo')\n");
		return 1;
	}
	if (o.sc->routed ? setup_routed(&o) : enter_private_netns())
		return 1;
	if (o.sc->half_open && setup_half_open())
		return 1;
	if (o.sc->own_syncookies && set_syncookies(o.sc->syncookies))
		return 1;
	if (o.sc->lose_third_ack && !(o.lost_ack = lost_ack_attach(atoi(DEMO_PORT))))
		return 1;

	o.sc->build(&a, &o);
	if (o.sc->server)
		err = launch_held(&d.server, a.server, false);
	if (!err)
		err = launch_held(&d.client, a.client, false);
	if (err) {
		fprintf(stderr, "synscope: couldn't start the demo programs: %s\n", strerror(-err));
		lost_ack_detach(o.lost_ack);
		launch_cleanup(&d.server);
		if (o.sc->routed)
			remove_routed(&o);
		return 1;
	}
	if (o.sc->server)
		d.w.pids[d.w.npids++] = d.server.pid;
	d.w.pids[d.w.npids++] = d.client.pid;
	d.w.sink = &d.seen.out;

	options_defaults(&cfg);
	cfg.timeline = true;
	cfg.verbose = o.verbose;
	cfg.track_close = o.sc->track_close;
	cfg.interval_s = o.sc->interval_s;
	/* A lost third ACK delays the server end by a SYN-ACK timeout (1 s, then 3 s):
	 * the client waits for it, so that both are drawn on one ladder. */
	if (o.sc->lose_third_ack)
		cfg.join_hold_ms = 5000;
	if (o.output_path) {
		cfg.output_path = o.output_path;
		cfg.format = o.format;
	}
	/* A handful of connections: show each as soon as it completes. */
	cfg.wakeup_bytes = 0;
	printf("synscope demo %s: %s\n\n%s\n", o.sc->name, o.sc->summary, o.sc->lecture);
	if (o.sc->half_open)
		printf("demo-server listens on port %s with backlog %s and never accepts; "
		       "demo-client sends %lu bare SYNs.\n\n", DEMO_PORT, a.backlog, o.count);
	else {
		if (o.sc->server)
			printf("demo-server listens on port %s with backlog %s and sleeps %u ms before "
			       "each accept().\n", DEMO_PORT, a.backlog, o.accept_delay_ms);
		printf("demo-client makes %lu connection%s.\n\n", o.count, o.count > 1 ? "s" : "");
	}
	status = run_tracer(&cfg, &d.w);
	lost_ack_detach(o.lost_ack);
	launch_cleanup(&d.client);
	launch_cleanup(&d.server);
	if (o.sc->routed)
		remove_routed(&o);
	return status;
}
