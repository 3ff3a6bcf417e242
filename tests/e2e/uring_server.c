// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * uring-server: a TCP server that accepts with io_uring (IORING_OP_ACCEPT),
 * for the end-to-end tests: accepts no syscall tracepoint sees.
 *
 *   uring-server PORT COUNT
 *
 * Listens on [::]:PORT (IPv4 too), prints "listening port=PORT pid=PID",
 * then accepts COUNT connections, one io_uring accept at a time; prints
 * "accepted fd=FD" for each, reads once (an HTTP request, or the peer's
 * FIN), answers an empty HTTP/1.0 200, closes; exits 0.
 */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int die(const char *what, int err)
{
	fprintf(stderr, "uring-server: %s: %s\n", what, strerror(err));
	return 1;
}

static int listen_on(int port)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	int fd = socket(AF_INET6, SOCK_STREAM, 0), one = 1, zero = 0;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16))
		return -1;
	return fd;
}

/* One accept through the ring: the new fd, or -errno. */
static int uring_accept(struct io_uring *ring, int lfd)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EBUSY;
	io_uring_prep_accept(sqe, lfd, NULL, NULL, 0);
	ret = io_uring_submit(ring);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe(ring, &cqe);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

static const char reply[] = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";

int main(int argc, char **argv)
{
	struct io_uring ring;
	int port, count, lfd, fd, i, err;
	char buf[512];

	if (argc != 3 || (port = atoi(argv[1])) <= 0 || (count = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: uring-server PORT COUNT\n");
		return 2;
	}
	lfd = listen_on(port);
	if (lfd < 0)
		return die("listen", errno);
	err = io_uring_queue_init(4, &ring, 0);
	if (err < 0)
		return die("io_uring_queue_init", -err);
	printf("listening port=%d pid=%d\n", port, getpid());
	fflush(stdout);
	for (i = 0; i < count; i++) {
		fd = uring_accept(&ring, lfd);
		if (fd < 0)
			return die("accept (io_uring)", -fd);
		printf("accepted fd=%d\n", fd);
		fflush(stdout);
		if (read(fd, buf, sizeof(buf)) >= 0)
			send(fd, reply, sizeof(reply) - 1, MSG_NOSIGNAL);
		close(fd);
	}
	io_uring_queue_exit(&ring);
	close(lfd);
	return 0;
}
