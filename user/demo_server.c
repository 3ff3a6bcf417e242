// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * demo-server: the lecture's TCP server, one call per step.
 *
 *   socket() -> setsockopt(SO_REUSEADDR) -> bind(wildcard, port) -> listen(fd, backlog)
 *   -> loop: [sleep accept-delay] -> accept() -> [echo] -> close()
 *   (--keep-open: every accept() first, then the echo and close() of each)
 *
 * Prints, one line each (for people and scripts):
 *   listening port=PORT pid=PID fd=FD backlog=BACKLOG
 *   accepted fd=FD peer=ADDR:PORT pid=PID tid=TID
 */
#define _GNU_SOURCE
#include <argp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct server_opts {
	bool ipv6;
	const char *addr;       /* NULL: wildcard (INADDR_ANY / in6addr_any) */
	unsigned int port;      /* 0: the kernel chooses */
	int backlog;
	unsigned int accept_delay_ms;
	unsigned long count;    /* 0: forever */
	bool echo;
	enum { CLIENT_FIRST, SERVER_FIRST, ALTERNATE } close_first; /* who sends the first FIN */
	bool keep_open;         /* accept all COUNT connections before serving and closing any */
	unsigned int exit_after_ms; /* 0: no limit; else exit 0 this long after listen() */
};

static const char doc[] =
	"demo-server: socket, bind, listen, accept; the server half of synscope's demo.\n"
	"\n"
	"EXAMPLES:\n"
	"    demo-server -p 8080 -n 3             # accept 3 connections on port 8080\n"
	"    demo-server -p 0 -b 1 --accept-delay-ms 2000  # a backlog of 1, slow accepts\n"
	"    demo-server -6 -a ::1 -p 8080 --echo # IPv6 loopback, echo what clients send\n";

enum { OPT_ACCEPT_DELAY = 1000, OPT_ECHO, OPT_CLOSE_FIRST, OPT_KEEP_OPEN, OPT_EXIT_AFTER };

#define MAX_KEPT 1024

static const struct argp_option options[] = {
	{"ipv6", '6', NULL, 0, "Listen on IPv6 (wildcard :: accepts IPv4 too)", 0},
	{"addr", 'a', "ADDR", 0, "Bind to ADDR instead of the wildcard address", 0},
	{"port", 'p', "PORT", 0, "Port to bind (0: the kernel chooses; default 0)", 0},
	{"backlog", 'b', "BACKLOG", 0, "Backlog passed to listen() (default 5)", 0},
	{"count", 'n', "COUNT", 0, "Exit after COUNT connections (default: never)", 0},
	{"accept-delay-ms", OPT_ACCEPT_DELAY, "MS", 0, "Sleep MS before each accept()", 0},
	{"echo", OPT_ECHO, NULL, 0, "Echo what the client sends until it closes", 0},
	{"close-first", OPT_CLOSE_FIRST, "WHO", 0,
	 "server: close right after accept; client (default): wait for the client's FIN; "
	 "alternate: client first on odd connections, server first on even ones", 0},
	{"exit-after-ms", OPT_EXIT_AFTER, "MS", 0,
	 "Exit (status 0) MS milliseconds after listen(), whatever was accepted", 0},
	{"keep-open", OPT_KEEP_OPEN, NULL, 0,
	 "Accept all COUNT connections (up to 1024) before serving and closing them: each "
	 "keeps its fd", 0},
	{},
};

