// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pid_listeners.h"

#define MAX_SOCKET_FDS 4096
#define TCP_LISTEN_HEX 0x0A

int cmp_ino(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* Socket inodes of the process's fds, sorted. */
static int socket_inodes(pid_t pid, unsigned long *inodes, int max)
{
	char dir[64], path[320], link[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < max) {
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &inodes[n]) == 1)
			n++;
	}
	closedir(d);
	qsort(inodes, n, sizeof(*inodes), cmp_ino);
	return n;
}

int parse_tcp_listeners(FILE *f, const unsigned long *inodes, int ninodes,
			unsigned long long netns, struct pid_listener *out, int found, int max)
{
	char line[512];

	if (!fgets(line, sizeof(line), f)) /* header */
		return found;
	while (found < max && fgets(line, sizeof(line), f)) {
		unsigned int port, state;
		unsigned long inode;
		char local[64], *colon;

		/* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*s %63s %*s %x %*s %*s %*s %*s %*s %lu", local, &state, &inode) != 3)
			continue;
		if (state != TCP_LISTEN_HEX || !bsearch(&inode, inodes, ninodes, sizeof(*inodes), cmp_ino))
			continue;
		colon = strrchr(local, ':');
		if (!colon || sscanf(colon + 1, "%x", &port) != 1 || port > 65535)
			continue;
		out[found].netns = netns;
		out[found].port = (unsigned short)port;
		found++;
	}
	return found;
}

static int scan_table(const char *path, const unsigned long *inodes, int ninodes,
		      unsigned long long netns, struct pid_listener *out, int found, int max)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return found; /* no IPv6 in this kernel: nothing to add */
	found = parse_tcp_listeners(f, inodes, ninodes, netns, out, found, max);
	fclose(f);
	return found;
}

int pid_listeners(pid_t pid, struct pid_listener *out, int max)
{
	unsigned long *inodes = calloc(MAX_SOCKET_FDS, sizeof(*inodes));
	char path[64];
	struct stat st;
	int n, found = 0;

	if (!inodes)
		return -ENOMEM;
	n = socket_inodes(pid, inodes, MAX_SOCKET_FDS);
	if (n < 0) {
		free(inodes);
		return n;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &st) != 0) {
		free(inodes);
		return -errno;
	}
	snprintf(path, sizeof(path), "/proc/%d/net/tcp", pid);
	found = scan_table(path, inodes, n, st.st_ino, out, found, max);
	snprintf(path, sizeof(path), "/proc/%d/net/tcp6", pid);
	found = scan_table(path, inodes, n, st.st_ino, out, found, max);
	free(inodes);
	return found;
}
