/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* TcpExt counters of /proc/net/netstat (the listen-path drops no tracepoint shows). */
#ifndef SYNSCOPE_NETSTAT_H
#define SYNSCOPE_NETSTAT_H

#include <stdio.h>

struct tcpext_counters {
	unsigned long long listen_overflows;
	unsigned long long listen_drops;
	unsigned long long syncookies_sent;
};

/*
 * Parses the "TcpExt:" header and value lines of a netstat file.
 * Returns 0, or -ENOENT if the TcpExt lines or the counters are missing.
 */
int tcpext_parse(FILE *f, struct tcpext_counters *out);
/* Reads /proc/self/net/netstat: the counters of synscope's own network namespace. */
int tcpext_read_self(struct tcpext_counters *out);

#endif
