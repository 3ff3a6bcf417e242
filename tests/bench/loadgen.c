// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * loadgen: loopback connections as fast as the machine allows, for the
 * benchmark. A server thread accepts and closes; client threads connect and
 * close with an RST (SO_LINGER 0) so that no TIME_WAIT exhausts the
 * ephemeral ports, or with -F with a normal close (FIN): then each close
 * races the server's close of the same connection (overlapping teardown),
 * and the caller must let TIME_WAIT ports be reused (net.ipv4.tcp_tw_reuse).
 * Prints one JSON object:
 *   {"connections":N,"accepted":A,"failed":F,"seconds":S,"rate":R}
 * Usage: loadgen [-d SECONDS] [-c CLIENT_THREADS] [-p PORT] [-F]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static atomic_bool stop;
static atomic_ulong connections, accepted, failed;
static struct sockaddr_in target;
static bool fin_close; /* -F: close with FIN instead of RST */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *server(void *arg)
{
	int lfd = *(int *)arg, fd;

	while (!atomic_load(&stop)) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		atomic_fetch_add(&accepted, 1);
		close(fd);
	}
	return NULL;
}

static void *client(void *arg)
{
	struct linger rst = {.l_onoff = 1, .l_linger = 0};
	int fd;

	(void)arg;
	while (!atomic_load(&stop)) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			atomic_fetch_add(&failed, 1);
			continue;
		}
		if (!fin_close)
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
		if (connect(fd, (struct sockaddr *)&target, sizeof(target)) == 0)
			atomic_fetch_add(&connections, 1);
		else
			atomic_fetch_add(&failed, 1);
		close(fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	double seconds = 5, start, elapsed;
	int threads = 1, port = 9000, opt, lfd, one = 1, i;
	pthread_t srv, cli[64];

	while ((opt = getopt(argc, argv, "d:c:p:F")) != -1) {
		switch (opt) {
		case 'd': seconds = atof(optarg); break;
		case 'c': threads = atoi(optarg); break;
		case 'p': port = atoi(optarg); break;
		case 'F': fin_close = true; break;
		default:
			fprintf(stderr, "usage: loadgen [-d SECONDS] [-c THREADS] [-p PORT] [-F]\n");
			return 2;
		}
	}
	if (threads < 1 || threads > 64 || seconds <= 0 || port < 1 || port > 65535) {
		fprintf(stderr, "loadgen: bad arguments\n");
		return 2;
	}
	target.sin_family = AF_INET;
	target.sin_port = htons(port);
	target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&target, sizeof(target)) < 0 || listen(lfd, 4096) < 0) {
		perror("loadgen: listener");
		return 1;
	}
	pthread_create(&srv, NULL, server, &lfd);
	start = now();
	for (i = 0; i < threads; i++)
		pthread_create(&cli[i], NULL, client, NULL);
	while ((elapsed = now() - start) < seconds)
		usleep(10000);
	atomic_store(&stop, true);
	for (i = 0; i < threads; i++)
		pthread_join(cli[i], NULL);
	elapsed = now() - start;
	/* Unblock the server's accept() with one last connection (counted: a
	 * tracer sees it too). */
	{
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd >= 0 && connect(fd, (struct sockaddr *)&target, sizeof(target)) == 0)
			atomic_fetch_add(&connections, 1);
		if (fd >= 0)
			close(fd);
	}
	pthread_join(srv, NULL);
	printf("{\"connections\":%lu,\"accepted\":%lu,\"failed\":%lu,\"seconds\":%.3f,\"rate\":%.1f}\n",
	       atomic_load(&connections), atomic_load(&accepted), atomic_load(&failed), elapsed,
	       atomic_load(&connections) / elapsed);
	return 0;
}
