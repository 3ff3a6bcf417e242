// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target: the command line. Input: NUL-separated arguments. */
#include <argp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "options.h"

#define MAX_ARGS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[MAX_ARGS + 2];
	struct synscope_config cfg;
	int argc = 1;
	size_t i, start = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = "synscope";
	for (i = 0; i <= size && argc <= MAX_ARGS; i++) {
		if (buf[i] == '\0') {
			argv[argc++] = buf + start;
			start = i + 1;
		}
	}
	argv[argc] = NULL;
	parse_options_flags(argc, argv, &cfg, ARGP_NO_EXIT | ARGP_NO_ERRS | ARGP_NO_HELP);
	/* Whatever was accepted must be within the documented ranges. */
	if (cfg.nports > SYNSCOPE_MAX_PORTS || cfg.poll_ms > 1000 ||
	    (cfg.ringbuf_bytes & (cfg.ringbuf_bytes - 1)))
		abort();
	for (i = 0; i < cfg.nports; i++)
		if (cfg.ports[i] == 0)
			abort();
	free(buf);
	return 0;
}
