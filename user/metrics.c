// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --metrics: a scrape reads the kernel side's counters and histograms
 * (bpf/metrics.bpf.h) and the listeners (iter/tcp), sums them over the CPUs
 * and writes them (metrics_text.c). libmicrohttpd serves them from a thread
 * of its own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <microhttpd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "synscope.h" /* before the skeleton, which uses its types */
#include "synscope.skel.h"
#include "decode.h"
#include "join.h"
#include "loader.h"
#include "metrics.h"
#include "netstat.h"
#include "options.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- reading the maps ---- */

static int read_metrics(struct synscope_bpf *skel, struct synscope_metrics *out)
{
	_Static_assert(sizeof(struct synscope_metrics) % sizeof(__u64) == 0, "u64 fields only");
	return loader_sum_percpu(skel->maps.metrics, out, sizeof(*out));
}

long long metrics_count_ends(struct synscope_bpf *skel)
{
	struct synscope_metrics m;
	long long n = 0;
	int r, o, err = read_metrics(skel, &m);

	if (err)
		return err;
	for (r = 0; r < 3; r++)
		for (o = 0; o < 8; o++)
			n += m.handshakes[r][o];
	return n;
}

static unsigned long long own_netns(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : st.st_ino;
}

/* ---- serving ---- */

struct metrics_server {
	struct MHD_Daemon *daemon;
	struct synscope_bpf *skel;
	const char *accept_hook;
	const struct join_table *join; /* read from this thread: join_table_evicted() is atomic */
	bool overflows_per_listener;
	struct utsname uts;
};

/* The exposition as a malloc'd string, or NULL on failure. */
static char *scrape(struct metrics_server *srv, size_t *len)
{
	struct metrics_snapshot s = {.version = "0.1", .accept_hook = srv->accept_hook,
				     .kernel = srv->uts.release};
	struct tcpext_counters tcpext;
	char *buf = NULL;
	FILE *f;
	int err;

	s.overflows_per_listener = srv->overflows_per_listener;
	s.netns = own_netns();
	s.netstat_valid = tcpext_read_self(&tcpext) == 0;
	s.listen_overflows = tcpext.listen_overflows;
	s.listen_drops = tcpext.listen_drops;
	s.syncookies_sent = tcpext.syncookies_sent;
	err = read_metrics(srv->skel, &s.m);
	if (!err)
		err = listener_counts_read(srv->skel, &s.listeners, &s.nlisteners);
	if (!err)
		err = listener_queues_read(srv->skel, &s.queues, &s.nqueues);
	if (!err)
		err = loader_read_stats(srv->skel, &s.stats);
	s.prog_skipped = loader_unhandled_misses(srv->skel, &s.stats, false);
	s.joins_evicted = srv->join ? join_table_evicted(srv->join) : 0;
	f = err ? NULL : open_memstream(&buf, len);
	if (f) {
		err = metrics_write(f, &s);
		if (fclose(f) && !err)
			err = -EIO;
	}
	free(s.listeners);
	free(s.queues);
	if (err || !f) {
		free(buf);
		return NULL;
	}
	return buf;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, char *body,
			     size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				status == MHD_HTTP_OK ? CONTENT_TYPE : "text/plain; charset=utf-8");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_size, void **req_cls)
{
	static char not_found[] = "synscope serves /metrics only\n";
	static char bad_method[] = "GET or HEAD /metrics\n";
	static char failed[] = "synscope could not read its maps\n";
	struct metrics_server *srv = cls;
	size_t len = 0;
	char *body;

	(void)version, (void)upload_data, (void)upload_size, (void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, bad_method, strlen(bad_method),
			     MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, not_found, strlen(not_found),
			     MHD_RESPMEM_PERSISTENT);
	body = scrape(srv, &len);
	if (!body)
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, failed, strlen(failed),
			     MHD_RESPMEM_PERSISTENT);
	return reply(conn, MHD_HTTP_OK, body, len, MHD_RESPMEM_MUST_FREE);
}

const char *metrics_url(const struct synscope_config *cfg, char *buf, size_t len)
{
	const struct sockaddr_storage *a = &cfg->metrics_addr;
	char host[INET6_ADDRSTRLEN] = "?";

	if (a->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "http://[%s]:%u/metrics", host,
			 ntohs(((const struct sockaddr_in6 *)a)->sin6_port));
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, host, sizeof(host));
		snprintf(buf, len, "http://%s:%u/metrics", host,
			 ntohs(((const struct sockaddr_in *)a)->sin_port));
	}
	return buf;
}

struct metrics_server *metrics_serve(const struct synscope_config *cfg, struct synscope_bpf *skel,
				     const char *accept_hook, const struct join_table *join)
{
	const struct sockaddr_storage *addr = &cfg->metrics_addr;
	struct metrics_server *srv = calloc(1, sizeof(*srv));
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	uint16_t port = addr->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)addr)->sin6_port
						   : ((const struct sockaddr_in *)addr)->sin_port;

	if (!srv) {
		fprintf(stderr, "synscope: out of memory\n");
		return NULL;
	}
	srv->skel = skel;
	srv->accept_hook = accept_hook;
	srv->join = join;
	srv->overflows_per_listener = listener_overflows_known(skel);
	uname(&srv->uts);
	if (addr->ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	srv->daemon = MHD_start_daemon(flags, ntohs(port), NULL, NULL, handle_request, srv,
				       MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
				       MHD_OPTION_CONNECTION_LIMIT, 16U,
				       MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
	if (!srv->daemon) {
		fprintf(stderr, "synscope: couldn't serve metrics on %s: %s (another program on "
				"that port? choose another with --metrics [ADDR:]PORT)\n",
			cfg->metrics_spec, errno ? strerror(errno) : "libmicrohttpd refused");
		free(srv);
		return NULL;
	}
	return srv;
}

void metrics_stop(struct metrics_server *srv)
{
	if (!srv)
		return;
	MHD_stop_daemon(srv->daemon);
	free(srv);
}
