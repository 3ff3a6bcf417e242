// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * demo-client: the lecture's TCP client, one call per step.
 *
 *   socket() -> [bind(port)] -> connect(addr, port) -> [write payload, read echo]
 *   -> [wait for the server's FIN] -> close()   (or an RST with --linger-rst)
 *
 * ADDR and PORT may be comma-separated lists: connection i goes to the
 * (i mod n)-th address and the (i mod m)-th port.
 *
 * --half-open N first sends N bare SYNs from HALF_OPEN_SOURCE through a raw
 * socket: with that address routed into loopback and owned by nobody (as
 * synscope demo syn-queue sets up), the SYN-ACKs go unanswered and each SYN
 * leaves a request socket in the listener's SYN queue.
 *
 * Prints, per connection (for people and scripts):
 *   connected fd=FD local=ADDR:PORT pid=PID tid=TID
 *   connect failed: ECONNREFUSED (Connection refused) pid=PID tid=TID
 * Exits 1 if any connect() failed.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct client_opts {
	const char *host;
	const char *port;
	unsigned long count;       /* connections in all */
	unsigned long concurrency; /* threads making them */
	const char *payload;
	unsigned int bind_port;    /* 0: let connect() pick an ephemeral port */
	bool linger_rst;           /* close with RST (SO_LINGER, l_linger 0) */
	enum { CLIENT_FIRST, SERVER_FIRST, ALTERNATE } close_first; /* who sends the first FIN */
	int syn_retries;           /* TCP_SYNCNT, -1: the system's net.ipv4.tcp_syn_retries */
	bool nonblock;             /* non-blocking connect(): EINPROGRESS, poll(), SO_ERROR */
	unsigned int hold_ms;      /* keep the connection open this long before closing */
	unsigned int pause_ms;     /* wait this long after a close before the next connect() */
	bool keep_open;            /* close every connection only once all were made */
	unsigned int half_open;    /* bare SYNs to send first, from HALF_OPEN_SOURCE */
};

#define HALF_OPEN_SOURCE "10.9.9.9"
#define HALF_OPEN_FIRST_PORT 40000

static const char doc[] =
	"demo-client: socket, connect, close; the client half of synscope's demo.\n"
	"\n"
	"EXAMPLES:\n"
	"    demo-client 127.0.0.1 8080             # one connection\n"
	"    demo-client -n 10 -c 2 ::1 8080        # 10 connections from 2 threads\n"
	"    demo-client --payload hello 127.0.0.1 8080  # send, read the echo\n"
	"    demo-client --linger-rst 127.0.0.1 8080     # close with an RST\n"
	"    demo-client -n 2 --nonblock 127.0.0.1 8080,8081  # one connection to each port\n"
	"    demo-client -n 2 --bind-port 40000 --keep-open 127.0.0.1,127.0.0.2 8080\n"
	"    demo-client -n 0 --half-open 8 10.9.9.1 8080   # 8 SYNs from 10.9.9.9, no connection\n";

static const char args_doc[] = "ADDR[,ADDR...] PORT[,PORT...]";

enum { OPT_PAYLOAD = 1000, OPT_BIND_PORT, OPT_LINGER_RST, OPT_CLOSE_FIRST, OPT_SYN_RETRIES,
       OPT_NONBLOCK, OPT_HOLD_MS, OPT_PAUSE_MS, OPT_KEEP_OPEN, OPT_HALF_OPEN };

static const struct argp_option options[] = {
	{"count", 'n', "COUNT", 0, "Connections to make (default 1)", 0},
	{"concurrency", 'c', "N", 0, "Threads making them (default 1)", 0},
	{"payload", OPT_PAYLOAD, "TEXT", 0, "Send TEXT after connecting and read the echo", 0},
	{"bind-port", OPT_BIND_PORT, "PORT", 0, "bind() to PORT before connect()", 0},
	{"linger-rst", OPT_LINGER_RST, NULL, 0, "Close with an RST (SO_LINGER 0)", 0},
	{"close-first", OPT_CLOSE_FIRST, "WHO", 0,
	 "client (default): close at once; server: wait for the server's FIN; "
	 "alternate: client first on odd connections, server first on even ones (one thread)", 0},
	{"syn-retries", OPT_SYN_RETRIES, "N", 0, "SYN retransmissions before ETIMEDOUT (TCP_SYNCNT, 1-127)", 0},
	{"nonblock", OPT_NONBLOCK, NULL, 0, "Non-blocking connect(): EINPROGRESS, then poll() and SO_ERROR", 0},
	{"hold-ms", OPT_HOLD_MS, "MS", 0, "Keep each connection open MS milliseconds before closing", 0},
	{"pause-ms", OPT_PAUSE_MS, "MS", 0,
	 "Wait MS milliseconds after each close before the next connect() (per thread)", 0},
	{"keep-open", OPT_KEEP_OPEN, NULL, 0,
	 "Keep every connection open until all were made, then close them (one thread)", 0},
	{"half-open", OPT_HALF_OPEN, "N", 0,
	 "First send N bare SYNs from " HALF_OPEN_SOURCE " (IPv4, raw socket; root) to the first "
	 "ADDR and PORT; -n 0 then makes no connection", 0},
	{},
};

#define MAX_TARGETS 8

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;
/* ADDR x PORT, resolved: connection i goes to targets[i % naddrs][i % nports]. */
static struct addrinfo *targets[MAX_TARGETS][MAX_TARGETS];
static unsigned int naddrs, nports;
static int *kept;         /* --keep-open: the connections' fds, -1 where none */
static struct client_opts opts = {.count = 1, .concurrency = 1, .syn_retries = -1};
static unsigned long next_conn, failures;

static unsigned long number(struct argp_state *state, const char *what, const char *arg,
			    unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || !*arg || *end || *arg == '-' || v < min || v > max)
		argp_error(state, "invalid %s '%s' (%lu-%lu)", what, arg, min, max);
	return v;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct client_opts *o = state->input;

	switch (key) {
	case 'n': o->count = number(state, "count", arg, 0, 1000000000); break;
	case 'c': o->concurrency = number(state, "concurrency", arg, 1, 256); break;
	case OPT_PAYLOAD: o->payload = arg; break;
	case OPT_BIND_PORT: o->bind_port = number(state, "port", arg, 1, 65535); break;
	case OPT_LINGER_RST: o->linger_rst = true; break;
	case OPT_CLOSE_FIRST:
		if (!strcmp(arg, "client"))
			o->close_first = CLIENT_FIRST;
		else if (!strcmp(arg, "server"))
			o->close_first = SERVER_FIRST;
		else if (!strcmp(arg, "alternate"))
			o->close_first = ALTERNATE;
		else
			argp_error(state, "--close-first takes 'client', 'server' or 'alternate'");
		break;
	case OPT_SYN_RETRIES: o->syn_retries = (int)number(state, "SYN retries", arg, 1, 127); break;
	case OPT_NONBLOCK: o->nonblock = true; break;
	case OPT_HOLD_MS: o->hold_ms = number(state, "hold time", arg, 0, 3600000); break;
	case OPT_PAUSE_MS: o->pause_ms = number(state, "pause", arg, 0, 3600000); break;
	case OPT_KEEP_OPEN: o->keep_open = true; break;
	case OPT_HALF_OPEN: o->half_open = number(state, "SYN count", arg, 1, 1000); break;
	case ARGP_KEY_ARG:
		if (state->arg_num == 0)
			o->host = arg;
		else if (state->arg_num == 1)
			o->port = arg;
		else
			argp_usage(state);
		break;
	case ARGP_KEY_END:
		if (state->arg_num < 2)
			argp_usage(state);
		if (!o->count && !o->half_open)
			argp_error(state, "-n 0 makes nothing: it goes with --half-open");
		if (o->keep_open && o->concurrency > 1)
			argp_error(state, "--keep-open makes the connections one after another: no -c");
		break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&print_lock);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	pthread_mutex_unlock(&print_lock);
}

