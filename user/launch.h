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

#define LAUNCH_GRACE_MS 2000

struct launched {
	pid_t pid;
	int go_fd;   /* write end: one byte releases the child */
	int err_fd;  /* read end: the child's errno if execvp() failed; EOF on success */
	int status;  /* waitpid() status once exited */
	bool exited;
	char *name;  /* argv[0], for messages */
	int out_fd;  /* read end of the child's stdout, or -1 if inherited */
};

/* A struct launched that holds no program: launch_cleanup() leaves it alone. */
#define LAUNCHED_NONE ((struct launched){.pid = -1, .go_fd = -1, .err_fd = -1, .out_fd = -1})

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
/*
 * Closes the fds (a held child exits on that) and reaps the child. One still
 * running after LAUNCH_GRACE_MS gets SIGTERM, and SIGKILL after as long
 * again: cleanup never waits on a program that does not end by itself.
 */
void launch_cleanup(struct launched *p);

#endif
