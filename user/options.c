// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <argp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "options.h"

/*
 * The ring buffers' default: 4 MiB, 2 MiB a CPU on this project's 2-CPU
 * test host, where no saturating load of make bench overflowed them; on
 * more than 16 CPUs, 256 KiB a CPU (a share of 4 MiB would leave 64 KiB
 * each on 64 CPUs: a burst on one CPU overflows sooner), up to 64 MiB.
 */
#define DEFAULT_RINGBUF_BYTES (4u << 20)
#define DEFAULT_RINGBUF_PER_CPU (256u << 10)
#define DEFAULT_RINGBUF_MAX (64u << 20)
#define DEFAULT_MAX_SOCKETS 32768u
#define DEFAULT_POLL_MS 100u

const char *argp_program_version = "synscope 0.1";
const char *argp_program_bug_address = "the synscope issue tracker";

static const char doc[] =
	"Trace TCP handshakes: both ends of every connection, the processes that called\n"
	"connect() and accept(), ISS/IRS, accept-queue depth and wait.\n"
	"\v"
	"Examples:\n"
	"  synscope                     every handshake on this host\n"
	"  synscope -P 8080             connections to or from port 8080\n"
	"  synscope -P 80,443 -4        IPv4 only, ports 80 and 443\n"
	"  synscope -p 1234             connect()/accept() calls of process 1234\n"
	"  synscope -f jsonl -o x.jsonl -d 60\n"
	"                               one JSON object per line, for 60 seconds\n"
	"  synscope -T -v               wall-clock time, ISS/IRS and retransmits\n"
	"  synscope -P 8080 -i 10       also each listener's queues every 10 seconds\n"
	"  synscope --timeline -- curl -s http://127.0.0.1:8080/\n"
	"                               the ladder of one command's connections\n"
	"  synscope -w cap.syn -P 8080  raw records to a capture: nothing lost at peak\n"
	"  synscope -r cap.syn -f jsonl the capture read back, as JSONL\n"
	"  synscope --metrics 9560      Prometheus metrics at 127.0.0.1:9560/metrics\n"
	"  synscope demo                the bundled client/server pair, annotated\n"
	"                               (synscope demo --help lists its scenarios)\n";

/* The forms of the command line, one per line (argp prints them as Usage/or lines). */
static const char args_doc[] =
	"[-- CMD [ARGS...]]\n"
	"-w FILE [-P PORTS] [-- CMD [ARGS...]]\n"
	"-r FILE [-f text|jsonl] [-o FILE]\n"
	"--metrics [ADDR:]PORT [-P PORTS]\n"
	"demo [SCENARIO]";

enum {
	OPT_ACCEPT_HOOK = 1000,
	OPT_RINGBUF_SIZE,
	OPT_MAX_SOCKETS,
	OPT_TIMELINE,
	OPT_WAKEUP_BYTES,
	OPT_POLL_MS,
	OPT_CLOSE,
	OPT_HOOKS_ONLY,
	OPT_METRICS,
};

/* Options that set up the kernel side: meaningless when reading a capture. */
static const char *kernel_option_name(int key)
{
	switch (key) {
	case 'p': return "-p";
	case 'P': return "-P";
	case '4': return "-4";
	case '6': return "-6";
	case 'd': return "-d";
	case 'i': return "-i";
	case OPT_ACCEPT_HOOK: return "--accept-hook";
	case OPT_RINGBUF_SIZE: return "--ringbuf-size";
	case OPT_WAKEUP_BYTES: return "--wakeup-bytes";
	case OPT_POLL_MS: return "--poll-ms";
	case OPT_HOOKS_ONLY: return "--hooks-only";
	case OPT_MAX_SOCKETS: return "--max-sockets";
	case OPT_CLOSE: return "--close";
	case OPT_METRICS: return "--metrics";
	case 'w': return "-w";
	default: return NULL;
	}
}

