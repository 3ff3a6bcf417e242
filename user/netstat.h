/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* TcpExt counters of /proc/net/netstat (the listen-path drops no tracepoint shows). */
#ifndef SYNSCOPE_NETSTAT_H
#define SYNSCOPE_NETSTAT_H

#include <stdio.h>

struct tcpext_counters {
	unsigned long long listen_overflows;
	unsigned long long listen_drops;
	unsigned long long syncookies_sent;
	/* SYNs refused on a full SYN queue: dropped (no cookies), or answered with a cookie */
	unsigned long long req_q_full_drops;   /* TCPReqQFullDrop */
	unsigned long long req_q_full_cookies; /* TCPReqQFullDoCookies */
};

/*
 * Parses the "TcpExt:" header and value lines of a netstat file.
 * Returns 0, or -ENOENT if the TcpExt lines or the first three counters
 * are missing (the TCPReqQFull ones stay 0 where the kernel lacks them).
 */
int tcpext_parse(FILE *f, struct tcpext_counters *out);
/* Reads /proc/self/net/netstat: the counters of synscope's own network namespace. */
int tcpext_read_self(struct tcpext_counters *out);

#endif