static void fail(const char *call, int err)
{
	say("%s failed: %s (%s) pid=%d tid=%d\n", call, strerrorname_np(err), strerror(err), getpid(),
	    gettid());
	__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
}

static void local_text(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(buf, len, "?");
		return;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (void *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(a->sin6_port));
	} else {
		struct sockaddr_in *a = (void *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(a->sin_port));
	}
}

static int bind_local_port(int fd, const struct addrinfo *target)
{
	struct sockaddr_storage ss = {0};
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ss.ss_family = target->ai_family;
	if (target->ai_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(opts.bind_port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons(opts.bind_port);
	return bind(fd, (struct sockaddr *)&ss, target->ai_addrlen);
}

static void talk(int fd)
{
	size_t len = strlen(opts.payload);
	char buf[4096];
	size_t got = 0;
	ssize_t n;

	if (write(fd, opts.payload, len) != (ssize_t)len) {
		fail("write", errno);
		return;
	}
	while (got < len && (n = read(fd, buf, sizeof(buf))) > 0)
		got += n;
}

/*
 * connect() as event-driven programs do it: the call returns EINPROGRESS at
 * once, poll() reports the socket writable when the handshake ends, and
 * SO_ERROR says how it ended. Returns 0 or an errno.
 */
static int connect_nonblocking(int fd, const struct addrinfo *target)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	socklen_t len = sizeof(int);
	int err = 0;

	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return errno;
	if (connect(fd, target->ai_addr, target->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	/* Linux queues an ICMP error on the error queue, waking poll() with
	 * POLLERR, a moment before it sets sk_err (tcp_v4_err() calls
	 * ip_icmp_error() first): SO_ERROR can still read 0 then, with the
	 * socket in SYN_SENT. Only POLLOUT or an error ends the wait. */
	do {
		while (poll(&pfd, 1, -1) < 0)
			if (errno != EINTR)
				return errno;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			return errno;
	} while (!err && !(pfd.revents & POLLOUT));
	if (!err)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return err;
}

/* After connect(): the payload, the hold, who closes first, close(). */
static void finish(int fd, unsigned long index)
{
	struct linger rst = {.l_onoff = 1, .l_linger = 0};
	char buf[256];

	if (opts.payload)
		talk(fd);
	if (opts.hold_ms)
		usleep(opts.hold_ms * 1000);
	if (opts.close_first == SERVER_FIRST || (opts.close_first == ALTERNATE && index % 2 == 1))
		while (read(fd, buf, sizeof(buf)) > 0)
			;
	if (opts.linger_rst && setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst)) < 0)
		fail("setsockopt(SO_LINGER)", errno);
	if (close(fd) < 0)
		fail("close", errno);
}

static void one_connection(unsigned long index)
{
	const struct addrinfo *target = targets[index % naddrs][index % nports];
	char local[INET6_ADDRSTRLEN + 8];
	int fd, err;

	fd = socket(target->ai_family, SOCK_STREAM, 0);
	if (fd < 0) {
		fail("socket", errno);
		return;
	}
	if (opts.bind_port && bind_local_port(fd, target) < 0) {
		fail("bind", errno);
		close(fd);
		return;
	}
	/* Fewer SYN retransmissions make a timeout short enough to watch. */
	if (opts.syn_retries > 0 &&
	    setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &opts.syn_retries, sizeof(opts.syn_retries)) < 0) {
		fail("setsockopt(TCP_SYNCNT)", errno);
		close(fd);
		return;
	}
	err = opts.nonblock ? connect_nonblocking(fd, target)
			    : (connect(fd, target->ai_addr, target->ai_addrlen) < 0 ? errno : 0);
	if (err) {
		fail("connect", err);
		close(fd);
		return;
	}
	local_text(fd, local, sizeof(local));
	say("connected fd=%d local=%s pid=%d tid=%d\n", fd, local, getpid(), gettid());
	if (opts.keep_open) {
		kept[index] = fd; /* closed by main() once every connection was made */
		return;
	}
	finish(fd, index);
}

