/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Programs synscope runs and traces (`synscope -- CMD`, `synscope demo`).
 * A program is forked held: it waits before execvp() until synscope has
 * attached, so its very first connect() or accept() is traced.
 */
#ifndef SYNSCOPE_LAUNCH_H
#define SYNSCOPE_LAUNCH_H

#include <stdbool.h>
#include <sys/types.h>

struct launched {
	pid_t pid;
	int go_fd;   /* write end: one byte releases the child */
	int err_fd;  /* read end: the child's errno if execvp() failed; EOF on success */
	int status;  /* waitpid() status once exited */
	bool exited;
	char *name;  /* argv[0], for messages */
	int out_fd;  /* read end of the child's stdout, or -1 if inherited */
};

/* Forks argv held. capture_stdout: give the child a pipe as stdout. Returns 0 or -errno. */
int launch_held(struct launched *p, char *const argv[], bool capture_stdout);
/* Releases the child; returns 0 once it has exec'd, or -errno if execvp() failed. */
int launch_release(struct launched *p);
/* Non-blocking reap; true once the child has exited. */
bool launch_reap(struct launched *p);
/* Shell-style exit status: the code, or 128 + signal. */
int launch_exit_status(const struct launched *p);
/* Sends sig if still running. */
void launch_signal(struct launched *p, int sig);
/* Waits for exit (after signalling it if needed) and closes fds. */
void launch_cleanup(struct launched *p);

#endif
