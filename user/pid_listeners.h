/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The TCP listeners a running process already holds (for -p PID). */
#ifndef SYNSCOPE_PID_LISTENERS_H
#define SYNSCOPE_PID_LISTENERS_H

#include <stdio.h>
#include <sys/types.h>

struct pid_listener {
	unsigned long long netns; /* inode of /proc/PID/ns/net */
	unsigned short port;      /* host byte order */
};

/*
 * Finds the listening TCP sockets among the fds of `pid`, by matching the
 * socket inodes of /proc/PID/fd with LISTEN rows of /proc/PID/net/tcp{,6}.
 * Returns the number found (at most max) or -errno.
 */
int pid_listeners(pid_t pid, struct pid_listener *out, int max);

/*
 * Parses a /proc/net/tcp or tcp6 table from f: appends LISTEN rows whose
 * inode is in the sorted array inodes[ninodes] to out[found..max).
 * Returns the new count. Exposed for the fuzzer.
 */
int parse_tcp_listeners(FILE *f, const unsigned long *inodes, int ninodes,
			unsigned long long netns, struct pid_listener *out, int found, int max);
/* qsort/bsearch comparison of unsigned long inodes. */
int cmp_ino(const void *a, const void *b);

#endif
