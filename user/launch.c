// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "launch.h"

int launch_held(struct launched *p, char *const argv[], bool capture_stdout)
{
	int go[2], err[2], out[2] = {-1, -1};
	char c;

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->go_fd = p->err_fd = p->out_fd = -1;
	p->name = argv[0];
	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0)
		goto fail_go;
	if (capture_stdout && pipe2(out, O_CLOEXEC) < 0)
		goto fail_err;
	p->pid = fork();
	if (p->pid < 0)
		goto fail_out;
	if (p->pid == 0) {
		int e;

		/* Synscope's own signal handlers must not leak into the program. */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		/* Only synscope may hold the write end: if it dies, read() sees EOF. */
		close(go[1]);
		close(err[0]);
		if (out[0] >= 0)
			close(out[0]);
		if (out[1] >= 0 && dup2(out[1], STDOUT_FILENO) < 0)
			_exit(127);
		/* Held until synscope is attached; EOF means synscope gave up. */
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execvp(argv[0], argv);
		e = errno;
		if (write(err[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(err[1]);
	p->go_fd = go[1];
	p->err_fd = err[0];
	if (out[1] >= 0)
		close(out[1]);
	p->out_fd = out[0];
	return 0;

fail_out:
	if (out[0] >= 0) {
		close(out[0]);
		close(out[1]);
	}
fail_err:
	close(err[0]);
	close(err[1]);
fail_go:
	close(go[0]);
	close(go[1]);
	return -errno;
}

int launch_release(struct launched *p)
{
	ssize_t n;
	int e;

	if (write(p->go_fd, "g", 1) != 1)
		return -errno;
	close(p->go_fd);
	p->go_fd = -1;
	/* The error pipe closes on exec (CLOEXEC) or carries execvp()'s errno. */
	do
		n = read(p->err_fd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(p->err_fd);
	p->err_fd = -1;
	return n == sizeof(e) ? -e : 0;
}

bool launch_reap(struct launched *p)
{
	if (!p->exited && p->pid > 0 && waitpid(p->pid, &p->status, WNOHANG) == p->pid)
		p->exited = true;
	return p->exited;
}

int launch_exit_status(const struct launched *p)
{
	if (WIFEXITED(p->status))
		return WEXITSTATUS(p->status);
	if (WIFSIGNALED(p->status))
		return 128 + WTERMSIG(p->status);
	return 1;
}

void launch_signal(struct launched *p, int sig)
{
	if (p->pid > 0 && !launch_reap(p))
		kill(p->pid, sig);
}

/* Polls for the child's exit for up to ms milliseconds; true once reaped. */
static bool reap_within(struct launched *p, unsigned int ms)
{
	const struct timespec tick = {.tv_nsec = 10 * 1000 * 1000};
	unsigned int waited;

	for (waited = 0; !launch_reap(p) && waited < ms; waited += 10)
		nanosleep(&tick, NULL);
	return p->exited;
}

void launch_cleanup(struct launched *p)
{
	if (p->go_fd >= 0)
		close(p->go_fd); /* a held child sees EOF and exits */
	if (p->err_fd >= 0)
		close(p->err_fd);
	if (p->out_fd >= 0)
		close(p->out_fd);
	p->go_fd = p->err_fd = p->out_fd = -1;
	if (p->pid <= 0 || p->exited)
		return;
	if (!reap_within(p, LAUNCH_GRACE_MS)) {
		kill(p->pid, SIGTERM);
		if (!reap_within(p, LAUNCH_GRACE_MS))
			kill(p->pid, SIGKILL);
	}
	while (!p->exited && waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR)
		;
	p->exited = true;
}
