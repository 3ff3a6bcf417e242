// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * synscope: entry point. `synscope demo ...` runs the bundled pair;
 * `synscope [OPTIONS] -- CMD` traces CMD's process tree and exits with its
 * status; `synscope -r FILE` reads a capture back; otherwise synscope traces the host until stopped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "demo.h"
#include "launch.h"
#include "options.h"
#include "replay.h"
#include "tracer.h"

struct cmd_workload {
	struct workload w;
	struct launched prog;
};

static int cmd_start(struct workload *w)
{
	struct cmd_workload *c = (struct cmd_workload *)w;
	int err = launch_release(&c->prog);

	if (err) {
		fprintf(stderr, "synscope: couldn't run '%s': %s\n", c->prog.name, strerror(-err));
		launch_cleanup(&c->prog);
		return err == -ENOENT ? 127 : 126;
	}
	return 0;
}

static bool cmd_finished(struct workload *w)
{
	return launch_reap(&((struct cmd_workload *)w)->prog);
}

static void cmd_stop(struct workload *w, int sig)
{
	launch_signal(&((struct cmd_workload *)w)->prog, sig);
}

static int cmd_exit_status(struct workload *w)
{
	return launch_exit_status(&((struct cmd_workload *)w)->prog);
}

static int trace_command(const struct synscope_config *cfg)
{
	struct cmd_workload c = {
		.w = {.start = cmd_start, .finished = cmd_finished, .stop = cmd_stop,
		      .exit_status = cmd_exit_status},
	};
	int err, status;

	err = launch_held(&c.prog, cfg->cmd, false);
	if (err) {
		fprintf(stderr, "synscope: couldn't start '%s': %s\n", cfg->cmd[0], strerror(-err));
		return 1;
	}
	c.w.pids[0] = c.prog.pid;
	c.w.npids = 1;
	status = run_tracer(cfg, &c.w);
	launch_cleanup(&c.prog);
	return status;
}

int main(int argc, char **argv)
{
	struct synscope_config cfg;
	int err;

	if (argc > 1 && !strcmp(argv[1], "demo"))
		return demo_main(argc - 1, argv + 1);
	err = parse_options(argc, argv, &cfg);
	if (err)
		return err;
	if (cfg.read_path)
		return run_replay(&cfg);
	if (cfg.cmd)
		return trace_command(&cfg);
	return run_tracer(&cfg, NULL);
}
