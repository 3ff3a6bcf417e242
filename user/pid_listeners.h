/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The TCP listeners a running process already holds (for -p PID). */
#ifndef SYNSCOPE_PID_LISTENERS_H
#define SYNSCOPE_PID_LISTENERS_H

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

#endif
