// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Programs synscope launches: cleanup ends them and touches only their own fds. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "launch.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A program that would run for a minute is ended by cleanup, with SIGTERM. */
static void cleanup_ends_a_running_program(void **state)
{
	char *argv[] = {"sleep", "60", NULL};
	struct launched p;
	double t0;

	(void)state;
	assert_int_equal(launch_held(&p, argv, false), 0);
	assert_int_equal(launch_release(&p), 0);
	t0 = now_s();
	launch_cleanup(&p);
	assert_true(p.exited);
	assert_true(WIFSIGNALED(p.status));
	assert_int_equal(WTERMSIG(p.status), SIGTERM);
	assert_int_equal(launch_exit_status(&p), 128 + SIGTERM);
	assert_true(now_s() - t0 < 10 * LAUNCH_GRACE_MS / 1000.0);
}

/* A program never released exits on its own when cleanup closes its go pipe. */
static void cleanup_of_a_held_program(void **state)
{
	char *argv[] = {"sleep", "60", NULL};
	struct launched p;

	(void)state;
	assert_int_equal(launch_held(&p, argv, false), 0);
	launch_cleanup(&p);
	assert_true(p.exited);
	assert_false(WIFSIGNALED(p.status));
}

/* Nothing launched: stdin (fd 0) stays open. */
static void cleanup_of_nothing_keeps_stdin(void **state)
{
	struct launched p = LAUNCHED_NONE;

	(void)state;
	if (fcntl(0, F_GETFD) < 0) /* run with stdin closed: give fd 0 something */
		assert_int_equal(open("/dev/null", O_RDONLY), 0);
	launch_cleanup(&p);
	assert_true(fcntl(0, F_GETFD) >= 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cleanup_ends_a_running_program),
		cmocka_unit_test(cleanup_of_a_held_program),
		cmocka_unit_test(cleanup_of_nothing_keeps_stdin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