static void *worker(void *arg)
{
	(void)arg;
	unsigned long index;

	while ((index = __atomic_fetch_add(&next_conn, 1, __ATOMIC_RELAXED)) < opts.count) {
		if (index >= opts.concurrency && opts.pause_ms)
			usleep(opts.pause_ms * 1000);
		one_connection(index);
	}
	return NULL;
}

/* The Internet checksum (RFC 1071) of len bytes. */
static unsigned short checksum(const void *data, size_t len)
{
	const unsigned char *p = data;
	unsigned int sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (unsigned short)~sum;
}

/*
 * Sends opts.half_open SYNs (RFC 9293 3.5: the first segment of a handshake)
 * from HALF_OPEN_SOURCE, ports HALF_OPEN_FIRST_PORT up, to the first target.
 * The kernel fills in the IPv4 header's checksum and id (raw(7)); the TCP
 * checksum covers the pseudo-header (RFC 9293 3.1). Returns 0 or an errno.
 */
static int send_half_open(void)
{
	const struct sockaddr_in *dst = (const struct sockaddr_in *)targets[0][0]->ai_addr;
	struct {
		struct iphdr ip;
		struct tcphdr tcp;
	} pkt;
	struct {
		uint32_t saddr, daddr;
		uint8_t zero, proto;
		uint16_t len;
		struct tcphdr tcp;
	} pseudo;
	unsigned int i;
	int fd;

	if (targets[0][0]->ai_family != AF_INET)
		return EAFNOSUPPORT;
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0)
		return errno;
	for (i = 0; i < opts.half_open; i++) {
		memset(&pkt, 0, sizeof(pkt));
		pkt.ip.version = 4;
		pkt.ip.ihl = 5;
		pkt.ip.tot_len = htons(sizeof(pkt));
		pkt.ip.ttl = 64;
		pkt.ip.protocol = IPPROTO_TCP;
		inet_pton(AF_INET, HALF_OPEN_SOURCE, &pkt.ip.saddr);
		pkt.ip.daddr = dst->sin_addr.s_addr;
		pkt.tcp.source = htons(HALF_OPEN_FIRST_PORT + i);
		pkt.tcp.dest = dst->sin_port;
		pkt.tcp.seq = htonl(1000000 * (i + 1));
		pkt.tcp.doff = sizeof(pkt.tcp) / 4;
		pkt.tcp.syn = 1;
		pkt.tcp.window = htons(65535);
		pseudo.saddr = pkt.ip.saddr;
		pseudo.daddr = pkt.ip.daddr;
		pseudo.zero = 0;
		pseudo.proto = IPPROTO_TCP;
		pseudo.len = htons(sizeof(pkt.tcp));
		pseudo.tcp = pkt.tcp;
		pkt.tcp.check = htons(checksum(&pseudo, sizeof(pseudo)));
		if (sendto(fd, &pkt, sizeof(pkt), 0, (const struct sockaddr *)dst, sizeof(*dst)) < 0) {
			int err = errno;

			close(fd);
			return err;
		}
	}
	close(fd);
	say("sent %u SYNs from %s to port %u (never answered: half-open)\n", opts.half_open,
	    HALF_OPEN_SOURCE, ntohs(dst->sin_port));
	return 0;
}