static unsigned long number(struct argp_state *state, const char *what, const char *arg,
			    unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || !*arg || *end || *arg == '-' || v > max)
		argp_error(state, "invalid %s '%s' (0-%lu)", what, arg, max);
	return v;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct server_opts *o = state->input;

	switch (key) {
	case '6': o->ipv6 = true; break;
	case 'a': o->addr = arg; break;
	case 'p': o->port = number(state, "port", arg, 65535); break;
	case 'b': o->backlog = (int)number(state, "backlog", arg, 65535); break;
	case 'n': o->count = number(state, "count", arg, 1000000000); break;
	case OPT_ACCEPT_DELAY: o->accept_delay_ms = number(state, "delay", arg, 3600000); break;
	case OPT_ECHO: o->echo = true; break;
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
	case OPT_KEEP_OPEN: o->keep_open = true; break;
	case OPT_EXIT_AFTER: o->exit_after_ms = number(state, "time", arg, 3600000); break;
	case ARGP_KEY_ARG: argp_error(state, "unexpected argument '%s'", arg); break;
	case ARGP_KEY_END:
		if (o->keep_open && (!o->count || o->count > MAX_KEPT))
			argp_error(state, "--keep-open needs -n COUNT (1-%d)", MAX_KEPT);
		break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* --exit-after-ms: every line printed was flushed; the kernel closes the sockets. */
static void on_exit_timer(int sig)
{
	(void)sig;
	_exit(0);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Fills addr for the wildcard or the -a address; returns its length or 0. */
static socklen_t make_addr(const struct server_opts *o, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (o->ipv6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(o->port);
		a->sin6_addr = in6addr_any;
		if (o->addr && inet_pton(AF_INET6, o->addr, &a->sin6_addr) != 1)
			return 0;
		return sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(o->port);
		a->sin_addr.s_addr = htonl(INADDR_ANY);
		if (o->addr && inet_pton(AF_INET, o->addr, &a->sin_addr) != 1)
			return 0;
		return sizeof(*a);
	}
}

static void peer_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else {
		const struct sockaddr_in *a = (const void *)ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	}
}

/* Echo until the client closes (read() returns 0), or just wait for its FIN. */
static void serve(int fd, bool echo)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (echo && write(fd, buf, n) != n) {
			perror("demo-server: write");
			return;
		}
	}
	if (n < 0)
		perror("demo-server: read");
}

/* One accepted connection's end: the echo (or waiting for the client's FIN), close(). */
static void finish(int fd, unsigned long index, const struct server_opts *o)
{
	/* alternate: the 1st connection's client closes first, the 2nd's server... */
	if (o->close_first == CLIENT_FIRST || (o->close_first == ALTERNATE && index % 2 == 0))
		serve(fd, o->echo);
	if (close(fd) < 0)
		perror("demo-server: close");
}

int main(int argc, char **argv)
{
	struct server_opts o = {.backlog = 5};
	struct argp argp = {.options = options, .parser = parse_opt, .doc = doc};
	struct sockaddr_storage ss, peer;
	socklen_t len, peer_len;
	unsigned long served = 0, i;
	int lfd, fd, one = 1, kept[MAX_KEPT];
	char text[INET6_ADDRSTRLEN + 8];

	argp_parse(&argp, argc, argv, 0, NULL, &o);
	len = make_addr(&o, &ss);
	if (!len) {
		fprintf(stderr, "demo-server: invalid %s address '%s'\n", o.ipv6 ? "IPv6" : "IPv4", o.addr);
		return 2;
	}

	lfd = socket(o.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (lfd < 0) {
		perror("demo-server: socket");
		return 1;
	}
	/* Restart at once on the same port although old connections sit in TIME_WAIT. */
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		perror("demo-server: setsockopt(SO_REUSEADDR)");
		return 1;
	}
	if (bind(lfd, (struct sockaddr *)&ss, len) < 0) {
		perror("demo-server: bind");
		return 1;
	}
	if (listen(lfd, o.backlog) < 0) {
		perror("demo-server: listen");
		return 1;
	}
	/* With port 0, bind() let the kernel choose: ask which. */
	if (getsockname(lfd, (struct sockaddr *)&ss, &len) < 0) {
		perror("demo-server: getsockname");
		return 1;
	}
	printf("listening port=%u pid=%d fd=%d backlog=%d\n",
	       ntohs(((struct sockaddr_in *)&ss)->sin_port), getpid(), lfd, o.backlog);
	fflush(stdout);
	if (o.exit_after_ms) {
		struct itimerval when = {.it_value = {o.exit_after_ms / 1000,
						      (long)(o.exit_after_ms % 1000) * 1000}};

		signal(SIGALRM, on_exit_timer);
		setitimer(ITIMER_REAL, &when, NULL);
	}

	while (!o.count || served < o.count) {
		if (o.accept_delay_ms)
			sleep_ms(o.accept_delay_ms);
		peer_len = sizeof(peer);
		fd = accept(lfd, (struct sockaddr *)&peer, &peer_len);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("demo-server: accept");
			return 1;
		}
		peer_text(&peer, text, sizeof(text));
		printf("accepted fd=%d peer=%s pid=%d tid=%d\n", fd, text, getpid(), gettid());
		fflush(stdout);
		if (o.keep_open)
			kept[served] = fd;
		else
			finish(fd, served, &o);
		served++;
	}
	for (i = 0; o.keep_open && i < served; i++)
		finish(kept[i], i, &o);
	close(lfd);
	return 0;
}
