// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target: /proc/PID/net/tcp{,6} tables, read for -p PID. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "pid_listeners.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned long inodes[] = {1, 12345, 99999, 4026531840ul};
	struct pid_listener out[8];
	FILE *f = fmemopen((void *)data, size, "r");
	int n;

	if (!f)
		return 0;
	n = parse_tcp_listeners(f, inodes, 4, 7, out, 0, 8);
	fclose(f);
	if (n < 0 || n > 8)
		abort();
	return 0;
}