/* Resolves every ADDR x PORT of the comma-separated lists; prints why not and returns -1. */
static int resolve_targets(const struct addrinfo *hints)
{
	char *addrs = strdup(opts.host), *ports = strdup(opts.port), *a, *p, *sa = NULL, *sp;
	int err = addrs && ports ? 0 : EAI_MEMORY;

	for (a = strtok_r(addrs, ",", &sa); !err && a; a = strtok_r(NULL, ",", &sa)) {
		if (naddrs == MAX_TARGETS) {
			fprintf(stderr, "demo-client: at most %d addresses\n", MAX_TARGETS);
			err = -1;
			break;
		}
		nports = 0;
		sp = NULL;
		for (p = strtok_r(ports, ",", &sp); p; p = strtok_r(NULL, ",", &sp)) {
			if (nports == MAX_TARGETS) {
				fprintf(stderr, "demo-client: at most %d ports\n", MAX_TARGETS);
				err = -1;
				break;
			}
			err = getaddrinfo(a, p, hints, &targets[naddrs][nports]);
			if (err) {
				fprintf(stderr, "demo-client: %s port %s: %s\n", a, p, gai_strerror(err));
				break;
			}
			nports++;
		}
		/* strtok_r() cut the port list: restore it for the next address. */
		free(ports);
		ports = strdup(opts.port);
		if (!err && !ports)
			err = EAI_MEMORY;
		if (!err)
			naddrs++;
	}
	if (err == EAI_MEMORY)
		fprintf(stderr, "demo-client: out of memory\n");
	if (!err && (!naddrs || !nports)) {
		fprintf(stderr, "demo-client: no address or port in '%s' '%s'\n", opts.host, opts.port);
		err = -1;
	}
	free(addrs);
	free(ports);
	return err ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct argp argp = {.options = options, .parser = parse_opt, .args_doc = args_doc, .doc = doc};
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	pthread_t threads[256];
	unsigned long i, started = 0;
	int err;

	argp_parse(&argp, argc, argv, 0, NULL, &opts);
	if (resolve_targets(&hints))
		return 2;
	if (opts.half_open && (err = send_half_open())) {
		fail("sending half-open SYNs", err);
		return 1;
	}
	if (opts.keep_open) {
		kept = malloc(opts.count * sizeof(*kept));
		if (!kept) {
			fprintf(stderr, "demo-client: out of memory\n");
			return 2;
		}
		for (i = 0; i < opts.count; i++)
			kept[i] = -1;
	}
	if (opts.concurrency == 1) {
		worker(NULL);
	} else {
		for (i = 0; i < opts.concurrency; i++) {
			err = pthread_create(&threads[i], NULL, worker, NULL);
			if (err) {
				fprintf(stderr, "demo-client: pthread_create: %s\n", strerror(err));
				break;
			}
			started++;
		}
		for (i = 0; i < started; i++)
			pthread_join(threads[i], NULL);
	}
	for (i = 0; kept && i < opts.count; i++)
		if (kept[i] >= 0)
			finish(kept[i], i);
	free(kept);
	for (i = 0; i < naddrs * nports; i++)
		freeaddrinfo(targets[i / nports][i % nports]);
	return failures ? 1 : 0;
}
