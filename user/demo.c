// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * synscope demo: runs demo-server and demo-client in a private network
 * namespace (created with unshare(), gone when they exit: no traffic leaves
 * it) under synscope --timeline, and prints what the lecture says beside the
 * ladder of what the kernel did.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "demo.h"
#include "launch.h"
#include "options.h"
#include "pid_listeners.h"
#include "tracer.h"

#define DEMO_PORT "8080"
#define LISTEN_WAIT_MS 5000

struct scenario {
	const char *name;
	const char *summary;
	const char *lecture; /* what should happen, printed before the run */
	bool ipv6;
};

static const char normal_lecture[] =
	"The lecture: the server calls socket(), bind(), listen(fd, backlog) and accept();\n"
	"the client calls socket() and connect(). The kernel then exchanges\n"
	"  SYN seq=j               client SYN_SENT\n"
	"  SYN-ACK seq=k ack=j+1   server side (request socket, SYN_RECV)\n"
	"  ACK ack=k+1             client ESTABLISHED: connect() returns;\n"
	"                          server child ESTABLISHED, queued until accept() returns it.\n"
	"Below, j is the client's ISS and k the server's ISS, read from the sockets.\n";

static const struct scenario scenarios[] = {
	{"handshake", "IPv4 connections on loopback, accepted after a delay", normal_lecture, false},
	{"ipv6", "IPv6 connections on ::1, accepted after a delay", normal_lecture, true},
};

struct demo_opts {
	const struct scenario *sc;
	unsigned long count;
	unsigned int accept_delay_ms;
	int verbose;
};

static const char doc[] =
	"Run the bundled demo-server and demo-client under synscope in a private network\n"
	"namespace and print the annotated handshake of each connection.\n"
	"\n"
	"SCENARIOS:\n"
	"    handshake   IPv4 connections on loopback, accepted after a delay (default)\n"
	"    ipv6        IPv6 connections on ::1, accepted after a delay\n"
	"\n"
	"EXAMPLES:\n"
	"    synscope demo              # the normal handshake, IPv4\n"
	"    synscope demo ipv6 -n 5    # five IPv6 connections\n";

static const struct argp_option options[] = {
	{"count", 'n', "COUNT", 0, "Connections to make (1-100, default 3)", 0},
	{"accept-delay-ms", 'a', "MS", 0, "Server's sleep before each accept() (default 100)", 0},
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
	case ARGP_KEY_ARG:
		if (state->arg_num > 0)
			argp_error(state, "one scenario at a time");
		for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
			if (!strcmp(arg, scenarios[i].name))
				break;
		if (i == sizeof(scenarios) / sizeof(scenarios[0]))
			argp_error(state, "unknown scenario '%s': see synscope demo --help", arg);
		o->sc = &scenarios[i];
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

struct demo_workload {
	struct workload w;
	struct launched server, client;
};

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
	int err = launch_release(&d->server);

	if (err) {
		fprintf(stderr, "synscope: couldn't run %s: %s (run 'make' first)\n", d->server.name,
			strerror(-err));
		return 1;
	}
	if (wait_listening(d->server.pid)) {
		fprintf(stderr, "synscope: demo-server did not listen within %d ms\n", LISTEN_WAIT_MS);
		return 1;
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

	return launch_reap(&d->client) && launch_reap(&d->server);
}

static void demo_stop(struct workload *w, int sig)
{
	struct demo_workload *d = (struct demo_workload *)w;

	launch_signal(&d->client, sig);
	launch_signal(&d->server, sig);
}

static int demo_exit_status(struct workload *w)
{
	struct demo_workload *d = (struct demo_workload *)w;
	int status = launch_exit_status(&d->client);

	return status ? status : launch_exit_status(&d->server);
}

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

int demo_main(int argc, char **argv)
{
	struct demo_opts o = {.sc = &scenarios[0], .count = 3, .accept_delay_ms = 100};
	struct argp argp = {.options = options, .parser = parse_opt, .args_doc = "[SCENARIO]",
			    .doc = doc};
	struct demo_workload d = {
		.w = {.start = demo_start, .finished = demo_finished, .stop = demo_stop,
		      .exit_status = demo_exit_status},
	};
	char server_path[PATH_MAX], client_path[PATH_MAX], count[16], delay[16];
	const char *addr;
	struct synscope_config cfg;
	int err, status;

	argp_parse(&argp, argc, argv, 0, NULL, &o);
	/* The demo's programs and synscope share the terminal: keep lines whole and in order. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sibling_path("demo-server", server_path, sizeof(server_path)) ||
	    sibling_path("demo-client", client_path, sizeof(client_path))) {
		fprintf(stderr, "synscope: demo-server or demo-client not found next to synscope: "
				"run 'make' (or 'make demo')\n");
		return 1;
	}
	if (enter_private_netns())
		return 1;

	addr = o.sc->ipv6 ? "::1" : "127.0.0.1";
	snprintf(count, sizeof(count), "%lu", o.count);
	snprintf(delay, sizeof(delay), "%u", o.accept_delay_ms);
	{
		char *server_argv[16], *client_argv[] = {client_path, "-n", count, (char *)addr,
							 DEMO_PORT, NULL};
		int n = 0;

		server_argv[n++] = server_path;
		if (o.sc->ipv6)
			server_argv[n++] = "-6";
		server_argv[n++] = "-a";
		server_argv[n++] = (char *)addr;
		server_argv[n++] = "-p";
		server_argv[n++] = DEMO_PORT;
		server_argv[n++] = "-b";
		server_argv[n++] = "4";
		server_argv[n++] = "-n";
		server_argv[n++] = count;
		server_argv[n++] = "--accept-delay-ms";
		server_argv[n++] = delay;
		server_argv[n] = NULL;
		err = launch_held(&d.server, server_argv, false);
		if (!err)
			err = launch_held(&d.client, client_argv, false);
	}
	if (err) {
		fprintf(stderr, "synscope: couldn't start the demo programs: %s\n", strerror(-err));
		launch_cleanup(&d.server);
		return 1;
	}
	d.w.pids[0] = d.server.pid;
	d.w.pids[1] = d.client.pid;
	d.w.npids = 2;

	options_defaults(&cfg);
	cfg.timeline = true;
	cfg.verbose = o.verbose;
	/* A handful of connections: show each as soon as it completes. */
	cfg.wakeup_bytes = 0;
	printf("synscope demo %s: %s\n\n%s\n", o.sc->name, o.sc->summary, o.sc->lecture);
	printf("demo-server %s port %s, listen backlog 4, sleeps %u ms before each accept();\n"
	       "demo-client makes %lu connections.\n\n",
	       addr, DEMO_PORT, o.accept_delay_ms, o.count);
	fflush(stdout);
	status = run_tracer(&cfg, &d.w);
	launch_cleanup(&d.client);
	launch_cleanup(&d.server);
	return status;
}
