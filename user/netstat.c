// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "netstat.h"

/* "TcpExt: Name1 Name2 ..." followed by "TcpExt: 1 2 ...": match names to values. */
int tcpext_parse(FILE *f, struct tcpext_counters *out)
{
	char *names = NULL, *values = NULL, *line = NULL;
	char *nsave, *vsave, *n, *v;
	size_t cap = 0;
	int found = 0;

	memset(out, 0, sizeof(*out));
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "TcpExt:", 7))
			continue;
		if (!names) {
			names = strdup(line);
		} else {
			values = strdup(line);
			break;
		}
	}
	free(line);
	if (!names || !values) {
		free(names);
		free(values);
		return -ENOENT;
	}
	n = strtok_r(names + 7, " \n", &nsave);
	v = strtok_r(values + 7, " \n", &vsave);
	for (; n && v; n = strtok_r(NULL, " \n", &nsave), v = strtok_r(NULL, " \n", &vsave)) {
		unsigned long long val = strtoull(v, NULL, 10);

		if (!strcmp(n, "ListenOverflows"))
			out->listen_overflows = val, found++;
		else if (!strcmp(n, "ListenDrops"))
			out->listen_drops = val, found++;
		else if (!strcmp(n, "SyncookiesSent"))
			out->syncookies_sent = val, found++;
		else if (!strcmp(n, "TCPReqQFullDrop"))
			out->req_q_full_drops = val;
		else if (!strcmp(n, "TCPReqQFullDoCookies"))
			out->req_q_full_cookies = val;
	}
	free(names);
	free(values);
	return found == 3 ? 0 : -ENOENT;
}

int tcpext_read_self(struct tcpext_counters *out)
{
	FILE *f = fopen("/proc/self/net/netstat", "r");
	int err;

	if (!f)
		return -errno;
	err = tcpext_parse(f, out);
	fclose(f);
	return err;
}