static const struct argp_option opts[] = {
	{"pid", 'p', "PID", 0, "Trace only connect()/accept() calls of this process", 0},
	{"port", 'P', "PORTS", 0, "Comma-separated ports, local or remote (up to 64)", 0},
	{"ipv4", '4', NULL, 0, "IPv4 only (IPv4-mapped IPv6 counts as IPv4)", 0},
	{"ipv6", '6', NULL, 0, "IPv6 only", 0},
	{"timestamp", 'T', NULL, 0, "Start text lines with the wall-clock time", 0},
	{"verbose", 'v', NULL, 0, "ISS/IRS on each text line, probe details; -vv: libbpf debug", 0},
	{"duration", 'd', "SECONDS", 0, "Stop after SECONDS (1-31536000)", 0},
	{"interval", 'i', "SECONDS", 0,
	 "Also write a listener record (queues, drops) per listener every SECONDS (1-86400); "
	 "always written at exit", 0},
	{"output", 'o', "FILE", 0, "Write records to FILE instead of stdout", 0},
	{"format", 'f', "FORMAT", 0, "text (default), jsonl, trace-event (Perfetto, chrome://tracing) or html (a report written at exit)", 0},
	{"accept-hook", OPT_ACCEPT_HOOK, "HOOK", 0,
	 "auto (default), fexit (fexit/inet_csk_accept) or syscall (accept tracepoints)", 0},
	{"ringbuf-size", OPT_RINGBUF_SIZE, "BYTES", 0,
	 "Ring buffers' size, a power of two >= 4096 (default 4 MiB; 256 KiB a CPU beyond 16 CPUs, at most 64 MiB), shared by the CPUs: one ring buffer each", 0},
	{"wakeup-bytes", OPT_WAKEUP_BYTES, "BYTES", 0,
	 "Wake synscope once BYTES of records were written since the last wakeup, counted per CPU (default: 1/8 of the ring buffer; 0: every record)", 0},
	{"poll-ms", OPT_POLL_MS, "MS", 0, "Read records at least every MS milliseconds (10-1000, default 100)", 0},
	/* make bench's floor: what the hooks cost with programs that do nothing. */
	{"hooks-only", OPT_HOOKS_ONLY, NULL, OPTION_HIDDEN,
	 "Attach every hook with programs that return at once (records nothing)", 0},
	{"max-sockets", OPT_MAX_SOCKETS, "N", 0,
	 "Connection ends tracked at once (default 32768; rounded up to a power of two "
	 "sets of 8)", 0},
	{"close", OPT_CLOSE, NULL, 0,
	 "Also report how each established connection closed: who closed first, the state "
	 "path, TIME_WAIT, resets, lifetime (keeps an entry per open connection)", 0},
	{"timeline", OPT_TIMELINE, NULL, 0,
	 "Print each connection as a ladder: calls, segments, states, queue (to stdout)", 0},
	{"metrics", OPT_METRICS, "[ADDR:]PORT", 0,
	 "Serve Prometheus metrics at http://ADDR:PORT/metrics (ADDR defaults to 127.0.0.1); "
	 "alone, records stay in the kernel and are only counted", 0},
	{"write", 'w', "FILE", 0, "Write raw records to FILE (capture); read back with -r", 0},
	{"read", 'r', "FILE", 0, "Read records from a capture instead of the kernel (no root needed)", 0},
	{},
};

/* Parses a whole decimal number in [min, max]. */
static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_port_list(const char *arg, unsigned short *ports, unsigned int max)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	unsigned int n = 0;
	unsigned long v;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == max) {
			err = -E2BIG;
			break;
		}
		if (parse_ulong(tok, 1, 65535, &v)) {
			err = -EINVAL;
			break;
		}
		ports[n++] = (unsigned short)v;
	}
	free(copy);
	if (!err && n == 0)
		err = -EINVAL;
	return err ? err : (int)n;
}

/* Reports a usage error (argp exits with 64 unless ARGP_NO_EXIT) and stops this option. */
#define FAIL(...)                                   \
	do {                                        \
		argp_error(state, __VA_ARGS__);     \
		return EINVAL;                      \
	} while (0)

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct synscope_config *cfg = state->input;
	unsigned long v;
	int n;

	if (!cfg->kernel_opt)
		cfg->kernel_opt = kernel_option_name(key);
	switch (key) {
	case 'p':
		if (parse_ulong(arg, 1, INT_MAX, &v))
			FAIL("invalid PID '%s': expected a number from 1 to %d", arg, INT_MAX);
		cfg->pid = (pid_t)v;
		break;
	case 'P':
		n = parse_port_list(arg, cfg->ports, SYNSCOPE_MAX_PORTS);
		if (n == -E2BIG)
			FAIL("too many ports in '%s': at most %d", arg, SYNSCOPE_MAX_PORTS);
		if (n < 0)
			FAIL("invalid port list '%s': expected ports 1-65535 separated by commas", arg);
		cfg->nports = n;
		break;
	case '4':
	case '6':
		if (cfg->family)
			FAIL("-4 and -6 are exclusive");
		cfg->family = key == '4' ? AF_INET : AF_INET6;
		break;
	case 'T':
		cfg->timestamps = true;
		break;
	case 'v':
		cfg->verbose++;
		break;
	case 'd':
		if (parse_ulong(arg, 1, 31536000, &v))
			FAIL("invalid duration '%s': expected seconds from 1 to 31536000", arg);
		cfg->duration_s = v;
		break;
	case 'i':
		if (parse_ulong(arg, 1, 86400, &v))
			FAIL("invalid interval '%s': expected seconds from 1 to 86400", arg);
		cfg->interval_s = v;
		break;
	case 'o':
		cfg->output_path = arg;
		break;
	case 'f':
		if (output_format_parse(arg, &cfg->format))
			FAIL("unknown format '%s': use text, jsonl, trace-event or html", arg);
		cfg->format_set = true;
		break;
	case 'w':
		cfg->write_path = arg;
		break;
	case 'r':
		cfg->read_path = arg;
		break;
	case OPT_ACCEPT_HOOK:
		if (!strcmp(arg, "auto"))
			cfg->accept_hook = ACCEPT_HOOK_AUTO;
		else if (!strcmp(arg, "fexit"))
			cfg->accept_hook = ACCEPT_HOOK_FEXIT;
		else if (!strcmp(arg, "syscall"))
			cfg->accept_hook = ACCEPT_HOOK_SYSCALL;
		else
			FAIL("unknown accept hook '%s': use auto, fexit or syscall", arg);
		break;
	case OPT_RINGBUF_SIZE:
		if (parse_ulong(arg, 4096, 1u << 30, &v) || (v & (v - 1)))
			FAIL("invalid ring buffer size '%s': a power of two from 4096 to 1073741824", arg);
		cfg->ringbuf_bytes = v;
		break;
	case OPT_WAKEUP_BYTES:
		if (parse_ulong(arg, 0, 1u << 30, &v))
			FAIL("invalid --wakeup-bytes '%s': from 0 to 1073741824", arg);
		cfg->wakeup_bytes = v;
		cfg->wakeup_set = true;
		break;
	case OPT_POLL_MS:
		if (parse_ulong(arg, 10, 1000, &v))
			FAIL("invalid --poll-ms '%s': from 10 to 1000", arg);
		cfg->poll_ms = v;
		break;
	case OPT_MAX_SOCKETS:
		if (parse_ulong(arg, 64, 1u << 22, &v))
			FAIL("invalid --max-sockets '%s': from 64 to 4194304", arg);
		cfg->max_sockets = v;
		break;
	case OPT_TIMELINE:
		cfg->timeline = true;
		break;
	case OPT_CLOSE:
		cfg->track_close = true;
		break;
	case OPT_HOOKS_ONLY:
		cfg->hooks_only = true;
		break;
	case OPT_METRICS:
		if (parse_listen_address(arg, &cfg->metrics_addr))
			FAIL("invalid --metrics '%s': expected [ADDR:]PORT, e.g. 9560, 127.0.0.1:9560 "
			     "or [::1]:9560", arg);
		cfg->metrics_spec = arg;
		break;
	case ARGP_KEY_ARG:
		/* The first non-option starts the command: the rest are its own. */
		cfg->cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		if (cfg->cmd && cfg->pid)
			FAIL("-p and a command are exclusive: the command's tree is traced");
		if (cfg->read_path && cfg->cmd)
			FAIL("-r reads a capture: it cannot run a command");
		if (cfg->read_path && cfg->kernel_opt)
			FAIL("%s applies while tracing the kernel, not to -r: give it to the -w run",
			     cfg->kernel_opt);
		if (cfg->write_path && (cfg->format_set || cfg->output_path || cfg->timeline ||
					cfg->timestamps))
			FAIL("-w writes raw records only: give -f, -o, -T and --timeline to the -r "
			     "that reads them back");
		if (cfg->write_path && cfg->interval_s)
			FAIL("-i writes listener records, which a capture does not hold: run it "
			     "without -w, or beside it");
		if (cfg->timeline && cfg->format != OUTPUT_TEXT && !cfg->output_path)
			FAIL("--timeline prints to stdout: give -o FILE for the %s output",
			     cfg->format == OUTPUT_JSONL ? "JSONL" : cfg->format == OUTPUT_HTML
			     ? "HTML" : "trace-event");
		if (!cfg->wakeup_set)
			cfg->wakeup_bytes = cfg->ringbuf_bytes / 8;
		if (cfg->wakeup_bytes >= cfg->ringbuf_bytes)
			FAIL("--wakeup-bytes must be below --ringbuf-size (%u)", cfg->ringbuf_bytes);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int parse_listen_address(const char *arg, struct sockaddr_storage *out)
{
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
	struct sockaddr_in *a4 = (struct sockaddr_in *)out;
	const char *colon = strrchr(arg, ':'), *port = colon ? colon + 1 : arg;
	char host[INET6_ADDRSTRLEN + 2] = "127.0.0.1";
	size_t len = colon ? (size_t)(colon - arg) : 0;
	unsigned long v;

	memset(out, 0, sizeof(*out));
	if (parse_ulong(port, 1, 65535, &v))
		return -EINVAL;
	if (colon) {
		if (len >= sizeof(host))
			return -EINVAL;
		if (len >= 2 && arg[0] == '[' && arg[len - 1] == ']') { /* [IPv6] */
			memcpy(host, arg + 1, len - 2);
			host[len - 2] = '\0';
			a6->sin6_family = AF_INET6;
			a6->sin6_port = htons(v);
			return inet_pton(AF_INET6, host, &a6->sin6_addr) == 1 ? 0 : -EINVAL;
		}
		memcpy(host, arg, len);
		host[len] = '\0';
	}
	a4->sin_family = AF_INET;
	a4->sin_port = htons(v);
	return inet_pton(AF_INET, host, &a4->sin_addr) == 1 ? 0 : -EINVAL;
}

bool options_metrics_only(const struct synscope_config *cfg)
{
	return cfg->metrics_spec && !cfg->format_set && !cfg->output_path && !cfg->write_path;
}

unsigned int options_default_ringbuf_bytes(long cpus)
{
	if (cpus <= (long)(DEFAULT_RINGBUF_BYTES / DEFAULT_RINGBUF_PER_CPU))
		return DEFAULT_RINGBUF_BYTES;
	if (cpus >= (long)(DEFAULT_RINGBUF_MAX / DEFAULT_RINGBUF_PER_CPU))
		return DEFAULT_RINGBUF_MAX;
	return (unsigned int)cpus * DEFAULT_RINGBUF_PER_CPU;
}

void options_defaults(struct synscope_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->format = OUTPUT_TEXT;
	/* Configured CPUs: the ring buffers are made for every possible one. */
	cfg->ringbuf_bytes = options_default_ringbuf_bytes(sysconf(_SC_NPROCESSORS_CONF));
	cfg->wakeup_bytes = cfg->ringbuf_bytes / 8;
	cfg->poll_ms = DEFAULT_POLL_MS;
	cfg->max_sockets = DEFAULT_MAX_SOCKETS;
}

int parse_options_flags(int argc, char **argv, struct synscope_config *cfg, unsigned int flags)
{
	static const struct argp argp = {
		.options = opts,
		.parser = parse_opt,
		.args_doc = args_doc,
		.doc = doc,
	};

	options_defaults(cfg);
	cfg->argc = argc;
	cfg->argv = argv;
	return argp_parse(&argp, argc, argv, ARGP_IN_ORDER | flags, NULL, cfg) ? 2 : 0;
}

int parse_options(int argc, char **argv, struct synscope_config *cfg)
{
	/* argp_error() prints "synscope: ...", a Try line, and exits 64 (EX_USAGE). */
	return parse_options_flags(argc, argv, cfg, 0);
}
